//! What the harness measures, from ground truth it alone knows (which node
//! is the attacker's) and the sets each victim exposes. Pure functions.
//!
//! - **Attacker share** of a set S: |S ∩ attacker| / |S| (0 for an empty
//!   set, whose size is reported beside it). `research.md` item 10: table
//!   A_T, view A_V, served A_P, lookup results A_L.
//! - **Diversity bound** A_max (design.md, "Goals in numbers"): against an
//!   attacker holding `g_A` groups with per-group cap `c`, a group-capping
//!   defence can at best hold the attacker to
//!   `A_max = c·g_A / (c·g_A + Σ_honest min(h_g, c))`. The harness computes
//!   the general form for the caps actually in force (/24, /16 and AS at
//!   once): the capped total of a set is what greedy admission keeps, round
//!   by round, while each node's /24, /16 and AS stay under their caps; the
//!   bound is the attacker's capped total over everyone's. With one
//!   attacker group of `a ≥ c` nodes and the caps of one kind this is
//!   exactly the formula above.
//! - **Group entropy** H = −Σ p_g ln p_g (nats) over the groups of a set,
//!   and, to compare a small set fairly with a large population, the mean
//!   entropy of uniform random samples of the same size from the population.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use serde::{Deserialize, Serialize};

use crate::population::Placement;

/// A set's size and how much of it the attacker holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetCount {
    /// Members.
    pub total: usize,
    /// Members the attacker runs.
    pub attacker: usize,
}

impl SetCount {
    /// Counts `members`, `is_attacker` telling which are the attacker's.
    pub fn of<T>(
        members: impl IntoIterator<Item = T>,
        mut is_attacker: impl FnMut(&T) -> bool,
    ) -> Self {
        let mut c = Self::default();
        for m in members {
            c.total += 1;
            if is_attacker(&m) {
                c.attacker += 1;
            }
        }
        c
    }

    /// attacker / total, 0 when empty.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.attacker as f64 / self.total as f64
        }
    }
}

/// Per-group caps in entries for the whole table: /24, /16, ASN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCaps {
    /// Per /24.
    pub slash24: usize,
    /// Per /16.
    pub slash16: usize,
    /// Per AS.
    pub asn: usize,
}

impl TableCaps {
    /// discguard's table caps with its default policy.
    pub fn discguard_default() -> Self {
        use discguard_netgroup::GroupKind;
        let caps = discguard_policy::PolicyConfig::default().caps();
        Self {
            slash24: caps.table(GroupKind::Narrow),
            slash16: caps.table(GroupKind::Wide),
            asn: caps.table(GroupKind::Asn),
        }
    }
}

/// How many of `nodes` a set can hold under `caps`, admitting greedily
/// round by round (round r offers the r-th node of every /24) and keeping a
/// node while its /24, its /16 and its AS are all under their caps — as
/// discguard counts them: a /16 across every AS in it.
pub fn capped_size(nodes: &[&Placement], caps: TableCaps) -> usize {
    let mut by24: BTreeMap<[u8; 3], Vec<&Placement>> = BTreeMap::new();
    for n in nodes {
        by24.entry(n.slash24()).or_default().push(n);
    }
    let rounds = by24.values().map(Vec::len).max().unwrap_or(0);
    let mut n24: HashMap<[u8; 3], usize> = HashMap::new();
    let mut n16: HashMap<[u8; 2], usize> = HashMap::new();
    let mut n_asn: HashMap<u32, usize> = HashMap::new();
    let mut kept = 0;
    for r in 0..rounds {
        for n in by24.values().filter_map(|members| members.get(r)) {
            let (a, b, c) = (n.slash24(), n.slash16(), n.asn);
            if n24.get(&a).copied().unwrap_or(0) < caps.slash24
                && n16.get(&b).copied().unwrap_or(0) < caps.slash16
                && n_asn.get(&c).copied().unwrap_or(0) < caps.asn
            {
                *n24.entry(a).or_default() += 1;
                *n16.entry(b).or_default() += 1;
                *n_asn.entry(c).or_default() += 1;
                kept += 1;
            }
        }
    }
    kept
}

/// The diversity bound A_max for these attacker and honest nodes under
/// `caps` (see the module docs). 0 without attackers.
pub fn diversity_bound(attacker: &[&Placement], honest: &[&Placement], caps: TableCaps) -> f64 {
    let a = capped_size(attacker, caps) as f64;
    let h = capped_size(honest, caps) as f64;
    if a + h == 0.0 { 0.0 } else { a / (a + h) }
}

/// Shannon entropy in nats of the labels' distribution (0 for fewer than
/// two members).
pub fn entropy<L: Eq + Hash>(labels: impl IntoIterator<Item = L>) -> f64 {
    let mut counts: HashMap<L, usize> = HashMap::new();
    let mut n = 0usize;
    for l in labels {
        *counts.entry(l).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Mean entropy of `trials` uniform random samples (without replacement) of
/// `size` labels from `population`.
pub fn sample_entropy<L: Eq + Hash + Clone>(
    population: &[L],
    size: usize,
    trials: usize,
    rng: &mut StdRng,
) -> f64 {
    if size == 0 || population.is_empty() || trials == 0 {
        return 0.0;
    }
    let total: f64 = (0..trials)
        .map(|_| entropy(population.sample(rng, size).cloned()))
        .sum();
    total / trials as f64
}

/// The fewest groups that together hold more than half of the labels (0
/// for an empty set): low values mean a few groups could eclipse.
pub fn groups_to_majority<L: Eq + Hash>(labels: impl IntoIterator<Item = L>) -> usize {
    let mut counts: HashMap<L, usize> = HashMap::new();
    let mut n = 0usize;
    for l in labels {
        *counts.entry(l).or_default() += 1;
        n += 1;
    }
    let mut sizes: Vec<usize> = counts.into_values().collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut held = 0;
    for (i, s) in sizes.iter().enumerate() {
        held += s;
        if 2 * held > n {
            return i + 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{AttackGroup, place_attackers};
    use rand::SeedableRng as _;
    use std::net::Ipv4Addr;

    fn honest(n: usize) -> Vec<Placement> {
        // One node per /24 and per /16, each its own AS.
        (0..n)
            .map(|i| Placement {
                ip: Ipv4Addr::new(127, 1 + (i % 127) as u8, (i / 127) as u8, 1),
                asn: 1000 + i as u32,
            })
            .collect()
    }

    #[test]
    fn bound_matches_the_design_formula_for_one_kind() {
        let caps = TableCaps {
            slash24: 10,
            slash16: 16,
            asn: 26,
        };
        let h = honest(100);
        let hr: Vec<&Placement> = h.iter().collect();
        for (kind, c) in [
            (AttackGroup::Slash24, 10.0),
            (AttackGroup::Slash16, 16.0),
            (AttackGroup::Asn, 26.0),
        ] {
            for g in [1usize, 4, 16] {
                let (a, _) = place_attackers(60 * g, g, kind, None).unwrap();
                let ar: Vec<&Placement> = a.iter().collect();
                let expect = c * g as f64 / (c * g as f64 + 100.0);
                let got = diversity_bound(&ar, &hr, caps);
                assert!(
                    (got - expect).abs() < 1e-12,
                    "{kind:?} g={g}: {got} vs {expect}"
                );
            }
        }
        // Below the cap, the attacker's own size counts.
        let (a, _) = place_attackers(5, 1, AttackGroup::Asn, None).unwrap();
        let ar: Vec<&Placement> = a.iter().collect();
        assert!((diversity_bound(&ar, &hr, caps) - 5.0 / 105.0).abs() < 1e-12);
        assert_eq!(diversity_bound(&[], &hr, caps), 0.0);
    }

    #[test]
    fn caps_bind_per_group_across_ases() {
        let caps = TableCaps {
            slash24: 2,
            slash16: 3,
            asn: 100,
        };
        // 10 nodes in one /24 of one AS: the /24 cap keeps 2.
        let one24: Vec<Placement> = (0..10)
            .map(|i| Placement {
                ip: Ipv4Addr::new(127, 200, 0, 1 + i),
                asn: 7,
            })
            .collect();
        assert_eq!(capped_size(&one24.iter().collect::<Vec<_>>(), caps), 2);
        // 10 nodes over 10 /24s of one /16: the /16 cap keeps 3.
        let one16: Vec<Placement> = (0..10)
            .map(|i| Placement {
                ip: Ipv4Addr::new(127, 200, i, 1),
                asn: 7,
            })
            .collect();
        assert_eq!(capped_size(&one16.iter().collect::<Vec<_>>(), caps), 3);
        // The same /16 shared by two ASes: the /16 cap still keeps 3 in all.
        let shared: Vec<Placement> = (0..10)
            .map(|i| Placement {
                ip: Ipv4Addr::new(127, 200, i, 1),
                asn: 7 + u32::from(i % 2),
            })
            .collect();
        assert_eq!(capped_size(&shared.iter().collect::<Vec<_>>(), caps), 3);
    }

    #[test]
    fn shares_entropy_and_majority() {
        let c = SetCount::of([1, 2, 3, 4], |x| *x > 2);
        assert_eq!((c.total, c.attacker), (4, 2));
        assert_eq!(c.share(), 0.5);
        assert_eq!(SetCount::default().share(), 0.0);
        assert_eq!(entropy(Vec::<u8>::new()), 0.0);
        assert_eq!(entropy([1, 1, 1]), 0.0);
        assert!((entropy([1, 2, 3, 4]) - 4f64.ln()).abs() < 1e-12);
        assert_eq!(groups_to_majority([1, 1, 1, 2, 3]), 1);
        assert_eq!(groups_to_majority([1, 1, 2, 2, 3, 3]), 2);
        assert_eq!(groups_to_majority(Vec::<u8>::new()), 0);
        // A sample of distinct labels has entropy ln(size).
        let pop: Vec<u32> = (0..1000).collect();
        let mut rng = StdRng::seed_from_u64(1);
        assert!((sample_entropy(&pop, 32, 10, &mut rng) - 32f64.ln()).abs() < 1e-9);
        // A sample of one label has none.
        assert_eq!(sample_entropy(&[5u8; 100], 10, 3, &mut rng), 0.0);
    }
}

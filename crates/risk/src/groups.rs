//! Concentration of a set over network groups (research.md, "Eclipse-risk
//! metrics a node can compute alone", items 1–4 and 6).
//!
//! For a set S and the groups g of one kind, with `n_g` entries in group g
//! and `p_g = n_g / |S|`:
//!
//! | measure | formula | range | source |
//! |---|---|---|---|
//! | entropy H | `−Σ p_g ln p_g` (nats) | `[0, ln |S|]` | Shannon; used for AS diversity by Bitcoin Core's asmap work and Erebus (Tran et al., S&P 2020) |
//! | effective groups D | `e^H` | `[1, |S|]` (0 for the empty set) | Hill number of order 1 |
//! | normalised entropy | `H / ln |S|` | `[0, 1]` (0 when `|S| ≤ 1`) | Pielou's evenness |
//! | top-1, top-5 share | `Σ` of the 1 or 5 largest `p_g` | `[0, 1]` | |
//! | HHI | `Σ p_g²` | `[1/|S|, 1]` (0 for the empty set) | Herfindahl–Hirschman index |
//! | groups to majority | fewest groups holding `> |S|/2` | `[1, ⌊|S|/2⌋+1]` (0 for the empty set) | the number of operators an attacker must be (or buy) to hold a majority |
//! | cap pressure | share of groups with `n_g ≥ cap` | `[0, 1]` | how often the policy's cap binds |
//! | diversity ratio | distinct groups / `|S|` | `(0, 1]` (0 for the empty set) | lookup diversity |

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::{Deserialize, Serialize};

/// Largest groups listed in [`GroupStats::top`].
pub const TOP_GROUPS: usize = 5;

/// One of the largest groups of a set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupCount {
    /// The group (`AS16509`, `3.147.37.0/24`, ...).
    pub group: String,
    /// Entries in it.
    pub count: usize,
    /// Its share of the set, in `[0, 1]`.
    pub share: f64,
}

/// Concentration of one set over the groups of one kind. See the module
/// docs for each formula.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Entries in the set.
    pub size: usize,
    /// Distinct groups.
    pub distinct: usize,
    /// Shannon entropy H of the group shares, in nats.
    pub entropy_nats: f64,
    /// `e^H`: the number of equally large groups with the same entropy.
    pub effective_groups: f64,
    /// `H / ln |S|`, in `[0, 1]`.
    pub normalized_entropy: f64,
    /// Share of the largest group.
    pub top1_share: f64,
    /// Share of the [`TOP_GROUPS`] largest groups together.
    pub top5_share: f64,
    /// Herfindahl–Hirschman index `Σ p_g²`.
    pub hhi: f64,
    /// The fewest groups that together hold more than half of the set.
    pub groups_to_majority: usize,
    /// Share of groups at or above the cap, when a cap applies to the set.
    pub cap_pressure: Option<f64>,
    /// The [`TOP_GROUPS`] largest groups, largest first (ties by group order).
    pub top: Vec<GroupCount>,
}

/// Computes [`GroupStats`] over the group label of each entry of a set.
/// `cap` is the per-table cap of this kind, if one applies (a cap of 0 is
/// treated as none). Deterministic: ties between equal groups are broken by
/// the labels' order.
pub fn group_stats<G: Ord + Display>(
    labels: impl IntoIterator<Item = G>,
    cap: Option<usize>,
) -> GroupStats {
    let mut counts: BTreeMap<G, usize> = BTreeMap::new();
    for label in labels {
        *counts.entry(label).or_default() += 1;
    }
    let size: usize = counts.values().sum();
    let mut sorted: Vec<(G, usize)> = counts.into_iter().collect();
    // Largest first; the stable sort keeps label order among equals.
    sorted.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
    let n = size as f64;
    let share = |c: usize| if size == 0 { 0.0 } else { c as f64 / n };
    // Folds from +0.0 (an empty float `sum` is −0.0), and clamps the −0.0
    // of a single group (`−1 · ln 1`).
    let entropy = sorted
        .iter()
        .map(|&(_, c)| {
            let p = share(c);
            -p * p.ln()
        })
        .fold(0.0, |a, b| a + b)
        .max(0.0)
        + 0.0;
    let hhi = sorted
        .iter()
        .map(|&(_, c)| share(c).powi(2))
        .fold(0.0, |a, b| a + b);
    let top_sum = |k: usize| share(sorted.iter().take(k).map(|&(_, c)| c).sum());
    let mut groups_to_majority = 0;
    let mut held = 0;
    for &(_, c) in &sorted {
        groups_to_majority += 1;
        held += c;
        if 2 * held > size {
            break;
        }
    }
    let cap_pressure = cap.filter(|&c| c > 0).map(|cap| {
        if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().filter(|&&(_, c)| c >= cap).count() as f64 / sorted.len() as f64
        }
    });
    GroupStats {
        size,
        distinct: sorted.len(),
        entropy_nats: entropy,
        effective_groups: if size == 0 { 0.0 } else { entropy.exp() },
        normalized_entropy: if size <= 1 {
            0.0
        } else {
            (entropy / n.ln()).min(1.0)
        },
        top1_share: top_sum(1),
        top5_share: top_sum(TOP_GROUPS),
        hhi,
        groups_to_majority,
        cap_pressure,
        top: sorted
            .iter()
            .take(TOP_GROUPS)
            .map(|(g, c)| GroupCount {
                group: g.to_string(),
                count: *c,
                share: share(*c),
            })
            .collect(),
    }
}

/// Distinct groups per entry (`0` for the empty set): 1 when every entry is
/// in a group of its own. Used for lookup results (research.md, item 6).
pub fn diversity_ratio<G: Ord>(labels: impl IntoIterator<Item = G>) -> f64 {
    let mut n = 0usize;
    let mut distinct = std::collections::BTreeSet::new();
    for label in labels {
        n += 1;
        distinct.insert(label);
    }
    if n == 0 {
        0.0
    } else {
        distinct.len() as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn empty_set_is_all_zero() {
        let s = group_stats(Vec::<u32>::new(), Some(2));
        // Positive zeros: JSON shows 0.0, not -0.0.
        assert!(s.entropy_nats.is_sign_positive() && s.hhi.is_sign_positive());
        assert_eq!(s.size, 0);
        assert_eq!(s.distinct, 0);
        assert_eq!(s.groups_to_majority, 0);
        assert_eq!(s.effective_groups, 0.0);
        assert_eq!(s.hhi, 0.0);
        assert_eq!(s.cap_pressure, Some(0.0));
        assert!(s.top.is_empty());
    }

    #[test]
    fn one_group_is_fully_concentrated() {
        let s = group_stats([7u32; 5], None);
        assert_eq!(s.entropy_nats, 0.0);
        assert!(s.entropy_nats.is_sign_positive());
        assert_eq!(s.effective_groups, 1.0);
        assert_eq!(s.normalized_entropy, 0.0);
        assert_eq!(s.top1_share, 1.0);
        assert_eq!(s.hhi, 1.0);
        assert_eq!(s.groups_to_majority, 1);
    }

    #[test]
    fn even_split_has_maximal_entropy() {
        let s = group_stats(0u32..8, None);
        assert!(close(s.entropy_nats, 8f64.ln()));
        assert!(close(s.effective_groups, 8.0));
        assert!(close(s.normalized_entropy, 1.0));
        assert!(close(s.hhi, 1.0 / 8.0));
        // 4 of 8 is not more than half: 5 groups are needed.
        assert_eq!(s.groups_to_majority, 5);
        assert!(close(s.top5_share, 5.0 / 8.0));
    }

    #[test]
    fn worked_example() {
        // Shares 1/2, 1/4, 1/4.
        let s = group_stats(["a", "a", "b", "c"], Some(2));
        let h = -(0.5f64 * 0.5f64.ln() + 2.0 * 0.25 * 0.25f64.ln());
        assert!(close(s.entropy_nats, h));
        assert!(close(s.hhi, 0.25 + 2.0 * 0.0625));
        // "a" holds exactly half, not more: a second group is needed.
        assert_eq!(s.groups_to_majority, 2);
        assert_eq!(s.cap_pressure, Some(1.0 / 3.0));
        assert_eq!(s.top[0].group, "a");
        assert_eq!(s.top[0].count, 2);
        assert_eq!(s.top[1].group, "b", "ties in label order");
    }

    #[test]
    fn diversity_ratio_counts_distinct_per_entry() {
        assert_eq!(diversity_ratio(Vec::<u8>::new()), 0.0);
        assert_eq!(diversity_ratio([1, 1, 1, 1]), 0.25);
        assert_eq!(diversity_ratio([1, 2, 3, 4]), 1.0);
    }
}

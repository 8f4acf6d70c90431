//! Whether the records a node returns come from far fewer network groups
//! than the network's: the "mostly from one group" half of lookup
//! usefulness.
//!
//! One crowded answer is caught by [`judge`](crate::judge). A poisoner that
//! spreads its Sybils over a few ASes passes every single answer, but all it
//! ever returns comes from those few groups, while an honest node returns
//! what its table holds: a sample of the network. The test compares the two
//! with a birthday count (research.md, "Eclipse-risk metrics": concentration
//! `HHI = Σ p_g²` and lookup diversity):
//!
//! - the **pool**: the ASN groups (the /16 or /32 where the ASN database
//!   does not know the address) of [`SPREAD_POOL`] distinct records other
//!   nodes returned to us, the most recently first seen, from answers that
//!   passed the test (see [`Spread::returned`]); it estimates `q = Σ p_g²`,
//!   the chance that two records of the network share a group, and
//!   `q₃ = Σ p_g³`;
//! - a node's **window**: the groups of the last [`SPREAD_WINDOW`] distinct
//!   records it returned;
//! - **collisions** `C`: pairs of the window's `n` records that share a
//!   group. For `n` records drawn from the pool, `E[C] = P·q` and
//!   `Var[C] = P·(q − q²) + 6·T·(q₃ − q²)` with `P = n(n−1)/2` pairs and
//!   `T = n(n−1)(n−2)/6` triples.
//!
//! A window of at least [`SPREAD_MIN`] records with `C > E[C] +`
//! [`SPREAD_SIGMAS`]`·sd` is clustered. Measured against the real ASN
//! distribution of Ethereum nodes (1,426 ASes, `q` = 0.042; 100,000 random
//! honest windows per size, 2,000 of Sybils): 0.007% of honest windows of
//! 20–24 records and 0.003% of 32 are flagged; of windows drawn from Sybils
//! on 4 ASes, 75% at 20 records and all from 24; at 32, 96% of those on 5
//! (not a perfectly even one) and 2% of those on 6. An attacker on more ASes passes: this test prices Sybils in
//! network groups, as the view's caps do; it does not detect them.
//!
//! Bounded: [`SPREAD_POOL`] records and [`SPREAD_SENDERS`] windows, the
//! least recently updated dropped first. Windows are not saved: a restart
//! starts them afresh.

use std::collections::{HashMap, VecDeque};

use discguard_netgroup::NetGroup;
use discguard_policy::NodeId;
use serde::Serialize;

/// Distinct records per node the test looks at: two full answers.
pub const SPREAD_WINDOW: usize = 32;
/// Records a window needs before it is tested: more than one answer (16).
/// A window of 16 either flags 0.1% of honest nodes (5σ) or misses three in
/// four Sybil windows on 4 ASes (7σ); from 20 records, 7σ catches three in
/// four and from 24 all of them, flagging 0.007% of honest windows.
pub const SPREAD_MIN: usize = 20;
/// Distinct returned records behind the network's group distribution (as
/// many as [`PROVENANCE_CAPACITY`](crate::PROVENANCE_CAPACITY)).
pub const SPREAD_POOL: usize = 4096;
/// Distinct records the pool needs before any window is tested: fewer say
/// too little about the network.
pub const SPREAD_POOL_MIN: usize = 256;
/// Standard deviations above the expected collisions that make a window
/// clustered. The collision count has a heavy right tail (a few ASes hold a
/// third of the nodes), so well above the normal 3σ: at 5σ, 0.07% of honest
/// windows of 32 are flagged; at 7σ, 0.003% (see the module docs). Every
/// answer tests its sender's window again, so the rate per window is what
/// matters: a 1,000-node run tests some 10,000 windows.
pub const SPREAD_SIGMAS: f64 = 7.0;
/// Nodes whose windows are kept.
pub const SPREAD_SENDERS: usize = 4096;

/// A clustered window: the evidence behind
/// [`Event::ClusteredAnswers`](crate::Event::ClusteredAnswers).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Clustering {
    /// Records in the window.
    pub records: usize,
    /// Distinct groups among them.
    pub groups: usize,
    /// Pairs of them that share a group.
    pub collisions: u64,
    /// Pairs expected to share one, drawn from the pool.
    pub expected: f64,
    /// Standard deviation of that count.
    pub sd: f64,
}

/// What [`Spread::test`] found.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tested {
    /// Too few records in the pool or the window.
    Untested,
    /// Not clustered.
    Passed,
    /// Clustered.
    Clustered(Clustering),
}

#[derive(Clone, Debug, Default)]
struct Window {
    /// (first 8 bytes of the node ID, group), oldest first.
    records: VecDeque<(u64, NetGroup)>,
    touched: u64,
}

/// The pool, the windows and the test.
#[derive(Clone, Debug, Default)]
pub struct Spread {
    /// Record → (its group, the sender that placed it).
    pool: HashMap<NodeId, (NetGroup, NodeId)>,
    pool_order: VecDeque<NodeId>,
    /// Records each sender has in the pool (at most [`SPREAD_WINDOW`]).
    placed: HashMap<NodeId, usize>,
    pool_groups: HashMap<NetGroup, u64>,
    windows: HashMap<NodeId, Window>,
    tick: u64,
}

impl Spread {
    /// Distinct records in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// `reporter` returned `records` (node ID and ASN group of each record
    /// with an address): they join its window, which is tested (when
    /// `records` is not empty); then, if the window passed, they join the
    /// pool, at most [`SPREAD_WINDOW`] per sender. Returns the evidence when
    /// the window is clustered.
    ///
    /// The pool is what a sender is judged against, so a poisoner must not
    /// be able to fill it with its own Sybils: only records of a window
    /// that was tested and passed enter (untested ones only while the pool
    /// holds fewer than [`SPREAD_POOL_MIN`], to start it), and no sender
    /// places more than a window's worth. To shift the pool an attacker
    /// needs answers that pass, which is what the test asks of it.
    pub fn returned(
        &mut self,
        reporter: &NodeId,
        records: impl IntoIterator<Item = (NodeId, NetGroup)>,
    ) -> Option<Clustering> {
        let records: Vec<(NodeId, NetGroup)> = records.into_iter().collect();
        if records.is_empty() {
            return None;
        }
        self.tick += 1;
        if !self.windows.contains_key(reporter) && self.windows.len() >= SPREAD_SENDERS {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.touched)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.windows.remove(&id);
            }
        }
        let window = self.windows.entry(*reporter).or_default();
        window.touched = self.tick;
        for (id, group) in &records {
            let key = u64::from_be_bytes(id[..8].try_into().expect("8 bytes"));
            if !window.records.iter().any(|(k, _)| *k == key) {
                window.records.push_back((key, *group));
                if window.records.len() > SPREAD_WINDOW {
                    window.records.pop_front();
                }
            }
        }
        // Every answer with records is tested, so a node that keeps
        // answering from a clustered table keeps paying, also after its
        // window holds all of that table.
        let groups = self.windows[reporter].records.iter().map(|(_, g)| *g);
        match self.test(groups) {
            Tested::Clustered(c) => Some(c),
            tested => {
                // What passed joins the pool; untested records only while
                // the pool is too small to test anything.
                if tested == Tested::Passed || self.pool.len() < SPREAD_POOL_MIN {
                    for (id, group) in records {
                        self.pool_add(reporter, id, group);
                    }
                }
                None
            }
        }
    }

    /// Adds one record `reporter` returned to the pool (see
    /// [`Spread::returned`]).
    fn pool_add(&mut self, reporter: &NodeId, id: NodeId, group: NetGroup) {
        if let Some((old, _)) = self.pool.get_mut(&id) {
            // Known at another address now: its group moves.
            if *old != group {
                let moved = std::mem::replace(old, group);
                uncount(&mut self.pool_groups, moved);
                *self.pool_groups.entry(group).or_default() += 1;
            }
            return;
        }
        let placed = self.placed.entry(*reporter).or_default();
        if *placed >= SPREAD_WINDOW {
            return;
        }
        *placed += 1;
        self.pool.insert(id, (group, *reporter));
        self.pool_order.push_back(id);
        *self.pool_groups.entry(group).or_default() += 1;
        while self.pool_order.len() > SPREAD_POOL {
            let Some(old) = self.pool_order.pop_front() else {
                break;
            };
            if let Some((g, by)) = self.pool.remove(&old) {
                uncount(&mut self.pool_groups, g);
                if let Some(n) = self.placed.get_mut(&by) {
                    *n -= 1;
                    if *n == 0 {
                        self.placed.remove(&by);
                    }
                }
            }
        }
    }

    /// The birthday test of `window` (groups of distinct records) against
    /// the pool.
    fn test(&self, window: impl Iterator<Item = NetGroup>) -> Tested {
        let m = self.pool.len();
        if m < SPREAD_POOL_MIN {
            return Tested::Untested;
        }
        let mut counts: HashMap<NetGroup, u64> = HashMap::new();
        let mut n = 0usize;
        for g in window {
            *counts.entry(g).or_default() += 1;
            n += 1;
        }
        if n < SPREAD_MIN {
            return Tested::Untested;
        }
        let (q, q3) = group_moments(self.pool_groups.values().copied(), m as u64);
        let collisions: u64 = counts.values().map(|c| c * (c - 1) / 2).sum();
        let nf = n as f64;
        let pairs = nf * (nf - 1.0) / 2.0;
        let triples = pairs * (nf - 2.0) / 3.0;
        let expected = pairs * q;
        let var = pairs * (q - q * q) + 6.0 * triples * (q3 - q * q);
        let sd = var.max(0.0).sqrt();
        if collisions as f64 > expected + SPREAD_SIGMAS * sd {
            Tested::Clustered(Clustering {
                records: n,
                groups: counts.len(),
                collisions,
                expected,
                sd,
            })
        } else {
            Tested::Passed
        }
    }
}

/// One record of `group` fewer in `counts`.
fn uncount(counts: &mut HashMap<NetGroup, u64>, group: NetGroup) {
    if let Some(c) = counts.get_mut(&group) {
        *c -= 1;
        if *c == 0 {
            counts.remove(&group);
        }
    }
}

/// Unbiased estimates of `Σ p_g²` and `Σ p_g³` from the group counts of `m`
/// records drawn without replacement.
fn group_moments(counts: impl Iterator<Item = u64>, m: u64) -> (f64, f64) {
    let m = m as f64;
    let (mut s2, mut s3) = (0.0, 0.0);
    for c in counts {
        let c = c as f64;
        s2 += c * (c - 1.0);
        s3 += c * (c - 1.0) * (c - 2.0);
    }
    (s2 / (m * (m - 1.0)), s3 / (m * (m - 1.0) * (m - 2.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node ID told apart by `n` (in its first 8 bytes, which the windows
    /// key on).
    fn id(n: u32) -> NodeId {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id
    }

    const HONEST: NodeId = [0xaa; 32];
    const POISONER: NodeId = [0xbb; 32];

    /// The real distribution of Ethereum nodes over ASNs (Nov 2025), the
    /// harness's copy: (AS number, nodes).
    fn real_asns() -> Vec<(u32, u64)> {
        include_str!("../../../adversary/data/ethereum-node-asn-distribution.csv")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut fields = l.split(',');
                let asn = fields.next()?.strip_prefix("AS")?.parse().ok()?;
                let nodes = l.rsplit(',').nth(1)?.parse().ok()?;
                Some((asn, nodes))
            })
            .collect()
    }

    /// A deterministic xorshift stream: test data, not security.
    struct Draw(u64);
    impl Draw {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// An ASN drawn in proportion to its nodes.
        fn asn(&mut self, asns: &[(u32, u64)], total: u64) -> NetGroup {
            let mut x = self.next() % total;
            for &(asn, nodes) in asns {
                if x < nodes {
                    return NetGroup::Asn(asn);
                }
                x -= nodes;
            }
            unreachable!("x < total")
        }
    }

    /// A spread whose pool holds 4,096 records of the real distribution,
    /// from honest senders of 32 records each.
    fn real_pool(draw: &mut Draw, asns: &[(u32, u64)], total: u64) -> Spread {
        let mut s = Spread::default();
        for r in 0..1000 {
            if s.pool_len() == SPREAD_POOL {
                break;
            }
            let records: Vec<_> = (0..32)
                .map(|i| (id(1_000_000 + r * 1000 + i), draw.asn(asns, total)))
                .collect();
            s.returned(&id(r), records);
        }
        assert_eq!(s.pool_len(), SPREAD_POOL);
        s
    }

    #[test]
    fn the_pool_estimates_the_real_concentration() {
        let asns = real_asns();
        assert!(asns.len() > 1000, "{} ASes read", asns.len());
        let total: u64 = asns.iter().map(|a| a.1).sum();
        let q: f64 = asns
            .iter()
            .map(|a| (a.1 as f64 / total as f64).powi(2))
            .sum();
        let s = real_pool(&mut Draw(7), &asns, total);
        let (est, _) = group_moments(s.pool_groups.values().copied(), SPREAD_POOL as u64);
        assert!((est - q).abs() < 0.15 * q, "q̂ = {est}, q = {q}");
    }

    #[test]
    fn honest_windows_pass_and_few_group_sybils_do_not() {
        let asns = real_asns();
        let total: u64 = asns.iter().map(|a| a.1).sum();
        let mut draw = Draw(11);
        let pool = real_pool(&mut draw, &asns, total);
        // 3,000 honest nodes, each returning 32 records of the network in
        // two answers: the first is not tested (16 records are too few).
        let mut flagged = 0;
        for h in 0..3000u32 {
            let mut s = pool.clone();
            let records: Vec<_> = (0..32)
                .map(|i| (id(5_000_000 + h * 100 + i), draw.asn(&asns, total)))
                .collect();
            let (a, b) = records.split_at(16);
            assert_eq!(s.returned(&HONEST, a.to_vec()), None, "16 of 32");
            flagged += usize::from(s.returned(&HONEST, b.to_vec()).is_some());
        }
        // 0.003% expected (0.09 of 3,000); one is allowed.
        assert!(flagged <= 1, "{flagged} of 3000 honest windows flagged");
        // A poisoner returning 32 Sybils spread round-robin over 4 ASes is
        // flagged by its second full answer.
        let mut s = pool.clone();
        let sybils: Vec<_> = (0..32)
            .map(|i| (id(9_000_000 + i), NetGroup::Asn(64_512 + i % 4)))
            .collect();
        assert_eq!(s.returned(&POISONER, sybils[..16].to_vec()), None);
        let c = s
            .returned(&POISONER, sybils[16..].to_vec())
            .expect("4 ASes clustered");
        assert_eq!((c.records, c.groups, c.collisions), (32, 4, 4 * 28));
        assert!(c.expected < 30.0, "{c:?}");
    }

    #[test]
    fn four_groups_are_caught_in_a_full_window_and_five_in_balance_are_not() {
        let asns = real_asns();
        let total: u64 = asns.iter().map(|a| a.1).sum();
        let pool = real_pool(&mut Draw(13), &asns, total);
        let sybils = |groups: u32| -> Vec<(NodeId, NetGroup)> {
            (0..32)
                .map(|i| (id(9_000_000 + i), NetGroup::Asn(64_512 + i % groups)))
                .collect()
        };
        let run = |groups| {
            let mut s = pool.clone();
            let all = sybils(groups);
            s.returned(&POISONER, all[..16].to_vec());
            s.returned(&POISONER, all[16..].to_vec())
        };
        assert!(run(4).is_some(), "4 ASes, 32 records");
        // 7, 7, 6, 6, 6: 87 pairs against a threshold of about 88. Drawn
        // from a larger Sybil set the counts are rarely this even (96% of
        // such windows are flagged, module docs).
        assert!(run(5).is_none(), "5 ASes in balance, 32 records");
    }

    #[test]
    fn nothing_is_tested_before_the_pool_and_window_fill() {
        let mut s = Spread::default();
        let one_group = |from: u32, n: u32| -> Vec<(NodeId, NetGroup)> {
            (from..from + n)
                .map(|i| (id(i), NetGroup::Asn(1)))
                .collect()
        };
        // The pool holds too few records to say what the network looks like.
        assert_eq!(s.returned(&POISONER, one_group(0, 32)), None);
        // Fill it with diverse records from others.
        for r in 0..SPREAD_POOL_MIN as u32 {
            s.returned(&id(r), [(id(100_000 + r), NetGroup::Asn(1000 + r))]);
        }
        // A window of 19 is not tested; the 20th record makes it testable.
        let mut s2 = s.clone();
        assert_eq!(s2.returned(&HONEST, one_group(50_000, 19)), None);
        assert!(s2.returned(&HONEST, one_group(50_019, 1)).is_some());
        // Every answer is tested, also one that repeats the window; an
        // empty answer is not.
        assert!(s.returned(&POISONER, one_group(0, 16)).is_some());
        assert!(s.returned(&POISONER, one_group(0, 16)).is_some());
        assert_eq!(s.returned(&POISONER, []), None);
    }

    #[test]
    fn only_what_passed_joins_the_pool() {
        let asns = real_asns();
        let total: u64 = asns.iter().map(|a| a.1).sum();
        let mut s = real_pool(&mut Draw(17), &asns, total);
        let before: Vec<NodeId> = s.pool_order.iter().copied().collect();
        // 300 poisoners, each with 32 fabricated Sybils of its own on 4
        // ASes: the first answer of each is not tested (16 records) and the
        // second is flagged; neither enters the pool, so the last poisoner
        // is judged against the same network as the first.
        for p in 0..300u32 {
            let sybils: Vec<_> = (0..32)
                .map(|i| (id(20_000_000 + p * 100 + i), NetGroup::Asn(64_512 + i % 4)))
                .collect();
            let poisoner = id(30_000_000 + p);
            assert_eq!(s.returned(&poisoner, sybils[..16].to_vec()), None);
            assert!(
                s.returned(&poisoner, sybils[16..].to_vec()).is_some(),
                "poisoner {p} passed"
            );
        }
        assert!(s.pool_order.iter().copied().eq(before), "pool unchanged");
        // A sender that passes places at most a window's worth, however
        // many records it names.
        let diverse: Vec<_> = (0..100)
            .map(|i| (id(40_000_000 + i), NetGroup::Asn(100_000 + i)))
            .collect();
        assert_eq!(s.returned(&HONEST, diverse), None);
        assert_eq!(s.placed[&HONEST], SPREAD_WINDOW);
        assert_eq!(s.pool_len(), SPREAD_POOL, "older records made room");
        // An answer without records leaves no window behind.
        assert_eq!(s.returned(&id(50_000_000), []), None);
        assert!(!s.windows.contains_key(&id(50_000_000)));
    }

    #[test]
    fn pool_and_windows_stay_bounded() {
        let mut s = Spread::default();
        for r in 0..(SPREAD_SENDERS as u32 + 10) {
            let records: Vec<_> = (0..40)
                .map(|i| (id(r * 64 + i), NetGroup::Asn((r * 64 + i) % 997)))
                .collect();
            s.returned(&id(10_000_000 + r), records);
        }
        assert!(s.placed.values().all(|&n| n <= SPREAD_WINDOW));
        assert_eq!(s.placed.values().sum::<usize>(), SPREAD_POOL);
        assert_eq!(s.pool_len(), SPREAD_POOL);
        assert_eq!(s.pool_order.len(), SPREAD_POOL);
        assert_eq!(
            s.pool_groups.values().sum::<u64>(),
            SPREAD_POOL as u64,
            "group counts follow the pool"
        );
        // A record seen again at another address moves its group.
        let moved = id(5);
        s.pool_add(&id(1), moved, NetGroup::Asn(5_000_777));
        s.pool_add(&id(1), moved, NetGroup::Asn(5_000_778));
        assert_eq!(s.pool_groups.get(&NetGroup::Asn(5_000_777)), None);
        assert_eq!(s.pool_groups.get(&NetGroup::Asn(5_000_778)), Some(&1));
        assert_eq!(s.pool_groups.values().sum::<u64>(), SPREAD_POOL as u64);
        assert_eq!(s.windows.len(), SPREAD_SENDERS);
        assert!(s.windows.values().all(|w| w.records.len() <= SPREAD_WINDOW));
        // The least recently updated window went first.
        assert!(!s.windows.contains_key(&id(10_000_000)));
        assert!(
            s.windows
                .contains_key(&id(10_000_000 + SPREAD_SENDERS as u32 + 9))
        );
    }
}

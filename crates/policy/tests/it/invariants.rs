//! Property tests: random configurations and random sequences of inserts,
//! removals and rank changes, checked against a brute-force model of the
//! rules in `View`'s documentation.
//!
//! Checked after every step: (i) no bucket or table cap exceeded, no bucket
//! above k; (ii) every count equals a recount from scratch; (iii) every
//! eviction removes exactly one entry, of strictly lower rank, sharing the
//! broken groups (or in the bucket's largest ASN group); the decision equals
//! the model's. At the end: (iv) the view passes `audit`, and audit output,
//! once removed, leaves a set that passes; (v) `select_diverse` covers as
//! many ASNs as possible without duplicates.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use discguard_netgroup::{GroupKind, NetGroup, NetGroups};
use discguard_policy::{
    Caps, Decision, EvictReason, NodeId, PolicyConfig, RejectReason, View, audit, bucket_index,
    select_diverse,
};
use proptest::prelude::*;

use crate::common::id_at;

/// One entry of the model: insertion order is age.
#[derive(Clone, Debug)]
struct ModelEntry {
    id: NodeId,
    groups: NetGroups,
    rank: i64,
    seq: u64,
}

/// The view's rules, computed from a flat list of entries.
struct Model {
    local: NodeId,
    caps: Caps,
    entries: Vec<ModelEntry>,
    next_seq: u64,
}

/// The broken caps of a candidate, in the order of `decide`:
/// `(is_bucket_scope, kind)`.
fn broken(model: &Model, b: usize, groups: &NetGroups) -> Vec<(bool, GroupKind)> {
    let mut out = Vec::new();
    for scope_bucket in [true, false] {
        for kind in GroupKind::ALL {
            let count = model
                .entries
                .iter()
                .filter(|e| e.groups.get(kind) == groups.get(kind))
                .filter(|e| !scope_bucket || model.bucket(&e.id) == b)
                .count();
            let cap = if scope_bucket {
                model.caps.bucket(kind)
            } else {
                model.caps.table(kind)
            };
            if count >= cap {
                out.push((scope_bucket, kind));
            }
        }
    }
    out
}

impl Model {
    fn bucket(&self, id: &NodeId) -> usize {
        bucket_index(&self.local, id).unwrap()
    }

    fn decide(&self, id: &NodeId, groups: &NetGroups, rank: i64) -> Decision {
        let Some(b) = bucket_index(&self.local, id) else {
            return Decision::Reject(RejectReason::SelfId);
        };
        if self.entries.iter().any(|e| e.id == *id) {
            return Decision::Reject(RejectReason::AlreadyPresent);
        }
        let in_bucket: Vec<&ModelEntry> = self
            .entries
            .iter()
            .filter(|e| self.bucket(&e.id) == b)
            .collect();
        let full = in_bucket.len() >= self.caps.bucket_size();
        let broken = broken(self, b, groups);
        let reason = |(scope_bucket, kind): (bool, GroupKind)| {
            let group = groups.get(kind);
            if scope_bucket {
                RejectReason::BucketCap {
                    bucket: b,
                    kind,
                    group,
                }
            } else {
                RejectReason::TableCap { kind, group }
            }
        };
        if let Some(&first) = broken.first() {
            let need_bucket = full || broken.iter().any(|&(s, _)| s);
            let worst = self
                .entries
                .iter()
                .filter(|e| !need_bucket || self.bucket(&e.id) == b)
                .filter(|e| {
                    broken
                        .iter()
                        .all(|&(_, k)| e.groups.get(k) == groups.get(k))
                })
                .min_by_key(|e| (e.rank, Reverse(e.seq)));
            return match worst {
                Some(w) if w.rank < rank => Decision::AdmitEvicting {
                    evict: w.id,
                    reason: match reason(first) {
                        RejectReason::BucketCap {
                            bucket,
                            kind,
                            group,
                        } => EvictReason::BucketCap {
                            bucket,
                            kind,
                            group,
                        },
                        RejectReason::TableCap { kind, group } => {
                            EvictReason::TableCap { kind, group }
                        }
                        _ => unreachable!(),
                    },
                },
                _ => Decision::Reject(reason(first)),
            };
        }
        if !full {
            return Decision::Admit;
        }
        // Diversity: groups of the bucket by ASN.
        let mut by_asn: HashMap<NetGroup, Vec<&ModelEntry>> = HashMap::new();
        for e in &in_bucket {
            by_asn.entry(e.groups.asn).or_default().push(e);
        }
        let c = by_asn.get(&groups.asn).map_or(0, Vec::len);
        let (m, worst) = by_asn
            .iter()
            .map(|(g, members)| {
                let worst = members
                    .iter()
                    .min_by_key(|e| (e.rank, Reverse(e.seq)))
                    .unwrap();
                (members.len(), worst, *g)
            })
            .min_by_key(|&(m, w, g)| (Reverse(m), w.rank, g))
            .map(|(m, w, _)| (m, *w))
            .unwrap();
        if m >= c + 2 && worst.rank < rank {
            Decision::AdmitEvicting {
                evict: worst.id,
                reason: EvictReason::Diversity {
                    bucket: b,
                    group: worst.groups.asn,
                },
            }
        } else {
            // Score: the bucket's worst entry, if the candidate outranks it.
            let worst = in_bucket
                .iter()
                .min_by_key(|e| (e.rank, Reverse(e.seq)))
                .unwrap();
            if worst.rank < rank {
                Decision::AdmitEvicting {
                    evict: worst.id,
                    reason: EvictReason::Score {
                        bucket: b,
                        rank: worst.rank,
                    },
                }
            } else {
                Decision::Reject(RejectReason::BucketFull { bucket: b })
            }
        }
    }
}

/// (i) and (ii): caps hold and the view's counts equal a recount.
fn check_counts(view: &View<u64>, model: &Model) {
    let caps = *view.caps();
    assert_eq!(view.len(), model.entries.len());
    let mut lens = [0usize; 256];
    let mut table: HashMap<(GroupKind, NetGroup), usize> = HashMap::new();
    let mut bucket: HashMap<(usize, GroupKind, NetGroup), usize> = HashMap::new();
    for e in &model.entries {
        let b = model.bucket(&e.id);
        lens[b] += 1;
        for (kind, group) in e.groups.iter() {
            *table.entry((kind, group)).or_default() += 1;
            *bucket.entry((b, kind, group)).or_default() += 1;
        }
        let got = view.get(&e.id).expect("model entry missing from view");
        assert_eq!((got.groups, got.rank, got.seq()), (e.groups, e.rank, e.seq));
    }
    assert_eq!(view.bucket_lens(), lens);
    assert!(
        lens.iter().all(|&l| l <= caps.bucket_size()),
        "bucket above k"
    );
    for (&(kind, group), &count) in &table {
        assert_eq!(
            view.group_count(kind, group),
            count,
            "table count of {group}"
        );
        assert!(count <= caps.table(kind), "table cap of {group} exceeded");
    }
    for (&(b, kind, group), &count) in &bucket {
        assert_eq!(view.bucket_group_count(b, kind, group), count);
        assert!(count <= caps.bucket(kind), "bucket cap of {group} exceeded");
    }
    for kind in GroupKind::ALL {
        let groups: Vec<(NetGroup, usize)> = table
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(&(_, g), &c)| (g, c))
            .collect();
        assert_eq!(view.distinct_groups(kind), groups.len());
        let top = groups.iter().copied().max_by_key(|&(g, c)| (c, Reverse(g)));
        assert_eq!(view.top_group(kind), top);
    }
    // Iteration: every entry once, bucket by bucket, oldest first.
    let listed: Vec<(usize, u64)> = view
        .iter()
        .map(|e| (model.bucket(&e.id), e.seq()))
        .collect();
    assert_eq!(listed.len(), model.entries.len());
    assert!(listed.windows(2).all(|w| w[0] < w[1]));
}

/// (iii): an eviction's semantic properties, from the state before it.
fn check_eviction(model: &Model, groups: &NetGroups, rank: i64, id: &NodeId, d: Decision) {
    let Decision::AdmitEvicting { evict, reason } = d else {
        return;
    };
    let b = model.bucket(id);
    let victim = model
        .entries
        .iter()
        .find(|e| e.id == evict)
        .expect("evicts a present entry");
    assert!(
        victim.rank < rank,
        "evicted rank {} for rank {rank}",
        victim.rank
    );
    let full = model
        .entries
        .iter()
        .filter(|e| model.bucket(&e.id) == b)
        .count()
        >= model.caps.bucket_size();
    let broken = broken(model, b, groups);
    match reason {
        EvictReason::Diversity { bucket, group } => {
            assert_eq!(bucket, b);
            assert!(full && broken.is_empty());
            assert_eq!(victim.groups.asn, group);
            assert_eq!(model.bucket(&victim.id), b);
            let count = |g: NetGroup| {
                model
                    .entries
                    .iter()
                    .filter(|e| model.bucket(&e.id) == b && e.groups.asn == g)
                    .count()
            };
            let m = count(group);
            let largest = model
                .entries
                .iter()
                .filter(|e| model.bucket(&e.id) == b)
                .map(|e| count(e.groups.asn))
                .max()
                .unwrap();
            assert_eq!(m, largest, "evicts from the largest ASN group");
            assert!(m >= count(groups.asn) + 2, "swap must raise diversity");
        }
        EvictReason::Score { bucket, rank: r } => {
            assert_eq!(bucket, b);
            assert!(full && broken.is_empty());
            assert_eq!(victim.rank, r);
            let worst = model
                .entries
                .iter()
                .filter(|e| model.bucket(&e.id) == b)
                .map(|e| e.rank)
                .min()
                .unwrap();
            assert_eq!(r, worst, "evicts the worst-ranked entry of the bucket");
        }
        EvictReason::BucketCap { .. } | EvictReason::TableCap { .. } => {
            assert!(!broken.is_empty());
            for &(_, kind) in &broken {
                assert_eq!(
                    victim.groups.get(kind),
                    groups.get(kind),
                    "shares broken {kind:?}"
                );
            }
            if full || broken.iter().any(|&(s, _)| s) {
                assert_eq!(model.bucket(&victim.id), b, "evicts within the bucket");
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        distance: u16,
        seed: u64,
        group: usize,
        rank: i64,
    },
    Remove {
        pick: usize,
    },
    SetRank {
        pick: usize,
        rank: i64,
    },
}

/// A small pool of addresses so that caps bind: IPv4 in 3 /16s × 2 /24s and
/// IPv6 in 2 /32s × 2 /48s, each with an ASN from 3 (or no ASN: the wide
/// fallback).
fn pool_groups(i: usize) -> NetGroups {
    let (addr, asn) = (i % 10, i / 10 % 4);
    let ip: IpAddr = if addr < 6 {
        IpAddr::V4(Ipv4Addr::new(10, (addr / 2) as u8, (addr % 2) as u8, 1))
    } else {
        let a = addr - 6;
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8 + (a / 2) as u16,
            (a % 2) as u16,
            0,
            0,
            0,
            0,
            1,
        ))
    };
    let mut groups = NetGroups::prefixes_only(ip);
    if asn > 0 {
        groups.asn = NetGroup::Asn(asn as u32);
    }
    groups
}

const POOL: usize = 40;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (245u16..=256, prop_oneof![0u64..8, any::<u64>()], 0..POOL, 0i64..4)
            .prop_map(|(distance, seed, group, rank)| Op::Insert { distance, seed, group, rank }),
        1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
        1 => (any::<usize>(), 0i64..4).prop_map(|(pick, rank)| Op::SetRank { pick, rank }),
    ]
}

fn config() -> impl Strategy<Value = PolicyConfig> {
    prop_oneof![
        Just(PolicyConfig::default()),
        (
            1usize..=8,
            1usize..=3,
            1usize..=4,
            1usize..=5,
            1usize..=12,
            1u32..=16,
            1u32..=24
        )
            .prop_map(
                |(bucket_size, narrow, wide, asn, table_narrow, wide_64ths, asn_64ths)| {
                    PolicyConfig {
                        bucket_size,
                        bucket_narrow: narrow,
                        bucket_wide: wide,
                        bucket_asn: asn,
                        table_narrow,
                        table_wide_share: f64::from(wide_64ths) / 64.0,
                        table_asn_share: f64::from(asn_64ths) / 64.0,
                        nominal_table_size: 64,
                    }
                }
            ),
    ]
}

fn ordinal_pick(model: &Model, pick: usize) -> Option<NodeId> {
    (!model.entries.is_empty()).then(|| model.entries[pick % model.entries.len()].id)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn view_matches_model_and_keeps_invariants(
        config in config(),
        local_seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..300),
        limit in 0usize..40,
    ) {
        let local = id_at(&[0x5a; 32], 256, local_seed);
        let mut view: View<u64> = View::new(local, config.clone()).unwrap();
        let mut model = Model { local, caps: config.caps(), entries: Vec::new(), next_seq: 0 };
        let mut attempted: Vec<(NodeId, NetGroups)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert { distance, seed, group, rank } => {
                    let id = id_at(&local, distance, seed);
                    let groups = pool_groups(group);
                    attempted.push((id, groups));
                    let d = view.decide(&id, &groups, rank);
                    prop_assert_eq!(d, model.decide(&id, &groups, rank));
                    check_eviction(&model, &groups, rank, &id, d);
                    let before = view.len();
                    match view.insert(id, groups, rank, step as u64) {
                        Ok(None) => {
                            prop_assert_eq!(d, Decision::Admit);
                            prop_assert_eq!(view.len(), before + 1);
                        }
                        Ok(Some(evicted)) => {
                            prop_assert_eq!(
                                d,
                                Decision::AdmitEvicting { evict: evicted.entry.id, reason: evicted.reason }
                            );
                            prop_assert_eq!(view.len(), before);
                            prop_assert!(!view.contains(&evicted.entry.id));
                            model.entries.retain(|e| e.id != evicted.entry.id);
                        }
                        Err(rejected) => {
                            prop_assert_eq!(d, Decision::Reject(rejected.reason));
                            prop_assert_eq!(rejected.payload, step as u64);
                            prop_assert_eq!(view.len(), before);
                        }
                    }
                    if d.admits() {
                        prop_assert_eq!(view.get(&id).map(|e| e.payload), Some(step as u64));
                        model.entries.push(ModelEntry { id, groups, rank, seq: model.next_seq });
                        model.next_seq += 1;
                    }
                }
                Op::Remove { pick } => {
                    if let Some(id) = ordinal_pick(&model, pick) {
                        let removed = view.remove(&id).expect("present");
                        prop_assert_eq!(removed.id, id);
                        model.entries.retain(|e| e.id != id);
                    }
                }
                Op::SetRank { pick, rank } => {
                    if let Some(id) = ordinal_pick(&model, pick) {
                        let old = model.entries.iter().find(|e| e.id == id).unwrap().rank;
                        prop_assert_eq!(view.set_rank(&id, rank), Some(old));
                        model.entries.iter_mut().find(|e| e.id == id).unwrap().rank = rank;
                    }
                }
            }
            check_counts(&view, &model);
        }

        // (iv) audit: the view's own entries pass, oldest first or newest first.
        let own: Vec<(NodeId, NetGroups)> = model.entries.iter().map(|e| (e.id, e.groups)).collect();
        prop_assert!(audit(&config, &local, own.iter().copied()).is_empty());
        prop_assert!(audit(&config, &local, own.iter().rev().copied()).is_empty());
        // Every attempted candidate, as if another table held them all: the
        // violators, once removed, leave a set that passes.
        let violators = audit(&config, &local, attempted.iter().copied());
        let bad: HashSet<NodeId> = violators.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(bad.len(), violators.len());
        let rest: Vec<_> = attempted.iter().copied().filter(|(id, _)| !bad.contains(id)).collect();
        prop_assert!(audit(&config, &local, rest).is_empty());

        // (v) select_diverse.
        let chosen = select_diverse(view.iter(), limit, local_seed);
        let ids: HashSet<NodeId> = chosen.iter().map(|e| e.id).collect();
        prop_assert_eq!(ids.len(), chosen.len(), "no duplicates");
        prop_assert_eq!(chosen.len(), limit.min(view.len()));
        let asns: HashSet<NetGroup> = view.iter().map(|e| e.groups.asn).collect();
        let chosen_asns: HashSet<NetGroup> = chosen.iter().map(|e| e.groups.asn).collect();
        prop_assert_eq!(chosen_asns.len(), limit.min(asns.len()));
        let again: Vec<NodeId> = select_diverse(view.iter().collect::<Vec<_>>().into_iter().rev(), limit, local_seed)
            .iter()
            .map(|e| e.id)
            .collect();
        prop_assert_eq!(chosen.iter().map(|e| e.id).collect::<Vec<_>>(), again, "deterministic");

        // closest: sorted by XOR distance, nothing closer left out.
        let target = id_at(&local, 250, local_seed ^ 1);
        let closest = view.closest(&target, limit);
        let dist = |id: &NodeId| -> NodeId { std::array::from_fn(|i| id[i] ^ target[i]) };
        prop_assert!(closest.windows(2).all(|w| dist(&w[0].id) < dist(&w[1].id)));
        if let Some(last) = closest.last() {
            let cut = dist(&last.id);
            prop_assert_eq!(view.iter().filter(|e| dist(&e.id) <= cut).count(), closest.len());
        }
    }
}

//! Calibration of the keyspace test on seeded simulated tables (pure logic,
//! no network: the real tables are measured by the adversary harness), and
//! invariants of the group measures under random inputs.
//!
//! A simulated table holds, per log-distance, the first k of the network's
//! uniformly random node IDs at that distance — what a node that has looked
//! up its own ID and random targets knows. "Patchy" tables know only a
//! share of the nodes beyond the near region, as a young node does.

use discguard_netgroup::NetGroups;
use discguard_policy::{NodeId, log_distance};
use discguard_risk::{KeyspaceConfig, Member, ScopeInput, assess, group_stats, table_anomaly};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

const K: usize = 16;

/// A routing table around `local` built from `n` random IDs, keeping at most
/// k per bucket; beyond `complete_within` (log-distance) a node is known
/// with probability `far_known`.
fn table(
    rng: &mut StdRng,
    local: &NodeId,
    n: usize,
    complete_within: u16,
    far_known: f64,
) -> Vec<NodeId> {
    let mut per_bucket = [0usize; 257];
    let mut out = Vec::new();
    for _ in 0..n {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        let Some(d) = log_distance(local, &id) else {
            continue;
        };
        if d > complete_within && !rng.random_bool(far_known) {
            continue;
        }
        if per_bucket[usize::from(d)] < K {
            per_bucket[usize::from(d)] += 1;
            out.push(id);
        }
    }
    out
}

/// `count` IDs sharing at least `bits` leading bits with `local` (mined).
fn mined(rng: &mut StdRng, local: &NodeId, bits: usize, count: usize) -> Vec<NodeId> {
    (0..count)
        .map(|_| {
            let mut id = [0u8; 32];
            rng.fill_bytes(&mut id);
            for b in 0..bits {
                let mask = 0x80 >> (b % 8);
                id[b / 8] = (id[b / 8] & !mask) | (local[b / 8] & mask);
            }
            id
        })
        .collect()
}

fn rates(n: usize, complete_within: u16, far_known: f64, seeds: u64) -> (usize, usize) {
    // The table's own estimate: these simulated tables are fair samples.
    let config = KeyspaceConfig {
        require_size_hint: false,
        ..KeyspaceConfig::default()
    };
    let mut false_alarms = 0;
    let mut detected = 0;
    for seed in 0..seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut local = [0u8; 32];
        rng.fill_bytes(&mut local);
        let mut ids = table(&mut rng, &local, n, complete_within, far_known);
        if table_anomaly(&local, &ids, &config, None).anomalous {
            false_alarms += 1;
        }
        // Eight IDs mined to share 4 bits more than the network size makes
        // likely (log2 N + 4), as many as two /24s keep under discv5's
        // per-bucket /24 cap across two near buckets.
        let bits = (n as f64).log2().ceil() as usize + 4;
        ids.extend(mined(&mut rng, &local, bits, 8));
        if table_anomaly(&local, &ids, &config, None).anomalous {
            detected += 1;
        }
    }
    println!(
        "N = {n}, complete within {complete_within}, far known {far_known}: {false_alarms} false alarms, {detected} detected of {seeds}"
    );
    (false_alarms, detected)
}

#[test]
fn complete_tables_rarely_alarm_and_mined_clusters_are_caught() {
    for n in [1_000, 10_000] {
        let (fa, det) = rates(n, 256, 1.0, 300);
        assert!(fa <= 3, "N = {n}: {fa} false alarms in 300 (α = 0.001)");
        assert_eq!(
            det, 300,
            "N = {n}: 8 IDs mined 4 bits deep caught every time"
        );
    }
}

#[test]
fn patchy_far_buckets_do_not_raise_false_alarms() {
    // Complete within the 64 closest (N·2^(d−256) ≤ 64), 30% known beyond.
    let n = 2_000;
    let complete_within = 256 - (n as f64 / 64.0).log2().ceil() as u16;
    let (fa, det) = rates(n, complete_within, 0.3, 300);
    assert!(fa <= 3, "{fa} false alarms in 300");
    assert!(det >= 297, "{det} of 300 detected");
}

proptest! {
    #[test]
    fn group_measures_stay_in_range(labels in proptest::collection::vec(0u8..20, 0..200)) {
        let s = group_stats(labels.iter().copied(), Some(4));
        let n = labels.len();
        if n == 0 {
            prop_assert_eq!(s.groups_to_majority, 0);
        } else {
            prop_assert!(s.entropy_nats <= (n as f64).ln() + 1e-9);
            prop_assert!(s.effective_groups >= 1.0 - 1e-9);
            prop_assert!(s.effective_groups <= s.distinct as f64 + 1e-9);
            prop_assert!(s.hhi >= 1.0 / s.distinct as f64 - 1e-9 && s.hhi <= 1.0 + 1e-9);
            prop_assert!((0.0..=1.0).contains(&s.normalized_entropy));
            prop_assert!(s.top1_share <= s.top5_share + 1e-12);
            prop_assert!(s.groups_to_majority >= 1 && s.groups_to_majority <= s.distinct);
            prop_assert!(s.groups_to_majority <= n / 2 + 1);
            // The top groups_to_majority groups hold more than half, one fewer do not.
            let mut counts: Vec<usize> = (0u8..20).map(|g| labels.iter().filter(|&&l| l == g).count()).collect();
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let held: usize = counts.iter().take(s.groups_to_majority).sum();
            let fewer: usize = counts.iter().take(s.groups_to_majority - 1).sum();
            prop_assert!(2 * held > n && 2 * fewer <= n);
        }
    }

    #[test]
    fn headline_is_in_unit_interval(octets in proptest::collection::vec((0u8..8, 0u8..8), 0..64)) {
        let members: Vec<Member> = octets
            .iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(i as u64).to_be_bytes());
                Member::new(id, NetGroups::prefixes_only(format!("10.{a}.{b}.1").parse().unwrap()))
            })
            .collect();
        let r = assess(&ScopeInput::new(&members));
        prop_assert!(r.eclipse_risk > 0.0 && r.eclipse_risk <= 1.0);
        if !members.is_empty() {
            prop_assert!(r.eclipse_risk >= 1.0 / (members.len() / 2 + 1) as f64 - 1e-12);
        }
    }
}

//! Keyspace anomalies: node IDs mined next to ours or next to a lookup's
//! target (research.md, "Eclipse-risk metrics", item 5).
//!
//! Honest node IDs are uniform over the 256-bit keyspace, so the number of
//! nodes at log-distance `d` from a given ID is Poisson with mean
//! `N · 2^(d−257)` (`λ_j = N·2^−(j+1)` with `j = 256 − d`, the bucket index
//! counted from the far end). An attacker who mines IDs close to a victim —
//! Prünster et al., "Total Eclipse of the Heart" (2022); Henningsen et al.,
//! "False Friends" (2019) — fills near buckets far beyond that mean.
//!
//! **Table test** ([`table_anomaly`]):
//! 1. Estimate the network size N̂ from the *far* buckets: the farthest
//!    bucket that is not full (`n_d < k`: a full bucket only says "at least
//!    k") and the [`ESTIMATION_WINDOW`]` − 1` buckets after it,
//!    `N̂ = Σ n_d / Σ 2^(d−257)` over the window (the Poisson maximum-likelihood
//!    estimate), but never below `k·2^(257−d)` for the nearest full bucket
//!    `d` (a full bucket holds at least k of its expected nodes: a floor that
//!    keeps a thin window from underestimating N̂, which would raise false
//!    alarms). N̂ is the larger of that and an independent estimate from
//!    lookups towards random targets ([`network_size_from_lookups`]), and by
//!    default ([`KeyspaceConfig::require_size_hint`]) there is no test
//!    without the latter: a young table knows its near region far better
//!    than its far buckets, so its own estimate runs low. A table with no
//!    full bucket and fewer than [`MIN_WINDOW_ENTRIES`] entries in the
//!    window is not tested either.
//! 2. For every nearer bucket, `λ_d = min(k, N̂·2^(d−257))` and the tail
//!    probability `p_d = P(X ≥ n_d)`, `X ~ Poisson(λ_d)`.
//!    The same for every entry at distance ≤ d together (mean
//!    `N̂·2^(d−256)`): a cluster spread over several near buckets, none of
//!    them improbable alone.
//! 3. Bonferroni over the `m` tests: the corrected p-value is
//!    `min(1, m · min_d p_d)`; the table is flagged when it is below `α`
//!    ([`DEFAULT_ALPHA`]), so an honest table raises a false alarm with
//!    probability at most `α` per evaluation.
//!
//! **Lookup test** ([`lookup_anomaly`], after Sridhar et al., NDSS 2024,
//! who detect mined-ID clusters in IPFS from the common-prefix-length (CPL)
//! histogram of a lookup's closest peers, 99.6% detection): of the k closest
//! results to the target, `O_c` share at least `c` leading bits with it. The
//! whole network holds `Poisson(N̂·2^−c)` such nodes, so
//! `p_c = P(X ≥ O_c)` is a conservative p-value (results are a subset of the
//! network), Bonferroni-corrected over the prefix lengths tested. The
//! Kullback–Leibler divergence of the observed CPL histogram from its
//! expectation is reported alongside (in nats) as the effect size.
//!
//! Both tests need only node IDs.

use discguard_policy::{NodeId, log_distance};
use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, Poisson};

/// Family-wise false-alarm probability of one test (table or lookup).
/// 0.001 leaves a tenfold margin under the goal of ≤ 1% false alarms
/// (design.md, "ID-mining detection") for a model that is only approximately
/// right (tables are not perfect samples); a 12-bit mined cluster scores
/// p < 10⁻¹⁰, so detection does not need a looser threshold.
pub const DEFAULT_ALPHA: f64 = 0.001;

/// Buckets, from the farthest non-full one inwards, that estimate N̂. Four
/// buckets hold about `2k` entries of a full table's worth of evidence
/// (k/2 + k/4 + k/8 + k/16 ≈ k … 2k), enough for a ±25% estimate, while
/// staying farther out than any cluster mined to be among a node's closest.
pub const ESTIMATION_WINDOW: usize = 4;

/// Entries the estimation window must hold before the table is tested.
pub const MIN_WINDOW_ENTRIES: usize = 8;

/// Smallest expectation used as a probability in the KL divergence, so that
/// a CPL the model gives (almost) no chance adds a large but finite term.
const MIN_EXPECTED_SHARE: f64 = 1e-12;

/// Parameters of the keyspace tests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyspaceConfig {
    /// k: entries per k-bucket of the table tested (16 in discv5).
    pub bucket_size: usize,
    /// Family-wise false-alarm probability per test.
    pub alpha: f64,
    /// Buckets in the estimation window.
    pub window: usize,
    /// Entries the window must hold for a test.
    pub min_window_entries: usize,
    /// Test only with an independent network-size estimate (from lookups):
    /// a young table knows its near region (found by the bootstrap lookup
    /// for our own ID) far better than its far buckets, so its own estimate
    /// runs low and the near region looks over-full. On by default; off
    /// tests a table that is known to be a fair sample on its own.
    pub require_size_hint: bool,
}

impl Default for KeyspaceConfig {
    fn default() -> Self {
        Self {
            bucket_size: 16,
            alpha: DEFAULT_ALPHA,
            window: ESTIMATION_WINDOW,
            min_window_entries: MIN_WINDOW_ENTRIES,
            require_size_hint: true,
        }
    }
}

/// `P(X ≥ n)` for `X ~ Poisson(λ)`, from the regularised lower incomplete
/// gamma function (accurate far into the tail, where `1 − CDF` would round to
/// zero).
pub fn poisson_tail(n: u64, lambda: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    // Also catches NaN.
    if lambda.is_nan() || lambda <= 0.0 {
        return 0.0;
    }
    match Poisson::new(lambda) {
        Ok(poisson) => poisson.sf(n - 1).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// `2^(d − 257)`: the share of the keyspace at log-distance `d` from an ID.
fn shell_volume(distance: u16) -> f64 {
    2f64.powi(i32::from(distance) - 257)
}

/// One bucket's fill (or the fill of every bucket up to it) against its
/// expectation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketTest {
    /// Log-distance of the bucket (1..=256).
    pub distance: u16,
    /// Whether the test counts every entry at this distance *or nearer*
    /// (the cluster test) rather than this bucket alone.
    pub cumulative: bool,
    /// Entries counted.
    pub count: usize,
    /// Expected entries: `min(k, N̂·2^(d−257))` for a bucket,
    /// `N̂·2^(d−256)` for everything at distance ≤ d.
    pub expected: f64,
    /// `P(X ≥ count)`, uncorrected.
    pub p_value: f64,
}

/// Result of [`table_anomaly`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableAnomaly {
    /// N̂ used by the test, when there was one.
    pub network_size_estimate: Option<f64>,
    /// The table's own estimate (window, with the full-bucket floor).
    pub network_size_from_table: Option<f64>,
    /// The independent estimate passed in (from lookups), if any.
    pub network_size_hint: Option<f64>,
    /// Log-distances of the estimation window, farthest first.
    pub window: Vec<u16>,
    /// Tests made (`m`): each bucket nearer than the window, alone and
    /// with everything nearer.
    pub tested_buckets: usize,
    /// Bonferroni-corrected p-value, 1 when nothing was tested.
    pub p_value: f64,
    /// `p_value < α`.
    pub anomalous: bool,
    /// The bucket with the smallest tail probability, if any was tested.
    pub worst: Option<BucketTest>,
    /// Tests below `α / m`, farthest first.
    pub flagged: Vec<BucketTest>,
    /// Entries above expectation in the flagged buckets (summed), or in the
    /// largest flagged cluster, whichever is more: an estimate of how many
    /// mined IDs there are.
    pub excess_entries: f64,
}

impl TableAnomaly {
    fn untested(window: Vec<u16>, hint: Option<f64>) -> Self {
        Self {
            network_size_estimate: None,
            network_size_from_table: None,
            network_size_hint: hint,
            window,
            tested_buckets: 0,
            p_value: 1.0,
            anomalous: false,
            worst: None,
            flagged: Vec::new(),
            excess_entries: 0.0,
        }
    }
}

/// Entries per log-distance (index `d − 1`); the local ID itself is skipped.
fn bucket_counts<'a>(local: &NodeId, ids: impl IntoIterator<Item = &'a NodeId>) -> [usize; 256] {
    let mut counts = [0usize; 256];
    for id in ids {
        if let Some(d) = log_distance(local, id) {
            counts[usize::from(d) - 1] += 1;
        }
    }
    counts
}

/// Tests a routing table (or any set of node IDs around `local`) for buckets
/// fuller than the network size allows. See the module docs.
///
/// `size_hint` is an independent estimate of the network size, from lookups
/// towards random targets ([`network_size_from_lookups`]); N̂ is the larger
/// of it and the table's own. A young table knows its near region (the
/// bootstrap lookup for our own ID finds our closest nodes) far better than
/// its far buckets, so its own estimate runs low and the near region looks
/// over-full; the lookup estimate does not depend on that.
pub fn table_anomaly<'a>(
    local: &NodeId,
    ids: impl IntoIterator<Item = &'a NodeId>,
    config: &KeyspaceConfig,
    size_hint: Option<f64>,
) -> TableAnomaly {
    let size_hint = size_hint.filter(|h| h.is_finite());
    if config.require_size_hint && size_hint.is_none() {
        return TableAnomaly::untested(Vec::new(), None);
    }
    let counts = bucket_counts(local, ids);
    let count = |d: u16| counts[usize::from(d) - 1];
    let k = config.bucket_size.max(1);
    let Some(first_open) = (1..=256u16).rev().find(|&d| count(d) < k) else {
        return TableAnomaly::untested(Vec::new(), size_hint);
    };
    let window_len = config.window.clamp(1, usize::from(first_open)) as u16;
    let window: Vec<u16> = (first_open + 1 - window_len..=first_open).rev().collect();
    let in_window: usize = window.iter().map(|&d| count(d)).sum();
    // The nearest full bucket (just farther than the window) holds at least
    // k of its N·2^(d−257) expected nodes: N ≥ k·2^(257−d) is a floor for
    // the estimate, and proof that the table is well stocked.
    let full_floor = (first_open < 256).then(|| k as f64 / shell_volume(first_open + 1));
    if in_window < config.min_window_entries.max(1) && full_floor.is_none() {
        return TableAnomaly::untested(window, size_hint);
    }
    let volume: f64 = window.iter().map(|&d| shell_volume(d)).sum();
    let from_table = (in_window as f64 / volume).max(full_floor.unwrap_or(0.0));
    let n_hat = from_table.max(size_hint.unwrap_or(0.0));
    let nearest_window = first_open + 1 - window_len;
    let mut tests: Vec<BucketTest> = Vec::new();
    let mut within = 0usize;
    for d in 1..nearest_window {
        within += count(d);
        let expected = (n_hat * shell_volume(d)).min(k as f64);
        tests.push(BucketTest {
            distance: d,
            cumulative: false,
            count: count(d),
            expected,
            p_value: poisson_tail(count(d) as u64, expected),
        });
        // Everything at distance ≤ d: a cluster spread over several near
        // buckets, none of them improbable alone.
        let expected = n_hat * 2.0 * shell_volume(d);
        tests.push(BucketTest {
            distance: d,
            cumulative: true,
            count: within,
            expected,
            p_value: poisson_tail(within as u64, expected),
        });
    }
    let tested = tests.len();
    let worst = tests
        .iter()
        .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
        .cloned();
    let p_value = worst
        .as_ref()
        .map_or(1.0, |w| (w.p_value * tested as f64).min(1.0));
    let threshold = config.alpha / tested.max(1) as f64;
    tests.retain(|t| t.p_value < threshold);
    tests.reverse();
    let excess = |t: &BucketTest| (t.count as f64 - t.expected).max(0.0);
    let in_buckets: f64 = tests.iter().filter(|t| !t.cumulative).map(excess).sum();
    let in_cluster = tests
        .iter()
        .filter(|t| t.cumulative)
        .map(excess)
        .fold(0.0, f64::max);
    let excess_entries = in_buckets.max(in_cluster);
    TableAnomaly {
        network_size_estimate: Some(n_hat),
        network_size_from_table: Some(from_table),
        network_size_hint: size_hint,
        window,
        tested_buckets: tested,
        p_value,
        anomalous: p_value < config.alpha,
        worst,
        flagged: tests,
        excess_entries,
    }
}

/// `x / 2^256` for the XOR distance of two IDs, from its top 64 bits (enough
/// for networks far beyond 2^40 nodes).
fn normalized_distance(a: &NodeId, b: &NodeId) -> f64 {
    let mut top = [0u8; 8];
    for (i, byte) in top.iter_mut().enumerate() {
        *byte = a[i] ^ b[i];
    }
    u64::from_be_bytes(top) as f64 / 2f64.powi(64)
}

/// The network size one lookup towards `target` implies: its k-th closest
/// result (the target itself left out) lies at normalised XOR distance
/// `x_k`, and with N uniform IDs `E[x_k] = k / (N + 1)`, so `N̂ = k / x_k − 1`.
/// `None` with fewer than k results. This is the classic DHT size estimate
/// (e.g. Kostoulas et al., "Decentralized schemes for size estimation in
/// large and dynamic groups", 2005; the S/Kademlia and IPFS crawler
/// literature use the same order statistic).
pub fn network_size_from_lookup<'a>(
    target: &NodeId,
    results: impl IntoIterator<Item = &'a NodeId>,
    k: usize,
) -> Option<f64> {
    let k = k.max(1);
    let mut distances: Vec<f64> = results
        .into_iter()
        .filter(|id| *id != target)
        .map(|id| normalized_distance(target, id))
        .collect();
    if distances.len() < k {
        return None;
    }
    distances.sort_by(f64::total_cmp);
    let x_k = distances[k - 1];
    (x_k > 0.0).then(|| (k as f64 / x_k - 1.0).max(1.0))
}

/// The upper quartile (nearest rank) of the per-lookup estimates
/// ([`network_size_from_lookup`]) of lookups towards *random* targets.
/// A lookup errs low far more than high: one that stalls short of the
/// target's true neighbourhood, or is steered by peers answering with their
/// own kind, finds a k-th closest node too far away (measured in the
/// harness: honest runs between 0.6× and 2× of N, a few lookups through
/// Sybils at 0.15×), while erring high needs node IDs closer to a random
/// target than real ones, mined on the spot. The upper quartile ignores up
/// to three quarters of low lookups and needs a quarter of them inflated to
/// move. `None` without an estimate.
pub fn network_size_from_lookups(estimates: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = estimates.into_iter().filter(|e| e.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (3 * v.len()).div_ceil(4).max(1);
    Some(v[rank - 1])
}

/// Result of [`lookup_anomaly`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupAnomaly {
    /// Results used: the k closest to the target, the target itself left out.
    pub results: usize,
    /// Prefix lengths tested.
    pub tested_prefixes: usize,
    /// Bonferroni-corrected p-value, 1 when nothing was tested.
    pub p_value: f64,
    /// `p_value < α`.
    pub anomalous: bool,
    /// KL divergence of the observed CPL histogram from its expectation, in
    /// nats (0 when nothing was tested).
    pub divergence_nats: f64,
}

/// The keyspace test over several lookups ([`combine_lookups`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupsAnomaly {
    /// Lookups tested.
    pub tested: usize,
    /// Smallest per-lookup p-value times the lookups tested (Bonferroni), at
    /// most 1; 1 when none was tested.
    pub p_value: f64,
    /// `p_value < α`.
    pub anomalous: bool,
    /// Largest KL divergence of a lookup's CPL histogram, in nats.
    pub divergence_nats: f64,
}

/// Combines the tests of several lookups: Bonferroni over the lookups
/// tested, flagged below `alpha`; the largest divergence.
pub fn combine_lookups<'a>(
    tests: impl IntoIterator<Item = &'a LookupAnomaly>,
    alpha: f64,
) -> LookupsAnomaly {
    let (mut tested, mut min_p, mut divergence) = (0usize, 1.0f64, 0.0f64);
    for t in tests {
        tested += 1;
        min_p = min_p.min(t.p_value);
        divergence = divergence.max(t.divergence_nats);
    }
    let p_value = (min_p * tested.max(1) as f64).min(1.0);
    LookupsAnomaly {
        tested,
        p_value,
        anomalous: p_value < alpha,
        divergence_nats: divergence,
    }
}

/// Lookup targets sharing this many leading bits with the local ID do not
/// estimate the network size ([`estimates_network_size`]).
pub const NEAR_TARGET_BITS: u16 = 8;

/// Whether a lookup towards `target` may estimate the network size: not
/// when the target shares [`NEAR_TARGET_BITS`] or more leading bits with
/// `local` (the bootstrap lookup for our own ID), where IDs mined next to us
/// would inflate the estimate. 1 in 256 random targets is skipped.
pub fn estimates_network_size(local: &NodeId, target: &NodeId) -> bool {
    common_prefix_len(local, target) < NEAR_TARGET_BITS
}

/// Common prefix length of two IDs (256 for equal IDs).
pub fn common_prefix_len(a: &NodeId, b: &NodeId) -> u16 {
    log_distance(a, b).map_or(256, |d| 256 - d)
}

/// `E[min(k, X)]` for `X ~ Poisson(λ)`: `Σ_{i<k} P(X > i)`.
fn expected_capped(k: usize, lambda: f64) -> f64 {
    (1..=k as u64).map(|i| poisson_tail(i, lambda)).sum()
}

/// Tests the results of one lookup towards `target` for a mined cluster
/// around it, given the network size `n_hat`. See the module docs.
pub fn lookup_anomaly<'a>(
    target: &NodeId,
    results: impl IntoIterator<Item = &'a NodeId>,
    n_hat: f64,
    config: &KeyspaceConfig,
) -> LookupAnomaly {
    let k = config.bucket_size.max(1);
    let mut cpls: Vec<u16> = results
        .into_iter()
        .filter(|id| *id != target)
        .map(|id| common_prefix_len(target, id))
        .collect();
    cpls.sort_unstable_by(|a, b| b.cmp(a));
    cpls.truncate(k);
    let untested = LookupAnomaly {
        results: cpls.len(),
        tested_prefixes: 0,
        p_value: 1.0,
        anomalous: false,
        divergence_nats: 0.0,
    };
    if cpls.is_empty() || n_hat.is_nan() || n_hat < 1.0 {
        return untested;
    }
    let lambda = |c: u16| n_hat * 2f64.powi(-i32::from(c));
    // Prefix lengths at which the network holds fewer than k nodes on
    // average: below that, k results sharing c bits are expected.
    let lowest = (0..=255u16).find(|&c| lambda(c) < k as f64).unwrap_or(255);
    let tested = usize::from(256 - lowest);
    let mut min_p: f64 = 1.0;
    for c in lowest..=255 {
        let observed = cpls.iter().filter(|&&x| x >= c).count();
        if observed == 0 {
            break;
        }
        min_p = min_p.min(poisson_tail(observed as u64, lambda(c)));
    }
    let p_value = (min_p * tested as f64).min(1.0);

    // Expected CPL histogram of the `used` closest: the number with CPL
    // exactly c is min(used, M_c) − min(used, M_{c+1}), M_c ~ Poisson(λ(c)).
    let used = cpls.len();
    let max_cpl = cpls[0];
    let mut divergence = 0.0;
    for c in cpls.iter().copied().min().unwrap_or(0)..=max_cpl {
        let observed = cpls.iter().filter(|&&x| x == c).count();
        if observed == 0 {
            continue;
        }
        let expected = (expected_capped(used, lambda(c))
            - expected_capped(used, lambda(c.saturating_add(1))))
            / used as f64;
        let p = observed as f64 / used as f64;
        divergence += p * (p / expected.max(MIN_EXPECTED_SHARE)).ln();
    }
    LookupAnomaly {
        results: used,
        tested_prefixes: tested,
        p_value,
        anomalous: p_value < config.alpha,
        divergence_nats: divergence.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ID at exactly log-distance `d` from `local`, varied by `salt`
    /// (pure test helper: flips bit 256−d, then writes `salt` into the bits
    /// below it).
    pub(crate) fn at_distance(local: &NodeId, d: u16, salt: u64) -> NodeId {
        let mut id = *local;
        let bit = usize::from(256 - d);
        id[bit / 8] ^= 0x80 >> (bit % 8);
        // Salt the bits below the flipped one.
        for i in 0..64usize {
            let b = bit + 1 + i;
            if b >= 256 {
                break;
            }
            if (salt >> i) & 1 == 1 {
                id[b / 8] ^= 0x80 >> (b % 8);
            }
        }
        id
    }

    #[test]
    fn poisson_tail_matches_closed_forms() {
        assert_eq!(poisson_tail(0, 3.0), 1.0);
        assert!((poisson_tail(1, 2.0) - (1.0 - (-2f64).exp())).abs() < 1e-12);
        // P(X ≥ 12 | λ = 0.12) ≈ λ^12 e^−λ / 12! — far below 1e-16, not 0.
        let p = poisson_tail(12, 0.12);
        let approx = 0.12f64.powi(12) * (-0.12f64).exp() / 479_001_600.0;
        assert!(
            p > 0.0 && (p / approx - 1.0).abs() < 0.05,
            "{p} vs {approx}"
        );
        assert_eq!(poisson_tail(3, 0.0), 0.0);
    }

    #[test]
    fn at_distance_helper_is_exact() {
        let local = [0x5a; 32];
        for d in [1u16, 7, 8, 9, 200, 255, 256] {
            for salt in [0, 1, 0xffff] {
                assert_eq!(log_distance(&local, &at_distance(&local, d, salt)), Some(d));
            }
        }
    }

    /// The table's own estimate alone (tests of the estimator).
    fn alone() -> KeyspaceConfig {
        KeyspaceConfig {
            require_size_hint: false,
            ..KeyspaceConfig::default()
        }
    }

    #[test]
    fn no_test_without_a_size_hint_by_default() {
        let local = [0x11; 32];
        let ids: Vec<NodeId> = (0..40u64)
            .map(|s| at_distance(&local, 256 - (s % 8) as u16, s))
            .collect();
        let r = table_anomaly(&local, &ids, &KeyspaceConfig::default(), None);
        assert_eq!(
            (r.network_size_estimate, r.anomalous, r.p_value),
            (None, false, 1.0)
        );
        assert!(
            table_anomaly(&local, &ids, &alone(), None)
                .network_size_estimate
                .is_some()
        );
    }

    #[test]
    fn young_table_is_not_tested() {
        let local = [0; 32];
        let ids: Vec<NodeId> = (0..5)
            .map(|i| at_distance(&local, 256 - i, i.into()))
            .collect();
        let r = table_anomaly(&local, &ids, &alone(), None);
        assert_eq!(r.network_size_estimate, None);
        assert!(!r.anomalous);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn cluster_next_to_us_is_flagged_and_counted() {
        let local = [0x11; 32];
        // N = 1024: buckets 256..=251 full (λ ≥ 16), then 8, 4, 2, 1.
        let mut ids = Vec::new();
        for (d, n) in [
            (256u16, 16usize),
            (255, 16),
            (254, 16),
            (253, 16),
            (252, 16),
            (251, 16),
            (250, 8),
            (249, 4),
            (248, 2),
            (247, 1),
        ] {
            for s in 0..n {
                ids.push(at_distance(&local, d, s as u64));
            }
        }
        let config = alone();
        let honest = table_anomaly(&local, &ids, &config, None);
        assert!(!honest.anomalous, "{honest:?}");
        let n_hat = honest.network_size_estimate.unwrap();
        assert_eq!(honest.window, vec![250, 249, 248, 247]);
        assert!(
            (n_hat - 1024.0).abs() < 1e-6,
            "window 250..=247 gives N̂ = {n_hat}"
        );
        // Twelve mined IDs at distance 240 (λ = 1024 · 2^−17 ≈ 0.008).
        for s in 0..12 {
            ids.push(at_distance(&local, 240, 1000 + s));
        }
        let mined = table_anomaly(&local, &ids, &config, None);
        assert!(mined.anomalous);
        assert!(mined.p_value < 1e-10);
        assert_eq!(mined.worst.as_ref().unwrap().distance, 240);
        assert!(
            mined
                .flagged
                .iter()
                .all(|t| t.distance == 240 || t.cumulative)
        );
        assert!((mined.excess_entries - 12.0).abs() < 0.1);
    }

    #[test]
    fn size_hint_lifts_a_low_table_estimate() {
        let local = [0x42; 32];
        // A young table: eight far entries (N̂ ≈ 8 / (1/2 + … + 1/16)) and
        // the six nodes a bootstrap lookup found next to us, at distance
        // 250 (expected N·2^−7 of them).
        let mut ids: Vec<NodeId> = (0..8)
            .map(|s| at_distance(&local, 256 - (s % 4) as u16, s))
            .collect();
        ids.extend((0..6).map(|s| at_distance(&local, 250, 100 + s)));
        let own = table_anomaly(&local, &ids, &alone(), None);
        assert!(
            own.anomalous,
            "without the hint the near region looks mined: {own:?}"
        );
        // By default there is no test at all without a hint.
        let config = KeyspaceConfig::default();
        assert!(!table_anomaly(&local, &ids, &config, None).anomalous);
        // Lookups say N ≈ 1000: six at distance 250 (λ ≈ 7.8) is ordinary.
        let hinted = table_anomaly(&local, &ids, &config, Some(1000.0));
        assert!(!hinted.anomalous, "{hinted:?}");
        assert_eq!(hinted.network_size_estimate, Some(1000.0));
    }

    #[test]
    fn lookup_size_estimate_is_right_on_average() {
        // N = 4096 evenly spaced IDs around a target: the k-th closest is at
        // normalised distance ≈ k/N.
        let target = [0u8; 32];
        let ids: Vec<NodeId> = (1..=4096u64)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(i << 52).to_be_bytes());
                id
            })
            .collect();
        let n = network_size_from_lookup(&target, &ids, 16).unwrap();
        assert!((n - 4095.0).abs() < 1.0, "{n}");
        assert_eq!(network_size_from_lookup(&target, &ids[..3], 16), None);
        // Upper quartile, nearest rank: the 3rd of 3, the 6th of 8.
        assert_eq!(
            network_size_from_lookups([10.0, 1000.0, 20.0]),
            Some(1000.0)
        );
        let eight = [27.0, 28.0, 120.0, 150.0, 180.0, 200.0, 210.0, 400.0];
        assert_eq!(network_size_from_lookups(eight), Some(200.0));
        assert_eq!(network_size_from_lookups([]), None);
    }

    #[test]
    fn lookups_combine_by_bonferroni() {
        let t = |p: f64, d: f64| LookupAnomaly {
            results: 16,
            tested_prefixes: 10,
            p_value: p,
            anomalous: false,
            divergence_nats: d,
        };
        let c = combine_lookups(&[t(1e-4, 0.5), t(0.5, 3.0)], 1e-3);
        assert_eq!(c.tested, 2);
        assert!((c.p_value - 2e-4).abs() < 1e-12 && c.anomalous);
        assert_eq!(c.divergence_nats, 3.0);
        let none = combine_lookups(&[], 1e-3);
        assert_eq!((none.tested, none.p_value, none.anomalous), (0, 1.0, false));
        let local = [0u8; 32];
        assert!(!estimates_network_size(
            &local,
            &at_distance(&local, 248, 0)
        ));
        assert!(estimates_network_size(&local, &at_distance(&local, 249, 0)));
    }

    #[test]
    fn lookup_cluster_is_flagged_honest_is_not() {
        let target = [0x77; 32];
        let config = KeyspaceConfig::default();
        // 16 closest of N = 1024 honest nodes: CPLs around log2(1024/16) = 6..10.
        let honest: Vec<NodeId> = [10u16, 9, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6]
            .iter()
            .enumerate()
            .map(|(i, &cpl)| at_distance(&target, 256 - cpl, i as u64))
            .collect();
        let r = lookup_anomaly(&target, &honest, 1024.0, &config);
        assert!(!r.anomalous, "{r:?}");
        assert!(r.divergence_nats < 1.0, "{r:?}");
        // Ten mined IDs with 20-bit prefixes displace the farthest ten; the
        // target itself in the results is ignored.
        let mut mined: Vec<NodeId> = (0..10)
            .map(|i| at_distance(&target, 236, 500 + i))
            .chain(honest.iter().take(6).copied())
            .collect();
        mined.push(target);
        let r = lookup_anomaly(&target, &mined, 1024.0, &config);
        assert_eq!(r.results, 16);
        assert!(r.anomalous && r.p_value < 1e-10, "{r:?}");
        assert!(r.divergence_nats > 5.0, "{r:?}");
    }
}

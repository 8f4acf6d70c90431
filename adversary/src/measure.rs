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
//! - **Bans**: a victim's `/v1/bans` sorted by who the harness knows each
//!   banned node to be: attacker (Sybil or poisoner), honest (a **false
//!   ban**; flaky honest nodes included) or unknown to the network.
//! - **Halving time** of the misbehaving share (Sybils + poisoners, the
//!   attacker share above) over the samples of a run: the peak and its
//!   time, then the first later sample at or below half the peak.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use serde::{Deserialize, Serialize};

use discguard_service::api::{BansResponse, LookupResponse};

use crate::population::Placement;
use crate::report::{EngineLookups, LookupEngine, LookupStats, MissedTarget};

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

/// Who the harness knows a node (or an IP) to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeClass {
    /// A Sybil or a poisoner.
    Attacker,
    /// An honest node that keeps its packets.
    Honest,
    /// An honest node behind a lossy relay (`flaky-honest`).
    Flaky,
    /// Not a node of the network (another victim, a stale record).
    Unknown,
}

/// Most honest node IDs listed in [`BanStats::banned_honest_ids`].
pub const BANNED_HONEST_IDS_SHOWN: usize = 20;

/// A victim's ban list (`GET /v1/bans`) against ground truth.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanStats {
    /// Banned node IDs.
    pub total: usize,
    /// Of those, the attacker's (Sybils and poisoners).
    pub attacker: usize,
    /// Of those, honest nodes, flaky ones included: **false bans**.
    pub false_bans: usize,
    /// Of the false bans, flaky honest nodes.
    #[serde(default)]
    pub flaky: usize,
    /// Of those, node IDs that are not nodes of the network.
    #[serde(default)]
    pub other: usize,
    /// The banned honest node IDs (hex), the first
    /// [`BANNED_HONEST_IDS_SHOWN`] in the victim's order.
    pub banned_honest_ids: Vec<String>,
    /// Banned IPs.
    #[serde(default)]
    pub ip_bans: usize,
    /// Of those, IPs of the attacker range.
    #[serde(default)]
    pub ip_bans_attacker: usize,
    /// Of those, IPs where an honest node lives (false IP bans).
    #[serde(default)]
    pub ip_bans_honest: usize,
    /// Bans by reason (the event that crossed the threshold).
    #[serde(default)]
    pub reasons: BTreeMap<String, usize>,
}

impl BanStats {
    /// The counts of a sample.
    pub fn count(&self) -> BanCount {
        BanCount {
            total: self.total,
            attacker: self.attacker,
            false_bans: self.false_bans,
        }
    }
}

/// The scores discguard saved at shutdown (`scores.json` in its datadir),
/// by who the harness knows each node to be: how many of each class it
/// marked down, and how far. Nodes with a score of 0 are not saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreStats {
    /// Honest nodes that keep their packets.
    pub honest: ClassScores,
    /// Flaky honest nodes (`flaky-honest`).
    pub flaky: ClassScores,
    /// Sybils and poisoners.
    pub attacker: ClassScores,
}

/// Saved scores of one class of nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Nodes with a nonzero score.
    pub scored: usize,
    /// Of those, at or below the not-served threshold (−10).
    pub not_served: usize,
    /// Of those, at or below the eviction threshold (−20): out of the view.
    pub evicted: usize,
    /// The lowest score.
    pub lowest: Option<i32>,
}

/// Sorts the scores saved in `scores_json` by `class_of` (node ID in hex).
///
/// # Errors
///
/// A file that is not discguard's `scores.json`.
pub fn score_stats(
    scores_json: &str,
    class_of: impl Fn(&str) -> NodeClass,
) -> anyhow::Result<ScoreStats> {
    let saved: discguard_scoring::SavedScores = serde_json::from_str(scores_json)?;
    let mut s = ScoreStats::default();
    for p in &saved.peers {
        let class = match class_of(&p.node_id) {
            NodeClass::Honest => &mut s.honest,
            NodeClass::Flaky => &mut s.flaky,
            NodeClass::Attacker => &mut s.attacker,
            NodeClass::Unknown => continue,
        };
        class.scored += 1;
        class.not_served += usize::from(p.score <= discguard_scoring::NOT_SERVED_THRESHOLD);
        class.evicted += usize::from(p.score <= discguard_scoring::EVICT_THRESHOLD);
        class.lowest = Some(class.lowest.map_or(p.score, |l| l.min(p.score)));
    }
    Ok(s)
}

/// Banned node IDs at one sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanCount {
    /// Banned node IDs.
    pub total: usize,
    /// Of those, the attacker's.
    pub attacker: usize,
    /// Of those, honest nodes (flaky ones included).
    pub false_bans: usize,
}

/// Sorts a ban list by `class_of` (node ID in hex) and `ip_class_of` (IP as
/// the victim wrote it).
pub fn ban_stats(
    bans: &BansResponse,
    class_of: impl Fn(&str) -> NodeClass,
    ip_class_of: impl Fn(&str) -> NodeClass,
) -> BanStats {
    let mut s = BanStats {
        total: bans.bans.len(),
        ip_bans: bans.ip_bans.len(),
        ..BanStats::default()
    };
    for b in &bans.bans {
        *s.reasons.entry(b.reason.clone()).or_default() += 1;
        match class_of(&b.node_id) {
            NodeClass::Attacker => s.attacker += 1,
            NodeClass::Unknown => s.other += 1,
            c @ (NodeClass::Honest | NodeClass::Flaky) => {
                s.false_bans += 1;
                s.flaky += usize::from(c == NodeClass::Flaky);
                if s.banned_honest_ids.len() < BANNED_HONEST_IDS_SHOWN {
                    s.banned_honest_ids.push(b.node_id.clone());
                }
            }
        }
    }
    for b in &bans.ip_bans {
        match ip_class_of(&b.ip) {
            NodeClass::Attacker => s.ip_bans_attacker += 1,
            NodeClass::Honest | NodeClass::Flaky => s.ip_bans_honest += 1,
            NodeClass::Unknown => {}
        }
    }
    s
}

/// How long the misbehaving nodes kept their place in one set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Halving {
    /// Highest share over the samples.
    pub peak_share: f64,
    /// Seconds (since the victims started) of the first sample at the peak.
    pub peak_t_seconds: f64,
    /// Seconds from the peak to the first later sample whose share is at
    /// most half the peak; `null` when that never happened within the run
    /// (or the share was 0 throughout).
    pub halved_after_seconds: Option<f64>,
    /// Share at the last sample.
    pub end_share: f64,
}

/// The [`Halving`] of a series of `(t_seconds, share)` samples in time
/// order; `None` without samples. The peak is the first sample at the
/// highest share.
pub fn halving(samples: &[(f64, f64)]) -> Option<Halving> {
    let (&(_, end_share), _) = samples.split_last()?;
    let mut peak = 0;
    for (i, &(_, x)) in samples.iter().enumerate() {
        if x > samples[peak].1 {
            peak = i;
        }
    }
    let (peak_t, peak_share) = samples[peak];
    let halved_after_seconds = if peak_share > 0.0 {
        samples[peak + 1..]
            .iter()
            .find(|&&(_, x)| x <= peak_share / 2.0)
            .map(|&(t, _)| t - peak_t)
    } else {
        None
    };
    Some(Halving {
        peak_share,
        peak_t_seconds: peak_t,
        halved_after_seconds,
        end_share,
    })
}

/// Running counts of a victim's lookups for existing node IDs: one
/// [`LookupTally::record`] per lookup, then [`LookupTally::stats`] or
/// [`LookupTally::engine`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LookupTally {
    lookups: usize,
    found: usize,
    errors: usize,
    results: SetCount,
    attacker_free: usize,
    summaries: usize,
    queries: usize,
    rounds: usize,
    failures: usize,
    agreement: f64,
    millis: u64,
    cut_short: usize,
    missed: Vec<String>,
}

/// Targets listed per engine that its lookups did not find (the first few).
pub const MISSED_SHOWN: usize = 10;

impl LookupTally {
    /// Counts one lookup for `target` (64 hex digits): its answer, or
    /// `None` for an HTTP error. An answer without nodes is an error too
    /// (discv5 reports a failed lookup as an empty result); its engine
    /// summary still counts (the requests were sent).
    pub fn record(
        &mut self,
        answer: Option<&LookupResponse>,
        target: &str,
        is_attacker: impl Fn(&str) -> bool,
    ) {
        self.lookups += 1;
        let Some(a) = answer else {
            self.errors += 1;
            self.miss(target);
            return;
        };
        if let Some(e) = &a.engine {
            self.summaries += 1;
            self.queries += e.queries;
            self.rounds += e.rounds;
            self.failures += e.failures;
            self.agreement += e.agreement;
            self.millis += e.millis;
            self.cut_short += usize::from(e.cut_short);
        }
        if a.peers.is_empty() {
            self.errors += 1;
            self.miss(target);
            return;
        }
        if a.peers
            .iter()
            .any(|p| p.node_id.eq_ignore_ascii_case(target))
        {
            self.found += 1;
        } else {
            self.miss(target);
        }
        let c = SetCount::of(a.peers.iter().map(|p| p.node_id.as_str()), |id| {
            is_attacker(id)
        });
        self.results.total += c.total;
        self.results.attacker += c.attacker;
        self.attacker_free += usize::from(c.attacker == 0);
    }

    fn miss(&mut self, target: &str) {
        if self.missed.len() < MISSED_SHOWN {
            self.missed.push(target.to_string());
        }
    }

    /// The counts as a victim's [`LookupStats`].
    pub fn stats(&self) -> LookupStats {
        LookupStats {
            lookups: self.lookups,
            found: self.found,
            success_rate: rate(self.found, self.lookups),
            errors: self.errors,
            results: self.results,
            attacker_share: self.results.share(),
        }
    }

    /// The counts as one engine's [`EngineLookups`] at `poisoners`.
    pub fn engine(&self, poisoners: f64, engine: LookupEngine) -> EngineLookups {
        let n = self.summaries;
        let mean = |sum: f64| (n > 0).then(|| sum / n as f64);
        EngineLookups {
            poisoners,
            engine,
            lookups: self.lookups,
            found: self.found,
            success_rate: rate(self.found, self.lookups),
            errors: self.errors,
            results: self.results,
            attacker_share: self.results.share(),
            attacker_free: self.attacker_free,
            summaries: n,
            mean_queries: mean(self.queries as f64),
            mean_rounds: mean(self.rounds as f64),
            mean_agreement: mean(self.agreement),
            mean_failures: mean(self.failures as f64),
            cut_short: (n > 0).then_some(self.cut_short),
            mean_millis: mean(self.millis as f64),
            missed: self
                .missed
                .iter()
                .map(|id| MissedTarget {
                    node_id: id.clone(),
                    ..MissedTarget::default()
                })
                .collect(),
        }
    }
}

fn rate(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A set's size and how many of its members are flaky honest nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlakyCount {
    /// Members.
    pub total: usize,
    /// Of those, flaky honest nodes.
    pub flaky: usize,
}

impl FlakyCount {
    /// flaky / total, 0 when empty.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.flaky as f64 / self.total as f64
        }
    }
}

/// Scores of a group of view entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Entries.
    pub entries: usize,
    /// Median score (mean of the middle two for an even count); `null`
    /// without entries.
    pub median: Option<f64>,
    /// Lowest score; `null` without entries.
    pub min: Option<i32>,
}

/// The [`ScoreSummary`] of `scores`.
pub fn score_summary(scores: impl IntoIterator<Item = i32>) -> ScoreSummary {
    let mut v: Vec<i32> = scores.into_iter().collect();
    v.sort_unstable();
    let n = v.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => Some(f64::from(v[n / 2])),
        _ => Some((f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0),
    };
    ScoreSummary {
        entries: n,
        median,
        min: v.first().copied(),
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

    /// `scores.json` as discguard writes it (a real scoreboard's
    /// snapshot), sorted by class of node.
    #[test]
    fn saved_scores_are_sorted_by_class() {
        use discguard_scoring::{Event, Scoreboard, ScoringConfig};
        let mut board = Scoreboard::new(ScoringConfig::default()).unwrap();
        let (honest, attacker, flaky, stranger) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
        let t = 1_700_000_000_000;
        board.record(&honest, None, Event::PingAnswered, t);
        for _ in 0..2 {
            board.record(&attacker, None, Event::ClusteredAnswers, t);
        }
        board.record(&flaky, None, Event::ClusteredAnswers, t);
        board.record(&stranger, None, Event::ClusteredAnswers, t);
        let json = serde_json::to_string(&board.snapshot(t)).unwrap();
        let class = |id: &str| match hex::decode(id).unwrap()[0] {
            1 => NodeClass::Honest,
            2 => NodeClass::Attacker,
            3 => NodeClass::Flaky,
            _ => NodeClass::Unknown,
        };
        let s = score_stats(&json, class).unwrap();
        let c = |scored, not_served, evicted, lowest| ClassScores {
            scored,
            not_served,
            evicted,
            lowest: Some(lowest),
        };
        assert_eq!(s.honest, c(1, 0, 0, 1));
        assert_eq!(s.attacker, c(1, 1, 1, -40));
        assert_eq!(s.flaky, c(1, 1, 1, -20));
        assert!(
            score_stats("{\"peers\": []}", class).is_err(),
            "not scores.json"
        );
    }

    fn answer(ids: &[&str], engine: Option<(usize, f64)>) -> LookupResponse {
        let peers = ids
            .iter()
            .map(|id| discguard_service::api::PeerInfo {
                enr: String::new(),
                node_id: (*id).to_string(),
                ip: "127.1.0.1".into(),
                udp_port: 1,
                tcp_port: None,
                asn: None,
                netgroup: String::new(),
                netgroup_wide: String::new(),
                seq: 1,
                fork_digest: None,
                bucket: 1,
                age_seconds: 0,
                last_seen_seconds: 0,
            })
            .collect();
        LookupResponse {
            target: String::new(),
            peers,
            engine: engine.map(
                |(queries, agreement)| discguard_service::api::LookupSummary {
                    queries,
                    rounds: 2,
                    agreement,
                    millis: 100,
                    ..Default::default()
                },
            ),
        }
    }

    #[test]
    fn lookup_tallies_count_found_errors_and_attacker_results() {
        let attacker = |id: &str| id.starts_with('a');
        let mut t = LookupTally::default();
        t.record(
            Some(&answer(&["t1", "h1", "a1"], Some((10, 1.0)))),
            "t1",
            attacker,
        );
        t.record(
            Some(&answer(&["h2", "h3"], Some((20, 0.5)))),
            "t2",
            attacker,
        );
        t.record(Some(&answer(&[], Some((30, 0.0)))), "t3", attacker);
        t.record(None, "t4", attacker);
        let s = t.stats();
        assert_eq!((s.lookups, s.found, s.errors), (4, 1, 2));
        assert_eq!((s.results.total, s.results.attacker), (5, 1));
        assert_eq!((s.success_rate, s.attacker_share), (0.25, 0.2));
        let e = t.engine(0.2, LookupEngine::DiscguardDisjoint);
        assert_eq!((e.attacker_free, e.summaries), (1, 3));
        let missed: Vec<&str> = e.missed.iter().map(|m| m.node_id.as_str()).collect();
        assert_eq!(missed, ["t2", "t3", "t4"], "not found, empty, HTTP error");
        assert_eq!(e.mean_queries, Some(20.0));
        assert_eq!(e.mean_agreement, Some(0.5));
        assert_eq!((e.mean_rounds, e.cut_short), (Some(2.0), Some(0)));
        // sigp's find_node: no summaries, no means.
        let mut sigp = LookupTally::default();
        sigp.record(Some(&answer(&["t1"], None)), "t1", attacker);
        let e = sigp.engine(0.1, LookupEngine::Discv5Default);
        assert_eq!((e.found, e.summaries, e.mean_queries), (1, 0, None));
    }

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
    fn bans_are_sorted_by_who_was_banned() {
        use discguard_service::api::{BanView, IpBanView};
        let ban = |id: &str, reason: &str| BanView {
            node_id: id.to_string(),
            ip: None,
            reason: reason.to_string(),
            score: -100,
            expires_in_seconds: 60,
        };
        let mut bans = BansResponse {
            bans: vec![
                ban("a1", "x"),
                ban("h1", "y"),
                ban("f1", "y"),
                ban("zz", "x"),
            ],
            ip_bans: vec![
                IpBanView {
                    ip: "127.200.0.1".into(),
                    expires_in_seconds: 1,
                },
                IpBanView {
                    ip: "127.1.0.1".into(),
                    expires_in_seconds: 1,
                },
            ],
        };
        for i in 0..30 {
            bans.bans.push(ban(&format!("h{i}x"), "y"));
        }
        let class = |id: &str| match id.as_bytes()[0] {
            b'a' => NodeClass::Attacker,
            b'h' => NodeClass::Honest,
            b'f' => NodeClass::Flaky,
            _ => NodeClass::Unknown,
        };
        let ip_class = |ip: &str| {
            if ip.starts_with("127.200.") {
                NodeClass::Attacker
            } else {
                NodeClass::Honest
            }
        };
        let s = ban_stats(&bans, class, ip_class);
        assert_eq!(
            (s.total, s.attacker, s.false_bans, s.flaky, s.other),
            (34, 1, 32, 1, 1)
        );
        assert_eq!(s.banned_honest_ids.len(), BANNED_HONEST_IDS_SHOWN);
        assert_eq!(
            s.banned_honest_ids[..2],
            ["h1".to_string(), "f1".to_string()]
        );
        assert_eq!((s.ip_bans, s.ip_bans_attacker, s.ip_bans_honest), (2, 1, 1));
        assert_eq!(s.reasons["y"], 32);
        assert_eq!(s.count().false_bans, 32);
        let empty = ban_stats(&BansResponse::default(), class, ip_class);
        assert_eq!(empty, BanStats::default());
    }

    #[test]
    fn score_medians() {
        let s = score_summary([3, -40, 0, 7]);
        assert_eq!((s.entries, s.median, s.min), (4, Some(1.5), Some(-40)));
        let s = score_summary([5, -2, 9]);
        assert_eq!((s.median, s.min), (Some(5.0), Some(-2)));
        assert_eq!(score_summary([]), ScoreSummary::default());
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

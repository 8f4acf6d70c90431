//! The report of one scenario: `report.json` (every number measured in the
//! run), `report.md` (the side-by-side tables a person reads first) and
//! SVG charts.
//!
//! `report.json` shape (design.md, "Outside contracts"):
//!
//! ```text
//! {"scenario": "sybil-flood", "seed": 1, "parameters": {...},
//!  "network": {"honest": N, "attackers": M, "victims": 3, "nodes": …},
//!  "cost": {"wall_seconds": …, "harness": {"cpu_seconds": …, "peak_rss_mib": …}},
//!  "runs": [{"defense": "discguard" | "discv5-lighthouse" | "discv5-default",
//!            "sybil_groups": G, "group_kind": "asn",
//!            "attacker_share": {"table": x, "view": y | null, "served": z},
//!            "attacker_share_bound": b,
//!            "counts": {"table": {"total": …, "attacker": …}, "view": …, "served": …},
//!            "over_time": [{"t_seconds": …, "counts": {…}, "shares": {…},
//!                           "bans": {"total", "attacker", "false_bans"} | null}],
//!            "bans": {"total", "attacker", "false_bans", "flaky", "other",
//!                     "banned_honest_ids": […], "ip_bans", …} | null,
//!            "halving": {"table": H, "view": H | null, "served": H} | null,
//!            "flaky": {…} | null, "poisoners": f | null,
//!            "cost": {"cpu_seconds": …, "peak_rss_mib": …}, …}],
//!  "flaky": {…} | null,
//!  "lookup_engines": [{"poisoners": f, "engine": "discguard-disjoint", "lookups": …,
//!                      "found": …, "success_rate": …, "attacker_share": …, …}],
//!  "observer": {"modes": […], "exposure": [{"mode", "observers", "naming_probability", …}],
//!               "lookups": […], …} | null}
//! ```
//!
//! Shares are fractions in [0, 1]; a share of an empty set is 0 and its
//! count says it was empty. `bans` is `null` where the victim serves no
//! `/v1/bans` (404). Fields added after the first reports carry serde
//! defaults, so older `report.json` files still parse.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::chart::{LineChart, Series, XScale, write_svg};
use crate::measure::{
    BanCount, BanStats, ClassScores, FlakyCount, Halving, ScoreStats, ScoreSummary, SetCount,
    halving,
};
use crate::observer::{Exposure, ExposureMeans};
use crate::procstat::ProcStat;
use crate::relay::RelayCounts;
use crate::risk::VictimRisk;
use crate::victims::Defense;

/// A whole report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name (the subcommand).
    pub scenario: String,
    /// The seed of the run.
    pub seed: u64,
    /// The parameters in force.
    pub parameters: serde_json::Value,
    /// Who was on the network.
    pub network: NetworkSize,
    /// What the whole run cost.
    pub cost: RunCost,
    /// One entry per victim (and sweep value).
    pub runs: Vec<Run>,
    /// Charts written beside the report (file names).
    pub charts: Vec<String>,
    /// The flaky honest nodes and their relays (`flaky-honest`).
    #[serde(default)]
    pub flaky: Option<FlakyNetwork>,
    /// Lookups per fraction of poisoners and per lookup engine
    /// (`lookup-poisoning`); empty elsewhere.
    #[serde(default)]
    pub lookup_engines: Vec<EngineLookups>,
    /// What observers learned of discguard's lookup targets, per privacy
    /// mode and observer fraction (`query-observer`).
    #[serde(default)]
    pub observer: Option<ObserverReport>,
}

/// Who was on the network.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct NetworkSize {
    /// Honest nodes (poisoners included).
    pub honest: usize,
    /// Of those, poisoners.
    pub poisoners: usize,
    /// Attacker nodes in the attacker range, largest sweep value.
    pub attackers: usize,
    /// Victims.
    pub victims: usize,
    /// Every discv5 node of the largest run: honest + attackers + victims.
    pub nodes: usize,
}

/// What a run cost.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunCost {
    /// Wall time of the whole scenario, seconds.
    pub wall_seconds: f64,
    /// The harness process (all honest and attacker nodes).
    pub harness: ProcStat,
    /// Seconds to start the honest network and fill its tables (the sum
    /// of the three below).
    pub network_start_seconds: f64,
    /// Of which: drawing the honest nodes' keys from the seed.
    pub keys_seconds: f64,
    /// Of which: binding and starting the discv5 instances.
    pub bind_seconds: f64,
    /// Of which: filling their k-buckets (`add_enr`, no packets).
    pub fill_seconds: f64,
}

/// Attacker shares of a victim's sets.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Shares {
    /// Of discv5's table (A_T).
    pub table: f64,
    /// Of the curated view (A_V); `null` for victims without one.
    pub view: Option<f64>,
    /// Of the peers served to the consensus client (A_P).
    pub served: f64,
}

/// Set sizes behind [`Shares`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Counts {
    /// discv5's table.
    pub table: SetCount,
    /// The view (discguard only).
    pub view: Option<SetCount>,
    /// Served peers.
    pub served: SetCount,
}

impl Counts {
    /// The shares of these counts.
    pub fn shares(&self) -> Shares {
        Shares {
            table: self.table.share(),
            view: self.view.map(|v| v.share()),
            served: self.served.share(),
        }
    }
}

/// One sample of a victim's sets during the attack.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the attack started.
    pub t_seconds: f64,
    /// Counts at that time.
    pub counts: Counts,
    /// Shares at that time.
    pub shares: Shares,
    /// The victim's ban list at that time; `null` where it serves none.
    #[serde(default)]
    pub bans: Option<BanCount>,
}

/// How long the misbehaving nodes (Sybils and poisoners) kept their place
/// in each of a victim's sets: [`Halving`] over the run's samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MisbehavingHalving {
    /// discv5's table.
    pub table: Halving,
    /// The view (discguard only).
    pub view: Option<Halving>,
    /// Served peers.
    pub served: Halving,
}

impl MisbehavingHalving {
    /// From a victim's samples; `None` without samples.
    pub fn of(samples: &[Sample]) -> Option<Self> {
        let series = |f: &dyn Fn(&Sample) -> Option<f64>| -> Option<Vec<(f64, f64)>> {
            samples.iter().map(|s| Some((s.t_seconds, f(s)?))).collect()
        };
        Some(Self {
            table: halving(&series(&|s| Some(s.shares.table))?)?,
            view: series(&|s| s.shares.view).and_then(|v| halving(&v)),
            served: halving(&series(&|s| Some(s.shares.served))?)?,
        })
    }
}

/// The flaky honest nodes of `flaky-honest`, their relays and the loss
/// they caused.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlakyNetwork {
    /// `--flaky`: the fraction of honest nodes made flaky.
    pub fraction: f64,
    /// Honest nodes (flaky ones included).
    pub honest: usize,
    /// Flaky honest nodes: round(fraction × honest).
    pub flaky_nodes: usize,
    /// flaky_nodes / honest: their share of the network.
    pub network_share: f64,
    /// `--loss-min`.
    pub loss_min: f64,
    /// `--loss-max`.
    pub loss_max: f64,
    /// Lowest loss rate drawn.
    pub loss_drawn_min: f64,
    /// Mean loss rate drawn.
    pub loss_drawn_mean: f64,
    /// Highest loss rate drawn.
    pub loss_drawn_max: f64,
    /// Packets every relay forwarded and dropped, summed.
    pub relay: RelayCounts,
    /// Relays that saw at least one packet.
    pub relays_used: usize,
    /// Realised loss: dropped / packets offered, both directions.
    pub realised_loss: f64,
    /// The loss the drawn rates predict for these packets:
    /// Σ rate_i · packets_i / Σ packets_i.
    pub expected_loss: f64,
    /// Every flaky node: its loss rate and what its relay saw.
    #[serde(default)]
    pub nodes: Vec<FlakyNode>,
}

/// One flaky honest node.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlakyNode {
    /// Its node ID, 64 hex digits.
    pub node_id: String,
    /// The loss rate drawn for it.
    pub loss: f64,
    /// What its relay forwarded and dropped.
    pub relay: RelayCounts,
}

/// What a victim made of the flaky honest nodes (`flaky-honest`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlakyVictim {
    /// Flaky nodes in discv5's table.
    pub table: FlakyCount,
    /// Flaky nodes in the view (discguard only).
    pub view: Option<FlakyCount>,
    /// Flaky nodes among the served peers.
    pub served: FlakyCount,
    /// Flaky nodes banned (the goal: 0); `null` without a ban list.
    pub flaky_banned: Option<usize>,
    /// Honest nodes that are not flaky, banned; `null` without a ban list.
    pub honest_banned: Option<usize>,
    /// Scores of the view's entries (`/v1/table` `score`, missing = 0;
    /// discguard only).
    pub scores: Option<FlakyScores>,
}

/// Scores of flaky view entries against the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlakyScores {
    /// Flaky honest nodes in the view.
    pub flaky: ScoreSummary,
    /// Every other entry of the view.
    pub other: ScoreSummary,
}

/// Lookups a victim ran for existing node IDs.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct LookupStats {
    /// Lookups run.
    pub lookups: usize,
    /// Lookups whose results held the target.
    pub found: usize,
    /// found / lookups.
    pub success_rate: f64,
    /// Lookups that failed: an HTTP error, or no node found (discv5
    /// reports a failed lookup as an empty result).
    pub errors: usize,
    /// Results over all lookups, and the attacker's among them.
    pub results: SetCount,
    /// Attacker share of the results (A_L).
    pub attacker_share: f64,
}

/// Goal of issue 6 for `lookup-poisoning`: discguard's disjoint lookups
/// find at least this share of their targets …
pub const GOAL_POISONED_SUCCESS: f64 = 0.9;
/// … with this fraction of poisoners.
pub const GOAL_POISONERS: f64 = 0.2;
/// Goal of issue 6 for `query-observer`: with this fraction of observers …
pub const GOAL_OBSERVERS: f64 = 0.2;
/// … they name the target with probability at most this …
pub const GOAL_NAMING: f64 = 0.05;
/// … at no more than this many times the FINDNODE messages of `off`.
pub const GOAL_MESSAGES_VS_OFF: f64 = 1.5;

/// The anonymity target k of `prefix` mode the goal was designed around
/// (`discguard_lookup::privacy::DEFAULT_PREFIX_K`, docs/lookup.md): a
/// subtree of k to 2k nodes names the target with probability ≤ 1/k.
pub const PREFIX_K_DESIGN: u64 = 20;

/// Whether `x` is the sweep value `goal` (parsed from a flag: compare with
/// a tolerance).
fn is_value(x: f64, goal: f64) -> bool {
    (x - goal).abs() < 1e-9
}

/// A lookup engine of `lookup-poisoning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LookupEngine {
    /// discguard's engine with one path (`paths=1&privacy=off`).
    #[serde(rename = "discguard-single")]
    DiscguardSingle,
    /// discguard's engine with three disjoint paths (`paths=3&privacy=off`).
    #[serde(rename = "discguard-disjoint")]
    DiscguardDisjoint,
    /// sigp `find_node` in the Lighthouse-configured baseline.
    #[serde(rename = "discv5-lighthouse")]
    Discv5Lighthouse,
    /// sigp `find_node` in the library-default baseline.
    #[serde(rename = "discv5-default")]
    Discv5Default,
}

impl LookupEngine {
    /// All four, in report order.
    pub const ALL: [Self; 4] = [
        Self::DiscguardSingle,
        Self::DiscguardDisjoint,
        Self::Discv5Lighthouse,
        Self::Discv5Default,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::DiscguardSingle => "discguard-single",
            Self::DiscguardDisjoint => "discguard-disjoint",
            Self::Discv5Lighthouse => "discv5-lighthouse",
            Self::Discv5Default => "discv5-default",
        }
    }

    /// The engines a victim is asked with, and the query options of each
    /// (none for sigp's `find_node`).
    pub fn of_victim(defense: Defense) -> &'static [(Self, &'static str)] {
        match defense {
            Defense::Discguard => &[
                (Self::DiscguardSingle, "&paths=1&privacy=off"),
                (Self::DiscguardDisjoint, "&paths=3&privacy=off"),
            ],
            Defense::Discv5Lighthouse => &[(Self::Discv5Lighthouse, "")],
            Defense::Discv5Default => &[(Self::Discv5Default, "")],
        }
    }
}

impl std::fmt::Display for LookupEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One lookup engine's lookups for existing node IDs at one fraction of
/// poisoners (`lookup-poisoning`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineLookups {
    /// Fraction f of poisoners in the network.
    pub poisoners: f64,
    /// The engine.
    pub engine: LookupEngine,
    /// Lookups run.
    pub lookups: usize,
    /// Lookups whose results held the target.
    pub found: usize,
    /// found / lookups.
    pub success_rate: f64,
    /// Lookups that failed: an HTTP error, or no node found.
    pub errors: usize,
    /// Results over all lookups, and the attacker's among them.
    pub results: SetCount,
    /// Attacker share of the results (A_L).
    pub attacker_share: f64,
    /// Lookups that returned nodes, none of them an attacker's.
    pub attacker_free: usize,
    /// Lookups that came back with discguard's engine summary (0 for sigp's
    /// `find_node`); the means below are over these.
    pub summaries: usize,
    /// Mean FINDNODE requests per lookup (`engine.queries`).
    pub mean_queries: Option<f64>,
    /// Mean rounds per lookup (`engine.rounds`).
    pub mean_rounds: Option<f64>,
    /// Mean agreement of the paths' closest sets (`engine.agreement`:
    /// Jaccard, 1 with one path).
    pub mean_agreement: Option<f64>,
    /// Mean failed requests per lookup (`engine.failures`).
    pub mean_failures: Option<f64>,
    /// Lookups ended by their time or query bound (`engine.cut_short`).
    pub cut_short: Option<usize>,
    /// Mean milliseconds per lookup (`engine.millis`).
    pub mean_millis: Option<f64>,
    /// The first targets the engine did not find (at most
    /// [`crate::measure::MISSED_SHOWN`]), with how crowded their groups
    /// are.
    #[serde(default)]
    pub missed: Vec<MissedTarget>,
}

/// A target a lookup did not find, and the crowd it lives in (honest
/// nodes of the network in its /16 and its AS, itself included): answers
/// are trimmed per group, so a target in a crowded group may never be
/// followed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedTarget {
    /// Node ID, 64 hex digits.
    pub node_id: String,
    /// Honest nodes in its /16.
    pub slash16_nodes: usize,
    /// Honest nodes in its AS.
    pub asn_nodes: usize,
}

/// The observer model's numbers of one privacy mode at one fraction of
/// observers (`query-observer`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModeExposure {
    /// The mode as asked (`--modes`).
    pub mode: String,
    /// Fraction f of honest nodes that observe.
    pub observers: f64,
    /// Observer nodes: round(f · honest).
    pub observer_nodes: usize,
    /// Means over the mode's lookups with a usable transcript.
    #[serde(flatten)]
    pub means: ExposureMeans,
}

/// What one privacy mode cost and found (`query-observer`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModeCost {
    /// The mode as asked (`--modes`).
    pub mode: String,
    /// The query options sent (`&privacy=…&cover=…&transcript=true`).
    pub options: String,
    /// Privacy the engine reported running (`engine.privacy` of the first
    /// summary; `null` without one).
    pub privacy: Option<String>,
    /// Cover lookups the engine reported (`engine.cover`).
    pub cover: Option<usize>,
    /// Lookups run.
    pub lookups: usize,
    /// Lookups that failed: an HTTP error, or no node found.
    pub errors: usize,
    /// Lookups whose results held the target.
    pub found: usize,
    /// found / lookups.
    pub success_rate: f64,
    /// Lookups with an engine summary and a transcript the observer model
    /// took: the means below are over these.
    pub analysed: usize,
    /// Mean FINDNODE messages per lookup, real and cover
    /// (`queries + cover_queries`).
    pub mean_messages: Option<f64>,
    /// Mean requests of the real lookup.
    pub mean_queries: Option<f64>,
    /// Mean requests of the cover lookups.
    pub mean_cover_queries: Option<f64>,
    /// Mean rounds of the real lookup.
    pub mean_rounds: Option<f64>,
    /// Mean leading bits of the target revealed (`revealed_bits`: 256
    /// unless `prefix`).
    pub mean_revealed_bits: Option<f64>,
    /// mean_messages / the same of `off` (`null` without an `off` run).
    pub messages_vs_off: Option<f64>,
    /// Why lookups were not analysed (the first few).
    pub problems: Vec<String>,
}

/// One lookup of `query-observer` and what each observer set made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedLookup {
    /// The mode as asked.
    pub mode: String,
    /// The target, 64 hex digits.
    pub target: String,
    /// Leading bits of the target the queries revealed (`revealed_bits`).
    pub revealed_bits: u32,
    /// `prefix`: known node IDs in the target's p-bit subtree (itself
    /// included); `null` in other modes.
    pub target_subtree: Option<usize>,
    /// FINDNODE messages sent, real and cover.
    pub messages: usize,
    /// Whether the results held the target.
    pub found: bool,
    /// Per observer fraction, in `--observers` order.
    pub exposure: Vec<ObservedAt>,
}

/// One lookup seen by one observer set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedAt {
    /// Fraction f of honest nodes that observe.
    pub observers: f64,
    /// What they made of it.
    #[serde(flatten)]
    pub exposure: Exposure,
}

/// `query-observer`'s findings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObserverReport {
    /// Node IDs the observers know (N): every honest node and the victims.
    pub known_ids: usize,
    /// Honest nodes the observers are drawn from.
    pub honest: usize,
    /// `--cover`: dummy lookups asked of modes with cover.
    pub cover: usize,
    /// The observer sets: fraction and nodes, nested (one seeded order).
    pub observer_sets: Vec<(f64, usize)>,
    /// Per mode: cost and success.
    pub modes: Vec<ModeCost>,
    /// Per mode and observer fraction: the observer model's means.
    pub exposure: Vec<ModeExposure>,
    /// Every analysed lookup.
    pub lookups: Vec<ObservedLookup>,
}

/// Where one mode stands against the goal of issue 6 at f = 0.2.
#[derive(Clone, Debug, PartialEq)]
pub struct ObserverGoal {
    /// The mode.
    pub mode: String,
    /// Mean naming probability at f = [`GOAL_OBSERVERS`], if measured.
    pub naming_probability: Option<f64>,
    /// Messages relative to `off`, if measured.
    pub messages_vs_off: Option<f64>,
    /// Both bounds met (`None` when a number is missing).
    pub met: Option<bool>,
}

impl ObserverReport {
    /// The means of `mode` at observer fraction `f`.
    pub fn at(&self, mode: &str, f: f64) -> Option<&ModeExposure> {
        self.exposure
            .iter()
            .find(|e| e.mode == mode && is_value(e.observers, f))
    }

    /// Every mode against the goal: naming probability ≤ [`GOAL_NAMING`] at
    /// f = [`GOAL_OBSERVERS`], at ≤ [`GOAL_MESSAGES_VS_OFF`] × the messages
    /// of `off`.
    pub fn goal(&self) -> Vec<ObserverGoal> {
        self.modes
            .iter()
            .map(|m| {
                let naming = self
                    .at(&m.mode, GOAL_OBSERVERS)
                    .filter(|e| e.means.lookups > 0)
                    .map(|e| e.means.naming_probability);
                let met = match (naming, m.messages_vs_off) {
                    (Some(p), Some(r)) => Some(p <= GOAL_NAMING && r <= GOAL_MESSAGES_VS_OFF),
                    _ => None,
                };
                ObserverGoal {
                    mode: m.mode.clone(),
                    naming_probability: naming,
                    messages_vs_off: m.messages_vs_off,
                    met,
                }
            })
            .collect()
    }
}

/// Near k-buckets of a victim (those mined IDs land in).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct NearBuckets {
    /// Leading bits the mined IDs share with the victim: near buckets are
    /// log-distance ≤ 256 − bits.
    pub bits: u32,
    /// Entries of discv5's table in the near buckets.
    pub table: SetCount,
    /// Entries of the view in the near buckets (discguard only).
    pub view: Option<SetCount>,
}

/// Group entropy of a victim's sets (nats), by group kind.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Entropy {
    /// Over ASNs.
    pub asn: f64,
    /// Over /16s.
    pub slash16: f64,
    /// Over /24s.
    pub slash24: f64,
}

/// How diverse a victim's sets are against the population's.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Diversity {
    /// Entropy of the served peers.
    pub served: Entropy,
    /// Mean entropy of uniform random samples of the same size from the
    /// honest population: what an unbiased choice would give.
    pub served_random_sample: Entropy,
    /// served / random sample (ASN); 1 = as diverse as chance.
    pub served_asn_ratio: f64,
    /// Entropy of discv5's table.
    pub table: Entropy,
    /// Entropy of the view (discguard only).
    pub view: Option<Entropy>,
    /// Mean entropy of random samples of the view's (or table's) size.
    pub kept_random_sample: Entropy,
    /// Fewest ASNs that together hold more than half of the served peers.
    pub served_asns_to_majority: usize,
}

/// One victim's results in one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// The victim's defence.
    pub defense: Defense,
    /// Attacker network groups (where it applies).
    pub sybil_groups: Option<usize>,
    /// Kind of the attacker's groups.
    pub group_kind: Option<String>,
    /// Attacker shares at the end.
    pub attacker_share: Shares,
    /// A_max for the caps in force (where it applies).
    pub attacker_share_bound: Option<f64>,
    /// Set sizes at the end.
    pub counts: Counts,
    /// Shares over time.
    pub over_time: Vec<Sample>,
    /// Lookups for existing node IDs (lookup-poisoning).
    pub lookups: Option<LookupStats>,
    /// Near buckets (id-mining).
    pub near_buckets: Option<NearBuckets>,
    /// Diversity (baseline).
    pub diversity: Option<Diversity>,
    /// Admissions the victim's policy refused, by reason (discguard's
    /// `discguard_policy_rejections_total`; `null` where not observable).
    pub policy_rejections: Option<BTreeMap<String, u64>>,
    /// The victim process's CPU time and peak RSS.
    pub cost: Option<ProcStat>,
    /// Eclipse-risk numbers at the end of the run (`discguard_risk`
    /// estimators over the victim's sets, computed by the harness).
    #[serde(default)]
    pub risk: Option<VictimRisk>,
    /// Keyspace-anomaly flags over repeated runs (`keyspace-detection`).
    #[serde(default)]
    pub keyspace_detection: Option<KeyspaceDetection>,
    /// The victim's ban list at the end of the run against ground truth;
    /// `null` where it serves no `/v1/bans`.
    #[serde(default)]
    pub bans: Option<BanStats>,
    /// Score events by event over the run (discguard's
    /// `discguard_score_events_total`; `null` where not observable).
    #[serde(default)]
    pub score_events: Option<BTreeMap<String, u64>>,
    /// The scores discguard saved at shutdown, by class of node (`null`
    /// for the baselines, which keep no scores).
    #[serde(default)]
    pub scores: Option<ScoreStats>,
    /// How long the misbehaving nodes kept their place (every scenario,
    /// from `over_time`).
    #[serde(default)]
    pub halving: Option<MisbehavingHalving>,
    /// What the victim made of the flaky honest nodes (`flaky-honest`).
    #[serde(default)]
    pub flaky: Option<FlakyVictim>,
    /// Fraction f of poisoners of the run's network (`lookup-poisoning`,
    /// one network per value swept).
    #[serde(default)]
    pub poisoners: Option<f64>,
}

impl Run {
    /// The victim's name, with the fraction of poisoners where a sweep
    /// sets one: `discguard (f = 0.2)`.
    pub fn label(&self) -> String {
        match self.poisoners {
            Some(f) => format!("{} (f = {f})", self.defense),
            None => self.defense.to_string(),
        }
    }
}

/// How often the keyspace-anomaly flag was raised for one victim over
/// repeated seeded runs, with and without mined IDs aimed at it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyspaceDetection {
    /// Runs with IDs mined next to the victim.
    pub attacked_runs: usize,
    /// Of those, runs whose discv5 table was flagged.
    pub detected_table: usize,
    /// Of those, runs whose view was flagged (discguard only).
    pub detected_view: Option<usize>,
    /// Runs without any attack (the `baseline` scenario).
    pub baseline_runs: usize,
    /// Of those, runs whose discv5 table was flagged.
    pub false_alarms_table: usize,
    /// Of those, runs whose view was flagged (discguard only).
    pub false_alarms_view: Option<usize>,
    /// Attacked runs in which the table test had a network-size estimate.
    pub tested_attacked_table: usize,
    /// Baseline runs in which the table test had a network-size estimate.
    pub tested_baseline_table: usize,
}

impl KeyspaceDetection {
    /// `detected_table / attacked_runs`.
    pub fn detection_rate_table(&self) -> f64 {
        ratio(self.detected_table, self.attacked_runs)
    }

    /// `false_alarms_table / baseline_runs`.
    pub fn false_alarm_rate_table(&self) -> f64 {
        ratio(self.false_alarms_table, self.baseline_runs)
    }
}

/// Points in x order (a sweep's values may be given in any order).
fn sorted_points(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points.collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), pct)
}

impl Report {
    /// Writes `report.json`, the charts and `report.md` into `dir`.
    ///
    /// # Errors
    ///
    /// A file that cannot be written (named).
    pub fn write(&mut self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut written = Vec::new();
        self.charts = self.write_charts(dir)?;
        written.extend(self.charts.iter().map(|c| dir.join(c)));
        let json = dir.join("report.json");
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("write {}", json.display()))?;
        written.push(json);
        let md = dir.join("report.md");
        std::fs::write(&md, self.markdown()).with_context(|| format!("write {}", md.display()))?;
        written.push(md);
        Ok(written)
    }

    fn defenses(&self) -> Vec<Defense> {
        let mut d: Vec<Defense> = self.runs.iter().map(|r| r.defense).collect();
        d.sort();
        d.dedup();
        d
    }

    fn write_charts(&self, dir: &Path) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        let sweep = self.runs.iter().any(|r| r.sybil_groups.is_some())
            && self
                .runs
                .iter()
                .filter_map(|r| r.sybil_groups)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
        if sweep {
            let mut series: Vec<Series> = self
                .defenses()
                .into_iter()
                .map(|d| Series {
                    name: d.name().to_string(),
                    points: self
                        .runs
                        .iter()
                        .filter(|r| r.defense == d)
                        .filter_map(|r| Some((r.sybil_groups? as f64, r.attacker_share.served)))
                        .collect(),
                })
                .collect();
            let bound: Vec<(f64, f64)> = self
                .runs
                .iter()
                .filter(|r| r.defense == Defense::Discguard)
                .filter_map(|r| Some((r.sybil_groups? as f64, r.attacker_share_bound?)))
                .collect();
            if !bound.is_empty() {
                series.push(Series {
                    name: "A_max (diversity bound)".to_string(),
                    points: bound,
                });
            }
            let name = "served-share-vs-groups.svg".to_string();
            write_svg(
                &LineChart {
                    title: &format!("{}: attacker share of served peers", self.scenario),
                    x_label: "attacker network groups G",
                    y_label: "attacker share of served peers",
                    x_scale: XScale::Log2,
                    y_range: Some((0.0, 1.0)),
                    series: &series,
                },
                &dir.join(&name),
            )?;
            names.push(name);
        }
        // Share over time: one chart per sweep value (or one in all).
        let key_of = |r: &Run| (r.sybil_groups, r.poisoners.map(|f| f.to_string()));
        let mut keys: Vec<(Option<usize>, Option<String>)> = Vec::new();
        for r in &self.runs {
            if !keys.contains(&key_of(r)) {
                keys.push(key_of(r));
            }
        }
        for key in keys {
            let runs: Vec<&Run> = self.runs.iter().filter(|r| key_of(r) == key).collect();
            if runs.iter().all(|r| r.over_time.is_empty()) {
                continue;
            }
            let mut series = Vec::new();
            for r in &runs {
                series.push(Series {
                    name: format!("{} served", r.defense),
                    points: r
                        .over_time
                        .iter()
                        .map(|s| (s.t_seconds, s.shares.served))
                        .collect(),
                });
                series.push(Series {
                    name: format!("{} table", r.defense),
                    points: r
                        .over_time
                        .iter()
                        .map(|s| (s.t_seconds, s.shares.table))
                        .collect(),
                });
            }
            let (name, title) = match key {
                (Some(g), _) => (
                    format!("share-over-time-g{g}.svg"),
                    format!("{}: attacker share over time, G = {g}", self.scenario),
                ),
                (None, Some(f)) => (
                    format!("share-over-time-f{f}.svg"),
                    format!("{}: attacker share over time, f = {f}", self.scenario),
                ),
                (None, None) => (
                    "share-over-time.svg".to_string(),
                    format!("{}: attacker share over time", self.scenario),
                ),
            };
            write_svg(
                &LineChart {
                    title: &title,
                    x_label: "seconds since the victims started",
                    y_label: "attacker share",
                    x_scale: XScale::Linear,
                    y_range: Some((0.0, 1.0)),
                    series: &series,
                },
                &dir.join(&name),
            )?;
            names.push(name);
        }
        if !self.lookup_engines.is_empty() {
            let series: Vec<Series> = LookupEngine::ALL
                .into_iter()
                .map(|e| Series {
                    name: e.name().to_string(),
                    points: sorted_points(
                        self.lookup_engines
                            .iter()
                            .filter(|l| l.engine == e)
                            .map(|l| (l.poisoners, l.success_rate)),
                    ),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            let name = "lookup-success.svg".to_string();
            write_svg(
                &LineChart {
                    title: &format!("{}: lookups that found their target", self.scenario),
                    x_label: "fraction of poisoners f",
                    y_label: "success rate",
                    x_scale: XScale::Linear,
                    y_range: Some((0.0, 1.0)),
                    series: &series,
                },
                &dir.join(&name),
            )?;
            names.push(name);
        }
        if let Some(o) = &self.observer
            && !o.exposure.is_empty()
        {
            let series: Vec<Series> = o
                .modes
                .iter()
                .map(|m| Series {
                    name: m.mode.clone(),
                    points: sorted_points(
                        o.exposure
                            .iter()
                            .filter(|e| e.mode == m.mode && e.means.lookups > 0)
                            .map(|e| (e.observers, e.means.naming_probability)),
                    ),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            let name = "naming-probability.svg".to_string();
            write_svg(
                &LineChart {
                    title: &format!(
                        "{}: probability the observers name the target",
                        self.scenario
                    ),
                    x_label: "fraction of honest nodes observing f",
                    y_label: "naming probability",
                    x_scale: XScale::Linear,
                    y_range: Some((0.0, 1.0)),
                    series: &series,
                },
                &dir.join(&name),
            )?;
            names.push(name);
        }
        Ok(names)
    }

    /// The human-readable report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# discguard-adversary: `{}`\n", self.scenario);
        let _ = writeln!(
            s,
            "Seed {}. Network: {} honest nodes ({} of them poisoners), {} attacker nodes, {} victims: {} discv5 nodes in all, on loopback. Wall time {:.0} s; the harness process used {:.1} s CPU and {:.0} MiB peak RSS (network start {:.1} s: keys {:.1} s, binding and starting discv5 {:.1} s, filling k-buckets {:.1} s).\n",
            self.seed,
            self.network.honest,
            self.network.poisoners,
            self.network.attackers,
            self.network.victims,
            self.network.nodes,
            self.cost.wall_seconds,
            self.cost.harness.cpu_seconds,
            self.cost.harness.peak_rss_mib,
            self.cost.network_start_seconds,
            self.cost.keys_seconds,
            self.cost.bind_seconds,
            self.cost.fill_seconds,
        );
        let _ = writeln!(s, "Parameters: `{}`\n", self.parameters);
        let _ = writeln!(
            s,
            "Attacker share = attacker nodes / members of the set, at the end of the run: table = discv5's k-buckets (A_T), view = discguard's curated view (A_V), served = the peers handed to the consensus client (A_P). A_max = the diversity bound of design.md for discguard's table caps (/24 10, /16 16, ASN 26) applied together, over the whole honest population: the best a group-capping defence can do once it knows every honest node. Every number is measured in this run.\n"
        );
        let has = |f: fn(&Run) -> bool| self.runs.iter().any(f);
        let _ = writeln!(s, "## Attacker share\n");
        let _ = writeln!(
            s,
            "| defence | G | kind | table | view | served | A_max | served − A_max | table size | view size | served |"
        );
        let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &self.runs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.label(),
                r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                r.group_kind.as_deref().unwrap_or("–"),
                pct(r.attacker_share.table),
                opt_pct(r.attacker_share.view),
                pct(r.attacker_share.served),
                opt_pct(r.attacker_share_bound),
                r.attacker_share_bound.map_or("–".into(), |b| format!(
                    "{:+.1} pp",
                    100.0 * (r.attacker_share.served - b)
                )),
                r.counts.table.total,
                r.counts.view.map_or("–".into(), |v| v.total.to_string()),
                r.counts.served.total,
            );
        }
        self.bans_markdown(&mut s);
        self.halving_markdown(&mut s);
        self.flaky_markdown(&mut s);
        if has(|r| r.lookups.is_some()) {
            let _ = writeln!(s, "\n## Lookups for existing node IDs\n");
            let _ = writeln!(
                s,
                "| defence | lookups | found target | success | errors | results | attacker share of results (A_L) |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
            for r in &self.runs {
                if let Some(l) = &r.lookups {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        r.label(),
                        l.lookups,
                        l.found,
                        pct(l.success_rate),
                        l.errors,
                        l.results.total,
                        pct(l.attacker_share)
                    );
                }
            }
        }
        self.lookup_engines_markdown(&mut s);
        self.observer_markdown(&mut s);
        if has(|r| r.near_buckets.is_some()) {
            let _ = writeln!(s, "\n## Near buckets (mined node IDs)\n");
            let _ = writeln!(
                s,
                "| defence | bits | near entries (table) | attacker share (table) | near entries (view) | attacker share (view) | served share |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
            for r in &self.runs {
                if let Some(n) = &r.near_buckets {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        r.label(),
                        n.bits,
                        n.table.total,
                        pct(n.table.share()),
                        n.view.map_or("–".into(), |v| v.total.to_string()),
                        opt_pct(n.view.map(|v| v.share())),
                        pct(r.attacker_share.served)
                    );
                }
            }
        }
        if has(|r| r.diversity.is_some()) {
            let _ = writeln!(s, "\n## Diversity (nats)\n");
            let _ = writeln!(
                s,
                "| defence | served H(ASN) | random sample H(ASN) | ratio | served H(/16) | served H(/24) | table H(ASN) | view H(ASN) | kept random H(ASN) | ASNs to majority (served) |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for r in &self.runs {
                if let Some(d) = &r.diversity {
                    let _ = writeln!(
                        s,
                        "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {} |",
                        r.label(),
                        d.served.asn,
                        d.served_random_sample.asn,
                        d.served_asn_ratio,
                        d.served.slash16,
                        d.served.slash24,
                        d.table.asn,
                        d.view.map_or("–".into(), |v| format!("{:.2}", v.asn)),
                        d.kept_random_sample.asn,
                        d.served_asns_to_majority
                    );
                }
            }
        }
        if has(|r| r.risk.is_some()) {
            let _ = writeln!(
                s,
                "\n## Eclipse risk (discguard_risk estimators, computed by the harness)\n"
            );
            let _ = writeln!(
                s,
                "eclipse_risk = max(1 / fewest groups holding a majority (most concentrated kind), keyspace anomaly); 1 is eclipsed. GtM = groups to majority (/24 · /16 · ASN). Keyspace = the mined-ID test of the k-buckets (flag, corrected p). See docs/risk.md.\n"
            );
            let _ = writeln!(
                s,
                "| defence | G | scope | peers | eclipse risk | GtM /24 · /16 · ASN | effective ASNs | top ASN share | keyspace |"
            );
            let _ = writeln!(s, "|---|---:|---|---:|---:|---|---:|---:|---|");
            for r in &self.runs {
                let Some(risk) = &r.risk else { continue };
                let scopes = [
                    ("table", Some(&risk.table)),
                    ("view", risk.view.as_ref()),
                    ("served", Some(&risk.served)),
                ];
                for (name, scope) in scopes {
                    let Some(x) = scope else { continue };
                    let _ = writeln!(
                        s,
                        "| {} | {} | {name} | {} | {:.2} | {} · {} · {} | {:.1} | {} | {} |",
                        r.label(),
                        r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                        x.peers,
                        x.eclipse_risk,
                        x.groups_to_majority.narrow,
                        x.groups_to_majority.wide,
                        x.groups_to_majority.asn,
                        x.effective_asns,
                        pct(x.top_asn_share),
                        x.keyspace.map_or("–".into(), |k| format!(
                            "{} (p = {:.2e})",
                            if k.anomalous { "**flagged**" } else { "calm" },
                            k.p_value
                        )),
                    );
                }
            }
        }
        if has(|r| r.keyspace_detection.is_some()) {
            let _ = writeln!(s, "\n## Keyspace-anomaly detection over repeated runs\n");
            let _ = writeln!(
                s,
                "Each run starts the three victims with fresh keys on the same honest network and reads the flag of the keyspace test at the end of the run: `baseline` runs have no attack (a flag is a false alarm), `id-mining` runs have IDs mined next to each victim (a flag is a detection). Goal (design.md): ≥ 99% detection at ≤ 1% false alarms.\n"
            );
            let _ = writeln!(
                s,
                "| defence | set | detected | detection rate | false alarms | false-alarm rate | tested (attacked · baseline) |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---|");
            for r in &self.runs {
                let Some(d) = &r.keyspace_detection else {
                    continue;
                };
                let rate = |a: usize, b: usize| pct(ratio(a, b));
                let _ = writeln!(
                    s,
                    "| {} | table | {}/{} | {} | {}/{} | {} | {} · {} |",
                    r.label(),
                    d.detected_table,
                    d.attacked_runs,
                    pct(d.detection_rate_table()),
                    d.false_alarms_table,
                    d.baseline_runs,
                    pct(d.false_alarm_rate_table()),
                    d.tested_attacked_table,
                    d.tested_baseline_table,
                );
                if let (Some(det), Some(fa)) = (d.detected_view, d.false_alarms_view) {
                    let _ = writeln!(
                        s,
                        "| {} | view | {det}/{} | {} | {fa}/{} | {} | |",
                        r.label(),
                        d.attacked_runs,
                        rate(det, d.attacked_runs),
                        d.baseline_runs,
                        rate(fa, d.baseline_runs),
                    );
                }
            }
        }
        if has(|r| r.scores.is_some()) {
            let _ = writeln!(
                s,
                "\n## Scores at the end\n\nWhat discguard saved at shutdown (`scores.json`), by who the harness knows each node to be: nodes scored (nonzero), of which not served (≤ −10) and evicted from the view (≤ −20), and the lowest score. **Goal: no honest node evicted** (a rare one can be: staleness events evict, never ban).\n"
            );
            let _ = writeln!(
                s,
                "| defence | honest: scored · not served · evicted · lowest | flaky | attacker |\n|---|---|---|---|"
            );
            let cell = |c: &ClassScores| {
                format!(
                    "{} · {} · {} · {}",
                    c.scored,
                    c.not_served,
                    c.evicted,
                    c.lowest.map_or("–".into(), |l| l.to_string())
                )
            };
            for r in &self.runs {
                if let Some(sc) = &r.scores {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} |",
                        r.label(),
                        cell(&sc.honest),
                        cell(&sc.flaky),
                        cell(&sc.attacker)
                    );
                }
            }
        }
        if has(|r| r.score_events.is_some()) {
            let _ = writeln!(s, "\n## Score events (discguard's counter)\n");
            for r in &self.runs {
                if let Some(ev) = &r.score_events {
                    let parts: Vec<String> = ev
                        .iter()
                        .filter(|(_, v)| **v > 0)
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect();
                    let _ = writeln!(s, "- {}: {}", r.label(), parts.join(", "));
                }
            }
        }
        if has(|r| r.policy_rejections.is_some()) {
            let _ = writeln!(s, "\n## Policy rejections (discguard's counter)\n");
            for r in &self.runs {
                if let Some(rej) = &r.policy_rejections {
                    let total: u64 = rej.values().sum();
                    let parts: Vec<String> = rej.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    let _ = writeln!(
                        s,
                        "- {} (G = {}): {total} in all: {}",
                        r.label(),
                        r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                        parts.join(", ")
                    );
                }
            }
        }
        let _ = writeln!(s, "\n## Cost per victim process\n");
        let _ = writeln!(s, "| defence | G | CPU s | peak RSS MiB |");
        let _ = writeln!(s, "|---|---:|---:|---:|");
        for r in &self.runs {
            if let Some(c) = &r.cost {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.1} | {:.1} |",
                    r.label(),
                    r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                    c.cpu_seconds,
                    c.peak_rss_mib
                );
            }
        }
        if !self.charts.is_empty() {
            let _ = writeln!(s, "\n## Charts\n");
            for c in &self.charts {
                let _ = writeln!(s, "![{c}]({c})");
            }
        }
        s
    }

    /// The "Lookup engines under poisoning" section (`lookup-poisoning`).
    fn lookup_engines_markdown(&self, s: &mut String) {
        if self.lookup_engines.is_empty() {
            return;
        }
        let _ = writeln!(s, "\n## Lookup engines under poisoning\n");
        let _ = writeln!(
            s,
            "One network per fraction f of poisoners (same seed: same nodes, keys and places; the poisoners of a smaller f are among those of a larger). Per f, every engine looks up the same existing node IDs: discguard twice per target, with one path (`paths=1&privacy=off`: discguard-single) and three disjoint paths (`paths=3&privacy=off`: discguard-disjoint); the baselines with sigp's `find_node`. Found = the target among the results; attacker-free = lookups that returned nodes, none of them an attacker's; A_L = attacker share of all results. Queries, rounds, agreement (mean Jaccard similarity of the paths' closest sets), cut short (ended by the time or query bound) and milliseconds are means of discguard's engine summary (`–` for sigp, which reports none). `runs[].lookups` of the discguard victim holds discguard-disjoint.\n"
        );
        let _ = writeln!(
            s,
            "| f | engine | lookups | found | success | errors | attacker-free | results | A_L | queries | rounds | agreement | cut short | ms |"
        );
        let _ = writeln!(
            s,
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let mean =
            |x: Option<f64>, digits: usize| x.map_or("–".into(), |x| format!("{x:.digits$}"));
        for l in &self.lookup_engines {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                l.poisoners,
                l.engine,
                l.lookups,
                l.found,
                pct(l.success_rate),
                l.errors,
                l.attacker_free,
                l.results.total,
                pct(l.attacker_share),
                mean(l.mean_queries, 1),
                mean(l.mean_rounds, 1),
                mean(l.mean_agreement, 2),
                l.cut_short.map_or("–".into(), |n| n.to_string()),
                mean(l.mean_millis, 0),
            );
        }
        let at_goal = self.lookup_engines.iter().find(|l| {
            l.engine == LookupEngine::DiscguardDisjoint && is_value(l.poisoners, GOAL_POISONERS)
        });
        let verdict = match at_goal {
            None => format!("not measured (f = {GOAL_POISONERS} is not in this sweep)"),
            Some(l) if l.lookups == 0 => "not measured (no lookups)".to_string(),
            Some(l) => format!(
                "**{}**: {} of {} found, {}",
                if l.success_rate >= GOAL_POISONED_SUCCESS {
                    "met"
                } else {
                    "not met"
                },
                l.found,
                l.lookups,
                pct(l.success_rate)
            ),
        };
        let _ = writeln!(
            s,
            "\nGoal (issue 6): discguard-disjoint finds ≥ {} of its targets at f = {GOAL_POISONERS}: {verdict}.",
            pct(GOAL_POISONED_SUCCESS)
        );
    }

    /// The "Query privacy against observers" section (`query-observer`).
    fn observer_markdown(&self, s: &mut String) {
        let Some(o) = &self.observer else { return };
        let _ = writeln!(s, "\n## Query privacy against observers\n");
        let sets: Vec<String> = o
            .observer_sets
            .iter()
            .map(|(f, n)| format!("f = {f}: {n}"))
            .collect();
        let _ = writeln!(
            s,
            "No attack. The discguard victim looks up the same existing node IDs once per privacy mode, with `transcript=true`. Observers are honest nodes: the first round(f × {}) of one seeded shuffle, so the sets are nested ({}). An observer sees the FINDNODE requests sent to it. The model (docs/adversary.md): the observers pool what they saw, link the requests of one lookup (same `lookup` index) but cannot tell the real lookup from its cover lookups, know the mode, the cover count and the bits revealed, and know every node ID of the network (N = {} IDs: honest nodes and victims). Naming probability = the chance their best guess (the most likely ID, ties split) is the target; anonymity set = IDs with posterior > 0; H/log2 N = normalised entropy (1 = nothing learned); seen = lookups whose real lookup sent at least one FINDNODE to an observer. The sigp baselines ask `[d, d+1, d−1]` and discguard's `off` asks `[d, d+1, d+2]`: both tell the node asked its exact distance d, so what the baselines leak equals `off`; only their success is reported (\"Lookups for existing node IDs\").\n",
            o.honest,
            sets.join(", "),
            o.known_ids,
        );
        let _ = writeln!(
            s,
            "| mode | engine ran | lookups | errors | found | success | analysed | messages per lookup | real queries | cover queries | rounds | revealed bits | messages vs off |"
        );
        let _ = writeln!(
            s,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let num =
            |x: Option<f64>, digits: usize| x.map_or("–".into(), |x| format!("{x:.digits$}"));
        for m in &o.modes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.mode,
                match (&m.privacy, m.cover) {
                    (Some(p), Some(c)) => format!("{p}, cover {c}"),
                    _ => "no summary".into(),
                },
                m.lookups,
                m.errors,
                m.found,
                pct(m.success_rate),
                m.analysed,
                num(m.mean_messages, 1),
                num(m.mean_queries, 1),
                num(m.mean_cover_queries, 1),
                num(m.mean_rounds, 1),
                num(m.mean_revealed_bits, 1),
                m.messages_vs_off.map_or("–".into(), |r| format!("{r:.2}×")),
            );
        }
        let _ = writeln!(
            s,
            "\n| mode | f | observers | seen | naming probability | anonymity set | bits | H/log2 N |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for e in &o.exposure {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.3} | {:.1} | {:.2} | {:.3} |",
                e.mode,
                e.observers,
                e.observer_nodes,
                pct(e.means.seen_share),
                e.means.naming_probability,
                e.means.anonymity_set,
                e.means.bits,
                e.means.normalised_entropy,
            );
        }
        let _ = writeln!(
            s,
            "\nGoal (issue 6): at f = {GOAL_OBSERVERS}, `prefix` or `prefix+cover` names the target with probability ≤ {GOAL_NAMING} at ≤ {GOAL_MESSAGES_VS_OFF}× the messages of `off`. Where each mode stands:\n"
        );
        for g in o.goal() {
            let naming = g.naming_probability.map_or_else(
                || format!("naming probability not measured (f = {GOAL_OBSERVERS} not swept or no lookup analysed)"),
                |p| format!("naming probability {p:.3} ({} {GOAL_NAMING})", if p <= GOAL_NAMING { "≤" } else { ">" }),
            );
            let cost = g.messages_vs_off.map_or_else(
                || "messages vs off not measured".to_string(),
                |r| {
                    format!(
                        "{r:.2}× the messages of off ({} {GOAL_MESSAGES_VS_OFF}×)",
                        if r <= GOAL_MESSAGES_VS_OFF {
                            "≤"
                        } else {
                            ">"
                        }
                    )
                },
            );
            let verdict = match g.met {
                Some(true) => "**met**",
                Some(false) => "**not met**",
                None => "**not measured**",
            };
            let _ = writeln!(s, "- `{}`: {verdict}: {naming}, {cost}.", g.mode);
        }
        for m in &o.modes {
            let Some(p) = m.mean_revealed_bits.filter(|&p| p < 256.0) else {
                continue;
            };
            let n = o.known_ids as f64;
            let design = (n / PREFIX_K_DESIGN as f64).max(1.0).log2().floor();
            let _ = writeln!(
                s,
                "- `{}` revealed p = {p:.1} bits on average (the service's N̂ sets it): subtrees of about {:.0} of the {} known IDs; k = {PREFIX_K_DESIGN}, the design point of 1/k = 0.05, would be p = ⌊log2(N/k)⌋ = {design:.0}.",
                m.mode,
                n / 2f64.powf(p),
                o.known_ids,
            );
        }
        let by_prefix = o
            .goal()
            .into_iter()
            .filter(|g| g.mode == "prefix" || g.mode == "prefix+cover")
            .collect::<Vec<_>>();
        let overall = if by_prefix.iter().any(|g| g.met == Some(true)) {
            "met"
        } else if by_prefix.iter().any(|g| g.met == Some(false)) {
            "not met"
        } else {
            "not measured (neither prefix nor prefix+cover was measured at f = 0.2 with off beside it)"
        };
        let _ = writeln!(s, "\nThe goal is **{overall}** in this run.");
        let problems: Vec<String> = o
            .modes
            .iter()
            .flat_map(|m| {
                m.problems
                    .iter()
                    .map(move |p| format!("- `{}`: {p}", m.mode))
            })
            .collect();
        if !problems.is_empty() {
            let _ = writeln!(s, "\nLookups not analysed (first few per mode):\n");
            for p in problems {
                let _ = writeln!(s, "{p}");
            }
        }
    }

    /// The "Bans" section.
    fn bans_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Bans\n");
        let _ = writeln!(
            s,
            "Each victim's `/v1/bans` at the end of the run, sorted by who the harness knows each banned node to be. **Goal: false bans = 0** (no honest node banned, flaky ones included). \"no ban list\": the victim serves no `/v1/bans` (404). The plain discv5 baselines serve an empty list: discv5 keeps no scores, and its own ban list (packet filter) cannot be read from outside.\n"
        );
        let _ = writeln!(
            s,
            "| defence | G | bans | attacker | false bans (honest) | of which flaky | other | IP bans (attacker · honest) | reasons | banned honest IDs |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|---|---|");
        for r in &self.runs {
            let g = r.sybil_groups.map_or("–".into(), |g| g.to_string());
            let Some(b) = &r.bans else {
                let _ = writeln!(
                    s,
                    "| {} | {g} | no ban list | – | – | – | – | – | – | – |",
                    r.label()
                );
                continue;
            };
            let reasons: Vec<String> = b.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let mut ids: Vec<String> = b
                .banned_honest_ids
                .iter()
                .take(3)
                .map(|id| format!("`{}…`", id.get(..12).unwrap_or(id)))
                .collect();
            if b.false_bans > ids.len() {
                ids.push(format!("(+{} more)", b.false_bans - ids.len()));
            }
            let _ = writeln!(
                s,
                "| {} | {g} | {} | {} | {}{} | {} | {} | {} ({} · {}) | {} | {} |",
                r.label(),
                b.total,
                b.attacker,
                b.false_bans,
                if b.false_bans > 0 { " ✗" } else { "" },
                b.flaky,
                b.other,
                b.ip_bans,
                b.ip_bans_attacker,
                b.ip_bans_honest,
                if reasons.is_empty() {
                    "–".into()
                } else {
                    reasons.join(", ")
                },
                if ids.is_empty() {
                    "–".into()
                } else {
                    ids.join(" ")
                },
            );
        }
    }

    /// The "Misbehaving nodes losing their place" section.
    fn halving_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Misbehaving nodes losing their place\n");
        let _ = writeln!(
            s,
            "Misbehaving share = Sybils and poisoners over the members of a set (the attacker share above), sampled every `--sample-every` seconds. Peak = the highest share and the first sample at it; halved after = seconds from the peak to the first later sample at or below half the peak, \"not within the run\" when none was; end = the share at the last sample.\n"
        );
        let mut rows = Vec::new();
        for r in &self.runs {
            let Some(h) = &r.halving else { continue };
            let sets = [
                ("table", Some(&h.table)),
                ("view", h.view.as_ref()),
                ("served", Some(&h.served)),
            ];
            for (name, x) in sets {
                let Some(x) = x.filter(|x| x.peak_share > 0.0) else {
                    continue;
                };
                rows.push(format!(
                    "| {} | {} | {name} | {} | {:.0} | {} | {} |",
                    r.label(),
                    r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                    pct(x.peak_share),
                    x.peak_t_seconds,
                    x.halved_after_seconds
                        .map_or("not within the run".into(), |t| format!("{t:.0} s")),
                    pct(x.end_share),
                ));
            }
        }
        if rows.is_empty() {
            let _ = writeln!(
                s,
                "No misbehaving node was in any victim's sets at any sample."
            );
            return;
        }
        let _ = writeln!(
            s,
            "| defence | G | set | peak share | peak at (s) | halved after | share at end |"
        );
        let _ = writeln!(s, "|---|---:|---|---:|---:|---|---:|");
        for row in rows {
            let _ = writeln!(s, "{row}");
        }
    }

    /// The "Flaky honest nodes" section (`flaky-honest`).
    fn flaky_markdown(&self, s: &mut String) {
        let Some(f) = &self.flaky else { return };
        let _ = writeln!(s, "\n## Flaky honest nodes\n");
        let _ = writeln!(
            s,
            "{} of {} honest nodes ({}) lose packets: each has a loss rate drawn uniformly from [{}, {}] (drawn: {} – {}, mean {}), applied to every packet in each direction by a lossy relay in front of it. The relays saw {} packets ({} to the nodes, {} from them) and dropped {}: **realised loss {}** (the drawn rates predict {} for these packets); {} of {} relays saw traffic. Flaky nodes are honest: **a flaky node banned is a false ban (goal: 0)**.\n",
            f.flaky_nodes,
            f.honest,
            pct(f.network_share),
            f.loss_min,
            f.loss_max,
            pct(f.loss_drawn_min),
            pct(f.loss_drawn_max),
            pct(f.loss_drawn_mean),
            f.relay.packets(),
            f.relay.to_node,
            f.relay.from_node,
            f.relay.dropped(),
            pct(f.realised_loss),
            pct(f.expected_loss),
            f.relays_used,
            f.flaky_nodes,
        );
        let _ = writeln!(
            s,
            "| defence | flaky banned | other honest banned | flaky share: table | view | served | network | view scores, flaky: median · min (n) | others: median · min (n) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|---|");
        let scores = |x: &ScoreSummary| match (x.median, x.min) {
            (Some(m), Some(lo)) => format!("{m:.1} · {lo} ({})", x.entries),
            _ => "– (0)".into(),
        };
        for r in &self.runs {
            let Some(v) = &r.flaky else { continue };
            let share = |c: &FlakyCount| format!("{} ({}/{})", pct(c.share()), c.flaky, c.total);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.label(),
                v.flaky_banned
                    .map_or("no ban list".into(), |n| format!("**{n}**")),
                v.honest_banned.map_or("–".into(), |n| n.to_string()),
                share(&v.table),
                v.view.as_ref().map_or("–".into(), share),
                share(&v.served),
                pct(f.network_share),
                v.scores.as_ref().map_or("–".into(), |x| scores(&x.flaky)),
                v.scores.as_ref().map_or("–".into(), |x| scores(&x.other)),
            );
        }
    }

    /// A one-screen summary for the terminal.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} nodes, {:.0} s wall, harness {:.1} s CPU / {:.0} MiB peak",
            self.scenario,
            self.network.nodes,
            self.cost.wall_seconds,
            self.cost.harness.cpu_seconds,
            self.cost.harness.peak_rss_mib
        );
        let _ = writeln!(
            s,
            "{:<28} {:>4} {:>7} {:>7} {:>7} {:>7} {:>9} {:>11}",
            "defence", "G", "table", "view", "served", "A_max", "lookups", "false bans"
        );
        for r in &self.runs {
            let _ = writeln!(
                s,
                "{:<28} {:>4} {:>7} {:>7} {:>7} {:>7} {:>9} {:>11}",
                r.label(),
                r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                pct(r.attacker_share.table),
                opt_pct(r.attacker_share.view),
                pct(r.attacker_share.served),
                opt_pct(r.attacker_share_bound),
                r.lookups
                    .map_or("–".into(), |l| format!("{}/{}", l.found, l.lookups)),
                r.bans
                    .as_ref()
                    .map_or("no list".into(), |b| b.false_bans.to_string()),
            );
        }
        if let Some(f) = &self.flaky {
            let _ = writeln!(
                s,
                "flaky honest nodes: {} of {}; relays dropped {} of {} packets ({})",
                f.flaky_nodes,
                f.honest,
                f.relay.dropped(),
                f.relay.packets(),
                pct(f.realised_loss)
            );
            for r in &self.runs {
                if let Some(v) = &r.flaky {
                    let _ = writeln!(
                        s,
                        "{:<18} flaky banned {}, flaky share of served {} (network {})",
                        r.label(),
                        v.flaky_banned
                            .map_or("– (no ban list)".into(), |n| n.to_string()),
                        pct(v.served.share()),
                        pct(f.network_share),
                    );
                }
            }
        }
        for l in &self.lookup_engines {
            let _ = writeln!(
                s,
                "f = {:<5} {:<19} found {}/{} ({}), A_L {}",
                l.poisoners,
                l.engine.name(),
                l.found,
                l.lookups,
                pct(l.success_rate),
                pct(l.attacker_share)
            );
        }
        if let Some(o) = &self.observer {
            for g in o.goal() {
                let _ = writeln!(
                    s,
                    "{:<14} naming probability at f = {GOAL_OBSERVERS}: {}, messages vs off: {}",
                    g.mode,
                    g.naming_probability
                        .map_or("–".into(), |p| format!("{p:.3}")),
                    g.messages_vs_off.map_or("–".into(), |r| format!("{r:.2}×")),
                );
            }
        }
        for r in &self.runs {
            if let Some(d) = &r.keyspace_detection {
                let _ = writeln!(
                    s,
                    "{:<18} keyspace flag (table): detected {}/{}, false alarms {}/{}",
                    r.label(),
                    d.detected_table,
                    d.attacked_runs,
                    d.false_alarms_table,
                    d.baseline_runs
                );
            }
        }
        s
    }

    /// Checks the report's own consistency: shares in [0, 1] and equal to
    /// their counts, attackers never more than members. Returns the
    /// problems found (empty = consistent).
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut share = |what: String, x: f64| {
            if !(0.0..=1.0).contains(&x) || x.is_nan() {
                problems.push(format!("{what} = {x} is outside [0, 1]"));
            }
        };
        for r in &self.runs {
            let who = format!("{} G={:?}", r.label(), r.sybil_groups);
            share(format!("{who} table share"), r.attacker_share.table);
            share(format!("{who} served share"), r.attacker_share.served);
            if let Some(v) = r.attacker_share.view {
                share(format!("{who} view share"), v);
            }
            if let Some(b) = r.attacker_share_bound {
                share(format!("{who} bound"), b);
            }
            for s in &r.over_time {
                share(format!("{who} t={} served", s.t_seconds), s.shares.served);
                share(format!("{who} t={} table", s.t_seconds), s.shares.table);
            }
            if let Some(l) = &r.lookups {
                share(format!("{who} lookup success"), l.success_rate);
                share(format!("{who} A_L"), l.attacker_share);
            }
            if let Some(risk) = &r.risk {
                for (name, scope) in [
                    ("table", Some(&risk.table)),
                    ("view", risk.view.as_ref()),
                    ("served", Some(&risk.served)),
                ] {
                    if let Some(x) = scope {
                        share(format!("{who} {name} eclipse risk"), x.eclipse_risk);
                        if let Some(k) = x.keyspace {
                            share(format!("{who} {name} keyspace p"), k.p_value);
                        }
                    }
                }
            }
        }
        for r in &self.runs {
            if let Some(d) = &r.keyspace_detection {
                let who = r.defense;
                let view_ok = |x: Option<usize>, of: usize| x.is_none_or(|x| x <= of);
                if d.detected_table > d.attacked_runs
                    || d.false_alarms_table > d.baseline_runs
                    || d.tested_attacked_table > d.attacked_runs
                    || d.tested_baseline_table > d.baseline_runs
                    || !view_ok(d.detected_view, d.attacked_runs)
                    || !view_ok(d.false_alarms_view, d.baseline_runs)
                {
                    problems.push(format!(
                        "{who}: keyspace detection counts exceed their runs: {d:?}"
                    ));
                }
                if r.defense.has_view() != d.detected_view.is_some() {
                    problems.push(format!(
                        "{who}: a view flag is counted iff the victim keeps one"
                    ));
                }
            }
        }
        for r in &self.runs {
            let who = format!("{} G={:?}", r.label(), r.sybil_groups);
            let mut sets = vec![
                ("table", r.counts.table, r.attacker_share.table),
                ("served", r.counts.served, r.attacker_share.served),
            ];
            if let (Some(c), Some(x)) = (r.counts.view, r.attacker_share.view) {
                sets.push(("view", c, x));
            }
            if r.defense.has_view() != r.counts.view.is_some() {
                problems.push(format!(
                    "{who}: a view is reported iff the victim keeps one"
                ));
            }
            for (name, c, x) in sets {
                if c.attacker > c.total {
                    problems.push(format!(
                        "{who} {name}: {} attackers of {} members",
                        c.attacker, c.total
                    ));
                }
                if (c.share() - x).abs() > 1e-9 {
                    problems.push(format!(
                        "{who} {name}: share {x} ≠ {}/{}",
                        c.attacker, c.total
                    ));
                }
            }
            if let Some(l) = &r.lookups {
                if l.found > l.lookups || l.errors > l.lookups {
                    problems.push(format!(
                        "{who}: {} found / {} errors of {} lookups",
                        l.found, l.errors, l.lookups
                    ));
                }
                if l.results.attacker > l.results.total {
                    problems.push(format!("{who}: lookup results don't add up"));
                }
            }
            if let Some(n) = &r.near_buckets
                && n.table.attacker > n.table.total
            {
                problems.push(format!("{who}: near buckets don't add up"));
            }
            problems.extend(check_bans(&who, r));
            problems.extend(check_halving(&who, r));
            problems.extend(check_flaky_victim(&who, r, self.flaky.as_ref()));
        }
        if let Some(f) = &self.flaky {
            problems.extend(check_flaky_network(f));
        }
        for l in &self.lookup_engines {
            problems.extend(check_engine_lookups(l));
        }
        if let Some(o) = &self.observer {
            problems.extend(check_observer(o));
        }
        problems
    }
}

/// One engine's lookup counts add up.
fn check_engine_lookups(l: &EngineLookups) -> Vec<String> {
    let mut p = Vec::new();
    let who = format!("f = {} {}", l.poisoners, l.engine);
    if l.found > l.lookups
        || l.errors > l.lookups
        || l.attacker_free > l.lookups
        || l.summaries > l.lookups
        || l.found + l.errors > l.lookups
    {
        p.push(format!(
            "{who}: {} found, {} errors, {} attacker-free, {} summaries of {} lookups",
            l.found, l.errors, l.attacker_free, l.summaries, l.lookups
        ));
    }
    if l.results.attacker > l.results.total {
        p.push(format!("{who}: lookup results don't add up"));
    }
    if (l.success_rate - ratio(l.found, l.lookups)).abs() > 1e-9
        || (l.attacker_share - l.results.share()).abs() > 1e-9
    {
        p.push(format!("{who}: rates disagree with their counts"));
    }
    if (l.summaries > 0) != l.mean_queries.is_some() {
        p.push(format!("{who}: engine means iff engine summaries"));
    }
    if let Some(a) = l.mean_agreement
        && !in_unit(a)
    {
        p.push(format!("{who}: agreement {a} outside [0, 1]"));
    }
    p
}

/// The observer section's numbers are in range and add up.
fn check_observer(o: &ObserverReport) -> Vec<String> {
    let mut p = Vec::new();
    for m in &o.modes {
        if m.found > m.lookups || m.errors > m.lookups || m.analysed > m.lookups {
            p.push(format!("{}: counts exceed {} lookups", m.mode, m.lookups));
        }
        if (m.success_rate - ratio(m.found, m.lookups)).abs() > 1e-9 {
            p.push(format!("{}: success rate ≠ found / lookups", m.mode));
        }
    }
    for e in &o.exposure {
        let m = &e.means;
        let who = format!("{} f = {}", e.mode, e.observers);
        if !in_unit(m.naming_probability)
            || !in_unit(m.seen_share)
            || !(-1e-9..=1.0 + 1e-9).contains(&m.normalised_entropy)
        {
            p.push(format!("{who}: a probability outside [0, 1]: {m:?}"));
        }
        if m.anonymity_set > o.known_ids as f64 + 1e-9 || (m.lookups > 0 && m.anonymity_set < 1.0) {
            p.push(format!(
                "{who}: anonymity set {} outside 1..={}",
                m.anonymity_set, o.known_ids
            ));
        }
        if e.observer_nodes > o.honest {
            p.push(format!(
                "{who}: {} observers of {} honest nodes",
                e.observer_nodes, o.honest
            ));
        }
    }
    for l in &o.lookups {
        if l.exposure.len() != o.observer_sets.len() {
            p.push(format!(
                "{} lookup of {}: {} observer sets measured of {}",
                l.mode,
                l.target,
                l.exposure.len(),
                o.observer_sets.len()
            ));
        }
        for x in &l.exposure {
            let e = &x.exposure;
            if !in_unit(e.naming_probability) || e.anonymity_set > o.known_ids {
                p.push(format!(
                    "{} lookup of {}: {e:?} out of range",
                    l.mode, l.target
                ));
            }
        }
    }
    p
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

/// A ban list's counts add up.
fn check_bans(who: &str, r: &Run) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(b) = &r.bans {
        if b.attacker + b.false_bans + b.other != b.total {
            p.push(format!(
                "{who} bans: {} attacker + {} false + {} other ≠ {}",
                b.attacker, b.false_bans, b.other, b.total
            ));
        }
        if b.flaky > b.false_bans {
            p.push(format!(
                "{who} bans: {} flaky of {} false bans",
                b.flaky, b.false_bans
            ));
        }
        if b.banned_honest_ids.len() != b.false_bans.min(crate::measure::BANNED_HONEST_IDS_SHOWN) {
            p.push(format!(
                "{who} bans: {} honest IDs listed for {} false bans",
                b.banned_honest_ids.len(),
                b.false_bans
            ));
        }
        if b.ip_bans_attacker + b.ip_bans_honest > b.ip_bans {
            p.push(format!("{who} IP bans don't add up"));
        }
        if b.reasons.values().sum::<usize>() != b.total {
            p.push(format!("{who} ban reasons don't add up to {}", b.total));
        }
    }
    for s in &r.over_time {
        if let Some(b) = s.bans
            && b.attacker + b.false_bans > b.total
        {
            p.push(format!("{who} t={} bans don't add up", s.t_seconds));
        }
    }
    p
}

/// Halving times are measured from the samples and agree with them.
fn check_halving(who: &str, r: &Run) -> Vec<String> {
    let mut p = Vec::new();
    let Some(h) = &r.halving else { return p };
    for (name, x) in [
        ("table", Some(&h.table)),
        ("view", h.view.as_ref()),
        ("served", Some(&h.served)),
    ] {
        let Some(x) = x else { continue };
        if !in_unit(x.peak_share) || !in_unit(x.end_share) || x.end_share > x.peak_share {
            p.push(format!("{who} {name} halving: shares {x:?}"));
        }
        if x.halved_after_seconds.is_some_and(|t| t <= 0.0) {
            p.push(format!("{who} {name} halving: not after the peak: {x:?}"));
        }
    }
    if h.view.is_some() != r.defense.has_view() {
        p.push(format!("{who}: a view halving iff the victim keeps a view"));
    }
    p
}

/// A victim's flaky counts add up and agree with its ban list.
fn check_flaky_victim(who: &str, r: &Run, net: Option<&FlakyNetwork>) -> Vec<String> {
    let mut p = Vec::new();
    let Some(v) = &r.flaky else { return p };
    let Some(net) = net else {
        p.push(format!("{who}: flaky counts without a flaky network"));
        return p;
    };
    for (name, c) in [
        ("table", Some(&v.table)),
        ("view", v.view.as_ref()),
        ("served", Some(&v.served)),
    ] {
        if let Some(c) = c
            && (c.flaky > c.total || c.flaky > net.flaky_nodes)
        {
            p.push(format!("{who} {name}: {} flaky of {}", c.flaky, c.total));
        }
    }
    match (&r.bans, v.flaky_banned, v.honest_banned) {
        (Some(b), Some(f), Some(h)) => {
            if f != b.flaky || f + h != b.false_bans {
                p.push(format!(
                    "{who}: {f} flaky + {h} honest banned ≠ {} false bans ({} flaky)",
                    b.false_bans, b.flaky
                ));
            }
        }
        (None, None, None) => {}
        _ => p.push(format!("{who}: flaky ban counts iff a ban list")),
    }
    if v.scores.is_some() != r.defense.has_view() {
        p.push(format!("{who}: view scores iff the victim keeps a view"));
    }
    p
}

/// The flaky network's counts agree with its parameters.
fn check_flaky_network(f: &FlakyNetwork) -> Vec<String> {
    let mut p = Vec::new();
    let expect = (f.fraction * f.honest as f64).round() as usize;
    if f.flaky_nodes != expect {
        p.push(format!(
            "flaky nodes {} ≠ round({} × {}) = {expect}",
            f.flaky_nodes, f.fraction, f.honest
        ));
    }
    if (f.network_share - ratio(f.flaky_nodes, f.honest)).abs() > 1e-9 {
        p.push(format!(
            "flaky network share {} ≠ {}/{}",
            f.network_share, f.flaky_nodes, f.honest
        ));
    }
    if f.relay.to_node_dropped > f.relay.to_node || f.relay.from_node_dropped > f.relay.from_node {
        p.push(format!("relays dropped more than they saw: {:?}", f.relay));
    }
    if (f.realised_loss - f.relay.loss()).abs() > 1e-9 || !in_unit(f.expected_loss) {
        p.push(format!(
            "realised loss {} ≠ {}/{} (expected {})",
            f.realised_loss,
            f.relay.dropped(),
            f.relay.packets(),
            f.expected_loss
        ));
    }
    if f.flaky_nodes > 0
        && !(f.loss_min <= f.loss_drawn_min
            && f.loss_drawn_min <= f.loss_drawn_mean
            && f.loss_drawn_mean <= f.loss_drawn_max
            && f.loss_drawn_max <= f.loss_max)
    {
        p.push(format!(
            "drawn loss rates {}–{} (mean {}) outside [{}, {}]",
            f.loss_drawn_min, f.loss_drawn_max, f.loss_drawn_mean, f.loss_min, f.loss_max
        ));
    }
    if !f.nodes.is_empty() {
        let sum = f
            .nodes
            .iter()
            .fold(RelayCounts::default(), |a, n| a.add(&n.relay));
        if f.nodes.len() != f.flaky_nodes || sum != f.relay {
            p.push(format!(
                "{} flaky nodes listed for {}, their relays sum to {sum:?} not {:?}",
                f.nodes.len(),
                f.flaky_nodes,
                f.relay
            ));
        }
    }
    if f.relays_used > f.flaky_nodes {
        p.push(format!(
            "{} relays used of {}",
            f.relays_used, f.flaky_nodes
        ));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `report.json` written before ban lists, halving times and flaky
    /// nodes were recorded.
    const OLD_REPORT: &str = r#"{"scenario": "sybil-flood", "seed": 3, "parameters": {"honest": 120},
        "network": {"honest": 120, "poisoners": 0, "attackers": 32, "victims": 3, "nodes": 155},
        "cost": {"wall_seconds": 23.6, "harness": {"cpu_seconds": 1.07, "peak_rss_mib": 136.5},
                 "network_start_seconds": 0.2, "keys_seconds": 0.02, "bind_seconds": 0.16, "fill_seconds": 0.02},
        "runs": [{"defense": "discguard", "sybil_groups": 1, "group_kind": "asn",
            "attacker_share": {"table": 0.2, "view": 0.2, "served": 0.03125},
            "attacker_share_bound": 0.178,
            "counts": {"table": {"total": 60, "attacker": 12}, "view": {"total": 60, "attacker": 12},
                       "served": {"total": 32, "attacker": 1}},
            "over_time": [{"t_seconds": 0.0, "counts": {"table": {"total": 4, "attacker": 0},
                "view": {"total": 4, "attacker": 0}, "served": {"total": 4, "attacker": 0}},
                "shares": {"table": 0.0, "view": 0.0, "served": 0.0}}],
            "lookups": null, "near_buckets": null, "diversity": null,
            "policy_rejections": {"bucket_cap_asn": 17},
            "cost": {"cpu_seconds": 1.53, "peak_rss_mib": 16.3}}],
        "charts": ["share-over-time-g1.svg"]}"#;

    #[test]
    fn old_reports_still_parse() {
        let r: Report = serde_json::from_str(OLD_REPORT).expect("old report parses");
        assert!(r.flaky.is_none());
        let run = &r.runs[0];
        assert!(run.bans.is_none() && run.halving.is_none() && run.flaky.is_none());
        assert!(run.over_time[0].bans.is_none());
        assert!(r.check().is_empty(), "{:?}", r.check());
        assert!(r.markdown().contains("no ban list"));
    }

    #[test]
    fn check_catches_ban_and_flaky_counts_that_do_not_add_up() {
        let mut r: Report = serde_json::from_str(OLD_REPORT).unwrap();
        r.runs[0].bans = Some(BanStats {
            total: 3,
            attacker: 1,
            false_bans: 1,
            banned_honest_ids: vec!["ab".into()],
            reasons: [("x".to_string(), 3)].into(),
            ..BanStats::default()
        });
        let problems = r.check();
        assert!(
            problems.iter().any(|p| p.contains("other ≠ 3")),
            "{problems:?}"
        );
        r.runs[0].bans.as_mut().unwrap().other = 1;
        assert!(r.check().is_empty(), "{:?}", r.check());

        r.flaky = Some(FlakyNetwork {
            fraction: 0.2,
            honest: 120,
            flaky_nodes: 23,
            network_share: 23.0 / 120.0,
            ..FlakyNetwork::default()
        });
        assert!(
            r.check()
                .iter()
                .any(|p| p.contains("round(0.2 × 120) = 24"))
        );
        let f = r.flaky.as_mut().unwrap();
        f.flaky_nodes = 24;
        f.network_share = 0.2;
        assert!(r.check().is_empty(), "{:?}", r.check());

        // Flaky bans must agree with the ban list.
        r.runs[0].flaky = Some(FlakyVictim {
            flaky_banned: Some(1),
            honest_banned: Some(0),
            scores: Some(FlakyScores::default()),
            ..FlakyVictim::default()
        });
        assert!(r.check().iter().any(|p| p.contains("flaky + 0 honest")));
        r.runs[0].flaky.as_mut().unwrap().flaky_banned = Some(0);
        r.runs[0].flaky.as_mut().unwrap().honest_banned = Some(1);
        assert!(r.check().is_empty(), "{:?}", r.check());
    }
}

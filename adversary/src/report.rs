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
//!            "over_time": [{"t_seconds": …, "counts": {…}, "shares": {…}}],
//!            "cost": {"cpu_seconds": …, "peak_rss_mib": …}, …}]}
//! ```
//!
//! Shares are fractions in [0, 1]; a share of an empty set is 0 and its
//! count says it was empty.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::chart::{LineChart, Series, XScale, write_svg};
use crate::measure::SetCount;
use crate::procstat::ProcStat;
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
        let mut keys: Vec<Option<usize>> = self.runs.iter().map(|r| r.sybil_groups).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let runs: Vec<&Run> = self.runs.iter().filter(|r| r.sybil_groups == key).collect();
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
                Some(g) => (
                    format!("share-over-time-g{g}.svg"),
                    format!("{}: attacker share over time, G = {g}", self.scenario),
                ),
                None => (
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
                r.defense,
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
                        r.defense,
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
                        r.defense,
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
                        r.defense,
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
                        r.defense,
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
                    r.defense,
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
                        r.defense,
                        d.attacked_runs,
                        rate(det, d.attacked_runs),
                        d.baseline_runs,
                        rate(fa, d.baseline_runs),
                    );
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
                        r.defense,
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
                    r.defense,
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
            "{:<18} {:>4} {:>7} {:>7} {:>7} {:>7} {:>9}",
            "defence", "G", "table", "view", "served", "A_max", "lookups"
        );
        for r in &self.runs {
            let _ = writeln!(
                s,
                "{:<18} {:>4} {:>7} {:>7} {:>7} {:>7} {:>9}",
                r.defense.name(),
                r.sybil_groups.map_or("–".into(), |g| g.to_string()),
                pct(r.attacker_share.table),
                opt_pct(r.attacker_share.view),
                pct(r.attacker_share.served),
                opt_pct(r.attacker_share_bound),
                r.lookups
                    .map_or("–".into(), |l| format!("{}/{}", l.found, l.lookups)),
            );
        }
        for r in &self.runs {
            if let Some(d) = &r.keyspace_detection {
                let _ = writeln!(
                    s,
                    "{:<18} keyspace flag (table): detected {}/{}, false alarms {}/{}",
                    r.defense.name(),
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
            let who = format!("{} G={:?}", r.defense, r.sybil_groups);
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
            let who = format!("{} G={:?}", r.defense, r.sybil_groups);
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
        }
        problems
    }
}

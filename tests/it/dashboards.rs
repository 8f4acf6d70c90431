//! The Grafana dashboards (`grafana/dashboards/*.json`) and the Prometheus
//! alert rules (`prometheus/rules/*.yml`) query only what a running
//! discguard exports:
//!
//! - the three dashboards exist, each with a unique uid, a title and panels;
//! - every `expr` of every panel (rows' nested panels included) parses as
//!   PromQL with `promql-parser` once Grafana's template variables are
//!   replaced by values, and so does every rule's `expr`;
//! - every metric name their selectors use (and the instance variable's
//!   `label_values` query) is on the `/metrics` page of a real discguard
//!   that has bootstrapped, run lookups, served peers and refused a node.
//!   Names Prometheus adds itself (`up`, ...) and names recorded by the
//!   rules need not be.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use discguard_adversary::honest::{self, HonestNode};
use discguard_tests::{free_tcp_addr, loopback_args, repo_root, sample, set_flag, start_discguard};
use promql_parser::label::{METRIC_NAME, MatchOp};
use promql_parser::parser::{self, Expr, VectorSelector};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde::Deserialize;
use serde_json::Value;

/// The dashboards docs/operations.md describes, by file and uid.
const DASHBOARDS: [(&str, &str); 3] = [
    ("discguard-overview.json", "discguard-overview"),
    ("discguard-policy.json", "discguard-policy"),
    ("discguard-lookups.json", "discguard-lookups"),
];

/// Values for Grafana's template variables, so that expressions parse as
/// Prometheus would receive them.
const VARIABLES: [(&str, &str); 7] = [
    ("instance", "discguard:9191"),
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__interval_ms", "15000"),
    ("__range", "6h"),
    ("__range_s", "21600"),
    ("__range_ms", "21600000"),
];

/// Series Prometheus writes itself for every scrape target or alert rather
/// than reading them from discguard.
const PROMETHEUS_SERIES: [&str; 7] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "ALERTS",
    "ALERTS_FOR_STATE",
];

/// Counters that exist on `/metrics` only once their event happened, which
/// this test cannot cause in a minute. Used by a dashboard or rule, they
/// must still be declared by the service (a `"name"` literal in
/// `crates/service/src/`), which catches typos and renames. Empty today:
/// the service registers every counter with known labels at 0 on start
/// (`metrics::register_zeroes`); keep the mechanism for the next one.
const EVENT_ONLY: [(&str, &str); 0] = [];

// ---------------------------------------------------------------------------
// Expressions of the dashboards and rules.

/// Where an expression comes from, for failure messages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Origin(String);

/// Metric names used, each with the places that use it.
#[derive(Default)]
struct Uses {
    names: BTreeMap<String, BTreeSet<Origin>>,
    /// Names recorded by recording rules (they exist in Prometheus, not on
    /// discguard's page).
    recorded: BTreeSet<String>,
}

impl Uses {
    /// The places that use `name`, for failure messages.
    fn origins(&self, name: &str) -> String {
        self.names.get(name).map_or_else(String::new, |origins| {
            origins
                .iter()
                .map(|o| o.0.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn add(&mut self, name: &str, origin: &Origin) {
        self.names
            .entry(name.to_owned())
            .or_default()
            .insert(origin.clone());
    }

    /// Parses `expr` and records the metric names of its selectors.
    fn add_expr(&mut self, expr: &str, origin: &Origin) {
        let parsed = parser::parse(expr)
            .unwrap_or_else(|e| panic!("{}: not valid PromQL: {e}\n  {expr}", origin.0));
        let mut names = SelectorNames::default();
        walk_expr(&mut names, &parsed).expect("the visitor does not fail");
        assert!(
            names.unnamed.is_empty(),
            "{}: selectors without a metric name: {:?}\n  {expr}",
            origin.0,
            names.unnamed
        );
        assert!(
            !names.names.is_empty(),
            "{}: the expression reads no metric\n  {expr}",
            origin.0
        );
        for name in &names.names {
            self.add(name, origin);
        }
    }
}

/// Collects the metric names of vector and matrix selectors.
#[derive(Default)]
struct SelectorNames {
    names: BTreeSet<String>,
    unnamed: Vec<String>,
}

impl SelectorNames {
    fn selector(&mut self, vs: &VectorSelector) {
        let by_matcher = vs
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone());
        match vs.name.clone().or(by_matcher) {
            Some(name) => {
                self.names.insert(name);
            }
            None => self.unnamed.push(vs.to_string()),
        }
    }
}

impl ExprVisitor for SelectorNames {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
        match expr {
            Expr::VectorSelector(vs) => self.selector(vs),
            Expr::MatrixSelector(ms) => self.selector(&ms.vs),
            _ => {}
        }
        Ok(true)
    }
}

/// Replaces Grafana's `$name` and `${name}` variables by [`VARIABLES`];
/// panics on a variable it does not know.
fn substitute(expr: &str, origin: &Origin) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .unwrap_or_else(|| panic!("{}: unclosed ${{ in {expr}", origin.0));
            // `${name:format}`: the format does not matter here.
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = VARIABLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| {
                panic!(
                    "{}: unknown template variable ${name} in {expr} (known: {:?})",
                    origin.0,
                    VARIABLES.map(|(n, _)| n)
                )
            });
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The elements of a JSON array; none for anything else.
fn items(value: &Value) -> &[Value] {
    match value.as_array() {
        Some(items) => items,
        None => &[],
    }
}

/// Every panel of a dashboard, rows' nested panels included.
fn all_panels(panels: &[Value]) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in panels {
        out.push(panel);
        if let Some(nested) = panel.get("panels").and_then(Value::as_array) {
            out.extend(all_panels(nested));
        }
    }
    out
}

fn dashboards_dir() -> PathBuf {
    repo_root().join("grafana/dashboards")
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Checks the dashboards' structure and records the names their queries use.
fn dashboard_uses(uses: &mut Uses) {
    let files = files_with_extension(&dashboards_dir(), "json");
    let mut uids: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).expect("readable dashboard");
        let dashboard: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
        let uid = dashboard["uid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| panic!("{name} has no uid"));
        if let Some(other) = uids.insert(uid.to_owned(), file.clone()) {
            panic!("{name} and {} share the uid {uid}", other.display());
        }
        assert!(
            dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name} has no title"
        );
        let panels = all_panels(items(&dashboard["panels"]));
        assert!(
            panels.iter().any(|p| p["type"] != "row"),
            "{name} has no panel"
        );

        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            for target in items(&panel["targets"]) {
                let Some(expr) = target["expr"].as_str() else {
                    continue;
                };
                let origin = Origin(format!(
                    "{name}, panel {title:?}, target {}",
                    target["refId"].as_str().unwrap_or("?")
                ));
                uses.add_expr(&substitute(expr, &origin), &origin);
            }
        }

        // Template variables: `label_values(<metric>, <label>)` reads a metric.
        for variable in items(&dashboard["templating"]["list"]) {
            let query = variable["query"]
                .as_str()
                .or_else(|| variable["query"]["query"].as_str())
                .unwrap_or_default();
            let origin = Origin(format!(
                "{name}, variable {}",
                variable["name"].as_str().unwrap_or("?")
            ));
            if let Some(args) = query
                .strip_prefix("label_values(")
                .and_then(|a| a.strip_suffix(')'))
                && let Some((metric, _label)) = args.rsplit_once(',')
            {
                uses.add_expr(&substitute(metric.trim(), &origin), &origin);
            }
        }
    }
    for (file, uid) in DASHBOARDS {
        assert_eq!(
            uids.get(uid),
            Some(&dashboards_dir().join(file)),
            "dashboard {file} with uid {uid} is missing; found {uids:?}"
        );
    }
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
}

/// Parses the alert rules, when the directory exists, and records the
/// names they use. Returns the number of rules.
fn rule_uses(uses: &mut Uses) -> usize {
    let mut count = 0;
    for file in files_with_extension(&repo_root().join("prometheus/rules"), "yml") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).expect("readable rule file");
        let rules: RuleFile = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} is not a Prometheus rule file: {e}"));
        for group in rules.groups {
            for rule in group.rules {
                let what = match (&rule.alert, &rule.record) {
                    (Some(alert), _) => format!("alert {alert}"),
                    (None, Some(record)) => format!("record {record}"),
                    (None, None) => panic!(
                        "{name}, group {}: a rule without alert or record",
                        group.name
                    ),
                };
                if let Some(record) = &rule.record {
                    uses.recorded.insert(record.clone());
                }
                uses.add_expr(&rule.expr, &Origin(format!("{name}, {what}")));
                count += 1;
            }
        }
    }
    count
}

/// Whether the service's sources declare `name` as a string literal.
fn declared_by_service(name: &str) -> bool {
    let dir = repo_root().join("crates/service/src");
    let literal = format!("\"{name}\"");
    files_with_extension(&dir, "rs")
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&literal)))
}

// ---------------------------------------------------------------------------
// Names on a running discguard's /metrics page.

/// Metric names on a Prometheus text page: every sample's name, and for
/// histograms and summaries (`# TYPE`) the base name too.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                names.insert(name.to_owned());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line
                .find(|c: char| c == '{' || c.is_whitespace())
                .unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Whether `name` is exported: itself, or as a histogram's or summary's
/// series (`_bucket`, `_sum`, `_count` of an exported base name).
fn is_exported(name: &str, exported: &BTreeSet<String>) -> bool {
    exported.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| exported.contains(base))
        })
}

/// Names used but neither exported nor otherwise accounted for.
fn missing<'a>(uses: &'a Uses, exported: &BTreeSet<String>) -> Vec<&'a str> {
    uses.names
        .keys()
        .map(String::as_str)
        .filter(|name| {
            !is_exported(name, exported)
                && !PROMETHEUS_SERIES.contains(name)
                && !uses.recorded.contains(*name)
                && !EVENT_ONLY.iter().any(|(n, _)| n == name)
        })
        .collect()
}

#[test]
fn dashboards_and_rules_are_valid_promql_with_known_names() {
    let mut uses = Uses::default();
    dashboard_uses(&mut uses);
    rule_uses(&mut uses);
    assert!(
        uses.names.keys().any(|n| n.starts_with("discguard_")),
        "the dashboards read no discguard metric"
    );
    // Without a running node: every name is a discguard name, a series
    // Prometheus writes, or recorded by a rule.
    for name in uses.names.keys() {
        assert!(
            name.starts_with("discguard_")
                || PROMETHEUS_SERIES.contains(&name.as_str())
                || uses.recorded.contains(name),
            "{name} is neither discguard's nor Prometheus's, used by {}",
            uses.origins(name)
        );
    }
}

/// A real discguard among real discv5 nodes exports every name the
/// dashboards and rules use. Three nodes share one /24 and the view admits
/// one node per /24, so that rejections and discv5-table evictions happen
/// and their counters exist; `/v1/peers` is asked so that the served scope
/// is measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_rules_use_only_exported_metrics() -> anyhow::Result<()> {
    let mut uses = Uses::default();
    dashboard_uses(&mut uses);
    let rules = rule_uses(&mut uses);

    let peer = HonestNode::start(Ipv4Addr::new(127, 203, 0, 1), 9000, &[], None).await?;
    let _crowd = honest::start_many(
        &[Ipv4Addr::new(127, 203, 0, 2), Ipv4Addr::new(127, 203, 0, 3)],
        9000,
        std::slice::from_ref(&peer.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;
    let ip = Ipv4Addr::new(127, 202, 0, 1);
    let metrics = free_tcp_addr(ip);
    let datadir = tempfile::tempdir()?;
    let config = datadir.path().join("discguard.toml");
    std::fs::write(&config, "[policy]\nbucket_narrow = 1\ntable_narrow = 1\n")?;
    let mut args = loopback_args(ip, 9000, &[peer.enr.to_base64()], datadir.path());
    set_flag(&mut args, "--metrics-address", metrics);
    set_flag(&mut args, "--config", config.display());
    let dg = start_discguard(ip, &args).await?;

    // Poll until a lookup has finished, the view holds a node and every
    // used name is exported, or the deadline passes.
    let url = format!("http://{metrics}/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let (text, exported) = loop {
        tick.tick().await;
        // Serving peers is what the served scope measures.
        let _ = dg.peers(32).await;
        let text = reqwest::get(&url).await?.text().await?;
        let exported = exported_names(&text);
        let ready = sample(&text, "discguard_lookups_total{outcome=\"ok\"}")
            .is_some_and(|n| n >= 1.0)
            && sample(&text, "discguard_view_entries").is_some_and(|n| n >= 1.0);
        if (ready && missing(&uses, &exported).is_empty()) || Instant::now() > deadline {
            assert!(
                ready,
                "no finished lookup or an empty view within 60 s\n{text}\n{}",
                dg.stderr_tail()
            );
            break (text, exported);
        }
    };

    let absent = missing(&uses, &exported);
    let report: Vec<String> = absent
        .iter()
        .map(|name| format!("  {name}  (used by {})", uses.origins(name)))
        .collect();
    assert!(
        absent.is_empty(),
        "{} metric name(s) used by the dashboards or the {rules} alert rules are not exported \
         by discguard:\n{}\n--- /metrics:\n{text}",
        absent.len(),
        report.join("\n")
    );
    for (name, why) in EVENT_ONLY {
        if uses.names.contains_key(name) && !is_exported(name, &exported) {
            assert!(
                declared_by_service(name),
                "{name} (not exported yet: {why}) is used by {} but not declared in \
                 crates/service/src",
                uses.origins(name)
            );
        }
    }

    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

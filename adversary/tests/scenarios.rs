//! The scenarios as a user runs them: the real `discguard-adversary` binary,
//! small networks of real discv5 nodes on loopback, the real `discguard`
//! binary and the two plain discv5 baselines as victims; each test reads the
//! `report.json` the run wrote.
//!
//! The `discguard` binary must be built (`cargo build -p discguard`;
//! `scripts/test.sh` builds every binary first).
//!
//! One scenario at a time (a lock): each runs ~100 discv5 nodes and three
//! victim processes, and the machine has two cores. Every run is bounded by
//! its `--duration` and stops by itself.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;

use discguard_adversary::report::Report;
use discguard_adversary::victims::Defense;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs the harness with `args` and `--out dir --quiet`.
fn run(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_discguard-adversary"))
        .args(args)
        .arg("--out")
        .arg(dir)
        .arg("--quiet")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run discguard-adversary")
}

/// Runs a scenario that must succeed and returns its report.
fn report_of(args: &[&str], dir: &Path) -> Report {
    let out = run(args, dir);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let report: Report = serde_json::from_str(&text).expect("report.json parses");
    assert!(
        report.check().is_empty(),
        "inconsistent: {:?}",
        report.check()
    );
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    for d in Defense::ALL {
        assert!(md.contains(d.name()), "report.md lacks {d}");
    }
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(&report.scenario),
        "summary on stdout: {summary}"
    );
    report
}

fn defenses(r: &Report) -> BTreeSet<Defense> {
    r.runs.iter().map(|x| x.defense).collect()
}

/// Sybil flood over G = 1 and 4 ASNs: every victim is measured in the same
/// run, the attack reaches the undefended table, discguard's served share
/// stays within 5 points of the diversity bound for G = 1 (design.md), the
/// bound grows with G, and the charts are drawn.
#[test]
fn sybil_flood_measures_all_victims_against_the_bound() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "sybil-flood",
            "--honest",
            "120",
            "--sybils",
            "32",
            "--sybil-groups",
            "1,4",
            "--duration",
            "20",
            "--sample-every",
            "5",
            "--seed",
            "3",
            "--port",
            "32100",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "sybil-flood");
    assert_eq!(r.network.honest, 120);
    assert_eq!(r.network.attackers, 32);
    assert_eq!(r.runs.len(), 6, "3 victims × 2 values of G");
    assert_eq!(defenses(&r), Defense::ALL.into_iter().collect());
    let bound = |g: usize| {
        let b: BTreeSet<String> = r
            .runs
            .iter()
            .filter(|x| x.sybil_groups == Some(g))
            .map(|x| format!("{:?}", x.attacker_share_bound))
            .collect();
        assert_eq!(b.len(), 1, "one bound per G: {b:?}");
        r.runs
            .iter()
            .find(|x| x.sybil_groups == Some(g))
            .and_then(|x| x.attacker_share_bound)
            .unwrap()
    };
    assert!(bound(4) > bound(1), "{} vs {}", bound(4), bound(1));
    for x in &r.runs {
        assert!(x.over_time.len() >= 4, "samples every 5 s for 20 s");
        assert!(x.counts.served.total > 0, "{} served nobody", x.defense);
        assert_eq!(
            x.attacker_share.view.is_some(),
            x.defense == Defense::Discguard
        );
        assert!(
            x.cost.is_some_and(|c| c.cpu_seconds > 0.0),
            "victim cost measured"
        );
    }
    let get = |d: Defense, g: usize| {
        r.runs
            .iter()
            .find(|x| x.defense == d && x.sybil_groups == Some(g))
            .unwrap()
    };
    // The attack reached the undefended victim.
    assert!(get(Defense::Discv5Default, 1).counts.table.attacker > 0);
    let dg = get(Defense::Discguard, 1);
    assert!(
        dg.attacker_share.served <= bound(1) + 0.05,
        "discguard served share {} vs A_max {}",
        dg.attacker_share.served,
        bound(1)
    );
    // 32 Sybils of one AS against a per-bucket ASN cap of 4: the counter,
    // read from discguard's /metrics, shows the cap at work.
    let rejected = dg
        .policy_rejections
        .as_ref()
        .and_then(|r| r.get("bucket_cap_asn"))
        .copied()
        .unwrap_or(0);
    assert!(rejected > 0, "rejections: {:?}", dg.policy_rejections);
    for chart in [
        "served-share-vs-groups.svg",
        "share-over-time-g1.svg",
        "share-over-time-g4.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join(chart)).expect(chart);
        assert!(svg.starts_with("<svg"), "{chart}");
        assert!(r.charts.iter().any(|c| c == chart));
    }
}

/// Mined IDs: the Sybils' node IDs share the leading bits with their
/// victim's, so they land in its near buckets.
#[test]
fn id_mining_fills_near_buckets_of_the_undefended_victim() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "id-mining",
            "--honest",
            "80",
            "--bits",
            "8",
            "--sybils-per-victim",
            "8",
            "--sybil-ips",
            "2",
            "--duration",
            "15",
            "--seed",
            "4",
            "--port",
            "32200",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "id-mining");
    assert_eq!(r.network.attackers, 24, "8 per victim");
    assert_eq!(r.runs.len(), 3);
    for x in &r.runs {
        let near = x.near_buckets.expect("near buckets measured");
        assert_eq!(near.bits, 8);
        assert_eq!(near.view.is_some(), x.defense == Defense::Discguard);
    }
    let default = r
        .runs
        .iter()
        .find(|x| x.defense == Defense::Discv5Default)
        .unwrap();
    let near = default.near_buckets.unwrap().table;
    assert!(
        near.attacker > 0,
        "mined Sybils in the near buckets: {near:?}"
    );
    // Eight IDs sharing 8 bits with the victim where 80 nodes leave 0.3
    // expected: the keyspace test of the undefended table flags them.
    let risk = default.risk.as_ref().expect("risk measured");
    let keyspace = risk.table.keyspace.expect("table tested");
    assert!(
        keyspace.anomalous && keyspace.p_value < 1e-3,
        "mined IDs flagged: {keyspace:?} (near buckets {near:?})"
    );
    assert_eq!(risk.table.eclipse_risk, 1.0, "a flag sets the risk to 1");
    assert!(r.parameters["mining_seconds"].as_f64().is_some());
}

/// False friends: every victim runs the same lookups for existing node IDs;
/// success and the attacker share of results are measured per victim.
#[test]
fn lookup_poisoning_measures_success_and_result_share() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "lookup-poisoning",
            "--honest",
            "80",
            "--poisoners",
            "0.2",
            "--sybils",
            "16",
            "--sybil-groups",
            "2",
            "--lookups",
            "6",
            "--duration",
            "10",
            "--seed",
            "5",
            "--port",
            "32300",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "lookup-poisoning");
    assert_eq!(r.network.poisoners, 16, "20% of 80");
    for x in &r.runs {
        let l = x.lookups.expect("lookups measured");
        assert_eq!(l.lookups, 6);
        assert!(l.results.total > 0, "{}: lookups found nodes", x.defense);
    }
    // Poisoners are in honest tables and answer with Sybils: some lookup
    // results are Sybils for at least one victim.
    assert!(
        r.runs
            .iter()
            .any(|x| x.lookups.is_some_and(|l| l.results.attacker > 0))
    );
}

/// No attack: rejections and entropy against the population.
#[test]
fn baseline_reports_diversity_against_the_population() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "baseline",
            "--honest",
            "80",
            "--duration",
            "10",
            "--seed",
            "6",
            "--port",
            "32400",
        ],
        dir.path(),
    );
    assert_eq!(r.network.attackers, 0);
    let population = r.parameters["population_entropy_nats"]["asn"]
        .as_f64()
        .unwrap();
    assert!(population > 1.0, "80 nodes over the real ASNs");
    for x in &r.runs {
        let d = x.diversity.expect("diversity measured");
        // Entropy over n members is at most ln n, and a majority needs at
        // least one ASN and at most half the members plus one.
        let n = x.counts.served.total;
        assert!(n > 0, "{} served nobody", x.defense);
        assert!(d.served.asn > 0.0 && d.served.asn <= (n as f64).ln() + 1e-9);
        assert!((1..=n / 2 + 1).contains(&d.served_asns_to_majority));
        assert_eq!(d.view.is_some(), x.defense == Defense::Discguard);
        assert_eq!(
            x.policy_rejections.is_some(),
            x.defense == Defense::Discguard
        );
        // Every victim's risk is measured; without an attack no keyspace
        // test fires, and 32 served peers over real ASNs are not eclipsed.
        let risk = x.risk.as_ref().expect("risk measured");
        assert_eq!(risk.view.is_some(), x.defense == Defense::Discguard);
        // Measured from its own /v1/peers call, just after the last sample.
        assert!((1..=32).contains(&risk.served.peers), "{risk:?}");
        assert!(risk.served.eclipse_risk < 0.5, "{}: {risk:?}", x.defense);
        for scope in [Some(&risk.table), risk.view.as_ref()]
            .into_iter()
            .flatten()
        {
            assert!(
                scope.keyspace.is_none_or(|k| !k.anomalous),
                "{}: false alarm {:?}",
                x.defense,
                scope.keyspace
            );
        }
    }
}

/// The keyspace flag over repeated runs: one run without attack and one
/// with mined IDs per victim; the counts add up, the undefended table is
/// flagged under attack and no table is flagged without one.
#[test]
fn keyspace_detection_counts_flags_over_runs() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "keyspace-detection",
            "--runs",
            "1",
            "--honest",
            "80",
            "--bits",
            "8",
            "--sybils-per-victim",
            "8",
            "--duration",
            "10",
            "--seed",
            "7",
            "--port",
            "32500",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "keyspace-detection");
    assert_eq!(r.runs.len(), 3);
    for x in &r.runs {
        let d = x.keyspace_detection.expect("detection counted");
        assert_eq!((d.attacked_runs, d.baseline_runs), (1, 1), "{}", x.defense);
        assert_eq!(d.false_alarms_table, 0, "{}: {d:?}", x.defense);
        if x.defense == Defense::Discv5Default {
            assert_eq!(d.detected_table, 1, "undefended table flagged: {d:?}");
        }
    }
    let per_run = r.parameters["per_run"].as_array().expect("per-run flags");
    assert_eq!(per_run.len(), 6, "3 victims × 2 phases");
}

/// Bad parameters are refused with a message naming them, before any node
/// starts.
#[test]
fn bad_parameters_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["sybil-flood", "--sybil-groups", "0"][..], "groups = 0"),
        (
            &[
                "sybil-flood",
                "--sybils",
                "300",
                "--group-kind",
                "slash24",
                "--sybil-groups",
                "1",
            ][..],
            "/24",
        ),
        (&["id-mining", "--bits", "40"][..], "--bits 40"),
        (&["sybil-flood", "--sybils", "0"][..], "--sybils 0"),
        (
            &["lookup-poisoning", "--poisoners", "1.5"][..],
            "--poisoners 1.5",
        ),
        (&["sybil-flood", "--sybil-groups", "4,4"][..], "repeats"),
        (&["baseline", "--served", "0"][..], "--served 0"),
        (&["baseline", "--bucket-fill", "17"][..], "--bucket-fill 17"),
        (&["sybil-flood", "--port", "65534"][..], "--port 65534"),
        (&["baseline", "--honest", "1"][..], "--honest 1"),
        (&["keyspace-detection", "--runs", "0"][..], "--runs 0"),
        (&["keyspace-detection", "--runs", "200"][..], "--runs 200"),
    ] {
        let out = run(args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

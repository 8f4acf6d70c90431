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

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use discguard_adversary::measure::halving;
use discguard_adversary::relay::{LossyRelay, RelayConfig, RelayCounts};
use discguard_adversary::report::{
    Counts, LookupEngine, MisbehavingHalving, Report, Sample, Shares,
};
use discguard_adversary::victims::Defense;
use tokio::net::UdpSocket;

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
/// success and the attacker share of results are measured per victim and
/// per lookup engine (discguard asked with one path and with three).
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
    assert_eq!(r.runs.len(), 3, "one network, three victims");
    for x in &r.runs {
        assert_eq!(x.poisoners, Some(0.2));
        let l = x.lookups.expect("lookups measured");
        assert_eq!(l.lookups, 6);
        assert!(l.results.total > 0, "{}: lookups found nodes", x.defense);
    }
    // One row per engine, each over the same six targets.
    let engines: Vec<LookupEngine> = r.lookup_engines.iter().map(|l| l.engine).collect();
    assert_eq!(engines, LookupEngine::ALL);
    for l in &r.lookup_engines {
        assert_eq!((l.poisoners, l.lookups), (0.2, 6), "{}", l.engine);
        let discguard = matches!(
            l.engine,
            LookupEngine::DiscguardSingle | LookupEngine::DiscguardDisjoint
        );
        // discguard's engine says how it ran; sigp's find_node does not.
        assert_eq!(l.summaries, if discguard { 6 } else { 0 }, "{}", l.engine);
        assert_eq!(l.mean_queries.is_some(), discguard, "{}", l.engine);
    }
    let single = &r.lookup_engines[0];
    assert_eq!(
        single.mean_agreement,
        Some(1.0),
        "one path agrees with itself"
    );
    // The discguard victim's run holds its default engine: disjoint paths.
    let dg = r
        .runs
        .iter()
        .find(|x| x.defense == Defense::Discguard)
        .unwrap();
    assert_eq!(dg.lookups.unwrap().found, r.lookup_engines[1].found);
    // Poisoners are in honest tables and answer with Sybils: some lookup
    // results are Sybils for at least one engine.
    assert!(r.lookup_engines.iter().any(|l| l.results.attacker > 0));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## Lookup engines under poisoning"));
    assert!(md.contains("Goal (issue 6): discguard-disjoint finds"));
    assert!(r.charts.iter().any(|c| c == "lookup-success.svg"));
    assert!(r.charts.iter().any(|c| c == "share-over-time-f0.2.svg"));
}

/// The engines compared over a sweep of f (one network per value, same
/// seed): the same targets for every engine at each f, and three disjoint
/// paths find at least as many targets as one.
#[test]
fn lookup_poisoning_sweeps_f_and_compares_engines() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "lookup-poisoning",
            "--honest",
            "80",
            "--poisoners",
            "0.1,0.3",
            "--sybils",
            "16",
            "--sybil-groups",
            "2",
            "--lookups",
            "10",
            "--duration",
            "10",
            "--seed",
            "12",
            "--port",
            "32800",
        ],
        dir.path(),
    );
    assert_eq!(r.runs.len(), 6, "3 victims × 2 values of f");
    assert_eq!(r.network.poisoners, 24, "30% of 80, the largest f");
    assert_eq!(r.lookup_engines.len(), 8, "4 engines × 2 values of f");
    for f in [0.1, 0.3] {
        let at = |e: LookupEngine| {
            r.lookup_engines
                .iter()
                .find(|l| l.poisoners == f && l.engine == e)
                .unwrap_or_else(|| panic!("no {e} at f = {f}"))
        };
        let (single, disjoint) = (
            at(LookupEngine::DiscguardSingle),
            at(LookupEngine::DiscguardDisjoint),
        );
        assert!(
            disjoint.success_rate >= single.success_rate,
            "f = {f}: disjoint {} vs single {}",
            disjoint.success_rate,
            single.success_rate
        );
        // Three paths ask more nodes than one.
        assert!(
            disjoint.mean_queries > single.mean_queries,
            "f = {f}: {:?} vs {:?} queries",
            disjoint.mean_queries,
            single.mean_queries
        );
        for e in LookupEngine::ALL {
            assert_eq!(at(e).lookups, 10);
        }
    }
    // Poison reaches what sigp's find_node returns at every f.
    for l in &r.lookup_engines {
        if l.engine == LookupEngine::Discv5Default {
            assert!(
                l.results.attacker > 0,
                "f = {}: {:?}",
                l.poisoners,
                l.results
            );
        }
    }
    let svg = std::fs::read_to_string(dir.path().join("lookup-success.svg")).unwrap();
    for e in LookupEngine::ALL {
        assert!(svg.contains(e.name()), "{e} in the chart's legend");
    }
}

/// Poisoners lose their place in discguard's view and not in plain
/// discv5's tables: 20% of 300 honest-looking nodes answer FINDNODE with 64
/// Sybils on 4 ASes. No single answer is crowded (4 per AS), but every
/// window of 20–32 records a poisoner or Sybil returns shares groups far
/// more often than the network's records do (`clustered_answers`, −20):
/// one or two answers evict it, and a newcomer to the view is judged by its
/// first probe. The share of misbehaving nodes in discguard's view halves
/// within the run (seed 3, release build on an idle machine: 25.9% at 35 s,
/// halved 40 s later, 8.6% at the end) while the plain discv5 tables keep
/// theirs (36% → 30%, 35% → 31%); the test asserts the halving, not its
/// time. No honest node is banned, and at most one is at or below the
/// eviction threshold when the run ends (0.007% of honest windows are
/// falsely flagged; in that run the lowest honest score was +1).
#[test]
fn poisoners_lose_their_place_in_discguards_view_not_in_plain_discv5() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "lookup-poisoning",
            "--honest",
            "300",
            "--poisoners",
            "0.2",
            "--sybils",
            "64",
            "--sybil-groups",
            "4",
            "--lookups",
            "1",
            "--duration",
            "150",
            "--seed",
            "3",
            "--port",
            "32950",
        ],
        dir.path(),
    );
    assert_eq!(r.runs.len(), 3);
    for x in &r.runs {
        let bans = x.bans.as_ref().expect("ban list");
        assert_eq!(bans.false_bans, 0, "{}: honest nodes banned", x.defense);
        let h = x.halving.expect("halving computed");
        match x.defense {
            Defense::Discguard => {
                let view = h.view.expect("discguard has a view");
                assert!(view.peak_share > 0.0, "poisoners reached the view");
                assert!(
                    view.halved_after_seconds.is_some() && view.end_share <= view.peak_share / 2.0,
                    "discguard's view kept its poisoners: {view:?}"
                );
                let events = x.score_events.as_ref().expect("score events read");
                assert!(
                    events.get("clustered_answers").copied().unwrap_or(0) > 0,
                    "{events:?}"
                );
                let scores = x.scores.as_ref().expect("saved scores read");
                assert!(scores.attacker.evicted > 0, "{scores:?}");
                assert!(
                    scores.honest.evicted <= 1,
                    "honest nodes evicted: {scores:?}"
                );
            }
            _ => {
                assert!(x.scores.is_none() && x.score_events.is_none());
                assert!(
                    h.table.peak_share > 0.0 && h.table.halved_after_seconds.is_none(),
                    "{}: plain discv5 has nothing to drop poisoners for: {:?}",
                    x.defense,
                    h.table
                );
            }
        }
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for section in ["## Scores at the end", "## Score events"] {
        assert!(md.contains(section), "report.md lacks {section}");
    }
}

/// Targeted poisoning (Sybils mined 10 bits next to each target, 20% of
/// the nodes poisoning): a poisoner leads a single path among Sybils nearer
/// the target than any honest node, where it ends without the target;
/// three disjoint paths find it through the paths the poisoners missed.
/// Seeded, on an idle machine: 10 of 10 against 7 of 10 (seeds 2 and 3: 10
/// against 6 and 8). Which nodes the victims know after the warm-up
/// depends on timing, and on a loaded machine one path once found 10 of 10
/// too, so the test asserts "never worse, and nearly all", not "strictly
/// better"; the 1,000-node runs in docs/adversary.md measure the gap.
#[test]
fn disjoint_paths_beat_one_path_under_targeted_poisoning() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "lookup-poisoning",
            "--honest",
            "200",
            "--poisoners",
            "0.2",
            "--mined-bits",
            "10",
            "--mined-per-target",
            "16",
            "--lookups",
            "10",
            "--duration",
            "20",
            "--seed",
            "1",
            "--port",
            "32850",
        ],
        dir.path(),
    );
    let at = |e: LookupEngine| {
        r.lookup_engines
            .iter()
            .find(|l| l.engine == e)
            .unwrap_or_else(|| panic!("no {e}"))
    };
    let (single, disjoint) = (
        at(LookupEngine::DiscguardSingle),
        at(LookupEngine::DiscguardDisjoint),
    );
    assert!(
        disjoint.found >= single.found,
        "disjoint {} vs single {} of 10",
        disjoint.found,
        single.found
    );
    assert!(
        disjoint.found >= 9,
        "disjoint found {} of 10",
        disjoint.found
    );
    assert_eq!(r.parameters["mined_bits"], 10);
    assert_eq!(r.network.attackers, 160, "16 mined Sybils per target");
}

/// Honest observers of discguard's lookups, no attack: in `prefix` mode
/// every observed lookup stays consistent with the target's whole p-bit
/// subtree (observers never learn more than the prefix), and at the
/// largest fraction of observers `off` names the target more often than
/// `prefix`.
#[test]
fn query_observer_prefix_reveals_no_more_than_the_subtree() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "query-observer",
            "--honest",
            "80",
            "--modes",
            "off,prefix",
            "--lookups",
            "8",
            "--duration",
            "10",
            "--seed",
            "9",
            "--port",
            "32900",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "query-observer");
    assert_eq!(r.network.attackers, 0);
    let o = r.observer.as_ref().expect("observer section");
    assert_eq!(o.known_ids, 83, "80 honest nodes and 3 victims");
    let sizes: Vec<(f64, usize)> = o.observer_sets.clone();
    assert_eq!(sizes, [(0.01, 1), (0.05, 4), (0.1, 8), (0.2, 16)]);
    for m in &o.modes {
        assert_eq!(m.lookups, 8, "{}", m.mode);
        assert_eq!(
            m.privacy.as_deref(),
            Some(m.mode.as_str()),
            "the engine ran it"
        );
        assert_eq!(m.analysed, 8, "{}: {:?}", m.mode, m.problems);
    }
    assert_eq!(o.lookups.len(), 16);
    for l in &o.lookups {
        for x in &l.exposure {
            let e = &x.exposure;
            assert!(e.real_holds_target, "{} {}: {e:?}", l.mode, l.target);
            if l.mode == "prefix" {
                let subtree = l.target_subtree.expect("prefix: subtree counted");
                assert!(l.revealed_bits < 256);
                assert_eq!(e.real_holds_subtree, Some(true), "{}: {e:?}", l.target);
                assert!(e.anonymity_set >= subtree, "{e:?} vs subtree {subtree}");
                assert!(e.naming_probability <= 1.0 / subtree as f64 + 1e-12);
            }
        }
    }
    let f_max = 0.2;
    let naming = |mode: &str| o.at(mode, f_max).unwrap().means.naming_probability;
    assert!(
        naming("off") > naming("prefix"),
        "off {} vs prefix {}",
        naming("off"),
        naming("prefix")
    );
    // The baselines' success is reported beside discguard's modes.
    for x in &r.runs {
        assert_eq!(x.lookups.is_some(), x.defense != Defense::Discguard);
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## Query privacy against observers"));
    assert!(md.contains("Goal (issue 6): at f = 0.2"));
    let svg = std::fs::read_to_string(dir.path().join("naming-probability.svg")).unwrap();
    assert!(svg.contains("prefix") && svg.contains("off"));
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
        (&["flaky-honest", "--flaky", "1.5"][..], "--flaky 1.5"),
        (
            &["flaky-honest", "--loss-min", "0.5", "--loss-max", "0.2"][..],
            "--loss-min 0.5",
        ),
        (&["flaky-honest", "--loss-max", "2"][..], "--loss-max 2"),
        (
            &["lookup-poisoning", "--poisoners", "0.1,0.1"][..],
            "repeats 0.1",
        ),
        (
            &["query-observer", "--observers", "1.5"][..],
            "--observers 1.5 is out of range",
        ),
        (&["query-observer", "--observers", "0"][..], "--observers 0"),
        (&["query-observer", "--modes", "bogus"][..], "--modes"),
        (&["query-observer", "--modes", "off,off"][..], "repeats off"),
        (&["query-observer", "--cover", "0"][..], "--cover 0"),
        (&["query-observer", "--lookups", "0"][..], "--lookups 0"),
    ] {
        let out = run(args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Flaky honest nodes behind lossy relays, no attack: the relays lose
/// packets at the drawn rates, the flaky nodes still reach every victim's
/// table through them, and no victim bans one (the goal of issue 5: false
/// bans = 0). The plain discv5 baselines serve an empty ban list; discguard
/// without scoring serves none (404: recorded as absent).
#[test]
fn flaky_honest_nodes_are_not_banned() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        &[
            "flaky-honest",
            "--honest",
            "60",
            "--duration",
            "10",
            "--seed",
            "8",
            "--port",
            "32700",
        ],
        dir.path(),
    );
    assert_eq!(r.scenario, "flaky-honest");
    assert_eq!(r.network.attackers, 0);
    assert_eq!(r.runs.len(), 3);
    let f = r.flaky.as_ref().expect("flaky network reported");
    assert_eq!(f.flaky_nodes, (0.2f64 * 60.0).round() as usize);
    assert_eq!((f.honest, f.fraction), (60, 0.2));
    assert_eq!(f.nodes.len(), f.flaky_nodes, "every flaky node listed");
    assert!(f.nodes.iter().all(|n| (0.1..=0.3).contains(&n.loss)));
    // The victims' traffic went through the relays, and they lost about
    // what the drawn rates say (a few hundred packets: a wide band).
    assert!(
        f.relay.to_node > 0 && f.relay.from_node > 0,
        "{:?}",
        f.relay
    );
    assert!(
        (f.realised_loss - f.expected_loss).abs() < 0.08,
        "realised {} vs expected {}",
        f.realised_loss,
        f.expected_loss
    );
    for x in &r.runs {
        let v = x.flaky.as_ref().expect("flaky counts per victim");
        assert_eq!(
            v.flaky_banned.unwrap_or(0),
            0,
            "{}: flaky banned",
            x.defense
        );
        assert_eq!(
            v.honest_banned.unwrap_or(0),
            0,
            "{}: honest banned",
            x.defense
        );
        // Reachable through their relays: in every victim's table.
        assert!(
            v.table.flaky > 0,
            "{}: no flaky node in {:?}",
            x.defense,
            v.table
        );
        assert!(v.table.flaky <= f.flaky_nodes && v.table.flaky <= v.table.total);
        assert_eq!(v.scores.is_some(), x.defense == Defense::Discguard);
        if x.defense == Defense::Discguard {
            let s = v.scores.unwrap();
            assert_eq!(
                s.flaky.entries,
                v.view.unwrap().flaky,
                "a score for every flaky view entry"
            );
        } else {
            // The baselines serve /v1/bans, empty, at every sample too.
            let b = x.bans.as_ref().expect("baseline ban list");
            assert_eq!((b.total, b.false_bans), (0, 0));
            assert!(x.over_time.iter().all(|s| s.bans.is_some()));
            assert_eq!(v.flaky_banned, Some(0));
        }
        // No attack: nothing misbehaving ever held a place.
        let h = x.halving.expect("halving computed");
        assert_eq!(h.table.peak_share, 0.0);
        assert_eq!(h.table.halved_after_seconds, None);
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for section in [
        "## Bans",
        "## Flaky honest nodes",
        "## Misbehaving nodes losing their place",
    ] {
        assert!(md.contains(section), "report.md lacks {section}");
    }
}

/// Waits until the relay's counts satisfy `done` (a safety timeout only).
async fn counts_when(
    rx: &mut tokio::sync::watch::Receiver<RelayCounts>,
    done: impl FnMut(&RelayCounts) -> bool,
) -> RelayCounts {
    *tokio::time::timeout(Duration::from_secs(5), rx.wait_for(done))
        .await
        .expect("relay counts in time")
        .expect("relay running")
}

/// Packets through a lossy relay, one at a time: two peers send to the
/// front address, an echo server sits at the node's address. Each packet
/// reaches the node (from that peer's own relay socket) unless the relay
/// dropped it, and each echo reaches the peer that sent the packet (from
/// the front address) unless dropped; the relay's counts are exactly what
/// arrived, and the realised loss is within a binomial band of the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_relay_drops_at_its_rate_and_routes_both_ways() {
    const PACKETS: u64 = 2000;
    for (loss, port) in [(0.3, 32600u16), (0.0, 32601)] {
        let ip = |c: u8, d: u8| IpAddr::V4(Ipv4Addr::new(127, 126, c, d));
        let front = SocketAddr::new(ip(250, 1), port);
        let node = SocketAddr::new(ip(250, 2), port);
        let relay = LossyRelay::start(RelayConfig {
            front,
            node,
            peer_ip: ip(250, 3),
            loss,
            seed: 42,
            max_peers: 4,
        })
        .await
        .unwrap();
        let echo = UdpSocket::bind(node).await.unwrap();
        let peers = [
            UdpSocket::bind(SocketAddr::new(ip(251, 1), 0))
                .await
                .unwrap(),
            UdpSocket::bind(SocketAddr::new(ip(252, 1), 0))
                .await
                .unwrap(),
        ];
        let mut rx = relay.watch();
        let mut seen_from: HashMap<usize, SocketAddr> = HashMap::new();
        let (mut at_node, mut at_peers) = (0u64, [0u64; 2]);
        let (mut buf, mut back) = ([0u8; 64], [0u8; 64]);
        for i in 0..PACKETS {
            let who = (i % 2) as usize;
            let msg = format!("{who}:{i}");
            let before = relay.counts();
            peers[who].send_to(msg.as_bytes(), front).await.unwrap();
            let c = counts_when(&mut rx, |c| c.to_node > i).await;
            if c.to_node_dropped > before.to_node_dropped {
                continue;
            }
            let (n, from) = tokio::time::timeout(Duration::from_secs(5), echo.recv_from(&mut buf))
                .await
                .expect("forwarded packet arrives")
                .unwrap();
            assert_eq!(&buf[..n], msg.as_bytes(), "in order, unchanged");
            at_node += 1;
            // Each peer has its own relay socket, on the relay address.
            assert_eq!(from.ip(), ip(250, 3));
            assert_eq!(*seen_from.entry(who).or_insert(from), from);
            echo.send_to(&buf[..n], from).await.unwrap();
            let c = counts_when(&mut rx, |c| c.from_node == at_node).await;
            if c.from_node_dropped > before.from_node_dropped {
                continue;
            }
            let (n, src) =
                tokio::time::timeout(Duration::from_secs(5), peers[who].recv_from(&mut back))
                    .await
                    .expect("echo arrives")
                    .unwrap();
            assert_eq!(src, front, "answers come from the front address");
            assert_eq!(&back[..n], msg.as_bytes(), "to the peer that sent it");
            at_peers[who] += 1;
        }
        assert_ne!(seen_from[&0], seen_from[&1], "one relay socket per peer");
        let c = relay.counts();
        assert_eq!(c.to_node, PACKETS);
        assert_eq!(c.to_node - c.to_node_dropped, at_node, "{c:?}");
        assert_eq!(c.from_node, at_node);
        assert_eq!(c.from_node - c.from_node_dropped, at_peers[0] + at_peers[1]);
        assert_eq!((c.errors, c.peers_evicted), (0, 0));
        for (what, dropped, of) in [
            ("to the node", c.to_node_dropped, c.to_node),
            ("from the node", c.from_node_dropped, c.from_node),
        ] {
            let realised = dropped as f64 / of as f64;
            assert!(
                (realised - loss).abs() <= 0.05,
                "loss {loss}: realised {realised} {what} ({dropped} of {of})"
            );
        }
        if loss == 0.0 {
            assert_eq!(c.dropped(), 0);
            assert_eq!(at_peers, [PACKETS / 2, PACKETS / 2]);
        }
    }
}

/// A relay with room for one peer closes the older peer's socket when a
/// second peer arrives, and opens a fresh one when the first returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_relay_evicts_the_oldest_peer() {
    let ip = |c: u8, d: u8| IpAddr::V4(Ipv4Addr::new(127, 126, c, d));
    let (front, node) = (
        SocketAddr::new(ip(253, 1), 32602),
        SocketAddr::new(ip(253, 2), 32602),
    );
    let relay = LossyRelay::start(RelayConfig {
        front,
        node,
        peer_ip: ip(253, 3),
        loss: 0.0,
        seed: 1,
        max_peers: 1,
    })
    .await
    .unwrap();
    let echo = UdpSocket::bind(node).await.unwrap();
    let a = UdpSocket::bind(SocketAddr::new(ip(254, 1), 0))
        .await
        .unwrap();
    let b = UdpSocket::bind(SocketAddr::new(ip(254, 2), 0))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let mut sources = Vec::new();
    for (i, peer) in [&a, &b, &a].into_iter().enumerate() {
        peer.send_to(b"x", front).await.unwrap();
        let (_, from) = tokio::time::timeout(Duration::from_secs(5), echo.recv_from(&mut buf))
            .await
            .expect("forwarded")
            .unwrap();
        sources.push(from);
        let mut rx = relay.watch();
        counts_when(&mut rx, |c| c.to_node == i as u64 + 1).await;
    }
    // a, then b (a's socket closed), then a again (b's closed): every
    // packet forwarded, from the relay address.
    assert_eq!(relay.counts().peers_evicted, 2);
    assert_eq!(relay.counts().to_node, 3);
    assert!(sources.iter().all(|s| s.ip() == ip(253, 3)));
}

fn sample(t: f64, table: f64, view: Option<f64>, served: f64) -> Sample {
    Sample {
        t_seconds: t,
        counts: Counts::default(),
        shares: Shares {
            table,
            view,
            served,
        },
        bans: None,
    }
}

/// Halving times from synthetic samples: the peak (first sample at the
/// highest share), then the first later sample at or below half of it.
#[test]
fn halving_times_from_samples() {
    let h = halving(&[
        (0.0, 0.1),
        (5.0, 0.4),
        (10.0, 0.4),
        (15.0, 0.25),
        (20.0, 0.2),
        (25.0, 0.1),
    ])
    .unwrap();
    assert_eq!((h.peak_share, h.peak_t_seconds), (0.4, 5.0));
    assert_eq!(
        h.halved_after_seconds,
        Some(15.0),
        "0.2 ≤ 0.4 / 2 at t = 20"
    );
    assert_eq!(h.end_share, 0.1);
    // Never halves: 0.21 > 0.2.
    let h = halving(&[(0.0, 0.4), (5.0, 0.3), (10.0, 0.21)]).unwrap();
    assert_eq!(h.halved_after_seconds, None);
    assert_eq!(h.end_share, 0.21);
    // A share before the peak does not count as halving.
    let h = halving(&[(0.0, 0.0), (5.0, 0.5), (10.0, 0.3)]).unwrap();
    assert_eq!(h.halved_after_seconds, None);
    // Peak at the last sample: nothing after it.
    let h = halving(&[(0.0, 0.1), (5.0, 0.6)]).unwrap();
    assert_eq!((h.peak_t_seconds, h.halved_after_seconds), (5.0, None));
    // Never any misbehaving node: no halving to report.
    let h = halving(&[(0.0, 0.0), (5.0, 0.0)]).unwrap();
    assert_eq!((h.peak_share, h.halved_after_seconds), (0.0, None));
    assert!(halving(&[]).is_none());

    // Per set, from a victim's samples; the view only where there is one.
    let samples = [
        sample(0.0, 0.5, Some(0.2), 0.3),
        sample(5.0, 0.5, Some(0.1), 0.1),
        sample(10.0, 0.2, Some(0.0), 0.1),
    ];
    let m = MisbehavingHalving::of(&samples).unwrap();
    assert_eq!(m.table.halved_after_seconds, Some(10.0));
    assert_eq!(m.view.unwrap().halved_after_seconds, Some(5.0));
    assert_eq!(m.served.halved_after_seconds, Some(5.0));
    let no_view = [sample(0.0, 0.5, None, 0.3), sample(5.0, 0.1, None, 0.3)];
    let m = MisbehavingHalving::of(&no_view).unwrap();
    assert!(m.view.is_none());
    assert_eq!(m.served.halved_after_seconds, None);
    assert!(MisbehavingHalving::of(&[]).is_none());
}

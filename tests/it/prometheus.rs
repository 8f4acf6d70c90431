//! A real Prometheus scrapes a real discguard and loads the repository's
//! alerting rules: discguard (127.200.0.1, one sigp discv5 peer on
//! 127.201.0.1) exports `discguard_eclipse_risk{scope="view"}` in [0,1]
//! under its metrics address as `instance`; Prometheus (127.200.0.2, 1 s
//! scrape and rule evaluation) loads the `discguard` rule group with every
//! alert, evaluates each rule without error against the scraped series, and
//! holds `DiscguardViewTooSmall` pending for a one-peer view. Needs the
//! `prometheus` binary (Debian package `prometheus`, installed by
//! `scripts/test.sh`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use discguard_adversary::honest::HonestNode;
use discguard_tests::{free_tcp_addr, loopback_args, repo_root, set_flag, start_discguard};
use serde_json::Value;

/// The query the test waits for.
const QUERY: &str = r#"discguard_eclipse_risk{scope="view"}"#;

/// Every alert of `prometheus/rules/discguard.rules.yml`.
const ALERTS: [&str; 6] = [
    "DiscguardEclipseRiskHigh",
    "DiscguardFewGroupsToMajority",
    "DiscguardKeyspaceAnomaly",
    "DiscguardViewTooSmall",
    "DiscguardNoSuccessfulLookup",
    "DiscguardDown",
];

/// How long Prometheus may take to scrape, evaluate and answer.
const DEADLINE: Duration = Duration::from_secs(60);

/// `prometheus.yml`: scrape `target` as job `discguard` every second and
/// evaluate `rules` every second.
fn prometheus_config(target: SocketAddr, rules: &Path) -> anyhow::Result<String> {
    // A JSON string is a valid YAML double-quoted scalar: safe for any path.
    let rules = serde_json::to_string(&rules.display().to_string())?;
    Ok(format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: discguard
    static_configs:
      - targets: [\"{target}\"]
"
    ))
}

/// The `data` of a Prometheus API answer, or why there is none yet.
async fn api(client: &reqwest::Client, url: &str, query: &[(&str, &str)]) -> Result<Value, String> {
    let resp = client
        .get(url)
        .query(query)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("GET {url}: {status}, body is not JSON: {e}"))?;
    match body.get("status").and_then(Value::as_str) {
        Some("success") => Ok(body.get("data").cloned().unwrap_or(Value::Null)),
        _ => Err(format!("GET {url}: {status} {body}")),
    }
}

/// The last lines of Prometheus' log, for failure messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_discguard_and_loads_the_alerting_rules() -> anyhow::Result<()> {
    let peer = HonestNode::start(Ipv4Addr::new(127, 201, 0, 1), 9000, &[], None).await?;
    let ip = Ipv4Addr::new(127, 200, 0, 1);
    let metrics = free_tcp_addr(ip);
    let datadir = tempfile::tempdir()?;
    let mut args = loopback_args(ip, 9000, &[peer.enr.to_base64()], datadir.path());
    set_flag(&mut args, "--metrics-address", metrics);
    let dg = start_discguard(ip, &args).await?;

    let rules_file: PathBuf = repo_root()
        .join("prometheus/rules/discguard.rules.yml")
        .canonicalize()
        .context("prometheus/rules/discguard.rules.yml")?;
    let prom_dir = tempfile::tempdir()?;
    let config = prom_dir.path().join("prometheus.yml");
    std::fs::write(&config, prometheus_config(metrics, &rules_file)?)?;
    let log = prom_dir.path().join("prometheus.log");
    let web = free_tcp_addr(Ipv4Addr::new(127, 200, 0, 2));
    let mut prometheus = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(prom_dir.path().join("stdout.log"))?)
        .stderr(std::fs::File::create(&log)?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start `prometheus` ({e}): install the Debian package `prometheus`, \
                 as scripts/test.sh does"
            )
        })?;

    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let base = format!("http://{web}/api/v1");
    let deadline = Instant::now() + DEADLINE;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last = String::from("no answer yet");

    // 1. The headline risk of the view, scraped from discguard.
    let sample = loop {
        tick.tick().await;
        if let Some(status) = prometheus.try_wait()? {
            panic!(
                "prometheus exited ({status}) before answering; its log:\n{}",
                log_tail(&log)
            );
        }
        match api(&client, &format!("{base}/query"), &[("query", QUERY)]).await {
            Ok(data) => match data.pointer("/result/0") {
                Some(sample) => break sample.clone(),
                None => last = format!("{QUERY} returned no sample: {data}"),
            },
            Err(e) => last = e,
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never returned {QUERY} within {DEADLINE:?}; last: {last}\n\
             discguard stderr:\n{}\nprometheus log:\n{}",
            dg.stderr_tail(),
            log_tail(&log)
        );
    };
    let value: f64 = sample
        .pointer("/value/1")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no numeric value in {sample}"))?;
    assert!(
        (0.0..=1.0).contains(&value),
        "{QUERY} must be in [0,1], got {value}: {sample}"
    );
    assert_eq!(
        sample.pointer("/metric/instance").and_then(Value::as_str),
        Some(metrics.to_string().as_str()),
        "instance label is discguard's metrics address: {sample}"
    );
    assert_eq!(
        sample.pointer("/metric/job").and_then(Value::as_str),
        Some("discguard"),
        "job label: {sample}"
    );

    // 2. The rule group is loaded with every alert, and every rule has been
    // evaluated against the scraped series without error (health "ok").
    loop {
        tick.tick().await;
        let group = match api(&client, &format!("{base}/rules"), &[("type", "alert")]).await {
            Ok(data) => data
                .get("groups")
                .and_then(Value::as_array)
                .and_then(|gs| {
                    gs.iter()
                        .find(|g| g.get("name").and_then(Value::as_str) == Some("discguard"))
                })
                .cloned(),
            Err(e) => {
                last = e;
                None
            }
        };
        if let Some(group) = group {
            let rules = group
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let names: Vec<&str> = rules
                .iter()
                .filter_map(|r| r.get("name").and_then(Value::as_str))
                .collect();
            for alert in ALERTS {
                assert!(
                    names.contains(&alert),
                    "rule group discguard lacks {alert}: {names:?}"
                );
            }
            assert_eq!(
                names.len(),
                ALERTS.len(),
                "rule group discguard has exactly the documented alerts: {names:?}"
            );
            for rule in &rules {
                assert_ne!(
                    rule.get("health").and_then(Value::as_str),
                    Some("err"),
                    "rule failed to evaluate: {rule}"
                );
            }
            if rules
                .iter()
                .all(|r| r.get("health").and_then(Value::as_str) == Some("ok"))
            {
                break;
            }
            last = format!("not every rule evaluated yet: {group}");
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never reported the discguard rule group healthy within {DEADLINE:?}; \
             last: {last}\nprometheus log:\n{}",
            log_tail(&log)
        );
    }

    // 3. The rules see the real series: a one-peer view is below 16 entries,
    // so DiscguardViewTooSmall is pending (it would fire after 15 minutes).
    loop {
        tick.tick().await;
        match api(&client, &format!("{base}/alerts"), &[]).await {
            Ok(data) => {
                let pending = data
                    .get("alerts")
                    .and_then(Value::as_array)
                    .is_some_and(|alerts| {
                        alerts.iter().any(|a| {
                            a.pointer("/labels/alertname").and_then(Value::as_str)
                                == Some("DiscguardViewTooSmall")
                                && a.pointer("/labels/instance").and_then(Value::as_str)
                                    == Some(metrics.to_string().as_str())
                                && a.get("state").and_then(Value::as_str) == Some("pending")
                        })
                    });
                if pending {
                    break;
                }
                last = format!("DiscguardViewTooSmall not pending: {data}");
            }
            Err(e) => last = e,
        }
        assert!(
            Instant::now() < deadline,
            "DiscguardViewTooSmall never became pending within {DEADLINE:?}; last: {last}\n\
             prometheus log:\n{}",
            log_tail(&log)
        );
    }

    prometheus.kill().await?;
    assert!(
        dg.terminate(Duration::from_secs(10)).await?.success(),
        "discguard stops cleanly"
    );
    drop(peer);
    Ok(())
}

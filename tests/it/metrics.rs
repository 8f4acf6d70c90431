//! The Prometheus endpoint of a running discguard passes `promtool check
//! metrics` (Debian package `prometheus`), and carries the metrics the
//! issue names.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use discguard_adversary::honest::HonestNode;
use discguard_tests::{free_tcp_addr, loopback_args, set_flag, start_discguard};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_cover_view_table_policy_sessions_lookups() -> anyhow::Result<()>
{
    let peer = HonestNode::start(Ipv4Addr::new(127, 161, 0, 1), 9000, &[], None).await?;
    let ip = Ipv4Addr::new(127, 160, 0, 1);
    let metrics = free_tcp_addr(ip);
    let datadir = tempfile::tempdir()?;
    // An ASN database in ip-location-db's CSV form that puts the peer's /16
    // in a private-use AS.
    let asn_db = datadir.path().join("asn.csv");
    std::fs::write(&asn_db, "127.161.0.0,127.161.255.255,64999,Example Net\n")?;
    let mut args = loopback_args(ip, 9000, &[peer.enr.to_base64()], datadir.path());
    args.extend(["--asn-db".to_owned(), asn_db.display().to_string()]);
    set_flag(&mut args, "--metrics-address", metrics);
    let dg = start_discguard(ip, &args).await?;

    // Wait until the peer is in the view and a lookup has finished, so that
    // the labelled series exist.
    let url = format!("http://{metrics}/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let text = loop {
        tick.tick().await;
        let text = reqwest::get(&url).await?.text().await?;
        let lookups_ok = discguard_tests::sample(&text, "discguard_lookups_total{outcome=\"ok\"}");
        if text.contains("discguard_view_entries 1") && lookups_ok.is_some_and(|n| n >= 1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the peer:\n{text}"
        );
    };

    for name in [
        "discguard_view_entries",
        "discguard_view_bucket_entries{bucket=",
        "discguard_table_entries",
        "discguard_table_bucket_entries{bucket=",
        "discguard_view_groups{kind=\"asn\"}",
        "discguard_sessions_established_total",
        "discguard_lookups_total",
        "discguard_lookup_duration_seconds_bucket",
        "discguard_lookup_result_nodes_bucket",
        "discguard_asn_database_loaded 1",
        "discguard_asn_database_entries 1",
        "discguard_admissions_total{table=\"view\"}",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            line.starts_with("discguard_"),
            "every metric is prefixed discguard_: {line}"
        );
    }
    assert!(
        text.contains("# HELP discguard_view_entries"),
        "metrics are described"
    );

    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by the README test command (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .await?;
    let out = promtool.wait_with_output().await?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics reported:\n{report}\n---\n{text}"
    );

    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

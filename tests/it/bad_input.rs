//! Bad input ends the start with a message naming the value and exit code
//! 2, never a panic.

use std::net::Ipv4Addr;
use std::process::Output;
use std::time::Duration;

use discguard_tests::{discguard_bin, free_tcp_addr, free_udp_port};

const VALID_ENR: &str = "enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo";

/// Runs discguard with `args` on its own loopback address and free ports;
/// it must exit by itself (bounded by a timeout).
async fn run(ip: Ipv4Addr, args: &[&str], env: &[(&str, &str)]) -> Output {
    let datadir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(discguard_bin().unwrap());
    cmd.args([
        "--allow-private-addresses",
        "--datadir",
        &datadir.path().display().to_string(),
    ]);
    let defaults = [
        ("--network", "none".to_owned()),
        ("--listen-address", ip.to_string()),
        ("--discovery-port", free_udp_port(ip).to_string()),
        ("--http-address", free_tcp_addr(ip).to_string()),
        ("--metrics-address", free_tcp_addr(ip).to_string()),
    ];
    for (flag, value) in defaults {
        let from_env = env.iter().any(|(k, _)| *k == "DISCGUARD_NETWORK") && flag == "--network";
        if !args.contains(&flag) && !from_env {
            cmd.args([flag, &value]);
        }
    }
    cmd.args(args).envs(env.iter().copied()).kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("discguard exits by itself on bad input")
        .unwrap()
}

fn assert_bad_input(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2 for bad input; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(needle),
        "stderr names {needle:?}:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic:\n{stderr}");
}

#[tokio::test]
async fn malformed_bootnode_enr_is_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 1);
    let bad = "enr:-not-a-record";
    let out = run(ip, &["--bootnodes", &format!("{VALID_ENR},{bad}")], &[]).await;
    assert_bad_input(&out, bad);
    assert_bad_input(&out, "entry 2");
}

#[tokio::test]
async fn malformed_enr_in_config_file_and_env_is_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 2);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("discguard.toml");
    std::fs::write(&config, "bootnodes = [\"enr:-broken\"]\n").unwrap();
    let out = run(ip, &["--config", config.to_str().unwrap()], &[]).await;
    assert_bad_input(&out, "enr:-broken");

    let out = run(ip, &[], &[("DISCGUARD_BOOTNODES", "enr:-from-env")]).await;
    assert_bad_input(&out, "enr:-from-env");
}

#[tokio::test]
async fn bad_config_values_are_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("discguard.toml");
    // (Flags beat the file, so the file sets keys the harness passes no flag for.)
    std::fs::write(&config, "enr_address = \"1.2.3\"\n").unwrap();
    let out = run(ip, &["--config", config.to_str().unwrap()], &[]).await;
    assert_bad_input(&out, "enr_address");
    std::fs::write(&config, "log_format = \"xml\"\n").unwrap();
    let out = run(ip, &["--config", config.to_str().unwrap()], &[]).await;
    assert_bad_input(&out, "xml");

    std::fs::write(&config, "[policy]\nbucket_narrow = 0\n").unwrap();
    let out = run(ip, &["--config", config.to_str().unwrap()], &[]).await;
    assert_bad_input(&out, "bucket_narrow");

    let out = run(ip, &["--config", "/nonexistent/discguard.toml"], &[]).await;
    assert_bad_input(&out, "/nonexistent/discguard.toml");

    let out = run(ip, &[], &[("DISCGUARD_NETWORK", "mainnett")]).await;
    assert_bad_input(&out, "mainnett");

    let out = run(ip, &["--fork-digest", "0xzz"], &[]).await;
    assert_bad_input(&out, "0xzz");
}

#[tokio::test]
async fn unreadable_or_malformed_asn_database_is_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 4);
    let out = run(ip, &["--asn-db", "/nonexistent/asn.csv"], &[]).await;
    assert_bad_input(&out, "/nonexistent/asn.csv");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("asn.csv");
    std::fs::write(&db, "1.0.0.0,1.0.0.255,13335\n1.0.1.0,not-an-ip,4134\n").unwrap();
    let out = run(ip, &["--asn-db", db.to_str().unwrap()], &[]).await;
    assert_bad_input(&out, "not-an-ip");
}

#[tokio::test]
async fn bad_addresses_are_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 5);
    // clap rejects these before anything starts (its usage errors exit 2 too).
    let out = run(ip, &["--enr-address", "999.1.1.1"], &[]).await;
    assert_bad_input(&out, "999.1.1.1");
    let out = run(ip, &["--http-address", "127.0.0.1"], &[]).await;
    assert_bad_input(&out, "127.0.0.1");
    // An address that cannot be advertised.
    let out = run(ip, &["--enr-address", "0.0.0.0"], &[]).await;
    assert_bad_input(&out, "0.0.0.0");
    // An address that is not ours cannot be bound.
    let out = run(ip, &["--listen-address", "192.0.2.1"], &[]).await;
    assert_bad_input(&out, "192.0.2.1");
}

#[tokio::test]
async fn bad_scoring_durations_are_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 7);
    let out = run(ip, &["--ban-duration", "soon"], &[]).await;
    assert_bad_input(&out, "soon");
    let out = run(ip, &["--score-half-life", "0s"], &[]).await;
    assert_bad_input(&out, "score_half_life");
    let out = run(ip, &[], &[("DISCGUARD_PROBE_INTERVAL", "500")]).await;
    assert_bad_input(&out, "without a unit");
}

#[tokio::test]
async fn bad_lookup_settings_are_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 8);
    let out = run(ip, &["--lookup-privacy", "secret"], &[]).await;
    assert_bad_input(&out, "secret");
    let out = run(ip, &["--lookup-paths", "9"], &[]).await;
    assert_bad_input(&out, "lookup_paths");
    let out = run(ip, &[], &[("DISCGUARD_LOOKUP_COVER", "0")]).await;
    assert_bad_input(&out, "lookup_cover");
    let out = run(ip, &["--lookup-prefix-k", "1"], &[]).await;
    assert_bad_input(&out, "lookup_prefix_k");
}

#[tokio::test]
async fn ports_in_use_are_named() {
    let ip = Ipv4Addr::new(127, 150, 0, 6);
    let udp = std::net::UdpSocket::bind((ip, 0)).unwrap();
    let port = udp.local_addr().unwrap().port().to_string();
    let out = run(ip, &["--discovery-port", &port], &[]).await;
    assert_bad_input(&out, &format!("{ip}:{port}"));

    let tcp = std::net::TcpListener::bind((ip, 0)).unwrap();
    let taken = tcp.local_addr().unwrap().to_string();
    let out = run(ip, &["--http-address", &taken], &[]).await;
    assert_bad_input(&out, &taken);
    let out = run(ip, &["--metrics-address", &taken], &[]).await;
    assert_bad_input(&out, &taken);
}

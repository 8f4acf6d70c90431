//! Interop with real, independent discv5 implementations: Lodestar's
//! (`@chainsafe/discv5` 11.0.0 under Node.js) and sigp's, all on loopback.
//!
//! discguard is given one Lodestar node as its only bootnode. It must find
//! the other Lodestar nodes and the sigp nodes and serve them on
//! `/v1/peers`, and the Lodestar nodes must find discguard (both
//! directions).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use discguard_adversary::honest;
use discguard_adversary::lodestar::{LodestarConfig, LodestarNodes};
use discguard_service::discv5::Enr;
use discguard_tests::{DiscguardProcess, discguard_bin, hex, loopback_args, start_discguard};

const PORT: u16 = 9000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discguard_finds_and_serves_lodestar_and_sigp_nodes_and_they_find_it() -> anyhow::Result<()>
{
    let lodestar_ips: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(127, 100 + i, 0, 1)).collect();
    let lodestar = LodestarNodes::spawn_with(
        LodestarConfig::new(&lodestar_ips, PORT)
            .bootnode_index(0)
            .lookup_interval(Duration::from_secs(1)),
    )
    .await?;
    let boot = lodestar.enrs()[0].clone();
    let boot_enr: Enr = boot.parse().map_err(anyhow::Error::msg)?;

    // Every node in its own /16: loopback addresses stand for distinct
    // networks, and the policy caps /16s per bucket.
    // Three sigp nodes, bootstrapped from Lodestar node 1
    // (not discguard's bootnode: discguard must reach them through lookups).
    let sigp_ips: Vec<Ipv4Addr> = (1..=3).map(|i| Ipv4Addr::new(127, 110 + i, 0, 1)).collect();
    let second: Enr = lodestar.enrs()[1].parse().map_err(anyhow::Error::msg)?;
    let sigp = honest::start_many(
        &sigp_ips,
        PORT,
        &[second, boot_enr],
        Some(Duration::from_secs(1)),
    )
    .await?;

    let ip = Ipv4Addr::new(127, 100, 0, 1);
    let datadir = tempfile::tempdir()?;
    let args = loopback_args(ip, PORT, &[boot], datadir.path());
    let dg = start_discguard(ip, &args).await?;
    let (_, health) = dg.get_json("/healthz").await?;
    let dg_id = health["node_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(dg_id.len(), 64, "{health}");

    // Direction 1: every Lodestar and sigp node is served by discguard.
    let mut want: Vec<String> = lodestar.node_ids();
    want.extend(sigp.iter().map(|n| hex(&n.node_id().raw())));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let served = loop {
        tick.tick().await;
        let served: Vec<String> = dg
            .peers(1024)
            .await?
            .into_iter()
            .map(|p| p.node_id)
            .collect();
        if want.iter().all(|id| served.contains(id)) || Instant::now() > deadline {
            break served;
        }
    };
    let missing: Vec<_> = want.iter().filter(|id| !served.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "not served after 60 s: {missing:?}\nserved: {served:?}\n{}",
        dg.stderr_tail()
    );

    // Direction 2: the Lodestar nodes have discguard in their tables.
    for i in 0..lodestar_ips.len() {
        lodestar
            .wait_discovered(i, &dg_id, Duration::from_secs(60))
            .await?;
    }
    // And a sigp node has it too (it asked Lodestar nodes, which know discguard).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        tick.tick().await;
        let known = sigp.iter().any(|n| {
            n.discv5
                .table_entries_id()
                .iter()
                .any(|id| hex(&id.raw()) == dg_id)
        });
        if known {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no sigp node learned discguard's ENR"
        );
    }

    let served = dg.peers(1024).await?;
    for p in &served {
        assert!(p.enr.starts_with("enr:"));
        let enr: Enr = p.enr.parse().map_err(anyhow::Error::msg)?;
        assert_eq!(
            hex(&enr.node_id().raw()),
            p.node_id,
            "node_id matches the ENR"
        );
        assert_eq!(
            enr.ip4().map(|i| i.to_string()).as_deref(),
            Some(p.ip.as_str())
        );
    }
    // The libp2p peer ID we derive from an ENR's key (for multiaddrs) is the
    // one Lodestar's @chainsafe/enr derives.
    for node in lodestar.nodes() {
        let enr: Enr = node.enr.parse().map_err(anyhow::Error::msg)?;
        let ours = discguard_service::libp2p::peer_id(&enr).map(|p| p.to_string());
        assert_eq!(ours.as_deref(), Some(node.peer_id.as_str()));
    }

    // `discguard peers` prints the served peers in client forms.
    let line = peers_cli(&dg, "teku", 32).await?;
    let addrs = line
        .trim()
        .strip_prefix("--p2p-static-peers=")
        .expect("teku flag form");
    for node in lodestar.nodes() {
        let want = format!("/ip4/{}/tcp/{}/p2p/{}", node.ip, node.udp, node.peer_id);
        assert!(addrs.split(',').any(|a| a == want), "{want} in {addrs}");
    }
    let line = peers_cli(&dg, "lighthouse", 3).await?;
    let enrs = line
        .trim()
        .strip_prefix("--boot-nodes=")
        .expect("lighthouse flag form");
    assert_eq!(
        enrs.split(',').filter(|e| e.starts_with("enr:")).count(),
        3,
        "{line}"
    );

    let status = dg.terminate(Duration::from_secs(10)).await?;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    lodestar.shutdown().await?;
    Ok(())
}

/// Runs `discguard peers --format <format> --limit <limit>` against `dg`.
async fn peers_cli(dg: &DiscguardProcess, format: &str, limit: usize) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(discguard_bin()?)
        .args(["peers", "--http-address", &dg.http.to_string()])
        .args(["--format", format, "--limit", &limit.to_string()])
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

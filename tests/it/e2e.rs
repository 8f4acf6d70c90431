//! End to end: the real `discguard` binary among real sigp discv5 nodes.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use discguard_adversary::honest::{self, HonestNode};
use discguard_tests::{
    DiscguardProcess, READY_TIMEOUT, discguard_bin, free_tcp_addr, hex, loopback_args, set_flag,
    start_discguard,
};

const PORT: u16 = 9000;

fn node_args(ip: Ipv4Addr, boot: &HonestNode, datadir: &Path) -> Vec<String> {
    loopback_args(ip, PORT, &[boot.enr.to_base64()], datadir)
}

/// Polls `f` (a condition on the node's state) every 250 ms until it holds
/// or `within` passes; returns whether it held.
pub(crate) async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if f().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

/// Fourteen nodes crowd one /24 and six sit in /16s of their own: the view
/// keeps at most 2 of the crowd per k-bucket and 10 in all, serves the six,
/// and a small `limit` is filled with distinct /24s first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crowded_subnet_is_capped_in_the_view_and_served_peers_are_diverse() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 120, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let spread_ips: Vec<Ipv4Addr> = (1..=6).map(|i| Ipv4Addr::new(127, 120 + i, 0, 1)).collect();
    let crowd_ips: Vec<Ipv4Addr> = (1..=14).map(|i| Ipv4Addr::new(127, 130, 0, i)).collect();
    let spread = honest::start_many(
        &spread_ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;
    let crowd = honest::start_many(
        &crowd_ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;

    let ip = Ipv4Addr::new(127, 119, 0, 1);
    let datadir = tempfile::tempdir()?;
    let dg = DiscguardProcess::start(
        &discguard_bin()?,
        free_tcp_addr(ip),
        &node_args(ip, &boot, datadir.path()),
        Duration::from_secs(30),
    )
    .await?;

    let spread_ids: Vec<String> = spread
        .iter()
        .chain([&boot])
        .map(|n| hex(&n.node_id().raw()))
        .collect();
    let crowd_group = "127.130.0.0/24";
    let ok = eventually(Duration::from_secs(60), || async {
        let Ok(peers) = dg.peers(1024).await else {
            return false;
        };
        let crowd_n = peers.iter().filter(|p| p.netgroup == crowd_group).count();
        spread_ids
            .iter()
            .all(|id| peers.iter().any(|p| &p.node_id == id))
            && crowd_n >= 2
    })
    .await;
    assert!(
        ok,
        "the spread nodes and some of the crowd are served within 60 s\n{}",
        dg.stderr_tail()
    );

    // Every crowd node has been offered by now (lookups run every second);
    // check the caps in the view, bucket by bucket.
    let (status, table) = dg.get_json("/v1/table").await?;
    assert_eq!(status, 200);
    let mut crowd_total = 0;
    let mut per_bucket: HashMap<u64, usize> = HashMap::new();
    for bucket in table["buckets"].as_array().unwrap() {
        let d = bucket["distance"].as_u64().unwrap();
        for e in bucket["entries"].as_array().unwrap() {
            if e["groups"]["narrow"] == crowd_group {
                crowd_total += 1;
                *per_bucket.entry(d).or_default() += 1;
            }
        }
    }
    assert!(
        crowd_total <= 10,
        "table cap: {crowd_total} of {crowd_group} in the view\n{table:#}"
    );
    assert!(
        per_bucket.values().all(|&n| n <= 2),
        "bucket cap 2 per /24: {per_bucket:?}"
    );
    assert!(
        crowd_total < crowd.len(),
        "the cap bound: {crowd_total} of {} admitted",
        crowd.len()
    );

    // A small limit is filled with distinct /24s first.
    let four = dg.peers(4).await?;
    assert_eq!(four.len(), 4);
    let mut groups: Vec<&str> = four.iter().map(|p| p.netgroup.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    assert_eq!(groups.len(), 4, "four distinct /24s: {four:?}");

    // Malformed HTTP input: 400 with a reason; the node keeps running.
    for bad in [
        "/v1/peers?limit=abc",
        "/v1/peers?limit=0",
        "/v1/peers?limit=100000",
        "/v1/peers?limt=3",
    ] {
        let (status, body) = dg.get_json(bad).await?;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}: {body}"
        );
    }
    let (status, body) = dg.get_json("/v1/nothing").await?;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        dg.peers(4).await?.len(),
        4,
        "still serving after bad requests"
    );

    let status = dg.terminate(Duration::from_secs(10)).await?;
    assert!(status.success(), "{status}");
    Ok(())
}

/// The node key survives a restart (same node ID); the view is saved at
/// shutdown with an atomic write and restored at start, and restored
/// entries are served again once they answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_view_survive_a_restart() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 140, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let ips: Vec<Ipv4Addr> = (1..=3).map(|i| Ipv4Addr::new(127, 140 + i, 0, 1)).collect();
    let others = honest::start_many(
        &ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;
    let all: Vec<String> = others
        .iter()
        .chain([&boot])
        .map(|n| hex(&n.node_id().raw()))
        .collect();

    let ip = Ipv4Addr::new(127, 139, 0, 1);
    let datadir = tempfile::tempdir()?;
    let args = node_args(ip, &boot, datadir.path());
    let http = free_tcp_addr(ip);
    let dg = DiscguardProcess::start(&discguard_bin()?, http, &args, READY_TIMEOUT).await?;
    let id1 = dg.get_json("/healthz").await?.1["node_id"].clone();
    let served = eventually(Duration::from_secs(60), || async {
        dg.peers(64)
            .await
            .is_ok_and(|p| all.iter().all(|id| p.iter().any(|x| &x.node_id == id)))
    })
    .await;
    assert!(
        served,
        "all four served before the restart\n{}",
        dg.stderr_tail()
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());

    // The key file is private; the snapshot holds the served nodes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(datadir.path().join("node.key"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(datadir.path().join("view.json"))?)?;
    let saved = snapshot["enrs"].as_array().unwrap().len();
    assert!(saved >= 4, "view saved at shutdown: {snapshot}");
    assert!(
        !datadir.path().join("view.tmp").exists(),
        "no temporary file left behind"
    );

    // One node goes away while discguard is down: it is in the snapshot but
    // must never be served again, since restored entries are re-verified.
    let mut others = others;
    let gone = others.pop().unwrap();
    let gone_id = hex(&gone.node_id().raw());
    gone.stop().await;
    let alive: Vec<&String> = all.iter().filter(|id| **id != gone_id).collect();

    // Restart without bootnodes: only the snapshot can bring the peers back.
    let mut args = args;
    let i = args.iter().position(|a| a == "--bootnodes").unwrap();
    args.drain(i..i + 2);
    let dg = DiscguardProcess::start(&discguard_bin()?, http, &args, READY_TIMEOUT).await?;
    assert_eq!(
        dg.get_json("/healthz").await?.1["node_id"],
        id1,
        "same node ID after restart"
    );
    let restored = eventually(Duration::from_secs(30), || async {
        dg.peers(64)
            .await
            .is_ok_and(|p| alive.iter().all(|id| p.iter().any(|x| &x.node_id == *id)))
    })
    .await;
    assert!(
        restored,
        "restored entries are re-verified and served\n{}",
        dg.stderr_tail()
    );
    let served = dg.peers(64).await?;
    assert!(
        served.iter().all(|p| p.node_id != gone_id),
        "a restored entry that does not answer is never served: {served:?}"
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// On a real network only peers whose ENR `eth2` fork digest is accepted
/// are served: a node of another fork and a node without `eth2` are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_peers_with_the_accepted_fork_digest_are_served() -> anyhow::Result<()> {
    let ours: [u8; 4] = [0x8c, 0x9f, 0x62, 0xfe];
    let fork_id = |digest: [u8; 4]| {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&digest);
        id[8..].copy_from_slice(&u64::MAX.to_le_bytes());
        id
    };
    let boot = HonestNode::start_with_eth2(
        Ipv4Addr::new(127, 170, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
        Some(fork_id(ours)),
    )
    .await?;
    let boots = std::slice::from_ref(&boot.enr);
    let same = HonestNode::start_with_eth2(
        Ipv4Addr::new(127, 171, 0, 1),
        PORT,
        boots,
        Some(Duration::from_secs(1)),
        Some(fork_id(ours)),
    )
    .await?;
    let other = HonestNode::start_with_eth2(
        Ipv4Addr::new(127, 172, 0, 1),
        PORT,
        boots,
        Some(Duration::from_secs(1)),
        Some(fork_id([1, 2, 3, 4])),
    )
    .await?;
    let none = HonestNode::start(
        Ipv4Addr::new(127, 173, 0, 1),
        PORT,
        boots,
        Some(Duration::from_secs(1)),
    )
    .await?;

    let ip = Ipv4Addr::new(127, 169, 0, 1);
    let datadir = tempfile::tempdir()?;
    let mut args = node_args(ip, &boot, datadir.path());
    args.extend(["--fork-digest".to_owned(), "0x8c9f62fe".to_owned()]);
    let dg = start_discguard(ip, &args).await?;

    let want = [hex(&boot.node_id().raw()), hex(&same.node_id().raw())];
    let served = eventually(Duration::from_secs(60), || async {
        dg.peers(64)
            .await
            .is_ok_and(|p| want.iter().all(|id| p.iter().any(|x| &x.node_id == id)))
    })
    .await;
    assert!(
        served,
        "both nodes of our fork are served\n{}",
        dg.stderr_tail()
    );
    // discguard has met the other two by now (they share the bootnode, and
    // lookups run every second); they are in discv5's table but not served.
    let known = eventually(Duration::from_secs(30), || async {
        let size = dg
            .get_json("/v1/table")
            .await
            .map(|(_, t)| t["discv5_table_size"].as_u64().unwrap_or(0));
        size.is_ok_and(|n| n >= 4)
    })
    .await;
    assert!(known, "the other nodes reached discv5's table");
    let peers = dg.peers(64).await?;
    let ids: Vec<&str> = peers.iter().map(|p| p.node_id.as_str()).collect();
    assert!(
        !ids.contains(&hex(&other.node_id().raw()).as_str()),
        "other fork not served: {peers:?}"
    );
    assert!(
        !ids.contains(&hex(&none.node_id().raw()).as_str()),
        "no eth2, not served: {peers:?}"
    );
    assert!(
        peers
            .iter()
            .all(|p| p.fork_digest.as_deref() == Some("0x8c9f62fe")),
        "{peers:?}"
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// discv5's own table (what we answer FINDNODE from) obeys our caps too:
/// fourteen nodes in one /16 but distinct /24s pass discv5's built-in
/// `ip_limit` (/24 only), so only discguard's eviction keeps the /16 at 3
/// per bucket — and it says so in its metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discv5_table_is_held_to_the_wide_cap() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 180, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let crowd_ips: Vec<Ipv4Addr> = (1..=14).map(|i| Ipv4Addr::new(127, 181, i, 1)).collect();
    let _crowd = honest::start_many(
        &crowd_ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_millis(500)),
    )
    .await?;

    let ip = Ipv4Addr::new(127, 179, 0, 1);
    let datadir = tempfile::tempdir()?;
    let mut args = node_args(ip, &boot, datadir.path());
    let metrics = free_tcp_addr(ip);
    set_flag(&mut args, "--metrics-address", metrics);
    let dg = start_discguard(ip, &args).await?;

    let wide = "127.181.0.0/16";
    let url = format!("http://{metrics}/metrics");
    let last = std::cell::RefCell::new(String::new());
    let held = eventually(Duration::from_secs(60), || async {
        let Ok(response) = reqwest::get(&url).await else {
            return false;
        };
        let Ok(text) = response.text().await else {
            return false;
        };
        let evicted = text.lines().any(|l| {
            l.starts_with("discguard_policy_evictions_total{")
                && l.contains("table=\"discv5\"")
                && l.contains("bucket_cap_wide")
        });
        let Ok((_, table)) = dg.get_json("/v1/table").await else {
            return false;
        };
        let per_bucket: Vec<usize> = table["discv5_buckets"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|b| {
                        b["entries"].as_array().map_or(0, |e| {
                            e.iter().filter(|e| e["groups"]["wide"] == wide).count()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        *last.borrow_mut() = format!("{per_bucket:?}");
        evicted && per_bucket.iter().all(|&n| n <= 3) && per_bucket.contains(&3)
    })
    .await;
    assert!(
        held,
        "discv5 table: {wide} per bucket {}, with discv5 evictions for the /16 cap\n{}",
        last.borrow(),
        dg.stderr_tail()
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// `GET /v1/lookup` runs a real iterative lookup: asked for the node ID of a
/// node that only the network can tell it about (discguard knows just the
/// bootnode at start), it returns that node first, with its ENR; a bad
/// target is a 400 naming the value and the node keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_endpoint_finds_a_node_through_the_network() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 190, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let ips: Vec<Ipv4Addr> = (1..=6).map(|i| Ipv4Addr::new(127, 190 + i, 0, 1)).collect();
    let others = honest::start_many(
        &ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_millis(500)),
    )
    .await?;
    let target = &others[3];
    let ip = Ipv4Addr::new(127, 190, 9, 1);
    let datadir = tempfile::tempdir()?;
    let dg = start_discguard(ip, &node_args(ip, &boot, datadir.path())).await?;

    let want = hex(&target.node_id().raw());
    let path = format!("/v1/lookup?target={want}");
    let last = std::cell::RefCell::new(serde_json::Value::Null);
    let found = eventually(Duration::from_secs(60), || async {
        let Ok((200, body)) = dg.get_json(&path).await else {
            return false;
        };
        let first = body["peers"][0]["node_id"] == want.as_str();
        *last.borrow_mut() = body;
        first
    })
    .await;
    let body = last.borrow().clone();
    assert!(found, "lookup for {want}: {body}\n{}", dg.stderr_tail());
    assert_eq!(body["target"], want.as_str());
    assert_eq!(body["peers"][0]["enr"], target.enr.to_base64().as_str());
    assert_eq!(body["peers"][0]["ip"], "127.194.0.1");

    // discguard's engine ran it; the default privacy is off over 3 paths.
    assert_eq!(body["engine"]["privacy"], "off", "{body}");
    assert_eq!(body["engine"]["paths"], 3, "{body}");
    assert!(body["engine"]["queries"].as_u64() >= Some(1), "{body}");

    // Per-lookup settings: prefix over one path, with the transcript. In a
    // network this small the prefix is empty (N̂ / k < 2): nothing of the
    // target is revealed; the lookup searches a random key, then asks the
    // subtree (here the whole keyspace) for its top distances.
    let (status, body) = dg
        .get_json(&format!(
            "/v1/lookup?target={want}&privacy=prefix&paths=1&transcript=true"
        ))
        .await?;
    assert_eq!(status, 200, "{body}");
    let engine = &body["engine"];
    assert_eq!(engine["privacy"], "prefix", "{body}");
    assert_eq!(engine["paths"], 1, "{body}");
    assert_eq!(engine["revealed_bits"], 0, "{body}");
    let sent = engine["transcript"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        sent.len() as u64,
        engine["queries"].as_u64().unwrap_or(0),
        "{body}"
    );
    assert!(
        sent.iter()
            .any(|q| q["distances"] == serde_json::json!([256, 255, 254])),
        "{body}"
    );
    eprintln!(
        "prefix lookup: {} ms; {}",
        engine["millis"], engine["queries"]
    );
    // Cover: two dummies run with it, all three in the transcript.
    let (status, body) = dg
        .get_json(&format!(
            "/v1/lookup?target={want}&privacy=cover&cover=2&transcript=true"
        ))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["engine"]["cover"], 2, "{body}");
    let lookups: std::collections::BTreeSet<u64> = body["engine"]["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| q["lookup"].as_u64())
        .collect();
    assert_eq!(lookups, [0, 1, 2].into(), "{body}");
    assert!(
        body["engine"]["cover_queries"].as_u64() >= Some(2),
        "{body}"
    );

    for (query, named) in [
        ("privacy=secret", "privacy=secret"),
        ("paths=9", "paths=9"),
        ("cover=0", "cover=0"),
    ] {
        let (status, err) = dg
            .get_json(&format!("/v1/lookup?target={want}&{query}"))
            .await?;
        assert_eq!(status, 400, "{query}: {err}");
        assert!(
            err["error"].as_str().unwrap_or("").contains(named),
            "{query}: {err}"
        );
    }

    let (status, err) = dg.get_json("/v1/lookup?target=00ff").await?;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap_or("").contains("target=00ff"),
        "{err}"
    );
    let (status, err) = dg.get_json("/v1/lookup").await?;
    assert_eq!(status, 400, "{err}");
    let (status, _) = dg.get_json("/healthz").await?;
    assert_eq!(status, 200, "still serving after bad requests");
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// The vendored discv5 patch (vendor/discv5/PATCHES.md): a NODES answer to
/// `find_node_designated_peer` that takes several packets arrives whole.
/// Node A holds 16 records at log-distance 256, each about 250 bytes (an
/// `eth2` entry and a 100-byte field, like an Ethereum ENR with its subnet
/// bitfields): four fit in a 1,280-byte datagram, so A answers in four
/// packets. Unpatched, the caller got the first packet's four records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designated_findnode_returns_every_packet() -> anyhow::Result<()> {
    use discguard_service::discv5::{self, ConfigBuilder, Discv5, Enr, ListenConfig};
    use discguard_service::enr::CombinedKey;

    async fn node(ip: Ipv4Addr) -> anyhow::Result<(Discv5, Enr)> {
        let key = CombinedKey::generate_secp256k1();
        let socket = tokio::net::UdpSocket::bind((ip, 0)).await?;
        let port = socket.local_addr()?.port();
        let enr = Enr::builder().ip4(ip).udp4(port).build(&key)?;
        let listen = ListenConfig::FromSockets {
            ipv4: Some(std::sync::Arc::new(socket)),
            ipv6: None,
        };
        let config = ConfigBuilder::new(listen).disable_enr_update().build();
        let mut d = Discv5::new(enr.clone(), key, config).map_err(anyhow::Error::msg)?;
        d.start().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((d, enr))
    }
    let (mut a, a_enr) = node(Ipv4Addr::new(127, 197, 0, 1)).await?;
    let (mut b, _) = node(Ipv4Addr::new(127, 197, 0, 2)).await?;
    let a_key = discv5::Key::from(a_enr.node_id());
    let mut added = 0;
    let mut i: u32 = 0;
    while added < 16 {
        i += 1;
        let key = CombinedKey::generate_secp256k1();
        let ip = Ipv4Addr::new(127, 198, (i / 250) as u8, (i % 250) as u8 + 1);
        let enr = Enr::builder()
            .ip4(ip)
            .udp4(9000)
            .add_value("eth2", &[7u8; 16].as_slice())
            .add_value("pad", &[0xabu8; 100].as_slice())
            .build(&key)?;
        if a_key.log2_distance(&discv5::Key::from(enr.node_id())) == Some(256)
            && a.add_enr(enr).is_ok()
        {
            added += 1;
        }
    }
    let nodes = b
        .find_node_designated_peer(a_enr, vec![256])
        .await
        .map_err(|e| anyhow::anyhow!("FINDNODE: {e:?}"))?;
    assert_eq!(nodes.len(), 16, "every packet of the answer arrived");
    a.shutdown();
    b.shutdown();
    Ok(())
}

//! Behaviour scores and bans in the real binary among real sigp discv5
//! nodes: a node whose NODES answers crowd one /24 loses its place, honest
//! nodes keep theirs, and scores and bans survive a restart.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use discguard_adversary::honest::{self, HonestNode};
use discguard_service::api::{BansResponse, TableEntryView, TableResponse};
use discguard_tests::{
    DiscguardProcess, READY_TIMEOUT, discguard_bin, free_tcp_addr, hex, loopback_args,
};

use crate::e2e::eventually;

const PORT: u16 = 9000;

fn entries(t: &TableResponse) -> impl Iterator<Item = &TableEntryView> {
    t.buckets.iter().flat_map(|b| b.entries.iter())
}

async fn table(dg: &DiscguardProcess) -> anyhow::Result<TableResponse> {
    Ok(serde_json::from_value(dg.get_json("/v1/table").await?.1)?)
}

async fn bans(dg: &DiscguardProcess) -> anyhow::Result<BansResponse> {
    Ok(serde_json::from_value(dg.get_json("/v1/bans").await?.1)?)
}

/// A "false friend" holds twelve nodes of one /24 in its table, so its
/// answers to discguard's probes crowd that /24: its score falls with
/// `crowded_answer` events and it is no longer served, while the honest
/// nodes around it keep neutral or better scores and nobody is banned. The
/// score is saved at shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowding_answerer_loses_its_place_and_honest_nodes_keep_theirs() -> anyhow::Result<()> {
    // No node runs lookups, so the honest nodes never learn the crowd (they
    // would then relay it): boot knows the others, discguard knows boot and
    // the poisoner.
    let boot = HonestNode::start(Ipv4Addr::new(127, 212, 0, 1), PORT, &[], None).await?;
    let ips: Vec<Ipv4Addr> = (1..=3).map(|i| Ipv4Addr::new(127, 212 + i, 0, 1)).collect();
    let honest = honest::start_many(&ips, PORT, std::slice::from_ref(&boot.enr), None).await?;
    for n in &honest {
        let _ = boot.discv5.add_enr(n.enr.clone());
    }
    // The crowd: live nodes with empty tables (they answer, with nothing).
    let crowd_ips: Vec<Ipv4Addr> = (1..=12).map(|i| Ipv4Addr::new(127, 216, 0, i)).collect();
    let crowd = honest::start_many(&crowd_ips, PORT, &[], None).await?;
    let poisoner = HonestNode::start(Ipv4Addr::new(127, 217, 0, 1), PORT, &[], None).await?;
    for n in &crowd {
        let _ = poisoner.discv5.add_enr(n.enr.clone());
    }
    let poisoner_id = hex(&poisoner.node_id().raw());
    let honest_ids: Vec<String> = honest
        .iter()
        .chain([&boot])
        .map(|n| hex(&n.node_id().raw()))
        .collect();

    let ip = Ipv4Addr::new(127, 212, 9, 1);
    let datadir = tempfile::tempdir()?;
    let args = loopback_args(
        ip,
        PORT,
        &[boot.enr.to_base64(), poisoner.enr.to_base64()],
        datadir.path(),
    );
    let dg =
        DiscguardProcess::start(&discguard_bin()?, free_tcp_addr(ip), &args, READY_TIMEOUT).await?;

    // The poisoner is scored down for crowded answers (it stays in the
    // view until its score reaches the eviction threshold).
    let scored_down = eventually(Duration::from_secs(90), || async {
        table(&dg).await.is_ok_and(|t| {
            entries(&t).any(|e| {
                e.node_id == poisoner_id
                    && e.score <= discguard_scoring::NOT_SERVED_THRESHOLD
                    && e.score_events
                        .iter()
                        .any(|x| x.event == "crowded_answer" && x.delta < 0)
            })
        })
    })
    .await;
    assert!(
        scored_down,
        "the poisoner is scored down\n{}",
        dg.stderr_tail()
    );
    // Scores only fall by minutes of decay or further penalties: while at
    // or below the threshold it is not served.
    let served = dg.peers(64).await?;
    assert!(
        served.iter().all(|p| p.node_id != poisoner_id),
        "not served"
    );
    assert!(!served.is_empty(), "honest peers are served");

    let t = table(&dg).await?;
    for e in entries(&t).filter(|e| honest_ids.contains(&e.node_id)) {
        assert!(
            e.score >= 0,
            "honest node {} scored {}: {:?}",
            e.node_id,
            e.score,
            e.score_events
        );
    }
    assert_eq!(
        bans(&dg).await?,
        BansResponse::default(),
        "nobody is banned"
    );

    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    let saved = saved_scores(datadir.path())?;
    let p = saved
        .peers
        .iter()
        .find(|p| p.node_id == poisoner_id)
        .expect("poisoner saved");
    assert!(p.score < 0 && p.ban.is_none(), "{p:?}");
    Ok(())
}

/// A ban saved in `scores.json` holds after a restart: the banned node is
/// never admitted (discv5 drops its packets, the view refuses it) and
/// `/v1/bans` lists it; a malformed `scores.json` is set aside as
/// `scores.json.bad` and the node runs without scores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_bans_hold_after_a_restart_and_a_malformed_file_is_set_aside() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 218, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let ips: Vec<Ipv4Addr> = (1..=2).map(|i| Ipv4Addr::new(127, 218 + i, 0, 1)).collect();
    let others = honest::start_many(
        &ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;
    let banned = hex(&others[0].node_id().raw());
    let free = hex(&others[1].node_id().raw());

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let datadir = tempfile::tempdir()?;
    let saved = serde_json::json!({
        "version": 1, "saved_at": now,
        "peers": [{"node_id": banned, "score": -60, "ip": "127.219.0.1",
                   "ban": {"until": now + 3_600_000, "reason": "wrong_distance"}}],
        "ip_bans": []
    });
    std::fs::write(datadir.path().join("scores.json"), saved.to_string())?;

    let ip = Ipv4Addr::new(127, 218, 9, 1);
    let metrics = free_tcp_addr(ip);
    let mut args = loopback_args(ip, PORT, &[boot.enr.to_base64()], datadir.path());
    discguard_tests::set_flag(&mut args, "--metrics-address", metrics);
    let http = free_tcp_addr(ip);
    let dg = DiscguardProcess::start(&discguard_bin()?, http, &args, READY_TIMEOUT).await?;
    let b = bans(&dg).await?;
    assert_eq!(b.bans.len(), 1, "{b:?}");
    assert_eq!(
        (b.bans[0].node_id.as_str(), b.bans[0].reason.as_str()),
        (banned.as_str(), "wrong_distance")
    );
    assert!(
        (3_500..=3_600).contains(&b.bans[0].expires_in_seconds),
        "{b:?}"
    );
    // The free node gets in; the banned one, known to the same nodes, not.
    let free_in = eventually(Duration::from_secs(60), || async {
        table(&dg)
            .await
            .is_ok_and(|t| entries(&t).any(|e| e.node_id == free))
    })
    .await;
    assert!(
        free_in,
        "the unbanned node enters the view\n{}",
        dg.stderr_tail()
    );
    let t = table(&dg).await?;
    assert!(
        entries(&t).all(|e| e.node_id != banned),
        "the banned node stays out"
    );
    // discv5's ban list drops the node's unsolicited packets only: when
    // discv5 itself contacts it (its lookups learn the node from the
    // others), a session forms and discv5 inserts it. discguard takes it
    // out again at once.
    let evicted = r#"discguard_policy_evictions_total{table="discv5",reason="banned"}"#;
    let taken_out = eventually(Duration::from_secs(60), || async {
        metric(metrics, evicted).await.is_ok_and(|n| n >= 1.0)
    })
    .await;
    assert!(
        taken_out,
        "discv5 inserted the banned node and discguard removed it\n{}",
        dg.stderr_tail()
    );
    let t = table(&dg).await?;
    assert!(
        t.discv5_buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .all(|e| e.node_id != banned),
        "the banned node is not in discv5's table"
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    let again = saved_scores(datadir.path())?;
    assert!(
        again
            .peers
            .iter()
            .any(|p| p.node_id == banned && p.ban.is_some()),
        "the ban is saved again"
    );

    // A malformed file: set aside, the node runs without scores.
    std::fs::write(
        datadir.path().join("scores.json"),
        b"{\"version\": 1, \"peers\": [",
    )?;
    let dg = DiscguardProcess::start(&discguard_bin()?, http, &args, READY_TIMEOUT).await?;
    assert_eq!(bans(&dg).await?, BansResponse::default());
    assert!(datadir.path().join("scores.json.bad").exists());
    assert!(
        dg.stderr_tail().contains("scores.json"),
        "the warning names the file\n{}",
        dg.stderr_tail()
    );
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// The sample `series` of discguard's Prometheus endpoint at `addr`; 0
/// when absent (a counter not yet incremented).
async fn metric(addr: std::net::SocketAddr, series: &str) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    match discguard_tests::sample(&text, series) {
        Some(v) => Ok(v),
        None if !text.contains(series) => Ok(0.0),
        None => anyhow::bail!("{series} has no number on /metrics"),
    }
}

/// `scores.json` as the node saved it in `datadir`.
fn saved_scores(datadir: &std::path::Path) -> anyhow::Result<discguard_scoring::SavedScores> {
    Ok(serde_json::from_slice(&std::fs::read(
        datadir.join("scores.json"),
    )?)?)
}

/// A peer in the view that floods discguard with FINDNODE requests, beyond
/// the rate discv5's packet filter allows (8 per second per node ID, with
/// bursts), is banned by that filter; discguard reads the ban from discv5's
/// log, attributes it to the flooder, scores it `packet_filter_ban` and
/// takes it out of the view; the IP ban that follows names it again, and
/// it is banned. The score is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_banned_by_the_packet_filter_loses_its_place() -> anyhow::Result<()> {
    let flooder = HonestNode::start(Ipv4Addr::new(127, 221, 0, 1), PORT, &[], None).await?;
    let flooder_id = hex(&flooder.node_id().raw());
    let ip = Ipv4Addr::new(127, 221, 9, 1);
    let datadir = tempfile::tempdir()?;
    let metrics = free_tcp_addr(ip);
    let mut args = loopback_args(ip, PORT, &[flooder.enr.to_base64()], datadir.path());
    discguard_tests::set_flag(&mut args, "--metrics-address", metrics);
    let dg =
        DiscguardProcess::start(&discguard_bin()?, free_tcp_addr(ip), &args, READY_TIMEOUT).await?;
    let in_view = eventually(Duration::from_secs(30), || async {
        table(&dg)
            .await
            .is_ok_and(|t| entries(&t).any(|e| e.node_id == flooder_id))
    })
    .await;
    assert!(in_view, "the peer enters the view\n{}", dg.stderr_tail());
    let scored = r#"discguard_packet_filter_bans_total{kind="node",outcome="scored"}"#;
    assert_eq!(metric(metrics, scored).await?, 0.0);

    // 40 FINDNODE requests at once, over the session discguard opened.
    let health = dg.get_json("/healthz").await?.1;
    let dg_enr: discguard_service::discv5::Enr = health["enr"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no enr in /healthz: {health}"))?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..40 {
        flood.spawn(
            flooder
                .discv5
                .find_node_designated_peer(dg_enr.clone(), vec![0]),
        );
    }
    let mut answered = 0;
    while let Some(r) = flood.join_next().await {
        answered += usize::from(matches!(r, Ok(Ok(_))));
    }
    assert!(answered < 40, "the packet filter dropped some of the flood");

    let out = eventually(Duration::from_secs(30), || async {
        metric(metrics, scored).await.is_ok_and(|n| n >= 1.0)
            && table(&dg)
                .await
                .is_ok_and(|t| entries(&t).all(|e| e.node_id != flooder_id))
    })
    .await;
    assert!(
        out,
        "the flooder is scored and leaves the view\n{}",
        dg.stderr_tail()
    );
    // The same burst trips the per-IP limit (9 per second) one packet after
    // the per-node one (8): the IP ban names the flooder too, the only node
    // we know at that address. Two malice events: banned here as well.
    let events = r#"discguard_score_events_total{event="packet_filter_ban"}"#;
    let ip_scored = r#"discguard_packet_filter_bans_total{kind="ip",outcome="scored"}"#;
    let banned = eventually(Duration::from_secs(10), || async {
        metric(metrics, ip_scored).await.is_ok_and(|n| n == 1.0)
            && bans(&dg).await.is_ok_and(|b| {
                b.bans
                    .iter()
                    .any(|b| b.node_id == flooder_id && b.reason == "packet_filter_ban")
            })
    })
    .await;
    assert!(banned, "{:?}", bans(&dg).await?);
    assert_eq!(metric(metrics, events).await?, 2.0);
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    let saved = saved_scores(datadir.path())?;
    let p = saved
        .peers
        .iter()
        .find(|p| p.node_id == flooder_id)
        .expect("flooder saved");
    assert!(p.score <= discguard_scoring::EVICT_THRESHOLD, "{p:?}");
    Ok(())
}

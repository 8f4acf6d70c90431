//! `GET /v1/risk` and the `discguard_risk_*` gauges of the real binary
//! among real sigp discv5 nodes: the numbers agree with the view and the
//! served peers they describe, and with each other.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use discguard_adversary::honest::{self, HonestNode};
use discguard_netgroup::NetGroups;
use discguard_risk::{Member, ScopeInput, assess};
use discguard_service::api::{RiskResponse, TableResponse, parse_node_id};
use discguard_tests::{free_tcp_addr, loopback_args, set_flag, start_discguard};

const PORT: u16 = 9000;

fn groups_of(socket: &str) -> NetGroups {
    let socket: std::net::SocketAddr = socket.parse().expect("socket in /v1/table");
    NetGroups::prefixes_only(socket.ip())
}

/// Six nodes crowd one /24 and three sit in /16s of their own. The view's
/// risk in `/v1/risk` is what the risk crate computes from the view's own
/// entries in `/v1/table`; the served scope appears with the first
/// `/v1/peers` and describes exactly the peers served; the gauges carry the
/// served numbers after the next publication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_describes_the_view_and_the_served_peers() -> anyhow::Result<()> {
    let boot = HonestNode::start(
        Ipv4Addr::new(127, 204, 0, 1),
        PORT,
        &[],
        Some(Duration::from_secs(1)),
    )
    .await?;
    let ips: Vec<Ipv4Addr> = (1..=6)
        .map(|i| Ipv4Addr::new(127, 205, 0, i))
        .chain((1..=3).map(|i| Ipv4Addr::new(127, 205 + i, 0, 1)))
        .collect();
    let _nodes = honest::start_many(
        &ips,
        PORT,
        std::slice::from_ref(&boot.enr),
        Some(Duration::from_secs(1)),
    )
    .await?;

    let ip = Ipv4Addr::new(127, 204, 9, 1);
    let metrics = free_tcp_addr(ip);
    let datadir = tempfile::tempdir()?;
    let mut args = loopback_args(ip, PORT, &[boot.enr.to_base64()], datadir.path());
    set_flag(&mut args, "--metrics-address", metrics);
    let dg = start_discguard(ip, &args).await?;

    // Before any /v1/peers there is no served scope.
    let (status, risk) = dg.get_json("/v1/risk").await?;
    assert_eq!(status, 200);
    let risk: RiskResponse = serde_json::from_value(risk)?;
    assert!(risk.scopes.served.is_none() && risk.eclipse_risk.served.is_none());

    // Wait until the view holds at least six nodes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let (table, risk) = loop {
        tick.tick().await;
        // Read the table on both sides of the risk answer: when the view did
        // not change in between, both describe the same set.
        let (_, before) = dg.get_json("/v1/table").await?;
        let (_, risk) = dg.get_json("/v1/risk").await?;
        let (_, after) = dg.get_json("/v1/table").await?;
        let before: TableResponse = serde_json::from_value(before)?;
        let after: TableResponse = serde_json::from_value(after)?;
        let ids = |t: &TableResponse| -> Vec<String> {
            let mut v: Vec<String> = t
                .buckets
                .iter()
                .flat_map(|b| b.entries.iter().map(|e| e.node_id.clone()))
                .collect();
            v.sort();
            v
        };
        if before.view_size >= 6 && ids(&before) == ids(&after) {
            break (after, serde_json::from_value::<RiskResponse>(risk)?);
        }
        assert!(
            Instant::now() < deadline,
            "the view never reached six nodes\n{}",
            dg.stderr_tail()
        );
    };

    let members: Vec<Member> = table
        .buckets
        .iter()
        .flat_map(|b| b.entries.iter())
        .map(|e| {
            let id: [u8; 32] = hex_id(&e.node_id);
            Member::new(id, groups_of(&e.socket))
        })
        .collect();
    let expected = assess(&ScopeInput::new(&members));
    let view = &risk.scopes.view;
    assert_eq!(view.peers, members.len());
    assert_eq!(risk.view_size, members.len());
    for (kind, stats) in expected.groups.iter() {
        let got = view.groups.get(kind);
        assert_eq!(got.distinct, stats.distinct, "{kind:?}");
        assert_eq!(got.groups_to_majority, stats.groups_to_majority, "{kind:?}");
        assert!(
            (got.entropy_nats - stats.entropy_nats).abs() < 1e-9,
            "{kind:?}"
        );
        assert_eq!(got.top, stats.top, "{kind:?}");
    }
    assert_eq!(view.eclipse_risk, risk.eclipse_risk.view);
    let g = view
        .groups
        .iter()
        .map(|(_, s)| s.groups_to_majority)
        .min()
        .unwrap();
    assert_eq!(view.eclipse_risk, 1.0 / g as f64);
    // Cap pressure is reported for the view (the policy caps it), ages and
    // origins are known for every entry, and the view is too young for the
    // keyspace test.
    assert!(view.groups.narrow.cap_pressure.is_some());
    assert!(view.median_entry_age_seconds.is_some());
    assert!(view.unsolicited_insertion_ratio.is_some());
    assert!(!view.keyspace.as_ref().unwrap().anomalous);

    // Serve four peers: the served scope is exactly those four.
    let served = dg.peers(4).await?;
    assert_eq!(served.len(), 4);
    let (_, risk) = dg.get_json("/v1/risk").await?;
    let risk: RiskResponse = serde_json::from_value(risk)?;
    let scope = risk.scopes.served.expect("served scope after /v1/peers");
    assert_eq!(scope.peers, 4);
    let served_members: Vec<Member> = served
        .iter()
        .map(|p| {
            Member::new(
                hex_id(&p.node_id),
                NetGroups::prefixes_only(p.ip.parse().expect("ip in /v1/peers")),
            )
        })
        .collect();
    let expected = assess(&ScopeInput::new(&served_members));
    assert_eq!(scope.eclipse_risk, expected.eclipse_risk);
    assert_eq!(scope.groups.narrow.top, expected.groups.narrow.top);

    // The gauges carry the served scope after the next publication (every
    // liveness interval, 5 s).
    let url = format!("http://{metrics}/metrics");
    let want_peers = "discguard_risk_peers{scope=\"served\"} 4";
    let want_risk = format!(
        "discguard_eclipse_risk{{scope=\"served\"}} {}",
        expected.eclipse_risk
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        tick.tick().await;
        let text = reqwest::get(&url).await?.text().await?;
        if text.contains(want_peers) {
            break text;
        }
        assert!(Instant::now() < deadline, "no {want_peers} in\n{text}");
    };
    assert!(text.contains(&want_risk), "no {want_risk} in\n{text}");
    for name in [
        "discguard_eclipse_risk{scope=\"view\"}",
        "discguard_eclipse_risk{scope=\"table\"}",
        "discguard_risk_groups_to_majority{scope=\"view\",kind=\"asn\"}",
        "discguard_risk_keyspace_anomaly{scope=\"view\"} 0",
        "discguard_risk_keyspace_anomaly{scope=\"lookup\"} 0",
        "discguard_risk_top_group_entries{scope=\"view\",kind=\"narrow\",group=\"127.205.0.0/24\"}",
        "discguard_lookup_last_success_timestamp_seconds",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    assert!(dg.terminate(Duration::from_secs(10)).await?.success());
    Ok(())
}

/// The raw node ID of a 64-hex-digit node ID from the API.
fn hex_id(hex: &str) -> [u8; 32] {
    parse_node_id(hex).expect("hex node ID").raw()
}

//! The plain discv5 baselines (`discguard-adversary victim`): one sigp
//! `discv5` node per process, configured as Lighthouse configures it or with
//! the library's defaults, that serves peers from its table on the same
//! HTTP shapes as discguard (`discguard_service::api`).
//!
//! | profile | discv5 settings (sigp `discv5` 0.12) |
//! |---|---|
//! | `lighthouse` | `ip_limit` (2 per /24 per bucket, 10 per table), `incoming_bucket_limit(8)`, packet filter, `query_parallelism(5)`, `request_timeout` 1 s, `query_peer_timeout` 2 s, `request_retries(1)`, `session_cache_capacity(5000)` (Lighthouse `beacon_node/lighthouse_network/src/config.rs`); its global-IPv4 table filter is relaxed to any IPv4 so loopback nodes count |
//! | `default` | the library's defaults |
//!
//! Both keep the address they were given (`disable_enr_update`, as a node
//! with a known public address runs), look up their own node ID first, then
//! a random one every [`DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL`] while the table
//! holds fewer than [`DEFAULT_MIN_VIEW_SIZE`] nodes and every
//! [`DEFAULT_LOOKUP_INTERVAL`] after — the same schedule as discguard, so
//! the comparison is of the policy, not of the effort.
//!
//! Served peers (`GET /v1/peers?limit=N`) are a uniform random sample of the
//! table, connected entries first: what a client that dials discovered
//! nodes would get from it.
//!
//! `GET /v1/bans` answers with empty lists: plain discv5 keeps no peer
//! scores, and the ban list its packet filter keeps (Lighthouse profile)
//! is internal to the library, with no way to read it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use discguard_netgroup::{AsnDb, Classifier};
use discguard_service::api::{
    BansResponse, Discv5BucketView, Discv5EntryView, GroupsView, LookupResponse, PeerInfo,
    PeersResponse, TableResponse, parse_node_id,
};
use discguard_service::config::{
    DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL, DEFAULT_LOOKUP_INTERVAL, DEFAULT_MIN_VIEW_SIZE,
};
use discv5::{ConfigBuilder, Discv5, Enr, ListenConfig};
use enr::NodeId;
use rand::seq::SliceRandom as _;
use serde::Deserialize;
use serde_json::json;

use crate::keys::SecretKey;
use crate::sim::spec_enr;

/// How a baseline victim configures discv5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// As Lighthouse does.
    Lighthouse,
    /// The library's defaults.
    Default,
}

/// `discguard-adversary victim`.
#[derive(Clone, Debug, clap::Args)]
pub struct VictimArgs {
    /// discv5 settings.
    #[arg(long, value_enum)]
    pub profile: Profile,
    /// IPv4 address to bind and announce.
    #[arg(long)]
    pub listen_address: Ipv4Addr,
    /// UDP port.
    #[arg(long)]
    pub discovery_port: u16,
    /// Bootnode ENRs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub bootnodes: Vec<String>,
    /// HTTP API address.
    #[arg(long)]
    pub http_address: SocketAddr,
    /// The secp256k1 secret key, 64 hex digits (the harness passes it in
    /// the environment, so it does not show in the process list).
    #[arg(long, env = "DISCGUARD_VICTIM_KEY_HEX", hide_env_values = true)]
    pub key_hex: String,
    /// ASN database, only to label served peers as discguard does.
    #[arg(long)]
    pub asn_db: Option<PathBuf>,
}

/// The discv5 configuration of `profile`.
fn config(profile: Profile, listen: ListenConfig) -> discv5::Config {
    let mut c = ConfigBuilder::new(listen);
    c.disable_enr_update();
    if profile == Profile::Lighthouse {
        c.enable_packet_filter()
            .session_cache_capacity(5000)
            .request_timeout(Duration::from_secs(1))
            .query_peer_timeout(Duration::from_secs(2))
            .query_timeout(Duration::from_secs(30))
            .request_retries(1)
            .query_parallelism(5)
            .ip_limit()
            .incoming_bucket_limit(8)
            .table_filter(|enr| enr.ip4().is_some());
    }
    c.build()
}

#[derive(Clone)]
struct Baseline {
    discv5: Arc<Discv5>,
    classifier: Arc<Classifier>,
}

impl Baseline {
    fn peer_info(&self, enr: &Enr) -> Option<PeerInfo> {
        let socket = SocketAddr::new(IpAddr::V4(enr.ip4()?), enr.udp4()?);
        let local = self.discv5.local_enr().node_id();
        let bucket =
            discguard_policy::log_distance(&local.raw(), &enr.node_id().raw()).unwrap_or(0);
        Some(PeerInfo::from_enr(
            enr,
            socket,
            &self.classifier.groups(socket.ip()),
            bucket,
            0,
            0,
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeersQuery {
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    target: String,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn peers(
    State(b): State<Baseline>,
    query: Result<Query<PeersQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(format!("bad query: {}", e.body_text())),
    };
    // discguard's default and bounds (node/src/http.rs), and its answer to
    // a limit outside them.
    let limit = query.limit.unwrap_or(32);
    if !(1..=1024).contains(&limit) {
        return bad_request(format!("bad query: limit={limit} is out of range 1..=1024"));
    }
    let mut entries = b.discv5.table_entries();
    entries.shuffle(&mut rand::rng());
    // Connected first; the sort is stable, so each half stays shuffled.
    entries.sort_by_key(|(_, _, status)| !status.is_connected());
    let peers = entries
        .iter()
        .filter_map(|(_, enr, _)| b.peer_info(enr))
        .take(limit)
        .collect();
    Json(PeersResponse { peers }).into_response()
}

async fn table(State(b): State<Baseline>) -> Json<TableResponse> {
    let local = b.discv5.local_enr().node_id();
    let mut buckets: Vec<Discv5BucketView> = Vec::new();
    let mut size = 0;
    for (id, enr, status) in b.discv5.table_entries() {
        let Some(distance) = discguard_policy::log_distance(&local.raw(), &id.raw()) else {
            continue;
        };
        let socket = enr.udp4_socket().map(SocketAddr::V4);
        let entry = Discv5EntryView {
            node_id: hex::encode(id.raw()),
            socket: socket.map_or_else(String::new, |s| s.to_string()),
            groups: socket.map_or_else(
                || GroupsView {
                    narrow: String::new(),
                    wide: String::new(),
                    asn: String::new(),
                },
                |s| GroupsView::from(&b.classifier.groups(s.ip())),
            ),
            connected: status.is_connected(),
        };
        size += 1;
        match buckets.iter_mut().find(|x| x.distance == distance) {
            Some(bucket) => bucket.entries.push(entry),
            None => buckets.push(Discv5BucketView {
                distance,
                entries: vec![entry],
            }),
        }
    }
    buckets.sort_by_key(|b| std::cmp::Reverse(b.distance));
    Json(TableResponse {
        local_node_id: hex::encode(local.raw()),
        view_size: 0,
        discv5_table_size: size,
        buckets: Vec::new(),
        discv5_buckets: buckets,
    })
}

async fn lookup(
    State(b): State<Baseline>,
    query: Result<Query<LookupQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(format!("bad query: {}", e.body_text())),
    };
    let Some(target) = parse_node_id(&query.target) else {
        let shown: String = query.target.chars().take(80).collect();
        return bad_request(format!(
            "bad query: target={shown} is not a 64-hex-digit node ID"
        ));
    };
    let found = b.discv5.find_node(target).await.unwrap_or_default();
    Json(LookupResponse {
        target: hex::encode(target.raw()),
        peers: found.iter().filter_map(|e| b.peer_info(e)).collect(),
        engine: None,
    })
    .into_response()
}

/// Runs a baseline victim until SIGTERM or Ctrl-C.
pub async fn run_victim(args: VictimArgs) -> anyhow::Result<()> {
    let key = SecretKey::from_hex(&args.key_hex).context("--key-hex")?;
    let spec = crate::sim::NodeSpec {
        key,
        ip: args.listen_address,
        port: args.discovery_port,
        role: crate::sim::Role::Honest,
        bind: None,
    };
    let local_enr = spec_enr(&spec)?;
    let socket = tokio::net::UdpSocket::bind(SocketAddr::new(
        IpAddr::V4(args.listen_address),
        args.discovery_port,
    ))
    .await
    .with_context(|| format!("bind {}:{}", args.listen_address, args.discovery_port))?;
    let listen = ListenConfig::FromSockets {
        ipv4: Some(Arc::new(socket)),
        ipv6: None,
    };
    let mut discv5 = Discv5::new(local_enr, spec.key.combined(), config(args.profile, listen))
        .map_err(anyhow::Error::msg)?;
    discv5
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("start discv5: {e:?}"))?;
    for text in &args.bootnodes {
        let enr: Enr = text
            .parse()
            .map_err(|e| anyhow::anyhow!("--bootnodes {text}: {e}"))?;
        if let Err(e) = discv5.add_enr(enr) {
            tracing::warn!(error = e, "bootnode not added");
        }
    }
    let asn = match &args.asn_db {
        Some(p) => Some(AsnDb::open(p).with_context(|| format!("--asn-db {}", p.display()))?),
        None => None,
    };
    let b = Baseline {
        discv5: Arc::new(discv5),
        classifier: Arc::new(Classifier::new(asn)),
    };
    let health = {
        let enr = b.discv5.local_enr();
        json!({ "status": "ok", "node_id": hex::encode(enr.node_id().raw()), "enr": enr.to_base64() })
    };
    let app = Router::new()
        .route("/v1/peers", get(peers))
        .route("/v1/table", get(table))
        .route("/v1/lookup", get(lookup))
        // No scores, and discv5's own ban list cannot be read: empty.
        .route("/v1/bans", get(|| async { Json(BansResponse::default()) }))
        .route("/healthz", get(move || async move { Json(health) }))
        .with_state(b.clone());
    let listener = tokio::net::TcpListener::bind(args.http_address)
        .await
        .with_context(|| format!("bind --http-address {}", args.http_address))?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let refresh = tokio::spawn(refresh(b.discv5.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        r = server => { r??; }
    }
    refresh.abort();
    Ok(())
}

/// The lookup schedule of the module docs.
async fn refresh(discv5: Arc<Discv5>) {
    let mut target = discv5.local_enr().node_id();
    loop {
        if !discv5.table_entries_id().is_empty() {
            let _ = discv5.find_node(target).await;
        }
        let wait = if discv5.table_entries_id().len() < DEFAULT_MIN_VIEW_SIZE {
            DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL
        } else {
            DEFAULT_LOOKUP_INTERVAL
        };
        tokio::time::sleep(wait).await;
        target = NodeId::random();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lighthouse_profile_limits_ips_and_inbound() {
        let sock = || ListenConfig::from_ip(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let lh = config(Profile::Lighthouse, sock());
        let df = config(Profile::Default, sock());
        assert!(lh.ip_limit && !df.ip_limit);
        assert_eq!(lh.incoming_bucket_limit, 8);
        assert_eq!(
            df.incoming_bucket_limit,
            discv5::kbucket::MAX_NODES_PER_BUCKET
        );
        assert!(lh.enable_packet_filter && !df.enable_packet_filter);
        assert_eq!(lh.query_parallelism, 5);
    }
}

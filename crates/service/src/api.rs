//! What the service tells the outside: served peers, the view by bucket, a
//! risk summary. These are the JSON shapes of the HTTP API (design.md,
//! "Outside contracts").

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use discguard_netgroup::NetGroups;
use discguard_risk::{KeyspaceConfig, LookupsAnomaly, ScopeRisk};
use discv5::Enr;
use serde::{Deserialize, Serialize};

use crate::network::enr_fork_digest;

/// One peer as handed to the consensus client (`GET /v1/peers`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerInfo {
    /// The signed record, `enr:` text form.
    pub enr: String,
    /// Node ID, 64 hex characters.
    pub node_id: String,
    /// The address the node answered us from.
    pub ip: String,
    /// discv5 UDP port.
    pub udp_port: u16,
    /// libp2p TCP port from the ENR, if any.
    pub tcp_port: Option<u16>,
    /// Origin AS number, when an ASN database is loaded and knows the address.
    pub asn: Option<u32>,
    /// The narrow network group: IPv4 /24 or IPv6 /48.
    pub netgroup: String,
    /// The wide network group: IPv4 /16 or IPv6 /32.
    pub netgroup_wide: String,
    /// ENR sequence number.
    pub seq: u64,
    /// `eth2` fork digest from the ENR, `0x`-hex, if present.
    pub fork_digest: Option<String>,
    /// Log-distance from our node ID (the k-bucket).
    pub bucket: u16,
    /// Seconds since the node first answered us.
    pub age_seconds: u64,
    /// Seconds since we last heard from the node.
    pub last_seen_seconds: u64,
}

impl PeerInfo {
    /// The entry for `enr`, reached at `socket` (its UDP socket), in
    /// `groups`, at log-distance `bucket` from our node ID; `age_seconds`
    /// and `last_seen_seconds` as the fields say (0 for a node that never
    /// answered us). The TCP port is the ENR's for `socket`'s IP version;
    /// the fork digest is read from the ENR's `eth2` entry, `None` when it
    /// is absent or does not decode.
    pub fn from_enr(
        enr: &Enr,
        socket: SocketAddr,
        groups: &NetGroups,
        bucket: u16,
        age_seconds: u64,
        last_seen_seconds: u64,
    ) -> Self {
        Self {
            enr: enr.to_base64(),
            node_id: hex::encode(enr.node_id().raw()),
            ip: socket.ip().to_string(),
            udp_port: socket.port(),
            tcp_port: match socket.ip() {
                IpAddr::V4(_) => enr.tcp4(),
                IpAddr::V6(_) => enr.tcp6(),
            },
            asn: groups.asn_number(),
            netgroup: groups.narrow.to_string(),
            netgroup_wide: groups.wide.to_string(),
            seq: enr.seq(),
            fork_digest: enr_fork_digest(enr)
                .ok()
                .flatten()
                .map(|d| format!("0x{}", hex::encode(d))),
            bucket,
            age_seconds,
            last_seen_seconds,
        }
    }
}

/// Answer of `GET /v1/peers`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeersResponse {
    /// The peers, most diverse first.
    pub peers: Vec<PeerInfo>,
}

/// Parses a node ID as the API writes it: 64 hex digits, either case, no
/// `0x`.
pub fn parse_node_id(text: &str) -> Option<enr::NodeId> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(text, &mut raw).ok()?;
    Some(enr::NodeId::new(&raw))
}

/// Answer of `GET /v1/lookup?target=<node ID>`: the ENRs one iterative
/// lookup (FINDNODE rounds towards `target`) returned, closest first as
/// discv5 orders them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LookupResponse {
    /// The target node ID, 64 hex characters.
    pub target: String,
    /// The nodes found; age and last-seen are those of the view for nodes
    /// in it, else 0.
    pub peers: Vec<PeerInfo>,
    /// How discguard's lookup engine ran it (absent from the plain discv5
    /// baselines of the harness, which run sigp's `find_node`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<LookupSummary>,
}

/// How one lookup ran (`GET /v1/lookup`): its privacy mode, paths and
/// cost, and on request (`transcript=true`) every FINDNODE it sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LookupSummary {
    /// Privacy mode of the queries: `off`, `blur` or `prefix`
    /// (docs/lookup.md).
    pub privacy: String,
    /// Dummy (cover) lookups run alongside the real one.
    pub cover: usize,
    /// Disjoint paths.
    pub paths: usize,
    /// Leading bits of the target the queries revealed: 256 unless
    /// `prefix`, where it is p = ⌊log2(N̂/k)⌋.
    pub revealed_bits: u32,
    /// Whether the target itself was found.
    pub found_target: bool,
    /// FINDNODE requests of the real lookup.
    pub queries: usize,
    /// FINDNODE requests of the cover lookups.
    pub cover_queries: usize,
    /// Requests of the real lookup that failed (timeout, error).
    pub failures: usize,
    /// Rounds: the longest chain of answers a query was learned through.
    pub rounds: usize,
    /// Mean Jaccard similarity of the paths' closest sets (1 with one path).
    pub agreement: f64,
    /// Whether it ended by its time or query bound rather than converging.
    pub cut_short: bool,
    /// Milliseconds the lookup took, cover lookups included.
    pub millis: u64,
    /// Every FINDNODE sent, real and cover, in the order sent; empty unless
    /// asked for with `transcript=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<QueryRecord>,
}

/// One FINDNODE a lookup sent: what the node asked saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Which lookup sent it: 0 the real one, 1.. the cover lookups.
    pub lookup: usize,
    /// The node asked, 64 hex characters.
    pub peer: String,
    /// The log-distances asked for, in the order sent.
    pub distances: Vec<u64>,
    /// Milliseconds since the lookup started.
    pub at_ms: u64,
}

/// The groups of one view entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupsView {
    /// IPv4 /24 or IPv6 /48.
    pub narrow: String,
    /// IPv4 /16 or IPv6 /32.
    pub wide: String,
    /// `AS<n>`, or the wide prefix when no ASN database knows the address.
    pub asn: String,
}

impl From<&NetGroups> for GroupsView {
    fn from(groups: &NetGroups) -> Self {
        Self {
            narrow: groups.narrow.to_string(),
            wide: groups.wide.to_string(),
            asn: groups.asn.to_string(),
        }
    }
}

/// One entry of the view (`GET /v1/table`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableEntryView {
    /// Node ID, 64 hex characters.
    pub node_id: String,
    /// `ip:port` of the node's discv5 socket.
    pub socket: String,
    /// The node's groups.
    pub groups: GroupsView,
    /// Rank used by the policy (higher is better).
    pub rank: i64,
    /// Seconds since the node first answered us.
    pub age_seconds: u64,
    /// Seconds since we last heard from the node.
    pub last_seen_seconds: u64,
    /// Liveness pings failed in a row.
    pub liveness_failures: u8,
    /// Behaviour score (`docs/scoring.md`), in -100..=20; 0 is neutral.
    #[serde(default)]
    pub score: i32,
    /// The events that moved the score recently, oldest first (at most 8).
    #[serde(default)]
    pub score_events: Vec<ScoreEventView>,
}

/// One event that moved a score (`GET /v1/table`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreEventView {
    /// The event (`discguard_scoring::Event` label, e.g. `crowded_answer`).
    pub event: String,
    /// Points it moved the score (after floors and caps).
    pub delta: i32,
    /// The score after it.
    pub score: i32,
    /// Seconds ago.
    pub seconds_ago: u64,
}

/// Peers and IPs banned (`GET /v1/bans`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BansResponse {
    /// Banned node IDs, the ban ending soonest first.
    pub bans: Vec<BanView>,
    /// Banned IPs.
    pub ip_bans: Vec<IpBanView>,
}

/// One banned node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    /// Node ID, 64 hex characters.
    pub node_id: String,
    /// Last IP it was seen at, if known.
    pub ip: Option<String>,
    /// The event that crossed the ban threshold (e.g. `wrong_distance`).
    pub reason: String,
    /// Its score (frozen while banned).
    pub score: i32,
    /// Seconds until the ban ends.
    pub expires_in_seconds: u64,
}

/// One banned IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBanView {
    /// The IP.
    pub ip: String,
    /// Seconds until the ban ends.
    pub expires_in_seconds: u64,
}

/// One k-bucket of the view.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketView {
    /// Log-distance from our node ID (1..=256).
    pub distance: u16,
    /// The entries.
    pub entries: Vec<TableEntryView>,
}

/// One entry of discv5's own routing table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Discv5EntryView {
    /// Node ID, 64 hex characters.
    pub node_id: String,
    /// `ip:port` of the node's discv5 socket, from its ENR.
    pub socket: String,
    /// The node's groups.
    pub groups: GroupsView,
    /// Whether discv5 holds a live connection status for it.
    pub connected: bool,
}

/// One k-bucket of discv5's own table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Discv5BucketView {
    /// Log-distance from our node ID (1..=256).
    pub distance: u16,
    /// The entries.
    pub entries: Vec<Discv5EntryView>,
}

/// Answer of `GET /v1/table`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableResponse {
    /// Our node ID.
    pub local_node_id: String,
    /// Entries in the view.
    pub view_size: usize,
    /// Entries in discv5's own table.
    pub discv5_table_size: usize,
    /// Non-empty buckets of the view, farthest first.
    pub buckets: Vec<BucketView>,
    /// Non-empty buckets of discv5's own table (what we answer FINDNODE
    /// from), farthest first.
    pub discv5_buckets: Vec<Discv5BucketView>,
}

/// One value per group kind.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindValues {
    /// IPv4 /24 and IPv6 /48.
    pub narrow: f64,
    /// IPv4 /16 and IPv6 /32.
    pub wide: f64,
    /// Autonomous systems.
    pub asn: f64,
}

/// The headline per scope.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeValues {
    /// discv5's own k-buckets.
    pub table: f64,
    /// The curated view.
    pub view: f64,
    /// The peers last served; `null` until the first `/v1/peers`.
    pub served: Option<f64>,
}

/// Every measure, per scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scopes {
    /// discv5's own k-buckets (what we answer other nodes' FINDNODE from).
    pub table: ScopeRisk,
    /// The curated view.
    pub view: ScopeRisk,
    /// The peers last served to the consensus client; `null` until the
    /// first `/v1/peers`.
    pub served: Option<ScopeRisk>,
}

/// Measures of recent lookups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupRisk {
    /// Successful lookups remembered (at most the last 16).
    pub recent: usize,
    /// Seconds since the last successful lookup; `null` before the first.
    pub seconds_since_success: Option<u64>,
    /// Distinct groups per result, mean over recent lookups with results.
    pub diversity: Option<KindValues>,
    /// The keyspace test over recent lookups.
    pub keyspace: LookupsAnomaly,
}

/// Answer of `GET /v1/risk`: every eclipse-risk measure of every scope
/// (`docs/risk.md`), the same numbers as the `discguard_risk_*` and
/// `discguard_eclipse_risk` gauges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskResponse {
    /// The headline `eclipse_risk` of each scope, in `[0, 1]`.
    pub eclipse_risk: ScopeValues,
    /// Entries in the view.
    pub view_size: usize,
    /// Entries in discv5's own table.
    pub discv5_table_size: usize,
    /// Whether ASN groups come from a database (else they are /16 or /32).
    pub asn_database: bool,
    /// Every measure, per scope.
    pub scopes: Scopes,
    /// Measures of recent lookups.
    pub lookups: LookupRisk,
    /// Admissions to the view refused by the policy since start, by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Entries removed since start, by table (`view`, `discv5`) and reason.
    pub evictions: BTreeMap<String, BTreeMap<String, u64>>,
    /// Parameters of the keyspace test of the view (the table's differs only
    /// in its bucket size, 16).
    pub keyspace_config: KeyspaceConfig,
}

/// Answer of `GET /healthz`.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// `ok` while the service runs.
    pub status: &'static str,
    /// Our node ID.
    pub node_id: String,
    /// Our ENR.
    pub enr: String,
    /// Entries in the view.
    pub view_size: usize,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Lookups that returned, since start.
    pub lookups_ok: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use enr::NodeId;

    #[test]
    fn node_ids_are_64_hex_digits() {
        let hex = "0a".repeat(32);
        assert_eq!(parse_node_id(&hex), Some(NodeId::new(&[0x0a; 32])));
        assert_eq!(
            parse_node_id(&hex.to_uppercase()),
            Some(NodeId::new(&[0x0a; 32]))
        );
        for bad in [
            "",
            "zz",
            &hex[..62],
            &format!("{hex}00"),
            &format!("0x{}", &hex[2..]),
        ] {
            assert_eq!(parse_node_id(bad), None, "{bad}");
        }
    }
}

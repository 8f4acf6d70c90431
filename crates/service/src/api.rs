//! What the service tells the outside: served peers, the view by bucket, a
//! risk summary. These are the JSON shapes of the HTTP API (design.md,
//! "Outside contracts").

use std::net::{IpAddr, SocketAddr};

use discguard_netgroup::NetGroups;
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

/// The largest group of one kind.
#[derive(Clone, Debug, Serialize)]
pub struct TopGroup {
    /// The group (`3.147.37.0/24`, `AS16509`, ...).
    pub group: String,
    /// Entries in it.
    pub count: usize,
    /// Its share of the set, in `[0, 1]`.
    pub share: f64,
}

/// Figures for one group kind.
#[derive(Clone, Debug, Serialize)]
pub struct KindRisk {
    /// Distinct groups.
    pub distinct_groups: usize,
    /// The largest group, if the set is non-empty.
    pub top_group: Option<TopGroup>,
}

/// Answer of `GET /v1/risk` (first version: view size, distinct groups per
/// kind, top group share).
#[derive(Clone, Debug, Serialize)]
pub struct RiskResponse {
    /// Entries in the view.
    pub view_size: usize,
    /// Entries in discv5's own table.
    pub discv5_table_size: usize,
    /// Whether ASN groups come from a database (else they are /16 or /32).
    pub asn_database: bool,
    /// Narrow groups (IPv4 /24, IPv6 /48).
    pub narrow: KindRisk,
    /// Wide groups (IPv4 /16, IPv6 /32).
    pub wide: KindRisk,
    /// Autonomous systems.
    pub asn: KindRisk,
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

//! `discguard peers`: the vetted peers of a running node, printed in the
//! forms consensus clients take.
//!
//! | format | for | output |
//! |---|---|---|
//! | `enr` | Nimbus `bootstrap_nodes.txt`, any ENR list | one ENR per line |
//! | `lighthouse` | Lighthouse `--boot-nodes` | `--boot-nodes=<enr>,<enr>,…` |
//! | `prysm` | Prysm `--bootstrap-node` | `--bootstrap-node=<enr>` per peer |
//! | `nimbus` | Nimbus `--bootstrap-node` | `--bootstrap-node=<enr>` per peer |
//! | `multiaddr` | any libp2p client | one `/ip4/…/tcp/…/p2p/<peer id>` per line |
//! | `teku` | Teku `--p2p-static-peers` | `--p2p-static-peers=<multiaddr>,…` |
//! | `prysm-peer` | Prysm `--peer` | `--peer=<multiaddr>` per peer |
//! | `lodestar` | Lodestar `--directPeers` | `--directPeers=<multiaddr>,…` |
//! | `json` | scripts | the `/v1/peers` answer as is |
//!
//! Multiaddr forms need the ENR's TCP port and derive the libp2p peer ID
//! from its secp256k1 key ([`discguard_service::libp2p`]); peers without a
//! TCP port are left out of them (and counted on stderr).

use std::fmt::Write as _;

use discguard_service::api::PeerInfo;
use discguard_service::discv5::Enr;
use serde::Deserialize;

/// Output format of `discguard peers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PeersFormat {
    /// One ENR per line.
    Enr,
    /// `--boot-nodes=<enr>,…`.
    Lighthouse,
    /// `--bootstrap-node=<enr>` per peer.
    Prysm,
    /// `--bootstrap-node=<enr>` per peer.
    Nimbus,
    /// One multiaddr with `/p2p/<peer id>` per line.
    Multiaddr,
    /// `--p2p-static-peers=<multiaddr>,…`.
    Teku,
    /// `--peer=<multiaddr>` per peer.
    PrysmPeer,
    /// `--directPeers=<multiaddr>,…`.
    Lodestar,
    /// The JSON of `/v1/peers`.
    Json,
}

#[derive(Deserialize)]
struct Peers {
    peers: Vec<PeerInfo>,
}

/// Errors of `discguard peers`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node did not answer.
    #[error("cannot reach discguard at {url}: {source}")]
    Request {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("discguard at {url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// The answer was not the JSON we expect.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// Fetches `/v1/peers?limit=N` from the node at `api` (`host:port`).
pub async fn fetch(api: &str, limit: usize) -> Result<(Vec<PeerInfo>, String), ClientError> {
    let url = format!("http://{api}/v1/peers?limit={limit}");
    let response = reqwest::get(&url)
        .await
        .map_err(|source| ClientError::Request {
            url: url.clone(),
            source,
        })?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|source| ClientError::Request {
            url: url.clone(),
            source,
        })?;
    if !status.is_success() {
        return Err(ClientError::Status {
            url,
            status: status.as_u16(),
            body,
        });
    }
    let peers: Peers = serde_json::from_str(&body).map_err(|e| ClientError::Decode {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    Ok((peers.peers, body))
}

/// Renders `peers` in `format`. Returns the text and the number of peers
/// left out (no TCP port, or a key type without a libp2p peer ID).
pub fn render(peers: &[PeerInfo], raw_json: &str, format: PeersFormat) -> (String, usize) {
    let enrs = || peers.iter().map(|p| p.enr.as_str());
    let mut skipped = 0;
    let multiaddrs: Vec<String> = match format {
        PeersFormat::Multiaddr
        | PeersFormat::Teku
        | PeersFormat::PrysmPeer
        | PeersFormat::Lodestar => peers
            .iter()
            .filter_map(|p| {
                let addr = multiaddr_of(p);
                if addr.is_none() {
                    skipped += 1;
                }
                addr
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut out = String::new();
    match format {
        PeersFormat::Enr => enrs().for_each(|e| writeln!(out, "{e}").unwrap()),
        PeersFormat::Lighthouse => {
            writeln!(out, "--boot-nodes={}", enrs().collect::<Vec<_>>().join(",")).unwrap();
        }
        PeersFormat::Prysm | PeersFormat::Nimbus => {
            enrs().for_each(|e| writeln!(out, "--bootstrap-node={e}").unwrap());
        }
        PeersFormat::Multiaddr => multiaddrs
            .iter()
            .for_each(|m| writeln!(out, "{m}").unwrap()),
        PeersFormat::Teku => writeln!(out, "--p2p-static-peers={}", multiaddrs.join(",")).unwrap(),
        PeersFormat::PrysmPeer => multiaddrs
            .iter()
            .for_each(|m| writeln!(out, "--peer={m}").unwrap()),
        PeersFormat::Lodestar => writeln!(out, "--directPeers={}", multiaddrs.join(",")).unwrap(),
        PeersFormat::Json => writeln!(out, "{}", raw_json.trim_end()).unwrap(),
    }
    (out, skipped)
}

/// The libp2p TCP multiaddr of a served peer, derived from its ENR.
pub fn multiaddr_of(peer: &PeerInfo) -> Option<String> {
    let enr: Enr = peer.enr.parse().ok()?;
    let ip = peer.ip.parse().ok()?;
    discguard_service::libp2p::tcp_multiaddr(&enr, ip).map(|m| m.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use discguard_service::enr::CombinedKey;

    fn peer(tcp: Option<u16>) -> PeerInfo {
        let key = CombinedKey::generate_secp256k1();
        let mut b = Enr::builder();
        b.ip4("203.0.113.7".parse().unwrap()).udp4(9000);
        if let Some(t) = tcp {
            b.tcp4(t);
        }
        let enr = b.build(&key).unwrap();
        PeerInfo {
            enr: enr.to_base64(),
            node_id: hex::encode(enr.node_id().raw()),
            ip: "203.0.113.7".into(),
            udp_port: 9000,
            tcp_port: tcp,
            asn: None,
            netgroup: "203.0.113.0/24".into(),
            netgroup_wide: "203.0.0.0/16".into(),
            seq: 1,
            fork_digest: None,
            bucket: 256,
            age_seconds: 0,
            last_seen_seconds: 0,
        }
    }

    #[test]
    fn enr_forms() {
        let peers = vec![peer(Some(9000)), peer(None)];
        let (lh, skipped) = render(&peers, "", PeersFormat::Lighthouse);
        assert_eq!(skipped, 0);
        assert_eq!(
            lh,
            format!("--boot-nodes={},{}\n", peers[0].enr, peers[1].enr)
        );
        let (prysm, _) = render(&peers, "", PeersFormat::Prysm);
        assert_eq!(prysm.lines().count(), 2);
        assert!(
            prysm
                .lines()
                .all(|l| l.starts_with("--bootstrap-node=enr:"))
        );
    }

    #[test]
    fn multiaddr_forms_skip_peers_without_tcp() {
        let peers = vec![peer(Some(9000)), peer(None)];
        let (teku, skipped) = render(&peers, "", PeersFormat::Teku);
        assert_eq!(skipped, 1);
        let addr = teku.trim().strip_prefix("--p2p-static-peers=").unwrap();
        assert!(
            addr.starts_with("/ip4/203.0.113.7/tcp/9000/p2p/16Uiu2"),
            "{addr}"
        );
        assert!(!addr.contains(','));
    }
}

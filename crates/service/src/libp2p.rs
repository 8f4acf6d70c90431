//! libp2p identities of discv5 nodes, for the forms consensus clients take.
//!
//! A consensus client dials peers over libp2p, whose peer ID is derived
//! from the same secp256k1 key that signs the node's ENR: the protobuf
//! encoding of the compressed public key, wrapped in an identity multihash
//! (libp2p `peer-ids.md`; Lighthouse `enr_ext.rs` `peer_id()`). Peer IDs of
//! Ethereum nodes therefore start with `16Uiu2`.

use std::net::IpAddr;

use discv5::Enr;
use enr::CombinedPublicKey;
use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

/// The libp2p peer ID of the key that signed `enr`; `None` for key types
/// other than secp256k1 (discv5 "v4" identity scheme).
pub fn peer_id(enr: &Enr) -> Option<PeerId> {
    match enr.public_key() {
        CombinedPublicKey::Secp256k1(key) => {
            let compressed = key.to_sec1_point(true);
            let public =
                libp2p_identity::secp256k1::PublicKey::try_from_bytes(compressed.as_bytes())
                    .ok()?;
            Some(PeerId::from_public_key(&libp2p_identity::PublicKey::from(
                public,
            )))
        }
        _ => None,
    }
}

/// `/ip4/<ip>/tcp/<port>/p2p/<peer id>` (or `/ip6/…`): the libp2p TCP
/// address of the node at `ip`, when its ENR announces a TCP port.
pub fn tcp_multiaddr(enr: &Enr, ip: IpAddr) -> Option<Multiaddr> {
    let port = match ip {
        IpAddr::V4(_) => enr.tcp4(),
        IpAddr::V6(_) => enr.tcp6().or(enr.tcp4()),
    }?;
    let peer = peer_id(enr)?;
    let mut addr = Multiaddr::empty();
    addr.push(Protocol::from(ip));
    addr.push(Protocol::Tcp(port));
    addr.push(Protocol::P2p(peer));
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Teku bootnode of mainnet (3.147.37.0): its peer ID as Teku and
    /// Lighthouse print it.
    const TEKU_BOOTNODE: &str = "enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo";

    #[test]
    fn peer_id_is_secp256k1_identity_multihash() {
        let enr: Enr = TEKU_BOOTNODE.parse().unwrap();
        let peer = peer_id(&enr).unwrap().to_string();
        assert!(peer.starts_with("16Uiu2"), "{peer}");
        let addr = tcp_multiaddr(&enr, enr.ip4().unwrap().into())
            .unwrap()
            .to_string();
        assert_eq!(addr, format!("/ip4/3.147.37.0/tcp/9000/p2p/{peer}"));
    }
}

//! Helpers for discguard's integration tests (`tests/it`): paths, free
//! ports, and the `discguard` process. Networks of real discv5 nodes come
//! from `discguard-adversary` (sigp nodes, Lodestar nodes).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

pub use discguard_adversary::testnet::{DiscguardProcess, discguard_bin};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Test data carried in the repository (`tests/data`).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A TCP port free on `ip` right now (bound to port 0, then released).
pub fn free_tcp_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind port 0")
}

/// A free TCP `ip:port` for an HTTP or metrics listener.
pub fn free_tcp_addr(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), free_tcp_port(ip))
}

/// A UDP port free on `ip` right now.
pub fn free_udp_port(ip: Ipv4Addr) -> u16 {
    std::net::UdpSocket::bind((ip, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind port 0")
}

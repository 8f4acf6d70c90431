//! A lossy UDP relay on loopback: puts packet loss in front of one discv5
//! node (the `flaky-honest` scenario) without touching the node's code.
//!
//! ```text
//!  peer P ──▶ A (front) ──drop with p──▶ S_P ──▶ I (the node's socket)
//!  peer P ◀── A (front) ◀──drop with p── S_P ◀── I
//! ```
//!
//! - The node's ENR advertises the front address **A**; the node's socket is
//!   bound at an internal address **I** (`population::flaky_internal_ips`).
//! - A packet arriving at A from peer P is sent to I from a per-peer relay
//!   socket **S_P** (bound on the internal relay address, port 0), so the
//!   node's answers to S_P can be told apart by peer; a packet the node sends
//!   to S_P goes out from A to P. Peers see only A, as with any node.
//! - Each forwarded packet, in each direction independently, is dropped with
//!   the relay's loss probability, drawn from a seeded RNG.
//! - At most `max_peers` per-peer sockets live at once; the least recently
//!   used is closed when a new peer needs one.
//! - Packets the node sends on its own initiative to a peer (not to a relay
//!   socket) leave from I directly, past the relay: honest harness nodes
//!   rarely initiate (they run no lookups).
//!
//! Counters ([`RelayCounts`]) say how many packets were offered for
//! forwarding in each direction and how many of them the coin dropped; they
//! are updated after the packet has been handed to the kernel, so a test can
//! wait on them ([`LossyRelay::watch`]) instead of sleeping.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// Per-peer relay sockets a relay keeps by default.
pub const DEFAULT_MAX_PEERS: usize = 256;

/// Largest datagram relayed (discv5 packets are at most 1,280 bytes).
const MAX_DATAGRAM: usize = 2048;

/// Where a relay sits and how lossy it is.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// A: the address peers send to (the node's ENR advertises it).
    pub front: SocketAddr,
    /// I: where the node's socket is bound.
    pub node: SocketAddr,
    /// Where the per-peer sockets S_P bind (port 0).
    pub peer_ip: IpAddr,
    /// Probability of dropping each forwarded packet, in [0, 1].
    pub loss: f64,
    /// Seed of the drop decisions.
    pub seed: u64,
    /// Most per-peer sockets open at once (≥ 1).
    pub max_peers: usize,
}

/// What a relay forwarded and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayCounts {
    /// Packets from peers offered for forwarding to the node.
    pub to_node: u64,
    /// Of those, dropped by the coin.
    pub to_node_dropped: u64,
    /// Packets from the node offered for forwarding to a peer.
    pub from_node: u64,
    /// Of those, dropped by the coin.
    pub from_node_dropped: u64,
    /// Packets not forwarded for a local reason (a relay socket could not
    /// be bound, a send failed): not counted as dropped.
    pub errors: u64,
    /// Per-peer sockets closed to make room for a new peer.
    pub peers_evicted: u64,
}

impl RelayCounts {
    /// Packets offered for forwarding, both directions.
    pub fn packets(&self) -> u64 {
        self.to_node + self.from_node
    }

    /// Packets dropped, both directions.
    pub fn dropped(&self) -> u64 {
        self.to_node_dropped + self.from_node_dropped
    }

    /// dropped / packets (0 without packets).
    pub fn loss(&self) -> f64 {
        if self.packets() == 0 {
            0.0
        } else {
            self.dropped() as f64 / self.packets() as f64
        }
    }

    /// The sum of two relays' counts.
    pub fn add(&self, o: &Self) -> Self {
        Self {
            to_node: self.to_node + o.to_node,
            to_node_dropped: self.to_node_dropped + o.to_node_dropped,
            from_node: self.from_node + o.from_node,
            from_node_dropped: self.from_node_dropped + o.from_node_dropped,
            errors: self.errors + o.errors,
            peers_evicted: self.peers_evicted + o.peers_evicted,
        }
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// State shared by a relay's tasks.
struct Shared {
    front: UdpSocket,
    node: SocketAddr,
    loss: f64,
    rng: Mutex<StdRng>,
    counts: watch::Sender<RelayCounts>,
}

impl Shared {
    /// Whether to drop the next packet.
    fn coin(&self) -> bool {
        if self.loss <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random_bool(self.loss)
    }
}

/// A running relay; stops (closing every socket) when dropped.
pub struct LossyRelay {
    front: SocketAddr,
    loss: f64,
    counts: watch::Receiver<RelayCounts>,
    _task: AbortOnDrop,
}

impl LossyRelay {
    /// Binds the front address and starts relaying.
    ///
    /// # Errors
    ///
    /// A loss outside [0, 1], `max_peers` 0, or the front address cannot be
    /// bound (named).
    pub async fn start(config: RelayConfig) -> anyhow::Result<Self> {
        if !(0.0..=1.0).contains(&config.loss) {
            bail!("relay loss {} is outside [0, 1]", config.loss);
        }
        if config.max_peers == 0 {
            bail!("a relay needs room for at least one peer");
        }
        let front = UdpSocket::bind(config.front)
            .await
            .with_context(|| format!("bind relay front {}", config.front))?;
        let (tx, rx) = watch::channel(RelayCounts::default());
        let shared = Arc::new(Shared {
            front,
            node: config.node,
            loss: config.loss,
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            counts: tx,
        });
        let task = tokio::spawn(front_loop(shared, config.peer_ip, config.max_peers));
        Ok(Self {
            front: config.front,
            loss: config.loss,
            counts: rx,
            _task: AbortOnDrop(task.abort_handle()),
        })
    }

    /// A: the address peers send to.
    pub fn front(&self) -> SocketAddr {
        self.front
    }

    /// Its loss probability.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// What it has forwarded and dropped so far.
    pub fn counts(&self) -> RelayCounts {
        *self.counts.borrow()
    }

    /// A receiver of its counts, updated after every packet (to wait on).
    pub fn watch(&self) -> watch::Receiver<RelayCounts> {
        self.counts.clone()
    }
}

/// A peer's relay socket and the task relaying the node's answers to it.
struct Peer {
    socket: Arc<UdpSocket>,
    last_used: u64,
    _task: AbortOnDrop,
}

/// Packets from peers to the node; opens a relay socket per peer.
async fn front_loop(shared: Arc<Shared>, peer_ip: IpAddr, max_peers: usize) {
    let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
    let mut clock = 0u64;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = shared.front.recv_from(&mut buf).await else {
            continue;
        };
        clock += 1;
        let socket = match peers.get_mut(&from) {
            Some(p) => {
                p.last_used = clock;
                Some(p.socket.clone())
            }
            None => {
                if peers.len() >= max_peers
                    && let Some(oldest) = peers
                        .iter()
                        .min_by_key(|(_, p)| p.last_used)
                        .map(|(a, _)| *a)
                {
                    peers.remove(&oldest);
                    shared.counts.send_modify(|c| c.peers_evicted += 1);
                }
                match UdpSocket::bind(SocketAddr::new(peer_ip, 0)).await {
                    Ok(s) => {
                        let s = Arc::new(s);
                        let task = tokio::spawn(back_loop(shared.clone(), s.clone(), from));
                        peers.insert(
                            from,
                            Peer {
                                socket: s.clone(),
                                last_used: clock,
                                _task: AbortOnDrop(task.abort_handle()),
                            },
                        );
                        Some(s)
                    }
                    Err(e) => {
                        tracing::warn!(%peer_ip, error = %e, "relay socket not bound");
                        None
                    }
                }
            }
        };
        let Some(socket) = socket else {
            shared.counts.send_modify(|c| c.errors += 1);
            continue;
        };
        let dropped = shared.coin();
        let failed = !dropped && socket.send_to(&buf[..n], shared.node).await.is_err();
        shared.counts.send_modify(|c| {
            c.to_node += 1;
            c.to_node_dropped += u64::from(dropped);
            c.errors += u64::from(failed);
        });
    }
}

/// Packets from the node to `peer`, arriving at the peer's relay socket.
async fn back_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>, peer: SocketAddr) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if from != shared.node {
            continue; // only the node's packets are relayed
        }
        let dropped = shared.coin();
        let failed = !dropped && shared.front.send_to(&buf[..n], peer).await.is_err();
        shared.counts.send_modify(|c| {
            c.from_node += 1;
            c.from_node_dropped += u64::from(dropped);
            c.errors += u64::from(failed);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let a = RelayCounts {
            to_node: 10,
            to_node_dropped: 2,
            from_node: 6,
            from_node_dropped: 2,
            errors: 1,
            peers_evicted: 0,
        };
        assert_eq!(a.packets(), 16);
        assert_eq!(a.dropped(), 4);
        assert!((a.loss() - 0.25).abs() < 1e-12);
        assert_eq!(a.add(&a).dropped(), 8);
        assert_eq!(RelayCounts::default().loss(), 0.0);
    }
}

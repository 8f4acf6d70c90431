//! Honest nodes: plain sigp `discv5` instances, each on its own loopback
//! address, that bootstrap, answer FINDNODE from their tables and run random
//! lookups, as a consensus client's discovery does.
//!
//! Many nodes share one process and one tokio runtime. sigp's ban list is
//! process-global, so honest nodes never ban (the packet filter is off).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use discv5::{ConfigBuilder, Discv5, Enr, ListenConfig};
use enr::{CombinedKey, NodeId};
use tokio::task::JoinHandle;

/// A running honest node.
pub struct HonestNode {
    /// The discv5 instance.
    pub discv5: Arc<Discv5>,
    /// Its ENR (IP and UDP port set, TCP port = UDP port).
    pub enr: Enr,
    lookups: Option<JoinHandle<()>>,
}

impl HonestNode {
    /// Starts a node on `ip:port` that knows `bootnodes` and, when
    /// `lookup_interval` is set, runs a random lookup on that period.
    pub async fn start(
        ip: Ipv4Addr,
        port: u16,
        bootnodes: &[Enr],
        lookup_interval: Option<Duration>,
    ) -> anyhow::Result<Self> {
        Self::start_with_eth2(ip, port, bootnodes, lookup_interval, None).await
    }

    /// As [`HonestNode::start`], with an ENR `eth2` entry: the SSZ
    /// `ENRForkID` (fork digest, next fork version, next fork epoch) that
    /// consensus clients announce.
    pub async fn start_with_eth2(
        ip: Ipv4Addr,
        port: u16,
        bootnodes: &[Enr],
        lookup_interval: Option<Duration>,
        eth2: Option<[u8; 16]>,
    ) -> anyhow::Result<Self> {
        let key = CombinedKey::generate_secp256k1();
        let socket = tokio::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), port))
            .await
            .with_context(|| format!("bind {ip}:{port}"))?;
        let port = socket.local_addr()?.port();
        let mut builder = Enr::builder();
        builder.ip4(ip).udp4(port).tcp4(port);
        if let Some(fork_id) = eth2 {
            builder.add_value("eth2", &fork_id.as_slice());
        }
        let enr = builder.build(&key).context("build ENR")?;
        let listen = ListenConfig::FromSockets {
            ipv4: Some(Arc::new(socket)),
            ipv6: None,
        };
        let config = ConfigBuilder::new(listen).disable_enr_update().build();
        let mut discv5 = Discv5::new(enr.clone(), key, config).map_err(anyhow::Error::msg)?;
        discv5
            .start()
            .await
            .map_err(|e| anyhow::anyhow!("start discv5 on {ip}:{port}: {e:?}"))?;
        for b in bootnodes {
            let _ = discv5.add_enr(b.clone());
        }
        let discv5 = Arc::new(discv5);
        let lookups = lookup_interval.map(|every| {
            let d = discv5.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let _ = d.find_node(NodeId::random()).await;
                }
            })
        });
        Ok(Self {
            discv5,
            enr,
            lookups,
        })
    }

    /// The node ID.
    pub fn node_id(&self) -> NodeId {
        self.enr.node_id()
    }

    /// Stops the node: its lookups, then discv5 (the socket closes).
    pub async fn stop(mut self) {
        if let Some(l) = self.lookups.take() {
            l.abort();
            let _ = l.await;
        }
        let discv5 = std::mem::replace(&mut self.discv5, Arc::new(placeholder()));
        if let Ok(mut d) = Arc::try_unwrap(discv5) {
            d.shutdown();
        }
    }
}

/// An unstarted discv5 instance, standing in after [`HonestNode::stop`].
fn placeholder() -> Discv5 {
    let key = CombinedKey::generate_secp256k1();
    let enr = Enr::builder().build(&key).expect("empty ENR builds");
    let config = ConfigBuilder::new(ListenConfig::default()).build();
    Discv5::new(enr, key, config).expect("matching key")
}

impl Drop for HonestNode {
    fn drop(&mut self) {
        if let Some(l) = self.lookups.take() {
            l.abort();
        }
    }
}

/// Starts `ips.len()` honest nodes on `port`; node 0 bootstraps from
/// `bootnodes`, every other node from node 0 and `bootnodes`.
pub async fn start_many(
    ips: &[Ipv4Addr],
    port: u16,
    bootnodes: &[Enr],
    lookup_interval: Option<Duration>,
) -> anyhow::Result<Vec<HonestNode>> {
    let mut nodes: Vec<HonestNode> = Vec::with_capacity(ips.len());
    for ip in ips {
        let mut boots = bootnodes.to_vec();
        if let Some(first) = nodes.first() {
            boots.push(first.enr.clone());
        }
        nodes.push(HonestNode::start(*ip, port, &boots, lookup_interval).await?);
    }
    Ok(nodes)
}

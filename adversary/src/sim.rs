//! The harness network: many real sigp `discv5` nodes in this process, each
//! bound to its own 127.x.y.z address and speaking discv5 on the wire.
//!
//! Three roles:
//! - **honest**: answers FINDNODE from a table of honest nodes (poisoners
//!   included: they look honest), as a quiet consensus-layer node does;
//! - **Sybil**: lives in the attacker range; its table holds Sybils only, so
//!   every NODES answer it gives is Sybils;
//! - **poisoner** ("false friend"): lives among honest nodes and is in their
//!   tables, but its own table holds Sybils only.
//!
//! Making it cheap: a lookup through freshly started nodes costs about 70 ms
//! of CPU (handshakes and ENR signature checks), so instead of letting 2,000+
//! nodes bootstrap by lookups, the harness fills each node's k-buckets
//! directly from the (known) member list with `add_enr` — the same buckets a
//! long-running node would have, at no CPU cost — and only the victims and
//! the attack generate traffic. Keys come pre-generated from the seed; nodes
//! start in small batches, yielding between them. Sybil and poisoner tables
//! refuse every non-attacker record (`table_filter`), so victims that
//! contact them never enter them.
//!
//! Every node is a full discv5 node: sessions, handshakes, PING, FINDNODE,
//! NODES are the library's own. Honest nodes never ban (the packet filter is
//! off), which matters because sigp's ban list is process-global.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use discv5::{ConfigBuilder, Discv5, Enr, ListenConfig};
use enr::NodeId;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::keys::SecretKey;
use crate::population::is_attacker_ip;

/// What a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// An honest node.
    Honest,
    /// A Sybil in the attacker range.
    Sybil,
    /// A "false friend" among honest nodes that answers with Sybils only.
    Poisoner,
}

impl Role {
    /// Whether the attacker runs it.
    pub fn is_attacker(self) -> bool {
        matches!(self, Self::Sybil | Self::Poisoner)
    }
}

/// A node to start.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Its key.
    pub key: SecretKey,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its UDP port.
    pub port: u16,
    /// Its role.
    pub role: Role,
    /// Where its socket binds when that is not the address its ENR
    /// advertises (`ip:port`): a flaky node behind its lossy relay
    /// ([`crate::relay`]). `None`: at `ip:port`.
    pub bind: Option<SocketAddr>,
}

/// A running node.
pub struct SimNode {
    /// The discv5 instance.
    pub discv5: Arc<Discv5>,
    /// Its ENR.
    pub enr: Enr,
    /// Its role.
    pub role: Role,
}

/// The table filter of Sybils and poisoners: attacker addresses only.
fn attacker_records_only(enr: &Enr) -> bool {
    enr.ip4().is_some_and(is_attacker_ip)
}

/// Builds the ENR a spec announces: IPv4, UDP and TCP on the same port.
pub fn spec_enr(spec: &NodeSpec) -> anyhow::Result<Enr> {
    Enr::builder()
        .ip4(spec.ip)
        .udp4(spec.port)
        .tcp4(spec.port)
        .build(&spec.key.combined())
        .context("build ENR")
}

impl SimNode {
    /// Binds and starts one node. Its ENR advertises `ip:port` whatever
    /// `bind` says, and never changes (`disable_enr_update`: PONG votes
    /// cannot rewrite it).
    pub async fn start(spec: &NodeSpec) -> anyhow::Result<Self> {
        let bind = spec
            .bind
            .unwrap_or(SocketAddr::new(IpAddr::V4(spec.ip), spec.port));
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .with_context(|| format!("bind {bind}"))?;
        let enr = spec_enr(spec)?;
        let listen = ListenConfig::FromSockets {
            ipv4: Some(Arc::new(socket)),
            ipv6: None,
        };
        let mut config = ConfigBuilder::new(listen);
        config.disable_enr_update();
        if spec.role.is_attacker() {
            config.table_filter(attacker_records_only);
        }
        let mut discv5 = Discv5::new(enr.clone(), spec.key.combined(), config.build())
            .map_err(anyhow::Error::msg)?;
        discv5
            .start()
            .await
            .map_err(|e| anyhow::anyhow!("start discv5 on {}:{}: {e:?}", spec.ip, spec.port))?;
        Ok(Self {
            discv5: Arc::new(discv5),
            enr,
            role: spec.role,
        })
    }

    /// The node ID.
    pub fn node_id(&self) -> NodeId {
        self.enr.node_id()
    }
}

/// Open files a network of `nodes` needs: one UDP socket per node, plus
/// room for the runtime, HTTP clients and logs.
pub fn files_needed(nodes: usize) -> u64 {
    nodes as u64 + 512
}

/// Raises the soft open-files limit (RLIMIT_NOFILE) to fit a network of
/// `nodes`, up to the hard limit.
///
/// # Errors
///
/// The hard limit is too low: the message says how many are needed and how
/// to raise it.
pub fn ensure_open_files(nodes: usize) -> anyhow::Result<()> {
    let needed = files_needed(nodes);
    let got = rlimit::increase_nofile_limit(needed).context("raise the open-files limit")?;
    if got < needed {
        anyhow::bail!(
            "{nodes} nodes need about {needed} open files but the hard limit is {got}; \
             raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit) or run fewer nodes"
        );
    }
    Ok(())
}

/// Starts every spec, `batch` at a time (yielding between batches so
/// start-up does not starve the rest of the runtime).
pub async fn start_all(specs: &[NodeSpec], batch: usize) -> anyhow::Result<Vec<SimNode>> {
    let mut nodes = Vec::with_capacity(specs.len());
    for chunk in specs.chunks(batch.max(1)) {
        let mut set = JoinSet::new();
        for (i, spec) in chunk.iter().enumerate() {
            let spec = spec.clone();
            set.spawn(async move { (i, SimNode::start(&spec).await) });
        }
        let mut started: Vec<(usize, SimNode)> = Vec::with_capacity(chunk.len());
        while let Some(joined) = set.join_next().await {
            let (i, node) = joined.context("node start task")?;
            started.push((i, node?));
        }
        started.sort_by_key(|(i, _)| *i);
        nodes.extend(started.into_iter().map(|(_, n)| n));
        tokio::task::yield_now().await;
    }
    Ok(nodes)
}

/// Stops every node (closing its socket).
pub fn stop_all(nodes: Vec<SimNode>) {
    for node in nodes {
        if let Ok(mut d) = Arc::try_unwrap(node.discv5) {
            d.shutdown();
        }
    }
}

/// Node IDs sorted, with their index in the member list: the k-bucket of
/// any node at any distance is a contiguous range of this list.
pub struct Keyspace {
    sorted: Vec<([u8; 32], usize)>,
}

impl Keyspace {
    /// Indexes `ids`.
    pub fn new(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut sorted: Vec<([u8; 32], usize)> = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| (id.raw(), i))
            .collect();
        sorted.sort_unstable();
        Self { sorted }
    }

    /// For each log-distance `d` at which `x` has members, the members in
    /// `x`'s k-bucket `d` (their indices), nearest buckets last.
    pub fn buckets_of(&self, x: &NodeId) -> Vec<(u16, Vec<usize>)> {
        let x = x.raw();
        let mut out = Vec::new();
        for cpl in 0..256usize {
            // Members sharing `cpl` bits with x, then the next bit differing.
            let mut p = x;
            p[cpl / 8] ^= 0x80 >> (cpl % 8);
            let range = self.prefix_range(&p, cpl + 1);
            if !range.is_empty() {
                out.push((
                    (256 - cpl) as u16,
                    self.sorted[range].iter().map(|(_, i)| *i).collect(),
                ));
            }
            // Stop once no member other than x itself shares the next bit
            // with x (x need not be a member: poisoners are filled from
            // the Sybils' keyspace).
            let window = self.prefix_range(&x, cpl + 1);
            let only_x = window.len() == 1 && self.sorted[window.start].0 == x;
            if window.is_empty() || only_x {
                break;
            }
        }
        out
    }

    fn prefix_range(&self, p: &[u8; 32], bits: usize) -> std::ops::Range<usize> {
        let start = self
            .sorted
            .partition_point(|(id, _)| prefix_cmp(id, p, bits).is_lt());
        let end = self
            .sorted
            .partition_point(|(id, _)| !prefix_cmp(id, p, bits).is_gt());
        start..end
    }
}

/// Compares the first `bits` bits of `a` and `b`.
fn prefix_cmp(a: &[u8; 32], b: &[u8; 32], bits: usize) -> std::cmp::Ordering {
    let full = bits / 8;
    match a[..full].cmp(&b[..full]) {
        std::cmp::Ordering::Equal if !bits.is_multiple_of(8) => {
            let mask = 0xFFu8 << (8 - bits % 8);
            (a[full] & mask).cmp(&(b[full] & mask))
        }
        other => other,
    }
}

/// Fills `node`'s k-buckets with up to `k` random members per log-distance
/// (`members[i]` is the ENR of member `i` of `keyspace`). Returns the
/// number of records added.
pub fn fill_table(
    node: &SimNode,
    keyspace: &Keyspace,
    members: &[Enr],
    k: usize,
    rng: &mut StdRng,
) -> usize {
    let mut added = 0;
    for (_, bucket) in keyspace.buckets_of(&node.node_id()) {
        for &i in bucket.sample(rng, k) {
            if node.discv5.add_enr(members[i].clone()).is_ok() {
                added += 1;
            }
        }
    }
    added
}

/// Every `every`, each `(attacker, target)` pair has the attacker node PING
/// the target (re-announcing itself, as a flooding Sybil does); spread
/// evenly over the period, at most `concurrency` PINGs in flight. Runs until
/// aborted; aborting it drops the PINGs in flight too (they live in its
/// `JoinSet`), so no task holds on to the attacker nodes afterwards.
pub async fn announce(
    nodes: Arc<Vec<SimNode>>,
    pairs: Vec<(usize, Enr)>,
    every: Duration,
    concurrency: usize,
) {
    if pairs.is_empty() {
        return;
    }
    let gap = every / pairs.len() as u32;
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tick = tokio::time::interval(gap.max(Duration::from_micros(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = JoinSet::new();
    loop {
        for (a, target) in &pairs {
            tick.tick().await;
            while in_flight.try_join_next().is_some() {}
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let (nodes, a, target) = (nodes.clone(), *a, target.clone());
            in_flight.spawn(async move {
                let _ = nodes[a].discv5.send_ping(target).await;
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_buckets_are_exactly_the_log_distance_classes() {
        let ids: Vec<NodeId> = (0..300).map(|_| NodeId::random()).collect();
        let ks = Keyspace::new(ids.clone());
        for x in ids.iter().take(20) {
            let buckets = ks.buckets_of(x);
            let mut seen = 0;
            for (d, members) in &buckets {
                for &i in members {
                    assert_eq!(
                        discguard_policy::log_distance(&x.raw(), &ids[i].raw()),
                        Some(*d)
                    );
                }
                seen += members.len();
            }
            // Every other member is in exactly one bucket.
            assert_eq!(seen, ids.len() - 1);
        }
    }

    #[test]
    fn buckets_of_a_non_member_cover_every_member() {
        let ids: Vec<NodeId> = (0..200).map(|_| NodeId::random()).collect();
        let ks = Keyspace::new(ids.clone());
        for _ in 0..50 {
            let outsider = NodeId::random();
            let seen: usize = ks.buckets_of(&outsider).iter().map(|(_, m)| m.len()).sum();
            assert_eq!(
                seen,
                ids.len(),
                "the nearest member's bucket is not dropped"
            );
        }
    }

    #[test]
    fn prefix_comparison() {
        let a = [0b1010_0000u8; 32];
        let mut b = a;
        b[0] = 0b1011_0000;
        assert!(prefix_cmp(&a, &b, 3).is_eq());
        assert!(prefix_cmp(&a, &b, 4).is_lt());
        assert!(prefix_cmp(&b, &a, 4).is_gt());
        assert!(prefix_cmp(&a, &b, 0).is_eq());
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;
    use rand::SeedableRng as _;

    /// A fresh node that knows 4 members finds existing members by lookup
    /// through tables filled with `fill_table` at 8 per bucket (the
    /// harness default): the honest network routes like a bootstrapped
    /// one. (At 16 per bucket the same lookups find about a third of their
    /// targets: sigp answers FINDNODE for distances [d, d+1, d-1] from the
    /// buckets in ascending order, up to 16 nodes, so a full bucket d-1,
    /// whose nodes are no nearer the target, fills the whole answer.) Real
    /// UDP on loopback.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookups_through_filled_tables_find_their_targets() {
        let mut rng = StdRng::seed_from_u64(11);
        let specs: Vec<NodeSpec> = (0..200u32)
            .map(|i| NodeSpec {
                key: SecretKey::random(&mut rng),
                ip: Ipv4Addr::new(127, 60, (i / 200) as u8, (1 + i % 200) as u8),
                port: 36100,
                role: Role::Honest,
                bind: None,
            })
            .collect();
        let nodes = start_all(&specs, 64).await.unwrap();
        let enrs: Vec<Enr> = nodes.iter().map(|n| n.enr.clone()).collect();
        let ks = Keyspace::new(nodes.iter().map(SimNode::node_id));
        for n in &nodes {
            fill_table(n, &ks, &enrs, 8, &mut rng);
        }
        let me = SimNode::start(&NodeSpec {
            key: SecretKey::random(&mut rng),
            ip: Ipv4Addr::new(127, 60, 9, 1),
            port: 36100,
            role: Role::Honest,
            bind: None,
        })
        .await
        .unwrap();
        for e in &enrs[..4] {
            me.discv5.add_enr(e.clone()).unwrap();
        }
        let mut found = 0;
        for t in nodes.iter().skip(50).take(20) {
            let got = me.discv5.find_node(t.node_id()).await.unwrap();
            if got.iter().any(|e| e.node_id() == t.node_id()) {
                found += 1;
            } else {
                eprintln!("missed {} (got {})", t.node_id(), got.len());
            }
        }
        assert!(found >= 19, "found {found} of 20");
    }
}

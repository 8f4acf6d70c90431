//! The scenarios: each builds the honest network, starts the three victims
//! side by side, mounts its attack and measures.
//!
//! | scenario | attack | measured |
//! |---|---|---|
//! | `sybil-flood` | M Sybils in G groups PING the victims every few seconds and answer FINDNODE with Sybils only; swept over G | A_T, A_V, A_P over time and at the end; A_max |
//! | `id-mining` | Sybils whose node IDs are mined to share ≥ k leading bits with each victim, on a few IPs | attacker share of the near buckets and of served peers |
//! | `lookup-poisoning` | a fraction f of honest-looking nodes answer every FINDNODE with Sybils only; swept over f | per lookup engine (discguard with one path and with three disjoint paths, sigp's `find_node`): lookups for existing node IDs that find their target; A_L; queries, rounds, agreement |
//! | `query-observer` | none | per privacy mode and fraction of honest observers: the probability they name a lookup's target, its anonymity set, messages against `off` |
//! | `baseline` | none | policy rejections of honest nodes; group entropy of served peers against random samples of the population |
//! | `flaky-honest` | none: a fraction of honest nodes lose 10–30% of their packets (a lossy relay in front of each) | flaky nodes banned (goal 0), their share of table, view and served peers against their share of the network, their scores in discguard's view, the relays' realised loss |
//!
//! Every scenario also records each victim's ban list (`/v1/bans`, at
//! every sample and at the end: attacker, honest = false bans, flaky) and
//! how long the misbehaving nodes (Sybils and poisoners) kept their place:
//! the time from the peak of their share to its halving, per set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use discv5::Enr;
use enr::NodeId;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde_json::json;

use crate::keys::{self, SecretKey};
use crate::measure::{
    self, BanStats, FlakyCount, LookupTally, NodeClass, ScoreStats, SetCount, TableCaps,
};
use crate::observer::{self, DistanceModel, Exposure, ExposureMeans, Known};
use crate::population::{
    self, AsnRange, AttackGroup, Placement, flaky_internal_ips, is_attacker_ip, place_attackers,
    place_honest, victim_ip,
};
use crate::procstat::ProcStat;
use crate::relay::{DEFAULT_MAX_PEERS, LossyRelay, RelayConfig, RelayCounts};
use crate::report::{
    Counts, Diversity, Entropy, FlakyNetwork, FlakyNode, FlakyScores, FlakyVictim,
    KeyspaceDetection, LookupEngine, MisbehavingHalving, ModeCost, ModeExposure, NearBuckets,
    NetworkSize, ObservedAt, ObservedLookup, ObserverReport, Report, Run, RunCost, Sample,
};
use crate::risk::{self, ScopeSummary, VictimRisk};
use crate::sim::{self, Keyspace, NodeSpec, Role, SimNode};
use crate::victims::{Binaries, Defense, Victim, VictimSpec};
use discguard_service::api::{LookupResponse, TableResponse, parse_node_id};

/// k: entries per k-bucket of the attacker nodes' tables (the discv5
/// spec's k = 16); honest tables take `--bucket-fill`.
const K: usize = 16;

/// Lookups towards random targets each victim runs before its risk is
/// measured: their median network-size estimate feeds the keyspace test.
const SIZE_LOOKUPS: usize = 8;

/// Settings every scenario shares.
#[derive(Clone, Debug, clap::Args)]
pub struct Common {
    /// Directory for report.json, report.md, charts and victim logs.
    #[arg(long, default_value = "adversary-report")]
    pub out: PathBuf,
    /// Seed of every random choice (keys, ASNs, targets): same seed, same network.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Honest discv5 nodes (drawn from the real Ethereum ASN distribution).
    #[arg(long, default_value_t = 1000)]
    pub honest: usize,
    /// Seconds each run lasts after the victims start.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Seconds between samples of the victims' sets.
    #[arg(long, default_value_t = 5)]
    pub sample_every: u64,
    /// Peers asked of each victim (`/v1/peers?limit=N`): what a consensus client would take.
    #[arg(long, default_value_t = 32)]
    pub served: usize,
    /// UDP port of the honest nodes and victims (attacker nodes use the ports just above).
    #[arg(long, default_value_t = 30400)]
    pub port: u16,
    /// Honest nodes given to every victim as bootnodes.
    #[arg(long, default_value_t = 4)]
    pub bootnodes: usize,
    /// Entries per k-bucket of the honest nodes' tables (1..=16). sigp
    /// discv5 answers FINDNODE from the asked distances in ascending order
    /// and stops at 16 nodes, so a full bucket one closer than the asked
    /// distance fills the answer with no node nearer the target; at 8, the
    /// asked bucket always makes it into the answer (docs/adversary.md).
    #[arg(long, default_value_t = 8)]
    pub bucket_fill: usize,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl Common {
    /// Checks the settings every scenario shares; `ports_above` is how many
    /// ports above `--port` the attack uses. Errors name the flag.
    fn validate(&self, ports_above: usize) -> anyhow::Result<()> {
        if self.honest < self.bootnodes.max(2) {
            bail!(
                "--honest {} is too few (at least 2 and at least --bootnodes {})",
                self.honest,
                self.bootnodes
            );
        }
        if !(1..=16).contains(&self.bucket_fill) {
            bail!("--bucket-fill {} is out of range 1..=16", self.bucket_fill);
        }
        if !(1..=1024).contains(&self.served) {
            bail!("--served {} is out of range 1..=1024", self.served);
        }
        if usize::from(self.port) + ports_above > usize::from(u16::MAX) {
            bail!(
                "--port {} leaves no room for the {ports_above} ports above it the attack uses",
                self.port
            );
        }
        Ok(())
    }
}

/// `sybil-flood` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct SybilFlood {
    /// Common settings.
    #[command(flatten)]
    pub common: Common,
    /// Sybil nodes (M); at most 254 per group with `--group-kind slash24`.
    #[arg(long, default_value_t = 250)]
    pub sybils: usize,
    /// Attacker network groups (G), a list to sweep.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub sybil_groups: Vec<usize>,
    /// Kind of the attacker's groups.
    #[arg(long, value_enum, default_value = "asn")]
    pub group_kind: AttackGroup,
    /// Seconds between a Sybil's PINGs to each victim.
    #[arg(long, default_value_t = 10)]
    pub announce_every: u64,
}

/// The mined-ID attack of `id-mining` and `keyspace-detection`.
#[derive(Clone, Debug, clap::Args)]
pub struct Mining {
    /// Leading bits each mined ID shares with its victim's ID (k).
    #[arg(long, default_value_t = 12)]
    pub bits: u32,
    /// Mined Sybils per victim.
    #[arg(long, default_value_t = 24)]
    pub sybils_per_victim: usize,
    /// Distinct IPs the Sybils share (all in one AS, spread over its /16s).
    #[arg(long, default_value_t = 2)]
    pub sybil_ips: usize,
    /// Seconds between a Sybil's PINGs to its victim.
    #[arg(long, default_value_t = 10)]
    pub announce_every: u64,
}

impl Mining {
    /// Checks the flags; errors name the flag.
    fn validate(&self) -> anyhow::Result<()> {
        if self.sybils_per_victim == 0 {
            bail!("--sybils-per-victim 0: nothing to attack with");
        }
        if self.sybil_ips == 0 || self.sybil_ips > 64 {
            bail!("--sybil-ips {} is out of range 1..=64", self.sybil_ips);
        }
        // About 2^bits key generations of ~30 µs per mined key: 20 bits is
        // half a minute of one core per key.
        if self.bits > 20 {
            bail!(
                "--bits {} would take too long to mine here (at most 20)",
                self.bits
            );
        }
        Ok(())
    }

    /// Mined Sybils in all (three victims).
    const fn sybils(&self) -> usize {
        3 * self.sybils_per_victim
    }
}

/// `id-mining` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct IdMining {
    /// Common settings.
    #[command(flatten)]
    pub common: Common,
    /// The attack.
    #[command(flatten)]
    pub mining: Mining,
}

/// `keyspace-detection` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct KeyspaceDetectionArgs {
    /// Common settings (`--duration` is per run; 20 s fills the tables).
    #[command(flatten)]
    pub common: Common,
    /// Runs of each phase: first the no-attack `baseline`, then `id-mining`,
    /// each run with fresh victim keys on the same honest network (1..=127).
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// The attack of the `id-mining` runs.
    #[command(flatten)]
    pub mining: Mining,
}

/// `lookup-poisoning` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct LookupPoisoning {
    /// Common settings.
    #[command(flatten)]
    pub common: Common,
    /// Fractions f of honest-looking nodes that answer FINDNODE with Sybils
    /// only, a list to sweep (each in [0, 1)): one network per value, same
    /// seed, so the poisoners of a smaller f are among those of a larger.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.2,0.3")]
    pub poisoners: Vec<f64>,
    /// Sybil nodes the poisoners point to.
    #[arg(long, default_value_t = 64)]
    pub sybils: usize,
    /// ASN groups of the Sybils.
    #[arg(long, default_value_t = 4)]
    pub sybil_groups: usize,
    /// Lookups each victim runs, for node IDs of existing honest nodes
    /// (discguard runs each twice: one path and three disjoint paths).
    #[arg(long, default_value_t = 30)]
    pub lookups: usize,
    /// Targeted poisoning: mine the Sybils' node IDs to share this many
    /// leading bits with the lookup targets (`--mined-per-target` each,
    /// replacing `--sybils`), so that a path a poisoner leads to them ends
    /// among Sybils nearer the target than any honest node (S/Kademlia's
    /// attack). 0: random Sybil IDs. At most 20 (mining cost).
    #[arg(long, default_value_t = 0)]
    pub mined_bits: u32,
    /// Sybils mined next to each target with `--mined-bits` (1..=32; 16 fill
    /// a path's closest set).
    #[arg(long, default_value_t = 16)]
    pub mined_per_target: usize,
}

/// Most lookups per victim and engine (`--lookups`): each is up to a few
/// dozen FINDNODE requests and a few seconds.
const MAX_LOOKUPS: usize = 1000;

/// Most values of a sweep flag (`--poisoners`, `--observers`).
const MAX_SWEEP: usize = 16;

/// Checks a sweep of fractions: not empty, at most [`MAX_SWEEP`] values,
/// each in `range` (`lo_open`: the low end excluded), none repeated.
/// Errors name the flag.
fn check_fractions(flag: &str, values: &[f64], lo_open: bool, hi_open: bool) -> anyhow::Result<()> {
    if values.is_empty() {
        bail!("{flag} is empty");
    }
    if values.len() > MAX_SWEEP {
        bail!("{flag} lists {} values; at most {MAX_SWEEP}", values.len());
    }
    let (lo, hi) = (
        if lo_open { "(0" } else { "[0" },
        if hi_open { "1)" } else { "1]" },
    );
    for &f in values {
        let low_ok = if lo_open { f > 0.0 } else { f >= 0.0 };
        let high_ok = if hi_open { f < 1.0 } else { f <= 1.0 };
        if !(low_ok && high_ok) {
            bail!("{flag} {f} is out of range {lo}, {hi}");
        }
    }
    for (i, a) in values.iter().enumerate() {
        if values[..i].contains(a) {
            bail!("{flag} {values:?} repeats {a}");
        }
    }
    Ok(())
}

/// A privacy mode of discguard's lookups, as `GET /v1/lookup?privacy=…`
/// takes it (docs/lookup.md): the distances asked (`off`, `blur`, `prefix`)
/// and whether dummy (cover) lookups run alongside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrivacyMode {
    /// Standard distances `[d, d+1, d+2]`: the true one first.
    Off,
    /// 4–6 consecutive distances around the true one.
    Blur,
    /// A random key in the target's p-bit subtree, then the subtree.
    Prefix,
    /// Standard distances and cover lookups.
    Cover,
    /// Blurred distances and cover lookups.
    BlurCover,
    /// Prefix lookups and cover lookups.
    PrefixCover,
}

impl PrivacyMode {
    /// Every mode.
    pub const ALL: [Self; 6] = [
        Self::Off,
        Self::Blur,
        Self::Prefix,
        Self::Cover,
        Self::BlurCover,
        Self::PrefixCover,
    ];

    /// The mode's name as the API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Blur => "blur",
            Self::Prefix => "prefix",
            Self::Cover => "cover",
            Self::BlurCover => "blur+cover",
            Self::PrefixCover => "prefix+cover",
        }
    }

    /// Whether cover lookups run.
    pub const fn has_cover(self) -> bool {
        matches!(self, Self::Cover | Self::BlurCover | Self::PrefixCover)
    }

    /// The `/v1/lookup` options that ask for this mode with `cover` dummy
    /// lookups (sent only where the mode has cover) and the transcript.
    /// `+` is sent as `%2B`: in a query string a bare `+` means a space.
    pub fn options(self, cover: usize) -> String {
        let mut o = format!("&privacy={}", self.name().replace('+', "%2B"));
        if self.has_cover() {
            o.push_str(&format!("&cover={cover}"));
        }
        o.push_str("&transcript=true");
        o
    }
}

impl std::str::FromStr for PrivacyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown mode {s:?} (off, blur, prefix, cover, blur+cover, prefix+cover)")
            })
    }
}

/// Most cover lookups the service runs per lookup (`cover=1..=4`,
/// docs/lookup.md "API").
const MAX_COVER: usize = 4;

/// `query-observer` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct QueryObserver {
    /// Common settings (`--duration`: seconds of warm-up before the lookups).
    #[command(flatten)]
    pub common: Common,
    /// Fractions f of honest nodes that observe, a list (each in (0, 1]):
    /// the first round(f × honest) of one seeded order, so the sets are
    /// nested and one set of lookups serves every f.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.05,0.1,0.2")]
    pub observers: Vec<f64>,
    /// Privacy modes to measure, a list: off, blur, prefix, cover,
    /// blur+cover, prefix+cover.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "off,blur,prefix,cover,prefix+cover"
    )]
    pub modes: Vec<PrivacyMode>,
    /// Lookups per mode, for node IDs of existing honest nodes (the same
    /// targets in every mode).
    #[arg(long, default_value_t = 30)]
    pub lookups: usize,
    /// Dummy (cover) lookups per lookup in the modes with cover (1..=4).
    #[arg(long, default_value_t = 2)]
    pub cover: usize,
}

impl QueryObserver {
    /// Checks the flags; errors name the flag.
    fn validate(&self) -> anyhow::Result<()> {
        self.common.validate(0)?;
        check_fractions("--observers", &self.observers, true, false)?;
        if self.modes.is_empty() {
            bail!("--modes is empty");
        }
        for (i, m) in self.modes.iter().enumerate() {
            if self.modes[..i].contains(m) {
                bail!("--modes repeats {}", m.name());
            }
        }
        if !(1..=MAX_LOOKUPS).contains(&self.lookups) {
            bail!(
                "--lookups {} is out of range 1..={MAX_LOOKUPS}",
                self.lookups
            );
        }
        if self.lookups > self.common.honest {
            bail!(
                "--lookups {} is more than the --honest {} nodes to look up",
                self.lookups,
                self.common.honest
            );
        }
        if !(1..=MAX_COVER).contains(&self.cover) {
            bail!("--cover {} is out of range 1..={MAX_COVER}", self.cover);
        }
        Ok(())
    }
}

/// `flaky-honest` parameters.
#[derive(Clone, Debug, clap::Args)]
pub struct FlakyHonest {
    /// Common settings.
    #[command(flatten)]
    pub common: Common,
    /// The lossy links.
    #[command(flatten)]
    pub lossy: Lossy,
}

/// Which honest nodes lose packets, and how many.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct Lossy {
    /// Fraction of honest nodes that lose packets (flaky nodes: round(f × honest)).
    #[arg(long, default_value_t = 0.2)]
    pub flaky: f64,
    /// Lowest loss rate of a flaky node (each draws its rate uniformly from
    /// [--loss-min, --loss-max], applied to every packet in each direction).
    #[arg(long, default_value_t = 0.1)]
    pub loss_min: f64,
    /// Highest loss rate of a flaky node.
    #[arg(long, default_value_t = 0.3)]
    pub loss_max: f64,
}

impl Lossy {
    /// Checks the flags; errors name the flag.
    fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.flaky) {
            bail!("--flaky {} is out of range [0, 1]", self.flaky);
        }
        if !(0.0..=1.0).contains(&self.loss_min) {
            bail!("--loss-min {} is out of range [0, 1]", self.loss_min);
        }
        if !(0.0..=1.0).contains(&self.loss_max) {
            bail!("--loss-max {} is out of range [0, 1]", self.loss_max);
        }
        if self.loss_min > self.loss_max {
            bail!(
                "--loss-min {} is above --loss-max {}",
                self.loss_min,
                self.loss_max
            );
        }
        Ok(())
    }
}

/// Seed of the flaky-node choices, xor the run's seed: a stream of its own,
/// so every other scenario keeps the network its seed always gave.
const FLAKY_SEED: u64 = 0xF1A4_7E57;

/// A flaky node's relay, with the loss rate it was drawn.
struct FlakyRelay {
    node_id: NodeId,
    loss: f64,
    relay: LossyRelay,
}

/// What a victim left behind: its process cost and its ban list, read
/// just before it stopped.
struct Ended {
    cost: Option<ProcStat>,
    bans: Option<BanStats>,
    score_events: Option<BTreeMap<String, u64>>,
    scores: Option<ScoreStats>,
}

/// The honest network of a scenario, running in this process.
struct Network {
    common: Common,
    rng: StdRng,
    bins: Binaries,
    honest: Vec<Placement>,
    honest_ranges: Vec<AsnRange>,
    nodes: Arc<Vec<SimNode>>,
    /// Role of every node by node ID (victims absent: they count as honest).
    roles: HashMap<NodeId, Role>,
    /// Placement of every node by node ID.
    placed: HashMap<NodeId, Placement>,
    /// Addresses of honest nodes (poisoners and flaky ones included).
    honest_ips: HashSet<Ipv4Addr>,
    /// Flaky honest nodes (`flaky-honest`): their loss rates.
    flaky: HashMap<NodeId, f64>,
    /// Their relays; closed when the network stops.
    relays: Vec<FlakyRelay>,
    started: Instant,
    start_seconds: f64,
    keys_seconds: f64,
    bind_seconds: f64,
    fill_seconds: f64,
    progress: bool,
}

/// Attacker nodes of one run.
struct Attack {
    placements: Vec<Placement>,
    ranges: Vec<AsnRange>,
    nodes: Arc<Vec<SimNode>>,
}

/// `(log-distance, node ID)` of each entry of a set.
type Entries<'a> = Vec<(u16, &'a str)>;

/// The entries of a victim's `/v1/table`: discv5's own k-buckets, and the
/// curated view (empty for the baselines).
fn entries(t: &TableResponse) -> (Entries<'_>, Entries<'_>) {
    let discv5 = t
        .discv5_buckets
        .iter()
        .flat_map(|b| b.entries.iter().map(|e| (b.distance, e.node_id.as_str())))
        .collect();
    let view = t
        .buckets
        .iter()
        .flat_map(|b| b.entries.iter().map(|e| (b.distance, e.node_id.as_str())))
        .collect();
    (discv5, view)
}

impl Network {
    /// Places and keys the honest nodes (a `poisoners` fraction of them
    /// poisoners, and with `lossy` a fraction of the others flaky, each
    /// behind its lossy relay), and starts them; `attackers` is the most
    /// attacker nodes the scenario runs at once (for the open-files limit).
    async fn start(
        common: &Common,
        poisoners: f64,
        attackers: usize,
        lossy: Option<Lossy>,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        if !(0.0..1.0).contains(&poisoners) {
            bail!("--poisoners {poisoners} is out of range [0, 1)");
        }
        let bins = Binaries::locate()?;
        let n_flaky = lossy.map_or(0, |l| (l.flaky * common.honest as f64).round() as usize);
        // Honest nodes, the attack, the victims' HTTP connections; a relay
        // holds its front socket and one per peer (the three victims).
        sim::ensure_open_files(common.honest + attackers + 3 + 4 * n_flaky)?;
        let mut rng = StdRng::seed_from_u64(common.seed);
        let dist = population::real_distribution();
        let (honest, honest_ranges) = place_honest(common.honest, &dist, &mut rng)?;
        let n_poison = (poisoners * common.honest as f64).round() as usize;
        let mut order: Vec<usize> = (0..honest.len()).collect();
        order.shuffle(&mut rng);
        let poison: HashSet<usize> = order[..n_poison].iter().copied().collect();
        // Flaky nodes and their loss rates, from a stream of their own.
        let mut flaky_rng = StdRng::seed_from_u64(common.seed ^ FLAKY_SEED);
        let mut candidates: Vec<usize> =
            (0..honest.len()).filter(|i| !poison.contains(i)).collect();
        candidates.shuffle(&mut flaky_rng);
        let flaky_loss: HashMap<usize, f64> = match lossy {
            Some(l) => candidates
                .iter()
                .take(n_flaky)
                .map(|&i| (i, flaky_rng.random_range(l.loss_min..=l.loss_max)))
                .collect(),
            None => HashMap::new(),
        };
        if flaky_loss.len() != n_flaky {
            bail!(
                "{n_flaky} flaky nodes asked of {} honest nodes that are not poisoners",
                candidates.len()
            );
        }
        let honest_specs: Vec<NodeSpec> = honest
            .iter()
            .enumerate()
            .map(|(i, p)| NodeSpec {
                key: SecretKey::random(&mut rng),
                ip: p.ip,
                port: common.port,
                role: if poison.contains(&i) {
                    Role::Poisoner
                } else {
                    Role::Honest
                },
                // A flaky node binds its internal address; its relay takes
                // the address its ENR advertises.
                bind: flaky_loss
                    .contains_key(&i)
                    .then(|| SocketAddr::new(IpAddr::V4(flaky_internal_ips(p.ip).0), common.port)),
            })
            .collect();
        let keys_seconds = started.elapsed().as_secs_f64();
        let progress = !common.quiet;
        let bar = bar(progress, honest_specs.len() as u64, "starting honest nodes");
        let mut nodes = Vec::with_capacity(honest_specs.len());
        for chunk in honest_specs.chunks(64) {
            nodes.extend(sim::start_all(chunk, 64).await?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        let mut roles = HashMap::new();
        let mut placed = HashMap::new();
        for (n, p) in nodes.iter().zip(&honest) {
            roles.insert(n.node_id(), n.role);
            placed.insert(n.node_id(), p.clone());
        }
        let mut flaky = HashMap::new();
        let mut relays = Vec::with_capacity(n_flaky);
        let mut flaky_idx: Vec<(usize, f64)> = flaky_loss.into_iter().collect();
        flaky_idx.sort_by_key(|&(i, _)| i);
        for (i, loss) in flaky_idx {
            let (node_ip, relay_ip) = flaky_internal_ips(honest[i].ip);
            let relay = LossyRelay::start(RelayConfig {
                front: SocketAddr::new(IpAddr::V4(honest[i].ip), common.port),
                node: SocketAddr::new(IpAddr::V4(node_ip), common.port),
                peer_ip: IpAddr::V4(relay_ip),
                loss,
                seed: common.seed ^ FLAKY_SEED ^ ((i as u64 + 1) << 20),
                max_peers: DEFAULT_MAX_PEERS,
            })
            .await?;
            flaky.insert(nodes[i].node_id(), loss);
            relays.push(FlakyRelay {
                node_id: nodes[i].node_id(),
                loss,
                relay,
            });
        }
        let bind_seconds = started.elapsed().as_secs_f64() - keys_seconds;
        // Honest tables: every honest-looking node (poisoners included).
        let honest_enrs: Vec<Enr> = nodes.iter().map(|n| n.enr.clone()).collect();
        let ks = Keyspace::new(nodes.iter().map(SimNode::node_id));
        for n in nodes.iter().filter(|n| n.role == Role::Honest) {
            sim::fill_table(n, &ks, &honest_enrs, common.bucket_fill, &mut rng);
        }
        let honest_ips = honest.iter().map(|p| p.ip).collect();
        Ok(Self {
            common: common.clone(),
            rng,
            bins,
            honest,
            honest_ranges,
            nodes: Arc::new(nodes),
            roles,
            placed,
            honest_ips,
            flaky,
            relays,
            start_seconds: started.elapsed().as_secs_f64(),
            keys_seconds,
            bind_seconds,
            fill_seconds: started.elapsed().as_secs_f64() - keys_seconds - bind_seconds,
            started,
            progress,
        })
    }

    fn is_attacker(&self, hex: &str) -> bool {
        parse_node_id(hex)
            .and_then(|id| self.roles.get(&id))
            .is_some_and(|r| r.is_attacker())
    }

    /// Honest nodes in the /16 and in the AS of the node with this hex ID
    /// (itself included); (0, 0) for a node the harness did not place.
    fn crowd_of(&self, hex: &str) -> (usize, usize) {
        let Some(p) = parse_node_id(hex).and_then(|id| self.placed.get(&id)) else {
            return (0, 0);
        };
        let slash16 = self
            .honest
            .iter()
            .filter(|h| h.slash16() == p.slash16())
            .count();
        let asn = self.honest.iter().filter(|h| h.asn == p.asn).count();
        (slash16, asn)
    }

    fn is_flaky(&self, hex: &str) -> bool {
        parse_node_id(hex).is_some_and(|id| self.flaky.contains_key(&id))
    }

    /// Who the node with this hex ID is.
    fn class_of(&self, hex: &str) -> NodeClass {
        let Some(id) = parse_node_id(hex) else {
            return NodeClass::Unknown;
        };
        match self.roles.get(&id) {
            Some(r) if r.is_attacker() => NodeClass::Attacker,
            Some(_) if self.flaky.contains_key(&id) => NodeClass::Flaky,
            Some(_) => NodeClass::Honest,
            None => NodeClass::Unknown,
        }
    }

    /// Who lives at this IP (`a.b.c.d`, or with a port).
    fn ip_class_of(&self, text: &str) -> NodeClass {
        let ip = text
            .parse::<IpAddr>()
            .ok()
            .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()));
        match ip {
            Some(IpAddr::V4(v4)) if is_attacker_ip(v4) => NodeClass::Attacker,
            Some(IpAddr::V4(v4)) if self.honest_ips.contains(&v4) => NodeClass::Honest,
            _ => NodeClass::Unknown,
        }
    }

    /// A victim's ban list against ground truth; `None` where it serves
    /// none (404) or did not answer (logged).
    async fn ban_stats(&self, v: &Victim) -> Option<BanStats> {
        match v.bans().await {
            Ok(bans) => bans
                .map(|b| measure::ban_stats(&b, |id| self.class_of(id), |ip| self.ip_class_of(ip))),
            Err(e) => {
                tracing::warn!(defense = %v.defense, error = %e, "ban list not read");
                None
            }
        }
    }

    /// Reads every victim's ban list, then stops them.
    async fn stop_victims(&self, victims: Vec<Victim>) -> Vec<Ended> {
        let mut ends = Vec::new();
        for v in &victims {
            let events = v
                .metrics_text()
                .await
                .ok()
                .flatten()
                .map(|m| counter_by(&m, "discguard_score_events_total", "event"));
            ends.push((self.ban_stats(v).await, events));
        }
        let mut out = Vec::new();
        for (v, (bans, score_events)) in victims.into_iter().zip(ends) {
            let datadir = v.datadir.clone();
            let cost = v.stop(Duration::from_secs(10)).await;
            // discguard writes its scores at shutdown.
            let scores = datadir.and_then(|d| {
                let path = d.join("scores.json");
                let read = std::fs::read_to_string(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|text| measure::score_stats(&text, |id| self.class_of(id)));
                read.map_err(
                    |e| tracing::warn!(path = %path.display(), error = %e, "saved scores not read"),
                )
                .ok()
            });
            out.push(Ended {
                cost,
                bans,
                score_events,
                scores,
            });
        }
        out
    }

    /// Every flaky node with its loss rate and its relay's counts now.
    fn flaky_nodes(&self) -> Vec<FlakyNode> {
        self.relays
            .iter()
            .map(|r| FlakyNode {
                node_id: hex::encode(r.node_id.raw()),
                loss: r.loss,
                relay: r.relay.counts(),
            })
            .collect()
    }

    /// Starts attacker nodes at `placements` (ports from `port_of`), keys
    /// from `keys` or the seed; Sybil and poisoner tables are filled with
    /// Sybils only.
    async fn start_attack(
        &mut self,
        placements: Vec<Placement>,
        ranges: Vec<AsnRange>,
        keys: Option<Vec<SecretKey>>,
        port_of: impl Fn(usize) -> u16,
    ) -> anyhow::Result<Attack> {
        let keys = match keys {
            Some(k) => k,
            None => (0..placements.len())
                .map(|_| SecretKey::random(&mut self.rng))
                .collect(),
        };
        let specs: Vec<NodeSpec> = placements
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (p, key))| NodeSpec {
                key,
                ip: p.ip,
                port: port_of(i),
                role: Role::Sybil,
                bind: None,
            })
            .collect();
        let bar = bar(self.progress, specs.len() as u64, "starting attacker nodes");
        let mut nodes = Vec::with_capacity(specs.len());
        for chunk in specs.chunks(64) {
            nodes.extend(sim::start_all(chunk, 64).await?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        for (n, p) in nodes.iter().zip(&placements) {
            self.roles.insert(n.node_id(), Role::Sybil);
            self.placed.insert(n.node_id(), p.clone());
        }
        let enrs: Vec<Enr> = nodes.iter().map(|n| n.enr.clone()).collect();
        let ks = Keyspace::new(nodes.iter().map(SimNode::node_id));
        for n in &nodes {
            sim::fill_table(n, &ks, &enrs, K, &mut self.rng);
        }
        for n in self.nodes.iter().filter(|n| n.role == Role::Poisoner) {
            sim::fill_table(n, &ks, &enrs, K, &mut self.rng);
        }
        Ok(Attack {
            placements,
            ranges,
            nodes: Arc::new(nodes),
        })
    }

    fn stop_attack(&mut self, attack: Attack) {
        for n in attack.nodes.iter() {
            self.roles.remove(&n.node_id());
            self.placed.remove(&n.node_id());
        }
        match Arc::try_unwrap(attack.nodes) {
            Ok(nodes) => sim::stop_all(nodes),
            Err(_) => tracing::warn!("attacker nodes still referenced; they stop when dropped"),
        }
    }

    /// Writes the run's ASN database and starts the three victims on
    /// `127.0.<run>.1..3` with the same bootnodes.
    async fn start_victims(
        &mut self,
        run: u8,
        dir: &Path,
        ranges: &[AsnRange],
        keys: Option<[SecretKey; 3]>,
    ) -> anyhow::Result<Vec<Victim>> {
        // A fresh directory: discguard restores a saved view from its
        // datadir, and a victim must start cold like the baselines.
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("clear {} from an earlier run", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let asn_db = dir.join("asn.csv");
        let mut all = self.honest_ranges.clone();
        all.extend_from_slice(ranges);
        population::write_asn_csv(&asn_db, &all)?;
        let honest: Vec<&SimNode> = self
            .nodes
            .iter()
            .filter(|n| n.role == Role::Honest)
            .collect();
        let boots: Vec<String> = honest
            .sample(&mut self.rng, self.common.bootnodes)
            .map(|n| n.enr.to_base64())
            .collect();
        let keys = keys.unwrap_or_else(|| {
            [
                SecretKey::random(&mut self.rng),
                SecretKey::random(&mut self.rng),
                SecretKey::random(&mut self.rng),
            ]
        });
        let mut starting = Vec::new();
        for (slot, defense) in Defense::ALL.into_iter().enumerate() {
            let spec = VictimSpec {
                defense,
                key: keys[slot],
                ip: victim_ip(run, slot as u8),
                port: self.common.port,
            };
            let (bins, boots, asn_db, dir) = (
                self.bins.clone(),
                boots.clone(),
                asn_db.clone(),
                dir.to_path_buf(),
            );
            starting.push(tokio::spawn(async move {
                // Its HTTP and metrics ports are found free and released
                // before the victim binds them: on the rare clash, retry.
                let mut attempt = 1;
                loop {
                    match Victim::start(
                        &spec,
                        &bins,
                        &boots,
                        &asn_db,
                        &dir,
                        Duration::from_secs(60),
                    )
                    .await
                    {
                        Err(e) if attempt < 3 => {
                            tracing::warn!(%defense, error = %e, "victim did not start; retrying");
                            attempt += 1;
                        }
                        other => break other,
                    }
                }
            }));
        }
        let mut victims = Vec::new();
        for s in starting {
            victims.push(s.await.context("victim start task")??);
        }
        Ok(victims)
    }

    /// A victim's sets now.
    async fn counts(&self, v: &Victim) -> anyhow::Result<Counts> {
        let table = v.table().await?;
        let served = v.served(self.common.served).await?;
        let (discv5, view) = entries(&table);
        let att = |id: &&str| self.is_attacker(id);
        Ok(Counts {
            table: SetCount::of(discv5.iter().map(|(_, id)| *id), att),
            view: v
                .defense
                .has_view()
                .then(|| SetCount::of(view.iter().map(|(_, id)| *id), att)),
            served: SetCount::of(served.iter().map(|p| p.node_id.as_str()), att),
        })
    }

    /// Each victim's eclipse-risk numbers now (`None`, with a warning, for a
    /// victim that did not answer).
    /// Each victim first runs [`SIZE_LOOKUPS`] lookups towards random
    /// targets (the same targets for every victim): the network size they
    /// imply feeds the keyspace test, as discguard's own refresh lookups do.
    async fn risks(&mut self, victims: &[Victim]) -> Vec<Option<VictimRisk>> {
        let targets: Vec<NodeId> = (0..SIZE_LOOKUPS)
            .map(|_| {
                let mut id = [0u8; 32];
                self.rng.fill_bytes(&mut id);
                NodeId::new(&id)
            })
            .collect();
        let hints = futures::future::join_all(victims.iter().map(|v| {
            let targets = &targets;
            async move {
                let mut sizes = Vec::new();
                for t in targets {
                    let Ok(found) = v.lookup(t).await else {
                        sizes.push(None);
                        continue;
                    };
                    let ids: Vec<[u8; 32]> = found
                        .iter()
                        .filter_map(|p| parse_node_id(&p.node_id))
                        .map(|id| id.raw())
                        .collect();
                    sizes.push(discguard_risk::network_size_from_lookup(&t.raw(), &ids, K));
                }
                sizes
            }
        }))
        .await;
        let mut out = Vec::new();
        for (v, sizes) in victims.iter().zip(hints) {
            let hint = discguard_risk::network_size_from_lookups(sizes.iter().flatten().copied());
            let measured = async {
                let table = v.table().await?;
                let served = v.served(self.common.served).await?;
                anyhow::Ok(
                    risk::victim_risk(
                        &v.enr.node_id(),
                        &table,
                        v.defense.has_view(),
                        &served,
                        &self.placed,
                        hint,
                    )
                    .with_lookup_sizes(sizes),
                )
            }
            .await;
            out.push(match measured {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(defense = %v.defense, error = %e, "risk not measured");
                    None
                }
            });
        }
        out
    }

    /// Every victim looks up every target, one lookup at a time, with each
    /// of its engines ([`LookupEngine::of_victim`]); the victims run side
    /// by side. Returns each victim's tallies, per engine, in victim order.
    async fn engine_lookups(
        &self,
        victims: &[Victim],
        targets: &[NodeId],
        label: &str,
    ) -> Vec<Vec<(LookupEngine, LookupTally)>> {
        let per_target: usize = victims
            .iter()
            .map(|v| LookupEngine::of_victim(v.defense).len())
            .sum();
        let bar = bar(self.progress, (targets.len() * per_target) as u64, label);
        let per_victim = victims.iter().map(|v| {
            let bar = &bar;
            async move {
                let engines = LookupEngine::of_victim(v.defense);
                let mut tallies = vec![LookupTally::default(); engines.len()];
                for t in targets {
                    let target = hex::encode(t.raw());
                    for ((_, options), tally) in engines.iter().zip(&mut tallies) {
                        let answer = match v.lookup_with(t, options).await {
                            Ok(a) => Some(a),
                            Err(e) => {
                                tracing::warn!(defense = %v.defense, options, error = %e, "lookup failed");
                                None
                            }
                        };
                        tally.record(answer.as_ref(), &target, |h| self.is_attacker(h));
                        bar.inc(1);
                    }
                }
                engines.iter().map(|(e, _)| *e).zip(tallies).collect()
            }
        });
        let out = futures::future::join_all(per_victim).await;
        bar.finish_and_clear();
        out
    }

    /// Samples every victim every `sample_every` for `duration`.
    async fn observe(&self, victims: &[Victim], label: &str) -> anyhow::Result<Vec<Vec<Sample>>> {
        let start = Instant::now();
        let duration = Duration::from_secs(self.common.duration);
        let every = Duration::from_secs(self.common.sample_every.max(1));
        let bar = bar(self.progress, self.common.duration, label);
        let mut samples = vec![Vec::new(); victims.len()];
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let t = start.elapsed();
            for (i, v) in victims.iter().enumerate() {
                let counts = self.counts(v).await?;
                let bans = self.ban_stats(v).await.map(|b| b.count());
                samples[i].push(Sample {
                    t_seconds: t.as_secs_f64(),
                    counts,
                    shares: counts.shares(),
                    bans,
                });
            }
            if let Some(last) = samples.first().and_then(|s| s.last()) {
                bar.set_message(format!(
                    "{label}: discguard served share {:.0}%",
                    100.0 * last.shares.served
                ));
            }
            bar.set_position(t.as_secs().min(self.common.duration));
            if t >= duration {
                break;
            }
        }
        bar.finish_and_clear();
        Ok(samples)
    }

    fn report(
        &self,
        scenario: &str,
        mut parameters: serde_json::Value,
        attackers: usize,
        runs: Vec<Run>,
    ) -> Report {
        if let Some(p) = parameters.as_object_mut() {
            p.insert("bucket_fill".into(), json!(self.common.bucket_fill));
        }
        Report {
            scenario: scenario.to_string(),
            seed: self.common.seed,
            parameters,
            network: NetworkSize {
                honest: self.honest.len(),
                poisoners: self
                    .nodes
                    .iter()
                    .filter(|n| n.role == Role::Poisoner)
                    .count(),
                attackers,
                victims: 3,
                nodes: self.honest.len() + attackers + 3,
            },
            cost: RunCost {
                wall_seconds: self.started.elapsed().as_secs_f64(),
                harness: ProcStat::of_self().unwrap_or_default(),
                network_start_seconds: self.start_seconds,
                keys_seconds: self.keys_seconds,
                bind_seconds: self.bind_seconds,
                fill_seconds: self.fill_seconds,
            },
            runs,
            charts: Vec::new(),
            flaky: None,
            lookup_engines: Vec::new(),
            observer: None,
        }
    }

    fn shutdown(self) {
        drop(self.relays);
        if let Ok(nodes) = Arc::try_unwrap(self.nodes) {
            sim::stop_all(nodes);
        }
    }
}

fn bar(show: bool, len: u64, msg: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{msg:40} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(msg.to_string());
    bar
}

/// One [`Run`] per victim (in [`Defense::ALL`] order) from its samples,
/// process cost and ban list, shares at the end from the last sample and
/// the halving of the misbehaving share over the samples; the scenario
/// fills in what else it measured.
fn runs_of(samples: Vec<Vec<Sample>>, ended: Vec<Ended>) -> impl Iterator<Item = Run> {
    Defense::ALL.into_iter().zip(samples).zip(ended).map(
        |(
            (defense, samples),
            Ended {
                cost,
                bans,
                score_events,
                scores,
            },
        )| {
            let counts = samples.last().map(|s| s.counts).unwrap_or_default();
            Run {
                defense,
                sybil_groups: None,
                group_kind: None,
                attacker_share: counts.shares(),
                attacker_share_bound: None,
                counts,
                lookups: None,
                near_buckets: None,
                diversity: None,
                policy_rejections: None,
                cost,
                risk: None,
                keyspace_detection: None,
                bans,
                score_events,
                scores,
                halving: MisbehavingHalving::of(&samples),
                flaky: None,
                poisoners: None,
                over_time: samples,
            }
        },
    )
}

/// Reads `discguard_policy_rejections_total` from a Prometheus text page
/// into reason → count, summed over the `table` label.
pub fn policy_rejections(metrics: &str) -> BTreeMap<String, u64> {
    counter_by(metrics, "discguard_policy_rejections_total", "reason")
}

/// Reads counter `metric` from a Prometheus text page (with the
/// `prometheus-parse` crate) into `label` value → count, summed over the
/// other labels.
pub fn counter_by(metrics: &str, metric: &str, label: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let lines = metrics.lines().map(|l| Ok(l.to_owned()));
    let Ok(scrape) = prometheus_parse::Scrape::parse(lines) else {
        return out;
    };
    for sample in scrape.samples {
        if sample.metric != metric {
            continue;
        }
        let value = match sample.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        if let Some(key) = sample.labels.get(label) {
            *out.entry(key.to_owned()).or_default() += value as u64;
        }
    }
    out
}

/// `sybil-flood`.
pub async fn sybil_flood(args: &SybilFlood) -> anyhow::Result<Report> {
    let c = &args.common;
    if args.sybil_groups.is_empty() {
        bail!("--sybil-groups is empty");
    }
    if args.sybils == 0 {
        bail!("--sybils 0: nothing to attack with");
    }
    // Each G is a run: victims on 127.0.<run>.x, attackers on port + run.
    if args.sybil_groups.len() > 254 {
        bail!(
            "--sybil-groups lists {} values; at most 254",
            args.sybil_groups.len()
        );
    }
    let distinct: std::collections::BTreeSet<usize> = args.sybil_groups.iter().copied().collect();
    if distinct.len() != args.sybil_groups.len() {
        bail!("--sybil-groups {:?} repeats a value", args.sybil_groups);
    }
    c.validate(args.sybil_groups.len())?;
    // Every value of G is placed before any node starts, so a bad one is
    // refused at once.
    let plans = args
        .sybil_groups
        .iter()
        .map(|&g| place_attackers(args.sybils, g, args.group_kind, None))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut net = Network::start(c, 0.0, args.sybils, None).await?;
    let caps = TableCaps::discguard_default();
    let mut runs = Vec::new();
    for (r, (&groups, (placements, ranges))) in args.sybil_groups.iter().zip(plans).enumerate() {
        let port = c.port + 1 + r as u16;
        let attack = net.start_attack(placements, ranges, None, |_| port).await?;
        let dir = c.out.join(format!("run-g{groups}"));
        let victims = net
            .start_victims(r as u8 + 1, &dir, &attack.ranges, None)
            .await?;
        let pairs: Vec<(usize, Enr)> = (0..attack.nodes.len())
            .flat_map(|a| victims.iter().map(move |v| (a, v)))
            .map(|(a, v)| (a, v.enr.clone()))
            .collect();
        let announcing = tokio::spawn(sim::announce(
            attack.nodes.clone(),
            pairs,
            Duration::from_secs(args.announce_every.max(1)),
            64,
        ));
        let samples = net
            .observe(&victims, &format!("sybil-flood G={groups}"))
            .await;
        announcing.abort();
        let _ = announcing.await; // its PINGs in flight are dropped with it
        let honest: Vec<&Placement> = net.honest.iter().collect();
        let attackers: Vec<&Placement> = attack.placements.iter().collect();
        let bound = measure::diversity_bound(&attackers, &honest, caps);
        let metrics = match victims.first() {
            Some(v) => v.metrics_text().await.ok().flatten(),
            None => None,
        };
        let risks = net.risks(&victims).await;
        let costs = net.stop_victims(victims).await;
        net.stop_attack(attack);
        for (mut run, risk) in runs_of(samples?, costs).zip(risks) {
            run.risk = risk;
            run.sybil_groups = Some(groups);
            run.group_kind = Some(args.group_kind.key().to_string());
            run.attacker_share_bound = Some(bound);
            if run.defense == Defense::Discguard {
                run.policy_rejections = metrics.as_deref().map(policy_rejections);
            }
            runs.push(run);
        }
    }
    let params = json!({
        "honest": c.honest, "sybils": args.sybils, "sybil_groups": args.sybil_groups,
        "group_kind": args.group_kind, "duration_seconds": c.duration, "served": c.served,
        "announce_every_seconds": args.announce_every, "bootnodes": c.bootnodes,
        "caps": caps,
    });
    let report = net.report("sybil-flood", params, args.sybils, runs);
    net.shutdown();
    Ok(report)
}

/// Mines `per_victim` keys whose node IDs share `bits` leading bits with
/// each victim's, on all `threads`; returns the keys and, for each, the slot
/// of its victim.
async fn mine_for(
    victim_keys: &[SecretKey; 3],
    bits: u32,
    per_victim: usize,
    seed: u64,
    threads: usize,
) -> anyhow::Result<(Vec<SecretKey>, Vec<usize>)> {
    let mut keys = Vec::new();
    let mut target_of = Vec::new();
    for (slot, vk) in victim_keys.iter().enumerate() {
        let seed = seed ^ ((slot as u64 + 1) << 32);
        let target = vk.node_id();
        let mined = tokio::task::spawn_blocking(move || {
            keys::mine(&target, bits, per_victim, seed, threads)
        });
        keys.extend(mined.await.context("mining task")?);
        target_of.extend(std::iter::repeat_n(slot, per_victim));
    }
    Ok((keys, target_of))
}

/// `id-mining`.
pub async fn id_mining(args: &IdMining) -> anyhow::Result<Report> {
    let c = &args.common;
    c.validate(args.mining.sybils())?;
    args.mining.validate()?;
    let mut net = Network::start(c, 0.0, args.mining.sybils(), None).await?;
    let victim_keys = [
        SecretKey::random(&mut net.rng),
        SecretKey::random(&mut net.rng),
        SecretKey::random(&mut net.rng),
    ];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mined_started = Instant::now();
    let (keys, target_of) = mine_for(
        &victim_keys,
        args.mining.bits,
        args.mining.sybils_per_victim,
        c.seed,
        threads,
    )
    .await?;
    let mining_seconds = mined_started.elapsed().as_secs_f64();
    let m = keys.len();
    // One AS, `--sybil-ips` hosts: Sybil j on host j mod ips, each host
    // with its own run of ports above the honest one.
    let (placements, ranges) =
        place_attackers(m, 1, AttackGroup::Asn, Some(args.mining.sybil_ips))?;
    let base = c.port + 1;
    let ips = args.mining.sybil_ips;
    let attack = net
        .start_attack(placements, ranges, Some(keys), move |j| {
            base + (j / ips) as u16
        })
        .await?;
    let dir = c.out.join("run");
    let victims = net
        .start_victims(1, &dir, &attack.ranges, Some(victim_keys))
        .await?;
    let pairs: Vec<(usize, Enr)> = (0..m)
        .map(|j| (j, victims[target_of[j]].enr.clone()))
        .collect();
    let announcing = tokio::spawn(sim::announce(
        attack.nodes.clone(),
        pairs,
        Duration::from_secs(args.mining.announce_every.max(1)),
        64,
    ));
    let samples = net.observe(&victims, "id-mining").await;
    announcing.abort();
    let _ = announcing.await; // its PINGs in flight are dropped with it
    let near = 256 - args.mining.bits as u16;
    let mut nears = Vec::new();
    for v in &victims {
        let t = v.table().await?;
        let (discv5, view) = entries(&t);
        let count = |set: &[(u16, &str)]| {
            SetCount::of(
                set.iter().filter(|(d, _)| *d <= near).map(|(_, id)| *id),
                |id| net.is_attacker(id),
            )
        };
        nears.push(NearBuckets {
            bits: args.mining.bits,
            table: count(&discv5),
            view: v.defense.has_view().then(|| count(&view)),
        });
    }
    let risks = net.risks(&victims).await;
    let costs = net.stop_victims(victims).await;
    net.stop_attack(attack);
    let runs: Vec<Run> = runs_of(samples?, costs)
        .zip(nears)
        .zip(risks)
        .map(|((run, near), risk)| Run {
            near_buckets: Some(near),
            risk,
            ..run
        })
        .collect();
    let params = json!({
        "honest": c.honest, "bits": args.mining.bits, "sybils_per_victim": args.mining.sybils_per_victim,
        "sybil_ips": args.mining.sybil_ips, "duration_seconds": c.duration, "served": c.served,
        "mining_seconds": mining_seconds, "mining_threads": threads,
    });
    let report = net.report("id-mining", params, m, runs);
    net.shutdown();
    Ok(report)
}

/// `count` node IDs of existing honest nodes (not poisoners), drawn with
/// the network's seeded randomness.
fn sample_targets(net: &mut Network, count: usize) -> Vec<NodeId> {
    net.nodes
        .iter()
        .filter(|n| n.role == Role::Honest)
        .map(SimNode::node_id)
        .collect::<Vec<_>>()
        .sample(&mut net.rng, count)
        .copied()
        .collect()
}

/// `lookup-poisoning`: per fraction f of poisoners (`--poisoners`), a
/// network of its own on the same seed (honest nodes on `--port + 2i`,
/// Sybils on the port above, victims on `127.0.<i+1>.x`); after the
/// warm-up every victim looks up the same existing node IDs: discguard
/// with one path and with three disjoint paths, the baselines with sigp's
/// `find_node`.
pub async fn lookup_poisoning(args: &LookupPoisoning) -> anyhow::Result<Report> {
    let c = &args.common;
    check_fractions("--poisoners", &args.poisoners, false, true)?;
    if args.lookups == 0 {
        bail!("--lookups 0: nothing to measure");
    }
    if args.lookups > MAX_LOOKUPS {
        bail!(
            "--lookups {} is out of range 1..={MAX_LOOKUPS}",
            args.lookups
        );
    }
    // Network i: honest nodes on port + 2i, its Sybils on port + 2i + 1.
    c.validate(2 * args.poisoners.len() - 1)?;
    if args.mined_bits > 20 {
        bail!(
            "--mined-bits {} would take too long to mine here (at most 20)",
            args.mined_bits
        );
    }
    if !(1..=32).contains(&args.mined_per_target) {
        bail!(
            "--mined-per-target {} is out of range 1..=32",
            args.mined_per_target
        );
    }
    let sybils = if args.mined_bits > 0 {
        args.mined_per_target * args.lookups
    } else {
        args.sybils
    };
    // The attack is placed before any node starts, so a bad flag is refused at once.
    place_attackers(sybils, args.sybil_groups, AttackGroup::Asn, None)?;
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut engines = Vec::new();
    let mut report = None;
    let mut start_costs = [0.0f64; 4];
    let mut poisoners = 0;
    for (i, &f) in args.poisoners.iter().enumerate() {
        let mut ci = c.clone();
        ci.port = c.port + 2 * i as u16;
        let (placements, ranges) =
            place_attackers(sybils, args.sybil_groups, AttackGroup::Asn, None)?;
        let mut net = Network::start(&ci, f, sybils, None).await?;
        let port = ci.port + 1;
        // Targeted poisoning picks the targets first and mines the Sybils
        // next to them; otherwise the targets are drawn after the attack
        // (the order earlier reports were made with).
        let (pre_targets, keys) = if args.mined_bits > 0 {
            let targets = sample_targets(&mut net, args.lookups);
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let mut keys = Vec::with_capacity(sybils);
            for (j, t) in targets.iter().enumerate() {
                let (target, bits, n) = (*t, args.mined_bits, args.mined_per_target);
                let seed = c.seed ^ ((j as u64 + 1) << 24);
                let mined = tokio::task::spawn_blocking(move || {
                    keys::mine(&target, bits, n, seed, threads)
                });
                keys.extend(mined.await.context("mining task")?);
            }
            (Some(targets), Some(keys))
        } else {
            (None, None)
        };
        let attack = net.start_attack(placements, ranges, keys, |_| port).await?;
        let dir = c.out.join(format!("run-f{f}"));
        let victims = net
            .start_victims(i as u8 + 1, &dir, &attack.ranges, None)
            .await?;
        // Let the victims fill their tables under the poisoned network first.
        let samples = net
            .observe(&victims, &format!("lookup-poisoning f={f} warm-up"))
            .await?;
        let targets = match pre_targets {
            Some(t) => t,
            None => sample_targets(&mut net, args.lookups),
        };
        let tallies = net
            .engine_lookups(&victims, &targets, &format!("lookups f={f}"))
            .await;
        let risks = net.risks(&victims).await;
        let costs = net.stop_victims(victims).await;
        net.stop_attack(attack);
        for (((mut run, tally), risk), defense) in runs_of(samples, costs)
            .zip(&tallies)
            .zip(risks)
            .zip(Defense::ALL)
        {
            // The discguard victim's own numbers are its default engine's.
            let main = tally
                .iter()
                .find(|(e, _)| *e != LookupEngine::DiscguardSingle)
                .map(|(_, t)| t.stats());
            debug_assert_eq!(run.defense, defense);
            run.lookups = main;
            run.risk = risk;
            run.poisoners = Some(f);
            runs.push(run);
            engines.extend(tally.iter().map(|(e, t)| {
                let mut l = t.engine(f, *e);
                for m in &mut l.missed {
                    (m.slash16_nodes, m.asn_nodes) = net.crowd_of(&m.node_id);
                }
                l
            }));
        }
        let r = net.report("lookup-poisoning", json!({}), sybils, Vec::new());
        for (sum, x) in start_costs.iter_mut().zip([
            r.cost.network_start_seconds,
            r.cost.keys_seconds,
            r.cost.bind_seconds,
            r.cost.fill_seconds,
        ]) {
            *sum += x;
        }
        poisoners = poisoners.max(r.network.poisoners);
        report = Some(r);
        net.shutdown();
    }
    let mut report = report.context("no value of --poisoners")?;
    report.parameters = json!({
        "honest": c.honest, "poisoners": args.poisoners, "sybils": sybils,
        "sybil_groups": args.sybil_groups, "lookups": args.lookups,
        "mined_bits": args.mined_bits, "mined_per_target": args.mined_per_target,
        "warmup_seconds": c.duration, "served": c.served, "bucket_fill": c.bucket_fill,
        "discguard_options": LookupEngine::of_victim(Defense::Discguard),
    });
    report.network.poisoners = poisoners;
    report.cost.wall_seconds = started.elapsed().as_secs_f64();
    report.cost.harness = ProcStat::of_self().unwrap_or_default();
    [
        report.cost.network_start_seconds,
        report.cost.keys_seconds,
        report.cost.bind_seconds,
        report.cost.fill_seconds,
    ] = start_costs;
    report.runs = runs;
    report.lookup_engines = engines;
    Ok(report)
}

/// Seed of the observers' order, xor the run's seed: a stream of its own,
/// so the network and the targets stay those the seed always gave.
const OBSERVER_SEED: u64 = 0x0B5E_47E5;

/// Most problems listed per mode in the report.
const PROBLEMS_SHOWN: usize = 5;

/// `query-observer`: no attack. After the warm-up the discguard victim
/// looks up the same existing node IDs once per privacy mode, with the
/// transcript of every FINDNODE; the baselines look them up with sigp's
/// `find_node` (success only: they ask the standard distances, so they
/// leak what `off` leaks). Then the observer model ([`observer`]) measures,
/// per mode and fraction of observing honest nodes, how well the observers
/// could name each target.
pub async fn query_observer(args: &QueryObserver) -> anyhow::Result<Report> {
    let c = &args.common;
    args.validate()?;
    let mut net = Network::start(c, 0.0, 0, None).await?;
    let dir = c.out.join("run");
    let victims = net.start_victims(1, &dir, &[], None).await?;
    let samples = net.observe(&victims, "query-observer warm-up").await?;
    let honest_ids: Vec<NodeId> = net
        .nodes
        .iter()
        .filter(|n| n.role == Role::Honest)
        .map(SimNode::node_id)
        .collect();
    let targets: Vec<NodeId> = honest_ids
        .sample(&mut net.rng, args.lookups)
        .copied()
        .collect();
    let dg = victims
        .iter()
        .find(|v| v.defense == Defense::Discguard)
        .context("no discguard victim")?;
    let baselines: Vec<&Victim> = victims
        .iter()
        .filter(|v| v.defense != Defense::Discguard)
        .collect();
    let bar = bar(
        net.progress,
        (targets.len() * (args.modes.len() + baselines.len())) as u64,
        "lookups",
    );
    let discguard_lookups = async {
        let mut out = Vec::new();
        for mode in &args.modes {
            let options = mode.options(args.cover);
            let mut answers = Vec::new();
            for t in &targets {
                answers.push(match dg.lookup_with(t, &options).await {
                    Ok(a) => Some(a),
                    Err(e) => {
                        tracing::warn!(mode = mode.name(), error = %e, "lookup failed");
                        None
                    }
                });
                bar.inc(1);
            }
            out.push(answers);
        }
        out
    };
    let baseline_lookups = futures::future::join_all(baselines.iter().map(|v| {
        let (targets, bar, net) = (&targets, &bar, &net);
        async move {
            let mut tally = LookupTally::default();
            for t in targets {
                let answer = v.lookup(t).await.ok().map(|peers| LookupResponse {
                    target: hex::encode(t.raw()),
                    peers,
                    engine: None,
                });
                tally.record(answer.as_ref(), &hex::encode(t.raw()), |h| {
                    net.is_attacker(h)
                });
                bar.inc(1);
            }
            (v.defense, tally)
        }
    }));
    let (answers, baseline_tallies) =
        futures::future::join(discguard_lookups, baseline_lookups).await;
    bar.finish_and_clear();
    let mut known_ids: Vec<[u8; 32]> = honest_ids.iter().map(|id| id.raw()).collect();
    known_ids.extend(victims.iter().map(|v| v.node_id.raw()));
    let costs = net.stop_victims(victims).await;
    // The observers: one seeded order of the honest nodes; each fraction
    // takes its first round(f × honest).
    let mut order: Vec<[u8; 32]> = honest_ids.iter().map(|id| id.raw()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(c.seed ^ OBSERVER_SEED));
    let modes = args.modes.clone();
    let fractions = args.observers.clone();
    let targets: Vec<[u8; 32]> = targets.iter().map(|t| t.raw()).collect();
    let honest = honest_ids.len();
    let cover = args.cover;
    let observer = tokio::task::spawn_blocking(move || {
        let sets: Vec<HashSet<[u8; 32]>> = fractions
            .iter()
            .map(|&f| observer::first_fraction(&order, f))
            .collect();
        observer_report(&ObservedRun {
            modes: &modes,
            cover,
            targets: &targets,
            answers: &answers,
            known: &Known::new(known_ids),
            honest,
            fractions: &fractions,
            sets: &sets,
        })
    })
    .await
    .context("observer model task")?;
    let runs: Vec<Run> = runs_of(samples, costs)
        .map(|mut run| {
            run.lookups = baseline_tallies
                .iter()
                .find(|(d, _)| *d == run.defense)
                .map(|(_, t)| t.stats());
            run
        })
        .collect();
    let params = json!({
        "honest": c.honest, "observers": args.observers,
        "modes": args.modes.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "lookups": args.lookups, "cover": args.cover, "warmup_seconds": c.duration,
        "served": c.served, "bootnodes": c.bootnodes, "observer_seed": c.seed ^ OBSERVER_SEED,
    });
    let mut report = net.report("query-observer", params, 0, runs);
    report.observer = Some(observer);
    net.shutdown();
    Ok(report)
}

/// What `query-observer` hands the observer model.
struct ObservedRun<'a> {
    /// The modes, in the order run.
    modes: &'a [PrivacyMode],
    /// `--cover`.
    cover: usize,
    /// The targets, in the order looked up (the same in every mode).
    targets: &'a [[u8; 32]],
    /// discguard's answers per mode and target (`None`: HTTP error).
    answers: &'a [Vec<Option<LookupResponse>>],
    /// Every node ID of the network.
    known: &'a Known,
    /// Honest nodes.
    honest: usize,
    /// `--observers`.
    fractions: &'a [f64],
    /// The observer set of each fraction.
    sets: &'a [HashSet<[u8; 32]>],
}

/// Runs the observer model over every answer (pure).
fn observer_report(run: &ObservedRun<'_>) -> ObserverReport {
    let mut report = ObserverReport {
        known_ids: run.known.len(),
        honest: run.honest,
        cover: run.cover,
        observer_sets: run
            .fractions
            .iter()
            .zip(run.sets)
            .map(|(&f, s)| (f, s.len()))
            .collect(),
        ..ObserverReport::default()
    };
    for (mode, answers) in run.modes.iter().zip(run.answers) {
        let mut cost = ModeCost {
            mode: mode.name().to_string(),
            options: mode.options(run.cover),
            lookups: answers.len(),
            ..ModeCost::default()
        };
        let mut problem = |p: String| {
            if cost.problems.len() < PROBLEMS_SHOWN {
                cost.problems.push(p);
            }
        };
        let mut per_f: Vec<Vec<Exposure>> = vec![Vec::new(); run.fractions.len()];
        let (mut messages, mut queries, mut cover_queries, mut rounds, mut bits) =
            (0usize, 0usize, 0usize, 0usize, 0u64);
        let (mut analysed, mut errors, mut found_n) = (0usize, 0usize, 0usize);
        let (mut privacy, mut cover_ran) = (None, None);
        for (target, answer) in run.targets.iter().zip(answers) {
            let target_hex = hex::encode(target);
            let Some(a) = answer else {
                errors += 1;
                problem(format!("lookup of {}…: HTTP error", &target_hex[..12]));
                continue;
            };
            let found = a
                .peers
                .iter()
                .any(|p| p.node_id.eq_ignore_ascii_case(&target_hex));
            errors += usize::from(a.peers.is_empty());
            found_n += usize::from(found);
            let Some(e) = &a.engine else {
                problem(format!(
                    "lookup of {}…: no engine summary",
                    &target_hex[..12]
                ));
                continue;
            };
            if privacy.is_none() {
                privacy = Some(e.privacy.clone());
                cover_ran = Some(e.cover);
            }
            let sent = e.queries + e.cover_queries;
            if e.transcript.is_empty() && sent > 0 {
                problem(format!(
                    "lookup of {}…: {sent} FINDNODE sent, no transcript",
                    &target_hex[..12]
                ));
                continue;
            }
            let model = match DistanceModel::from_summary(&e.privacy, e.revealed_bits) {
                Ok(m) => m,
                Err(err) => {
                    problem(format!("lookup of {}…: {err}", &target_hex[..12]));
                    continue;
                }
            };
            let mut exposures = Vec::with_capacity(run.fractions.len());
            let mut bad = None;
            for (&f, set) in run.fractions.iter().zip(run.sets) {
                match observer::observed(&e.transcript, set, 1 + e.cover) {
                    Ok(groups) => exposures.push(ObservedAt {
                        observers: f,
                        exposure: observer::exposure(run.known, target, model, &groups),
                    }),
                    Err(err) => {
                        bad = Some(err);
                        break;
                    }
                }
            }
            if let Some(err) = bad {
                problem(format!("lookup of {}…: {err}", &target_hex[..12]));
                continue;
            }
            analysed += 1;
            messages += sent;
            queries += e.queries;
            cover_queries += e.cover_queries;
            rounds += e.rounds;
            bits += u64::from(e.revealed_bits);
            for (xs, x) in per_f.iter_mut().zip(&exposures) {
                xs.push(x.exposure);
            }
            report.lookups.push(ObservedLookup {
                mode: mode.name().to_string(),
                target: target_hex,
                revealed_bits: e.revealed_bits,
                target_subtree: match model {
                    DistanceModel::Prefix { bits } => Some(run.known.subtree_of(target, bits)),
                    _ => None,
                },
                messages: sent,
                found,
                exposure: exposures,
            });
        }
        let mean = |sum: f64| (analysed > 0).then(|| sum / analysed as f64);
        cost.errors = errors;
        cost.found = found_n;
        cost.success_rate = if cost.lookups == 0 {
            0.0
        } else {
            found_n as f64 / cost.lookups as f64
        };
        cost.analysed = analysed;
        cost.privacy = privacy;
        cost.cover = cover_ran;
        cost.mean_messages = mean(messages as f64);
        cost.mean_queries = mean(queries as f64);
        cost.mean_cover_queries = mean(cover_queries as f64);
        cost.mean_rounds = mean(rounds as f64);
        cost.mean_revealed_bits = mean(bits as f64);
        for ((&f, set), xs) in run.fractions.iter().zip(run.sets).zip(&per_f) {
            report.exposure.push(ModeExposure {
                mode: cost.mode.clone(),
                observers: f,
                observer_nodes: set.len(),
                means: ExposureMeans::of(xs),
            });
        }
        report.modes.push(cost);
    }
    let off = report
        .modes
        .iter()
        .find(|m| m.mode == PrivacyMode::Off.name())
        .and_then(|m| m.mean_messages)
        .filter(|&m| m > 0.0);
    for m in &mut report.modes {
        m.messages_vs_off = off.zip(m.mean_messages).map(|(off, x)| x / off);
    }
    report
}

/// `baseline`: no attack.
pub async fn baseline(common: &Common) -> anyhow::Result<Report> {
    common.validate(0)?;
    let mut net = Network::start(common, 0.0, 0, None).await?;
    let dir = common.out.join("run");
    let victims = net.start_victims(1, &dir, &[], None).await?;
    let samples = net.observe(&victims, "baseline").await;
    let risks = net.risks(&victims).await;
    let mut finals = Vec::new();
    for v in &victims {
        let t = v.table().await?;
        let served = v.served(common.served).await?;
        let metrics = v.metrics_text().await.ok().flatten();
        finals.push((t, served, metrics));
    }
    let costs = net.stop_victims(victims).await;
    let labels = |ids: Vec<NodeId>| -> Vec<Placement> {
        ids.iter()
            .filter_map(|id| net.placed.get(id).cloned())
            .collect()
    };
    let entropy_of = |set: &[Placement]| Entropy {
        asn: measure::entropy(set.iter().map(|p| p.asn)),
        slash16: measure::entropy(set.iter().map(Placement::slash16)),
        slash24: measure::entropy(set.iter().map(Placement::slash24)),
    };
    let population: Vec<Placement> = net.honest.clone();
    let mut rng = StdRng::seed_from_u64(common.seed ^ 0xD1CE);
    let asns: Vec<u32> = population.iter().map(|p| p.asn).collect();
    let s16: Vec<[u8; 2]> = population.iter().map(Placement::slash16).collect();
    let s24: Vec<[u8; 3]> = population.iter().map(Placement::slash24).collect();
    let mut sample_entropy = |size: usize| Entropy {
        asn: measure::sample_entropy(&asns, size, 200, &mut rng),
        slash16: measure::sample_entropy(&s16, size, 200, &mut rng),
        slash24: measure::sample_entropy(&s24, size, 200, &mut rng),
    };
    let mut runs = Vec::new();
    for ((mut run, (table, served, metrics)), risk) in
        runs_of(samples?, costs).zip(finals).zip(risks)
    {
        run.risk = risk;
        let defense = run.defense;
        let ids = |set: Entries<'_>| -> Vec<NodeId> {
            set.iter().filter_map(|(_, id)| parse_node_id(id)).collect()
        };
        let (discv5, view) = entries(&table);
        let table_set = labels(ids(discv5));
        let view_set = labels(ids(view));
        let served_set = labels(
            served
                .iter()
                .filter_map(|p| parse_node_id(&p.node_id))
                .collect(),
        );
        let kept = if defense.has_view() {
            view_set.len()
        } else {
            table_set.len()
        };
        let served_e = entropy_of(&served_set);
        let served_rand = sample_entropy(served_set.len());
        let diversity = Diversity {
            served: served_e,
            served_random_sample: served_rand,
            served_asn_ratio: if served_rand.asn > 0.0 {
                served_e.asn / served_rand.asn
            } else {
                0.0
            },
            table: entropy_of(&table_set),
            view: defense.has_view().then(|| entropy_of(&view_set)),
            kept_random_sample: sample_entropy(kept),
            served_asns_to_majority: measure::groups_to_majority(served_set.iter().map(|p| p.asn)),
        };
        run.diversity = Some(diversity);
        run.policy_rejections = metrics.as_deref().map(policy_rejections);
        runs.push(run);
    }
    let params = json!({
        "honest": common.honest, "duration_seconds": common.duration, "served": common.served,
        "bootnodes": common.bootnodes,
        "population_entropy_nats": {
            "asn": measure::entropy(population.iter().map(|p| p.asn)),
            "slash16": measure::entropy(population.iter().map(Placement::slash16)),
            "slash24": measure::entropy(population.iter().map(Placement::slash24)),
        },
    });
    let report = net.report("baseline", params, 0, runs);
    net.shutdown();
    Ok(report)
}

/// `flaky-honest`: no attack; a fraction of the honest nodes lose packets
/// (each behind a lossy relay at its own loss rate). Measures whether any
/// victim bans them (false bans), how much of each victim's sets they hold
/// against their share of the network, and their scores in discguard's view.
pub async fn flaky_honest(args: &FlakyHonest) -> anyhow::Result<Report> {
    let c = &args.common;
    c.validate(0)?;
    args.lossy.validate()?;
    let mut net = Network::start(c, 0.0, 0, Some(args.lossy)).await?;
    let dir = c.out.join("run");
    let victims = net.start_victims(1, &dir, &[], None).await?;
    let samples = net.observe(&victims, "flaky-honest").await;
    let risks = net.risks(&victims).await;
    let mut finals = Vec::new();
    for v in &victims {
        finals.push((v.table().await, v.served(c.served).await));
    }
    let ended = net.stop_victims(victims).await;
    // One snapshot of every relay, once the victims have stopped.
    let per_node = net.flaky_nodes();
    let relay = per_node
        .iter()
        .fold(RelayCounts::default(), |a, n| a.add(&n.relay));
    let relays_used = per_node.iter().filter(|n| n.relay.packets() > 0).count();
    let expected_loss = if relay.packets() == 0 {
        0.0
    } else {
        per_node
            .iter()
            .map(|n| n.loss * n.relay.packets() as f64)
            .sum::<f64>()
            / relay.packets() as f64
    };
    let mut runs = Vec::new();
    for ((mut run, (table, served)), risk) in runs_of(samples?, ended).zip(finals).zip(risks) {
        let (table, served) = (table?, served?);
        run.risk = risk;
        let flaky_of = |ids: Vec<&str>| FlakyCount {
            total: ids.len(),
            flaky: ids.iter().filter(|id| net.is_flaky(id)).count(),
        };
        let (discv5, view) = entries(&table);
        let has_view = run.defense.has_view();
        let scores = has_view.then(|| {
            let (flaky, other): (Vec<_>, Vec<_>) = table
                .buckets
                .iter()
                .flat_map(|b| &b.entries)
                .partition(|e| net.is_flaky(&e.node_id));
            FlakyScores {
                flaky: measure::score_summary(flaky.iter().map(|e| e.score)),
                other: measure::score_summary(other.iter().map(|e| e.score)),
            }
        });
        run.flaky = Some(FlakyVictim {
            table: flaky_of(discv5.iter().map(|(_, id)| *id).collect()),
            view: has_view.then(|| flaky_of(view.iter().map(|(_, id)| *id).collect())),
            served: flaky_of(served.iter().map(|p| p.node_id.as_str()).collect()),
            flaky_banned: run.bans.as_ref().map(|b| b.flaky),
            honest_banned: run.bans.as_ref().map(|b| b.false_bans - b.flaky),
            scores,
        });
        runs.push(run);
    }
    let losses: Vec<f64> = per_node.iter().map(|n| n.loss).collect();
    let (drawn_min, drawn_max, drawn_mean) = if losses.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            losses.iter().copied().fold(f64::INFINITY, f64::min),
            losses.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            losses.iter().sum::<f64>() / losses.len() as f64,
        )
    };
    let flaky = FlakyNetwork {
        nodes: per_node,
        fraction: args.lossy.flaky,
        honest: net.honest.len(),
        flaky_nodes: net.flaky.len(),
        network_share: net.flaky.len() as f64 / net.honest.len().max(1) as f64,
        loss_min: args.lossy.loss_min,
        loss_max: args.lossy.loss_max,
        loss_drawn_min: drawn_min,
        loss_drawn_mean: drawn_mean,
        loss_drawn_max: drawn_max,
        relay,
        relays_used,
        realised_loss: relay.loss(),
        expected_loss,
    };
    let params = json!({
        "honest": c.honest, "flaky": args.lossy.flaky, "loss_min": args.lossy.loss_min,
        "loss_max": args.lossy.loss_max, "duration_seconds": c.duration, "served": c.served,
        "bootnodes": c.bootnodes, "relay_max_peers": DEFAULT_MAX_PEERS,
    });
    let mut report = net.report("flaky-honest", params, 0, runs);
    report.flaky = Some(flaky);
    net.shutdown();
    Ok(report)
}

/// `keyspace-detection`: the keyspace-anomaly flag over repeated seeded runs,
/// without attack (false alarms) and with IDs mined next to each victim
/// (detection), on one honest network.
pub async fn keyspace_detection(args: &KeyspaceDetectionArgs) -> anyhow::Result<Report> {
    let c = &args.common;
    if !(1..=127).contains(&args.runs) {
        bail!("--runs {} is out of range 1..=127", args.runs);
    }
    args.mining.validate()?;
    let m = args.mining.sybils();
    let ports_per_run = m.div_ceil(args.mining.sybil_ips);
    c.validate(1 + args.runs * ports_per_run)?;
    let mut net = Network::start(c, 0.0, m, None).await?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut detection = [KeyspaceDetection::default(); 3];
    let mut details = Vec::new();
    let mut record = |phase: &str, run: usize, risks: &[Option<VictimRisk>]| {
        for (slot, (d, risk)) in detection.iter_mut().zip(risks).enumerate() {
            let Some(risk) = risk else { continue };
            let defense = Defense::ALL[slot];
            let attacked = phase == "id-mining";
            let (runs, hits_table, tested) = if attacked {
                (
                    &mut d.attacked_runs,
                    &mut d.detected_table,
                    &mut d.tested_attacked_table,
                )
            } else {
                (
                    &mut d.baseline_runs,
                    &mut d.false_alarms_table,
                    &mut d.tested_baseline_table,
                )
            };
            *runs += 1;
            *hits_table += usize::from(risk.table.flagged());
            *tested += usize::from(risk.table.tested());
            if defense.has_view() {
                let hits_view = if attacked {
                    d.detected_view.get_or_insert(0)
                } else {
                    d.false_alarms_view.get_or_insert(0)
                };
                *hits_view += usize::from(risk.view.as_ref().is_some_and(ScopeSummary::flagged));
            }
            details.push(json!({
                "phase": phase, "run": run, "defense": defense,
                "table": risk.table.keyspace, "view": risk.view.as_ref().and_then(|v| v.keyspace),
                "lookup_size_estimates": risk.lookup_size_estimates,
            }));
        }
    };
    for r in 0..args.runs {
        let dir = c.out.join(format!("baseline-{r}"));
        let victims = net.start_victims(r as u8 + 1, &dir, &[], None).await?;
        let observed = net
            .observe(&victims, &format!("baseline {}/{}", r + 1, args.runs))
            .await;
        let risks = net.risks(&victims).await;
        net.stop_victims(victims).await;
        observed?;
        record("baseline", r, &risks);
    }
    let mut last = None;
    for r in 0..args.runs {
        let victim_keys = [
            SecretKey::random(&mut net.rng),
            SecretKey::random(&mut net.rng),
            SecretKey::random(&mut net.rng),
        ];
        let seed = c.seed ^ ((r as u64 + 1) << 40);
        let (keys, target_of) = mine_for(
            &victim_keys,
            args.mining.bits,
            args.mining.sybils_per_victim,
            seed,
            threads,
        )
        .await?;
        let (placements, ranges) =
            place_attackers(m, 1, AttackGroup::Asn, Some(args.mining.sybil_ips))?;
        let base = c.port + 1 + (r * ports_per_run) as u16;
        let ips = args.mining.sybil_ips;
        let attack = net
            .start_attack(placements, ranges, Some(keys), move |j| {
                base + (j / ips) as u16
            })
            .await?;
        let dir = c.out.join(format!("id-mining-{r}"));
        let victims = net
            .start_victims(
                (args.runs + r) as u8 + 1,
                &dir,
                &attack.ranges,
                Some(victim_keys),
            )
            .await?;
        let pairs: Vec<(usize, Enr)> = (0..m)
            .map(|j| (j, victims[target_of[j]].enr.clone()))
            .collect();
        let announcing = tokio::spawn(sim::announce(
            attack.nodes.clone(),
            pairs,
            Duration::from_secs(args.mining.announce_every.max(1)),
            64,
        ));
        let samples = net
            .observe(&victims, &format!("id-mining {}/{}", r + 1, args.runs))
            .await;
        announcing.abort();
        let _ = announcing.await;
        let risks = net.risks(&victims).await;
        let costs = net.stop_victims(victims).await;
        net.stop_attack(attack);
        record("id-mining", r, &risks);
        last = Some((samples?, costs, risks));
    }
    let (samples, costs, risks) = last.context("no attacked run")?;
    let runs: Vec<Run> = runs_of(samples, costs)
        .zip(risks)
        .zip(detection)
        .map(|((run, risk), d)| Run {
            risk,
            keyspace_detection: Some(d),
            ..run
        })
        .collect();
    let params = json!({
        "honest": c.honest, "runs": args.runs, "bits": args.mining.bits,
        "sybils_per_victim": args.mining.sybils_per_victim, "sybil_ips": args.mining.sybil_ips,
        "duration_seconds": c.duration, "alpha": discguard_risk::keyspace::DEFAULT_ALPHA,
        "per_run": details,
    });
    let report = net.report("keyspace-detection", params, m, runs);
    net.shutdown();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_read_from_hex() {
        let id = NodeId::random();
        assert_eq!(parse_node_id(&hex::encode(id.raw())), Some(id));
        assert_eq!(parse_node_id("zz"), None);
        assert_eq!(parse_node_id(&"g".repeat(64)), None);
    }

    #[test]
    fn privacy_modes_are_sent_as_the_api_takes_them() {
        assert_eq!(
            PrivacyMode::PrefixCover.options(2),
            "&privacy=prefix%2Bcover&cover=2&transcript=true"
        );
        assert_eq!(
            PrivacyMode::Blur.options(2),
            "&privacy=blur&transcript=true",
            "no cover where the mode has none"
        );
        for m in PrivacyMode::ALL {
            assert_eq!(m.name().parse::<PrivacyMode>(), Ok(m));
        }
        let err = "bogus".parse::<PrivacyMode>().unwrap_err();
        assert!(
            err.contains("\"bogus\"") && err.contains("prefix+cover"),
            "{err}"
        );
    }

    #[test]
    fn sweeps_of_fractions_are_checked_naming_the_flag() {
        assert!(check_fractions("--poisoners", &[0.0, 0.2], false, true).is_ok());
        let err = |v: &[f64], lo_open, hi_open| {
            check_fractions("--observers", v, lo_open, hi_open)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[1.5], true, false),
            "--observers 1.5 is out of range (0, 1]"
        );
        assert_eq!(
            err(&[0.0], true, false),
            "--observers 0 is out of range (0, 1]"
        );
        assert_eq!(
            err(&[1.0], false, true),
            "--observers 1 is out of range [0, 1)"
        );
        assert!(err(&[0.1, 0.1], true, false).contains("repeats 0.1"));
        assert_eq!(err(&[], true, false), "--observers is empty");
    }

    /// The observer model over hand-made answers (a fake service: pure
    /// logic): errors, missing summaries and transcripts are counted, not
    /// analysed; messages are compared with `off`'s.
    #[test]
    fn observer_report_counts_what_it_could_not_analyse() {
        use discguard_service::api::{LookupSummary, PeerInfo, QueryRecord};
        let id = |b: u8| [b; 32];
        let peer = |x: [u8; 32]| PeerInfo {
            enr: String::new(),
            node_id: hex::encode(x),
            ip: "127.1.0.1".into(),
            udp_port: 1,
            tcp_port: None,
            asn: None,
            netgroup: String::new(),
            netgroup_wide: String::new(),
            seq: 1,
            fork_digest: None,
            bucket: 1,
            age_seconds: 0,
            last_seen_seconds: 0,
        };
        let known = Known::new((0..=255u8).step_by(16).map(id));
        let (target, observer_id) = (id(0x50), id(0x00));
        let answer = |privacy: &str, cover: usize, queries: usize, transcript: Vec<QueryRecord>| {
            Some(LookupResponse {
                target: hex::encode(target),
                peers: vec![peer(target)],
                engine: Some(LookupSummary {
                    privacy: privacy.into(),
                    cover,
                    paths: 3,
                    revealed_bits: 256,
                    queries,
                    cover_queries: cover * queries,
                    rounds: 2,
                    transcript,
                    ..LookupSummary::default()
                }),
            })
        };
        let seen = vec![QueryRecord {
            lookup: 0,
            peer: hex::encode(observer_id),
            distances: vec![255, 256, 254],
            at_ms: 0,
        }];
        let answers = vec![
            vec![answer("off", 0, 4, seen.clone()), None],
            vec![answer("off", 1, 4, seen), answer("off", 1, 4, Vec::new())],
        ];
        let sets = vec![HashSet::from([observer_id])];
        let r = observer_report(&ObservedRun {
            modes: &[PrivacyMode::Off, PrivacyMode::Cover],
            cover: 1,
            targets: &[target, target],
            answers: &answers,
            known: &known,
            honest: 16,
            fractions: &[0.1],
            sets: &sets,
        });
        assert_eq!(r.modes.len(), 2);
        let (off, cover) = (&r.modes[0], &r.modes[1]);
        assert_eq!(
            (off.lookups, off.errors, off.found, off.analysed),
            (2, 1, 1, 1)
        );
        assert_eq!(
            (cover.found, cover.analysed),
            (2, 1),
            "no transcript: not analysed"
        );
        assert!(
            cover.problems[0].contains("no transcript"),
            "{:?}",
            cover.problems
        );
        assert_eq!(off.mean_messages, Some(4.0));
        assert_eq!(cover.messages_vs_off, Some(2.0));
        assert_eq!(cover.privacy.as_deref(), Some("off"));
        // off: 0x00 sees distance 255 of 0x50: 0x40..0x70 fit → 1/4.
        let e = r.at("off", 0.1).unwrap();
        assert_eq!(e.means.lookups, 1);
        assert_eq!(e.means.naming_probability, 0.25);
        assert_eq!(r.lookups.len(), 2);
        let goal = r.goal();
        assert_eq!(goal[0].met, None, "f = 0.2 was not swept");
    }

    #[test]
    fn rejections_are_read_from_the_metrics_page() {
        let page = "# HELP x\n\
            discguard_policy_rejections_total{table=\"view\",reason=\"bucket_cap_narrow\"} 3\n\
            discguard_policy_rejections_total{reason=\"bucket_cap_narrow\",table=\"discv5\"} 2\n\
            discguard_policy_rejections_total{table=\"view\",reason=\"table_cap_asn\"} 1\n\
            discguard_policy_evictions_total{table=\"view\",reason=\"x\"} 9\n";
        let r = policy_rejections(page);
        assert_eq!(r.get("bucket_cap_narrow"), Some(&5));
        assert_eq!(r.get("table_cap_asn"), Some(&1));
        assert_eq!(r.len(), 2);
    }
}

//! Service configuration.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use discguard_lookup::PrivacySetting;
use discguard_policy::PolicyConfig;
use discguard_scoring::{AnswerRules, ScoringConfig};
use discv5::Enr;

use crate::error::ConfigError;
use crate::network::ForkSchedule;

/// Which `eth2` fork digests a peer's ENR must carry to enter the view.
#[derive(Clone, Debug, Default)]
pub enum ForkFilter {
    /// Any ENR, with or without `eth2` (private networks: `--network none`).
    #[default]
    Any,
    /// Exactly these digests (`--fork-digest`).
    Fixed(Vec<[u8; 4]>),
    /// The digests the network's fork schedule accepts at the time of the
    /// check ([`ForkSchedule::accepted_digests`]): the digest in force, and
    /// the previous one for a grace period after a fork. Follows forks while
    /// the node runs.
    Schedule(&'static ForkSchedule),
}

/// Default UDP port for discv5: 9100. Consensus clients use 9000 for their
/// own discovery, and discguard runs next to one, so it takes another port.
pub const DEFAULT_DISCOVERY_PORT: u16 = 9100;

/// Default period of the refresh lookups that keep the view filled, once the
/// view is well stocked. Lighthouse runs a random lookup every 30 s when it
/// needs peers; we do the same.
pub const DEFAULT_LOOKUP_INTERVAL: Duration = Duration::from_secs(30);

/// Default period of lookups while the view holds fewer than
/// [`DEFAULT_MIN_VIEW_SIZE`] entries: bootstrap quickly.
pub const DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL: Duration = Duration::from_secs(2);

/// A view smaller than this counts as "still bootstrapping" (entries). One
/// full k-bucket (16, discv5 `MAX_NODES_PER_BUCKET`) plus the half-full next
/// bucket.
pub const DEFAULT_MIN_VIEW_SIZE: usize = 24;

/// Default period of the audit of discv5's own k-buckets (`with_kbuckets`).
/// discv5 has no "removed" event, so our mirror of its table drifts; the
/// audit rebuilds it. 60 s matches discv5's own ping interval order.
pub const DEFAULT_AUDIT_INTERVAL: Duration = Duration::from_secs(60);

/// Default period between liveness pings of view entries (one entry, the one
/// heard from least recently, per tick). The discv5 spec rationale asks for
/// liveness checks on our own schedule.
pub const DEFAULT_LIVENESS_INTERVAL: Duration = Duration::from_secs(5);

/// Failed liveness pings in a row after which an entry leaves the view.
/// Two, so that a single lost UDP packet (and discv5's own retry) does not
/// evict an honest node.
pub const DEFAULT_MAX_LIVENESS_FAILURES: u8 = 2;

/// Default ban for a node evicted from discv5's table for breaking a group
/// cap: long enough that it does not re-enter by the next packet, short
/// enough that an honest node caught by a cap comes back (10 minutes).
pub const DEFAULT_CAP_BAN: Duration = Duration::from_secs(600);

/// Default number of PINGs in flight to verify candidates. Each costs a
/// handshake (≈ 1 ms of CPU); 16 keeps the verifier well under one core.
pub const DEFAULT_MAX_PENDING_PINGS: usize = 16;

/// Default capacity of the candidate queue (ENRs waiting to be verified).
/// Bounded: a flood of NODES answers cannot grow it; excess is dropped.
pub const DEFAULT_CANDIDATE_QUEUE: usize = 1024;

/// Capacity of the "recently tried" set that keeps us from pinging the same
/// node over and over (node IDs).
pub const DEFAULT_RECENTLY_TRIED: usize = 8192;

/// How long a tried candidate is not tried again.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Default period of answer probes (one FINDNODE per period to a view
/// entry, whose NODES answer is judged and scored). Two per second: each
/// entry of a 150-entry view is probed every 75 s, a new one within seconds,
/// for about 2 × 16 ENR signature checks a second (≈ 5 ms of CPU).
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Most dummy lookups beside a real one in `cover` mode: each costs as
/// much as the real one.
pub const MAX_LOOKUP_COVER: usize = 4;
/// Most disjoint paths of a lookup (`discguard_lookup::LookupConfig`).
pub const MAX_LOOKUP_PATHS: usize = 8;
/// Smallest and largest `prefix` anonymity target k: below 2 there is no
/// anonymity set; above 1,024 a lookup enumerates more than it can ask.
pub const LOOKUP_PREFIX_K_RANGE: (u64, u64) = (2, 1024);

/// Everything the service needs to run.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Address the discv5 UDP socket binds to.
    pub listen_address: IpAddr,
    /// UDP port of the discv5 socket (0 = any free port).
    pub discovery_port: u16,
    /// Address advertised in our ENR; `None` advertises `listen_address` when
    /// it is not unspecified, and otherwise lets discv5 learn it from PONGs.
    pub enr_address: Option<IpAddr>,
    /// Nodes to bootstrap from.
    pub bootnodes: Vec<Enr>,
    /// Group caps.
    pub policy: PolicyConfig,
    /// Admit loopback, private and other non-public addresses (local testnets).
    pub allow_private_addresses: bool,
    /// Fork digests a peer's ENR `eth2` field must carry to enter the view
    /// and to be served.
    pub fork_filter: ForkFilter,
    /// See [`DEFAULT_LOOKUP_INTERVAL`].
    pub lookup_interval: Duration,
    /// See [`DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL`].
    pub bootstrap_lookup_interval: Duration,
    /// See [`DEFAULT_MIN_VIEW_SIZE`].
    pub min_view_size: usize,
    /// See [`DEFAULT_AUDIT_INTERVAL`].
    pub audit_interval: Duration,
    /// See [`DEFAULT_LIVENESS_INTERVAL`].
    pub liveness_interval: Duration,
    /// See [`DEFAULT_MAX_LIVENESS_FAILURES`].
    pub max_liveness_failures: u8,
    /// See [`DEFAULT_CAP_BAN`].
    pub cap_ban: Duration,
    /// See [`DEFAULT_MAX_PENDING_PINGS`].
    pub max_pending_pings: usize,
    /// See [`DEFAULT_CANDIDATE_QUEUE`].
    pub candidate_queue: usize,
    /// See [`DEFAULT_RECENTLY_TRIED`].
    pub recently_tried: usize,
    /// See [`DEFAULT_RETRY_AFTER`].
    pub retry_after: Duration,
    /// Enable discv5's packet filter (rate limits for unsolicited packets),
    /// as Lighthouse does.
    pub packet_filter: bool,
    /// Behaviour scoring: half-life, ban duration, bound on scored peers.
    pub scoring: ScoringConfig,
    /// How NODES answers are judged.
    pub answer_rules: AnswerRules,
    /// Period of answer probes: one FINDNODE to the view entry probed least
    /// recently (newly admitted entries first), whose answer is judged and
    /// scored ([`DEFAULT_PROBE_INTERVAL`]).
    pub probe_interval: Duration,
    /// Bans by discv5's packet filter, caught from its log
    /// ([`crate::filter_bans`]); `None` leaves the flood penalty without a
    /// source. The binary installs the feed's layer and passes it here.
    pub filter_bans: Option<crate::filter_bans::FilterBanFeed>,
    /// Privacy of the node's own lookups (refresh lookups, and `/v1/lookup`
    /// unless the request names another): `off`, `blur`, `prefix`, with or
    /// without `cover` (docs/lookup.md).
    pub lookup_privacy: PrivacySetting,
    /// Dummy lookups beside each real one when the privacy has cover
    /// (1..=[`MAX_LOOKUP_COVER`]; research.md: 2–3).
    pub lookup_cover: usize,
    /// Disjoint paths of a lookup (1..=[`MAX_LOOKUP_PATHS`]; S/Kademlia's
    /// d, default 3).
    pub lookup_paths: usize,
    /// `prefix` mode's anonymity target k: the subtree a lookup names holds
    /// about k nodes ([`LOOKUP_PREFIX_K_RANGE`]).
    pub lookup_prefix_k: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            discovery_port: DEFAULT_DISCOVERY_PORT,
            enr_address: None,
            bootnodes: Vec::new(),
            policy: PolicyConfig::default(),
            allow_private_addresses: false,
            fork_filter: ForkFilter::Any,
            lookup_interval: DEFAULT_LOOKUP_INTERVAL,
            bootstrap_lookup_interval: DEFAULT_BOOTSTRAP_LOOKUP_INTERVAL,
            min_view_size: DEFAULT_MIN_VIEW_SIZE,
            audit_interval: DEFAULT_AUDIT_INTERVAL,
            liveness_interval: DEFAULT_LIVENESS_INTERVAL,
            max_liveness_failures: DEFAULT_MAX_LIVENESS_FAILURES,
            cap_ban: DEFAULT_CAP_BAN,
            max_pending_pings: DEFAULT_MAX_PENDING_PINGS,
            candidate_queue: DEFAULT_CANDIDATE_QUEUE,
            recently_tried: DEFAULT_RECENTLY_TRIED,
            retry_after: DEFAULT_RETRY_AFTER,
            packet_filter: true,
            scoring: ScoringConfig::default(),
            answer_rules: AnswerRules::default(),
            probe_interval: DEFAULT_PROBE_INTERVAL,
            filter_bans: None,
            lookup_privacy: PrivacySetting::default(),
            lookup_cover: discguard_lookup::privacy::DEFAULT_COVER,
            lookup_paths: discguard_lookup::DEFAULT_PATHS,
            lookup_prefix_k: discguard_lookup::privacy::DEFAULT_PREFIX_K,
        }
    }
}

impl ServiceConfig {
    /// Checks the values; the error names the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate().map_err(ConfigError::Policy)?;
        let positive = [
            ("lookup_interval", self.lookup_interval.is_zero()),
            (
                "bootstrap_lookup_interval",
                self.bootstrap_lookup_interval.is_zero(),
            ),
            ("audit_interval", self.audit_interval.is_zero()),
            ("liveness_interval", self.liveness_interval.is_zero()),
            ("max_liveness_failures", self.max_liveness_failures == 0),
            ("max_pending_pings", self.max_pending_pings == 0),
            ("candidate_queue", self.candidate_queue == 0),
            ("recently_tried", self.recently_tried == 0),
            ("probe_interval", self.probe_interval.is_zero()),
            (
                "answer_rules.max_records",
                self.answer_rules.max_records == 0,
            ),
            ("answer_rules.crowd_few", self.answer_rules.crowd_few == 0),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err(ConfigError::Zero { field });
        }
        let (k_min, k_max) = LOOKUP_PREFIX_K_RANGE;
        let ranges = [
            (
                "lookup_cover",
                self.lookup_cover as u64,
                1,
                MAX_LOOKUP_COVER as u64,
            ),
            (
                "lookup_paths",
                self.lookup_paths as u64,
                1,
                MAX_LOOKUP_PATHS as u64,
            ),
            ("lookup_prefix_k", self.lookup_prefix_k, k_min, k_max),
        ];
        if let Some(&(field, value, min, max)) = ranges
            .iter()
            .find(|(_, v, min, max)| !(min..=max).contains(&v))
        {
            return Err(ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            });
        }
        self.scoring.validate().map_err(ConfigError::Scoring)?;
        if matches!(&self.fork_filter, ForkFilter::Fixed(d) if d.is_empty()) {
            return Err(ConfigError::NoForkDigest);
        }
        Ok(())
    }
}

//! The running service: discv5, the curated view, and the tasks that keep
//! them in line with the diversity policy.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use discguard_netgroup::{Classifier, GroupKind, addr_class};
use discguard_policy::{
    Decision, MAX_BUCKET_SIZE, NodeId as RawId, PolicyConfig, RejectReason, View, audit,
    select_diverse,
};
use discv5::{ConfigBuilder, Discv5, Enr, Event, ListenConfig};
use enr::{CombinedKey, NodeId};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, trace, warn};

use discguard_risk::{KeyspaceConfig, Member, ScopeInput, assess};
use discguard_scoring::{
    Event as ScoreEvent, Outcome, Record, RestoreError, SavedScores, Scoreboard, Standing,
    UnixMillis,
};

use crate::api::{
    BanView, BansResponse, BucketView, Discv5BucketView, Discv5EntryView, GroupsView, Health,
    IpBanView, PeerInfo, RiskResponse, ScopeValues, Scopes, ScoreEventView, TableEntryView,
    TableResponse,
};
use crate::config::{ForkFilter, ServiceConfig};
use crate::error::{ConfigError, StartError};
use crate::filter_bans::{FilterBan, FilterBanFeed};
use crate::metrics as m;
use crate::network::enr_fork_digest;
use crate::risk::{RiskTracker, Scope};

pub(crate) mod lookups;
use lookups::{LookupOptions, LookupOutcome, TargetKind};

/// What the view keeps per entry besides its groups.
#[derive(Clone, Debug)]
pub struct ViewRecord {
    /// The newest ENR we hold for the node.
    pub enr: Enr,
    /// The socket the node answered from (equal to the ENR's UDP socket).
    pub socket: SocketAddr,
    /// When the node first answered us.
    pub first_seen: Instant,
    /// When we last heard from it.
    pub last_seen: Instant,
    /// When its liveness was last checked (or it last answered): the
    /// liveness check takes the entry with the oldest one.
    pub checked_at: Instant,
    /// Liveness pings failed in a row.
    pub failures: u8,
    /// Whether it entered the view from inbound contact: a session it opened
    /// (discv5 reports the direction), not one we asked for.
    pub unsolicited: bool,
    /// When its NODES answer was last probed (`None`: not yet, first in
    /// line).
    pub probed_at: Option<Instant>,
}

/// Why an ENR never reached the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticReject {
    /// Our own record.
    SelfId,
    /// No IP and UDP port to contact.
    NoUdpAddress,
    /// The address is not routable on the public Internet.
    NotRoutable,
    /// The ENR carries no `eth2` field but one is required.
    MissingForkDigest,
    /// The ENR's `eth2` fork digest is not one we accept.
    ForkDigestMismatch,
    /// The `eth2` field is malformed.
    MalformedForkDigest,
    /// The node answered from another socket than its ENR announces.
    SocketMismatch,
    /// The node is banned, or its behaviour score is at or below the
    /// eviction threshold (`docs/scoring.md`).
    LowScore,
}

impl StaticReject {
    /// Stable label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SelfId => "self",
            Self::NoUdpAddress => "no_udp_address",
            Self::NotRoutable => "not_routable",
            Self::MissingForkDigest => "missing_fork_digest",
            Self::ForkDigestMismatch => "fork_digest_mismatch",
            Self::MalformedForkDigest => "malformed_fork_digest",
            Self::SocketMismatch => "socket_mismatch",
            Self::LowScore => "low_score",
        }
    }
}

/// The outcome of offering an ENR to the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The node entered the view.
    Admitted {
        /// An entry removed to make room, if any.
        evicted: Option<NodeId>,
    },
    /// The node was already in the view; its record was refreshed.
    Refreshed,
    /// Refused before the policy.
    Static(StaticReject),
    /// Refused by the diversity policy.
    Policy(RejectReason),
}

/// Node IDs tried recently, bounded in size and age.
struct RecentlyTried {
    order: VecDeque<(NodeId, Instant)>,
    set: HashSet<NodeId>,
    capacity: usize,
    retry_after: Duration,
}

impl RecentlyTried {
    fn new(capacity: usize, retry_after: Duration) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity,
            retry_after,
        }
    }

    /// Whether `id` was tried (and not yet forgotten).
    fn contains(&self, id: &NodeId) -> bool {
        self.set.contains(id)
    }

    /// Records `id` as tried now; false when it was tried recently.
    fn try_mark(&mut self, id: NodeId, now: Instant) -> bool {
        while let Some(&(old, at)) = self.order.front() {
            if self.order.len() >= self.capacity || now.duration_since(at) >= self.retry_after {
                self.order.pop_front();
                self.set.remove(&old);
            } else {
                break;
            }
        }
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back((id, now));
        true
    }
}

struct State {
    view: View<ViewRecord>,
    /// Mirror of discv5's own table, for its group caps; each entry with the
    /// time it was first mirrored.
    shadow: View<Instant>,
    tried: RecentlyTried,
    /// Nodes evicted from discv5's table recently: a second offence within
    /// [`ServiceConfig::cap_ban`] gets a ban.
    evicted: RecentlyTried,
    /// The nodes (and the IPs they spoke from) of the last
    /// [`RECENT_SESSIONS`] sessions discv5 established, newest last: the
    /// nodes a packet-filter ban can name.
    sessions: VecDeque<(NodeId, IpAddr)>,
}

/// Sessions remembered for attributing discv5's packet-filter bans
/// ([`crate::filter_bans`]). A flood needs a session, and the filter bans
/// within a second of it; 1,024 covers the sessions of many minutes on a
/// busy node.
const RECENT_SESSIONS: usize = 1024;

struct Inner {
    discv5: RwLock<Discv5>,
    config: ServiceConfig,
    classifier: Classifier,
    local_id: NodeId,
    state: RwLock<State>,
    candidates: mpsc::Sender<Enr>,
    started: Instant,
    lookups_ok: AtomicU64,
    last_lookup_ok: Mutex<Option<Instant>>,
    /// Accepted fork digests for the epoch they were computed for.
    fork_digests: Mutex<Option<(u64, Vec<[u8; 4]>)>>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<JoinSet<()>>,
    /// Orders ASN groups of equal rank when choosing peers to serve
    /// (`select_diverse`): drawn once per process, so the order is stable
    /// between requests but cannot be bought with a low AS number.
    serve_salt: u64,
    /// Eclipse-risk bookkeeping (removals, served set, recent lookups).
    risk: RiskTracker,
    /// Behaviour scores and bans. Lock order: discv5, then `state`, then
    /// this.
    scores: Mutex<Scoreboard>,
}

/// A handle to the running service; cheap to clone.
#[derive(Clone)]
pub struct ServiceHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("local_id", &self.inner.local_id)
            .finish()
    }
}

fn raw(id: &NodeId) -> RawId {
    id.raw()
}

fn hex_id(id: &RawId) -> String {
    hex::encode(id)
}

/// The UDP socket an ENR announces, IPv4 first.
fn enr_udp_socket(enr: &Enr) -> Option<SocketAddr> {
    enr.udp4_socket()
        .map(SocketAddr::V4)
        .or_else(|| enr.udp6_socket().map(SocketAddr::V6))
}

/// Table filter for discv5 on a public network: only ENRs with a routable
/// IPv4 or IPv6 address. Stateless, as discv5 requires (`fn(&Enr) -> bool`).
fn public_table_filter(enr: &Enr) -> bool {
    enr_udp_socket(enr).is_some_and(|s| addr_class(s.ip()).is_public())
}

/// Milliseconds since the Unix epoch: the scoreboard's clock (scores and
/// bans outlive a restart).
fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Table filter for local testnets: any ENR with a UDP socket.
fn any_table_filter(enr: &Enr) -> bool {
    enr_udp_socket(enr).is_some()
}

impl ServiceHandle {
    /// Binds the socket, starts discv5 and the service tasks. `restore` are
    /// ENRs from a saved view: they are pinged and enter the view only when
    /// they answer.
    pub async fn start(
        config: ServiceConfig,
        key: CombinedKey,
        classifier: Classifier,
        restore: Vec<Enr>,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let bind = SocketAddr::new(config.listen_address, config.discovery_port);
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let bound = socket
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let socket = Arc::new(socket);

        let advertised = config
            .enr_address
            .or((!config.listen_address.is_unspecified()).then_some(config.listen_address));
        let mut builder = Enr::builder();
        if let Some(ip) = advertised {
            builder.ip(ip);
            match ip {
                IpAddr::V4(_) => builder.udp4(bound.port()),
                IpAddr::V6(_) => builder.udp6(bound.port()),
            };
        }
        let local_enr = builder
            .build(&key)
            .map_err(|e| StartError::LocalEnr(e.to_string()))?;
        let local_id = local_enr.node_id();

        let listen = match bound {
            SocketAddr::V4(_) => ListenConfig::FromSockets {
                ipv4: Some(socket),
                ipv6: None,
            },
            SocketAddr::V6(_) => ListenConfig::FromSockets {
                ipv4: None,
                ipv6: Some(socket),
            },
        };
        let mut builder = ConfigBuilder::new(listen);
        // Lighthouse's settings (beacon_node/lighthouse_network/src/config.rs):
        // the /24 limit discv5 has built in, at most 8 inbound-only entries per
        // bucket, and the packet filter. Our own caps are enforced on top.
        builder.ip_limit().incoming_bucket_limit(8).table_filter(
            if config.allow_private_addresses {
                any_table_filter
            } else {
                public_table_filter
            },
        );
        if config.packet_filter {
            builder.enable_packet_filter();
        }
        if advertised.is_some() {
            // We know our address: do not let PONG votes rewrite it.
            builder.disable_enr_update();
        }
        let mut discv5 = Discv5::new(local_enr, key, builder.build())
            .map_err(|e| StartError::Discv5(e.to_string()))?;
        discv5
            .start()
            .await
            .map_err(|e| StartError::Discv5(format!("{e:?}")))?;
        let events = discv5
            .event_stream()
            .await
            .map_err(|e| StartError::Discv5(format!("{e:?}")))?;

        for enr in &config.bootnodes {
            if let Err(e) = discv5.add_enr(enr.clone()) {
                warn!(node_id = %enr.node_id(), error = e, "bootnode not added to the discv5 table");
            }
        }

        let state = State {
            view: View::new(raw(&local_id), config.policy.clone()).map_err(ConfigError::Policy)?,
            shadow: View::new(raw(&local_id), shadow_policy(&config.policy))
                .map_err(ConfigError::Policy)?,
            tried: RecentlyTried::new(config.recently_tried, config.retry_after),
            evicted: RecentlyTried::new(config.recently_tried, config.cap_ban),
            sessions: VecDeque::with_capacity(RECENT_SESSIONS),
        };
        let scores = Scoreboard::new(config.scoring).map_err(ConfigError::Scoring)?;
        let (candidates, candidates_rx) = mpsc::channel(config.candidate_queue);
        let (shutdown, _) = watch::channel(false);

        metrics::gauge!(m::ASN_DATABASE_LOADED).set(if classifier.asn_db().is_some() {
            1.0
        } else {
            0.0
        });
        metrics::gauge!(m::ASN_DATABASE_ENTRIES)
            .set(classifier.asn_db().map_or(0.0, |db| db.len() as f64));

        let inner = Arc::new(Inner {
            discv5: RwLock::new(discv5),
            config,
            classifier,
            local_id,
            state: RwLock::new(state),
            candidates,
            started: Instant::now(),
            lookups_ok: AtomicU64::new(0),
            last_lookup_ok: Mutex::new(None),
            fork_digests: Mutex::new(None),
            shutdown,
            tasks: Mutex::new(JoinSet::new()),
            serve_salt: rand::random(),
            risk: RiskTracker::default(),
            scores: Mutex::new(scores),
        });
        metrics::gauge!(m::LOOKUP_LAST_SUCCESS).set(unix_now());
        m::register_zeroes();
        let handle = Self { inner };
        info!(
            node_id = %local_id,
            socket = %bound,
            enr = %handle.local_enr().to_base64(),
            "discv5 started"
        );

        for enr in restore
            .into_iter()
            .chain(handle.inner.config.bootnodes.clone())
        {
            if enr.node_id() != local_id {
                let _ = handle.inner.discv5.read().add_enr(enr.clone());
                handle.offer_candidate(enr);
            }
        }

        {
            let mut tasks = handle.inner.tasks.lock();
            tasks.spawn(handle.clone().event_loop(events));
            tasks.spawn(handle.clone().verifier(candidates_rx));
            tasks.spawn(handle.clone().lookup_loop());
            tasks.spawn(handle.clone().maintenance_loop());
            tasks.spawn(handle.clone().probe_loop());
            if let Some(feed) = handle.inner.config.filter_bans.clone() {
                tasks.spawn(handle.clone().filter_ban_loop(feed));
            }
        }
        Ok(handle)
    }

    /// Stops the tasks and discv5. Idempotent.
    pub async fn shutdown(&self) {
        // `send_replace` stores the value even while no task has subscribed
        // yet (`send` would fail and drop it).
        self.inner.shutdown.send_replace(true);
        let mut tasks = std::mem::take(&mut *self.inner.tasks.lock());
        while tasks.join_next().await.is_some() {}
        self.inner.discv5.write().shutdown();
        info!("discv5 stopped");
    }

    /// Our node ID.
    pub fn local_id(&self) -> NodeId {
        self.inner.local_id
    }

    /// Our current ENR.
    pub fn local_enr(&self) -> Enr {
        self.inner.discv5.read().local_enr()
    }

    /// Runs `f` with the discv5 instance (tests and the harness use it to
    /// look at discv5's own table).
    pub fn with_discv5<T>(&self, f: impl FnOnce(&Discv5) -> T) -> T {
        f(&self.inner.discv5.read())
    }

    fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Queues an ENR for verification; drops it when the queue is full.
    fn offer_candidate(&self, enr: Enr) {
        let outcome = match self.inner.candidates.try_send(enr) {
            Ok(()) => "queued",
            Err(_) => "dropped_queue_full",
        };
        metrics::counter!(m::CANDIDATES, "outcome" => outcome).increment(1);
    }

    /// The checks that need no policy: address, routability, fork digest.
    fn static_check(&self, enr: &Enr) -> Result<SocketAddr, StaticReject> {
        if enr.node_id() == self.inner.local_id {
            return Err(StaticReject::SelfId);
        }
        let socket = enr_udp_socket(enr).ok_or(StaticReject::NoUdpAddress)?;
        if !self.inner.config.allow_private_addresses && !addr_class(socket.ip()).is_public() {
            return Err(StaticReject::NotRoutable);
        }
        self.fork_check(enr)?;
        Ok(socket)
    }

    /// The `eth2` fork-digest check of [`ServiceConfig::fork_filter`].
    fn fork_check(&self, enr: &Enr) -> Result<(), StaticReject> {
        let accepted = match &self.inner.config.fork_filter {
            ForkFilter::Any => return Ok(()),
            ForkFilter::Fixed(digests) => digests.clone(),
            ForkFilter::Schedule(schedule) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let epoch = schedule.epoch_at(now);
                let mut cache = self.inner.fork_digests.lock();
                match &*cache {
                    Some((e, digests)) if *e == epoch => digests.clone(),
                    _ => {
                        let digests = schedule.accepted_digests(now);
                        *cache = Some((epoch, digests.clone()));
                        digests
                    }
                }
            }
        };
        match enr_fork_digest(enr) {
            Ok(Some(d)) if accepted.contains(&d) => Ok(()),
            Ok(Some(_)) => Err(StaticReject::ForkDigestMismatch),
            Ok(None) => Err(StaticReject::MissingForkDigest),
            Err(_) => Err(StaticReject::MalformedForkDigest),
        }
    }

    /// Offers a node that has just answered us (a session from `observed`, or
    /// a PONG when `observed` is `None`) to the view.
    pub fn admit(&self, enr: &Enr, observed: Option<SocketAddr>, now: Instant) -> Admission {
        let socket = match self.static_check(enr) {
            Ok(s) => s,
            Err(reason) => return Admission::Static(reason),
        };
        if observed.is_some_and(|o| o != socket) {
            return Admission::Static(StaticReject::SocketMismatch);
        }
        let id = raw(&enr.node_id());
        let churn = self
            .inner
            .scores
            .lock()
            .observe_enr(&id, enr.seq(), socket, now_ms());
        for (event, outcome) in churn {
            self.score_applied(&id, event, outcome);
        }
        let rank = match self.inner.scores.lock() {
            scores if scores.standing(&id, now_ms()) >= Standing::Evicted => {
                return Admission::Static(StaticReject::LowScore);
            }
            scores => i64::from(scores.score(&id, now_ms())),
        };
        let groups = self.inner.classifier.groups(socket.ip());
        // A session is unsolicited when the node opened it (discv5's table
        // knows the direction) or, for a node discv5 did not keep, when we
        // never PINGed it ourselves. A PONG is always an answer to us.
        let inbound = observed.map(|_| self.session_inbound(&enr.node_id()));
        let mut state = self.inner.state.write();
        if let Some(record) = state.view.get_mut(&id) {
            if enr.seq() >= record.enr.seq() {
                if record.socket != socket {
                    // The node moved: re-admit it under its new groups.
                    drop(state);
                    self.remove_from_view(&id, "address_changed");
                    return self.admit(enr, observed, now);
                }
                record.enr = enr.clone();
            }
            record.last_seen = now;
            record.checked_at = now;
            record.failures = 0;
            return Admission::Refreshed;
        }
        let unsolicited = inbound
            .map(|inbound| inbound.unwrap_or_else(|| !state.tried.contains(&enr.node_id())))
            .unwrap_or(false);
        let record = ViewRecord {
            enr: enr.clone(),
            socket,
            first_seen: now,
            last_seen: now,
            checked_at: now,
            failures: 0,
            unsolicited,
            probed_at: None,
        };
        match state.view.insert(id, groups, rank, record) {
            Ok(evicted) => {
                let reason = evicted.as_ref().map(|e| e.reason.as_str());
                let evicted = evicted.map(|e| NodeId::new(&e.entry.id));
                metrics::counter!(m::ADMISSIONS, "table" => "view").increment(1);
                if let Some(reason) = reason {
                    metrics::counter!(m::POLICY_EVICTIONS, "table" => "view", "reason" => reason)
                        .increment(1);
                    self.inner.risk.evicted("view", reason);
                    self.inner.risk.removed(Scope::View, now, 1);
                }
                debug!(node_id = %enr.node_id(), %socket, asn = ?groups.asn_number(), ?evicted, "admitted into the view");
                Admission::Admitted { evicted }
            }
            Err(rejected) => {
                let reason = rejected.reason;
                metrics::counter!(m::POLICY_REJECTIONS, "table" => "view", "reason" => reason_label(&reason))
                    .increment(1);
                self.inner.risk.rejected(reason_label(&reason));
                trace!(node_id = %enr.node_id(), %reason, "view rejected node");
                Admission::Policy(reason)
            }
        }
    }

    /// Records a behaviour event for `id` (last seen at `ip`) and acts on
    /// the outcome ([`Self::score_applied`]).
    fn score(&self, id: &RawId, ip: Option<IpAddr>, event: ScoreEvent) {
        let outcome = self.inner.scores.lock().record(id, ip, event, now_ms());
        self.score_applied(id, event, outcome);
    }

    /// Scores a NODES answer (a probe's or a lookup's, `records` as they
    /// came): it earns [`ScoreEvent::PingAnswered`], then each event the
    /// judge found in it; unless it lied, its records go to the spread
    /// test ([`discguard_scoring::spread`]), and a node whose records come
    /// from far fewer network groups than the network's is scored
    /// [`ScoreEvent::ClusteredAnswers`]. Returns whether the answer's
    /// records may be followed: it neither lied nor was clustered
    /// (crowding is the caller's to weigh).
    fn score_answer(
        &self,
        id: &RawId,
        ip: Option<IpAddr>,
        events: &[ScoreEvent],
        records: &[Record],
    ) -> bool {
        for &event in std::iter::once(&ScoreEvent::PingAnswered).chain(events) {
            self.score(id, ip, event);
        }
        if events
            .iter()
            .any(|e| e.class() == discguard_scoring::Class::Malice)
        {
            return false;
        }
        let clustered = self.inner.scores.lock().returned_groups(id, records);
        if let Some(c) = clustered {
            debug!(node_id = %hex_id(id), records = c.records, groups = c.groups, collisions = c.collisions, expected = c.expected, sd = c.sd, "returned records clustered in few groups");
            self.score(id, ip, ScoreEvent::ClusteredAnswers);
        }
        clustered.is_none()
    }

    /// Acts on a score change: the view entry's rank follows the score; at
    /// or below the eviction threshold the entry leaves the view; a ban is
    /// pushed into discv5 (`ban_node`, and `ban_ip` when more than 5 banned
    /// peers share the IP) with the ban's expiry, and the node leaves
    /// discv5's table too.
    fn score_applied(&self, id: &RawId, event: ScoreEvent, outcome: Outcome) {
        metrics::counter!(m::SCORE_EVENTS, "event" => event.as_str()).increment(1);
        trace!(node_id = %hex_id(id), event = event.as_str(), score = outcome.score, "score event");
        if let Some(ban) = outcome.banned {
            let node_id = NodeId::new(id);
            let remaining = Duration::from_millis(ban.until.saturating_sub(now_ms()));
            {
                let discv5 = self.inner.discv5.read();
                discv5.ban_node(&node_id, Some(remaining));
                if discv5.remove_node(&node_id) {
                    metrics::counter!(m::POLICY_EVICTIONS, "table" => "discv5", "reason" => "banned")
                        .increment(1);
                    self.inner.risk.evicted("discv5", "banned");
                    self.inner.risk.removed(Scope::Table, Instant::now(), 1);
                }
                if let Some(ip) = outcome.ip_banned {
                    discv5.ban_ip(ip, Some(remaining));
                    metrics::counter!(m::IP_BANS).increment(1);
                    warn!(%ip, "IP banned: more than 5 banned peers share it");
                }
            }
            metrics::counter!(m::BANS, "reason" => event.as_str()).increment(1);
            info!(node_id = %node_id, reason = event.as_str(), score = outcome.score, seconds = remaining.as_secs(), "banned");
            self.remove_from_view(id, "banned");
            return;
        }
        if outcome.standing >= Standing::Evicted {
            if self.remove_from_view(id, "score") {
                debug!(node_id = %hex_id(id), score = outcome.score, "evicted from the view for its score");
            }
            return;
        }
        if outcome.score != outcome.previous {
            self.inner
                .state
                .write()
                .view
                .set_rank(id, i64::from(outcome.score));
        }
    }

    /// A candidate some node returned was PINGed: credit or blame the node
    /// that returned it.
    fn returned_answered(&self, enr: &Enr, alive: bool) {
        let id = raw(&enr.node_id());
        let scored = self
            .inner
            .scores
            .lock()
            .returned_answered(&id, alive, now_ms());
        if let Some((reporter, event, outcome)) = scored {
            self.score_applied(&reporter, event, outcome);
        }
    }

    fn remove_from_view(&self, id: &RawId, reason: &'static str) -> bool {
        let removed = self.inner.state.write().view.remove(id).is_some();
        if removed {
            metrics::counter!(m::POLICY_EVICTIONS, "table" => "view", "reason" => reason)
                .increment(1);
            self.inner.risk.evicted("view", reason);
            self.inner.risk.removed(Scope::View, Instant::now(), 1);
        }
        removed
    }

    /// Whether discv5's table holds `node_id` with an incoming connection
    /// (`None` when the table does not hold it).
    fn session_inbound(&self, node_id: &NodeId) -> Option<bool> {
        let key = discv5::Key::from(*node_id);
        self.inner
            .discv5
            .read()
            .with_kbuckets(|kbuckets| match kbuckets.write().entry(&key) {
                discv5::kbucket::Entry::Present(_, status)
                | discv5::kbucket::Entry::Pending(_, status) => {
                    Some(status.direction == discv5::ConnectionDirection::Incoming)
                }
                _ => None,
            })
    }

    /// A node entered discv5's own table: keep it only if the mirror of that
    /// table stays within the caps; otherwise evict it (and ban a repeat
    /// offender briefly, see [`Self::should_ban`]).
    fn on_table_insert(&self, node_id: NodeId, replaced: Option<NodeId>) {
        let discv5 = self.inner.discv5.read();
        let Some(enr) = discv5.find_enr(&node_id) else {
            return;
        };
        let Some(socket) = enr_udp_socket(&enr) else {
            return;
        };
        let groups = self.inner.classifier.groups(socket.ip());
        let id = raw(&node_id);
        if self.inner.scores.lock().ban(&id, now_ms()).is_some() {
            // discv5's ban list drops only packets the banned node sends
            // first; a session discv5 opens itself (a lookup, a PING) can
            // still put the node in its table. It does not stay.
            if let Some(old) = replaced {
                self.inner.state.write().shadow.remove(&raw(&old));
                self.inner.risk.removed(Scope::Table, Instant::now(), 1);
            }
            self.evict_from_discv5(&discv5, &node_id, "banned", false);
            return;
        }
        let now = Instant::now();
        let mut state = self.inner.state.write();
        if let Some(old) = replaced {
            state.shadow.remove(&raw(&old));
            self.inner.risk.removed(Scope::Table, now, 1);
        }
        match state.shadow.decide(&id, &groups, 0) {
            Decision::Admit => {
                let _ = state.shadow.insert(id, groups, 0, now);
                metrics::counter!(m::ADMISSIONS, "table" => "discv5").increment(1);
            }
            Decision::Reject(RejectReason::AlreadyPresent) => {}
            Decision::Reject(reason) => {
                let ban = self.should_ban(&mut state, &id, node_id);
                drop(state);
                self.evict_from_discv5(&discv5, &node_id, reason_label(&reason), ban);
            }
            Decision::AdmitEvicting { .. } => {
                // Never evict an older entry of discv5's table for a newcomer.
                let ban = self.should_ban(&mut state, &id, node_id);
                drop(state);
                self.evict_from_discv5(&discv5, &node_id, "group_cap", ban);
            }
        }
    }

    /// Whether a node that breaks a cap of discv5's table is banned as well
    /// as evicted. discv5 reports `NodeInserted` *before*
    /// `SessionEstablished`, so a first offence is only evicted: the node may
    /// be honest and about to enter the view (the view has its own room).
    /// One that comes back within the ban window is banned, so that it does
    /// not churn through the table with every packet — unless the view holds
    /// it: discv5's ban list is global and would cut it off from the view.
    fn should_ban(&self, state: &mut State, id: &RawId, node_id: NodeId) -> bool {
        let first_offence = state.evicted.try_mark(node_id, Instant::now());
        !first_offence && !state.view.contains(id)
    }

    fn evict_from_discv5(
        &self,
        discv5: &Discv5,
        node_id: &NodeId,
        reason: &'static str,
        ban: bool,
    ) {
        discv5.remove_node(node_id);
        metrics::counter!(m::POLICY_EVICTIONS, "table" => "discv5", "reason" => reason)
            .increment(1);
        self.inner.risk.evicted("discv5", reason);
        self.inner.risk.removed(Scope::Table, Instant::now(), 1);
        if ban {
            discv5.ban_node(node_id, Some(self.inner.config.cap_ban));
            metrics::counter!(m::BANS, "reason" => reason).increment(1);
        }
        debug!(%node_id, reason, "evicted from the discv5 table");
    }

    /// Checks discv5's whole table against the caps, evicts what breaks
    /// them and every banned node, and rebuilds the mirror. Returns the
    /// number evicted.
    pub fn audit_discv5_table(&self) -> usize {
        let discv5 = self.inner.discv5.read();
        // Connected entries first, then by bucket order (oldest first within
        // a bucket): the order in which to keep entries.
        let mut entries: Vec<(NodeId, discguard_netgroup::NetGroups, bool)> = discv5
            .table_entries()
            .into_iter()
            .filter_map(|(id, enr, status)| {
                let socket = enr_udp_socket(&enr)?;
                Some((
                    id,
                    self.inner.classifier.groups(socket.ip()),
                    status.is_connected(),
                ))
            })
            .collect();
        // Banned nodes go whatever the caps say (see `on_table_insert`).
        let banned: Vec<NodeId> = {
            let scores = self.inner.scores.lock();
            let now = now_ms();
            entries
                .iter()
                .filter(|(id, _, _)| scores.ban(&raw(id), now).is_some())
                .map(|(id, _, _)| *id)
                .collect()
        };
        entries.retain(|(id, _, _)| !banned.contains(id));
        entries.sort_by_key(|(_, _, connected)| !connected);
        let violators = audit(
            &self.inner.config.policy,
            &raw(&self.inner.local_id),
            entries.iter().map(|(id, groups, _)| (raw(id), *groups)),
        );
        let bad: HashMap<RawId, RejectReason> = violators.into_iter().collect();
        let mut state = self.inner.state.write();
        let Ok(mut shadow) = View::new(
            raw(&self.inner.local_id),
            shadow_policy(&self.inner.config.policy),
        ) else {
            return 0;
        };
        let mut evict = Vec::new();
        for (id, groups, _) in &entries {
            match bad.get(&raw(id)) {
                Some(reason) => {
                    let ban = self.should_ban(&mut state, &raw(id), *id);
                    evict.push((*id, *reason, ban));
                }
                None => {
                    let since = state
                        .shadow
                        .get(&raw(id))
                        .map_or_else(Instant::now, |e| e.payload);
                    let _ = shadow.insert(raw(id), *groups, 0, since);
                }
            }
        }
        // Entries discv5 dropped on its own since the last look (it has no
        // "removed" event) count as turnover too.
        let present: HashSet<RawId> = entries
            .iter()
            .map(|(id, _, _)| raw(id))
            .chain(banned.iter().map(raw))
            .collect();
        let vanished = state
            .shadow
            .iter()
            .filter(|e| !present.contains(&e.id))
            .count();
        self.inner
            .risk
            .removed(Scope::Table, Instant::now(), vanished);
        state.shadow = shadow;
        drop(state);
        for (id, reason, ban) in &evict {
            self.evict_from_discv5(&discv5, id, reason_label(reason), *ban);
        }
        for id in &banned {
            self.evict_from_discv5(&discv5, id, "banned", false);
        }
        let evicted = evict.len() + banned.len();
        if evicted > 0 {
            info!(evicted, banned = banned.len(), "audit of the discv5 table");
        }
        evicted
    }

    async fn event_loop(self, mut events: mpsc::Receiver<Event>) {
        let mut shutdown = self.shutdown_rx();
        loop {
            let event = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            match event {
                Event::SessionEstablished(enr, socket) => {
                    metrics::counter!(m::SESSIONS_ESTABLISHED).increment(1);
                    {
                        let mut state = self.inner.state.write();
                        if state.sessions.len() >= RECENT_SESSIONS {
                            state.sessions.pop_front();
                        }
                        state.sessions.push_back((enr.node_id(), socket.ip()));
                    }
                    self.admit(&enr, Some(socket), Instant::now());
                }
                Event::NodeInserted { node_id, replaced } => {
                    self.on_table_insert(node_id, replaced)
                }
                Event::Discovered(enr) => self.offer_candidate(enr),
                Event::SessionsExpired(expired) => {
                    metrics::counter!(m::SESSIONS_EXPIRED).increment(expired.len() as u64);
                }
                Event::UnverifiableEnr {
                    node_id, socket, ..
                } => {
                    // discv5 drops such a node from its table: keep the
                    // mirror in step.
                    if self
                        .inner
                        .state
                        .write()
                        .shadow
                        .remove(&raw(&node_id))
                        .is_some()
                    {
                        self.inner.risk.removed(Scope::Table, Instant::now(), 1);
                    }
                    debug!(%node_id, %socket, "ENR does not match the socket it came from");
                }
                _ => {}
            }
        }
    }

    /// Pings candidates, bounded in concurrency; those that answer are
    /// offered to the view.
    async fn verifier(self, mut rx: mpsc::Receiver<Enr>) {
        let mut shutdown = self.shutdown_rx();
        let permits = Arc::new(Semaphore::new(self.inner.config.max_pending_pings));
        let mut pings = JoinSet::new();
        loop {
            let enr = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                Some(_) = pings.join_next(), if !pings.is_empty() => continue,
                enr = rx.recv() => match enr {
                    Some(enr) => enr,
                    None => break,
                },
            };
            let outcome = self.precheck(&enr);
            if let Err(outcome) = outcome {
                metrics::counter!(m::CANDIDATES, "outcome" => outcome).increment(1);
                continue;
            }
            let permit = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            // Reap finished pings so the set never holds more than the
            // permits allow.
            while pings.try_join_next().is_some() {}
            let ping = self.inner.discv5.read().send_ping(enr.clone());
            let this = self.clone();
            pings.spawn(async move {
                let result = ping.await;
                drop(permit);
                match result {
                    Ok(_) => {
                        metrics::counter!(m::PINGS, "purpose" => "verify", "outcome" => "ok")
                            .increment(1);
                        metrics::counter!(m::CANDIDATES, "outcome" => "verified").increment(1);
                        this.returned_answered(&enr, true);
                        this.admit(&enr, None, Instant::now());
                    }
                    Err(e) => {
                        metrics::counter!(m::PINGS, "purpose" => "verify", "outcome" => "failed")
                            .increment(1);
                        metrics::counter!(m::CANDIDATES, "outcome" => "unreachable").increment(1);
                        this.returned_answered(&enr, false);
                        trace!(node_id = %enr.node_id(), error = ?e, "candidate did not answer");
                    }
                }
            });
        }
        pings.abort_all();
    }

    /// Whether a candidate is worth a PING: passes the static checks, is not
    /// in the view, was not tried recently, and the policy would take it.
    fn precheck(&self, enr: &Enr) -> Result<(), &'static str> {
        let socket = self.static_check(enr).map_err(|_| "rejected_static")?;
        let id = raw(&enr.node_id());
        let groups = self.inner.classifier.groups(socket.ip());
        let rank = {
            let scores = self.inner.scores.lock();
            if scores.standing(&id, now_ms()) >= Standing::Evicted {
                return Err("rejected_score");
            }
            i64::from(scores.score(&id, now_ms()))
        };
        let mut state = self.inner.state.write();
        if state.view.contains(&id) {
            return Err("already_in_view");
        }
        match state.view.decide(&id, &groups, rank) {
            Decision::Reject(_) => return Err("rejected_policy"),
            Decision::Admit | Decision::AdmitEvicting { .. } => {}
        }
        if !state.tried.try_mark(enr.node_id(), Instant::now()) {
            return Err("tried_recently");
        }
        Ok(())
    }

    async fn lookup_loop(self) {
        let mut shutdown = self.shutdown_rx();
        // The first lookup targets our own ID: it fills the near buckets,
        // as Kademlia's bootstrap does.
        let mut target = self.inner.local_id;
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = self.run_lookup(target) => {}
            }
            target = NodeId::random();
            let interval = if self.view_len() < self.inner.config.min_view_size {
                self.inner.config.bootstrap_lookup_interval
            } else {
                self.inner.config.lookup_interval
            };
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Runs one refresh lookup with the node's settings and queues what it
    /// finds; returns how many nodes it found. The refresh loop runs this.
    pub async fn run_lookup(&self, target: NodeId) -> usize {
        self.lookup_with(target, self.lookup_options(), TargetKind::Random)
            .await
            .found
            .len()
    }

    /// Runs one lookup (discguard's engine, `discguard_lookup`) towards the node
    /// `target` with the node's settings, queues what it finds as
    /// candidates (they are PINGed and offered to the view like any
    /// other), and returns the ENRs found, closest to `target` first. Empty
    /// when there is nothing to ask yet (empty view, no bootnodes), when no
    /// node answered, or once the service is shut down.
    pub async fn lookup(&self, target: NodeId) -> Vec<Enr> {
        self.lookup_with(target, self.lookup_options(), TargetKind::Node)
            .await
            .found
    }

    /// Runs one lookup for `target` with `options` (and its cover lookups),
    /// counted in the lookup metrics and the risk measures. `GET /v1/lookup` and the refresh loop come here.
    pub async fn lookup_with(
        &self,
        target: NodeId,
        options: LookupOptions,
        kind: TargetKind,
    ) -> LookupOutcome {
        let started = Instant::now();
        let outcome = self.run_with_cover(target, options, kind).await;
        metrics::histogram!(m::LOOKUP_DURATION).record(started.elapsed().as_secs_f64());
        // discv5 reported a lookup no node answered as an error; so do we.
        if outcome.summary.queries == 0 {
            // Nothing to ask yet (empty view, no bootnodes): not a lookup.
            return outcome;
        }
        if outcome.summary.queries == outcome.summary.failures {
            metrics::counter!(m::LOOKUPS, "outcome" => "error").increment(1);
            debug!(%target, queries = outcome.summary.queries, "lookup failed: no node answered");
            return LookupOutcome {
                found: Vec::new(),
                ..outcome
            };
        }
        let found = &outcome.found;
        metrics::counter!(m::LOOKUPS, "outcome" => "ok").increment(1);
        metrics::histogram!(m::LOOKUP_RESULTS).record(found.len() as f64);
        self.inner.lookups_ok.fetch_add(1, Ordering::Relaxed);
        *self.inner.last_lookup_ok.lock() = Some(Instant::now());
        metrics::gauge!(m::LOOKUP_LAST_SUCCESS).set(unix_now());
        let results: Vec<(RawId, discguard_netgroup::NetGroups)> = found
            .iter()
            .filter_map(|enr| {
                let socket = enr_udp_socket(enr)?;
                Some((
                    raw(&enr.node_id()),
                    self.inner.classifier.groups(socket.ip()),
                ))
            })
            .collect();
        self.inner.risk.looked_up(
            &raw(&self.inner.local_id),
            &raw(&target),
            &results,
            &self.table_keyspace(),
            options.privacy.mode == discguard_lookup::PrivacyMode::Off,
        );
        debug!(%target, found = found.len(), queries = outcome.summary.queries, privacy = %options.privacy, "lookup finished");
        outcome
    }

    /// Runs [`ServiceHandle::lookup`] and describes what it found as
    /// [`PeerInfo`]s (`GET /v1/lookup`), closest to `target` first. Age and
    /// last-seen come from the view for nodes in it, else they are 0; an ENR
    /// without a UDP socket (which discv5 never returns, as it could not have
    /// been asked) is left out.
    pub async fn lookup_peers(&self, target: NodeId) -> Vec<PeerInfo> {
        let found = self.lookup(target).await;
        self.peer_infos(&found)
    }

    /// The found ENRs as [`PeerInfo`]s ([`Self::lookup_peers`]).
    pub fn peer_infos(&self, found: &[Enr]) -> Vec<PeerInfo> {
        let now = Instant::now();
        let local = raw(&self.inner.local_id);
        let state = self.inner.state.read();
        found
            .iter()
            .filter_map(|enr| {
                let socket = enr_udp_socket(enr)?;
                let id = raw(&enr.node_id());
                let groups = self.inner.classifier.groups(socket.ip());
                let (age, last_seen) = state.view.get(&id).map_or((0, 0), |e| {
                    (
                        now.duration_since(e.payload.first_seen).as_secs(),
                        now.duration_since(e.payload.last_seen).as_secs(),
                    )
                });
                let bucket = discguard_policy::log_distance(&local, &id).unwrap_or(0);
                Some(PeerInfo::from_enr(
                    enr, socket, &groups, bucket, age, last_seen,
                ))
            })
            .collect()
    }

    /// Probes view entries' NODES answers, one every
    /// [`ServiceConfig::probe_interval`].
    async fn probe_loop(self) {
        let mut shutdown = self.shutdown_rx();
        let mut tick = tokio::time::interval(self.inner.config.probe_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tick.tick() => {}
            }
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = self.probe() => {}
            }
        }
    }

    /// Sends one FINDNODE to the view entry probed least recently (never
    /// probed first), for three adjacent distances among the farthest
    /// (where every node's buckets are fullest), judges the raw NODES
    /// answer (`discguard_scoring::judge`) and scores the sender; usable
    /// records become candidates, remembered with their sender so that
    /// their PINGs credit or blame it. A timeout costs
    /// [`ScoreEvent::RequestTimeout`], an answer earns
    /// [`ScoreEvent::PingAnswered`].
    ///
    /// An entry never probed before is asked twice, for 256–254 and for
    /// 254–252 (when its first answer was neither lying nor clustered):
    /// with distance 254 in both, 20–32 distinct records from a full table,
    /// enough for the spread test (`clustered_answers` needs 20) to judge a
    /// newcomer at once rather than a whole probe cycle later.
    async fn probe(&self) {
        let next = {
            let mut state = self.inner.state.write();
            let pick = state
                .view
                .iter()
                .min_by_key(|e| (e.payload.probed_at.is_some(), e.payload.probed_at))
                .map(|e| {
                    let first = e.payload.probed_at.is_none();
                    (e.id, e.payload.enr.clone(), e.payload.socket, first)
                });
            if let Some((id, ..)) = &pick
                && let Some(r) = state.view.get_mut(id)
            {
                r.probed_at = Some(Instant::now());
            }
            pick
        };
        let Some((id, enr, socket, first)) = next else {
            return;
        };
        if first {
            if self.probe_once(id, enr.clone(), socket, 256).await {
                self.probe_once(id, enr, socket, 254).await;
            }
        } else {
            let top = 256 - u64::from(rand::random::<u8>() % 3);
            self.probe_once(id, enr, socket, top).await;
        }
    }

    /// One probe FINDNODE to `id` for `[top, top-1, top-2]`, judged and
    /// scored ([`Self::probe`]). Returns whether it was answered with
    /// neither a lie nor a clustered window: whether asking again is worth
    /// it.
    async fn probe_once(&self, id: RawId, enr: Enr, socket: SocketAddr, top: u64) -> bool {
        let distances = vec![top, top - 1, top - 2];
        let request = self
            .inner
            .discv5
            .read()
            .find_node_designated_peer(enr, distances.clone());
        let ip = Some(socket.ip());
        let nodes = match request.await {
            Ok(nodes) => nodes,
            Err(discv5::RequestError::Timeout) => {
                metrics::counter!(m::PROBES, "outcome" => "timeout").increment(1);
                self.score(&id, ip, ScoreEvent::RequestTimeout);
                return false;
            }
            Err(e) => {
                metrics::counter!(m::PROBES, "outcome" => "error").increment(1);
                trace!(node_id = %hex_id(&id), error = ?e, "probe failed");
                return false;
            }
        };
        metrics::counter!(m::PROBES, "outcome" => "ok").increment(1);
        let records: Vec<Record> = nodes.iter().map(|r| self.record_of(r)).collect();
        let verdict =
            discguard_scoring::judge(&id, &distances, &records, &self.inner.config.answer_rules);
        let usable: Vec<Record> = verdict.usable.iter().map(|&i| records[i]).collect();
        let sound = self.score_answer(&id, ip, &verdict.events, &usable);
        if !verdict.events.is_empty() {
            debug!(node_id = %hex_id(&id), events = ?verdict.events, records = records.len(), largest_group = ?verdict.largest_group, "NODES answer judged");
        }
        // Records of a crowded, clustered or lying answer are not followed.
        if sound && !verdict.events.contains(&ScoreEvent::CrowdedAnswer) {
            self.inner
                .scores
                .lock()
                .returned(&id, usable.iter().map(|r| r.id));
            for &i in &verdict.usable {
                self.offer_candidate(nodes[i].clone());
            }
        }
        sound
    }

    /// Scores the nodes discv5's packet filter banned for their request
    /// rate ([`crate::filter_bans`]).
    async fn filter_ban_loop(self, feed: FilterBanFeed) {
        let mut shutdown = self.shutdown_rx();
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = feed.wait() => {}
            }
            for ban in feed.drain() {
                self.on_filter_ban(ban);
            }
        }
    }

    /// A ban is attributed to the one known node it can name — recent
    /// sessions, the view, discv5's table, scored peers — and scored [`ScoreEvent::PacketFilterBan`]. A node ban names
    /// the nodes whose ID shortens to the logged form; an IP ban names the
    /// nodes known at that IP, and is scored only when there is exactly
    /// one (several nodes behind one address cannot be told apart).
    pub(crate) fn on_filter_ban(&self, ban: FilterBan) {
        let (kind, named) = match ban {
            FilterBan::Node(short) => ("node", self.known_nodes(|id, _| short.matches(id))),
            FilterBan::Ip(ip) => ("ip", self.known_nodes(|_, at| at == Some(ip))),
        };
        let mut named = named.into_iter();
        let outcome = match (named.next(), named.next()) {
            (Some((id, ip)), None) => {
                warn!(node_id = %hex_id(&id), ?ban, "discv5's packet filter banned a node for its request rate");
                self.score(&id, ip, ScoreEvent::PacketFilterBan);
                "scored"
            }
            (None, _) => {
                debug!(?ban, "packet-filter ban names no node we know");
                "unknown"
            }
            (Some(_), Some(_)) => {
                debug!(?ban, "packet-filter ban names several nodes we know");
                "ambiguous"
            }
        };
        metrics::counter!(m::PACKET_FILTER_BANS, "kind" => kind, "outcome" => outcome).increment(1);
    }

    /// The nodes we know (recent sessions, the view, discv5's table, the
    /// scoreboard) for which `pick(id, ip)` holds, each with its last known
    /// IP (`None` for the scoreboard, which is not asked by address).
    fn known_nodes(
        &self,
        pick: impl Fn(&RawId, Option<IpAddr>) -> bool,
    ) -> HashMap<RawId, Option<IpAddr>> {
        let mut found: HashMap<RawId, Option<IpAddr>> = HashMap::new();
        let mut offer = |id: RawId, ip: Option<IpAddr>| {
            if pick(&id, ip) {
                let slot = found.entry(id).or_insert(ip);
                if slot.is_none() {
                    *slot = ip;
                }
            }
        };
        let discv5 = self.inner.discv5.read();
        for (id, enr, _) in discv5.table_entries() {
            offer(raw(&id), enr_udp_socket(&enr).map(|s| s.ip()));
        }
        let state = self.inner.state.read();
        for (id, ip) in &state.sessions {
            offer(raw(id), Some(*ip));
        }
        for e in state.view.iter() {
            offer(e.id, Some(e.payload.socket.ip()));
        }
        let scores = self.inner.scores.lock();
        for (id, _) in scores.scores(now_ms()) {
            offer(*id, None);
        }
        found
    }

    async fn maintenance_loop(self) {
        let mut shutdown = self.shutdown_rx();
        let mut liveness = tokio::time::interval(self.inner.config.liveness_interval);
        let mut audit = tokio::time::interval(self.inner.config.audit_interval);
        liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut published = PublishedBuckets::default();
        loop {
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = liveness.tick() => {
                    self.liveness_check().await;
                    self.publish_metrics(&mut published);
                }
                _ = audit.tick() => {
                    self.audit_discv5_table();
                }
            }
        }
    }

    /// Pings the view entry heard from least recently; removes it after
    /// repeated failures.
    async fn liveness_check(&self) {
        let oldest = {
            let state = self.inner.state.read();
            state
                .view
                .iter()
                .min_by_key(|e| e.payload.checked_at)
                .map(|e| (e.id, e.payload.enr.clone(), e.payload.checked_at))
        };
        let Some((id, enr, checked_at)) = oldest else {
            return;
        };
        let enr_seq = enr.seq();
        if checked_at.elapsed() < self.inner.config.liveness_interval {
            return;
        }
        let ping = self.inner.discv5.read().send_ping(enr);
        let mut shutdown = self.shutdown_rx();
        let result = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            r = ping => r,
        };
        // A PONG announcing a newer ENR makes discv5 fetch it into its own
        // table: take it from there (before our lock: discv5's lock first,
        // as everywhere else).
        let newer = match &result {
            Ok(pong) if pong.enr_seq > enr_seq => self
                .inner
                .discv5
                .read()
                .find_enr(&NodeId::new(&id))
                .filter(|e| e.seq() > enr_seq),
            _ => None,
        };
        let mut state = self.inner.state.write();
        let Some(record) = state.view.get_mut(&id) else {
            return;
        };
        match result {
            Ok(_) => {
                metrics::counter!(m::PINGS, "purpose" => "liveness", "outcome" => "ok")
                    .increment(1);
                let ip = record.socket.ip();
                drop(state);
                self.score(&id, Some(ip), ScoreEvent::PingAnswered);
                let mut state = self.inner.state.write();
                let Some(record) = state.view.get_mut(&id) else {
                    return;
                };
                record.last_seen = Instant::now();
                record.checked_at = record.last_seen;
                record.failures = 0;
                if let Some(newer) = newer.filter(|e| enr_udp_socket(e) == Some(record.socket)) {
                    record.enr = newer;
                }
                // After a fork's grace period, an entry still announcing the
                // old digest leaves the view and makes room.
                let stale_fork = self.fork_check(&record.enr).is_err();
                if stale_fork {
                    drop(state);
                    self.remove_from_view(&id, "fork_digest");
                }
            }
            Err(e) => {
                metrics::counter!(m::PINGS, "purpose" => "liveness", "outcome" => "failed")
                    .increment(1);
                if matches!(e, discv5::RequestError::Timeout) {
                    let ip = record.socket.ip();
                    drop(state);
                    self.score(&id, Some(ip), ScoreEvent::RequestTimeout);
                    state = self.inner.state.write();
                }
                let Some(record) = state.view.get_mut(&id) else {
                    return;
                };
                record.failures = record.failures.saturating_add(1);
                // Move it to the back of the queue.
                record.checked_at = Instant::now();
                if record.failures >= self.inner.config.max_liveness_failures {
                    drop(state);
                    self.remove_from_view(&id, "unresponsive");
                    debug!(node_id = %hex_id(&id), "removed unresponsive node from the view");
                }
            }
        }
    }

    fn publish_metrics(&self, published: &mut PublishedBuckets) {
        let (view_buckets, view_len, kinds) = {
            let state = self.inner.state.read();
            let kinds: Vec<_> = GroupKind::ALL
                .iter()
                .map(|&k| (k, state.view.distinct_groups(k), state.view.top_group(k)))
                .collect();
            (state.view.bucket_lens(), state.view.len(), kinds)
        };
        metrics::gauge!(m::VIEW_ENTRIES).set(view_len as f64);
        for (kind, distinct, top) in kinds {
            metrics::gauge!(m::VIEW_GROUPS, "kind" => kind.as_str()).set(distinct as f64);
            let share = match top {
                Some((_, n)) if view_len > 0 => n as f64 / view_len as f64,
                _ => 0.0,
            };
            metrics::gauge!(m::VIEW_TOP_GROUP_SHARE, "kind" => kind.as_str()).set(share);
        }
        let view_buckets: Vec<(u16, usize)> = view_buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i as u16 + 1, *n))
            .collect();
        published.view = publish_buckets(m::VIEW_BUCKET_ENTRIES, &published.view, &view_buckets);
        let discv5 = self.inner.discv5.read();
        let table = discv5.table_entries_id();
        let mut table_buckets = Vec::new();
        for id in &table {
            if let Some(d) = discguard_policy::log_distance(&raw(&self.inner.local_id), &raw(id)) {
                table_buckets.push(d);
            }
        }
        let table_counts = count_buckets(&table_buckets);
        metrics::gauge!(m::TABLE_ENTRIES).set(table.len() as f64);
        published.table = publish_buckets(m::TABLE_BUCKET_ENTRIES, &published.table, &table_counts);
        metrics::gauge!(m::CONNECTED_PEERS).set(discv5.connected_peers() as f64);
        drop(discv5);
        self.publish_scores();
        self.publish_risk();
    }

    /// Brings the view's ranks up to the scores' decay (an event sets a
    /// rank at once; decay toward 0 moves it only here, every liveness
    /// tick: the half-life is minutes), then publishes the view's score
    /// distribution (as cumulative gauges), the size of the scoreboard and
    /// the number of bans.
    fn publish_scores(&self) {
        let now = now_ms();
        let ranks: Vec<i64> = {
            let mut state = self.inner.state.write();
            let scores = self.inner.scores.lock();
            let stale: Vec<(RawId, i64)> = state
                .view
                .iter()
                .filter_map(|e| {
                    let score = i64::from(scores.score(&e.id, now));
                    (score != e.rank).then_some((e.id, score))
                })
                .collect();
            for (id, score) in stale {
                state.view.set_rank(&id, score);
            }
            state.view.iter().map(|e| e.rank).collect()
        };
        for le in m::SCORE_BUCKETS {
            let n = ranks.iter().filter(|&&r| r <= i64::from(le)).count();
            metrics::gauge!(m::PEER_SCORES, "at_most" => le.to_string()).set(n as f64);
        }
        metrics::gauge!(m::PEER_SCORES, "at_most" => "+Inf").set(ranks.len() as f64);
        let scores = self.inner.scores.lock();
        metrics::gauge!(m::SCORED_PEERS).set(scores.len() as f64);
        metrics::gauge!(m::BANNED_PEERS).set(scores.bans(now).len() as f64);
    }

    fn view_len(&self) -> usize {
        self.inner.state.read().view.len()
    }

    /// ENRs of the view, for the snapshot in the datadir.
    pub fn view_enrs(&self) -> Vec<Enr> {
        self.inner
            .state
            .read()
            .view
            .iter()
            .map(|e| e.payload.enr.clone())
            .collect()
    }

    /// Up to `limit` peers from the view, chosen to maximise group
    /// diversity (round-robin over ASNs, see `discguard_policy::select_diverse`).
    pub fn peers(&self, limit: usize) -> Vec<PeerInfo> {
        let now = Instant::now();
        let state = self.inner.state.read();
        // Entries admitted before a fork may carry a digest that is no
        // longer accepted: check again at serve time.
        let chosen = select_diverse(
            state
                .view
                .iter()
                .filter(|e| self.fork_check(&e.payload.enr).is_ok())
                // Ranks are scores: at or below the threshold, not served.
                .filter(|e| e.rank > i64::from(discguard_scoring::NOT_SERVED_THRESHOLD)),
            limit,
            self.inner.serve_salt,
        );
        let local = raw(&self.inner.local_id);
        self.inner.risk.served(
            chosen
                .iter()
                .map(|e| {
                    let member = Member {
                        unsolicited: Some(e.payload.unsolicited),
                        ..Member::new(e.id, e.groups)
                    };
                    (member, e.payload.first_seen)
                })
                .collect(),
        );
        let peers: Vec<PeerInfo> = chosen
            .into_iter()
            .map(|e| {
                let r = &e.payload;
                PeerInfo::from_enr(
                    &r.enr,
                    r.socket,
                    &e.groups,
                    discguard_policy::log_distance(&local, &e.id).unwrap_or(0),
                    now.duration_since(r.first_seen).as_secs(),
                    now.duration_since(r.last_seen).as_secs(),
                )
            })
            .collect();
        metrics::gauge!(m::SERVED_PEERS).set(peers.len() as f64);
        peers
    }

    /// The view by bucket, with groups, and discv5's own table.
    pub fn table(&self) -> TableResponse {
        let now = Instant::now();
        let local = raw(&self.inner.local_id);
        let mut discv5_entries: Vec<(u16, Discv5EntryView)> = self
            .inner
            .discv5
            .read()
            .table_entries()
            .into_iter()
            .filter_map(|(id, enr, status)| {
                let socket = enr_udp_socket(&enr)?;
                let distance = discguard_policy::log_distance(&local, &raw(&id))?;
                let groups = groups_view(&self.inner.classifier.groups(socket.ip()));
                let node_id = hex_id(&raw(&id));
                let entry = Discv5EntryView {
                    node_id,
                    socket: socket.to_string(),
                    groups,
                    connected: status.is_connected(),
                };
                Some((distance, entry))
            })
            .collect();
        discv5_entries.sort_by_key(|(d, _)| std::cmp::Reverse(*d));
        let discv5_table_size = discv5_entries.len();
        let mut discv5_buckets: Vec<Discv5BucketView> = Vec::new();
        for (distance, entry) in discv5_entries {
            match discv5_buckets.last_mut() {
                Some(b) if b.distance == distance => b.entries.push(entry),
                _ => discv5_buckets.push(Discv5BucketView {
                    distance,
                    entries: vec![entry],
                }),
            }
        }
        let state = self.inner.state.read();
        let scores = self.inner.scores.lock();
        let now_unix = now_ms();
        let mut buckets: Vec<BucketView> = Vec::new();
        let mut entries: Vec<_> = state
            .view
            .iter()
            .map(|e| {
                (
                    discguard_policy::log_distance(&local, &e.id).unwrap_or(0),
                    e,
                )
            })
            .collect();
        entries.sort_by_key(|(d, e)| (std::cmp::Reverse(*d), e.payload.first_seen));
        for (distance, e) in entries {
            let entry = TableEntryView {
                node_id: hex_id(&e.id),
                socket: e.payload.socket.to_string(),
                groups: groups_view(&e.groups),
                rank: e.rank,
                age_seconds: now.duration_since(e.payload.first_seen).as_secs(),
                last_seen_seconds: now.duration_since(e.payload.last_seen).as_secs(),
                liveness_failures: e.payload.failures,
                score: scores.score(&e.id, now_unix),
                score_events: scores
                    .recent(&e.id)
                    .map(|r| ScoreEventView {
                        event: r.event.as_str().to_owned(),
                        delta: r.delta,
                        score: r.score,
                        seconds_ago: now_unix.saturating_sub(r.at) / 1000,
                    })
                    .collect(),
            };
            match buckets.last_mut() {
                Some(b) if b.distance == distance => b.entries.push(entry),
                _ => buckets.push(BucketView {
                    distance,
                    entries: vec![entry],
                }),
            }
        }
        TableResponse {
            local_node_id: hex::encode(local),
            view_size: state.view.len(),
            discv5_table_size,
            buckets,
            discv5_buckets,
        }
    }

    /// Peers and IPs banned now (`GET /v1/bans`).
    pub fn bans(&self) -> BansResponse {
        let now = now_ms();
        let scores = self.inner.scores.lock();
        BansResponse {
            bans: scores
                .bans(now)
                .into_iter()
                .map(|(id, ban, ip, score)| BanView {
                    node_id: hex_id(&id),
                    ip: ip.map(|ip| ip.to_string()),
                    reason: ban.reason.as_str().to_owned(),
                    score,
                    expires_in_seconds: ban.until.saturating_sub(now).div_ceil(1000),
                })
                .collect(),
            ip_bans: scores
                .ip_bans(now)
                .into_iter()
                .map(|(ip, until)| IpBanView {
                    ip: ip.to_string(),
                    expires_in_seconds: until.saturating_sub(now).div_ceil(1000),
                })
                .collect(),
        }
    }

    /// Scores and bans to save in the datadir.
    pub fn scores_snapshot(&self) -> SavedScores {
        self.inner.scores.lock().snapshot(now_ms())
    }

    /// Takes saved scores and bans (replacing the board) and pushes the bans
    /// still in force into discv5. Returns how many entries were left out
    /// over the bound.
    ///
    /// # Errors
    ///
    /// [`RestoreError`] naming the malformed entry; the board is unchanged.
    pub fn restore_scores(&self, saved: &SavedScores) -> Result<usize, RestoreError> {
        let now = now_ms();
        let (board, skipped) = Scoreboard::restore(self.inner.config.scoring, saved, now)?;
        {
            let discv5 = self.inner.discv5.read();
            for (id, ban, _, _) in board.bans(now) {
                let left = Duration::from_millis(ban.until.saturating_sub(now));
                discv5.ban_node(&NodeId::new(&id), Some(left));
                discv5.remove_node(&NodeId::new(&id));
            }
            for (ip, until) in board.ip_bans(now) {
                discv5.ban_ip(ip, Some(Duration::from_millis(until.saturating_sub(now))));
            }
        }
        let restored: Vec<(RawId, i32)> = board.scores(now).map(|(id, s)| (*id, s)).collect();
        *self.inner.scores.lock() = board;
        let mut state = self.inner.state.write();
        for (id, score) in restored {
            if Standing::of(score) >= Standing::Evicted {
                state.view.remove(&id);
            } else {
                state.view.set_rank(&id, i64::from(score));
            }
        }
        Ok(skipped)
    }

    /// Parameters of the keyspace test of discv5's table (k = 16).
    fn table_keyspace(&self) -> KeyspaceConfig {
        KeyspaceConfig {
            bucket_size: discguard_policy::MAX_NODES_PER_BUCKET,
            ..KeyspaceConfig::default()
        }
    }

    /// Parameters of the keyspace test of the view (its own bucket size).
    fn view_keyspace(&self) -> KeyspaceConfig {
        KeyspaceConfig {
            bucket_size: self.inner.config.policy.bucket_size,
            ..KeyspaceConfig::default()
        }
    }

    /// Every eclipse-risk measure of the table, the view, the served peers
    /// and recent lookups (`GET /v1/risk`, and the `discguard_risk_*`
    /// gauges). See `docs/risk.md`.
    pub fn risk(&self) -> RiskResponse {
        let now = Instant::now();
        let started = self.inner.started;
        let local = raw(&self.inner.local_id);
        let caps = self.inner.config.policy.caps();
        let table_entries = self.inner.discv5.read().table_entries();
        let (table, view) = {
            let state = self.inner.state.read();
            let table: Vec<Member> = table_entries
                .iter()
                .filter_map(|(id, enr, status)| {
                    let socket = enr_udp_socket(enr)?;
                    let id = raw(id);
                    Some(Member {
                        id,
                        groups: self.inner.classifier.groups(socket.ip()),
                        age: state
                            .shadow
                            .get(&id)
                            .map(|e| now.saturating_duration_since(e.payload)),
                        unsolicited: Some(
                            status.direction == discv5::ConnectionDirection::Incoming,
                        ),
                    })
                })
                .collect();
            let view: Vec<Member> = state
                .view
                .iter()
                .map(|e| Member {
                    id: e.id,
                    groups: e.groups,
                    age: Some(now.saturating_duration_since(e.payload.first_seen)),
                    unsolicited: Some(e.payload.unsolicited),
                })
                .collect();
            (table, view)
        };
        let size_hint = self.inner.risk.lookup_network_size();
        let table_risk = assess(&ScopeInput {
            members: &table,
            caps: Some(caps),
            keyspace: Some((local, self.table_keyspace())),
            network_size_hint: size_hint,
            turnover_per_hour: Some(self.inner.risk.turnover(Scope::Table, now, started)),
        });
        let view_risk = assess(&ScopeInput {
            members: &view,
            caps: Some(caps),
            keyspace: Some((local, self.view_keyspace())),
            network_size_hint: size_hint,
            turnover_per_hour: Some(self.inner.risk.turnover(Scope::View, now, started)),
        });
        let served_risk = self
            .inner
            .risk
            .served_members(now)
            .map(|served| assess(&ScopeInput::new(&served)));
        self.inner.risk.set_network_size(
            table_risk
                .keyspace
                .as_ref()
                .and_then(|k| k.network_size_estimate),
        );
        let last_ok = *self.inner.last_lookup_ok.lock();
        let lookups = self.inner.risk.lookup_risk(
            last_ok.map(|t| now.saturating_duration_since(t).as_secs()),
            self.table_keyspace().alpha,
        );
        RiskResponse {
            eclipse_risk: ScopeValues {
                table: table_risk.eclipse_risk,
                view: view_risk.eclipse_risk,
                served: served_risk.as_ref().map(|r| r.eclipse_risk),
            },
            view_size: view.len(),
            discv5_table_size: table_entries.len(),
            asn_database: self.inner.classifier.asn_db().is_some(),
            scopes: Scopes {
                table: table_risk,
                view: view_risk,
                served: served_risk,
            },
            lookups,
            rejections: self.inner.risk.rejection_counts(),
            evictions: self.inner.risk.eviction_counts(),
            keyspace_config: self.view_keyspace(),
        }
    }

    /// Computes [`Self::risk`] and sets every risk gauge.
    fn publish_risk(&self) {
        let risk = self.risk();
        let tracker = &self.inner.risk;
        tracker.publish_scope("table", &risk.scopes.table);
        tracker.publish_scope("view", &risk.scopes.view);
        if let Some(served) = &risk.scopes.served {
            tracker.publish_scope("served", served);
        }
        tracker.publish_lookups(&risk.lookups);
    }

    /// Liveness summary for `/healthz`.
    pub fn health(&self) -> Health {
        Health {
            status: "ok",
            node_id: hex::encode(raw(&self.inner.local_id)),
            enr: self.local_enr().to_base64(),
            view_size: self.view_len(),
            uptime_seconds: self.inner.started.elapsed().as_secs(),
            lookups_ok: self.inner.lookups_ok.load(Ordering::Relaxed),
        }
    }
}

/// The policy for the mirror of discv5's table: the same caps, but buckets
/// as large as allowed, since discv5 enforces its own bucket size and the
/// mirror, which sees no removals between audits, must never report a full
/// bucket.
fn shadow_policy(policy: &PolicyConfig) -> PolicyConfig {
    PolicyConfig {
        bucket_size: MAX_BUCKET_SIZE,
        ..policy.clone()
    }
}

/// Metric label of a rejection: the reason and, for caps, the group kind.
fn reason_label(reason: &RejectReason) -> &'static str {
    use discguard_netgroup::GroupKind::{Asn, Narrow, Wide};
    match reason {
        RejectReason::BucketCap { kind: Narrow, .. } => "bucket_cap_narrow",
        RejectReason::BucketCap { kind: Wide, .. } => "bucket_cap_wide",
        RejectReason::BucketCap { kind: Asn, .. } => "bucket_cap_asn",
        RejectReason::TableCap { kind: Narrow, .. } => "table_cap_narrow",
        RejectReason::TableCap { kind: Wide, .. } => "table_cap_wide",
        RejectReason::TableCap { kind: Asn, .. } => "table_cap_asn",
        other => other.as_str(),
    }
}

/// Seconds since the Unix epoch, as a float (0 if the clock is before 1970).
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Resolves once shutdown is signalled, including when it was signalled
/// before this receiver first looked (`wait_for` checks the current value;
/// `changed` would miss it and hang).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn groups_view(groups: &discguard_netgroup::NetGroups) -> GroupsView {
    GroupsView::from(groups)
}

/// Bucket labels published last time, so that emptied buckets go to zero.
#[derive(Default)]
struct PublishedBuckets {
    view: Vec<u16>,
    table: Vec<u16>,
}

fn count_buckets(distances: &[u16]) -> Vec<(u16, usize)> {
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for &d in distances {
        *counts.entry(d).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_unstable();
    v
}

fn publish_buckets(name: &'static str, previous: &[u16], now: &[(u16, usize)]) -> Vec<u16> {
    for d in previous {
        if !now.iter().any(|(b, _)| b == d) {
            metrics::gauge!(name, "bucket" => d.to_string()).set(0.0);
        }
    }
    for (d, n) in now {
        metrics::gauge!(name, "bucket" => d.to_string()).set(*n as f64);
    }
    now.iter().map(|(d, _)| *d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shutdown right after start returns: the tasks see a shutdown that was
    /// signalled before they first looked (real UDP on loopback).
    #[tokio::test(flavor = "current_thread")]
    async fn shutdown_right_after_start_returns() {
        for _ in 0..10 {
            let config = ServiceConfig {
                listen_address: IpAddr::V4(std::net::Ipv4Addr::new(127, 251, 0, 1)),
                discovery_port: 0,
                allow_private_addresses: true,
                ..ServiceConfig::default()
            };
            let key = CombinedKey::generate_secp256k1();
            let service = ServiceHandle::start(config, key, Classifier::new(None), Vec::new())
                .await
                .unwrap();
            tokio::time::timeout(Duration::from_secs(10), service.shutdown())
                .await
                .expect("shutdown returns");
        }
    }

    /// The labels registered at start are the ones rejections get.
    #[test]
    fn cap_rejections_use_the_registered_labels() {
        let group = discguard_netgroup::NetGroup::Asn(1);
        for kind in GroupKind::ALL {
            for reason in [
                RejectReason::BucketCap {
                    bucket: 0,
                    kind,
                    group,
                },
                RejectReason::TableCap { kind, group },
            ] {
                assert!(
                    m::CAP_REASONS.contains(&reason_label(&reason)),
                    "{reason:?}"
                );
            }
        }
    }

    #[test]
    fn recently_tried_is_bounded_and_expires() {
        let t0 = Instant::now();
        let mut tried = RecentlyTried::new(2, Duration::from_secs(10));
        let (a, b, c) = (
            NodeId::new(&[1; 32]),
            NodeId::new(&[2; 32]),
            NodeId::new(&[3; 32]),
        );
        assert!(tried.try_mark(a, t0));
        assert!(!tried.try_mark(a, t0), "a second try at once is refused");
        assert!(tried.try_mark(b, t0));
        assert!(
            tried.try_mark(c, t0),
            "capacity 2: the oldest (a) makes room"
        );
        assert!(tried.order.len() <= 2);
        assert!(tried.try_mark(a, t0), "a was forgotten when c came in");
        assert!(tried.try_mark(b, t0 + Duration::from_secs(10)), "b expired");
    }
}

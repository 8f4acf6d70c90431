//! Behaviour scores for discv5 peers: what they answer, whether they answer,
//! how their records churn, how much they send.
//!
//! A [`Scoreboard`] turns [`Event`]s into an integer score per node ID that
//! decays toward neutral (0) with a half-life, and into a [`Standing`]:
//! served to the consensus client, not served, evicted from the view,
//! banned. The model is Lighthouse's peer manager (score in −100..=100,
//! start 0, tolerance classes, 600 s half-life, score frozen while banned,
//! an IP banned when more than 5 banned peers share it) with reth's named
//! reputation constants; `docs/scoring.md` lists every constant with its
//! reason. Two departures, both for honest nodes' sake:
//!
//! - credits stop at [`MAX_SCORE`] (+20), so a node cannot bank good
//!   behaviour to absorb a later burst of malice;
//! - staleness events (timeouts, dead records, churn) never take a score
//!   below [`STALENESS_FLOOR`] (−40), above [`BAN_THRESHOLD`] (−50): only
//!   malice bans. A node losing 30% of its packets is evicted at worst,
//!   never banned.
//!
//! Pure: no I/O, no clock (time is passed in as milliseconds since the Unix
//! epoch, so that scores and bans survive a restart), no randomness. Every
//! map is bounded.
//!
//! ```
//! use discguard_scoring::{Event, Scoreboard, ScoringConfig, Standing};
//!
//! let mut board = Scoreboard::new(ScoringConfig::default()).unwrap();
//! let (id, t0) = ([7; 32], 1_700_000_000_000);
//! for _ in 0..4 {
//!     board.record(&id, None, Event::CrowdedAnswer, t0);
//! }
//! assert_eq!(board.standing(&id, t0), Standing::Evicted);
//! assert_eq!(board.score(&id, t0), -20);
//! // Ten minutes later (one half-life) the score is halved.
//! assert_eq!(board.score(&id, t0 + 600_000), -10);
//! ```

pub mod answer;
pub mod event;
pub mod spread;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use discguard_policy::NodeId;
use serde::{Deserialize, Serialize};

pub use answer::{AnswerRules, Record, Verdict, judge};
pub use event::{Class, Event};
pub use spread::Clustering;

/// Lowest score (Lighthouse `MIN_SCORE`).
pub const MIN_SCORE: i32 = -100;
/// Highest score: credits stop here (Lighthouse allows 100; see the crate
/// docs for why less).
pub const MAX_SCORE: i32 = 20;
/// At or below: not served to the consensus client. One low-tolerance
/// penalty (−10) suffices until it decays (about 10 minutes).
pub const NOT_SERVED_THRESHOLD: i32 = -10;
/// At or below: evicted from the view, and not let back in while there
/// (Lighthouse disconnects at −20, `MIN_SCORE_BEFORE_DISCONNECT`).
pub const EVICT_THRESHOLD: i32 = -20;
/// At or below, after a malice event: banned, here and in discv5
/// (Lighthouse `MIN_SCORE_BEFORE_BAN`).
pub const BAN_THRESHOLD: i32 = -50;
/// Staleness events stop here: below the eviction threshold, above the ban
/// threshold.
pub const STALENESS_FLOOR: i32 = -40;
/// Default half-life of the decay toward 0 (Lighthouse `SCORE_HALFLIFE`,
/// 600 s).
pub const DEFAULT_HALF_LIFE: Duration = Duration::from_secs(600);
/// Default ban: discv5's own `ban_duration` (1 hour). The score is frozen
/// while banned and decays afterwards (Lighthouse freezes it for 12 hours;
/// `--ban-duration` sets ours).
pub const DEFAULT_BAN_DURATION: Duration = Duration::from_secs(3600);
/// An IP is banned when more than this many banned peers share it
/// (Lighthouse `BANNED_PEERS_PER_IP_THRESHOLD`).
pub const BANNED_PEERS_PER_IP: usize = 5;
/// Default bound on scored peers. Beyond it, the peers nearest neutral and
/// longest unchanged are forgotten first; banned peers last.
pub const DEFAULT_MAX_PEERS: usize = 16_384;
/// Events kept per peer for `/v1/table`.
pub const RECENT_EVENTS: usize = 8;
/// Returned records PINGed before a node's answers are judged useful or
/// mostly dead (three in four dead).
pub const USEFULNESS_SAMPLE: u16 = 8;
/// ENR sequence bumps per hour that cost nothing.
pub const MAX_SEQ_BUMPS_PER_HOUR: usize = 12;
/// Address changes per hour that cost nothing.
pub const MAX_ADDRESS_CHANGES_PER_HOUR: usize = 2;
/// Returned records remembered with the node that returned them, to credit
/// or blame it when they are PINGed.
pub const PROVENANCE_CAPACITY: usize = 4096;

const HOUR_MS: u64 = 3_600_000;

/// Milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// `score` after `elapsed_ms` of decay toward 0 with half-life
/// `half_life_ms`: `round(score · 2^(−elapsed/half_life))`, rounding half
/// away from zero (a −1 lasts one half-life).
pub fn decay(score: i32, elapsed_ms: u64, half_life_ms: u64) -> i32 {
    if elapsed_ms == 0 || score == 0 {
        return score;
    }
    let factor = (-(elapsed_ms as f64) / half_life_ms.max(1) as f64).exp2();
    (f64::from(score) * factor).round() as i32
}

/// Where a score puts a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Above [`NOT_SERVED_THRESHOLD`].
    Good,
    /// At or below [`NOT_SERVED_THRESHOLD`]: kept, not served.
    NotServed,
    /// At or below [`EVICT_THRESHOLD`]: out of the view.
    Evicted,
    /// Banned.
    Banned,
}

impl Standing {
    /// The standing of an unbanned peer with `score`.
    pub const fn of(score: i32) -> Self {
        if score <= EVICT_THRESHOLD {
            Self::Evicted
        } else if score <= NOT_SERVED_THRESHOLD {
            Self::NotServed
        } else {
            Self::Good
        }
    }

    /// Stable label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::NotServed => "not_served",
            Self::Evicted => "evicted",
            Self::Banned => "banned",
        }
    }
}

/// A bad scoring configuration, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field is out of range.
    #[error("scoring.{field}: {reason}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Tunables of a [`Scoreboard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringConfig {
    /// Half-life of the decay toward 0.
    pub half_life: Duration,
    /// How long a ban lasts.
    pub ban_duration: Duration,
    /// Most peers scored at once.
    pub max_peers: usize,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            half_life: DEFAULT_HALF_LIFE,
            ban_duration: DEFAULT_BAN_DURATION,
            max_peers: DEFAULT_MAX_PEERS,
        }
    }
}

impl ScoringConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason| Err(ConfigError::OutOfRange { field, reason });
        if self.half_life < Duration::from_secs(1) {
            return bad("half_life", "must be at least 1 s");
        }
        if self.ban_duration < Duration::from_secs(1) {
            return bad("ban_duration", "must be at least 1 s");
        }
        if !(16..=1_000_000).contains(&self.max_peers) {
            return bad("max_peers", "must be in 16..=1000000");
        }
        Ok(())
    }

    fn half_life_ms(&self) -> u64 {
        self.half_life.as_millis() as u64
    }
}

/// A ban.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// When it ends.
    pub until: UnixMillis,
    /// The event that crossed the threshold.
    pub reason: Event,
}

/// One event as it moved a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The event.
    pub event: Event,
    /// Points it actually moved (after floors and caps; 0 while banned).
    pub delta: i32,
    /// The score after it.
    pub score: i32,
    /// When.
    pub at: UnixMillis,
}

/// What [`Scoreboard::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The score before the event (decayed to now).
    pub previous: i32,
    /// The score after it.
    pub score: i32,
    /// The standing after it.
    pub standing: Standing,
    /// Set when this event banned the peer.
    pub banned: Option<Ban>,
    /// Set when this ban made the peer's IP one too many: ban the IP too.
    pub ip_banned: Option<IpAddr>,
}

#[derive(Clone, Debug, Default)]
struct Peer {
    score: i32,
    at: UnixMillis,
    ban: Option<Ban>,
    ip: Option<IpAddr>,
    recent: VecDeque<Recorded>,
    live: u16,
    dead: u16,
    seq: Option<u64>,
    socket: Option<SocketAddr>,
    seq_bumps: VecDeque<UnixMillis>,
    address_changes: VecDeque<UnixMillis>,
}

impl Peer {
    fn banned_at(&self, now: UnixMillis) -> Option<Ban> {
        self.ban.filter(|b| now < b.until)
    }

    /// The score at `now`: frozen while banned, decaying from the later of
    /// the last change and the end of the ban.
    fn current(&self, now: UnixMillis, half_life_ms: u64) -> i32 {
        if self.banned_at(now).is_some() {
            return self.score;
        }
        let since = self.ban.map_or(self.at, |b| self.at.max(b.until));
        decay(self.score, now.saturating_sub(since), half_life_ms)
    }
}

/// Scores, bans and the bookkeeping behind them, for a bounded set of
/// peers.
#[derive(Clone, Debug)]
pub struct Scoreboard {
    config: ScoringConfig,
    peers: HashMap<NodeId, Peer>,
    provenance: HashMap<NodeId, NodeId>,
    provenance_order: VecDeque<NodeId>,
    ip_bans: HashMap<IpAddr, UnixMillis>,
    spread: spread::Spread,
}

impl Scoreboard {
    /// An empty board.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first bad field of `config`.
    pub fn new(config: ScoringConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            peers: HashMap::new(),
            provenance: HashMap::new(),
            provenance_order: VecDeque::new(),
            ip_bans: HashMap::new(),
            spread: spread::Spread::default(),
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &ScoringConfig {
        &self.config
    }

    /// Peers scored.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is scored.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The score of `id` at `now` (0 for a peer never scored).
    pub fn score(&self, id: &NodeId, now: UnixMillis) -> i32 {
        self.peers
            .get(id)
            .map_or(0, |p| p.current(now, self.config.half_life_ms()))
    }

    /// The ban of `id` in force at `now`.
    pub fn ban(&self, id: &NodeId, now: UnixMillis) -> Option<Ban> {
        self.peers.get(id).and_then(|p| p.banned_at(now))
    }

    /// The standing of `id` at `now`.
    pub fn standing(&self, id: &NodeId, now: UnixMillis) -> Standing {
        if self.ban(id, now).is_some() {
            Standing::Banned
        } else {
            Standing::of(self.score(id, now))
        }
    }

    /// The last [`RECENT_EVENTS`] events of `id`, oldest first.
    pub fn recent(&self, id: &NodeId) -> impl Iterator<Item = &Recorded> {
        self.peers.get(id).into_iter().flat_map(|p| p.recent.iter())
    }

    /// Peers banned at `now`: ID, ban, last known IP, score.
    pub fn bans(&self, now: UnixMillis) -> Vec<(NodeId, Ban, Option<IpAddr>, i32)> {
        let mut out: Vec<_> = self
            .peers
            .iter()
            .filter_map(|(id, p)| p.banned_at(now).map(|b| (*id, b, p.ip, p.score)))
            .collect();
        out.sort_by_key(|(id, b, _, _)| (b.until, *id));
        out
    }

    /// IPs banned at `now`, with the end of the ban.
    pub fn ip_bans(&self, now: UnixMillis) -> Vec<(IpAddr, UnixMillis)> {
        let mut out: Vec<_> = self
            .ip_bans
            .iter()
            .filter(|(_, until)| now < **until)
            .map(|(ip, until)| (*ip, *until))
            .collect();
        out.sort();
        out
    }

    /// Scores of every peer at `now` (for the score histogram).
    pub fn scores(&self, now: UnixMillis) -> impl Iterator<Item = (&NodeId, i32)> {
        let h = self.config.half_life_ms();
        self.peers
            .iter()
            .map(move |(id, p)| (id, p.current(now, h)))
    }

    /// Records `event` for `id` (last seen at `ip`, if known) at `now`.
    pub fn record(
        &mut self,
        id: &NodeId,
        ip: Option<IpAddr>,
        event: Event,
        now: UnixMillis,
    ) -> Outcome {
        self.make_room(id, now);
        let h = self.config.half_life_ms();
        let ban_ms = self.config.ban_duration.as_millis() as u64;
        let peer = self.peers.entry(*id).or_default();
        if ip.is_some() {
            peer.ip = ip;
        }
        let previous = peer.current(now, h);
        let banned_now = peer.banned_at(now).is_some();
        let mut score = previous;
        if !banned_now {
            let proposed = previous.saturating_add(event.delta());
            score = match event.class() {
                Class::Malice => proposed,
                Class::Staleness => proposed.max(previous.min(STALENESS_FLOOR)),
                Class::Credit => proposed.min(previous.max(MAX_SCORE)),
            }
            .clamp(MIN_SCORE, MAX_SCORE);
            peer.score = score;
            peer.at = now;
        }
        peer.recent.push_back(Recorded {
            event,
            delta: score - previous,
            score,
            at: now,
        });
        while peer.recent.len() > RECENT_EVENTS {
            peer.recent.pop_front();
        }
        let mut banned = None;
        let mut ip_banned = None;
        if !banned_now && event.class() == Class::Malice && score <= BAN_THRESHOLD {
            let ban = Ban {
                until: now.saturating_add(ban_ms),
                reason: event,
            };
            peer.ban = Some(ban);
            banned = Some(ban);
            if let Some(ip) = peer.ip {
                let sharing = self
                    .peers
                    .values()
                    .filter(|p| p.ip == Some(ip) && p.banned_at(now).is_some())
                    .count();
                let already = self.ip_bans.get(&ip).is_some_and(|u| now < *u);
                if sharing > BANNED_PEERS_PER_IP && !already {
                    self.ip_bans.insert(ip, ban.until);
                    ip_banned = Some(ip);
                }
            }
        }
        let standing = if banned_now || banned.is_some() {
            Standing::Banned
        } else {
            Standing::of(score)
        };
        Outcome {
            previous,
            score,
            standing,
            banned,
            ip_banned,
        }
    }

    /// Remembers that `reporter` returned the records `ids`, so that their
    /// PINGs credit or blame it ([`Scoreboard::returned_answered`]). Bounded
    /// by [`PROVENANCE_CAPACITY`]: the oldest are forgotten first; a record
    /// returned by several nodes is credited to the last.
    pub fn returned(&mut self, reporter: &NodeId, ids: impl IntoIterator<Item = NodeId>) {
        for id in ids {
            if self.provenance.insert(id, *reporter).is_none() {
                self.provenance_order.push_back(id);
            }
            while self.provenance_order.len() > PROVENANCE_CAPACITY {
                if let Some(old) = self.provenance_order.pop_front() {
                    self.provenance.remove(&old);
                }
            }
        }
    }

    /// `reporter` returned `records` (an answer that did not lie): the
    /// [`spread`] test of its last answers, on the ASN group of each record
    /// with a routable address (the /16 or /32 where the ASN database does
    /// not know it). Returns the evidence when they are clustered; the
    /// caller then records [`Event::ClusteredAnswers`] (the event is the
    /// caller's, so that it acts on the outcome as on any other).
    pub fn returned_groups<'a>(
        &mut self,
        reporter: &NodeId,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Option<Clustering> {
        let groups = records
            .into_iter()
            .filter(|r| r.routable)
            .filter_map(|r| r.groups.map(|g| (r.id, g.asn)));
        self.spread.returned(reporter, groups)
    }

    /// A record some node returned was PINGed: `alive` if it answered. Every
    /// [`USEFULNESS_SAMPLE`] such PINGs, the node that returned them is
    /// credited ([`Event::UsefulAnswers`], half or more alive) or blamed
    /// ([`Event::MostlyDeadAnswers`], three in four dead). Returns the
    /// reporter, the event and the outcome when one was scored.
    pub fn returned_answered(
        &mut self,
        id: &NodeId,
        alive: bool,
        now: UnixMillis,
    ) -> Option<(NodeId, Event, Outcome)> {
        let reporter = self.provenance.remove(id)?;
        let peer = self.peers.entry(reporter).or_default();
        if alive {
            peer.live = peer.live.saturating_add(1);
        } else {
            peer.dead = peer.dead.saturating_add(1);
        }
        let (live, dead) = (peer.live, peer.dead);
        if live + dead < USEFULNESS_SAMPLE {
            return None;
        }
        peer.live = 0;
        peer.dead = 0;
        let event = if 4 * dead >= 3 * (live + dead) {
            Event::MostlyDeadAnswers
        } else if 2 * live >= live + dead {
            Event::UsefulAnswers
        } else {
            return None;
        };
        Some((reporter, event, self.record(&reporter, None, event, now)))
    }

    /// Observes the ENR of `id` (sequence number `seq`, UDP socket `socket`)
    /// at `now`: sequence bumps beyond [`MAX_SEQ_BUMPS_PER_HOUR`] and address
    /// changes beyond [`MAX_ADDRESS_CHANGES_PER_HOUR`] in the last hour cost
    /// ([`Event::SeqChurn`], [`Event::AddressChurn`]). Returns what was
    /// recorded.
    pub fn observe_enr(
        &mut self,
        id: &NodeId,
        seq: u64,
        socket: SocketAddr,
        now: UnixMillis,
    ) -> Vec<(Event, Outcome)> {
        self.make_room(id, now);
        let peer = self.peers.entry(*id).or_default();
        let mut events = Vec::new();
        let window = |q: &mut VecDeque<UnixMillis>, cap: usize| {
            q.push_back(now);
            while q.front().is_some_and(|t| now.saturating_sub(*t) >= HOUR_MS) || q.len() > cap + 1
            {
                q.pop_front();
            }
            q.len() > cap
        };
        if peer.seq.is_some_and(|s| seq > s) && window(&mut peer.seq_bumps, MAX_SEQ_BUMPS_PER_HOUR)
        {
            events.push(Event::SeqChurn);
        }
        if peer.socket.is_some_and(|s| s != socket)
            && window(&mut peer.address_changes, MAX_ADDRESS_CHANGES_PER_HOUR)
        {
            events.push(Event::AddressChurn);
        }
        if peer.seq.is_none_or(|s| seq >= s) {
            peer.seq = Some(seq);
            peer.socket = Some(socket);
        }
        events
            .into_iter()
            .map(|e| (e, self.record(id, Some(socket.ip()), e, now)))
            .collect()
    }

    /// Keeps the board within `max_peers` before `id` is added: forgets an
    /// eighth of the capacity at once, unbanned peers nearest neutral and
    /// longest unchanged first, then banned peers whose ban ends first.
    fn make_room(&mut self, id: &NodeId, now: UnixMillis) {
        if self.peers.len() < self.config.max_peers || self.peers.contains_key(id) {
            return;
        }
        let h = self.config.half_life_ms();
        let mut order: Vec<(bool, u32, UnixMillis, UnixMillis, NodeId)> = self
            .peers
            .iter()
            .map(|(id, p)| {
                let ban = p.banned_at(now);
                (
                    ban.is_some(),
                    p.current(now, h).unsigned_abs(),
                    ban.map_or(0, |b| b.until),
                    p.at,
                    *id,
                )
            })
            .collect();
        order.sort_unstable();
        let drop = (self.config.max_peers / 8).max(1);
        for (_, _, _, _, id) in order.into_iter().take(drop) {
            self.peers.remove(&id);
        }
        self.ip_bans.retain(|_, until| now < *until);
    }

    /// What to save: every peer with a nonzero score or a ban in force.
    pub fn snapshot(&self, now: UnixMillis) -> SavedScores {
        let h = self.config.half_life_ms();
        let mut peers: Vec<SavedPeer> = self
            .peers
            .iter()
            .filter_map(|(id, p)| {
                let ban = p.banned_at(now);
                let score = p.current(now, h);
                (score != 0 || ban.is_some()).then(|| SavedPeer {
                    node_id: hex::encode(id),
                    score,
                    ip: p.ip,
                    ban,
                })
            })
            .collect();
        peers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        let mut ip_bans: Vec<SavedIpBan> = self
            .ip_bans(now)
            .into_iter()
            .map(|(ip, until)| SavedIpBan { ip, until })
            .collect();
        ip_bans.truncate(self.config.max_peers);
        SavedScores {
            version: SAVED_VERSION,
            saved_at: now,
            peers,
            ip_bans,
        }
    }

    /// A board holding what `saved` holds, as of `now` (scores are taken as
    /// of `now`: the time the node was down does not decay them, so a
    /// restart does not wash a score). At most `max_peers` peers are taken,
    /// the lowest scores first. Returns the board and how many entries were
    /// left out.
    ///
    /// # Errors
    ///
    /// [`RestoreError`] naming the first malformed entry; nothing is taken
    /// then.
    pub fn restore(
        config: ScoringConfig,
        saved: &SavedScores,
        now: UnixMillis,
    ) -> Result<(Self, usize), RestoreError> {
        if saved.version != SAVED_VERSION {
            return Err(RestoreError::Version(saved.version));
        }
        let mut board = Self::new(config).map_err(RestoreError::Config)?;
        let mut peers = Vec::with_capacity(saved.peers.len());
        for (i, p) in saved.peers.iter().enumerate() {
            let bad = |reason: String| RestoreError::Entry { index: i, reason };
            let bytes = hex::decode(&p.node_id).map_err(|e| bad(format!("node_id: {e}")))?;
            let id: NodeId = bytes
                .try_into()
                .map_err(|_| bad("node_id: not 32 bytes".into()))?;
            if !(MIN_SCORE..=MAX_SCORE).contains(&p.score) {
                return Err(bad(format!(
                    "score {} outside {MIN_SCORE}..={MAX_SCORE}",
                    p.score
                )));
            }
            peers.push((id, p));
        }
        peers.sort_by_key(|(_, p)| p.score);
        let skipped = peers.len().saturating_sub(config.max_peers);
        for (id, p) in peers.into_iter().take(config.max_peers) {
            // A ban longer than ours would be a file from another config:
            // cap it at one ban from now.
            let ban = p.ban.filter(|b| now < b.until).map(|b| Ban {
                until: b.until.min(now + config.ban_duration.as_millis() as u64),
                ..b
            });
            board.peers.insert(
                id,
                Peer {
                    score: p.score,
                    at: now,
                    ban,
                    ip: p.ip,
                    ..Peer::default()
                },
            );
        }
        for b in saved.ip_bans.iter().take(config.max_peers) {
            if now < b.until {
                board.ip_bans.insert(b.ip, b.until);
            }
        }
        Ok((board, skipped))
    }
}

/// Version of [`SavedScores`].
pub const SAVED_VERSION: u32 = 1;

/// Scores and bans as saved in the datadir (`scores.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedScores {
    /// [`SAVED_VERSION`].
    pub version: u32,
    /// When saved.
    pub saved_at: UnixMillis,
    /// Peers with a nonzero score or a ban.
    pub peers: Vec<SavedPeer>,
    /// IP bans in force.
    pub ip_bans: Vec<SavedIpBan>,
}

/// One saved peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPeer {
    /// Node ID, 64 hex digits.
    pub node_id: String,
    /// Score when saved.
    pub score: i32,
    /// Last known IP.
    pub ip: Option<IpAddr>,
    /// Ban in force when saved.
    pub ban: Option<Ban>,
}

/// One saved IP ban.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedIpBan {
    /// The IP.
    pub ip: IpAddr,
    /// When the ban ends.
    pub until: UnixMillis,
}

/// Why saved scores were not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Unknown file version.
    #[error("unknown version {0} (expected {SAVED_VERSION})")]
    Version(u32),
    /// A malformed entry.
    #[error("peers[{index}]: {reason}")]
    Entry {
        /// Index in `peers`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: UnixMillis = 1_700_000_000_000;
    const MIN: UnixMillis = 60_000;

    fn board() -> Scoreboard {
        Scoreboard::new(ScoringConfig::default()).unwrap()
    }

    fn id(n: u16) -> NodeId {
        let mut id = [0; 32];
        id[..2].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn thresholds_are_ordered() {
        const {
            assert!(MIN_SCORE < BAN_THRESHOLD);
            assert!(BAN_THRESHOLD < STALENESS_FLOOR);
            assert!(STALENESS_FLOOR < EVICT_THRESHOLD);
            assert!(EVICT_THRESHOLD < NOT_SERVED_THRESHOLD);
            assert!(NOT_SERVED_THRESHOLD < 0 && 0 < MAX_SCORE);
        }
    }

    #[test]
    fn malice_bans_and_the_score_is_frozen_while_banned() {
        let mut b = board();
        let a = id(1);
        assert_eq!(b.record(&a, None, Event::WrongDistance, T0).banned, None);
        let o = b.record(&a, None, Event::WrongDistance, T0 + MIN);
        let ban = o.banned.expect("second wrong-distance answer bans");
        assert_eq!(ban.reason, Event::WrongDistance);
        assert_eq!(ban.until, T0 + MIN + 3_600_000);
        assert_eq!(o.standing, Standing::Banned);
        let frozen = o.score;
        assert_eq!(b.score(&a, T0 + 30 * MIN), frozen, "frozen while banned");
        let credit = b.record(&a, None, Event::PingAnswered, T0 + 31 * MIN);
        assert_eq!(credit.score, frozen, "no credit while banned");
        // After the ban, decay resumes from the ban's end.
        assert_eq!(
            b.score(&a, ban.until + 600_000),
            decay(frozen, 600_000, 600_000)
        );
        assert_eq!(b.standing(&a, ban.until), Standing::Evicted);
        assert_eq!(b.bans(T0 + 2 * MIN).len(), 1);
        assert!(b.bans(ban.until).is_empty());
    }

    #[test]
    fn staleness_never_bans() {
        let mut b = board();
        let a = id(2);
        let mut last = None;
        for i in 0..1000 {
            last = Some(b.record(&a, None, Event::RequestTimeout, T0 + i));
        }
        let o = last.unwrap();
        assert_eq!(
            (o.score, o.standing, o.banned),
            (STALENESS_FLOOR, Standing::Evicted, None)
        );
        // Malice on top of staleness still bans.
        assert!(
            b.record(&a, None, Event::DuplicateRecords, T0 + 1000)
                .banned
                .is_some()
        );
    }

    #[test]
    fn credits_stop_at_the_maximum() {
        let mut b = board();
        for i in 0..100 {
            b.record(&id(3), None, Event::PingAnswered, T0 + i);
        }
        assert_eq!(b.score(&id(3), T0 + 100), MAX_SCORE);
    }

    #[test]
    fn an_ip_is_banned_when_more_than_five_banned_peers_share_it() {
        let mut b = board();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for n in 0..6u16 {
            b.record(&id(n), Some(ip), Event::WrongDistance, T0);
            let o = b.record(&id(n), Some(ip), Event::WrongDistance, T0);
            assert!(o.banned.is_some());
            assert_eq!(o.ip_banned.is_some(), n == 5, "peer {n}");
        }
        assert_eq!(b.ip_bans(T0), [(ip, T0 + 3_600_000)]);
    }

    #[test]
    fn usefulness_credits_and_blames_the_reporter() {
        let mut b = board();
        let (good, bad) = (id(10), id(11));
        b.returned(&good, (100..108).map(id));
        b.returned(&bad, (200..208).map(id));
        let mut scored = Vec::new();
        for n in 100..108 {
            scored.extend(b.returned_answered(&id(n), n != 100, T0));
        }
        for n in 200..208 {
            scored.extend(b.returned_answered(&id(n), n == 200, T0));
        }
        assert_eq!(scored.len(), 2);
        assert_eq!(
            (scored[0].0, scored[0].1, scored[0].2.score),
            (good, Event::UsefulAnswers, USEFUL_ANSWERS_POINTS)
        );
        assert_eq!(
            (scored[1].0, scored[1].1, scored[1].2.score),
            (bad, Event::MostlyDeadAnswers, -5)
        );
        // Unknown records score nobody.
        assert_eq!(b.returned_answered(&id(999), false, T0), None);
    }
    const USEFUL_ANSWERS_POINTS: i32 = event::USEFUL_ANSWERS;

    #[test]
    fn churn_costs_beyond_the_free_rate() {
        let mut b = board();
        let a = id(4);
        let s1: SocketAddr = "203.0.113.1:9000".parse().unwrap();
        let s2: SocketAddr = "203.0.113.2:9000".parse().unwrap();
        assert!(b.observe_enr(&a, 1, s1, T0).is_empty());
        let mut charged = 0;
        for seq in 2..=20u64 {
            charged += b.observe_enr(&a, seq, s1, T0 + seq * MIN / 4).len();
        }
        assert_eq!(charged, 19 - MAX_SEQ_BUMPS_PER_HOUR);
        let mut moves = Vec::new();
        for (i, s) in [s2, s1, s2, s1].into_iter().enumerate() {
            moves.extend(b.observe_enr(&a, 30 + i as u64, s, T0 + 10 * MIN + i as u64));
        }
        let address: Vec<_> = moves
            .iter()
            .filter(|(e, _)| *e == Event::AddressChurn)
            .collect();
        assert_eq!(address.len(), 4 - MAX_ADDRESS_CHANGES_PER_HOUR);
        // An hour later it is free again.
        assert!(b.observe_enr(&a, 50, s2, T0 + 200 * MIN).is_empty());
    }

    #[test]
    fn the_board_is_bounded_and_forgets_neutral_peers_first() {
        let config = ScoringConfig {
            max_peers: 16,
            ..ScoringConfig::default()
        };
        let mut b = Scoreboard::new(config).unwrap();
        b.record(&id(0), None, Event::WrongDistance, T0);
        b.record(&id(0), None, Event::WrongDistance, T0);
        for n in 1..100 {
            b.record(&id(n), None, Event::PingAnswered, T0 + u64::from(n));
            assert!(b.len() <= 16);
        }
        assert!(b.ban(&id(0), T0 + 100).is_some(), "the banned peer is kept");
    }

    #[test]
    fn snapshot_round_trips_and_bad_entries_are_named() {
        let mut b = board();
        b.record(
            &id(1),
            Some("203.0.113.1".parse().unwrap()),
            Event::WrongDistance,
            T0,
        );
        b.record(&id(1), None, Event::WrongDistance, T0);
        b.record(&id(2), None, Event::DuplicateRecords, T0);
        b.record(&id(3), None, Event::PingAnswered, T0);
        let saved = b.snapshot(T0 + MIN);
        let json = serde_json::to_string(&saved).unwrap();
        let back: SavedScores = serde_json::from_str(&json).unwrap();
        let (r, skipped) =
            Scoreboard::restore(ScoringConfig::default(), &back, T0 + 2 * MIN).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(r.ban(&id(1), T0 + 2 * MIN), b.ban(&id(1), T0 + MIN));
        assert_eq!(r.score(&id(2), T0 + 2 * MIN), b.score(&id(2), T0 + MIN));
        let mut broken = back.clone();
        broken.peers[1].node_id = "zz".into();
        let err = Scoreboard::restore(ScoringConfig::default(), &broken, T0).unwrap_err();
        assert!(err.to_string().starts_with("peers[1]: node_id"), "{err}");
        let mut broken = back;
        broken.peers[0].score = 1000;
        let err = Scoreboard::restore(ScoringConfig::default(), &broken, T0).unwrap_err();
        assert!(err.to_string().contains("score 1000 outside"), "{err}");
    }

    #[test]
    fn config_errors_name_the_field() {
        let c = ScoringConfig {
            max_peers: 1,
            ..ScoringConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "scoring.max_peers: must be in 16..=1000000"
        );
    }

    proptest! {
        #[test]
        fn decay_moves_toward_zero_and_halves(s in MIN_SCORE..=MAX_SCORE, a in 0u64..10_000_000, b in 0u64..10_000_000) {
            let h = 600_000;
            let (early, late) = (a.min(b), a.max(b));
            let (x, y) = (decay(s, early, h), decay(s, late, h));
            prop_assert!(x.signum() == s.signum() || x == 0);
            prop_assert!(y.abs() <= x.abs() && x.abs() <= s.abs());
            prop_assert!((2 * decay(s, h, h) - s).abs() <= 1);
            prop_assert_eq!(decay(s, 0, h), s);
        }

        #[test]
        fn standings_follow_the_thresholds(s in MIN_SCORE..=MAX_SCORE) {
            let st = Standing::of(s);
            prop_assert_eq!(st == Standing::Good, s > NOT_SERVED_THRESHOLD);
            prop_assert_eq!(st == Standing::Evicted, s <= EVICT_THRESHOLD);
            // Decay never worsens a standing.
            prop_assert!(Standing::of(decay(s, 60_000, 600_000)) <= st);
        }

        #[test]
        fn only_malice_bans_and_scores_stay_in_range(events in proptest::collection::vec(0usize..13, 0..200)) {
            let mut b = board();
            let a = id(7);
            for (i, e) in events.iter().enumerate() {
                let event = Event::ALL[*e];
                let o = b.record(&a, None, event, T0 + i as u64 * 1000);
                prop_assert!((MIN_SCORE..=MAX_SCORE).contains(&o.score));
                if o.banned.is_some() {
                    prop_assert_eq!(event.class(), Class::Malice);
                    prop_assert!(o.score <= BAN_THRESHOLD);
                }
                if event.class() == Class::Staleness && o.score < o.previous {
                    prop_assert!(o.score >= STALENESS_FLOOR);
                }
            }
        }
    }
}

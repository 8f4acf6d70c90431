//! discv5's packet filter as a score source.
//!
//! sigp `discv5` 0.12 rate-limits unsolicited packets when its packet filter
//! is on (`ConfigBuilder::enable_packet_filter`, as Lighthouse runs it:
//! on average 8 per second per node ID, 9 per IP, 10 in total, with bursts).
//! A node over its limit is banned inside the library for an hour, but the
//! ban list is crate-private (`PERMIT_BAN_LIST` in `src/discv5.rs`) and the
//! library emits no event for it. All it does is log, at `warn`, from
//! `discv5::socket::filter`:
//!
//! - `"Node has exceeded its request limit and is now banned"`, with the
//!   field `node_id` shortened by `NodeId`'s `Display` to `0x1234..abcd` (the
//!   first and last two bytes);
//! - `"Banning IP for excessive requests"`, with the field `ip`.
//!
//! [`FilterBanFeed::layer`] is a `tracing` layer that catches exactly those
//! two events, whatever the log level the user chose, and queues them
//! (bounded: [`FEED_CAPACITY`]; what overflows is counted and dropped). The
//! service drains the queue and attributes a node ban to the one node it
//! knows whose ID matches the shortened form ([`ShortId`]); that node gets
//! `packet_filter_ban` (docs/scoring.md). 32 bits of ID make a wrong match
//! among a few thousand known nodes unlikely (about n/2³² per ban); an
//! ambiguous or unknown ID is counted and not scored. An IP ban is scored
//! only when exactly one known node sits at that IP: several honest nodes
//! can share an address.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of discv5's packet filter (module
/// `discv5::socket::filter`).
pub const FILTER_TARGET: &str = "discv5::socket::filter";
/// The message discv5 logs when it bans a node ID for its request rate.
pub const NODE_BANNED: &str = "Node has exceeded its request limit and is now banned";
/// The message discv5 logs when it bans an IP for its request rate.
pub const IP_BANNED: &str = "Banning IP for excessive requests";
/// Filter bans held until the service drains them. A flood of bans beyond
/// this between two drains is dropped (and counted): the feed must not grow
/// with attacker traffic.
pub const FEED_CAPACITY: usize = 256;

/// A node ID as discv5 logs it: `0x` and the first two bytes, `..`, the last
/// two bytes (`enr::NodeId`'s `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortId {
    prefix: [u8; 2],
    suffix: [u8; 2],
}

impl ShortId {
    /// Parses `0x1234..abcd`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (head, tail) = s.strip_prefix("0x")?.split_once("..")?;
        let mut prefix = [0u8; 2];
        let mut suffix = [0u8; 2];
        hex::decode_to_slice(head, &mut prefix).ok()?;
        hex::decode_to_slice(tail, &mut suffix).ok()?;
        Some(Self { prefix, suffix })
    }

    /// Whether the full ID `id` shortens to this.
    pub fn matches(&self, id: &[u8; 32]) -> bool {
        id[..2] == self.prefix && id[30..] == self.suffix
    }
}

impl std::fmt::Display for ShortId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "0x{}..{}",
            hex::encode(self.prefix),
            hex::encode(self.suffix)
        )
    }
}

/// One ban by discv5's packet filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterBan {
    /// A node ID over its request rate.
    Node(ShortId),
    /// An IP over its request rate.
    Ip(IpAddr),
}

#[derive(Debug, Default)]
struct Feed {
    queue: Mutex<VecDeque<FilterBan>>,
    notify: Notify,
    dropped: AtomicU64,
}

/// The queue between the logging layer and the service (cheap to clone;
/// clones share the queue).
#[derive(Clone, Debug, Default)]
pub struct FilterBanFeed {
    feed: Arc<Feed>,
}

impl FilterBanFeed {
    /// An empty feed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The layer to install in the process's `tracing` subscriber. It has
    /// its own filter (discv5's filter module at `warn`), so it sees the bans
    /// whatever level the log output is set to.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        FilterBanLayer { feed: self.clone() }
            .with_filter(Targets::new().with_target(FILTER_TARGET, Level::WARN))
    }

    /// Queues a ban; drops it when [`FEED_CAPACITY`] are waiting.
    pub fn push(&self, ban: FilterBan) {
        {
            let mut queue = self.feed.queue.lock();
            if queue.len() >= FEED_CAPACITY {
                self.feed.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            queue.push_back(ban);
        }
        self.feed.notify.notify_one();
    }

    /// Takes every queued ban, oldest first.
    pub fn drain(&self) -> Vec<FilterBan> {
        self.feed.queue.lock().drain(..).collect()
    }

    /// Waits until a ban is queued (returns at once if one was queued since
    /// the last wait).
    pub async fn wait(&self) {
        self.feed.notify.notified().await;
    }

    /// Bans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.feed.dropped.load(Ordering::Relaxed)
    }
}

struct FilterBanLayer {
    feed: FilterBanFeed,
}

#[derive(Default)]
struct Fields {
    message: String,
    node_id: String,
    ip: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let slot = match field.name() {
            "message" => &mut self.message,
            "node_id" => &mut self.node_id,
            "ip" => &mut self.ip,
            _ => return,
        };
        *slot = format!("{value:?}");
    }
}

impl<S: Subscriber> Layer<S> for FilterBanLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != FILTER_TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let ban = match fields.message.as_str() {
            NODE_BANNED => ShortId::parse(&fields.node_id).map(FilterBan::Node),
            IP_BANNED => fields.ip.parse().ok().map(FilterBan::Ip),
            _ => None,
        };
        if let Some(ban) = ban {
            self.feed.push(ban);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn short_id_is_what_enr_displays() {
        let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(5));
        let id = enr::NodeId::new(&raw);
        let short = ShortId::parse(&id.to_string()).expect("discv5's form parses");
        assert!(short.matches(&raw));
        assert_eq!(short.to_string(), id.to_string());
        let mut other = raw;
        other[31] ^= 1;
        assert!(!short.matches(&other));
        for bad in ["", "0x12..ab", "1234..abcd", "0x1234abcd", "0xzz34..abcd"] {
            assert_eq!(ShortId::parse(bad), None, "{bad:?}");
        }
    }

    /// The layer under a subscriber whose output filter is `error` (the
    /// user's choice) still sees discv5's `warn` events, with the exact
    /// messages and field formatting discv5 0.12 uses
    /// (`src/socket/filter/mod.rs`).
    #[test]
    fn layer_catches_discv5_filter_bans_whatever_the_log_level() {
        let feed = FilterBanFeed::new();
        let subscriber = tracing_subscriber::registry().with(feed.layer()).with(
            tracing_subscriber::fmt::layer().with_filter(Targets::new().with_default(Level::ERROR)),
        );
        let id = enr::NodeId::new(&[7u8; 32]);
        let ip: IpAddr = "127.9.8.7".parse().unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "discv5::socket::filter", node_id = %id, "Node has exceeded its request limit and is now banned");
            tracing::warn!(target: "discv5::socket::filter", ip = ?ip, "Banning IP for excessive requests");
            // Other messages and other targets are ignored.
            tracing::warn!(target: "discv5::socket::filter", %ip, "IP has exceeded its node-id limit and is now banned");
            tracing::warn!(target: "discv5::service", node_id = %id, "Node has exceeded its request limit and is now banned");
            tracing::debug!(target: "discv5::socket::filter", node_id = %id, "Node has exceeded its request limit and is now banned");
        });
        let bans = feed.drain();
        assert_eq!(
            bans,
            vec![
                FilterBan::Node(ShortId::parse(&id.to_string()).unwrap()),
                FilterBan::Ip(ip)
            ]
        );
        assert!(feed.drain().is_empty());
    }

    #[test]
    fn feed_is_bounded() {
        let feed = FilterBanFeed::new();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..FEED_CAPACITY + 10 {
            feed.push(FilterBan::Ip(ip));
        }
        assert_eq!(feed.drain().len(), FEED_CAPACITY);
        assert_eq!(feed.dropped(), 10);
    }
}

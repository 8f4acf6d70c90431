//! The discguard service: a sigp `discv5` node governed by a diversity
//! policy, with a curated view of the nodes that answered us.
//!
//! Data flow (design.md): discv5 owns sockets, sessions and its own
//! k-buckets (what we answer other nodes' FINDNODE from) and emits events.
//! This crate consumes them:
//!
//! - `SessionEstablished` and answered PINGs offer a node to the **curated
//!   view** ([`discguard_policy::View`]), which only nodes that answered us
//!   enter, admitted by the diversity policy. The view is what the consensus
//!   client is served ([`ServiceHandle::peers`]).
//! - `NodeInserted` is checked against a mirror of discv5's table: a node
//!   that breaks a group cap is removed (`remove_node`) and banned briefly;
//!   a periodic audit of `table_entries` catches what the events miss
//!   (discv5 has no "removed" event). discv5's own static `table_filter`
//!   drops non-routable addresses on a public network, and its `ip_limit`
//!   (2 per /24 per bucket, 10 per table, IPv4 only) stays on, as in
//!   Lighthouse.
//! - `Discovered` ENRs and lookup results are candidates: a bounded queue
//!   feeds a verifier that PINGs them (bounded concurrency) and offers those
//!   that answer to the view.
//! - Lookups are discguard's own (`discguard_lookup`: disjoint paths,
//!   group-diverse answers, private modes), seeded from the view and driven
//!   one `find_node_designated_peer` at a time; every answer is judged and
//!   scored. Refresh lookups keep the view filled; liveness PINGs evict
//!   entries that stop answering.
//!
//! Metrics are recorded through the `metrics` facade ([`metrics`]); the
//! binary installs the Prometheus exporter.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use discguard_netgroup::Classifier;
//! use discguard_service::{ServiceConfig, ServiceHandle};
//!
//! let config = ServiceConfig { allow_private_addresses: true, ..Default::default() };
//! let key = enr::CombinedKey::generate_secp256k1();
//! let service = ServiceHandle::start(config, key, Classifier::new(None), Vec::new()).await?;
//! let peers = service.peers(16);
//! println!("{} vetted peers", peers.len());
//! service.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod error;
pub mod filter_bans;
pub mod libp2p;
pub mod metrics;
pub mod network;
mod risk;
mod service;

pub use config::{ForkFilter, ServiceConfig};
pub use discguard_lookup;
pub use discv5;
pub use enr;
pub use error::{ConfigError, StartError};
pub use filter_bans::FilterBanFeed;
pub use service::lookups::{LookupOptions, LookupOutcome, TargetKind};
pub use service::{Admission, ServiceHandle, StaticReject, ViewRecord};

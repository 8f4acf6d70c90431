//! discguard's own discv5 lookups, as pure state machines (no I/O; time and
//! randomness passed in).
//!
//! sigp's `find_node` walks discv5's own table and follows every answer, so
//! a few Sybils that answer FINDNODE only with each other steer every lookup
//! through them, and every node asked learns its exact distance to the
//! target. A [`Lookup`] instead:
//!
//! - starts from the seeds it is given (the service gives it its curated
//!   view, never discv5's raw table);
//! - runs `d` **disjoint paths** (S/Kademlia, Baumgart & Mies 2007; rust-libp2p
//!   kad's `disjoint_query_paths` is the model): seeds are dealt to the paths,
//!   each path follows only its own answers, and a node is queried by one
//!   path at most. A result is trusted when it answered us or two paths
//!   named it ([`Found::verified`]);
//! - **judges every answer** with `discguard_scoring::judge` (records at the
//!   requested distances, no duplicates, routable, at most 16), follows only
//!   the usable records, and **trims crowds**: no more than a few records of
//!   one /24, /16 or ASN are followed ([`diverse`]). The [`AnswerReport`]
//!   goes to scoring;
//! - asks what its [`Privacy`] mode allows ([`privacy`]).
//!
//! ```
//! use std::time::Duration;
//! use discguard_lookup::{Lookup, LookupConfig, Next};
//!
//! let target = [7u8; 32];
//! let mut lookup: Lookup<()> =
//!     Lookup::new(target, Vec::new(), LookupConfig::default(), 1, Duration::ZERO).unwrap();
//! // No seeds: nothing to ask.
//! assert_eq!(lookup.next(Duration::ZERO), Next::Finished);
//! assert!(lookup.result().closest.is_empty());
//! ```

mod engine;
pub mod privacy;

pub use engine::{
    AnswerReport, Candidate, ConfigError, DEFAULT_MAX_QUERIES, DEFAULT_PARALLELISM, DEFAULT_PATHS,
    DEFAULT_RESULT_SIZE, DEFAULT_TIMEOUT, ENUMERATE_MAX, ENUMERATE_QUIET, Found, Lookup,
    LookupConfig, LookupResult, MAX_CANDIDATES, Next, diverse,
};
pub use privacy::{Privacy, PrivacyMode, PrivacySetting, UnknownPrivacy};

//! discguard-adversary: networks of real discv5 nodes on loopback, attacks
//! on them, and reports that put discguard and plain discv5 side by side.
//!
//! - the network: honest sigp `discv5` nodes spread over ASNs as the real
//!   Ethereum population ([`population`], [`sim`]), Sybils and poisoners
//!   ([`sim`]), keys drawn from the seed or mined ([`keys`]);
//! - the victims, each in its own process: the real `discguard` binary and
//!   the plain discv5 baselines ([`victims`], [`victim`]);
//! - the scenarios `sybil-flood`, `id-mining`, `lookup-poisoning`,
//!   `query-observer`, `baseline`, `keyspace-detection`, `flaky-honest`
//!   ([`scenario`]), the lossy relay in front of flaky honest nodes
//!   ([`relay`]), what they measure ([`measure`], [`procstat`], and what
//!   nodes asked by a lookup learn of its target: [`observer`]) and the
//!   report they write ([`report`], [`chart`]);
//! - the local testnet of the README ([`testnet`]), with real Lodestar
//!   discv5 nodes in a Node.js process ([`lodestar`]) and the simple honest
//!   nodes the integration tests use ([`honest`]).
//!
//! Every node binds a distinct 127.x.y.z address: distinct addresses stand
//! for distinct networks, and no packet leaves the machine. See
//! `docs/adversary.md`.

pub mod chart;
pub mod honest;
pub mod keys;
pub mod lodestar;
pub mod measure;
pub mod observer;
pub mod population;
pub mod procstat;
pub mod relay;
pub mod report;
pub mod risk;
pub mod scenario;
pub mod sim;
pub mod testnet;
pub mod victim;
pub mod victims;

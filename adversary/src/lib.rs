//! discguard-adversary: networks of real discv5 nodes on loopback.
//!
//! This first version builds the networks that the README's local testnet
//! and the integration tests run: honest sigp `discv5` nodes ([`honest`]),
//! real Lodestar discv5 nodes in a Node.js process ([`lodestar`]), and the
//! `testnet` orchestration ([`testnet`]) that puts the real `discguard`
//! binary in front of them. Attack scenarios come next (see the issues).
//!
//! Every node binds a distinct 127.x.y.z address: distinct addresses stand
//! for distinct networks, and no packet leaves the machine.

pub mod chart;
pub mod honest;
pub mod keys;
pub mod lodestar;
pub mod measure;
pub mod population;
pub mod procstat;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod testnet;
pub mod victim;
pub mod victims;

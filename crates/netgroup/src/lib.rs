//! Network groups: which networks an IP address belongs to.
//!
//! Eclipse attacks are cheap when an attacker's many addresses look like many
//! independent peers. This crate maps an address to the *groups* a diversity
//! policy caps (see `discguard-policy`):
//!
//! | kind | IPv4 | IPv6 | source |
//! |---|---|---|---|
//! | narrow prefix | /24 | /48 | discv5 spec rationale, geth, Lighthouse (/24); /48 is the usual end-site allocation (RFC 6177) |
//! | wide prefix | /16 | /32 | Bitcoin Core netgroups (/16 IPv4, /32 IPv6) |
//! | ASN | origin AS | origin AS | Bitcoin Core `-asmap`; Erebus (Tran et al., S&P 2020) |
//!
//! Without an ASN database the ASN group falls back to the wide prefix (/16 or
//! /32), as Bitcoin Core does without an asmap.
//!
//! Entry points: [`Classifier::groups`] (address → [`NetGroups`]),
//! [`addr_class`] (address → [`AddrClass`], for addresses that must never
//! enter a view on a public network) and [`AsnDb::open`] (MaxMind DB or CSV/TSV
//! range files). Everything here is pure and synchronous; only opening a
//! database reads files. Classifying an address does not allocate.
//!
//! Feature `test-utils` adds `mmdb_writer`, which writes small MaxMind DB
//! files for tests and simulated networks.
//!
//! ```
//! use discguard_netgroup::{Classifier, GroupKind, NetGroup};
//! use std::net::IpAddr;
//!
//! let classifier = Classifier::new(None);
//! let ip: IpAddr = "3.147.37.9".parse().unwrap();
//! let groups = classifier.groups(ip);
//! assert_eq!(groups.narrow.to_string(), "3.147.37.0/24");
//! assert_eq!(groups.wide.to_string(), "3.147.0.0/16");
//! // No database: the ASN group falls back to the /16.
//! assert_eq!(groups.asn, NetGroup::V4Slash16(0x0393));
//! assert_eq!(groups.get(GroupKind::Asn), groups.wide);
//! ```

mod asn;
mod class;
mod group;
#[cfg(any(test, feature = "test-utils"))]
pub mod mmdb_writer;

pub use asn::{AsnDb, AsnDbError, AsnDbFormat, AsnInfo, LineProblem};
pub use class::{AddrClass, addr_class};
pub use group::{Classifier, GroupKind, NetGroup, NetGroups};

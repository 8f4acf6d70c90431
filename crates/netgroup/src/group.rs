//! Group keys and the classifier.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::asn::AsnDb;

/// One network group: a prefix of the address or an autonomous system.
///
/// Keys are small and `Copy` so that policy counters can be keyed by them
/// cheaply. Prefix variants store only the prefix bits (right-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetGroup {
    /// IPv4 /24: the top 24 bits of the address.
    V4Slash24(u32),
    /// IPv4 /16: the top 16 bits of the address.
    V4Slash16(u16),
    /// IPv6 /48: the top 48 bits of the address.
    V6Slash48(u64),
    /// IPv6 /32: the top 32 bits of the address.
    V6Slash32(u32),
    /// Autonomous system number, from an ASN database.
    Asn(u32),
}

impl NetGroup {
    /// The IPv4 /24 of `ip`.
    pub fn v4_slash24(ip: Ipv4Addr) -> Self {
        Self::V4Slash24(u32::from(ip) >> 8)
    }

    /// The IPv4 /16 of `ip`.
    pub fn v4_slash16(ip: Ipv4Addr) -> Self {
        Self::V4Slash16((u32::from(ip) >> 16) as u16)
    }

    /// The IPv6 /48 of `ip`.
    pub fn v6_slash48(ip: Ipv6Addr) -> Self {
        Self::V6Slash48((u128::from(ip) >> 80) as u64)
    }

    /// The IPv6 /32 of `ip`.
    pub fn v6_slash32(ip: Ipv6Addr) -> Self {
        Self::V6Slash32((u128::from(ip) >> 96) as u32)
    }
}

impl fmt::Display for NetGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4Slash24(p) => write!(f, "{}/24", Ipv4Addr::from(p << 8)),
            Self::V4Slash16(p) => write!(f, "{}/16", Ipv4Addr::from(u32::from(p) << 16)),
            Self::V6Slash48(p) => write!(f, "{}/48", Ipv6Addr::from(u128::from(p) << 80)),
            Self::V6Slash32(p) => write!(f, "{}/32", Ipv6Addr::from(u128::from(p) << 96)),
            Self::Asn(n) => write!(f, "AS{n}"),
        }
    }
}

/// The kinds of group a policy caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// The narrow prefix: IPv4 /24 or IPv6 /48.
    Narrow,
    /// The wide prefix: IPv4 /16 or IPv6 /32.
    Wide,
    /// The autonomous system (or the wide prefix when no database knows it).
    Asn,
}

impl GroupKind {
    /// All kinds, narrowest first.
    pub const ALL: [Self; 3] = [Self::Narrow, Self::Wide, Self::Asn];

    /// A stable lowercase name, used in metrics labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Narrow => "narrow",
            Self::Wide => "wide",
            Self::Asn => "asn",
        }
    }
}

/// The groups of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetGroups {
    /// IPv4 /24 or IPv6 /48.
    pub narrow: NetGroup,
    /// IPv4 /16 or IPv6 /32.
    pub wide: NetGroup,
    /// [`NetGroup::Asn`] when the database knows the address, else a copy of
    /// `wide` (the fallback).
    pub asn: NetGroup,
}

impl NetGroups {
    /// The prefix groups of `ip`, with the ASN group set to the wide-prefix
    /// fallback. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are grouped as
    /// the IPv4 address they carry.
    pub fn prefixes_only(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let wide = NetGroup::v4_slash16(v4);
                Self {
                    narrow: NetGroup::v4_slash24(v4),
                    wide,
                    asn: wide,
                }
            }
            IpAddr::V6(v6) => {
                let wide = NetGroup::v6_slash32(v6);
                Self {
                    narrow: NetGroup::v6_slash48(v6),
                    wide,
                    asn: wide,
                }
            }
        }
    }

    /// The group of the given kind.
    pub const fn get(&self, kind: GroupKind) -> NetGroup {
        match kind {
            GroupKind::Narrow => self.narrow,
            GroupKind::Wide => self.wide,
            GroupKind::Asn => self.asn,
        }
    }

    /// `(kind, group)` for every kind, narrowest first.
    pub fn iter(&self) -> impl Iterator<Item = (GroupKind, NetGroup)> + '_ {
        GroupKind::ALL.into_iter().map(|k| (k, self.get(k)))
    }

    /// The AS number, when an ASN database knew the address.
    pub const fn asn_number(&self) -> Option<u32> {
        match self.asn {
            NetGroup::Asn(n) => Some(n),
            _ => None,
        }
    }
}

/// Maps addresses to [`NetGroups`], with an optional ASN database.
///
/// Cloning is cheap: clones share the database.
#[derive(Clone, Debug, Default)]
pub struct Classifier {
    asn: Option<Arc<AsnDb>>,
}

impl Classifier {
    /// A classifier; without a database the ASN group is the wide prefix.
    pub fn new(asn: Option<AsnDb>) -> Self {
        Self {
            asn: asn.map(Arc::new),
        }
    }

    /// A classifier over a database shared with other users.
    pub fn with_shared_db(asn: Arc<AsnDb>) -> Self {
        Self { asn: Some(asn) }
    }

    /// The ASN database in use, if any.
    pub fn asn_db(&self) -> Option<&AsnDb> {
        self.asn.as_deref()
    }

    /// The groups of `ip`. Does not allocate: one prefix computation and at
    /// most one database lookup.
    pub fn groups(&self, ip: IpAddr) -> NetGroups {
        let mut groups = NetGroups::prefixes_only(ip);
        if let Some(asn) = self.asn.as_ref().and_then(|db| db.lookup_asn(ip)) {
            groups.asn = NetGroup::Asn(asn);
        }
        groups
    }
}

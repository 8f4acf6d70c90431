//! Address classes that must never enter a view on a public network.
//!
//! STUB: to be completed (netgroup helper).

use std::net::IpAddr;

/// The class of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrClass {
    /// Globally routable unicast.
    Public,
    /// Loopback (127.0.0.0/8, ::1).
    Loopback,
}

impl AddrClass {
    /// Whether the address may enter a view on a public network.
    pub const fn is_public(self) -> bool {
        matches!(self, Self::Public)
    }
}

/// Classifies `ip`.
pub fn addr_class(ip: IpAddr) -> AddrClass {
    if ip.is_loopback() { AddrClass::Loopback } else { AddrClass::Public }
}

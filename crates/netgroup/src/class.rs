//! Address classes that must never enter a view on a public network.
//!
//! A discovery view on mainnet should only hold globally routable unicast
//! addresses. Everything else is either unreachable from most of the network
//! (private, loopback, link-local, CGNAT), reserved for other uses
//! (documentation, benchmarking, multicast) or an IPv6 alias of some IPv4 host
//! (NAT64, 6to4, Teredo): an attacker can advertise such addresses at no cost,
//! and an honest node cannot use them.
//!
//! The blocks come from the IANA special-purpose address registries, set up by
//! RFC 6890 (updated by RFC 8190):
//!
//! - IPv4: <https://www.iana.org/assignments/iana-ipv4-special-registry/>
//! - IPv6: <https://www.iana.org/assignments/iana-ipv6-special-registry/>
//! - IPv6 address space (only `2000::/3` is allocated global unicast):
//!   <https://www.iana.org/assignments/ipv6-address-space/>
//!
//! Where this module departs from the registries' "globally reachable"
//! column, the variant docs say so and why.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The class of an address, for deciding whether it may enter a view on a
/// public network (see [`addr_class`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrClass {
    /// Globally routable unicast: everything not listed below. In IPv6 only
    /// global unicast space (`2000::/3`, RFC 4291 §2.4) outside the special
    /// blocks. Anycast service blocks that IANA marks globally reachable
    /// (AS112 `192.31.196.0/24`, `192.175.48.0/24`, `2001:4:112::/48`; AMT
    /// `192.52.193.0/24`, `2001:3::/32`) are public like any routed block.
    Public,
    /// The unspecified address: `0.0.0.0` (RFC 1122 §3.2.1.3) and `::`
    /// (RFC 4291 §2.5.2).
    Unspecified,
    /// Loopback: `127.0.0.0/8` (RFC 1122) and `::1` (RFC 4291 §2.5.3).
    Loopback,
    /// Private-use: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`
    /// (RFC 1918); IPv6 unique-local `fc00::/7` (RFC 4193) and the deprecated
    /// site-local `fec0::/10` (RFC 3879), which ULA replaced.
    Private,
    /// Link-local: `169.254.0.0/16` (RFC 3927) and `fe80::/10`
    /// (RFC 4291 §2.5.6).
    LinkLocal,
    /// Shared address space for carrier-grade NAT: `100.64.0.0/10`
    /// (RFC 6598). Many subscribers sit behind each address.
    Shared,
    /// Documentation: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`
    /// (RFC 5737), `2001:db8::/32` (RFC 3849) and `3fff::/20` (RFC 9637).
    Documentation,
    /// Benchmarking: `198.18.0.0/15` (RFC 2544) and `2001:2::/48` (RFC 5180).
    Benchmarking,
    /// Multicast: `224.0.0.0/4` (RFC 5771) and `ff00::/8` (RFC 4291 §2.7).
    Multicast,
    /// The limited broadcast address `255.255.255.255` (RFC 919, RFC 8190).
    Broadcast,
    /// Reserved or special-purpose space that is not routed to hosts:
    ///
    /// - IPv4: "this network" `0.0.0.0/8` (RFC 791), IETF protocol
    ///   assignments `192.0.0.0/24` (RFC 6890; the whole block, including the
    ///   PCP and TURN anycast addresses `.9` and `.10`, which are service
    ///   addresses rather than hosts), the deprecated 6to4 relay anycast
    ///   `192.88.99.0/24` (RFC 7526) and future use `240.0.0.0/4` (RFC 1112).
    /// - IPv6: discard-only `100::/64` (RFC 6666), IETF protocol assignments
    ///   `2001::/23` (RFC 2928) apart from the sub-blocks classified
    ///   elsewhere, which includes the ORCHID identifiers `2001:10::/28`,
    ///   `2001:20::/28` (RFC 4843, RFC 7343) and DRIP entity tags
    ///   `2001:30::/28` (RFC 9374): identifiers, not locators; SRv6 SIDs
    ///   `5f00::/16` (RFC 9602); and any address outside `2000::/3` and the
    ///   other blocks named here (IETF-reserved space).
    Reserved,
    /// An IPv6 address that carries an IPv4 address for translation or
    /// tunnelling: IPv4-compatible `::/96` (deprecated, RFC 4291 §2.5.5.1),
    /// IPv4-translated `::ffff:0:0:0/96` (RFC 2765), NAT64 `64:ff9b::/96`
    /// (RFC 6052) and `64:ff9b:1::/48` (RFC 8215), Teredo `2001::/32`
    /// (RFC 4380) and 6to4 `2002::/16` (RFC 3056, deprecated for relays by
    /// RFC 7526).
    ///
    /// A peer at such an address is the IPv4 host behind it; admitting it
    /// would let one IPv4 host count again in an IPv6 group. IPv4-mapped
    /// addresses (`::ffff:0:0/96`) are not in this class: they are classified
    /// as the IPv4 address they carry.
    Ipv4Embedded,
}

impl AddrClass {
    /// Every class, [`AddrClass::Public`] first (for pre-registering metric
    /// label values).
    pub const ALL: [Self; 12] = [
        Self::Public,
        Self::Unspecified,
        Self::Loopback,
        Self::Private,
        Self::LinkLocal,
        Self::Shared,
        Self::Documentation,
        Self::Benchmarking,
        Self::Multicast,
        Self::Broadcast,
        Self::Reserved,
        Self::Ipv4Embedded,
    ];

    /// Whether an address of this class may enter a view on a public network.
    pub const fn is_public(self) -> bool {
        matches!(self, Self::Public)
    }

    /// A stable snake_case name, used in metrics labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link_local",
            Self::Shared => "shared",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::Ipv4Embedded => "ipv4_embedded",
        }
    }
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies `ip`; only [`AddrClass::Public`] addresses may enter a view on
/// a public network.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are classified as the IPv4
/// address they carry, so `::ffff:10.0.0.1` is [`AddrClass::Private`] and
/// `::ffff:3.147.37.9` is [`AddrClass::Public`]. Other IPv6 forms of IPv4
/// addresses are [`AddrClass::Ipv4Embedded`].
///
/// ```
/// use discguard_netgroup::{AddrClass, addr_class};
///
/// assert_eq!(addr_class("3.147.37.9".parse().unwrap()), AddrClass::Public);
/// assert_eq!(addr_class("100.64.1.2".parse().unwrap()), AddrClass::Shared);
/// assert_eq!(addr_class("::ffff:192.168.1.1".parse().unwrap()), AddrClass::Private);
/// assert_eq!(addr_class("2002:c000:204::1".parse().unwrap()), AddrClass::Ipv4Embedded);
/// assert!(addr_class("2a01:4f8::1".parse().unwrap()).is_public());
/// ```
pub const fn addr_class(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

/// Whether `addr` lies in `net/len` (`net` has its host bits clear).
const fn in_v4(addr: u32, net: u32, len: u32) -> bool {
    // `len` is at least 1 at every call site, so the shift is below 32.
    let mask = !(u32::MAX >> len);
    addr & mask == net
}

/// Whether `addr` lies in `net/len` (`net` has its host bits clear).
const fn in_v6(addr: u128, net: u128, len: u32) -> bool {
    let mask = !(u128::MAX >> len);
    addr & mask == net
}

/// An IPv4 prefix as a `u32`.
const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// An IPv6 prefix as a `u128`, from its first four 16-bit groups.
const fn v6(a: u16, b: u16, c: u16, d: u16) -> u128 {
    ((a as u128) << 112) | ((b as u128) << 96) | ((c as u128) << 80) | ((d as u128) << 64)
}

const fn v4_class(ip: Ipv4Addr) -> AddrClass {
    let a = ip.to_bits();
    if a == 0 {
        AddrClass::Unspecified
    } else if a == u32::MAX {
        AddrClass::Broadcast
    } else if in_v4(a, v4(0, 0, 0, 0), 8)
        || in_v4(a, v4(192, 0, 0, 0), 24)
        || in_v4(a, v4(192, 88, 99, 0), 24)
        || in_v4(a, v4(240, 0, 0, 0), 4)
    {
        AddrClass::Reserved
    } else if in_v4(a, v4(127, 0, 0, 0), 8) {
        AddrClass::Loopback
    } else if in_v4(a, v4(10, 0, 0, 0), 8)
        || in_v4(a, v4(172, 16, 0, 0), 12)
        || in_v4(a, v4(192, 168, 0, 0), 16)
    {
        AddrClass::Private
    } else if in_v4(a, v4(169, 254, 0, 0), 16) {
        AddrClass::LinkLocal
    } else if in_v4(a, v4(100, 64, 0, 0), 10) {
        AddrClass::Shared
    } else if in_v4(a, v4(192, 0, 2, 0), 24)
        || in_v4(a, v4(198, 51, 100, 0), 24)
        || in_v4(a, v4(203, 0, 113, 0), 24)
    {
        AddrClass::Documentation
    } else if in_v4(a, v4(198, 18, 0, 0), 15) {
        AddrClass::Benchmarking
    } else if in_v4(a, v4(224, 0, 0, 0), 4) {
        AddrClass::Multicast
    } else {
        AddrClass::Public
    }
}

const fn v6_class(ip: Ipv6Addr) -> AddrClass {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return v4_class(mapped);
    }
    let a = ip.to_bits();
    if a == 0 {
        AddrClass::Unspecified
    } else if a == 1 {
        AddrClass::Loopback
    } else if in_v6(a, 0, 96)
        || in_v6(a, 0xffff << 48, 96)
        || in_v6(a, v6(0x64, 0xff9b, 0, 0), 96)
        || in_v6(a, v6(0x64, 0xff9b, 1, 0), 48)
        || in_v6(a, v6(0x2001, 0, 0, 0), 32)
        || in_v6(a, v6(0x2002, 0, 0, 0), 16)
    {
        AddrClass::Ipv4Embedded
    } else if in_v6(a, v6(0x2001, 2, 0, 0), 48) {
        AddrClass::Benchmarking
    } else if in_v6(a, v6(0x2001, 3, 0, 0), 32) || in_v6(a, v6(0x2001, 4, 0x112, 0), 48) {
        // AMT and AS112-v6: routed anycast blocks inside 2001::/23.
        AddrClass::Public
    } else if in_v6(a, v6(0x2001, 0, 0, 0), 23) || in_v6(a, v6(0x100, 0, 0, 0), 64) {
        AddrClass::Reserved
    } else if in_v6(a, v6(0x2001, 0xdb8, 0, 0), 32) || in_v6(a, v6(0x3fff, 0, 0, 0), 20) {
        AddrClass::Documentation
    } else if in_v6(a, v6(0x2000, 0, 0, 0), 3) {
        AddrClass::Public
    } else if in_v6(a, v6(0xfc00, 0, 0, 0), 7) || in_v6(a, v6(0xfec0, 0, 0, 0), 10) {
        AddrClass::Private
    } else if in_v6(a, v6(0xfe80, 0, 0, 0), 10) {
        AddrClass::LinkLocal
    } else if in_v6(a, v6(0xff00, 0, 0, 0), 8) {
        AddrClass::Multicast
    } else {
        // IETF-reserved space outside 2000::/3, including 5f00::/16 (SRv6 SIDs).
        AddrClass::Reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn class(s: &str) -> AddrClass {
        addr_class(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[track_caller]
    fn check(class_: AddrClass, addrs: &[&str]) {
        for a in addrs {
            assert_eq!(class(a), class_, "{a}");
        }
    }

    #[test]
    fn public() {
        check(
            AddrClass::Public,
            &[
                "3.147.37.9",        // mainnet bootnode (AWS)
                "1.1.1.1",           // Cloudflare
                "5.9.10.11",         // Hetzner
                "9.255.255.255",     // just below 10/8
                "11.0.0.0",          // just above 10/8
                "100.63.255.255",    // just below 100.64/10
                "100.128.0.0",       // just above 100.64/10
                "172.15.255.255",    // just below 172.16/12
                "172.32.0.0",        // just above 172.16/12
                "192.0.1.255",       // between 192.0.0.0/24 and 192.0.2.0/24
                "192.31.196.1",      // AS112
                "192.52.193.1",      // AMT
                "192.175.48.1",      // AS112 direct delegation
                "198.17.255.255",    // just below 198.18/15
                "198.20.0.0",        // just above 198.18/15
                "223.255.255.255",   // just below multicast
                "2a01:4f8::1",       // Hetzner
                "2600:1f18::1",      // AWS
                "2001:3::1",         // AMT
                "2001:4:112::1",     // AS112-v6
                "2001:200::1",       // WIDE, just above 2001::/23
                "2001:db7:ffff::1",  // just below documentation
                "2001:db9::1",       // just above documentation
                "3ffe::1",           // old 6bone space, now plain 2000::/3
                "3fff:1000::1",      // just above 3fff::/20
                "::ffff:3.147.37.9", // mapped public
            ],
        );
    }

    #[test]
    fn unspecified() {
        check(AddrClass::Unspecified, &["0.0.0.0", "::", "::ffff:0.0.0.0"]);
    }

    #[test]
    fn loopback() {
        check(
            AddrClass::Loopback,
            &["127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"],
        );
    }

    #[test]
    fn private() {
        check(
            AddrClass::Private,
            &[
                "10.0.0.1",
                "10.255.255.255",
                "172.16.0.1",
                "172.31.255.255",
                "192.168.0.1",
                "192.168.255.255",
                "fc00::1",
                "fd12:3456:789a::1",
                "fdff:ffff::1",
                "fec0::1",
                "::ffff:10.0.0.1",
                "::ffff:192.168.1.1",
            ],
        );
    }

    #[test]
    fn link_local() {
        check(
            AddrClass::LinkLocal,
            &["169.254.0.1", "169.254.255.255", "fe80::1", "febf::1"],
        );
    }

    #[test]
    fn shared() {
        check(
            AddrClass::Shared,
            &["100.64.0.0", "100.127.255.255", "::ffff:100.64.1.1"],
        );
    }

    #[test]
    fn documentation() {
        check(
            AddrClass::Documentation,
            &[
                "192.0.2.1",
                "198.51.100.255",
                "203.0.113.7",
                "2001:db8::1",
                "2001:db8:ffff::1",
                "3fff::1",
                "3fff:fff:ffff::1",
                "::ffff:203.0.113.7",
            ],
        );
    }

    #[test]
    fn benchmarking() {
        check(
            AddrClass::Benchmarking,
            &[
                "198.18.0.1",
                "198.19.255.255",
                "2001:2::1",
                "2001:2:0:ffff::1",
            ],
        );
    }

    #[test]
    fn multicast() {
        check(
            AddrClass::Multicast,
            &[
                "224.0.0.1",
                "239.255.255.250",
                "ff02::1",
                "ff0e::fb",
                "::ffff:224.0.0.251",
            ],
        );
    }

    #[test]
    fn broadcast() {
        check(
            AddrClass::Broadcast,
            &["255.255.255.255", "::ffff:255.255.255.255"],
        );
    }

    #[test]
    fn reserved() {
        check(
            AddrClass::Reserved,
            &[
                "0.1.2.3",
                "0.255.255.255",
                "192.0.0.1",
                "192.0.0.9",
                "192.0.0.170",
                "192.88.99.1",
                "240.0.0.1",
                "255.255.255.254",
                "100::1",
                "100::ffff:ffff:ffff:ffff",
                "2001:1::1",
                "2001:10::1",
                "2001:20::1",
                "2001:30::1",
                "2001:1ff::1",
                "5f00::1",
                "4000::1",
                "1::1",
                "e000::1",
                "::ffff:240.0.0.1",
            ],
        );
    }

    #[test]
    fn ipv4_embedded() {
        check(
            AddrClass::Ipv4Embedded,
            &[
                "::2",
                "::1.2.3.4",           // IPv4-compatible
                "::ffff:0:102:304",    // IPv4-translated (SIIT)
                "64:ff9b::1.2.3.4",    // NAT64
                "64:ff9b:1::1.2.3.4",  // local-use NAT64
                "2001::1",             // Teredo
                "2001:0:4136:e378::1", // Teredo
                "2002:c000:204::1",    // 6to4
                "2002:0a00:0001::1",   // 6to4 of a private address
            ],
        );
    }

    #[test]
    fn names_are_distinct_snake_case() {
        let mut names: Vec<_> = AddrClass::ALL.iter().map(|c| c.as_str()).collect();
        for n in &names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AddrClass::ALL.len());
        assert_eq!(AddrClass::Ipv4Embedded.to_string(), "ipv4_embedded");
    }

    #[test]
    fn only_public_is_public() {
        for c in AddrClass::ALL {
            assert_eq!(c.is_public(), c == AddrClass::Public, "{c}");
        }
    }

    proptest! {
        #[test]
        fn mapped_is_classified_as_ipv4(bits: u32) {
            let v4 = Ipv4Addr::from_bits(bits);
            prop_assert_eq!(
                addr_class(IpAddr::V6(v4.to_ipv6_mapped())),
                addr_class(IpAddr::V4(v4))
            );
        }

        #[test]
        fn outside_global_unicast_is_never_public(bits: u128) {
            let addr = Ipv6Addr::from_bits(bits);
            prop_assume!(addr.to_ipv4_mapped().is_none());
            if !in_v6(bits, v6(0x2000, 0, 0, 0), 3) {
                prop_assert!(!addr_class(IpAddr::V6(addr)).is_public(), "{}", addr);
            }
        }

        #[test]
        fn agrees_with_std_where_std_is_definite(bits: u32) {
            let ip = Ipv4Addr::from_bits(bits);
            let class = addr_class(IpAddr::V4(ip));
            if ip.is_private() {
                prop_assert_eq!(class, AddrClass::Private);
            }
            if ip.is_loopback() {
                prop_assert_eq!(class, AddrClass::Loopback);
            }
            if ip.is_link_local() {
                prop_assert_eq!(class, AddrClass::LinkLocal);
            }
            if ip.is_documentation() {
                prop_assert_eq!(class, AddrClass::Documentation);
            }
            if ip.is_multicast() {
                prop_assert_eq!(class, AddrClass::Multicast);
            }
        }
    }
}

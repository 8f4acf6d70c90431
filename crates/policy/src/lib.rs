//! Diversity policy: which nodes enter discguard's curated view, which leave
//! it, which entries of sigp discv5's own table break the caps, and which
//! peers to hand to the consensus client.
//!
//! An eclipse attacker wins by making many nodes it controls look like many
//! independent peers. The policy caps how many entries one *network group*
//! (IPv4 /24 and /16, IPv6 /48 and /32, autonomous system: see
//! `discguard_netgroup`) may hold, per k-bucket and per table, and prefers
//! spreading over groups when a bucket is full. Caps follow the field:
//!
//! | source | grouping | per bucket | per table |
//! |---|---|---|---|
//! | discv5 spec rationale, geth `p2p/discover`, sigp discv5 `ip_limit`, Lighthouse | /24 | 2 | 10 |
//! | Bitcoin Core addrman | /16, /32 or ASN (`-asmap`) | (buckets by group, no count cap) | |
//! | go-libp2p kbucket `peerdiversity` | /16; IPv6 by ASN | 2 per common-prefix length | 3 |
//! | **discguard defaults** | /24 (/48) · /16 (/32) · ASN | 2 · 3 · 4 | 10 · 16 · 26 |
//!
//! Group-capping cannot push an attacker below its share of capped groups:
//! with per-group cap `c`, `g_A` attacker groups and honest groups of sizes
//! `h_g`, the attacker holds at most
//! `A_max = c·g_A / (c·g_A + Σ_honest min(h_g, c))` of a capped set
//! (design.md, "Goals in numbers"). Behaviour scores enter as each entry's
//! `rank`, which decides who is evicted when a cap binds.
//!
//! Entry points:
//!
//! - [`View`]: the curated view, a set-aware k-bucket table.
//!   [`View::decide`] says what admitting a node would do ([`Decision`]),
//!   [`View::insert`] does it; [`View::closest`] starts lookups.
//! - [`audit`]: which entries of another table (sigp discv5's) break the caps.
//! - [`select_diverse`]: the peers to serve, round-robin over ASN groups.
//! - [`PolicyConfig`]: the caps, loadable from TOML, with documented
//!   `DEFAULT_*` constants.
//!
//! The crate is pure: no I/O, no clock, no randomness that reaches an output
//! (hash-map order never decides anything); the same inputs give the same
//! decisions.
//!
//! ```
//! use discguard_netgroup::{GroupKind, NetGroups};
//! use discguard_policy::{Decision, PolicyConfig, RejectReason, View};
//!
//! let local = [0u8; 32];
//! let mut view: View<&str> = View::new(local, PolicyConfig::default()).unwrap();
//! let groups = NetGroups::prefixes_only("203.0.113.7".parse().unwrap());
//! // Node IDs at log-distance 256 from the local ID: bucket 255.
//! let id = |n: u8| {
//!     let mut id = [0u8; 32];
//!     id[0] = 0x80;
//!     id[31] = n;
//!     id
//! };
//! view.insert(id(1), groups, 0, "enr:a").unwrap();
//! view.insert(id(2), groups, 0, "enr:b").unwrap();
//! // A third node of the same /24 in the same bucket breaks the cap of 2...
//! assert_eq!(
//!     view.decide(&id(3), &groups, 0),
//!     Decision::Reject(RejectReason::BucketCap {
//!         bucket: 255,
//!         kind: GroupKind::Narrow,
//!         group: groups.narrow,
//!     })
//! );
//! // ...unless it outranks an entry of that /24, which then makes room.
//! let evicted = view.insert(id(3), groups, 1, "enr:c").unwrap().unwrap();
//! assert_eq!(evicted.entry.id, id(2)); // equal ranks: the younger goes
//! assert_eq!(view.len(), 2);
//! ```

mod audit;
mod config;
mod decision;
mod select;
mod view;

pub use audit::audit;
pub use config::{
    Caps, ConfigError, DEFAULT_BUCKET_ASN, DEFAULT_BUCKET_NARROW, DEFAULT_BUCKET_SIZE,
    DEFAULT_BUCKET_WIDE, DEFAULT_NOMINAL_TABLE_SIZE, DEFAULT_TABLE_ASN_SHARE, DEFAULT_TABLE_NARROW,
    DEFAULT_TABLE_WIDE_SHARE, MAX_BUCKET_SIZE, MAX_NODES_PER_BUCKET, MAX_NOMINAL_TABLE_SIZE,
    PolicyConfig,
};
pub use decision::{Decision, EvictReason, RejectReason};
pub use select::select_diverse;
pub use view::{Entry, Evicted, Rejected, View};

/// A discv5 node ID: 32 bytes, keccak256 of the uncompressed public key for
/// the `v4` identity scheme (EIP-778).
pub type NodeId = [u8; 32];

/// Number of k-buckets: one per log-distance `1..=256` (sigp discv5
/// `kbucket::NUM_BUCKETS`).
pub const BUCKET_COUNT: usize = 256;

/// The discv5 log-distance of two node IDs: the bit length of `a XOR b`,
/// `1..=256`; `None` when they are equal.
///
/// Source: discv5 wire spec, "Node Table": `logdistance(n₁, n₂) =
/// log2(distance(n₁, n₂))`, with the distance the XOR of the IDs read as a
/// big-endian integer.
///
/// ```
/// use discguard_policy::log_distance;
///
/// let a = [0u8; 32];
/// let mut b = [0u8; 32];
/// assert_eq!(log_distance(&a, &b), None);
/// b[31] = 1;
/// assert_eq!(log_distance(&a, &b), Some(1));
/// b[0] = 0x80;
/// assert_eq!(log_distance(&a, &b), Some(256));
/// ```
pub fn log_distance(a: &NodeId, b: &NodeId) -> Option<u16> {
    for chunk in 0..4 {
        let word = |id: &NodeId| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&id[chunk * 8..chunk * 8 + 8]);
            u64::from_be_bytes(bytes)
        };
        let x = word(a) ^ word(b);
        if x != 0 {
            return Some((256 - chunk * 64 - x.leading_zeros() as usize) as u16);
        }
    }
    None
}

/// The bucket of `id` in a table around `local`: `log_distance - 1`,
/// `0..=255`; `None` for `local` itself.
pub fn bucket_index(local: &NodeId, id: &NodeId) -> Option<usize> {
    log_distance(local, id).map(|d| usize::from(d) - 1)
}

/// `a XOR b`, which orders node IDs by Kademlia distance when compared as
/// byte arrays (big-endian).
pub fn xor_distance(a: &NodeId, b: &NodeId) -> NodeId {
    std::array::from_fn(|i| a[i] ^ b[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit length of `a XOR b`, bit by bit.
    fn slow_log_distance(a: &NodeId, b: &NodeId) -> Option<u16> {
        (0..256u16)
            .rev()
            .find(|&bit| {
                let byte = 31 - usize::from(bit / 8);
                (a[byte] ^ b[byte]) & (1 << (bit % 8)) != 0
            })
            .map(|bit| bit + 1)
    }

    #[test]
    fn log_distance_matches_bit_length() {
        let mut a = [0u8; 32];
        for (i, x) in a.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37) ^ 0x5a;
        }
        for bit in 0..256usize {
            let mut b = a;
            b[31 - bit / 8] ^= 1 << (bit % 8);
            assert_eq!(log_distance(&a, &b), Some(bit as u16 + 1));
            assert_eq!(log_distance(&a, &b), slow_log_distance(&a, &b));
            assert_eq!(bucket_index(&a, &b), Some(bit));
            // Lower bits do not change the distance.
            if bit > 0 {
                b[31] ^= 0x01;
                assert_eq!(log_distance(&a, &b), Some(bit as u16 + 1));
            }
        }
        assert_eq!(log_distance(&a, &a), None);
        assert_eq!(bucket_index(&a, &a), None);
        let mut far = a;
        far[0] ^= 0xff;
        assert_eq!(log_distance(&a, &far), Some(256));
    }
}

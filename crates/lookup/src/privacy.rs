//! What a FINDNODE tells the node it is sent to, and how to tell it less.
//!
//! A FINDNODE carries log-distances from the *recipient*, not the target
//! (discv5 wire spec, `discv5-wire.md` "FINDNODE Request"). A recipient `Q`
//! asked for `[d, …]` learns `logdist(Q, target) = d` if `d` is the true
//! distance; near the end of a lookup that names the target among a handful
//! of nodes (research.md, "Lookup privacy"). The modes here need no change
//! on other nodes: they only choose which distances to ask for, and for
//! which key.

use discguard_policy::{NodeId, log_distance};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Distances in one standard request: the true one and the ones above it,
/// as many as sigp discv5 (`DISTANCES_TO_REQUEST_PER_PEER = 3`) and geth
/// send.
pub const STANDARD_DISTANCES: usize = 3;
/// Fewest distances in a blurred request (research.md: 4–6).
pub const BLUR_MIN: usize = 4;
/// Most distances in a blurred request.
pub const BLUR_MAX: usize = 6;
/// Default anonymity target of `prefix` mode: the subtree the lookup names
/// holds k to 2k nodes (research.md: k ≈ 16–20; IPFS's prefix lookups,
/// IPIP-373). 20, the top of that range: an observer who learns the
/// subtree names the target with probability at most 1/20 = 0.05 (issue
/// 6's goal) even when N̂ overestimates the network a little.
pub const DEFAULT_PREFIX_K: u64 = 20;
/// Default number of dummy lookups in `cover` mode (research.md: 2–3).
pub const DEFAULT_COVER: usize = 2;

/// How a lookup hides its target from the nodes it asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privacy {
    /// Standard distances: the true distance, then its neighbours (`d`,
    /// `d+1`, `d−1`). Every recipient learns its exact distance to the
    /// target.
    Off,
    /// 4–6 consecutive distances around the true one, shuffled, with the
    /// true distance at a uniformly random position of the window. A
    /// recipient learns that its distance is one of 4–6 values.
    Blur,
    /// Look up a random key that shares only the target's top `p` bits,
    /// `p = ⌊log2(N̂ / k)⌋` ([`prefix_bits`]), then ask the nodes of that
    /// subtree for the subtree's top distances and pick the target locally.
    /// A recipient learns at most the prefix: about `k` nodes share it.
    Prefix {
        /// Nodes the subtree should hold (the anonymity set aimed at).
        k: u64,
        /// Estimated number of nodes in the network (N̂).
        network_size: u64,
    },
}

impl Privacy {
    /// The mode's name as the CLI and the API spell it.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Blur => "blur",
            Self::Prefix { .. } => "prefix",
        }
    }
}

/// The query mode of a [`PrivacySetting`]: which distances are asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrivacyMode {
    /// [`Privacy::Off`].
    #[default]
    Off,
    /// [`Privacy::Blur`].
    Blur,
    /// [`Privacy::Prefix`] (k and N̂ filled in when the lookup starts).
    Prefix,
}

/// A lookup's privacy as the CLI (`--lookup-privacy`) and the HTTP API
/// (`privacy=`) name it: `off`, `blur`, `prefix`, `cover` (= `off` with
/// cover), `blur+cover` or `prefix+cover`. With cover, dummy lookups for
/// targets drawn like the real one run alongside it, started together and
/// followed up alike, so an observer cannot tell which one is real.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivacySetting {
    /// Which distances the queries ask.
    pub mode: PrivacyMode,
    /// Whether dummy lookups cover the real one.
    pub cover: bool,
}

/// A privacy name that is none of the six.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown lookup privacy `{0}`: expected off, blur, prefix, cover, blur+cover or prefix+cover"
)]
pub struct UnknownPrivacy(pub String);

impl std::str::FromStr for PrivacySetting {
    type Err = UnknownPrivacy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (mode, cover) = match text {
            "off" => (PrivacyMode::Off, false),
            "blur" => (PrivacyMode::Blur, false),
            "prefix" => (PrivacyMode::Prefix, false),
            "cover" | "off+cover" => (PrivacyMode::Off, true),
            "blur+cover" => (PrivacyMode::Blur, true),
            "prefix+cover" => (PrivacyMode::Prefix, true),
            other => return Err(UnknownPrivacy(other.to_owned())),
        };
        Ok(Self { mode, cover })
    }
}

impl std::fmt::Display for PrivacySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match (self.mode, self.cover) {
            (PrivacyMode::Off, false) => "off",
            (PrivacyMode::Blur, false) => "blur",
            (PrivacyMode::Prefix, false) => "prefix",
            (PrivacyMode::Off, true) => "cover",
            (PrivacyMode::Blur, true) => "blur+cover",
            (PrivacyMode::Prefix, true) => "prefix+cover",
        };
        f.write_str(text)
    }
}

impl PrivacySetting {
    /// The [`Privacy`] of one lookup: `prefix` takes its anonymity target
    /// `k` and the estimated network size N̂.
    pub fn privacy(&self, k: u64, network_size: u64) -> Privacy {
        match self.mode {
            PrivacyMode::Off => Privacy::Off,
            PrivacyMode::Blur => Privacy::Blur,
            PrivacyMode::Prefix => Privacy::Prefix { k, network_size },
        }
    }
}

/// Bits of the target a `prefix` lookup reveals: `⌊log2(N̂ / k)⌋`, 0 when
/// the network is no larger than `k` (then the whole keyspace is the
/// subtree).
pub fn prefix_bits(network_size: u64, k: u64) -> u32 {
    let ratio = network_size / k.max(1);
    if ratio <= 1 { 0 } else { ratio.ilog2() }
}

/// A key sharing exactly the first `bits` bits of `target`, uniformly
/// random below them.
pub fn random_in_prefix(target: &NodeId, bits: u32, rng: &mut StdRng) -> NodeId {
    let mut key: NodeId = rng.random();
    let bits = bits.min(256) as usize;
    for (i, byte) in key.iter_mut().enumerate() {
        let from_target = bits.saturating_sub(i * 8).min(8);
        if from_target == 0 {
            break;
        }
        let mask = if from_target == 8 {
            0xff
        } else {
            !(0xffu8 >> from_target)
        };
        *byte = (target[i] & mask) | (*byte & !mask);
    }
    key
}

/// Length of the common prefix of two IDs, in bits (256 when equal).
pub fn common_prefix(a: &NodeId, b: &NodeId) -> u32 {
    log_distance(a, b).map_or(256, |d| 256 - u32::from(d))
}

/// The standard request to `peer` for `key`: the true distance `d` and the
/// two above it, `[d, d+1, d+2]`, cut at 256 (`[256]` at 256). Only bucket
/// `d` of the peer holds nodes nearer the key; sigp `discv5` answers the
/// asked distances in ascending order and stops at 16 records, so a
/// distance below `d` (sigp's and geth's own `[d, d+1, d−1]`) can fill the
/// answer with nodes no nearer than the peer. It tells the peer as much:
/// its exact distance.
pub fn standard(peer: &NodeId, key: &NodeId) -> Vec<u64> {
    let d = log_distance(peer, key).map_or(1, u64::from);
    (d..d + STANDARD_DISTANCES as u64)
        .filter(|&x| x <= 256)
        .collect()
}

/// A blurred request to `peer` for `key`: [`BLUR_MIN`]–[`BLUR_MAX`]
/// consecutive distances within 1..=256 holding the true one at a uniformly
/// random position (shifted inward at the ends of the range), shuffled.
pub fn blurred(peer: &NodeId, key: &NodeId, rng: &mut StdRng) -> Vec<u64> {
    let d = log_distance(peer, key).map_or(1, u64::from);
    let n = rng.random_range(BLUR_MIN..=BLUR_MAX) as u64;
    let below = rng.random_range(0..n);
    let lo = d.saturating_sub(below).max(1).min(256 - n + 1);
    let mut out: Vec<u64> = (lo..lo + n).collect();
    out.shuffle(rng);
    out
}

/// The request that enumerates a `bits`-bit subtree from one of its
/// members: the subtree's top [`STANDARD_DISTANCES`] distances, `256 − bits`
/// and below (they hold 7/8 of the subtree). The same for every target in
/// the subtree.
pub fn subtree(bits: u32) -> Vec<u64> {
    let top = u64::from(256 - bits.min(255));
    (0..STANDARD_DISTANCES as u64)
        .map(|i| top.saturating_sub(i))
        .filter(|&d| d >= 1)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn privacy_names_round_trip_and_bad_ones_are_named() {
        for name in [
            "off",
            "blur",
            "prefix",
            "cover",
            "blur+cover",
            "prefix+cover",
        ] {
            let p: PrivacySetting = name.parse().unwrap();
            assert_eq!(p.to_string(), name);
        }
        assert_eq!(
            "off+cover".parse::<PrivacySetting>().unwrap().to_string(),
            "cover"
        );
        let e = "secret".parse::<PrivacySetting>().unwrap_err();
        assert!(e.to_string().contains("`secret`"), "{e}");
    }

    use super::*;
    use rand::SeedableRng;

    fn id(first: u8) -> NodeId {
        let mut id = [0u8; 32];
        id[0] = first;
        id
    }

    #[test]
    fn standard_is_the_true_distance_then_the_ones_above() {
        let peer = [0u8; 32];
        assert_eq!(standard(&peer, &id(0x80)), vec![256]);
        assert_eq!(standard(&peer, &id(0x20)), vec![254, 255, 256]);
        let mut near = [0u8; 32];
        near[31] = 1;
        assert_eq!(standard(&peer, &near), vec![1, 2, 3]);
    }

    #[test]
    fn blur_holds_the_true_distance_among_four_to_six_distinct_ones() {
        let mut rng = StdRng::seed_from_u64(7);
        let peer = [0u8; 32];
        let mut positions = [0usize; BLUR_MAX];
        for _ in 0..2000 {
            let mut key: NodeId = rng.random();
            key[0] >>= rng.random_range(0..8);
            let d = u64::from(log_distance(&peer, &key).unwrap());
            let got = blurred(&peer, &key, &mut rng);
            assert!((BLUR_MIN..=BLUR_MAX).contains(&got.len()), "{got:?}");
            assert!(got.contains(&d));
            assert!(got.iter().all(|x| (1..=256).contains(x)));
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), got.len(), "distinct");
            assert_eq!(
                sorted.last().unwrap() - sorted[0],
                got.len() as u64 - 1,
                "consecutive"
            );
            positions[got.iter().position(|x| *x == d).unwrap()] += 1;
        }
        // Shuffled: the true distance is not always first.
        assert!(positions[0] < 1000, "{positions:?}");
    }

    #[test]
    fn prefix_bits_follow_the_network_size() {
        assert_eq!(prefix_bits(10_000, 16), 9); // 625 → 2^9 = 512
        assert_eq!(prefix_bits(16, 16), 0);
        assert_eq!(prefix_bits(5, 16), 0);
        assert_eq!(prefix_bits(1 << 20, 16), 16);
    }

    #[test]
    fn random_in_prefix_shares_exactly_the_prefix() {
        let mut rng = StdRng::seed_from_u64(3);
        for bits in [0, 1, 7, 8, 9, 13, 16, 255] {
            let target: NodeId = rng.random();
            for _ in 0..50 {
                let key = random_in_prefix(&target, bits, &mut rng);
                assert!(common_prefix(&key, &target) >= bits, "bits {bits}");
            }
        }
    }

    #[test]
    fn subtree_distances_depend_on_the_prefix_only() {
        assert_eq!(subtree(9), vec![247, 246, 245]);
        assert_eq!(subtree(0), vec![256, 255, 254]);
        assert_eq!(subtree(255), vec![1]);
    }
}

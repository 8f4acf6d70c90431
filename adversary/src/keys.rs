//! Node keys for the harness: drawn from a seeded generator (so `--seed`
//! repeats a run's node IDs), and mined, for the ID-mining attack, until the
//! node ID shares a chosen number of leading bits with a victim's.
//!
//! Mining is real work: each try is a secp256k1 key and a keccak-256 of its
//! public key (≈ 25–30 µs), so `bits` leading bits cost about 2^bits tries
//! per key. [`mine`] spreads the work over the machine's cores; each key's
//! search is seeded on its own, so the result does not depend on the number
//! of threads.

use enr::{CombinedKey, NodeId, k256};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// A secp256k1 secret key (32 bytes), cheap to copy and to turn into a
/// [`CombinedKey`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.node_id())
    }
}

impl SecretKey {
    /// Draws a valid key from `rng` (retrying the rare out-of-range scalar).
    pub fn random(rng: &mut StdRng) -> Self {
        loop {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            if k256::ecdsa::SigningKey::from_slice(&bytes).is_ok() {
                return Self(bytes);
            }
        }
    }

    /// The signing key.
    pub fn combined(&self) -> CombinedKey {
        CombinedKey::Secp256k1(
            k256::ecdsa::SigningKey::from_slice(&self.0).expect("checked when drawn"),
        )
    }

    /// The node ID: keccak-256 of the uncompressed public key.
    pub fn node_id(&self) -> NodeId {
        let key = k256::ecdsa::SigningKey::from_slice(&self.0).expect("checked when drawn");
        NodeId::from(*key.verifying_key())
    }

    /// The key as 64 hex characters (what `node.key` and `--key-hex` hold).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters; errors name what is wrong (length, digit,
    /// or a scalar outside the curve order).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|e| anyhow::anyhow!("not 64 hex digits: {e}"))?;
        k256::ecdsa::SigningKey::from_slice(&bytes)
            .map_err(|_| anyhow::anyhow!("not a valid secp256k1 secret key"))?;
        Ok(Self(bytes))
    }
}

/// Leading bits two node IDs share (256 when equal); discv5's log-distance
/// ([`discguard_policy::log_distance`]) is `256 - common_prefix_len`.
pub fn common_prefix_len(a: &NodeId, b: &NodeId) -> u32 {
    256 - u32::from(discguard_policy::log_distance(&a.raw(), &b.raw()).unwrap_or(0))
}

/// Mines `count` keys whose node IDs share at least `bits` leading bits with
/// `target`. Key `i` is searched from its own seed (`seed`, `i`), over
/// `threads` threads.
pub fn mine(target: &NodeId, bits: u32, count: usize, seed: u64, threads: usize) -> Vec<SecretKey> {
    let threads = threads.clamp(1, count.max(1));
    let mut out = vec![None; count];
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(count.div_ceil(threads).max(1)).enumerate() {
            let base = t * count.div_ceil(threads).max(1);
            s.spawn(move || {
                for (j, slot) in chunk.iter_mut().enumerate() {
                    let i = (base + j) as u64;
                    let mut rng =
                        StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    *slot = Some(loop {
                        let key = SecretKey::random(&mut rng);
                        if common_prefix_len(&key.node_id(), target) >= bits {
                            break key;
                        }
                    });
                }
            });
        }
    });
    out.into_iter()
        .map(|k| k.expect("every slot mined"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_keys_are_refused() {
        let k = SecretKey::random(&mut StdRng::seed_from_u64(9));
        assert_eq!(SecretKey::from_hex(&k.to_hex()).unwrap(), k);
        assert!(
            SecretKey::from_hex("abc")
                .unwrap_err()
                .to_string()
                .contains("hex")
        );
        let zero = "00".repeat(32);
        assert!(
            SecretKey::from_hex(&zero)
                .unwrap_err()
                .to_string()
                .contains("secp256k1")
        );
    }

    #[test]
    fn keys_repeat_with_the_seed_and_match_enr_node_ids() {
        let a = SecretKey::random(&mut StdRng::seed_from_u64(3));
        let b = SecretKey::random(&mut StdRng::seed_from_u64(3));
        assert_eq!(a, b);
        let enr = discv5::Enr::builder().build(&a.combined()).unwrap();
        assert_eq!(enr.node_id(), a.node_id());
        assert_eq!(a.to_hex().len(), 64);
    }

    #[test]
    fn prefix_and_distance() {
        let a = NodeId::new(&[0u8; 32]);
        let mut raw = [0u8; 32];
        raw[1] = 0b0010_0000;
        let b = NodeId::new(&raw);
        assert_eq!(common_prefix_len(&a, &b), 10);
        assert_eq!(common_prefix_len(&a, &a), 256);
    }

    #[test]
    fn mined_keys_share_the_prefix_and_do_not_depend_on_threads() {
        let target = SecretKey::random(&mut StdRng::seed_from_u64(9)).node_id();
        let one = mine(&target, 6, 5, 42, 1);
        let two = mine(&target, 6, 5, 42, 2);
        assert_eq!(one, two);
        for k in &one {
            assert!(common_prefix_len(&k.node_id(), &target) >= 6);
        }
        let distinct: std::collections::HashSet<_> = one.iter().map(|k| k.node_id()).collect();
        assert_eq!(distinct.len(), 5);
    }
}

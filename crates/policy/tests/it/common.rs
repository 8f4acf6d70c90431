//! Deterministic helpers shared by the tests.

use discguard_policy::NodeId;

/// SplitMix64: a small seeded generator, enough for test data.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A node ID at log-distance `distance` (1..=256) from `local`, with the bits
/// below the distance bit drawn from `seed`.
pub(crate) fn id_at(local: &NodeId, distance: u16, seed: u64) -> NodeId {
    let mut rng = SplitMix64(seed);
    let bit = usize::from(distance - 1);
    let mut id = *local;
    for (i, byte) in id.iter_mut().enumerate() {
        // Bit numbers held by this byte: (31 - i) * 8 ..= (31 - i) * 8 + 7.
        let low = (31 - i) * 8;
        if low + 8 <= bit {
            *byte = rng.next_u64() as u8;
        } else if low <= bit {
            let below = (1u16 << (bit - low)) as u8 - 1;
            *byte = (*byte & !below) | (rng.next_u64() as u8 & below);
            *byte ^= 1 << (bit - low);
        }
    }
    id
}

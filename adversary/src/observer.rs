//! What the nodes a lookup asks learn about its target: the observer model
//! of `query-observer`. Pure functions over transcripts; no I/O.
//!
//! A FINDNODE carries log-distances from the node asked, not the target
//! (discv5 wire spec, "FINDNODE Request"), so every node asked learns
//! something about the target. The harness gives a set of honest nodes —
//! the **observers** — the strongest realistic view of what they were
//! asked, and measures how well they could name the target:
//!
//! - an observer sees exactly the FINDNODE requests sent to it (its own
//!   sessions: requester, distances, time) — the transcript entries whose
//!   `peer` is one of its node IDs;
//! - observers pool what they saw and **link** the requests of one lookup
//!   (same `lookup` index: they share a requester and a time window), but
//!   cannot tell which of the `1 + cover` lookups of a request is the real
//!   one;
//! - they know the **mode** (the distance rule, the cover count, and in
//!   `prefix` mode the bits revealed, `p`) and the **list of node IDs** of
//!   the network (the harness's ground truth: every honest node and every
//!   victim).
//!
//! For each linked group g the candidate set C_g holds the known IDs x
//! consistent with every observation (o, D) of the group, under the mode's
//! distance rule ([`DistanceModel`]); if no x is consistent with all, those
//! consistent with the most. A group nobody saw (a cover lookup included)
//! has C_g = every known ID. The posterior over the target is
//! `p(x) = Σ_g (1/G)·[x ∈ C_g]/|C_g|`, G = 1 + cover; the observers name
//! the `argmax` (ties split evenly). [`exposure`] returns the probability
//! they name the target, the anonymity set |supp p|, its bits, and the
//! normalised entropy H(p) / log2 N.
//!
//! With a uniform prior over the known IDs this is the Bayes posterior:
//! each rule below gives every consistent x the same likelihood (`off`: 1;
//! `blur`: the window's length and position are drawn independently of x,
//! edge effects aside; `prefix`: the queries depend on the target only
//! through its p-bit subtree), so within a group the consistent IDs are
//! equally likely.

use std::collections::{HashMap, HashSet};

use discguard_policy::log_distance;
use discguard_service::api::{QueryRecord, parse_node_id};
use serde::{Deserialize, Serialize};

/// A node ID, 32 bytes (discv5's).
pub type NodeId = [u8; 32];

/// Most lookups one request may link (the real one and its cover lookups):
/// the service caps cover at 4; anything above is not a transcript of it.
pub const MAX_GROUPS: usize = 16;

/// The distance a lookup engine computes from `peer` to `key`: the
/// log-distance, and 1 when they are equal (discguard-lookup's
/// `privacy::standard` and `blurred` map "no distance" to 1, so a node asked
/// about itself is asked for `[1, 2, 3]`).
pub fn engine_distance(peer: &NodeId, key: &NodeId) -> u64 {
    log_distance(peer, key).map_or(1, u64::from)
}

/// Leading bits two IDs share (256 when equal).
pub fn common_prefix(a: &NodeId, b: &NodeId) -> u32 {
    log_distance(a, b).map_or(256, |d| 256 - u32::from(d))
}

/// How the lookups of a mode choose their distances, as the observers know
/// it (crates/lookup/src/privacy.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistanceModel {
    /// `off` (and `cover`): `[d, d+1, d+2]` cut at 256, the true distance
    /// d first (`privacy::standard`; sigp's own `[d, d+1, d−1]` also puts
    /// it first). x is consistent with (o, D) iff `dist(o, x) = D[0]`.
    Standard,
    /// `blur`: 4–6 consecutive distances, shuffled, one of them the true
    /// one (`privacy::blurred`). x is consistent iff `dist(o, x) ∈ D`.
    Blurred,
    /// `prefix`: the search asks standard distances towards a random key
    /// sharing the target's top `bits` bits, then the subtree's members are
    /// asked for the subtree's top distances (`privacy::subtree`). Only the
    /// target's p-bit subtree S matters: for an observer o outside S every
    /// key in S is at the same distance `256 − cpl(o, S)`; for o inside S
    /// the distance to the key is at most `256 − p`. So x is consistent iff
    /// (`cpl(o, x) < p` and `D[0] = 256 − cpl(o, x)`) or (`cpl(o, x) ≥ p`
    /// and `D[0] ≤ 256 − p`): a whole subtree is consistent or none of it,
    /// and the target's is always consistent.
    Prefix {
        /// Leading bits of the target revealed (p, the engine summary's
        /// `revealed_bits`).
        bits: u32,
    },
}

impl DistanceModel {
    /// The model of a lookup from its engine summary: `privacy` (`off`,
    /// `blur`, `prefix`) and `revealed_bits`.
    ///
    /// # Errors
    ///
    /// A privacy mode this model does not know.
    pub fn from_summary(privacy: &str, revealed_bits: u32) -> Result<Self, UnknownPrivacy> {
        match privacy {
            "off" => Ok(Self::Standard),
            "blur" => Ok(Self::Blurred),
            "prefix" => Ok(Self::Prefix {
                bits: revealed_bits.min(256),
            }),
            other => Err(UnknownPrivacy(other.to_string())),
        }
    }

    /// Whether target `x` is consistent with `observer` having been asked
    /// for `distances`. An empty request says nothing: consistent.
    pub fn consistent(&self, observer: &NodeId, distances: &[u64], x: &NodeId) -> bool {
        let Some(&first) = distances.first() else {
            return true;
        };
        match *self {
            Self::Standard => engine_distance(observer, x) == first,
            Self::Blurred => distances.contains(&engine_distance(observer, x)),
            Self::Prefix { bits } => {
                let cpl = common_prefix(observer, x);
                if cpl >= bits {
                    first <= u64::from(256 - bits)
                } else {
                    first == u64::from(256 - cpl)
                }
            }
        }
    }
}

/// A privacy mode the observer model does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("privacy mode {0:?} is not off, blur or prefix")]
pub struct UnknownPrivacy(pub String);

/// A transcript the observer model cannot take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TranscriptError {
    /// A record names a lookup beyond the real one and its cover lookups.
    #[error("a FINDNODE of lookup {lookup} where the request ran {groups} (1 + cover)")]
    StrayLookup {
        /// The record's `lookup` index.
        lookup: usize,
        /// 1 + cover.
        groups: usize,
    },
    /// More linked lookups than [`MAX_GROUPS`].
    #[error("{0} lookups in one request; at most {MAX_GROUPS}")]
    TooManyGroups(usize),
    /// A record's `peer` is not 64 hex digits.
    #[error("a FINDNODE to {0:?}, not a 64-hex-digit node ID")]
    BadPeer(String),
}

/// One FINDNODE an observer was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The observer asked.
    pub observer: NodeId,
    /// The log-distances it was asked for, in the order sent.
    pub distances: Vec<u64>,
}

/// What the observers saw of one request: `groups` lookups (0 the real one,
/// 1.. cover), each the FINDNODE requests sent to an observer, in order.
///
/// # Errors
///
/// A record of a lookup index ≥ `groups`, a peer that is not a node ID, or
/// more than [`MAX_GROUPS`] groups.
pub fn observed(
    transcript: &[QueryRecord],
    observers: &HashSet<NodeId>,
    groups: usize,
) -> Result<Vec<Vec<Observation>>, TranscriptError> {
    if groups > MAX_GROUPS {
        return Err(TranscriptError::TooManyGroups(groups));
    }
    let mut out = vec![Vec::new(); groups.max(1)];
    for r in transcript {
        if r.lookup >= out.len() {
            return Err(TranscriptError::StrayLookup {
                lookup: r.lookup,
                groups: out.len(),
            });
        }
        let peer = parse_node_id(&r.peer)
            .ok_or_else(|| TranscriptError::BadPeer(r.peer.chars().take(80).collect()))?
            .raw();
        if observers.contains(&peer) {
            out[r.lookup].push(Observation {
                observer: peer,
                distances: r.distances.clone(),
            });
        }
    }
    Ok(out)
}

/// The node IDs the observers know (every node of the network).
#[derive(Clone, Debug, Default)]
pub struct Known {
    ids: Vec<NodeId>,
    index: HashMap<NodeId, usize>,
}

impl Known {
    /// From a list; duplicates count once.
    pub fn new(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut k = Self::default();
        for id in ids {
            if !k.index.contains_key(&id) {
                k.index.insert(id, k.ids.len());
                k.ids.push(id);
            }
        }
        k
    }

    /// How many (N).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Known IDs sharing at least `bits` leading bits with `id` (its
    /// `bits`-bit subtree), `id` itself included if known.
    pub fn subtree_of(&self, id: &NodeId, bits: u32) -> usize {
        self.ids
            .iter()
            .filter(|x| common_prefix(x, id) >= bits)
            .count()
    }
}

/// C_g: indices of the known IDs consistent with every observation of a
/// group under `model`; if none is, those consistent with the most. Every
/// known ID when the group was not observed.
pub fn candidates(known: &Known, model: DistanceModel, group: &[Observation]) -> Vec<usize> {
    let scores: Vec<usize> = known
        .ids
        .iter()
        .map(|x| {
            group
                .iter()
                .filter(|o| model.consistent(&o.observer, &o.distances, x))
                .count()
        })
        .collect();
    let best = scores.iter().copied().max().unwrap_or(0);
    (0..known.len()).filter(|&i| scores[i] == best).collect()
}

/// How exposed one lookup's target was to one set of observers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Probability the observers name the target: 1/|argmax p| when the
    /// target is in the argmax set, else 0.
    pub naming_probability: f64,
    /// |supp p|: the known IDs the target could be.
    pub anonymity_set: usize,
    /// log2 of the anonymity set.
    pub bits: f64,
    /// H(p) / log2 N (1 = the observers learned nothing; 0 = named).
    pub normalised_entropy: f64,
    /// Lookups of the request (real and cover) some observer was sent a
    /// FINDNODE of.
    pub groups_seen: usize,
    /// Whether some observer was sent a FINDNODE of the real lookup.
    pub real_seen: bool,
    /// |C_0|: candidates of the real lookup's group.
    pub real_candidates: usize,
    /// Whether the target is in C_0 (always, unless an observation
    /// contradicts the mode's rule).
    pub real_holds_target: bool,
    /// `prefix` only: whether C_0 holds every known ID of the target's
    /// p-bit subtree (the observers learned no more than the subtree).
    pub real_holds_subtree: Option<bool>,
}

/// Relative tolerance when comparing posterior values for the argmax.
const TIE: f64 = 1e-12;

/// The observers' posterior over the target of one request and how it
/// names `target`. `groups[g]` is what they saw of lookup g (0 real,
/// 1.. cover; [`observed`]); G = `groups.len()`.
pub fn exposure(
    known: &Known,
    target: &NodeId,
    model: DistanceModel,
    groups: &[Vec<Observation>],
) -> Exposure {
    let n = known.len();
    if n == 0 || groups.is_empty() {
        return Exposure::default();
    }
    let g = groups.len() as f64;
    let mut p = vec![0.0f64; n];
    let mut real = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let c = candidates(known, model, group);
        let w = 1.0 / (g * c.len().max(1) as f64);
        for &x in &c {
            p[x] += w;
        }
        if i == 0 {
            real = c;
        }
    }
    let max = p.iter().copied().fold(0.0, f64::max);
    let argmax: Vec<usize> = (0..n).filter(|&i| p[i] >= max * (1.0 - TIE)).collect();
    let t = known.index.get(target).copied();
    let naming_probability = match t {
        Some(t) if argmax.contains(&t) => 1.0 / argmax.len() as f64,
        _ => 0.0,
    };
    let support = p.iter().filter(|&&x| x > 0.0).count();
    let h: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.log2()).sum();
    let real_set: HashSet<usize> = real.iter().copied().collect();
    let real_holds_subtree = match model {
        DistanceModel::Prefix { bits } => Some(
            known
                .ids
                .iter()
                .enumerate()
                .filter(|(_, x)| common_prefix(x, target) >= bits)
                .all(|(i, _)| real_set.contains(&i)),
        ),
        _ => None,
    };
    Exposure {
        naming_probability,
        anonymity_set: support,
        bits: (support.max(1) as f64).log2(),
        normalised_entropy: if n > 1 { h / (n as f64).log2() } else { 0.0 },
        groups_seen: groups.iter().filter(|o| !o.is_empty()).count(),
        real_seen: !groups[0].is_empty(),
        real_candidates: real.len(),
        real_holds_target: t.is_some_and(|t| real_set.contains(&t)),
        real_holds_subtree,
    }
}

/// Means of [`Exposure`]s over lookups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExposureMeans {
    /// Lookups averaged over.
    pub lookups: usize,
    /// Mean probability the observers name the target.
    pub naming_probability: f64,
    /// Mean anonymity set.
    pub anonymity_set: f64,
    /// Mean bits of the anonymity set.
    pub bits: f64,
    /// Mean normalised entropy.
    pub normalised_entropy: f64,
    /// Share of lookups whose real lookup some observer saw.
    pub seen_share: f64,
}

impl ExposureMeans {
    /// The means of `xs` (all 0 when empty).
    pub fn of<'a>(xs: impl IntoIterator<Item = &'a Exposure>) -> Self {
        let mut m = Self::default();
        for x in xs {
            m.lookups += 1;
            m.naming_probability += x.naming_probability;
            m.anonymity_set += x.anonymity_set as f64;
            m.bits += x.bits;
            m.normalised_entropy += x.normalised_entropy;
            m.seen_share += f64::from(u8::from(x.real_seen));
        }
        if m.lookups > 0 {
            let n = m.lookups as f64;
            m.naming_probability /= n;
            m.anonymity_set /= n;
            m.bits /= n;
            m.normalised_entropy /= n;
            m.seen_share /= n;
        }
        m
    }
}

/// The first `round(f · len)` of `order`: the observer set for fraction f
/// (the sets of a sweep are nested when `order` is one seeded shuffle).
pub fn first_fraction(order: &[NodeId], f: f64) -> HashSet<NodeId> {
    let n = ((f * order.len() as f64).round() as usize).min(order.len());
    order[..n].iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ID whose first byte is `first` and last byte `last`, zero between.
    fn id(first: u8, last: u8) -> NodeId {
        let mut x = [0u8; 32];
        x[0] = first;
        x[31] = last;
        x
    }

    fn hex(x: &NodeId) -> String {
        hex::encode(x)
    }

    fn rec(lookup: usize, peer: &NodeId, distances: &[u64]) -> QueryRecord {
        QueryRecord {
            lookup,
            peer: hex(peer),
            distances: distances.to_vec(),
            at_ms: 0,
        }
    }

    /// The standard request of discguard-lookup (`privacy::standard`),
    /// restated: [d, d+1, d+2] cut at 256.
    fn standard(peer: &NodeId, key: &NodeId) -> Vec<u64> {
        let d = engine_distance(peer, key);
        (d..d + 3).filter(|&x| x <= 256).collect()
    }

    /// Sixteen IDs, one per value of the top nibble (so every pair differs
    /// in the top four bits), and the target among them.
    fn network() -> (Known, Vec<NodeId>) {
        let ids: Vec<NodeId> = (0..16u8).map(|i| id(i << 4, i)).collect();
        (Known::new(ids.clone()), ids)
    }

    #[test]
    fn distances_follow_the_engine_convention() {
        let a = id(0, 0);
        assert_eq!(engine_distance(&a, &a), 1, "a node asked about itself");
        assert_eq!(engine_distance(&a, &id(0x80, 0)), 256);
        assert_eq!(engine_distance(&a, &id(0, 1)), 1);
        assert_eq!(common_prefix(&a, &a), 256);
        assert_eq!(common_prefix(&a, &id(0x10, 0)), 3);
        assert_eq!(standard(&a, &id(0x20, 0)), vec![254, 255, 256]);
        assert_eq!(standard(&a, &id(0x80, 0)), vec![256]);
    }

    #[test]
    fn off_names_the_target_from_two_exact_distances() {
        let (known, ids) = network();
        let target = ids[5]; // 0x50…
        // Observer 0x00 learns distance 255 (top bit 0, second bit 1): the
        // targets 0x4_, 0x5_, 0x6_, 0x7_. Observer 0x40 learns 253: 0x5_.
        let seen = [ids[0], ids[4]];
        let transcript: Vec<QueryRecord> = seen
            .iter()
            .map(|o| rec(0, o, &standard(o, &target)))
            .collect();
        let observers: HashSet<NodeId> = seen.into_iter().collect();
        let groups = observed(&transcript, &observers, 1).unwrap();
        let c = candidates(&known, DistanceModel::Standard, &groups[0]);
        assert_eq!(c, vec![5]);
        let e = exposure(&known, &target, DistanceModel::Standard, &groups);
        assert_eq!(e.naming_probability, 1.0);
        assert_eq!(
            (e.anonymity_set, e.bits, e.normalised_entropy),
            (1, 0.0, 0.0)
        );
        assert!(e.real_seen && e.real_holds_target && e.real_holds_subtree.is_none());
        // One observer alone: four candidates.
        let one: HashSet<NodeId> = [ids[0]].into_iter().collect();
        let e = exposure(
            &known,
            &target,
            DistanceModel::Standard,
            &observed(&transcript, &one, 1).unwrap(),
        );
        assert_eq!((e.anonymity_set, e.naming_probability), (4, 0.25));
        assert!(
            (e.normalised_entropy - 0.5).abs() < 1e-12,
            "log2 4 / log2 16"
        );
    }

    #[test]
    fn unseen_lookups_leave_every_id_possible() {
        let (known, ids) = network();
        let transcript = vec![rec(0, &ids[0], &standard(&ids[0], &ids[5]))];
        let e = exposure(
            &known,
            &ids[5],
            DistanceModel::Standard,
            &observed(&transcript, &HashSet::new(), 1).unwrap(),
        );
        assert_eq!(e.anonymity_set, 16);
        assert_eq!(e.naming_probability, 1.0 / 16.0);
        assert!((e.normalised_entropy - 1.0).abs() < 1e-12);
        assert!(!e.real_seen && e.groups_seen == 0);
    }

    #[test]
    fn blur_keeps_every_id_at_any_asked_distance() {
        let (known, ids) = network();
        let target = ids[5];
        // 0x00 asked for 253..=256: consistent with everything at 253–256
        // from it, i.e. the top nibble ≥ 1: fifteen IDs.
        let transcript = vec![rec(0, &ids[0], &[255, 253, 256, 254])];
        let observers: HashSet<NodeId> = [ids[0]].into_iter().collect();
        let e = exposure(
            &known,
            &target,
            DistanceModel::Blurred,
            &observed(&transcript, &observers, 1).unwrap(),
        );
        assert_eq!(e.anonymity_set, 15);
        assert!(e.real_holds_target);
        // The same request read as `off` would pin distance 255.
        let c = candidates(
            &known,
            DistanceModel::Standard,
            &observed(&transcript, &observers, 1).unwrap()[0],
        );
        assert_eq!(c, vec![4, 5, 6, 7]);
    }

    #[test]
    fn cover_lookups_split_the_posterior() {
        let (known, ids) = network();
        let target = ids[5];
        let decoy = ids[12];
        // Both lookups fully pinned by two observers each.
        let transcript = vec![
            rec(0, &ids[0], &standard(&ids[0], &target)),
            rec(0, &ids[4], &standard(&ids[4], &target)),
            rec(1, &ids[0], &standard(&ids[0], &decoy)),
            rec(1, &ids[13], &standard(&ids[13], &decoy)),
        ];
        let observers: HashSet<NodeId> = [ids[0], ids[4], ids[13]].into_iter().collect();
        // cover = 2: a third lookup nobody saw spreads its 1/3 over all 16.
        let groups = observed(&transcript, &observers, 3).unwrap();
        let e = exposure(&known, &target, DistanceModel::Standard, &groups);
        assert_eq!(e.groups_seen, 2);
        assert_eq!(e.anonymity_set, 16);
        // Target and decoy tie at 1/3 + 1/48: named with probability 1/2.
        assert_eq!(e.naming_probability, 0.5);
        // With cover = 1 and both seen, the same: a coin flip.
        let groups = observed(&transcript, &observers, 2).unwrap();
        let e = exposure(&known, &target, DistanceModel::Standard, &groups);
        assert_eq!((e.anonymity_set, e.naming_probability), (2, 0.5));
        assert!((e.bits - 1.0).abs() < 1e-12);
    }

    #[test]
    fn contradictions_fall_back_to_the_most_consistent() {
        let (known, ids) = network();
        // A cover lookup for a key no node holds: 0x00 says 256 (top bit
        // 1), 0x80 says 256 too (top bit 0). No ID fits both; each of the
        // sixteen fits one.
        let transcript = vec![rec(0, &ids[0], &[256, 255]), rec(0, &ids[8], &[256, 255])];
        let observers: HashSet<NodeId> = [ids[0], ids[8]].into_iter().collect();
        let g = observed(&transcript, &observers, 1).unwrap();
        let c = candidates(&known, DistanceModel::Standard, &g[0]);
        assert_eq!(c.len(), 16);
        // A third observation tips it: 0x40 says 255 (top bits 00), so
        // 0x0_–0x3_ fit two of the three (0x80's and 0x40's), the rest one.
        let mut t2 = transcript.clone();
        t2.push(rec(0, &ids[4], &[255, 256, 254]));
        let observers: HashSet<NodeId> = [ids[0], ids[4], ids[8]].into_iter().collect();
        let g = observed(&t2, &observers, 1).unwrap();
        let c = candidates(&known, DistanceModel::Standard, &g[0]);
        assert_eq!(c, vec![0, 1, 2, 3]);
    }

    #[test]
    fn prefix_reveals_the_subtree_and_no_more() {
        // 64 IDs: top two bits select the subtree (p = 2), sixteen in each.
        let ids: Vec<NodeId> = (0..64u8).map(|i| id(i << 2, i)).collect();
        let known = Known::new(ids.clone());
        let target = ids[21]; // 0x54: subtree 01
        let model = DistanceModel::Prefix { bits: 2 };
        // The random key of the search: another member of subtree 01.
        let key = id(0x7c, 0xff);
        assert_eq!(common_prefix(&key, &target), 2);
        let outside = ids[0]; // 0x00: subtree 00
        let inside = ids[17]; // 0x44: subtree 01
        let transcript = vec![
            rec(0, &outside, &standard(&outside, &key)),
            rec(0, &inside, &standard(&inside, &key)),
            // Enumeration: the subtree's top distances (privacy::subtree(2)).
            rec(0, &ids[30], &[254, 253, 252]),
        ];
        let observers: HashSet<NodeId> = [outside, inside, ids[30]].into_iter().collect();
        let groups = observed(&transcript, &observers, 1).unwrap();
        let e = exposure(&known, &target, model, &groups);
        assert_eq!(known.subtree_of(&target, 2), 16);
        assert_eq!(e.real_candidates, 16, "exactly the subtree");
        assert_eq!(e.real_holds_subtree, Some(true));
        assert_eq!(e.anonymity_set, 16);
        assert_eq!(e.naming_probability, 1.0 / 16.0);
        // The observer outside alone: distance 255 from 0x00 means top bits
        // 01, subtree 01 exactly.
        let one: HashSet<NodeId> = [outside].into_iter().collect();
        let e = exposure(
            &known,
            &target,
            model,
            &observed(&transcript, &one, 1).unwrap(),
        );
        assert_eq!(e.real_candidates, 16);
        // An observer far away (top bit differs) learns only "top bit 0":
        // subtrees 00 and 01.
        let far = ids[40]; // 0xa0
        let t = vec![rec(0, &far, &standard(&far, &key))];
        let one: HashSet<NodeId> = [far].into_iter().collect();
        let e = exposure(&known, &target, model, &observed(&t, &one, 1).unwrap());
        assert_eq!(e.real_candidates, 32);
        assert_eq!(e.real_holds_subtree, Some(true));
        assert_eq!(e.naming_probability, 1.0 / 32.0);
    }

    #[test]
    fn prefix_is_consistent_with_the_target_subtree_for_any_key() {
        // Property over seeded random networks, targets and keys: whatever
        // the observers see, the target's subtree stays whole in C_0.
        use rand::rngs::StdRng;
        use rand::{RngExt as _, SeedableRng as _};
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..50 {
            let ids: Vec<NodeId> = (0..200).map(|_| rng.random()).collect();
            let known = Known::new(ids.clone());
            let target = ids[rng.random_range(0..ids.len())];
            let bits = rng.random_range(0..6u32);
            // A key in the subtree: the target's top `bits` bits, random below.
            let mut key: NodeId = rng.random();
            for b in 0..bits as usize {
                let mask = 0x80u8 >> (b % 8);
                key[b / 8] = (key[b / 8] & !mask) | (target[b / 8] & mask);
            }
            let transcript: Vec<QueryRecord> = ids
                .iter()
                .take(60)
                .map(|o| rec(0, o, &standard(o, &key)))
                .collect();
            let observers: HashSet<NodeId> = ids.iter().take(60).copied().collect();
            let g = observed(&transcript, &observers, 1).unwrap();
            let e = exposure(&known, &target, DistanceModel::Prefix { bits }, &g);
            assert_eq!(e.real_holds_subtree, Some(true));
            assert!(e.anonymity_set >= known.subtree_of(&target, bits));
            assert!(e.real_holds_target);
        }
    }

    #[test]
    fn bad_transcripts_are_refused() {
        let (_, ids) = network();
        let all: HashSet<NodeId> = ids.iter().copied().collect();
        let stray = vec![rec(3, &ids[0], &[1])];
        assert_eq!(
            observed(&stray, &all, 3),
            Err(TranscriptError::StrayLookup {
                lookup: 3,
                groups: 3
            })
        );
        let bad = vec![QueryRecord {
            lookup: 0,
            peer: "zz".into(),
            distances: vec![1],
            at_ms: 0,
        }];
        assert!(matches!(
            observed(&bad, &all, 1),
            Err(TranscriptError::BadPeer(_))
        ));
        assert!(observed(&[], &all, MAX_GROUPS + 1).is_err());
        assert_eq!(
            DistanceModel::from_summary("prefix", 9),
            Ok(DistanceModel::Prefix { bits: 9 })
        );
        assert!(DistanceModel::from_summary("cover", 256).is_err());
    }

    #[test]
    fn observer_sets_are_nested_prefixes_of_one_order() {
        let (_, ids) = network();
        let small = first_fraction(&ids, 0.1);
        let large = first_fraction(&ids, 0.5);
        assert_eq!((small.len(), large.len()), (2, 8));
        assert!(small.is_subset(&large));
        assert_eq!(first_fraction(&ids, 1.0).len(), 16);
        assert!(first_fraction(&ids, 0.0).is_empty());
    }

    #[test]
    fn means_average_each_field() {
        let a = Exposure {
            naming_probability: 1.0,
            anonymity_set: 1,
            real_seen: true,
            ..Exposure::default()
        };
        let b = Exposure {
            anonymity_set: 3,
            bits: 2.0,
            ..Exposure::default()
        };
        let m = ExposureMeans::of([&a, &b]);
        assert_eq!(m.lookups, 2);
        assert_eq!((m.naming_probability, m.anonymity_set), (0.5, 2.0));
        assert_eq!((m.bits, m.seen_share), (1.0, 0.5));
        assert_eq!(ExposureMeans::of([]).lookups, 0);
    }
}

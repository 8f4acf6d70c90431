//! The curated view: a set-aware k-bucket table.

use std::cmp::Reverse;
use std::collections::HashMap;

use discguard_netgroup::{GroupKind, NetGroup, NetGroups};

use crate::config::{Caps, ConfigError, MAX_BUCKET_SIZE, PolicyConfig, kind_index};
use crate::decision::{Decision, EvictReason, RejectReason};
use crate::{BUCKET_COUNT, NodeId, bucket_index, xor_distance};

/// One node in a [`View`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<T> {
    /// The node ID (keccak256 of the public key for the `v4` identity scheme).
    pub id: NodeId,
    /// The node's network groups, from its ENR's IP address.
    pub groups: NetGroups,
    /// Keep priority, higher is better (a behaviour score). An entry is only
    /// ever evicted for a candidate of *strictly* higher rank.
    pub rank: i64,
    /// What the caller keeps with the node (the service keeps its ENR).
    pub payload: T,
    /// Admission order in the view: lower is older.
    seq: u64,
}

impl<T> Entry<T> {
    /// An entry outside any view (admission order 0), e.g. to feed
    /// [`select_diverse`](crate::select_diverse).
    pub const fn new(id: NodeId, groups: NetGroups, rank: i64, payload: T) -> Self {
        Self {
            id,
            groups,
            rank,
            payload,
            seq: 0,
        }
    }

    /// Admission order in the view that holds the entry: lower is older.
    /// Ties in rank go to the older entry.
    pub const fn seq(&self) -> u64 {
        self.seq
    }

    /// Sort key of keep priority, smallest first = first to go: lower rank,
    /// then younger.
    fn worst_key(&self) -> (i64, Reverse<u64>) {
        (self.rank, Reverse(self.seq))
    }
}

/// An entry [`View::insert`] removed to make room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted<T> {
    /// The removed entry.
    pub entry: Entry<T>,
    /// Why it was removed.
    pub reason: EvictReason,
}

/// A candidate [`View::insert`] did not admit, with its payload handed back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not admitted: {reason}")]
pub struct Rejected<T> {
    /// Why.
    pub reason: RejectReason,
    /// The payload the caller passed in.
    pub payload: T,
}

/// Which caps a candidate breaks: bit `i` is the bucket cap and bit `3 + i` the
/// table cap of kind `GroupKind::ALL[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Broken(u8);

impl Broken {
    /// Compares the counts of the candidate's groups (before admission) with
    /// the caps.
    pub(crate) fn check(caps: &Caps, in_bucket: [usize; 3], in_table: [usize; 3]) -> Self {
        let mut bits = 0;
        for (i, kind) in GroupKind::ALL.into_iter().enumerate() {
            if in_bucket[i] >= caps.bucket(kind) {
                bits |= 1 << i;
            }
            if in_table[i] >= caps.table(kind) {
                bits |= 1 << (3 + i);
            }
        }
        Self(bits)
    }

    /// Whether some bucket cap is broken.
    const fn any_bucket(self) -> bool {
        self.0 & 0b111 != 0
    }

    /// Whether some cap of kind index `i` is broken.
    const fn kind(self, i: usize) -> bool {
        self.0 & (1 << i | 1 << (3 + i)) != 0
    }

    /// The first broken cap: bucket caps before table caps, narrow first.
    pub(crate) fn first(self, bucket: usize, groups: &NetGroups) -> Option<RejectReason> {
        let bit = self.0.trailing_zeros() as usize;
        if bit < 3 {
            let kind = GroupKind::ALL[bit];
            Some(RejectReason::BucketCap {
                bucket,
                kind,
                group: groups.get(kind),
            })
        } else if bit < 6 {
            let kind = GroupKind::ALL[bit - 3];
            Some(RejectReason::TableCap {
                kind,
                group: groups.get(kind),
            })
        } else {
            None
        }
    }
}

/// A set-aware k-bucket table: 256 buckets by log-distance from the local node
/// ID (sigp discv5 numbering, bucket `i` holds log-distance `i + 1`), each
/// holding at most k entries, with caps per network group per bucket and per
/// table (see [`PolicyConfig`]).
///
/// # Admission ([`View::decide`])
///
/// In this order:
///
/// 1. the local ID → [`RejectReason::SelfId`]; an ID already present →
///    [`RejectReason::AlreadyPresent`];
/// 2. the candidate *breaks* a cap when its group of some kind already has
///    the cap's number of entries in the bucket (bucket cap) or in the table
///    (table cap). No cap broken and the bucket below k → [`Decision::Admit`];
/// 3. **cap eviction** — some cap broken: the eligible entries are those that
///    share *every* group whose cap the candidate breaks and, when a bucket
///    cap is broken or the bucket is full, also the bucket. The worst of them
///    (lowest rank; among equal ranks the youngest) is evicted if the
///    candidate's rank is strictly higher ([`EvictReason::BucketCap`] or
///    [`EvictReason::TableCap`] naming the first broken cap); otherwise
///    [`Decision::Reject`] with the first broken cap (bucket caps before table
///    caps, narrow before wide before ASN). Swapping within the shared groups
///    leaves every broken count where it was, so one eviction always
///    suffices;
/// 4. **diversity eviction** — no cap broken but the bucket is full: let `c`
///    be the number of entries of the candidate's ASN group in the bucket and
///    `G` the bucket's largest ASN group, with `m` entries (ties: the group
///    whose worst entry ranks lowest, then the smallest group key). If
///    `m ≥ c + 2` and the candidate outranks `G`'s worst entry, that entry is
///    evicted ([`EvictReason::Diversity`]): the swap turns group sizes
///    `(m, c)` into `(m − 1, c + 1)`, which strictly lowers the sum of squared
///    group sizes (strictly raises diversity), so repeated swaps cannot cycle;
/// 5. **score eviction** — no cap broken, the bucket full, no diversity swap:
///    the bucket's worst entry (lowest rank, among equal ranks the youngest)
///    is evicted if the candidate outranks it ([`EvictReason::Score`]): with
///    behaviour scores as ranks, the worst-scored entry goes first.
///    Otherwise [`RejectReason::BucketFull`].
///
/// An eviction removes exactly one entry, of strictly lower rank than the
/// candidate, and only when the candidate could not get in otherwise; equal
/// ranks never evict, so older entries win ties (the discv5 spec rationale
/// favours long-lived entries). Without an ASN database the ASN group is the
/// wide prefix, and the rules above apply to it unchanged.
///
/// # Cost and bounds
///
/// At most `256 × k` entries. [`View::decide`] does not allocate: it scans the
/// candidate's bucket once (at most k entries; for a full bucket once more,
/// tallying its ASN groups on the stack), looks up three table counts in a
/// hash map, and for a table-cap eviction scans the members of one capped
/// group (at most its cap). Lookups by ID go through the ID's bucket: the
/// log-distance is the index.
#[derive(Clone, Debug)]
pub struct View<T> {
    local_id: NodeId,
    config: PolicyConfig,
    caps: Caps,
    /// Dense storage; buckets and groups hold indices into it.
    entries: Vec<Entry<T>>,
    /// The groups of `entries[i]` as [`pack`]ed keys, `GroupKind::ALL`
    /// order: integer compares on the hot path.
    keys: Vec<[u128; 3]>,
    /// 256 buckets of indices into `entries`, oldest first.
    buckets: Vec<Vec<usize>>,
    /// Members of each group in the whole table by [`kinded`] key; the count
    /// is the length.
    groups: HashMap<u128, Vec<usize>>,
    /// Distinct groups per kind (`GroupKind::ALL` order).
    distinct: [usize; 3],
    /// Admission counter for [`Entry::seq`].
    next_seq: u64,
}

impl<T> View<T> {
    /// An empty view around `local_id`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first bad field of `config`.
    pub fn new(local_id: NodeId, config: PolicyConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            local_id,
            caps: config.caps(),
            config,
            entries: Vec::new(),
            keys: Vec::new(),
            buckets: vec![Vec::new(); BUCKET_COUNT],
            groups: HashMap::new(),
            distinct: [0; 3],
            next_seq: 0,
        })
    }

    /// The local node ID the buckets are measured from.
    pub const fn local_id(&self) -> &NodeId {
        &self.local_id
    }

    /// The configuration.
    pub const fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The effective caps in entries.
    pub const fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The bucket `id` belongs in: `log_distance(local, id) - 1`, `0..=255`;
    /// `None` for the local ID.
    pub fn bucket_index(&self, id: &NodeId) -> Option<usize> {
        bucket_index(&self.local_id, id)
    }

    /// What admitting `id` with `groups` and `rank` would do; see the
    /// [type-level documentation](View) for the rules. Pure: changes nothing
    /// and allocates nothing.
    pub fn decide(&self, id: &NodeId, groups: &NetGroups, rank: i64) -> Decision {
        let Some(b) = self.bucket_index(id) else {
            return Decision::Reject(RejectReason::SelfId);
        };
        let bucket = &self.buckets[b];
        let cand = pack_all(groups);
        let mut in_bucket = [0usize; 3];
        for &i in bucket {
            if self.entries[i].id == *id {
                return Decision::Reject(RejectReason::AlreadyPresent);
            }
            let keys = &self.keys[i];
            for n in 0..3 {
                in_bucket[n] += usize::from(keys[n] == cand[n]);
            }
        }
        let in_table = [0, 1, 2].map(|n| self.members(n, cand[n]).len());
        let broken = Broken::check(&self.caps, in_bucket, in_table);
        let full = bucket.len() >= self.caps.bucket_size();

        let Some(reason) = broken.first(b, groups) else {
            return if full {
                self.decide_diversity(b, rank, in_bucket[kind_index(GroupKind::Asn)])
            } else {
                Decision::Admit
            };
        };

        // Cap eviction: the pool is the bucket when the bucket is involved,
        // else the members of a capped table group (all eligible entries are
        // among them).
        let pool: &[usize] = if full || broken.any_bucket() {
            bucket
        } else {
            let n = match reason {
                RejectReason::TableCap { kind, .. } => kind_index(kind),
                _ => 0,
            };
            self.members(n, cand[n])
        };
        let shares_broken =
            |i: usize| (0..3).all(|n| !broken.kind(n) || self.keys[i][n] == cand[n]);
        let worst = pool
            .iter()
            .filter(|&&i| shares_broken(i))
            .map(|&i| &self.entries[i])
            .min_by_key(|e| e.worst_key());
        match (worst, EvictReason::for_cap(reason)) {
            (Some(worst), Some(evict_reason)) if worst.rank < rank => Decision::AdmitEvicting {
                evict: worst.id,
                reason: evict_reason,
            },
            _ => Decision::Reject(reason),
        }
    }

    /// Rule 4: full bucket `b`, no cap broken, `c` entries of the candidate's
    /// ASN group in the bucket. One pass over the bucket, tallying its ASN
    /// groups in arrays on the stack.
    fn decide_diversity(&self, b: usize, rank: i64, c: usize) -> Decision {
        let bucket = &self.buckets[b];
        const ASN: usize = kind_index(GroupKind::Asn);
        let mut keys = [0u128; MAX_BUCKET_SIZE];
        let mut counts = [0usize; MAX_BUCKET_SIZE];
        let mut worst = [0usize; MAX_BUCKET_SIZE];
        let mut distinct = 0;
        for &i in bucket.iter().take(MAX_BUCKET_SIZE) {
            let key = self.keys[i][ASN];
            match keys[..distinct].iter().position(|&k| k == key) {
                Some(g) => {
                    counts[g] += 1;
                    if self.entries[i].worst_key() < self.entries[worst[g]].worst_key() {
                        worst[g] = i;
                    }
                }
                None => {
                    keys[distinct] = key;
                    counts[distinct] = 1;
                    worst[distinct] = i;
                    distinct += 1;
                }
            }
        }
        // The largest group; ties: lowest worst rank, then smallest key
        // (`pack` keeps the order of `NetGroup`).
        let largest = (0..distinct)
            .min_by_key(|&g| (Reverse(counts[g]), self.entries[worst[g]].rank, keys[g]));
        match largest {
            Some(g) if counts[g] >= c + 2 && self.entries[worst[g]].rank < rank => {
                let victim = &self.entries[worst[g]];
                Decision::AdmitEvicting {
                    evict: victim.id,
                    reason: EvictReason::Diversity {
                        bucket: b,
                        group: victim.groups.asn,
                    },
                }
            }
            _ => {
                // No group to thin out: the worst-ranked entry goes if it
                // ranks strictly below the candidate (a lower behaviour
                // score); equal ranks keep the older entry (Kademlia).
                let worst = bucket
                    .iter()
                    .map(|&i| &self.entries[i])
                    .min_by_key(|e| e.worst_key());
                match worst {
                    Some(w) if w.rank < rank => Decision::AdmitEvicting {
                        evict: w.id,
                        reason: EvictReason::Score {
                            bucket: b,
                            rank: w.rank,
                        },
                    },
                    _ => Decision::Reject(RejectReason::BucketFull { bucket: b }),
                }
            }
        }
    }

    /// Admits the candidate if [`View::decide`] says so, evicting the entry it
    /// names.
    ///
    /// Returns the evicted entry, if any. A node already present is rejected
    /// ([`RejectReason::AlreadyPresent`]): update its payload with
    /// [`View::get_mut`], its rank with [`View::set_rank`], and when its
    /// address (hence its groups) changed, [`View::remove`] it and insert it
    /// again.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with the reason and the payload handed back.
    pub fn insert(
        &mut self,
        id: NodeId,
        groups: NetGroups,
        rank: i64,
        payload: T,
    ) -> Result<Option<Evicted<T>>, Rejected<T>> {
        let evicted = match self.decide(&id, &groups, rank) {
            Decision::Admit => None,
            Decision::AdmitEvicting { evict, reason } => {
                let evicted = self.remove(&evict).map(|entry| Evicted { entry, reason });
                debug_assert!(evicted.is_some(), "decide named an absent entry");
                evicted
            }
            Decision::Reject(reason) => return Err(Rejected { reason, payload }),
        };
        self.push(id, groups, rank, payload);
        Ok(evicted)
    }

    /// The table members of the group with packed key `key` of kind index `n`.
    fn members(&self, n: usize, key: u128) -> &[usize] {
        self.groups.get(&kinded(n, key)).map_or(&[], Vec::as_slice)
    }

    /// Stores an entry the policy admitted.
    fn push(&mut self, id: NodeId, groups: NetGroups, rank: i64, payload: T) {
        let Some(b) = self.bucket_index(&id) else {
            return;
        };
        let index = self.entries.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push(Entry {
            id,
            groups,
            rank,
            payload,
            seq,
        });
        let keys = pack_all(&groups);
        self.keys.push(keys);
        self.buckets[b].push(index);
        for (n, key) in keys.into_iter().enumerate() {
            let members = self.groups.entry(kinded(n, key)).or_default();
            if members.is_empty() {
                self.distinct[n] += 1;
            }
            members.push(index);
        }
    }

    /// Where `id` is: (bucket, position in the bucket, index in `entries`).
    fn locate(&self, id: &NodeId) -> Option<(usize, usize, usize)> {
        let b = self.bucket_index(id)?;
        self.buckets[b]
            .iter()
            .enumerate()
            .find(|&(_, &i)| self.entries[i].id == *id)
            .map(|(pos, &i)| (b, pos, i))
    }

    /// Removes `id`, returning its entry.
    pub fn remove(&mut self, id: &NodeId) -> Option<Entry<T>> {
        let (b, pos, index) = self.locate(id)?;
        self.buckets[b].remove(pos);
        for (n, key) in self.keys[index].into_iter().enumerate() {
            let key = kinded(n, key);
            if let Some(members) = self.groups.get_mut(&key) {
                if let Some(p) = members.iter().position(|&i| i == index) {
                    members.swap_remove(p);
                }
                if members.is_empty() {
                    self.groups.remove(&key);
                    self.distinct[n] -= 1;
                }
            }
        }
        // `swap_remove` moves the last entry to `index`: repoint it.
        let last = self.entries.len() - 1;
        let entry = self.entries.swap_remove(index);
        self.keys.swap_remove(index);
        if index != last {
            if let Some(mb) = self.bucket_index(&self.entries[index].id) {
                for i in &mut self.buckets[mb] {
                    if *i == last {
                        *i = index;
                    }
                }
            }
            for (n, key) in self.keys[index].into_iter().enumerate() {
                if let Some(members) = self.groups.get_mut(&kinded(n, key)) {
                    for i in members.iter_mut() {
                        if *i == last {
                            *i = index;
                        }
                    }
                }
            }
        }
        Some(entry)
    }

    /// Sets the rank of `id`, returning the old rank (`None` if absent).
    pub fn set_rank(&mut self, id: &NodeId, rank: i64) -> Option<i64> {
        let (_, _, index) = self.locate(id)?;
        Some(std::mem::replace(&mut self.entries[index].rank, rank))
    }

    /// The entry of `id`.
    pub fn get(&self, id: &NodeId) -> Option<&Entry<T>> {
        self.locate(id).map(|(_, _, i)| &self.entries[i])
    }

    /// The payload of `id`, mutable (ID, groups and rank change only through
    /// the view).
    pub fn get_mut(&mut self, id: &NodeId) -> Option<&mut T> {
        self.locate(id)
            .map(|(_, _, i)| &mut self.entries[i].payload)
    }

    /// Whether `id` is in the view.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.locate(id).is_some()
    }

    /// Number of entries, at most `256 × k`.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, bucket 0 first, each bucket oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Entry<T>> + '_ {
        self.buckets.iter().flatten().map(|&i| &self.entries[i])
    }

    /// The entries of bucket `index` (`0..=255`, log-distance `index + 1`),
    /// oldest first; empty for an index out of range.
    pub fn bucket(&self, index: usize) -> impl Iterator<Item = &Entry<T>> + '_ {
        self.buckets
            .get(index)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&i| &self.entries[i])
    }

    /// Entries per bucket, indexed by bucket.
    pub fn bucket_lens(&self) -> [usize; BUCKET_COUNT] {
        std::array::from_fn(|b| self.buckets[b].len())
    }

    /// Number of distinct groups of `kind` in the table.
    pub fn distinct_groups(&self, kind: GroupKind) -> usize {
        self.distinct[kind_index(kind)]
    }

    /// Entries of `group` (of `kind`) in the table.
    pub fn group_count(&self, kind: GroupKind, group: NetGroup) -> usize {
        self.members(kind_index(kind), pack(group)).len()
    }

    /// Entries of `group` (of `kind`) in bucket `bucket`.
    pub fn bucket_group_count(&self, bucket: usize, kind: GroupKind, group: NetGroup) -> usize {
        self.bucket(bucket)
            .filter(|e| e.groups.get(kind) == group)
            .count()
    }

    /// The largest group of `kind` in the table and its entry count (ties: the
    /// smallest group key); `None` when empty. Walks all groups of the table.
    pub fn top_group(&self, kind: GroupKind) -> Option<(NetGroup, usize)> {
        let n = kind_index(kind);
        self.groups
            .iter()
            .filter(|&(&key, _)| key >> KIND_SHIFT == n as u128)
            .filter_map(|(_, members)| {
                let first = *members.first()?;
                Some((self.entries[first].groups.get(kind), members.len()))
            })
            .max_by_key(|&(group, count)| (count, Reverse(group)))
    }

    /// Up to `n` entries closest to `target` by XOR distance, closest first
    /// (for starting lookups). Allocates one vector of all entries.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<&Entry<T>> {
        let mut all: Vec<&Entry<T>> = self.entries.iter().collect();
        let n = n.min(all.len());
        if n == 0 {
            return Vec::new();
        }
        let key = |e: &&Entry<T>| xor_distance(&e.id, target);
        if n < all.len() {
            all.select_nth_unstable_by_key(n - 1, key);
            all.truncate(n);
        }
        all.sort_unstable_by_key(key);
        all
    }
}

/// Where [`kinded`] puts the kind index.
const KIND_SHIFT: u32 = 72;

/// `group` as one integer: variant tag in bits 64..72, payload below. Equal
/// groups give equal keys and the order is `NetGroup`'s (variant, then
/// payload).
const fn pack(group: NetGroup) -> u128 {
    match group {
        NetGroup::V4Slash24(p) => 1 << 64 | p as u128,
        NetGroup::V4Slash16(p) => 2 << 64 | p as u128,
        NetGroup::V6Slash48(p) => 3 << 64 | p as u128,
        NetGroup::V6Slash32(p) => 4 << 64 | p as u128,
        NetGroup::Asn(n) => 5 << 64 | n as u128,
    }
}

/// The packed groups of `groups`, `GroupKind::ALL` order.
const fn pack_all(groups: &NetGroups) -> [u128; 3] {
    [pack(groups.narrow), pack(groups.wide), pack(groups.asn)]
}

/// A packed key with its kind index `n`, for the table-wide map.
const fn kinded(n: usize, key: u128) -> u128 {
    (n as u128) << KIND_SHIFT | key
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: NodeId = [0; 32];

    /// The `n`th test ID at log-distance `distance` (17..=256) from [`LOCAL`].
    fn id_at(distance: u16, n: u16) -> NodeId {
        assert!((17..=256).contains(&distance));
        let mut id = [0u8; 32];
        let bit = usize::from(distance - 1);
        id[31 - bit / 8] |= 1 << (bit % 8);
        id[30..].copy_from_slice(&n.to_be_bytes());
        id
    }

    fn ip(s: &str) -> NetGroups {
        NetGroups::prefixes_only(s.parse().unwrap())
    }

    fn asn(s: &str, n: u32) -> NetGroups {
        NetGroups {
            asn: NetGroup::Asn(n),
            ..ip(s)
        }
    }

    fn view() -> View<u32> {
        View::new(LOCAL, PolicyConfig::default()).unwrap()
    }

    fn admit(view: &mut View<u32>, id: NodeId, groups: NetGroups, rank: i64) {
        assert_eq!(view.decide(&id, &groups, rank), Decision::Admit);
        assert_eq!(view.insert(id, groups, rank, 0), Ok(None));
    }

    #[test]
    fn rejects_self_and_duplicates() {
        let mut v = view();
        let g = ip("192.0.2.1");
        assert_eq!(
            v.decide(&LOCAL, &g, 0),
            Decision::Reject(RejectReason::SelfId)
        );
        admit(&mut v, id_at(256, 1), g, 0);
        let err = v.insert(id_at(256, 1), g, 9, 7).unwrap_err();
        assert_eq!(err.reason, RejectReason::AlreadyPresent);
        assert_eq!(err.payload, 7);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn bucket_narrow_cap_ipv4() {
        let mut v = view();
        let g = ip("198.51.100.7");
        admit(&mut v, id_at(256, 1), g, 5);
        admit(&mut v, id_at(256, 2), g, 3);
        let cap = RejectReason::BucketCap {
            bucket: 255,
            kind: GroupKind::Narrow,
            group: g.narrow,
        };
        // Equal rank to the worst entry: never evict.
        assert_eq!(v.decide(&id_at(256, 3), &g, 3), Decision::Reject(cap));
        assert_eq!(
            v.decide(&id_at(256, 3), &g, 4),
            Decision::AdmitEvicting {
                evict: id_at(256, 2),
                reason: EvictReason::for_cap(cap).unwrap()
            }
        );
        // Another bucket is another count.
        admit(&mut v, id_at(255, 3), g, 0);
        // Another /24 of the same /16 is fine.
        admit(&mut v, id_at(256, 4), ip("198.51.101.7"), 0);
        let evicted = v.insert(id_at(256, 5), g, 4, 1).unwrap().unwrap();
        assert_eq!(evicted.entry.id, id_at(256, 2));
        assert_eq!(evicted.reason.as_str(), "bucket_cap");
        assert_eq!(v.bucket_group_count(255, GroupKind::Narrow, g.narrow), 2);
        assert_eq!(v.group_count(GroupKind::Narrow, g.narrow), 3);
    }

    #[test]
    fn bucket_wide_cap_ipv6() {
        let mut v = view();
        for n in 0..3 {
            admit(&mut v, id_at(200, n), ip(&format!("2001:db8:{n}::1")), 0);
        }
        let g = ip("2001:db8:99::1");
        assert_eq!(
            v.decide(&id_at(200, 9), &g, 0),
            Decision::Reject(RejectReason::BucketCap {
                bucket: 199,
                kind: GroupKind::Wide,
                group: NetGroup::V6Slash32(0x2001_0db8),
            })
        );
        // IPv6 /48 cap: 2 per bucket too.
        admit(&mut v, id_at(201, 0), ip("2001:db9:1::1"), 0);
        admit(&mut v, id_at(201, 1), ip("2001:db9:1::2"), 0);
        let d = v.decide(&id_at(201, 2), &ip("2001:db9:1::3"), 0);
        assert_eq!(
            d,
            Decision::Reject(RejectReason::BucketCap {
                bucket: 200,
                kind: GroupKind::Narrow,
                group: NetGroup::V6Slash48(0x2001_0db9_0001),
            })
        );
        assert_eq!(d.as_str(), "reject");
    }

    #[test]
    fn bucket_asn_cap() {
        let mut v = view();
        for n in 0..4 {
            admit(
                &mut v,
                id_at(256, n),
                asn(&format!("10.{n}.0.1"), 16509),
                i64::from(n),
            );
        }
        let g = asn("10.9.0.1", 16509);
        let cap = RejectReason::BucketCap {
            bucket: 255,
            kind: GroupKind::Asn,
            group: NetGroup::Asn(16509),
        };
        assert_eq!(v.decide(&id_at(256, 9), &g, 0), Decision::Reject(cap));
        assert_eq!(
            v.decide(&id_at(256, 9), &g, 1),
            Decision::AdmitEvicting {
                evict: id_at(256, 0),
                reason: EvictReason::for_cap(cap).unwrap()
            }
        );
        assert_eq!(
            cap.to_string(),
            "bucket 255 is at its cap for asn group AS16509"
        );
    }

    #[test]
    fn table_narrow_cap_ipv4_evicts_across_buckets() {
        let mut v = view();
        let g = ip("203.0.113.1");
        // 2 per bucket in 5 buckets: 10, the table cap.
        for d in 0..5u16 {
            admit(&mut v, id_at(256 - d, 0), g, 10 + i64::from(d));
            admit(&mut v, id_at(256 - d, 1), g, 20);
        }
        let cap = RejectReason::TableCap {
            kind: GroupKind::Narrow,
            group: g.narrow,
        };
        assert_eq!(v.decide(&id_at(240, 0), &g, 10), Decision::Reject(cap));
        // The worst entry of the /24 is in bucket 255, the candidate goes to 239.
        let evicted = v.insert(id_at(240, 0), g, 11, 0).unwrap().unwrap();
        assert_eq!(evicted.entry.id, id_at(256, 0));
        assert_eq!(
            evicted.reason,
            EvictReason::TableCap {
                kind: GroupKind::Narrow,
                group: g.narrow
            }
        );
        assert_eq!(v.group_count(GroupKind::Narrow, g.narrow), 10);
        assert_eq!(v.bucket_lens()[255], 1);
        assert_eq!(v.bucket_lens()[239], 1);
    }

    #[test]
    fn table_narrow_cap_ipv6() {
        let mut v = view();
        let g = ip("2001:db8:7::1");
        for d in 0..5u16 {
            admit(&mut v, id_at(256 - d, 0), g, 0);
            admit(&mut v, id_at(256 - d, 1), g, 0);
        }
        assert_eq!(
            v.decide(&id_at(240, 0), &g, 0),
            Decision::Reject(RejectReason::TableCap {
                kind: GroupKind::Narrow,
                group: NetGroup::V6Slash48(0x2001_0db8_0007),
            })
        );
    }

    #[test]
    fn table_wide_and_asn_caps() {
        let mut v = view();
        // /16 table cap 16: 3 per bucket (bucket cap) over 6 buckets = 18 > 16.
        let mut n = 0;
        'fill: for d in 0..6u16 {
            for k in 0..3u16 {
                if n == 16 {
                    break 'fill;
                }
                admit(&mut v, id_at(256 - d, k), ip(&format!("172.16.{n}.1")), 0);
                n += 1;
            }
        }
        assert_eq!(
            v.decide(&id_at(230, 0), &ip("172.16.200.1"), 0),
            Decision::Reject(RejectReason::TableCap {
                kind: GroupKind::Wide,
                group: NetGroup::V4Slash16(0xac10),
            })
        );
        // ASN table cap 26: 4 per bucket, /16s all distinct.
        let mut v = view();
        for n in 0..26u16 {
            let g = asn(&format!("10.{n}.0.1"), 24940);
            admit(&mut v, id_at(256 - n / 4, n % 4), g, 0);
        }
        assert_eq!(v.group_count(GroupKind::Asn, NetGroup::Asn(24940)), 26);
        assert_eq!(
            v.decide(&id_at(200, 0), &asn("10.99.0.1", 24940), 0),
            Decision::Reject(RejectReason::TableCap {
                kind: GroupKind::Asn,
                group: NetGroup::Asn(24940),
            })
        );
        assert_eq!(
            v.top_group(GroupKind::Asn),
            Some((NetGroup::Asn(24940), 26))
        );
        assert_eq!(v.distinct_groups(GroupKind::Asn), 1);
        assert_eq!(v.distinct_groups(GroupKind::Wide), 26);
    }

    #[test]
    fn evictee_shares_every_broken_group() {
        // Small table caps: 2 per /24, 3 per ASN.
        let config = PolicyConfig {
            table_narrow: 2,
            table_asn_share: 3.0 / 256.0,
            ..PolicyConfig::default()
        };
        let mut v = View::new(LOCAL, config).unwrap();
        let a = asn("10.0.0.1", 1);
        admit(&mut v, id_at(256, 0), a, 0); // same /24 and ASN, rank 0
        admit(&mut v, id_at(255, 0), asn("10.1.0.1", 1), -5); // same ASN only
        admit(&mut v, id_at(254, 0), a, 1); // same /24 and ASN, rank 1
        // The candidate breaks the /24 cap and the ASN cap: the rank -5 entry
        // shares only the ASN, so the rank 0 entry goes.
        assert_eq!(
            v.decide(&id_at(253, 0), &a, 2),
            Decision::AdmitEvicting {
                evict: id_at(256, 0),
                reason: EvictReason::TableCap {
                    kind: GroupKind::Narrow,
                    group: a.narrow
                },
            }
        );
        assert_eq!(
            v.decide(&id_at(253, 0), &a, 0),
            Decision::Reject(RejectReason::TableCap {
                kind: GroupKind::Narrow,
                group: a.narrow
            })
        );
        // Another /24 of the ASN breaks only the ASN cap: the rank -5 entry goes.
        assert_eq!(
            v.decide(&id_at(253, 0), &asn("10.2.0.1", 1), -4),
            Decision::AdmitEvicting {
                evict: id_at(255, 0),
                reason: EvictReason::TableCap {
                    kind: GroupKind::Asn,
                    group: NetGroup::Asn(1)
                },
            }
        );
    }

    /// Fills bucket 255 with 16 entries: ASN 1 has `big` of them, the rest one
    /// ASN each; ranks equal to the position.
    fn full_bucket(big: u16) -> View<u32> {
        let mut v = view();
        for n in 0..16u16 {
            let a = if n < big { 1 } else { 100 + u32::from(n) };
            admit(
                &mut v,
                id_at(256, n),
                asn(&format!("10.{n}.0.1"), a),
                i64::from(n),
            );
        }
        v
    }

    #[test]
    fn full_bucket_without_over_representation_rejects() {
        let v = full_bucket(1);
        // A rank no better than the worst entry's does not evict when the
        // bucket is balanced.
        assert_eq!(
            v.decide(&id_at(256, 99), &asn("11.0.0.1", 7), 0),
            Decision::Reject(RejectReason::BucketFull { bucket: 255 })
        );
        // A better one evicts the worst-ranked entry (rule 5).
        assert_eq!(
            v.decide(&id_at(256, 99), &asn("11.0.0.1", 7), 1000),
            Decision::AdmitEvicting {
                evict: id_at(256, 0),
                reason: EvictReason::Score {
                    bucket: 255,
                    rank: 0
                },
            }
        );
        assert_eq!(
            RejectReason::BucketFull { bucket: 255 }.as_str(),
            "bucket_full"
        );
        // Other buckets still admit.
        assert_eq!(
            v.decide(&id_at(255, 99), &asn("11.0.0.1", 7), 0),
            Decision::Admit
        );
    }

    #[test]
    fn full_bucket_diversity_eviction() {
        let v = full_bucket(4);
        let candidate = asn("11.0.0.1", 7); // c = 0, m = 4
        assert_eq!(
            v.decide(&id_at(256, 99), &candidate, 1),
            Decision::AdmitEvicting {
                evict: id_at(256, 0),
                reason: EvictReason::Diversity {
                    bucket: 255,
                    group: NetGroup::Asn(1)
                },
            }
        );
        // Rank 0 is the worst member's rank: no eviction.
        assert_eq!(
            v.decide(&id_at(256, 99), &candidate, 0),
            Decision::Reject(RejectReason::BucketFull { bucket: 255 })
        );
        // m = 2, c = 0: swapping gives (1, 1), strictly more even.
        let v = full_bucket(2);
        assert!(matches!(
            v.decide(&id_at(256, 99), &candidate, 5),
            Decision::AdmitEvicting {
                reason: EvictReason::Diversity { .. },
                ..
            }
        ));
        // The candidate's own ASN already has 1 of 2 (m = 2 < c + 2 = 3): the
        // swap would only relabel, so no diversity eviction — only the
        // score rule, for the worst-ranked entry.
        let same = asn("11.0.0.1", 115);
        assert_eq!(
            v.decide(&id_at(256, 99), &same, 5),
            Decision::AdmitEvicting {
                evict: id_at(256, 0),
                reason: EvictReason::Score {
                    bucket: 255,
                    rank: 0
                },
            }
        );
        assert_eq!(
            v.decide(&id_at(256, 99), &same, 0),
            Decision::Reject(RejectReason::BucketFull { bucket: 255 })
        );
    }

    #[test]
    fn full_bucket_with_broken_cap_evicts_in_bucket() {
        // 1 per /24 per bucket; bucket 255 full of distinct /24s and ASNs,
        // ranks 0..16.
        let config = PolicyConfig {
            bucket_narrow: 1,
            ..PolicyConfig::default()
        };
        let mut v: View<u32> = View::new(LOCAL, config).unwrap();
        for n in 0..16u16 {
            let g = asn(&format!("10.{n}.0.1"), 100 + u32::from(n));
            v.insert(id_at(256, n), g, i64::from(n), 0).unwrap();
        }
        // Same /24 as entry 3 (rank 3): only entry 3 is eligible, though
        // entries 0..3 rank lower.
        let g = asn("10.3.0.9", 7);
        assert_eq!(
            v.decide(&id_at(256, 99), &g, 4),
            Decision::AdmitEvicting {
                evict: id_at(256, 3),
                reason: EvictReason::BucketCap {
                    bucket: 255,
                    kind: GroupKind::Narrow,
                    group: g.narrow
                },
            }
        );
        assert_eq!(
            v.decide(&id_at(256, 99), &g, 3),
            Decision::Reject(RejectReason::BucketCap {
                bucket: 255,
                kind: GroupKind::Narrow,
                group: g.narrow
            })
        );
    }

    #[test]
    fn accessors() {
        let mut v = view();
        let g4 = ip("192.0.2.1");
        let g6 = ip("2001:db8::1");
        admit(&mut v, id_at(256, 1), g4, 0);
        admit(&mut v, id_at(256, 2), g6, 0);
        admit(&mut v, id_at(100, 3), g4, 0);
        assert_eq!(v.len(), 3);
        assert!(v.contains(&id_at(100, 3)));
        assert_eq!(v.bucket_index(&id_at(100, 3)), Some(99));
        assert_eq!(
            v.bucket(255).map(|e| e.id).collect::<Vec<_>>(),
            [id_at(256, 1), id_at(256, 2)]
        );
        assert_eq!(v.bucket(256).count(), 0);
        assert_eq!(
            v.iter().map(|e| e.id).collect::<Vec<_>>(),
            [id_at(100, 3), id_at(256, 1), id_at(256, 2)]
        );
        *v.get_mut(&id_at(256, 2)).unwrap() = 42;
        assert_eq!(v.get(&id_at(256, 2)).unwrap().payload, 42);
        assert_eq!(v.set_rank(&id_at(256, 2), 9), Some(0));
        assert_eq!(v.get(&id_at(256, 2)).unwrap().rank, 9);
        assert_eq!(v.set_rank(&id_at(256, 7), 9), None);
        assert_eq!(v.top_group(GroupKind::Narrow), Some((g4.narrow, 2)));
        assert_eq!(v.distinct_groups(GroupKind::Narrow), 2);
        // Removing the first-stored entry moves the last one; all lookups
        // still work.
        let removed = v.remove(&id_at(256, 1)).unwrap();
        assert_eq!(removed.id, id_at(256, 1));
        assert_eq!(v.remove(&id_at(256, 1)), None);
        assert_eq!(v.get(&id_at(100, 3)).unwrap().groups, g4);
        assert_eq!(v.get(&id_at(256, 2)).unwrap().payload, 42);
        assert_eq!(v.group_count(GroupKind::Narrow, g4.narrow), 1);
        v.remove(&id_at(100, 3)).unwrap();
        assert_eq!(v.distinct_groups(GroupKind::Narrow), 1);
        assert_eq!(v.group_count(GroupKind::Narrow, g4.narrow), 0);
        assert_eq!(v.top_group(GroupKind::Narrow), Some((g6.narrow, 1)));
    }

    #[test]
    fn closest_by_xor() {
        let mut v = view();
        for n in 0..10u16 {
            admit(&mut v, id_at(256 - n, n), ip(&format!("10.{n}.0.1")), 0);
        }
        let target = id_at(250, 0);
        let c = v.closest(&target, 3);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].id, id_at(250, 6));
        assert!(
            c.windows(2)
                .all(|w| xor_distance(&w[0].id, &target) < xor_distance(&w[1].id, &target))
        );
        // Every entry not returned is farther than the last one returned.
        let last = xor_distance(&c[2].id, &target);
        assert!(
            v.iter()
                .filter(|e| !c.iter().any(|x| x.id == e.id))
                .all(|e| xor_distance(&e.id, &target) > last)
        );
        assert_eq!(v.closest(&target, 100).len(), 10);
        assert!(v.closest(&target, 0).is_empty());
    }

    #[test]
    fn invalid_config_is_refused() {
        let config = PolicyConfig {
            bucket_narrow: 0,
            ..PolicyConfig::default()
        };
        assert_eq!(
            View::<()>::new(LOCAL, config).unwrap_err(),
            ConfigError::ZeroCap {
                field: "bucket_narrow"
            }
        );
    }
}

//! Choosing diverse peers to serve to the consensus client.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};

use discguard_netgroup::NetGroup;

use crate::view::Entry;

/// Up to `limit` of `entries`, chosen to cover as many ASN groups as possible,
/// in the order chosen (take a prefix for fewer).
///
/// Round-robin over ASN groups (the wide prefix when no ASN database knows an
/// address):
///
/// - groups are visited in order of their best rank (highest first), ties in
///   an order keyed by `salt` (a SipHash of salt and group key): fixed for
///   one salt, so the result is stable between requests, but not by AS
///   number, which an attacker could pick to be served first (a harness run
///   with attacker ASNs numbered from 64512 was served none of them at any
///   G under an ascending-ASN tie-break). Callers draw the salt at random
///   once per process;
/// - each visit takes one entry of the group: the first, in keep-priority
///   order (rank highest first, then oldest [`Entry::seq`], then smallest
///   node ID), whose /16 (IPv6 /32) no chosen entry has; failing that, the
///   first whose /24 (/48) no chosen entry has; failing that, the first;
/// - rounds repeat until `limit` entries are chosen or none are left.
///
/// So the result holds `min(limit, distinct ASN groups)` distinct ASN groups,
/// and a group gets a second entry only once every group has one (a third
/// once every group that still has entries has two, and so on): a group's
/// share of the result is at most one entry above an equal split. A node ID
/// given twice counts once (its first occurrence). Deterministic: the same
/// input and salt give the same output, in any input order up to repeated
/// IDs.
///
/// Cost: `O(n log n + limit · n)` for `n` entries; allocates.
///
/// ```
/// use discguard_netgroup::{NetGroup, NetGroups};
/// use discguard_policy::{Entry, select_diverse};
///
/// let groups = |asn: u32, ip: &str| NetGroups {
///     asn: NetGroup::Asn(asn),
///     ..NetGroups::prefixes_only(ip.parse().unwrap())
/// };
/// let entries = [
///     Entry::new([1; 32], groups(16509, "3.1.1.1"), 5, ()),
///     Entry::new([2; 32], groups(16509, "3.1.2.1"), 4, ()),
///     Entry::new([3; 32], groups(24940, "5.9.1.1"), 0, ()),
/// ];
/// let chosen = select_diverse(&entries, 2, 7);
/// assert_eq!(chosen.iter().map(|e| e.id[0]).collect::<Vec<_>>(), [1, 3]);
/// ```
pub fn select_diverse<'a, T: 'a>(
    entries: impl IntoIterator<Item = &'a Entry<T>>,
    limit: usize,
    salt: u64,
) -> Vec<&'a Entry<T>> {
    // First occurrence of each node ID.
    let mut numbered: Vec<(usize, &Entry<T>)> = entries.into_iter().enumerate().collect();
    numbered.sort_unstable_by(|(pa, a), (pb, b)| a.id.cmp(&b.id).then(pa.cmp(pb)));
    numbered.dedup_by_key(|(_, e)| e.id);
    let limit = limit.min(numbered.len());
    if limit == 0 {
        return Vec::new();
    }
    let mut all: Vec<&Entry<T>> = numbered.into_iter().map(|(_, e)| e).collect();
    all.sort_unstable_by(|a, b| {
        (a.groups.asn.cmp(&b.groups.asn))
            .then(b.rank.cmp(&a.rank))
            .then(a.seq().cmp(&b.seq()))
            .then(a.id.cmp(&b.id))
    });

    // One run of `all` per ASN group, best entry first; runs in visiting order.
    let mut runs: Vec<Run> = Vec::new();
    for (pos, e) in all.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if all[run.start].groups.asn == e.groups.asn => run.end = pos + 1,
            _ => runs.push(Run {
                start: pos,
                end: pos + 1,
                next: pos,
            }),
        }
    }
    runs.sort_unstable_by_key(|r| {
        let group = all[r.start].groups.asn;
        (Reverse(all[r.start].rank), tie_key(salt, &group), group)
    });

    let mut taken = vec![false; all.len()];
    let mut chosen: Vec<&Entry<T>> = Vec::with_capacity(limit);
    let mut chosen_groups: HashSet<NetGroup> = HashSet::with_capacity(2 * limit);
    while chosen.len() < limit {
        for run in runs.iter_mut().filter(|r| r.next < r.end) {
            if chosen.len() == limit {
                break;
            }
            // Tier 0: new /16 (/32); tier 1: new /24 (/48); tier 2: any.
            let mut pick = (3, run.next);
            for pos in (run.next..run.end).filter(|&p| !taken[p]) {
                let e = all[pos];
                let tier = if !chosen_groups.contains(&e.groups.wide) {
                    0
                } else if !chosen_groups.contains(&e.groups.narrow) {
                    1
                } else {
                    2
                };
                if tier < pick.0 {
                    pick = (tier, pos);
                    if tier == 0 {
                        break;
                    }
                }
            }
            let e = all[pick.1];
            taken[pick.1] = true;
            while run.next < run.end && taken[run.next] {
                run.next += 1;
            }
            chosen_groups.insert(e.groups.wide);
            chosen_groups.insert(e.groups.narrow);
            chosen.push(e);
        }
    }
    chosen
}

/// Where a group goes among groups of equal rank: SipHash-1-3 (std's
/// `DefaultHasher`) of the salt and the group key.
fn tie_key(salt: u64, group: &NetGroup) -> u64 {
    let mut h = DefaultHasher::new();
    salt.hash(&mut h);
    group.hash(&mut h);
    h.finish()
}

/// The entries of one ASN group in the sorted list: `start..end`, with `next`
/// the first one not yet taken.
struct Run {
    start: usize,
    end: usize,
    next: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use discguard_netgroup::NetGroups;

    fn entry(n: u8, asn: u32, ip: &str, rank: i64) -> Entry<()> {
        let groups = NetGroups {
            asn: NetGroup::Asn(asn),
            ..NetGroups::prefixes_only(ip.parse().unwrap())
        };
        Entry::new([n; 32], groups, rank, ())
    }

    fn ids(chosen: &[&Entry<()>]) -> Vec<u8> {
        chosen.iter().map(|e| e.id[0]).collect()
    }

    #[test]
    fn round_robin_over_asns_by_best_rank() {
        let entries = [
            entry(1, 10, "10.0.0.1", 1),
            entry(2, 10, "10.1.0.1", 0),
            entry(3, 20, "20.0.0.1", 5),
            entry(4, 20, "20.1.0.1", 4),
            entry(5, 20, "20.2.0.1", 3),
            entry(6, 30, "2001:db8::1", 1),
        ];
        // ASN 20 first (best rank 5), then 10 and 30 (rank 1) in the salt's
        // order, then round two.
        let all = ids(&select_diverse(&entries, 10, 1));
        assert_eq!(all[0], 3);
        assert!(all[1..3] == [1, 6] || all[1..3] == [6, 1], "{all:?}");
        assert_eq!(all[3..], [4, 2, 5]);
        assert_eq!(ids(&select_diverse(&entries, 2, 1)), all[..2]);
        assert!(select_diverse(&entries, 0, 1).is_empty());
        // Input order does not matter.
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(ids(&select_diverse(&reversed, 4, 1)), all[..4]);
    }

    #[test]
    fn ties_are_not_broken_by_as_number() {
        // Two groups of equal rank: over many salts each comes first about
        // half the time, so a low (or high) AS number buys no place.
        let entries = [entry(1, 10, "10.0.0.1", 0), entry(2, 64_512, "20.0.0.1", 0)];
        let low_first = (0..1000u64)
            .filter(|&salt| ids(&select_diverse(&entries, 1, salt)) == [1])
            .count();
        assert!((400..=600).contains(&low_first), "{low_first} of 1000");
        // One salt, one order.
        let once = ids(&select_diverse(&entries, 2, 42));
        assert!((0..10).all(|_| ids(&select_diverse(&entries, 2, 42)) == once));
    }

    #[test]
    fn prefers_new_prefixes_within_a_group() {
        let entries = [
            entry(1, 10, "10.0.0.1", 9),
            entry(2, 10, "10.0.0.2", 8), // same /24 as 1
            entry(3, 10, "10.0.1.1", 7), // same /16 as 1, new /24
            entry(4, 10, "10.9.0.1", 0), // new /16
        ];
        assert_eq!(ids(&select_diverse(&entries, 4, 0)), [1, 4, 3, 2]);
    }

    #[test]
    fn repeated_ids_count_once() {
        let a = entry(1, 10, "10.0.0.1", 0);
        let chosen = select_diverse([&a, &a, &a], 3, 0);
        assert_eq!(ids(&chosen), [1]);
    }
}

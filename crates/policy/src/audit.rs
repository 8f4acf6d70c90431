//! Auditing a table the policy does not control (sigp discv5's k-buckets).

use std::collections::{HashMap, HashSet};

use discguard_netgroup::{GroupKind, NetGroup, NetGroups};

use crate::config::PolicyConfig;
use crate::decision::RejectReason;
use crate::view::Broken;
use crate::{NodeId, bucket_index};

/// The entries of another table that break the caps of `config`, with the
/// first cap each breaks.
///
/// `entries` is that table in keep-priority order (oldest or connected
/// first). Admission is simulated in that order with no evictions and no
/// bucket-size limit: an entry that would break a bucket or table cap is
/// reported and not counted; the others are counted. Bucket fullness is the
/// other table's own business and never reported, and neither are the local
/// ID or a repeated ID (a table cannot hold them, and removing by ID would
/// also drop the first copy). Caps are checked in [`View::decide`](crate::View::decide)'s
/// order, so the reasons match.
///
/// Removing the reported entries leaves a set that passes the audit in the
/// same order, and a [`View`](crate::View)'s own entries pass in any order.
/// Cost: `O(n)` hash-map updates, memory proportional to `entries` (sigp
/// discv5's table holds at most 256 × 16).
///
/// The service removes the reported nodes from discv5's table
/// (`remove_node`), since its only built-in filter is a /24 limit for IPv4.
///
/// ```
/// use discguard_netgroup::NetGroups;
/// use discguard_policy::{PolicyConfig, RejectReason, audit};
///
/// let local = [0u8; 32];
/// let groups = NetGroups::prefixes_only("203.0.113.7".parse().unwrap());
/// // Three nodes of one /24 at log-distance 256: the third breaks the cap of 2.
/// let table = (1..=3u8).map(|n| {
///     let mut id = [0u8; 32];
///     id[0] = 0x80;
///     id[31] = n;
///     (id, groups)
/// });
/// let violators = audit(&PolicyConfig::default(), &local, table);
/// assert_eq!(violators.len(), 1);
/// assert_eq!(violators[0].0[31], 3);
/// assert_eq!(violators[0].1.as_str(), "bucket_cap");
/// ```
pub fn audit(
    config: &PolicyConfig,
    local_id: &NodeId,
    entries: impl IntoIterator<Item = (NodeId, NetGroups)>,
) -> Vec<(NodeId, RejectReason)> {
    let caps = config.caps();
    let mut table: HashMap<(GroupKind, NetGroup), usize> = HashMap::new();
    let mut buckets: HashMap<(usize, GroupKind, NetGroup), usize> = HashMap::new();
    let mut seen: HashSet<NodeId> = HashSet::new();
    let mut violators = Vec::new();
    for (id, groups) in entries {
        let Some(b) = bucket_index(local_id, &id) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let in_bucket = GroupKind::ALL.map(|kind| {
            buckets
                .get(&(b, kind, groups.get(kind)))
                .copied()
                .unwrap_or(0)
        });
        let in_table =
            GroupKind::ALL.map(|kind| table.get(&(kind, groups.get(kind))).copied().unwrap_or(0));
        if let Some(reason) = Broken::check(&caps, in_bucket, in_table).first(b, &groups) {
            violators.push((id, reason));
            continue;
        }
        for (kind, group) in groups.iter() {
            *buckets.entry((b, kind, group)).or_default() += 1;
            *table.entry((kind, group)).or_default() += 1;
        }
    }
    violators
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(first: u8, n: u8) -> NodeId {
        let mut id = [0u8; 32];
        id[0] = first;
        id[31] = n;
        id
    }

    fn groups(ip: &str) -> NetGroups {
        NetGroups::prefixes_only(ip.parse().unwrap())
    }

    #[test]
    fn reports_cap_breakers_in_order() {
        let config = PolicyConfig::default();
        let local = [0u8; 32];
        let v6 = groups("2001:db8:1::1");
        // Bucket 255 (first byte 0x80..): 17 entries, which sigp would not
        // hold; fullness is never reported. Entries 1 and 2 share a /48.
        let mut table: Vec<(NodeId, NetGroups)> = (0..17u8)
            .map(|n| (id(0x80, n), groups(&format!("10.{n}.0.1"))))
            .collect();
        table.push((id(0x80, 100), v6));
        table.push((id(0x80, 101), v6));
        table.push((id(0x80, 102), v6));
        // Duplicates and the local ID are skipped.
        table.push((id(0x80, 100), v6));
        table.push((local, v6));
        let out = audit(&config, &local, table);
        assert_eq!(
            out,
            [(
                id(0x80, 102),
                RejectReason::BucketCap {
                    bucket: 255,
                    kind: GroupKind::Narrow,
                    group: v6.narrow
                }
            )]
        );
    }

    #[test]
    fn table_caps_across_buckets() {
        let config = PolicyConfig::default();
        let local = [0u8; 32];
        let g = groups("192.0.2.1");
        // 2 per bucket in buckets 255..=250: 12 entries, the last 2 break the
        // table cap of 10.
        let table: Vec<_> = (0..6u8)
            .flat_map(|b| [(id(0x80 >> b, 0), g), (id(0x80 >> b, 1), g)])
            .collect();
        let out = audit(&config, &local, table.clone());
        let table_cap = RejectReason::TableCap {
            kind: GroupKind::Narrow,
            group: g.narrow,
        };
        assert_eq!(out, [(table[10].0, table_cap), (table[11].0, table_cap)]);
        // Removing them leaves a set that passes.
        let rest: Vec<_> = table
            .into_iter()
            .filter(|(i, _)| !out.iter().any(|(o, _)| o == i))
            .collect();
        assert!(audit(&config, &local, rest).is_empty());
    }
}

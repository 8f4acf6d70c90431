//! Judging one NODES answer to a FINDNODE we sent.
//!
//! The discv5 spec (`discv5-wire.md`, FINDNODE/NODES; `discv5-theory.md`,
//! "Lookup") asks the requester to check that every returned record lies at
//! one of the requested log-distances from the node asked and that the
//! answer stays within limits. On top, discguard checks what an eclipse
//! attacker's answer looks like: records crowded into one network group,
//! the same node twice, unroutable addresses, a foreign network only.
//!
//! Signatures are checked by discv5 before we see an answer: a record with a
//! bad signature makes its whole packet undecodable, so sigp's `discv5`
//! drops the packet and the request times out — scored as
//! [`Event::RequestTimeout`].

use std::collections::HashSet;

use discguard_netgroup::{GroupKind, NetGroup, NetGroups};
use discguard_policy::{NodeId, log_distance};
use serde::{Deserialize, Serialize};

use crate::Event;

/// Most records one answer may carry: discv5's `max_nodes_response`
/// (16), the k of the spec's k-buckets.
pub const MAX_RECORDS: usize = 16;

/// More than this many records of one IPv4 /24 (IPv6 /48) or /16 (/32) in an
/// answer make it crowded: libp2p's Kademlia drops peers beyond 3 per IP
/// group in one response (`rust-libp2p` `protocols/kad`, "more than 3 peers
/// in one response"). An honest sigp table holds at most 2 per /24 per
/// bucket, and an answer covers three buckets.
pub const CROWD_FEW: usize = 3;

/// How one answer is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRules {
    /// Most records allowed ([`MAX_RECORDS`]).
    pub max_records: usize,
    /// Most records of one /24 or /16 (IPv6 /48, /32) before the answer is
    /// crowded ([`CROWD_FEW`]). An ASN group is allowed more: the larger of
    /// this and half the answer, since real ASes are large (Amazon and
    /// Hetzner each hold about 12% of Ethereum nodes).
    pub crowd_few: usize,
}

impl Default for AnswerRules {
    fn default() -> Self {
        Self {
            max_records: MAX_RECORDS,
            crowd_few: CROWD_FEW,
        }
    }
}

/// One returned record, as the caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The record's node ID.
    pub id: NodeId,
    /// Its network groups; `None` when it has no UDP address.
    pub groups: Option<NetGroups>,
    /// Whether its address is routable where we run (always true on a
    /// private test network).
    pub routable: bool,
    /// Whether its `eth2` fork digest is one we accept (`true` when we do
    /// not filter by fork).
    pub fork_ok: bool,
}

/// What was wrong with an answer: the events to score and the counts behind
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Events for the node that answered, each at most once.
    pub events: Vec<Event>,
    /// Records outside the requested distances.
    pub wrong_distance: usize,
    /// Records naming a node already named.
    pub duplicates: usize,
    /// Records without a routable UDP address.
    pub unroutable: usize,
    /// The largest group of the answer: kind, group and records.
    pub largest_group: Option<(GroupKind, NetGroup, usize)>,
    /// Indices of the records worth following (right distance, first
    /// mention, routable): what a lookup may use.
    pub usable: Vec<usize>,
}

/// Judges the answer of node `from` to a FINDNODE for `distances`.
pub fn judge(from: &NodeId, distances: &[u64], records: &[Record], rules: &AnswerRules) -> Verdict {
    let mut v = Verdict::default();
    let mut seen = HashSet::with_capacity(records.len());
    let mut foreign = 0;
    for (i, r) in records.iter().enumerate() {
        let at = log_distance(from, &r.id).map(u64::from);
        if !at.is_some_and(|d| distances.contains(&d)) {
            v.wrong_distance += 1;
            continue;
        }
        if !seen.insert(r.id) {
            v.duplicates += 1;
            continue;
        }
        if r.groups.is_none() || !r.routable {
            v.unroutable += 1;
            continue;
        }
        if !r.fork_ok {
            foreign += 1;
        }
        v.usable.push(i);
    }
    if v.wrong_distance > 0 {
        v.events.push(Event::WrongDistance);
    }
    if records.len() > rules.max_records {
        v.events.push(Event::TooManyRecords);
    }
    if v.duplicates > 0 {
        v.events.push(Event::DuplicateRecords);
    }
    if v.unroutable > 0 {
        v.events.push(Event::UnroutableRecords);
    }
    if !v.usable.is_empty() && foreign == v.usable.len() && foreign >= 4 {
        v.events.push(Event::ForeignForkRecords);
    }
    let n = v.usable.len();
    for kind in GroupKind::ALL {
        let mut counts: Vec<(NetGroup, usize)> = Vec::new();
        for &i in &v.usable {
            let Some(groups) = records[i].groups else {
                continue;
            };
            let g = groups.get(kind);
            match counts.iter_mut().find(|(k, _)| *k == g) {
                Some((_, c)) => *c += 1,
                None => counts.push((g, 1)),
            }
        }
        if let Some(&(g, c)) = counts.iter().max_by_key(|(_, c)| *c) {
            if v.largest_group.is_none_or(|(_, _, best)| c > best) {
                v.largest_group = Some((kind, g, c));
            }
            let allowed = match kind {
                GroupKind::Asn => rules.crowd_few.max(n / 2),
                _ => rules.crowd_few,
            };
            if c > allowed && !v.events.contains(&Event::CrowdedAnswer) {
                v.events.push(Event::CrowdedAnswer);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use discguard_netgroup::NetGroups;

    /// A node ID at log-distance `d` (above 8) from the zero ID, told apart
    /// by `n`.
    fn at(d: u16, n: u8) -> NodeId {
        let mut id = [0u8; 32];
        let bit = 256 - d as usize;
        id[bit / 8] |= 0x80 >> (bit % 8);
        id[31] ^= n;
        id
    }

    fn rec(d: u16, n: u8, ip: &str) -> Record {
        Record {
            id: at(d, n),
            groups: Some(NetGroups::prefixes_only(ip.parse().unwrap())),
            routable: true,
            fork_ok: true,
        }
    }

    const ZERO: NodeId = [0; 32];

    #[test]
    fn an_honest_answer_has_no_events() {
        let records: Vec<Record> = (0..16)
            .map(|i| rec(256 - (i % 3) as u16, i, &format!("10.{i}.1.1")))
            .collect();
        let v = judge(&ZERO, &[256, 255, 254], &records, &AnswerRules::default());
        assert_eq!(v.events, []);
        assert_eq!(v.usable.len(), 16);
    }

    #[test]
    fn wrong_distances_are_dropped_and_reported() {
        let records = [rec(256, 1, "10.0.1.1"), rec(200, 2, "10.1.1.1")];
        let v = judge(&ZERO, &[256], &records, &AnswerRules::default());
        assert_eq!(v.events, [Event::WrongDistance]);
        assert_eq!((v.wrong_distance, v.usable.clone()), (1, vec![0]));
    }

    #[test]
    fn duplicates_unroutable_and_too_many() {
        let mut records: Vec<Record> = (0..17)
            .map(|i| rec(256, i, &format!("10.{i}.1.1")))
            .collect();
        records[3] = records[2];
        records[4].routable = false;
        let v = judge(&ZERO, &[256], &records, &AnswerRules::default());
        assert_eq!(
            v.events,
            [
                Event::TooManyRecords,
                Event::DuplicateRecords,
                Event::UnroutableRecords
            ]
        );
        assert_eq!((v.duplicates, v.unroutable, v.usable.len()), (1, 1, 15));
    }

    #[test]
    fn four_in_one_slash24_or_slash16_crowd_an_answer_three_do_not() {
        let mut records: Vec<Record> = (0..12)
            .map(|i| rec(256, i, &format!("10.{i}.1.1")))
            .collect();
        for (i, r) in records.iter_mut().enumerate().take(3) {
            *r = rec(256, i as u8, &format!("10.200.7.{i}"));
        }
        let rules = AnswerRules::default();
        assert_eq!(judge(&ZERO, &[256], &records, &rules).events, []);
        records[3] = rec(256, 3, "10.200.7.9");
        let v = judge(&ZERO, &[256], &records, &rules);
        assert_eq!(v.events, [Event::CrowdedAnswer]);
        assert_eq!(v.largest_group.unwrap().2, 4);
        // Four /24s of one /16 crowd it too.
        let records: Vec<Record> = (0..8)
            .map(|i| {
                rec(
                    256,
                    i,
                    &format!("10.{}.{i}.1", if i < 4 { 9 } else { 10 + i }),
                )
            })
            .collect();
        assert_eq!(
            judge(&ZERO, &[256], &records, &rules).events,
            [Event::CrowdedAnswer]
        );
    }

    #[test]
    fn an_asn_may_hold_up_to_half_of_an_answer() {
        let asn = |ip: &str, a: u32| NetGroups {
            asn: NetGroup::Asn(a),
            ..NetGroups::prefixes_only(ip.parse().unwrap())
        };
        let mut records: Vec<Record> = (0..16)
            .map(|i| Record {
                groups: Some(asn(&format!("10.{i}.1.1"), 100 + u32::from(i))),
                ..rec(256, i, "10.0.0.1")
            })
            .collect();
        for (i, r) in records.iter_mut().enumerate().take(8) {
            r.groups = Some(asn(&format!("10.{i}.1.1"), 16509));
        }
        let rules = AnswerRules::default();
        assert_eq!(judge(&ZERO, &[256], &records, &rules).events, [], "8 of 16");
        records[8].groups = Some(asn("10.8.1.1", 16509));
        assert_eq!(
            judge(&ZERO, &[256], &records, &rules).events,
            [Event::CrowdedAnswer],
            "9 of 16"
        );
    }

    #[test]
    fn only_foreign_records_cost() {
        let mut records: Vec<Record> = (0..4)
            .map(|i| rec(256, i, &format!("10.{i}.1.1")))
            .collect();
        for r in &mut records[..3] {
            r.fork_ok = false;
        }
        let rules = AnswerRules::default();
        assert_eq!(judge(&ZERO, &[256], &records, &rules).events, []);
        records[3].fork_ok = false;
        assert_eq!(
            judge(&ZERO, &[256], &records, &rules).events,
            [Event::ForeignForkRecords]
        );
    }
}

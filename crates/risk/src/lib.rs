//! Eclipse-risk estimators over a set of discv5 peers, computed from group
//! labels and node IDs only.
//!
//! A node is eclipsed when the peers it relies on are mostly one actor's. A
//! node cannot see actors, but it can see how its peers spread over the
//! places an actor would have to rent or mine: network groups (IPv4 /24 and
//! /16, IPv6 /48 and /32, autonomous systems: `discguard_netgroup`) and the
//! keyspace. This crate turns a set of peers — a *scope*: discv5's k-buckets
//! (`table`), discguard's curated view (`view`), the peers last served to the
//! consensus client (`served`) — into the measures of research.md ("Eclipse-risk
//! metrics a node can compute alone"):
//!
//! - [`groups`]: entropy, effective groups, evenness, top-1/top-5 share,
//!   HHI, **groups to majority**, cap pressure, diversity ratio;
//! - [`keyspace`]: network-size estimate and the mined-ID tests on buckets
//!   and on lookup results;
//! - [`churn`]: median entry age, turnover per hour, unsolicited-insertion
//!   ratio;
//! - [`eclipse_risk`]: one headline number in `[0, 1]`.
//!
//! The crate is pure: no I/O, no clock (time is passed in), no randomness.
//! `docs/risk.md` documents every formula with its source.
//!
//! ```
//! use discguard_netgroup::NetGroups;
//! use discguard_risk::{Member, ScopeInput, assess};
//!
//! let members: Vec<Member> = ["203.0.113.7", "203.0.113.9", "198.51.100.1"]
//!     .iter()
//!     .enumerate()
//!     .map(|(i, ip)| Member::new([i as u8; 32], NetGroups::prefixes_only(ip.parse().unwrap())))
//!     .collect();
//! let risk = assess(&ScopeInput::new(&members));
//! // Two of three peers share a /24: one group holds the majority.
//! assert_eq!(risk.groups.narrow.groups_to_majority, 1);
//! assert_eq!(risk.eclipse_risk, 1.0);
//! ```

pub mod churn;
pub mod groups;
pub mod keyspace;

use std::time::Duration;

use discguard_netgroup::{GroupKind, NetGroups};
use discguard_policy::{Caps, NodeId};
use serde::{Deserialize, Serialize};

pub use churn::{Turnover, median, ratio};
pub use groups::{GroupCount, GroupStats, diversity_ratio, group_stats};
pub use keyspace::{
    KeyspaceConfig, LookupAnomaly, LookupsAnomaly, TableAnomaly, combine_lookups,
    estimates_network_size, lookup_anomaly, network_size_from_lookup, network_size_from_lookups,
    poisson_tail, table_anomaly,
};

/// One peer of a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its node ID.
    pub id: NodeId,
    /// Its network groups.
    pub groups: NetGroups,
    /// How long it has been in the set, when known.
    pub age: Option<Duration>,
    /// Whether it entered the set from inbound contact (it reached us, we did
    /// not ask for it), when known.
    pub unsolicited: Option<bool>,
}

impl Member {
    /// A member with no age and no known origin.
    pub const fn new(id: NodeId, groups: NetGroups) -> Self {
        Self {
            id,
            groups,
            age: None,
            unsolicited: None,
        }
    }
}

/// What [`assess`] needs besides the members.
#[derive(Clone, Copy, Debug)]
pub struct ScopeInput<'a> {
    /// The set.
    pub members: &'a [Member],
    /// The policy's caps, when they govern this set (cap pressure).
    pub caps: Option<Caps>,
    /// The local node ID and test parameters, when the set is a routing
    /// table around it (keyspace test).
    pub keyspace: Option<(NodeId, KeyspaceConfig)>,
    /// Network size from lookups towards random targets, for the keyspace
    /// test ([`table_anomaly`]).
    pub network_size_hint: Option<f64>,
    /// Removals per hour, measured by the caller ([`Turnover`]).
    pub turnover_per_hour: Option<f64>,
}

impl<'a> ScopeInput<'a> {
    /// Just the members: group measures and the headline.
    pub const fn new(members: &'a [Member]) -> Self {
        Self {
            members,
            caps: None,
            keyspace: None,
            network_size_hint: None,
            turnover_per_hour: None,
        }
    }
}

/// [`GroupStats`] for each group kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// IPv4 /24 and IPv6 /48.
    pub narrow: GroupStats,
    /// IPv4 /16 and IPv6 /32.
    pub wide: GroupStats,
    /// Autonomous systems (the wide prefix for addresses no database knows).
    pub asn: GroupStats,
}

impl KindStats {
    /// The stats of one kind.
    pub const fn get(&self, kind: GroupKind) -> &GroupStats {
        match kind {
            GroupKind::Narrow => &self.narrow,
            GroupKind::Wide => &self.wide,
            GroupKind::Asn => &self.asn,
        }
    }

    /// `(kind, stats)` for every kind, narrowest first.
    pub fn iter(&self) -> impl Iterator<Item = (GroupKind, &GroupStats)> + '_ {
        GroupKind::ALL.into_iter().map(|k| (k, self.get(k)))
    }
}

/// Every measure of one scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeRisk {
    /// Peers in the set.
    pub peers: usize,
    /// The headline, see [`eclipse_risk`].
    pub eclipse_risk: f64,
    /// Concentration per group kind.
    pub groups: KindStats,
    /// The keyspace test, for routing tables.
    pub keyspace: Option<TableAnomaly>,
    /// Share of members that entered from inbound contact, when known.
    pub unsolicited_insertion_ratio: Option<f64>,
    /// Median time members have been in the set, in seconds, when known.
    pub median_entry_age_seconds: Option<f64>,
    /// Removals per hour, when measured.
    pub turnover_per_hour: Option<f64>,
}

/// Computes every measure of one scope.
pub fn assess(input: &ScopeInput<'_>) -> ScopeRisk {
    let members = input.members;
    let stats = |kind: GroupKind| {
        group_stats(
            members.iter().map(|m| m.groups.get(kind)),
            input.caps.map(|c| c.table(kind)),
        )
    };
    let groups = KindStats {
        narrow: stats(GroupKind::Narrow),
        wide: stats(GroupKind::Wide),
        asn: stats(GroupKind::Asn),
    };
    let keyspace = input.keyspace.map(|(local, config)| {
        table_anomaly(
            &local,
            members.iter().map(|m| &m.id),
            &config,
            input.network_size_hint,
        )
    });
    let known: Vec<bool> = members.iter().filter_map(|m| m.unsolicited).collect();
    ScopeRisk {
        peers: members.len(),
        eclipse_risk: eclipse_risk(&groups, keyspace.as_ref().is_some_and(|k| k.anomalous)),
        groups,
        keyspace,
        unsolicited_insertion_ratio: ratio(known.iter().filter(|u| **u).count(), known.len()),
        median_entry_age_seconds: median(
            members
                .iter()
                .filter_map(|m| m.age.map(|a| a.as_secs_f64())),
        ),
        turnover_per_hour: input.turnover_per_hour,
    }
}

/// The headline eclipse risk of a set, in `[0, 1]`:
///
/// ```text
/// eclipse_risk = max( 1 / min_kind groups_to_majority,  [keyspace anomaly] )
/// ```
///
/// and 1 for the empty set. Why this combination:
///
/// - **Groups to majority** is the number of distinct networks (ASNs, /16s
///   or /24s) an attacker must operate, rent or compromise to hold a majority
///   of the set — the cost of an eclipse in the unit that group caps and
///   Erebus-style AS attacks (Tran et al., S&P 2020) price it in. Its
///   reciprocal is 1 when one group already holds a majority, 1/2 for two,
///   and falls as the spread grows; the *minimum over kinds* takes the
///   cheapest route (a /24 majority is as bad as an AS majority). It also
///   covers size: a set of n peers needs at most ⌊n/2⌋+1 groups, so a small
///   set can never look safe (4 peers in 4 ASNs: risk 1/3).
/// - **A keyspace anomaly** (mined node IDs, see [`keyspace`]) is a targeted
///   attack on this node regardless of group spread — the "False Friends"
///   and "Total Eclipse of the Heart" attacks capture lookups for our own
///   ID with IDs bought by computation, not by networks — so a flagged test
///   sets the risk to 1.
/// - **Max, not a mean or product**: an eclipse needs only one route, so the
///   cheapest route decides. A mean would let a well-spread view hide a
///   mined cluster, and a product has no unit an operator can reason about.
///
/// Healthy mainnet views sit near 0.1 (about ten ASNs hold half of the
/// Ethereum population: research.md); 0.5 means two groups hold a
/// majority. The alert rules page above 0.5: one group holds a majority,
/// mined IDs, or an empty set.
pub fn eclipse_risk(groups: &KindStats, keyspace_anomalous: bool) -> f64 {
    let g = groups
        .iter()
        .map(|(_, s)| s.groups_to_majority)
        .min()
        .unwrap_or(0);
    if g == 0 || keyspace_anomalous {
        return 1.0;
    }
    1.0 / g as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(i: u8, ip: &str) -> Member {
        Member::new([i; 32], NetGroups::prefixes_only(ip.parse().unwrap()))
    }

    #[test]
    fn empty_set_is_eclipsed() {
        let r = assess(&ScopeInput::new(&[]));
        assert_eq!(r.peers, 0);
        assert_eq!(r.eclipse_risk, 1.0);
        assert_eq!(r.median_entry_age_seconds, None);
        assert_eq!(r.unsolicited_insertion_ratio, None);
    }

    #[test]
    fn spread_set_scores_by_the_most_concentrated_kind() {
        // Eight peers in eight /24s, but only two /16s (4 + 4).
        let members: Vec<Member> = (0..8u8)
            .map(|i| member(i, &format!("10.{}.{}.1", i / 4, i)))
            .collect();
        let r = assess(&ScopeInput::new(&members));
        assert_eq!(r.groups.narrow.groups_to_majority, 5);
        assert_eq!(r.groups.wide.groups_to_majority, 2);
        assert_eq!(r.eclipse_risk, 0.5);
    }

    #[test]
    fn keyspace_anomaly_sets_risk_to_one() {
        let members: Vec<Member> = (0..8u8)
            .map(|i| member(i, &format!("10.{i}.0.1")))
            .collect();
        let r = assess(&ScopeInput::new(&members));
        let calm = eclipse_risk(&r.groups, false);
        assert!((calm - 0.2).abs() < 1e-12, "{calm}");
        assert_eq!(eclipse_risk(&r.groups, true), 1.0);
    }

    #[test]
    fn age_and_origin_are_summarised() {
        let mut members: Vec<Member> = (0..4u8)
            .map(|i| member(i, &format!("10.{i}.0.1")))
            .collect();
        for (i, m) in members.iter_mut().enumerate() {
            m.age = Some(Duration::from_secs(10 * (i as u64 + 1)));
            m.unsolicited = Some(i == 0);
        }
        let r = assess(&ScopeInput::new(&members));
        assert_eq!(r.median_entry_age_seconds, Some(25.0));
        assert_eq!(r.unsolicited_insertion_ratio, Some(0.25));
    }
}

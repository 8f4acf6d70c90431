//! Eclipse-risk numbers of each victim, computed by the harness with the
//! `discguard_risk` estimators (the ones discguard exports) from what every
//! victim shows — its discv5 k-buckets, its view, the peers it serves — and
//! the harness's own record of every node's groups. The same code runs on
//! every victim, so the plain discv5 baselines, which export nothing, are
//! measured exactly as discguard is.

use std::collections::HashMap;
use std::net::IpAddr;

use discguard_netgroup::{NetGroup, NetGroups};
use discguard_risk::{KeyspaceConfig, Member, ScopeInput, ScopeRisk, assess};
use discguard_service::api::parse_node_id;
use discguard_service::api::{PeerInfo, TableResponse};
use enr::NodeId;
use serde::{Deserialize, Serialize};

use crate::population::{NO_ASN, Placement};

/// Groups of a placed node: its /24 and /16, and its AS (the /16 when the
/// AS is unknown, as discguard falls back without a database entry).
pub fn groups_of(p: &Placement) -> NetGroups {
    let mut g = NetGroups::prefixes_only(IpAddr::V4(p.ip));
    if p.asn != NO_ASN {
        g.asn = NetGroup::Asn(p.asn);
    }
    g
}

/// Groups per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerKind {
    /// /24.
    pub narrow: usize,
    /// /16.
    pub wide: usize,
    /// ASN.
    pub asn: usize,
}

/// The keyspace test of one set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyspaceSummary {
    /// Flagged (corrected p below α).
    pub anomalous: bool,
    /// Bonferroni-corrected p-value.
    pub p_value: f64,
    /// N̂, when the table was stocked enough to estimate it.
    pub network_size_estimate: Option<f64>,
    /// Entries above expectation in flagged buckets.
    pub excess_entries: f64,
}

/// The risk numbers of one set of one victim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeSummary {
    /// Members.
    pub peers: usize,
    /// The headline `eclipse_risk` in [0, 1].
    pub eclipse_risk: f64,
    /// Fewest groups holding a majority, per kind.
    pub groups_to_majority: PerKind,
    /// `e^H` over ASNs.
    pub effective_asns: f64,
    /// Share of the largest AS.
    pub top_asn_share: f64,
    /// HHI over ASNs.
    pub asn_hhi: f64,
    /// The keyspace test (k-bucket sets only).
    pub keyspace: Option<KeyspaceSummary>,
}

impl ScopeSummary {
    /// Whether the keyspace test ran (it needs a network-size estimate).
    pub fn tested(&self) -> bool {
        self.keyspace
            .is_some_and(|k| k.network_size_estimate.is_some())
    }

    /// Whether the keyspace test flagged the set.
    pub fn flagged(&self) -> bool {
        self.keyspace.is_some_and(|k| k.anomalous)
    }
}

impl From<&ScopeRisk> for ScopeSummary {
    fn from(r: &ScopeRisk) -> Self {
        Self {
            peers: r.peers,
            eclipse_risk: r.eclipse_risk,
            groups_to_majority: PerKind {
                narrow: r.groups.narrow.groups_to_majority,
                wide: r.groups.wide.groups_to_majority,
                asn: r.groups.asn.groups_to_majority,
            },
            effective_asns: r.groups.asn.effective_groups,
            top_asn_share: r.groups.asn.top1_share,
            asn_hhi: r.groups.asn.hhi,
            keyspace: r.keyspace.as_ref().map(|k| KeyspaceSummary {
                anomalous: k.anomalous,
                p_value: k.p_value,
                network_size_estimate: k.network_size_estimate,
                excess_entries: k.excess_entries,
            }),
        }
    }
}

/// The risk numbers of one victim at the end of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VictimRisk {
    /// discv5's own k-buckets.
    pub table: ScopeSummary,
    /// discguard's view (`null` for the baselines).
    pub view: Option<ScopeSummary>,
    /// The peers served.
    pub served: ScopeSummary,
    /// Network size implied by each of the victim's lookups towards random
    /// targets (`null`: the lookup failed or found fewer than k nodes).
    #[serde(default)]
    pub lookup_size_estimates: Vec<Option<f64>>,
}

impl VictimRisk {
    /// With the per-lookup size estimates the hint came from.
    pub fn with_lookup_sizes(self, sizes: Vec<Option<f64>>) -> Self {
        Self {
            lookup_size_estimates: sizes,
            ..self
        }
    }
}

/// Computes a victim's risk from its `/v1/table` and served peers. `local`
/// is the victim's node ID; `placed` the groups of every node the harness
/// started (others, such as other victims, are grouped by their address);
/// `size_hint` the network size the victim's own lookups towards random
/// targets imply (`discguard_risk::network_size_from_lookups`).
pub fn victim_risk(
    local: &NodeId,
    table: &TableResponse,
    has_view: bool,
    served: &[PeerInfo],
    placed: &HashMap<NodeId, Placement>,
    size_hint: Option<f64>,
) -> VictimRisk {
    let member = |hex: &str, ip: Option<IpAddr>| -> Option<Member> {
        let id = parse_node_id(hex)?;
        let groups = match placed.get(&id) {
            Some(p) => groups_of(p),
            None => NetGroups::prefixes_only(ip?),
        };
        Some(Member::new(id.raw(), groups))
    };
    let ip_of = |socket: &str| socket.parse::<std::net::SocketAddr>().ok().map(|s| s.ip());
    let discv5: Vec<Member> = table
        .discv5_buckets
        .iter()
        .flat_map(|b| &b.entries)
        .filter_map(|e| member(&e.node_id, ip_of(&e.socket)))
        .collect();
    let view: Vec<Member> = table
        .buckets
        .iter()
        .flat_map(|b| &b.entries)
        .filter_map(|e| member(&e.node_id, ip_of(&e.socket)))
        .collect();
    let served: Vec<Member> = served
        .iter()
        .filter_map(|p| member(&p.node_id, p.ip.parse().ok()))
        .collect();
    let keyspace = Some((local.raw(), KeyspaceConfig::default()));
    let table_risk = assess(&ScopeInput {
        keyspace,
        network_size_hint: size_hint,
        ..ScopeInput::new(&discv5)
    });
    let view_risk = has_view.then(|| {
        assess(&ScopeInput {
            keyspace,
            network_size_hint: size_hint,
            ..ScopeInput::new(&view)
        })
    });
    VictimRisk {
        table: (&table_risk).into(),
        view: view_risk.as_ref().map(Into::into),
        served: (&assess(&ScopeInput::new(&served))).into(),
        lookup_size_estimates: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_as_falls_back_to_the_slash16() {
        let p = Placement {
            ip: "127.5.6.7".parse().unwrap(),
            asn: NO_ASN,
        };
        assert_eq!(groups_of(&p).asn, groups_of(&p).wide);
        let p = Placement { asn: 64_512, ..p };
        assert_eq!(groups_of(&p).asn, NetGroup::Asn(64_512));
    }
}

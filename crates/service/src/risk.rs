//! The service's eclipse-risk bookkeeping: what the pure `discguard_risk`
//! estimators need that only the running service sees — removals over time,
//! the set last served, recent lookups, policy counts — and the gauges that
//! export the result (`docs/risk.md`, `docs/metrics.md`).
//!
//! Everything here is bounded: two turnover logs of at most
//! [`discguard_risk::churn::TURNOVER_CAPACITY`] instants, the last served set
//! (at most the largest `/v1/peers` limit), [`RECENT_LOOKUPS`] lookup
//! summaries, and counters keyed by the policy's fixed reason labels.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use discguard_netgroup::{GroupKind, NetGroups};
use discguard_policy::NodeId as RawId;
use discguard_risk::{
    KeyspaceConfig, LookupAnomaly, Member, ScopeRisk, Turnover, combine_lookups, diversity_ratio,
    estimates_network_size, lookup_anomaly, network_size_from_lookup, network_size_from_lookups,
};
use parking_lot::Mutex;

use crate::api::{KindValues, LookupRisk};
use crate::metrics as m;

/// Successful lookups whose results are summarised in `/v1/risk`.
pub(crate) const RECENT_LOOKUPS: usize = 16;

/// What one successful lookup showed.
struct LookupRecord {
    diversity: Option<KindValues>,
    anomaly: Option<LookupAnomaly>,
}

/// Which set a removal left.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    View,
    Table,
}

/// Risk bookkeeping of one service.
#[derive(Default)]
pub(crate) struct RiskTracker {
    view_turnover: Mutex<Turnover>,
    table_turnover: Mutex<Turnover>,
    /// The last served set: each peer with the time it entered the view.
    served: Mutex<Option<Vec<(Member, Instant)>>>,
    lookups: Mutex<VecDeque<LookupRecord>>,
    /// N̂ of discv5's table at the last report, for the lookup test.
    network_size: Mutex<Option<f64>>,
    /// Network sizes implied by recent lookups towards targets far from our
    /// own ID, for the table test (at most [`RECENT_LOOKUPS`]).
    lookup_sizes: Mutex<VecDeque<f64>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    evictions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Group labels published in the top-five gauges, per scope and kind,
    /// so that a group leaving the top five reads 0.
    published_top: Mutex<BTreeMap<(&'static str, &'static str), Vec<String>>>,
}

/// Mean of `values`, `None` for none.
fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl RiskTracker {
    /// `n` entries left `scope` at `now`.
    pub(crate) fn removed(&self, scope: Scope, now: Instant, n: usize) {
        match scope {
            Scope::View => self.view_turnover.lock().record(now, n),
            Scope::Table => self.table_turnover.lock().record(now, n),
        }
    }

    /// The view refused an admission.
    pub(crate) fn rejected(&self, reason: &'static str) {
        *self.rejections.lock().entry(reason).or_default() += 1;
    }

    /// An entry was removed from `table` (`view` or `discv5`).
    pub(crate) fn evicted(&self, table: &'static str, reason: &'static str) {
        *self.evictions.lock().entry((table, reason)).or_default() += 1;
    }

    /// The peers just served, with the time each entered the view.
    pub(crate) fn served(&self, peers: Vec<(Member, Instant)>) {
        *self.served.lock() = Some(peers);
    }

    /// A lookup towards `target` succeeded with `found`; it estimates the
    /// network size when `discguard_risk::estimates_network_size` says so.
    /// `standard`: the lookup asked the standard distances towards the
    /// target (`off`), so its results are the target's neighbourhood; a
    /// `blur` or `prefix` lookup's are not (a `prefix` lookup searches a
    /// random key), and would bias the estimate and the keyspace test.
    pub(crate) fn looked_up(
        &self,
        local: &RawId,
        target: &RawId,
        found: &[(RawId, NetGroups)],
        config: &KeyspaceConfig,
        standard: bool,
    ) {
        if standard
            && estimates_network_size(local, target)
            && let Some(n) =
                network_size_from_lookup(target, found.iter().map(|(id, _)| id), config.bucket_size)
        {
            let mut sizes = self.lookup_sizes.lock();
            if sizes.len() == RECENT_LOOKUPS {
                sizes.pop_front();
            }
            sizes.push_back(n);
        }
        let diversity = (!found.is_empty()).then(|| {
            let ratio = |kind: GroupKind| diversity_ratio(found.iter().map(|(_, g)| g.get(kind)));
            KindValues {
                narrow: ratio(GroupKind::Narrow),
                wide: ratio(GroupKind::Wide),
                asn: ratio(GroupKind::Asn),
            }
        });
        let anomaly = self
            .network_size
            .lock()
            .filter(|_| standard)
            .map(|n_hat| lookup_anomaly(target, found.iter().map(|(id, _)| id), n_hat, config));
        let mut lookups = self.lookups.lock();
        if lookups.len() == RECENT_LOOKUPS {
            lookups.pop_front();
        }
        lookups.push_back(LookupRecord { diversity, anomaly });
    }

    /// Removals per hour from `scope`, observed since `started`.
    pub(crate) fn turnover(&self, scope: Scope, now: Instant, started: Instant) -> f64 {
        match scope {
            Scope::View => self.view_turnover.lock().per_hour(now, started),
            Scope::Table => self.table_turnover.lock().per_hour(now, started),
        }
    }

    /// The last served set with ages as of `now`.
    pub(crate) fn served_members(&self, now: Instant) -> Option<Vec<Member>> {
        self.served.lock().as_ref().map(|peers| {
            peers
                .iter()
                .map(|(m, since)| Member {
                    age: Some(now.saturating_duration_since(*since)),
                    ..*m
                })
                .collect()
        })
    }

    /// The network size implied by recent lookups (upper quartile), once three
    /// lookups gave one.
    pub(crate) fn lookup_network_size(&self) -> Option<f64> {
        let sizes = self.lookup_sizes.lock();
        (sizes.len() >= 3)
            .then(|| network_size_from_lookups(sizes.iter().copied()))
            .flatten()
    }

    /// The table's network-size estimate, when it has one.
    pub(crate) fn table_network_size(&self) -> Option<f64> {
        *self.network_size.lock()
    }

    /// Remembers the table's network-size estimate for the lookup test.
    pub(crate) fn set_network_size(&self, n_hat: Option<f64>) {
        *self.network_size.lock() = n_hat;
    }

    /// Summary of recent lookups.
    pub(crate) fn lookup_risk(&self, seconds_since_success: Option<u64>, alpha: f64) -> LookupRisk {
        let lookups = self.lookups.lock();
        let with = |f: fn(&KindValues) -> f64| {
            mean(lookups.iter().filter_map(|l| l.diversity.as_ref().map(f)))
        };
        let diversity = with(|d| d.narrow).map(|narrow| KindValues {
            narrow,
            wide: with(|d| d.wide).unwrap_or(0.0),
            asn: with(|d| d.asn).unwrap_or(0.0),
        });
        LookupRisk {
            recent: lookups.len(),
            seconds_since_success,
            diversity,
            keyspace: combine_lookups(lookups.iter().filter_map(|l| l.anomaly.as_ref()), alpha),
        }
    }

    /// Rejections since start, by reason.
    pub(crate) fn rejection_counts(&self) -> BTreeMap<String, u64> {
        self.rejections
            .lock()
            .iter()
            .map(|(r, n)| ((*r).to_owned(), *n))
            .collect()
    }

    /// Evictions since start, by table and reason.
    pub(crate) fn eviction_counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((table, reason), n) in self.evictions.lock().iter() {
            out.entry((*table).to_owned())
                .or_default()
                .insert((*reason).to_owned(), *n);
        }
        out
    }

    /// Sets every risk gauge of one scope.
    pub(crate) fn publish_scope(&self, scope: &'static str, risk: &ScopeRisk) {
        metrics::gauge!(m::ECLIPSE_RISK, "scope" => scope).set(risk.eclipse_risk);
        metrics::gauge!(m::RISK_PEERS, "scope" => scope).set(risk.peers as f64);
        for (kind, stats) in risk.groups.iter() {
            let kind = kind.as_str();
            let labels = [("scope", scope), ("kind", kind)];
            metrics::gauge!(m::RISK_ENTROPY, &labels).set(stats.entropy_nats);
            metrics::gauge!(m::RISK_EFFECTIVE_GROUPS, &labels).set(stats.effective_groups);
            metrics::gauge!(m::RISK_NORMALIZED_ENTROPY, &labels).set(stats.normalized_entropy);
            metrics::gauge!(m::RISK_DISTINCT_GROUPS, &labels).set(stats.distinct as f64);
            metrics::gauge!(m::RISK_TOP_SHARE, &labels).set(stats.top1_share);
            metrics::gauge!(m::RISK_TOP5_SHARE, &labels).set(stats.top5_share);
            metrics::gauge!(m::RISK_HHI, &labels).set(stats.hhi);
            metrics::gauge!(m::RISK_GROUPS_TO_MAJORITY, &labels)
                .set(stats.groups_to_majority as f64);
            if let Some(pressure) = stats.cap_pressure {
                metrics::gauge!(m::RISK_CAP_PRESSURE, &labels).set(pressure);
            }
            let now: Vec<String> = stats.top.iter().map(|g| g.group.clone()).collect();
            let mut published = self.published_top.lock();
            let before = published.entry((scope, kind)).or_default();
            for gone in before.iter().filter(|g| !now.contains(g)) {
                metrics::gauge!(m::RISK_TOP_GROUP_ENTRIES, "scope" => scope, "kind" => kind, "group" => gone.clone())
                    .set(0.0);
            }
            for g in &stats.top {
                metrics::gauge!(m::RISK_TOP_GROUP_ENTRIES, "scope" => scope, "kind" => kind, "group" => g.group.clone())
                    .set(g.count as f64);
            }
            *before = now;
        }
        if let Some(k) = &risk.keyspace {
            metrics::gauge!(m::RISK_KEYSPACE_ANOMALY, "scope" => scope).set(if k.anomalous {
                1.0
            } else {
                0.0
            });
            metrics::gauge!(m::RISK_KEYSPACE_P_VALUE, "scope" => scope).set(k.p_value);
            metrics::gauge!(m::RISK_NETWORK_SIZE, "scope" => scope)
                .set(k.network_size_estimate.unwrap_or(0.0));
        }
        if let Some(r) = risk.unsolicited_insertion_ratio {
            metrics::gauge!(m::RISK_UNSOLICITED, "scope" => scope).set(r);
        }
        metrics::gauge!(m::RISK_MEDIAN_AGE, "scope" => scope)
            .set(risk.median_entry_age_seconds.unwrap_or(0.0));
        if let Some(t) = risk.turnover_per_hour {
            metrics::gauge!(m::RISK_TURNOVER, "scope" => scope).set(t);
        }
    }

    /// Sets the lookup gauges.
    pub(crate) fn publish_lookups(&self, lookups: &LookupRisk) {
        if let Some(d) = &lookups.diversity {
            for (kind, v) in [("narrow", d.narrow), ("wide", d.wide), ("asn", d.asn)] {
                metrics::gauge!(m::RISK_LOOKUP_DIVERSITY, "kind" => kind).set(v);
            }
        }
        let k = &lookups.keyspace;
        metrics::gauge!(m::RISK_KEYSPACE_ANOMALY, "scope" => "lookup").set(if k.anomalous {
            1.0
        } else {
            0.0
        });
        metrics::gauge!(m::RISK_KEYSPACE_P_VALUE, "scope" => "lookup").set(k.p_value);
        metrics::gauge!(m::RISK_KEYSPACE_DIVERGENCE, "scope" => "lookup").set(k.divergence_nats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(ip: &str) -> NetGroups {
        NetGroups::prefixes_only(ip.parse().unwrap())
    }

    /// Only standard (`off`) lookups estimate the network size: a `prefix`
    /// lookup's results sit around a random key, not the target.
    #[test]
    fn only_standard_lookups_estimate_the_network_size() {
        let tracker = RiskTracker::default();
        let config = KeyspaceConfig::default();
        // 16 results sharing 4 bits with the target: about 16 × 2^4 nodes.
        let found: Vec<(RawId, NetGroups)> = (0..16u8)
            .map(|i| {
                let mut id = [0u8; 32];
                id[0] = 0x08 | (i >> 1);
                id[1] = i;
                (id, groups("10.0.0.1"))
            })
            .collect();
        let target = [0u8; 32];
        let local = [0xff; 32];
        for _ in 0..5 {
            tracker.looked_up(&local, &target, &found, &config, false);
        }
        assert_eq!(tracker.lookup_network_size(), None);
        for _ in 0..5 {
            tracker.looked_up(&local, &target, &found, &config, true);
        }
        assert!(tracker.lookup_network_size().is_some_and(|n| n > 16.0));
    }

    #[test]
    fn lookups_are_bounded_and_summarised() {
        let tracker = RiskTracker::default();
        let config = KeyspaceConfig::default();
        let found = [
            ([1u8; 32], groups("10.0.0.1")),
            ([2u8; 32], groups("10.0.0.2")),
        ];
        for _ in 0..RECENT_LOOKUPS + 5 {
            tracker.looked_up(&[0xff; 32], &[0u8; 32], &found, &config, true);
        }
        let risk = tracker.lookup_risk(Some(3), config.alpha);
        assert_eq!(risk.recent, RECENT_LOOKUPS);
        // Two results in one /24 and /16: half a group per result.
        assert_eq!(risk.diversity.unwrap().narrow, 0.5);
        // No network-size estimate yet: nothing tested, nothing flagged.
        assert_eq!(risk.keyspace.tested, 0);
        assert!(!risk.keyspace.anomalous);
    }

    #[test]
    fn counts_by_reason() {
        let tracker = RiskTracker::default();
        tracker.rejected("bucket_full");
        tracker.rejected("bucket_full");
        tracker.evicted("discv5", "table_cap_narrow");
        assert_eq!(tracker.rejection_counts()["bucket_full"], 2);
        assert_eq!(tracker.eviction_counts()["discv5"]["table_cap_narrow"], 1);
    }
}

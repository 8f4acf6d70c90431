//! Prometheus metrics, recorded through the `metrics` facade.
//!
//! Names follow `discguard_<noun>_<unit>` (`_total` for counters, `_seconds`
//! for durations); each is described with help text and unit in
//! [`describe`]. The node installs the exporter; pure crates know nothing
//! of this module. See `docs/metrics.md` for the reference.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Entries in the curated view.
pub const VIEW_ENTRIES: &str = "discguard_view_entries";
/// Entries in the curated view, per k-bucket (label `bucket` = log-distance).
pub const VIEW_BUCKET_ENTRIES: &str = "discguard_view_bucket_entries";
/// Entries in discv5's own routing table.
pub const TABLE_ENTRIES: &str = "discguard_table_entries";
/// Entries in discv5's table, per k-bucket (label `bucket`).
pub const TABLE_BUCKET_ENTRIES: &str = "discguard_table_bucket_entries";
/// Distinct network groups in the view (label `kind`).
pub const VIEW_GROUPS: &str = "discguard_view_groups";
/// Share of the view held by its largest group (label `kind`).
pub const VIEW_TOP_GROUP_SHARE: &str = "discguard_view_top_group_share_ratio";
/// Admissions refused by the diversity policy (labels `table`, `reason`).
pub const POLICY_REJECTIONS: &str = "discguard_policy_rejections_total";
/// Entries removed by the diversity policy or liveness checks (labels `table`, `reason`).
pub const POLICY_EVICTIONS: &str = "discguard_policy_evictions_total";
/// Admissions into a table (label `table`).
pub const ADMISSIONS: &str = "discguard_admissions_total";
/// discv5 sessions established.
pub const SESSIONS_ESTABLISHED: &str = "discguard_sessions_established_total";
/// discv5 sessions expired.
pub const SESSIONS_EXPIRED: &str = "discguard_sessions_expired_total";
/// Nodes with an active discv5 session.
pub const CONNECTED_PEERS: &str = "discguard_connected_peers";
/// Lookups run (label `outcome`).
pub const LOOKUPS: &str = "discguard_lookups_total";
/// Lookup duration.
pub const LOOKUP_DURATION: &str = "discguard_lookup_duration_seconds";
/// Nodes returned by a lookup.
pub const LOOKUP_RESULTS: &str = "discguard_lookup_result_nodes";
/// FINDNODE requests lookups sent (labels `lookup`: real or cover;
/// `outcome`: ok, timeout or error).
pub const LOOKUP_QUERIES: &str = "discguard_lookup_queries_total";
/// Candidate ENRs (label `outcome`: queued, dropped_queue_full, rejected_static, rejected_policy, verified, unreachable).
pub const CANDIDATES: &str = "discguard_candidates_total";
/// PINGs sent (labels `purpose`: verify or liveness; `outcome`: ok or failed).
pub const PINGS: &str = "discguard_pings_total";
/// Nodes banned in discv5 (label `reason`).
pub const BANS: &str = "discguard_bans_total";
/// 1 when an ASN database is loaded, 0 when the ASN group falls back to /16 and /32.
pub const ASN_DATABASE_LOADED: &str = "discguard_asn_database_loaded";
/// Ranges or records in the loaded ASN database.
pub const ASN_DATABASE_ENTRIES: &str = "discguard_asn_database_entries";
/// Peers in the last answer to the consensus client.
pub const SERVED_PEERS: &str = "discguard_served_peers";

/// Unix time of the last successful lookup (the start time until the first).
pub const LOOKUP_LAST_SUCCESS: &str = "discguard_lookup_last_success_timestamp_seconds";

// Eclipse risk (see `docs/risk.md`). Label `scope`: `table` (discv5's
// k-buckets), `view`, `served`; keyspace gauges also `lookup`. Label `kind`:
// `narrow`, `wide`, `asn`.

/// Headline eclipse risk in `[0, 1]` (label `scope`).
pub const ECLIPSE_RISK: &str = "discguard_eclipse_risk";
/// Peers in the scope's set (label `scope`).
pub const RISK_PEERS: &str = "discguard_risk_peers";
/// Group entropy in nats (labels `scope`, `kind`).
pub const RISK_ENTROPY: &str = "discguard_risk_group_entropy_nats";
/// Effective groups e^H (labels `scope`, `kind`).
pub const RISK_EFFECTIVE_GROUPS: &str = "discguard_risk_effective_groups";
/// H / ln|S| (labels `scope`, `kind`).
pub const RISK_NORMALIZED_ENTROPY: &str = "discguard_risk_normalized_entropy_ratio";
/// Distinct groups (labels `scope`, `kind`).
pub const RISK_DISTINCT_GROUPS: &str = "discguard_risk_distinct_groups";
/// Share of the largest group (labels `scope`, `kind`).
pub const RISK_TOP_SHARE: &str = "discguard_risk_top_group_share_ratio";
/// Share of the five largest groups (labels `scope`, `kind`).
pub const RISK_TOP5_SHARE: &str = "discguard_risk_top5_share_ratio";
/// Herfindahl–Hirschman index (labels `scope`, `kind`).
pub const RISK_HHI: &str = "discguard_risk_hhi_ratio";
/// Fewest groups holding a majority (labels `scope`, `kind`).
pub const RISK_GROUPS_TO_MAJORITY: &str = "discguard_risk_groups_to_majority";
/// Share of groups at their table cap (labels `scope`, `kind`).
pub const RISK_CAP_PRESSURE: &str = "discguard_risk_cap_pressure_ratio";
/// Entries of the five largest groups (labels `scope`, `kind`, `group`).
pub const RISK_TOP_GROUP_ENTRIES: &str = "discguard_risk_top_group_entries";
/// 1 when the keyspace test flags mined node IDs (label `scope`).
pub const RISK_KEYSPACE_ANOMALY: &str = "discguard_risk_keyspace_anomaly";
/// Bonferroni-corrected p-value of the keyspace test (label `scope`).
pub const RISK_KEYSPACE_P_VALUE: &str = "discguard_risk_keyspace_p_value";
/// KL divergence of lookups' CPL histogram from its expectation (label `scope`).
pub const RISK_KEYSPACE_DIVERGENCE: &str = "discguard_risk_keyspace_divergence_nats";
/// Network size estimated from the far buckets (label `scope`).
pub const RISK_NETWORK_SIZE: &str = "discguard_risk_network_size_estimate";
/// Share of entries that came from inbound contact (label `scope`).
pub const RISK_UNSOLICITED: &str = "discguard_risk_unsolicited_insertion_ratio";
/// Median entry age (label `scope`).
pub const RISK_MEDIAN_AGE: &str = "discguard_risk_median_entry_age_seconds";
/// Removals per hour (label `scope`).
pub const RISK_TURNOVER: &str = "discguard_risk_turnover_per_hour";
/// Distinct groups per result in recent lookups (label `kind`).
pub const RISK_LOOKUP_DIVERSITY: &str = "discguard_risk_lookup_diversity_ratio";

/// Events that moved a behaviour score (label `event`).
pub const SCORE_EVENTS: &str = "discguard_score_events_total";
/// IPs banned in discv5 because several banned peers share them.
pub const IP_BANS: &str = "discguard_ip_bans_total";
/// View entries with a score at or below `at_most` (label): the scores at the
/// last liveness tick as a cumulative distribution, in gauges (not named
/// `_bucket` nor labelled `le`: promtool reserves both for histograms, and these are a
/// snapshot, not observations).
pub const PEER_SCORES: &str = "discguard_peer_scores";
/// Peers with a score or a ban on the scoreboard (bounded).
pub const SCORED_PEERS: &str = "discguard_scored_peers";
/// Peers banned right now.
pub const BANNED_PEERS: &str = "discguard_banned_peers";
/// Answer probes (FINDNODE to a view entry); label outcome.
pub const PROBES: &str = "discguard_probes_total";
/// Bans by discv5's packet filter seen in its log
/// (`crate::filter_bans`); label kind is `node` or `ip`, outcome is
/// `scored` (it names one known node, which got `packet_filter_ban`),
/// `unknown` (no known node) or `ambiguous` (several).
pub const PACKET_FILTER_BANS: &str = "discguard_packet_filter_bans_total";
/// Upper bounds of [`PEER_SCORES`]: the thresholds and a few steps
/// between (`docs/scoring.md`).
pub const SCORE_BUCKETS: [i32; 10] = [-100, -50, -40, -20, -10, -5, 0, 5, 10, 20];

/// Describes every metric (help text and unit). Call once after installing
/// a recorder.
pub fn describe() {
    describe_gauge!(
        VIEW_ENTRIES,
        Unit::Count,
        "Entries in the curated view (nodes that answered us, admitted by the diversity policy)."
    );
    describe_gauge!(
        VIEW_BUCKET_ENTRIES,
        Unit::Count,
        "Entries in the curated view per k-bucket; label bucket is the log-distance from the local node ID."
    );
    describe_gauge!(
        TABLE_ENTRIES,
        Unit::Count,
        "Entries in discv5's own routing table (answers other nodes' FINDNODE)."
    );
    describe_gauge!(
        TABLE_BUCKET_ENTRIES,
        Unit::Count,
        "Entries in discv5's routing table per k-bucket; label bucket is the log-distance."
    );
    describe_gauge!(
        VIEW_GROUPS,
        Unit::Count,
        "Distinct network groups in the curated view; label kind is narrow (/24, /48), wide (/16, /32) or asn."
    );
    describe_gauge!(
        VIEW_TOP_GROUP_SHARE,
        "Share of the curated view held by its largest network group of the given kind, in [0,1]."
    );
    describe_counter!(
        POLICY_REJECTIONS,
        Unit::Count,
        "Admissions refused by the diversity policy; label table is view or discv5, reason the cap that bound."
    );
    describe_counter!(
        POLICY_EVICTIONS,
        Unit::Count,
        "Entries removed from a table by the diversity policy, its audit, or liveness checks; labels table and reason."
    );
    describe_counter!(
        ADMISSIONS,
        Unit::Count,
        "Nodes admitted into a table; label table is view or discv5."
    );
    describe_counter!(
        SESSIONS_ESTABLISHED,
        Unit::Count,
        "discv5 sessions established (handshakes completed, either direction)."
    );
    describe_counter!(
        SESSIONS_EXPIRED,
        Unit::Count,
        "discv5 sessions removed from the session cache for inactivity."
    );
    describe_gauge!(
        CONNECTED_PEERS,
        Unit::Count,
        "Nodes with an active discv5 session."
    );
    describe_counter!(
        LOOKUPS,
        Unit::Count,
        "Iterative FINDNODE lookups run; label outcome is ok or error."
    );
    describe_histogram!(
        LOOKUP_DURATION,
        Unit::Seconds,
        "Duration of iterative FINDNODE lookups."
    );
    describe_histogram!(
        LOOKUP_RESULTS,
        Unit::Count,
        "Nodes returned by one iterative lookup."
    );
    describe_counter!(
        LOOKUP_QUERIES,
        Unit::Count,
        "FINDNODE requests sent by lookups; label lookup is real or cover (dummy lookups of cover mode), outcome ok, timeout or error."
    );
    describe_counter!(
        CANDIDATES,
        Unit::Count,
        "Candidate ENRs seen by the verifier; label outcome says what became of them."
    );
    describe_counter!(
        PINGS,
        Unit::Count,
        "PINGs sent; label purpose is verify (candidate) or liveness (view entry), outcome ok or failed."
    );
    describe_counter!(
        BANS,
        Unit::Count,
        "Nodes banned in discv5; label reason (a cap for repeat cap breakers, else the score event that crossed the ban threshold)."
    );
    describe_counter!(
        SCORE_EVENTS,
        Unit::Count,
        "Behaviour events that moved a peer's score; label event (docs/scoring.md)."
    );
    describe_counter!(
        IP_BANS,
        Unit::Count,
        "IPs banned in discv5 because more than 5 banned peers share them."
    );
    describe_gauge!(
        PEER_SCORES,
        Unit::Count,
        "View entries with a score at or below at_most (cumulative distribution of the view's scores, refreshed every liveness tick)."
    );
    describe_gauge!(
        SCORED_PEERS,
        Unit::Count,
        "Peers on the scoreboard (nonzero score or ban; bounded)."
    );
    describe_gauge!(BANNED_PEERS, Unit::Count, "Peers banned right now.");
    describe_counter!(
        PROBES,
        Unit::Count,
        "FINDNODE probes of view entries whose answers are scored; label outcome is ok, timeout or error."
    );
    describe_counter!(
        PACKET_FILTER_BANS,
        Unit::Count,
        "Bans by discv5's packet filter (request rate); label kind is node or ip, outcome is scored, unknown or ambiguous."
    );
    describe_gauge!(
        ASN_DATABASE_LOADED,
        "1 when an ASN database is loaded; 0 when ASN groups fall back to the IPv4 /16 or IPv6 /32."
    );
    describe_gauge!(
        ASN_DATABASE_ENTRIES,
        Unit::Count,
        "Ranges or records in the loaded ASN database."
    );
    describe_gauge!(
        SERVED_PEERS,
        Unit::Count,
        "Peers in the last answer given to the consensus client."
    );
    describe_gauge!(
        LOOKUP_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful lookup; the process start time until the first."
    );
    describe_risk();
}

/// `reason` labels of the group caps, per bucket and per table, by kind: the
/// labels `reason_label` gives a cap rejection (rejections, evictions and
/// bans use the same ones).
pub const CAP_REASONS: [&str; 6] = [
    "bucket_cap_narrow",
    "bucket_cap_wide",
    "bucket_cap_asn",
    "table_cap_narrow",
    "table_cap_wide",
    "table_cap_asn",
];

/// Registers the labelled counters at zero for every label value known in
/// advance, so that dashboards and alert rules see a series (and `rate()`
/// a starting point) before the first event (Prometheus instrumentation
/// guidelines: "avoid missing metrics").
pub fn register_zeroes() {
    for outcome in ["ok", "error"] {
        metrics::counter!(LOOKUPS, "outcome" => outcome).increment(0);
    }
    for lookup in ["real", "cover"] {
        for outcome in ["ok", "timeout", "error"] {
            metrics::counter!(LOOKUP_QUERIES, "lookup" => lookup, "outcome" => outcome)
                .increment(0);
        }
    }
    for reason in CAP_REASONS.into_iter().chain(["bucket_full"]) {
        metrics::counter!(POLICY_REJECTIONS, "table" => "view", "reason" => reason).increment(0);
    }
    for reason in [
        "diversity",
        "unresponsive",
        "address_changed",
        "fork_digest",
    ] {
        metrics::counter!(POLICY_EVICTIONS, "table" => "view", "reason" => reason).increment(0);
    }
    for reason in ["score", "banned"] {
        metrics::counter!(POLICY_EVICTIONS, "table" => "view", "reason" => reason).increment(0);
    }
    for event in discguard_scoring::Event::ALL {
        metrics::counter!(SCORE_EVENTS, "event" => event.as_str()).increment(0);
        if event.class() == discguard_scoring::Class::Malice {
            metrics::counter!(BANS, "reason" => event.as_str()).increment(0);
        }
    }
    metrics::counter!(IP_BANS).increment(0);
    for outcome in ["ok", "timeout", "error"] {
        metrics::counter!(PROBES, "outcome" => outcome).increment(0);
    }
    for kind in ["node", "ip"] {
        for outcome in ["scored", "unknown", "ambiguous"] {
            metrics::counter!(PACKET_FILTER_BANS, "kind" => kind, "outcome" => outcome)
                .increment(0);
        }
    }
    for table in ["view", "discv5"] {
        metrics::counter!(ADMISSIONS, "table" => table).increment(0);
    }
    for outcome in [
        "queued",
        "dropped_queue_full",
        "rejected_static",
        "rejected_policy",
        "rejected_score",
        "already_in_view",
        "tried_recently",
        "verified",
        "unreachable",
    ] {
        metrics::counter!(CANDIDATES, "outcome" => outcome).increment(0);
    }
    for purpose in ["verify", "liveness"] {
        for outcome in ["ok", "failed"] {
            metrics::counter!(PINGS, "purpose" => purpose, "outcome" => outcome).increment(0);
        }
    }
    for reason in CAP_REASONS.into_iter().chain(["group_cap"]) {
        metrics::counter!(POLICY_EVICTIONS, "table" => "discv5", "reason" => reason).increment(0);
        metrics::counter!(BANS, "reason" => reason).increment(0);
    }
    metrics::counter!(SESSIONS_ESTABLISHED).increment(0);
    metrics::counter!(SESSIONS_EXPIRED).increment(0);
}

fn describe_risk() {
    const SCOPE: &str = "; label scope is table (discv5's k-buckets), view or served";
    const KIND: &str = ", kind is narrow (/24, /48), wide (/16, /32) or asn";
    describe_gauge!(
        ECLIPSE_RISK,
        format!(
            "Eclipse risk in [0,1]: max(1/groups to majority of the most concentrated kind, keyspace anomaly){SCOPE}."
        )
    );
    describe_gauge!(RISK_PEERS, Unit::Count, format!("Peers in the set{SCOPE}."));
    describe_gauge!(
        RISK_ENTROPY,
        format!("Shannon entropy of the group shares, in nats{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_EFFECTIVE_GROUPS,
        format!("Effective groups e^H{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_NORMALIZED_ENTROPY,
        format!("Group entropy over its maximum, H / ln|S|, in [0,1]{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_DISTINCT_GROUPS,
        Unit::Count,
        format!("Distinct groups{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_TOP_SHARE,
        format!("Share of the set held by its largest group{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_TOP5_SHARE,
        format!("Share of the set held by its five largest groups{SCOPE}{KIND}.")
    );
    describe_gauge!(
        RISK_HHI,
        format!(
            "Herfindahl-Hirschman index of the group shares, sum of squared shares{SCOPE}{KIND}."
        )
    );
    describe_gauge!(
        RISK_GROUPS_TO_MAJORITY,
        Unit::Count,
        format!(
            "Fewest groups that together hold more than half of the set (low is dangerous; 0 when empty){SCOPE}{KIND}."
        )
    );
    describe_gauge!(
        RISK_CAP_PRESSURE,
        format!("Share of groups at their per-table cap{SCOPE} (table or view){KIND}.")
    );
    describe_gauge!(
        RISK_TOP_GROUP_ENTRIES,
        Unit::Count,
        format!(
            "Entries of each of the five largest groups, label group; a group that left the top five reads 0{SCOPE}{KIND}."
        )
    );
    describe_gauge!(
        RISK_KEYSPACE_ANOMALY,
        "1 when the keyspace test flags node IDs mined close to ours (scope table or view) or to a lookup target (scope lookup), else 0."
    );
    describe_gauge!(
        RISK_KEYSPACE_P_VALUE,
        "Bonferroni-corrected p-value of the keyspace test (Poisson tails of bucket fills or lookup prefix lengths); label scope."
    );
    describe_gauge!(
        RISK_KEYSPACE_DIVERGENCE,
        "Largest KL divergence, in nats, of recent lookups' common-prefix-length histogram from its expectation; label scope is lookup."
    );
    describe_gauge!(
        RISK_NETWORK_SIZE,
        Unit::Count,
        "Network size estimated from the fill of the far buckets (0 while the table is too young); label scope is table or view."
    );
    describe_gauge!(
        RISK_UNSOLICITED,
        format!(
            "Share of entries that came from inbound contact rather than our own requests{SCOPE} (table or view)."
        )
    );
    describe_gauge!(
        RISK_MEDIAN_AGE,
        Unit::Seconds,
        format!("Median time entries have been in the set{SCOPE}.")
    );
    describe_gauge!(
        RISK_TURNOVER,
        format!("Entries removed per hour over the last hour{SCOPE} (table or view).")
    );
    describe_gauge!(
        RISK_LOOKUP_DIVERSITY,
        "Distinct groups per result in recent lookups, mean, in [0,1]; label kind."
    );
}

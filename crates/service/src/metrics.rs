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
        CANDIDATES,
        Unit::Count,
        "Candidate ENRs seen by the verifier; label outcome says what became of them."
    );
    describe_counter!(
        PINGS,
        Unit::Count,
        "PINGs sent; label purpose is verify (candidate) or liveness (view entry), outcome ok or failed."
    );
    describe_counter!(BANS, Unit::Count, "Nodes banned in discv5; label reason.");
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
}

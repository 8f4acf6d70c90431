//! What the policy says about one candidate.

use std::fmt;

use discguard_netgroup::{GroupKind, NetGroup};

use crate::NodeId;

/// The outcome of [`View::decide`](crate::View::decide) for one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Admit without removing anything: the bucket has room and every group of
    /// the candidate is under its caps.
    Admit,
    /// Admit by removing exactly the entry `evict`, which has a strictly lower
    /// rank than the candidate.
    AdmitEvicting {
        /// The node ID of the entry to remove.
        evict: NodeId,
        /// Why an entry has to go.
        reason: EvictReason,
    },
    /// Do not admit.
    Reject(RejectReason),
}

impl Decision {
    /// A stable snake_case label for metrics: `admit`, `admit_evicting` or
    /// `reject`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Admit => "admit",
            Self::AdmitEvicting { .. } => "admit_evicting",
            Self::Reject(_) => "reject",
        }
    }

    /// Whether the candidate gets in (with or without an eviction).
    pub const fn admits(&self) -> bool {
        !matches!(self, Self::Reject(_))
    }
}

/// Why a candidate is not admitted.
///
/// Bucket indices are `log_distance(local, id) - 1`, `0..=255`, as sigp
/// discv5 numbers its k-buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The candidate is the local node.
    SelfId,
    /// The candidate is already in the view.
    AlreadyPresent,
    /// The bucket holds k entries and no eviction rule applies.
    BucketFull {
        /// Bucket index, `0..=255`.
        bucket: usize,
    },
    /// The bucket already holds its cap of entries from the candidate's group
    /// of this kind, and no worse-ranked entry of that group can make room.
    BucketCap {
        /// Bucket index, `0..=255`.
        bucket: usize,
        /// Kind of the capped group.
        kind: GroupKind,
        /// The capped group.
        group: NetGroup,
    },
    /// The table already holds its cap of entries from the candidate's group
    /// of this kind, and no worse-ranked entry of that group can make room.
    TableCap {
        /// Kind of the capped group.
        kind: GroupKind,
        /// The capped group.
        group: NetGroup,
    },
}

impl RejectReason {
    /// A stable snake_case label for metrics: `self_id`, `already_present`,
    /// `bucket_full`, `bucket_cap` or `table_cap` (the group kind, when there
    /// is one, comes from [`RejectReason::kind`]).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::SelfId => "self_id",
            Self::AlreadyPresent => "already_present",
            Self::BucketFull { .. } => "bucket_full",
            Self::BucketCap { .. } => "bucket_cap",
            Self::TableCap { .. } => "table_cap",
        }
    }

    /// The kind of the capped group, for cap rejections.
    pub const fn kind(&self) -> Option<GroupKind> {
        match self {
            Self::BucketCap { kind, .. } | Self::TableCap { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SelfId => f.write_str("node is the local node"),
            Self::AlreadyPresent => f.write_str("node is already in the view"),
            Self::BucketFull { bucket } => write!(f, "bucket {bucket} is full"),
            Self::BucketCap {
                bucket,
                kind,
                group,
            } => write!(
                f,
                "bucket {bucket} is at its cap for {} group {group}",
                kind.as_str()
            ),
            Self::TableCap { kind, group } => {
                write!(f, "table is at its cap for {} group {group}", kind.as_str())
            }
        }
    }
}

/// Why [`Decision::AdmitEvicting`] removes an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvictReason {
    /// The candidate breaks this bucket cap (the first one in the order
    /// narrow, wide, ASN); the evicted entry shares every group the candidate
    /// breaks a cap of, and the bucket.
    BucketCap {
        /// Bucket index, `0..=255`.
        bucket: usize,
        /// Kind of the capped group.
        kind: GroupKind,
        /// The capped group.
        group: NetGroup,
    },
    /// The candidate breaks this table cap (and no bucket cap); the evicted
    /// entry shares every group the candidate breaks a cap of (and the bucket,
    /// when the bucket is full).
    TableCap {
        /// Kind of the capped group.
        kind: GroupKind,
        /// The capped group.
        group: NetGroup,
    },
    /// The bucket is full, the candidate breaks no cap, and `group` (an ASN
    /// group) is over-represented in the bucket: swapping its worst-ranked
    /// member for the candidate makes the bucket strictly more diverse.
    Diversity {
        /// Bucket index, `0..=255`.
        bucket: usize,
        /// The over-represented ASN group the evicted entry belongs to.
        group: NetGroup,
    },
    /// The bucket is full, the candidate breaks no cap, no group is
    /// over-represented, and the bucket's worst-ranked entry ranks strictly
    /// below the candidate: a peer with a lower behaviour score goes first.
    Score {
        /// Bucket index, `0..=255`.
        bucket: usize,
        /// Rank of the evicted entry.
        rank: i64,
    },
}

impl EvictReason {
    /// A stable snake_case label for metrics: `bucket_cap`, `table_cap`,
    /// `diversity` or `score`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::BucketCap { .. } => "bucket_cap",
            Self::TableCap { .. } => "table_cap",
            Self::Diversity { .. } => "diversity",
            Self::Score { .. } => "score",
        }
    }

    /// The kind of the group that forced the eviction.
    pub const fn kind(&self) -> GroupKind {
        match self {
            Self::BucketCap { kind, .. } | Self::TableCap { kind, .. } => *kind,
            Self::Diversity { .. } | Self::Score { .. } => GroupKind::Asn,
        }
    }
}

impl fmt::Display for EvictReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BucketCap {
                bucket,
                kind,
                group,
            } => write!(
                f,
                "bucket {bucket} is at its cap for {} group {group}",
                kind.as_str()
            ),
            Self::TableCap { kind, group } => {
                write!(f, "table is at its cap for {} group {group}", kind.as_str())
            }
            Self::Diversity { bucket, group } => {
                write!(f, "bucket {bucket} is full and over-represents {group}")
            }
            Self::Score { bucket, rank } => {
                write!(
                    f,
                    "bucket {bucket} is full and its worst entry ranks {rank}"
                )
            }
        }
    }
}

impl EvictReason {
    /// The eviction reason for a candidate whose first broken cap is `reason`.
    pub(crate) const fn for_cap(reason: RejectReason) -> Option<Self> {
        match reason {
            RejectReason::BucketCap {
                bucket,
                kind,
                group,
            } => Some(Self::BucketCap {
                bucket,
                kind,
                group,
            }),
            RejectReason::TableCap { kind, group } => Some(Self::TableCap { kind, group }),
            _ => None,
        }
    }
}

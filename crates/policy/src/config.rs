//! Policy configuration: bucket size and group caps.

use discguard_netgroup::GroupKind;

/// k: entries per k-bucket. Unit: entries.
///
/// Source: discv5 spec (k = 16), sigp discv5 `kbucket::MAX_NODES_PER_BUCKET`;
/// geth `p2p/discover` `bucketSize` is also 16.
pub const MAX_NODES_PER_BUCKET: usize = 16;

/// Default for [`PolicyConfig::bucket_size`]: [`MAX_NODES_PER_BUCKET`] (16
/// entries), so that the view's buckets hold as many nodes as the discv5
/// engine's.
pub const DEFAULT_BUCKET_SIZE: usize = MAX_NODES_PER_BUCKET;

/// Largest accepted [`PolicyConfig::bucket_size`]. Unit: entries.
///
/// Bounds the table at `256 × 64` entries and keeps the per-bucket scans of
/// [`View::decide`](crate::View::decide) short.
pub const MAX_BUCKET_SIZE: usize = 64;

/// Default for [`PolicyConfig::bucket_narrow`]: at most 2 entries per IPv4 /24
/// (IPv6 /48) in one bucket. Unit: entries.
///
/// Source: discv5 spec rationale ("2 per /24 per bucket"), geth
/// `bucketIPLimit = 2`, sigp discv5 `ip_limit`, Lighthouse. It never binds for
/// honest nodes: in 3,000 crawled mainnet ENRs the largest /24 holds 0.5%.
pub const DEFAULT_BUCKET_NARROW: usize = 2;

/// Default for [`PolicyConfig::bucket_wide`]: at most 3 entries per IPv4 /16
/// (IPv6 /32) in one bucket. Unit: entries.
///
/// Source: Bitcoin Core netgroups (/16, /32) and go-libp2p `peerdiversity`
/// (/16, 2 per common-prefix length); one more than those because a /16 is
/// larger than a /24 and cloud /16s hold several honest nodes. In the 3,000
/// crawled mainnet ENRs the largest /16 holds 1.5% of records; drawing 16-node
/// buckets from them, a cap of 3 rejects 0.004% of honest draws (a cap of 2
/// rejects 0.07%).
pub const DEFAULT_BUCKET_WIDE: usize = 3;

/// Default for [`PolicyConfig::bucket_asn`]: at most 4 entries per autonomous
/// system in one bucket, a quarter of a 16-entry bucket. Unit: entries.
///
/// Source: Bitcoin Core `-asmap`, Erebus (Tran et al., S&P 2020). Honest nodes
/// are concentrated (Amazon AS16509 holds 12.4% of Ethereum nodes, Hetzner
/// AS24940 11.4%, OVH AS16276 8.2%, Nov 2025): filling the buckets of a
/// 10,000-node network from that distribution, a cap of 4 rejects about 0.6%
/// of honest candidates, a cap of 3 about 2.4% (the `honest_cost` integration
/// test computes these).
pub const DEFAULT_BUCKET_ASN: usize = 4;

/// Default for [`PolicyConfig::table_narrow`]: at most 10 entries per IPv4 /24
/// (IPv6 /48) in the whole table. Unit: entries.
///
/// Source: discv5 spec rationale ("10 per /24 per table"), geth
/// `tableIPLimit = 10`, Lighthouse.
pub const DEFAULT_TABLE_NARROW: usize = 10;

/// Default for [`PolicyConfig::table_wide_share`]: one /16 (/32) may fill at
/// most 6.25% of a full table, i.e. 16 of [`DEFAULT_NOMINAL_TABLE_SIZE`]
/// entries. Unit: fraction.
///
/// One bucket's worth; the largest honest /16 holds 1.5% of crawled mainnet
/// ENRs, so the cap does not bind for honest nodes.
pub const DEFAULT_TABLE_WIDE_SHARE: f64 = 0.0625;

/// Default for [`PolicyConfig::table_asn_share`]: one autonomous system may
/// fill at most 10% of a full table, i.e. 26 of [`DEFAULT_NOMINAL_TABLE_SIZE`]
/// entries. Unit: fraction.
///
/// Below the largest honest ASN (Amazon AS16509, 12.4%) of a *full* table,
/// but a 10,000-node network fills only about 160 entries, where 26 entries
/// are 16%: the cap rejects about 0.02% of honest candidates (computed by the
/// `honest_cost` integration test) while a single-ASN attacker holds at most
/// 26 entries.
pub const DEFAULT_TABLE_ASN_SHARE: f64 = 0.10;

/// Default for [`PolicyConfig::nominal_table_size`]: 256 entries, the size a
/// table reaches in a network of about 16,000 nodes (16 full buckets).
///
/// Ethereum's consensus layer has about 10,000 nodes (Nebula and Armiarma
/// crawls, about 9,500), which fill 9 buckets completely and a few more
/// partly: about 160 entries.
pub const DEFAULT_NOMINAL_TABLE_SIZE: usize = 256;

/// Largest accepted [`PolicyConfig::nominal_table_size`]: 256 buckets of 16
/// entries. Unit: entries.
pub const MAX_NOMINAL_TABLE_SIZE: usize = 256 * MAX_NODES_PER_BUCKET;

/// How many nodes of one network group a view admits.
///
/// Caps apply per group kind to IPv4 and IPv6 alike: the narrow caps to an
/// IPv4 /24 or an IPv6 /48, the wide caps to an IPv4 /16 or an IPv6 /32, the
/// ASN caps to an autonomous system (or to the wide prefix when no ASN
/// database knows the address, see `discguard_netgroup::NetGroups`).
///
/// Table caps for wide prefixes and ASNs are a *share of a full table*: the
/// cap is `ceil(share × nominal_table_size)` entries, a constant that does not
/// shrink with the table. Constant caps keep the invariants simple (admitting
/// or removing one node never changes another node's standing) and give the
/// bound of design.md directly: with per-group cap `c` and an attacker holding
/// `g_A` groups, the attacker's share is at most
/// `A_max = c·g_A / (c·g_A + Σ_honest min(h_g, c))`.
///
/// Loads from TOML (unknown keys are an error, missing keys take their
/// default):
///
/// ```
/// use discguard_policy::PolicyConfig;
///
/// let config: PolicyConfig = toml::from_str("bucket_asn = 5\ntable_asn_share = 0.125\n").unwrap();
/// assert_eq!(config.bucket_asn, 5);
/// assert_eq!(config.bucket_narrow, 2);
/// config.validate().unwrap();
/// assert_eq!(config.caps().table(discguard_netgroup::GroupKind::Asn), 32);
/// ```
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// k: entries per k-bucket, `1..=`[`MAX_BUCKET_SIZE`]. Default
    /// [`DEFAULT_BUCKET_SIZE`].
    pub bucket_size: usize,
    /// Entries per IPv4 /24 or IPv6 /48 in one bucket, at least 1. Default
    /// [`DEFAULT_BUCKET_NARROW`].
    pub bucket_narrow: usize,
    /// Entries per IPv4 /16 or IPv6 /32 in one bucket, at least 1. Default
    /// [`DEFAULT_BUCKET_WIDE`].
    pub bucket_wide: usize,
    /// Entries per ASN in one bucket, at least 1. Default
    /// [`DEFAULT_BUCKET_ASN`].
    pub bucket_asn: usize,
    /// Entries per IPv4 /24 or IPv6 /48 in the table, at least 1. Default
    /// [`DEFAULT_TABLE_NARROW`].
    pub table_narrow: usize,
    /// Share of a full table one IPv4 /16 or IPv6 /32 may fill, in `(0, 1]`.
    /// Default [`DEFAULT_TABLE_WIDE_SHARE`].
    pub table_wide_share: f64,
    /// Share of a full table one ASN may fill, in `(0, 1]`. Default
    /// [`DEFAULT_TABLE_ASN_SHARE`].
    pub table_asn_share: f64,
    /// Entries in a full table, the base of the shares,
    /// `1..=`[`MAX_NOMINAL_TABLE_SIZE`]. Default
    /// [`DEFAULT_NOMINAL_TABLE_SIZE`].
    pub nominal_table_size: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            bucket_size: DEFAULT_BUCKET_SIZE,
            bucket_narrow: DEFAULT_BUCKET_NARROW,
            bucket_wide: DEFAULT_BUCKET_WIDE,
            bucket_asn: DEFAULT_BUCKET_ASN,
            table_narrow: DEFAULT_TABLE_NARROW,
            table_wide_share: DEFAULT_TABLE_WIDE_SHARE,
            table_asn_share: DEFAULT_TABLE_ASN_SHARE,
            nominal_table_size: DEFAULT_NOMINAL_TABLE_SIZE,
        }
    }
}

impl PolicyConfig {
    /// Checks every field; the error names the first bad one.
    ///
    /// A cap can be switched off in effect by setting it to `bucket_size`
    /// (bucket caps), `nominal_table_size` (`table_narrow`) or `1.0` (shares).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_BUCKET_SIZE).contains(&self.bucket_size) {
            return Err(ConfigError::BucketSize(self.bucket_size));
        }
        if !(1..=MAX_NOMINAL_TABLE_SIZE).contains(&self.nominal_table_size) {
            return Err(ConfigError::NominalTableSize(self.nominal_table_size));
        }
        for (field, value) in [
            ("bucket_narrow", self.bucket_narrow),
            ("bucket_wide", self.bucket_wide),
            ("bucket_asn", self.bucket_asn),
            ("table_narrow", self.table_narrow),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroCap { field });
            }
        }
        for (field, value) in [
            ("table_wide_share", self.table_wide_share),
            ("table_asn_share", self.table_asn_share),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(ConfigError::Share { field, value });
            }
        }
        Ok(())
    }

    /// The caps in entries, with shares turned into counts
    /// (`ceil(share × nominal_table_size)`).
    ///
    /// Pure arithmetic: an invalid config gives caps that may be 0 (every node
    /// rejected); check [`PolicyConfig::validate`] first.
    pub fn caps(&self) -> Caps {
        let share = |s: f64| (s * self.nominal_table_size as f64).ceil() as usize;
        Caps {
            bucket_size: self.bucket_size,
            bucket: [self.bucket_narrow, self.bucket_wide, self.bucket_asn],
            table: [
                self.table_narrow,
                share(self.table_wide_share),
                share(self.table_asn_share),
            ],
        }
    }
}

/// Effective caps in entries, from [`PolicyConfig::caps`].
///
/// With the defaults: bucket 16 entries; per bucket 2 per /24, 3 per /16, 4
/// per ASN; per table 10 per /24, 16 per /16, 26 per ASN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    bucket_size: usize,
    bucket: [usize; 3],
    table: [usize; 3],
}

impl Caps {
    /// k: entries per bucket.
    pub const fn bucket_size(&self) -> usize {
        self.bucket_size
    }

    /// Entries of one group of `kind` allowed in one bucket.
    pub const fn bucket(&self, kind: GroupKind) -> usize {
        self.bucket[kind_index(kind)]
    }

    /// Entries of one group of `kind` allowed in the whole table.
    pub const fn table(&self, kind: GroupKind) -> usize {
        self.table[kind_index(kind)]
    }
}

/// Position of `kind` in [`GroupKind::ALL`].
pub(crate) const fn kind_index(kind: GroupKind) -> usize {
    match kind {
        GroupKind::Narrow => 0,
        GroupKind::Wide => 1,
        GroupKind::Asn => 2,
    }
}

/// A [`PolicyConfig`] field out of range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `bucket_size` is 0 or above [`MAX_BUCKET_SIZE`].
    #[error("bucket_size = {0} is out of range 1..={max}", max = MAX_BUCKET_SIZE)]
    BucketSize(usize),
    /// `nominal_table_size` is 0 or above [`MAX_NOMINAL_TABLE_SIZE`].
    #[error("nominal_table_size = {0} is out of range 1..={max}", max = MAX_NOMINAL_TABLE_SIZE)]
    NominalTableSize(usize),
    /// A count cap is 0, which would reject every node.
    #[error("{field} = 0 would reject every node; the smallest cap is 1")]
    ZeroCap {
        /// The field's name, as in the config file.
        field: &'static str,
    },
    /// A share is not a number in `(0, 1]`.
    #[error("{field} = {value} is not a share in (0, 1]")]
    Share {
        /// The field's name, as in the config file.
        field: &'static str,
        /// The value found.
        value: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_caps() {
        let config = PolicyConfig::default();
        config.validate().unwrap();
        let caps = config.caps();
        assert_eq!(caps.bucket_size(), 16);
        assert_eq!(
            GroupKind::ALL.map(|k| caps.bucket(k)),
            [2, 3, 4],
            "per-bucket caps"
        );
        assert_eq!(
            GroupKind::ALL.map(|k| caps.table(k)),
            [10, 16, 26],
            "per-table caps"
        );
    }

    #[test]
    fn validate_names_the_field() {
        let bad = |f: fn(&mut PolicyConfig)| {
            let mut c = PolicyConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.bucket_size = 0), ConfigError::BucketSize(0));
        assert_eq!(bad(|c| c.bucket_size = 65), ConfigError::BucketSize(65));
        assert_eq!(
            bad(|c| c.nominal_table_size = 5000),
            ConfigError::NominalTableSize(5000)
        );
        assert_eq!(
            bad(|c| c.bucket_wide = 0),
            ConfigError::ZeroCap {
                field: "bucket_wide"
            }
        );
        let err = bad(|c| c.table_asn_share = 1.5);
        assert_eq!(
            err.to_string(),
            "table_asn_share = 1.5 is not a share in (0, 1]"
        );
        assert!(matches!(
            bad(|c| c.table_wide_share = f64::NAN),
            ConfigError::Share {
                field: "table_wide_share",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| c.table_wide_share = 0.0),
            ConfigError::Share {
                field: "table_wide_share",
                ..
            }
        ));
    }

    #[test]
    fn toml_rejects_unknown_keys() {
        let err = toml::from_str::<PolicyConfig>("bucket_limit = 3\n").unwrap_err();
        assert!(err.to_string().contains("bucket_limit"), "{err}");
        let empty: PolicyConfig = toml::from_str("").unwrap();
        assert_eq!(empty, PolicyConfig::default());
    }
}

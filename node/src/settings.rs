//! Node settings: defaults, then the TOML file (`--config`), then
//! `DISCGUARD_*` environment variables, then command-line flags.
//!
//! Every flag has a config key of the same name in snake_case and an
//! environment variable `DISCGUARD_<KEY>` (policy keys:
//! `DISCGUARD_POLICY__<KEY>`, e.g. `DISCGUARD_POLICY__BUCKET_NARROW=1`).
//! Layering is done by `figment`, which names the key and the source of a bad
//! value in its errors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use discguard_policy::PolicyConfig;
use discguard_service::discguard_lookup::PrivacySetting;
use discguard_service::network::Network;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// Default address of the HTTP API: loopback only, since it hands out the
/// peers the consensus client will dial.
pub const DEFAULT_HTTP_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9190);

/// Default address of the Prometheus endpoint (`/metrics`), loopback only.
pub const DEFAULT_METRICS_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9191);

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Everything `discguard` (the node) is configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Which network: mainnet, sepolia, holesky, hoodi, or none (private network).
    pub network: Network,
    /// Bootnode ENRs; replaces the network's built-in list.
    #[serde(
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub bootnodes: Option<Vec<String>>,
    /// Address the discv5 UDP socket binds to.
    pub listen_address: IpAddr,
    /// UDP port of discv5.
    pub discovery_port: u16,
    /// Address to advertise in our ENR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enr_address: Option<IpAddr>,
    /// HTTP API address.
    pub http_address: SocketAddr,
    /// Prometheus metrics address.
    pub metrics_address: SocketAddr,
    /// Data directory: node key, saved view.
    pub datadir: PathBuf,
    /// IP→ASN database (MaxMind DB or CSV/TSV ranges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn_db: Option<PathBuf>,
    /// Admit loopback and private addresses (local testnets).
    pub allow_private_addresses: bool,
    /// Accept only peers whose ENR `eth2` field carries this fork digest
    /// (`0x`-hex, 4 bytes); overrides the built-in fork schedule.
    #[serde(
        default,
        deserialize_with = "hex_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fork_digest: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `discguard=debug`.
    pub log_level: String,
    /// How long a peer banned for its behaviour stays banned, in discguard
    /// and in discv5 (`humantime` text: `1h`, `90m`).
    #[serde(with = "duration_text")]
    pub ban_duration: Duration,
    /// Half-life of the decay of behaviour scores toward 0 (`10m`).
    #[serde(with = "duration_text")]
    pub score_half_life: Duration,
    /// Period of answer probes: one FINDNODE to the view entry probed least
    /// recently, whose answer is scored (`500ms`).
    #[serde(with = "duration_text")]
    pub probe_interval: Duration,
    /// Privacy of lookups: `off`, `blur`, `prefix`, `cover`, `blur+cover`
    /// or `prefix+cover` (docs/lookup.md).
    #[serde(with = "privacy_text")]
    pub lookup_privacy: PrivacySetting,
    /// Dummy lookups beside each real one when the privacy has cover.
    pub lookup_cover: usize,
    /// Disjoint paths of a lookup.
    pub lookup_paths: usize,
    /// `prefix` mode's anonymity target k.
    pub lookup_prefix_k: u64,
    /// Group caps of the diversity policy.
    pub policy: PolicyConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            network: Network::Mainnet,
            bootnodes: None,
            listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            discovery_port: discguard_service::config::DEFAULT_DISCOVERY_PORT,
            enr_address: None,
            http_address: DEFAULT_HTTP_ADDRESS,
            metrics_address: DEFAULT_METRICS_ADDRESS,
            datadir: default_datadir(),
            asn_db: None,
            allow_private_addresses: false,
            fork_digest: None,
            log_format: LogFormat::Human,
            log_level: "info".to_owned(),
            ban_duration: discguard_scoring::DEFAULT_BAN_DURATION,
            score_half_life: discguard_scoring::DEFAULT_HALF_LIFE,
            probe_interval: discguard_service::config::DEFAULT_PROBE_INTERVAL,
            lookup_privacy: PrivacySetting::default(),
            lookup_cover: discguard_service::discguard_lookup::privacy::DEFAULT_COVER,
            lookup_paths: discguard_service::discguard_lookup::DEFAULT_PATHS,
            lookup_prefix_k: discguard_service::discguard_lookup::privacy::DEFAULT_PREFIX_K,
            policy: PolicyConfig::default(),
        }
    }
}

/// `$HOME/.discguard`, or `./.discguard` without a home directory.
pub fn default_datadir() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".discguard"))
        .unwrap_or_else(|| PathBuf::from(".discguard"))
}

/// A list given as a TOML array or as one comma-separated string (the form
/// environment variables and flags take).
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    }))
}

/// Names of the settings keys, for picking `DISCGUARD_*` variables: others
/// (such as `DISCGUARD_CONFIG`, read by the CLI) are not settings.
const KEYS: &[&str] = &[
    "network",
    "bootnodes",
    "listen_address",
    "discovery_port",
    "enr_address",
    "http_address",
    "metrics_address",
    "datadir",
    "asn_db",
    "allow_private_addresses",
    "fork_digest",
    "log_format",
    "log_level",
    "ban_duration",
    "score_half_life",
    "probe_interval",
    "lookup_privacy",
    "lookup_cover",
    "lookup_paths",
    "lookup_prefix_k",
];

fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    KEYS.contains(&key.as_str()) || key.starts_with("policy__")
}

/// Hex text that must stay text. Environment values that look like numbers
/// (`DISCGUARD_FORK_DIGEST=01234567`) reach us as numbers, with leading
/// zeros lost: refuse them with a hint instead of guessing.
fn hex_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(u64),
    }
    match TextOrNumber::deserialize(d)? {
        TextOrNumber::Text(s) => Ok(Some(s)),
        TextOrNumber::Number(n) => Err(serde::de::Error::custom(format!(
            "got the number {n}: write the fork digest as 0x-prefixed hex, e.g. 0x{n:08}"
        ))),
    }
}

/// Durations as `humantime` text (`500ms`, `10m`, `1h 30m`). A bare number
/// (what an environment variable such as `DISCGUARD_BAN_DURATION=3600`
/// reaches us as) has no unit: refused with a hint instead of guessing one.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum TextOrNumber {
            Text(String),
            Number(u64),
        }
        match TextOrNumber::deserialize(d)? {
            TextOrNumber::Text(s) => humantime::parse_duration(&s).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a duration ({e}): write e.g. 500ms, 10m or 1h"
                ))
            }),
            TextOrNumber::Number(n) => Err(serde::de::Error::custom(format!(
                "got the number {n} without a unit: write e.g. {n}s or {n}ms"
            ))),
        }
    }
}

/// A lookup privacy as text (`prefix+cover`).
mod privacy_text {
    use discguard_service::discguard_lookup::PrivacySetting;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(p: &PrivacySetting, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(p)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PrivacySetting, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A settings error: names the key, the bad value and where it came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {error}{value}")]
pub struct SettingsError {
    error: Box<figment::Error>,
    /// ` (value: …)` when the bad value could be found, else empty.
    value: String,
}

impl SettingsError {
    fn new(error: figment::Error, figment: Option<&Figment>) -> Self {
        let value = figment
            .filter(|_| !error.path.is_empty())
            .and_then(|f| f.find_value(&error.path.join(".")).ok())
            .map(|v| match v.as_str() {
                Some(s) => format!(" (value: {s:?})"),
                None => format!(" (value: {v:?})"),
            })
            .unwrap_or_default();
        Self {
            error: Box::new(error),
            value,
        }
    }
}

/// Loads settings: defaults, then `config` (TOML) if given, then
/// `DISCGUARD_*` variables, then the flags in `overrides`.
pub fn load(config: Option<&Path>, overrides: &impl Serialize) -> Result<Settings, SettingsError> {
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = config {
        if !path.is_file() {
            let message = format!(
                "config file {} does not exist or is not a file",
                path.display()
            );
            return Err(SettingsError::new(figment::Error::from(message), None));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment
        .merge(
            Env::prefixed("DISCGUARD_")
                .filter(|key| is_setting(key.as_str()))
                .split("__"),
        )
        .merge(Serialized::defaults(overrides));
    figment
        .extract()
        .map_err(|e| SettingsError::new(e, Some(&figment)))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct NoFlags {}

    #[test]
    fn layering_file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "discguard.toml",
                r#"
                network = "none"
                discovery_port = 9300
                bootnodes = ["enr:a", "enr:b"]
                [policy]
                bucket_narrow = 1
                "#,
            )?;
            jail.set_env("DISCGUARD_DISCOVERY_PORT", "9400");
            jail.set_env("DISCGUARD_POLICY__BUCKET_WIDE", "2");
            #[derive(Serialize)]
            struct Flags {
                allow_private_addresses: bool,
            }
            let s = load(
                Some(Path::new("discguard.toml")),
                &Flags {
                    allow_private_addresses: true,
                },
            )
            .unwrap();
            assert_eq!(s.network, Network::None);
            assert_eq!(s.discovery_port, 9400, "env beats the file");
            assert_eq!(
                s.bootnodes.as_deref(),
                Some(&["enr:a".to_owned(), "enr:b".to_owned()][..])
            );
            assert_eq!(s.policy.bucket_narrow, 1);
            assert_eq!(s.policy.bucket_wide, 2);
            assert!(s.allow_private_addresses, "flags beat everything");
            Ok(())
        });
    }

    #[test]
    fn env_list_is_comma_separated() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DISCGUARD_BOOTNODES", "enr:a, enr:b");
            let s = load(None, &NoFlags::default()).unwrap();
            assert_eq!(s.bootnodes.unwrap(), vec!["enr:a", "enr:b"]);
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "discovery_port = \"ninety\"\n")?;
            let err = load(Some(Path::new("bad.toml")), &NoFlags::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("discovery_port"), "{err}");
            jail.create_file("typo.toml", "discovery_prot = 9000\n")?;
            let err = load(Some(Path::new("typo.toml")), &NoFlags::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("discovery_prot"), "{err}");
            jail.set_env("DISCGUARD_LISTEN_ADDRESS", "300.1.1.1");
            let err = load(None, &NoFlags::default()).unwrap_err().to_string();
            assert!(
                err.contains("300.1.1.1") || err.contains("listen_address"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn fork_digest_from_env_keeps_its_text_or_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DISCGUARD_FORK_DIGEST", "0x01234567");
            let s = load(None, &NoFlags::default()).unwrap();
            assert_eq!(s.fork_digest.as_deref(), Some("0x01234567"));
            jail.set_env("DISCGUARD_FORK_DIGEST", "01234567");
            let err = load(None, &NoFlags::default()).unwrap_err().to_string();
            assert!(err.contains("0x-prefixed"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn scoring_durations_take_humantime_text_from_every_layer() {
        figment::Jail::expect_with(|jail| {
            let s = load(None, &NoFlags::default()).unwrap();
            assert_eq!(s.ban_duration, discguard_scoring::DEFAULT_BAN_DURATION);
            assert_eq!(s.score_half_life, discguard_scoring::DEFAULT_HALF_LIFE);
            assert_eq!(
                s.probe_interval,
                discguard_service::config::DEFAULT_PROBE_INTERVAL
            );
            jail.create_file("d.toml", "score_half_life = \"5m\"\n")?;
            jail.set_env("DISCGUARD_BAN_DURATION", "2h 30m");
            #[derive(Serialize)]
            struct Flags {
                probe_interval: &'static str,
            }
            let s = load(
                Some(Path::new("d.toml")),
                &Flags {
                    probe_interval: "250ms",
                },
            )
            .unwrap();
            assert_eq!(s.score_half_life, Duration::from_secs(300));
            assert_eq!(s.ban_duration, Duration::from_secs(9000));
            assert_eq!(s.probe_interval, Duration::from_millis(250));
            // A bare number has no unit: refused, naming the key.
            jail.set_env("DISCGUARD_BAN_DURATION", "3600");
            let err = load(None, &NoFlags::default()).unwrap_err().to_string();
            assert!(
                err.to_lowercase().contains("ban_duration") && err.contains("without a unit"),
                "{err}"
            );
            jail.set_env("DISCGUARD_BAN_DURATION", "1h");
            jail.set_env("DISCGUARD_PROBE_INTERVAL", "fast");
            let err = load(None, &NoFlags::default()).unwrap_err().to_string();
            assert!(
                err.to_lowercase().contains("probe_interval") && err.contains("fast"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = load(
            Some(Path::new("/nonexistent/discguard.toml")),
            &NoFlags::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/discguard.toml"), "{err}");
    }
}

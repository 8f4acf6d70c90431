//! Errors of the service.

use std::net::SocketAddr;

/// A configuration value is out of range.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A duration or count that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The config field.
        field: &'static str,
    },
    /// Fork-digest filtering is on but no digest is accepted.
    #[error("fork_filter accepts no digest: no peer could ever be served")]
    NoForkDigest,
    /// The diversity policy rejected its configuration.
    #[error("policy: {0}")]
    Policy(#[source] discguard_policy::ConfigError),
    /// A count is outside its range.
    #[error("{field} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The config field.
        field: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// The scoring configuration is invalid.
    #[error("{0}")]
    Scoring(#[source] discguard_scoring::ConfigError),
}

/// Starting the service failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The UDP socket could not be bound (address in use, not local, no permission).
    #[error("cannot bind discovery socket {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Our own ENR could not be built or signed.
    #[error("cannot build local ENR: {0}")]
    LocalEnr(String),
    /// discv5 refused to start.
    #[error("discv5 failed to start: {0}")]
    Discv5(String),
}

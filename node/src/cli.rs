//! Command-line interface (clap). Flags are layered over the config file and
//! `DISCGUARD_*` variables by [`crate::settings::load`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::client::PeersFormat;
use crate::settings::LogFormat;

/// discguard: an eclipse-resistant discv5 discovery sidecar for Ethereum
/// consensus clients.
#[derive(Debug, Parser)]
#[command(
    name = "discguard",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand; without one, discguard runs the node.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Node flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the vetted peers of a running node in a form a consensus client takes.
    Peers(PeersArgs),
}

/// `discguard peers` flags.
#[derive(Debug, Args)]
pub struct PeersArgs {
    /// HTTP API of the running node (host:port).
    #[arg(long, default_value = "127.0.0.1:9190", env = "DISCGUARD_HTTP_ADDRESS")]
    pub http_address: String,
    /// How many peers to ask for (1..=1024).
    #[arg(long, default_value_t = 32)]
    pub limit: usize,
    /// Output form.
    #[arg(long, value_enum, default_value = "enr")]
    pub format: PeersFormat,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Flags of the node. Each has a config key of the same name (snake_case)
/// and a `DISCGUARD_<KEY>` environment variable; flags win.
#[derive(Debug, Args, Serialize)]
pub struct RunArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE", env = "DISCGUARD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Network: mainnet, sepolia, holesky, hoodi, or none for a private network [default: mainnet].
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Bootnode ENRs, comma-separated; replaces the network's built-in list.
    #[arg(long, value_name = "ENR,...", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootnodes: Option<Vec<String>>,
    /// Address the discv5 UDP socket binds to [default: 0.0.0.0].
    #[arg(long, value_name = "IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_address: Option<IpAddr>,
    /// UDP port of discv5 [default: 9100].
    #[arg(long, value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_port: Option<u16>,
    /// IP address to advertise in our ENR [default: the listen address, if specific].
    #[arg(long, value_name = "IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enr_address: Option<IpAddr>,
    /// HTTP API address [default: 127.0.0.1:9190].
    #[arg(long, value_name = "IP:PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_address: Option<SocketAddr>,
    /// Prometheus /metrics address [default: 127.0.0.1:9191].
    #[arg(long, value_name = "IP:PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_address: Option<SocketAddr>,
    /// Data directory: node key and saved view [default: ~/.discguard].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datadir: Option<PathBuf>,
    /// IP-to-ASN database: MaxMind DB (.mmdb) or CSV/TSV ranges [default: none; ASN groups fall back to /16 and /32].
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn_db: Option<PathBuf>,
    /// Admit loopback and private addresses (local and LAN testnets).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_false")]
    pub allow_private_addresses: bool,
    /// Serve only peers whose ENR eth2 field carries this fork digest (0x-hex) [default: from the network's fork schedule].
    #[arg(long, value_name = "HEX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_digest: Option<String>,
    /// Log format [default: human].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Log filter, tracing EnvFilter syntax [default: info].
    #[arg(long, value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// How long a peer banned for its behaviour stays banned, e.g. 1h or 90m [default: 1h].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_duration: Option<String>,
    /// Half-life of the decay of behaviour scores toward 0, e.g. 10m [default: 10m].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_half_life: Option<String>,
    /// Period of answer probes (one FINDNODE to a view entry, answer scored), e.g. 500ms [default: 500ms].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_interval: Option<String>,
    /// Privacy of lookups: off, blur, prefix, cover, blur+cover or prefix+cover (docs/lookup.md) [default: off].
    #[arg(long, value_name = "MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_privacy: Option<String>,
    /// Dummy lookups beside each real one when the privacy has cover, 1..=4 [default: 2].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_cover: Option<usize>,
    /// Disjoint paths of a lookup, 1..=8 [default: 3].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_paths: Option<usize>,
    /// prefix mode's anonymity target k: the subtree a lookup names holds about k nodes, 2..=1024 [default: 20].
    #[arg(long, value_name = "K")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_prefix_k: Option<u64>,
}

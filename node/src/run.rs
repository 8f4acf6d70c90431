//! Running the node: settings → checks → discv5 service → HTTP API and
//! metrics → wait for SIGINT/SIGTERM → save the view and stop.
//!
//! Bad input ends the start with a message naming the value and exit code
//! [`EXIT_BAD_INPUT`] (2), never a panic: a malformed ENR in `--bootnodes`
//! or the config, an unreadable or malformed ASN database, a bad address, a
//! port in use.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use discguard_netgroup::{AsnDb, AsnDbError, Classifier};
use discguard_service::discv5::Enr;
use discguard_service::network::{Network, parse_fork_digest};
use discguard_service::{FilterBanFeed, ForkFilter, ServiceConfig, ServiceHandle, StartError};
use tracing::{error, info, warn};

use crate::cli::{Cli, Command, PeersArgs};
use crate::client;
use crate::persist::{self, PersistError};
use crate::settings::{self, LogFormat, Settings, SettingsError};

/// Exit code for bad input (flags, config, files, addresses in use).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code for a failure while running.
pub const EXIT_RUNTIME: i32 = 1;
/// How often the view is saved to the datadir.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Settings did not load.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A bootnode is not a valid ENR.
    #[error("invalid ENR in bootnodes (entry {index}) {text:?}: {reason}")]
    BadBootnode {
        /// 1-based position in the list.
        index: usize,
        /// The text given (shortened).
        text: String,
        /// The decoder's reason.
        reason: String,
    },
    /// The built-in bootnodes did not decode (a bug, reported as such).
    #[error("built-in bootnodes of {network}: {reason}")]
    BuiltinBootnodes {
        /// The network.
        network: Network,
        /// The reason.
        reason: String,
    },
    /// A duration setting (`--ban-duration`, `--score-half-life`,
    /// `--probe-interval`) is out of range.
    #[error("invalid {key} {value}: {reason}")]
    BadDuration {
        /// The setting.
        key: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        reason: String,
    },
    /// A count setting (`--lookup-cover`, `--lookup-paths`,
    /// `--lookup-prefix-k`) is out of range.
    #[error("invalid {key} {value}: must be in {min}..={max}")]
    OutOfRange {
        /// The setting.
        key: &'static str,
        /// Its value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// `--fork-digest` is malformed.
    #[error("invalid fork_digest {value:?}: {reason}")]
    BadForkDigest {
        /// The value.
        value: String,
        /// The reason.
        reason: String,
    },
    /// The ASN database could not be opened.
    #[error(transparent)]
    AsnDb(#[from] AsnDbError),
    /// The data directory or the key could not be used.
    #[error("datadir: {0}")]
    Datadir(#[from] PersistError),
    /// The metrics endpoint could not be set up.
    #[error("cannot serve metrics on {addr}: {reason}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The reason.
        reason: String,
    },
    /// The HTTP API could not bind.
    #[error("cannot bind HTTP API on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The discv5 service did not start.
    #[error(transparent)]
    Service(#[from] StartError),
    /// `--enr-address` cannot be advertised with this listen address.
    #[error(
        "invalid enr_address {ip}: must be a unicast address of the same family as listen_address {listen}"
    )]
    BadEnrAddress {
        /// The address.
        ip: std::net::IpAddr,
        /// The listen address.
        listen: std::net::IpAddr,
    },
    /// The log filter is malformed.
    #[error("invalid log_level {value:?}: {reason}")]
    LogLevel {
        /// The value.
        value: String,
        /// The reason.
        reason: String,
    },
}

/// Parses `args` and runs; returns the process exit code.
pub async fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match cli.command {
        Some(Command::Peers(args)) => peers(args).await,
        None => {
            let settings = match settings::load(cli.run.config.as_deref(), &cli.run) {
                Ok(s) => s,
                Err(e) => return fail(&e.into()),
            };
            match run(settings).await {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
    }
}

fn fail(e: &StartupError) -> i32 {
    eprintln!("discguard: error: {e}");
    error!("{e}");
    EXIT_BAD_INPUT
}

async fn peers(args: PeersArgs) -> i32 {
    match client::fetch(&args.http_address, args.limit).await {
        Ok((peers, raw)) => {
            let (text, skipped) = client::render(&peers, &raw, args.format);
            print!("{text}");
            if skipped > 0 {
                eprintln!("discguard: {skipped} peer(s) left out: their ENR has no TCP port");
            }
            if peers.is_empty() {
                eprintln!("discguard: the node has no vetted peers yet");
            }
            0
        }
        Err(e) => {
            eprintln!("discguard: error: {e}");
            EXIT_RUNTIME
        }
    }
}

/// Installs the log output (filtered by `--log-level` / `RUST_LOG`) and,
/// beside it with its own filter, the layer that catches discv5's
/// packet-filter bans for scoring (`discguard_service::filter_bans`).
fn init_logging(settings: &Settings) -> Result<FilterBanFeed, StartupError> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => v,
        _ => settings.log_level.clone(),
    };
    let filter = EnvFilter::try_new(&filter).map_err(|e| StartupError::LogLevel {
        value: filter.clone(),
        reason: e.to_string(),
    })?;
    let output = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let output = match settings.log_format {
        LogFormat::Human => output.with_filter(filter).boxed(),
        LogFormat::Json => output
            .json()
            .flatten_event(true)
            .with_filter(filter)
            .boxed(),
    };
    let feed = FilterBanFeed::new();
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(feed.layer())
        .try_init();
    Ok(feed)
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 48 {
        format!("{}…", s.chars().take(48).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Parses bootnode ENRs; the error names the entry.
pub fn parse_bootnodes(list: &[String]) -> Result<Vec<Enr>, StartupError> {
    list.iter()
        .enumerate()
        .map(|(i, text)| {
            text.trim()
                .parse::<Enr>()
                .map_err(|reason| StartupError::BadBootnode {
                    index: i + 1,
                    text: shorten(text),
                    reason: reason.to_string(),
                })
        })
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Builds the service configuration from settings (everything but I/O).
pub fn service_config(settings: &Settings) -> Result<ServiceConfig, StartupError> {
    let bootnodes = match &settings.bootnodes {
        Some(list) => parse_bootnodes(list)?,
        None => settings
            .network
            .bootnodes()
            .map_err(|e| StartupError::BuiltinBootnodes {
                network: settings.network,
                reason: e.to_string(),
            })?,
    };
    let fork_filter = match (&settings.fork_digest, settings.network.fork_schedule()) {
        (Some(text), _) => {
            let digest = parse_fork_digest(text).map_err(|e| StartupError::BadForkDigest {
                value: text.clone(),
                reason: e.to_string(),
            })?;
            ForkFilter::Fixed(vec![digest])
        }
        (None, Some(schedule)) => {
            let now = unix_now();
            if let Some(warning) =
                schedule.staleness(now, discguard_service::network::DEFAULT_STALE_AFTER_SECS)
            {
                warn!("{warning}");
            }
            let digests: Vec<String> = schedule
                .accepted_digests(now)
                .iter()
                .map(|d| format!("0x{}", hex::encode(d)))
                .collect();
            info!(network = %settings.network, accepted = ?digests, "fork digests from the built-in schedule");
            ForkFilter::Schedule(schedule)
        }
        (None, None) => ForkFilter::Any,
    };
    if let Some(ip) = settings.enr_address.filter(|ip| {
        ip.is_unspecified()
            || ip.is_multicast()
            || ip.is_ipv4() != settings.listen_address.is_ipv4()
    }) {
        return Err(StartupError::BadEnrAddress {
            ip,
            listen: settings.listen_address,
        });
    }
    let config = ServiceConfig {
        listen_address: settings.listen_address,
        discovery_port: settings.discovery_port,
        enr_address: settings.enr_address,
        bootnodes,
        policy: settings.policy.clone(),
        allow_private_addresses: settings.allow_private_addresses,
        fork_filter,
        scoring: discguard_scoring::ScoringConfig {
            half_life: settings.score_half_life,
            ban_duration: settings.ban_duration,
            ..Default::default()
        },
        probe_interval: settings.probe_interval,
        lookup_privacy: settings.lookup_privacy,
        lookup_cover: settings.lookup_cover,
        lookup_paths: settings.lookup_paths,
        lookup_prefix_k: settings.lookup_prefix_k,
        ..ServiceConfig::default()
    };
    // The rules are the crates' (`ServiceConfig::validate`); the error names
    // the setting the user wrote, with its value.
    use discguard_service::ConfigError;
    let bad = |key, value: Duration, reason: &str| StartupError::BadDuration {
        key,
        value: humantime::format_duration(value).to_string(),
        reason: reason.to_owned(),
    };
    match config.validate() {
        Err(ConfigError::Zero {
            field: "probe_interval",
        }) => Err(bad(
            "probe_interval",
            settings.probe_interval,
            "must be greater than zero",
        )),
        Err(ConfigError::Scoring(discguard_scoring::ConfigError::OutOfRange { field, reason }))
            if field == "half_life" || field == "ban_duration" =>
        {
            let (key, value) = if field == "half_life" {
                ("score_half_life", settings.score_half_life)
            } else {
                ("ban_duration", settings.ban_duration)
            };
            Err(bad(key, value, reason))
        }
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        }) => Err(StartupError::OutOfRange {
            key: field,
            value,
            min,
            max,
        }),
        // Everything else is reported by `ServiceHandle::start`, as before.
        _ => Ok(config),
    }
}

fn install_metrics(addr: SocketAddr) -> Result<(), StartupError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let err = |e: &dyn std::fmt::Display| StartupError::Metrics {
        addr,
        reason: e.to_string(),
    };
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full(discguard_service::metrics::LOOKUP_DURATION.to_owned()),
            &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(discguard_service::metrics::LOOKUP_RESULTS.to_owned()),
                &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
            )
        })
        .map_err(|e| err(&e))?
        .install()
        .map_err(|e| err(&e))?;
    discguard_service::metrics::describe();
    Ok(())
}

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartupError> {
    let filter_bans = init_logging(&settings)?;
    let config = ServiceConfig {
        filter_bans: Some(filter_bans),
        ..service_config(&settings)?
    };

    let classifier = match &settings.asn_db {
        Some(path) => {
            let db = AsnDb::open(path)?;
            info!(database = %db.description(), "ASN database loaded");
            Classifier::new(Some(db))
        }
        None => {
            warn!("no ASN database (--asn-db): ASN groups fall back to the IPv4 /16 and IPv6 /32");
            Classifier::new(None)
        }
    };

    persist::ensure_datadir(&settings.datadir)?;
    let _datadir_lock = persist::lock_datadir(&settings.datadir)?;
    let (key, created) = persist::load_or_create_key(&settings.datadir)?;
    if created {
        info!(path = %settings.datadir.join(persist::KEY_FILE).display(), "created a new node key");
    }
    let restore = match persist::load_view(&settings.datadir) {
        Ok((enrs, skipped)) => {
            if skipped > 0 {
                warn!(
                    skipped,
                    "saved view: records that do not decode were skipped"
                );
            }
            enrs
        }
        Err(e @ PersistError::BadView { .. }) => {
            let moved = persist::quarantine(&settings.datadir, persist::VIEW_FILE)?;
            warn!(error = %e, moved_to = %moved.display(), "saved view is malformed; starting with an empty view");
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };

    // Bind the HTTP listener before anything starts, so that a port in use
    // fails the start cleanly.
    let http = tokio::net::TcpListener::bind(settings.http_address)
        .await
        .map_err(|source| StartupError::Http {
            addr: settings.http_address,
            source,
        })?;
    install_metrics(settings.metrics_address)?;

    if config.bootnodes.is_empty() {
        warn!("no bootnodes: discguard waits for other nodes to contact it");
    }
    let saved_scores = match persist::load_scores(&settings.datadir) {
        Ok(saved) => saved,
        Err(e @ PersistError::BadScores { .. }) => {
            let moved = persist::quarantine(&settings.datadir, persist::SCORES_FILE)?;
            warn!(error = %e, moved_to = %moved.display(), "saved scores are malformed; starting with no scores");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let restored = restore.len();
    let service = ServiceHandle::start(config, key, classifier, restore).await?;
    if let Some(saved) = saved_scores {
        let path = settings.datadir.join(persist::SCORES_FILE);
        match service.restore_scores(&saved) {
            Ok(skipped) => info!(
                peers = saved.peers.len() - skipped,
                skipped, "scores and bans restored"
            ),
            Err(e) => {
                let moved = persist::quarantine(&settings.datadir, persist::SCORES_FILE)?;
                warn!(file = %path.display(), error = %e, moved_to = %moved.display(), "saved scores are malformed; starting with no scores");
            }
        }
    }
    info!(
        network = %settings.network,
        http = %settings.http_address,
        metrics = %settings.metrics_address,
        restored,
        "discguard running"
    );

    let router = crate::http::router(service.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let mut stop_http = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(http, router)
            .with_graceful_shutdown(async move {
                let _ = stop_http.changed().await;
            })
            .await
    });

    let datadir: PathBuf = settings.datadir.clone();
    let saver_service = service.clone();
    let saver_dir = datadir.clone();
    let saver = tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAVE_INTERVAL);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop_rx.changed() => break,
                _ = tick.tick() => save(&saver_service, &saver_dir),
            }
        }
    });

    wait_for_signal().await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = saver.await;
    save(&service, &datadir);
    service.shutdown().await;
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => error!(error = %e, "HTTP server failed"),
        Err(e) => error!(error = %e, "HTTP server task failed"),
    }
    info!("stopped");
    Ok(())
}

fn save(service: &ServiceHandle, dir: &std::path::Path) {
    let enrs = service.view_enrs();
    match persist::save_view(dir, &enrs) {
        Ok(()) => tracing::debug!(entries = enrs.len(), "view saved"),
        Err(e) => error!(error = %e, "cannot save the view"),
    }
    let scores = service.scores_snapshot();
    match persist::save_scores(dir, &scores) {
        Ok(()) => tracing::debug!(peers = scores.peers.len(), "scores saved"),
        Err(e) => error!(error = %e, "cannot save the scores"),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

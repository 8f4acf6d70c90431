//! `discguard-adversary`: networks of real discv5 nodes on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use discguard_adversary::report::Report;
use discguard_adversary::scenario::{
    self, Common, FlakyHonest, IdMining, KeyspaceDetectionArgs, LookupPoisoning, QueryObserver,
    SybilFlood,
};
use discguard_adversary::testnet::{DiscguardProcess, Testnet, TestnetConfig, discguard_bin};
use discguard_adversary::victim::{VictimArgs, run_victim};

#[derive(Parser)]
#[command(name = "discguard-adversary", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// A local network of real discv5 nodes (Lodestar and sigp) with discguard in front,
    /// serving vetted peers. Loopback only; no internet needed.
    Testnet {
        /// Lodestar discv5 nodes.
        #[arg(long, default_value_t = 5)]
        lodestar: u8,
        /// sigp discv5 nodes, each in its own /16.
        #[arg(long, default_value_t = 12)]
        sigp: u8,
        /// sigp discv5 nodes crowded into one /24 (127.50.0.0/24).
        #[arg(long, default_value_t = 16)]
        crowded: u8,
        /// discguard's HTTP API.
        #[arg(long, default_value = "127.0.0.1:9190")]
        http_address: SocketAddr,
        /// discguard's Prometheus endpoint.
        #[arg(long, default_value = "127.0.0.1:9191")]
        metrics_address: SocketAddr,
        /// Stop after this many seconds (0 = run until Ctrl-C).
        #[arg(long, default_value_t = 0)]
        duration: u64,
    },
    /// M Sybils on G network groups flood the three victims; swept over G.
    SybilFlood(SybilFlood),
    /// Sybils with node IDs mined close to each victim's, on a few IPs.
    IdMining(IdMining),
    /// A fraction of honest-looking nodes answer every FINDNODE with Sybils
    /// only; discguard's one-path and disjoint lookups against sigp's,
    /// swept over the fraction.
    LookupPoisoning(LookupPoisoning),
    /// No attack: what honest nodes asked by discguard's lookups learn of
    /// the target, per privacy mode and fraction of observing nodes.
    QueryObserver(QueryObserver),
    /// No attack: what each victim's policy costs on the real population.
    Baseline(Baseline),
    /// No attack: a fraction of honest nodes lose 10–30% of their packets
    /// (a lossy relay in front of each); are they banned or pushed out?
    FlakyHonest(FlakyHonest),
    /// The keyspace-anomaly flag over repeated seeded runs: false alarms
    /// without attack, detection with IDs mined next to each victim.
    KeyspaceDetection(KeyspaceDetectionArgs),
    /// A plain discv5 victim (the `discv5-lighthouse` / `discv5-default`
    /// baselines the scenarios start; not usually run by hand).
    Victim(VictimArgs),
}

/// `baseline` parameters.
#[derive(clap::Args)]
struct Baseline {
    #[command(flatten)]
    common: Common,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Cmd::SybilFlood(a) => {
            let out = a.common.out.clone();
            finish(scenario::sybil_flood(&a).await?, &out)
        }
        Cmd::IdMining(a) => {
            let out = a.common.out.clone();
            finish(scenario::id_mining(&a).await?, &out)
        }
        Cmd::LookupPoisoning(a) => {
            let out = a.common.out.clone();
            finish(scenario::lookup_poisoning(&a).await?, &out)
        }
        Cmd::QueryObserver(a) => {
            let out = a.common.out.clone();
            finish(scenario::query_observer(&a).await?, &out)
        }
        Cmd::Baseline(a) => {
            let out = a.common.out.clone();
            finish(scenario::baseline(&a.common).await?, &out)
        }
        Cmd::FlakyHonest(a) => {
            let out = a.common.out.clone();
            finish(scenario::flaky_honest(&a).await?, &out)
        }
        Cmd::KeyspaceDetection(a) => {
            let out = a.common.out.clone();
            finish(scenario::keyspace_detection(&a).await?, &out)
        }
        Cmd::Victim(a) => run_victim(a).await,
        Cmd::Testnet {
            lodestar,
            sigp,
            crowded,
            http_address,
            metrics_address,
            duration,
        } => {
            let config = TestnetConfig {
                lodestar,
                sigp_spread: sigp,
                sigp_crowded: crowded,
                ..Default::default()
            };
            testnet(config, http_address, metrics_address, duration).await
        }
    }
}

async fn testnet(
    config: TestnetConfig,
    http: SocketAddr,
    metrics: SocketAddr,
    duration: u64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    println!(
        "starting {} Lodestar nodes (127.21.0.1, …) and {} sigp nodes ({} in their own /16s, {} in 127.50.0.0/24) ...",
        config.lodestar,
        config.sigp_spread + config.sigp_crowded,
        config.sigp_spread,
        config.sigp_crowded
    );
    let net = Testnet::start(&config).await?;
    let boot = net.lodestar.enrs()[0].clone();
    let datadir = tempdir()?;
    let bin = discguard_bin()?;
    let args: Vec<String> = [
        "--network",
        "none",
        "--allow-private-addresses",
        "--listen-address",
        &config.discguard_ip.to_string(),
        "--discovery-port",
        &config.port.to_string(),
        "--bootnodes",
        &boot,
        "--metrics-address",
        &metrics.to_string(),
        "--datadir",
        datadir.to_str().unwrap_or("."),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    println!(
        "starting discguard on {}:{} with one bootnode: Lodestar node 0",
        config.discguard_ip, config.port
    );
    let dg = DiscguardProcess::start(&bin, http, &args, Duration::from_secs(30)).await?;

    let total = usize::from(config.lodestar)
        + usize::from(config.sigp_spread)
        + usize::from(config.sigp_crowded);
    // Poll until every Lodestar node is served and the count has been
    // stable for three polls (the crowded /24 never gets in whole: at most
    // 2 per k-bucket and 10 per table).
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut peers = Vec::new();
    let (mut last, mut stable) = (usize::MAX, 0);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    while Instant::now() < deadline {
        tick.tick().await;
        peers = dg.peers(1024).await?;
        let lodestar_seen = peers
            .iter()
            .filter(|p| net.implementation(&p.node_id) == "lodestar")
            .count();
        println!(
            "  {:>3} s: discguard serves {} peers ({} Lodestar)",
            started.elapsed().as_secs(),
            peers.len(),
            lodestar_seen
        );
        stable = if peers.len() == last { stable + 1 } else { 0 };
        last = peers.len();
        if lodestar_seen == usize::from(config.lodestar) && stable >= 3 {
            break;
        }
    }
    println!("\nvetted peers served on http://{http}/v1/peers:");
    println!("{:<10} {:<66} {:<16} netgroup", "impl", "node_id", "ip");
    for p in &peers {
        println!(
            "{:<10} {:<66} {:<16} {}",
            net.implementation(&p.node_id),
            p.node_id,
            p.ip,
            p.netgroup
        );
    }
    let crowded = peers
        .iter()
        .filter(|p| p.netgroup == "127.50.0.0/24")
        .count();
    println!(
        "\n{} of {} nodes served; {} of the {} nodes crowded in 127.50.0.0/24 (caps: 2 per /24 per k-bucket, 10 per table)",
        peers.len(),
        total,
        crowded,
        config.sigp_crowded
    );
    println!(
        "try: curl -s http://{http}/v1/risk ; curl -s http://{metrics}/metrics | grep discguard_view"
    );
    println!("     cargo run -q -p discguard -- peers --http-address {http} --format lighthouse");

    if duration == 0 {
        println!("\nrunning until Ctrl-C ...");
        tokio::signal::ctrl_c().await?;
    } else {
        let rest = Duration::from_secs(duration).saturating_sub(started.elapsed());
        tokio::time::sleep(rest).await;
    }
    let status = dg.terminate(Duration::from_secs(10)).await?;
    net.lodestar.shutdown().await?;
    println!("stopped (discguard exit: {status})");
    Ok(())
}

/// Writes the report to `out`, prints the summary, and fails when the
/// report contradicts itself.
fn finish(mut report: Report, out: &std::path::Path) -> anyhow::Result<()> {
    let written = report.write(out)?;
    println!("{}", report.summary());
    println!("report: {}", out.join("report.md").display());
    for w in written {
        tracing::debug!(path = %w.display(), "written");
    }
    let problems = report.check();
    if !problems.is_empty() {
        anyhow::bail!("the report is inconsistent:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("discguard-testnet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

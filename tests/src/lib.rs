//! Helpers for discguard's integration tests (`tests/it`): paths, free
//! ports, and the `discguard` process. Networks of real discv5 nodes come
//! from `discguard-adversary` (sigp nodes, Lodestar nodes).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use std::sync::OnceLock;

pub use discguard_adversary::testnet::DiscguardProcess;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Test data carried in the repository (`tests/data`).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A TCP port free on `ip` right now (bound to port 0, then released).
pub fn free_tcp_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind port 0")
}

/// A free TCP `ip:port` for an HTTP or metrics listener.
pub fn free_tcp_addr(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), free_tcp_port(ip))
}

/// A UDP port free on `ip` right now.
pub fn free_udp_port(ip: Ipv4Addr) -> u16 {
    std::net::UdpSocket::bind((ip, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind port 0")
}

/// The `discguard` binary, built fresh: `cargo test` does not build the
/// plain binaries of the workspace, so the first call runs `cargo build
/// --workspace --bins` (a no-op when up to date, as after the README's test
/// command, which builds them first) with the profile of the running test
/// binary. `$DISCGUARD_BIN` skips the build.
pub fn discguard_bin() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if std::env::var_os("DISCGUARD_BIN").is_none() {
        let built = BUILT.get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let release = std::env::current_exe()
                .is_ok_and(|p| p.components().any(|c| c.as_os_str() == "release"));
            let mut cmd = std::process::Command::new(cargo);
            cmd.args(["build", "--quiet", "--workspace", "--bins"])
                .current_dir(repo_root());
            if release {
                cmd.arg("--release");
            }
            match cmd.status() {
                Ok(s) if s.success() => Ok(()),
                other => Err(format!("cargo build --workspace --bins failed: {other:?}")),
            }
        });
        built.clone().map_err(anyhow::Error::msg)?;
    }
    discguard_adversary::testnet::discguard_bin()
}

/// Flags for a discguard on a private loopback network: `--network none`,
/// `--allow-private-addresses`, bound to `ip:port`, metrics on a free port of
/// `ip`, the given bootnodes (none: no flag) and datadir.
pub fn loopback_args(
    ip: Ipv4Addr,
    port: u16,
    bootnodes: &[String],
    datadir: &std::path::Path,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--network",
        "none",
        "--allow-private-addresses",
        "--listen-address",
        &ip.to_string(),
        "--discovery-port",
        &port.to_string(),
        "--metrics-address",
        &free_tcp_addr(ip).to_string(),
        "--datadir",
        &datadir.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if !bootnodes.is_empty() {
        args.push("--bootnodes".into());
        args.push(bootnodes.join(","));
    }
    args
}

/// Lowercase hex of a node ID (the form `/v1/peers` uses).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sets `flag` to `value` in `args`, replacing the value it has or
/// appending it.
pub fn set_flag(args: &mut Vec<String>, flag: &str, value: impl ToString) {
    match args.iter().position(|a| a == flag) {
        Some(i) if i + 1 < args.len() => args[i + 1] = value.to_string(),
        _ => args.extend([flag.to_owned(), value.to_string()]),
    }
}

/// How long a discguard process may take to log that it runs.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the freshly built `discguard` with `args` and its HTTP API on a
/// free port of `ip`.
pub async fn start_discguard(ip: Ipv4Addr, args: &[String]) -> anyhow::Result<DiscguardProcess> {
    DiscguardProcess::start(&discguard_bin()?, free_tcp_addr(ip), args, READY_TIMEOUT).await
}

/// The value of the sample `series` (name and labels as on the
/// Prometheus text page) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

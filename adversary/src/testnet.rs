//! A local testnet of real discv5 nodes with the real `discguard` binary in
//! front: Lodestar nodes (Node.js), sigp nodes (in this process), and
//! discguard bootstrapped from one Lodestar node. Used by the README's first
//! command and by the end-to-end tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use discv5::Enr;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::honest::{self, HonestNode};
use crate::lodestar::{LodestarConfig, LodestarNodes};
use discguard_service::api::{PeerInfo, PeersResponse};

/// Where the `discguard` binary is: `$DISCGUARD_BIN`, else next to the
/// running executable (`target/<profile>/`, or its parent for test binaries
/// in `target/<profile>/deps/`).
pub fn discguard_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("DISCGUARD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("current executable")?;
    let mut dir = exe.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        let candidate = d.join("discguard");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| p.ends_with("target") || p.join("deps").is_dir());
    }
    bail!(
        "discguard binary not found next to {}: run `cargo build -p discguard` or set DISCGUARD_BIN",
        exe.display()
    )
}

/// A `discguard` process, started with the given flags, stopped on drop.
pub struct DiscguardProcess {
    child: Child,
    /// Its HTTP API address.
    pub http: SocketAddr,
    stderr_tail: Arc<tail::Tail>,
    running: watch::Receiver<bool>,
}

/// A tiny bounded ring of the last stderr lines (kept for error messages).
mod tail {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Last lines of a stream.
    #[derive(Default)]
    pub(crate) struct Tail(Mutex<VecDeque<String>>);

    impl Tail {
        pub(crate) fn push(&self, line: String) {
            let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() == 60 {
                q.pop_front();
            }
            q.push_back(line);
        }

        pub(crate) fn text(&self) -> String {
            let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
            q.iter().cloned().collect::<Vec<_>>().join("\n")
        }
    }
}

impl DiscguardProcess {
    /// Starts `bin` with `args` (which must include `--http-address`) and
    /// waits until it logs that it runs, or fails with its stderr.
    pub async fn start(
        bin: &Path,
        http: SocketAddr,
        args: &[String],
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .args(args)
            .arg("--http-address")
            .arg(http.to_string())
            .arg("--log-format")
            .arg("json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        let tail = Arc::new(tail::Tail::default());
        let (tx, mut running) = watch::channel(false);
        let t = tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("discguard running") {
                    let _ = tx.send(true);
                }
                t.push(line);
            }
        });
        let ready = tokio::time::timeout(ready_timeout, running.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok());
        match ready {
            true => Ok(Self {
                child,
                http,
                stderr_tail: tail,
                running,
            }),
            _ => {
                let status = child.try_wait().ok().flatten();
                bail!(
                    "discguard did not start (exit: {status:?}); stderr:\n{}",
                    tail.text()
                )
            }
        }
    }

    /// The last lines discguard wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr_tail.text()
    }

    /// Whether the process logged readiness.
    pub fn is_ready(&self) -> bool {
        *self.running.borrow()
    }

    /// `GET /v1/peers?limit=N`.
    pub async fn peers(&self, limit: usize) -> anyhow::Result<Vec<PeerInfo>> {
        let url = format!("http://{}/v1/peers?limit={limit}", self.http);
        let body: PeersResponse = reqwest::get(&url).await?.error_for_status()?.json().await?;
        Ok(body.peers)
    }

    /// GET a path of the HTTP API as JSON.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let url = format!("http://{}{path}", self.http);
        let response = reqwest::get(&url).await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "discguard did not stop within {timeout:?} of SIGTERM; stderr:\n{}",
                    self.stderr_tail()
                )
            }
        }
    }
}

/// Shape of the local testnet.
#[derive(Clone, Debug)]
pub struct TestnetConfig {
    /// Lodestar nodes (127.21.0.1, 127.22.0.1, …: each its own /16).
    pub lodestar: u8,
    /// sigp nodes each in its own /16 (127.31.0.1, 127.32.0.1, …).
    pub sigp_spread: u8,
    /// sigp nodes crowded into one /24 (127.50.0.1, 127.50.0.2, …): the
    /// diversity policy admits at most 2 of them per k-bucket.
    pub sigp_crowded: u8,
    /// UDP port every node uses.
    pub port: u16,
    /// discguard's address.
    pub discguard_ip: Ipv4Addr,
}

impl Default for TestnetConfig {
    fn default() -> Self {
        Self {
            lodestar: 5,
            sigp_spread: 12,
            sigp_crowded: 16,
            port: 9000,
            discguard_ip: Ipv4Addr::new(127, 10, 0, 1),
        }
    }
}

/// A running testnet (without discguard).
pub struct Testnet {
    /// The Lodestar nodes.
    pub lodestar: LodestarNodes,
    /// The sigp nodes.
    pub sigp: Vec<HonestNode>,
}

impl Testnet {
    /// Starts the Lodestar nodes (node 0 bootnode of the others) and the
    /// sigp nodes (bootstrapped from Lodestar node 0).
    pub async fn start(config: &TestnetConfig) -> anyhow::Result<Self> {
        let ips: Vec<Ipv4Addr> = (1..=config.lodestar)
            .map(|i| Ipv4Addr::new(127, 20 + i, 0, 1))
            .collect();
        let lodestar = LodestarNodes::spawn_with(
            LodestarConfig::new(&ips, config.port)
                .bootnode_index(0)
                .lookup_interval(Duration::from_secs(2)),
        )
        .await?;
        let boot: Enr = lodestar.enrs()[0].parse().map_err(anyhow::Error::msg)?;
        let mut sigp_ips: Vec<Ipv4Addr> = (1..=config.sigp_spread)
            .map(|i| Ipv4Addr::new(127, 30 + i, 0, 1))
            .collect();
        sigp_ips.extend((1..=config.sigp_crowded).map(|i| Ipv4Addr::new(127, 50, 0, i)));
        let sigp = honest::start_many(
            &sigp_ips,
            config.port,
            &[boot],
            Some(Duration::from_secs(5)),
        )
        .await?;
        Ok(Self { lodestar, sigp })
    }

    /// Which implementation runs a node ID: `lodestar`, `sigp`, or `?`.
    pub fn implementation(&self, node_id: &str) -> &'static str {
        if self.lodestar.node_ids().iter().any(|id| id == node_id) {
            "lodestar"
        } else if self.sigp.iter().any(|n| hex_id(n) == node_id) {
            "sigp"
        } else {
            "?"
        }
    }
}

fn hex_id(n: &HonestNode) -> String {
    n.node_id()
        .raw()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

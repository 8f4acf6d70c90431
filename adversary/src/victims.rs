//! The victims: the real `discguard` binary and two plain discv5 baselines,
//! each in its own OS process (sigp's ban list is process-global), all given
//! the same bootnodes and exposed to the same attack at the same time.
//!
//! Each exposes what it would hand its consensus client on the same HTTP
//! shapes (`/v1/peers`, `/v1/table`, `/v1/lookup`, `/v1/bans`, `/healthz`),
//! so the harness measures served peers, not only tables. A victim that
//! answers `/v1/bans` with 404 (discguard before scoring) has no ban list:
//! recorded as absent, not as an error.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use discguard_service::api::{
    BansResponse, LookupResponse, PeerInfo, PeersResponse, TableResponse,
};
use discv5::Enr;
use enr::NodeId;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::keys::SecretKey;
use crate::procstat::ProcStat;

/// Environment variable with the victims' log filter (`RUST_LOG` syntax,
/// default `warn`), e.g. `discguard_service=debug` to see why discguard
/// scored whom. Each victim logs to `<out>/run-*/<victim>.log`.
pub const VICTIM_LOG_ENV: &str = "DISCGUARD_VICTIM_LOG";

/// Which defence a victim runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Defense {
    /// The real `discguard` binary with default settings.
    #[serde(rename = "discguard")]
    Discguard,
    /// sigp discv5 configured as Lighthouse does.
    #[serde(rename = "discv5-lighthouse")]
    Discv5Lighthouse,
    /// sigp discv5 with library defaults.
    #[serde(rename = "discv5-default")]
    Discv5Default,
}

impl Defense {
    /// All three, in report order.
    pub const ALL: [Self; 3] = [Self::Discguard, Self::Discv5Lighthouse, Self::Discv5Default];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discguard => "discguard",
            Self::Discv5Lighthouse => "discv5-lighthouse",
            Self::Discv5Default => "discv5-default",
        }
    }

    /// Whether it keeps a curated view beside discv5's table.
    pub fn has_view(self) -> bool {
        self == Self::Discguard
    }
}

impl fmt::Display for Defense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the victim binaries are.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The `discguard` binary.
    pub discguard: PathBuf,
    /// The `discguard-adversary` binary (runs the baselines: `victim`).
    pub adversary: PathBuf,
}

impl Binaries {
    /// `discguard` from [`crate::testnet::discguard_bin`]; the baselines
    /// from `$DISCGUARD_ADVERSARY_BIN`, else this executable.
    pub fn locate() -> anyhow::Result<Self> {
        let discguard = crate::testnet::discguard_bin()?;
        let adversary = match std::env::var_os("DISCGUARD_ADVERSARY_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe().context("current executable")?,
        };
        Ok(Self {
            discguard,
            adversary,
        })
    }
}

/// A victim to start.
#[derive(Clone, Debug)]
pub struct VictimSpec {
    /// Its defence.
    pub defense: Defense,
    /// Its key (pre-generated, so mined attacks can aim at it).
    pub key: SecretKey,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its UDP port.
    pub port: u16,
}

/// A running victim.
pub struct Victim {
    /// Its defence.
    pub defense: Defense,
    /// Its node ID.
    pub node_id: NodeId,
    /// Its HTTP API.
    pub http: SocketAddr,
    /// Its Prometheus endpoint (discguard only).
    pub metrics: Option<SocketAddr>,
    /// Its datadir (discguard only): `scores.json` is there after it stops.
    pub datadir: Option<PathBuf>,
    /// Its ENR as its `/healthz` gives it (read once it is ready).
    pub enr: Enr,
    child: Child,
    pid: u32,
    client: reqwest::Client,
    log: PathBuf,
}

/// The fields of `/healthz` the harness reads.
#[derive(Deserialize)]
struct Health {
    enr: String,
}

/// The last 30 lines of the log at `path`.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Polls the victim's `/healthz` until it answers (or `child` exits, or
/// `timeout` passes), and returns the ENR it gives.
async fn wait_ready(
    child: &mut Child,
    client: &reqwest::Client,
    http: SocketAddr,
    defense: Defense,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<Enr> {
    let deadline = Instant::now() + timeout;
    let url = format!("http://{http}/healthz");
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the {defense} victim exited ({status}) before it served; log:\n{}",
                log_tail(log)
            );
        }
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            let health: Health = r
                .json()
                .await
                .with_context(|| format!("{defense}: GET {url}: body"))?;
            return health
                .enr
                .parse::<Enr>()
                .map_err(|e| anyhow::anyhow!("{defense}: /healthz ENR: {e}"));
        }
        if Instant::now() > deadline {
            bail!(
                "the {defense} victim did not answer {url} within {timeout:?}; log:\n{}",
                log_tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_local_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("find a free TCP port")?;
    Ok(l.local_addr()?)
}

impl Victim {
    /// Starts the victim's process with `bootnodes` and waits (up to
    /// `ready_timeout`) until its `/healthz` answers. discguard gets its
    /// key in a fresh datadir under `dir`, `--asn-db asn_db` and default
    /// settings otherwise; its log goes to `dir/<defense>.log`.
    pub async fn start(
        spec: &VictimSpec,
        bins: &Binaries,
        bootnodes: &[String],
        asn_db: &Path,
        dir: &Path,
        ready_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = free_local_addr()?;
        let mut metrics = None;
        let mut datadir_of = None;
        let log = dir.join(format!("{}.log", spec.defense));
        let mut cmd = match spec.defense {
            Defense::Discguard => {
                let datadir = dir.join("discguard-datadir");
                std::fs::create_dir_all(&datadir)
                    .with_context(|| format!("create {}", datadir.display()))?;
                write_key(&datadir.join("node.key"), &spec.key)?;
                datadir_of = Some(datadir.clone());
                let metrics_addr = free_local_addr()?;
                metrics = Some(metrics_addr);
                let mut c = Command::new(&bins.discguard);
                c.args(["--network", "none", "--allow-private-addresses"])
                    .arg("--metrics-address")
                    .arg(metrics_addr.to_string())
                    .arg("--datadir")
                    .arg(&datadir);
                c
            }
            Defense::Discv5Lighthouse | Defense::Discv5Default => {
                let profile = if spec.defense == Defense::Discv5Lighthouse {
                    "lighthouse"
                } else {
                    "default"
                };
                let mut c = Command::new(&bins.adversary);
                c.args(["victim", "--profile", profile])
                    .env("DISCGUARD_VICTIM_KEY_HEX", spec.key.to_hex());
                c
            }
        };
        // The flags both binaries share.
        cmd.arg("--listen-address")
            .arg(spec.ip.to_string())
            .arg("--discovery-port")
            .arg(spec.port.to_string())
            .arg("--http-address")
            .arg(http.to_string())
            .arg("--asn-db")
            .arg(asn_db);
        if !bootnodes.is_empty() {
            cmd.arg("--bootnodes").arg(bootnodes.join(","));
        }
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut child = cmd
            .env(
                "RUST_LOG",
                std::env::var(VICTIM_LOG_ENV).unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn the {} victim", spec.defense))?;
        let pid = child.id().context("victim pid")?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("HTTP client")?;
        let enr = wait_ready(&mut child, &client, http, spec.defense, &log, ready_timeout).await?;
        let node_id = spec.key.node_id();
        if enr.node_id() != node_id {
            bail!(
                "the {} victim runs with node ID {}, not the key it was given",
                spec.defense,
                enr.node_id()
            );
        }
        Ok(Self {
            defense: spec.defense,
            node_id,
            http,
            metrics,
            datadir: datadir_of,
            enr,
            child,
            pid,
            client,
            log,
        })
    }

    /// The last lines of the victim's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.get_if_served(path).await?.with_context(|| {
            format!(
                "{}: GET http://{}{path}: 404 Not Found",
                self.defense, self.http
            )
        })
    }

    /// GET `path`; `None` on 404 (a victim that does not serve it).
    async fn get_if_served<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<Option<T>> {
        let url = format!("http://{}{path}", self.http);
        let r = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("{}: GET {url}", self.defense))?;
        let status = r.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            bail!(
                "{}: GET {url}: {status}: {}",
                self.defense,
                r.text().await.unwrap_or_default()
            );
        }
        r.json()
            .await
            .map(Some)
            .with_context(|| format!("{}: GET {url}: body", self.defense))
    }

    /// Its ban list, `/v1/bans`; `None` where it serves none (404: a
    /// discguard without scoring).
    pub async fn bans(&self) -> anyhow::Result<Option<BansResponse>> {
        self.get_if_served("/v1/bans").await
    }

    /// What it would hand its consensus client: `/v1/peers?limit=N`.
    pub async fn served(&self, limit: usize) -> anyhow::Result<Vec<PeerInfo>> {
        Ok(self
            .get::<PeersResponse>(&format!("/v1/peers?limit={limit}"))
            .await?
            .peers)
    }

    /// Its table and view: `/v1/table` (the view is empty for the
    /// baselines).
    pub async fn table(&self) -> anyhow::Result<TableResponse> {
        self.get("/v1/table").await
    }

    /// A lookup it runs for `target`: `/v1/lookup?target=…`.
    pub async fn lookup(&self, target: &NodeId) -> anyhow::Result<Vec<PeerInfo>> {
        Ok(self.lookup_with(target, "").await?.peers)
    }

    /// A lookup it runs for `target` with discguard's extra parameters
    /// (`options`, e.g. `&paths=1&privacy=prefix&transcript=true`; empty
    /// for the baselines, which take none): the whole answer.
    pub async fn lookup_with(
        &self,
        target: &NodeId,
        options: &str,
    ) -> anyhow::Result<LookupResponse> {
        let path = format!("/v1/lookup?target={}{options}", hex::encode(target.raw()));
        self.get::<LookupResponse>(&path).await
    }

    /// Its Prometheus page, if it exports one.
    pub async fn metrics_text(&self) -> anyhow::Result<Option<String>> {
        let Some(addr) = self.metrics else {
            return Ok(None);
        };
        let url = format!("http://{addr}/metrics");
        Ok(Some(self.client.get(&url).send().await?.text().await?))
    }

    /// CPU time and peak RSS so far (from `/proc`).
    pub fn stat(&self) -> Option<ProcStat> {
        ProcStat::of_pid(self.pid)
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit (then kills).
    /// Returns its CPU time and peak RSS read just before.
    pub async fn stop(mut self, timeout: Duration) -> Option<ProcStat> {
        let stat = self.stat();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(timeout, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        stat
    }
}

fn write_key(path: &Path, key: &SecretKey) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    f.write_all(key.to_hex().as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

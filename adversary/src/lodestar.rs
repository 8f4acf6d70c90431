//! Real Lodestar discv5 nodes (`@chainsafe/discv5` 11.0.0) for interop tests.
//!
//! [`LodestarNodes`] runs `node tests/js/lodestar-nodes.mjs`, which starts one
//! Lodestar discv5 node per IPv4 loopback address in a single Node process,
//! and turns the JSON lines it prints into [`LodestarEvent`]s. Tests wait on
//! those events (never on sleeps): [`LodestarNodes::spawn`] returns once every
//! node reported `ready`, [`LodestarNodes::wait_discovered`] once a node's
//! routing table gained a given node ID.
//!
//! The JS dependencies must be installed first (`npm ci --prefix tests/js`);
//! [`js_dir`] says so when they are missing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), discguard_adversary::lodestar::LodestarError> {
//! use std::{net::Ipv4Addr, time::Duration};
//! use discguard_adversary::lodestar::{LodestarConfig, LodestarNodes};
//!
//! let ips: Vec<Ipv4Addr> = (1..=3).map(|i| Ipv4Addr::new(127, 0, 2, i)).collect();
//! let mut nodes = LodestarNodes::spawn_with(LodestarConfig::new(&ips, 9000).bootnode_index(0)).await?;
//! let id0 = nodes.node_ids()[0].clone();
//! nodes.wait_discovered(1, &id0, Duration::from_secs(10)).await?;
//! let table = nodes.table(1).await?;
//! assert!(table.contains(&id0));
//! nodes.shutdown().await?;
//! # Ok(()) }
//! ```

use std::{
    collections::{HashMap, VecDeque},
    net::Ipv4Addr,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::{mpsc, watch},
    time::{Instant, timeout},
};

/// Driver script inside [`js_dir`].
pub const DRIVER_SCRIPT: &str = "lodestar-nodes.mjs";

/// Environment variable that overrides [`js_dir`].
pub const JS_DIR_ENV: &str = "DISCGUARD_JS_DIR";

/// Environment variable naming the `node` binary (default: `node` on `PATH`).
pub const NODE_BIN_ENV: &str = "DISCGUARD_NODE_BIN";

/// The command that installs the JS dependencies, for error messages.
pub const INSTALL_HINT: &str =
    "run `npm ci --prefix tests/js` from the repository root (see the README's test command)";

/// Default UDP port shared by all nodes of one driver (they differ by IP).
pub const DEFAULT_PORT: u16 = 9000;

/// Default time between random-node lookups of each node: 1 s, fast enough
/// for a 5-node network to converge within seconds on loopback.
pub const DEFAULT_LOOKUP_INTERVAL: Duration = Duration::from_millis(1000);

/// Default time to wait for every node's `ready` event. Node starts in about
/// 0.3 s; the margin covers a loaded CI machine.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Time [`LodestarNodes::shutdown`] and [`LodestarNodes::table`] wait for the
/// driver to answer before giving up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Cap on remembered `discovered` node IDs per node. A node's table holds at
/// most 256 buckets × 16 entries; the cap only bites under heavy churn, and
/// then the oldest IDs are forgotten.
pub const MAX_DISCOVERED_PER_NODE: usize = 16_384;

/// Capacity of the reply channel (answers to `table` / `add-enr`); replies
/// beyond it are dropped, which only happens if nobody reads them.
const REPLY_CHANNEL_CAPACITY: usize = 1024;

/// Lines of the driver's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 40;

/// Errors of the Lodestar driver helper.
#[derive(Debug, thiserror::Error)]
pub enum LodestarError {
    /// `node_modules/@chainsafe/discv5` is missing under the JS directory.
    #[error("{0}/node_modules/@chainsafe/discv5 is missing: {INSTALL_HINT}")]
    NotInstalled(PathBuf),
    /// The `node` process could not be started.
    #[error("cannot start `{bin}` for {script}: {source}")]
    Spawn {
        /// The node binary.
        bin: String,
        /// The driver script.
        script: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a command to the driver's stdin failed.
    #[error("cannot write to the lodestar driver: {0}")]
    Io(#[from] std::io::Error),
    /// The driver exited (or closed stdout) while we waited for it.
    #[error("lodestar driver exited ({status}); stderr:\n{stderr}")]
    Exited {
        /// Exit status, or `unknown` if it was not yet reaped.
        status: String,
        /// Last lines of the driver's stderr.
        stderr: String,
    },
    /// Waiting for something took longer than allowed.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A node index outside `0..len`.
    #[error("no lodestar node with index {index} (there are {len})")]
    NoSuchNode {
        /// The bad index.
        index: usize,
        /// Number of nodes.
        len: usize,
    },
    /// The driver rejected a command.
    #[error("lodestar driver rejected a command: {0}")]
    Command(String),
}

/// One line of the driver's stdout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LodestarEvent {
    /// Node `index` is bound and running.
    Ready {
        /// Node index (order of `--ip`).
        index: usize,
        /// Bind and ENR address.
        ip: Ipv4Addr,
        /// Bind and ENR UDP port.
        udp: u16,
        /// The node's ENR, `enr:` text form.
        enr: String,
        /// Node ID, 64 lowercase hex digits.
        node_id: String,
        /// libp2p peer ID of the node's key, as `@chainsafe/enr` derives it.
        peer_id: String,
    },
    /// Node `index`'s routing table gained a node (library event `enrAdded`).
    Discovered {
        /// Node index.
        index: usize,
        /// The added node's ID, 64 lowercase hex digits.
        node_id: String,
        /// The added node's ENR.
        enr: String,
        /// Node ID evicted to make room, if any.
        #[serde(default)]
        replaced: Option<String>,
    },
    /// Reply to `table`: node IDs in node `index`'s routing table now.
    Table {
        /// Node index.
        index: usize,
        /// Node IDs, 64 lowercase hex digits each.
        node_ids: Vec<String>,
    },
    /// Reply to `add-enr`: the ENR was handed to node `index`.
    Added {
        /// Node index.
        index: usize,
        /// Node ID of the added ENR.
        node_id: String,
    },
    /// The driver rejected a stdin command.
    Error {
        /// Why.
        message: String,
    },
    /// All nodes stopped; the driver exits next.
    Stopped,
}

/// What to start. Build with [`LodestarConfig::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct LodestarConfig {
    /// One node per address; each binds UDP on `ip:port` and puts it in its ENR.
    pub ips: Vec<Ipv4Addr>,
    /// UDP port shared by all nodes (1..=65535; port 0 is not supported by
    /// the library, which does not put the bound port in its ENR).
    pub port: u16,
    /// ENRs (`enr:` text) added to every node's table before it starts.
    pub bootnodes: Vec<String>,
    /// Indices of nodes in this driver whose ENR is added to every other node.
    pub bootnode_indices: Vec<usize>,
    /// Time between random-node lookups of each node.
    pub lookup_interval: Duration,
    /// Seed for deterministic node keys; `None` for random keys.
    pub seed: Option<u64>,
    /// Raw `eth2` ENR value (SSZ `ENRForkID`), if any.
    pub eth2: Option<Vec<u8>>,
    /// How long [`LodestarNodes::spawn_with`] waits for every `ready`.
    pub ready_timeout: Duration,
}

impl LodestarConfig {
    /// Nodes on `ips`, all on UDP `port`, no bootnodes, defaults otherwise.
    pub fn new(ips: &[Ipv4Addr], port: u16) -> Self {
        Self {
            ips: ips.to_vec(),
            port,
            bootnodes: Vec::new(),
            bootnode_indices: Vec::new(),
            lookup_interval: DEFAULT_LOOKUP_INTERVAL,
            seed: None,
            eth2: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// Adds external bootnode ENRs.
    pub fn bootnodes(mut self, enrs: &[String]) -> Self {
        self.bootnodes.extend_from_slice(enrs);
        self
    }

    /// Makes node `index` of this driver a bootnode of all the others.
    pub fn bootnode_index(mut self, index: usize) -> Self {
        self.bootnode_indices.push(index);
        self
    }

    /// Sets the lookup interval.
    pub fn lookup_interval(mut self, interval: Duration) -> Self {
        self.lookup_interval = interval;
        self
    }

    /// Derives node keys from `seed` (same seed and index, same node ID).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the raw `eth2` ENR value.
    pub fn eth2(mut self, eth2: &[u8]) -> Self {
        self.eth2 = Some(eth2.to_vec());
        self
    }

    /// Sets how long to wait for the nodes to be ready.
    pub fn ready_timeout(mut self, t: Duration) -> Self {
        self.ready_timeout = t;
        self
    }

    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        for ip in &self.ips {
            a.extend(["--ip".to_owned(), ip.to_string()]);
        }
        a.extend(["--port".to_owned(), self.port.to_string()]);
        for b in &self.bootnodes {
            a.extend(["--bootnode".to_owned(), b.clone()]);
        }
        for i in &self.bootnode_indices {
            a.extend(["--bootnode-index".to_owned(), i.to_string()]);
        }
        a.extend([
            "--lookup-interval-ms".to_owned(),
            self.lookup_interval.as_millis().to_string(),
        ]);
        if let Some(seed) = self.seed {
            a.extend(["--seed".to_owned(), seed.to_string()]);
        }
        if let Some(eth2) = &self.eth2 {
            a.extend(["--eth2".to_owned(), hex_encode(eth2)]);
        }
        a
    }
}

/// Directory holding `lodestar-nodes.mjs` and its `node_modules`:
/// `$DISCGUARD_JS_DIR`, else `<repo>/tests/js`.
///
/// When the packages are not installed yet, installs them once per process
/// with `npm ci` (exact versions from `package-lock.json`; blocks while it
/// runs) and errors with [`LodestarError::NotInstalled`] if that fails.
pub fn js_dir() -> Result<PathBuf, LodestarError> {
    let dir = std::env::var_os(JS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js"));
    let installed = |dir: &PathBuf| {
        dir.join("node_modules/@chainsafe/discv5/package.json")
            .is_file()
    };
    if !installed(&dir) {
        static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        if !installed(&dir) {
            let npm = std::env::var_os("DISCGUARD_NPM_BIN").unwrap_or_else(|| "npm".into());
            let _ = std::process::Command::new(npm)
                .arg("ci")
                .arg("--prefix")
                .arg(&dir)
                .args(["--no-audit", "--no-fund", "--loglevel=error"])
                .status();
            if !installed(&dir) {
                return Err(LodestarError::NotInstalled(dir));
            }
        }
    }
    Ok(dir)
}

/// A ready node, from its `ready` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LodestarNode {
    /// Bind and ENR address.
    pub ip: Ipv4Addr,
    /// Bind and ENR UDP port.
    pub udp: u16,
    /// ENR, `enr:` text form.
    pub enr: String,
    /// Node ID, 64 lowercase hex digits.
    pub node_id: String,
    /// libp2p peer ID (`16Uiu2…`), as `@chainsafe/enr` derives it.
    pub peer_id: String,
}

#[derive(Debug, Default)]
struct State {
    ready: Vec<Option<LodestarNode>>,
    /// Per node: IDs its table ever gained (insertion order, capped), with ENRs.
    discovered: Vec<(VecDeque<String>, HashMap<String, String>)>,
    stdout_closed: bool,
    stderr_closed: bool,
    stderr_tail: VecDeque<String>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Bumped after every state change; waiters re-check on change.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// A running `lodestar-nodes.mjs`: N Lodestar discv5 nodes in one process.
///
/// Dropping it kills the process; [`LodestarNodes::shutdown`] stops it cleanly.
#[derive(Debug)]
pub struct LodestarNodes {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    replies: mpsc::Receiver<LodestarEvent>,
    nodes: Vec<LodestarNode>,
}

impl LodestarNodes {
    /// Starts one node per address in `ips`, all on UDP `port`, each with
    /// every ENR of `bootnodes` in its table, and waits for all to be ready.
    pub async fn spawn(
        ips: &[Ipv4Addr],
        port: u16,
        bootnodes: &[String],
    ) -> Result<Self, LodestarError> {
        Self::spawn_with(LodestarConfig::new(ips, port).bootnodes(bootnodes)).await
    }

    /// Starts the nodes `config` describes and waits for all to be ready.
    pub async fn spawn_with(config: LodestarConfig) -> Result<Self, LodestarError> {
        let dir = js_dir()?;
        let script = dir.join(DRIVER_SCRIPT);
        let bin = std::env::var(NODE_BIN_ENV).unwrap_or_else(|_| "node".to_owned());
        let mut child = Command::new(&bin)
            .arg(&script)
            .args(config.args())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| LodestarError::Spawn {
                bin: bin.clone(),
                script: script.clone(),
                source,
            })?;

        let n = config.ips.len();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                ready: vec![None; n],
                discovered: (0..n).map(|_| Default::default()).collect(),
                ..State::default()
            }),
            changed: watch::channel(0).0,
        });
        let (reply_tx, replies) = mpsc::channel(REPLY_CHANNEL_CAPACITY);

        let stdout = child.stdout.take().expect("stdout is piped");
        tokio::spawn(read_stdout(stdout, Arc::clone(&shared), reply_tx));
        let stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(read_stderr(stderr, Arc::clone(&shared)));

        let mut this = Self {
            stdin: child.stdin.take(),
            child,
            shared,
            replies,
            nodes: Vec::new(),
        };
        let ready = this
            .wait_state(
                config.ready_timeout,
                || format!("{n} lodestar nodes to be ready"),
                |s| s.ready.iter().cloned().collect::<Option<Vec<_>>>(),
            )
            .await;
        let nodes = match ready {
            Ok(nodes) => nodes,
            Err(LodestarError::Exited { stderr, .. }) => {
                let status = match timeout(COMMAND_TIMEOUT, this.child.wait()).await {
                    Ok(Ok(status)) => status.to_string(),
                    _ => "unknown".to_owned(),
                };
                return Err(LodestarError::Exited { status, stderr });
            }
            Err(e) => return Err(e),
        };
        this.nodes = nodes;
        Ok(this)
    }

    /// The ready nodes, in index order.
    pub fn nodes(&self) -> &[LodestarNode] {
        &self.nodes
    }

    /// ENRs (`enr:` text) in index order.
    pub fn enrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.enr.clone()).collect()
    }

    /// Node IDs (64 lowercase hex digits) in index order.
    pub fn node_ids(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.node_id.clone()).collect()
    }

    /// Node IDs node `index`'s table has gained so far (from `discovered`
    /// events; includes nodes since evicted), in order of arrival.
    pub fn discovered(&self, index: usize) -> Result<Vec<String>, LodestarError> {
        self.check_index(index)?;
        Ok(self.shared.lock().discovered[index]
            .0
            .iter()
            .cloned()
            .collect())
    }

    /// Waits until node `index`'s table has gained `node_id` (hex, any case,
    /// optional `0x`), and returns that node's ENR. Counts events that
    /// arrived before the call.
    pub async fn wait_discovered(
        &self,
        index: usize,
        node_id: &str,
        timeout: Duration,
    ) -> Result<String, LodestarError> {
        self.check_index(index)?;
        let id = normalize_node_id(node_id);
        self.wait_state(
            timeout,
            || format!("lodestar node {index} to discover {id}"),
            |s| s.discovered[index].1.get(&id).cloned(),
        )
        .await
    }

    /// Waits until node `index`'s table has gained at least `count` distinct
    /// nodes; returns their IDs.
    pub async fn wait_discovered_count(
        &self,
        index: usize,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<String>, LodestarError> {
        self.check_index(index)?;
        self.wait_state(
            timeout,
            || format!("lodestar node {index} to discover {count} nodes"),
            |s| {
                let d = &s.discovered[index].0;
                (d.len() >= count).then(|| d.iter().cloned().collect())
            },
        )
        .await
    }

    /// Node IDs in node `index`'s routing table right now (asks the driver).
    pub async fn table(&mut self, index: usize) -> Result<Vec<String>, LodestarError> {
        self.check_index(index)?;
        self.command(&format!("table {index}")).await?;
        self.wait_reply(|ev| match ev {
            LodestarEvent::Table { index: i, node_ids } if i == index => Some(node_ids),
            _ => None,
        })
        .await
    }

    /// Adds `enr` to node `index`'s table, or to every node's if `None`.
    pub async fn add_enr(&mut self, index: Option<usize>, enr: &str) -> Result<(), LodestarError> {
        let target = match index {
            Some(i) => {
                self.check_index(i)?;
                i.to_string()
            }
            None => "*".to_owned(),
        };
        let expected = index.map_or(self.nodes.len(), |_| 1);
        self.command(&format!("add-enr {target} {enr}")).await?;
        for _ in 0..expected {
            self.wait_reply(|ev| matches!(ev, LodestarEvent::Added { .. }).then_some(()))
                .await?;
        }
        Ok(())
    }

    /// Stops every node and waits for the driver to exit (killing it after
    /// [`COMMAND_TIMEOUT`]).
    pub async fn shutdown(mut self) -> Result<ExitStatus, LodestarError> {
        // Closing stdin is the driver's stop signal (same as `quit`).
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n").await;
            drop(stdin);
        }
        match timeout(COMMAND_TIMEOUT, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                Err(LodestarError::Timeout {
                    what: "the lodestar driver to exit".to_owned(),
                    timeout: COMMAND_TIMEOUT,
                })
            }
        }
    }

    fn check_index(&self, index: usize) -> Result<(), LodestarError> {
        let len = self.shared.lock().ready.len();
        if index < len {
            Ok(())
        } else {
            Err(LodestarError::NoSuchNode { index, len })
        }
    }

    async fn command(&mut self, line: &str) -> Result<(), LodestarError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.exited_error());
        };
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Next reply matching `pick`; other replies are skipped, `error` fails.
    async fn wait_reply<T>(
        &mut self,
        mut pick: impl FnMut(LodestarEvent) -> Option<T>,
    ) -> Result<T, LodestarError> {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.replies.recv()).await {
                Err(_) => {
                    return Err(LodestarError::Timeout {
                        what: "a reply from the lodestar driver".to_owned(),
                        timeout: COMMAND_TIMEOUT,
                    });
                }
                Ok(None) => return Err(self.exited_error()),
                Ok(Some(LodestarEvent::Error { message })) => {
                    return Err(LodestarError::Command(message));
                }
                Ok(Some(ev)) => {
                    if let Some(t) = pick(ev) {
                        return Ok(t);
                    }
                }
            }
        }
    }

    /// Waits until `check` returns `Some`, re-checking on every state change.
    async fn wait_state<T>(
        &self,
        limit: Duration,
        what: impl Fn() -> String,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, LodestarError> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = Instant::now() + limit;
        loop {
            // Mark the current version seen before checking, so a change made
            // after the check wakes `changed()` below.
            let _ = rx.borrow_and_update();
            {
                let state = self.shared.lock();
                if let Some(t) = check(&state) {
                    return Ok(t);
                }
                // Wait for stderr to end too, so the error carries the driver's message.
                if state.stdout_closed && state.stderr_closed {
                    drop(state);
                    return Err(self.exited_error());
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(self.exited_error()),
                Err(_) => {
                    return Err(LodestarError::Timeout {
                        what: what(),
                        timeout: limit,
                    });
                }
            }
        }
    }

    fn exited_error(&self) -> LodestarError {
        let stderr = self
            .shared
            .lock()
            .stderr_tail
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        LodestarError::Exited {
            status: "stdout closed".to_owned(),
            stderr,
        }
    }
}

async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    shared: Arc<Shared>,
    replies: mpsc::Sender<LodestarEvent>,
) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let ev: LodestarEvent = match serde_json::from_str(&line) {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("lodestar-nodes: unparsable stdout line ({e}): {line}");
                continue;
            }
        };
        match ev {
            LodestarEvent::Ready {
                index,
                ip,
                udp,
                enr,
                node_id,
                peer_id,
            } => {
                let mut s = shared.lock();
                if let Some(slot) = s.ready.get_mut(index) {
                    *slot = Some(LodestarNode {
                        ip,
                        udp,
                        enr,
                        node_id,
                        peer_id,
                    });
                }
            }
            LodestarEvent::Discovered {
                index,
                node_id,
                enr,
                ..
            } => {
                let mut s = shared.lock();
                if let Some((order, enrs)) = s.discovered.get_mut(index)
                    && enrs.insert(node_id.clone(), enr).is_none()
                {
                    order.push_back(node_id);
                    if order.len() > MAX_DISCOVERED_PER_NODE
                        && let Some(old) = order.pop_front()
                    {
                        enrs.remove(&old);
                    }
                }
            }
            LodestarEvent::Stopped => {}
            reply @ (LodestarEvent::Table { .. }
            | LodestarEvent::Added { .. }
            | LodestarEvent::Error { .. }) => {
                // Full only if nobody reads replies; dropping is then harmless.
                let _ = replies.try_send(reply);
            }
        }
        shared.bump();
    }
    shared.lock().stdout_closed = true;
    shared.bump();
}

async fn read_stderr(stderr: tokio::process::ChildStderr, shared: Arc<Shared>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{line}");
        let mut s = shared.lock();
        s.stderr_tail.push_back(line);
        if s.stderr_tail.len() > STDERR_TAIL_LINES {
            s.stderr_tail.pop_front();
        }
        drop(s);
        shared.bump();
    }
    shared.lock().stderr_closed = true;
    shared.bump();
}

fn normalize_node_id(id: &str) -> String {
    id.strip_prefix("0x").unwrap_or(id).to_ascii_lowercase()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events() {
        let ev: LodestarEvent = serde_json::from_str(
            r#"{"event":"ready","index":0,"ip":"127.0.2.1","udp":9000,"enr":"enr:x","node_id":"ab","peer_id":"16Uiu2x"}"#,
        )
        .unwrap();
        assert_eq!(
            ev,
            LodestarEvent::Ready {
                index: 0,
                ip: Ipv4Addr::new(127, 0, 2, 1),
                udp: 9000,
                enr: "enr:x".into(),
                node_id: "ab".into(),
                peer_id: "16Uiu2x".into(),
            }
        );
        let ev: LodestarEvent = serde_json::from_str(
            r#"{"event":"discovered","index":1,"node_id":"cd","enr":"enr:y"}"#,
        )
        .unwrap();
        assert!(matches!(
            ev,
            LodestarEvent::Discovered {
                index: 1,
                replaced: None,
                ..
            }
        ));
        let ev: LodestarEvent =
            serde_json::from_str(r#"{"event":"table","index":2,"node_ids":["a","b"]}"#).unwrap();
        assert_eq!(
            ev,
            LodestarEvent::Table {
                index: 2,
                node_ids: vec!["a".into(), "b".into()]
            }
        );
        let ev: LodestarEvent = serde_json::from_str(r#"{"event":"stopped"}"#).unwrap();
        assert_eq!(ev, LodestarEvent::Stopped);
    }

    /// Five Lodestar nodes on 127.0.2.1..=5, node 0 bootnode of the others:
    /// every node's table gains at least 2 others within 30 s. Needs
    /// `npm ci --prefix tests/js` (fails with that hint otherwise).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn five_lodestar_nodes_discover_each_other() {
        let ips: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(127, 0, 2, i)).collect();
        let start = std::time::Instant::now();
        let mut nodes =
            LodestarNodes::spawn_with(LodestarConfig::new(&ips, 19_000).bootnode_index(0))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let ready = start.elapsed();
        let ids = nodes.node_ids();
        for index in 0..ips.len() {
            let found = nodes
                .wait_discovered_count(index, 2, Duration::from_secs(30))
                .await
                .expect("discovery");
            assert!(
                found.iter().all(|id| ids.contains(id) && *id != ids[index]),
                "node {index}: {found:?}"
            );
        }
        let converged = start.elapsed();
        // Full mesh is the expected steady state on 5 nodes.
        for index in 0..ips.len() {
            for (j, id) in ids.iter().enumerate() {
                if j != index {
                    nodes
                        .wait_discovered(index, id, Duration::from_secs(30))
                        .await
                        .expect("full mesh");
                }
            }
        }
        let full = start.elapsed();
        let table = nodes.table(1).await.expect("table");
        assert!(
            table.contains(&ids[0]),
            "bootnode missing from node 1's table: {table:?}"
        );
        eprintln!("lodestar selftest: ready {ready:?}, >=2 each {converged:?}, full mesh {full:?}");
        let status = nodes.shutdown().await.expect("shutdown");
        assert!(status.success(), "driver exit status {status}");
    }

    /// A second driver on an address already bound fails with the driver's
    /// bind error, not a timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bind_failure_is_reported() {
        let ips = [Ipv4Addr::new(127, 0, 2, 6)];
        let first = LodestarNodes::spawn(&ips, 19_001, &[])
            .await
            .expect("first spawn");
        let err = LodestarNodes::spawn(&ips, 19_001, &[])
            .await
            .expect_err("second spawn must fail");
        assert!(
            matches!(&err, LodestarError::Exited { stderr, .. } if stderr.contains("EADDRINUSE")),
            "unexpected error: {err}"
        );
        first.shutdown().await.expect("shutdown");
    }
}

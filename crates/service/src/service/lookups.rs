//! Driving discguard's own lookups (`discguard_lookup`) over discv5: every
//! query is one `find_node_designated_peer(enr, distances)`, every answer
//! is judged and scored, and `cover` runs dummy lookups beside the real one.

use std::time::{Duration, Instant};

use discguard_lookup::{Candidate, Lookup, LookupConfig, LookupResult, Next, PrivacySetting};
use discguard_netgroup::addr_class;
use discguard_scoring::{Event as ScoreEvent, Record};
use discv5::Enr;
use enr::NodeId;
use parking_lot::Mutex;
use rand::RngExt as _;
use tokio::task::JoinSet;
use tracing::{debug, trace};

use super::{RawId, ServiceHandle, enr_udp_socket, hex_id, raw, stopped};
use crate::api::{LookupSummary, QueryRecord};
use crate::metrics as m;

/// How one lookup runs: the node's defaults ([`ServiceHandle::lookup_options`])
/// or what a `/v1/lookup` request asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// Query mode and cover.
    pub privacy: PrivacySetting,
    /// Disjoint paths (1..=8).
    pub paths: usize,
    /// Dummy lookups when `privacy` has cover (1..=4).
    pub cover: usize,
    /// Whether to keep the transcript of every FINDNODE sent.
    pub transcript: bool,
}

/// What the targets of a lookup and of its cover look like: dummies are
/// drawn the same way, so an observer cannot tell them apart by target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// A random ID (refresh lookups): dummies are random IDs too.
    Random,
    /// A node someone asked for (`/v1/lookup`): dummies are node IDs we
    /// know (the view and discv5's table).
    Node,
}

/// A finished lookup: the ENRs found, closest to the target first, and how
/// it ran.
#[derive(Clone, Debug)]
pub struct LookupOutcome {
    /// The nodes found, closest first.
    pub found: Vec<Enr>,
    /// Mode, cost and (on request) the transcript.
    pub summary: LookupSummary,
}

/// FINDNODE requests a lookup keeps in flight, over all its paths: sigp
/// discv5's `query_parallelism` (α = 3, as in Kademlia).
const LOOKUP_IN_FLIGHT: usize = 3;

/// The seed of every lookup's randomness comes from the OS: a lookup's key
/// and distances must not be predictable to an observer.
fn lookup_seed() -> u64 {
    rand::random()
}

impl ServiceHandle {
    /// The node's lookup settings (`--lookup-privacy`, `--lookup-cover`,
    /// `--lookup-paths`), no transcript.
    pub fn lookup_options(&self) -> LookupOptions {
        let c = &self.inner.config;
        LookupOptions {
            privacy: c.lookup_privacy,
            paths: c.lookup_paths,
            cover: c.lookup_cover,
            transcript: false,
        }
    }

    /// The judged record of an ENR (groups, routability, fork) for the
    /// answer rules.
    pub(super) fn record_of(&self, enr: &Enr) -> Record {
        let socket = enr_udp_socket(enr);
        Record {
            id: raw(&enr.node_id()),
            groups: socket.map(|s| self.inner.classifier.groups(s.ip())),
            routable: socket.is_some_and(|s| {
                self.inner.config.allow_private_addresses || addr_class(s.ip()).is_public()
            }),
            fork_ok: self.fork_check(enr).is_ok(),
        }
    }

    /// Where lookups start: the curated view, never discv5's raw table; the
    /// configured bootnodes too while the view holds fewer than a result's
    /// worth (16).
    fn lookup_seeds(&self) -> Vec<Candidate<Enr>> {
        let mut enrs = self.view_enrs();
        if enrs.len() < discguard_lookup::DEFAULT_RESULT_SIZE {
            enrs.extend(self.inner.config.bootnodes.iter().cloned());
        }
        enrs.into_iter()
            .filter(|e| e.node_id() != self.inner.local_id && enr_udp_socket(e).is_some())
            .map(|e| Candidate {
                record: self.record_of(&e),
                payload: e,
            })
            .collect()
    }

    /// N̂ for `prefix` mode: the lookups' estimate, else the table's, else
    /// the view's size (a lower bound: it reveals fewer bits, never more).
    fn network_size_estimate(&self) -> u64 {
        let estimate = self
            .inner
            .risk
            .lookup_network_size()
            .or_else(|| self.inner.risk.table_network_size());
        match estimate {
            Some(n) if n.is_finite() && n >= 1.0 => n as u64,
            _ => self.view_len() as u64,
        }
    }

    /// A dummy target drawn like `kind`'s real ones, never `target` itself.
    fn dummy_target(&self, kind: TargetKind, target: &NodeId) -> NodeId {
        if kind == TargetKind::Node {
            let mut known: Vec<NodeId> = self.view_enrs().iter().map(Enr::node_id).collect();
            known.extend(self.inner.discv5.read().table_entries_id());
            known.retain(|id| id != target && *id != self.inner.local_id);
            if !known.is_empty() {
                return known[rand::rng().random_range(0..known.len())];
            }
        }
        NodeId::random()
    }

    /// Runs a lookup for `target` with `options`, plus its cover lookups,
    /// all started together; every node any of them found is queued as a
    /// candidate (PINGed, then offered to the view), dummies' alike. Not
    /// counted in metrics or risk: [`ServiceHandle::lookup_with`] does that.
    pub(super) async fn run_with_cover(
        &self,
        target: NodeId,
        options: LookupOptions,
        kind: TargetKind,
    ) -> LookupOutcome {
        let started = Instant::now();
        let c = &self.inner.config;
        let network_size = self.network_size_estimate();
        let config = LookupConfig {
            paths: options.paths,
            // sigp's α = 3 queries in flight, shared by the paths: one path
            // keeps 3 in flight, three paths 1 each.
            parallelism: LOOKUP_IN_FLIGHT.div_ceil(options.paths),
            privacy: options.privacy.privacy(c.lookup_prefix_k, network_size),
            rules: c.answer_rules,
            ..LookupConfig::default()
        };
        let cover = if options.privacy.cover {
            options.cover
        } else {
            0
        };
        let mut summary = LookupSummary {
            privacy: config.privacy.as_str().to_owned(),
            cover,
            paths: options.paths,
            revealed_bits: 256,
            ..LookupSummary::default()
        };
        let seeds = self.lookup_seeds();
        if seeds.is_empty() {
            // Nothing to ask yet: wait for bootnodes or inbound contact.
            return LookupOutcome {
                found: Vec::new(),
                summary,
            };
        }
        let transcript = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut drivers = JoinSet::new();
        for index in 0..=cover {
            let t = if index == 0 {
                target
            } else {
                self.dummy_target(kind, &target)
            };
            let lookup = match Lookup::new(
                t.raw(),
                seeds.clone(),
                config,
                lookup_seed(),
                Duration::ZERO,
            ) {
                Ok(l) => l,
                Err(e) => {
                    // ServiceConfig::validate checked every field.
                    debug!(error = %e, "lookup not started");
                    return LookupOutcome {
                        found: Vec::new(),
                        summary,
                    };
                }
            };
            if index == 0 {
                summary.revealed_bits = lookup.revealed_bits();
            }
            let (me, log) = (self.clone(), options.transcript.then(|| transcript.clone()));
            drivers.spawn(async move {
                let result = me.drive(lookup, index, started, log).await;
                (index, result)
            });
        }
        let mut real = None;
        while let Some(joined) = drivers.join_next().await {
            let Ok((index, result)) = joined else {
                continue;
            };
            for found in &result.closest {
                self.offer_candidate(found.payload.clone());
            }
            if index == 0 {
                real = Some(result);
            } else {
                summary.cover_queries += result.queries;
            }
        }
        summary.millis = started.elapsed().as_millis() as u64;
        summary.transcript = std::mem::take(&mut *transcript.lock());
        let Some(result) = real else {
            return LookupOutcome {
                found: Vec::new(),
                summary,
            };
        };
        summary.found_target = result.found_target();
        summary.queries = result.queries;
        summary.failures = result.failures;
        summary.rounds = result.rounds;
        summary.agreement = result.agreement;
        summary.cut_short = result.cut_short;
        LookupOutcome {
            found: result.closest.into_iter().map(|f| f.payload).collect(),
            summary,
        }
    }

    /// Drives one lookup to its end: sends what it asks, feeds back what
    /// came of it, scores every answer. Stops early at shutdown.
    async fn drive(
        &self,
        mut lookup: Lookup<Enr>,
        index: usize,
        started: Instant,
        transcript: Option<std::sync::Arc<Mutex<Vec<QueryRecord>>>>,
    ) -> LookupResult<Enr> {
        let kind = if index == 0 { "real" } else { "cover" };
        let begun = started.elapsed();
        let mut shutdown = self.shutdown_rx();
        let mut in_flight = JoinSet::new();
        loop {
            let now = started.elapsed().saturating_sub(begun);
            match lookup.next(now) {
                Next::Query { peer, distances } => {
                    let Some(enr) = lookup.payload(&peer).cloned() else {
                        lookup.on_failure(&peer);
                        continue;
                    };
                    if let Some(log) = &transcript {
                        log.lock().push(QueryRecord {
                            lookup: index,
                            peer: hex_id(&peer),
                            distances: distances.clone(),
                            at_ms: started.elapsed().as_millis() as u64,
                        });
                    }
                    let request = self
                        .inner
                        .discv5
                        .read()
                        .find_node_designated_peer(enr.clone(), distances);
                    in_flight.spawn(async move { (peer, enr, request.await) });
                }
                Next::Waiting => {
                    let remaining = discguard_lookup::DEFAULT_TIMEOUT.saturating_sub(now);
                    tokio::select! {
                        _ = stopped(&mut shutdown) => break,
                        // A request task cannot panic; with nothing in flight
                        // `next` finishes or times the lookup out.
                        Some(Ok((peer, enr, answer))) = in_flight.join_next() => {
                            self.on_answer(&mut lookup, kind, &peer, &enr, answer);
                        }
                        _ = tokio::time::sleep(remaining) => {}
                    }
                }
                Next::Finished => break,
            }
        }
        in_flight.abort_all();
        let result = lookup.result();
        for id in &result.outvoted {
            let ip = lookup.payload(id).and_then(enr_udp_socket).map(|s| s.ip());
            self.score(id, ip, ScoreEvent::OutvotedAnswer);
        }
        if !result.outvoted.is_empty() {
            debug!(blamed = result.outvoted.len(), "lookup path outvoted");
        }
        result
    }

    /// One FINDNODE came back: feed the lookup, score the sender.
    fn on_answer(
        &self,
        lookup: &mut Lookup<Enr>,
        kind: &'static str,
        peer: &RawId,
        enr: &Enr,
        answer: Result<Vec<Enr>, discv5::RequestError>,
    ) {
        let ip = enr_udp_socket(enr).map(|s| s.ip());
        let nodes = match answer {
            Ok(nodes) => nodes,
            Err(e) => {
                let timeout = matches!(e, discv5::RequestError::Timeout);
                let outcome = if timeout { "timeout" } else { "error" };
                metrics::counter!(m::LOOKUP_QUERIES, "lookup" => kind, "outcome" => outcome)
                    .increment(1);
                if timeout {
                    self.score(peer, ip, ScoreEvent::RequestTimeout);
                }
                trace!(node_id = %hex_id(peer), error = ?e, "lookup query failed");
                lookup.on_failure(peer);
                return;
            }
        };
        metrics::counter!(m::LOOKUP_QUERIES, "lookup" => kind, "outcome" => "ok").increment(1);
        let candidates: Vec<Candidate<Enr>> = nodes
            .into_iter()
            .map(|e| Candidate {
                record: self.record_of(&e),
                payload: e,
            })
            .collect();
        let records: Vec<Record> = candidates.iter().map(|c| c.record).collect();
        let report = lookup.on_response(peer, candidates);
        // The engine has already taken the records it follows; a clustered
        // sender is scored all the same.
        self.score_answer(peer, ip, &report.events, &records);
        if report.events.is_empty() {
            // Remember who returned what: when the verifier PINGs the
            // records, the sender earns `useful_answers` or
            // `mostly_dead_answers`.
            self.inner
                .scores
                .lock()
                .returned(peer, records.iter().map(|r| r.id));
        } else {
            debug!(node_id = %hex_id(peer), events = ?report.events, trimmed = report.trimmed, dropped = report.dropped, "lookup answer judged");
        }
    }
}

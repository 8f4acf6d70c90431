//! The HTTP API (axum), on 127.0.0.1 by default.
//!
//! | path | answer |
//! |---|---|
//! | `GET /v1/peers?limit=N` | `{"peers":[PeerInfo…]}`, N in 1..=[`MAX_PEERS_LIMIT`], default [`DEFAULT_PEERS_LIMIT`] |
//! | `GET /v1/table` | the curated view by k-bucket, with each entry's groups, behaviour score and the events that moved it recently |
//! | `GET /v1/risk` | every eclipse-risk measure of discv5's table, the view, the served peers and recent lookups, and the headline `eclipse_risk` per scope (`docs/risk.md`) |
//! | `GET /v1/lookup?target=<node ID>[&privacy=…][&paths=1..8][&cover=1..4][&transcript=true]` | `{"target":"…","peers":[PeerInfo…],"engine":{LookupSummary}}`: runs one lookup (discguard's engine, docs/lookup.md) towards the node ID (64 hex digits) with the node's settings or those asked for, and lists every node it found, closest first; `engine` says how it ran (mode, cost, and with `transcript=true` every FINDNODE sent) |
//! | `GET /v1/bans` | `{"bans":[{"node_id","ip","reason","score","expires_in_seconds"}…],"ip_bans":[{"ip","expires_in_seconds"}…]}`: peers and IPs banned for their behaviour (`docs/scoring.md`) |
//! | `GET /healthz` | `{"status":"ok",…}` |
//!
//! Errors are JSON `{"error":"…"}` with status 400 (bad query), 404 (unknown
//! path), 405 (wrong method) or 503 (more than [`MAX_CONCURRENT_LOOKUPS`]
//! lookups asked for at once).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use discguard_service::ServiceHandle;
use discguard_service::TargetKind;
use discguard_service::api::{LookupResponse, PeersResponse, parse_node_id};
use discguard_service::config::{MAX_LOOKUP_COVER, MAX_LOOKUP_PATHS};
use discguard_service::discguard_lookup::PrivacySetting;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// Peers served when `limit` is not given.
pub const DEFAULT_PEERS_LIMIT: usize = 32;
/// Largest `limit` accepted: more than any client keeps as peers, and it
/// bounds the work one request can ask for.
pub const MAX_PEERS_LIMIT: usize = 1024;
/// Lookups `GET /v1/lookup` runs at once; one more is refused with 503. Each
/// lookup is up to a few dozen FINDNODE requests over tens of seconds, so a
/// client looping on the endpoint must not pile them up.
pub const MAX_CONCURRENT_LOOKUPS: usize = 8;

/// A JSON error body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiError {
    /// What was wrong.
    pub error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeersQuery {
    limit: Option<usize>,
}

/// The router's state: the service and the lookup permits.
#[derive(Clone)]
struct ApiState {
    service: ServiceHandle,
    lookups: Arc<Semaphore>,
}

impl FromRef<ApiState> for ServiceHandle {
    fn from_ref(state: &ApiState) -> Self {
        state.service.clone()
    }
}

/// The query, or the 400 answer naming what was wrong with it.
fn parse_query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Box<Response>> {
    query.map(|Query(q)| q).map_err(|rejection| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("bad query: {}", rejection.body_text()),
        ))
    })
}

async fn peers(
    State(service): State<ServiceHandle>,
    query: Result<Query<PeersQuery>, QueryRejection>,
) -> Response {
    let query = match parse_query(query) {
        Ok(q) => q,
        Err(response) => return *response,
    };
    let limit = query.limit.unwrap_or(DEFAULT_PEERS_LIMIT);
    if !(1..=MAX_PEERS_LIMIT).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("bad query: limit={limit} is out of range 1..={MAX_PEERS_LIMIT}"),
        );
    }
    Json(PeersResponse {
        peers: service.peers(limit),
    })
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    target: String,
    /// `off`, `blur`, `prefix`, `cover`, `blur+cover` or `prefix+cover`.
    privacy: Option<String>,
    paths: Option<usize>,
    cover: Option<usize>,
    transcript: Option<bool>,
}

/// `text`, cut to its first 80 characters (with `…`) for an error message.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

async fn lookup(
    State(state): State<ApiState>,
    query: Result<Query<LookupQuery>, QueryRejection>,
) -> Response {
    let query = match parse_query(query) {
        Ok(q) => q,
        Err(response) => return *response,
    };
    let Some(target) = parse_node_id(&query.target) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "bad query: target={} is not a 64-hex-digit node ID",
                shorten(&query.target)
            ),
        );
    };
    let mut options = state.service.lookup_options();
    if let Some(text) = &query.privacy {
        match text.parse::<PrivacySetting>() {
            Ok(p) => options.privacy = p,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("bad query: privacy={}: {e}", shorten(text)),
                );
            }
        }
    }
    if let Some(paths) = query.paths {
        if !(1..=MAX_LOOKUP_PATHS).contains(&paths) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad query: paths={paths} is out of range 1..={MAX_LOOKUP_PATHS}"),
            );
        }
        options.paths = paths;
    }
    if let Some(cover) = query.cover {
        if !(1..=MAX_LOOKUP_COVER).contains(&cover) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad query: cover={cover} is out of range 1..={MAX_LOOKUP_COVER}"),
            );
        }
        options.cover = cover;
    }
    options.transcript = query.transcript.unwrap_or(false);
    let Ok(_permit) = state.lookups.try_acquire() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_CONCURRENT_LOOKUPS} lookups are running already; retry later"),
        );
    };
    let outcome = state
        .service
        .lookup_with(target, options, TargetKind::Node)
        .await;
    Json(LookupResponse {
        target: hex::encode(target.raw()),
        peers: state.service.peer_infos(&outcome.found),
        engine: Some(outcome.summary),
    })
    .into_response()
}

/// The router, over a running service.
pub fn router(service: ServiceHandle) -> Router {
    let state = ApiState {
        service,
        lookups: Arc::new(Semaphore::new(MAX_CONCURRENT_LOOKUPS)),
    };
    Router::new()
        .route("/v1/peers", get(peers))
        .route("/v1/lookup", get(lookup))
        .route(
            "/v1/table",
            get(|State(s): State<ServiceHandle>| async move { Json(s.table()) }),
        )
        .route(
            "/v1/risk",
            get(|State(s): State<ServiceHandle>| async move { Json(s.risk()) }),
        )
        .route(
            "/v1/bans",
            get(|State(s): State<ServiceHandle>| async move { Json(s.bans()) }),
        )
        .route(
            "/healthz",
            get(|State(s): State<ServiceHandle>| async move { Json(s.health()) }),
        )
        .fallback(|uri: axum::http::Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                format!("no such path: {}", uri.path()),
            )
        })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported")
        })
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened_in_messages() {
        assert_eq!(shorten("abc"), "abc");
        let long = "é".repeat(100);
        assert_eq!(shorten(&long), format!("{}…", "é".repeat(80)));
    }
}

//! The HTTP API (axum), on 127.0.0.1 by default.
//!
//! | path | answer |
//! |---|---|
//! | `GET /v1/peers?limit=N` | `{"peers":[PeerInfo…]}`, N in 1..=[`MAX_PEERS_LIMIT`], default [`DEFAULT_PEERS_LIMIT`] |
//! | `GET /v1/table` | the curated view by k-bucket, with each entry's groups |
//! | `GET /v1/risk` | view size, distinct groups per kind, top group share |
//! | `GET /healthz` | `{"status":"ok",…}` |
//!
//! Errors are JSON `{"error":"…"}` with status 400 (bad query), 404 (unknown
//! path) or 405 (wrong method).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use discguard_service::ServiceHandle;
use discguard_service::api::PeersResponse;
use serde::{Deserialize, Serialize};

/// Peers served when `limit` is not given.
pub const DEFAULT_PEERS_LIMIT: usize = 32;
/// Largest `limit` accepted: more than any client keeps as peers, and it
/// bounds the work one request can ask for.
pub const MAX_PEERS_LIMIT: usize = 1024;

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

async fn peers(
    State(service): State<ServiceHandle>,
    query: Result<Query<PeersQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad query: {}", rejection.body_text()),
            );
        }
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

/// The router, over a running service.
pub fn router(service: ServiceHandle) -> Router {
    Router::new()
        .route("/v1/peers", get(peers))
        .route(
            "/v1/table",
            get(|State(s): State<ServiceHandle>| async move { Json(s.table()) }),
        )
        .route(
            "/v1/risk",
            get(|State(s): State<ServiceHandle>| async move { Json(s.risk()) }),
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
        .with_state(service)
}

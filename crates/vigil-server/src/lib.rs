//! Vigil's organisation server: a zero-knowledge relay between an organisation's enrolled
//! devices and HQ.
//!
//! Monitors' devices push sealed revisions and custody events as age ciphertext that only HQ's
//! readers can open, with the routing metadata the server needs (organisation, device,
//! sequence, item id, SHA-256, size). The server checks who sent each request
//! ([`auth`]), stores each item once, signs a receipt for it, and serves the organisation's
//! change feed to HQ's devices. It holds no key that opens a report and never depends on the
//! vault crate.
//!
//! | module | what |
//! |---|---|
//! | [`db`] | the database: embedded SQLite, or PostgreSQL for several processes |
//! | [`auth`] | the signed-request checks |
//! | [`blobs`] | attachments' bytes, in an object store |
//! | [`api`] | the API v1 handlers |
//! | [`metrics`] | `/metrics` and per-device rate limits |
//! | [`openapi`] | the OpenAPI document served at `/v1/openapi.json` |
//! | [`admin`] | `vigil-server admin`: organisations and devices |

#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod blobs;
pub mod db;
pub mod error;
pub mod metrics;
pub mod openapi;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use vigil_crypto::sign::SigningKey;

/// The largest request body, in bytes: a full batch of items.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: db::Db,
    /// The receipt key.
    pub key: Arc<SigningKey>,
    /// Attachments' bytes.
    pub blobs: blobs::Blobs,
    /// The largest request body.
    pub max_body: usize,
    /// Counters and the per-device rate limiter.
    pub metrics: metrics::Shared,
}

impl AppState {
    /// Opens the database (PostgreSQL at `database`, else SQLite in `data`) and loads (or
    /// makes) the receipt key.
    pub async fn open(
        data: Option<&std::path::Path>,
        database: Option<&str>,
        blobs: Option<&str>,
    ) -> anyhow::Result<AppState> {
        let db = db::Db::open(data, database).await?;
        let key = db.server_key().await?;
        Ok(AppState {
            db,
            key: Arc::new(key),
            blobs: blobs::Blobs::open(data, blobs)?,
            max_body: MAX_BODY_BYTES,
            metrics: Arc::new(metrics::Metrics::default()),
        })
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/server", get(api::server_key))
        .route("/v1/devices", post(api::register))
        .route("/v1/profile", get(api::profile))
        .route("/v1/items", post(api::push))
        .route("/v1/receipts", get(api::receipts))
        .route("/v1/feed", get(api::feed))
        .route("/v1/acks", post(api::ack).get(api::acks))
        .route("/v1/revocations", post(api::revoke))
        .route("/v1/uploads", post(api::create).options(api::options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(api::head).patch(api::patch),
        )
        .route("/v1/blobs/{id}", get(api::blob))
        .route("/metrics", get(metrics::serve))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(60),
        ))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

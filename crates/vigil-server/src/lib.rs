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
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
        .route("/v1/uploads/{id}/receipt", get(api::upload_receipt))
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

/// How long a stopping server waits for the requests in flight: as long as a request may
/// take. A client that keeps an idle connection open (an HTTP/2 client that does not answer
/// the closing handshake) cannot hold the stop beyond it.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves on `listener` (a TCP listener, or a [`tls::TlsListener`]) until `shutdown` resolves,
/// then finishes the requests in flight, waiting at most [`SHUTDOWN_GRACE`]. Nothing is lost
/// when that runs out: a receipt is only sent once its write is committed.
pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(signal)
        .into_future();
    let deadline = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("connections were still open {} s after the stop began; stopping", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    }
}

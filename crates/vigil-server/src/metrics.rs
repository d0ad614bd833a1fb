//! `/metrics` (Prometheus text format) and per-device rate limits. Labels are endpoints, status
//! codes and refusal codes: never a device, an organisation or anything a request carried.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use vigil_model::DeviceId;

use crate::AppState;
use crate::error::{ApiError, RefusalCode};

/// Requests a device may make per second, sustained.
pub const DEVICE_REQUESTS_PER_SECOND: u32 = 200;
/// And in a burst.
pub const DEVICE_BURST: u32 = 400;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// The server's counters and its rate limiter.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    refusals: Family<CodeLabels, Counter>,
    items: Counter,
    upload_bytes: Counter,
    part_bytes: Counter,
    limiter: DefaultKeyedRateLimiter<DeviceId>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(DEVICE_REQUESTS_PER_SECOND, DEVICE_BURST)
    }
}

impl Metrics {
    /// Counters, and a limit of `per_second` requests per device (bursts of `burst`).
    pub fn new(per_second: u32, burst: u32) -> Metrics {
        let mut registry = Registry::with_prefix("vigil_server");
        let requests = Family::<RequestLabels, Counter>::default();
        let refusals = Family::<CodeLabels, Counter>::default();
        let items = Counter::default();
        let upload_bytes = Counter::default();
        let part_bytes = Counter::default();
        registry.register(
            "requests",
            "HTTP requests by endpoint and status",
            requests.clone(),
        );
        registry.register("refusals", "Requests refused, by code", refusals.clone());
        registry.register(
            "items_accepted",
            "Items accepted in pushes (repeats included)",
            items.clone(),
        );
        registry.register(
            "upload_bytes",
            "Attachment bytes stored",
            upload_bytes.clone(),
        );
        registry.register(
            "upload_part_bytes",
            "Attachment bytes received in upload parts, stored or refused (a part sent twice counts twice)",
            part_bytes.clone(),
        );
        let quota =
            Quota::per_second(NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN));
        Metrics {
            registry,
            requests,
            refusals,
            items,
            upload_bytes,
            part_bytes,
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// Counts stored items.
    pub fn items_stored(&self, n: u64) {
        self.items.inc_by(n);
    }

    /// Counts stored attachment bytes.
    pub fn uploaded(&self, n: u64) {
        self.upload_bytes.inc_by(n);
    }

    /// Counts the bytes of an upload part that arrived whole, whatever becomes of it.
    pub fn part_received(&self, n: u64) {
        self.part_bytes.inc_by(n);
    }

    /// Takes one request from `device`'s allowance, or refuses with 429.
    pub fn check_rate(&self, device: DeviceId) -> Result<(), ApiError> {
        self.limiter.check_key(&device).map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this device; slow down and retry",
            )
        })
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts every response by endpoint (the route's pattern, not the path) and status, and
/// refusals by their code.
pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            endpoint,
            status,
        })
        .inc();
    if let Some(code) = response.extensions().get::<RefusalCode>() {
        state
            .metrics
            .refusals
            .get_or_create(&CodeLabels {
                code: code.0.to_owned(),
            })
            .inc();
    }
    response
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Shared between the state and the middleware.
pub type Shared = Arc<Metrics>;

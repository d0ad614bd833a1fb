//! Who sent a request: every request but the health check, the OpenAPI document and the
//! server's public key is signed by an enrolled device ([`vigil_ledger::http_sig`]).
//!
//! The checks, in order, each refusing with its own code before anything is stored:
//! 1. the signature headers are in Vigil's profile (`unsigned`, `signature_malformed`);
//! 2. `created` is within five minutes of the server's clock (`stale_signature`);
//! 3. the device is registered (`unknown_device`) and not revoked (`device_revoked`);
//! 4. the body matches its digest and the signature verifies with the device's key
//!    (`digest_mismatch`, `bad_signature`);
//! 5. the device is within its rate limit (`rate_limited`, 429; per process);
//! 6. the nonce was not used before by this device (`replayed_nonce`). Nonces are stored in
//!    the database, so every server process sharing it refuses a replay. A push spends its
//!    nonce in the same transaction as its items ([`AuthedWrite`]), every other request in a
//!    transaction of its own before the handler runs ([`Authed`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::Utc;
use vigil_ledger::enrolment::DeviceRole;
use vigil_ledger::http_sig::{HttpSigError, MAX_SKEW_SECS, RequestLine, SignatureClaims};

use crate::AppState;
use crate::db::{DeviceRow, Nonce};
use crate::error::ApiError;

/// A request whose signature verified, with its body.
#[derive(Debug)]
pub struct Authed {
    /// The device that signed it.
    pub device: DeviceRow,
    /// The body it signed.
    pub body: Bytes,
}

impl Authed {
    /// Refuses a device without the HQ role.
    pub fn require_hq(&self) -> Result<(), ApiError> {
        if self.device.role == DeviceRole::Hq {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "hq_only",
                "only HQ's devices may do this",
            ))
        }
    }
}

fn sig_error(e: HttpSigError) -> ApiError {
    ApiError::unauthorized(e.code(), e.to_string())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    // A second header of the same name would be a second signature or digest: refused by
    // reading it as absent.
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// The claims of a request's signature, checked for form and freshness.
pub fn claims(headers: &HeaderMap) -> Result<SignatureClaims, ApiError> {
    let claims = SignatureClaims::parse(
        header(headers, "signature-input"),
        header(headers, "signature"),
        header(headers, "content-digest"),
    )
    .map_err(sig_error)?;
    claims
        .check_fresh(Utc::now().timestamp())
        .map_err(sig_error)?;
    Ok(claims)
}

/// Checks the body and the signature with `pk`; returns the nonce, still to be spent.
pub fn verify(
    parts: &Parts,
    claims: &SignatureClaims,
    body: &[u8],
    pk: &vigil_crypto::sign::SignPublicKey,
) -> Result<Nonce, ApiError> {
    let line = RequestLine {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
    };
    claims.verify(&line, body, pk).map_err(sig_error)?;
    Ok(Nonce {
        device: claims.keyid,
        nonce: claims.nonce.clone(),
        expires: claims.created + MAX_SKEW_SECS + 1,
    })
}

/// The refusal of a replayed request.
pub fn replayed() -> ApiError {
    ApiError::unauthorized(
        "replayed_nonce",
        "this request was already received (its nonce was used); nothing was changed",
    )
}

/// Spends `nonce` in a transaction of its own.
pub async fn spend(state: &AppState, nonce: Nonce) -> Result<(), ApiError> {
    if state.db.use_nonce(nonce).await? {
        Ok(())
    } else {
        Err(replayed())
    }
}

/// Reads the body, refusing one over the server's limit.
pub async fn body_bytes(state: &AppState, body: axum::body::Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, state.max_body)
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the request is larger than {} bytes", state.max_body),
            )
        })
}

/// A signed request whose nonce is not spent yet: the handler spends it in the same
/// transaction as its write (one commit per request instead of two), and must refuse the
/// request as [`replayed`] when it was used.
#[derive(Debug)]
pub struct AuthedWrite {
    /// The device and the body.
    pub authed: Authed,
    /// The request's nonce.
    pub nonce: Nonce,
}

impl FromRequest<AppState> for AuthedWrite {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let claims = claims(&parts.headers)?;
        let body = body_bytes(state, body).await?;
        let keyid = claims.keyid;
        let device = state.db.device(keyid).await?.ok_or_else(|| {
            ApiError::unauthorized(
                "unknown_device",
                format!("device {keyid} is not registered with this server"),
            )
        })?;
        if let Some(at) = &device.revoked_at {
            return Err(ApiError::forbidden(
                "device_revoked",
                format!("the organisation revoked device {keyid} on {at}"),
            ));
        }
        let nonce = verify(&parts, &claims, &body, &device.sign_pk)?;
        state.metrics.check_rate(device.device)?;
        tracing::debug!(device = %device.device, method = %parts.method, path = parts.uri.path(), "signed request");
        Ok(AuthedWrite {
            authed: Authed { device, body },
            nonce,
        })
    }
}

impl FromRequest<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthedWrite { authed, nonce } = AuthedWrite::from_request(req, state).await?;
        spend(state, nonce).await?;
        Ok(authed)
    }
}

//! API v1. Every handler here but [`server_key`] takes a signed request ([`crate::auth`]).

use axum::Json;
use axum::extract::{Request, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_ledger::enrolment::Certificate;
use vigil_ledger::signed::{Revocation, SignedWire};
use vigil_model::DeviceId;

use crate::AppState;
use crate::auth::{self, Authed};
use crate::db::Registration;
use crate::error::{ApiError, Problem};

mod extract;
mod items;
mod uploads;

pub use items::*;
pub use uploads::*;

/// The most items in one push.
pub const MAX_BATCH: usize = 1000;
/// The largest item (age ciphertext), in bytes.
pub const MAX_ITEM_BYTES: usize = 16 * 1024 * 1024;
/// The most rows one page of the feed, receipts or acknowledgements returns.
pub const MAX_PAGE: i64 = 1000;

/// A signed document as it travels: its canonical JSON text and the signature in hex.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Canonical JSON.
    pub document: String,
    /// Ed25519 signature over the SHA-256 of `document`, 128 hex digits.
    pub signature: String,
}

impl From<SignedWire> for Document {
    fn from(w: SignedWire) -> Self {
        Document {
            document: w.document,
            signature: w.signature.to_string(),
        }
    }
}

/// The server's public key, which signs receipts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerKey {
    /// Ed25519, 64 hex digits.
    pub receipt_key: String,
}

/// The server's receipt key (not signed: a device pins it from its organisation's profile).
#[utoipa::path(get, path = "/v1/server", tag = "server",
    responses((status = 200, body = ServerKey)))]
pub async fn server_key(State(state): State<AppState>) -> Json<ServerKey> {
    Json(ServerKey {
        receipt_key: hex::encode(state.key.public()),
    })
}

/// A device as the server registered it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// The device id.
    pub device: String,
    /// Its organisation.
    pub org: String,
    /// `monitor` or `hq`.
    pub role: String,
    /// Whether this request registered it (false: it was already).
    pub new: bool,
}

/// A device registers with its enrolment certificate (the body, as the vault holds it),
/// signing the request with the key the certificate names.
#[utoipa::path(post, path = "/v1/devices", tag = "devices",
    request_body(content = Object, content_type = "application/json", description = "the device certificate"),
    responses((status = 200, body = Registered), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("signature" = [])))]
pub async fn register(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Registered>, ApiError> {
    let (parts, body) = req.into_parts();
    let claims = auth::claims(&parts.headers)?;
    let body = auth::body_bytes(&state, body).await?;
    let cert = Certificate::from_bytes(body.to_vec());
    // The organisation it names must be registered here; the certificate is then checked
    // against that organisation's key.
    let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request("not_a_certificate", "the body is not a device certificate")
    })?;
    let org: Uuid = doc
        .pointer("/invitation/org")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request("not_a_certificate", "the body is not a device certificate")
        })?;
    let org_row = state.db.org(org).await?.ok_or_else(|| {
        ApiError::forbidden(
            "unknown_organisation",
            format!("organisation {org} is not registered with this server"),
        )
    })?;
    let verified = cert
        .verify(org, &org_row.profile.org_sign_pk)
        .map_err(|e| ApiError::forbidden("certificate_refused", e.to_string()))?;
    if !verified.in_time() {
        return Err(ApiError::forbidden(
            "certificate_refused",
            "the device enrolled outside its invitation's validity",
        ));
    }
    if verified.device != claims.keyid {
        return Err(ApiError::unauthorized(
            "bad_signature",
            "the request is signed by another device than the certificate names",
        ));
    }
    let nonce = auth::verify(&parts, &claims, &body, &verified.device_keys.sign_pk)?;
    auth::spend(&state, nonce).await?;
    let device = verified.device;
    if state.db.revoked(device).await?.is_some() {
        return Err(ApiError::forbidden(
            "device_revoked",
            format!("the organisation revoked device {device}"),
        ));
    }
    let role = verified.invitation.role;
    let outcome = state.db.register_device(verified).await?;
    match outcome {
        Registration::New | Registration::Again => {
            if outcome == Registration::New {
                tracing::info!(%device, %org, role = role.as_str(), "device registered");
            }
            Ok(Json(Registered {
                device: device.to_string(),
                org: org.to_string(),
                role: role.as_str().to_owned(),
                new: outcome == Registration::New,
            }))
        }
        Registration::InvitationUsed => Err(ApiError::conflict(
            "invitation_used",
            "another device registered with this certificate's invitation",
        )),
        Registration::OtherCertificate => Err(ApiError::conflict(
            "other_certificate",
            "this device is registered with another certificate",
        )),
    }
}

/// The organisation's current profile, for its devices.
#[utoipa::path(get, path = "/v1/profile", tag = "devices",
    responses((status = 200, description = "the signed organisation profile", body = Object), (status = 401, body = Problem)),
    security(("signature" = [])))]
pub async fn profile(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let org = authed.device.org;
    let row = state
        .db
        .org(org)
        .await?
        .ok_or_else(|| ApiError::internal("a registered device's organisation is missing"))?;
    serde_json::to_value(&row.profile)
        .map(Json)
        .map_err(ApiError::internal)
}

/// The body as JSON of type `T`, or a 400 saying why not.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("the body is not what this endpoint takes: {e}"),
        )
    })
}

/// The outcome of a revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// The device revoked.
    pub device: String,
    /// Whether this request revoked it (false: it was already).
    pub new: bool,
}

/// HQ pushes a revocation the organisation signed: from then on the device is refused.
#[utoipa::path(post, path = "/v1/revocations", tag = "hq", request_body = Document,
    responses((status = 200, body = Revoked), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("signature" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<Revoked>, ApiError> {
    authed.require_hq()?;
    let doc: Document = json_body(&authed.body)?;
    let org = authed.device.org;
    let org_row = state
        .db
        .org(org)
        .await?
        .ok_or_else(|| ApiError::internal("a registered device's organisation is missing"))?;
    let signature = doc
        .signature
        .parse()
        .map_err(|_| ApiError::bad_request("bad_request", "the signature is not 128 hex digits"))?;
    let wire = SignedWire {
        document: doc.document,
        signature,
    };
    let revocation = Revocation::from_wire(&wire, org, &org_row.profile.org_sign_pk)
        .map_err(|e| ApiError::forbidden("revocation_refused", e.to_string()))?;
    let device: DeviceId = revocation.doc.device;
    let new = state.db.revoke(revocation).await?;
    if new {
        tracing::info!(%device, %org, "device revoked");
    }
    Ok(Json(Revoked {
        device: device.to_string(),
        new,
    }))
}

//! Resumable attachment uploads, tus 1.0 core with the creation and checksum (sha256)
//! extensions, and HQ's blob download with `Range`.
//!
//! A device creates an upload named by its attachment's id, with the whole's length and
//! SHA-256. Each PATCH carries `Upload-Offset` and `Upload-Checksum: sha256 <base64>`; a part
//! whose checksum fails (a cut connection, a changed byte) is refused with 460 and not kept, so
//! the client asks `HEAD` for the server's offset and resumes there. When the last byte
//! arrives, the server reads the parts back and checks the whole against its SHA-256; if it
//! differs, the parts are dropped and the upload starts again from zero.

// utoipa's `params(...)` expands to fully qualified paths.
#![allow(unused_qualifications)]

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use vigil_crypto::sign;

use super::extract::Path;
use crate::AppState;
use crate::auth::Authed;
use crate::db::{PartRow, UploadCreated, UploadRow};
use crate::error::{ApiError, Problem};
use axum::Json;
use utoipa::ToSchema;
use vigil_ledger::signed::{AttachmentReceipt, AttachmentReceiptDoc};

use super::Document;

/// The tus version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The largest attachment accepted, in bytes.
pub const MAX_UPLOAD_BYTES: u64 = 64 << 30;
/// Status of a part whose checksum does not match (tus checksum extension).
const CHECKSUM_MISMATCH: u16 = 460;
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn tus(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    response
}

fn require_tus(headers: &HeaderMap) -> Result<(), ApiError> {
    if header_str(headers, "tus-resumable") == Some(TUS_VERSION) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            format!("this server speaks tus {TUS_VERSION} (Tus-Resumable header)"),
        ))
    }
}

fn with_offset(status: StatusCode, upload: &UploadRow) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    h.insert("upload-offset", HeaderValue::from(upload.offset));
    h.insert("upload-length", HeaderValue::from(upload.length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tus(r)
}

/// What the server supports (tus discovery; not signed).
#[utoipa::path(options, path = "/v1/uploads", tag = "uploads",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Checksum-Algorithm, Tus-Max-Size")))]
pub async fn options() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert(
        "tus-extension",
        HeaderValue::from_static("creation,checksum"),
    );
    h.insert("tus-checksum-algorithm", HeaderValue::from_static("sha256"));
    h.insert("tus-max-size", HeaderValue::from(MAX_UPLOAD_BYTES));
    tus(r)
}

/// `Upload-Metadata: id <base64>,sha256 <base64>`: the attachment's id and its SHA-256 (hex).
fn metadata(headers: &HeaderMap) -> Result<(Uuid, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "bad_upload",
            "Upload-Metadata must name the attachment: id <base64 of its uuid>,sha256 <base64 of its hex SHA-256>",
        )
    };
    let raw = header_str(headers, "upload-metadata").ok_or_else(bad)?;
    let (mut id, mut sha) = (None, None);
    for pair in raw.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        let key = parts.next().unwrap_or("");
        let value = parts
            .next()
            .and_then(|v| STANDARD.decode(v.trim()).ok())
            .and_then(|v| String::from_utf8(v).ok());
        match (key, value) {
            ("id", Some(v)) => id = v.parse::<Uuid>().ok(),
            ("sha256", Some(v)) => sha = Some(v),
            _ => {}
        }
    }
    let sha = sha
        .filter(|s| {
            s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(bad)?;
    Ok((id.ok_or_else(bad)?, sha))
}

/// A device creates (or finds again) the upload of one attachment.
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "the attachment's length in bytes"),
        ("Upload-Metadata" = String, Header, description = "id <base64 uuid>,sha256 <base64 hex>"),
    ),
    responses((status = 201, description = "Location: /v1/uploads/{id}; Upload-Offset"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 413, body = Problem)),
    security(("signature" = [])))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    authed: Authed,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let length: u64 = header_str(&headers, "upload-length")
        .and_then(|v| v.parse().ok())
        .filter(|l| *l > 0)
        .ok_or_else(|| {
            ApiError::bad_request("bad_upload", "Upload-Length must be a length in bytes")
        })?;
    if length > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("an attachment may be at most {MAX_UPLOAD_BYTES} bytes"),
        ));
    }
    let (id, sha256) = metadata(&headers)?;
    let row = UploadRow {
        id,
        org: authed.device.org,
        device: authed.device.device,
        length,
        sha256,
        offset: 0,
        complete: false,
    };
    let (status, upload) = match state.db.create_upload(row.clone()).await? {
        UploadCreated::New => (StatusCode::CREATED, row),
        UploadCreated::Again(existing) => (StatusCode::CREATED, existing),
        UploadCreated::Conflict => {
            return Err(ApiError::conflict(
                "conflict",
                format!("upload {id} exists with another device, length or SHA-256"),
            ));
        }
    };
    let mut r = with_offset(status, &upload);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/uploads/{id}")) {
        r.headers_mut().insert(header::LOCATION, location);
    }
    Ok(r)
}

/// The device's own upload, or 404 (whether another device's exists is not said).
async fn own_upload(state: &AppState, id: Uuid, authed: &Authed) -> Result<UploadRow, ApiError> {
    match state.db.upload(id).await? {
        Some(u) if u.device == authed.device.device => Ok(u),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_upload",
            format!("no upload {id} of this device"),
        )),
    }
}

/// Where an upload stands: `Upload-Offset` is where to resume.
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "uploads",
    params(("id" = Uuid, Path, description = "the attachment's id")),
    responses((status = 200, description = "Upload-Offset, Upload-Length"), (status = 400), (status = 401), (status = 404)),
    security(("signature" = [])))]
pub async fn head(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    authed: Authed,
) -> Result<Response, ApiError> {
    let upload = own_upload(&state, id, &authed).await?;
    Ok(with_offset(StatusCode::OK, &upload))
}

/// Reads every part back and checks the whole against its SHA-256.
async fn whole_matches(state: &AppState, upload: &UploadRow) -> Result<bool, ApiError> {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut expected = 0;
    for part in state.db.parts(upload.id).await? {
        if part.offset != expected {
            return Ok(false);
        }
        hasher.update(&state.blobs.read(&part.key, 0..part.size).await?);
        expected += part.size;
    }
    Ok(expected == upload.length && hex::encode(hasher.finish()) == upload.sha256)
}

/// One part of an upload, at the server's offset, with its SHA-256.
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "uploads",
    params(
        ("id" = Uuid, Path, description = "the attachment's id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "where this part starts (the server's offset)"),
        ("Upload-Checksum" = String, Header, description = "sha256 <base64 of the part's SHA-256>"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "stored; Upload-Offset is the new offset"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 415, body = Problem),
              (status = 422, body = Problem), (status = 460, body = Problem)),
    security(("signature" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    authed: Authed,
) -> Result<Response, ApiError> {
    state.metrics.part_received(authed.body.len() as u64);
    require_tus(&headers)?;
    if header_str(&headers, "content-type") != Some("application/offset+octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_upload",
            "a part is sent as application/offset+octet-stream",
        ));
    }
    let offset: u64 = header_str(&headers, "upload-offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::bad_request("bad_upload", "Upload-Offset is missing"))?;
    let upload = own_upload(&state, id, &authed).await?;
    if upload.complete || offset != upload.offset {
        return Err(ApiError::conflict(
            "offset_mismatch",
            format!(
                "the server holds {} bytes of this upload{}; resume there",
                upload.offset,
                if upload.complete { " (complete)" } else { "" }
            ),
        ));
    }
    let chunk: Bytes = authed.body;
    if offset + chunk.len() as u64 > upload.length {
        return Err(ApiError::bad_request(
            "bad_upload",
            "this part goes past the upload's length",
        ));
    }
    let claimed = header_str(&headers, "upload-checksum")
        .and_then(|v| v.strip_prefix("sha256 "))
        .and_then(|v| STANDARD.decode(v).ok())
        .ok_or_else(|| {
            ApiError::bad_request("bad_upload", "Upload-Checksum: sha256 <base64> is required")
        })?;
    if claimed != sign::sha256(&chunk) {
        return Err(ApiError::new(
            StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
            "checksum_mismatch",
            "this part does not match its Upload-Checksum; nothing was kept",
        ));
    }
    if offset < AGE_MAGIC.len() as u64 {
        let start = offset as usize;
        let n = (AGE_MAGIC.len() - start).min(chunk.len());
        if chunk[..n] != AGE_MAGIC[start..start + n] {
            return Err(ApiError::bad_request(
                "not_ciphertext",
                "an attachment must be age ciphertext; the server stores nothing else",
            ));
        }
    }
    if chunk.is_empty() {
        return Ok(with_offset(StatusCode::NO_CONTENT, &upload));
    }
    let size = chunk.len() as u64;
    let key = state.blobs.put_part(id, offset, chunk).await?;
    let part = PartRow {
        offset,
        key: key.clone(),
        size,
    };
    if !state.db.add_part(id, part).await? {
        state.blobs.delete(&key).await;
        return Err(ApiError::conflict(
            "offset_mismatch",
            "another request stored this part first; ask HEAD for the offset",
        ));
    }
    state.metrics.uploaded(size);
    let mut upload = upload;
    upload.offset = offset + size;
    if upload.offset == upload.length {
        if whole_matches(&state, &upload).await? {
            let receipt = AttachmentReceipt::sign(
                AttachmentReceiptDoc::new(
                    upload.org,
                    upload.device,
                    id,
                    upload.sha256.clone(),
                    upload.length,
                    chrono::Utc::now().fixed_offset(),
                ),
                |m| state.key.sign(m),
            )
            .map_err(ApiError::internal)?;
            state.db.finish_upload(id, Some(receipt.to_wire())).await?;
            tracing::info!(device = %authed.device.device, length = upload.length, "attachment uploaded");
        } else {
            for p in state.db.parts(id).await? {
                state.blobs.delete(&p.key).await;
            }
            state.db.finish_upload(id, None).await?;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "digest_mismatch",
                "the whole attachment does not match its SHA-256; the upload starts again from 0",
            ));
        }
    }
    Ok(with_offset(StatusCode::NO_CONTENT, &upload))
}

/// The server's receipt for a complete attachment.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UploadReceipt {
    /// A `vigil-attachment-receipt`, signed by the server's receipt key.
    pub receipt: Document,
}

/// The uploading device reads the receipt of its complete attachment: the server holds every
/// byte, checked against the SHA-256 named at creation. 409 while the upload is incomplete.
#[utoipa::path(get, path = "/v1/uploads/{id}/receipt", tag = "uploads",
    params(("id" = Uuid, Path, description = "the attachment's id")),
    responses((status = 200, body = UploadReceipt), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("signature" = [])))]
pub async fn upload_receipt(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    authed: Authed,
) -> Result<Json<UploadReceipt>, ApiError> {
    let upload = own_upload(&state, id, &authed).await?;
    match state.db.upload_receipt(id).await? {
        Some(wire) => Ok(Json(UploadReceipt {
            receipt: wire.into(),
        })),
        None => Err(ApiError::conflict(
            "incomplete_upload",
            format!(
                "the server holds {} of {} bytes of this attachment; its receipt comes when the last one arrives",
                upload.offset, upload.length
            ),
        )),
    }
}

/// `Range: bytes=A-B` or `bytes=A-` within `length`.
fn range(headers: &HeaderMap, length: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(raw) = header_str(headers, "range") else {
        return Ok(None);
    };
    let unsatisfiable = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "bad_range",
            format!("one range within 0-{} is served", length.saturating_sub(1)),
        )
    };
    let spec = raw.strip_prefix("bytes=").ok_or_else(unsatisfiable)?;
    let (a, b) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let start: u64 = a.parse().map_err(|_| unsatisfiable())?;
    let end: u64 = if b.is_empty() {
        length.saturating_sub(1)
    } else {
        b.parse::<u64>()
            .map_err(|_| unsatisfiable())?
            .min(length.saturating_sub(1))
    };
    if start > end || start >= length {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

/// HQ downloads an attachment of its organisation, whole or a `Range` of it.
#[utoipa::path(get, path = "/v1/blobs/{id}", tag = "hq",
    params(("id" = Uuid, Path, description = "the attachment's id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 206, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 416, body = Problem)),
    security(("signature" = [])))]
pub async fn blob(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    authed: Authed,
) -> Result<Response, ApiError> {
    authed.require_hq()?;
    let upload = match state.db.upload(id).await? {
        Some(u) if u.org == authed.device.org && u.complete => u,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_blob",
                format!("no complete attachment {id} in this organisation"),
            ));
        }
    };
    let (start, end, status) = match range(&headers, upload.length)? {
        Some((a, b)) => (a, b, StatusCode::PARTIAL_CONTENT),
        None => (0, upload.length - 1, StatusCode::OK),
    };
    let parts: Vec<PartRow> = state
        .db
        .parts(id)
        .await?
        .into_iter()
        .filter(|p| p.offset + p.size > start && p.offset <= end)
        .collect();
    let blobs = state.blobs.clone();
    let stream = futures_util::stream::unfold(parts.into_iter(), move |mut parts| {
        let blobs = blobs.clone();
        async move {
            let p = parts.next()?;
            let from = start.max(p.offset) - p.offset;
            let to = (end + 1).min(p.offset + p.size) - p.offset;
            let bytes = blobs
                .read(&p.key, from..to)
                .await
                .map_err(|e| std::io::Error::other(e.message));
            Some((bytes, parts))
        }
    });
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, end - start + 1)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        r = r.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{}", upload.length),
        );
    }
    r.body(Body::from_stream(stream))
        .map_err(ApiError::internal)
}

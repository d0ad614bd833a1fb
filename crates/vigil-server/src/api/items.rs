//! Items: pushes, receipts, the change feed and acknowledgements.

// utoipa's `params(...)` expands to fully qualified paths.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use vigil_crypto::sign;

use super::extract::Query;
use super::{Document, MAX_BATCH, MAX_ITEM_BYTES, MAX_PAGE, json_body};
use crate::AppState;
use crate::auth::{Authed, AuthedWrite, replayed};
use crate::db::{NewItem, PushRefused};
use crate::error::{ApiError, Problem};

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// One item of a push: age ciphertext for HQ's readers and its routing metadata.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushItem {
    /// The organisation (the pushing device's).
    pub org: Uuid,
    /// The pushing device.
    pub device: Uuid,
    /// The item's place in the device's sequence, from 1.
    pub seq: u64,
    /// The item's id.
    pub id: Uuid,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256 of the ciphertext, 64 lowercase hex digits.
    pub sha256: String,
    /// The ciphertext's size in bytes.
    pub size: u64,
    /// The ciphertext, base64.
    pub ciphertext: String,
}

/// A batch of items.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// 1 to 1000 items.
    pub items: Vec<PushItem>,
}

/// The receipts that cover a push's items: one for the items this push stored, and for items
/// stored before, the receipts that first covered them. Every item is in exactly one.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushResponse {
    /// Signed by the server's receipt key.
    pub receipts: Vec<Document>,
}

fn check_item(item: &PushItem, authed: &Authed) -> Result<NewItem, ApiError> {
    if item.org != authed.device.org {
        return Err(ApiError::forbidden(
            "other_organisation",
            format!(
                "item {} names another organisation than the device's",
                item.id
            ),
        ));
    }
    if item.device != *authed.device.device.as_uuid() {
        return Err(ApiError::forbidden(
            "not_your_device",
            format!(
                "item {} names another device than the one that signed the request",
                item.id
            ),
        ));
    }
    if item.seq == 0 || item.seq > i64::MAX as u64 {
        return Err(ApiError::bad_request(
            "bad_item",
            format!("item {}: the sequence starts at 1", item.id),
        ));
    }
    if item.kind != "revision" && item.kind != "custody" {
        return Err(ApiError::bad_request(
            "bad_item",
            format!("item {}: kind must be revision or custody", item.id),
        ));
    }
    let ciphertext = STANDARD.decode(&item.ciphertext).map_err(|_| {
        ApiError::bad_request(
            "bad_item",
            format!("item {}: the ciphertext is not base64", item.id),
        )
    })?;
    if ciphertext.len() > MAX_ITEM_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("item {} is larger than {MAX_ITEM_BYTES} bytes", item.id),
        ));
    }
    if ciphertext.len() as u64 != item.size {
        return Err(ApiError::bad_request(
            "bad_item",
            format!("item {}: its size is not {}", item.id, item.size),
        ));
    }
    if hex::encode(sign::sha256(&ciphertext)) != item.sha256 {
        return Err(ApiError::bad_request(
            "digest_mismatch",
            format!(
                "item {}: the ciphertext's SHA-256 is not the one named",
                item.id
            ),
        ));
    }
    if !ciphertext.starts_with(AGE_MAGIC) {
        return Err(ApiError::bad_request(
            "not_ciphertext",
            format!(
                "item {} is not age ciphertext; the server stores nothing else",
                item.id
            ),
        ));
    }
    Ok(NewItem {
        id: item.id,
        seq: item.seq,
        kind: item.kind.clone(),
        sha256: item.sha256.clone(),
        ciphertext,
    })
}

/// Pushes sealed revisions and custody events, all or nothing. Idempotent: an item already
/// stored with the same content gets its first receipt again.
#[utoipa::path(post, path = "/v1/items", tag = "items", request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem)),
    security(("signature" = [])))]
pub async fn push(
    State(state): State<AppState>,
    AuthedWrite { authed, nonce }: AuthedWrite,
) -> Result<Json<PushResponse>, ApiError> {
    let req: PushRequest = json_body(&authed.body)?;
    if req.items.is_empty() || req.items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("a push carries 1 to {MAX_BATCH} items"),
        ));
    }
    let items = req
        .items
        .iter()
        .map(|i| check_item(i, &authed))
        .collect::<Result<Vec<_>, _>>()?;
    let count = items.len() as u64;
    let org = authed.device.org;
    let device = authed.device.device;
    let key = state.key.clone();
    let outcome = state.db.push(key, org, nonce, items).await?;
    match outcome {
        Ok(receipts) => {
            tracing::info!(%device, items = count, "items pushed");
            state.metrics.items_stored(count);
            Ok(Json(PushResponse {
                receipts: receipts.into_iter().map(Document::from).collect(),
            }))
        }
        Err(PushRefused::Replayed) => Err(replayed()),
        Err(PushRefused::IdReused(id)) => Err(ApiError::conflict(
            "conflict",
            format!(
                "item {id} is already stored with other content; nothing in this push was stored"
            ),
        )),
        Err(PushRefused::SeqTaken(seq)) => Err(ApiError::conflict(
            "conflict",
            format!(
                "this device's item #{seq} is already stored and is another item; nothing in this push was stored"
            ),
        )),
    }
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return what comes after this cursor (0: from the start).
    #[serde(default)]
    pub since: i64,
    /// At most this many (1 to 1000; 100 if left out).
    pub limit: Option<i64>,
}

impl Page {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

/// A receipt with its place in the device's list of receipts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PosReceipt {
    /// Its place (the cursor).
    pub pos: i64,
    /// The receipt.
    pub receipt: Document,
}

/// A page of the calling device's receipts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptsPage {
    /// Oldest first.
    pub receipts: Vec<PosReceipt>,
    /// The cursor for the next page (the last place returned, or `since`).
    pub next: i64,
}

/// The calling device's receipts after place `since`.
#[utoipa::path(get, path = "/v1/receipts", tag = "items", params(Page),
    responses((status = 200, body = ReceiptsPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("signature" = [])))]
pub async fn receipts(
    State(state): State<AppState>,
    Query(page): Query<Page>,
    authed: Authed,
) -> Result<Json<ReceiptsPage>, ApiError> {
    let device = authed.device.device;
    let (since, limit) = (page.since, page.limit());
    let rows = state.db.receipts(device, since, limit).await?;
    let next = rows.last().map_or(since, |(pos, _)| *pos);
    Ok(Json(ReceiptsPage {
        receipts: rows
            .into_iter()
            .map(|(pos, w)| PosReceipt {
                pos,
                receipt: w.into(),
            })
            .collect(),
        next,
    }))
}

/// One item of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedItem {
    /// Its place in the feed (the cursor).
    pub pos: i64,
    /// The device that pushed it.
    pub device: String,
    /// Its place in that device's sequence.
    pub seq: u64,
    /// Its id.
    pub id: String,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256 of the ciphertext, hex.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// The ciphertext, base64.
    pub ciphertext: String,
}

/// A page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// Oldest first.
    pub items: Vec<FeedItem>,
    /// The cursor for the next page.
    pub next: i64,
}

/// HQ reads the organisation's items after `since`.
#[utoipa::path(get, path = "/v1/feed", tag = "hq", params(Page),
    responses((status = 200, body = FeedPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("signature" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    Query(page): Query<Page>,
    authed: Authed,
) -> Result<Json<FeedPage>, ApiError> {
    authed.require_hq()?;
    let org = authed.device.org;
    let (since, limit) = (page.since, page.limit());
    let rows = state.db.feed(org, since, limit).await?;
    let next = rows.last().map_or(since, |i| i.pos);
    Ok(Json(FeedPage {
        items: rows
            .into_iter()
            .map(|i| FeedItem {
                pos: i.pos,
                device: i.device,
                seq: i.seq,
                id: i.id,
                kind: i.kind,
                sha256: i.sha256,
                size: i.size,
                ciphertext: STANDARD.encode(&i.ciphertext),
            })
            .collect(),
        next,
    }))
}

/// Items HQ verified.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Item ids, 1 to 1000.
    pub items: Vec<Uuid>,
}

/// How many acknowledgements were new.
#[derive(Debug, Serialize, ToSchema)]
pub struct AckResponse {
    /// New ones (the rest were acknowledged before).
    pub new: usize,
}

/// HQ acknowledges items it verified; monitors read these back.
#[utoipa::path(post, path = "/v1/acks", tag = "hq", request_body = AckRequest,
    responses((status = 200, body = AckResponse), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("signature" = [])))]
pub async fn ack(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<AckResponse>, ApiError> {
    authed.require_hq()?;
    let req: AckRequest = json_body(&authed.body)?;
    if req.items.is_empty() || req.items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("1 to {MAX_BATCH} items"),
        ));
    }
    let (org, by) = (authed.device.org, authed.device.device);
    match state.db.ack(org, by, req.items).await? {
        Ok(new) => Ok(Json(AckResponse { new })),
        Err(id) => Err(ApiError::bad_request(
            "unknown_item",
            format!("item {id} is not stored for this organisation; nothing was acknowledged"),
        )),
    }
}

/// One acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ack {
    /// The cursor.
    pub pos: i64,
    /// The item.
    pub item: String,
    /// The HQ device that verified it.
    pub acked_by: String,
    /// When the server recorded it.
    pub acked_at: String,
}

/// A page of acknowledgements.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcksPage {
    /// Oldest first.
    pub acks: Vec<Ack>,
    /// The cursor for the next page.
    pub next: i64,
}

/// A device reads HQ's acknowledgements of its own items.
#[utoipa::path(get, path = "/v1/acks", tag = "items", params(Page),
    responses((status = 200, body = AcksPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("signature" = [])))]
pub async fn acks(
    State(state): State<AppState>,
    Query(page): Query<Page>,
    authed: Authed,
) -> Result<Json<AcksPage>, ApiError> {
    let device = authed.device.device;
    let (since, limit) = (page.since, page.limit());
    let rows = state.db.acks(device, since, limit).await?;
    let next = rows.last().map_or(since, |a| a.pos);
    Ok(Json(AcksPage {
        acks: rows
            .into_iter()
            .map(|a| Ack {
                pos: a.pos,
                item: a.item,
                acked_by: a.acked_by,
                acked_at: a.acked_at,
            })
            .collect(),
        next,
    }))
}

//! The server's database: organisations, devices, nonces, items (ciphertext with routing
//! metadata), receipts and acknowledgements, in embedded SQLite under `--data` or in
//! PostgreSQL (`--database postgres://…`).
//!
//! Every write that a receipt vouches for is committed durably before the receipt leaves the
//! server. Nothing here ever holds plaintext of a report: items are age ciphertext for HQ's
//! readers, and the only names stored are the organisation's (from its public profile).
//!
//! [`Db`] is the one face the API sees; [`sqlite`] and [`postgres`] hold the same operations
//! for each backend, with the same rules (all-or-nothing pushes, idempotent on id and hash).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use uuid::Uuid;
use vigil_crypto::sign::{SignPublicKey, SigningKey};
use vigil_ledger::enrolment::{DeviceRole, VerifiedCertificate};
use vigil_ledger::profile::OrgProfile;
use vigil_ledger::signed::{Receipt, ReceiptDoc, ReceiptItem, Revocation, SignedWire};
use vigil_model::DeviceId;

use crate::error::ApiError;

pub mod postgres;
pub mod sqlite;

/// A registered organisation.
#[derive(Debug, Clone)]
pub struct OrgRow {
    /// Its id.
    pub org: Uuid,
    /// Its profile, as registered.
    pub profile: OrgProfile,
    /// When the server registered it.
    pub added_at: String,
}

pub(crate) fn now() -> DateTime<FixedOffset> {
    Utc::now().fixed_offset()
}

pub(crate) fn role_from(s: &str) -> DeviceRole {
    if s == "hq" {
        DeviceRole::Hq
    } else {
        DeviceRole::Monitor
    }
}

/// Why an organisation profile was not registered.
#[derive(Debug, thiserror::Error)]
pub enum OrgRefused {
    /// Its signature does not verify.
    #[error("{0}")]
    Invalid(vigil_ledger::LedgerError),
    /// The organisation is registered with another key.
    #[error(
        "organisation {0} is registered here with another signing key; a profile signed with a new key is refused (a forged or replaced organisation)"
    )]
    KeyChanged(Uuid),
    /// The database failed.
    #[error("database error: {0}")]
    Db(String),
}

/// A registered device.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// Its id.
    pub device: DeviceId,
    /// Its organisation.
    pub org: Uuid,
    /// Its signing key.
    pub sign_pk: SignPublicKey,
    /// Its role.
    pub role: DeviceRole,
    /// When it registered.
    pub registered_at: String,
    /// When the organisation revoked it, if it did.
    pub revoked_at: Option<String>,
}

/// The outcome of registering a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Newly registered.
    New,
    /// Already registered with this very certificate.
    Again,
    /// Its invitation was used by another device.
    InvitationUsed,
    /// The device id is registered with another certificate.
    OtherCertificate,
}

/// One item as a device pushes it, checked by the API layer.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// Its id.
    pub id: Uuid,
    /// Its place in the device's sequence.
    pub seq: u64,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256 of the ciphertext, hex.
    pub sha256: String,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
}

/// A stored item as the feed returns it.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// Its place in the feed.
    pub pos: i64,
    /// The device that pushed it.
    pub device: String,
    /// Its place in that device's sequence.
    pub seq: u64,
    /// Its id.
    pub id: String,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
}

/// An acknowledgement: HQ verified an item.
#[derive(Debug, Clone)]
pub struct AckRow {
    /// Its place in the device's list.
    pub pos: i64,
    /// The item.
    pub item: String,
    /// The HQ device that verified it.
    pub acked_by: String,
    /// When the server recorded it.
    pub acked_at: String,
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRefused {
    /// The id is known with other content.
    IdReused(Uuid),
    /// The device's sequence number is taken by another item.
    SeqTaken(u64),
    /// The request's nonce was used before: a replay.
    Replayed,
}

impl From<rusqlite::Error> for OrgRefused {
    fn from(e: rusqlite::Error) -> Self {
        OrgRefused::Db(e.to_string())
    }
}

impl From<tokio_postgres::Error> for OrgRefused {
    fn from(e: tokio_postgres::Error) -> Self {
        OrgRefused::Db(e.to_string())
    }
}

/// The receipt for `items`, pushed by `device` of `org`, signed now with `key`.
pub(crate) fn receipt_for<'a>(
    key: &SigningKey,
    org: Uuid,
    device: DeviceId,
    items: impl IntoIterator<Item = &'a NewItem>,
) -> Result<SignedWire, ApiError> {
    let items = items
        .into_iter()
        .map(|item| ReceiptItem {
            seq: item.seq,
            item: item.id,
            sha256: item.sha256.clone(),
            size: item.ciphertext.len() as u64,
        })
        .collect();
    Receipt::sign(ReceiptDoc::new(org, device, now(), items), |m| key.sign(m))
        .map(|r| r.to_wire())
        .map_err(ApiError::internal)
}

/// An item a push did not store because its id was taken: the same item again (its earlier
/// receipt joins `earlier`, once, unless it is this push's own receipt `this`), or a conflict
/// that refuses the whole push. `existing` is what the id holds; none means the id was free,
/// so the device's sequence number is another item's.
pub(crate) fn already_stored(
    existing: Option<Existing>,
    device: DeviceId,
    item: &NewItem,
    this: i64,
    earlier: &mut Vec<i64>,
) -> Result<(), PushRefused> {
    match existing {
        Some(e) if e.is(device, item) => {
            if e.receipt != this && !earlier.contains(&e.receipt) {
                earlier.push(e.receipt);
            }
            Ok(())
        }
        Some(_) => Err(PushRefused::IdReused(item.id)),
        None => Err(PushRefused::SeqTaken(item.seq)),
    }
}

/// What becomes of the receipt a push signed beforehand, once it is known which items it
/// stored.
pub(crate) enum ReceiptFate {
    /// Every item was new: it stands as signed.
    Kept(SignedWire),
    /// No item was new: its row goes.
    Unused,
    /// Some were: this one, for the new items only, takes its place.
    Replaced(SignedWire),
}

/// [`ReceiptFate`] of `receipt` for a push of `pushed` items of which `new` were stored.
pub(crate) fn receipt_fate(
    key: &SigningKey,
    org: Uuid,
    device: DeviceId,
    pushed: usize,
    new: Vec<&NewItem>,
    receipt: SignedWire,
) -> Result<ReceiptFate, ApiError> {
    Ok(if new.len() == pushed {
        ReceiptFate::Kept(receipt)
    } else if new.is_empty() {
        ReceiptFate::Unused
    } else {
        ReceiptFate::Replaced(receipt_for(key, org, device, new)?)
    })
}

/// A request's nonce, spent in the same transaction as the write the request asks for.
#[derive(Debug, Clone)]
pub struct Nonce {
    /// The device that signed the request.
    pub device: DeviceId,
    /// The nonce.
    pub nonce: String,
    /// When it may be forgotten (a request signed that long ago is stale anyway), Unix seconds.
    pub expires: i64,
}

/// What is stored under an item's id, to compare with a push.
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    pub device: String,
    pub seq: i64,
    pub kind: String,
    pub sha256: String,
    pub size: i64,
    /// The receipt that first covered it.
    pub receipt: i64,
}

impl Existing {
    /// Whether `item` from `device` is this very item again.
    pub(crate) fn is(&self, device: DeviceId, item: &NewItem) -> bool {
        self.device == device.to_string()
            && u64::try_from(self.seq).ok() == Some(item.seq)
            && self.kind == item.kind
            && self.sha256 == item.sha256
            && u64::try_from(self.size).ok() == Some(item.ciphertext.len() as u64)
    }
}

/// A receipt as stored: its document and signature in hex.
pub(crate) fn wire_from(document: String, signature: &str) -> Result<SignedWire, String> {
    let signature = signature
        .parse()
        .map_err(|_| "a stored receipt's signature is not hex".to_owned())?;
    Ok(SignedWire {
        document,
        signature,
    })
}

/// A resumable upload of an attachment (tus): who, how long, its SHA-256, how far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The attachment's id (the device chose it).
    pub id: Uuid,
    /// Its organisation.
    pub org: Uuid,
    /// The uploading device.
    pub device: DeviceId,
    /// Its full length in bytes.
    pub length: u64,
    /// SHA-256 of the whole, hex.
    pub sha256: String,
    /// How many bytes the server holds.
    pub offset: u64,
    /// Whether every byte arrived and the whole matched its SHA-256.
    pub complete: bool,
}

/// The outcome of creating an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadCreated {
    /// Created.
    New,
    /// The same upload existed (the same device, length and SHA-256): resume it.
    Again(UploadRow),
    /// The id is taken by another upload.
    Conflict,
}

/// One stored part of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    /// Where it starts.
    pub offset: u64,
    /// Its object in the blob store.
    pub key: String,
    /// Its size.
    pub size: u64,
}

/// The database: one face over the backends.
#[derive(Debug, Clone)]
pub enum Db {
    /// Embedded SQLite.
    Sqlite(sqlite::Sqlite),
    /// PostgreSQL, which several server processes may share.
    Postgres(postgres::Postgres),
}

/// Runs `$sqlite` on a SQLite connection in a blocking task (`read`, or `write` through the
/// group-committing writer), or awaits `$pg` on PostgreSQL.
macro_rules! either {
    ($self:ident, $how:ident |$c:ident| $sqlite:expr, |$p:ident| $pg:expr) => {
        match $self {
            Db::Sqlite(s) => s.$how(move |$c| Ok($sqlite?)).await,
            Db::Postgres($p) => Ok($pg.await?),
        }
    };
}

impl Db {
    /// Opens PostgreSQL at `database` if given, else SQLite in `data`.
    pub async fn open(data: Option<&Path>, database: Option<&str>) -> anyhow::Result<Db> {
        match (database, data) {
            (Some(url), _) => Ok(Db::Postgres(postgres::Postgres::connect(url).await?)),
            (None, Some(dir)) => Ok(Db::Sqlite(sqlite::Sqlite::open(dir)?)),
            (None, None) => {
                anyhow::bail!("--data DIR (embedded SQLite) or --database postgres://… is needed")
            }
        }
    }

    /// The receipt key, made on first use and kept in the database, so that every process on
    /// it signs with the same key.
    pub async fn server_key(&self) -> anyhow::Result<SigningKey> {
        match self {
            Db::Sqlite(s) => Ok(s
                .write(|c| sqlite::server_key(c).map_err(ApiError::internal))
                .await?),
            Db::Postgres(p) => p.server_key().await,
        }
    }

    /// Registers an organisation from its signed profile (see [`sqlite::add_org`]).
    pub async fn add_org(&self, text: String) -> Result<(OrgProfile, bool), OrgRefused> {
        match self {
            Db::Sqlite(s) => s
                .write_if(Result::is_ok, move |c| Ok(sqlite::add_org(c, &text)))
                .await
                .map_err(|e| OrgRefused::Db(e.to_string()))?,
            Db::Postgres(p) => p.add_org(&text).await,
        }
    }

    /// Every registered organisation.
    pub async fn orgs(&self) -> Result<Vec<OrgRow>, ApiError> {
        either!(self, read | c | sqlite::orgs(c), |p| p.orgs())
    }

    /// One organisation.
    pub async fn org(&self, org: Uuid) -> Result<Option<OrgRow>, ApiError> {
        either!(self, read | c | sqlite::org(c, org), |p| p.org(org))
    }

    /// A registered device.
    pub async fn device(&self, device: DeviceId) -> Result<Option<DeviceRow>, ApiError> {
        either!(self, read | c | sqlite::device(c, device), |p| p
            .device(device))
    }

    /// An organisation's devices.
    pub async fn devices(&self, org: Uuid) -> Result<Vec<DeviceRow>, ApiError> {
        either!(self, read | c | sqlite::devices(c, org), |p| p.devices(org))
    }

    /// When the organisation revoked `device`, if it did.
    pub async fn revoked(&self, device: DeviceId) -> Result<Option<String>, ApiError> {
        either!(self, read | c | sqlite::revoked(c, device), |p| p
            .revoked(device))
    }

    /// Registers a device whose certificate was verified.
    pub async fn register_device(
        &self,
        cert: VerifiedCertificate,
    ) -> Result<Registration, ApiError> {
        either!(self, write | c | sqlite::register_device(c, &cert), |p| p
            .register_device(&cert))
    }

    /// Records a verified revocation; whether it was new.
    pub async fn revoke(&self, revocation: Revocation) -> Result<bool, ApiError> {
        either!(self, write | c | sqlite::revoke(c, &revocation), |p| p
            .revoke(&revocation))
    }

    /// Spends a nonce: false when the device used it before.
    pub async fn use_nonce(&self, nonce: Nonce) -> Result<bool, ApiError> {
        either!(self, write | c | sqlite::use_nonce(c, &nonce), |p| p
            .use_nonce(&nonce))
    }

    /// Stores a batch, all or nothing, and spends the request's nonce in the same transaction
    /// (see [`sqlite::push`]).
    pub async fn push(
        &self,
        key: Arc<SigningKey>,
        org: Uuid,
        nonce: Nonce,
        items: Vec<NewItem>,
    ) -> Result<Result<Vec<SignedWire>, PushRefused>, ApiError> {
        // Signed here, on the caller's task, for the usual case that every item is new; the
        // database signs again only for a push that repeats some items.
        let receipt = receipt_for(&key, org, nonce.device, &items)?;
        match self {
            Db::Sqlite(s) => {
                s.write_if(Result::is_ok, move |c| {
                    sqlite::push(c, &key, org, &nonce, &items, receipt)
                })
                .await
            }
            Db::Postgres(p) => p.push(&key, org, &nonce, &items, receipt).await,
        }
    }

    /// A device's receipts after position `since`.
    pub async fn receipts(
        &self,
        device: DeviceId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<(i64, SignedWire)>, ApiError> {
        either!(
            self,
            read | c | sqlite::receipts(c, device, since, limit),
            |p| p.receipts(device, since, limit)
        )
    }

    /// The organisation's items after feed position `since`.
    pub async fn feed(
        &self,
        org: Uuid,
        since: i64,
        limit: i64,
    ) -> Result<Vec<StoredItem>, ApiError> {
        either!(self, read | c | sqlite::feed(c, org, since, limit), |p| p
            .feed(org, since, limit))
    }

    /// HQ acknowledges items; `Err(id)` names an item not stored for `org`.
    pub async fn ack(
        &self,
        org: Uuid,
        by: DeviceId,
        items: Vec<Uuid>,
    ) -> Result<Result<usize, Uuid>, ApiError> {
        match self {
            Db::Sqlite(s) => {
                s.write_if(Result::is_ok, move |c| sqlite::ack(c, org, by, &items))
                    .await
            }
            Db::Postgres(p) => p.ack(org, by, &items).await,
        }
    }

    /// Acknowledgements of a device's items after `since`.
    pub async fn acks(
        &self,
        device: DeviceId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<AckRow>, ApiError> {
        either!(
            self,
            read | c | sqlite::acks(c, device, since, limit),
            |p| p.acks(device, since, limit)
        )
    }

    /// Creates an upload, or finds the same one.
    pub async fn create_upload(&self, row: UploadRow) -> Result<UploadCreated, ApiError> {
        either!(self, write | c | sqlite::create_upload(c, &row), |p| p
            .create_upload(&row))
    }

    /// An upload.
    pub async fn upload(&self, id: Uuid) -> Result<Option<UploadRow>, ApiError> {
        either!(self, read | c | sqlite::upload(c, id), |p| p.upload(id))
    }

    /// Records a part stored at `offset`, if the upload is still at `offset` (false: another
    /// request moved it first, and this part is not used).
    pub async fn add_part(&self, id: Uuid, part: PartRow) -> Result<bool, ApiError> {
        either!(self, write | c | sqlite::add_part(c, id, &part), |p| p
            .add_part(id, &part))
    }

    /// An upload's parts, in order.
    pub async fn parts(&self, id: Uuid) -> Result<Vec<PartRow>, ApiError> {
        either!(self, read | c | sqlite::parts(c, id), |p| p.parts(id))
    }

    /// Marks an upload complete with its receipt (`Some`), or starts it again from zero
    /// (`None`: the whole did not match its SHA-256; its parts are forgotten).
    pub async fn finish_upload(
        &self,
        id: Uuid,
        receipt: Option<SignedWire>,
    ) -> Result<(), ApiError> {
        either!(
            self,
            write | c | sqlite::finish_upload(c, id, receipt.as_ref()),
            |p| p.finish_upload(id, receipt.as_ref())
        )
    }

    /// The receipt of a complete upload.
    pub async fn upload_receipt(&self, id: Uuid) -> Result<Option<SignedWire>, ApiError> {
        either!(self, read | c | sqlite::upload_receipt(c, id), |p| p
            .upload_receipt(id))
    }
}

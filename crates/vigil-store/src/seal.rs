//! Sealed revisions and the custody log.
//!
//! Sealing turns an incident into a **revision**: a JSON document ([`RevisionDoc`]) holding the
//! incident, its running log, references to its attachments (by SHA-256), the device that
//! sealed it and that device's public keys. The document is written in canonical JSON
//! ([`vigil_crypto::sign::canonical_json`]); its SHA-256 is its hash, and the device signs that
//! hash with its Ed25519 key.
//!
//! Each device numbers its revisions 1, 2, 3 ... (`device_seq`) and every revision carries the
//! hash of the same device's previous one (`prev`), so a removed or reordered revision breaks
//! the chain. An amendment is a new revision whose `amends` names the revision it replaces;
//! nothing sealed is rewritten (the `revisions` table refuses UPDATE and DELETE).
//!
//! The **custody log** records what happened to the records: `created`, `sealed`, `exported`,
//! `imported`. Each event is a small canonical JSON document, hash-chained per device and
//! signed like a revision.
//!
//! The types live here rather than in `vigil-model` because they are bound to hashing and
//! signing; the model stays free of crypto and I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, DeviceKeys, DevicePublic, Signature, canonical_json};
use vigil_model::{AttachmentId, DeviceId, Incident, IncidentId, IncidentStatus, LogEntry, Sha256};

use crate::error::{Result, StoreError};
use crate::provenance::Received;
use crate::{Vault, sql, uuid_from};

/// The `format` of a revision document.
pub const REVISION_FORMAT: &str = "vigil-revision";
/// The revision document version this build writes and the newest it reads.
pub const REVISION_VERSION: u32 = 1;
/// The `format` of a custody event document.
pub const CUSTODY_FORMAT: &str = "vigil-custody-event";

/// Identifies a sealed revision (UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevisionId(pub Uuid);

impl RevisionId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RevisionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for RevisionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Uuid::parse_str(s.trim()).map(Self)
    }
}

/// An attachment as a revision refers to it: by content hash, never by its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    /// The attachment.
    pub id: AttachmentId,
    /// Its file name when added.
    pub original_name: String,
    /// Its media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: Sha256,
}

/// The signed content of a sealed revision. Its canonical JSON is what is hashed and signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionDoc {
    /// Always [`REVISION_FORMAT`].
    pub format: String,
    /// [`REVISION_VERSION`] when written by this build.
    pub version: u32,
    /// The revision's id.
    pub id: RevisionId,
    /// The incident as sealed (status `sealed`), in the model's stable JSON form.
    pub incident: Incident,
    /// Its running log, in sequence order.
    pub log: Vec<LogEntry>,
    /// Its attachments.
    pub attachments: Vec<AttachmentRef>,
    /// The device that sealed it.
    pub device: DeviceId,
    /// That device's public keys.
    pub device_keys: DevicePublic,
    /// Position in the device's chain of revisions, from 1.
    pub device_seq: u64,
    /// Hash of the device's previous revision (`null` for the first).
    pub prev: Option<Sha256>,
    /// The revision this one amends (`null` for a first sealing).
    pub amends: Option<RevisionId>,
    /// When it was sealed, on the device's clock.
    pub sealed_at: DateTime<FixedOffset>,
}

impl RevisionDoc {
    /// The canonical bytes that are hashed and signed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Every field is representable in JSON (string keys, finite coordinates).
        canonical_json(&serde_json::to_value(self).unwrap_or(serde_json::Value::Null))
    }
}

/// A sealed revision as stored and carried in bundles: the canonical document bytes, their
/// hash and the device's signature, with the document's chain fields alongside for indexing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision's id.
    pub id: RevisionId,
    /// The incident.
    pub incident: IncidentId,
    /// The sealing device.
    pub device: DeviceId,
    /// Position in the device's chain, from 1.
    pub device_seq: u64,
    /// Hash of the device's previous revision.
    pub prev_hash: Option<Sha256>,
    /// The revision this one amends.
    pub amends: Option<RevisionId>,
    /// When it was sealed.
    pub sealed_at: DateTime<FixedOffset>,
    /// The canonical JSON of the [`RevisionDoc`].
    pub doc: Vec<u8>,
    /// SHA-256 of `doc`.
    pub hash: Sha256,
    /// Ed25519 signature over `hash` by the device.
    pub sig: Signature,
}

fn tampered(id: impl fmt::Display, detail: impl Into<String>) -> StoreError {
    StoreError::RevisionTampered {
        id: id.to_string(),
        detail: detail.into(),
    }
}

impl Revision {
    /// Builds a revision from the signed document bytes and signature (as read from a bundle).
    /// Nothing is verified yet: call [`Revision::verify`].
    pub fn from_signed(doc: Vec<u8>, sig: Signature) -> Result<Revision> {
        let d = parse_doc(&doc, "?")?;
        Ok(Revision {
            id: d.id,
            incident: d.incident.id,
            device: d.device,
            device_seq: d.device_seq,
            prev_hash: d.prev,
            amends: d.amends,
            sealed_at: d.sealed_at,
            hash: Sha256(sign::sha256(&doc)),
            doc,
            sig,
        })
    }

    /// The parsed document (not verified).
    pub fn document(&self) -> Result<RevisionDoc> {
        parse_doc(&self.doc, &self.id.to_string())
    }

    /// Checks everything a revision proves about itself: the document is a revision this build
    /// reads, in canonical form, hashes to `hash`, agrees with the fields alongside it, and is
    /// signed by the key it names. (Whether that key belongs to the device is for the caller:
    /// see `known_devices`.)
    pub fn verify(&self) -> Result<VerifiedRevision> {
        let doc = self.document()?;
        if doc.canonical_bytes() != self.doc {
            return Err(tampered(self.id, "the document is not in canonical form"));
        }
        let hash = Sha256(sign::sha256(&self.doc));
        if hash != self.hash {
            return Err(tampered(self.id, "its content does not match its hash"));
        }
        if doc.id != self.id
            || doc.incident.id != self.incident
            || doc.device != self.device
            || doc.device_seq != self.device_seq
            || doc.prev != self.prev_hash
            || doc.amends != self.amends
            || doc.sealed_at != self.sealed_at
        {
            return Err(tampered(
                self.id,
                "its chain fields differ from the signed document",
            ));
        }
        // Places in a chain run from 1 (only the first has no `prev`), as SQLite integers.
        if doc.device_seq == 0
            || doc.device_seq > i64::MAX as u64
            || (doc.device_seq == 1) != doc.prev.is_none()
        {
            return Err(tampered(
                self.id,
                format!("place {} in its device's chain", doc.device_seq),
            ));
        }
        sign::verify(&doc.device_keys.sign_pk, self.hash.as_bytes(), &self.sig).map_err(|_| {
            StoreError::BadSignature {
                what: format!("revision {}", self.id),
            }
        })?;
        Ok(VerifiedRevision {
            revision: self.clone(),
            doc,
        })
    }
}

fn parse_doc(bytes: &[u8], id: &str) -> Result<RevisionDoc> {
    #[derive(Deserialize)]
    struct Probe {
        format: Option<String>,
        version: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| tampered(id, format!("not a revision document: {e}")))?;
    if probe.format.as_deref() != Some(REVISION_FORMAT) {
        return Err(tampered(id, "not a revision document"));
    }
    if let Some(v) = probe.version
        && v > REVISION_VERSION
    {
        return Err(StoreError::NewerVersion {
            found: v,
            supported: REVISION_VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| tampered(id, format!("unreadable: {e}")))
}

/// A revision whose canonical form, hash and signature have been checked
/// ([`Revision::verify`]); the only input [`Vault::apply_revisions`] accepts.
#[derive(Debug, Clone)]
pub struct VerifiedRevision {
    revision: Revision,
    doc: RevisionDoc,
}

impl VerifiedRevision {
    /// The revision.
    pub fn revision(&self) -> &Revision {
        &self.revision
    }

    /// Its parsed document.
    pub fn document(&self) -> &RevisionDoc {
        &self.doc
    }
}

/// What [`Vault::apply_revisions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Attachments stored now.
    pub attachments: usize,
    /// Their ids.
    #[serde(skip)]
    pub attachment_ids: Vec<AttachmentId>,
    /// Revisions stored now.
    pub applied: Vec<RevisionId>,
    /// Revisions already here with the same hash.
    pub skipped: Vec<RevisionId>,
    /// Incidents created or brought up to their latest revision.
    pub incidents: Vec<IncidentId>,
    /// Devices seen for the first time.
    pub new_devices: Vec<DeviceId>,
    /// Custody events received and stored now.
    pub custody_events: usize,
    /// Received custody events that contradict the history kept here (which was kept).
    pub custody_conflicts: Vec<String>,
}

/// The kinds of custody event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustodyKind {
    /// An incident was created in this vault.
    Created,
    /// A revision was sealed.
    Sealed,
    /// Revisions left the vault in a bundle.
    Exported,
    /// Revisions were imported from a bundle.
    Imported,
}

impl CustodyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CustodyKind::Created => "created",
            CustodyKind::Sealed => "sealed",
            CustodyKind::Exported => "exported",
            CustodyKind::Imported => "imported",
        }
    }
}

/// The signed content of a custody event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyDoc {
    /// Always [`CUSTODY_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The event's id.
    pub id: Uuid,
    /// The device that recorded it.
    pub device: DeviceId,
    /// Position in the device's custody chain, from 1.
    pub seq: u64,
    /// When, on the device's clock.
    pub at: DateTime<FixedOffset>,
    /// What happened.
    pub event: CustodyKind,
    /// What it happened to: an incident id, revision id or bundle id.
    pub subject: String,
    /// Details (revision ids, hashes).
    pub details: serde_json::Value,
    /// Hash of the device's previous custody event.
    pub prev: Option<Sha256>,
}

/// A custody event as stored: canonical document bytes, hash, signature.
#[derive(Debug, Clone, PartialEq)]
pub struct CustodyEvent {
    /// The parsed document.
    pub doc: CustodyDoc,
    /// Its canonical JSON.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`.
    pub hash: Sha256,
    /// The device's signature over `hash`.
    pub sig: Signature,
}

/// Appends a custody event signed by `keys`, inside the caller's transaction.
pub(crate) fn append_custody(
    tx: &Transaction<'_>,
    keys: &DeviceKeys,
    device: DeviceId,
    at: DateTime<FixedOffset>,
    event: CustodyKind,
    subject: &str,
    details: serde_json::Value,
) -> Result<()> {
    let dev = device.as_uuid().as_bytes().as_slice();
    let last: Option<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT seq, hash FROM custody_log WHERE device = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s as u64 + 1, Some(sha_from(&h)?)),
        None => (1, None),
    };
    let doc = CustodyDoc {
        format: CUSTODY_FORMAT.to_owned(),
        version: 1,
        id: Uuid::now_v7(),
        device,
        seq,
        at,
        event,
        subject: subject.to_owned(),
        details,
        prev,
    };
    let bytes = canonical_json(&serde_json::to_value(&doc).map_err(json_err)?);
    let hash = Sha256(sign::sha256(&bytes));
    let sig = keys.sign(hash.as_bytes());
    insert_custody(
        tx,
        &CustodyEvent {
            doc,
            bytes,
            hash,
            sig,
        },
    )
}

/// Appends a custody event, as it stands, to the log (own or received).
pub(crate) fn insert_custody(tx: &Transaction<'_>, ev: &CustodyEvent) -> Result<()> {
    let d = &ev.doc;
    tx.prepare_cached(
        "INSERT INTO custody_log (id, device, seq, at, event, subject, details, prev_hash, doc, hash, sig)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        d.id.as_bytes().as_slice(),
        d.device.as_uuid().as_bytes().as_slice(),
        d.seq as i64,
        d.at.to_rfc3339(),
        d.event.as_str(),
        d.subject,
        d.details.to_string(),
        d.prev.map(|p| p.0.to_vec()),
        ev.bytes,
        ev.hash.0.as_slice(),
        ev.sig.0.as_slice(),
    ])?;
    Ok(())
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Corrupted {
        detail: format!("a signed document cannot be written: {e}"),
    }
}

pub(crate) fn sha_from(bytes: &[u8]) -> Result<Sha256> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupted {
        detail: "a stored hash is malformed".into(),
    })?;
    Ok(Sha256(arr))
}

fn sig_from(bytes: &[u8]) -> Result<Signature> {
    Signature::from_slice(bytes).map_err(|_| StoreError::Corrupted {
        detail: "a stored signature is malformed".into(),
    })
}

fn time_from(s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).map_err(|e| StoreError::Corrupted {
        detail: format!("a stored time is unreadable: {e}"),
    })
}

const REVISION_COLUMNS: &str =
    "id, incident, device, device_seq, prev_hash, amends, sealed_at, doc, hash, sig";

fn revision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRevision> {
    Ok(RawRevision {
        id: r.get(0)?,
        incident: r.get(1)?,
        device: r.get(2)?,
        device_seq: r.get(3)?,
        prev_hash: r.get(4)?,
        amends: r.get(5)?,
        sealed_at: r.get(6)?,
        doc: r.get(7)?,
        hash: r.get(8)?,
        sig: r.get(9)?,
    })
}

struct RawRevision {
    id: Vec<u8>,
    incident: Vec<u8>,
    device: Vec<u8>,
    device_seq: i64,
    prev_hash: Option<Vec<u8>>,
    amends: Option<Vec<u8>>,
    sealed_at: String,
    doc: Vec<u8>,
    hash: Vec<u8>,
    sig: Vec<u8>,
}

impl RawRevision {
    fn into_revision(self) -> Result<Revision> {
        Ok(Revision {
            id: RevisionId(uuid_from(&self.id)?),
            incident: IncidentId::from_uuid(uuid_from(&self.incident)?),
            device: DeviceId::from_uuid(uuid_from(&self.device)?),
            device_seq: self.device_seq as u64,
            prev_hash: self.prev_hash.as_deref().map(sha_from).transpose()?,
            amends: self
                .amends
                .as_deref()
                .map(|a| uuid_from(a).map(RevisionId))
                .transpose()?,
            sealed_at: time_from(&self.sealed_at)?,
            doc: self.doc,
            hash: sha_from(&self.hash)?,
            sig: sig_from(&self.sig)?,
        })
    }
}

fn query_revisions(
    conn: &Connection,
    where_order: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Revision>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REVISION_COLUMNS} FROM revisions {where_order}"
    ))?;
    let raws = stmt
        .query_map(args, revision_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawRevision::into_revision).collect()
}

fn insert_revision(tx: &Transaction<'_>, rev: &Revision, imported: bool) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO revisions (id, incident, device, device_seq, prev_hash, amends, sealed_at, doc, hash, sig, imported)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        rev.id.0.as_bytes().as_slice(),
        rev.incident.as_uuid().as_bytes().as_slice(),
        rev.device.as_uuid().as_bytes().as_slice(),
        rev.device_seq as i64,
        rev.prev_hash.map(|h| h.0.to_vec()),
        rev.amends.map(|a| a.0.as_bytes().to_vec()),
        rev.sealed_at.to_rfc3339(),
        rev.doc,
        rev.hash.0.as_slice(),
        rev.sig.0.as_slice(),
        imported,
    ])?;
    Ok(())
}

/// The public keys known for a device, if any.
pub(crate) fn known_device(conn: &Connection, device: DeviceId) -> Result<Option<DevicePublic>> {
    let row: Option<(Vec<u8>, String)> = conn
        .prepare_cached("SELECT sign_pk, age_recipient FROM known_devices WHERE device = ?1")?
        .query_row([device.as_uuid().as_bytes().as_slice()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    row.map(|(pk, age)| {
        Ok(DevicePublic {
            sign_pk: pk
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupted {
                    detail: "a known device key is malformed".into(),
                })?,
            age_recipient: age,
        })
    })
    .transpose()
}

/// Records a device's keys the first time it is seen; refuses different keys later. Returns
/// true when the device is new.
pub(crate) fn register_device(
    tx: &Transaction<'_>,
    device: DeviceId,
    keys: &DevicePublic,
    at: &DateTime<FixedOffset>,
) -> Result<bool> {
    match known_device(tx, device)? {
        Some(k) if &k == keys => Ok(false),
        Some(_) => Err(StoreError::DeviceKeyConflict {
            device: device.to_string(),
        }),
        None => {
            tx.prepare_cached(
                "INSERT INTO known_devices (device, sign_pk, age_recipient, first_seen)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                device.as_uuid().as_bytes().as_slice(),
                keys.sign_pk.as_slice(),
                keys.age_recipient,
                at.to_rfc3339()
            ])?;
            Ok(true)
        }
    }
}

pub(crate) fn broken(device: DeviceId, detail: impl Into<String>) -> StoreError {
    StoreError::ChainBroken {
        device: device.to_string(),
        detail: detail.into(),
    }
}

impl Vault {
    /// Seals a draft incident: a signed revision of it, its running log and its attachment
    /// references, chained to this device's previous revision. The incident becomes `Sealed`
    /// ([`Vault::update_incident`] refuses it from then on) and a `sealed` custody event is
    /// recorded.
    pub fn seal(&mut self, incident: IncidentId) -> Result<Revision> {
        let current = self.incident(incident)?;
        if current.is_sealed() {
            return Err(StoreError::Sealed(incident.to_string()));
        }
        self.seal_revision(current, None)
    }

    /// Amends a sealed incident: `next` becomes a new sealed revision that names the incident's
    /// latest revision in `amends`. Nothing sealed before is changed.
    pub fn amend(&mut self, incident: IncidentId, next: &Incident) -> Result<Revision> {
        let current = self.incident(incident)?;
        if !current.is_sealed() {
            return Err(StoreError::NotSealed(incident.to_string()));
        }
        if next.id != incident {
            return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
                vigil_model::FieldError::new(
                    "id",
                    vigil_model::Problem::DuplicateId {
                        id: next.id.to_string(),
                    },
                ),
            ])));
        }
        let mut next = next.clone();
        next.created_at = current.created_at;
        next.updated_at = self.clock.now();
        next.validate(&self.thesaurus)?;
        let head = self.head_revision(incident)?;
        self.seal_revision(next, head.map(|h| h.id))
    }

    /// Seals what the incident holds now: its first sealed revision, or, once it is sealed, an
    /// amendment with the edits kept for it (the editor's draft, if any) and every running-log
    /// entry and attachment added since. Refuses ([`StoreError::NothingToSeal`]) when nothing
    /// changed since the last sealed revision.
    pub fn seal_now(&mut self, incident: IncidentId) -> Result<Revision> {
        let current = self.incident(incident)?;
        if !current.is_sealed() {
            return self.seal(incident);
        }
        let next = match self.draft(incident)? {
            // The editor's copy carries the `updated_at` of the version it began from: if a
            // newer revision arrived since (another device's amendment), sealing the copy would
            // quietly undo it. A person decides (keep the edit on top, or discard it).
            Some(d) if d.updated_at != current.updated_at => {
                return Err(StoreError::DraftOutdated(incident.to_string()));
            }
            Some(d) => d,
            None => current.clone(),
        };
        if let Some(head) = self.head_revision(incident)? {
            let doc = head.document()?;
            let mut sealed = doc.incident;
            let mut pending = next.clone();
            for i in [&mut sealed, &mut pending] {
                i.status = IncidentStatus::Sealed;
                i.updated_at = current.updated_at;
                i.created_at = current.created_at;
            }
            let log: BTreeSet<_> = self.log_entries(incident)?.iter().map(|e| e.id).collect();
            let files: BTreeSet<_> = self.attachments(incident)?.iter().map(|a| a.id).collect();
            if sealed == pending
                && doc.log.iter().map(|e| e.id).collect::<BTreeSet<_>>() == log
                && doc
                    .attachments
                    .iter()
                    .map(|a| a.id)
                    .collect::<BTreeSet<_>>()
                    == files
            {
                return Err(StoreError::NothingToSeal(incident.to_string()));
            }
        }
        self.amend(incident, &next)
    }

    fn head_revision(&self, incident: IncidentId) -> Result<Option<Revision>> {
        head_of(&self.conn, incident)
    }

    fn seal_revision(
        &mut self,
        mut incident: Incident,
        amends: Option<RevisionId>,
    ) -> Result<Revision> {
        let now = self.clock.now();
        incident.status = IncidentStatus::Sealed;
        let log = self.log_entries(incident.id)?;
        let attachments = self
            .attachments(incident.id)?
            .into_iter()
            .map(|a| AttachmentRef {
                id: a.id,
                original_name: a.original_name,
                media_type: a.media_type,
                size: a.size,
                sha256: a.sha256,
            })
            .collect();
        let tx = self.conn.transaction()?;
        let dev = self.device.as_uuid().as_bytes().as_slice();
        let last: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT device_seq, hash FROM revisions WHERE device = ?1
                 ORDER BY device_seq DESC LIMIT 1",
            )?
            .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (device_seq, prev) = match last {
            Some((s, h)) => (s as u64 + 1, Some(sha_from(&h)?)),
            None => (1, None),
        };
        let doc = RevisionDoc {
            format: REVISION_FORMAT.to_owned(),
            version: REVISION_VERSION,
            id: RevisionId::new(),
            incident: incident.clone(),
            log,
            attachments,
            device: self.device,
            device_keys: self.keys.public(),
            device_seq,
            prev,
            amends,
            sealed_at: now,
        };
        let bytes = doc.canonical_bytes();
        let hash = Sha256(sign::sha256(&bytes));
        let rev = Revision {
            id: doc.id,
            incident: incident.id,
            device: self.device,
            device_seq,
            prev_hash: prev,
            amends,
            sealed_at: now,
            sig: self.keys.sign(hash.as_bytes()),
            hash,
            doc: bytes,
        };
        insert_revision(&tx, &rev, false)?;
        sql::update_incident(&tx, &incident)?;
        sql::clear_draft(&tx, incident.id)?;
        append_custody(
            &tx,
            &self.keys,
            self.device,
            now,
            CustodyKind::Sealed,
            &rev.id.to_string(),
            serde_json::json!({
                "incident": incident.id,
                "hash": rev.hash,
                "amends": amends,
            }),
        )?;
        tx.commit()?;
        Ok(rev)
    }

    /// The sealed revisions of an incident, oldest first.
    pub fn revisions(&self, incident: IncidentId) -> Result<Vec<Revision>> {
        query_revisions(
            &self.conn,
            "WHERE incident = ?1 ORDER BY rowid",
            [incident.as_uuid().as_bytes().as_slice()],
        )
    }

    /// One revision.
    pub fn revision(&self, id: RevisionId) -> Result<Revision> {
        query_revisions(&self.conn, "WHERE id = ?1", [id.0.as_bytes().as_slice()])?
            .pop()
            .ok_or_else(|| StoreError::NotFound {
                what: "revision",
                id: id.to_string(),
            })
    }

    /// Every revision in the vault, by device and chain position.
    pub fn all_revisions(&self) -> Result<Vec<Revision>> {
        query_revisions(&self.conn, "ORDER BY device, device_seq", [])
    }

    /// This device's revisions that no bundle has carried out yet, in chain order.
    pub fn unsent_revisions(&self) -> Result<Vec<Revision>> {
        query_revisions(
            &self.conn,
            "WHERE device = ?1 AND imported = 0
               AND NOT EXISTS (SELECT 1 FROM revision_exports e WHERE e.revision = revisions.id)
             ORDER BY device_seq",
            [self.device.as_uuid().as_bytes().as_slice()],
        )
    }

    /// Records that `bundle` carried these revisions out (an `exported` custody event).
    pub fn mark_exported(&mut self, revisions: &[RevisionId], bundle: &str) -> Result<()> {
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        for id in revisions {
            let exists = tx
                .prepare_cached("SELECT 1 FROM revisions WHERE id = ?1")?
                .exists([id.0.as_bytes().as_slice()])?;
            if !exists {
                return Err(StoreError::NotFound {
                    what: "revision",
                    id: id.to_string(),
                });
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO revision_exports (revision, bundle, at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                id.0.as_bytes().as_slice(),
                bundle,
                now.to_rfc3339()
            ])?;
        }
        append_custody(
            &tx,
            &self.keys,
            self.device,
            now,
            CustodyKind::Exported,
            bundle,
            serde_json::json!({ "revisions": revisions }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The custody log, by device and chain position.
    pub fn custody_log(&self) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc, hash, sig FROM custody_log ORDER BY device, seq")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(bytes, hash, sig)| {
                let doc: CustodyDoc =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupted {
                        detail: format!("a custody event is unreadable: {e}"),
                    })?;
                Ok(CustodyEvent {
                    doc,
                    bytes,
                    hash: sha_from(&hash)?,
                    sig: sig_from(&sig)?,
                })
            })
            .collect()
    }

    /// Checks every sealed revision and custody event in the vault: canonical form, hash and
    /// signature (against the key first seen for the device), and each device's chain. For this
    /// vault's own device the chains must run without a gap from 1, and every `sealed` custody
    /// event must name a stored revision with its hash, so removing the newest revision is found
    /// too. For other devices (imported), links are checked wherever both ends are present,
    /// since a bundle may carry only part of a chain.
    pub fn verify_chain(&self) -> Result<()> {
        let mut keys: BTreeMap<DeviceId, DevicePublic> = BTreeMap::new();
        let mut key_of = |device: DeviceId| -> Result<DevicePublic> {
            if let Some(k) = keys.get(&device) {
                return Ok(k.clone());
            }
            let k = known_device(&self.conn, device)?
                .ok_or_else(|| broken(device, "the device is not in known_devices"))?;
            keys.insert(device, k.clone());
            Ok(k)
        };
        let mut last: Option<(DeviceId, u64, Sha256)> = None;
        let mut own_hashes: BTreeMap<RevisionId, Sha256> = BTreeMap::new();
        for rev in self.all_revisions()? {
            let v = rev
                .verify()
                .map_err(|e| broken(rev.device, e.to_string()))?;
            if v.doc.device_keys != key_of(rev.device)? {
                return Err(broken(
                    rev.device,
                    format!("revision {} names another key", rev.id),
                ));
            }
            let own = rev.device == self.device;
            match last {
                Some((d, seq, hash)) if d == rev.device => {
                    if rev.device_seq == seq + 1 {
                        if rev.prev_hash != Some(hash) {
                            return Err(broken(
                                rev.device,
                                format!(
                                    "revision {} does not follow revision {seq}",
                                    rev.device_seq
                                ),
                            ));
                        }
                    } else if own {
                        return Err(broken(
                            rev.device,
                            format!("revision {} follows revision {seq}", rev.device_seq),
                        ));
                    }
                }
                _ => {
                    if rev.device_seq == 1 && rev.prev_hash.is_some() {
                        return Err(broken(
                            rev.device,
                            "its first revision names a previous one",
                        ));
                    }
                    if own && rev.device_seq != 1 {
                        return Err(broken(
                            rev.device,
                            format!("its first revision is number {}", rev.device_seq),
                        ));
                    }
                }
            }
            if own {
                own_hashes.insert(rev.id, rev.hash);
            }
            last = Some((rev.device, rev.device_seq, rev.hash));
        }

        let mut last: Option<(DeviceId, u64, Sha256)> = None;
        for ev in self.custody_log()? {
            let d = &ev.doc;
            let canon = canonical_json(&serde_json::to_value(d).map_err(json_err)?);
            if canon != ev.bytes || Sha256(sign::sha256(&ev.bytes)) != ev.hash {
                return Err(broken(
                    d.device,
                    format!("custody event {} was altered", d.seq),
                ));
            }
            let key = key_of(d.device)?;
            sign::verify(&key.sign_pk, ev.hash.as_bytes(), &ev.sig).map_err(|_| {
                broken(
                    d.device,
                    format!("custody event {} is not signed by it", d.seq),
                )
            })?;
            let own = d.device == self.device;
            let follows = match last {
                Some((dev, seq, hash)) if dev == d.device => {
                    (d.seq == seq + 1 && d.prev == Some(hash)) || (!own && d.seq != seq + 1)
                }
                _ => (d.seq == 1 && d.prev.is_none()) || (!own && d.seq != 1),
            };
            if !follows {
                return Err(broken(
                    d.device,
                    format!("custody event {} is out of its chain", d.seq),
                ));
            }
            if own && d.event == CustodyKind::Sealed {
                let id: RevisionId = d
                    .subject
                    .parse()
                    .map_err(|_| broken(d.device, "a sealed event names no revision"))?;
                let hash: Option<Sha256> = serde_json::from_value(d.details["hash"].clone()).ok();
                if own_hashes.get(&id).copied() != hash || hash.is_none() {
                    return Err(broken(
                        d.device,
                        format!("revision {id} recorded as sealed is missing or altered"),
                    ));
                }
            }
            last = Some((d.device, d.seq, ev.hash));
        }
        Ok(())
    }

    /// Stores revisions received from a bundle (their signatures already verified), all or
    /// nothing, in one transaction. Idempotent: a revision already here with the same hash is
    /// skipped; the same id with a different hash is [`StoreError::RevisionConflict`]. Each
    /// device is registered in `known_devices` on first sight, and refused if it later shows a
    /// different key. An incident whose newest revision arrives becomes a sealed incident here
    /// with its running log (log entries keep their ids and sequence numbers). When anything
    /// was stored, an `imported` custody event is recorded.
    pub fn apply_revisions(&mut self, revisions: &[VerifiedRevision]) -> Result<ApplyReport> {
        self.apply_revisions_from(revisions, None)
    }

    /// [`Vault::apply_revisions`], naming the bundle they came from in the custody event.
    pub fn apply_revisions_from(
        &mut self,
        revisions: &[VerifiedRevision],
        origin: Option<&str>,
    ) -> Result<ApplyReport> {
        self.apply_bundle(revisions, Vec::new(), &[], origin.unwrap_or(""))
    }

    /// Applies a bundle's verified revisions and the attachments they refer to (staged into
    /// this vault's chunk store while the bundle was read) in ONE transaction: all or nothing.
    /// An attachment already here (same id and hash) is skipped; the same id with another hash
    /// is a conflict. The caller discards the staged files afterwards in every case; the ones
    /// recorded here are taken over (their list is emptied).
    pub fn apply_bundle(
        &mut self,
        revisions: &[VerifiedRevision],
        attachments: Vec<(AttachmentRef, IncidentId, crate::StagedAttachment)>,
        custody: &[CustodyEvent],
        origin: &str,
    ) -> Result<ApplyReport> {
        let origin = Some(origin).filter(|o| !o.is_empty());
        let result = self.apply_bundle_tx(revisions, &attachments, custody, origin);
        // Chunks now recorded belong to the vault; every other staged file goes.
        let recorded: &[AttachmentId] = match &result {
            Ok(r) => &r.attachment_ids,
            Err(_) => &[],
        };
        for (a, _, s) in attachments {
            if !recorded.contains(&a.id) {
                s.discard();
            }
        }
        result
    }

    fn apply_bundle_tx(
        &mut self,
        revisions: &[VerifiedRevision],
        attachments: &[(AttachmentRef, IncidentId, crate::StagedAttachment)],
        custody: &[CustodyEvent],
        origin: Option<&str>,
    ) -> Result<ApplyReport> {
        let now = self.clock.now();
        let mut order: Vec<&VerifiedRevision> = revisions.iter().collect();
        order.sort_by_key(|v| (v.revision.device, v.revision.device_seq));
        let mut report = ApplyReport::default();
        let mut touched: BTreeSet<IncidentId> = BTreeSet::new();
        let tx = self.conn.transaction()?;
        for v in order {
            let rev = &v.revision;
            if Sha256(sign::sha256(&rev.doc)) != rev.hash {
                return Err(tampered(rev.id, "its content does not match its hash"));
            }
            let existing: Option<Vec<u8>> = tx
                .prepare_cached("SELECT hash FROM revisions WHERE id = ?1")?
                .query_row([rev.id.0.as_bytes().as_slice()], |r| r.get(0))
                .optional()?;
            match existing {
                Some(h) if h == rev.hash.0 => {
                    report.skipped.push(rev.id);
                    continue;
                }
                Some(_) => {
                    return Err(StoreError::RevisionConflict {
                        id: rev.id.to_string(),
                    });
                }
                None => {}
            }
            let same_place = tx
                .prepare_cached("SELECT 1 FROM revisions WHERE device = ?1 AND device_seq = ?2")?
                .exists(params![
                    rev.device.as_uuid().as_bytes().as_slice(),
                    rev.device_seq as i64
                ])?;
            if same_place {
                return Err(StoreError::RevisionConflict {
                    id: rev.id.to_string(),
                });
            }
            if register_device(&tx, rev.device, &v.doc.device_keys, &now)? {
                report.new_devices.push(rev.device);
            }
            let incident_exists = tx
                .prepare_cached("SELECT 1 FROM incidents WHERE id = ?1")?
                .exists([rev.incident.as_uuid().as_bytes().as_slice()])?;
            if !incident_exists {
                let mut inc = v.doc.incident.clone();
                inc.status = IncidentStatus::Sealed;
                sql::insert_incident(&tx, &inc)?;
            }
            insert_revision(&tx, rev, true)?;
            for entry in &v.doc.log {
                insert_log_entry(&tx, entry)?;
            }
            touched.insert(rev.incident);
            report.applied.push(rev.id);
        }
        for incident in touched {
            let Some(head) = head_of(&tx, incident)? else {
                continue;
            };
            let doc = head.document()?;
            let mut inc = doc.incident;
            inc.status = IncidentStatus::Sealed;
            let current = sql::load_incident(&tx, incident)?;
            if current != inc {
                sql::update_incident(&tx, &inc)?;
                // An edit waiting to amend a sealed incident here is the person's work: it stays
                // (the editor shows it over the newer head). A local draft's leftovers go.
                if current.status != IncidentStatus::Sealed {
                    sql::clear_draft(&tx, incident)?;
                }
            }
            report.incidents.push(incident);
        }
        for (aref, incident, staged) in attachments {
            let existing: Option<Vec<u8>> = tx
                .prepare_cached("SELECT sha256 FROM attachments WHERE id = ?1")?
                .query_row([aref.id.as_uuid().as_bytes().as_slice()], |r| r.get(0))
                .optional()?;
            match existing {
                Some(h) if h == aref.sha256.0 => continue,
                Some(_) => {
                    return Err(StoreError::RevisionConflict {
                        id: format!("attachment {}", aref.id),
                    });
                }
                None => {}
            }
            if staged.size() != aref.size || staged.sha256() != aref.sha256.0 {
                return Err(StoreError::TamperedAttachment {
                    id: aref.id.to_string(),
                });
            }
            crate::attachments::insert_staged(&tx, aref, *incident, staged, &now)?;
            report.attachments += 1;
            report.attachment_ids.push(aref.id);
        }
        // The senders' custody logs, kept as history (and this vault's own, when it restores
        // from its own bundle). After a device's first event that is skipped or contradicts
        // the history kept here, the rest of its events in this bundle are not taken either:
        // they continue from it.
        let mut custody: Vec<&CustodyEvent> = custody.iter().collect();
        custody.sort_by_key(|e| (e.doc.device, e.doc.seq));
        let mut stopped: BTreeSet<DeviceId> = BTreeSet::new();
        for ev in custody {
            if stopped.contains(&ev.doc.device) {
                continue;
            }
            match crate::provenance::store_received_custody(&tx, ev, self.device)? {
                Received::Stored => report.custody_events += 1,
                Received::AlreadyHere => {}
                Received::Skipped => {
                    stopped.insert(ev.doc.device);
                }
                Received::Conflict(what) => {
                    stopped.insert(ev.doc.device);
                    report.custody_conflicts.push(what);
                }
            }
        }
        if !report.applied.is_empty() || report.attachments > 0 || report.custody_events > 0 {
            let subject = origin.map_or_else(
                || {
                    report
                        .applied
                        .first()
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                },
                |o| o.to_owned(),
            );
            append_custody(
                &tx,
                &self.keys,
                self.device,
                now,
                CustodyKind::Imported,
                &subject,
                serde_json::json!({ "revisions": report.applied }),
            )?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// Whether an attachment with this content is already in the vault.
    pub fn has_attachment_content(&self, sha256: &Sha256) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM attachments WHERE sha256 = ?1")?
            .exists([sha256.0.as_slice()])?)
    }

    /// The hash of revision number `seq` of `device`, if it is in this vault.
    pub fn revision_hash_at(&self, device: DeviceId, seq: u64) -> Result<Option<Sha256>> {
        let h: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT hash FROM revisions WHERE device = ?1 AND device_seq = ?2")?
            .query_row(
                params![device.as_uuid().as_bytes().as_slice(), seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        h.map(|h| sha_from(&h)).transpose()
    }

    /// Signs `bytes` with this vault's device key (bundle manifests).
    pub fn device_sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.keys.sign(bytes).0
    }
}

fn insert_log_entry(tx: &Transaction<'_>, e: &LogEntry) -> Result<()> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO log_entries (id, incident_id, seq, at, text, device, flagged)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            e.id.as_uuid().as_bytes().as_slice(),
            e.incident.as_uuid().as_bytes().as_slice(),
            e.seq as i64,
            e.at.to_rfc3339(),
            e.text,
            e.device.as_uuid().as_bytes().as_slice(),
            e.flagged,
        ])?;
    if n > 0 {
        sql::index_entry(tx, e)?;
    }
    Ok(())
}

/// The incident's newest revision: one that no other revision amends (the latest sealed of
/// those, should two devices have amended the same revision).
fn head_of(conn: &Connection, incident: IncidentId) -> Result<Option<Revision>> {
    Ok(query_revisions(
        conn,
        "WHERE incident = ?1
           AND NOT EXISTS (SELECT 1 FROM revisions a WHERE a.amends = revisions.id)
         ORDER BY sealed_at DESC, id DESC LIMIT 1",
        [incident.as_uuid().as_bytes().as_slice()],
    )?
    .pop())
}

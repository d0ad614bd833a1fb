//! How sealed revisions, custody events and device keys are stored: one row each, written and
//! read here only.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use vigil_crypto::sign::{DevicePublic, SignPublicKey, Signature};
use vigil_ledger::RevisionId;
use vigil_ledger::custody::CustodyEvent;
use vigil_ledger::revision::Revision;
use vigil_model::{DeviceId, EntryId, IncidentId, LogEntry, Sha256};

use crate::error::{Result, StoreError};
use crate::uuid_from;

/// Rows of (uuid, SHA-256) that `sql` selects, as text.
pub(crate) fn id_digests(conn: &Connection, sql: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, sha)| Ok((uuid_from(&id)?.to_string(), hex::encode(sha))))
        .collect()
}

pub(crate) fn sha_from(bytes: &[u8]) -> Result<Sha256> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupted {
        detail: "a stored hash is malformed".into(),
    })?;
    Ok(Sha256(arr))
}

pub(crate) fn key_from(bytes: &[u8]) -> Result<SignPublicKey> {
    bytes.try_into().map_err(|_| StoreError::Corrupted {
        detail: "a stored device key is malformed".into(),
    })
}

pub(crate) fn sig_from(bytes: &[u8]) -> Result<Signature> {
    Signature::from_slice(bytes).map_err(|_| StoreError::Corrupted {
        detail: "a stored signature is malformed".into(),
    })
}

pub(crate) fn time_from(s: &str) -> Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).map_err(|e| StoreError::Corrupted {
        detail: format!("a stored time is unreadable: {e}"),
    })
}

const REVISION_COLUMNS: &str =
    "id, incident, device, device_seq, prev_hash, amends, sealed_at, doc, hash, sig";

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

/// Revisions matching `where_order` (an SQL tail: `WHERE ... ORDER BY ...`).
pub(crate) fn query_revisions(
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

/// Stores a revision. Its document goes into the row in pieces through SQLite's blob I/O, so
/// a large one is not copied whole into SQLite's memory as well.
pub(crate) fn insert_revision(tx: &Transaction<'_>, rev: &Revision, imported: bool) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO revisions (id, incident, device, device_seq, prev_hash, amends, sealed_at, doc, hash, sig, imported)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, zeroblob(?8), ?9, ?10, ?11)",
    )?
    .execute(params![
        rev.id.0.as_bytes().as_slice(),
        rev.incident.as_uuid().as_bytes().as_slice(),
        rev.device.as_uuid().as_bytes().as_slice(),
        rev.device_seq as i64,
        rev.prev_hash.map(|h| h.0.to_vec()),
        rev.amends.map(|a| a.0.as_bytes().to_vec()),
        rev.sealed_at.to_rfc3339(),
        rev.doc.len() as i64,
        rev.hash.0.as_slice(),
        rev.sig.0.as_slice(),
        imported,
    ])?;
    let row = tx.last_insert_rowid();
    let mut blob = tx.blob_open(rusqlite::MAIN_DB, "revisions", "doc", row, false)?;
    for (i, piece) in rev.doc.chunks(1 << 20).enumerate() {
        blob.write_at(piece, i << 20)?;
    }
    Ok(())
}

/// The hash of revision number `seq` of `device`, if it is here.
pub(crate) fn revision_hash_at(
    conn: &Connection,
    device: DeviceId,
    seq: u64,
) -> Result<Option<Sha256>> {
    let h: Option<Vec<u8>> = conn
        .prepare_cached("SELECT hash FROM revisions WHERE device = ?1 AND device_seq = ?2")?
        .query_row(
            params![device.as_uuid().as_bytes().as_slice(), seq as i64],
            |r| r.get(0),
        )
        .optional()?;
    h.map(|h| sha_from(&h)).transpose()
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

/// A custody event as stored (its bytes are trusted to be this vault's own record; whether
/// they still verify is [`crate::Vault::verify_chain`]'s business).
pub(crate) fn custody_from_row(bytes: Vec<u8>, hash: &[u8], sig: &[u8]) -> Result<CustodyEvent> {
    let doc = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupted {
        detail: format!("a custody event is unreadable: {e}"),
    })?;
    Ok(CustodyEvent {
        doc,
        bytes,
        hash: sha_from(hash)?,
        sig: sig_from(sig)?,
    })
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
            sign_pk: key_from(&pk)?,
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
        Some(k) if k.sign_pk == keys.sign_pk => Ok(false),
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

/// The columns [`entry_from_row`] reads, in its order.
pub(crate) const ENTRY_COLUMNS: &str =
    "id, incident_id, seq, at, text, device, flagged, corrects, happened_at";

/// A running-log entry row ([`ENTRY_COLUMNS`]) as read, before its values are checked.
pub(crate) struct RawEntry {
    id: Vec<u8>,
    incident: Vec<u8>,
    seq: i64,
    at: String,
    text: String,
    device: Vec<u8>,
    flagged: bool,
    corrects: Option<Vec<u8>>,
    happened_at: Option<String>,
}

pub(crate) fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        id: r.get(0)?,
        incident: r.get(1)?,
        seq: r.get(2)?,
        at: r.get(3)?,
        text: r.get(4)?,
        device: r.get(5)?,
        flagged: r.get(6)?,
        corrects: r.get(7)?,
        happened_at: r.get(8)?,
    })
}

impl RawEntry {
    pub(crate) fn into_entry(self) -> Result<LogEntry> {
        Ok(LogEntry {
            id: EntryId::from_uuid(uuid_from(&self.id)?),
            incident: IncidentId::from_uuid(uuid_from(&self.incident)?),
            seq: self.seq as u64,
            at: time_from(&self.at)?,
            text: self.text,
            device: DeviceId::from_uuid(uuid_from(&self.device)?),
            flagged: self.flagged,
            corrects: self
                .corrects
                .map(|c| uuid_from(&c).map(EntryId::from_uuid))
                .transpose()?,
            happened_at: self.happened_at.map(|h| time_from(&h)).transpose()?,
        })
    }
}

//! Where a sealed record has been, for HQ to show and, if it comes to that, to prove.
//!
//! Every bundle carries its device's signed custody log (created, sealed, exported, imported).
//! HQ checks each event against the key it knows for that device and keeps it, append-only,
//! beside its own events, so the history of a record survives the bundle files. A record's
//! [`Provenance`] is its sealed revisions, each signature checked again when asked, and every
//! custody event that names the incident or one of its revisions, from every device.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use vigil_crypto::sign::{self, DevicePublic, Signature, canonical_json};
use vigil_model::{DeviceId, IncidentId, Sha256};

use crate::Vault;
use crate::error::{Result, StoreError};
use crate::seal::{
    CUSTODY_FORMAT, CustodyDoc, CustodyEvent, CustodyKind, RevisionId, known_device,
};

impl CustodyEvent {
    /// A custody event received from another vault (a line of a bundle's custody log): the
    /// canonical JSON of its document, and the device's signature over its SHA-256. The form
    /// is checked here; the signature when it is stored, against the key known for the device.
    pub fn from_signed(bytes: Vec<u8>, sig: Signature) -> Result<CustodyEvent> {
        let bad = |detail: String| StoreError::RevisionTampered {
            id: "a custody event".into(),
            detail,
        };
        let doc: CustodyDoc =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("unreadable: {e}")))?;
        if doc.format != CUSTODY_FORMAT || doc.version != 1 {
            return Err(bad(format!(
                "format {} version {}",
                doc.format, doc.version
            )));
        }
        // Places run from 1, and are stored as SQLite integers.
        if doc.seq == 0 || doc.seq > i64::MAX as u64 {
            return Err(bad(format!("place {} in its log", doc.seq)));
        }
        let value = serde_json::to_value(&doc).map_err(|e| bad(e.to_string()))?;
        if canonical_json(&value) != bytes {
            return Err(bad("not in canonical form".into()));
        }
        let hash = Sha256(sign::sha256(&bytes));
        Ok(CustodyEvent {
            doc,
            bytes,
            hash,
            sig,
        })
    }
}

/// What became of a custody event received in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    /// Stored now.
    Stored,
    /// Already here, identical.
    AlreadyHere,
    /// Not kept, and nothing wrong with it: its device has no sealed record here (so its key
    /// is unknown), or it is this vault's own event that cannot continue its log here (a
    /// bundle that does not hold the revision it records, or a gap).
    Skipped,
    /// It contradicts the history kept here (another event at its place, or a link to a
    /// neighbour that does not match). The kept history wins; the caller reports it.
    Conflict(String),
}

/// The hash of an event kept here, and its `prev` link.
type KeptEvent = (Vec<u8>, Option<Vec<u8>>);

/// Takes a custody event received in a bundle into the caller's transaction. Its document and
/// hash are derived again from its bytes, and its signature must verify with the key known for
/// its device (a bad signature fails the import). The history kept here is append-only and is
/// never replaced: an event that contradicts it is a [`Received::Conflict`].
pub(crate) fn store_received_custody(
    tx: &Transaction<'_>,
    ev: &CustodyEvent,
    own: DeviceId,
) -> Result<Received> {
    // Whatever the caller put in `doc` and `hash`, only what the bytes say counts.
    let checked = CustodyEvent::from_signed(ev.bytes.clone(), ev.sig)?;
    if checked.doc != ev.doc || checked.hash != ev.hash {
        return Err(StoreError::RevisionTampered {
            id: "a custody event".into(),
            detail: "its document or hash does not match its bytes".into(),
        });
    }
    let d = &checked.doc;
    let hash = checked.hash;
    let Some(key) = known_device(tx, d.device)? else {
        return Ok(Received::Skipped);
    };
    sign::verify(&key.sign_pk, hash.as_bytes(), &checked.sig).map_err(|_| {
        StoreError::BadSignature {
            what: format!("custody event {} of device {}", d.seq, d.device),
        }
    })?;
    let dev = d.device.as_uuid().as_bytes().as_slice();
    let hash_at = |seq: u64| -> Result<Option<KeptEvent>> {
        Ok(tx
            .prepare_cached(
                "SELECT hash, prev_hash FROM custody_log WHERE device = ?1 AND seq = ?2",
            )?
            .query_row(params![dev, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    };
    let by_id: Option<Vec<u8>> = tx
        .prepare_cached("SELECT hash FROM custody_log WHERE id = ?1")?
        .query_row([d.id.as_bytes().as_slice()], |r| r.get(0))
        .optional()?;
    let conflict = |what: &str| {
        Ok(Received::Conflict(format!(
            "custody event {} of device {}: {what}; the history kept here was left as it is",
            d.seq, d.device
        )))
    };
    match (hash_at(d.seq)?, by_id) {
        (Some((a, _)), Some(b)) if a == hash.0 && b == hash.0 => return Ok(Received::AlreadyHere),
        (None, None) => {}
        _ => return conflict("another event is kept at its place"),
    }
    if d.seq == 0 || (d.seq == 1) != d.prev.is_none() {
        return conflict("it is not linked as a first or a later event");
    }
    if let Some((before, _)) = hash_at(d.seq - 1)?
        && d.prev.map(|p| p.0.to_vec()) != Some(before)
    {
        return conflict("it does not follow the event before it");
    }
    if let Some(next) = d.seq.checked_add(1)
        && let Some((_, after_prev)) = hash_at(next)?
        && after_prev != Some(hash.0.to_vec())
    {
        return conflict("the event after it does not follow it");
    }
    if d.device == own {
        // This vault's own log (restoring from its own bundle) must run without a gap, and a
        // `sealed` event needs its revision here (the chain check demands it).
        let last: Option<i64> = tx
            .prepare_cached("SELECT max(seq) FROM custody_log WHERE device = ?1")?
            .query_row([dev], |r| r.get(0))?;
        if d.seq != last.map_or(1, |l| l as u64 + 1) {
            return Ok(Received::Skipped);
        }
        if d.event == CustodyKind::Sealed {
            let stored: Option<Vec<u8>> = match d.subject.parse::<RevisionId>() {
                Ok(id) => tx
                    .prepare_cached("SELECT hash FROM revisions WHERE id = ?1 AND device = ?2")?
                    .query_row(params![id.0.as_bytes().as_slice(), dev], |r| r.get(0))
                    .optional()?,
                Err(_) => None,
            };
            let named = d.details["hash"].as_str().map(str::to_owned);
            if stored.map(hex::encode) != named {
                return Ok(Received::Skipped);
            }
        }
    }
    crate::seal::insert_custody(tx, &checked)?;
    Ok(Received::Stored)
}

/// A sealed revision of the record, with its signature checked again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionProof {
    /// The revision.
    pub id: RevisionId,
    /// The device that sealed it.
    pub device: DeviceId,
    /// That device's Ed25519 public key, as known to this vault.
    #[serde(with = "hex::serde")]
    pub device_key: [u8; 32],
    /// Its place in the device's chain.
    pub device_seq: u64,
    /// When it was sealed, on the device's clock.
    pub sealed_at: DateTime<FixedOffset>,
    /// SHA-256 of its canonical document.
    pub hash: Sha256,
    /// The revision it amends.
    pub amends: Option<RevisionId>,
    /// Whether its canonical form, hash and signature (by the known key) verify now.
    pub verified: bool,
}

/// A custody event about the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustodyRecord {
    /// The device that recorded it.
    pub device: DeviceId,
    /// Whether that is this vault's own device.
    pub this_device: bool,
    /// Its place in the device's custody log.
    pub seq: u64,
    /// When, on that device's clock.
    pub at: DateTime<FixedOffset>,
    /// What happened.
    pub event: CustodyKind,
    /// What it happened to: the incident, a revision, or a bundle.
    pub subject: String,
    /// Whether its hash and signature (by the device's known key) verify now.
    pub verified: bool,
}

/// A record's sealed revisions and custody events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The incident.
    pub incident: IncidentId,
    /// Its sealed revisions, oldest first.
    pub revisions: Vec<RevisionProof>,
    /// Every custody event that names it or one of its revisions, by time.
    pub events: Vec<CustodyRecord>,
}

/// Whether a custody event is about this record, by its structured fields (the text search
/// only finds candidates). Only this vault's events and those of a device that sealed a
/// revision of the record count: anyone holding the org profile can make a device and sign
/// events naming any incident, and those say nothing about this one.
fn about_this_record(
    doc: &CustodyDoc,
    incident: &str,
    revisions: &[RevisionProof],
    this_vault: DeviceId,
) -> bool {
    if doc.device != this_vault && !revisions.iter().any(|r| r.device == doc.device) {
        return false;
    }
    let names = |key: &str, wanted: &dyn Fn(&str) -> bool| {
        doc.details[key]
            .as_array()
            .is_some_and(|a| a.iter().filter_map(|v| v.as_str()).any(wanted))
    };
    let ours = |id: &str| revisions.iter().any(|r| r.id.to_string() == id);
    match doc.event {
        CustodyKind::Created => doc.subject == incident || names("incidents", &|i| i == incident),
        // The revision it names is this record's, sealed by this device, with this hash.
        CustodyKind::Sealed => revisions.iter().any(|r| {
            r.id.to_string() == doc.subject
                && r.device == doc.device
                && doc.details["hash"].as_str() == Some(r.hash.to_string().as_str())
        }),
        CustodyKind::Exported | CustodyKind::Imported => names("revisions", &ours),
    }
}

impl Vault {
    /// The record's sealed revisions (signatures checked now) and its custody events from
    /// every device that handled it.
    pub fn provenance(&self, incident: IncidentId) -> Result<Provenance> {
        // Fails with NotFound for an unknown incident.
        self.incident(incident)?;
        // Each device's key, read once.
        let mut keys: BTreeMap<DeviceId, Option<DevicePublic>> = BTreeMap::new();
        let mut key_of = |device: DeviceId| -> Result<Option<DevicePublic>> {
            if let Some(k) = keys.get(&device) {
                return Ok(k.clone());
            }
            let k = known_device(&self.conn, device)?;
            keys.insert(device, k.clone());
            Ok(k)
        };
        let mut revisions = Vec::new();
        let mut names = vec![incident.to_string()];
        for rev in self.revisions(incident)? {
            let key = key_of(rev.device)?;
            let verified = match (&key, rev.verify()) {
                (Some(k), Ok(v)) => v.document().device_keys == *k,
                _ => false,
            };
            names.push(rev.id.to_string());
            revisions.push(RevisionProof {
                id: rev.id,
                device: rev.device,
                device_key: key.map(|k| k.sign_pk).unwrap_or_default(),
                device_seq: rev.device_seq,
                sealed_at: rev.sealed_at,
                hash: rev.hash,
                amends: rev.amends,
                verified,
            });
        }
        let incident_name = incident.to_string();
        let mut events = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc, hash, sig FROM custody_log
             WHERE subject = ?1 OR instr(details, ?1) > 0 ORDER BY at, device, seq",
        )?;
        let mut seen = BTreeSet::new();
        for name in &names {
            let rows = stmt
                .query_map([name], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (bytes, hash, sig) in rows {
                if !seen.insert(hash.clone()) {
                    continue;
                }
                let doc: CustodyDoc =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupted {
                        detail: format!("a custody event is unreadable: {e}"),
                    })?;
                if !about_this_record(&doc, &incident_name, &revisions, self.device) {
                    continue;
                }
                let verified = Sha256(sign::sha256(&bytes)).0.as_slice() == hash.as_slice()
                    && match (key_of(doc.device)?, Signature::from_slice(&sig)) {
                        (Some(k), Ok(s)) => sign::verify(&k.sign_pk, &hash, &s).is_ok(),
                        _ => false,
                    };
                events.push(CustodyRecord {
                    device: doc.device,
                    this_device: doc.device == self.device,
                    seq: doc.seq,
                    at: doc.at,
                    event: doc.event,
                    subject: doc.subject,
                    verified,
                });
            }
        }
        events.sort_by_key(|e| (e.at, e.device, e.seq));
        Ok(Provenance {
            incident,
            revisions,
            events,
        })
    }
}

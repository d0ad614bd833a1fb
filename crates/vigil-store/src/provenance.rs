//! Where a sealed record has been, for HQ to show and, if it comes to that, to prove.
//!
//! Every bundle carries its device's signed custody log (created, sealed, exported, imported).
//! HQ checks each event against the key it knows for that device and keeps it, append-only,
//! beside its own events, so the history of a record survives the bundle files. A record's
//! [`Provenance`] is its sealed revisions, each signature checked again when asked, and every
//! custody event that names the incident or one of its revisions, from every device.

use chrono::{DateTime, FixedOffset};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use vigil_crypto::sign::{self, Signature, canonical_json};
use vigil_model::{DeviceId, IncidentId, Sha256};

use crate::Vault;
use crate::error::{Result, StoreError};
use crate::seal::{
    CUSTODY_FORMAT, CustodyDoc, CustodyEvent, CustodyKind, RevisionId, broken, known_device,
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

/// Stores a custody event received in a bundle, inside the caller's transaction: its signature
/// must verify with the key known for its device. Returns false when it is already here; two
/// different events at the same place in a device's log are a broken chain. Events of this
/// vault's own device (its own bundle, imported to restore a backup) must continue its log
/// exactly where it stands.
pub(crate) fn store_received_custody(
    tx: &Transaction<'_>,
    ev: &CustodyEvent,
    own: DeviceId,
) -> Result<bool> {
    let d = &ev.doc;
    let key = known_device(tx, d.device)?.ok_or_else(|| StoreError::BadSignature {
        what: format!(
            "custody event {} of device {}, which has no sealed record here",
            d.seq, d.device
        ),
    })?;
    sign::verify(&key.sign_pk, ev.hash.as_bytes(), &ev.sig).map_err(|_| {
        StoreError::BadSignature {
            what: format!("custody event {} of device {}", d.seq, d.device),
        }
    })?;
    let dev = d.device.as_uuid().as_bytes().as_slice();
    let at_place: Option<Vec<u8>> = tx
        .prepare_cached("SELECT hash FROM custody_log WHERE device = ?1 AND seq = ?2")?
        .query_row(params![dev, d.seq as i64], |r| r.get(0))
        .optional()?;
    let by_id: Option<Vec<u8>> = tx
        .prepare_cached("SELECT hash FROM custody_log WHERE id = ?1")?
        .query_row([d.id.as_bytes().as_slice()], |r| r.get(0))
        .optional()?;
    match (at_place, by_id) {
        (Some(a), Some(b)) if a == ev.hash.0 && b == ev.hash.0 => return Ok(false),
        (None, None) if d.device == own => {
            let last: Option<(i64, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT seq, hash FROM custody_log WHERE device = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let follows = match last {
                Some((seq, hash)) => {
                    d.seq == seq as u64 + 1 && d.prev.map(|p| p.0.to_vec()) == Some(hash)
                }
                None => d.seq == 1 && d.prev.is_none(),
            };
            if !follows {
                return Err(broken(
                    d.device,
                    format!(
                        "this vault's own history and the bundle's diverge at event {}: the vault \
                         was restored from a backup and used before its later bundles were \
                         imported",
                        d.seq
                    ),
                ));
            }
        }
        (None, None) => {}
        _ => {
            return Err(broken(
                d.device,
                format!("two different custody events claim number {}", d.seq),
            ));
        }
    }
    tx.prepare_cached(
        "INSERT INTO custody_log (id, device, seq, at, event, subject, details, prev_hash, doc, hash, sig)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        d.id.as_bytes().as_slice(),
        dev,
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
    Ok(true)
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

impl Vault {
    /// The record's sealed revisions (signatures checked now) and its custody events from
    /// every device that handled it.
    pub fn provenance(&self, incident: IncidentId) -> Result<Provenance> {
        // Fails with NotFound for an unknown incident.
        self.incident(incident)?;
        let mut revisions = Vec::new();
        let mut names = vec![incident.to_string()];
        for rev in self.revisions(incident)? {
            let key = known_device(&self.conn, rev.device)?;
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
        let mut events = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc, hash, sig FROM custody_log
             WHERE subject = ?1 OR instr(details, ?1) > 0 ORDER BY at, device, seq",
        )?;
        let mut seen = std::collections::BTreeSet::new();
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
                let verified = Sha256(sign::sha256(&bytes)).0.as_slice() == hash.as_slice()
                    && match (
                        known_device(&self.conn, doc.device)?,
                        Signature::from_slice(&sig),
                    ) {
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

//! Where a sealed record has been, for HQ to show and, if it comes to that, to prove.
//!
//! Every bundle carries its device's signed custody log (created, sealed, exported, imported).
//! HQ checks each event against the key it knows for that device and keeps it, append-only,
//! beside its own events, so the history of a record survives the bundle files. A record's
//! [`Provenance`] is its sealed revisions, each signature checked again when asked, and every
//! custody event that names the incident or one of its revisions, from every device.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use vigil_crypto::sign::{self, DevicePublic, Signature};
use vigil_ledger::RevisionId;
use vigil_ledger::custody::{CustodyDoc, CustodyKind};
use vigil_model::{DeviceId, IncidentId, Sha256};

use crate::Vault;
use crate::error::{Result, StoreError};
use crate::rows::known_device;

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
    /// Its latest revisions (those no other amends): more than one is a fork, two versions of
    /// the record that a person must settle.
    pub heads: Vec<RevisionId>,
    /// The revision it is shown as: the only head or, with a fork, where the versions part.
    pub shown: Option<RevisionId>,
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
        CustodyKind::Exported | CustodyKind::Imported | CustodyKind::ServerReceipt => {
            names("revisions", &ours)
        }
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
                (Some(k), Ok(v)) => v.sign_pk() == &k.sign_pk,
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
        let lineage = self.lineage(incident)?;
        Ok(Provenance {
            incident,
            heads: lineage.heads,
            shown: lineage.shown,
            revisions,
            events,
        })
    }
}

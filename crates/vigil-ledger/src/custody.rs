//! The custody log: what happened to the records, signed by the device that saw it happen.
//!
//! Every vault keeps a log of events (`created`, `sealed`, `exported`, `imported`). Each event is
//! a small [canonical] JSON document ([`CustodyDoc`]) naming its device, its
//! place in that device's log (`seq`, from 1) and the hash of the device's previous event
//! (`prev`), signed by the device over its SHA-256, so the log is a hash chain like the device's
//! revisions ([`crate::chain`]).
//!
//! # Versions
//!
//! - **1**: no `org` field. Read, never written.
//! - **2**: `org`, the organisation the vault belonged to when the event was recorded (`null`
//!   before it joined one).
//!
//! In a bundle the log is `custody/log.jsonl`: one line per event,
//! `{"doc":<the document>,"sig":"<128 hex>"}` in canonical JSON ([`CustodyEvent::to_line`],
//! [`CustodyEvent::from_line`]).

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, DeviceKeys, SignPublicKey, Signature};
use vigil_model::{DeviceId, Sha256};

use crate::{LedgerError, Result, canonical};

/// The `format` of a custody event document.
pub const CUSTODY_FORMAT: &str = "vigil-custody-event";
/// The custody event version this build writes and the newest it reads.
pub const CUSTODY_VERSION: u32 = 2;

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
    /// The organisation's server holds revisions: its signed receipt, checked against the key
    /// the organisation's profile names, is in the event's details.
    ServerReceipt,
}

impl CustodyKind {
    /// The kind as it is written in documents and shown in lists: `created`, `sealed`,
    /// `exported`, `imported`.
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyKind::Created => "created",
            CustodyKind::Sealed => "sealed",
            CustodyKind::Exported => "exported",
            CustodyKind::Imported => "imported",
            CustodyKind::ServerReceipt => "server_receipt",
        }
    }

    /// What an event of this kind about `subject` (an incident, a revision or a bundle id)
    /// says, in English, for the CLI's and the docs' plain-text history. The window shows
    /// [`CustodyKind::as_str`] through its translations instead.
    pub fn describe(self, subject: &str) -> String {
        match self {
            CustodyKind::Created => "created".to_owned(),
            CustodyKind::Sealed => format!("sealed revision {subject}"),
            CustodyKind::Exported => format!("exported in bundle {subject}"),
            CustodyKind::Imported => format!("imported from bundle {subject}"),
            CustodyKind::ServerReceipt => format!("held by the server (item {subject})"),
        }
    }
}

impl fmt::Display for CustodyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed content of a custody event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyDoc {
    /// Always [`CUSTODY_FORMAT`].
    pub format: String,
    /// [`CUSTODY_VERSION`] when written by this build.
    pub version: u32,
    /// The event's id.
    pub id: Uuid,
    /// The organisation the vault belonged to (version 2; `null` before it joined one).
    #[serde(default)]
    pub org: Option<Uuid>,
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

/// A custody event as stored and carried: canonical document bytes, hash, signature.
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

/// What a new event says; [`CustodyEvent::sign`] adds the chain fields.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The organisation the vault belongs to.
    pub org: Option<Uuid>,
    /// The recording device.
    pub device: DeviceId,
    /// When.
    pub at: DateTime<FixedOffset>,
    /// What happened.
    pub event: CustodyKind,
    /// To what.
    pub subject: &'a str,
    /// Details.
    pub details: serde_json::Value,
}

/// A line of a bundle's custody log, as it is read: the event as the bytes it is within it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    doc: &'a serde_json::value::RawValue,
    sig: Signature,
}

const WHAT: &str = "a custody event";

impl CustodyEvent {
    /// Signs a new event at place `seq` of the device's log, after the event hashed `prev`.
    pub fn sign(
        keys: &DeviceKeys,
        new: NewEvent<'_>,
        seq: u64,
        prev: Option<Sha256>,
    ) -> Result<CustodyEvent> {
        let doc = CustodyDoc {
            format: CUSTODY_FORMAT.to_owned(),
            version: CUSTODY_VERSION,
            id: Uuid::now_v7(),
            org: new.org,
            device: new.device,
            seq,
            at: new.at,
            event: new.event,
            subject: new.subject.to_owned(),
            details: new.details,
            prev,
        };
        let bytes = canonical::encode_serialize(WHAT, &doc)?;
        let hash = Sha256(sign::sha256(&bytes));
        Ok(CustodyEvent {
            doc,
            sig: keys.sign(hash.as_bytes()),
            bytes,
            hash,
        })
    }

    /// An event from its signed bytes (stored, or received from another vault). The form is
    /// checked here (canonical, a version this build reads, places within SQLite integers); the
    /// signature by [`CustodyEvent::verify`], against the key known for the device.
    pub fn from_signed(bytes: Vec<u8>, sig: Signature) -> Result<CustodyEvent> {
        let shape = canonical::check(WHAT, &bytes)?;
        // Its details are read into a JSON tree: bounded.
        if shape.values > canonical::MAX_TREE_VALUES {
            return Err(LedgerError::malformed(
                WHAT,
                format!(
                    "{} JSON values; at most {}",
                    shape.values,
                    canonical::MAX_TREE_VALUES
                ),
            ));
        }
        let probe = crate::revision::Probe::read(WHAT, &bytes)?;
        if probe.format.as_deref() != Some(CUSTODY_FORMAT) {
            return Err(LedgerError::malformed(WHAT, "not a custody event"));
        }
        let version = probe.version.unwrap_or(0);
        if version > u64::from(CUSTODY_VERSION) {
            return Err(LedgerError::NewerVersion {
                what: WHAT.into(),
                found: version,
                supported: u64::from(CUSTODY_VERSION),
            });
        }
        if version == 0 || shape.top_keys.iter().any(|k| k == "org") != (version >= 2) {
            return Err(LedgerError::malformed(
                WHAT,
                format!("version {version} with the wrong fields"),
            ));
        }
        let doc: CustodyDoc = serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::malformed(WHAT, e.to_string()))?;
        if doc.seq == 0 || doc.seq > i64::MAX as u64 || (doc.seq == 1) != doc.prev.is_none() {
            return Err(LedgerError::altered(
                WHAT,
                format!("place {} in its device's log", doc.seq),
            ));
        }
        let hash = Sha256(sign::sha256(&bytes));
        Ok(CustodyEvent {
            doc,
            bytes,
            hash,
            sig,
        })
    }

    /// Checks the signature against the device's key.
    pub fn verify(&self, sign_pk: &SignPublicKey) -> Result<()> {
        sign::verify(sign_pk, self.hash.as_bytes(), &self.sig).map_err(|_| {
            LedgerError::BadSignature {
                what: format!(
                    "custody event {} of device {}",
                    self.doc.seq, self.doc.device
                ),
            }
        })
    }

    /// The event as a line of a bundle's custody log (without the newline):
    /// `{"doc":<its bytes>,"sig":"<128 hex>"}`, canonical because its bytes are.
    pub fn to_line(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.bytes.len() + 150);
        out.extend_from_slice(b"{\"doc\":");
        out.extend_from_slice(&self.bytes);
        out.extend_from_slice(format!(",\"sig\":\"{}\"}}", self.sig).as_bytes());
        Ok(out)
    }

    /// Reads one line of a bundle's custody log. The line must be canonical, so the document
    /// inside it is exactly the bytes that were signed.
    pub fn from_line(line: &[u8]) -> Result<CustodyEvent> {
        canonical::check(WHAT, line)?;
        let line: Line<'_> = serde_json::from_slice(line)
            .map_err(|e| LedgerError::malformed(WHAT, e.to_string()))?;
        CustodyEvent::from_signed(line.doc.get().as_bytes().to_vec(), line.sig)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn events_travel_as_lines_and_refuse_edits() {
        let keys = DeviceKeys::generate().unwrap();
        let device = crate::ids::device_id_for(&keys.public().sign_pk);
        let ev = CustodyEvent::sign(
            &keys,
            NewEvent {
                org: None,
                device,
                at: "2019-05-23T10:45:00+06:00".parse().unwrap(),
                event: CustodyKind::Created,
                subject: "x",
                details: serde_json::json!({}),
            },
            1,
            None,
        )
        .unwrap();
        let line = ev.to_line().unwrap();
        let back = CustodyEvent::from_line(&line).unwrap();
        assert_eq!(back, ev);
        back.verify(&keys.public().sign_pk).unwrap();
        let other = DeviceKeys::generate().unwrap();
        assert_eq!(
            back.verify(&other.public().sign_pk).unwrap_err().code(),
            "bad_signature"
        );
        let text = String::from_utf8(line).unwrap();
        let edited = text.replace("\"created\"", "\"sealed\"");
        let e = CustodyEvent::from_line(edited.as_bytes()).unwrap();
        assert_eq!(
            e.verify(&keys.public().sign_pk).unwrap_err().code(),
            "bad_signature"
        );
        let spaced = text.replacen(",", ", ", 1);
        assert_eq!(
            CustodyEvent::from_line(spaced.as_bytes())
                .unwrap_err()
                .code(),
            "not_canonical"
        );
        assert_eq!(CustodyKind::Exported.to_string(), "exported");
        assert_eq!(
            CustodyKind::Imported.describe("b-1"),
            "imported from bundle b-1"
        );
    }
}

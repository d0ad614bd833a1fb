//! Sealed revisions: the signed form of an incident at the moment it was sealed.
//!
//! A revision is a JSON document ([`RevisionDoc`]) holding the incident, its running log,
//! references to its attachments (by SHA-256), the organisation it was sealed for, the device
//! that sealed it and that device's public keys. The document's bytes are its
//! [canonical] JSON; its SHA-256 is its hash, and the device signs that hash
//! with its Ed25519 key.
//!
//! Each device numbers its revisions 1, 2, 3 ... (`device_seq`) and every revision carries the
//! hash of the same device's previous one (`prev`), so a removed or reordered revision breaks
//! the chain ([`crate::chain`]). An amendment is a new revision whose `amends` names the
//! revision it replaces ([`crate::lineage`]); nothing sealed is ever rewritten.
//!
//! # Versions
//!
//! - **1**: no `org` field. Read, never written.
//! - **2**: `org`, the organisation the sealing vault belonged to (`null` if none yet), so a
//!   revision cannot be carried into another organisation and pass there as genuine.
//!
//! In a bundle a revision travels as `revisions/<id>.json`, an entry
//! `{"doc":<the document>,"format":"vigil-sealed-revision","sig":"<128 hex>","version":1}` in
//! canonical JSON ([`Revision::to_entry`], [`Revision::from_entry`]).
//!
//! ```
//! use vigil_crypto::sign::DeviceKeys;
//! use vigil_ledger::ids::device_id_for;
//! use vigil_ledger::revision::{Revision, RevisionDoc};
//! use vigil_model::{Incident, IncidentId};
//!
//! let keys = DeviceKeys::generate().unwrap();
//! let device = device_id_for(&keys.public().sign_pk);
//! let at = "2019-05-23T10:45:00+06:00".parse().unwrap();
//! let incident = Incident::new(IncidentId::new(), "Lawyers' meeting broken up", at);
//! let doc = RevisionDoc::new(incident, vec![], vec![], None, device, keys.public(), 1, None, None, at);
//! let revision = doc.seal(&keys).unwrap();
//!
//! // It travels as a bundle entry, and is checked again wherever it arrives.
//! let entry = revision.to_entry().unwrap();
//! let received = Revision::from_entry("revisions/x.json", &entry).unwrap();
//! let verified = received.verify().unwrap();
//! assert_eq!(verified.document().incident.title, "Lawyers' meeting broken up");
//! assert_eq!(verified.sign_pk(), &keys.public().sign_pk);
//! ```

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, DeviceKeys, DevicePublic, SignPublicKey, Signature};
use vigil_model::{AttachmentId, DeviceId, Incident, IncidentId, IncidentStatus, LogEntry, Sha256};

use crate::{LedgerError, Result, RevisionId, canonical};

/// The `format` of a revision document.
pub const REVISION_FORMAT: &str = "vigil-revision";
/// The revision document version this build writes and the newest it reads.
pub const REVISION_VERSION: u32 = 3;
/// The `format` of a revision's bundle entry.
pub const REVISION_ENTRY_FORMAT: &str = "vigil-sealed-revision";
/// The newest revision entry version.
pub const REVISION_ENTRY_VERSION: u32 = 1;

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
    /// The organisation the sealing vault belonged to (version 2; `null` before it joined one).
    #[serde(default)]
    pub org: Option<Uuid>,
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
    /// A version-[`REVISION_VERSION`] document with a fresh id. The incident is marked sealed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mut incident: Incident,
        log: Vec<LogEntry>,
        attachments: Vec<AttachmentRef>,
        org: Option<Uuid>,
        device: DeviceId,
        device_keys: DevicePublic,
        device_seq: u64,
        prev: Option<Sha256>,
        amends: Option<RevisionId>,
        sealed_at: DateTime<FixedOffset>,
    ) -> RevisionDoc {
        incident.status = IncidentStatus::Sealed;
        RevisionDoc {
            format: REVISION_FORMAT.to_owned(),
            version: REVISION_VERSION,
            id: RevisionId::new(),
            incident,
            log,
            attachments,
            org,
            device,
            device_keys,
            device_seq,
            prev,
            amends,
            sealed_at,
        }
    }

    /// Signs the document with `keys`, which must be the keys it names.
    pub fn seal(self, keys: &DeviceKeys) -> Result<Revision> {
        if keys.public() != self.device_keys {
            return Err(LedgerError::BadSignature {
                what: format!("revision {} (sealed with keys it does not name)", self.id),
            });
        }
        let bytes = canonical::encode_serialize("a revision", &self)?;
        let hash = Sha256(sign::sha256(&bytes));
        Ok(Revision {
            id: self.id,
            incident: self.incident.id,
            device: self.device,
            device_seq: self.device_seq,
            prev_hash: self.prev,
            amends: self.amends,
            sealed_at: self.sealed_at,
            sig: keys.sign(hash.as_bytes()),
            hash,
            doc: bytes,
        })
    }
}

/// A sealed revision as stored and carried: the canonical document bytes, their hash and the
/// device's signature, with the document's chain fields alongside for indexing.
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

/// How a revision entry begins.
const ENTRY_HEAD: &[u8] = b"{\"doc\":";
/// `,"format":"vigil-sealed-revision","sig":"` + 128 hex + `","version":1}`.
const ENTRY_TAIL_LEN: usize = 41 + 128 + 14;

fn entry_tail(sig: &Signature) -> String {
    format!(
        ",\"format\":\"{REVISION_ENTRY_FORMAT}\",\"sig\":\"{sig}\",\"version\":{REVISION_ENTRY_VERSION}}}"
    )
}

/// The signature in an entry's tail, if the tail is exactly the one this version writes.
fn tail_signature(tail: &[u8]) -> Option<Signature> {
    let text = std::str::from_utf8(tail).ok()?;
    let hex = text.get(41..169)?;
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let sig: Signature = hex.parse().ok()?;
    (entry_tail(&sig).as_bytes() == tail).then_some(sig)
}

/// A revision entry as it is read: the document as the bytes it is within the entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry<'a> {
    #[serde(borrow)]
    doc: &'a serde_json::value::RawValue,
    #[allow(dead_code)]
    format: &'a str,
    sig: Signature,
    #[allow(dead_code)]
    version: u32,
}

fn what(id: &str) -> String {
    format!("revision {id}")
}

/// The format and version of a record, read without building anything else of it.
#[derive(Deserialize)]
pub(crate) struct Probe {
    pub(crate) format: Option<String>,
    pub(crate) version: Option<u64>,
}

impl Probe {
    pub(crate) fn read(what: &str, bytes: &[u8]) -> Result<Probe> {
        serde_json::from_slice(bytes).map_err(|e| LedgerError::malformed(what, e.to_string()))
    }
}

/// Reads a revision document: canonical, of a version this build reads, in its typed form.
/// Nothing but the typed document is built, whatever the bytes hold.
fn read_doc(bytes: &[u8], id: &str) -> Result<RevisionDoc> {
    let shape = canonical::check(&what(id), bytes)?;
    let probe = Probe::read(&what(id), bytes)?;
    if probe.format.as_deref() != Some(REVISION_FORMAT) {
        return Err(LedgerError::malformed(what(id), "not a revision document"));
    }
    let version = probe.version.unwrap_or(0);
    if version > u64::from(REVISION_VERSION) {
        return Err(LedgerError::NewerVersion {
            what: what(id),
            found: version,
            supported: u64::from(REVISION_VERSION),
        });
    }
    if version == 0 {
        return Err(LedgerError::malformed(what(id), "no version"));
    }
    // Version 1 never names an organisation; version 2 always does (or says null).
    if shape.top_keys.iter().any(|k| k == "org") != (version >= 2) {
        return Err(LedgerError::malformed(
            what(id),
            format!("an `org` field does not belong in version {version}"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| LedgerError::malformed(what(id), e.to_string()))
}

impl Revision {
    /// A revision from its signed document bytes and signature (as stored or received). The
    /// document is read (it must be canonical); nothing is verified yet: call
    /// [`Revision::verify`].
    pub fn from_signed(doc: Vec<u8>, sig: Signature) -> Result<Revision> {
        let d = read_doc(&doc, "?")?;
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
        read_doc(&self.doc, &self.id.to_string())
    }

    /// Checks everything a revision proves about itself: the document is a revision this build
    /// reads, in canonical form, hashes to `hash`, agrees with the fields alongside it, keeps
    /// its running log in order, and is signed by the key it names. (Whether that key may speak
    /// for the device and the incident is for [`crate::authorise`] and the caller.)
    pub fn verify(&self) -> Result<VerifiedRevision> {
        self.clone().into_verified()
    }

    /// [`Revision::verify`], giving the revision up to the result (no copy of the document).
    pub fn into_verified(self) -> Result<VerifiedRevision> {
        let doc = self.document()?;
        self.check(doc)
    }

    /// Reads and verifies a revision from its signed document bytes and signature in one go
    /// (the document is parsed once): what a receiver of a large revision wants.
    pub fn verified_from_signed(doc: Vec<u8>, sig: Signature) -> Result<VerifiedRevision> {
        let d = read_doc(&doc, "?")?;
        let revision = Revision {
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
        };
        revision.check(d)
    }

    fn check(self, doc: RevisionDoc) -> Result<VerifiedRevision> {
        let id = self.id.to_string();
        let hash = Sha256(sign::sha256(&self.doc));
        if hash != self.hash {
            return Err(LedgerError::altered(
                what(&id),
                "its content does not match its hash",
            ));
        }
        if doc.id != self.id
            || doc.incident.id != self.incident
            || doc.device != self.device
            || doc.device_seq != self.device_seq
            || doc.prev != self.prev_hash
            || doc.amends != self.amends
            || doc.sealed_at != self.sealed_at
        {
            return Err(LedgerError::altered(
                what(&id),
                "its chain fields differ from the signed document",
            ));
        }
        // Places in a chain run from 1 (only the first has no `prev`), within SQLite integers.
        if doc.device_seq == 0
            || doc.device_seq > i64::MAX as u64
            || (doc.device_seq == 1) != doc.prev.is_none()
        {
            return Err(LedgerError::altered(
                what(&id),
                format!("place {} in its device's chain", doc.device_seq),
            ));
        }
        // The running log: each entry once, each device's place once, and places within SQLite
        // integers.
        let mut ids = std::collections::BTreeSet::new();
        let mut places = std::collections::BTreeSet::new();
        for e in &doc.log {
            if !ids.insert(e.id)
                || !places.insert((e.device, e.seq))
                || e.seq == 0
                || e.seq > i64::MAX as u64
            {
                return Err(LedgerError::malformed(
                    what(&id),
                    format!("running-log entry {} is repeated or out of place", e.id),
                ));
            }
        }
        // Corrections and late notes (version 3): a correction names another entry that the
        // revision carries, and nothing happened after it was written.
        for e in &doc.log {
            if (e.corrects.is_some() || e.happened_at.is_some()) && doc.version < 3 {
                return Err(LedgerError::malformed(
                    what(&id),
                    format!(
                        "running-log entry {} corrects or dates an entry, which version {} \
                         cannot",
                        e.id, doc.version
                    ),
                ));
            }
            if let Some(target) = e.corrects
                && (target == e.id || !ids.contains(&target))
            {
                return Err(LedgerError::malformed(
                    what(&id),
                    format!(
                        "running-log entry {} corrects {target}, which is not another entry of \
                         this log",
                        e.id
                    ),
                ));
            }
            if e.happened_at.is_some_and(|h| h > e.at) {
                return Err(LedgerError::malformed(
                    what(&id),
                    format!(
                        "running-log entry {} says it happened after it was written",
                        e.id
                    ),
                ));
            }
        }
        // Vigil makes two kinds of device id: random (version 7), in vaults made before
        // enrolment and so only in documents of either version, and made from the key
        // (version 8), only since documents of version 2. Anything else is not a device of ours.
        match (doc.device.as_uuid().get_version_num(), doc.version) {
            (7, _) | (8, 2..) => {}
            _ => {
                return Err(LedgerError::malformed(
                    what(&id),
                    format!(
                        "device id {} is of a kind Vigil never made for this version",
                        doc.device
                    ),
                ));
            }
        }
        // An id made from a key must be the one this key makes.
        if doc.device.as_uuid().get_version_num() == 8
            && !crate::ids::is_derived(doc.device, &doc.device_keys.sign_pk)
        {
            return Err(LedgerError::DeviceIdForged {
                device: doc.device.to_string(),
                derived: crate::ids::device_id_for(&doc.device_keys.sign_pk).to_string(),
            });
        }
        sign::verify(&doc.device_keys.sign_pk, self.hash.as_bytes(), &self.sig)
            .map_err(|_| LedgerError::BadSignature { what: what(&id) })?;
        Ok(VerifiedRevision {
            revision: self,
            doc,
        })
    }

    /// The revision as a bundle entry (canonical JSON, see the module documentation). The
    /// document's own bytes go in as they are: its key, `doc`, sorts before the others, so the
    /// entry is canonical whenever the document is, with no copy of it parsed.
    pub fn to_entry(&self) -> Result<Vec<u8>> {
        let tail = entry_tail(&self.sig);
        let mut out = Vec::with_capacity(ENTRY_HEAD.len() + self.doc.len() + tail.len());
        out.extend_from_slice(ENTRY_HEAD);
        out.extend_from_slice(&self.doc);
        out.extend_from_slice(tail.as_bytes());
        Ok(out)
    }

    /// Reads a bundle entry (`what` names it in errors). The entry must be canonical, so the
    /// document inside it is exactly the bytes that were signed. An entry of the shape this
    /// version writes is read without parsing it twice: its document is the bytes between the
    /// fixed head and tail, checked on their own; anything else is read in full.
    pub fn from_entry(what: &str, bytes: &[u8]) -> Result<Revision> {
        Self::entry_parts(what, bytes.to_vec())
            .and_then(|(doc, sig)| Revision::from_signed(doc, sig))
    }

    /// Reads and verifies a bundle entry, taking its bytes (a large entry is never copied):
    /// [`Revision::from_entry`] and [`Revision::verify`] in one.
    pub fn verified_from_entry(what: &str, bytes: Vec<u8>) -> Result<VerifiedRevision> {
        let (doc, sig) = Self::entry_parts(what, bytes)?;
        Revision::verified_from_signed(doc, sig)
    }

    /// An entry's document bytes and signature.
    fn entry_parts(what: &str, mut bytes: Vec<u8>) -> Result<(Vec<u8>, Signature)> {
        // `{"doc":` … `,"format":"vigil-sealed-revision","sig":"<128 hex>","version":1}`
        if bytes.len() > ENTRY_HEAD.len() + ENTRY_TAIL_LEN
            && bytes.starts_with(ENTRY_HEAD)
            && let Some(sig) = tail_signature(&bytes[bytes.len() - ENTRY_TAIL_LEN..])
        {
            bytes.truncate(bytes.len() - ENTRY_TAIL_LEN);
            bytes.drain(..ENTRY_HEAD.len());
            return Ok((bytes, sig));
        }
        canonical::check(what, &bytes)?;
        let probe = Probe::read(what, &bytes)?;
        if probe.format.as_deref() != Some(REVISION_ENTRY_FORMAT) {
            return Err(LedgerError::malformed(what, "not a revision entry"));
        }
        match probe.version {
            Some(v) if v > u64::from(REVISION_ENTRY_VERSION) => {
                return Err(LedgerError::NewerVersion {
                    what: what.to_owned(),
                    found: v,
                    supported: u64::from(REVISION_ENTRY_VERSION),
                });
            }
            Some(v) if v == u64::from(REVISION_ENTRY_VERSION) => {}
            _ => return Err(LedgerError::malformed(what, "no version this build reads")),
        }
        let entry: RawEntry<'_> = serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::malformed(what, e.to_string()))?;
        // The entry is canonical, so this is exactly the document's own bytes within it.
        Ok((entry.doc.get().as_bytes().to_vec(), entry.sig))
    }
}

/// A revision whose canonical form, hash, chain fields and signature have been checked
/// ([`Revision::verify`]): the only kind a vault stores from elsewhere.
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

    /// The key that signed it.
    pub fn sign_pk(&self) -> &SignPublicKey {
        &self.doc.device_keys.sign_pk
    }

    /// The revision, giving up the parsed document.
    pub fn into_revision(self) -> Revision {
        self.revision
    }

    /// The parsed document, giving up the revision's bytes.
    pub fn into_document(self) -> RevisionDoc {
        self.doc
    }
}

#[cfg(test)]
#[path = "revision_tests.rs"]
mod tests;

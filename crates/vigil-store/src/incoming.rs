//! What an import brings, once checked: [`Incoming`], its revisions and custody events waiting
//! in a [`Spill`] and its attachments staged in the chunk store, for `Vault::apply_incoming`.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use vigil_crypto::sign::{SignPublicKey, Signature};
use vigil_ledger::RevisionId;
use vigil_ledger::custody::CustodyEvent;
use vigil_ledger::revision::{Revision, VerifiedRevision};
use vigil_model::{DeviceId, IncidentId, Sha256};

use crate::error::{Result, StoreError};
use crate::spill::{Slot, Spill};
use crate::staging::StagedAttachment;

/// A revision a bundle brought: checked, and waiting in the spill.
#[derive(Debug, Clone)]
pub struct IncomingRevision {
    /// The revision.
    pub id: RevisionId,
    /// Its incident.
    pub incident: IncidentId,
    /// Its device.
    pub device: DeviceId,
    /// Its place in the device's chain.
    pub device_seq: u64,
    /// The hash it names as the previous one's.
    pub prev: Option<Sha256>,
    /// The revision it amends.
    pub amends: Option<RevisionId>,
    /// Its hash.
    pub hash: Sha256,
    /// When it was sealed.
    pub sealed_at: DateTime<FixedOffset>,
    /// The key that signed it.
    pub sign_pk: SignPublicKey,
    pub(crate) slot: Slot,
}

/// Everything a bundle brought, checked and waiting to be applied.
#[derive(Debug)]
pub struct Incoming {
    /// The bundle's id.
    pub origin: String,
    /// The device that made the bundle.
    pub sender: DeviceId,
    /// Its key.
    pub sender_key: SignPublicKey,
    /// Its certificate, as it came.
    pub certificate: Option<Vec<u8>>,
    /// Its revisions.
    pub revisions: Vec<IncomingRevision>,
    pub(crate) custody: Vec<Slot>,
    pub(crate) attachments: HashMap<Sha256, StagedAttachment>,
    pub(crate) part_lists: Vec<IncomingPartList>,
    pub(crate) parts: Vec<IncomingPart>,
    pub(crate) spill: Spill,
}

/// The part list of an attachment carried in parts, as a bundle brought it (checked).
#[derive(Debug, Clone)]
pub struct IncomingPartList {
    /// The SHA-256 of its canonical JSON.
    pub id: [u8; 32],
    /// The whole attachment's SHA-256.
    pub sha256: Sha256,
    /// Its size.
    pub size: u64,
    /// How many parts it is cut into.
    pub parts: u64,
    /// The list's canonical JSON, kept as it came.
    pub body: Vec<u8>,
}

/// One part a bundle brought, checked against its list and staged into the chunk store (its
/// SHA-256 and size are the staged copy's).
#[derive(Debug)]
pub(crate) struct IncomingPart {
    pub(crate) list: [u8; 32],
    pub(crate) index: u64,
    pub(crate) staged: StagedAttachment,
}

impl Incoming {
    /// An empty delivery from `sender`, its records to be kept in a spill in `dir` (the vault's
    /// folder).
    pub fn new(
        dir: &std::path::Path,
        origin: String,
        sender: DeviceId,
        sender_key: SignPublicKey,
        certificate: Option<Vec<u8>>,
    ) -> Result<Incoming> {
        Ok(Incoming {
            origin,
            sender,
            sender_key,
            certificate,
            revisions: Vec::new(),
            custody: Vec::new(),
            attachments: HashMap::new(),
            part_lists: Vec::new(),
            parts: Vec::new(),
            spill: Spill::new(dir)?,
        })
    }

    /// Adds a checked revision (it waits in the spill; its document is not copied).
    pub fn push_revision(&mut self, v: VerifiedRevision) -> Result<()> {
        let sign_pk = *v.sign_pk();
        let r = v.into_revision();
        let header = IncomingRevision {
            id: r.id,
            incident: r.incident,
            device: r.device,
            device_seq: r.device_seq,
            prev: r.prev_hash,
            amends: r.amends,
            hash: r.hash,
            sealed_at: r.sealed_at,
            sign_pk,
            slot: Slot::default(),
        };
        let mut bytes = r.doc;
        bytes.extend_from_slice(&r.sig.0);
        let slot = self.spill.put(bytes)?;
        self.revisions.push(IncomingRevision { slot, ..header });
        Ok(())
    }

    /// Adds a custody event of the sender (in the order of its log).
    pub fn push_custody(&mut self, ev: &CustodyEvent) -> Result<()> {
        let mut bytes = Vec::with_capacity(ev.bytes.len() + 64);
        bytes.extend_from_slice(&ev.bytes);
        bytes.extend_from_slice(&ev.sig.0);
        let slot = self.spill.put(bytes)?;
        self.custody.push(slot);
        Ok(())
    }

    /// Adds an attachment's content, staged into the vault's chunk store.
    pub fn add_attachment(&mut self, sha256: Sha256, staged: StagedAttachment) {
        if let Some(old) = self.attachments.insert(sha256, staged) {
            old.discard();
        }
    }

    /// Adds an attachment's part list.
    pub fn add_part_list(&mut self, list: IncomingPartList) {
        if !self.part_lists.iter().any(|l| l.id == list.id) {
            self.part_lists.push(list);
        }
    }

    /// Adds part `index` of the attachment cut by list `list`, staged into the chunk store.
    pub fn add_part(&mut self, list: [u8; 32], index: u64, staged: StagedAttachment) {
        self.parts.push(IncomingPart {
            list,
            index,
            staged,
        });
    }

    /// Whether a part list for the content with this hash came.
    pub fn has_part_list(&self, sha256: &Sha256) -> bool {
        self.part_lists.iter().any(|l| l.sha256 == *sha256)
    }

    /// Whether the content with this hash came.
    pub fn has_attachment(&self, sha256: &Sha256) -> bool {
        self.attachments.contains_key(sha256)
    }

    /// How many custody events came.
    pub fn custody_events(&self) -> usize {
        self.custody.len()
    }

    /// Removes the staged attachments (nothing was applied).
    pub fn discard(self) {
        for (_, s) in self.attachments {
            s.discard();
        }
        for p in self.parts {
            p.staged.discard();
        }
    }

    pub(crate) fn load_revision(&mut self, r: &IncomingRevision) -> Result<VerifiedRevision> {
        let bytes = self.spill.get(r.slot)?;
        let (doc, sig) = split_signed(bytes)?;
        let v = Revision::verified_from_signed(doc, sig)?;
        if v.revision().id != r.id || v.revision().hash != r.hash {
            return Err(StoreError::Corrupted {
                detail: "an import's temporary record is not the revision it was".into(),
            });
        }
        Ok(v)
    }

    pub(crate) fn load_custody(&mut self, slot: Slot) -> Result<CustodyEvent> {
        let (bytes, sig) = split_signed(self.spill.get(slot)?)?;
        Ok(CustodyEvent::from_signed(bytes, sig)?)
    }
}

fn split_signed(mut bytes: Vec<u8>) -> Result<(Vec<u8>, Signature)> {
    let at = bytes
        .len()
        .checked_sub(64)
        .ok_or_else(|| StoreError::Corrupted {
            detail: "an import's temporary record is cut".into(),
        })?;
    let sig = Signature::from_slice(&bytes[at..]).map_err(|_| StoreError::Corrupted {
        detail: "an import's temporary record is cut".into(),
    })?;
    bytes.truncate(at);
    Ok((bytes, sig))
}

//! Import: everything in a bundle is checked before anything changes, the sender is judged,
//! and then the bundle is applied in one transaction, or kept in quarantine for a person.
//!
//! 1. The bundle is read once (`check.rs`): every entry's hash and every record's form
//!    and signature. Revisions and custody events wait in the vault's spill, attachments are
//!    staged into its chunk store.
//! 2. The vault judges the sender ([`vigil_store::Vault::judge_sender`]). A trusted sender's
//!    bundle is applied ([`vigil_store::Vault::apply_incoming`]): every revision authorised,
//!    all or nothing. Importing the same bundle again, or overlapping bundles, adds nothing
//!    twice.
//! 3. A sender HQ cannot trust (no certificate, an invalid, expired or reused one, a revoked
//!    device, a key that conflicts) has nothing applied: the bundle file is copied, encrypted,
//!    into the vault's quarantine. [`accept`] applies it exactly as an import would, once a
//!    person has compared the key; [`vigil_store::Vault::drop_quarantined`] discards it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vigil_bundle::Manifest;
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::custody::CustodyEvent;
use vigil_ledger::revision::VerifiedRevision;
use vigil_model::{DeviceId, Sha256};
use vigil_store::{
    ApplyReport, Incoming, QuarantineEntry, QuarantineNote, StagedAttachment, Standing, Vault,
};

use crate::check::{Keep, device_key};
use crate::error::Result;
use crate::proof::identities;
use crate::read::{Expect, read_file, read_stream};

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The bundle's id.
    pub id: String,
    /// The device that made it.
    pub device: String,
    /// Revisions stored now.
    pub applied: usize,
    /// Revisions that were already here.
    pub skipped: usize,
    /// Attachments stored now.
    pub attachments: usize,
    /// Attachments of revisions stored now that wait for parts still to come.
    pub awaiting: usize,
    /// Parts of attachments stored now.
    pub parts: usize,
    /// Attachments whose last part arrived now: joined and checked against their SHA-256.
    pub completed: usize,
    /// The sending device's custody events stored now (its history, kept at HQ).
    pub custody_events: usize,
    /// Custody events that contradict the history already kept here (which stays as it was):
    /// worth a person's attention, e.g. a laptop restored from an old backup.
    pub custody_conflicts: Vec<String>,
    /// Incidents that now have two latest versions: a person must settle them.
    pub forks: Vec<String>,
    /// Revisions of a revoked device sealed after its revocation: refused.
    pub refused_after_revocation: usize,
    /// The sender, when it entered HQ's register with this import.
    pub registered: Option<String>,
    /// Set when nothing was applied because the sender cannot be trusted yet: the bundle is
    /// kept in quarantine for a person to accept or drop.
    pub quarantined: Option<QuarantineEntry>,
}

impl ImportReport {
    fn applied(manifest: &Manifest, r: ApplyReport) -> ImportReport {
        ImportReport {
            id: manifest.bundle_id.to_string(),
            device: manifest.device.id.to_string(),
            applied: r.applied.len(),
            skipped: r.skipped.len(),
            attachments: r.attachments,
            awaiting: r.awaiting,
            parts: r.parts,
            completed: 0,
            custody_events: r.custody_events,
            custody_conflicts: r.custody_conflicts,
            forks: r.forks.iter().map(ToString::to_string).collect(),
            refused_after_revocation: r.refused_after_revocation.len(),
            registered: r.registered.map(|d| d.to_string()),
            quarantined: None,
        }
    }
}

/// Whether the sender of what has been read so far goes to quarantine (see [`stage`]).
pub type Prejudge<'a> = &'a mut dyn FnMut(&Incoming) -> Result<bool>;

/// Keeps what passes the checks in an [`Incoming`], made when the manifest is read.
struct Receiver<'d, 'p> {
    dir: &'d Path,
    incoming: Option<Incoming>,
    /// Asked before the first attachment whether the sender goes to quarantine anyway; then
    /// its attachments are hashed but not staged, so nothing of an untrusted sender's files is
    /// written into the vault's chunk store but the bundle itself.
    prejudge: Option<Prejudge<'p>>,
    /// The answer, once asked.
    quarantined: Option<bool>,
}

impl Receiver<'_, '_> {
    fn incoming(&mut self) -> Result<&mut Incoming> {
        self.incoming.as_mut().ok_or_else(|| {
            vigil_bundle::BundleError::Malformed("an entry before the manifest".into()).into()
        })
    }
}

impl Keep for Receiver<'_, '_> {
    fn manifest(&mut self, m: &Manifest) -> Result<()> {
        let key: SignPublicKey = device_key(m)?;
        self.incoming = Some(Incoming::new(
            self.dir,
            m.bundle_id.to_string(),
            DeviceId::from_uuid(m.device.id),
            key,
            None,
        )?);
        Ok(())
    }
    fn revision(&mut self, v: VerifiedRevision) -> Result<()> {
        Ok(self.incoming()?.push_revision(v)?)
    }
    fn custody(&mut self, ev: &CustodyEvent) -> Result<()> {
        Ok(self.incoming()?.push_custody(ev)?)
    }
    fn attachment(&mut self, sha256: &str, content: &mut dyn Read) -> Result<()> {
        let sha: Sha256 = sha256
            .parse()
            .map_err(|_| vigil_bundle::BundleError::Malformed(format!("attachment {sha256}")))?;
        if self.judged_quarantined()? || self.incoming()?.has_attachment(&sha) {
            return Ok(());
        }
        let staged = vigil_store::stage_attachment(self.dir, content, None)?;
        self.incoming()?.add_attachment(sha, staged);
        Ok(())
    }
    fn certificate(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.incoming()?.certificate = Some(bytes);
        Ok(())
    }
    fn part_list(&mut self, list: &vigil_bundle::PartList, body: &[u8]) -> Result<()> {
        let sha256: Sha256 = list.sha256.parse().map_err(|_| {
            vigil_bundle::BundleError::Malformed(format!("part list of {}", list.sha256))
        })?;
        let entry = vigil_store::IncomingPartList {
            id: list.id()?,
            sha256,
            size: list.size,
            parts: list.parts.len() as u64,
            body: body.to_vec(),
        };
        self.incoming()?.add_part_list(entry);
        Ok(())
    }
    fn part(
        &mut self,
        list: &vigil_bundle::PartList,
        index: u64,
        content: &mut dyn Read,
    ) -> Result<()> {
        if self.judged_quarantined()? {
            return Ok(());
        }
        let staged = vigil_store::stage_attachment(self.dir, content, None)?;
        self.incoming()?.add_part(list.id()?, index, staged);
        Ok(())
    }
}

impl Receiver<'_, '_> {
    /// Whether the bundle goes to quarantine (judged once, when its first content arrives:
    /// revisions and the certificate come before attachments and parts, so the judgement is
    /// the one the whole bundle will get). Its contents are then not staged.
    fn judged_quarantined(&mut self) -> Result<bool> {
        let incoming = self.incoming.as_mut().ok_or_else(|| {
            crate::ExchangeError::from(vigil_bundle::BundleError::Malformed(
                "an entry before the manifest".into(),
            ))
        })?;
        let quarantined = match (self.quarantined, self.prejudge.as_mut()) {
            (Some(q), _) => q,
            (None, Some(judge)) => judge(incoming)?,
            (None, None) => false,
        };
        self.quarantined = Some(quarantined);
        Ok(quarantined)
    }
}

/// Reads and checks a whole bundle into an [`Incoming`] (staged attachments are removed again
/// if anything fails).
fn receive(
    dir: &Path,
    prejudge: Option<Prejudge<'_>>,
    read: impl FnOnce(&mut dyn Keep) -> Result<(Manifest, crate::check::Seen)>,
) -> Result<Staged> {
    let mut receiver = Receiver {
        dir,
        incoming: None,
        prejudge,
        quarantined: None,
    };
    match (read(&mut receiver), receiver.incoming) {
        (Ok((manifest, _)), Some(incoming)) => Ok(Staged { manifest, incoming }),
        (Ok(_), None) => Err(vigil_bundle::BundleError::Malformed("no manifest".into()).into()),
        (Err(e), incoming) => {
            if let Some(i) = incoming {
                i.discard();
            }
            Err(e)
        }
    }
}

/// What reading a bundle needs of the vault, taken in a moment (see [`stage`]).
pub struct Reading {
    dir: PathBuf,
    identities: Vec<age::x25519::Identity>,
    expect: Expect,
}

impl std::fmt::Debug for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reading")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Reading {
    /// The identities bundles are opened with.
    pub(crate) fn identities(&self) -> &[age::x25519::Identity] {
        &self.identities
    }

    /// The vault's folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The vault's folder, the identities it opens bundles with, and its organisation.
    pub fn of(vault: &Vault) -> Result<Reading> {
        Ok(Reading {
            dir: vault.dir().to_path_buf(),
            identities: identities(vault),
            expect: Expect {
                org: vault.org_profile()?.map(|p| p.org_id),
            },
        })
    }
}

/// A bundle read and checked whole, its records waiting in a spill and its attachments staged
/// in the vault's chunk store (see [`settle`]).
#[derive(Debug)]
pub struct Staged {
    manifest: Manifest,
    incoming: Incoming,
}

impl Staged {
    /// Removes what was staged (nothing is applied).
    pub fn discard(self) {
        self.incoming.discard();
    }
}

/// A bundle from a sender the vault cannot trust yet: its file goes to quarantine
/// ([`stage_for_quarantine`], then [`quarantine`]).
#[derive(Debug)]
pub struct Held {
    manifest: Manifest,
    note: QuarantineNote,
}

/// What [`settle`] made of a staged bundle.
#[derive(Debug)]
pub enum Settled {
    /// Applied, all or nothing (or there was nothing new).
    Applied(Box<ImportReport>),
    /// Nothing applied: the sender cannot be trusted yet, and the bundle file is to be kept.
    Held(Box<Held>),
}

/// The first phase of an import, without the vault: reads the bundle once and checks all of it
/// (every hash, form, signature and chain), keeping its records in a spill and staging its
/// attachments. `prejudge`, asked once before the first attachment, says whether the sender
/// goes to quarantine (then attachments are hashed, not staged). Nothing in the vault changes.
pub fn stage(
    reading: &Reading,
    path: &Path,
    prejudge: Option<Prejudge<'_>>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Staged> {
    receive(&reading.dir, prejudge, |keep| {
        read_file(path, &reading.identities, reading.expect, keep, progress)
    })
}

/// Whether the vault would hold the sender of what was staged so far in quarantine (for
/// [`stage`]'s `prejudge`).
pub fn goes_to_quarantine(vault: &Vault, incoming: &Incoming) -> Result<bool> {
    Ok(matches!(
        vault.judge_sender(incoming)?,
        Standing::Quarantine(_)
    ))
}

/// The second phase, a short write: the vault judges the sender and applies a trusted one's
/// bundle in one transaction. An untrusted sender's comes back [`Settled::Held`], once the
/// vault has checked quarantine has room for `size` bytes (the bundle file's).
pub fn settle(vault: &mut Vault, staged: Staged, size: u64) -> Result<Settled> {
    let Staged { manifest, incoming } = staged;
    let standing = match vault.judge_sender(&incoming) {
        Ok(s) => s,
        Err(e) => {
            incoming.discard();
            return Err(e.into());
        }
    };
    match standing {
        Standing::Quarantine(reason) => {
            let checked = vault
                .certified_name(&incoming, &Standing::Quarantine(reason.clone()))
                .and_then(|name| vault.quarantine_room(size).map(|()| name));
            let name = match checked {
                Ok(n) => n,
                Err(e) => {
                    incoming.discard();
                    return Err(e.into());
                }
            };
            let note = QuarantineNote {
                bundle_id: manifest.bundle_id.to_string(),
                device: incoming.sender,
                sign_pk: incoming.sender_key,
                reason,
                name,
                revisions: incoming.revisions.len() as u64,
            };
            incoming.discard();
            Ok(Settled::Held(Box::new(Held { manifest, note })))
        }
        standing => {
            let report = vault.apply_incoming(incoming, &standing, None)?;
            let mut report = ImportReport::applied(&manifest, report);
            // The bundle is applied (committed) before parts are joined: a crash while joining
            // leaves the parts kept, to be joined by the next import.
            report.completed = vault.assemble_parts()?;
            Ok(Settled::Applied(Box::new(report)))
        }
    }
}

/// Copies a bundle file into the vault's chunk store in `dir`, as it is (its own encryption to
/// HQ, inside the vault's), without the vault: for [`quarantine`].
pub fn stage_for_quarantine(dir: &Path, path: &Path) -> Result<StagedAttachment> {
    let file = std::io::BufReader::with_capacity(1 << 20, crate::read::open_bundle(path)?);
    Ok(vigil_store::stage_attachment(dir, file, None)?)
}

/// Records a held bundle's staged copy in quarantine (a short write).
pub fn quarantine(vault: &mut Vault, held: Held, file: StagedAttachment) -> Result<ImportReport> {
    let Held { manifest, note } = held;
    let entry = vault.quarantine_bundle(file, note)?;
    Ok(ImportReport {
        quarantined: Some(entry),
        ..ImportReport::applied(&manifest, ApplyReport::default())
    })
}

/// Imports a bundle: everything is checked first, then applied in one transaction, or the
/// bundle is kept in quarantine; nothing changes if anything is wrong. Importing the same
/// bundle again changes nothing.
pub fn import(vault: &mut Vault, path: &Path) -> Result<ImportReport> {
    import_with_progress(vault, path, &mut |_, _| {})
}

/// [`import`], reporting the bytes of the bundle file read so far, of all, as it goes. The
/// phases ([`stage`], [`settle`], and for a held bundle [`stage_for_quarantine`] and
/// [`quarantine`]) in one call; a caller that shares the vault runs them itself, holding it
/// only for the short ones.
pub fn import_with_progress(
    vault: &mut Vault,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let reading = Reading::of(vault)?;
    let shared: &Vault = vault;
    let mut prejudge = |incoming: &Incoming| goes_to_quarantine(shared, incoming);
    let staged = stage(&reading, path, Some(&mut prejudge), progress)?;
    let size = std::fs::metadata(path)
        .map_err(|e| crate::read::named(path, e))?
        .len();
    match settle(vault, staged, size)? {
        Settled::Applied(report) => Ok(*report),
        Settled::Held(held) => {
            let file = stage_for_quarantine(vault.dir(), path)?;
            quarantine(vault, *held, file)
        }
    }
}

/// Imports a bundle held in memory (an item of the organisation's feed, from its server)
/// exactly as [`import`] does a file: the same checks, the same judgement of the sender, the
/// same quarantine, and the same idempotence (a revision that came by stick is not stored
/// again).
pub fn import_bytes(vault: &mut Vault, bytes: &[u8]) -> Result<ImportReport> {
    let staged = stage_bytes(vault, bytes)?;
    settle_bytes(vault, staged, bytes)
}

/// The first phase of [`import_bytes`]: reads and checks the bundle in `bytes`, changing
/// nothing in the vault. Attachments that travel apart are then added
/// ([`Staged::missing_attachments`], [`Staged::add_attachment`]) before [`settle_bytes`].
pub fn stage_bytes(vault: &Vault, bytes: &[u8]) -> Result<Staged> {
    let reading = Reading::of(vault)?;
    let mut prejudge = |incoming: &Incoming| goes_to_quarantine(vault, incoming);
    receive(&reading.dir, Some(&mut prejudge), |keep| {
        read_stream(bytes, &reading.identities, reading.expect, keep)
    })
}

/// [`stage_bytes`] without the vault: what is needed of it was read into `reading`. An
/// untrusted sender's attachments in the bundle are staged too, and removed again when
/// [`settle_bytes`] holds the bundle in quarantine (a sync item carries none: they travel
/// apart).
pub fn stage_bytes_with(reading: &Reading, bytes: &[u8]) -> Result<Staged> {
    receive(&reading.dir, None, |keep| {
        read_stream(bytes, &reading.identities, reading.expect, keep)
    })
}

impl Staged {
    /// The attachments its revisions name that neither came with it nor are in the vault (none
    /// for a sender that goes to quarantine: nothing of it is applied yet).
    pub fn missing_attachments(
        &mut self,
        vault: &Vault,
    ) -> Result<Vec<vigil_store::AttachmentRef>> {
        if goes_to_quarantine(vault, &self.incoming)? {
            return Ok(Vec::new());
        }
        Ok(vault.missing_attachments(&mut self.incoming)?)
    }

    /// Adds an attachment that travelled apart (checked by [`crate::blob::open_blob`]).
    pub fn add_attachment(&mut self, staged: StagedAttachment) {
        let sha = Sha256(staged.sha256());
        self.incoming.add_attachment(sha, staged);
    }
}

/// The second phase of [`import_bytes`]: applies a staged bundle held in memory, or keeps it
/// in quarantine.
pub fn settle_bytes(vault: &mut Vault, staged: Staged, bytes: &[u8]) -> Result<ImportReport> {
    match settle(vault, staged, bytes.len() as u64)? {
        Settled::Applied(report) => Ok(*report),
        Settled::Held(held) => {
            let file = vigil_store::stage_attachment(vault.dir(), bytes, None)?;
            quarantine(vault, *held, file)
        }
    }
}

/// A person compared the key of the device `who` names (its id, or the start of its key) and
/// accepts what it sent: every quarantined bundle of it is imported from the stored copy,
/// oldest first, exactly as an import would, and the device enters the register as accepted.
/// Each bundle is all or nothing; one that is refused stays in quarantine, and the error says
/// why.
pub fn accept(vault: &mut Vault, who: &str) -> Result<Vec<ImportReport>> {
    let entries = vault.quarantined_from(who)?;
    let ids = identities(vault);
    let expect = Expect {
        org: vault.org_profile()?.map(|p| p.org_id),
    };
    let mut reports = Vec::new();
    for entry in entries {
        let stored = vault.quarantine_reader(entry.id)?;
        let Staged { manifest, incoming } = receive(vault.dir(), None, |keep| {
            read_stream(stored, &ids, expect, keep)
        })?;
        if incoming.sender != entry.device || incoming.sender_key != entry.sign_pk {
            incoming.discard();
            return Err(vigil_bundle::BundleError::Tampered(
                "the stored bundle is not the one that was put in quarantine".into(),
            )
            .into());
        }
        let standing = match vault.judge_sender(&incoming) {
            Ok(s) => s,
            Err(e) => {
                incoming.discard();
                return Err(e.into());
            }
        };
        let report = vault.apply_incoming(incoming, &standing, Some(entry.id))?;
        let mut report = ImportReport::applied(&manifest, report);
        report.completed = vault.assemble_parts()?;
        reports.push(report);
    }
    Ok(reports)
}

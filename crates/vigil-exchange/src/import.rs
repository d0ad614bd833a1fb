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
use std::path::Path;

use serde::Serialize;
use vigil_bundle::Manifest;
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::custody::CustodyEvent;
use vigil_ledger::revision::VerifiedRevision;
use vigil_model::{DeviceId, Sha256};
use vigil_store::{ApplyReport, Incoming, QuarantineEntry, QuarantineNote, Standing, Vault};

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
            custody_events: r.custody_events,
            custody_conflicts: r.custody_conflicts,
            forks: r.forks.iter().map(ToString::to_string).collect(),
            refused_after_revocation: r.refused_after_revocation.len(),
            registered: r.registered.map(|d| d.to_string()),
            quarantined: None,
        }
    }
}

/// Keeps what passes the checks in an [`Incoming`], made when the manifest is read.
struct Receiver<'a> {
    vault: &'a Vault,
    incoming: Option<Incoming>,
    /// Whether to judge the sender before the first attachment, and leave the attachments
    /// unstaged (still hashed) when it goes to quarantine anyway: then nothing of an
    /// untrusted sender's files is written into the vault's chunk store but the bundle itself.
    prejudge: bool,
    /// The sender goes to quarantine (known at the first attachment).
    quarantined: Option<bool>,
}

impl Receiver<'_> {
    fn incoming(&mut self) -> Result<&mut Incoming> {
        self.incoming.as_mut().ok_or_else(|| {
            vigil_bundle::BundleError::Malformed("an entry before the manifest".into()).into()
        })
    }
}

impl Keep for Receiver<'_> {
    fn manifest(&mut self, m: &Manifest) -> Result<()> {
        let key: SignPublicKey = device_key(m)?;
        self.incoming = Some(Incoming::new(
            self.vault.dir(),
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
        let vault = self.vault;
        let prejudge = self.prejudge;
        let known = self.quarantined;
        let incoming = self.incoming.as_mut().ok_or_else(|| {
            crate::ExchangeError::from(vigil_bundle::BundleError::Malformed(
                "an entry before the manifest".into(),
            ))
        })?;
        // Revisions and the certificate come before attachments, so the judgement is the one
        // the whole bundle will get.
        let quarantined = match known {
            Some(q) => q,
            None if prejudge => matches!(vault.judge_sender(incoming)?, Standing::Quarantine(_)),
            None => false,
        };
        self.quarantined = Some(quarantined);
        if quarantined || incoming.has_attachment(&sha) {
            return Ok(());
        }
        let staged = vigil_store::stage_attachment(vault.dir(), content, None)?;
        incoming.add_attachment(sha, staged);
        Ok(())
    }
    fn certificate(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.incoming()?.certificate = Some(bytes);
        Ok(())
    }
}

/// Reads and checks a whole bundle into an [`Incoming`] (staged attachments are removed again
/// if anything fails).
fn receive(
    vault: &Vault,
    prejudge: bool,
    read: impl FnOnce(&mut dyn Keep) -> Result<(Manifest, crate::check::Seen)>,
) -> Result<(Manifest, Incoming)> {
    let mut receiver = Receiver {
        vault,
        incoming: None,
        prejudge,
        quarantined: None,
    };
    match (read(&mut receiver), receiver.incoming) {
        (Ok((manifest, _)), Some(incoming)) => Ok((manifest, incoming)),
        (Ok(_), None) => Err(vigil_bundle::BundleError::Malformed("no manifest".into()).into()),
        (Err(e), incoming) => {
            if let Some(i) = incoming {
                i.discard();
            }
            Err(e)
        }
    }
}

/// Imports a bundle: everything is checked first, then applied in one transaction, or the
/// bundle is kept in quarantine; nothing changes if anything is wrong. Importing the same
/// bundle again changes nothing.
pub fn import(vault: &mut Vault, path: &Path) -> Result<ImportReport> {
    import_with_progress(vault, path, &mut |_, _| {})
}

/// [`import`], reporting the bytes of the bundle file read so far, of all, as it goes.
pub fn import_with_progress(
    vault: &mut Vault,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let ids = identities(vault);
    let expect = Expect {
        org: vault.org_profile()?.map(|p| p.org_id),
    };
    let (manifest, incoming) = receive(vault, true, |keep| {
        read_file(path, &ids, expect, keep, progress)
    })?;
    let standing = match vault.judge_sender(&incoming) {
        Ok(s) => s,
        Err(e) => {
            incoming.discard();
            return Err(e.into());
        }
    };
    match standing {
        Standing::Quarantine(reason) => {
            let name = match vault.certified_name(&incoming, &Standing::Quarantine(reason.clone()))
            {
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
            vault.quarantine_room(std::fs::metadata(path)?.len())?;
            // The bundle is kept as it is: its own encryption to HQ, inside the vault's.
            let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
            let staged = vigil_store::stage_attachment(vault.dir(), file, None)?;
            let entry = vault.quarantine_bundle(staged, note)?;
            Ok(ImportReport {
                quarantined: Some(entry),
                ..ImportReport::applied(&manifest, ApplyReport::default())
            })
        }
        standing => {
            let report = vault.apply_incoming(incoming, &standing, None)?;
            Ok(ImportReport::applied(&manifest, report))
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
        let (manifest, incoming) =
            receive(vault, false, |keep| read_stream(stored, &ids, expect, keep))?;
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
        reports.push(ImportReport::applied(&manifest, report));
    }
    Ok(reports)
}

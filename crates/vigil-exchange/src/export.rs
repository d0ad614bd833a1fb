//! Export: a vault's own sealed revisions, their attachments and its custody log, into one
//! bundle for HQ.
//!
//! The bundle is encrypted to every HQ reader and to the device itself, streamed to a
//! temporary name ([`vigil_bundle::write_pending`]) and fsynced, read back from the drive and
//! verified whole, and only then renamed into place and recorded in the custody log. It holds
//! this device's certificate first (when it is enrolled), then its revisions in the order they
//! were sealed, then its custody log (as much of it as fits, newest events kept), then each
//! attachment once. A selection larger than one bundle may hold ([`vigil_bundle::MAX_ENTRIES`],
//! [`vigil_bundle::MAX_JSON_BYTES`]) is cut after the last revision that fits; the rest stay
//! unsent for the next export.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_bundle::{BundleError, DeviceInfo, Manifest, ManifestEntry};
use vigil_model::{AttachmentId, IncidentId};
use vigil_store::{RevisionId, Spill, StoreError, Vault};

use crate::check::Nothing;
use crate::error::{ExchangeError, Result, vault_error_inside};
use crate::fill::{Content, bytes_entry, fill, sha256_hex};
use crate::proof::{identities, recipients};
use crate::read::{Expect, read_file};

/// Which revisions to export (this device's own only: a bundle carries its device's records).
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every revision of these incidents sealed here.
    Incidents(Vec<IncidentId>),
    /// Revisions sealed here and not yet in any bundle.
    Unsent,
    /// Every revision sealed here.
    All,
    /// These revisions (this device's own), in this order.
    Revisions(Vec<RevisionId>),
    /// What an export's bundle could not hold, for its next bundle ([`Written::next`]): the
    /// parts of attachments first, then these revisions.
    Continue {
        /// The revisions left.
        revisions: Vec<RevisionId>,
        /// The parts left.
        parts: Vec<crate::parts::Carry>,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The bundle's id.
    pub id: String,
    /// Where it is.
    pub path: PathBuf,
    /// Revisions in it.
    pub revisions: usize,
    /// Revisions of the selection that did not fit in this bundle ([`Written::next`]).
    pub left: usize,
    /// Attachments in it.
    pub attachments: usize,
    /// Parts of attachments in it (a record larger than one bundle file).
    pub parts: usize,
    /// Size of the file.
    pub bytes: u64,
}

/// What an export is doing, for its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportPhase {
    /// Writing the bundle until it is fsynced (under a temporary name); counts the bytes of its
    /// entries.
    Writing,
    /// Reading the written bundle back and verifying all of it before it is renamed into place;
    /// counts the bytes of the file. (On Linux this reads the drive itself: the bundle's pages
    /// are dropped from the cache once they are on it.)
    Checking,
}

pub(crate) fn selected(vault: &Vault, selection: &Selection) -> Result<Vec<RevisionId>> {
    Ok(match selection {
        Selection::Unsent => vault.unsent_revision_ids()?,
        Selection::All => vault.own_revision_ids()?.into_iter().map(|r| r.0).collect(),
        Selection::Revisions(ids) | Selection::Continue { revisions: ids, .. } => {
            for id in ids {
                if !vault.is_own_revision(*id)? {
                    return Err(StoreError::NotFound {
                        what: "revision of this device",
                        id: id.to_string(),
                    }
                    .into());
                }
            }
            ids.clone()
        }
        Selection::Incidents(ids) => vault
            .own_revision_ids()?
            .into_iter()
            .filter(|r| ids.contains(&r.1))
            .map(|r| r.0)
            .collect(),
    })
}

/// A revision's bundle entry, within the size one entry may have.
fn entry_bytes(rev: &vigil_store::Revision) -> Result<Vec<u8>> {
    let bytes = rev.to_entry()?;
    if bytes.len() as u64 > vigil_bundle::MAX_JSON_ENTRY {
        return Err(BundleError::TooLarge(format!(
            "revision {} is {} bytes; a bundle entry holds at most {}",
            rev.id,
            bytes.len(),
            vigil_bundle::MAX_JSON_ENTRY
        ))
        .into());
    }
    Ok(bytes)
}

/// The most of a bundle's JSON its custody log may take, so revisions always have room.
const CUSTODY_SHARE: u64 = vigil_bundle::MAX_JSON_BYTES / 8;

/// Exports the selected revisions to `dest`, verifies the written file, and records the export.
pub fn export(vault: &mut Vault, selection: &Selection, dest: &Path) -> Result<ExportReport> {
    export_with_progress(vault, selection, dest, &mut |_, _, _| {})
}

/// [`export`], calling `progress(phase, bytes done, bytes in all)`: first while the bundle is
/// written, then while it is read back. The three phases ([`plan`], [`ExportPlan::write`],
/// [`record`]) in one call; a caller that shares the vault runs them itself, holding the vault
/// only for the first and the last.
pub fn export_with_progress(
    vault: &mut Vault,
    selection: &Selection,
    dest: &Path,
    progress: &mut dyn FnMut(ExportPhase, u64, u64),
) -> Result<ExportReport> {
    let written = plan(vault, selection, dest)?.write(progress)?;
    record(vault, written)
}

/// A bundle planned from the vault, to be written without it (see [`plan`]).
pub struct ExportPlan {
    pub(crate) dest: PathBuf,
    pub(crate) recipients: Vec<age::x25519::Recipient>,
    pub(crate) manifest: Manifest,
    pub(crate) signature: [u8; 64],
    pub(crate) entries: Vec<(ManifestEntry, Content)>,
    pub(crate) spill: Spill,
    pub(crate) identities: Vec<age::x25519::Identity>,
    pub(crate) sent: Vec<RevisionId>,
    pub(crate) left: usize,
    pub(crate) next: Option<Selection>,
    pub(crate) attachments: usize,
    pub(crate) parts: usize,
    pub(crate) custody_through: u64,
    pub(crate) blobs: Vec<AttachmentId>,
    pub(crate) max_file: Option<u64>,
}

impl std::fmt::Debug for ExportPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportPlan")
            .field("dest", &self.dest)
            .field("bundle", &self.manifest.bundle_id)
            .field("revisions", &self.sent.len())
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// A bundle written, verified and renamed into place, to be recorded in the vault ([`record`]).
#[derive(Debug)]
pub struct Written {
    report: ExportReport,
    sent: Vec<RevisionId>,
    next: Option<Selection>,
}

impl Written {
    /// What was written (recorded in the vault only by [`record`]).
    pub fn report(&self) -> &ExportReport {
        &self.report
    }

    /// Removes the bundle file (best effort: the drive may be gone), for an export that failed
    /// at a later bundle: none of its bundles is recorded, so none is left either.
    pub fn discard(self) {
        if std::fs::remove_file(&self.report.path).is_ok() {
            let _ = vigil_durable::sync_dir(vigil_durable::folder_of(&self.report.path));
        }
    }

    /// What this bundle could not hold, for the export's next bundle: `None` when it holds
    /// everything. The records of an export are recorded as exported once all its bundles are
    /// written, so that a failure part-way leaves them all unsent.
    pub fn next(&self) -> Option<Selection> {
        self.next.clone()
    }
}

/// The first phase of an export, a short read of the vault: which revisions go (as many as one
/// bundle holds), their entries (kept in an encrypted spill), the custody log, a reader for
/// each attachment, and the signed manifest. The plan borrows nothing from the vault.
pub fn plan(vault: &Vault, selection: &Selection, dest: &Path) -> Result<ExportPlan> {
    plan_with(vault, selection, dest, Limits::default())
}

/// How a bundle is cut, beyond the format's own limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Carry only custody events after this place in the device's log (a sync item carries
    /// what the previous items did not).
    pub custody_after: Option<u64>,
    /// The most bytes of entries (revisions, custody log, attachments) the bundle may hold.
    pub max_bytes: Option<u64>,
    /// Leave attachments out of the bundle: they travel apart (a sync item's go by the
    /// server's resumable upload), and [`crate::Item::blobs`] names them.
    pub attachments_apart: bool,
    /// Pad the bundle to its size bucket ([`vigil_bundle::bucket`]), so that its size tells
    /// less about what it carries.
    pub pad: bool,
    /// The largest bundle file to write (`vigil export --max-file-size`), besides the limit
    /// of the drive's file system, which is always kept.
    pub max_file: Option<u64>,
}

/// [`plan`] under `limits`.
pub fn plan_with(
    vault: &Vault,
    selection: &Selection,
    dest: &Path,
    limits: Limits,
) -> Result<ExportPlan> {
    let org = vault
        .org_profile()?
        .ok_or(StoreError::NoOrganisation)?
        .org_id;
    let device = vault.device_public();
    let recipients = recipients(vault)?;
    let chosen = selected(vault, selection)?;
    let parts_left = matches!(selection, Selection::Continue { parts, .. } if !parts.is_empty());
    if chosen.is_empty() && !parts_left {
        return Err(ExchangeError::NothingToExport);
    }

    // The certificate, the custody log (as much as its share allows, newest kept), then the
    // revisions that fit, then each attachment once (by content hash).
    let mut head: Vec<(ManifestEntry, Content)> = Vec::new();
    if let Some(cert) = vault.certificate()? {
        head.push(bytes_entry(
            vigil_bundle::CERTIFICATE.into(),
            cert.bytes().to_vec(),
        ));
    }
    let budget = vigil_bundle::MAX_JSON_ENTRY.min(CUSTODY_SHARE);
    let mut used = 0u64;
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line_error = None;
    let mut custody_through = limits.custody_after.unwrap_or(0);
    vault.own_custody_newest_first(|ev| match ev.to_line() {
        _ if limits
            .custody_after
            .is_some_and(|after| ev.doc.seq <= after) =>
        {
            false
        }
        Ok(mut line) => {
            custody_through = custody_through.max(ev.doc.seq);
            line.push(b'\n');
            used += line.len() as u64;
            let fits = used <= budget;
            if fits {
                lines.push(line);
            }
            fits
        }
        Err(e) => {
            line_error = Some(e);
            false
        }
    })?;
    if let Some(e) = line_error {
        return Err(e.into());
    }
    let log: Vec<u8> = lines.into_iter().rev().flatten().collect();
    let log_entry = bytes_entry(vigil_bundle::CUSTODY_LOG.into(), log);

    // A bundle for a stick is cut to the largest file its drive (or the caller) allows.
    let file_limit = match limits.max_bytes {
        None => crate::stick::file_limit(&crate::stick::drive_of(dest), limits.max_file),
        Some(_) => None,
    };
    let cap = limits.max_bytes.or_else(|| {
        file_limit
            .as_ref()
            .map(|(l, _)| crate::stick::entries_budget(*l, recipients.len(), limits.pad))
    });
    let mut budget = crate::stick::Budget {
        json: head.iter().map(|(e, _)| e.size).sum::<u64>() + log_entry.0.size,
        files: 0,
        count: head.len() as u64 + 1,
        cap,
        per_entry: if file_limit.is_some() {
            crate::stick::ENTRY_OVERHEAD
        } else {
            0
        },
    };
    // A record too large for one bundle file goes with its attachments in parts.
    let part_size = match (&file_limit, cap) {
        (Some(_), Some(cap)) => Some(crate::parts::part_size(cap, budget.json)),
        _ => None,
    };
    let mut spill = Spill::new(vault.dir())?;
    let mut revisions: Vec<(ManifestEntry, Content)> = Vec::new();
    let mut sent: Vec<RevisionId> = Vec::new();
    let mut attachments: BTreeMap<String, (AttachmentId, u64)> = BTreeMap::new();
    let mut blobs: Vec<AttachmentId> = Vec::new();
    // Parts an earlier bundle of this export could not hold come first.
    let mut placed = crate::parts::Placed::default();
    if let Selection::Continue { parts, .. } = selection {
        for c in parts {
            placed.place(vault, c.clone(), &mut budget)?;
        }
    }
    for id in &chosen {
        if placed.waiting() {
            break;
        }
        let rev = vault.revision(*id)?;
        let bytes = entry_bytes(&rev)?;
        let named = rev.document()?.attachments;
        let apart: Vec<AttachmentId> = if limits.attachments_apart {
            named.iter().map(|a| a.id).collect()
        } else {
            Vec::new()
        };
        let new_files: Vec<_> = named
            .into_iter()
            .filter(|a| {
                !limits.attachments_apart && !attachments.contains_key(&a.sha256.to_string())
            })
            .collect();
        let more = 1 + new_files.len() as u64;
        let file_sum = new_files.iter().map(|a| a.size).sum::<u64>();
        let mut in_parts = false;
        if !budget.fits(bytes.len() as u64, file_sum, more) {
            if !sent.is_empty() || !placed.lists.is_empty() {
                break; // the next bundle begins with it
            }
            match (cap, part_size) {
                // The first record of a bundle that does not fit whole: its attachments go
                // in parts, as many as fit here, the rest in the next bundles.
                (Some(_), Some(p)) if p > 0 && budget.fits(bytes.len() as u64, 0, 1) => {
                    in_parts = true;
                }
                (Some(max), _) => {
                    let more_bytes = bytes.len() as u64 + file_sum;
                    return Err(match &file_limit {
                        Some((limit, fs)) => ExchangeError::FileTooLarge {
                            needed: budget.bytes(bytes.len() as u64, file_sum, more)
                                + (limit - max),
                            limit: *limit,
                            fs: fs.clone(),
                        },
                        None => BundleError::TooLarge(format!(
                            "revision {} with its attachments is {more_bytes} bytes; one item holds at most {max}",
                            rev.id
                        ))
                        .into(),
                    });
                }
                (None, _) => break,
            }
        }
        for a in apart {
            if !blobs.contains(&a) {
                blobs.push(a);
            }
        }
        budget.take(bytes.len() as u64, 0, 1);
        if in_parts {
            for a in &new_files {
                let c = crate::parts::cut(vault, a, part_size.unwrap_or(a.size))?;
                if !placed.place(vault, c, &mut budget)? {
                    return Err(BundleError::TooLarge(format!(
                        "the part list of revision {} does not fit in a bundle",
                        rev.id
                    ))
                    .into());
                }
            }
        } else {
            budget.take(0, file_sum, more - 1);
            for a in new_files {
                attachments
                    .entry(a.sha256.to_string())
                    .or_insert((a.id, a.size));
            }
        }
        let entry = ManifestEntry {
            path: format!("revisions/{}.json", rev.id),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        };
        // A bundle for the server is bounded (`max_bytes`) and built in memory: its revisions
        // stay there. A bundle for a stick may hold gigabytes of JSON: they wait in the spill.
        let content = if limits.max_bytes.is_some() {
            Content::Bytes(bytes)
        } else {
            Content::Revision(rev.id, spill.put(bytes)?)
        };
        revisions.push((entry, content));
        sent.push(rev.id);
    }
    if sent.is_empty() && placed.parts.is_empty() {
        return Err(BundleError::TooLarge("nothing fits in one bundle".into()).into());
    }
    let mut entries = head;
    entries.extend(revisions);
    entries.push(log_entry);
    for (e, bytes) in placed.lists {
        entries.push((e, Content::Bytes(bytes)));
    }
    for (sha, (id, size)) in &attachments {
        // No second SHA-256 when written: the chunks are authenticated as they are decrypted,
        // and the read-back hashes every entry of the bundle.
        let reader = vault
            .attachment_reader(*id)
            .map_err(ExchangeError::Store)?
            .authenticated_only();
        entries.push((
            ManifestEntry {
                path: format!("attachments/{sha}"),
                size: *size,
                sha256: sha.clone(),
            },
            Content::Attachment(Some(Box::new(reader))),
        ));
    }
    let parts_count = placed.parts.len();
    for (e, reader) in placed.parts {
        entries.push((e, Content::Part(Some(reader))));
    }
    let rest = chosen[sent.len()..].to_vec();
    let next = (!rest.is_empty() || !placed.carry.is_empty()).then(|| Selection::Continue {
        revisions: rest.clone(),
        parts: placed.carry,
    });

    let mut manifest = Manifest::new(
        uuid::Uuid::now_v7(),
        chrono::Utc::now(),
        org,
        DeviceInfo {
            id: *vault.device().as_uuid(),
            sign_pk: hex::encode(device.sign_pk),
            age_recipient: device.age_recipient.clone(),
        },
        entries.iter().map(|(e, _)| e.clone()).collect(),
    );
    if limits.pad {
        manifest.pad_to_bucket()?;
        if let Some(padding) = manifest.entries.last() {
            entries.push((padding.clone(), Content::Zeros));
        }
    }
    let signature = vault.device_sign(&manifest.to_canonical_json()?);
    Ok(ExportPlan {
        dest: dest.to_path_buf(),
        recipients,
        manifest,
        signature,
        entries,
        spill,
        identities: identities(vault),
        left: rest.len(),
        next,
        sent,
        attachments: attachments.len(),
        parts: parts_count,
        custody_through,
        blobs,
        max_file: limits.max_file,
    })
}

impl ExportPlan {
    /// The second phase, without the vault: writes the bundle under a temporary name and
    /// fsyncs it, reads the whole file back from the drive and checks every byte, and only
    /// then renames it into place. A bundle that fails is removed. `progress(phase, done,
    /// all)` follows the writing, then the reading back.
    pub fn write(self, progress: &mut dyn FnMut(ExportPhase, u64, u64)) -> Result<Written> {
        let ExportPlan {
            dest,
            recipients,
            manifest,
            signature,
            mut entries,
            mut spill,
            identities,
            sent,
            left,
            next,
            attachments,
            parts,
            max_file,
            ..
        } = self;
        let bundle_id = manifest.bundle_id;
        // Refused before a byte is written: a read-only drive, a file larger than it holds,
        // too little space.
        let needed = manifest.file_size_bound(recipients.len())?;
        let drive = crate::stick::before_writing(&dest, needed, max_file)?;
        let written = (|| {
            let pending = vigil_bundle::write_pending(&dest, &recipients, |w| {
                fill(
                    w,
                    &manifest,
                    &signature,
                    &mut entries,
                    &mut spill,
                    &mut |d, t| progress(ExportPhase::Writing, d, t),
                )
            })
            .map_err(vault_error_inside)?;
            // Read the whole file back from the drive and check every byte before it takes its
            // name (a bundle that fails is removed with its temporary name) and before saying
            // it is done.
            let (read_back, _) = read_file(
                pending.path(),
                &identities,
                Expect::default(),
                &mut Nothing,
                &mut |d, t| progress(ExportPhase::Checking, d, t),
            )?;
            if read_back.bundle_id != bundle_id {
                return Err(BundleError::Malformed("read-back found another bundle".into()).into());
            }
            pending.commit()?;
            Ok(std::fs::metadata(&dest)?.len())
        })();
        let bytes = written.map_err(|e| crate::stick::fault(e, needed, Some(&drive)))?;
        Ok(Written {
            report: ExportReport {
                id: bundle_id.to_string(),
                bytes,
                path: dest,
                revisions: sent.len(),
                left,
                attachments,
                parts,
            },
            sent,
            next,
        })
    }
}

/// An export of `selection` to `dest` in as many bundles as the drive's largest file (or
/// `limits`) needs: `dest`, then `<stem>-2`, `-3` … beside it, each planned, written and read
/// back in turn; all are recorded as exported once every one is written (if one fails, those
/// written before it are removed, and nothing is recorded). The reports, in order.
pub fn export_all(
    vault: &mut Vault,
    selection: &Selection,
    dest: &Path,
    limits: Limits,
) -> Result<Vec<ExportReport>> {
    let mut selection = selection.clone();
    let mut to = dest.to_path_buf();
    let mut written = Vec::new();
    loop {
        let w = match plan_with(vault, &selection, &to, limits)
            .and_then(|plan| plan.write(&mut |_, _, _| {}))
        {
            Ok(w) => w,
            Err(e) => {
                written.into_iter().for_each(Written::discard);
                return Err(e);
            }
        };
        let next = w.next();
        written.push(w);
        match next {
            Some(s) => selection = s,
            None => break,
        }
        to = crate::stick::unused_name(dest);
    }
    written.into_iter().map(|w| record(vault, w)).collect()
}

/// The last phase of an export, a short write: the vault records which revisions the bundle
/// carries (they are no longer unsent) and the export in its custody log.
pub fn record(vault: &mut Vault, written: Written) -> Result<ExportReport> {
    vault.mark_exported(&written.sent, &written.report.id)?;
    Ok(written.report)
}

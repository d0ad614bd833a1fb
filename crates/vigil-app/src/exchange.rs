//! Exchange from the window: export to a USB stick and import from one, holding the vault only
//! for the short phases (see `vigil_exchange`), and the drives to offer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use vigil_crypto::sign::grouped_hex;
use vigil_store::QuarantineEntry;

use crate::AppError;
use crate::session::{Session, guard};

/// What an export from the window wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ExportSummary {
    /// The (first) bundle file.
    pub path: String,
    /// Sealed revisions in all of them.
    pub revisions: u32,
    /// Attachments in all of them.
    pub attachments: u32,
    /// How many bundle files were written: more than one when the drive's largest file (FAT32:
    /// 4 GiB) could not hold everything.
    pub files: u32,
}

/// What an export from the window would carry, shown before it is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ExportPreview {
    /// Sealed versions not yet in any bundle (first sealings and amendments).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub revisions: u64,
    /// The records they are versions of.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub records: u64,
    /// Attachments, each file once.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub attachments: u64,
    /// Their size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub attachment_bytes: u64,
}

/// The files an export to a chosen folder would write, shown before it is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ExportFiles {
    /// How many bundle files (about, when more than one).
    pub files: u32,
    /// At most how many bytes in all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// The largest file the drive takes, when it limits one (FAT32).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub max_file: Option<u64>,
    /// The drive's file system, in words ("FAT32", "exFAT"...), when known.
    pub fs: Option<String>,
    /// Bytes free on the drive, when it says.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub free: Option<u64>,
    /// Whether everything fits in the free space (true when the drive does not say).
    pub fits: bool,
}

/// What an export from the window is doing, sent with its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum ExportPhase {
    /// Writing the bundle (bytes of its entries).
    Writing,
    /// Reading it back from the drive and verifying it (bytes of the file).
    Checking,
}

impl From<vigil_exchange::ExportPhase> for ExportPhase {
    fn from(p: vigil_exchange::ExportPhase) -> Self {
        match p {
            vigil_exchange::ExportPhase::Writing => ExportPhase::Writing,
            vigil_exchange::ExportPhase::Checking => ExportPhase::Checking,
        }
    }
}

/// What an import from the window did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ImportSummary {
    /// Revisions stored now.
    pub applied: u32,
    /// Revisions that were already here.
    pub skipped: u32,
    /// Attachments stored now.
    pub attachments: u32,
    /// Custody events that contradict the history already kept here (which was kept).
    pub custody_conflicts: u32,
    /// Incidents that now have two versions amending the same revision.
    pub forks: u32,
    /// Revisions of a revoked device sealed after its revocation: refused.
    pub refused_after_revocation: u32,
    /// Set when nothing was applied: the sender cannot be trusted yet, and the bundle is kept
    /// in quarantine for a person to accept or drop.
    pub quarantined: Option<QuarantineRow>,
}

impl From<vigil_exchange::ImportReport> for ImportSummary {
    fn from(r: vigil_exchange::ImportReport) -> Self {
        ImportSummary {
            applied: r.applied as u32,
            skipped: r.skipped as u32,
            attachments: r.attachments as u32,
            custody_conflicts: r.custody_conflicts.len() as u32,
            forks: r.forks.len() as u32,
            refused_after_revocation: r.refused_after_revocation as u32,
            quarantined: r.quarantined.as_ref().map(QuarantineRow::from),
        }
    }
}

/// Progress reports sent to the window at most this often (plus the first and the last of each
/// phase): every report crosses the IPC boundary and is handled on the webview's main thread,
/// and a report per 64 KiB chunk (16,384 per GiB) kept that thread from answering the running
/// log's own calls promptly.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Decides which progress reports go to the window (see [`PROGRESS_EVERY`]).
#[derive(Debug, Default)]
pub(crate) struct Pace {
    last: Option<(std::time::Instant, u8)>,
}

impl Pace {
    /// Whether a report of `done` of `all` in `phase` should be sent now.
    pub(crate) fn due(&mut self, phase: u8, done: u64, all: u64) -> bool {
        let now = std::time::Instant::now();
        let due = done >= all
            || match self.last {
                None => true,
                Some((at, p)) => p != phase || now.duration_since(at) >= PROGRESS_EVERY,
            };
        if due {
            self.last = Some((now, phase));
        }
        due
    }
}

/// A bundle kept in quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct QuarantineRow {
    /// The bundle's id.
    pub bundle_id: String,
    /// The device that sent it.
    pub device: String,
    /// Its key, in groups of four hex digits, to read aloud.
    pub device_key: String,
    /// The name its certificate gives it, if it carried one.
    pub name: Option<String>,
    /// Why it is kept: `no_certificate`, `certificate_invalid`, `invitation_expired`,
    /// `invitation_reused`, `device_revoked`, `key_conflict` or `former_id`.
    pub reason: String,
    /// Why, in English (details such as dates and device ids).
    pub detail: String,
    /// When HQ received it (RFC 3339).
    pub received_at: String,
    /// Revisions it holds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub revisions: u64,
    /// Its size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
}

impl From<&QuarantineEntry> for QuarantineRow {
    fn from(e: &QuarantineEntry) -> Self {
        QuarantineRow {
            bundle_id: e.bundle_id.clone(),
            device: e.device.to_string(),
            device_key: grouped_hex(&e.sign_pk),
            name: e.name.clone(),
            reason: e.reason.clone(),
            detail: e.detail.clone(),
            received_at: e.received_at.to_rfc3339(),
            revisions: e.revisions,
            size: e.size,
        }
    }
}

/// Runs `work` on a thread of its own at the lowest CPU priority (nice 19 on Linux; the threads
/// it starts inherit it), and waits for it. An exchange keeps both cores of a small laptop busy
/// (encryption, the disk, reading back); at normal priority the window and the running log's
/// calls queued behind it. Where the priority cannot be lowered, it runs as it is.
pub(crate) fn in_background<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let mut job = Some(work);
    let ran = std::thread::scope(|scope| {
        let slot = &mut job;
        let spawned = std::thread::Builder::new()
            .name("vigil-exchange".into())
            .spawn_scoped(scope, move || {
                lower_priority();
                slot.take().map(|w| w())
            });
        spawned.ok().map(|handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    match (ran.flatten(), job.take()) {
        (Some(value), _) => value,
        // No thread to be had: run it here, at normal priority, rather than not at all.
        (None, Some(work)) => work(),
        (None, None) => unreachable!("the exchange's thread ran its work but returned nothing"),
    }
}

/// Lowers the calling thread's CPU priority (advice: an error changes nothing else).
#[cfg(target_os = "linux")]
fn lower_priority() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// One exchange under way, for as long as it lives.
struct Exchanging<'a>(&'a AtomicUsize);

impl Drop for Exchanging<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Session {
    /// What `export_unsent` would carry now.
    pub fn export_preview(&self) -> Result<ExportPreview, AppError> {
        self.with_vault(|v| {
            let p = vigil_exchange::preview(v, &vigil_exchange::Selection::Unsent)?;
            Ok(ExportPreview {
                revisions: p.revisions,
                records: p.records,
                attachments: p.attachments,
                attachment_bytes: p.attachment_bytes,
            })
        })
    }

    /// The files an export of what is unsent to `folder` would write, and whether they fit.
    pub fn export_files(&self, folder: &Path) -> Result<ExportFiles, AppError> {
        let limits = vigil_exchange::Limits {
            pad: self.settings().pad_bundles,
            ..Default::default()
        };
        self.with_vault(|v| {
            let p = vigil_exchange::preview_files(
                v,
                &vigil_exchange::Selection::Unsent,
                &folder.join("vigil.vigil"),
                limits,
            )?;
            Ok(ExportFiles {
                files: p.files as u32,
                bytes: p.bytes,
                max_file: p.max_file,
                fs: p.fs.clone(),
                free: p.free,
                fits: p.check_room().is_ok(),
            })
        })
    }

    /// Exports every revision not yet sent into a new bundle in `folder` (a USB stick, say),
    /// named by date; read back and verified before this returns. `progress(phase, done, all)`
    /// follows the writing, then the reading back.
    ///
    /// The vault is held only to plan the bundle and, at the end, to record it: while the file
    /// is written and read back, the running log and everything else go on.
    pub fn export_unsent(
        &self,
        folder: &Path,
        progress: &mut (dyn FnMut(ExportPhase, u64, u64) + Send),
    ) -> Result<ExportSummary, AppError> {
        if !folder.is_dir() {
            return Err(AppError::io(&format!(
                "{} is not a folder",
                folder.display()
            )));
        }
        let _exchanging = self.exchanging();
        let limits = vigil_exchange::Limits {
            pad: self.settings().pad_bundles,
            ..Default::default()
        };
        let mut selection = vigil_exchange::Selection::Unsent;
        // Refused before anything is written when everything cannot fit on the drive.
        self.with_vault(|v| {
            let probe = folder.join("vigil.vigil");
            Ok(vigil_exchange::preview_files(v, &selection, &probe, limits)?.check_room()?)
        })?;
        let mut pace = Pace::default();
        // As many bundles as the drive's largest file needs, each written and read back; all
        // are recorded as exported only once every one is, so that a failure part-way leaves
        // every record unsent.
        let mut written = Vec::new();
        loop {
            let plan = match self.with_vault(|v| {
                let stem = format!("vigil-{}", v.now().format("%Y%m%d-%H%M%S"));
                Ok(vigil_exchange::plan_with(
                    v,
                    &selection,
                    &vigil_exchange::stick::unused_name(&folder.join(format!("{stem}.vigil"))),
                    limits,
                )?)
            }) {
                Ok(plan) => plan,
                Err(e) => {
                    written
                        .into_iter()
                        .for_each(vigil_exchange::Written::discard);
                    return Err(e);
                }
            };
            let w = match in_background(|| {
                plan.write(&mut |phase, done, all| {
                    if pace.due(phase as u8, done, all) {
                        progress(phase.into(), done, all);
                    }
                })
            }) {
                Ok(w) => w,
                Err(e) => {
                    // None is recorded, so none is left.
                    written
                        .into_iter()
                        .for_each(vigil_exchange::Written::discard);
                    return Err(e.into());
                }
            };
            let next = w.next();
            written.push(w);
            match next {
                Some(s) => selection = s,
                None => break,
            }
        }
        let files = written.len() as u32;
        let reports = self.with_vault_mut(|v| {
            let reports = written
                .into_iter()
                .map(|w| vigil_exchange::record(v, w))
                .collect::<Result<Vec<_>, _>>()?;
            v.release_memory()?;
            Ok(reports)
        })?;
        Ok(ExportSummary {
            path: reports
                .first()
                .map(|r| r.path.display().to_string())
                .unwrap_or_default(),
            revisions: reports.iter().map(|r| r.revisions as u32).sum(),
            attachments: reports.iter().map(|r| r.attachments as u32).sum(),
            files,
        })
    }

    /// Imports a bundle (all checked first; nothing is added twice); `progress` gets the bytes
    /// of the file read so far, and of all.
    ///
    /// The bundle is read, checked and staged without holding the vault; the vault is held to
    /// judge the sender and apply the bundle in one transaction (or, for a sender it cannot
    /// trust, to record the copy kept in quarantine).
    pub fn import_bundle(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<ImportSummary, AppError> {
        let summary = self.import_bundle_inner(path, progress);
        if let Some(v) = guard(&self.vault).as_ref() {
            let _ = v.release_memory();
        }
        summary
    }

    fn import_bundle_inner(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<ImportSummary, AppError> {
        let _exchanging = self.exchanging();
        let (reading, dir) =
            self.with_vault(|v| Ok((vigil_exchange::Reading::of(v)?, v.dir().to_path_buf())))?;
        let mut prejudge = |incoming: &vigil_store::Incoming| match guard(&self.vault).as_ref() {
            Some(v) => vigil_exchange::goes_to_quarantine(v, incoming),
            // Locked meanwhile: stage everything; applying it will say the vault is locked.
            None => Ok(false),
        };
        let mut pace = Pace::default();
        let mut paced = |done, all| {
            if pace.due(0, done, all) {
                progress(done, all);
            }
        };
        let staged = in_background(|| {
            vigil_exchange::stage(&reading, path, Some(&mut prejudge), &mut paced)
        })?;
        let size = std::fs::metadata(path)
            .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?
            .len();
        let settled = {
            let mut slot = guard(&self.vault);
            match slot.as_mut() {
                Some(v) => vigil_exchange::settle(v, staged, size)?,
                None => {
                    staged.discard();
                    return Err(AppError::locked());
                }
            }
        };
        match settled {
            vigil_exchange::Settled::Applied(report) => Ok((*report).into()),
            vigil_exchange::Settled::Held(held) => {
                let file = vigil_exchange::stage_for_quarantine(&dir, path)?;
                let mut slot = guard(&self.vault);
                match slot.as_mut() {
                    Some(v) => Ok(vigil_exchange::quarantine(v, *held, file)?.into()),
                    None => {
                        file.discard();
                        Err(AppError::locked())
                    }
                }
            }
        }
    }

    fn exchanging(&self) -> Exchanging<'_> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        Exchanging(&self.exchanges)
    }

    /// Folders where removable drives are mounted (USB sticks), to offer as export targets.
    pub fn removable_drives(&self) -> Vec<String> {
        let user = std::env::var("USER").unwrap_or_default();
        let mut roots = vec![
            PathBuf::from("/media").join(&user),
            PathBuf::from("/run/media").join(&user),
        ];
        roots.push(PathBuf::from("/media"));
        let mut out = Vec::new();
        for root in roots {
            let Ok(entries) = std::fs::read_dir(&root) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() && !roots_contains(&p, &user) {
                    out.push(p.display().to_string());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// `/media/<user>` is a folder of drives, not a drive.
fn roots_contains(p: &Path, user: &str) -> bool {
    !user.is_empty() && p == Path::new("/media").join(user)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Pace, in_background};

    /// The work runs on a thread of lower priority (nice 19, never higher than
    /// the caller's), its value comes back, and a panic in it reaches the caller.
    #[test]
    fn background_work_runs_at_a_lower_priority_and_returns_its_value() {
        let (value, nice) = in_background(|| {
            #[cfg(target_os = "linux")]
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
            #[cfg(not(target_os = "linux"))]
            let nice: Option<i32> = None;
            (42, nice)
        });
        assert_eq!(value, 42);
        if cfg!(target_os = "linux") {
            assert!(nice.is_some_and(|n| n >= 19), "nice {nice:?}");
        }
        let caught = std::panic::catch_unwind(|| in_background(|| panic!("the work failed")));
        assert!(caught.is_err());
    }

    /// The first report of each phase and the last are always sent; the many in between only
    /// every PROGRESS_EVERY.
    #[test]
    fn progress_is_paced_but_never_loses_a_phase_or_the_end() {
        let mut pace = Pace::default();
        let sent: Vec<(u8, u64)> = (0..10_000u64)
            .map(|i| (0u8, i))
            .chain((0..=10_000u64).map(|i| (1u8, i)))
            .filter(|&(phase, done)| pace.due(phase, done, 10_000))
            .collect();
        assert!(sent.len() < 100, "{} reports", sent.len());
        assert_eq!(sent[0], (0, 0));
        assert!(sent.contains(&(1, 0)), "the second phase's first report");
        assert_eq!(sent.last(), Some(&(1, 10_000)), "the end");
    }
}

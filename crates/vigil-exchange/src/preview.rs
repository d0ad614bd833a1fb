//! What an export would carry and write, said before anything is written.

use std::collections::BTreeMap;

use std::path::Path;

use serde::Serialize;
use vigil_store::Vault;

use crate::error::{ExchangeError, Result};
use crate::export::{Limits, Selection, selected};
use crate::stick::{ENTRY_OVERHEAD, entries_budget};

/// What an export of `selection` would carry, said before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preview {
    /// Sealed revisions (first sealings and amendments).
    pub revisions: u64,
    /// The records (incidents) they are versions of.
    pub records: u64,
    /// Attachments, each file once.
    pub attachments: u64,
    /// The attachments' size, in bytes.
    pub attachment_bytes: u64,
}

/// What an export of `selection` would carry (all of it; a bundle that would grow past its
/// limits carries the first part and says so when written).
pub fn preview(vault: &Vault, selection: &Selection) -> Result<Preview> {
    let mut records = std::collections::BTreeSet::new();
    let mut files = BTreeMap::new();
    let chosen = selected(vault, selection)?;
    for id in &chosen {
        let doc = vault.revision(*id)?.document()?;
        records.insert(doc.incident.id);
        for a in doc.attachments {
            files.insert(a.sha256.to_string(), a.size);
        }
    }
    Ok(Preview {
        revisions: chosen.len() as u64,
        records: records.len() as u64,
        attachments: files.len() as u64,
        attachment_bytes: files.values().sum(),
    })
}

/// The bundle files an export would write to a drive, said before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilesPreview {
    /// How many bundle files (about: records are not split between bundles, only the
    /// attachments of a record larger than one file).
    pub files: u64,
    /// An upper bound of their bytes, all together.
    pub bytes: u64,
    /// The largest file the drive (or the caller) allows.
    pub max_file: Option<u64>,
    /// What sets that limit: the file system ("FAT32") or "the limit asked for".
    pub limited_by: Option<String>,
    /// The file system, as the kernel names it.
    pub fs_type: Option<String>,
    /// The file system, in words ("FAT32", "exFAT"...).
    pub fs: Option<String>,
    /// Bytes free on the drive, when it says.
    pub free: Option<u64>,
}

impl FilesPreview {
    /// Refuses, before anything is written, an export whose files cannot all fit on the drive.
    pub fn check_room(&self) -> Result<()> {
        match self.free {
            Some(free) if free < self.bytes => Err(ExchangeError::NoSpace {
                needed: self.bytes,
                free: Some(free),
            }),
            _ => Ok(()),
        }
    }
}

/// How many bundle files an export of `selection` to `dest` (a file on the drive) would write
/// under `limits` and the drive's own, and at most how many bytes in all.
pub fn preview_files(
    vault: &Vault,
    selection: &Selection,
    dest: &Path,
    limits: Limits,
) -> Result<FilesPreview> {
    // Refused as the export itself would be, before anything is said.
    vault
        .org_profile()?
        .ok_or(vigil_store::StoreError::NoOrganisation)?;
    let chosen = selected(vault, selection)?;
    if chosen.is_empty() {
        return Err(ExchangeError::NothingToExport);
    }
    let mut json = 0u64;
    let mut files = BTreeMap::new();
    for id in &chosen {
        let rev = vault.revision(*id)?;
        json += rev.to_entry()?.len() as u64;
        for a in rev.document()?.attachments {
            files.insert(a.sha256.to_string(), a.size);
        }
    }
    let attachments: u64 = files.values().sum();
    // What every bundle carries: the certificate and (at most) the custody log's share.
    let mut custody = 0u64;
    vault.own_custody_newest_first(|ev| {
        custody += ev.to_line().map_or(0, |l| l.len() as u64 + 1);
        custody < vigil_bundle::MAX_JSON_BYTES / 8
    })?;
    let base = vault.certificate()?.map_or(0, |c| c.bytes().len() as u64)
        + custody.min(vigil_bundle::MAX_JSON_BYTES / 8);
    let readers = crate::proof::recipients(vault)?.len();
    let drive = crate::stick::drive_of(dest);
    let limit = crate::stick::file_limit(&drive, limits.max_file);
    let content = json + attachments;
    let count = match &limit {
        Some((l, _)) => {
            let room = entries_budget(*l, readers, limits.pad)
                .saturating_sub(base + 16 * ENTRY_OVERHEAD)
                .max(1);
            content.div_ceil(room).max(1)
        }
        None => json.div_ceil(vigil_bundle::MAX_JSON_BYTES).max(1),
    };
    let header = 64 + 128 * readers as u64 + 512 + 16 * 1024;
    let entries = chosen.len() as u64 + files.len() as u64 + 4 * count;
    let mut bytes = content + count * (base + header) + content / 4096 + entries * ENTRY_OVERHEAD;
    if limits.pad {
        bytes += bytes / 8;
    }
    Ok(FilesPreview {
        files: count,
        bytes,
        max_file: limit.as_ref().map(|(l, _)| *l),
        limited_by: limit.map(|(_, by)| by),
        fs: drive.fs_name().map(str::to_owned),
        fs_type: drive.fs_type,
        free: drive.free,
    })
}

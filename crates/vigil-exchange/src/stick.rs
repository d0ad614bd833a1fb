//! The drive a bundle is written to (a USB stick, most often): asked before a byte is written,
//! so that an export that cannot work is refused at once, and its faults named when a write
//! fails anyway.

use std::path::{Path, PathBuf};

use vigil_bundle::BundleError;
use vigil_durable::{Drive, Fault};

use crate::error::{ExchangeError, Result};

/// What is known of the drive `dest` (a bundle file) would be written to, for an export's
/// preview and limits. A folder that cannot be asked gives an empty [`Drive`].
pub fn drive_of(dest: &Path) -> Drive {
    vigil_durable::drive(vigil_durable::folder_of(dest)).unwrap_or_default()
}

/// The largest bundle file `drive` takes, with what sets it: its file system's limit
/// ("FAT32"), or `asked` if smaller (`vigil export --max-file-size`).
pub fn file_limit(drive: &Drive, asked: Option<u64>) -> Option<(u64, String)> {
    match (drive.max_file, asked) {
        (Some(fs), Some(a)) if a < fs => Some((a, ASKED.into())),
        (Some(fs), _) => Some((fs, drive.fs_name().unwrap_or("FAT32").into())),
        (None, Some(a)) => Some((a, ASKED.into())),
        (None, None) => None,
    }
}

/// What sets a file limit asked for on the command line.
const ASKED: &str = "the limit asked for";

/// The bytes of entries a bundle file of at most `limit` bytes, for `recipients` readers, can
/// carry when each entry is also counted at [`ENTRY_OVERHEAD`] (its tar header and padding,
/// its line in the manifest): what remains after age's header and stream and the archive's
/// fixed part; an eighth less when the bundle is padded to its bucket.
pub(crate) fn entries_budget(limit: u64, recipients: usize, pad: bool) -> u64 {
    let header = 64 + 128 * recipients as u64 + 512;
    let fixed = 16 * 1024;
    let room = limit.saturating_sub(limit / 4096 + header + fixed);
    if pad { room - room / 8 } else { room }
}

/// An upper bound of what one more entry adds to a bundle file besides its bytes.
pub(crate) const ENTRY_OVERHEAD: u64 = 2048;

/// What a bundle being planned has taken of its limits: the format's (JSON bytes, entries)
/// and, when set, a cap on its entries' bytes, each entry counted with `per_entry` more (a
/// file limit counts [`ENTRY_OVERHEAD`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) json: u64,
    pub(crate) files: u64,
    pub(crate) count: u64,
    pub(crate) cap: Option<u64>,
    pub(crate) per_entry: u64,
}

impl Budget {
    /// Whether `json` more bytes of JSON, `files` more of attachments (or parts) in `entries`
    /// more entries still fit.
    pub(crate) fn fits(&self, json: u64, files: u64, entries: u64) -> bool {
        self.json + json <= vigil_bundle::MAX_JSON_BYTES
            && self.count + entries <= vigil_bundle::MAX_ENTRIES
            && self
                .cap
                .is_none_or(|max| self.bytes(json, files, entries) <= max)
    }

    /// What the entries would take of the cap with these more.
    pub(crate) fn bytes(&self, json: u64, files: u64, entries: u64) -> u64 {
        self.json + json + self.files + files + (self.count + entries) * self.per_entry
    }

    pub(crate) fn take(&mut self, json: u64, files: u64, entries: u64) {
        self.json += json;
        self.files += files;
        self.count += entries;
    }
}

/// `dest` if no file has that name, or else the first of `<stem>-2.<ext>`, `-3` ... that is
/// free: two exports in one second, or the bundles of one export, never replace a bundle
/// already there, whose records are counted as exported.
pub fn unused_name(dest: &Path) -> PathBuf {
    if !dest.exists() {
        return dest.to_path_buf();
    }
    let stem = dest.file_stem().unwrap_or_default().to_string_lossy();
    let ext = dest
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let folder = vigil_durable::folder_of(dest);
    (2u32..)
        .map(|n| folder.join(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| dest.to_path_buf())
}

/// Refuses, before anything is written, a bundle of at most `needed` bytes that `dest`'s drive
/// cannot take: read-only, a file larger than it holds (or than `asked`), or more than its
/// free space. Then removes what killed exports left in that folder. Returns the drive, to
/// name the faults of the write ([`fault`]).
pub(crate) fn before_writing(dest: &Path, needed: u64, asked: Option<u64>) -> Result<Drive> {
    let folder = vigil_durable::folder_of(dest);
    let drive = vigil_durable::drive(folder).map_err(|e| fault(e.into(), needed, None))?;
    if drive.read_only {
        return Err(ExchangeError::ReadOnly);
    }
    if let Some((limit, fs)) = file_limit(&drive, asked)
        && needed > limit
    {
        return Err(ExchangeError::FileTooLarge { needed, limit, fs });
    }
    if let Some(free) = drive.free
        && free < needed
    {
        return Err(ExchangeError::NoSpace {
            needed,
            free: Some(free),
        });
    }
    // A partial bundle under a temporary name, left by an export that was killed.
    if let Some(ext) = dest.extension().and_then(|e| e.to_str()) {
        vigil_durable::Pending::remove_stale(folder, &format!(".{ext}"))
            .map_err(|e| fault(e.into(), needed, Some(&drive)))?;
    }
    Ok(drive)
}

/// Names the drive's fault in an error of writing, reading back or renaming a bundle of at
/// most `needed` bytes: a full drive, a read-only one, a file too large, a drive pulled out.
/// Any other error is returned as it is.
pub(crate) fn fault(e: ExchangeError, needed: u64, drive: Option<&Drive>) -> ExchangeError {
    let io = match &e {
        ExchangeError::Io(io) | ExchangeError::Bundle(BundleError::Io(io)) => io,
        _ => return e,
    };
    let limit = drive.and_then(|d| d.max_file);
    let too_large = |limit: u64| ExchangeError::FileTooLarge {
        needed,
        limit,
        fs: drive.and_then(Drive::fs_name).unwrap_or("FAT32").into(),
    };
    // fusefat refuses a write with EPERM both past its largest file and when the stick is
    // full: a bundle within the largest file met a full stick.
    let fault = match (io.raw_os_error(), limit) {
        (Some(1), Some(l)) if needed > l => Some(Fault::FileTooLarge),
        (Some(1), Some(_)) => Some(Fault::Full),
        _ => vigil_durable::fault_of(io),
    };
    match fault {
        Some(Fault::Full) => ExchangeError::NoSpace { needed, free: None },
        Some(Fault::ReadOnly) => ExchangeError::ReadOnly,
        Some(Fault::FileTooLarge) => too_large(limit.unwrap_or(vigil_durable::FAT_MAX_FILE)),
        Some(Fault::Gone) => match e {
            ExchangeError::Io(io) | ExchangeError::Bundle(BundleError::Io(io)) => {
                ExchangeError::DriveLost(io)
            }
            other => other,
        },
        None => e,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A second export in the same second, or an export's next bundle, gets a name of its own:
    /// the first bundle stays.
    #[test]
    fn an_export_never_takes_the_name_of_a_bundle_already_there() {
        let tmp = tempfile::tempdir().unwrap();
        let stem = "vigil-20261204-120000";
        let wanted = tmp.path().join(format!("{stem}.vigil"));
        assert_eq!(unused_name(&wanted), wanted);
        std::fs::write(&wanted, b"bundle one").unwrap();
        let second = unused_name(&wanted);
        assert_eq!(second, tmp.path().join(format!("{stem}-2.vigil")));
        std::fs::write(&second, b"bundle two").unwrap();
        assert_eq!(
            unused_name(&wanted),
            tmp.path().join(format!("{stem}-3.vigil"))
        );
    }

    #[test]
    fn the_smaller_of_the_drives_limit_and_the_one_asked_for_is_kept() {
        let fat = Drive {
            fs_type: Some("vfat".into()),
            max_file: Some(vigil_durable::FAT_MAX_FILE),
            ..Drive::default()
        };
        assert_eq!(
            file_limit(&fat, None),
            Some((vigil_durable::FAT_MAX_FILE, "FAT32".into()))
        );
        assert_eq!(
            file_limit(&fat, Some(1 << 20)),
            Some((1 << 20, ASKED.into()))
        );
        assert_eq!(
            file_limit(&fat, Some(u64::MAX)).map(|l| l.0),
            Some(vigil_durable::FAT_MAX_FILE)
        );
        assert_eq!(file_limit(&Drive::default(), None), None);
        assert!(entries_budget(1 << 20, 3, false) < 1 << 20);
        assert!(entries_budget(1 << 20, 3, true) < entries_budget(1 << 20, 3, false));
    }
}

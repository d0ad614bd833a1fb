//! What can go wrong moving bundles.

use vigil_bundle::BundleError;
use vigil_ledger::LedgerError;
use vigil_store::StoreError;

/// What can go wrong exporting, importing or verifying a bundle. Each variant carries the
/// error of the layer that found the problem, whose stable code it keeps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The bundle as a file is unreadable, not ours, tampered, truncated, malformed...
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// A record in the bundle is refused (bad signature, broken chain, not authorised, another
    /// organisation's...).
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The vault refused, or failed.
    #[error("{0}")]
    Store(StoreError),
    /// The selection holds no sealed revision.
    #[error("nothing to export: seal the incidents first (vigil seal ID)")]
    NothingToExport,
    /// A file could not be read or written.
    #[error("{0}")]
    Io(std::io::Error),
    /// The drive has too little free space for the bundle, known before writing or found
    /// full while writing; nothing was written.
    #[error("{}", no_space(*needed, *free))]
    NoSpace {
        /// Bytes the bundle needs (an upper bound).
        needed: u64,
        /// Bytes free on the drive, when it says.
        free: Option<u64>,
    },
    /// The drive is mounted read-only; nothing was written.
    #[error(
        "the drive is read-only (its write-protect switch is on, or it is mounted read-only): nothing was written; use another stick, or make this one writable"
    )]
    ReadOnly,
    /// The bundle would be larger than the drive's file system can hold in one file.
    #[error(
        "the bundle needs about {needed} bytes, but files on this drive may be at most {limit} bytes ({fs}): nothing was written; use a stick formatted as exFAT"
    )]
    FileTooLarge {
        /// Bytes the bundle needs (an upper bound).
        needed: u64,
        /// The largest file the drive holds.
        limit: u64,
        /// Its file system ("FAT32").
        fs: String,
    },
    /// The drive stopped answering while the bundle was written or read back: it was pulled
    /// out, or failed. Nothing was recorded as exported.
    #[error(
        "the drive stopped answering while the bundle was written ({0}); was it pulled out? Nothing was recorded as exported: plug it in again, or use another stick, and export again"
    )]
    DriveLost(#[source] std::io::Error),
}

/// The message of [`ExchangeError::NoSpace`].
fn no_space(needed: u64, free: Option<u64>) -> String {
    match free {
        Some(free) => format!(
            "the drive has {free} bytes free, but the bundle needs about {needed}: free some space or use another stick; nothing was written"
        ),
        None => format!(
            "the drive is full (the bundle needs about {needed} bytes): free some space or use another stick; nothing was written"
        ),
    }
}

/// A bundle entry is read through [`std::io::Read`], so what is wrong with the bundle (a
/// tampered or cut chunk, a hash mismatch) arrives wrapped in an I/O error, possibly inside the
/// vault's own I/O error while staging an attachment. Unwrap it, so a tampered bundle is
/// reported as tampered and not as a disk problem.
fn bundle_error_in(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<BundleError>())
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        if bundle_error_in(&e) {
            ExchangeError::Bundle(BundleError::from(e))
        } else {
            ExchangeError::Io(e)
        }
    }
}

impl From<StoreError> for ExchangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io { source, .. } if bundle_error_in(&source) => {
                ExchangeError::Bundle(BundleError::from(source))
            }
            StoreError::Ledger(l) => ExchangeError::Ledger(l),
            other => ExchangeError::Store(other),
        }
    }
}

impl ExchangeError {
    /// A stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Bundle(b) => b.code(),
            ExchangeError::Ledger(l) => l.code(),
            ExchangeError::Store(s) => s.code(),
            ExchangeError::NothingToExport => "nothing_to_export",
            ExchangeError::Io(_) => "io",
            ExchangeError::NoSpace { .. } => "no_space",
            ExchangeError::ReadOnly => "read_only",
            ExchangeError::FileTooLarge { .. } => "file_too_large",
            ExchangeError::DriveLost(_) => "drive_lost",
        }
    }

    /// True when what was offered is bad (as opposed to the vault or the machine): a person
    /// should ask for another copy, or look at who sent it.
    pub fn is_bad_bundle(&self) -> bool {
        match self {
            ExchangeError::Bundle(b) => !matches!(b, BundleError::Io(_)),
            ExchangeError::Ledger(_) => true,
            ExchangeError::Store(s) => matches!(
                s,
                StoreError::RevisionConflict { .. }
                    | StoreError::DeviceKeyConflict { .. }
                    | StoreError::MissingAttachment { .. }
            ),
            ExchangeError::NothingToExport
            | ExchangeError::Io(_)
            | ExchangeError::NoSpace { .. }
            | ExchangeError::ReadOnly
            | ExchangeError::FileTooLarge { .. }
            | ExchangeError::DriveLost(_) => false,
        }
    }
}

/// The vault's own error (a damaged attachment, say) when it reached the bundle writer through a
/// read: the fault is in the vault, not in the bundle file.
pub(crate) fn vault_error_inside(e: BundleError) -> ExchangeError {
    match e {
        BundleError::Io(io) if io.get_ref().is_some_and(|i| i.is::<StoreError>()) => {
            match io.into_inner().map(|i| i.downcast::<StoreError>()) {
                Some(Ok(store)) => ExchangeError::Store(*store),
                Some(Err(other)) => ExchangeError::Io(std::io::Error::other(other)),
                None => BundleError::Malformed("an empty I/O error".into()).into(),
            }
        }
        other => ExchangeError::from(other),
    }
}

/// Shorthand.
pub type Result<T, E = ExchangeError> = std::result::Result<T, E>;

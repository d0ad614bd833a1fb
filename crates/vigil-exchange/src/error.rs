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
    /// The drive has too little free space for the bundle; nothing was written.
    #[error(
        "the drive has {free} bytes free, but the bundle needs about {needed}: free some space or use another stick; nothing was written"
    )]
    NoSpace {
        /// Bytes the bundle needs (an upper bound).
        needed: u64,
        /// Bytes free on the drive.
        free: u64,
    },
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
            | ExchangeError::NoSpace { .. } => false,
        }
    }
}

/// Shorthand.
pub type Result<T, E = ExchangeError> = std::result::Result<T, E>;

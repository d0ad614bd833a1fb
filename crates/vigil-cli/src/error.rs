//! Errors and the exit codes they map to (see the crate's documentation): each failure carries
//! its exit code, a stable code for `--json`, and a message.

use vigil_store::StoreError;

/// Usage or validation error, or a bad input file (a bundle, a profile): nothing was changed.
pub(crate) const USAGE: u8 = 1;
/// The passphrase is wrong.
pub(crate) const WRONG_PASSPHRASE: u8 = 2;
/// The vault is damaged or unreadable.
pub(crate) const DAMAGED: u8 = 3;
/// A bundle was kept in quarantine: nothing applied, a person must decide.
pub(crate) const QUARANTINED: u8 = 4;

/// The disk holding the vault is full: what was being written was not, everything before it
/// is safe.
pub(crate) const DISK_FULL: u8 = 6;

/// `vigil sync` could not send everything (the server unreachable, or it refused): what it
/// confirmed is recorded, the rest stays queued.
pub(crate) const NOT_SENT: u8 = 5;

/// An error with the exit code it maps to.
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) code: u8,
    /// The stable error code (`--json` prints it).
    pub(crate) kind: String,
    /// What went wrong, for people.
    pub(crate) message: String,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::WrongPassphrase => WRONG_PASSPHRASE,
            e if e.is_disk_full() => DISK_FULL,
            e if e.is_damage() => DAMAGED,
            _ => USAGE,
        };
        Failure {
            code,
            kind: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl From<vigil_exchange::ExchangeError> for Failure {
    fn from(e: vigil_exchange::ExchangeError) -> Self {
        match e {
            vigil_exchange::ExchangeError::Store(s) if !e_is_bad(&s) => s.into(),
            // A bad bundle is bad input (exit 1); the vault itself is untouched.
            other => Failure {
                code: USAGE,
                kind: other.code().into(),
                message: other.to_string(),
            },
        }
    }
}

impl From<vigil_sync::SyncError> for Failure {
    fn from(e: vigil_sync::SyncError) -> Self {
        match e {
            vigil_sync::SyncError::Store(s) => s.into(),
            vigil_sync::SyncError::Exchange(x) => x.into(),
            other => Failure {
                code: NOT_SENT,
                kind: other.code().into(),
                message: other.to_string(),
            },
        }
    }
}

/// A vault error that is about what was offered, not about the vault.
fn e_is_bad(s: &StoreError) -> bool {
    matches!(
        s,
        StoreError::RevisionConflict { .. }
            | StoreError::DeviceKeyConflict { .. }
            | StoreError::MissingAttachment { .. }
            | StoreError::Ledger(_)
    )
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(se) => se.into(),
            Err(e) => Failure {
                code: USAGE,
                kind: "usage".into(),
                message: format!("{e:#}"),
            },
        }
    }
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: USAGE,
        kind: "usage".into(),
        message: message.into(),
    }
}

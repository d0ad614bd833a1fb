use serde::Serialize;
use vigil_store::StoreError;

/// A failure as the UI sees it: a stable `code` to choose a translated message by, and an
/// English `message` (what happened, what to do next) for when it has none.
///
/// Codes are those of [`StoreError::code`], plus `locked` (no vault is open: unlock first),
/// `invalid_id`, `invalid_setting`, `not_previewable` and `io`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[error("{message}")]
pub struct AppError {
    /// Stable, machine-readable code, e.g. `wrong_passphrase`.
    pub code: String,
    /// English message for people.
    pub message: String,
    /// The field the error is about, if one.
    pub field: Option<String>,
    /// For `wrong_passphrase`: how long the next attempt will be held back, in milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub retry_after_ms: Option<u64>,
}

impl AppError {
    fn new(code: &str, message: String) -> Self {
        Self {
            code: code.into(),
            message,
            field: None,
            retry_after_ms: None,
        }
    }

    /// Too many wrong passphrases in a row, with the wipe turned on in the settings: the
    /// vault was destroyed.
    pub fn vault_wiped() -> Self {
        Self::new(
            "vault_wiped",
            "too many wrong passphrases: the vault was destroyed, as the settings asked".into(),
        )
    }

    /// No vault is open.
    pub fn locked() -> Self {
        Self::new(
            "locked",
            "the vault is locked; unlock it with the passphrase".into(),
        )
    }

    pub(crate) fn invalid_id(id: &str) -> Self {
        Self::new("invalid_id", format!("{id:?} is not an id"))
    }

    pub(crate) fn invalid_setting(field: &str, message: String) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new("invalid_setting", message)
        }
    }

    pub(crate) fn invalid_field(field: &str, code: &str, message: String) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(code, message)
        }
    }

    /// A file or the system failed (code `io`), with what happened.
    pub fn io(e: &dyn std::fmt::Display) -> Self {
        Self::new("io", e.to_string())
    }

    pub(crate) fn not_previewable(what: &str) -> Self {
        Self::new(
            "not_previewable",
            format!("{what} cannot be previewed here"),
        )
    }
}

impl From<vigil_exchange::ExchangeError> for AppError {
    fn from(e: vigil_exchange::ExchangeError) -> Self {
        match e {
            vigil_exchange::ExchangeError::Store(s) => s.into(),
            other => Self::new(other.code(), other.to_string()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

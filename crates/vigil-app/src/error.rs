use serde::Serialize;
use vigil_store::StoreError;

/// A failure as the UI sees it: a stable `code` to choose a translated message by, and an
/// English `message` (what happened, what to do next) for when it has none.
///
/// Codes are those of [`StoreError::code`], plus `locked` (no vault is open: unlock first) and
/// `invalid_id` (the UI asked for an incident id that is not one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// Stable, machine-readable code, e.g. `wrong_passphrase`.
    pub code: String,
    /// English message for people.
    pub message: String,
}

impl AppError {
    /// No vault is open.
    pub fn locked() -> Self {
        Self {
            code: "locked".into(),
            message: "the vault is locked; unlock it with the passphrase".into(),
        }
    }

    pub(crate) fn invalid_id(id: &str) -> Self {
        Self {
            code: "invalid_id".into(),
            message: format!("{id:?} is not an incident id"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

//! What the Vigil desktop app does, with no window and no Tauri.
//!
//! The desktop shell (`src-tauri/`) registers one [`Session`] as shared state and turns each UI
//! command into one call on it. Everything the UI receives is a plain serialisable value
//! ([`VaultOverview`], [`IncidentPage`], [`IncidentView`], search hits), and every failure is an
//! [`AppError`] with a stable `code` the UI can translate and an English `message` to fall back
//! on. Because nothing here knows about a window, the tests below drive the app exactly as the UI
//! does.

#![forbid(unsafe_code)]

mod error;
mod exchange;
mod history;
mod incidents;
mod location;
mod look;
mod org;
mod quarantine;
mod safety;
mod session;
mod settings;
mod sync;
mod views;
mod webview;

pub use error::AppError;
pub use exchange::{
    ExportFiles, ExportPhase, ExportPreview, ExportSummary, ImportSummary, QuarantineRow,
};
pub use history::{CustodyRow, HistoryView, RevisionRow};
pub use location::{VaultDirError, instance_id, process_vault_dir, vault_dir};
pub use look::{DISCREET_ICON_SIDE, WindowLook};
pub use org::{DeviceRow, DevicesView, EnrolmentView, InvitationRow, OrgRole, OrgView};
pub use quarantine::AcceptOutcome;
pub use session::{Session, unlock_delay};
pub use settings::{Language, Settings};
pub use sync::SyncView;
pub use views::{
    AppStatus, EntryInput, FieldProblem, IncidentPage, IncidentView, ListRequest, MissingParts,
    SaveOutcome, TermView, VaultOverview,
};
pub use webview::WebviewDir;

/// How new vaults derive their key: calibrated (the default), or the minimum when the
/// environment says `VIGIL_KDF=minimum` (for tests and very slow machines).
pub fn kdf_choice_from_env() -> vigil_store::KdfChoice {
    match std::env::var("VIGIL_KDF").as_deref() {
        Ok("minimum") => vigil_store::KdfChoice::Params(vigil_crypto::kdf::KdfParams::FLOOR),
        _ => vigil_store::KdfChoice::Calibrate,
    }
}

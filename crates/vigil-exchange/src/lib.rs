//! Moving sealed revisions between vaults in bundles (see `docs/bundle-format.md`).
//!
//! | module | what |
//! |---|---|
//! | [`export`](mod@export) | a vault's own revisions, attachments and custody log into a bundle, read back before it takes its name |
//! | `item` | a bundle written into memory for the organisation's server (a sync item) |
//! | `fill` | a planned bundle's entries written into it, each from where the plan left it |
//! | [`import`](mod@import) | a bundle checked whole, its sender judged, then applied in one transaction or kept in quarantine |
//! | `check` | what every entry of a bundle must be, checked one at a time as it streams |
//! | `read` | reading a bundle from a file, a stream or an extracted folder |
//! | [`proof`] | what a bundle proves, for people |
//! | [`stick`] | the drive a bundle goes to: asked before writing, its faults named |
//! | `parts` | a record larger than one bundle file: its attachments cut into parts, carried across bundles |
//! | `pipe` | the thread pipe that moves an attachment from the vault into a bundle |
//!
//! The formats and trust rules are [`vigil_ledger`]'s; the vault's part is [`vigil_store`]'s;
//! this crate joins them to bundle files.

#![forbid(unsafe_code)]

pub mod blob;
mod check;
mod error;
pub mod export;
mod fill;
pub mod import;
mod item;
mod parts;
mod pipe;
mod preview;
pub mod proof;
mod read;
pub mod stick;

pub use error::{ExchangeError, Result};
pub use export::{
    ExportPhase, ExportPlan, ExportReport, Limits, Selection, Written, export, export_all,
    export_with_progress, plan, plan_with, record,
};
pub use import::{
    Held, ImportReport, Prejudge, Reading, Settled, Staged, accept, goes_to_quarantine, import,
    import_bytes, import_with_progress, quarantine, settle, settle_bytes, stage, stage_bytes,
    stage_bytes_with, stage_for_quarantine,
};
pub use item::Item;
pub use parts::Carry;
pub use preview::{FilesPreview, Preview, preview, preview_files};
pub use proof::{
    Proof, ProvenAttachment, ProvenEnrolment, ProvenParts, ProvenRevision, verify_extracted,
    verify_with_vault,
};

/// Reads a whole bundle from memory with `identities` and checks everything in it, changing
/// nothing (the fuzz targets feed it).
pub fn verify_bundle_from(
    input: impl std::io::Read,
    identities: &[age::x25519::Identity],
) -> Result<()> {
    read::read_stream(
        input,
        identities,
        read::Expect::default(),
        &mut check::Nothing,
    )
    .map(|_| ())
}

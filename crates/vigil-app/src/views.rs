//! What the session hands to the window: the views and requests that cross the IPC boundary
//! (their TypeScript twins are generated into ui/src/bindings).

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use vigil_model::{AttachmentMeta, EntryId, Incident, IncidentStatus, LogEntry, TermKind};
use vigil_store::{Delivery, IncidentSummary};

use crate::Settings;

/// What the UI needs to know at start and after each lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AppStatus {
    /// The vault folder.
    pub vault_dir: String,
    /// Whether a vault exists there (else the UI offers to create one).
    pub vault_exists: bool,
    /// Whether it is open.
    pub unlocked: bool,
    /// The settings.
    pub settings: Settings,
}

/// What the UI shows right after unlocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VaultOverview {
    /// The vault folder, so the person can see which vault is open.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub dir: PathBuf,
    /// How many incidents it holds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub incidents: u64,
}

/// What the incident list asks for: a page, and filters that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct ListRequest {
    /// Rows to skip.
    pub offset: u32,
    /// Page size (at most 500).
    pub limit: u32,
    /// Words to search for (incident, parties, running log); the last may be a prefix.
    pub query: Option<String>,
    /// `draft` or `sealed`.
    pub status: Option<IncidentStatus>,
    /// A violation term code.
    pub violation: Option<String>,
    /// A tag.
    pub tag: Option<String>,
    /// First day, `YYYY-MM-DD` (local to the incident's offset).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, included.
    pub to: Option<String>,
}

/// One page of the incident list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IncidentPage {
    /// The rows of this page.
    pub incidents: Vec<IncidentSummary>,
    /// How many incidents pass the filters in all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    /// Sealed versions (records and amendments) of this device that no bundle has carried
    /// out yet, for the status bar.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unsent: u64,
    /// Where each incident of the page is on its way to HQ, by id, when the organisation has a
    /// server (empty otherwise).
    pub delivery: std::collections::BTreeMap<String, Delivery>,
}

/// One incident with everything the live log and the editor show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IncidentView {
    /// The saved record.
    pub incident: Incident,
    /// The editor's unsaved state, if the last edit did not validate yet: show this instead.
    pub draft: Option<Incident>,
    /// The running log, in order.
    pub log: Vec<LogEntry>,
    /// The attachments.
    pub attachments: Vec<AttachmentMeta>,
    /// Attachments (by id) that came in parts and wait for some still to be imported.
    pub incomplete: std::collections::BTreeMap<String, MissingParts>,
    /// When two versions of the sealed record amend the same revision (two devices amended
    /// it), their revision ids: the record is shown as it was where they part, until a person
    /// settles it. Empty otherwise.
    pub versions: Vec<String>,
    /// What was typed in the running log's input and not yet entered (kept through a lock, an
    /// auto-lock or a crash); empty if nothing.
    pub log_draft: String,
    /// The entries of `log` that are sealed (in the revision the record is shown as); the
    /// others were written since the last seal.
    pub sealed_entries: Vec<EntryId>,
    /// Where it is on its way to HQ, when the organisation has a server.
    pub delivery: Option<Delivery>,
}

/// One running-log entry as the window's input line sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// The note.
    pub text: String,
    /// A key moment.
    pub flagged: bool,
    /// The earlier entry of this incident that it corrects.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub corrects: Option<EntryId>,
    /// When it happened, if earlier than now (RFC 3339 with the offset).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional, type = "string"))]
    pub happened_at: Option<DateTime<FixedOffset>>,
    /// What stays in the input once the entry has left it (usually nothing).
    pub draft_after: String,
}

/// One problem with one field, for the editor to show beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FieldProblem {
    /// Path of the field, e.g. `parties[2].size`.
    pub field: String,
    /// Stable code, e.g. `required`.
    pub code: String,
    /// English text.
    pub message: String,
    /// Values for the translated message (`max`, `code`, `id`, `party`, `role`, `version`).
    pub params: std::collections::BTreeMap<String, String>,
}

/// The result of an autosave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SaveOutcome {
    /// True when the incident itself was saved; false when it was kept as a draft.
    pub saved: bool,
    /// The saved incident (with its new `updated_at`), when saved.
    pub incident: Option<Incident>,
    /// What must be fixed before it can be saved (empty when saved).
    pub errors: Vec<FieldProblem>,
    /// The incident is sealed: the edit is kept (encrypted) and becomes an amendment when the
    /// incident is sealed again.
    pub pending_amendment: bool,
}

/// A thesaurus term for the UI's pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TermView {
    /// The code stored in incidents.
    pub code: String,
    /// `violation` or `act`.
    pub kind: TermKind,
    /// Labels by language.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// An attachment that came in parts (a record larger than one file on a FAT32 stick) and waits
/// for some: how many are here, of how many, and which are missing (numbered from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MissingParts {
    /// Parts here.
    pub have: u32,
    /// Parts in all.
    pub of: u32,
    /// The missing parts' numbers.
    pub missing: Vec<u32>,
}

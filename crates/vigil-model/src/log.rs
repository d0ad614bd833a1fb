//! The running log: timestamped notes a monitor writes while an incident unfolds.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::validate::{FieldError, Problem, ValidationErrors};
use crate::{DeviceId, EntryId, IncidentId, ModelError};

/// Longest log entry text, in characters.
pub const MAX_ENTRY_CHARS: usize = 100_000;

/// One entry of an incident's running log.
///
/// **Append-only.** Entries are never edited or deleted once written; a
/// correction is a new entry that names the one it corrects (`corrects`), and
/// both are kept and sealed. The store enforces this; the model only
/// describes an entry. Entries are ordered by `seq`, which the store assigns
/// per incident starting at 1, so the order survives a device clock that
/// jumps; `at` is the wall-clock time the monitor saw and is informational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Identifies the entry.
    pub id: EntryId,
    /// The incident it belongs to.
    pub incident: IncidentId,
    /// Position in the incident's log, from 1.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// Wall-clock time of writing, with the device's offset.
    pub at: DateTime<FixedOffset>,
    /// The note.
    pub text: String,
    /// The device that wrote it.
    pub device: DeviceId,
    /// Marks a key moment, to be found quickly later.
    pub flagged: bool,
    /// The entry of the same incident that this one corrects (revision documents of version 3
    /// and later). The corrected entry stays as it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub corrects: Option<EntryId>,
    /// When what the entry describes happened, when that is earlier than `at` (an event noted
    /// late; revision documents of version 3 and later). Never after `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub happened_at: Option<DateTime<FixedOffset>>,
}

impl LogEntry {
    /// Checks that `text` is non-blank and at most [`MAX_ENTRY_CHARS`]
    /// characters, that `seq` is at least 1, that a correction does not name the entry itself
    /// and that `happened_at` is not after `at`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        if self.seq == 0 {
            errors.push(FieldError::new(
                "seq",
                Problem::OutOfRange {
                    what: "a log entry's sequence number",
                    range: "at least 1",
                },
            ));
        }
        if self.text.trim().is_empty() {
            errors.push(FieldError::new("text", Problem::Required));
        } else if self.text.chars().count() > MAX_ENTRY_CHARS {
            errors.push(FieldError::new(
                "text",
                Problem::TooLong {
                    max: MAX_ENTRY_CHARS,
                },
            ));
        }
        if self.corrects == Some(self.id) {
            errors.push(FieldError::new(
                "corrects",
                Problem::UnknownEntry {
                    id: self.id.to_string(),
                },
            ));
        }
        if let Some(happened) = self.happened_at
            && happened > self.at
        {
            errors.push(FieldError::new(
                "happened_at",
                Problem::HappenedAfterWritten,
            ));
        }
        ValidationErrors::result(errors)
    }

    /// The JSON form (compact).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a log entry is always representable as JSON")
    }

    /// Reads the JSON form.
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        serde_json::from_str(json).map_err(ModelError::Json)
    }
}

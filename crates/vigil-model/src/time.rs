//! Points in time as monitors actually know them: exactly, roughly, or not at all.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// How well a time (or a count) is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Known exactly.
    Exact,
    /// An estimate ("around noon", "about nine people").
    Approximate,
    /// Not known.
    #[default]
    Unknown,
}

/// A possibly-unknown moment. The UTC offset the monitor recorded is kept
/// (written in JSON as RFC 3339, e.g. `2024-03-08T14:30:00+06:00`), because
/// local time is what witnesses report.
///
/// Invariant (checked by validation): `at` is `Some` for [`Precision::Exact`]
/// and [`Precision::Approximate`], and `None` for [`Precision::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct TimePoint {
    /// How well the time is known.
    #[serde(default)]
    pub precision: Precision,
    /// The moment, with the offset it was recorded in.
    #[serde(default)]
    pub at: Option<DateTime<FixedOffset>>,
}

impl TimePoint {
    /// An unknown time.
    pub const fn unknown() -> Self {
        Self {
            precision: Precision::Unknown,
            at: None,
        }
    }

    /// A time known exactly.
    pub const fn exact(at: DateTime<FixedOffset>) -> Self {
        Self {
            precision: Precision::Exact,
            at: Some(at),
        }
    }

    /// An approximate time.
    pub const fn approximate(at: DateTime<FixedOffset>) -> Self {
        Self {
            precision: Precision::Approximate,
            at: Some(at),
        }
    }

    /// Whether the time is unknown.
    pub fn is_unknown(&self) -> bool {
        self.precision == Precision::Unknown
    }
}

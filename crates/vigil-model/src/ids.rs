//! Identifiers: one newtype per kind of record, so an act id can never be
//! passed where a party id is expected. All are UUIDs, written in JSON as the
//! hyphenated lowercase string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier string could not be parsed as a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a valid {kind} (expected a UUID such as 0190c1c4-7d4e-7a51-9c3b-2f1e5a6b7c8d)"
)]
pub struct ParseIdError {
    /// Which id type was being parsed, e.g. `"incident id"`.
    pub kind: &'static str,
    /// The text that failed to parse.
    pub input: String,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, type = "string"))]
        pub struct $name(Uuid);

        // A freshly generated id is not a meaningful "default" value, so there is no `Default`.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| ParseIdError {
                    kind: $kind,
                    input: s.to_owned(),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

id_type!(
    /// Identifies an [`Incident`](crate::Incident) (a HURIDOCS *event*).
    IncidentId,
    "incident id"
);
id_type!(
    /// Identifies a [`Party`](crate::Party) within an incident.
    PartyId,
    "party id"
);
id_type!(
    /// Identifies an [`Act`](crate::Act) within an incident.
    ActId,
    "act id"
);
id_type!(
    /// Identifies a [`Source`](crate::Source) within an incident.
    SourceId,
    "source id"
);
id_type!(
    /// Identifies an [`Intervention`](crate::Intervention) within an incident.
    InterventionId,
    "intervention id"
);
id_type!(
    /// Identifies a [`LogEntry`](crate::LogEntry) in an incident's running log.
    EntryId,
    "entry id"
);
id_type!(
    /// Identifies an attachment (see [`AttachmentMeta`](crate::AttachmentMeta)).
    AttachmentId,
    "attachment id"
);
id_type!(
    /// Identifies a device (one installation of Vigil) that wrote a record.
    DeviceId,
    "device id"
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = IncidentId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<IncidentId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn parse_error_names_the_kind() {
        let err = "nope".parse::<PartyId>().unwrap_err();
        assert_eq!(err.kind, "party id");
        assert!(err.to_string().contains("party id"));
    }
}

//! Vigil's incident model: the records a human-rights monitor keeps, their
//! validation rules, the violation/act thesaurus and the stable JSON form.
//!
//! This crate does no I/O: it reads no files, opens no sockets and never reads
//! the clock for business data. The current time is passed in (`now`), so
//! behaviour is exact in tests. The only exception is `XxxId::new()`, which
//! draws a time-ordered random UUIDv7.
//!
//! # Mapping to the HURIDOCS events standard
//!
//! | HURIDOCS          | Vigil                                   |
//! |-------------------|-----------------------------------------|
//! | Event             | [`Incident`]                            |
//! | Act               | [`Act`] (one victim, one perpetrator, one act type) |
//! | Person / group    | [`Party`] with [`PartyKind`] and [`Role`]s |
//! | Source / information | [`Source`]                           |
//! | Intervention      | [`Intervention`]                        |
//! | Micro-thesauri    | [`Thesaurus`] of [`Term`]s: violation types and act types |
//! | Date + type of date | [`TimePoint`] with [`Precision`]      |
//!
//! Persons and groups are one notion here, a *party*: "nine unknown
//! individuals" is a [`PartyKind::Group`] with `unit: "individuals"` and
//! `size: Some(9)`. A party's [`Role`]s say whether it is a victim,
//! perpetrator, source, witness or intervening party; an act's victim and
//! perpetrator must have those roles.
//!
//! Alongside the structured record, each incident has a running log of
//! [`LogEntry`]s (append-only, ordered by a per-incident `seq`) and
//! [`AttachmentMeta`] for attached files.
//!
//! # Validation and JSON
//!
//! [`Incident::validate`] reports every problem at once, each as a
//! [`FieldError`] with a field path, a stable [`Problem::code`] and an English
//! message. [`Incident::to_json`] / [`Incident::from_json`] are the stable,
//! versioned form ([`SCHEMA_VERSION`]); data from a newer Vigil is refused with
//! [`ModelError::NewerSchema`]. People and scripts write the looser
//! [`IncidentDraft`] instead.
//!
//! ```
//! use chrono::DateTime;
//! use vigil_model::*;
//!
//! let now = DateTime::parse_from_rfc3339("2024-03-08T14:30:00+06:00").unwrap();
//! let thesaurus = Thesaurus::default_terms();
//!
//! let mut incident = Incident::new(IncidentId::new(), "Lawyer beaten outside court", now);
//! incident.start = TimePoint::approximate(now);
//! incident.location.country = Some(CountryCode::parse("KG").unwrap());
//! incident.violations.push(TermCode::new("obstruction_of_lawyers"));
//!
//! let lawyer = Party::new(
//!     PartyId::new(),
//!     PartyKind::Person { name: "А. Б.".into(), gender: None, occupation: Some("lawyer".into()) },
//!     vec![Role::Victim],
//! );
//! let group = Party::new(
//!     PartyId::new(),
//!     PartyKind::Group {
//!         name: String::new(),
//!         description: "unknown individuals".into(),
//!         unit: "individuals".into(),
//!         size: Some(9),
//!         size_precision: Precision::Approximate,
//!     },
//!     vec![Role::Perpetrator],
//! );
//! incident.acts.push(Act {
//!     id: ActId::new(),
//!     victim: lawyer.id,
//!     perpetrator: group.id,
//!     act_type: TermCode::new("beating"),
//!     time: TimePoint::approximate(now),
//!     description: String::new(),
//! });
//! incident.parties.extend([lawyer, group]);
//! assert_eq!(thesaurus.label(&incident.acts[0].act_type, "ru"), "Избиение");
//!
//! incident.validate(&thesaurus).unwrap();
//! let json = incident.to_json();
//! assert_eq!(Incident::from_json(&json).unwrap(), incident);
//!
//! // Every problem is reported, with where it is.
//! incident.title = "  ".into();
//! incident.parties[1].kind = PartyKind::Organisation { name: String::new() };
//! let errors = incident.validate(&thesaurus).unwrap_err();
//! assert!(errors.contains("title", "required"));
//! assert!(errors.contains("parties[1].name", "required"));
//! assert_eq!(errors.to_string(), "title: this must be filled in; parties[1].name: this must be filled in");
//! ```

#![forbid(unsafe_code)]

mod attachment;
mod draft;
mod error;
mod ids;
mod incident;
mod location;
mod log;
mod party;
mod thesaurus;
mod time;
mod validate;

pub use attachment::{AttachmentMeta, MAX_FILE_NAME_CHARS, Sha256, media_type_for_name};
pub use draft::{ActDraft, IncidentDraft, InterventionDraft, PartyDraft, SourceDraft};
pub use error::ModelError;
pub use ids::{
    ActId, AttachmentId, DeviceId, EntryId, IncidentId, InterventionId, ParseIdError, PartyId,
    SourceId,
};
pub use incident::{
    Act, Confidentiality, Incident, IncidentStatus, Intervention, InterventionStatus, Reliability,
    Source,
};
pub use location::{CountryCode, Location};
pub use log::{LogEntry, MAX_ENTRY_CHARS};
pub use party::{Party, PartyKind, Role};
pub use thesaurus::{Term, TermCode, TermKind, Thesaurus, ThesaurusError};
pub use time::{Precision, TimePoint};
pub use validate::{
    FieldError, MAX_NAME_CHARS, MAX_TAG_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, Problem,
    ValidationErrors,
};

/// Version of the JSON form written by this build. Readers refuse data with a
/// higher version ([`ModelError::NewerSchema`]).
pub const SCHEMA_VERSION: u32 = 1;

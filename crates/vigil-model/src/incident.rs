//! The incident record (a HURIDOCS *event*) and what hangs off it.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::{
    ActId, IncidentId, InterventionId, Location, ModelError, Party, PartyId, SCHEMA_VERSION,
    SourceId, TermCode, TimePoint,
};

/// Whether an incident may still be edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Being written; may change.
    #[default]
    Draft,
    /// Finalised; further changes are new revisions made by the store.
    Sealed,
}

/// Who may see an incident.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    /// May be published.
    Public,
    /// Within the organisation (the default).
    #[default]
    Restricted,
    /// Named staff only.
    Confidential,
    /// Never leaves the devices of those working on it.
    Secret,
}

/// How far a source can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Reliability {
    /// Consistently reliable, or first-hand and corroborated.
    High,
    /// Usually reliable.
    Medium,
    /// Doubtful.
    Low,
    /// Not yet assessed.
    #[default]
    Unknown,
}

/// Where an intervention stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum InterventionStatus {
    /// Decided on, not yet done.
    #[default]
    Planned,
    /// Under way.
    InProgress,
    /// Done; waiting for the addressee to respond.
    AwaitingResponse,
    /// Finished.
    Closed,
}

/// One act committed by one perpetrator against one victim (HURIDOCS *act*).
/// Several acts make up an incident; a beating and a detention of the same
/// person are two acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// Identifies the act within the incident.
    pub id: ActId,
    /// The party who suffered the act; must have [`Role::Victim`](crate::Role::Victim).
    pub victim: PartyId,
    /// The party who committed it; must have [`Role::Perpetrator`](crate::Role::Perpetrator).
    pub perpetrator: PartyId,
    /// An act term from the thesaurus.
    pub act_type: TermCode,
    /// When it happened.
    #[serde(default)]
    pub time: TimePoint,
    /// What happened, in the monitor's words.
    #[serde(default)]
    pub description: String,
}

/// Where information about the incident came from (HURIDOCS *source*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Identifies the source within the incident.
    pub id: SourceId,
    /// The party who gave the information, if it was a party to the incident.
    #[serde(default)]
    pub party: Option<PartyId>,
    /// What the source is ("phone call from the victim's sister", "court record").
    #[serde(default)]
    pub description: String,
    /// How far it can be trusted.
    #[serde(default)]
    pub reliability: Reliability,
    /// When the information was obtained.
    #[serde(default)]
    pub obtained: TimePoint,
}

/// Something done on the victims' behalf (HURIDOCS *intervention*): a
/// complaint, an appeal, a visit, a letter to an authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Intervention {
    /// Identifies the intervention within the incident.
    pub id: InterventionId,
    /// The party who intervened.
    pub by: PartyId,
    /// The party addressed (a prosecutor's office, a ministry), if recorded.
    #[serde(default)]
    pub towards: Option<PartyId>,
    /// When.
    #[serde(default)]
    pub at: TimePoint,
    /// What was done.
    #[serde(default)]
    pub action: String,
    /// The response received, if any.
    #[serde(default)]
    pub response: String,
    /// Where it stands.
    #[serde(default)]
    pub status: InterventionStatus,
}

/// An incident: something that happened, with the parties involved, the acts
/// committed, the sources of information and the interventions made.
///
/// The JSON form ([`Incident::to_json`]) is stable and versioned by
/// `schema_version`; unknown fields are rejected so that a typo or a newer
/// writer is noticed rather than silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Version of this JSON form; [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// Identifies the incident.
    pub id: IncidentId,
    /// A one-line title.
    pub title: String,
    /// What happened, in prose.
    pub summary: String,
    /// Draft or sealed.
    pub status: IncidentStatus,
    /// When it began.
    pub start: TimePoint,
    /// When it ended.
    pub end: TimePoint,
    /// Where it happened.
    pub location: Location,
    /// Violation terms from the thesaurus.
    pub violations: Vec<TermCode>,
    /// Who may see it.
    pub confidentiality: Confidentiality,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// People, groups and organisations involved.
    pub parties: Vec<Party>,
    /// Acts committed.
    pub acts: Vec<Act>,
    /// Sources of information.
    pub sources: Vec<Source>,
    /// Interventions made.
    pub interventions: Vec<Intervention>,
    /// When the record was created (passed in, never read from a clock here).
    pub created_at: DateTime<FixedOffset>,
    /// When the record last changed.
    pub updated_at: DateTime<FixedOffset>,
}

#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    schema_version: Option<u32>,
}

impl Incident {
    /// A new draft incident with unknown times and nothing else filled in.
    pub fn new(id: IncidentId, title: impl Into<String>, now: DateTime<FixedOffset>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            id,
            title: title.into(),
            summary: String::new(),
            status: IncidentStatus::Draft,
            start: TimePoint::unknown(),
            end: TimePoint::unknown(),
            location: Location::default(),
            violations: Vec::new(),
            confidentiality: Confidentiality::default(),
            tags: Vec::new(),
            parties: Vec::new(),
            acts: Vec::new(),
            sources: Vec::new(),
            interventions: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The party with this id, if any.
    pub fn party(&self, id: PartyId) -> Option<&Party> {
        self.parties.iter().find(|p| p.id == id)
    }

    /// Whether the incident is sealed.
    pub fn is_sealed(&self) -> bool {
        self.status == IncidentStatus::Sealed
    }

    /// The stable JSON form (compact).
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: all map keys are strings and
        // every value is representable in JSON (non-finite floats become null).
        serde_json::to_string(self).expect("an incident is always representable as JSON")
    }

    /// Reads the stable JSON form. An incident written by a newer Vigil is
    /// reported as [`ModelError::NewerSchema`] rather than as a parse error.
    /// The result is not validated; call [`Incident::validate`].
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        if let Ok(VersionProbe {
            schema_version: Some(found),
        }) = serde_json::from_str::<VersionProbe>(json)
            && found > SCHEMA_VERSION
        {
            return Err(ModelError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        serde_json::from_str(json).map_err(ModelError::Json)
    }
}

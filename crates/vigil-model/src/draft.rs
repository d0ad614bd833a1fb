//! A forgiving input form for incidents written by hand or by scripts
//! (`vigil new --from FILE.json`).
//!
//! Only `title` is required. Ids may be left out and are generated. Parties
//! can be given a short `ref` name that acts, sources and interventions use
//! to point at them, so a file never needs to spell out a UUID:
//!
//! ```json
//! {
//!   "title": "Lawyer stopped at the court entrance",
//!   "violations": ["obstruction_of_lawyers"],
//!   "parties": [
//!     {"ref": "lawyer", "kind": {"kind": "person", "name": "A. B."}, "roles": ["victim"]},
//!     {"ref": "guards", "kind": {"kind": "group", "description": "court guards",
//!      "unit": "individuals", "size": 2, "size_precision": "exact"}, "roles": ["perpetrator"]}
//!   ],
//!   "acts": [{"victim": "lawyer", "perpetrator": "guards", "act_type": "detention"}]
//! }
//! ```
//!
//! Unknown fields are rejected, so a misspelt field name is reported rather
//! than ignored.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::{FieldError, Problem, ValidationErrors};
use crate::{
    Act, ActId, Confidentiality, Incident, IncidentId, Intervention, InterventionId,
    InterventionStatus, Location, ModelError, Party, PartyId, PartyKind, Reliability, Role, Source,
    SourceId, TermCode, TimePoint,
};

/// A party in a draft. `ref` is a name local to the file; `id` may be omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyDraft {
    /// Keep this id instead of generating one.
    #[serde(default)]
    pub id: Option<PartyId>,
    /// A short name other records in the file use to refer to this party.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// Person, group or organisation.
    pub kind: PartyKind,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Notes.
    #[serde(default)]
    pub notes: String,
}

/// An act in a draft. `victim` and `perpetrator` are a party's `ref` or id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActDraft {
    /// Keep this id instead of generating one.
    #[serde(default)]
    pub id: Option<ActId>,
    /// The victim's `ref` or id.
    pub victim: String,
    /// The perpetrator's `ref` or id.
    pub perpetrator: String,
    /// An act term.
    pub act_type: TermCode,
    /// When.
    #[serde(default)]
    pub time: TimePoint,
    /// What happened.
    #[serde(default)]
    pub description: String,
}

/// A source in a draft. `party` is a party's `ref` or id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDraft {
    /// Keep this id instead of generating one.
    #[serde(default)]
    pub id: Option<SourceId>,
    /// The party who gave the information (`ref` or id), if any.
    #[serde(default)]
    pub party: Option<String>,
    /// What the source is.
    #[serde(default)]
    pub description: String,
    /// How far it can be trusted.
    #[serde(default)]
    pub reliability: Reliability,
    /// When it was obtained.
    #[serde(default)]
    pub obtained: TimePoint,
}

/// An intervention in a draft. `by` and `towards` are a party's `ref` or id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterventionDraft {
    /// Keep this id instead of generating one.
    #[serde(default)]
    pub id: Option<InterventionId>,
    /// Who intervened (`ref` or id).
    pub by: String,
    /// Who was addressed (`ref` or id), if recorded.
    #[serde(default)]
    pub towards: Option<String>,
    /// When.
    #[serde(default)]
    pub at: TimePoint,
    /// What was done.
    #[serde(default)]
    pub action: String,
    /// The response.
    #[serde(default)]
    pub response: String,
    /// Where it stands.
    #[serde(default)]
    pub status: InterventionStatus,
}

/// An incident as a person or script writes it: everything but `title` optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentDraft {
    /// Title (required).
    pub title: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Start time.
    #[serde(default)]
    pub start: TimePoint,
    /// End time.
    #[serde(default)]
    pub end: TimePoint,
    /// Location.
    #[serde(default)]
    pub location: Location,
    /// Violation terms.
    #[serde(default)]
    pub violations: Vec<TermCode>,
    /// Confidentiality (default restricted).
    #[serde(default)]
    pub confidentiality: Confidentiality,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Parties.
    #[serde(default)]
    pub parties: Vec<PartyDraft>,
    /// Acts.
    #[serde(default)]
    pub acts: Vec<ActDraft>,
    /// Sources.
    #[serde(default)]
    pub sources: Vec<SourceDraft>,
    /// Interventions.
    #[serde(default)]
    pub interventions: Vec<InterventionDraft>,
}

struct Resolver {
    by_ref: HashMap<String, PartyId>,
}

impl Resolver {
    fn resolve(&self, reference: &str) -> Option<PartyId> {
        self.by_ref
            .get(reference)
            .copied()
            .or_else(|| reference.parse().ok())
    }
}

impl IncidentDraft {
    /// Reads a draft. Errors name the line and column.
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        serde_json::from_str(json).map_err(ModelError::Json)
    }

    /// Checks what only the draft can check: that every party reference is a
    /// `ref` of some party or a well-formed id, and that `ref`s are unique.
    /// Everything else is checked by [`Incident::validate`] after conversion.
    pub fn check_references(&self) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        let mut seen = HashMap::new();
        for (i, party) in self.parties.iter().enumerate() {
            if let Some(reference) = &party.reference
                && seen.insert(reference.as_str(), i).is_some()
            {
                errors.push(FieldError::new(
                    format!("parties[{i}].ref"),
                    Problem::Duplicate,
                ));
            }
        }
        let mut check = |field: String, reference: &str| {
            if !seen.contains_key(reference) && reference.parse::<PartyId>().is_err() {
                errors.push(FieldError::new(
                    field,
                    Problem::UnknownPartyRef {
                        reference: reference.to_owned(),
                    },
                ));
            }
        };
        for (i, act) in self.acts.iter().enumerate() {
            check(format!("acts[{i}].victim"), &act.victim);
            check(format!("acts[{i}].perpetrator"), &act.perpetrator);
        }
        for (i, source) in self.sources.iter().enumerate() {
            if let Some(party) = &source.party {
                check(format!("sources[{i}].party"), party);
            }
        }
        for (i, intervention) in self.interventions.iter().enumerate() {
            check(format!("interventions[{i}].by"), &intervention.by);
            if let Some(towards) = &intervention.towards {
                check(format!("interventions[{i}].towards"), towards);
            }
        }
        ValidationErrors::result(errors)
    }

    /// Builds a draft incident, generating missing ids. A reference that is
    /// neither a party `ref` nor an id becomes the nil id, which
    /// [`Incident::validate`] reports as `unknown_party`; call
    /// [`IncidentDraft::check_references`] first for a clearer message.
    pub fn into_incident(self, id: IncidentId, now: DateTime<FixedOffset>) -> Incident {
        let mut incident = Incident::new(id, self.title, now);
        incident.summary = self.summary;
        incident.start = self.start;
        incident.end = self.end;
        incident.location = self.location;
        incident.violations = self.violations;
        incident.confidentiality = self.confidentiality;
        incident.tags = self.tags;

        let mut resolver = Resolver {
            by_ref: HashMap::new(),
        };
        for draft in self.parties {
            let party_id = draft.id.unwrap_or_else(PartyId::new);
            if let Some(reference) = draft.reference {
                resolver.by_ref.entry(reference).or_insert(party_id);
            }
            incident.parties.push(Party {
                id: party_id,
                kind: draft.kind,
                roles: draft.roles,
                notes: draft.notes,
            });
        }
        let nil = PartyId::from_uuid(Uuid::nil());
        let resolve = |reference: &str| resolver.resolve(reference).unwrap_or(nil);

        incident.acts = self
            .acts
            .into_iter()
            .map(|a| Act {
                id: a.id.unwrap_or_else(ActId::new),
                victim: resolve(&a.victim),
                perpetrator: resolve(&a.perpetrator),
                act_type: a.act_type,
                time: a.time,
                description: a.description,
            })
            .collect();
        incident.sources = self
            .sources
            .into_iter()
            .map(|s| Source {
                id: s.id.unwrap_or_else(SourceId::new),
                party: s.party.as_deref().map(resolve),
                description: s.description,
                reliability: s.reliability,
                obtained: s.obtained,
            })
            .collect();
        incident.interventions = self
            .interventions
            .into_iter()
            .map(|v| Intervention {
                id: v.id.unwrap_or_else(InterventionId::new),
                by: resolve(&v.by),
                towards: v.towards.as_deref().map(resolve),
                at: v.at,
                action: v.action,
                response: v.response,
                status: v.status,
            })
            .collect();
        incident
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Thesaurus;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2024-03-08T14:30:00+06:00").unwrap()
    }

    #[test]
    fn title_only_draft() {
        let draft = IncidentDraft::from_json(r#"{"title": "Обыск в офисе"}"#).unwrap();
        let incident = draft.into_incident(IncidentId::new(), now());
        assert_eq!(incident.title, "Обыск в офисе");
        assert!(incident.validate(&Thesaurus::default_terms()).is_ok());
    }

    #[test]
    fn refs_resolve_and_result_validates() {
        let json = r#"{
          "title": "Lawyer stopped at the court entrance",
          "violations": ["obstruction_of_lawyers"],
          "start": {"precision": "approximate", "at": "2024-03-08T09:00:00+06:00"},
          "location": {"place": "Bishkek", "country": "KG"},
          "parties": [
            {"ref": "lawyer", "kind": {"kind": "person", "name": "A. B."}, "roles": ["victim", "source"]},
            {"ref": "guards", "kind": {"kind": "group", "description": "court guards",
             "unit": "individuals", "size": 2, "size_precision": "exact"}, "roles": ["perpetrator"]}
          ],
          "acts": [{"victim": "lawyer", "perpetrator": "guards", "act_type": "detention"}],
          "sources": [{"party": "lawyer", "reliability": "high"}],
          "interventions": [{"by": "lawyer", "towards": "guards", "action": "complaint"}]
        }"#;
        let draft = IncidentDraft::from_json(json).unwrap();
        draft.check_references().unwrap();
        let incident = draft.into_incident(IncidentId::new(), now());
        assert_eq!(incident.acts[0].victim, incident.parties[0].id);
        assert_eq!(incident.acts[0].perpetrator, incident.parties[1].id);
        assert_eq!(incident.sources[0].party, Some(incident.parties[0].id));
        incident.validate(&Thesaurus::default_terms()).unwrap();
    }

    #[test]
    fn unknown_ref_is_reported_with_its_path() {
        let json = r#"{"title": "x",
          "parties": [{"ref": "a", "kind": {"kind": "person", "name": "A"}, "roles": ["victim"]}],
          "acts": [{"victim": "a", "perpetrator": "nobody", "act_type": "beating"}]}"#;
        let draft = IncidentDraft::from_json(json).unwrap();
        let errors = draft.check_references().unwrap_err();
        assert!(errors.contains("acts[0].perpetrator", "unknown_party"));
        let incident = draft.into_incident(IncidentId::new(), now());
        let errors = incident.validate(&Thesaurus::default_terms()).unwrap_err();
        assert!(errors.contains("acts[0].perpetrator", "unknown_party"));
    }

    #[test]
    fn misspelt_field_and_missing_title_are_errors() {
        let err = IncidentDraft::from_json(r#"{"title": "x", "sumary": "y"}"#).unwrap_err();
        assert!(err.to_string().contains("sumary"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = IncidentDraft::from_json(r#"{"summary": "y"}"#).unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
    }
}

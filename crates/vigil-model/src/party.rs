//! People, groups and organisations involved in an incident (HURIDOCS *persons*).

use serde::{Deserialize, Serialize};

use crate::{PartyId, Precision};

/// The part a party plays in an incident. A party may have several roles
/// (a victim who is also the source of the report, for example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Suffered an act.
    Victim,
    /// Committed an act.
    Perpetrator,
    /// Provided information about the incident.
    Source,
    /// Saw or heard what happened.
    Witness,
    /// Acted on the victims' behalf (lawyer, ombudsperson, NGO, embassy...).
    InterveningParty,
}

impl Role {
    /// The English name of the role, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Victim => "victim",
            Role::Perpetrator => "perpetrator",
            Role::Source => "source",
            Role::Witness => "witness",
            Role::InterveningParty => "intervening party",
        }
    }
}

/// What kind of party this is, with the details that kind has.
///
/// Written in JSON with a `kind` tag, e.g. `{"kind": "person", "name": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartyKind {
    /// One individual.
    Person {
        /// Name, or a pseudonym if the real name must not be recorded.
        name: String,
        /// Gender as the person describes it.
        #[serde(default)]
        gender: Option<String>,
        /// Occupation, e.g. "lawyer", "journalist".
        #[serde(default)]
        occupation: Option<String>,
    },
    /// Several people counted together, identified or not: "nine unknown
    /// individuals" is `description: "unknown individuals"`, `unit:
    /// "individuals"`, `size: Some(9)`.
    Group {
        /// Name, if the group has one (e.g. a unit or a crowd's banner).
        #[serde(default)]
        name: String,
        /// Who they are, e.g. "unknown men in plain clothes".
        #[serde(default)]
        description: String,
        /// What is being counted, e.g. "individuals", "vehicles".
        #[serde(default)]
        unit: String,
        /// How many, if known (at least 1).
        #[serde(default)]
        size: Option<u32>,
        /// How well `size` is known.
        #[serde(default)]
        size_precision: Precision,
    },
    /// An organisation or institution (police department, NGO, court...).
    Organisation {
        /// Its name.
        name: String,
    },
}

/// A party to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Identifies the party within the incident.
    pub id: PartyId,
    /// Person, group or organisation, with its details.
    pub kind: PartyKind,
    /// The parts this party plays.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: String,
}

impl Party {
    /// A party with the given kind and roles and no notes.
    pub fn new(id: PartyId, kind: PartyKind, roles: Vec<Role>) -> Self {
        Self {
            id,
            kind,
            roles,
            notes: String::new(),
        }
    }

    /// Whether the party has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// A short name to show in lists: the name, or for an unnamed group its
    /// size and description ("9 unknown individuals").
    pub fn display_name(&self) -> String {
        match &self.kind {
            PartyKind::Person { name, .. } | PartyKind::Organisation { name } => name.clone(),
            PartyKind::Group {
                name,
                description,
                unit,
                size,
                ..
            } => {
                if !name.trim().is_empty() {
                    return name.clone();
                }
                let what = if description.trim().is_empty() {
                    unit.as_str()
                } else {
                    description.as_str()
                };
                match size {
                    Some(n) if what.is_empty() => n.to_string(),
                    Some(n) => format!("{n} {what}"),
                    None => what.to_owned(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn group_display_name() {
        let group = Party::new(
            PartyId::new(),
            PartyKind::Group {
                name: String::new(),
                description: "unknown individuals".into(),
                unit: "individuals".into(),
                size: Some(9),
                size_precision: Precision::Exact,
            },
            vec![Role::Perpetrator],
        );
        assert_eq!(group.display_name(), "9 unknown individuals");
    }

    #[test]
    fn kind_is_internally_tagged() {
        let kind = PartyKind::Organisation {
            name: "ОВД".into()
        };
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, r#"{"kind":"organisation","name":"ОВД"}"#);
        let bad = r#"{"kind":"organisation","name":"x","nmae":"y"}"#;
        assert!(serde_json::from_str::<PartyKind>(bad).is_err());
    }
}

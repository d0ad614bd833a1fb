//! Validation of incidents: every problem is reported, each with the path of
//! the field it concerns (`parties[2].size`), a stable code for programs and
//! an English sentence for people.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;

use crate::{
    Incident, Location, PartyId, PartyKind, Precision, Role, SCHEMA_VERSION, TermCode, TermKind,
    Thesaurus, TimePoint,
};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest summary, description, note, action or response, in characters.
pub const MAX_TEXT_CHARS: usize = 50_000;
/// Longest name, place, occupation, counting unit and similar short fields, in characters.
pub const MAX_NAME_CHARS: usize = 500;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// What is wrong with a field. [`Problem::code`] is stable and meant for
/// programs (the UI translates by it); `Display` is English for people.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// Empty or only whitespace, but required.
    Required,
    /// Longer than allowed.
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// Repeats an earlier value in the same list.
    Duplicate,
    /// An id used by more than one record of the same kind.
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// Not a term in the thesaurus.
    UnknownTerm {
        /// The code given.
        code: TermCode,
    },
    /// A term of the wrong kind (an act type where a violation type belongs).
    WrongTermKind {
        /// The code given.
        code: TermCode,
        /// The kind required here.
        expected: TermKind,
    },
    /// A number outside its allowed range.
    OutOfRange {
        /// What the number is, e.g. "a group size".
        what: &'static str,
        /// The allowed range, e.g. "at least 1".
        range: &'static str,
    },
    /// Only one of latitude and longitude is given.
    IncompleteCoordinates,
    /// Not an ISO 3166-1 alpha-2 country code.
    InvalidCountry {
        /// The code given.
        code: String,
    },
    /// Refers to a party that is not in the incident.
    UnknownParty {
        /// The id given.
        id: PartyId,
    },
    /// In a draft, names a party by a `ref` that no party has (and that is not an id).
    UnknownPartyRef {
        /// The reference given.
        reference: String,
    },
    /// Refers to a party that lacks the role needed here.
    MissingRole {
        /// The party's display name.
        party: String,
        /// The role it needs.
        role: Role,
    },
    /// The precision says the time is known, but no time is given.
    TimeRequired,
    /// The precision is unknown, but a time is given.
    TimeNotAllowed,
    /// The end time is before the start time.
    EndBeforeStart,
    /// A log entry says it happened after it was written.
    HappenedAfterWritten,
    /// A correction names an entry that is not an earlier entry of the same incident.
    UnknownEntry {
        /// The id given.
        id: String,
    },
    /// `updated_at` is before `created_at`.
    UpdatedBeforeCreated,
    /// The record claims a schema version this build does not validate.
    UnsupportedSchema {
        /// The version in the record.
        found: u32,
        /// The version this build writes.
        supported: u32,
    },
}

impl Problem {
    /// A stable, machine-readable code, e.g. `"too_long"`.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::TooLong { .. } => "too_long",
            Problem::Duplicate => "duplicate",
            Problem::DuplicateId { .. } => "duplicate_id",
            Problem::UnknownTerm { .. } => "unknown_term",
            Problem::WrongTermKind { .. } => "wrong_term_kind",
            Problem::OutOfRange { .. } => "out_of_range",
            Problem::IncompleteCoordinates => "incomplete_coordinates",
            Problem::InvalidCountry { .. } => "invalid_country",
            Problem::UnknownParty { .. } | Problem::UnknownPartyRef { .. } => "unknown_party",
            Problem::MissingRole { .. } => "missing_role",
            Problem::TimeRequired => "time_required",
            Problem::TimeNotAllowed => "time_not_allowed",
            Problem::EndBeforeStart => "end_before_start",
            Problem::HappenedAfterWritten => "happened_after_written",
            Problem::UnknownEntry { .. } => "unknown_entry",
            Problem::UpdatedBeforeCreated => "updated_before_created",
            Problem::UnsupportedSchema { .. } => "unsupported_schema",
        }
    }

    /// The values a translated message needs besides the code (`max`, `code`, `id`, `party`,
    /// `role`, `version`), as text.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::TooLong { max } => vec![("max", max.to_string())],
            Problem::DuplicateId { id } | Problem::UnknownEntry { id } => vec![("id", id.clone())],
            Problem::UnknownTerm { code } | Problem::WrongTermKind { code, .. } => {
                vec![("code", code.as_str().to_owned())]
            }
            Problem::InvalidCountry { code } => vec![("code", code.clone())],
            Problem::UnknownParty { id } => vec![("id", id.to_string())],
            Problem::UnknownPartyRef { reference } => vec![("id", reference.clone())],
            Problem::MissingRole { party, role } => {
                vec![("party", party.clone()), ("role", role.as_str().to_owned())]
            }
            Problem::UnsupportedSchema { found, .. } => vec![("version", found.to_string())],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("this must be filled in"),
            Problem::TooLong { max } => write!(f, "this is longer than {max} characters"),
            Problem::Duplicate => f.write_str("this repeats an earlier entry; remove one"),
            Problem::DuplicateId { id } => write!(f, "the id {id} is used more than once"),
            Problem::UnknownTerm { code } => {
                write!(f, "{code:?} is not a term in the thesaurus")
            }
            Problem::WrongTermKind { code, expected } => {
                write!(f, "{code:?} is not a {} type", expected.as_str())
            }
            Problem::OutOfRange { what, range } => write!(f, "{what} must be {range}"),
            Problem::IncompleteCoordinates => {
                f.write_str("give both latitude and longitude, or neither")
            }
            Problem::InvalidCountry { code } => write!(
                f,
                "{code:?} is not an ISO 3166-1 alpha-2 country code (such as KG or RU)"
            ),
            Problem::UnknownParty { id } => {
                write!(f, "there is no party with id {id} in this incident")
            }
            Problem::UnknownPartyRef { reference } => write!(
                f,
                "no party has the ref {reference:?} (and it is not a party id)"
            ),
            Problem::MissingRole { party, role } => {
                write!(f, "{party:?} does not have the {} role", role.as_str())
            }
            Problem::TimeRequired => {
                f.write_str("a time is needed unless the precision is \"unknown\"")
            }
            Problem::TimeNotAllowed => {
                f.write_str("the precision is \"unknown\", so no time may be given")
            }
            Problem::EndBeforeStart => f.write_str("the end is before the start"),
            Problem::HappenedAfterWritten => {
                f.write_str("the time it happened is after the time it was written")
            }
            Problem::UnknownEntry { id } => {
                write!(
                    f,
                    "entry {id} is not an earlier entry of this incident's log"
                )
            }
            Problem::UpdatedBeforeCreated => {
                f.write_str("the last update is before the creation time")
            }
            Problem::UnsupportedSchema { found, supported } => write!(
                f,
                "format version {found} is not the version this Vigil writes ({supported})"
            ),
        }
    }
}

/// One problem at one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field, e.g. `title`, `parties[2].size`, `acts[0].victim`.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl FieldError {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// All the problems found in a record (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// `Ok` if there are no errors.
    pub fn result(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self(errors))
        }
    }

    /// The individual problems.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// Whether there is a problem with this code at this field.
    pub fn contains(&self, field: &str, code: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.field == field && e.problem.code() == code)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn push(&mut self, field: impl Into<String>, problem: Problem) {
        self.errors.push(FieldError::new(field, problem));
    }

    fn text(&mut self, field: impl Into<String>, value: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.push(field, Problem::Required);
        } else if value.chars().count() > max {
            self.push(field, Problem::TooLong { max });
        }
    }

    fn time(&mut self, field: &str, time: &TimePoint) {
        match (time.precision, time.at) {
            (Precision::Exact | Precision::Approximate, None) => {
                self.push(format!("{field}.at"), Problem::TimeRequired);
            }
            (Precision::Unknown, Some(_)) => {
                self.push(format!("{field}.at"), Problem::TimeNotAllowed);
            }
            _ => {}
        }
    }

    fn term(&mut self, field: String, code: &TermCode, kind: TermKind, thesaurus: &Thesaurus) {
        if code.as_str().trim().is_empty() {
            self.push(field, Problem::Required);
            return;
        }
        match thesaurus.get(code) {
            None => self.push(field, Problem::UnknownTerm { code: code.clone() }),
            Some(term) if term.kind != kind => self.push(
                field,
                Problem::WrongTermKind {
                    code: code.clone(),
                    expected: kind,
                },
            ),
            Some(_) => {}
        }
    }

    fn party_ref(&mut self, field: String, id: PartyId, incident: &Incident, role: Option<Role>) {
        match incident.party(id) {
            None => self.push(field, Problem::UnknownParty { id }),
            Some(party) => {
                if let Some(role) = role
                    && !party.has_role(role)
                {
                    self.push(
                        field,
                        Problem::MissingRole {
                            party: party.display_name(),
                            role,
                        },
                    );
                }
            }
        }
    }

    fn unique_ids<T: Hash + Eq + fmt::Display>(
        &mut self,
        list: &str,
        ids: impl Iterator<Item = T>,
    ) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            let text = id.to_string();
            if !seen.insert(id) {
                self.push(format!("{list}[{i}].id"), Problem::DuplicateId { id: text });
            }
        }
    }

    fn location(&mut self, location: &Location) {
        self.text("location.place", &location.place, false, MAX_NAME_CHARS);
        self.text(
            "location.admin_area",
            &location.admin_area,
            false,
            MAX_NAME_CHARS,
        );
        if let Some(country) = &location.country
            && !country.is_assigned()
        {
            self.push(
                "location.country",
                Problem::InvalidCountry {
                    code: country.as_str().to_owned(),
                },
            );
        }
        if let Some(lat) = location.latitude
            && !(-90.0..=90.0).contains(&lat)
        {
            self.push(
                "location.latitude",
                Problem::OutOfRange {
                    what: "latitude",
                    range: "between -90 and 90 degrees",
                },
            );
        }
        if let Some(lon) = location.longitude
            && !(-180.0..=180.0).contains(&lon)
        {
            self.push(
                "location.longitude",
                Problem::OutOfRange {
                    what: "longitude",
                    range: "between -180 and 180 degrees",
                },
            );
        }
        if location.latitude.is_some() != location.longitude.is_some() {
            self.push("location", Problem::IncompleteCoordinates);
        }
    }
}

impl Incident {
    /// Checks the incident against the model's rules and `thesaurus`, and
    /// returns every problem found (not just the first).
    ///
    /// Rules: the title is required (at most [`MAX_TITLE_CHARS`]); texts are
    /// bounded; times carry a moment exactly when their precision is known;
    /// the end is not before the start; the country is an assigned ISO code
    /// and coordinates are in range and given both or neither; violation and
    /// act codes are known terms of the right kind; tags are non-blank, at
    /// most [`MAX_TAG_CHARS`] and not repeated; ids are unique within each
    /// list; people and organisations have names and groups a name or a
    /// description, with a size of at least 1 if given; acts name a victim
    /// and a perpetrator that are parties with those roles; sources and
    /// interventions refer only to parties of the incident.
    pub fn validate(&self, thesaurus: &Thesaurus) -> Result<(), ValidationErrors> {
        let mut c = Checker { errors: Vec::new() };

        if self.schema_version != SCHEMA_VERSION {
            c.push(
                "schema_version",
                Problem::UnsupportedSchema {
                    found: self.schema_version,
                    supported: SCHEMA_VERSION,
                },
            );
        }
        c.text("title", &self.title, true, MAX_TITLE_CHARS);
        c.text("summary", &self.summary, false, MAX_TEXT_CHARS);
        c.time("start", &self.start);
        c.time("end", &self.end);
        if let (Some(start), Some(end)) = (self.start.at, self.end.at)
            && end < start
        {
            c.push("end", Problem::EndBeforeStart);
        }
        if self.updated_at < self.created_at {
            c.push("updated_at", Problem::UpdatedBeforeCreated);
        }
        c.location(&self.location);

        let mut seen_violations = HashSet::new();
        for (i, code) in self.violations.iter().enumerate() {
            let field = format!("violations[{i}]");
            if !seen_violations.insert(code) {
                c.push(field, Problem::Duplicate);
            } else {
                c.term(field, code, TermKind::Violation, thesaurus);
            }
        }

        let mut seen_tags = HashSet::new();
        for (i, tag) in self.tags.iter().enumerate() {
            let field = format!("tags[{i}]");
            let trimmed = tag.trim();
            if trimmed.is_empty() {
                c.push(field, Problem::Required);
            } else if tag.chars().count() > MAX_TAG_CHARS {
                c.push(field, Problem::TooLong { max: MAX_TAG_CHARS });
            } else if !seen_tags.insert(trimmed.to_lowercase()) {
                c.push(field, Problem::Duplicate);
            }
        }

        c.unique_ids("parties", self.parties.iter().map(|p| p.id));
        for (i, party) in self.parties.iter().enumerate() {
            let at = |name: &str| format!("parties[{i}].{name}");
            match &party.kind {
                PartyKind::Person {
                    name,
                    gender,
                    occupation,
                } => {
                    c.text(at("name"), name, true, MAX_NAME_CHARS);
                    if let Some(gender) = gender {
                        c.text(at("gender"), gender, false, MAX_NAME_CHARS);
                    }
                    if let Some(occupation) = occupation {
                        c.text(at("occupation"), occupation, false, MAX_NAME_CHARS);
                    }
                }
                PartyKind::Organisation { name } => {
                    c.text(at("name"), name, true, MAX_NAME_CHARS);
                }
                PartyKind::Group {
                    name,
                    description,
                    unit,
                    size,
                    size_precision: _,
                } => {
                    // An unnamed group ("unknown men in plain clothes") is
                    // fine, but it must be described somehow.
                    c.text(
                        at("name"),
                        name,
                        description.trim().is_empty(),
                        MAX_NAME_CHARS,
                    );
                    c.text(at("description"), description, false, MAX_TEXT_CHARS);
                    c.text(at("unit"), unit, false, MAX_NAME_CHARS);
                    if *size == Some(0) {
                        c.push(
                            at("size"),
                            Problem::OutOfRange {
                                what: "a group size",
                                range: "at least 1",
                            },
                        );
                    }
                }
            }
            c.text(at("notes"), &party.notes, false, MAX_TEXT_CHARS);
            let mut seen_roles = HashSet::new();
            for (j, role) in party.roles.iter().enumerate() {
                if !seen_roles.insert(role) {
                    c.push(format!("parties[{i}].roles[{j}]"), Problem::Duplicate);
                }
            }
        }

        c.unique_ids("acts", self.acts.iter().map(|a| a.id));
        for (i, act) in self.acts.iter().enumerate() {
            let at = |name: &str| format!("acts[{i}].{name}");
            c.party_ref(at("victim"), act.victim, self, Some(Role::Victim));
            c.party_ref(
                at("perpetrator"),
                act.perpetrator,
                self,
                Some(Role::Perpetrator),
            );
            c.term(at("act_type"), &act.act_type, TermKind::Act, thesaurus);
            c.time(&at("time"), &act.time);
            c.text(at("description"), &act.description, false, MAX_TEXT_CHARS);
        }

        c.unique_ids("sources", self.sources.iter().map(|s| s.id));
        for (i, source) in self.sources.iter().enumerate() {
            let at = |name: &str| format!("sources[{i}].{name}");
            if let Some(party) = source.party {
                c.party_ref(at("party"), party, self, None);
            }
            c.text(
                at("description"),
                &source.description,
                false,
                MAX_TEXT_CHARS,
            );
            c.time(&at("obtained"), &source.obtained);
        }

        c.unique_ids("interventions", self.interventions.iter().map(|v| v.id));
        for (i, intervention) in self.interventions.iter().enumerate() {
            let at = |name: &str| format!("interventions[{i}].{name}");
            c.party_ref(at("by"), intervention.by, self, None);
            if let Some(towards) = intervention.towards {
                c.party_ref(at("towards"), towards, self, None);
            }
            c.time(&at("at"), &intervention.at);
            c.text(at("action"), &intervention.action, false, MAX_TEXT_CHARS);
            c.text(
                at("response"),
                &intervention.response,
                false,
                MAX_TEXT_CHARS,
            );
        }

        ValidationErrors::result(c.errors)
    }
}

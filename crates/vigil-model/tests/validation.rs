//! Each validation rule, triggered at the right field path.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, FixedOffset};
use vigil_model::*;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-03-08T14:30:00+06:00").unwrap()
}

/// The complete, valid incident every rule below breaks in one place.
fn valid() -> Incident {
    vigil_fixtures::incidents::full(now())
}

fn errors(incident: &Incident) -> ValidationErrors {
    incident
        .validate(&Thesaurus::default_terms())
        .expect_err("expected validation errors")
}

#[track_caller]
fn assert_problem(incident: &Incident, field: &str, code: &str) {
    let errs = errors(incident);
    assert!(
        errs.contains(field, code),
        "expected {code} at {field}, got: {errs}"
    );
}

#[test]
fn valid_incident_with_nine_unknown_individuals_passes() {
    valid().validate(&Thesaurus::default_terms()).unwrap();
    assert_eq!(valid().parties[1].display_name(), "9 unknown individuals");
}

#[test]
fn new_incident_is_valid() {
    Incident::new(IncidentId::new(), "x", now())
        .validate(&Thesaurus::empty())
        .unwrap();
}

#[test]
fn required() {
    let mut i = valid();
    i.title = " \n".into();
    assert_problem(&i, "title", "required");

    let mut i = valid();
    i.parties[0].kind = PartyKind::Person {
        name: String::new(),
        gender: None,
        occupation: None,
    };
    assert_problem(&i, "parties[0].name", "required");

    let mut i = valid();
    i.parties[1].kind = PartyKind::Group {
        name: String::new(),
        description: String::new(),
        unit: String::new(),
        size: None,
        size_precision: Precision::Unknown,
    };
    assert_problem(&i, "parties[1].name", "required");

    let mut i = valid();
    i.tags.push("  ".into());
    assert_problem(&i, "tags[2]", "required");
}

#[test]
fn too_long() {
    let mut i = valid();
    i.title = "я".repeat(MAX_TITLE_CHARS + 1);
    assert_problem(&i, "title", "too_long");
    i.title = "я".repeat(MAX_TITLE_CHARS);
    i.validate(&Thesaurus::default_terms()).unwrap();

    let mut i = valid();
    i.summary = "a".repeat(MAX_TEXT_CHARS + 1);
    assert_problem(&i, "summary", "too_long");

    let mut i = valid();
    i.tags[1] = "t".repeat(MAX_TAG_CHARS + 1);
    assert_problem(&i, "tags[1]", "too_long");
}

#[test]
fn duplicate_tags_and_violations() {
    let mut i = valid();
    i.tags.push("OSH".into());
    assert_problem(&i, "tags[2]", "duplicate");

    let mut i = valid();
    i.violations.push(TermCode::new("attack_on_hrd"));
    assert_problem(&i, "violations[2]", "duplicate");
}

#[test]
fn unknown_and_wrong_kind_terms() {
    let mut i = valid();
    i.violations[1] = TermCode::new("no_such_violation");
    assert_problem(&i, "violations[1]", "unknown_term");

    let mut i = valid();
    i.violations[0] = TermCode::new("beating");
    assert_problem(&i, "violations[0]", "wrong_term_kind");

    let mut i = valid();
    i.acts[0].act_type = TermCode::new("arbitrary_detention");
    assert_problem(&i, "acts[0].act_type", "wrong_term_kind");

    let mut i = valid();
    i.acts[0].act_type = TermCode::new("teleportation");
    assert_problem(&i, "acts[0].act_type", "unknown_term");
}

#[test]
fn custom_terms_are_accepted_after_extend() {
    let mut i = valid();
    i.violations.push(TermCode::new("land_grabbing"));
    let mut thesaurus = Thesaurus::default_terms();
    assert!(i.validate(&thesaurus).is_err());
    thesaurus
        .extend([Term {
            code: TermCode::new("land_grabbing"),
            kind: TermKind::Violation,
            labels: [("en".to_owned(), "Land grabbing".to_owned())].into(),
            parent: Some(TermCode::new("property_rights")),
        }])
        .unwrap();
    i.validate(&thesaurus).unwrap();
}

#[test]
fn out_of_range() {
    let mut i = valid();
    if let PartyKind::Group { size, .. } = &mut i.parties[1].kind {
        *size = Some(0);
    }
    assert_problem(&i, "parties[1].size", "out_of_range");
    let errs = errors(&i);
    assert_eq!(
        errs.to_string(),
        "parties[1].size: a group size must be at least 1"
    );

    let mut i = valid();
    i.location.latitude = Some(90.5);
    i.location.longitude = Some(f64::NAN);
    assert_problem(&i, "location.latitude", "out_of_range");
    assert_problem(&i, "location.longitude", "out_of_range");
}

#[test]
fn incomplete_coordinates() {
    let mut i = valid();
    i.location.longitude = None;
    assert_problem(&i, "location", "incomplete_coordinates");
}

#[test]
fn invalid_country() {
    let mut i = valid();
    i.location.country = serde_json::from_str("\"XX\"").unwrap();
    assert_problem(&i, "location.country", "invalid_country");
}

#[test]
fn unknown_party_and_missing_role() {
    let mut i = valid();
    i.acts[0].victim = PartyId::new();
    assert_problem(&i, "acts[0].victim", "unknown_party");

    let mut i = valid();
    i.acts[0].perpetrator = i.parties[0].id; // the victim, not a perpetrator
    assert_problem(&i, "acts[0].perpetrator", "missing_role");
    assert!(errors(&i).to_string().contains("perpetrator role"));

    let mut i = valid();
    i.acts[0].victim = i.parties[1].id;
    assert_problem(&i, "acts[0].victim", "missing_role");

    let mut i = valid();
    i.sources[0].party = Some(PartyId::new());
    assert_problem(&i, "sources[0].party", "unknown_party");

    let mut i = valid();
    i.interventions[0].by = PartyId::new();
    i.interventions[0].towards = Some(PartyId::new());
    assert_problem(&i, "interventions[0].by", "unknown_party");
    assert_problem(&i, "interventions[0].towards", "unknown_party");
}

#[test]
fn time_required_and_not_allowed() {
    let mut i = valid();
    i.start.at = None;
    assert_problem(&i, "start.at", "time_required");

    let mut i = valid();
    i.acts[0].time = TimePoint {
        precision: Precision::Unknown,
        at: Some(now()),
    };
    assert_problem(&i, "acts[0].time.at", "time_not_allowed");

    let mut i = valid();
    i.sources[0].obtained.precision = Precision::Approximate;
    assert_problem(&i, "sources[0].obtained.at", "time_required");
}

#[test]
fn end_before_start_compares_instants_across_offsets() {
    let mut i = valid();
    i.end = TimePoint::exact(now() - Duration::minutes(1));
    assert_problem(&i, "end", "end_before_start");

    // 09:00+01:00 is 14:00+06:00, before 14:30+06:00.
    let mut i = valid();
    i.end = TimePoint::exact(DateTime::parse_from_rfc3339("2024-03-08T09:00:00+01:00").unwrap());
    assert_problem(&i, "end", "end_before_start");
    // 09:45+01:00 is 14:45+06:00, after.
    i.end = TimePoint::exact(DateTime::parse_from_rfc3339("2024-03-08T09:45:00+01:00").unwrap());
    i.validate(&Thesaurus::default_terms()).unwrap();
}

#[test]
fn duplicate_ids() {
    let mut i = valid();
    let mut copy = i.parties[0].clone();
    copy.kind = PartyKind::Organisation { name: "X".into() };
    i.parties.push(copy);
    assert_problem(&i, "parties[3].id", "duplicate_id");

    let mut i = valid();
    i.acts.push(i.acts[0].clone());
    assert_problem(&i, "acts[1].id", "duplicate_id");
}

#[test]
fn updated_before_created_and_schema_version() {
    let mut i = valid();
    i.updated_at = now() - Duration::seconds(1);
    assert_problem(&i, "updated_at", "updated_before_created");

    let mut i = valid();
    i.schema_version = 0;
    assert_problem(&i, "schema_version", "unsupported_schema");
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let mut i = valid();
    i.title.clear();
    i.tags.push(String::new());
    i.violations.push(TermCode::new("nope"));
    i.acts[0].victim = PartyId::new();
    i.location.country = serde_json::from_str("\"ZZ\"").unwrap();
    let errs = errors(&i);
    assert_eq!(errs.0.len(), 5, "{errs}");
    let codes: Vec<_> = errs.iter().map(|e| e.problem.code()).collect();
    assert_eq!(
        codes,
        [
            "required",
            "invalid_country",
            "unknown_term",
            "required",
            "unknown_party"
        ]
    );
}

#[test]
fn log_entry_validation() {
    let mut entry = LogEntry {
        id: EntryId::new(),
        incident: IncidentId::new(),
        seq: 1,
        at: now(),
        text: "Полиция прибыла".into(),
        device: DeviceId::new(),
        flagged: true,
        corrects: None,
        happened_at: None,
    };
    entry.validate().unwrap();
    entry.seq = 0;
    entry.text = "   ".into();
    let errs = entry.validate().unwrap_err();
    assert!(errs.contains("seq", "out_of_range"));
    assert!(errs.contains("text", "required"));
    entry.seq = 2;
    entry.text = "x".repeat(MAX_ENTRY_CHARS + 1);
    assert!(entry.validate().unwrap_err().contains("text", "too_long"));
    entry.text = "ё".repeat(MAX_ENTRY_CHARS);
    entry.validate().unwrap();
}

#[test]
fn a_correction_names_another_entry_and_an_event_happens_before_it_is_noted() {
    let at = now();
    let mut entry = LogEntry {
        id: EntryId::new(),
        incident: IncidentId::new(),
        seq: 2,
        at,
        text: "Nine men, not eight".into(),
        device: DeviceId::new(),
        flagged: false,
        corrects: Some(EntryId::new()),
        happened_at: Some(at - Duration::minutes(12)),
    };
    entry.validate().unwrap();
    // Both stay out of the JSON of an entry without them, so older entries keep their bytes.
    let plain = LogEntry {
        corrects: None,
        happened_at: None,
        ..entry.clone()
    };
    assert!(!plain.to_json().contains("corrects"));
    assert!(!plain.to_json().contains("happened_at"));
    assert_eq!(LogEntry::from_json(&entry.to_json()).unwrap(), entry);

    entry.corrects = Some(entry.id);
    assert!(
        entry
            .validate()
            .unwrap_err()
            .contains("corrects", "unknown_entry")
    );
    entry.corrects = None;
    entry.happened_at = Some(at + Duration::seconds(1));
    assert!(
        entry
            .validate()
            .unwrap_err()
            .contains("happened_at", "happened_after_written")
    );
    // The same instant in another offset is not later.
    entry.happened_at = Some(at.with_timezone(&FixedOffset::east_opt(6 * 3600).unwrap()));
    entry.validate().unwrap();
}

#[test]
fn attachment_validation() {
    let mut meta = AttachmentMeta {
        id: AttachmentId::new(),
        incident: IncidentId::new(),
        original_name: "photo.jpg".into(),
        media_type: "image/jpeg".into(),
        size: 10,
        sha256: Sha256([7; 32]),
        added_at: now(),
    };
    meta.validate().unwrap();
    meta.original_name.clear();
    meta.media_type.clear();
    let errs = meta.validate().unwrap_err();
    assert!(errs.contains("original_name", "required"));
    assert!(errs.contains("media_type", "required"));
}

#[test]
fn newer_schema_is_refused_before_parsing_the_rest() {
    let mut json: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    json["schema_version"] = 2.into();
    json["some_future_field"] = true.into();
    let err = Incident::from_json(&json.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::NewerSchema {
                found: 2,
                supported: 1
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "newer_schema");
    assert!(err.to_string().contains("newer version of Vigil"));
}

#[test]
fn json_errors_name_line_column_and_problem() {
    let mut json: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    json["colour"] = "red".into();
    let err = Incident::from_json(&json.to_string()).unwrap_err();
    assert_eq!(err.code(), "invalid_json");
    let message = err.to_string();
    assert!(message.contains("unknown field `colour`"), "{message}");
    assert!(message.contains("line 1 column"), "{message}");

    let err = Incident::from_json("{\n  \"schema_version\": 1,\n  oops").unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn offsets_are_preserved_in_json() {
    let mut i = valid();
    let t = DateTime::parse_from_rfc3339("2024-03-08T09:00:00.123-03:30").unwrap();
    i.start = TimePoint::exact(t);
    let json = i.to_json();
    assert!(json.contains("\"2024-03-08T09:00:00.123-03:30\""), "{json}");
    let back = Incident::from_json(&json).unwrap();
    assert_eq!(back.start.at.unwrap().offset(), t.offset());
}

//! Property tests: every record survives its JSON form unchanged, including
//! the UTC offset of every time (which `DateTime`'s `PartialEq` ignores, so
//! the JSON text is compared as well).
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, FixedOffset};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;
use vigil_model::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[а-яА-ЯёЁңөүҢӨҮ ,.!?-]{0,40}",
        "\\PC{0,30}",
        Just(String::new()),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn datetime() -> impl Strategy<Value = DateTime<FixedOffset>> {
    // 1900-01-01 .. 2100-01-01, any nanosecond, offsets in whole minutes up to ±14 h.
    (
        -2_208_988_800i64..4_102_444_800i64,
        0u32..1_000_000_000,
        -(14 * 60)..=(14 * 60i32),
    )
        .prop_map(|(secs, nanos, offset_minutes)| {
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            DateTime::from_timestamp(secs, nanos)
                .unwrap()
                .with_timezone(&offset)
        })
}

fn precision() -> impl Strategy<Value = Precision> {
    prop_oneof![
        Just(Precision::Exact),
        Just(Precision::Approximate),
        Just(Precision::Unknown),
    ]
}

fn time_point() -> impl Strategy<Value = TimePoint> {
    // Includes inconsistent combinations: the JSON form must carry them too.
    (precision(), option::of(datetime())).prop_map(|(precision, at)| TimePoint { precision, at })
}

fn term() -> impl Strategy<Value = TermCode> {
    prop_oneof![
        Just(TermCode::new("beating")),
        Just(TermCode::new("arbitrary_detention")),
        "[a-z_]{1,20}".prop_map(TermCode::new),
    ]
}

fn location() -> impl Strategy<Value = Location> {
    (
        text(),
        text(),
        option::of(prop_oneof![
            Just("KG".to_owned()),
            Just("RU".to_owned()),
            "[A-Z]{2}".prop_map(String::from),
        ]),
        option::of(-90.0f64..=90.0),
        option::of(-180.0f64..=180.0),
    )
        .prop_map(
            |(place, admin_area, country, latitude, longitude)| Location {
                place,
                admin_area,
                country: country.map(|c| serde_json::from_value(c.into()).unwrap()),
                latitude,
                longitude,
            },
        )
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Victim),
        Just(Role::Perpetrator),
        Just(Role::Source),
        Just(Role::Witness),
        Just(Role::InterveningParty),
    ]
}

fn party_kind() -> impl Strategy<Value = PartyKind> {
    prop_oneof![
        (text(), option::of(text()), option::of(text())).prop_map(|(name, gender, occupation)| {
            PartyKind::Person {
                name,
                gender,
                occupation,
            }
        }),
        (
            text(),
            text(),
            text(),
            option::of(any::<u32>()),
            precision()
        )
            .prop_map(
                |(name, description, unit, size, size_precision)| PartyKind::Group {
                    name,
                    description,
                    unit,
                    size,
                    size_precision,
                }
            ),
        text().prop_map(|name| PartyKind::Organisation { name }),
    ]
}

fn party() -> impl Strategy<Value = Party> {
    (uuid(), party_kind(), vec(role(), 0..4), text()).prop_map(|(id, kind, roles, notes)| Party {
        id: PartyId::from_uuid(id),
        kind,
        roles,
        notes,
    })
}

fn act() -> impl Strategy<Value = Act> {
    (uuid(), uuid(), uuid(), term(), time_point(), text()).prop_map(
        |(id, victim, perpetrator, act_type, time, description)| Act {
            id: ActId::from_uuid(id),
            victim: PartyId::from_uuid(victim),
            perpetrator: PartyId::from_uuid(perpetrator),
            act_type,
            time,
            description,
        },
    )
}

fn source() -> impl Strategy<Value = Source> {
    let reliability = prop_oneof![
        Just(Reliability::High),
        Just(Reliability::Medium),
        Just(Reliability::Low),
        Just(Reliability::Unknown),
    ];
    (
        uuid(),
        option::of(uuid()),
        text(),
        reliability,
        time_point(),
    )
        .prop_map(|(id, party, description, reliability, obtained)| Source {
            id: SourceId::from_uuid(id),
            party: party.map(PartyId::from_uuid),
            description,
            reliability,
            obtained,
        })
}

fn intervention() -> impl Strategy<Value = Intervention> {
    let status = prop_oneof![
        Just(InterventionStatus::Planned),
        Just(InterventionStatus::InProgress),
        Just(InterventionStatus::AwaitingResponse),
        Just(InterventionStatus::Closed),
    ];
    (
        uuid(),
        uuid(),
        option::of(uuid()),
        time_point(),
        text(),
        text(),
        status,
    )
        .prop_map(
            |(id, by, towards, at, action, response, status)| Intervention {
                id: InterventionId::from_uuid(id),
                by: PartyId::from_uuid(by),
                towards: towards.map(PartyId::from_uuid),
                at,
                action,
                response,
                status,
            },
        )
}

fn incident() -> impl Strategy<Value = Incident> {
    let status = prop_oneof![Just(IncidentStatus::Draft), Just(IncidentStatus::Sealed)];
    let confidentiality = prop_oneof![
        Just(Confidentiality::Public),
        Just(Confidentiality::Restricted),
        Just(Confidentiality::Confidential),
        Just(Confidentiality::Secret),
    ];
    let head = (
        uuid(),
        text(),
        text(),
        status,
        time_point(),
        time_point(),
        location(),
        vec(term(), 0..4),
        confidentiality,
        vec(text(), 0..4),
    );
    let body = (
        vec(party(), 0..5),
        vec(act(), 0..4),
        vec(source(), 0..3),
        vec(intervention(), 0..3),
        datetime(),
        datetime(),
    );
    (head, body).prop_map(
        |(
            (id, title, summary, status, start, end, location, violations, confidentiality, tags),
            (parties, acts, sources, interventions, created_at, updated_at),
        )| Incident {
            schema_version: SCHEMA_VERSION,
            id: IncidentId::from_uuid(id),
            title,
            summary,
            status,
            start,
            end,
            location,
            violations,
            confidentiality,
            tags,
            parties,
            acts,
            sources,
            interventions,
            created_at,
            updated_at,
        },
    )
}

proptest! {
    #[test]
    fn incident_round_trips(incident in incident()) {
        let json = incident.to_json();
        let back = Incident::from_json(&json).unwrap();
        prop_assert_eq!(&back, &incident);
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn log_entry_round_trips(
        id in uuid(), incident in uuid(), seq in any::<u64>(), at in datetime(),
        text in text(), device in uuid(), flagged in any::<bool>(),
        corrects in option::of(uuid()), happened_at in option::of(datetime()),
    ) {
        let entry = LogEntry {
            id: EntryId::from_uuid(id),
            incident: IncidentId::from_uuid(incident),
            seq,
            at,
            text,
            device: DeviceId::from_uuid(device),
            flagged,
            corrects: corrects.map(EntryId::from_uuid),
            happened_at,
        };
        let json = entry.to_json();
        let back = LogEntry::from_json(&json).unwrap();
        prop_assert_eq!(&back, &entry);
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn attachment_meta_round_trips(
        id in uuid(), incident in uuid(), original_name in text(), media_type in text(),
        size in any::<u64>(), sha in any::<[u8; 32]>(), added_at in datetime(),
    ) {
        let meta = AttachmentMeta {
            id: AttachmentId::from_uuid(id),
            incident: IncidentId::from_uuid(incident),
            original_name,
            media_type,
            size,
            sha256: Sha256(sha),
            added_at,
        };
        let json = meta.to_json();
        let back = AttachmentMeta::from_json(&json).unwrap();
        prop_assert_eq!(&back, &meta);
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn ids_parse_what_they_display(u in uuid()) {
        let id = PartyId::from_uuid(u);
        prop_assert_eq!(id.to_string().parse::<PartyId>().unwrap(), id);
        prop_assert_eq!(id.as_uuid(), &u);
    }

    #[test]
    fn validation_never_panics(incident in incident()) {
        let _ = incident.validate(&Thesaurus::default_terms());
    }
}

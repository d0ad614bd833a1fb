//! Sample incidents: the complete HURIDOCS record (victim, perpetrator group, act, source,
//! intervention) that the model, the vault and the exchange tests build on.

use chrono::{DateTime, Duration, FixedOffset};
use vigil_model::*;

/// A person with `roles`.
pub fn person(name: &str, roles: Vec<Role>) -> Party {
    Party::new(
        PartyId::new(),
        PartyKind::Person {
            name: name.into(),
            gender: None,
            occupation: None,
        },
        roles,
    )
}

/// The group of the Bishkek report: "nine unknown individuals", perpetrators.
pub fn nine_unknown_individuals() -> Party {
    Party::new(
        PartyId::new(),
        PartyKind::Group {
            name: String::new(),
            description: "unknown individuals".into(),
            unit: "individuals".into(),
            size: Some(9),
            size_precision: Precision::Exact,
        },
        vec![Role::Perpetrator],
    )
}

/// A complete, valid incident at `now`: a victim who is also the source, "nine unknown
/// individuals" as the perpetrator, an act, a source and an intervention.
pub fn full(now: DateTime<FixedOffset>) -> Incident {
    let mut i = Incident::new(IncidentId::new(), "Meeting of defenders disrupted", now);
    i.summary = "Девять неизвестных сорвали встречу правозащитников.".into();
    i.start = TimePoint::exact(now);
    i.end = TimePoint::approximate(now + Duration::hours(1));
    i.location = Location {
        place: "Ош".into(),
        admin_area: "Osh region".into(),
        country: Some(CountryCode::parse("KG").unwrap()),
        latitude: Some(40.5283),
        longitude: Some(72.7985),
    };
    i.violations = vec![
        TermCode::new("interference_with_assembly"),
        TermCode::new("attack_on_hrd"),
    ];
    i.tags = vec!["osh".into(), "assembly".into()];
    let victim = person("Айгуль", vec![Role::Victim, Role::Source]);
    let group = nine_unknown_individuals();
    let lawyer = Party::new(
        PartyId::new(),
        PartyKind::Organisation {
            name: "Legal clinic".into(),
        },
        vec![Role::InterveningParty],
    );
    i.acts.push(Act {
        id: ActId::new(),
        victim: victim.id,
        perpetrator: group.id,
        act_type: TermCode::new("disruption_of_meeting"),
        time: TimePoint::exact(now),
        description: String::new(),
    });
    i.sources.push(Source {
        id: SourceId::new(),
        party: Some(victim.id),
        description: "interview".into(),
        reliability: Reliability::High,
        obtained: TimePoint::unknown(),
    });
    i.interventions.push(Intervention {
        id: InterventionId::new(),
        by: lawyer.id,
        towards: None,
        at: TimePoint::unknown(),
        action: "complaint to the prosecutor".into(),
        response: String::new(),
        status: InterventionStatus::AwaitingResponse,
    });
    i.parties = vec![victim, group, lawyer];
    i
}

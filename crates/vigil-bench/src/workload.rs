//! A deterministic generator of realistic incidents and running-log notes.
//!
//! Text is drawn from English and Russian word lists, like the records of a monitor working in
//! Central Asia. Three search terms have a controlled frequency, so that the search benchmark
//! measures what a person would meet: [`RARE_WORD`] appears in about 1% of incidents,
//! [`COMMON_WORD`] in about 30%, and the prefix [`PREFIX`] starts words of Russian sentences
//! used in roughly a fifth of them. The benchmark counts the real fractions and reports them.
//!
//! Ids are fresh UUIDv7s (as in the app); everything else follows from the seed.

use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use vigil_model::{
    Act, ActId, CountryCode, Incident, IncidentId, Party, PartyId, PartyKind, Precision,
    Reliability, Role, Source, SourceId, TermCode, TimePoint,
};

/// A word placed in about 1% of incidents.
pub const RARE_WORD: &str = "tannery";
/// A word placed in about 30% of incidents.
pub const COMMON_WORD: &str = "checkpoint";
/// A prefix, as typed in a search box (matches задержан, задержали, задержание...).
pub const PREFIX: &str = "задерж";

/// SplitMix64: small, fast and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST_NAMES: &[&str] = &[
    "Азамат",
    "Айгуль",
    "Бакыт",
    "Гульнара",
    "Дмитрий",
    "Елена",
    "Жылдыз",
    "Ирина",
    "Канат",
    "Марат",
    "Нургуль",
    "Ольга",
    "Руслан",
    "Светлана",
    "Темир",
    "Улан",
    "Aibek",
    "Dinara",
    "Erlan",
    "Kamila",
    "Nurlan",
    "Saule",
    "Timur",
    "Zarina",
];
const LAST_NAMES: &[&str] = &[
    "Абдыкадыров",
    "Бекова",
    "Иванов",
    "Касымова",
    "Мамытов",
    "Орозбекова",
    "Петров",
    "Сыдыков",
    "Токтогулова",
    "Усенов",
    "Akmatov",
    "Bekmuratova",
    "Isaev",
    "Jumabaeva",
    "Omurov",
];
const OCCUPATIONS: &[&str] = &[
    "lawyer",
    "journalist",
    "blogger",
    "teacher",
    "student",
    "адвокат",
    "журналист",
    "правозащитник",
    "фермер",
    "activist",
];
const PLACES: &[(&str, &str, &str)] = &[
    ("Bishkek, Chui Avenue", "Chui region", "KG"),
    ("Бишкек, ул. Киевская", "Чуйская область", "KG"),
    ("Osh, central bazaar", "Osh region", "KG"),
    ("Ош, Ленинский район", "Ошская область", "KG"),
    ("Karakol", "Issyk-Kul region", "KG"),
    ("Naryn, district court", "Naryn region", "KG"),
    ("Jalal-Abad", "Jalal-Abad region", "KG"),
    ("Talas", "Talas region", "KG"),
    ("Batken", "Batken region", "KG"),
    ("Almaty, Republic Square", "Almaty", "KZ"),
    ("Алматы, пр. Абая", "Алматы", "KZ"),
    ("Astana", "Astana", "KZ"),
    ("Shymkent", "Turkistan region", "KZ"),
    ("Dushanbe", "Dushanbe", "TJ"),
    ("Khujand", "Sughd region", "TJ"),
    ("Khorog", "GBAO", "TJ"),
    ("Tashkent, Yunusabad", "Tashkent", "UZ"),
    ("Nukus", "Karakalpakstan", "UZ"),
    ("Москва, Тверской суд", "Москва", "RU"),
    ("Казань", "Татарстан", "RU"),
];
const VIOLATIONS: &[&str] = &[
    "arbitrary_detention",
    "torture_ill_treatment",
    "threats_intimidation",
    "attack_on_hrd",
    "attack_on_journalists",
    "obstruction_of_lawyers",
    "interference_with_assembly",
    "freedom_of_expression",
    "surveillance",
    "judicial_harassment",
    "unfair_trial",
    "enforced_disappearance",
    "unlawful_deportation",
];
const ACTS: &[&str] = &[
    "beating",
    "verbal_threat",
    "detention",
    "abduction",
    "search",
    "interrogation",
    "denial_of_access_to_lawyer",
    "summons",
    "criminal_charges",
    "confiscation_of_property",
    "pressure_on_relatives",
];
const TITLE_EVENTS: &[&str] = &[
    "Journalist detained",
    "Lawyer denied access to client",
    "Activist beaten",
    "Peaceful assembly dispersed",
    "Blogger summoned for questioning",
    "Home of human rights defender searched",
    "Задержание активиста",
    "Избиение журналиста",
    "Обыск в офисе НКО",
    "Давление на родственников",
    "Student expelled after post",
    "Phone confiscated at border",
];
const SENTENCES: &[&str] = &[
    "Officers in plain clothes arrived without a warrant.",
    "The victim was taken to the district police station.",
    "Witnesses say the car had no number plates.",
    "His lawyer was not allowed to see him for two days.",
    "She reported bruises on her arms and face.",
    "The family received anonymous calls the following week.",
    "Equipment, including two laptops and a camera, was seized.",
    "The court hearing was closed to the public.",
    "Relatives were told he had been released, which was not true.",
    "A medical examination was refused.",
    "Сотрудники полиции не представились и не объяснили причину.",
    "Свидетели сообщили, что машина стояла у дома с утра.",
    "Адвоката не пустили в здание суда.",
    "Родственникам угрожали по телефону.",
    "Ноутбук и телефон изъяли без протокола.",
    "Пострадавшая обратилась в больницу на следующий день.",
];
/// Russian sentences with words starting with [`PREFIX`].
const PREFIX_SENTENCES: &[&str] = &[
    "Его задержали у входа в здание суда.",
    "Задержание длилось более шести часов.",
    "Задержанный не получил доступа к адвокату.",
    "Она была задержана на акции протеста.",
];
const TAGS: &[&str] = &[
    "urgent",
    "follow-up",
    "court",
    "border",
    "online",
    "срочно",
    "суд",
    "протест",
    "election",
    "NGO",
];
const GROUPS: &[&str] = &[
    "unknown men in plain clothes",
    "police officers",
    "неизвестные в масках",
    "сотрудники ГКНБ",
    "masked individuals",
];
const ORGANISATIONS: &[&str] = &[
    "District police department",
    "ГУВД Бишкека",
    "Prosecutor's office",
    "State Committee for National Security",
    "Октябрьский районный суд",
];
const LOG_NOTES: &[&str] = &[
    "Arrived at the court building, about forty people outside.",
    "Police cordon at the entrance, journalists not admitted.",
    "Lawyer went inside, no news yet.",
    "Two people detained near the fountain, put into a grey minibus.",
    "Hearing postponed until tomorrow morning.",
    "Позвонила сестра пострадавшего, его перевели в ИВС.",
    "Адвоката пустили к подзащитному через три часа.",
    "У здания суда около пятидесяти человек, полиция снимает на видео.",
    "Задержали ещё одного участника акции.",
    "Spoke with a witness who filmed the arrest; will send video later.",
];

fn base_time() -> DateTime<FixedOffset> {
    // Bishkek time; a fixed start so that runs are comparable.
    let offset = FixedOffset::east_opt(6 * 3600).unwrap_or_else(|| unreachable!("6 h is valid"));
    offset
        .with_ymd_and_hms(2021, 1, 1, 9, 0, 0)
        .single()
        .unwrap_or_else(|| unreachable!("a fixed-offset time is never ambiguous"))
}

fn name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES))
}

/// `n` incidents, created one after another (a few minutes apart), from `seed`.
pub fn incidents(n: usize, seed: u64) -> Vec<Incident> {
    let mut rng = Rng::new(seed);
    let mut created = base_time();
    (0..n).map(|_| incident(&mut rng, &mut created)).collect()
}

fn incident(rng: &mut Rng, created: &mut DateTime<FixedOffset>) -> Incident {
    *created += Duration::seconds(60 + rng.below(600) as i64);
    let (place, admin_area, country) = *rng.pick(PLACES);
    let title = format!("{} — {}", rng.pick(TITLE_EVENTS), place);
    let mut inc = Incident::new(IncidentId::new(), title, *created);

    let mut summary = Vec::new();
    for _ in 0..2 + rng.below(4) {
        summary.push(*rng.pick(SENTENCES));
    }
    if rng.chance(0.22) {
        summary.insert(rng.below(summary.len()), *rng.pick(PREFIX_SENTENCES));
    }
    if rng.chance(0.30) {
        summary.push("They had been stopped at a checkpoint on the way.");
    }
    if rng.chance(0.01) {
        summary.push("The detention took place near the old tannery.");
    }
    inc.summary = summary.join(" ");

    let start_at = *created - Duration::minutes(30 + rng.below(3 * 24 * 60) as i64);
    inc.start = match rng.below(3) {
        0 => TimePoint::exact(start_at),
        1 => TimePoint::approximate(start_at),
        _ => TimePoint::unknown(),
    };
    inc.location.place = place.to_owned();
    inc.location.admin_area = admin_area.to_owned();
    inc.location.country = CountryCode::parse(country).ok();
    if rng.chance(0.3) {
        inc.location.latitude = Some(40.0 + rng.below(3000) as f64 / 1000.0);
        inc.location.longitude = Some(70.0 + rng.below(9000) as f64 / 1000.0);
    }
    let v1 = *rng.pick(VIOLATIONS);
    inc.violations.push(TermCode::new(v1));
    let v2 = *rng.pick(VIOLATIONS);
    if v2 != v1 && rng.chance(0.4) {
        inc.violations.push(TermCode::new(v2));
    }
    for _ in 0..rng.below(3) {
        let t = (*rng.pick(TAGS)).to_owned();
        if !inc.tags.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
            inc.tags.push(t);
        }
    }

    let mut victim = Party::new(
        PartyId::new(),
        PartyKind::Person {
            name: name(rng),
            gender: Some((*rng.pick(&["male", "female"])).to_owned()),
            occupation: Some((*rng.pick(OCCUPATIONS)).to_owned()),
        },
        vec![Role::Victim],
    );
    if rng.chance(0.3) {
        victim.roles.push(Role::Source);
        victim.notes = "Spoke to us by phone two days later.".to_owned();
    }
    let perpetrator = if rng.chance(0.5) {
        Party::new(
            PartyId::new(),
            PartyKind::Group {
                name: String::new(),
                description: (*rng.pick(GROUPS)).to_owned(),
                unit: "individuals".to_owned(),
                size: Some(2 + rng.below(8) as u32),
                size_precision: Precision::Approximate,
            },
            vec![Role::Perpetrator],
        )
    } else {
        Party::new(
            PartyId::new(),
            PartyKind::Organisation {
                name: (*rng.pick(ORGANISATIONS)).to_owned(),
            },
            vec![Role::Perpetrator],
        )
    };
    inc.acts.push(Act {
        id: ActId::new(),
        victim: victim.id,
        perpetrator: perpetrator.id,
        act_type: TermCode::new(*rng.pick(ACTS)),
        time: inc.start,
        description: String::new(),
    });
    inc.sources.push(Source {
        id: SourceId::new(),
        party: victim.has_role(Role::Source).then_some(victim.id),
        description: "Interview with the victim".to_owned(),
        reliability: Reliability::High,
        obtained: TimePoint::approximate(*created),
    });
    inc.parties.push(victim);
    inc.parties.push(perpetrator);
    if rng.chance(0.4) {
        inc.parties.push(Party::new(
            PartyId::new(),
            PartyKind::Person {
                name: name(rng),
                gender: None,
                occupation: None,
            },
            vec![Role::Witness],
        ));
    }
    inc
}

/// A running-log note, as typed during an event.
pub fn log_note(rng: &mut Rng) -> String {
    let minute = rng.below(24 * 60);
    format!(
        "{:02}:{:02} {}",
        minute / 60,
        minute % 60,
        rng.pick(LOG_NOTES)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_are_valid_and_deterministic() {
        let thesaurus = vigil_model::Thesaurus::default_terms();
        let a = incidents(300, 7);
        let b = incidents(300, 7);
        for (x, y) in a.iter().zip(&b) {
            if let Err(e) = x.validate(&thesaurus) {
                panic!("generated incident is invalid: {e}");
            }
            assert_eq!((&x.title, &x.summary), (&y.title, &y.summary));
        }
        assert!(a.windows(2).all(|w| w[0].created_at < w[1].created_at));
    }
}

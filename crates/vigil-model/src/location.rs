//! Where an incident happened.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The officially assigned ISO 3166-1 alpha-2 codes (249), sorted for binary search.
const ASSIGNED_CODES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// An ISO 3166-1 alpha-2 country code, such as `KG` or `RU`.
///
/// [`CountryCode::parse`] accepts only officially assigned codes. Deserialising
/// is deliberately lenient (any string) so that a bad code in a file is reported
/// by [`Incident::validate`](crate::Incident::validate) as `invalid_country` with
/// its field path, alongside every other problem, instead of failing the whole load.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    /// Parses a code, accepting lower case (`"kg"` becomes `KG`).
    pub fn parse(code: &str) -> Result<Self, ModelError> {
        let upper = code.trim().to_ascii_uppercase();
        if is_assigned(&upper) {
            Ok(Self(upper))
        } else {
            Err(ModelError::InvalidCountry {
                code: code.to_owned(),
            })
        }
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an officially assigned ISO 3166-1 alpha-2 code (upper case).
    pub fn is_assigned(&self) -> bool {
        is_assigned(&self.0)
    }

    /// All officially assigned codes, sorted.
    pub fn all_assigned() -> &'static [&'static str] {
        &ASSIGNED_CODES
    }
}

fn is_assigned(code: &str) -> bool {
    ASSIGNED_CODES.binary_search(&code).is_ok()
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CountryCode {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Where something happened. `place` is the settlement or address as the
/// monitor wrote it; `admin_area` the region or district. Coordinates are WGS 84
/// degrees and are given both or neither.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Settlement, street or venue.
    #[serde(default)]
    pub place: String,
    /// Region, province or district.
    #[serde(default)]
    pub admin_area: String,
    /// Country, if known.
    #[serde(default)]
    pub country: Option<CountryCode>,
    /// Latitude in degrees, -90 to 90.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in degrees, -180 to 180.
    #[serde(default)]
    pub longitude: Option<f64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_well_formed() {
        assert!(ASSIGNED_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ASSIGNED_CODES
                .iter()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn parse_accepts_assigned_codes_only() {
        assert_eq!(CountryCode::parse("kg").unwrap().as_str(), "KG");
        assert!(CountryCode::parse("RU").is_ok());
        assert!(CountryCode::parse("XK").is_err()); // user-assigned, not official
        assert!(CountryCode::parse("UK").is_err()); // exceptionally reserved
        assert!(CountryCode::parse("").is_err());
        assert!(!CountryCode("kg".into()).is_assigned());
    }
}

//! The demo vault: one incident built from the sample material in `assets/demo/`, written in
//! our own words from the facts of a published report (Bishkek, 23 May 2019), so a new user
//! sees real-looking material at once. The files are compiled in; nothing is read at run time.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use vigil_model::{IncidentDraft, IncidentId};
use vigil_store::{FixedClock, StoreError, Vault};

const INCIDENT: &str = include_str!("../../../assets/demo/incident.json");
const RUNNING_LOG: &str = include_str!("../../../assets/demo/running-log.json");
const NOTE: &[u8] = include_bytes!("../../../assets/demo/complaint-note.txt");

#[derive(Deserialize)]
struct DemoEntry {
    at: DateTime<FixedOffset>,
    text: String,
    #[serde(default)]
    flagged: bool,
}

/// When the demo incident was opened in the vault.
pub fn start_time() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2019-05-23T09:00:00+06:00").unwrap_or_default()
}

fn bad_asset(e: impl std::fmt::Display) -> crate::error::Failure {
    crate::error::Failure {
        code: 1,
        kind: "demo".into(),
        message: format!("the built-in demo material is invalid: {e}"),
    }
}

/// Fills an empty vault with the demo incident, its running log and an attachment.
pub fn populate(
    vault: &mut Vault,
    clock: &FixedClock,
) -> Result<IncidentId, crate::error::Failure> {
    let draft = IncidentDraft::from_json(INCIDENT).map_err(bad_asset)?;
    let incident = draft.into_incident(IncidentId::new(), start_time());
    vault
        .create_incident(&incident)
        .map_err(crate::error::Failure::from)?;
    let entries: Vec<DemoEntry> = serde_json::from_str(RUNNING_LOG).map_err(bad_asset)?;
    for e in entries {
        clock.set(e.at);
        vault
            .append_log(incident.id, &e.text, e.flagged)
            .map_err(crate::error::Failure::from)?;
    }
    clock.set(DateTime::parse_from_rfc3339("2019-05-23T13:10:00+06:00").unwrap_or_default());
    vault
        .add_attachment(incident.id, "complaint-note.txt", "text/plain", NOTE, None)
        .map_err(|e: StoreError| crate::error::Failure::from(e))?;
    Ok(incident.id)
}

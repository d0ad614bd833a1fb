//! A record's history for the window: its sealed revisions (signatures checked again) and the
//! custody events of every device that handled it ([`vigil_store::Vault::provenance`]).

use serde::Serialize;
use vigil_crypto::sign::grouped_hex;
use vigil_model::IncidentId;

use crate::{AppError, Session};

/// A sealed revision as the history dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RevisionRow {
    /// The revision.
    pub id: String,
    /// The device that sealed it.
    pub device: String,
    /// That device's key, in groups of four hex digits.
    pub device_key: String,
    /// Its place in the device's chain, from 1.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub device_seq: u64,
    /// When it was sealed (RFC 3339, the device's clock and offset).
    pub sealed_at: String,
    /// SHA-256 of its canonical document (hex).
    pub hash: String,
    /// The revision it amends.
    pub amends: Option<String>,
    /// Whether its signature verifies now.
    pub verified: bool,
}

/// A custody event as the history dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CustodyRow {
    /// `created`, `sealed`, `exported` or `imported`.
    pub event: String,
    /// When (RFC 3339, the recording device's clock and offset).
    pub at: String,
    /// The device that recorded it.
    pub device: String,
    /// Whether that is this vault's device.
    pub this_device: bool,
    /// The revision (sealed) or bundle (exported, imported) it names.
    pub subject: String,
    /// Whether its signature verifies now.
    pub verified: bool,
}

/// A record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HistoryView {
    /// With two or more, the record's versions that amend the same revision and wait for a
    /// person to settle them (revision ids); empty when there is one latest version.
    pub versions: Vec<String>,
    /// The revision the record is shown as (with a fork, where the versions part).
    pub shown: Option<String>,
    /// Its sealed revisions, oldest first.
    pub revisions: Vec<RevisionRow>,
    /// Custody events about it, by time.
    pub events: Vec<CustodyRow>,
}

impl Session {
    /// The record's sealed revisions and custody events.
    pub fn history(&self, id: &str) -> Result<HistoryView, AppError> {
        let incident: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        let p = self.with_vault(|v| Ok(v.provenance(incident)?))?;
        Ok(HistoryView {
            versions: if p.heads.len() > 1 {
                p.heads.iter().map(ToString::to_string).collect()
            } else {
                Vec::new()
            },
            shown: p.shown.map(|r| r.to_string()),
            revisions: p
                .revisions
                .iter()
                .map(|r| RevisionRow {
                    id: r.id.to_string(),
                    device: r.device.to_string(),
                    device_key: grouped_hex(&r.device_key),
                    device_seq: r.device_seq,
                    sealed_at: r.sealed_at.to_rfc3339(),
                    hash: r.hash.to_string(),
                    amends: r.amends.map(|a| a.to_string()),
                    verified: r.verified,
                })
                .collect(),
            events: p
                .events
                .iter()
                .map(|e| CustodyRow {
                    event: e.event.as_str().into(),
                    at: e.at.to_rfc3339(),
                    device: e.device.to_string(),
                    this_device: e.this_device,
                    subject: e.subject.clone(),
                    verified: e.verified,
                })
                .collect(),
        })
    }
}

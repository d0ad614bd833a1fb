//! Quarantine, as HQ's window shows it: bundles from devices HQ cannot trust yet, each with
//! why and the device's key to compare by phone, to accept or drop.

use serde::Serialize;

use crate::{AppError, ImportSummary, QuarantineRow, Session};

/// What accepting a device's quarantined bundles did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AcceptOutcome {
    /// Each bundle, as its import did.
    pub imports: Vec<ImportSummary>,
    /// What is left in quarantine.
    pub left: Vec<QuarantineRow>,
}

impl Session {
    /// Everything in quarantine, oldest first.
    pub fn quarantine(&self) -> Result<Vec<QuarantineRow>, AppError> {
        self.with_vault(|v| Ok(v.quarantine()?.iter().map(QuarantineRow::from).collect()))
    }

    /// A person compared the key of `device` (its id, or the start of its key): everything it
    /// sent is imported from the stored copies, exactly as an import would.
    pub fn accept_quarantined(&self, device: &str) -> Result<AcceptOutcome, AppError> {
        self.with_vault_mut(|v| {
            let imports = vigil_exchange::accept(v, device)?
                .into_iter()
                .map(ImportSummary::from)
                .collect();
            Ok(AcceptOutcome {
                imports,
                left: v.quarantine()?.iter().map(QuarantineRow::from).collect(),
            })
        })
    }

    /// Discards what `device` sent that is in quarantine; what is left.
    pub fn drop_quarantined(&self, device: &str) -> Result<Vec<QuarantineRow>, AppError> {
        self.with_vault_mut(|v| {
            v.drop_quarantined(device)?;
            Ok(v.quarantine()?.iter().map(QuarantineRow::from).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;
    use std::sync::Arc;

    use vigil_crypto::kdf::KdfParams;
    use vigil_store::{KdfChoice, SystemClock};

    use super::*;

    fn session(dir: &Path) -> Session {
        let s = Session::new(
            dir.to_path_buf(),
            Arc::new(SystemClock),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );
        s.create_vault("correct horse battery staple".into())
            .unwrap();
        s
    }

    /// A monitor that joined without an invitation: HQ keeps its bundle in quarantine, shows
    /// why and the key to compare, and applies it once a person accepts it.
    #[test]
    fn hq_keeps_an_unenrolled_monitors_bundle_until_a_person_decides() {
        let tmp = tempfile::tempdir().unwrap();
        let usb = tmp.path().join("usb");
        std::fs::create_dir(&usb).unwrap();
        let hq = session(&tmp.path().join("hq"));
        let monitor = session(&tmp.path().join("monitor"));
        let profile = hq.create_org("HQ", 1, &usb).unwrap().profile_path.unwrap();
        let joined = monitor.join_org(Path::new(&profile), None).unwrap();
        assert_eq!(joined.enrolment, None);
        let incident = monitor.new_incident("Meeting broken up").unwrap();
        monitor
            .append_log(&incident.id.to_string(), "10:30 nine men enter", false)
            .unwrap();
        monitor.seal(&incident.id.to_string()).unwrap();
        let bundle = monitor.export_unsent(&usb, &mut |_, _, _| {}).unwrap().path;

        let imported = hq
            .import_bundle(Path::new(&bundle), &mut |_, _| {})
            .unwrap();
        assert_eq!(imported.applied, 0);
        let held = imported.quarantined.unwrap();
        assert_eq!(held.reason, "no_certificate");
        assert_eq!(held.device_key, joined.device_key);
        assert_eq!(hq.quarantine().unwrap(), vec![held.clone()]);
        assert_eq!(hq.drop_quarantined(&held.device).unwrap(), vec![]);
        assert_eq!(
            hq.incident(&incident.id.to_string()).unwrap_err().code,
            "not_found"
        );

        hq.import_bundle(Path::new(&bundle), &mut |_, _| {})
            .unwrap();
        let accepted = hq.accept_quarantined(&held.device).unwrap();
        assert_eq!(accepted.imports[0].applied, 1);
        assert!(accepted.left.is_empty());
        assert_eq!(hq.incident(&incident.id.to_string()).unwrap().log.len(), 1);
        let devices = hq.devices().unwrap().devices;
        assert_eq!(
            (devices[0].trust.as_str(), devices[0].device_key.as_str()),
            ("accepted", joined.device_key.as_str())
        );
        assert_eq!(
            hq.accept_quarantined(&held.device).unwrap_err().code,
            "not_found"
        );
    }
}

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use vigil_crypto::Passphrase;
use vigil_model::{Incident, IncidentId, LogEntry};
use vigil_store::{Clock, IncidentSummary, ListQuery, SearchHit, Vault};

use crate::AppError;

/// Largest page of the incident list or of search results the UI can ask for.
const MAX_PAGE: u32 = 500;

/// What the UI shows right after unlocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultOverview {
    /// The vault folder, so the person can see which vault is open.
    pub dir: PathBuf,
    /// How many incidents it holds.
    pub incidents: u64,
}

/// One page of the incident list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentPage {
    /// The rows of this page.
    pub incidents: Vec<IncidentSummary>,
    /// How many incidents there are in all.
    pub total: u64,
}

/// One incident with its running log, for the detail pane.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentView {
    /// The structured record.
    pub incident: Incident,
    /// The running log, in order.
    pub log: Vec<LogEntry>,
}

/// The desktop app's state: one vault folder, open (unlocked) or not.
///
/// All methods take `&self` so that one `Session` can be shared by the UI's concurrent commands;
/// they are serialised on the vault, which is one SQLCipher connection.
#[derive(Debug)]
pub struct Session {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    vault: Mutex<Option<Vault>>,
}

impl Session {
    /// A locked session over the vault in `dir`.
    pub fn new(dir: PathBuf, clock: Arc<dyn Clock>) -> Self {
        Self {
            dir,
            clock,
            vault: Mutex::new(None),
        }
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a vault is open.
    pub fn is_unlocked(&self) -> bool {
        self.slot().is_some()
    }

    /// Opens the vault with `passphrase`. A vault that was already open is closed first, so the
    /// passphrase is always checked.
    pub fn unlock(&self, passphrase: String) -> Result<VaultOverview, AppError> {
        let passphrase = Passphrase::new(passphrase);
        let mut slot = self.slot();
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        let vault = Vault::open(&self.dir, &passphrase, Arc::clone(&self.clock))?;
        let overview = VaultOverview {
            dir: self.dir.clone(),
            incidents: vault.count_incidents()?,
        };
        *slot = Some(vault);
        Ok(overview)
    }

    /// Closes the vault, if open. Closing cannot be refused: a failure to close cleanly (which
    /// loses nothing, every write is already committed) still leaves the session locked.
    pub fn lock(&self) {
        if let Some(vault) = self.slot().take() {
            close_quietly(vault);
        }
    }

    /// A page of the incident list, newest first. `limit` is capped at 500.
    pub fn list(&self, offset: u32, limit: u32) -> Result<IncidentPage, AppError> {
        self.with_vault(|v| {
            let incidents = v.list_incidents(&ListQuery {
                status: None,
                limit: limit.clamp(1, MAX_PAGE),
                offset,
            })?;
            Ok(IncidentPage {
                incidents,
                total: v.count_incidents()?,
            })
        })
    }

    /// One incident and its running log.
    pub fn incident(&self, id: &str) -> Result<IncidentView, AppError> {
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault(|v| {
            Ok(IncidentView {
                incident: v.incident(id)?,
                log: v.log_entries(id)?,
            })
        })
    }

    /// Full-text search over incidents, parties and log entries (at most 100 hits).
    pub fn search(&self, query: &str) -> Result<Vec<SearchHit>, AppError> {
        self.with_vault(|v| Ok(v.search(query, 100)?))
    }

    fn slot(&self) -> MutexGuard<'_, Option<Vault>> {
        // A panic while the lock was held cannot leave the vault half-changed (every change is
        // one SQLite transaction), so carry on with it.
        self.vault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_vault<T>(&self, f: impl FnOnce(&Vault) -> Result<T, AppError>) -> Result<T, AppError> {
        match self.slot().as_ref() {
            Some(vault) => f(vault),
            None => Err(AppError::locked()),
        }
    }
}

/// Closes `vault`, ignoring a failure: every write was committed when it returned, so a failed
/// close can only leave the write-ahead log unmerged, which the next open merges.
fn close_quietly(vault: Vault) {
    let _ = vault.close();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::DateTime;
    use vigil_crypto::kdf::KdfParams;
    use vigil_store::{FixedClock, KdfChoice};

    const PASS: &str = "correct horse battery staple";

    fn clock() -> Arc<dyn Clock> {
        let t = DateTime::parse_from_rfc3339("2024-03-08T14:30:00+06:00").unwrap();
        Arc::new(FixedClock::new(t))
    }

    /// A vault with one incident and one log entry, closed again. Returns the incident's id.
    fn make_vault(dir: &Path) -> IncidentId {
        let clock = clock();
        let mut vault = Vault::create(
            dir,
            &Passphrase::new(PASS.into()),
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::clone(&clock),
        )
        .unwrap();
        let mut incident = Incident::new(
            IncidentId::new(),
            "Lawyer beaten outside court",
            clock.now(),
        );
        incident.summary = "Nine men in plain clothes.".into();
        vault.create_incident(&incident).unwrap();
        vault
            .append_log(incident.id, "Ambulance called", false)
            .unwrap();
        vault.close().unwrap();
        incident.id
    }

    #[test]
    fn unlock_list_show_search_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let id = make_vault(&dir);
        let session = Session::new(dir.clone(), clock());

        let overview = session.unlock(PASS.into()).unwrap();
        assert_eq!(overview, VaultOverview { dir, incidents: 1 });

        let page = session.list(0, 50).unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.incidents[0].title, "Lawyer beaten outside court");
        assert_eq!(page.incidents[0].log_entries, 1);

        let view = session.incident(&id.to_string()).unwrap();
        assert_eq!(view.incident.summary, "Nine men in plain clothes.");
        assert_eq!(view.log.len(), 1);
        assert_eq!(view.log[0].text, "Ambulance called");

        let hits = session.search("ambul").unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, id);

        session.lock();
        assert!(!session.is_unlocked());
        assert_eq!(session.list(0, 50).unwrap_err().code, "locked");
        assert_eq!(session.search("ambul").unwrap_err().code, "locked");
        // The vault lock file was released: it opens again.
        assert_eq!(session.unlock(PASS.into()).unwrap().incidents, 1);
    }

    #[test]
    fn wrong_passphrase_is_reported_by_code() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let session = Session::new(dir, clock());
        let err = session.unlock("not it".into()).unwrap_err();
        assert_eq!(err.code, "wrong_passphrase");
        assert!(err.message.contains("passphrase"), "{}", err.message);
        assert!(!session.is_unlocked());
    }

    #[test]
    fn missing_vault_and_bad_ids_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let session = Session::new(tmp.path().join("nothing here"), clock());
        assert_eq!(session.unlock(PASS.into()).unwrap_err().code, "not_a_vault");
        assert_eq!(session.incident("x").unwrap_err().code, "invalid_id");
        assert_eq!(
            session
                .incident(&IncidentId::new().to_string())
                .unwrap_err()
                .code,
            "locked"
        );
    }
}

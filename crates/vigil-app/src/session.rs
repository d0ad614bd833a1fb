use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use vigil_crypto::Passphrase;
use vigil_model::{
    AttachmentId, AttachmentMeta, Incident, IncidentId, IncidentStatus, LogEntry, TermKind,
};
use vigil_store::{Clock, IncidentSummary, KdfChoice, ListQuery, SearchHit, StoreError, Vault};

use crate::{AppError, Settings};

/// Largest page of the incident list or of search results the UI can ask for.
const MAX_PAGE: u32 = 500;
/// Largest attachment the UI may preview (it is decrypted into memory, never to disk).
const MAX_PREVIEW: u64 = 32 * 1024 * 1024;

/// What the UI needs to know at start and after each lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AppStatus {
    /// The vault folder.
    pub vault_dir: String,
    /// Whether a vault exists there (else the UI offers to create one).
    pub vault_exists: bool,
    /// Whether it is open.
    pub unlocked: bool,
    /// The settings.
    pub settings: Settings,
}

/// What the UI shows right after unlocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VaultOverview {
    /// The vault folder, so the person can see which vault is open.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub dir: PathBuf,
    /// How many incidents it holds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub incidents: u64,
}

/// What the incident list asks for: a page, and filters that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct ListRequest {
    /// Rows to skip.
    pub offset: u32,
    /// Page size (at most 500).
    pub limit: u32,
    /// Words to search for (incident, parties, running log); the last may be a prefix.
    pub query: Option<String>,
    /// `draft` or `sealed`.
    pub status: Option<IncidentStatus>,
    /// A violation term code.
    pub violation: Option<String>,
    /// A tag.
    pub tag: Option<String>,
    /// First day, `YYYY-MM-DD` (local to the incident's offset).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, included.
    pub to: Option<String>,
}

/// One page of the incident list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IncidentPage {
    /// The rows of this page.
    pub incidents: Vec<IncidentSummary>,
    /// How many incidents pass the filters in all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
}

/// One incident with everything the live log and the editor show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IncidentView {
    /// The saved record.
    pub incident: Incident,
    /// The editor's unsaved state, if the last edit did not validate yet: show this instead.
    pub draft: Option<Incident>,
    /// The running log, in order.
    pub log: Vec<LogEntry>,
    /// The attachments.
    pub attachments: Vec<AttachmentMeta>,
    /// When two versions of the sealed record amend the same revision (two devices amended
    /// it), their revision ids: the record is shown as it was where they part, until a person
    /// settles it. Empty otherwise.
    pub versions: Vec<String>,
}

/// One problem with one field, for the editor to show beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FieldProblem {
    /// Path of the field, e.g. `parties[2].size`.
    pub field: String,
    /// Stable code, e.g. `required`.
    pub code: String,
    /// English text.
    pub message: String,
    /// Values for the translated message (`max`, `code`, `id`, `party`, `role`, `version`).
    pub params: std::collections::BTreeMap<String, String>,
}

/// The result of an autosave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SaveOutcome {
    /// True when the incident itself was saved; false when it was kept as a draft.
    pub saved: bool,
    /// The saved incident (with its new `updated_at`), when saved.
    pub incident: Option<Incident>,
    /// What must be fixed before it can be saved (empty when saved).
    pub errors: Vec<FieldProblem>,
    /// The incident is sealed: the edit is kept (encrypted) and becomes an amendment when the
    /// incident is sealed again.
    pub pending_amendment: bool,
}

/// A thesaurus term for the UI's pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TermView {
    /// The code stored in incidents.
    pub code: String,
    /// `violation` or `act`.
    pub kind: TermKind,
    /// Labels by language.
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug)]
struct Activity {
    last: Instant,
    failures: u32,
}

/// The desktop app's state: one vault folder, open (unlocked) or not, and the settings.
///
/// All methods take `&self` so that one `Session` can be shared by the UI's concurrent commands;
/// they are serialised on the vault, which is one SQLCipher connection.
#[derive(Debug)]
pub struct Session {
    pub(crate) dir: PathBuf,
    clock: Arc<dyn Clock>,
    kdf: KdfChoice,
    settings_path: Option<PathBuf>,
    settings: Mutex<Settings>,
    pub(crate) vault: Mutex<Option<Vault>>,
    activity: Mutex<Activity>,
    /// Exports and imports under way: the vault is not held while their files are written and
    /// read, and auto-lock waits for them.
    pub(crate) exchanges: AtomicUsize,
}

pub(crate) fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a lock was held cannot leave the vault half-changed (every change is one
    // SQLite transaction), so carry on with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a wrong passphrase is held back: 0.5 s, 1 s, 2 s, ... up to 30 s.
pub fn unlock_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let ms = 500u64.saturating_mul(1 << (failures - 1).min(10));
    Duration::from_millis(ms.min(30_000))
}

fn parse_day(
    s: &Option<String>,
    field: &str,
    end: bool,
    offset: FixedOffset,
) -> Result<Option<DateTime<FixedOffset>>, AppError> {
    let Some(s) = s.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        AppError::invalid_setting(field, format!("{s:?} is not a date (YYYY-MM-DD)"))
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    let t = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single());
    Ok(t)
}

impl Session {
    /// A locked session over the vault in `dir`. New vaults get `kdf`; settings are read from
    /// and written to `settings_path` (none: kept in memory only, for tests).
    pub fn new(
        dir: PathBuf,
        clock: Arc<dyn Clock>,
        kdf: KdfChoice,
        settings_path: Option<PathBuf>,
    ) -> Self {
        let settings = settings_path
            .as_deref()
            .map(Settings::load)
            .unwrap_or_default();
        Self {
            dir,
            clock,
            kdf,
            settings_path,
            settings: Mutex::new(settings),
            vault: Mutex::new(None),
            activity: Mutex::new(Activity {
                last: Instant::now(),
                failures: 0,
            }),
            exchanges: AtomicUsize::new(0),
        }
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a vault is open.
    pub fn is_unlocked(&self) -> bool {
        guard(&self.vault).is_some()
    }

    /// Where things stand, for the first screen.
    pub fn status(&self) -> AppStatus {
        AppStatus {
            vault_dir: self.dir.display().to_string(),
            vault_exists: self.dir.join("vault.key").exists(),
            unlocked: self.is_unlocked(),
            settings: self.settings(),
        }
    }

    /// Creates a new vault in the session's folder and opens it.
    pub fn create_vault(&self, passphrase: String) -> Result<VaultOverview, AppError> {
        let passphrase = Passphrase::new(passphrase);
        let mut slot = guard(&self.vault);
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        let vault = Vault::create(&self.dir, &passphrase, self.kdf, Arc::clone(&self.clock))?;
        *slot = Some(vault);
        self.touch();
        Ok(VaultOverview {
            dir: self.dir.clone(),
            incidents: 0,
        })
    }

    /// Opens the vault with `passphrase`. A vault that was already open is closed first, so the
    /// passphrase is always checked. Each wrong passphrase in a row is answered more slowly.
    pub fn unlock(&self, passphrase: String) -> Result<VaultOverview, AppError> {
        let passphrase = Passphrase::new(passphrase);
        let mut slot = guard(&self.vault);
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        match Vault::open(&self.dir, &passphrase, Arc::clone(&self.clock)) {
            Ok(vault) => {
                let overview = VaultOverview {
                    dir: self.dir.clone(),
                    incidents: vault.count_incidents()?,
                };
                *slot = Some(vault);
                let mut a = guard(&self.activity);
                a.failures = 0;
                a.last = Instant::now();
                Ok(overview)
            }
            Err(StoreError::WrongPassphrase) => {
                drop(slot);
                let failures = {
                    let mut a = guard(&self.activity);
                    a.failures = a.failures.saturating_add(1);
                    a.failures
                };
                std::thread::sleep(unlock_delay(failures));
                let mut err = AppError::from(StoreError::WrongPassphrase);
                err.retry_after_ms = Some(unlock_delay(failures + 1).as_millis() as u64);
                Err(err)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the vault, if open. Closing cannot be refused: a failure to close cleanly (which
    /// loses nothing, every write is already committed) still leaves the session locked.
    pub fn lock(&self) {
        if let Some(vault) = guard(&self.vault).take() {
            close_quietly(vault);
        }
    }

    /// Records input from the person (for auto-lock).
    pub fn touch(&self) {
        guard(&self.activity).last = Instant::now();
    }

    /// Locks if there was no input for the auto-lock time. Returns true if it locked now.
    pub fn lock_if_idle(&self) -> bool {
        let limit = Duration::from_secs(u64::from(guard(&self.settings).auto_lock_seconds));
        let idle = guard(&self.activity).last.elapsed();
        let exchanging = self.exchanges.load(Ordering::SeqCst) > 0;
        if idle >= limit && !exchanging && self.is_unlocked() {
            self.lock();
            return true;
        }
        false
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        guard(&self.settings).clone()
    }

    /// Checks, stores and applies new settings.
    pub fn save_settings(&self, settings: Settings) -> Result<Settings, AppError> {
        settings.validate()?;
        if let Some(path) = &self.settings_path {
            settings.save(path)?;
        }
        *guard(&self.settings) = settings.clone();
        Ok(settings)
    }

    /// A page of the incident list, newest first, filtered.
    pub fn list(&self, req: &ListRequest) -> Result<IncidentPage, AppError> {
        let offset = self.clock.now().offset().to_owned();
        let q = ListQuery {
            status: req.status,
            violation: req.violation.clone(),
            tag: req.tag.clone(),
            from: parse_day(&req.from, "from", false, offset)?,
            to: parse_day(&req.to, "to", true, offset)?,
            text: req.query.clone().filter(|q| !q.trim().is_empty()),
            limit: req.limit.clamp(1, MAX_PAGE),
            offset: req.offset,
        };
        self.with_vault(|v| {
            Ok(IncidentPage {
                incidents: v.list_incidents(&q)?,
                total: v.count_matching(&q)?,
            })
        })
    }

    /// One incident, its unsaved editor state, running log and attachments.
    pub fn incident(&self, id: &str) -> Result<IncidentView, AppError> {
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault(|v| {
            Ok(IncidentView {
                incident: v.incident(id)?,
                draft: v.draft(id)?,
                log: v.log_entries(id)?,
                attachments: v.attachments(id)?,
                versions: {
                    let l = v.lineage(id)?;
                    if l.is_fork() {
                        l.heads.iter().map(ToString::to_string).collect()
                    } else {
                        Vec::new()
                    }
                },
            })
        })
    }

    /// Starts a new incident (a live log usually begins this way).
    pub fn new_incident(&self, title: &str) -> Result<Incident, AppError> {
        self.with_vault_mut(|v| {
            let incident = Incident::new(IncidentId::new(), title, v.now());
            v.create_incident(&incident)?;
            Ok(incident)
        })
    }

    /// Appends a running-log entry, stamped with the moment the call arrived (before waiting
    /// for the vault); durable when this returns.
    pub fn append_log(&self, id: &str, text: &str, flagged: bool) -> Result<LogEntry, AppError> {
        let at = self.clock.now();
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault_mut(|v| Ok(v.append_log_at(id, text, flagged, at)?))
    }

    /// Autosave from the editor: saves the incident if it validates; otherwise keeps it as an
    /// encrypted draft and returns what to fix. Either way nothing typed is lost.
    pub fn save_incident(&self, incident: Incident) -> Result<SaveOutcome, AppError> {
        let problems = |errors: &vigil_model::ValidationErrors| -> Vec<FieldProblem> {
            errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    code: e.problem.code().to_owned(),
                    message: e.problem.to_string(),
                    params: e
                        .problem
                        .params()
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                })
                .collect()
        };
        self.with_vault_mut(|v| match v.update_incident(&incident) {
            Ok(saved) => Ok(SaveOutcome {
                saved: true,
                incident: Some(saved),
                errors: Vec::new(),
                pending_amendment: false,
            }),
            Err(StoreError::Invalid(errors)) => {
                v.save_draft(&incident)?;
                Ok(SaveOutcome {
                    saved: false,
                    incident: None,
                    errors: problems(&errors),
                    pending_amendment: false,
                })
            }
            Err(StoreError::Sealed(_)) => {
                // Nothing sealed changes in place: keep the edit for the next amendment.
                let errors = match incident.validate(v.thesaurus()) {
                    Ok(()) => Vec::new(),
                    Err(e) => problems(&e),
                };
                v.save_draft(&incident)?;
                Ok(SaveOutcome {
                    saved: false,
                    incident: None,
                    errors,
                    pending_amendment: true,
                })
            }
            Err(e) => Err(e.into()),
        })
    }

    /// Adds a file from disk as an attachment, streaming it; `progress` gets the bytes done.
    pub fn add_attachment(
        &self,
        id: &str,
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<AttachmentMeta, AppError> {
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        let file = std::fs::File::open(path)
            .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("attachment")
            .to_owned();
        let media = vigil_model::media_type_for_name(&name);
        // The vault is held only to check the incident and, at the end, to record the chunks:
        // while a large file is encrypted and copied, the running log keeps being saved.
        self.with_vault(|v| Ok(v.incident(id).map(|_| ())?))?;
        let staged = vigil_store::stage_attachment(
            &self.dir,
            std::io::BufReader::new(file),
            Some(progress),
        )?;
        let mut slot = guard(&self.vault);
        match slot.as_mut() {
            Some(v) => Ok(v.commit_attachment(id, &name, media, staged)?),
            None => {
                staged.discard();
                Err(AppError::locked())
            }
        }
    }

    /// An image or text attachment's bytes, for preview in memory.
    pub fn attachment_bytes(&self, id: &str) -> Result<Vec<u8>, AppError> {
        let id: AttachmentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault(|v| {
            let meta = v.attachment_meta(id)?;
            let previewable =
                meta.media_type.starts_with("image/") || meta.media_type.starts_with("text/");
            if !previewable || meta.size > MAX_PREVIEW {
                return Err(AppError::not_previewable(&meta.original_name));
            }
            let mut out = Vec::with_capacity(meta.size as usize);
            v.read_attachment(id, &mut out)?;
            Ok(out)
        })
    }

    /// Full-text search over incidents, parties and log entries (at most 100 hits).
    pub fn search(&self, query: &str) -> Result<Vec<SearchHit>, AppError> {
        self.with_vault(|v| Ok(v.search(query, 100)?))
    }

    /// The thesaurus terms for the pickers.
    pub fn thesaurus(&self) -> Result<Vec<TermView>, AppError> {
        self.with_vault(|v| {
            let th = v.thesaurus();
            Ok([TermKind::Violation, TermKind::Act]
                .into_iter()
                .flat_map(|k| th.terms(k))
                .map(|t| TermView {
                    code: t.code.as_str().to_owned(),
                    kind: t.kind,
                    labels: t.labels.clone(),
                })
                .collect())
        })
    }

    /// Seals an incident: a signed revision; sealing it again records an amendment with what
    /// changed since (running-log entries, attachments, edits kept from the editor).
    pub fn seal(&self, id: &str) -> Result<IncidentView, AppError> {
        let incident: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault_mut(|v| Ok(v.seal_now(incident).map(|_| ())?))?;
        self.incident(id)
    }

    /// Throws away the edit waiting to amend a sealed incident (the person chose to).
    pub fn discard_edit(&self, id: &str) -> Result<IncidentView, AppError> {
        let incident: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault_mut(|v| Ok(v.discard_draft(incident)?))?;
        self.incident(id)
    }

    pub(crate) fn with_vault<T>(
        &self,
        f: impl FnOnce(&Vault) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let slot = guard(&self.vault);
        match slot.as_ref() {
            Some(vault) => f(vault),
            None => Err(AppError::locked()),
        }
    }

    pub(crate) fn with_vault_mut<T>(
        &self,
        f: impl FnOnce(&mut Vault) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut slot = guard(&self.vault);
        match slot.as_mut() {
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
        let session = Session::new(
            dir.clone(),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );

        let overview = session.unlock(PASS.into()).unwrap();
        assert_eq!(overview, VaultOverview { dir, incidents: 1 });

        let page = session
            .list(&ListRequest {
                limit: 50,
                ..ListRequest::default()
            })
            .unwrap();
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
        assert_eq!(
            session
                .list(&ListRequest {
                    limit: 50,
                    ..ListRequest::default()
                })
                .unwrap_err()
                .code,
            "locked"
        );
        assert_eq!(session.search("ambul").unwrap_err().code, "locked");
        // The vault lock file was released: it opens again.
        assert_eq!(session.unlock(PASS.into()).unwrap().incidents, 1);
    }

    #[test]
    fn edits_of_a_sealed_incident_are_kept_and_sealed_as_an_amendment() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let id = make_vault(&dir);
        let session = Session::new(dir, clock(), KdfChoice::Params(KdfParams::FLOOR), None);
        session.unlock(PASS.into()).unwrap();
        let sid = id.to_string();
        session.seal(&sid).unwrap();
        assert_eq!(session.seal(&sid).unwrap_err().code, "nothing_to_seal");

        let mut edited = session.incident(&sid).unwrap().incident;
        edited.title = "Lawyer beaten outside court; hospitalised".into();
        let outcome = session.save_incident(edited).unwrap();
        assert!(!outcome.saved && outcome.pending_amendment && outcome.errors.is_empty());
        let view = session.incident(&sid).unwrap();
        assert_eq!(view.incident.title, "Lawyer beaten outside court");
        assert_eq!(
            view.draft.unwrap().title,
            "Lawyer beaten outside court; hospitalised",
            "the edit waits, encrypted, for the amendment"
        );

        let sealed = session.seal(&sid).unwrap();
        assert_eq!(
            sealed.incident.title,
            "Lawyer beaten outside court; hospitalised"
        );
        assert!(sealed.draft.is_none());
        let history = session.history(&sid).unwrap();
        assert_eq!(history.revisions.len(), 2);
        assert_eq!(
            history.revisions[1].amends.as_deref(),
            Some(history.revisions[0].id.as_str())
        );
    }

    #[test]
    fn wrong_passphrase_is_reported_by_code() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let session = Session::new(dir, clock(), KdfChoice::Params(KdfParams::FLOOR), None);
        let err = session.unlock("not it".into()).unwrap_err();
        assert_eq!(err.code, "wrong_passphrase");
        assert!(err.message.contains("passphrase"), "{}", err.message);
        assert!(!session.is_unlocked());
    }

    #[test]
    fn missing_vault_and_bad_ids_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let session = Session::new(
            tmp.path().join("nothing here"),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );
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

    /// While a file is being added (here: a pipe that delivers it slowly), the running log is
    /// still saved: the vault is not held during the copy.
    #[test]
    fn the_running_log_is_saved_while_an_attachment_is_being_added() {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let id = make_vault(&dir);
        let session = Arc::new(Session::new(
            dir,
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        ));
        session.unlock(PASS.into()).unwrap();
        let fifo = tmp.path().join("video.mp4");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let adder = {
            let (session, fifo, id) = (Arc::clone(&session), fifo.clone(), id.to_string());
            std::thread::spawn(move || session.add_attachment(&id, &fifo, &mut |_| {}))
        };
        let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        pipe.write_all(&[7u8; 300_000]).unwrap();
        // The import is now blocked reading the pipe. Appending must still go through; a
        // timeout (not a timing assertion) turns a deadlock into a failure instead of a hang.
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let (session, id) = (Arc::clone(&session), id.to_string());
            std::thread::spawn(move || {
                let _ = tx.send(session.append_log(&id, "typed during the import", false));
            });
        }
        let entry = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("append_log waited for the attachment import")
            .unwrap();
        assert_eq!(entry.seq, 2);
        pipe.write_all(&[8u8; 1000]).unwrap();
        drop(pipe);
        let meta = adder.join().unwrap().unwrap();
        assert_eq!(meta.size, 301_000);
        assert_eq!(meta.original_name, "video.mp4");
        assert_eq!(
            session.incident(&id.to_string()).unwrap().attachments.len(),
            1
        );
    }
}

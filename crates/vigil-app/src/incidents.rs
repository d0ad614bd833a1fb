//! The session's incidents: the list and search, one record with its running log and
//! attachments, the editor's saves, sealing.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use vigil_model::{AttachmentId, AttachmentMeta, Incident, IncidentId, LogEntry, TermKind};
use vigil_store::{ListQuery, NewEntry, SearchHit, StoreError};

use crate::session::guard;
use crate::{
    AppError, EntryInput, FieldProblem, IncidentPage, IncidentView, ListRequest, SaveOutcome,
    Session, TermView,
};

/// Largest page of the incident list or of search results the UI can ask for.
const MAX_PAGE: u32 = 500;
/// Largest attachment the UI may preview (it is decrypted into memory, never to disk).
const MAX_PREVIEW: u64 = 32 * 1024 * 1024;

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
            let incidents = v.list_incidents(&q)?;
            let delivery = if crate::sync::names_server(v)? {
                let ids: Vec<_> = incidents.iter().map(|i| i.id).collect();
                v.delivery(&ids)?
                    .into_iter()
                    .map(|(id, d)| (id.to_string(), d))
                    .collect()
            } else {
                Default::default()
            };
            Ok(IncidentPage {
                incidents,
                total: v.count_matching(&q)?,
                unsent: v.unsent_revision_ids()?.len() as u64,
                delivery,
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
                incomplete: {
                    let mut m = std::collections::BTreeMap::new();
                    for a in v.attachments(id)? {
                        if let Some(p) = v.attachment_parts(a.id)? {
                            let missing = p.missing.iter().map(|&i| i as u32).collect();
                            let parts = crate::views::MissingParts {
                                have: p.have as u32,
                                of: p.of as u32,
                                missing,
                            };
                            m.insert(a.id.to_string(), parts);
                        }
                    }
                    m
                },
                attachments: v.attachments(id)?,
                versions: {
                    let l = v.lineage(id)?;
                    if l.is_fork() {
                        l.heads.iter().map(ToString::to_string).collect()
                    } else {
                        Vec::new()
                    }
                },
                log_draft: v.log_draft(id)?.unwrap_or_default(),
                sealed_entries: v.sealed_entries(id)?,
                delivery: if crate::sync::names_server(v)? {
                    v.delivery(&[id])?.remove(&id)
                } else {
                    None
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
        self.with_vault_mut(|v| Ok(v.append_entry(id, &NewEntry::note(text, flagged), at, None)?))
    }

    /// An entry from the window's input line: a note, a correction of an earlier entry, or a
    /// note of something that happened earlier. In the same write, the input's draft becomes
    /// `draft_after` (what is left in the input, usually nothing), so that neither a crash nor
    /// a lock can lose the entry or bring its text back as a draft.
    pub fn append_log_from_input(
        &self,
        id: &str,
        input: &EntryInput,
    ) -> Result<LogEntry, AppError> {
        let at = self.clock.now();
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        let entry = NewEntry {
            text: &input.text,
            flagged: input.flagged,
            corrects: input.corrects,
            happened_at: input.happened_at,
        };
        self.with_vault_mut(|v| Ok(v.append_entry(id, &entry, at, Some(&input.draft_after))?))
    }

    /// Keeps what is typed in an incident's running-log input but not yet entered (encrypted,
    /// in the vault); blank text removes it.
    pub fn save_log_draft(&self, id: &str, text: &str) -> Result<(), AppError> {
        let id: IncidentId = id.parse().map_err(|_| AppError::invalid_id(id))?;
        self.with_vault_mut(|v| Ok(v.save_log_draft(id, text)?))
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
        progress: &mut (dyn FnMut(u64) + Send),
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
        let dir = self.with_vault(|v| {
            v.incident(id)?;
            Ok(v.dir().to_path_buf())
        })?;
        // Paced like an exchange's progress (the command's answer says when it is done).
        let mut pace = crate::exchange::Pace::default();
        let mut paced = |done| {
            if pace.due(0, done, u64::MAX) {
                progress(done);
            }
        };
        let staged = crate::exchange::in_background(|| {
            vigil_store::stage_attachment(&dir, std::io::BufReader::new(file), Some(&mut paced))
        })?;
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::time::Duration;

    use vigil_crypto::kdf::KdfParams;
    use vigil_store::KdfChoice;

    use super::*;
    use crate::VaultOverview;
    use crate::session::testing::{PASS, clock, make_vault};

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

//! The vault's records as the monitor keeps them: incidents, the editor's drafts, the running
//! log, custom thesaurus terms, search and the content digest. Sealing is in `sealing`,
//! attachments in `attachments`.

use chrono::{DateTime, FixedOffset};
use vigil_ledger::custody::CustodyKind;
use vigil_model::{DeviceId, Incident, IncidentId, IncidentStatus, LogEntry};

use crate::error::{Result, StoreError};
use rusqlite::params;
use vigil_crypto::sign::DeviceKeys;

use crate::sql::NewEntry;
use crate::{IncidentSummary, ListQuery, SearchHit, Vault, custody, rows, search, sql};

impl Vault {
    pub(crate) fn load_custom_terms(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT doc FROM thesaurus_terms ORDER BY code")?;
        let docs: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        let mut terms = Vec::new();
        for d in docs {
            let term = serde_json::from_str(&d).map_err(|e| StoreError::Corrupted {
                detail: format!("a thesaurus term is unreadable: {e}"),
            })?;
            terms.push(term);
        }
        if !terms.is_empty() {
            self.thesaurus
                .extend(terms)
                .map_err(|e| StoreError::Corrupted {
                    detail: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Adds organisation-specific thesaurus terms, kept in the vault.
    pub fn add_terms(&mut self, terms: Vec<vigil_model::Term>) -> Result<()> {
        let mut next = self.thesaurus.clone();
        next.extend(terms.clone())
            .map_err(|e| StoreError::Thesaurus(e.to_string()))?;
        let tx = self.conn.transaction()?;
        for t in &terms {
            let doc = serde_json::to_string(t).map_err(|e| StoreError::Corrupted {
                detail: e.to_string(),
            })?;
            tx.execute(
                "INSERT OR REPLACE INTO thesaurus_terms (code, doc) VALUES (?1, ?2)",
                params![t.code.as_str(), doc],
            )?;
        }
        tx.commit()?;
        self.thesaurus = next;
        Ok(())
    }

    /// Stores a new incident after validating it, with a `created` custody event.
    pub fn create_incident(&mut self, incident: &Incident) -> Result<()> {
        incident.validate(&self.thesaurus)?;
        let tx = self.conn.transaction()?;
        sql::insert_incident(&tx, incident)?;
        custody_created(&tx, &self.keys, self.device, self.clock.now(), incident)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores many incidents in one transaction (import, benchmarks). All or nothing.
    pub fn create_incidents(&mut self, incidents: &[Incident]) -> Result<()> {
        for i in incidents {
            i.validate(&self.thesaurus)?;
        }
        let tx = self.conn.transaction()?;
        for i in incidents {
            sql::insert_incident(&tx, i)?;
        }
        // One signed custody event for the batch, naming every incident in it (a signature per
        // incident would cost more than the inserts themselves).
        if !incidents.is_empty() {
            let ids: Vec<String> = incidents.iter().map(|i| i.id.to_string()).collect();
            custody::append_custody(
                &tx,
                &self.keys,
                self.device,
                self.clock.now(),
                CustodyKind::Created,
                &format!("{} incidents", ids.len()),
                serde_json::json!({ "incidents": ids }),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Saves changes to an existing draft incident (validated; `updated_at` is set from the clock).
    pub fn update_incident(&mut self, incident: &Incident) -> Result<Incident> {
        let current = self.incident(incident.id)?;
        if current.status == IncidentStatus::Sealed {
            return Err(StoreError::Sealed(incident.id.to_string()));
        }
        let mut next = incident.clone();
        next.created_at = current.created_at;
        next.updated_at = self.clock.now();
        next.validate(&self.thesaurus)?;
        let tx = self.conn.transaction()?;
        sql::update_incident(&tx, &next)?;
        sql::clear_draft(&tx, next.id)?;
        tx.commit()?;
        Ok(next)
    }

    /// Reads one incident.
    pub fn incident(&self, id: IncidentId) -> Result<Incident> {
        sql::load_incident(&self.conn, id)
    }

    /// Incidents, newest first.
    pub fn list_incidents(&self, q: &ListQuery) -> Result<Vec<IncidentSummary>> {
        sql::list_incidents(&self.conn, q)
    }

    /// The number of incidents.
    pub fn count_incidents(&self) -> Result<u64> {
        sql::count_incidents(&self.conn)
    }

    /// The number of incidents that pass the filters of `q` (its limit and offset ignored).
    pub fn count_matching(&self, q: &ListQuery) -> Result<u64> {
        sql::count_matching(&self.conn, q)
    }

    /// Keeps the editor's state of an incident that does not validate yet (encrypted, like
    /// everything else), so nothing typed is lost. `doc` must parse as an incident.
    pub fn save_draft(&mut self, incident: &Incident) -> Result<()> {
        let now = self.clock.now();
        sql::save_draft(&self.conn, incident, &now)
    }

    /// Throws away the editor's unsaved state of an incident (the person chose to).
    pub fn discard_draft(&mut self, id: IncidentId) -> Result<()> {
        sql::clear_draft(&self.conn, id)
    }

    /// The editor's unsaved state of an incident, if there is one.
    pub fn draft(&self, id: IncidentId) -> Result<Option<Incident>> {
        sql::load_draft(&self.conn, id)
    }

    /// Appends a running-log entry, durably: when this returns, the entry is on disk.
    pub fn append_log(
        &mut self,
        incident: IncidentId,
        text: &str,
        flagged: bool,
    ) -> Result<LogEntry> {
        let at = self.clock.now();
        self.append_entry(incident, &NewEntry::note(text, flagged), at, None)
    }

    /// Gives back the memory the database holds for pages it may read again (its page cache),
    /// after an export or an import read much of it once.
    pub fn release_memory(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }

    /// Appends `entry`, stamped `at`: the moment the person pressed Enter, taken before the
    /// caller waited for the vault (which may have been busy with a short write). With
    /// `draft_after`, the incident's input draft becomes that text in the same transaction:
    /// what is left in the input once the entry has left it (usually nothing), so a crash can
    /// neither lose the entry nor bring its text back as a draft.
    pub fn append_entry(
        &mut self,
        incident: IncidentId,
        entry: &NewEntry<'_>,
        at: DateTime<FixedOffset>,
        draft_after: Option<&str>,
    ) -> Result<LogEntry> {
        sql::append_log(
            &mut self.conn,
            self.device,
            incident,
            entry,
            at,
            draft_after,
        )
    }

    /// Keeps what is typed in an incident's running-log input but not yet entered, encrypted
    /// like everything else, so that a lock, an auto-lock or a crash does not lose it. Blank
    /// text removes the draft.
    pub fn save_log_draft(&mut self, incident: IncidentId, text: &str) -> Result<()> {
        let now = self.clock.now();
        sql::set_log_draft(&self.conn, incident, text, &now)
    }

    /// What was typed in an incident's running-log input and not yet entered, if anything.
    pub fn log_draft(&self, incident: IncidentId) -> Result<Option<String>> {
        sql::log_draft(&self.conn, incident)
    }

    /// The running log of an incident, in sequence order.
    pub fn log_entries(&self, incident: IncidentId) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM log_entries WHERE incident_id = ?1 ORDER BY seq, at, device",
            rows::ENTRY_COLUMNS
        ))?;
        let raws = stmt
            .query_map(
                [incident.as_uuid().as_bytes().as_slice()],
                rows::entry_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(rows::RawEntry::into_entry).collect()
    }

    /// A SHA-256 over every row of every table (rows sorted within each table), so tests and
    /// import can show that an operation changed nothing.
    pub fn content_digest(&self) -> Result<vigil_model::Sha256> {
        use rusqlite::types::ValueRef;
        let mut names: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        names.sort();
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for name in names {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\"")))?;
            let cols = stmt.column_count();
            let mut rows: Vec<Vec<u8>> = Vec::new();
            let mut q = stmt.query([])?;
            while let Some(r) = q.next()? {
                let mut row = Vec::new();
                for c in 0..cols {
                    let (tag, bytes): (u8, Vec<u8>) = match r.get_ref(c)? {
                        ValueRef::Null => (0, Vec::new()),
                        ValueRef::Integer(i) => (1, i.to_be_bytes().to_vec()),
                        ValueRef::Real(f) => (2, f.to_be_bytes().to_vec()),
                        ValueRef::Text(t) => (3, t.to_vec()),
                        ValueRef::Blob(b) => (4, b.to_vec()),
                    };
                    row.push(tag);
                    row.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
                    row.extend_from_slice(&bytes);
                }
                rows.push(row);
            }
            rows.sort();
            ctx.update(name.as_bytes());
            ctx.update(&(rows.len() as u64).to_be_bytes());
            for row in rows {
                ctx.update(&row);
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Ok(vigil_model::Sha256(out))
    }

    /// Full-text search over incidents, parties and log entries; newest matches first, one hit
    /// per incident.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        search::search(&self.conn, query, limit)
    }
}

fn custody_created(
    tx: &rusqlite::Transaction<'_>,
    keys: &DeviceKeys,
    device: DeviceId,
    now: DateTime<FixedOffset>,
    incident: &Incident,
) -> Result<()> {
    custody::append_custody(
        tx,
        keys,
        device,
        now,
        CustodyKind::Created,
        &incident.id.to_string(),
        serde_json::json!({}),
    )
}

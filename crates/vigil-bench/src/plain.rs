//! The reference: plain, unencrypted SQLite doing what the vault does.
//!
//! rusqlite is linked against SQLCipher here; a connection that is never given `PRAGMA key` is
//! exactly plain SQLite (no page encryption, no HMAC). The schema, pragmas and statements below
//! are copies of those in `vigil-store` (`schema.rs`, `lib.rs`, `search.rs`) and **must mirror
//! them**: when the store changes, change this file too. The test at the bottom proves that the
//! two databases have the same `sqlite_master`.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use vigil_crypto::Key256;
use vigil_model::{DeviceId, EntryId, Incident, IncidentId, IncidentStatus};

/// Copy of migration 1 in `crates/vigil-store/src/schema.rs`, byte for byte.
const SCHEMA: &str = r#"
    CREATE TABLE vault_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE incidents (
        id BLOB PRIMARY KEY,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        start_ms INTEGER,
        doc TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incidents_newest ON incidents (created_ms DESC, id DESC);

    CREATE TABLE log_entries (
        id BLOB PRIMARY KEY,
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        text TEXT NOT NULL,
        device BLOB NOT NULL,
        flagged INTEGER NOT NULL DEFAULT 0,
        UNIQUE (incident_id, seq)
    ) STRICT;
    CREATE TRIGGER log_entries_append_only_update BEFORE UPDATE ON log_entries
    BEGIN SELECT RAISE(ABORT, 'running-log entries are append-only'); END;
    CREATE TRIGGER log_entries_append_only_delete BEFORE DELETE ON log_entries
    BEGIN SELECT RAISE(ABORT, 'running-log entries are append-only'); END;

    CREATE TABLE attachments (
        id BLOB PRIMARY KEY,
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        original_name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        added_at TEXT NOT NULL,
        file_key BLOB NOT NULL,
        chunk_count INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX attachments_by_incident ON attachments (incident_id);

    CREATE TABLE attachment_chunks (
        attachment_id BLOB NOT NULL REFERENCES attachments (id),
        idx INTEGER NOT NULL,
        blob TEXT NOT NULL UNIQUE,
        PRIMARY KEY (attachment_id, idx)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE thesaurus_terms (
        code TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    ) STRICT;

    CREATE VIRTUAL TABLE search_index USING fts5 (
        body,
        kind UNINDEXED,
        incident UNINDEXED,
        ref UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    "#;

/// Copy of `configure` in `vigil-store/src/lib.rs` (`journal_mode = WAL` is set at creation
/// and persists in the file, as in the store).
const PRAGMAS: &str = "PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;";

/// One search result, as the store builds it (the id left as bytes).
#[derive(Debug)]
pub struct Hit {
    /// The incident id.
    pub id: Vec<u8>,
    /// Its title.
    pub title: String,
    /// What matched.
    pub matched: String,
    /// The excerpt.
    pub snippet: String,
}

/// A plain SQLite database with the vault's schema.
#[derive(Debug)]
pub struct PlainDb {
    conn: Connection,
    device: DeviceId,
}

impl PlainDb {
    /// Creates the database file at `path`, as `Vault::create` does (without the key).
    pub fn create(path: &Path) -> Result<Self> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("creating {}", path.display()))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch(PRAGMAS)?;
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", 1u32)?;
        tx.commit()?;
        let device = DeviceId::new();
        conn.execute(
            "INSERT INTO vault_meta (key, value) VALUES ('device_id', ?1), ('created_at', ?2)",
            params![
                device.to_string(),
                chrono::Local::now().fixed_offset().to_rfc3339()
            ],
        )?;
        Ok(Self { conn, device })
    }

    /// Opens an existing database: the plain counterpart of `Vault::open_with_key` (open, set
    /// the pragmas, read the schema version and the device id).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_inner(path, None)
    }

    /// Opens a closed vault's own `vault.db` with its key and drives it with the reference
    /// statements. Only for the what-if measurement of the bulk insert; never for a table that
    /// claims to measure the vault's API.
    pub fn open_vault_db(vault_dir: &Path, key: &Key256) -> Result<Self> {
        Self::open_inner(&vault_dir.join("vault.db"), Some(key))
    }

    fn open_inner(path: &Path, key: Option<&Key256>) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        if let Some(key) = key {
            conn.execute_batch(&key_pragma(key))?;
        }
        conn.execute_batch(PRAGMAS)?;
        let _version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let device: String = conn.query_row(
            "SELECT value FROM vault_meta WHERE key = 'device_id'",
            [],
            |r| r.get(0),
        )?;
        let device = device
            .parse()
            .map_err(|_| anyhow::anyhow!("bad device id"))?;
        Ok(Self { conn, device })
    }

    /// Folds the WAL into the database and closes it, as `Vault::close` does.
    pub fn close(self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }

    /// The connection, for counting and checks.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mirrors `Vault::create_incidents` without the validation: one transaction, the incident
    /// row with its JSON document, then its search rows. With [`Indexing::SkipDelete`] the
    /// per-incident `DELETE` of old search rows is left out (a new incident has none).
    pub fn insert_incidents(&mut self, incidents: &[Incident], indexing: Indexing) -> Result<()> {
        let tx = self.conn.transaction()?;
        for i in incidents {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO incidents (id, title, status, created_ms, updated_ms, start_ms, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    i.id.as_uuid().as_bytes().as_slice(),
                    i.title,
                    status_str(i.status),
                    i.created_at.timestamp_millis(),
                    i.updated_at.timestamp_millis(),
                    i.start.at.as_ref().map(|t| t.timestamp_millis()),
                    i.to_json()
                ])?;
            anyhow::ensure!(inserted == 1, "duplicate incident id {}", i.id);
            index_incident(&tx, i, indexing)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Mirrors `Vault::update_incident` without the validation: read the stored incident, keep
    /// its creation time, write the row and re-index it, in one transaction.
    pub fn update_incident(&mut self, incident: &Incident) -> Result<()> {
        let doc: String = self.conn.query_row(
            "SELECT doc FROM incidents WHERE id = ?1",
            [incident.id.as_uuid().as_bytes().as_slice()],
            |r| r.get(0),
        )?;
        let current = Incident::from_json(&doc)?;
        let mut next = incident.clone();
        next.created_at = current.created_at;
        next.updated_at = chrono::Local::now().fixed_offset();
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE incidents SET title = ?2, status = ?3, updated_ms = ?4, start_ms = ?5, doc = ?6 WHERE id = ?1",
            params![
                next.id.as_uuid().as_bytes().as_slice(),
                next.title,
                status_str(next.status),
                next.updated_at.timestamp_millis(),
                next.start.at.as_ref().map(|t| t.timestamp_millis()),
                next.to_json()
            ],
        )?;
        index_incident(&tx, &next, Indexing::AsStore)?;
        tx.commit()?;
        Ok(())
    }

    /// Mirrors `Vault::append_log`: an immediate transaction, the existence check, the next
    /// `seq`, the entry row and its search row, a durable commit.
    pub fn append_log(&mut self, incident: IncidentId, text: &str, flagged: bool) -> Result<u64> {
        let at = chrono::Local::now().fixed_offset();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let iid = incident.as_uuid().as_bytes().as_slice();
        let exists = tx
            .query_row("SELECT 1 FROM incidents WHERE id = ?1", [iid], |_| Ok(true))
            .optional()?
            .unwrap_or(false);
        anyhow::ensure!(exists, "no incident {incident}");
        let seq: i64 = tx.query_row(
            "SELECT coalesce(max(seq), 0) + 1 FROM log_entries WHERE incident_id = ?1",
            [iid],
            |r| r.get(0),
        )?;
        let id = EntryId::new();
        tx.prepare_cached(
            "INSERT INTO log_entries (id, incident_id, seq, at, text, device, flagged)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            id.as_uuid().as_bytes().as_slice(),
            iid,
            seq,
            at.to_rfc3339(),
            text,
            self.device.as_uuid().as_bytes().as_slice(),
            flagged,
        ])?;
        tx.prepare_cached(
            "INSERT INTO search_index (body, kind, incident, ref) VALUES (?1, 'log', ?2, ?3)",
        )?
        .execute(params![text, iid, id.as_uuid().as_bytes().as_slice()])?;
        tx.commit()?;
        Ok(seq as u64)
    }

    /// Mirrors `vigil_store`'s search: the same query text, SQL and de-duplication.
    pub fn search(&self, input: &str, limit: u32) -> Result<Vec<Hit>> {
        let Some(q) = fts_query(input) else {
            return Ok(Vec::new());
        };
        let limit = if limit == 0 { 50 } else { limit };
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.incident, s.kind, snippet(search_index, 0, '[', ']', '…', 10), i.title
         FROM search_index s JOIN incidents i ON i.id = s.incident
         WHERE search_index MATCH ?1
         ORDER BY s.rowid DESC",
        )?;
        let mut rows = stmt.query([q])?;
        let mut seen = HashSet::new();
        let mut hits = Vec::new();
        while let Some(r) = rows.next()? {
            let id: Vec<u8> = r.get(0)?;
            if !seen.insert(id.clone()) {
                continue;
            }
            hits.push(Hit {
                id,
                matched: r.get(1)?,
                snippet: r.get(2)?,
                title: r.get(3)?,
            });
            if hits.len() >= limit as usize {
                break;
            }
        }
        Ok(hits)
    }

    /// Mirrors `Vault::list_incidents` with no status filter: the same SQL, and each row's
    /// JSON document parsed, as the store does.
    pub fn first_page(&self, limit: u32, offset: u32) -> Result<Vec<Incident>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.id, i.doc,
                    (SELECT count(*) FROM log_entries l WHERE l.incident_id = i.id),
                    (SELECT count(*) FROM attachments a WHERE a.incident_id = i.id)
             FROM incidents i
             WHERE (?1 IS NULL OR i.status = ?1)
             ORDER BY i.created_ms DESC, i.id DESC
             LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt.query_map(params![None::<&str>, limit, offset], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (doc, _logs, _atts) = row?;
            out.push(Incident::from_json(&doc)?);
        }
        Ok(out)
    }
}

/// How the search rows of an incident are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    /// Exactly as the store does: delete the incident's old rows, then insert.
    AsStore,
    /// Without the `DELETE`, which FTS5 can only run as a scan of the whole index
    /// (`incident` is an UNINDEXED column).
    SkipDelete,
}

/// Copy of `index_incident` in `vigil-store/src/search.rs`.
fn index_incident(tx: &rusqlite::Transaction<'_>, i: &Incident, indexing: Indexing) -> Result<()> {
    let id = i.id.as_uuid().as_bytes().to_vec();
    if indexing == Indexing::AsStore {
        tx.prepare_cached(
            "DELETE FROM search_index WHERE incident = ?1 AND kind IN ('incident', 'party')",
        )?
        .execute([&id])?;
    }
    let mut body = String::new();
    for part in [
        &i.title,
        &i.summary,
        &i.location.place,
        &i.location.admin_area,
    ] {
        body.push_str(part);
        body.push('\n');
    }
    for t in &i.tags {
        body.push_str(t);
        body.push(' ');
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO search_index (body, kind, incident, ref) VALUES (?1, ?2, ?3, ?4)",
    )?;
    insert.execute(params![body, "incident", id, id])?;
    for p in &i.parties {
        insert.execute(params![
            party_text(p),
            "party",
            id,
            p.id.as_uuid().as_bytes().as_slice()
        ])?;
    }
    Ok(())
}

/// Copy of `party_text` in `vigil-store/src/search.rs`.
fn party_text(p: &vigil_model::Party) -> String {
    use vigil_model::PartyKind;
    let mut t = p.display_name();
    match &p.kind {
        PartyKind::Person {
            occupation: Some(o),
            ..
        } => {
            t.push('\n');
            t.push_str(o);
        }
        PartyKind::Group {
            name, description, ..
        } => {
            for s in [name, description] {
                if !t.contains(s.as_str()) {
                    t.push('\n');
                    t.push_str(s);
                }
            }
        }
        _ => {}
    }
    t.push('\n');
    t.push_str(&p.notes);
    t
}

/// `PRAGMA key` with a raw key, as the store's `key_connection` writes it (wiped on drop).
fn key_pragma(key: &Key256) -> zeroize::Zeroizing<String> {
    let mut pragma = zeroize::Zeroizing::new(String::with_capacity(80));
    pragma.push_str("PRAGMA key = \"x'");
    pragma.push_str(&key.expose_hex());
    pragma.push_str("'\";");
    pragma
}

/// Copy of `fts_query` in `vigil-store/src/search.rs`: each word quoted, the last a prefix.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<&str> = input.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut q = String::new();
    for (n, w) in words.iter().enumerate() {
        if n > 0 {
            q.push(' ');
        }
        q.push('"');
        q.push_str(&w.replace('"', "\"\""));
        q.push('"');
        if n + 1 == words.len() {
            q.push('*');
        }
    }
    Some(q)
}

fn status_str(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Draft => "draft",
        IncidentStatus::Sealed => "sealed",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use vigil_crypto::Passphrase;
    use vigil_crypto::kdf::KdfParams;
    use vigil_store::{KdfChoice, SystemClock, Vault};

    use super::*;

    type MasterRow = (String, String, String, Option<String>);

    fn master(conn: &Connection) -> (Vec<MasterRow>, u32) {
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        let version = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        (rows, version)
    }

    /// The reference is only fair if it has exactly the vault's schema.
    #[test]
    fn reference_schema_is_the_vaults() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let pass = Passphrase::new("bench".to_owned());
        let vault = Vault::create(
            &dir,
            &pass,
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::new(SystemClock),
        )
        .unwrap();
        vault.close().unwrap();
        let key = Vault::unwrap_key(&dir, &pass).unwrap();
        let enc = Connection::open(dir.join("vault.db")).unwrap();
        enc.execute_batch(&key_pragma(&key)).unwrap();

        let plain_path = tmp.path().join("plain.db");
        PlainDb::create(&plain_path).unwrap().close().unwrap();
        let plain = Connection::open(&plain_path).unwrap();

        let (vault_rows, vault_version) = master(&enc);
        let (plain_rows, plain_version) = master(&plain);
        assert!(vault_rows.len() > 10, "{vault_rows:?}");
        assert_eq!(vault_rows, plain_rows);
        assert_eq!(vault_version, plain_version);
        let mode = |c: &Connection| -> String {
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(mode(&enc), "wal");
        assert_eq!(mode(&plain), "wal");
    }

    /// The reference writes exactly the rows the vault writes (catches a copy that drifted).
    #[test]
    fn reference_writes_the_vaults_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let pass = Passphrase::new("bench".to_owned());
        let incidents = crate::workload::incidents(200, 11);
        let mut vault = Vault::create(
            &dir,
            &pass,
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::new(SystemClock),
        )
        .unwrap();
        vault.create_incidents(&incidents).unwrap();
        vault.close().unwrap();
        let key = Vault::unwrap_key(&dir, &pass).unwrap();
        let enc = Connection::open(dir.join("vault.db")).unwrap();
        enc.execute_batch(&key_pragma(&key)).unwrap();

        let plain_path = tmp.path().join("plain.db");
        let mut db = PlainDb::create(&plain_path).unwrap();
        db.insert_incidents(&incidents, Indexing::AsStore).unwrap();
        db.close().unwrap();
        let plain = Connection::open(&plain_path).unwrap();

        type Rows = Vec<(String, String, Vec<u8>, Vec<u8>)>;
        let dump = |c: &Connection| -> (Rows, Vec<(Vec<u8>, String)>) {
            let mut s = c
                .prepare("SELECT body, kind, incident, ref FROM search_index ORDER BY rowid")
                .unwrap();
            let index = s
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<rusqlite::Result<Rows>>()
                .unwrap();
            let mut s = c
                .prepare("SELECT id, doc FROM incidents ORDER BY id")
                .unwrap();
            let docs = s
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            (index, docs)
        };
        let (vault_index, vault_docs) = dump(&enc);
        let (plain_index, plain_docs) = dump(&plain);
        assert_eq!(
            vault_index.len(),
            200 + incidents.iter().map(|i| i.parties.len()).sum::<usize>()
        );
        assert_eq!(vault_index, plain_index);
        assert_eq!(vault_docs, plain_docs);
    }
}

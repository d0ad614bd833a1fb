//! Versioned migrations. `PRAGMA user_version` holds the number of migrations applied; each
//! migration runs in its own transaction. Never edit a migration that has shipped: add one.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
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

    -- Filters for the incident list: violation codes and tags (lower-cased) of each incident.
    CREATE TABLE incident_terms (
        incident BLOB NOT NULL REFERENCES incidents (id),
        code TEXT NOT NULL,
        PRIMARY KEY (code, incident)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE incident_tags (
        incident BLOB NOT NULL REFERENCES incidents (id),
        tag TEXT NOT NULL,
        PRIMARY KEY (tag, incident)
    ) STRICT, WITHOUT ROWID;

    -- The editor's unsaved state of an incident that does not validate yet, so that nothing
    -- typed is lost; replaced by the incident itself as soon as it validates.
    CREATE TABLE editor_drafts (
        incident BLOB PRIMARY KEY REFERENCES incidents (id),
        doc TEXT NOT NULL,
        saved_ms INTEGER NOT NULL
    ) STRICT;

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

    -- Which full-text rows belong to an incident's own text and its parties, so that saving
    -- an incident replaces them without scanning the index (FTS5 cannot index `incident`).
    CREATE TABLE search_refs (
        fts_rowid INTEGER PRIMARY KEY,
        incident BLOB NOT NULL
    ) STRICT;
    CREATE INDEX search_refs_by_incident ON search_refs (incident);

    CREATE VIRTUAL TABLE search_index USING fts5 (
        body,
        kind UNINDEXED,
        incident UNINDEXED,
        ref UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], refusing one written by a newer build.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerVersion {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(())
}

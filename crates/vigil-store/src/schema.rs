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
    // 2: identities, sealed revisions and the custody log (see docs/vault-format.md).
    r#"
    -- This vault's own device identity (Ed25519 signing key, age identity); one row.
    CREATE TABLE device_keys (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        device BLOB NOT NULL,
        secret BLOB NOT NULL,
        created_at TEXT NOT NULL
    ) STRICT;

    -- The organisation this vault created or joined: the signed profile, and the org's
    -- secret keys when this vault is HQ. One row.
    CREATE TABLE org (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        org_id TEXT NOT NULL,
        profile TEXT NOT NULL,
        secret BLOB,
        joined_at TEXT NOT NULL
    ) STRICT;

    -- Devices whose signatures this vault has accepted, with the keys first seen for them.
    CREATE TABLE known_devices (
        device BLOB PRIMARY KEY,
        sign_pk BLOB NOT NULL,
        age_recipient TEXT NOT NULL,
        first_seen TEXT NOT NULL
    ) STRICT;

    -- Sealed revisions: canonical JSON, its SHA-256 and the device's signature over it.
    -- Append-only; each device's revisions form a hash chain (device_seq 1, 2, 3 ...).
    CREATE TABLE revisions (
        id BLOB PRIMARY KEY,
        incident BLOB NOT NULL REFERENCES incidents (id),
        device BLOB NOT NULL,
        device_seq INTEGER NOT NULL,
        prev_hash BLOB,
        amends BLOB,
        sealed_at TEXT NOT NULL,
        doc BLOB NOT NULL,
        hash BLOB NOT NULL,
        sig BLOB NOT NULL,
        imported INTEGER NOT NULL DEFAULT 0,
        UNIQUE (device, device_seq)
    ) STRICT;
    CREATE INDEX revisions_by_incident ON revisions (incident);
    CREATE TRIGGER revisions_append_only_update BEFORE UPDATE ON revisions
    BEGIN SELECT RAISE(ABORT, 'sealed revisions are never rewritten'); END;
    CREATE TRIGGER revisions_append_only_delete BEFORE DELETE ON revisions
    BEGIN SELECT RAISE(ABORT, 'sealed revisions are never rewritten'); END;

    -- Which bundle carried which revision out of this vault.
    CREATE TABLE revision_exports (
        revision BLOB NOT NULL REFERENCES revisions (id),
        bundle TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (revision, bundle)
    ) STRICT, WITHOUT ROWID;

    -- The custody log: created, sealed, exported and imported events, hash-chained per device
    -- and signed by it. Append-only.
    CREATE TABLE custody_log (
        id BLOB PRIMARY KEY,
        device BLOB NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        subject TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash BLOB,
        doc BLOB NOT NULL,
        hash BLOB NOT NULL,
        sig BLOB NOT NULL,
        UNIQUE (device, seq)
    ) STRICT;
    CREATE TRIGGER custody_log_append_only_update BEFORE UPDATE ON custody_log
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
    CREATE TRIGGER custody_log_append_only_delete BEFORE DELETE ON custody_log
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
    "#,
    // 3: enrolment, HQ's register of trusted devices, grants and quarantine (see
    // docs/vault-format.md and docs/threat-model.md); running-log places per device.
    r#"
    -- Running-log places are numbered per device, so two devices writing one incident at once
    -- never take each other's place: the table is rebuilt with that uniqueness (its triggers
    -- go with the old table and are made again).
    CREATE TABLE log_entries_3 (
        id BLOB PRIMARY KEY,
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        text TEXT NOT NULL,
        device BLOB NOT NULL,
        flagged INTEGER NOT NULL DEFAULT 0,
        UNIQUE (incident_id, device, seq)
    ) STRICT;
    INSERT INTO log_entries_3 (id, incident_id, seq, at, text, device, flagged)
        SELECT id, incident_id, seq, at, text, device, flagged FROM log_entries;
    DROP TABLE log_entries;
    ALTER TABLE log_entries_3 RENAME TO log_entries;
    CREATE INDEX log_entries_in_order ON log_entries (incident_id, seq);
    CREATE TRIGGER log_entries_append_only_update BEFORE UPDATE ON log_entries
    BEGIN SELECT RAISE(ABORT, 'running-log entries are append-only'); END;
    CREATE TRIGGER log_entries_append_only_delete BEFORE DELETE ON log_entries
    BEGIN SELECT RAISE(ABORT, 'running-log entries are append-only'); END;

    -- What authorising one revision looks up, answered from an index however long the
    -- incident's history is.
    CREATE INDEX revisions_by_incident_device ON revisions (incident, device);
    CREATE INDEX known_devices_by_key ON known_devices (sign_pk);

    -- This vault's own enrolment in its organisation (a monitor's): the certificate its
    -- bundles carry. One row.
    CREATE TABLE enrolment (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        invitation BLOB NOT NULL,
        certificate BLOB NOT NULL,
        name TEXT NOT NULL,
        enrolled_at TEXT NOT NULL
    ) STRICT;

    -- Invitations HQ issued: their public, signed part (the secret went with the file).
    CREATE TABLE invitations (
        id BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        body BLOB NOT NULL
    ) STRICT;

    -- The devices HQ trusts, by key: enrolled with an invitation (certificate kept), or
    -- accepted by a person from quarantine. An invitation serves one device.
    CREATE TABLE device_register (
        sign_pk BLOB PRIMARY KEY,
        device BLOB NOT NULL UNIQUE,
        name TEXT NOT NULL,
        invitation BLOB UNIQUE,
        certificate BLOB,
        enrolled_at TEXT,
        registered_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        revoked_at TEXT
    ) STRICT;

    -- Incidents the organisation handed to another device, with its signed grant.
    CREATE TABLE grants (
        incident BLOB NOT NULL,
        device BLOB NOT NULL,
        doc BLOB NOT NULL,
        sig BLOB NOT NULL,
        PRIMARY KEY (incident, device)
    ) STRICT, WITHOUT ROWID;

    -- Bundles from senders a person must decide on: the whole bundle file, kept encrypted in
    -- the chunk store under its own key, like an attachment.
    CREATE TABLE quarantine (
        id BLOB PRIMARY KEY,
        bundle_id TEXT NOT NULL,
        device BLOB NOT NULL,
        sign_pk BLOB NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        name TEXT,
        received_at TEXT NOT NULL,
        revisions INTEGER NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        file_key BLOB NOT NULL,
        chunk_count INTEGER NOT NULL,
        UNIQUE (bundle_id, sha256)
    ) STRICT;
    CREATE TABLE quarantine_chunks (
        quarantine BLOB NOT NULL REFERENCES quarantine (id),
        idx INTEGER NOT NULL,
        blob TEXT NOT NULL UNIQUE,
        PRIMARY KEY (quarantine, idx)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 4: what is typed in a running log's input but not yet entered, per incident, so that it
    // survives a lock, an auto-lock or a crash. Never exported: it is not part of the record.
    r#"
    CREATE TABLE log_drafts (
        incident BLOB PRIMARY KEY REFERENCES incidents (id),
        text TEXT NOT NULL,
        saved_ms INTEGER NOT NULL
    ) STRICT;
    "#,
    // 5: corrections and late notes in the running log: the entry an entry corrects (kept as
    // written), and when what it notes happened, if earlier than its writing.
    r#"
    ALTER TABLE log_entries ADD COLUMN corrects BLOB;
    ALTER TABLE log_entries ADD COLUMN happened_at TEXT;
    "#,
    // 6: sync with the organisation's server. An item is a bundle of this device's revisions
    // (and its custody events since the last item), age-encrypted to HQ like any bundle, kept
    // here from the moment it is built until the server's checked receipt replaces it: a
    // retry after a crash sends the same bytes under the same id and place. HQ's side keeps
    // where it is in the organisation's feed and the items it still has to acknowledge.
    r#"
    CREATE TABLE sync_items (
        seq INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        ciphertext BLOB,
        sha256 BLOB NOT NULL,
        size INTEGER NOT NULL,
        revisions INTEGER NOT NULL,
        custody_through INTEGER NOT NULL,
        built_at TEXT NOT NULL,
        attempted_at TEXT,
        receipt BLOB,
        received_at TEXT,
        acked_at TEXT
    ) STRICT;
    CREATE TABLE sync_item_revisions (
        revision BLOB PRIMARY KEY REFERENCES revisions (id),
        item INTEGER NOT NULL REFERENCES sync_items (seq)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX sync_item_revisions_item ON sync_item_revisions (item);
    CREATE TABLE sync_pulled (
        id BLOB PRIMARY KEY,
        device BLOB NOT NULL,
        pos INTEGER NOT NULL,
        pulled_at TEXT NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 7: attachments go to the server apart from items, by the resumable upload. Each is
    // queued with the first item whose revisions name it (that item waits for its receipt);
    // before the upload its age ciphertext is staged once into the chunk store (encrypted by
    // the vault, like everything there), so that a resumed upload sends the same bytes. The
    // server's checked receipt replaces the staged copy.
    r#"
    CREATE TABLE sync_blobs (
        attachment BLOB PRIMARY KEY,
        item INTEGER NOT NULL REFERENCES sync_items (seq),
        queued_at TEXT NOT NULL,
        size INTEGER,
        sha256 BLOB,
        file_key BLOB,
        chunk_count INTEGER,
        prepared_at TEXT,
        receipt BLOB,
        received_at TEXT
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX sync_blobs_item ON sync_blobs (item);
    CREATE TABLE sync_blob_chunks (
        attachment BLOB NOT NULL REFERENCES sync_blobs (attachment),
        idx INTEGER NOT NULL,
        blob TEXT NOT NULL UNIQUE,
        PRIMARY KEY (attachment, idx)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 8: an attachment's content removed from this laptop after its delivery to HQ (asked for:
    // `vigil sync --free-delivered`, or the setting): its record, name, size and hash stay,
    // its chunks and key go.
    r#"
    ALTER TABLE attachments ADD COLUMN freed_at TEXT;
    "#,
    // 9: attachments that came in parts (a record larger than one bundle file on a FAT32
    // stick). A part list, named by the SHA-256 of its canonical JSON, is kept with the parts
    // that arrived, each staged into the chunk store like an attachment; an attachment whose
    // revision arrived before all its parts waits (`awaiting_parts`, no chunks, no key) until
    // a list is complete, when the parts are joined, checked against its SHA-256, and go.
    r#"
    CREATE TABLE part_lists (
        id BLOB PRIMARY KEY,
        sha256 BLOB NOT NULL,
        size INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        body BLOB NOT NULL,
        received_at TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX part_lists_by_sha256 ON part_lists (sha256);
    CREATE TABLE parts (
        list BLOB NOT NULL REFERENCES part_lists (id),
        idx INTEGER NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        file_key BLOB NOT NULL,
        chunk_count INTEGER NOT NULL,
        PRIMARY KEY (list, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE part_chunks (
        list BLOB NOT NULL,
        idx INTEGER NOT NULL,
        chunk INTEGER NOT NULL,
        blob TEXT NOT NULL UNIQUE,
        PRIMARY KEY (list, idx, chunk)
    ) STRICT, WITHOUT ROWID;
    ALTER TABLE attachments ADD COLUMN awaiting_parts INTEGER NOT NULL DEFAULT 0;
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

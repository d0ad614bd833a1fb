//! The embedded SQLite backend: organisations, devices, nonces, items (ciphertext with routing
//! metadata), receipts and acknowledgements. Embedded SQLite under `--data`.
//!
//! Every write that a receipt vouches for is committed with `synchronous=FULL` before the
//! receipt leaves the server. Nothing here ever holds plaintext of a report: items are age
//! ciphertext for HQ's readers, and the only names stored are the organisation's (from its
//! public profile).

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use vigil_crypto::sign::{SignPublicKey, SigningKey};

use vigil_ledger::profile::OrgProfile;

use crate::error::ApiError;

mod devices;
mod items;
mod uploads;
mod writer;

use writer::Job;

pub use devices::*;
pub use items::*;
pub use uploads::*;

use super::{OrgRefused, OrgRow, now};

/// The schema this build writes.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pkcs8 BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    org TEXT PRIMARY KEY,
    sign_pk BLOB NOT NULL,
    profile TEXT NOT NULL,
    created_at TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY,
    org TEXT NOT NULL REFERENCES orgs(org),
    sign_pk BLOB NOT NULL,
    role TEXT NOT NULL,
    invitation TEXT NOT NULL UNIQUE,
    certificate_sha256 TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    device TEXT PRIMARY KEY,
    org TEXT NOT NULL REFERENCES orgs(org),
    revoked_at TEXT NOT NULL,
    document TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    device TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires INTEGER NOT NULL,
    -- The nonce first: clients make nonces that grow with time (UUIDv7), so the key's
    -- inserts land on the index's last page instead of one page per device.
    PRIMARY KEY (nonce, device)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires);
CREATE TABLE IF NOT EXISTS receipts (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    document TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_device ON receipts(device, pos);
CREATE TABLE IF NOT EXISTS items (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    org TEXT NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    ciphertext BLOB NOT NULL,
    receipt INTEGER NOT NULL REFERENCES receipts(pos),
    UNIQUE (device, seq)
);
CREATE INDEX IF NOT EXISTS items_feed ON items(org, pos);
CREATE TABLE IF NOT EXISTS acks (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL UNIQUE REFERENCES items(id),
    device TEXT NOT NULL,
    acked_by TEXT NOT NULL,
    acked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS acks_device ON acks(device, pos);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    device TEXT NOT NULL,
    length INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    upload_offset INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    receipt TEXT,
    receipt_sig TEXT
);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload TEXT NOT NULL REFERENCES uploads(id),
    part_offset INTEGER NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (upload, part_offset)
);
";

/// The embedded database, shared by every request: one writer thread that commits the writes
/// waiting at each moment together (group commit, in `writer.rs`), and a pool of read-only
/// connections, which in WAL mode read beside it. Requests wait for either in a blocking task,
/// never on the async runtime.
#[derive(Debug, Clone)]
pub struct Sqlite {
    path: Arc<PathBuf>,
    writer: Sender<Box<dyn Job>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

pub(crate) fn key_from(blob: Vec<u8>) -> rusqlite::Result<SignPublicKey> {
    blob.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "sign_pk".into(), rusqlite::types::Type::Blob)
    })
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Sqlite {
    /// Opens (or creates) the database in `dir`, which is created 0700 if missing.
    pub fn open(dir: &Path) -> anyhow::Result<Sqlite> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = dir.join("server.sqlite3");
        let conn = connect(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            anyhow::bail!(
                "the database in {} was written by a newer vigil-server (schema {version}, this one knows {SCHEMA_VERSION})",
                dir.display()
            );
        }
        if version == 1 {
            anyhow::bail!(
                "the database in {} was written by a development build of vigil-server before its first release (schema 1, one receipt per item); start with an empty --data folder",
                dir.display()
            );
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        // Checkpoints run beside the writer (writer::start_checkpoints), not inside its
        // commits; the WAL file is cut back to 64 MiB after each.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Each write's savepoint keeps the pages it changes in a sub-journal: in memory, not in
        // a temporary file. And a page cache (64 MiB) large enough for the indexes' hot pages.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "journal_size_limit", 64 << 20)?;
        let path = Arc::new(path);
        writer::start_checkpoints(
            connect(&path)?,
            Arc::downgrade(&path),
            std::time::Duration::from_millis(50),
        )?;
        let chore = writer::Chore {
            every: std::time::Duration::from_secs(10),
            run: forget_expired_nonces,
        };
        Ok(Sqlite {
            path,
            writer: writer::start(conn, chore)?,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` on a read-only connection in a blocking task.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = this
                .readers
                .lock()
                .map_err(|_| ApiError::internal("lock poisoned"))?
                .pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = connect(&this.path)?;
                    conn.pragma_update(None, "query_only", "ON")?;
                    conn
                }
            };
            let out = f(&conn);
            if let Ok(mut readers) = this.readers.lock() {
                readers.push(conn);
            }
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` in the writer thread, committed with the other writes waiting at that moment.
    /// Its changes stay only when it returns `Ok(t)` and `keep(&t)`.
    pub async fn write_if<T, F>(&self, keep: fn(&T) -> bool, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let (job, answer) = writer::Pending::new(f, keep);
        self.writer
            .send(Box::new(job))
            .map_err(|_| ApiError::internal("the database writer stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the database writer stopped"))?
    }

    /// Runs `f` in the writer thread; its changes stay when it returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.write_if(|_| true, f).await
    }
}

/// The server's receipt key: made on first start and kept in the database, so that every
/// process on the same database signs with the same key.
pub fn server_key(conn: &Connection) -> anyhow::Result<SigningKey> {
    let existing: Option<Vec<u8>> = conn
        .query_row("SELECT pkcs8 FROM server_key WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let key = match existing {
        Some(bytes) => SigningKey::from_pkcs8(&bytes)?,
        None => {
            let key = SigningKey::generate()?;
            conn.execute(
                "INSERT INTO server_key (id, pkcs8) VALUES (1, ?1)",
                params![key.expose_pkcs8()],
            )?;
            key
        }
    };
    Ok(key)
}

/// Registers an organisation from its signed profile, or updates its profile when the same key
/// signed a newer one. Returns whether it was new.
pub fn add_org(conn: &Connection, profile_text: &str) -> Result<(OrgProfile, bool), OrgRefused> {
    let profile = OrgProfile::parse_and_verify(profile_text).map_err(OrgRefused::Invalid)?;
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sign_pk FROM orgs WHERE org = ?1",
            params![profile.org_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let is_new = match existing {
        Some(pk) if pk != profile.org_sign_pk.as_slice() => {
            return Err(OrgRefused::KeyChanged(profile.org_id));
        }
        Some(_) => {
            conn.execute(
                "UPDATE orgs SET profile = ?2 WHERE org = ?1",
                params![profile.org_id.to_string(), profile.to_json_pretty()],
            )?;
            false
        }
        None => {
            conn.execute(
                "INSERT INTO orgs (org, sign_pk, profile, created_at, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    profile.org_id.to_string(),
                    profile.org_sign_pk.as_slice(),
                    profile.to_json_pretty(),
                    profile.created_at.to_rfc3339(),
                    now().to_rfc3339()
                ],
            )?;
            true
        }
    };
    Ok((profile, is_new))
}

/// Every registered organisation.
pub fn orgs(conn: &Connection) -> rusqlite::Result<Vec<OrgRow>> {
    orgs_where(conn, None)
}

/// One organisation (only its own profile is read and verified).
pub fn org(conn: &Connection, org: Uuid) -> rusqlite::Result<Option<OrgRow>> {
    Ok(orgs_where(conn, Some(org))?.into_iter().next())
}

fn orgs_where(conn: &Connection, only: Option<Uuid>) -> rusqlite::Result<Vec<OrgRow>> {
    let mut stmt = conn.prepare(
        "SELECT org, profile, added_at FROM orgs WHERE ?1 IS NULL OR org = ?1 ORDER BY added_at",
    )?;
    let rows = stmt.query_map(params![only.map(|o| o.to_string())], |r| {
        let org: String = r.get(0)?;
        let profile: String = r.get(1)?;
        Ok((org, profile, r.get::<_, String>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (org, profile, added_at) = row?;
        // Verified when it was added; verified again, since the file may have been edited.
        if let (Ok(org), Ok(profile)) = (org.parse(), OrgProfile::parse_and_verify(&profile)) {
            out.push(OrgRow {
                org,
                profile,
                added_at,
            });
        }
    }
    Ok(out)
}

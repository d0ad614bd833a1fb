//! The embedded SQLite backend: organisations, devices, nonces, items (ciphertext with routing
//! metadata), receipts and acknowledgements. Embedded SQLite under `--data`.
//!
//! Every write that a receipt vouches for is committed with `synchronous=FULL` before the
//! receipt leaves the server. Nothing here ever holds plaintext of a report: items are age
//! ciphertext for HQ's readers, and the only names stored are the organisation's (from its
//! public profile).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use vigil_crypto::sign::{SignPublicKey, SigningKey};

use vigil_ledger::profile::OrgProfile;

use crate::error::ApiError;

mod devices;
mod items;
mod uploads;

pub use devices::*;
pub use items::*;
pub use uploads::*;

use super::{OrgRefused, OrgRow, now};

/// The schema this build writes.
const SCHEMA_VERSION: i64 = 1;

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
    PRIMARY KEY (device, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires);
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
    receipt TEXT NOT NULL,
    receipt_sig TEXT NOT NULL,
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
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload TEXT NOT NULL REFERENCES uploads(id),
    part_offset INTEGER NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (upload, part_offset)
);
";

/// The embedded database, shared by every request. SQLite takes one writer at a time;
/// requests wait for the connection in a blocking task, never on the async runtime.
#[derive(Debug, Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

pub(crate) fn key_from(blob: Vec<u8>) -> rusqlite::Result<SignPublicKey> {
    blob.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "sign_pk".into(), rusqlite::types::Type::Blob)
    })
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
        let conn = Connection::open(dir.join("server.sqlite3"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            anyhow::bail!(
                "the database in {} was written by a newer vigil-server (schema {version}, this one knows {SCHEMA_VERSION})",
                dir.display()
            );
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection in a blocking task.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| ApiError::internal("lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` on the connection here (admin commands, start-up).
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> anyhow::Result<T> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
        Ok(f(&mut guard))
    }
}

/// The server's receipt key: made on first start and kept in the database, so that every
/// process on the same database signs with the same key.
pub fn server_key(conn: &mut Connection) -> anyhow::Result<SigningKey> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<Vec<u8>> = tx
        .query_row("SELECT pkcs8 FROM server_key WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let key = match existing {
        Some(bytes) => SigningKey::from_pkcs8(&bytes)?,
        None => {
            let key = SigningKey::generate()?;
            tx.execute(
                "INSERT INTO server_key (id, pkcs8) VALUES (1, ?1)",
                params![key.expose_pkcs8()],
            )?;
            key
        }
    };
    tx.commit()?;
    Ok(key)
}

/// Registers an organisation from its signed profile, or updates its profile when the same key
/// signed a newer one. Returns whether it was new.
pub fn add_org(
    conn: &mut Connection,
    profile_text: &str,
) -> Result<(OrgProfile, bool), OrgRefused> {
    let profile = OrgProfile::parse_and_verify(profile_text).map_err(OrgRefused::Invalid)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<Vec<u8>> = tx
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
            tx.execute(
                "UPDATE orgs SET profile = ?2 WHERE org = ?1",
                params![profile.org_id.to_string(), profile.to_json_pretty()],
            )?;
            false
        }
        None => {
            tx.execute(
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
    tx.commit()?;
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

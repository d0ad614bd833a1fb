//! The reference: plain, unencrypted SQLite doing what the vault does.
//!
//! rusqlite is linked against SQLCipher here; a connection that is never given `PRAGMA key` is
//! exactly plain SQLite (no page encryption, no HMAC). Every statement, the schema and the
//! pragmas come from `vigil_store::sql`, the very functions `Vault` calls on its keyed
//! connection, so nothing here can drift from the store: the only difference is the key.
//! The wrapper code around them (validation, the transaction, reading the device id) follows
//! the matching `Vault` method.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use vigil_model::{DeviceId, Incident, IncidentId, IncidentStatus, LogEntry, Thesaurus};
use vigil_store::sql;
use vigil_store::{IncidentSummary, ListQuery, SearchHit};

/// A plain SQLite database with the vault's schema.
#[derive(Debug)]
pub struct PlainDb {
    conn: Connection,
    device: DeviceId,
    thesaurus: Thesaurus,
}

fn invalid(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("invalid incident: {e}")
}

impl PlainDb {
    /// Creates the database file at `path`, as `Vault::create` does (without the key): WAL,
    /// `sql::configure`, `sql::migrate`, the device row.
    pub fn create(path: &Path) -> Result<Self> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("creating {}", path.display()))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        sql::configure(&conn)?;
        sql::migrate(&mut conn)?;
        let device = DeviceId::new();
        conn.execute(
            "INSERT INTO vault_meta (key, value) VALUES ('device_id', ?1), ('created_at', ?2)",
            params![
                device.to_string(),
                chrono::Local::now().fixed_offset().to_rfc3339()
            ],
        )?;
        Ok(Self {
            conn,
            device,
            thesaurus: Thesaurus::default_terms(),
        })
    }

    /// Opens an existing database: the plain counterpart of `Vault::open_with_key` (open,
    /// `sql::configure`, `sql::migrate`, read the device id).
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        sql::configure(&conn)?;
        sql::migrate(&mut conn)?;
        let device: String = conn
            .query_row(
                "SELECT value FROM vault_meta WHERE key = 'device_id'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .context("the device identity is missing")?;
        let device = device
            .parse()
            .map_err(|_| anyhow::anyhow!("bad device id"))?;
        Ok(Self {
            conn,
            device,
            thesaurus: Thesaurus::default_terms(),
        })
    }

    /// Folds the WAL into the database and closes it, as `Vault::close` does.
    pub fn close(self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }

    /// The connection, for counting, checks and side measurements.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, mutably (for side measurements that open their own transactions).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// As `Vault::create_incidents`: validate each incident against the thesaurus, then
    /// `sql::insert_incident` for each in one transaction.
    pub fn insert_incidents(&mut self, incidents: &[Incident]) -> Result<()> {
        for i in incidents {
            i.validate(&self.thesaurus).map_err(invalid)?;
        }
        let tx = self.conn.transaction()?;
        for i in incidents {
            sql::insert_incident(&tx, i)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// As `Vault::update_incident`: load the stored incident, keep its creation time, validate,
    /// then `sql::update_incident` in one transaction.
    pub fn update_incident(&mut self, incident: &Incident) -> Result<Incident> {
        let current = sql::load_incident(&self.conn, incident.id)?;
        anyhow::ensure!(
            current.status != IncidentStatus::Sealed,
            "incident {} is sealed",
            incident.id
        );
        let mut next = incident.clone();
        next.created_at = current.created_at;
        next.updated_at = chrono::Local::now().fixed_offset();
        next.validate(&self.thesaurus).map_err(invalid)?;
        let tx = self.conn.transaction()?;
        sql::update_incident(&tx, &next)?;
        tx.commit()?;
        Ok(next)
    }

    /// As `Vault::append_log`: `sql::append_log`, a durable commit per call.
    pub fn append_log(
        &mut self,
        incident: IncidentId,
        text: &str,
        flagged: bool,
    ) -> Result<LogEntry> {
        let at = chrono::Local::now().fixed_offset();
        Ok(sql::append_log(
            &mut self.conn,
            self.device,
            incident,
            &sql::NewEntry::note(text, flagged),
            at,
            None,
        )?)
    }

    /// As `Vault::search`.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        Ok(sql::search(&self.conn, query, limit)?)
    }

    /// As `Vault::list_incidents`.
    pub fn list_incidents(&self, q: &ListQuery) -> Result<Vec<IncidentSummary>> {
        Ok(sql::list_incidents(&self.conn, q)?)
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

    /// A vault made with the floor KDF, holding `incidents`, and a plain database holding the
    /// same through the reference; both closed. Returns the folder, the vault's directory and
    /// the plain file.
    fn both(incidents: &[Incident]) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let mut vault = Vault::create(
            &dir,
            &Passphrase::new("bench".to_owned()),
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::new(SystemClock),
        )
        .unwrap();
        vault.create_incidents(incidents).unwrap();
        vault.close().unwrap();
        let plain_path = tmp.path().join("plain.db");
        let mut db = PlainDb::create(&plain_path).unwrap();
        db.insert_incidents(incidents).unwrap();
        db.close().unwrap();
        (tmp, dir, plain_path)
    }

    /// The vault's own database, opened with its key (the test only reads it).
    fn keyed(dir: &Path) -> Connection {
        let key = Vault::unwrap_key(dir, &Passphrase::new("bench".to_owned())).unwrap();
        let conn = Connection::open(dir.join("vault.db")).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}'\";",
            key.expose_hex().as_str()
        ))
        .unwrap();
        conn
    }

    /// The reference is only fair if it has exactly the vault's schema and journal mode.
    #[test]
    fn reference_schema_is_the_vaults() {
        let (_tmp, dir, plain_path) = both(&[]);
        let enc = keyed(&dir);
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

    /// Both sides store the same documents and index rows, and answer a search alike.
    #[test]
    fn reference_writes_and_finds_what_the_vault_does() {
        let incidents = crate::workload::incidents(200, 11);
        let (_tmp, dir, plain_path) = both(&incidents);
        let enc = keyed(&dir);
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
        drop((enc, plain));

        let vault = Vault::open(
            &dir,
            &Passphrase::new("bench".to_owned()),
            Arc::new(SystemClock),
        )
        .unwrap();
        let db = PlainDb::open(&plain_path).unwrap();
        for q in [crate::workload::COMMON_WORD, crate::workload::PREFIX] {
            let v = vault.search(q, 50).unwrap();
            assert!(!v.is_empty(), "{q}");
            assert_eq!(v, db.search(q, 50).unwrap());
        }
        let page = ListQuery {
            limit: 50,
            ..ListQuery::default()
        };
        let ids = |s: Vec<IncidentSummary>| s.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(vault.list_incidents(&page).unwrap()),
            ids(db.list_incidents(&page).unwrap())
        );
    }
}

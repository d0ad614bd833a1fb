//! The Vigil vault: everything a monitor records, in one folder that gives nothing away.
//!
//! A vault folder holds:
//!
//! | file | what it is |
//! |---|---|
//! | `vault.key` | the key header: the random 256-bit database key wrapped under the passphrase ([`vigil_crypto::keyfile`]) |
//! | `vault.db` (+ `-wal`, `-shm`) | the SQLCipher database, keyed with the raw key (no SQLCipher KDF) |
//! | `blobs/xx/<random>` | attachment chunks, each exactly the same size, sealed with a per-attachment key kept in the database |
//! | `vault.lock` | an empty file locked while a process has the vault open |
//!
//! Opening follows a fixed order so that a failure changes nothing: read and check the key
//! header (not a vault?), unwrap the key (wrong passphrase?), check the database file's length
//! (truncated?), key SQLCipher and read the schema, run `cipher_integrity_check` (corrupted?),
//! and only then migrate and start writing.
//!
//! Durability: WAL journal, `synchronous=FULL`, so a call that returned has its data on disk,
//! and a process killed at any moment loses nothing that was committed. `temp_store=MEMORY`
//! keeps SQLite's sort and temp tables off the disk.

mod attachments;
mod clock;
mod custody;
mod duress;
mod error;
mod facts;
mod import;
mod incoming;
mod integrity;
mod keying;
mod org;
mod parts;
mod provenance;
mod quarantine;
mod records;
mod register;
mod rows;
mod schema;
mod sealing;
mod search;
mod spill;
mod staging;
mod sync;
mod sync_blobs;
// The SQL the vault runs: crate-private. The benchmark (vigil-bench) runs the very same
// statements on an unkeyed SQLite database as its reference, through the `bench` feature.
#[cfg(feature = "bench")]
pub mod sql;
#[cfg(not(feature = "bench"))]
mod sql;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use vigil_crypto::kdf::{self, KdfParams};
use vigil_crypto::keyfile::KeyHeader;
use vigil_crypto::sign::DeviceKeys;
use vigil_crypto::{Key256, Passphrase};
use vigil_model::{DeviceId, IncidentId, IncidentStatus, Thesaurus};

pub use attachments::AttachmentReader;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{Result, StoreError};
pub use import::ApplyReport;
pub use incoming::{Incoming, IncomingPartList, IncomingRevision};
pub use keying::WipeReport;
pub use org::{Enrolment, JoinOutcome, OrgProfile, PROFILE_FORMAT, PROFILE_VERSION};
pub use parts::PartsState;
pub use provenance::{CustodyRecord, Provenance, RevisionProof};
pub use quarantine::{QuarantineEntry, QuarantineLimits, QuarantineNote};
pub use register::{DeviceRecord, DeviceTrust, PendingInvitation};
pub use schema::SCHEMA_VERSION;
pub use search::SearchHit;
pub use spill::{Slot, Spill};
pub use sql::NewEntry;
pub use staging::{AttachmentWriteProgress, CHUNK_MTIME_SECS, StagedAttachment, stage_attachment};
pub use sync::{Delivery, Outbox, PendingItem};
pub use sync_blobs::{PendingBlob, PreparedBlob};
// The signed records a vault keeps are the ledger's; named here too for the vault's users.
pub use vigil_ledger::RevisionId;
pub use vigil_ledger::custody::{CUSTODY_FORMAT, CustodyDoc, CustodyEvent, CustodyKind};
pub use vigil_ledger::lineage::Lineage;
pub use vigil_ledger::revision::{
    AttachmentRef, REVISION_FORMAT, REVISION_VERSION, Revision, RevisionDoc, VerifiedRevision,
};
pub use vigil_ledger::trust::{QuarantineReason, Standing};

const KEY_FILE: &str = "vault.key";
const DB_FILE: &str = "vault.db";
const LOCK_FILE: &str = "vault.lock";
/// Wrong passphrases in a row, as a number: kept beside the vault so that a restart does not
/// reset the growing delay (or an optional wipe's count). Reveals nothing recorded.
const FAILURES_FILE: &str = "vault.failures";
const BLOB_DIR: &str = "blobs";
/// The decoy vault of a duress passphrase, inside the real vault's folder (see `duress`).
const DECOY_DIR: &str = "alt";
const PAGE_SIZE: u64 = 4096;

/// How the key-derivation cost is chosen when a vault is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KdfChoice {
    /// Calibrate on this machine towards 0.5-1 s per unlock (the default).
    #[default]
    Calibrate,
    /// Exactly these parameters (still never below the floor).
    Params(KdfParams),
}

/// One row of the incident list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IncidentSummary {
    /// The incident.
    pub id: IncidentId,
    /// Its title.
    pub title: String,
    /// Draft or sealed.
    pub status: IncidentStatus,
    /// When it was created.
    pub created_at: DateTime<FixedOffset>,
    /// When it was last changed.
    pub updated_at: DateTime<FixedOffset>,
    /// Number of running-log entries.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub log_entries: u64,
    /// Number of attachments.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub attachments: u64,
}

/// Filters for [`Vault::list_incidents`]. Every filter that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only incidents with this status.
    pub status: Option<IncidentStatus>,
    /// Only incidents with this violation type.
    pub violation: Option<String>,
    /// Only incidents with this tag (case-insensitive).
    pub tag: Option<String>,
    /// Only incidents that started (or, with no start, were created) at or after this time.
    pub from: Option<DateTime<FixedOffset>>,
    /// ... and before this time.
    pub to: Option<DateTime<FixedOffset>>,
    /// Only incidents matching this full-text search (incident, parties or log).
    pub text: Option<String>,
    /// Page size (0 means 100).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// An open, unlocked vault.
#[derive(Debug)]
pub struct Vault {
    dir: PathBuf,
    conn: Connection,
    device: DeviceId,
    keys: DeviceKeys,
    clock: Arc<dyn Clock>,
    thesaurus: Thesaurus,
    quarantine_limits: QuarantineLimits,
    /// Chunk rows when the vault was opened: when the count differs at close, every chunk
    /// file's times are set again (see [`Vault::close`]).
    chunks_at_open: i64,
    _lock: File,
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

fn decoy_dir(dir: &Path) -> PathBuf {
    dir.join(DECOY_DIR)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    vigil_durable::sync_dir(dir)
        .map_err(StoreError::io(format!("syncing folder {}", dir.display())))
}

/// Writes `bytes` to `path` atomically (see [`vigil_durable::write_atomic`]): a private
/// temporary file in the same folder, fsynced, renamed over the target, and the folder fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    vigil_durable::write_atomic(path, bytes)
        .map_err(StoreError::io(format!("writing {}", path.display())))
}

fn lock_vault(dir: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))
        .map_err(StoreError::io("opening the vault lock"))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked),
        Err(fs::TryLockError::Error(e)) => Err(StoreError::Io {
            context: "locking the vault".into(),
            source: e,
        }),
    }
}

fn read_header(dir: &Path) -> Result<KeyHeader> {
    let not_a_vault = |reason: &str| StoreError::NotAVault {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
    };
    let meta = fs::metadata(dir).map_err(|_| not_a_vault("the folder does not exist"))?;
    if !meta.is_dir() {
        return Err(not_a_vault("it is a file, not a vault folder"));
    }
    let path = dir.join(KEY_FILE);
    let len = fs::metadata(&path)
        .map_err(|_| not_a_vault("no key header vault.key"))?
        .len();
    if len > 64 * 1024 {
        return Err(not_a_vault("vault.key is not a key header"));
    }
    let text = fs::read(&path).map_err(StoreError::io("reading vault.key"))?;
    let text = String::from_utf8(text).map_err(|_| not_a_vault("vault.key is not a key header"))?;
    KeyHeader::from_json(&text).map_err(|e| match e {
        vigil_crypto::CryptoError::NotAKeyHeader(r) => not_a_vault(&format!("vault.key: {r}")),
        other => other.into(),
    })
}

fn is_not_a_db(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

impl Vault {
    /// Whether `dir` holds a vault (its key header is there): what the first screen asks
    /// before offering to create one or to unlock. Says nothing about whether it opens.
    pub fn exists(dir: &Path) -> bool {
        // A decoy whose destruction of the real vault was interrupted is finished on open.
        dir.join(KEY_FILE).is_file() || decoy_dir(dir).join(KEY_FILE).is_file()
    }

    /// Wrong passphrases in a row recorded for the vault in `dir` (0 when none or unreadable).
    pub fn failed_unlocks(dir: &Path) -> u32 {
        fs::read_to_string(dir.join(FAILURES_FILE))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Records `n` wrong passphrases in a row for the vault in `dir` (0 removes the record).
    pub fn record_failed_unlocks(dir: &Path, n: u32) -> Result<()> {
        let path = dir.join(FAILURES_FILE);
        if n == 0 {
            return keying::remove_if_there(&path);
        }
        if !Vault::exists(dir) {
            return Ok(());
        }
        write_atomic(&path, n.to_string().as_bytes())
    }

    /// The vault's key header file in `dir` (for tools that measure or recalibrate it; the
    /// app and the CLI go through [`Vault::exists`] and [`Vault::open`]).
    pub fn key_header_path(dir: &Path) -> PathBuf {
        dir.join(KEY_FILE)
    }

    /// Creates a new vault in `dir` (which must not exist or be empty).
    pub fn create(
        dir: &Path,
        pass: &Passphrase,
        kdf_choice: KdfChoice,
        clock: Arc<dyn Clock>,
    ) -> Result<Vault> {
        require_passphrase(pass)?;
        let existed = dir.exists();
        if existed {
            let mut entries = fs::read_dir(dir).map_err(StoreError::io("reading the folder"))?;
            if entries.next().is_some() {
                return Err(StoreError::AlreadyExists {
                    path: dir.to_path_buf(),
                });
            }
        }
        let result = Self::create_inner(dir, pass, kdf_choice, clock);
        if result.is_err() {
            // Leave nothing half-made behind.
            if existed {
                if let Ok(entries) = fs::read_dir(dir) {
                    for e in entries.flatten() {
                        let p = e.path();
                        let _ = if p.is_dir() {
                            fs::remove_dir_all(&p)
                        } else {
                            fs::remove_file(&p)
                        };
                    }
                }
            } else {
                let _ = fs::remove_dir_all(dir);
            }
        }
        result
    }

    fn create_inner(
        dir: &Path,
        pass: &Passphrase,
        kdf_choice: KdfChoice,
        clock: Arc<dyn Clock>,
    ) -> Result<Vault> {
        create_private_dir(dir)?;
        // An empty folder that existed keeps its mode through the above: made private here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(StoreError::io(format!("making {} private", dir.display())))?;
        }
        create_private_dir(&dir.join(BLOB_DIR))?;
        staging::refill_spares(dir);
        let params = match kdf_choice {
            KdfChoice::Calibrate => kdf::calibrate(kdf::DEFAULT_TARGET)?.0,
            KdfChoice::Params(p) => p,
        };
        let key = Key256::generate()?;
        let header = KeyHeader::seal(&key, pass, params)?;
        let lock = lock_vault(dir)?;
        // Created here so that it is private (0600); SQLite gives -wal and -shm the same mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(db_path(dir))
                .map_err(StoreError::io("creating the database"))?;
        }
        let mut conn = Connection::open_with_flags(
            db_path(dir),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        keying::key_connection(&conn, &key)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        sql::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let tx = conn.transaction()?;
        let (device, keys) = org::new_device(&tx, clock.now())?;
        tx.execute(
            "INSERT INTO vault_meta (key, value) VALUES ('device_id', ?1), ('created_at', ?2)",
            params![device.to_string(), clock.now().to_rfc3339()],
        )?;
        tx.commit()?;
        // The header goes last: a folder without it is not a vault, so a crash during
        // creation never leaves something that looks like a vault but cannot be opened.
        write_atomic(&dir.join(KEY_FILE), header.to_json().as_bytes())?;
        Ok(Vault {
            dir: dir.to_path_buf(),
            conn,
            device,
            keys,
            clock,
            thesaurus: Thesaurus::default_terms(),
            quarantine_limits: QuarantineLimits::default(),
            chunks_at_open: 0,
            _lock: lock,
        })
    }

    /// Opens and unlocks an existing vault. On any failure nothing in the folder is changed.
    ///
    /// With a duress passphrase set, the passphrase may instead open the decoy vault (see
    /// [`Vault::set_duress`]); both keys are derived either way.
    pub fn open(dir: &Path, pass: &Passphrase, clock: Arc<dyn Clock>) -> Result<Vault> {
        keying::settle(dir)?;
        duress::settle(dir)?;
        let header = read_header(dir)?;
        match duress::decoy_header(dir)? {
            None => {
                let key = header.unwrap_key(pass)?;
                let vault = Self::open_with_key(dir, &key, clock)?;
                vault.upgrade_header(&header, &key, pass)?;
                Ok(vault)
            }
            Some(decoy) => match duress::unwrap_either(&header, &decoy, pass)? {
                duress::Unlocked::Real(key) => {
                    let vault = Self::open_with_key(dir, &key, clock)?;
                    vault.upgrade_header(&header, &key, pass)?;
                    Ok(vault)
                }
                duress::Unlocked::Decoy(key) => duress::open_decoy(dir, &key, clock),
            },
        }
    }

    /// Reads the key header and unwraps the database key (the expensive, Argon2id part of
    /// [`Vault::open`]). Exposed so that benchmarks can time the two halves apart.
    pub fn unwrap_key(dir: &Path, pass: &Passphrase) -> Result<Key256> {
        keying::settle(dir)?;
        Ok(read_header(dir)?.unwrap_key(pass)?)
    }

    /// Opens a vault with an already unwrapped database key (see [`Vault::unwrap_key`]).
    pub fn open_with_key(dir: &Path, key: &Key256, clock: Arc<dyn Clock>) -> Result<Vault> {
        let db = db_path(dir);
        let wal = dir.join(format!("{DB_FILE}-wal"));
        let shm = dir.join(format!("{DB_FILE}-shm"));
        let db_len = fs::metadata(&db)
            .map_err(|_| StoreError::NotAVault {
                path: dir.to_path_buf(),
                reason: "the database vault.db is missing".into(),
            })?
            .len();
        if db_len == 0 || db_len % PAGE_SIZE != 0 {
            return Err(StoreError::Truncated);
        }
        let wal_len = fs::metadata(&wal).map(|m| m.len()).ok();
        let shm_existed = shm.exists();
        let lock = lock_vault(dir)?;
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        match Self::verify(&conn, key, db_len, wal_len) {
            Ok(()) => {}
            Err(e) => {
                drop(conn);
                // SQLite creates the -wal and -shm files on first read; take them away again
                // so that a failed open leaves the folder exactly as it was.
                if wal_len.is_none() {
                    let _ = fs::remove_file(&wal);
                }
                if !shm_existed {
                    let _ = fs::remove_file(&shm);
                }
                return Err(e);
            }
        }
        sql::configure(&conn)?;
        let mut conn = conn;
        schema::migrate(&mut conn)?;
        let device: String = conn
            .query_row(
                "SELECT value FROM vault_meta WHERE key = 'device_id'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::Corrupted {
                detail: "the device identity is missing".into(),
            })?;
        let device = device.parse().map_err(|_| StoreError::Corrupted {
            detail: "the device identity is unreadable".into(),
        })?;
        let keys = org::load_or_create_device_keys(&mut conn, device, clock.now())?;
        let mut vault = Vault {
            dir: dir.to_path_buf(),
            conn,
            device,
            keys,
            clock,
            thesaurus: Thesaurus::default_terms(),
            quarantine_limits: QuarantineLimits::default(),
            chunks_at_open: 0,
            _lock: lock,
        };
        vault.load_custom_terms()?;
        vault.sweep_orphan_chunks()?;
        staging::refill_spares(dir);
        vault.chunks_at_open = vault.chunk_rows()?;
        Ok(vault)
    }

    fn verify(conn: &Connection, key: &Key256, db_len: u64, wal_len: Option<u64>) -> Result<()> {
        let corrupted = |detail: &str| StoreError::Corrupted {
            detail: detail.to_owned(),
        };
        keying::key_connection(conn, key)?;
        // Page 1 holds the size of the database in pages: a shorter file was cut.
        let page_count: u64 = match conn.query_row("PRAGMA page_count", [], |r| r.get(0)) {
            Ok(n) => n,
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
            {
                // Page 1 decrypted and authenticated (else SQLITE_NOTADB), yet SQLite calls it
                // corrupt: it does so when the file is shorter than page 1 says. With
                // writable_schema (this connection only, nothing is written) SQLite skips
                // exactly that check; if page 1 then loads, the file was cut.
                conn.execute_batch("PRAGMA writable_schema = ON")?;
                let n = conn.query_row("PRAGMA page_count", [], |r| r.get::<_, u64>(0));
                conn.execute_batch("PRAGMA writable_schema = OFF")?;
                match n {
                    Ok(_) => return Err(StoreError::Truncated),
                    Err(_) => return Err(corrupted("its first page is inconsistent")),
                }
            }
            Err(e) if is_not_a_db(&e) => return Err(corrupted("its first page does not decrypt")),
            Err(e) => return Err(e.into()),
        };
        if wal_len.unwrap_or(0) == 0 && page_count * PAGE_SIZE > db_len {
            return Err(StoreError::Truncated);
        }
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => {}
            Err(e) if is_not_a_db(&e) => return Err(corrupted("its schema does not decrypt")),
            Err(e) => return Err(e.into()),
        }
        let mut stmt = conn.prepare("PRAGMA cipher_integrity_check")?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| {
                if is_not_a_db(&e) {
                    corrupted("a page does not decrypt")
                } else {
                    e.into()
                }
            })?;
        if let Some(first) = problems.first() {
            return Err(corrupted(&format!(
                "{} page(s) fail authentication, first: {first}",
                problems.len()
            )));
        }
        Ok(())
    }

    /// Runs SQLite's and SQLCipher's full integrity checks.
    pub fn integrity_check(&self) -> Result<()> {
        let ok: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::Corrupted { detail: ok });
        }
        let mut stmt = self.conn.prepare("PRAGMA cipher_integrity_check")?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(p) = problems.first() {
            return Err(StoreError::Corrupted { detail: p.clone() });
        }
        Ok(())
    }

    /// Closes the vault, folding the write-ahead log into the database. When attachments were
    /// added or removed since it was opened, every chunk file's modification time is set to
    /// the fixed one again, which also gives them all the same change time (what `ls -lc`
    /// shows): the chunks written in this session no longer stand out by it.
    pub fn close(self) -> Result<()> {
        if self.chunk_rows()? != self.chunks_at_open {
            staging::retouch_all(&self.dir)?;
        }
        // On a full disk the write-ahead log cannot be folded in: it stays, as durable as the
        // database (it is what SQLite reads and folds in at the next open), so closing after
        // a read, or after writes that all committed, loses nothing.
        match self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(StoreError::from)
        {
            Err(e) if e.is_disk_full() => {}
            other => other?,
        }
        self.conn.close().map_err(|(_, e)| StoreError::from(e))
    }

    fn chunk_rows(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM attachment_chunks", [], |r| r.get(0))?)
    }

    /// The folder this vault lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This vault's device identity.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The thesaurus: shipped terms plus this vault's own.
    pub fn thesaurus(&self) -> &Thesaurus {
        &self.thesaurus
    }

    /// The current time from the vault's clock.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.clock.now()
    }
}

/// Refuses an empty passphrase (as a field error the UI shows beside the passphrase).
pub(crate) fn require_passphrase(pass: &Passphrase) -> Result<()> {
    if pass.is_empty() {
        return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
            vigil_model::FieldError::new("passphrase", vigil_model::Problem::Required),
        ])));
    }
    Ok(())
}

/// Refuses `new` as the vault's passphrase when it is the duress passphrase (it would open the
/// real vault, and the duress passphrase nothing else).
pub(crate) fn refuse_duress_passphrase(dir: &Path, new: &Passphrase) -> Result<()> {
    match duress::decoy_header(dir)? {
        Some(decoy) if decoy.unwrap_key(new).is_ok() => Err(StoreError::DuressSameAsReal),
        _ => Ok(()),
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    vigil_durable::create_private_dir(dir)
        .map_err(StoreError::io(format!("creating {}", dir.display())))
}

pub(crate) fn uuid_from(bytes: &[u8]) -> Result<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes).map_err(|_| StoreError::Corrupted {
        detail: "an id is malformed".into(),
    })
}

//! The database key: given to a connection, replaced by a fresh one (re-keying), destroyed
//! (quick delete).
//!
//! The key reaches SQLCipher through `sqlite3_key` / `sqlite3_rekey`, never as SQL text: the
//! text of a `PRAGMA key` statement would stay in SQLite's heap after it is freed. SQLCipher
//! copies the key into memory it wipes when the connection closes.
//!
//! Re-keying writes a copy of the database under a fresh random key and a new key header
//! (fresh salt) beside the old ones, then puts them in place with two renames. A crash at any
//! point leaves either the old pair or the new one, and the next open finishes or undoes the
//! step ([`settle`]).

// The two SQLCipher entry points are C functions; each call is commented. Nothing else in
// the crate is unsafe.
#![allow(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, ffi};
use vigil_crypto::keyfile::KeyHeader;
use vigil_crypto::{Key256, Passphrase};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::{
    BLOB_DIR, DB_FILE, KEY_FILE, LOCK_FILE, Vault, fsync_dir, lock_vault, read_header,
    refuse_duress_passphrase, require_passphrase, write_atomic,
};

/// The new key header while a re-keying is under way.
pub(crate) const KEY_FILE_NEXT: &str = "vault.key.rekey";
/// The database copy under the new key while a re-keying is under way.
pub(crate) const DB_FILE_NEXT: &str = "vault.db.rekey";

/// Gives `conn` the database key.
pub(crate) fn key_connection(conn: &Connection, key: &Key256) -> Result<()> {
    call(conn, key, Call::Key)
}

#[derive(Clone, Copy)]
enum Call {
    Key,
    Rekey,
}

fn call(conn: &Connection, key: &Key256, which: Call) -> Result<()> {
    // SQLCipher's raw-key form: x'<64 hex digits>' (no key derivation in SQLCipher).
    let hex = key.expose_hex();
    let mut text = Zeroizing::new(Vec::with_capacity(67));
    text.extend_from_slice(b"x'");
    text.extend_from_slice(hex.as_bytes());
    text.push(b'\'');
    let len = std::ffi::c_int::try_from(text.len()).unwrap_or(0);
    // SAFETY: `handle` is the pointer of the connection `conn` borrows, alive for the call;
    // the key buffer is valid for `len` bytes; SQLCipher copies it and keeps no pointer to it.
    let rc = unsafe {
        let db = conn.handle();
        match which {
            Call::Key => ffi::sqlite3_key(db, text.as_ptr().cast(), len),
            Call::Rekey => ffi::sqlite3_rekey(db, text.as_ptr().cast(), len),
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("the database key was not accepted".into()),
        )));
    }
    Ok(())
}

/// Finishes or undoes a re-keying that a crash interrupted, before anything reads the key
/// header. Does nothing while another process holds the vault (it may be re-keying).
pub(crate) fn settle(dir: &Path) -> Result<()> {
    let key_next = dir.join(KEY_FILE_NEXT);
    let db_next = dir.join(DB_FILE_NEXT);
    if !key_next.exists() && !db_next.exists() {
        return Ok(());
    }
    let Ok(_lock) = lock_vault(dir) else {
        return Ok(());
    };
    if key_next.exists() && !db_next.exists() {
        // The new database is in place: the new header must follow it.
        fs::rename(&key_next, dir.join(KEY_FILE))
            .map_err(StoreError::io("finishing an interrupted re-keying"))?;
    } else {
        // The new database never took the old one's place: the old pair stands.
        remove_if_there(&db_next)?;
        remove_if_there(&key_next)?;
    }
    fsync_dir(dir)
}

pub(crate) fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            context: format!("removing {}", path.display()),
            source: e,
        }),
    }
}

impl Vault {
    /// Re-keys the vault in `dir` (which must not be open): the database gets a fresh random
    /// key, and the key header a new salt, under `new` (which may be the same passphrase as
    /// `pass`). An old copy of `vault.key` with an old passphrase then opens nothing written
    /// from now on. Attachments keep their own keys, which live in the database; those added
    /// afterwards exist only under the new key. Use it, with a new passphrase, after a
    /// passphrase may have been seen or given up; `change_passphrase` only rewraps the key.
    pub fn rekey(dir: &Path, pass: &Passphrase, new: &Passphrase) -> Result<()> {
        Self::rekey_inner(dir, pass, new).map(drop)
    }

    /// [`Vault::rekey`], then opens the vault under its new key (no third key derivation):
    /// for the app, which keeps the vault open around it.
    pub fn rekey_and_open(
        dir: &Path,
        pass: &Passphrase,
        new: &Passphrase,
        clock: std::sync::Arc<dyn crate::Clock>,
    ) -> Result<Vault> {
        let key = Self::rekey_inner(dir, pass, new)?;
        Vault::open_with_key(dir, &key, clock)
    }

    fn rekey_inner(dir: &Path, pass: &Passphrase, new: &Passphrase) -> Result<Key256> {
        require_passphrase(new)?;
        settle(dir)?;
        let header = read_header(dir)?;
        let old_key = header.unwrap_key(pass)?;
        refuse_duress_passphrase(dir, new)?;
        let vault = Vault::open_with_key(dir, &old_key, std::sync::Arc::new(crate::SystemClock))?;
        let next = dir.join(DB_FILE_NEXT);
        remove_if_there(&next)?;
        // Made private here: VACUUM INTO would create it with the process's umask.
        vigil_durable::create_private(&next)
            .map_err(StoreError::io("creating the re-keyed database"))?;
        vault
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let new_key = Key256::generate()?;
        let copied = vault
            .conn
            .execute("VACUUM INTO ?1", [next.to_string_lossy()])
            .map_err(StoreError::from)
            .and_then(|_| rekey_copy(&next, &old_key, &new_key));
        if let Err(e) = copied {
            let _ = fs::remove_file(&next);
            return Err(e);
        }
        let new_header = KeyHeader::seal(&new_key, new, header.params())?;
        write_atomic(&dir.join(KEY_FILE_NEXT), new_header.to_json().as_bytes())?;
        // Hold the lock through the swap: close the connection, keep the lock file.
        let Vault { conn, _lock, .. } = vault;
        conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        remove_if_there(&dir.join(format!("{DB_FILE}-wal")))?;
        remove_if_there(&dir.join(format!("{DB_FILE}-shm")))?;
        fs::rename(&next, dir.join(DB_FILE))
            .map_err(StoreError::io("putting the re-keyed database in place"))?;
        fsync_dir(dir)?;
        fs::rename(dir.join(KEY_FILE_NEXT), dir.join(KEY_FILE))
            .map_err(StoreError::io("putting the new key header in place"))?;
        fsync_dir(dir)?;
        Ok(new_key)
    }
}

/// Re-encrypts the copy at `path` (made under `old`) under `new`, in place, and checks it.
fn rekey_copy(path: &Path, old: &Key256, new: &Key256) -> Result<()> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    key_connection(&conn, old)?;
    // SQLCipher re-keys in place only outside WAL mode; the vault's mode is set again after.
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    call(&conn, new, Call::Rekey)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    // Read back under the new key alone before anything depends on it.
    let check = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    key_connection(&check, new)?;
    let problems: Vec<String> = check
        .prepare("PRAGMA cipher_integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(p) = problems.first() {
        return Err(StoreError::Corrupted { detail: p.clone() });
    }
    check.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(StoreError::io("syncing the re-keyed database"))
}

/// What a quick delete did, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeReport {
    /// From the start until the key header was overwritten on disk (the vault cannot be
    /// opened from then on).
    pub key_destroyed_after: Duration,
    /// From the start until every file of the vault was removed.
    pub removed_after: Duration,
    /// Whether another process had the vault open (it keeps its key in memory until it
    /// closes; nothing it writes can be opened afterwards).
    pub was_open: bool,
}

impl Vault {
    /// Writes the key header again in the current version when it opened as an older one (a
    /// version-1 header, made from the passphrase as typed, becomes version 2, made from its
    /// normalised form), so that every form of the passphrase opens the vault from now on.
    pub(crate) fn upgrade_header(
        &self,
        header: &KeyHeader,
        key: &Key256,
        pass: &Passphrase,
    ) -> Result<()> {
        if header.is_current() {
            return Ok(());
        }
        let upgraded = KeyHeader::seal(key, pass, header.params())?;
        write_atomic(&self.dir.join(KEY_FILE), upgraded.to_json().as_bytes())
    }

    /// Replaces the passphrase. Only the key header changes; the database is not re-encrypted,
    /// so an old copy of `vault.key` still opens it with the old passphrase: after a passphrase
    /// was seen or given up, [`Vault::rekey`] too.
    pub fn change_passphrase(dir: &Path, old: &Passphrase, new: &Passphrase) -> Result<()> {
        require_passphrase(new)?;
        settle(dir)?;
        let header = read_header(dir)?;
        header.unwrap_key(old)?;
        refuse_duress_passphrase(dir, new)?;
        let _lock = lock_vault(dir)?;
        let rewrapped = header.rewrap(old, new, header.params())?;
        write_atomic(&dir.join(KEY_FILE), rewrapped.to_json().as_bytes())
    }

    /// Quick delete: destroys the vault in `dir` without its passphrase. The key header (and
    /// a re-keying's new one) is overwritten with random bytes and flushed to disk first, so
    /// the database and attachments can no longer be decrypted, whatever the passphrase;
    /// then every file of the vault is removed, and the folder if nothing else is in it.
    /// Only the vault's own files are touched. Refuses a folder without a key header.
    pub fn wipe(dir: &Path) -> Result<WipeReport> {
        let start = Instant::now();
        if !Vault::exists(dir) {
            return Err(StoreError::NotAVault {
                path: dir.to_path_buf(),
                reason: "no key header vault.key".into(),
            });
        }
        let was_open = matches!(lock_vault(dir), Err(StoreError::Locked));
        // A decoy's key goes with the real one (see `duress`).
        let dirs = [dir.to_path_buf(), crate::decoy_dir(dir)];
        for d in &dirs {
            for name in [KEY_FILE, KEY_FILE_NEXT] {
                destroy_file(&d.join(name))?;
            }
        }
        for d in &dirs {
            if d.exists() {
                fsync_dir(d)?;
            }
        }
        let key_destroyed_after = start.elapsed();
        for d in dirs.iter().rev() {
            if !d.exists() {
                continue;
            }
            for name in [
                DB_FILE.to_owned(),
                format!("{DB_FILE}-wal"),
                format!("{DB_FILE}-shm"),
                DB_FILE_NEXT.to_owned(),
                crate::FAILURES_FILE.to_owned(),
                LOCK_FILE.to_owned(),
            ] {
                remove_if_there(&d.join(name))?;
            }
            remove_blobs(&d.join(BLOB_DIR))?;
            // Only if nothing else is left in it; a folder that also held other things stays.
            let _ = fs::remove_dir(d);
        }
        if let Some(parent) = dir.parent() {
            let _ = vigil_durable::sync_dir(parent);
        }
        Ok(WipeReport {
            key_destroyed_after,
            removed_after: start.elapsed(),
            was_open,
        })
    }
}

/// Overwrites `path` in place with random bytes, flushes it, then removes it.
pub(crate) fn destroy_file(path: &Path) -> Result<()> {
    let len = match fs::metadata(path) {
        Ok(m) => usize::try_from(m.len()).unwrap_or(usize::MAX).min(1 << 20),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Io {
                context: format!("reading {}", path.display()),
                source: e,
            });
        }
    };
    let mut noise = vec![0u8; len];
    vigil_crypto::secret::random_bytes(&mut noise)?;
    let context = || format!("overwriting {}", path.display());
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(StoreError::io(context()))?;
    f.write_all(&noise).map_err(StoreError::io(context()))?;
    f.sync_all().map_err(StoreError::io(context()))?;
    drop(f);
    fs::remove_file(path).map_err(StoreError::io(format!("removing {}", path.display())))
}

/// Removes the chunk store: `blobs/xx/<name>` files and the `xx` folders, nothing else.
pub(crate) fn remove_blobs(blobs: &Path) -> Result<()> {
    let Ok(shards) = fs::read_dir(blobs) else {
        return Ok(());
    };
    for shard in shards.flatten() {
        let path: PathBuf = shard.path();
        if path.is_dir() {
            if let Ok(files) = fs::read_dir(&path) {
                for f in files.flatten() {
                    let _ = fs::remove_file(f.path());
                }
            }
            let _ = fs::remove_dir(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    fs::remove_dir(blobs).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(StoreError::Io {
                context: format!("removing {}", blobs.display()),
                source: e,
            })
        }
    })
}

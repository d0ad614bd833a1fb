//! The duress passphrase: a second passphrase that opens a separate decoy vault, and can
//! also destroy the real vault's key as it does so.
//!
//! The decoy is an ordinary vault in the folder `alt/` inside the real vault's folder, with
//! its own key header (under the duress passphrase, with the same key-derivation cost as the
//! real one), database and chunks. Whether opening it destroys the real vault is recorded
//! inside the decoy's encrypted database, so nothing readable on disk says so.
//!
//! When a decoy exists, every unlock derives both keys, the real header's first, whichever
//! passphrase was typed: the real passphrase, the duress one and a wrong one cost the same
//! two derivations, so the time an unlock takes does not tell them apart.
//!
//! With destruction on, opening the decoy first overwrites the real key header on disk (as
//! a quick delete does), then removes the real database and chunks and moves the decoy's
//! files into their place: afterwards the folder holds one ordinary vault, the decoy, under
//! the duress passphrase. A crash part-way is finished by the next open ([`settle`]).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use vigil_crypto::Passphrase;
use vigil_crypto::keyfile::KeyHeader;

use crate::error::{Result, StoreError};
use crate::keying::remove_if_there;
use crate::{
    BLOB_DIR, Clock, DB_FILE, KEY_FILE, KdfChoice, LOCK_FILE, Vault, decoy_dir, fsync_dir,
    lock_vault, read_header,
};

/// The decoy's `vault_meta` entry that says opening it destroys the real vault.
const DESTROYS_REAL: &str = "duress_destroys_real";

/// The decoy's key header, when `dir` has a decoy.
pub(crate) fn decoy_header(dir: &Path) -> Result<Option<KeyHeader>> {
    let alt = decoy_dir(dir);
    if !alt.join(KEY_FILE).is_file() {
        return Ok(None);
    }
    read_header(&alt).map(Some)
}

/// How an unlock came out when a decoy exists.
pub(crate) enum Unlocked {
    Real(vigil_crypto::Key256),
    Decoy(vigil_crypto::Key256),
}

/// Derives both keys, always both and in the same order, and says which one the passphrase
/// opened.
pub(crate) fn unwrap_either(
    real: &KeyHeader,
    decoy: &KeyHeader,
    pass: &Passphrase,
) -> Result<Unlocked> {
    let real_key = real.unwrap_key(pass);
    let decoy_key = decoy.unwrap_key(pass);
    match (real_key, decoy_key) {
        (Ok(key), _) => Ok(Unlocked::Real(key)),
        (Err(vigil_crypto::CryptoError::WrongPassphrase), Ok(key)) => Ok(Unlocked::Decoy(key)),
        (Err(e), _) => Err(e.into()),
    }
}

/// Opens the decoy of the vault in `dir` with its unwrapped key. When the decoy says so, the
/// real vault is destroyed first and the decoy takes its place.
pub(crate) fn open_decoy(
    dir: &Path,
    key: &vigil_crypto::Key256,
    clock: Arc<dyn Clock>,
) -> Result<Vault> {
    let alt = decoy_dir(dir);
    let decoy = Vault::open_with_key(&alt, key, Arc::clone(&clock))?;
    if !decoy.destroys_real()? {
        return Ok(decoy);
    }
    decoy.close()?;
    let _lock = lock_vault(dir)?;
    destroy_real(dir)?;
    promote(dir)?;
    drop(_lock);
    Vault::open_with_key(dir, key, clock)
}

/// Overwrites the real key header (and a re-keying's new one) on disk, then removes it.
fn destroy_real(dir: &Path) -> Result<()> {
    for name in [KEY_FILE, crate::keying::KEY_FILE_NEXT] {
        crate::keying::destroy_file(&dir.join(name))?;
    }
    fsync_dir(dir)
}

/// After the real key header is destroyed: removes what is left of the real vault and moves
/// the decoy's files into its place. Each step can be repeated, so a crash part-way is
/// finished by running it again.
fn promote(dir: &Path) -> Result<()> {
    let alt = decoy_dir(dir);
    if alt.join(DB_FILE).exists() {
        // The decoy's database has not moved yet: whatever database or chunks are in `dir`
        // belong to the real vault.
        for name in [
            DB_FILE.to_owned(),
            format!("{DB_FILE}-wal"),
            format!("{DB_FILE}-shm"),
            crate::keying::DB_FILE_NEXT.to_owned(),
            crate::FAILURES_FILE.to_owned(),
        ] {
            remove_if_there(&dir.join(name))?;
        }
        crate::keying::remove_blobs(&dir.join(BLOB_DIR))?;
        fsync_dir(dir)?;
        move_file(&alt.join(DB_FILE), &dir.join(DB_FILE))?;
    }
    for name in [format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")] {
        if alt.join(&name).exists() {
            move_file(&alt.join(&name), &dir.join(&name))?;
        }
    }
    if alt.join(BLOB_DIR).exists() {
        move_file(&alt.join(BLOB_DIR), &dir.join(BLOB_DIR))?;
    }
    // The key header last: until it moves, the next open finishes the steps above.
    move_file(&alt.join(KEY_FILE), &dir.join(KEY_FILE))?;
    for name in [LOCK_FILE, crate::FAILURES_FILE] {
        remove_if_there(&alt.join(name))?;
    }
    let _ = fs::remove_dir(&alt);
    fsync_dir(dir)
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(StoreError::io(format!(
        "moving {} to {}",
        from.display(),
        to.display()
    )))
}

/// Finishes a destruction that a crash interrupted: the real key header is gone and the
/// decoy's is still in `alt/`. Does nothing while another process holds the vault.
pub(crate) fn settle(dir: &Path) -> Result<()> {
    if dir.join(KEY_FILE).exists() || !decoy_dir(dir).join(KEY_FILE).is_file() {
        return Ok(());
    }
    let Ok(_lock) = lock_vault(dir) else {
        return Ok(());
    };
    if dir.join(KEY_FILE).exists() {
        return Ok(());
    }
    promote(dir)
}

impl Vault {
    /// Whether opening this vault destroys the real one (it is a decoy set up so).
    fn destroys_real(&self) -> Result<bool> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM vault_meta WHERE key = ?1",
                [DESTROYS_REAL],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.as_deref() == Some("1"))
    }

    /// Whether this vault has a duress passphrase (a decoy vault beside it).
    pub fn has_duress(&self) -> bool {
        decoy_dir(&self.dir).join(KEY_FILE).is_file()
    }

    /// Sets the duress passphrase: `duress` will open a separate decoy vault, and with
    /// `destroy_real` also destroy this vault's key as it does so. A decoy that `duress`
    /// already opens is kept, with only the option changed; any other decoy is destroyed and
    /// an empty one is made. The duress passphrase must differ from this vault's.
    pub fn set_duress(&self, duress: &Passphrase, destroy_real: bool) -> Result<()> {
        crate::require_passphrase(duress)?;
        let real = read_header(&self.dir)?;
        if real.unwrap_key(duress).is_ok() {
            return Err(StoreError::DuressSameAsReal);
        }
        let alt = decoy_dir(&self.dir);
        let existing = match decoy_header(&self.dir)? {
            Some(header) => match header.unwrap_key(duress) {
                Ok(key) => Some(Vault::open_with_key(&alt, &key, Arc::clone(&self.clock))?),
                Err(_) => {
                    Vault::wipe(&alt)?;
                    None
                }
            },
            None => {
                // Leftovers of an earlier decoy without its header: not a vault any more.
                if alt.exists() {
                    fs::remove_dir_all(&alt)
                        .map_err(StoreError::io(format!("removing {}", alt.display())))?;
                }
                None
            }
        };
        let decoy = match existing {
            Some(decoy) => decoy,
            None => Vault::create(
                &alt,
                duress,
                KdfChoice::Params(real.params()),
                Arc::clone(&self.clock),
            )?,
        };
        decoy.conn.execute(
            "INSERT INTO vault_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![DESTROYS_REAL, if destroy_real { "1" } else { "0" }],
        )?;
        decoy.close()
    }

    /// Removes the duress passphrase and destroys the decoy vault (as a quick delete).
    pub fn remove_duress(&self) -> Result<()> {
        let alt = decoy_dir(&self.dir);
        if alt.join(KEY_FILE).is_file() {
            Vault::wipe(&alt)?;
        }
        Ok(())
    }
}

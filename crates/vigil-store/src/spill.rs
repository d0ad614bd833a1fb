//! A place for what an import has checked but not yet applied, or an export has planned but
//! not yet written, so that memory stays flat whatever the bundle holds.
//!
//! Revisions and custody events are read from a bundle and checked one at a time; each is then
//! written here and read back, one at a time again, when the import applies them. A spill is a
//! file in the vault's folder that is removed from the folder the moment it is created (only
//! this process's open handle reaches it, and it vanishes when the process ends, however it
//! ends), and every record in it is sealed with AES-256-GCM under a random key that exists
//! only in this process's memory. Nothing readable ever reaches the disk.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use vigil_crypto::Key256;

use crate::error::{Result, StoreError};

/// Where one record lies in a [`Spill`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    offset: u64,
    sealed_len: u32,
    index: u64,
}

/// An encrypted, nameless temporary file of records (see the module documentation).
pub struct Spill {
    file: File,
    key: LessSafeKey,
    end: u64,
    count: u64,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({} records, {} bytes)", self.count, self.end)
    }
}

fn nonce(index: u64) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

const AAD: &[u8] = b"vigil-import-spill-v1";

impl Spill {
    /// A new spill in `dir` (the vault's folder, so it is on the vault's disk).
    pub fn new(dir: &Path) -> Result<Spill> {
        let key = Key256::generate()?;
        let key = UnboundKey::new(&AES_256_GCM, key.expose_bytes())
            .map(LessSafeKey::new)
            .map_err(|_| StoreError::Crypto(vigil_crypto::CryptoError::Rng))?;
        let mut name = [0u8; 12];
        vigil_crypto::secret::random_bytes(&mut name)?;
        let path = dir.join(format!(".spill-{}", hex::encode(name)));
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(StoreError::io("making room for an import"))?
        };
        std::fs::remove_file(&path).map_err(StoreError::io("making room for an import"))?;
        Ok(Spill {
            file,
            key,
            end: 0,
            count: 0,
        })
    }

    /// Writes a record (sealed in place, so a large one is never copied) and says where it is.
    pub fn put(&mut self, bytes: Vec<u8>) -> Result<Slot> {
        let index = self.count;
        let mut sealed = bytes;
        self.key
            .seal_in_place_append_tag(nonce(index), Aad::from(AAD), &mut sealed)
            .map_err(|_| StoreError::Crypto(vigil_crypto::CryptoError::Tampered))?;
        self.file
            .seek(SeekFrom::Start(self.end))
            .and_then(|_| self.file.write_all(&sealed))
            .map_err(StoreError::io("writing an import's records"))?;
        let slot = Slot {
            offset: self.end,
            sealed_len: u32::try_from(sealed.len()).map_err(|_| StoreError::Io {
                context: "writing an import's records".into(),
                source: std::io::Error::other("a record larger than 4 GiB"),
            })?,
            index,
        };
        self.end += sealed.len() as u64;
        self.count += 1;
        Ok(slot)
    }

    /// Reads a record back.
    pub fn get(&mut self, slot: Slot) -> Result<Vec<u8>> {
        let mut sealed = vec![0u8; slot.sealed_len as usize];
        self.file
            .seek(SeekFrom::Start(slot.offset))
            .and_then(|_| self.file.read_exact(&mut sealed))
            .map_err(StoreError::io("reading an import's records"))?;
        let plain = self
            .key
            .open_in_place(nonce(slot.index), Aad::from(AAD), &mut sealed)
            .map_err(|_| StoreError::Corrupted {
                detail: "an import's temporary record was altered on disk".into(),
            })?
            .len();
        sealed.truncate(plain);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_come_back_and_nothing_readable_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path()).unwrap();
        let a = spill.put(b"nine men entered".to_vec()).unwrap();
        let b = spill.put(vec![7u8; 100_000]).unwrap();
        assert_eq!(spill.get(b).unwrap(), vec![7u8; 100_000]);
        assert_eq!(spill.get(a).unwrap(), b"nine men entered");
        // Nothing with a name in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // A slot read with another record's place fails rather than returning garbage.
        let forged = Slot { index: 1, ..a };
        assert!(spill.get(forged).is_err());
    }
}

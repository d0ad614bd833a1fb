//! Test vaults made and opened through the store, with the tests' passphrase and the floor
//! Argon2id parameters (so that they are quick).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{KdfChoice, StoreError, SystemClock, Vault};

use super::{PASSPHRASE, POLL};

fn pass() -> Passphrase {
    Passphrase::new(PASSPHRASE.to_owned())
}

/// A new vault at `path`.
pub fn new_vault(path: &Path) -> Vault {
    new_vault_with(path, KdfParams::FLOOR)
}

/// A new vault at `path` with the given Argon2id parameters (a slow unlock, say).
pub fn new_vault_with(path: &Path, kdf: KdfParams) -> Vault {
    Vault::create(path, &pass(), KdfChoice::Params(kdf), Arc::new(SystemClock)).unwrap()
}

/// The vault at `path`, opened now.
pub fn open_vault(path: &Path) -> Vault {
    Vault::open(path, &pass(), Arc::new(SystemClock)).unwrap()
}

/// Opens the vault at `dir` once the app that had it open has let go of it: the process may
/// linger a moment after its window is gone (its lock goes with it).
pub fn open_vault_after_app(dir: &Path) -> Vault {
    let start = Instant::now();
    loop {
        match Vault::open(dir, &pass(), Arc::new(SystemClock)) {
            Err(StoreError::Locked) if start.elapsed() < Duration::from_secs(15) => {
                std::thread::sleep(POLL);
            }
            other => return other.unwrap(),
        }
    }
}

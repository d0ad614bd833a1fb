//! What every vault test starts from: a passphrase, a fixed time, a vault at the cheapest
//! key derivation, and reopening it.

#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{FixedClock, KdfChoice, SystemClock, Vault};

pub fn pass() -> Passphrase {
    Passphrase::new("test passphrase".to_owned())
}

pub fn t0() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2019-05-23T10:30:00+06:00").unwrap()
}

pub fn new_vault(dir: &Path) -> Vault {
    Vault::create(
        dir,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(FixedClock::new(t0())),
    )
    .unwrap()
}

pub fn reopen(dir: &Path) -> Vault {
    Vault::open(dir, &pass(), Arc::new(SystemClock)).unwrap()
}

/// Copies the folder `from` to `to`, recursively (a copy of a vault taken by someone).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

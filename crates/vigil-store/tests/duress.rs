//! The duress passphrase: it opens a separate decoy vault, and when so set also destroys the
//! real vault's key as it does.

#![allow(clippy::unwrap_used)]

mod common;

use common::{copy_dir, new_vault, pass, t0};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use vigil_crypto::Passphrase;
use vigil_crypto::keyfile::KeyHeader;
use vigil_model::{Incident, IncidentId};
use vigil_store::{ListQuery, StoreError, SystemClock, Vault};

fn duress() -> Passphrase {
    Passphrase::new("grocery list 42".to_owned())
}

fn open_with(dir: &Path, p: &Passphrase) -> vigil_store::Result<Vault> {
    Vault::open(dir, p, Arc::new(SystemClock))
}

fn add_incident(v: &mut Vault, title: &str) -> IncidentId {
    let inc = Incident::new(IncidentId::new(), title, t0());
    v.create_incident(&inc).unwrap();
    inc.id
}

fn titles(v: &Vault) -> Vec<String> {
    v.list_incidents(&ListQuery::default())
        .unwrap()
        .into_iter()
        .map(|s| s.title)
        .collect()
}

/// A real vault with one record and a decoy with another; `destroy` is the decoy's option.
fn vault_with_decoy(dir: &Path, destroy: bool) {
    let mut real = new_vault(dir);
    add_incident(&mut real, "Names of the detained");
    real.set_duress(&duress(), false).unwrap();
    real.close().unwrap();
    let mut decoy = open_with(dir, &duress()).unwrap();
    add_incident(&mut decoy, "Shopping for the office");
    decoy.close().unwrap();
    // The option is set last, so that filling the decoy did not already destroy anything.
    let real = open_with(dir, &pass()).unwrap();
    real.set_duress(&duress(), destroy).unwrap();
    real.close().unwrap();
}

#[test]
fn the_duress_passphrase_opens_the_decoy_and_the_real_one_the_real_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_decoy(&dir, false);

    let real = open_with(&dir, &pass()).unwrap();
    assert_eq!(titles(&real), ["Names of the detained"]);
    assert!(real.has_duress());
    real.close().unwrap();

    let decoy = open_with(&dir, &duress()).unwrap();
    assert_eq!(titles(&decoy), ["Shopping for the office"]);
    // Seen from the decoy, there is no duress passphrase.
    assert!(!decoy.has_duress());
    decoy.close().unwrap();

    assert!(matches!(
        open_with(&dir, &Passphrase::new("neither".into())),
        Err(StoreError::WrongPassphrase)
    ));
    // Without the option, nothing was destroyed.
    assert_eq!(
        titles(&open_with(&dir, &pass()).unwrap()),
        ["Names of the detained"]
    );
}

#[test]
fn with_the_option_on_the_duress_passphrase_destroys_the_real_key_and_leaves_one_plain_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_decoy(&dir, true);
    let real_key = KeyHeader::from_json(&fs::read_to_string(dir.join("vault.key")).unwrap())
        .unwrap()
        .unwrap_key(&pass())
        .unwrap();
    let before = tmp.path().join("before");
    copy_dir(&dir, &before);

    let decoy = open_with(&dir, &duress()).unwrap();
    assert_eq!(titles(&decoy), ["Shopping for the office"]);
    assert_eq!(decoy.dir(), dir, "the decoy took the real vault's place");
    decoy.close().unwrap();

    // The real passphrase opens nothing now, and the folder is one ordinary vault.
    assert!(matches!(
        open_with(&dir, &pass()),
        Err(StoreError::WrongPassphrase)
    ));
    assert!(!dir.join("alt").exists());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["blobs", "vault.db", "vault.key", "vault.lock"]);
    // The real key is in no file left, and the real database is gone: the copy taken before,
    // given the key header's place by the decoy's, does not open with the real passphrase.
    for e in vigil_fixtures::bundle::walk(&dir) {
        let bytes = fs::read(&e).unwrap();
        assert!(
            !bytes
                .windows(32)
                .any(|w| w == real_key.expose_bytes().as_slice()),
            "{} holds the real key",
            e.display()
        );
    }
    fs::copy(dir.join("vault.key"), before.join("vault.key")).unwrap();
    fs::remove_dir_all(before.join("alt")).unwrap();
    assert!(matches!(
        open_with(&before, &pass()),
        Err(StoreError::WrongPassphrase)
    ));
    // The decoy goes on as the only vault.
    assert_eq!(
        titles(&open_with(&dir, &duress()).unwrap()),
        ["Shopping for the office"]
    );
}

#[test]
fn a_destruction_cut_short_after_the_key_is_finished_by_the_next_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_decoy(&dir, true);
    // As if the process died right after the real key header was destroyed.
    fs::remove_file(dir.join("vault.key")).unwrap();
    assert!(
        Vault::exists(&dir),
        "the first screen still offers to unlock"
    );
    let decoy = open_with(&dir, &duress()).unwrap();
    assert_eq!(titles(&decoy), ["Shopping for the office"]);
    decoy.close().unwrap();
    assert!(!dir.join("alt").exists());
    assert!(matches!(
        open_with(&dir, &pass()),
        Err(StoreError::WrongPassphrase)
    ));
}

#[test]
fn the_duress_passphrase_cannot_be_the_real_one_and_setting_it_again_keeps_the_decoy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let real = new_vault(&dir);
    assert!(matches!(
        real.set_duress(&pass(), false),
        Err(StoreError::DuressSameAsReal)
    ));
    assert!(!dir.join("alt").exists());
    assert!(!real.has_duress());
    real.close().unwrap();

    let dir = tmp.path().join("w");
    vault_with_decoy(&dir, false);
    // The same duress passphrase again: the decoy and its records stay.
    let real = open_with(&dir, &pass()).unwrap();
    real.set_duress(&duress(), false).unwrap();
    real.close().unwrap();
    assert_eq!(
        titles(&open_with(&dir, &duress()).unwrap()),
        ["Shopping for the office"]
    );
    // Another one: the old decoy is destroyed, the old duress passphrase opens nothing.
    let real = open_with(&dir, &pass()).unwrap();
    let other = Passphrase::new("another decoy".into());
    real.set_duress(&other, false).unwrap();
    real.close().unwrap();
    assert!(titles(&open_with(&dir, &other).unwrap()).is_empty());
    assert!(matches!(
        open_with(&dir, &duress()),
        Err(StoreError::WrongPassphrase)
    ));
    // Removed: only the real passphrase opens anything.
    let real = open_with(&dir, &pass()).unwrap();
    real.remove_duress().unwrap();
    assert!(!real.has_duress());
    real.close().unwrap();
    assert!(!dir.join("alt").exists());
    assert!(matches!(
        open_with(&dir, &other),
        Err(StoreError::WrongPassphrase)
    ));
}

#[test]
fn quick_delete_destroys_the_decoy_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_decoy(&dir, false);
    Vault::wipe(&dir).unwrap();
    assert!(!dir.exists());
}

#[test]
fn the_vaults_passphrase_cannot_become_the_duress_one_by_passwd_or_rekey() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_decoy(&dir, false);
    let header = fs::read(dir.join("vault.key")).unwrap();
    assert!(matches!(
        Vault::change_passphrase(&dir, &pass(), &duress()),
        Err(StoreError::DuressSameAsReal)
    ));
    assert!(matches!(
        Vault::rekey(&dir, &pass(), &duress()),
        Err(StoreError::DuressSameAsReal)
    ));
    assert_eq!(
        fs::read(dir.join("vault.key")).unwrap(),
        header,
        "nothing changed"
    );
    // Another new passphrase is fine, and the duress one still opens the decoy.
    let other = Passphrase::new("a new passphrase of words".into());
    Vault::change_passphrase(&dir, &pass(), &other).unwrap();
    assert_eq!(
        titles(&open_with(&dir, &other).unwrap()),
        ["Names of the detained"]
    );
    assert_eq!(
        titles(&open_with(&dir, &duress()).unwrap()),
        ["Shopping for the office"]
    );
}

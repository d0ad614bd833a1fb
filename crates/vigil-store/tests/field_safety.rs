//! Field safety at the vault: re-keying after a passphrase was given up, and quick delete.

#![allow(clippy::unwrap_used)]

mod common;

use common::{copy_dir, new_vault, pass, t0};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use vigil_crypto::keyfile::KeyHeader;
use vigil_crypto::{Key256, Passphrase};
use vigil_model::{Incident, IncidentId};
use vigil_store::{StoreError, SystemClock, Vault};

fn open(dir: &Path) -> vigil_store::Result<Vault> {
    Vault::open(dir, &pass(), Arc::new(SystemClock))
}

fn add_incident(v: &mut Vault, title: &str) -> IncidentId {
    let inc = Incident::new(IncidentId::new(), title, t0());
    v.create_incident(&inc).unwrap();
    inc.id
}

fn header_of(dir: &Path) -> KeyHeader {
    KeyHeader::from_json(&fs::read_to_string(dir.join("vault.key")).unwrap()).unwrap()
}

/// Every file under `dir`, read whole.
fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    vigil_fixtures::bundle::walk(dir)
        .into_iter()
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn after_a_rekey_the_old_header_and_passphrase_open_nothing_written_since() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = new_vault(&dir);
    let before = add_incident(&mut v, "Written before the checkpoint");
    v.close().unwrap();
    let old_header = fs::read(dir.join("vault.key")).unwrap();
    let old_key: Key256 = header_of(&dir).unwrap_key(&pass()).unwrap();

    Vault::rekey(&dir, &pass(), &pass()).unwrap();
    let new_header = header_of(&dir);
    assert_ne!(fs::read(dir.join("vault.key")).unwrap(), old_header);
    assert!(!dir.join("vault.key.rekey").exists() && !dir.join("vault.db.rekey").exists());

    let mut v = open(&dir).unwrap();
    let after = add_incident(&mut v, "Written after the rekey");
    v.add_attachment(
        after,
        "photo.jpg",
        "image/jpeg",
        &b"taken after the rekey"[..],
        None,
    )
    .unwrap();
    assert_eq!(
        v.incident(before).unwrap().title,
        "Written before the checkpoint"
    );
    v.close().unwrap();

    // The attacker's copy: today's files with the old header put back.
    let stolen = tmp.path().join("stolen");
    copy_dir(&dir, &stolen);
    fs::write(stolen.join("vault.key"), &old_header).unwrap();
    assert!(matches!(open(&stolen), Err(StoreError::Corrupted { .. })));
    // ... and with the old database key itself, unwrapped beforehand.
    let with_old_key = Vault::open_with_key(&stolen, &old_key, Arc::new(SystemClock));
    assert!(matches!(with_old_key, Err(StoreError::Corrupted { .. })));
    // The new key is another key, and nothing on disk holds the old one.
    let new_key = new_header.unwrap_key(&pass()).unwrap();
    assert_ne!(new_key.expose_bytes(), old_key.expose_bytes());
    for (name, bytes) in all_bytes(&dir) {
        assert!(
            !contains(&bytes, old_key.expose_bytes()),
            "{name} holds the old key"
        );
        assert!(
            !contains(&bytes, old_key.expose_hex().as_bytes()),
            "{name} holds it in hex"
        );
    }
}

#[test]
fn a_rekey_cut_short_is_undone_or_finished_at_the_next_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = new_vault(&dir);
    let id = add_incident(&mut v, "Kept through every crash");
    v.close().unwrap();

    // Cut before the new database took the old one's place: both new files are dropped.
    let early = tmp.path().join("early");
    copy_dir(&dir, &early);
    fs::write(early.join("vault.db.rekey"), b"half a copy").unwrap();
    fs::write(early.join("vault.key.rekey"), b"{}").unwrap();
    assert_eq!(
        open(&early).unwrap().incident(id).unwrap().title,
        "Kept through every crash"
    );
    assert!(!early.join("vault.db.rekey").exists() && !early.join("vault.key.rekey").exists());

    // Cut between the two renames: the new database is in place, its header beside it.
    let done = tmp.path().join("done");
    copy_dir(&dir, &done);
    Vault::rekey(&done, &pass(), &pass()).unwrap();
    let late = tmp.path().join("late");
    copy_dir(&dir, &late);
    fs::copy(done.join("vault.db"), late.join("vault.db")).unwrap();
    fs::copy(done.join("vault.key"), late.join("vault.key.rekey")).unwrap();
    assert_eq!(
        open(&late).unwrap().incident(id).unwrap().title,
        "Kept through every crash"
    );
    assert_eq!(
        fs::read(late.join("vault.key")).unwrap(),
        fs::read(done.join("vault.key")).unwrap()
    );
    assert!(!late.join("vault.key.rekey").exists());
}

#[test]
fn rekey_with_a_wrong_passphrase_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    new_vault(&dir).close().unwrap();
    let files_before = all_bytes(&dir);
    let wrong = Passphrase::new("not it".to_owned());
    assert!(matches!(
        Vault::rekey(&dir, &wrong, &pass()),
        Err(StoreError::WrongPassphrase)
    ));
    assert_eq!(all_bytes(&dir), files_before);
}

#[test]
fn quick_delete_destroys_the_key_first_and_leaves_nothing_that_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = new_vault(&dir);
    let id = add_incident(&mut v, "Names of the detained");
    v.add_attachment(
        id,
        "list.txt",
        "text/plain",
        &b"the list of names"[..],
        None,
    )
    .unwrap();
    v.close().unwrap();
    let key = header_of(&dir).unwrap_key(&pass()).unwrap();
    let before = tmp.path().join("before");
    copy_dir(&dir, &before);

    let report = Vault::wipe(&dir).unwrap();
    assert!(!dir.exists(), "the vault folder is gone");
    assert!(report.key_destroyed_after <= report.removed_after);
    assert!(!report.was_open);

    // The copy taken beforehand, without its header, holds the key nowhere ...
    fs::remove_file(before.join("vault.key")).unwrap();
    for (name, bytes) in all_bytes(&before) {
        assert!(
            !contains(&bytes, key.expose_bytes()),
            "{name} holds the key"
        );
        assert!(
            !contains(&bytes, key.expose_hex().as_bytes()),
            "{name} holds it in hex"
        );
    }
    // ... is no vault without it, and SQLCipher does not open it with the passphrase itself.
    assert!(matches!(open(&before), Err(StoreError::NotAVault { .. })));
    let conn = rusqlite::Connection::open(before.join("vault.db")).unwrap();
    conn.pragma_update(None, "key", "test passphrase").unwrap();
    assert!(
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
            .is_err()
    );
}

#[test]
fn quick_delete_of_an_open_vault_still_destroys_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = new_vault(&dir);
    add_incident(&mut v, "Open while the wipe runs");
    let report = Vault::wipe(&dir).unwrap();
    assert!(report.was_open);
    drop(v);
    assert!(!dir.join("vault.key").exists());
    assert!(matches!(open(&dir), Err(StoreError::NotAVault { .. })));
}

#[test]
fn quick_delete_touches_only_a_vaults_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a vault: refused, and its files stay.
    let plain = tmp.path().join("documents");
    fs::create_dir(&plain).unwrap();
    fs::write(plain.join("letter.txt"), b"keep me").unwrap();
    assert!(matches!(
        Vault::wipe(&plain),
        Err(StoreError::NotAVault { .. })
    ));
    assert_eq!(fs::read(plain.join("letter.txt")).unwrap(), b"keep me");
    // A vault folder that also holds someone's file: the vault goes, the file and folder stay.
    let dir = tmp.path().join("v");
    new_vault(&dir).close().unwrap();
    fs::write(dir.join("notes.txt"), b"not Vigil's").unwrap();
    Vault::wipe(&dir).unwrap();
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, vec!["notes.txt".to_owned()]);
}

//! A passphrase typed in another Unicode form opens the vault: new vaults derive their key from
//! the normalised form (RFC 8265 OpaqueString, NFC), and a vault made by the previous release
//! (key header version 1, from the passphrase as typed) keeps opening with the form it was
//! made with, then moves to the normalised form, so that every form opens it afterwards.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::copy_dir;
use unicode_normalization::UnicodeNormalization;
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_crypto::keyfile::KeyHeader;
use vigil_store::{KdfChoice, ListQuery, StoreError, SystemClock, Vault};

const CYRILLIC: &str = "Бишкек йод ёлка 2019";

fn form(p: &str, f: &str) -> Passphrase {
    Passphrase::new(match f {
        "NFC" => p.nfc().collect(),
        "NFD" => p.nfd().collect(),
        _ => p.nfkc().collect(),
    })
}

fn open(dir: &Path, p: &Passphrase) -> vigil_store::Result<Vault> {
    Vault::open(dir, p, Arc::new(SystemClock))
}

fn header_version(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("vault.key")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["version"]
        .as_u64()
        .unwrap()
}

#[test]
fn vaults_made_with_any_form_open_with_every_form() {
    let tmp = tempfile::tempdir().unwrap();
    for p in [CYRILLIC, "Crème brûlée à l'école"] {
        for made in ["NFC", "NFD", "NFKC"] {
            let dir = tmp.path().join(format!("{}-{made}", p.len()));
            Vault::create(
                &dir,
                &form(p, made),
                KdfChoice::Params(KdfParams::FLOOR),
                Arc::new(SystemClock),
            )
            .unwrap()
            .close()
            .unwrap();
            for typed in ["NFC", "NFD", "NFKC"] {
                open(&dir, &form(p, typed))
                    .unwrap_or_else(|e| panic!("{p:?} made {made}, typed {typed}: {e}"))
                    .close()
                    .unwrap();
            }
        }
    }
}

/// The vault in `tests/fixtures/v1-nfd` was made by the previous release (`vigil init --kdf
/// minimum`, key header version 1) with the passphrase "Бишкек йод ёлка 2019" in NFD form (й
/// and ё decomposed), which that release could open with no other form.
#[test]
fn a_vault_of_the_previous_release_made_with_a_decomposed_passphrase_moves_to_the_normal_form() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v1-nfd");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-nfd"),
        &dir,
    );
    assert_eq!(header_version(&dir), 1);
    let before = std::fs::read(dir.join("vault.key")).unwrap();
    // Until it has been opened once, only its own form opens it, and a refusal changes nothing.
    assert!(matches!(
        open(&dir, &form(CYRILLIC, "NFC")),
        Err(StoreError::WrongPassphrase)
    ));
    assert_eq!(std::fs::read(dir.join("vault.key")).unwrap(), before);
    let v = open(&dir, &form(CYRILLIC, "NFD")).unwrap();
    let titles: Vec<String> = v
        .list_incidents(&ListQuery::default())
        .unwrap()
        .into_iter()
        .map(|s| s.title)
        .collect();
    assert_eq!(titles, ["Hearing at the Pervomaisky court"]);
    v.close().unwrap();
    assert_eq!(
        header_version(&dir),
        2,
        "written again under the normal form"
    );
    assert_eq!(
        KeyHeader::from_json(&std::fs::read_to_string(dir.join("vault.key")).unwrap())
            .unwrap()
            .params(),
        KdfParams::FLOOR,
        "with the same parameters"
    );
    for typed in ["NFC", "NFD", "NFKC"] {
        open(&dir, &form(CYRILLIC, typed)).unwrap().close().unwrap();
    }
    assert!(open(&dir, &Passphrase::new("Бишкек".into())).is_err());
}

//! `vigil-server admin`: organisations from signed profiles only.

use crate::harness::{Backend, Org, Store};
use vigil_crypto::sign::OrgKeys;
use vigil_ledger::profile::OrgProfile;

async fn a_genuine_profile_is_registered_and_forged_or_rekeyed_ones_are_refused(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(backend, dir.path());
    let (ok, out, _) = store.admin(&["org", "list"]);
    assert!(ok);
    assert!(out.contains("no organisation is registered"), "{out}");

    let org = Org::new("Bishkek Monitoring Group");
    org.register(&store, dir.path());
    let (ok, out, _) = store.admin(&["org", "list"]);
    assert!(ok);
    assert!(out.contains(&org.id().to_string()), "{out}");
    assert!(out.contains("Bishkek Monitoring Group"), "{out}");
    assert!(out.contains("0 devices"), "{out}");

    // The same profile again: accepted, nothing doubles.
    let file = dir.path().join("again.json");
    std::fs::write(&file, org.profile.to_json_pretty()).unwrap();
    let (ok, out, _) = store.admin(&["org", "add", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("registered already"), "{out}");

    // Forged: the name changed after signing.
    let forged = dir.path().join("forged.json");
    std::fs::write(
        &forged,
        org.profile
            .to_json_pretty()
            .replace("Bishkek Monitoring Group", "Bishkek Monitoring Grouq"),
    )
    .unwrap();
    let (ok, _, err) = store.admin(&["org", "add", forged.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not a genuine organisation profile"), "{err}");

    // The same organisation id, signed by another key (someone claiming it).
    let thief = OrgKeys::generate(1).unwrap();
    let stolen = OrgProfile::signed(
        org.id(),
        "Bishkek Monitoring Group",
        &thief,
        org.profile.created_at,
    )
    .unwrap();
    let stolen_file = dir.path().join("stolen.json");
    std::fs::write(&stolen_file, stolen.to_json_pretty()).unwrap();
    let (ok, _, err) = store.admin(&["org", "add", stolen_file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("another signing key"), "{err}");

    let (ok, out, _) = store.admin(&["org", "list"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("Bishkek Monitoring Group"), "{out}");
    let (ok, out, _) = store.admin(&["devices", &org.id().to_string()]);
    assert!(ok);
    assert!(out.contains("no device has registered yet"), "{out}");
    let (ok, _, err) = store.admin(&["devices", &uuid::Uuid::now_v7().to_string()]);
    assert!(!ok);
    assert!(err.contains("not registered"), "{err}");
}

async fn the_receipt_key_is_made_once_and_kept(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(backend, dir.path());
    let (ok, first, _) = store.admin(&["key"]);
    assert!(ok);
    assert_eq!(first.trim().len(), 64, "{first}");
    let (_, second, _) = store.admin(&["key"]);
    assert_eq!(first, second);
}

crate::on_every_backend!(
    a_genuine_profile_is_registered_and_forged_or_rekeyed_ones_are_refused,
    the_receipt_key_is_made_once_and_kept,
);

//! Organisations and sealing from the command line: `org create/join/identity`, `seal`.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn org_create_join_identity_and_seal() {
    let hq = Env::new();
    hq.init();
    let profile = hq.root.path().join("org-profile.json");
    let created: serde_json::Value = serde_json::from_str(&hq.ok(&[
        "--json",
        "org",
        "create",
        "--name",
        "Human Rights Centre",
        "--profile-out",
        profile.to_str().unwrap(),
    ]))
    .unwrap();
    let recipient = created["hq_recipients"][0].as_str().unwrap().to_owned();
    assert!(recipient.starts_with("age1"));
    let text = std::fs::read_to_string(&profile).unwrap();
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["format"], "vigil-org-profile");
    assert_eq!(p["version"], 1);
    assert_eq!(p["org_id"], created["id"]);
    assert_eq!(p["server"], serde_json::Value::Null);
    assert_eq!(p["signature"].as_str().unwrap().len(), 128);

    // A second organisation in the same vault is refused.
    let again = hq.run(&[
        "--json",
        "org",
        "create",
        "--name",
        "Other",
        "--profile-out",
        hq.root.path().join("other.json").to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(json_error_code(&again), "already_in_org");

    // The HQ reader identity, in age-keygen's format, private, with a warning.
    let ident = hq.root.path().join("hq-reader.txt");
    let out = hq.run(&["org", "identity", "--out", ident.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("can read every bundle"));
    let mode = std::fs::metadata(&ident).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let body = std::fs::read_to_string(&ident).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("# created: "));
    assert_eq!(lines[1], format!("# public key: {recipient}"));
    assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
    // Never overwritten.
    let twice = hq.run(&["org", "identity", "--out", ident.to_str().unwrap()]);
    assert!(!twice.status.success());

    // A monitor joins; joining again is a no-op; a tampered profile is refused.
    let monitor = Env::new();
    monitor.init();
    let joined: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "org", "join", profile.to_str().unwrap()]))
            .unwrap();
    assert_eq!(joined["outcome"], "joined");
    assert_eq!(joined["id"], created["id"]);
    let joined: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "org", "join", profile.to_str().unwrap()]))
            .unwrap();
    assert_eq!(joined["outcome"], "unchanged");
    let no_keys = monitor.run(&[
        "--json",
        "org",
        "identity",
        "--out",
        monitor.root.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(json_error_code(&no_keys), "not_hq");

    let forged = monitor.root.path().join("forged.json");
    std::fs::write(
        &forged,
        text.replace("Human Rights Centre", "Human Rights Centr"),
    )
    .unwrap();
    let fresh = Env::new();
    fresh.init();
    let bad = fresh.run(&["--json", "org", "join", forged.to_str().unwrap()]);
    assert_eq!(json_error_code(&bad), "bad_signature");

    // Sealing: JSON names the revision, its hash and the device; the incident is sealed.
    let id = monitor.new_incident("Detention at the border");
    let sealed: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "seal", &id])).unwrap();
    assert_eq!(sealed["incident"], id.as_str());
    assert_eq!(sealed["hash"].as_str().unwrap().len(), 64);
    assert_eq!(sealed["device_seq"], 1);
    assert!(sealed["device"].is_string() && sealed["id"].is_string());
    let list: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "list", "--status", "sealed"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    let twice = monitor.run(&["--json", "seal", &id]);
    assert_eq!(json_error_code(&twice), "nothing_to_seal");

    // The running log goes on after sealing; sealing again records it as an amendment.
    monitor.ok(&["log", &id, "11:05 released without charge"]);
    let second: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "seal", &id])).unwrap();
    assert_eq!(second["amends"], sealed["id"]);
    assert_eq!(second["device_seq"], 2);
    // Fields change only by an amendment; the sealed revisions stay as they were.
    let edit = monitor.run(&["--json", "amend", &id]);
    assert_eq!(json_error_code(&edit), "usage");
    let third: serde_json::Value = serde_json::from_str(&monitor.ok(&[
        "--json",
        "amend",
        &id,
        "--title",
        "Detention at the border, released",
    ]))
    .unwrap();
    assert_eq!(third["amends"], second["id"]);
    let shown: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "show", &id])).unwrap();
    assert_eq!(
        shown["incident"]["title"],
        "Detention at the border, released"
    );
    let history: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "history", &id])).unwrap();
    let revisions = history["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 3);
    assert!(revisions.iter().all(|r| r["verified"] == true));
    assert_eq!(revisions[2]["amends"], second["id"]);

    // An edit made in the app and waiting to be sealed is never thrown away by `amend`.
    let mut vault = vigil_store::Vault::open(
        &monitor.vault,
        &vigil_crypto::Passphrase::new(PASSPHRASE.to_owned()),
        std::sync::Arc::new(vigil_store::SystemClock),
    )
    .unwrap();
    let incident_id = id.parse().unwrap();
    let mut waiting = vault.incident(incident_id).unwrap();
    waiting.summary = "Edited in the app".into();
    vault.save_draft(&waiting).unwrap();
    vault.close().unwrap();
    let refused = monitor.run(&["amend", &id, "--title", "Other"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("waiting to be sealed"),
        "{}",
        stderr(&refused)
    );
    monitor.ok(&["seal", &id]);
    let shown: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "show", &id])).unwrap();
    assert_eq!(shown["incident"]["summary"], "Edited in the app");
}

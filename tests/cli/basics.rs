//! The commands do what they say, print JSON objects with ids, and use the documented exit codes.

use crate::common::*;

#[test]
fn a_session_from_init_to_search() {
    let env = Env::new();
    env.init();
    let id = env.new_incident("Court hearing of the Bishkek lawyers");
    let entry: serde_json::Value = serde_json::from_str(&env.ok(&[
        "--json",
        "log",
        &id,
        "Hearing postponed to Monday; the defendant was not brought",
    ]))
    .unwrap();
    assert_eq!(entry["seq"], 1);
    assert!(entry["id"].is_string());
    env.ok(&["log", &id, "--flag", "Police closed the courtroom doors"]);

    let list: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "list"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["log_entries"], 2);

    let hits: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "search", "postpon"])).unwrap();
    assert_eq!(hits[0]["id"], id.as_str());
    let none: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "search", "nothing-like-this"])).unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);

    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", &id])).unwrap();
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["log"][1]["flagged"], true);
    assert_eq!(shown["log"][1]["seq"], 2);
}

#[test]
fn incidents_from_json_files_and_field_errors() {
    let env = Env::new();
    env.init();
    let good = env.root.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"title":"Meeting interrupted","violations":["obstruction_of_lawyers"],
            "parties":[{"ref":"nine","kind":{"kind":"group","description":"unknown individuals",
            "unit":"individuals","size":9,"size_precision":"exact"},"roles":["perpetrator"]}]}"#,
    )
    .unwrap();
    let id = env
        .ok(&["new", "--from", good.to_str().unwrap()])
        .trim()
        .to_owned();
    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", &id])).unwrap();
    assert_eq!(shown["incident"]["parties"][0]["kind"]["size"], 9);

    let bad = env.root.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"title":"x","violations":["no_such_term"],
            "parties":[{"kind":{"kind":"group","unit":"individuals","size":0}}]}"#,
    )
    .unwrap();
    let out = env.run(&["new", "--from", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("violations[0]"), "{err}");
    assert!(
        err.contains("parties[0].kind.size") || err.contains("parties[0].size"),
        "{err}"
    );

    let typo = env.root.path().join("typo.json");
    std::fs::write(&typo, r#"{"titel":"x"}"#).unwrap();
    let out = env.run(&["new", "--from", typo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("titel"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_with_1() {
    let env = Env::new();
    env.init();
    for args in [
        vec!["no-such-command"],
        vec!["log", "not-a-uuid", "text"],
        vec!["new"],
        vec!["list", "--status", "maybe"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    let out = env.run(&["log", "01900000-0000-7000-8000-000000000000", "text"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no incident"), "{}", stderr(&out));
}

#[test]
fn passwd_rewraps_the_key() {
    let env = Env::new();
    env.init();
    let id = env.new_incident("Before the passphrase change");
    let new_pass = env.root.path().join("new-pass");
    std::fs::write(&new_pass, "a different passphrase\n").unwrap();
    env.ok(&[
        "passwd",
        "--new-passphrase-file",
        new_pass.to_str().unwrap(),
    ]);
    assert_eq!(env.run(&["list"]).status.code(), Some(2));
    let out = env
        .bare_cmd()
        .args(["--vault", env.vault.to_str().unwrap()])
        .args([
            "--passphrase-file",
            new_pass.to_str().unwrap(),
            "--json",
            "list",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
}

#[test]
fn demo_vault_holds_the_bishkek_incident() {
    let env = Env::new();
    env.ok(&["demo", "--kdf", "minimum"]);
    let hits: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "search", "Alamedin"])).unwrap();
    let id = hits[0]["id"].as_str().unwrap().to_owned();
    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", &id])).unwrap();
    let inc = &shown["incident"];
    assert_eq!(inc["parties"].as_array().unwrap().len(), 4);
    assert!(
        inc["parties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"]["size"] == 9)
    );
    assert!(shown["log"].as_array().unwrap().len() >= 10);
    assert_eq!(inc["interventions"].as_array().unwrap().len(), 1);
    let att = shown["attachments"][0]["id"].as_str().unwrap().to_owned();
    let out_file = env.root.path().join("note.txt");
    env.ok(&["extract", &att, out_file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("Alamedin"));
}

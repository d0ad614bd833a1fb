//! Nothing recorded in a vault can be found in plaintext in its files or in the temp directory.

use std::fs;
use std::path::Path;

use crate::common::*;

const MARKERS: &[&str] = &[
    "ZQXTITLEMARKER",
    "ZQXSUMMARYMARKER",
    "ZQXPERSONMARKER",
    "ZQXGROUPMARKER",
    "ZQXORGMARKER",
    "ZQXLOGMARKER",
    "ZQXATTACHMARKER",
    "ZQXTAGMARKER",
    "ЖКЛМАРКЕР",
];

fn encodings(marker: &str) -> Vec<Vec<u8>> {
    let utf16le: Vec<u8> = marker
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let utf16be: Vec<u8> = marker
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    vec![marker.as_bytes().to_vec(), utf16le, utf16be]
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn scan(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = fs::read(&file).unwrap();
        for m in MARKERS {
            for (enc, needle) in ["utf-8", "utf-16le", "utf-16be"].iter().zip(encodings(m)) {
                if find(&bytes, &needle) {
                    found.push(format!("{m} ({enc}) in {}", file.display()));
                }
            }
        }
    }
    found
}

#[test]
fn no_marker_in_any_file() {
    let env = Env::new();
    env.init();
    let draft = env.root.path().join("incident.json");
    fs::write(
        &draft,
        r#"{"title":"ZQXTITLEMARKER hearing","summary":"ZQXSUMMARYMARKER and ЖКЛМАРКЕР",
            "tags":["ZQXTAGMARKER"],
            "parties":[
              {"ref":"p","kind":{"kind":"person","name":"ZQXPERSONMARKER"},"roles":["victim"]},
              {"ref":"g","kind":{"kind":"group","name":"ZQXGROUPMARKER","unit":"individuals","size":9,
               "size_precision":"exact"},"roles":["perpetrator"]},
              {"ref":"o","kind":{"kind":"organisation","name":"ZQXORGMARKER"},"roles":["intervening_party"]}
            ],
            "acts":[{"victim":"p","perpetrator":"g","act_type":"beating"}]}"#,
    )
    .unwrap();
    let id = env
        .ok(&["new", "--from", draft.to_str().unwrap()])
        .trim()
        .to_owned();
    for i in 0..50 {
        env.ok(&[
            "log",
            &id,
            &format!("entry {i}: ZQXLOGMARKER said ЖКЛМАРКЕР"),
        ]);
    }
    let src = env.root.path().join("evidence.txt");
    fs::write(&src, "ZQXATTACHMARKER ".repeat(40_000)).unwrap();
    let att = env
        .ok(&["attach", &id, src.to_str().unwrap()])
        .trim()
        .to_owned();
    // Read paths too: search, show, list.
    assert!(env.ok(&["search", "ZQXLOGMARKER"]).contains(&id));
    assert!(env.ok(&["show", &id]).contains("ZQXPERSONMARKER"));
    env.ok(&["list"]);
    fs::remove_file(&src).unwrap();
    fs::remove_file(&draft).unwrap();

    let vault_files = files_under(&env.vault);
    let names: Vec<String> = vault_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("vault.db")));
    assert!(names.iter().any(|n| n.ends_with("vault.key")));
    assert!(names.iter().any(|n| n.contains("/blobs/")));
    let mut found = scan(&env.vault);
    found.extend(scan(&env.tmp));
    assert!(found.is_empty(), "plaintext found: {found:#?}");
    // File names reveal nothing either: no id of the incident or attachment.
    assert!(!names.iter().any(|n| n.contains(&id) || n.contains(&att)));

    // The scan itself works: the same content in a plain SQLite file is found.
    let plain = env.tmp.join("control.db");
    let conn = rusqlite::Connection::open(&plain).unwrap();
    conn.execute_batch("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('ZQXLOGMARKER');")
        .unwrap();
    drop(conn);
    assert!(
        !scan(&env.tmp).is_empty(),
        "the scan must be able to see a marker"
    );
}

#[test]
fn a_vault_with_a_wal_still_open_reveals_nothing() {
    // While a process holds the vault open, the -wal and -shm files exist; scan them too.
    let env = Env::new();
    env.init();
    let id = env.new_incident("ZQXTITLEMARKER");
    let mut child = env
        .cmd()
        .args(["log", &id, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{BufRead, Write};
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    for i in 0..20 {
        writeln!(stdin, "ZQXLOGMARKER {i}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(!line.trim().is_empty());
    }
    let names: Vec<String> = files_under(&env.vault)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("vault.db-wal")),
        "{names:?}"
    );
    let mut found = scan(&env.vault);
    found.extend(scan(&env.tmp));
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(found.is_empty(), "plaintext found: {found:#?}");
}

//! Bad input: each failure has its own clear message and exit code, never a panic, and the
//! vault's files are exactly as they were.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::process::Output;

use crate::common::*;

/// A vault with an incident, a log entry and an attachment, closed cleanly.
fn populated() -> (Env, String, String) {
    let env = Env::new();
    env.init();
    let id = env.new_incident("A hearing");
    env.ok(&["log", &id, "The judge left the room"]);
    let src = env.root.path().join("photo.bin");
    fs::write(&src, vec![0x5au8; 600 * 1024]).unwrap();
    let att = env
        .ok(&["attach", &id, src.to_str().unwrap()])
        .trim()
        .to_owned();
    (env, id, att)
}

fn assert_failure(out: &Output, exit: i32, code: &str, words: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(exit), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(json_error_code(out), code, "{err}");
    assert!(err.contains(words), "expected {words:?} in {err}");
}

fn flip_byte(path: &std::path::Path, offset: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).unwrap();
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn wrong_passphrase() {
    let (env, _, _) = populated();
    let before = snapshot(&env.vault);
    let wrong = env.root.path().join("wrong");
    fs::write(&wrong, "not the passphrase\n").unwrap();
    let out = env
        .bare_cmd()
        .args(["--vault", env.vault.to_str().unwrap()])
        .args([
            "--passphrase-file",
            wrong.to_str().unwrap(),
            "--json",
            "list",
        ])
        .output()
        .unwrap();
    assert_failure(&out, 2, "wrong_passphrase", "wrong passphrase");
    assert_eq!(snapshot(&env.vault), before);
}

#[test]
fn not_a_vault() {
    let env = Env::new();
    // A folder with something else in it.
    fs::create_dir(&env.vault).unwrap();
    fs::write(env.vault.join("notes.txt"), "hello").unwrap();
    let before = snapshot(&env.vault);
    let out = env.run(&["--json", "list"]);
    assert_failure(&out, 3, "not_a_vault", "is not a Vigil vault");
    assert_eq!(snapshot(&env.vault), before);

    // A key header that is not one.
    fs::write(
        env.vault.join("vault.key"),
        "{\"format\":\"something-else\"}",
    )
    .unwrap();
    let before = snapshot(&env.vault);
    let out = env.run(&["--json", "list"]);
    assert_failure(&out, 3, "not_a_vault", "is not a Vigil vault");
    assert_eq!(snapshot(&env.vault), before);

    // A plain file where the vault folder should be.
    let file = env.root.path().join("file-not-folder");
    fs::write(&file, vec![7u8; 10_000]).unwrap();
    let before = snapshot(&file);
    let out = env
        .bare_cmd()
        .args(["--passphrase-file", env.pass_file.to_str().unwrap()])
        .args(["--vault", file.to_str().unwrap(), "--json", "list"])
        .output()
        .unwrap();
    assert_failure(&out, 3, "not_a_vault", "is not a Vigil vault");
    assert_eq!(snapshot(&file), before);

    // A missing folder.
    let out = env
        .bare_cmd()
        .args(["--passphrase-file", env.pass_file.to_str().unwrap()])
        .args([
            "--vault",
            env.root.path().join("nowhere").to_str().unwrap(),
            "--json",
            "list",
        ])
        .output()
        .unwrap();
    assert_failure(&out, 3, "not_a_vault", "does not exist");
    assert!(!env.root.path().join("nowhere").exists());
}

#[test]
fn truncated_database() {
    for cut in [Cut::Odd, Cut::PageBoundary] {
        let (env, _, _) = populated();
        let db = env.vault.join("vault.db");
        let len = fs::metadata(&db).unwrap().len();
        let new_len = match cut {
            Cut::Odd => len / 2 + 123,
            Cut::PageBoundary => (len / 2) / 4096 * 4096,
        };
        OpenOptions::new()
            .write(true)
            .open(&db)
            .unwrap()
            .set_len(new_len)
            .unwrap();
        let before = snapshot(&env.vault);
        let out = env.run(&["--json", "list"]);
        assert_failure(&out, 3, "vault_truncated", "truncated");
        assert_eq!(snapshot(&env.vault), before, "{cut:?}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Cut {
    Odd,
    PageBoundary,
}

#[test]
fn flipped_byte_in_the_database() {
    // In the first page (past SQLCipher's salt), and deep inside a later page.
    for offset in [100u64, 4096 * 3 + 2000] {
        let (env, _, _) = populated();
        let db = env.vault.join("vault.db");
        assert!(fs::metadata(&db).unwrap().len() > offset);
        flip_byte(&db, offset);
        let before = snapshot(&env.vault);
        let out = env.run(&["--json", "list"]);
        assert_failure(&out, 3, "vault_corrupted", "damaged or was altered");
        assert_eq!(snapshot(&env.vault), before, "offset {offset}");
    }
}

#[test]
fn flipped_byte_in_an_attachment_chunk() {
    let (env, _, att) = populated();
    // The chunks, not the empty spare files that become chunks (blobs/spare).
    let chunks: Vec<_> = files_under(&env.vault.join("blobs"))
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "spare"))
        .collect();
    assert_eq!(chunks.len(), 3, "600 KiB is three 256 KiB chunks");
    for (n, chunk) in chunks.iter().enumerate() {
        flip_byte(chunk, 5000 + n as u64);
        let before = snapshot(&env.vault);
        let dest = env.root.path().join(format!("out-{n}.bin"));
        let out = env.run(&["--json", "extract", &att, dest.to_str().unwrap()]);
        assert_failure(&out, 3, "attachment_tampered", "was altered");
        assert!(!dest.exists(), "no partial plaintext is left behind");
        let leftovers: Vec<_> = fs::read_dir(env.root.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("extract"))
            .collect();
        assert!(leftovers.is_empty());
        assert_eq!(snapshot(&env.vault), before);
        flip_byte(chunk, 5000 + n as u64);
    }
    // Restored: it extracts again.
    let dest = env.root.path().join("restored.bin");
    env.ok(&["extract", &att, dest.to_str().unwrap()]);
    assert_eq!(fs::read(&dest).unwrap(), vec![0x5au8; 600 * 1024]);
}

#[test]
fn each_failure_has_its_own_message() {
    let messages = [
        "wrong passphrase",
        "is not a Vigil vault",
        "truncated",
        "damaged or was altered",
        "was altered or is incomplete",
    ];
    for (i, a) in messages.iter().enumerate() {
        for b in &messages[i + 1..] {
            assert!(!a.contains(b) && !b.contains(a));
        }
    }
}

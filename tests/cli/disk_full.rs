//! The disk holding the vault fills up during a running log (a small tmpfs here): the write
//! that did not fit is refused with its own code and exit code, every entry whose id was
//! printed is there, reading works and exits 0 on the full disk, and once space is freed
//! logging goes on with nothing lost.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_full_disk_is_its_own_condition_and_loses_nothing() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root {
        eprintln!("SKIPPED: mounting a small tmpfs needs root here");
        return;
    }
    let env = Env::new();
    let disk = env.root.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let vault = disk.join("vault");
    let vigil = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.arg("--vault")
            .arg(&vault)
            .arg("--passphrase-file")
            .arg(env.root.path().join("passphrase"))
            .args(args);
        c
    };
    assert!(
        vigil(&["init", "--kdf", "minimum"])
            .status()
            .unwrap()
            .success()
    );
    let out = vigil(&["new", "--title", "Lawyers' meeting"])
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // Typed until the disk is full.
    let mut log = vigil(&["log", &id, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Typed on a thread of its own: the ids come back on standard output meanwhile.
    let mut input = log.stdin.take().unwrap();
    let typist = std::thread::spawn(move || {
        for i in 0..100_000 {
            let line = format!("10:{:02} entry {i} {}\n", i % 60, "x".repeat(200));
            if input.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let out = log.wait_with_output().unwrap();
    typist.join().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("disk is full"), "{}", stderr(&out));
    let printed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        printed.len() > 100,
        "{} entries before the disk filled",
        printed.len()
    );

    // The code for scripts, and reading on the full disk.
    let refused = vigil(&["--json", "log", &id, "one more"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(6));
    assert_eq!(json_error_code(&refused), "disk_full");
    let shown = vigil(&["--json", "show", &id]).output().unwrap();
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let shown = json(&String::from_utf8(shown.stdout).unwrap());
    let ids: Vec<&str> = shown["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids, printed,
        "every entry whose id was printed, and no other"
    );
    let listed = vigil(&["list"]).output().unwrap();
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));

    // Space freed: logging goes on, nothing lost.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=32m"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(grown.success());
    let more = vigil(&["log", &id, "11:00 the lawyers are released"])
        .output()
        .unwrap();
    assert_eq!(more.status.code(), Some(0), "{}", stderr(&more));
    let shown = vigil(&["--json", "show", &id]).output().unwrap();
    let shown = json(&String::from_utf8(shown.stdout).unwrap());
    assert_eq!(shown["log"].as_array().unwrap().len(), printed.len() + 1);
}

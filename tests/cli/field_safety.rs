//! Field safety from the terminal: content never on the command line, no core dumps, no key
//! or passphrase left in the process's memory, re-keying and quick delete.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::*;
use crate::memory::{found_in, secrets, vault_key};

const MARKER: &str = "ZQXTYPEDMARKER detained at the checkpoint";

fn cmdline(pid: u32) -> Vec<u8> {
    fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Reads lines of the child's standard error until one contains `what`.
fn wait_for_stderr(child: &mut Child, what: &str) -> String {
    let err = child.stderr.take().unwrap();
    let mut reader = BufReader::new(err);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "the child ended without saying {what:?}: {seen}");
        seen.push_str(&line);
        if line.contains(what) {
            return seen;
        }
    }
}

/// A running `vigil log ID` (the vault open), with one typed entry already on disk.
struct Typing {
    child: Child,
    stdin: std::process::ChildStdin,
}

impl Typing {
    fn start(mut cmd: Command, id: &str, entry: &str) -> Typing {
        let mut child = cmd
            .args(["log", id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{entry}").unwrap();
        let mut saved = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut saved)
            .unwrap();
        assert!(
            !saved.trim().is_empty(),
            "the entry's id once it is on disk"
        );
        Typing { child, stdin }
    }

    /// Ends the input; returns what it said on standard error.
    fn finish(self) -> String {
        drop(self.stdin);
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A vault with one incident (given the safe way, from a file); its id.
fn vault_with_report(env: &Env) -> String {
    env.init();
    let path = env.root.path().join("report.json");
    fs::write(&path, r#"{"title": "Hearing postponed"}"#).unwrap();
    env.ok(&["new", "--from", &path.display().to_string()])
        .trim()
        .to_owned()
}

#[test]
fn log_entries_typed_in_never_reach_the_command_line_and_given_ones_are_warned_about() {
    let env = Env::new();
    let id = vault_with_report(&env);
    let typing = Typing::start(env.cmd(), &id, MARKER);
    // While it runs, nothing on its command line holds what was typed.
    assert!(!contains(&cmdline(typing.child.id()), MARKER.as_bytes()));
    assert!(!typing.finish().contains("warning"));
    let shown = env.ok(&["--json", "show", &id]);
    assert!(shown.contains(MARKER), "{shown}");

    // Given on the command line, it is still saved, with a warning that says why not to.
    let given = env.run(&["log", &id, "second entry, typed unsafely"]);
    assert!(given.status.success());
    let warning = stderr(&given);
    assert!(
        warning.contains("warning") && warning.contains("history"),
        "{warning}"
    );
}

#[test]
fn new_reads_its_title_and_summary_from_standard_input() {
    let env = Env::new();
    env.init();
    let mut child = env
        .cmd()
        .arg("new")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{MARKER}\nNine men entered the meeting\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", &id])).unwrap();
    assert_eq!(shown["incident"]["title"], MARKER);
    assert_eq!(shown["incident"]["summary"], "Nine men entered the meeting");
    // No title: nothing is created.
    let empty = env.run(&["new"]);
    assert_eq!(empty.status.code(), Some(1));
    let list: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "list"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn core_dumps_are_off_even_when_the_shell_allows_them() {
    let env = Env::new();
    let id = vault_with_report(&env);
    // The shell allows unlimited core files; vigil lowers the limit itself.
    let mut prlimit = Command::new("prlimit");
    prlimit
        .arg("--core=unlimited:unlimited")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .arg("--vault")
        .arg(&env.vault)
        .arg("--passphrase-file")
        .arg(&env.pass_file)
        .env("TMPDIR", &env.tmp);
    let typing = Typing::start(prlimit, &id, "an entry");
    let limits = fs::read_to_string(format!("/proc/{}/limits", typing.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
    typing.finish();
}

#[test]
fn after_the_vault_is_closed_the_process_memory_holds_neither_passphrase_nor_key() {
    let env = Env::new();
    let id = vault_with_report(&env);
    env.ok(&["log", &id, "an entry to read back"]);
    let key = vault_key(&env.vault, PASSPHRASE);
    // The control: while the vault is open, its key is in memory, and the search finds it.
    let typing = Typing::start(env.cmd(), &id, "an entry while the vault is open");
    let core = core_image(typing.child.id(), &env.tmp);
    assert!(
        contains(&core, &key),
        "the open vault's key is found in its image"
    );
    typing.finish();
    for (args, stdin_pass) in [
        (vec!["show", id.as_str()], false),
        (vec!["--passphrase-file", "-", "show", id.as_str()], true),
    ] {
        let mut cmd = if stdin_pass {
            env.bare_cmd()
        } else {
            env.cmd()
        };
        if stdin_pass {
            cmd.arg("--vault").arg(&env.vault);
        }
        let mut child = cmd
            .args(&args)
            .env("VIGIL_HOLD_AT_EXIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if stdin_pass {
            writeln!(stdin, "{PASSPHRASE}").unwrap();
        }
        wait_for_stderr(&mut child, "holding");
        let core = core_image(child.id(), &env.tmp);
        drop(stdin);
        assert!(child.wait().unwrap().success());
        let left = found_in(&core, &secrets(PASSPHRASE, &key));
        assert!(
            left.is_empty(),
            "the memory of vigil {args:?} holds {left:?}"
        );
        // The image is real: it holds what the process plainly keeps (its vault's path).
        assert!(contains(&core, env.vault.display().to_string().as_bytes()));
    }
}

/// A core image of the running process `pid`, taken with gdb's gcore (as root may, even from a
/// process that made itself non-dumpable).
fn core_image(pid: u32, dir: &Path) -> Vec<u8> {
    let prefix = dir.join("core");
    let out = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .output()
        .unwrap();
    let path = dir.join(format!("core.{pid}"));
    assert!(
        path.exists(),
        "gcore wrote no image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    bytes
}

#[test]
fn rekey_keeps_every_record_and_the_old_header_no_longer_opens_the_vault() {
    let env = Env::new();
    let id = vault_with_report(&env);
    let old_header = fs::read(env.vault.join("vault.key")).unwrap();
    let out = env.ok(&["rekey", "--keep-passphrase"]);
    assert!(out.contains("new key"), "{out}");
    let shown = env.ok(&["--json", "show", &id]);
    assert!(shown.contains("Hearing postponed"));
    // Put the old header back: the right passphrase, yet the database does not open.
    fs::write(env.vault.join("vault.key"), old_header).unwrap();
    let refused = env.run(&["list"]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
}

#[test]
fn wipe_asks_first_refuses_what_is_not_a_vault_and_then_leaves_nothing() {
    let env = Env::new();
    vault_with_report(&env);
    // No one to answer (standard input is not a terminal) and no --yes: nothing happens.
    let asked = env.run(&["wipe"]);
    assert_eq!(asked.status.code(), Some(1));
    assert!(env.vault.join("vault.key").exists());
    // A folder that is not a vault is left alone.
    let other = env.root.path().join("documents");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("letter.txt"), "keep").unwrap();
    let refused = env
        .bare_cmd()
        .arg("--vault")
        .arg(&other)
        .args(["wipe", "--yes"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(other.join("letter.txt").exists());
    // With --yes, no passphrase is needed, and the vault is gone.
    let wiped = env
        .bare_cmd()
        .arg("--vault")
        .arg(&env.vault)
        .args(["--json", "wipe", "--yes"])
        .output()
        .unwrap();
    assert!(wiped.status.success(), "{}", stderr(&wiped));
    let report: serde_json::Value = serde_json::from_slice(&wiped.stdout).unwrap();
    assert!(report["key_destroyed_ms"].as_f64().unwrap() <= report["removed_ms"].as_f64().unwrap());
    assert!(!env.vault.exists());
}

#[test]
fn the_duress_passphrase_opens_a_decoy_and_when_so_set_destroys_the_real_vault() {
    let env = Env::new();
    let id = vault_with_report(&env);
    let duress_file = env.root.path().join("duress");
    fs::write(&duress_file, "grocery list 42\n").unwrap();
    let with_duress = |args: &[&str]| {
        env.bare_cmd()
            .arg("--vault")
            .arg(&env.vault)
            .arg("--passphrase-file")
            .arg(&duress_file)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(env.ok(&["duress", "status"]).contains("no duress"));
    // The vault's own passphrase cannot be the duress one.
    let same = env.run(&[
        "duress",
        "set",
        "--duress-passphrase-file",
        env.pass_file.to_str().unwrap(),
    ]);
    assert_eq!(same.status.code(), Some(1), "{}", stderr(&same));
    assert!(stderr(&same).contains("must differ"));
    env.ok(&[
        "duress",
        "set",
        "--duress-passphrase-file",
        duress_file.to_str().unwrap(),
    ]);
    assert!(env.ok(&["duress", "status"]).contains("is set"));

    // The decoy: empty at first, then filled as the monitor would, with ordinary notes.
    let listed = with_duress(&["list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("Hearing postponed"));
    let mut fill = env.bare_cmd();
    fill.arg("--vault")
        .arg(&env.vault)
        .arg("--passphrase-file")
        .arg(&duress_file)
        .args(["new", "--title", "Office supplies"]);
    assert!(fill.output().unwrap().status.success());
    // Seen from the decoy, there is no duress passphrase; the real vault is untouched.
    assert!(
        String::from_utf8_lossy(&with_duress(&["duress", "status"]).stdout).contains("no duress")
    );
    assert!(env.ok(&["show", &id]).contains("Hearing postponed"));

    // With destruction on, the duress passphrase leaves only the decoy.
    env.ok(&[
        "duress",
        "set",
        "--destroy-real",
        "--duress-passphrase-file",
        duress_file.to_str().unwrap(),
    ]);
    let opened = with_duress(&["list"]);
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert!(String::from_utf8_lossy(&opened.stdout).contains("Office supplies"));
    let refused = env.run(&["list"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(!env.vault.join("alt").exists());
}

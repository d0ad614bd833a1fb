//! A process killed at any moment loses no entry it reported as saved, and leaves a vault that
//! opens and passes SQLite's and SQLCipher's integrity checks.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use vigil_crypto::Passphrase;
use vigil_model::IncidentId;
use vigil_store::{SystemClock, Vault};

use crate::common::*;

const KILLS: usize = 60;

/// A small deterministic generator, seeded from the clock and printed, so a failing run can be
/// repeated with VIGIL_CRASH_SEED.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_committed() {
    let env = Env::new();
    env.init();
    let id = env.new_incident("Crash test");
    let incident: IncidentId = id.parse().unwrap();
    let seed = std::env::var("VIGIL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed}");
    let mut rng = Rng(seed);
    let mut promised: HashSet<String> = HashSet::new();
    let mut kills_while_writing = 0;

    for round in 0..KILLS {
        let mut child = env
            .cmd()
            .args(["log", &id, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = thread::spawn(move || {
            let mut n = 0u64;
            // Write until the child dies (broken pipe).
            while writeln!(
                stdin,
                "round {round} entry {n} {}",
                "x".repeat((n % 200) as usize)
            )
            .is_ok()
            {
                n += 1;
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = thread::spawn(move || {
            let mut ids = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) if !l.trim().is_empty() => {
                        if ids.is_empty() {
                            let _ = first_tx.send(());
                        }
                        ids.push(l.trim().to_owned());
                    }
                    _ => break,
                }
            }
            ids
        });
        if round % 2 == 0 {
            // Anywhere from before the vault is open (unlocking takes ~0.1-0.3 s) to well into
            // the stream of commits.
            thread::sleep(Duration::from_millis(20 + rng.next() % 600));
        } else {
            // Once commits are flowing, at a random moment among them, however slow the
            // machine is today.
            let _ = first_rx.recv_timeout(Duration::from_secs(30));
            thread::sleep(Duration::from_millis(rng.next() % 150));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let ids = reader.join().unwrap();
        writer.join().unwrap();
        if !ids.is_empty() {
            kills_while_writing += 1;
        }
        promised.extend(ids);

        // After every kill: the vault opens, passes both integrity checks, and holds every
        // entry whose id was printed, in an unbroken sequence.
        let pass = Passphrase::new(PASSPHRASE.to_owned());
        let vault = Vault::open(&env.vault, &pass, Arc::new(SystemClock))
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): vault does not open: {e}"));
        vault.integrity_check().unwrap();
        let entries = vault.log_entries(incident).unwrap();
        let present: HashSet<String> = entries.iter().map(|e| e.id.to_string()).collect();
        let missing: Vec<_> = promised.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round} (seed {seed}): lost {missing:?}"
        );
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1, "sequence numbers have no gaps");
        }
        vault.close().unwrap();
    }
    eprintln!(
        "{} entries promised over {KILLS} kills; {kills_while_writing} kills landed while entries were being written",
        promised.len()
    );
    assert!(
        kills_while_writing >= KILLS / 2,
        "most kills must interrupt a stream of commits"
    );
    assert!(promised.len() >= 200);
}

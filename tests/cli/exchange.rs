//! `vigil export`, `import` and `verify` as separate processes, and the archivist's path: the
//! Debian `age` command and `tar` open a bundle, and `vigil verify` checks the extracted folder
//! without any vault.

use std::process::Command;

use crate::common::*;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn export_import_three_times_verify_and_open_with_age_and_tar() {
    let (hq, monitor, _) = organisation("Coalition HQ");
    let id = monitor.new_incident("Lawyers' meeting broken up");
    monitor.ok(&["log", &id, "10:30 nine men enter the office"]);
    let evidence = monitor.root.path().join("note.txt");
    std::fs::write(&evidence, "Names of the nine, as they gave them.\n").unwrap();
    monitor.ok(&["attach", &id, evidence.to_str().unwrap()]);
    let sealed = json(&monitor.ok(&["--json", "seal", &id]));
    let revision = sealed["id"].as_str().unwrap().to_owned();

    let usb = monitor.root.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let bundle = usb.join("b.vigil");
    let exported = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        bundle.to_str().unwrap(),
        "--unsent",
    ]));
    assert_eq!(
        (
            exported["revisions"].as_u64(),
            exported["attachments"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        std::fs::read_dir(&usb).unwrap().count(),
        1,
        "no temporary file left beside the bundle"
    );
    let nothing = monitor.run(&[
        "--json",
        "export",
        "--to",
        usb.join("again.vigil").to_str().unwrap(),
    ]);
    assert_eq!(json_error_code(&nothing), "nothing_to_export");

    // Import three times: the first applies, the next two change nothing.
    let first = json(&hq.ok(&["--json", "import", bundle.to_str().unwrap()]));
    assert_eq!(
        (first["applied"].as_u64(), first["attachments"].as_u64()),
        (Some(1), Some(1))
    );
    let after_first = snapshot(&hq.vault);
    for _ in 0..2 {
        let again = json(&hq.ok(&["--json", "import", bundle.to_str().unwrap()]));
        assert_eq!(
            (again["applied"].as_u64(), again["skipped"].as_u64()),
            (Some(0), Some(1))
        );
    }
    let shown = json(&hq.ok(&["--json", "show", &id]));
    assert_eq!(shown["incident"]["title"], "Lawyers' meeting broken up");
    assert_eq!(hq.ok(&["search", "nine"]).lines().count(), 1);
    assert_eq!(
        snapshot(&hq.vault),
        after_first,
        "importing it again did not change a byte"
    );

    // HQ's history of the record: sealed on the monitor's device, imported here.
    let history = hq.ok(&["history", &id]);
    assert!(
        history.contains(&format!("sealed revision {revision}")),
        "{history}"
    );
    assert!(history.contains("imported from bundle"), "{history}");
    assert!(
        history.contains("verified") && !history.contains("DOES NOT"),
        "{history}"
    );
    let h = json(&hq.ok(&["--json", "history", &id]));
    let events: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "sealed", "imported"]);
    assert_eq!(h["revisions"][0]["verified"], true);

    // What verify proves, for people.
    let text = hq.ok(&["verify", bundle.to_str().unwrap()]);
    assert!(text.contains(&revision), "{text}");
    assert!(text.contains("signature valid"), "{text}");
    let device_key = json(&hq.ok(&["--json", "verify", bundle.to_str().unwrap()]))["device_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let grouped: Vec<String> = device_key
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert!(
        text.contains(&grouped.join(" ")),
        "the key grouped to read aloud: {text}"
    );

    // The archivist: age -d with an HQ identity file, tar -x, then vigil verify on the folder.
    let identity = hq.root.path().join("hq.key");
    hq.ok(&["org", "identity", "--out", identity.to_str().unwrap()]);
    let tar = hq.root.path().join("b.tar");
    let age = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&tar)
        .arg(&bundle)
        .status()
        .expect("the age command is installed by scripts/setup");
    assert!(age.success());
    let out = hq.root.path().join("extracted");
    std::fs::create_dir(&out).unwrap();
    let listing = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.starts_with("vigil-bundle/manifest.json\n"),
        "{listing}"
    );
    assert!(listing.contains(&format!("vigil-bundle/revisions/{revision}.json")));
    assert!(
        Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    // No vault, no passphrase: the folder carries everything needed.
    let folder = hq
        .bare_cmd()
        .args(["verify", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(folder.status.success(), "{}", stderr(&folder));
    assert!(String::from_utf8_lossy(&folder.stdout).contains(&revision));
    // One changed byte in the extracted revision, and the folder no longer verifies.
    let rev_file = out.join(format!("vigil-bundle/revisions/{revision}.json"));
    let edited = std::fs::read_to_string(&rev_file)
        .unwrap()
        .replace("nine men", "nine mEn");
    std::fs::write(&rev_file, edited).unwrap();
    let bad = hq
        .bare_cmd()
        .args(["--json", "verify", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(json_error_code(&bad), "bundle.tampered");
}

/// Each kind of bad file gets its own message and exit code 1, and HQ's vault files are
/// byte-for-byte unchanged.
#[test]
fn bad_files_are_refused_by_import_with_their_own_message() {
    let (hq, monitor, profile) = organisation("HQ");
    let id = monitor.new_incident("Trial observed");
    monitor.ok(&["seal", &id]);
    let bundle = monitor.root.path().join("b.vigil");
    monitor.ok(&["export", "--to", bundle.to_str().unwrap()]);
    let good = std::fs::read(&bundle).unwrap();
    let other = Env::new();
    other.init();
    other.ok(&[
        "org",
        "create",
        "--name",
        "Another org",
        "--profile-out",
        other.root.path().join("o.json").to_str().unwrap(),
    ]);

    let bad = hq.root.path().join("bad.vigil");
    let mut flipped = good.clone();
    let at = good.len() - 40;
    flipped[at] ^= 1;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "a profile",
            std::fs::read(&profile).unwrap(),
            "bundle.not_a_bundle",
            "not a Vigil bundle",
        ),
        (
            "a flipped byte",
            flipped,
            "bundle.tampered",
            "damaged or modified",
        ),
        (
            "cut in the header",
            good[..60].to_vec(),
            "bundle.truncated",
            "incomplete",
        ),
    ];
    let before = snapshot(&hq.vault);
    for (name, bytes, code, words) in cases {
        std::fs::write(&bad, bytes).unwrap();
        let out = hq.run(&["import", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{name}: {}", stderr(&out));
        let out = hq.run(&["--json", "import", bad.to_str().unwrap()]);
        assert_eq!(json_error_code(&out), code, "{name}");
    }
    // Not addressed to this vault: another organisation's HQ.
    let out = other.run(&["--json", "import", bundle.to_str().unwrap()]);
    assert_eq!(json_error_code(&out), "bundle.not_for_us");
    assert_eq!(
        snapshot(&hq.vault),
        before,
        "HQ's vault files are unchanged"
    );
}

/// A correction and a note of something that happened earlier: both sealed, exported, imported
/// at HQ, and shown there exactly as at the monitor. A correction of nothing, or a time that is
/// not one, is refused and writes nothing.
#[test]
fn a_correction_and_a_late_note_arrive_at_hq_as_written() {
    let (hq, monitor, _) = organisation("Coalition HQ");
    let id = monitor.new_incident("Lawyers' meeting broken up");
    monitor.ok(&["log", &id, "10:30 eight men enter the office"]);
    let fix = json(&monitor.ok(&[
        "--json",
        "log",
        &id,
        "nine men, not eight",
        "--corrects",
        "1",
        "--happened-at",
        "2019-05-23T10:32:00+06:00",
    ]));
    assert_eq!(fix["happened_at"], "2019-05-23T10:32:00+06:00");

    for (args, says) in [
        (vec!["--corrects", "7"], "no entry at place 7"),
        (vec!["--corrects", "first"], "neither an entry's place"),
        (vec!["--happened-at", "25:99"], "is not a time"),
    ] {
        let mut all = vec!["log", id.as_str(), "never written"];
        all.extend(args);
        let out = monitor.run(&all);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    let later = monitor.run(&[
        "log",
        &id,
        "never written",
        "--happened-at",
        "2999-01-01T00:00:00+00:00",
    ]);
    assert!(!later.status.success());
    assert!(
        stderr(&later).contains("after the time it was written"),
        "{}",
        stderr(&later)
    );

    let at_monitor = json(&monitor.ok(&["--json", "show", &id]))["log"].clone();
    assert_eq!(
        at_monitor.as_array().unwrap().len(),
        2,
        "nothing refused was written"
    );
    let shown = monitor.ok(&["show", &id]);
    assert!(shown.contains("[corrected by 2]"), "{shown}");
    assert!(
        shown.contains("nine men, not eight  [corrects 1; happened 2019-05-23 10:32]"),
        "{shown}"
    );

    monitor.ok(&["seal", &id]);
    let bundle = monitor.root.path().join("b.vigil");
    monitor.ok(&["export", "--to", bundle.to_str().unwrap(), "--unsent"]);
    hq.ok(&["import", bundle.to_str().unwrap()]);
    let at_hq = json(&hq.ok(&["--json", "show", &id]))["log"].clone();
    assert_eq!(at_hq, at_monitor);
    assert_eq!(at_hq[1]["corrects"], at_monitor[0]["id"]);
    let shown_at_hq = hq.ok(&["show", &id]);
    let log_part = |s: &str| s[s.find("Running log:").unwrap()..].to_owned();
    assert_eq!(log_part(&shown_at_hq), log_part(&shown));
}

/// `--pad`: two bundles of different content land on one size (their bucket), where unpadded
/// they differ; HQ imports a padded bundle like any other. (The age header carries a random
/// "grease" stanza of up to about 200 bytes, the same noise on every bundle whatever it holds.)
#[test]
fn padded_bundles_of_different_content_have_one_size_and_import_as_usual() {
    let (hq, monitor, _) = organisation("Coalition HQ");
    let usb = monitor.root.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let mut padded = Vec::new();
    let mut plain = Vec::new();
    for (n, words) in [(1, 10), (2, 4000)] {
        let id = monitor.new_incident(&format!("Hearing {n}"));
        let mut log = monitor.cmd();
        log.args(["log", &id]).stdin(std::process::Stdio::piped());
        let mut child = log.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{}", "the court was closed ".repeat(words)).unwrap();
        }
        assert!(child.wait().unwrap().success());
        monitor.ok(&["seal", &id]);
        for (pad, sizes) in [(true, &mut padded), (false, &mut plain)] {
            let bundle = usb.join(format!("{n}-{pad}.vigil"));
            let mut args = vec!["export", "--to", bundle.to_str().unwrap()];
            args.extend(["--all"]);
            if pad {
                args.push("--pad");
            }
            monitor.ok(&args);
            sizes.push(std::fs::metadata(&bundle).unwrap().len());
        }
    }
    assert!(
        plain[1] > plain[0] + 50_000,
        "unpadded, the sizes differ: {plain:?}"
    );
    assert!(
        padded[0].abs_diff(padded[1]) < 300,
        "padded, one size but for age's grease: {padded:?}"
    );
    assert!(padded[0] >= vigil_bundle::MIN_BUCKET);

    let bundle = usb.join("2-true.vigil");
    let imported = json(&hq.ok(&["--json", "import", bundle.to_str().unwrap()]));
    assert_eq!(imported["applied"].as_u64(), Some(2));
    let again = json(&hq.ok(&["--json", "import", bundle.to_str().unwrap()]));
    assert_eq!(again["applied"].as_u64(), Some(0));
    assert!(
        hq.ok(&["verify", bundle.to_str().unwrap()])
            .contains("Hearing 2")
    );
}

//! USB sticks as they really are: FAT32 and exFAT file systems (images made with Debian's
//! `dosfstools` and `exfatprogs`, mounted through FUSE with `fusefat` and `exfat-fuse`, no
//! kernel file system modules), a read-only stick, and a stick pulled out while a bundle is
//! written. Mounting needs root, as CI runs; `scripts/setup --tests` installs the tools.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::stick_images::*;

/// A FAT32 stick is known for what it is (and exFAT for having no file limit). Records that do
/// not fit in one file of the limit go into further bundles beside the first, each under the
/// limit, each verified on its own; HQ imports them all. A record that cannot fit at all is
/// refused before a byte is written, with its own code, and stays unsent. A partial bundle a
/// killed export left is removed by the next export to that folder.
#[test]
fn records_spread_over_bundles_under_the_file_limit_of_a_fat32_stick() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a FUSE file system image needs root here");
        return;
    }
    let (hq, monitor, _) = organisation("Coalition HQ");
    let root = monitor.root.path();
    let fat = Stick::fat32(root, 64);
    let drive = vigil_exchange::stick::drive_of(&fat.dir.join("b.vigil"));
    assert_eq!(drive.fs_type.as_deref(), Some("fuse.fusefat"), "{drive:?}");
    assert_eq!(
        drive.max_file,
        Some(1 << 31),
        "FAT32 allows 4 GiB less one byte; fusefat writes 2 GiB"
    );
    assert!(!drive.read_only);
    let exfat = Stick::exfat(root, 64);
    let drive = vigil_exchange::stick::drive_of(&exfat.dir.join("b.vigil"));
    assert_eq!(drive.fs_type.as_deref(), Some("fuseblk"), "{drive:?}");
    assert_eq!(drive.max_file, None, "exFAT has no limit a bundle meets");

    let ids: Vec<String> = (0..3)
        .map(|i| record_with(&monitor, &format!("Hearing {i}"), 1_500_000))
        .collect();
    // What a killed export left behind (no process has this id).
    let stale = fat.dir.join(".b.vigil.4294967.tmp");
    std::fs::write(&stale, vec![1u8; 100_000]).unwrap();

    let limit: u64 = 2_500_000;
    let to = fat.dir.join("b.vigil");
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        to.to_str().unwrap(),
        "--max-file-size",
        "2500KB",
    ]));
    let bundles = report["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 3, "one record per bundle: {report}");
    assert_eq!(report["revisions"], 3);
    assert_eq!(report["left"], 0);
    assert_eq!(
        fat.files(),
        ["b-2.vigil", "b-3.vigil", "b.vigil"],
        "the stale file is gone"
    );
    for b in bundles {
        let path = PathBuf::from(b["path"].as_str().unwrap());
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= limit, "{} is {size} bytes", path.display());
        assert_eq!(b["bytes"].as_u64(), Some(size));
        // Each one checks on its own.
        assert!(
            monitor
                .ok(&["verify", path.to_str().unwrap()])
                .contains("Hearing")
        );
    }
    for name in ["b.vigil", "b-2.vigil", "b-3.vigil"] {
        hq.ok(&["import", fat.dir.join(name).to_str().unwrap()]);
    }
    for id in &ids {
        let shown = json(&hq.ok(&["--json", "show", id]));
        assert_eq!(shown["attachments"].as_array().unwrap().len(), 1, "{shown}");
    }

    // A record larger than one file may be goes out once more on the exFAT stick, in one
    // bundle.
    let big = record_with(&monitor, "Recording", 3_000_000);
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        exfat.dir.join("c.vigil").to_str().unwrap(),
    ]));
    assert_eq!(report["bundles"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["revisions"], 1);
    assert_eq!(report["parts"], 0);
    hq.ok(&["import", exfat.dir.join("c.vigil").to_str().unwrap()]);
    let shown = json(&hq.ok(&["--json", "show", &big]));
    assert_eq!(shown["attachments"].as_array().unwrap().len(), 1, "{shown}");
}

/// A record larger than one bundle file goes in parts: its attachment is cut, each part
/// checked against hashes signed in the first bundle. HQ imports the bundles in reverse order:
/// until the last arrives the record shows which parts are missing, then the attachment is
/// joined and matches its SHA-256. Importing every bundle again changes nothing.
#[test]
fn a_record_larger_than_one_file_goes_in_parts_imported_in_any_order() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a FUSE file system image needs root here");
        return;
    }
    let (hq, monitor, _) = organisation("Coalition HQ");
    let fat = Stick::fat32(monitor.root.path(), 64);
    let id = record_with(&monitor, "Recording", 5_000_000);
    let original = sha256_file(&monitor.root.path().join("Recording.bin"));
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        fat.dir.join("b.vigil").to_str().unwrap(),
        "--max-file-size",
        "2MB",
    ]));
    let bundles = report["bundles"].as_array().unwrap();
    assert!(bundles.len() >= 3, "{report}");
    assert_eq!(report["revisions"], 1);
    assert_eq!(report["left"], 0);
    let paths: Vec<PathBuf> = bundles
        .iter()
        .map(|b| PathBuf::from(b["path"].as_str().unwrap()))
        .collect();
    for p in &paths {
        let size = std::fs::metadata(p).unwrap().len();
        assert!(size <= 2_000_000, "{} is {size} bytes", p.display());
    }
    // Each bundle says which parts it carries.
    let said = monitor.ok(&["verify", paths.last().unwrap().to_str().unwrap()]);
    assert!(
        said.contains("parts, by a part list the device signed"),
        "{said}"
    );
    // Nothing is unsent any more.
    let none = monitor.run(&[
        "--json",
        "export",
        "--to",
        fat.dir.join("x.vigil").to_str().unwrap(),
    ]);
    assert_eq!(
        json_error_code(&none),
        "nothing_to_export",
        "{}",
        stderr(&none)
    );

    // Reverse order: the parts wait, unnamed, until the revision and its list arrive.
    for (n, p) in paths.iter().enumerate().rev() {
        let out = json(&hq.ok(&["--json", "import", p.to_str().unwrap()]));
        if n > 0 {
            assert_eq!(out["applied"], 0, "{out}");
            assert!(out["parts"].as_u64().unwrap() >= 1, "{out}");
        }
        if n == 1 {
            // One bundle short: HQ has the other parts, not yet the record.
            let missing = hq.run(&["--json", "show", &id]);
            assert!(!missing.status.success());
        }
    }
    let shown = json(&hq.ok(&["--json", "show", &id]));
    let att = &shown["attachments"][0];
    assert!(att.get("parts").is_none(), "complete: {shown}");
    let out = hq.root.path().join("recording.out");
    hq.ok(&[
        "extract",
        att["id"].as_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        sha256_file(&out),
        original,
        "the joined attachment is the original"
    );

    // Every bundle again: nothing changes.
    let before = tables(&hq);
    for p in &paths {
        hq.ok(&["import", p.to_str().unwrap()]);
    }
    assert_eq!(tables(&hq), before);
}

/// HQ holding the first bundle and only some parts shows what is missing; the rest completes
/// the record.
#[test]
fn missing_parts_are_shown_until_the_rest_arrive() {
    let (hq, monitor, _) = organisation("Coalition HQ");
    let id = record_with(&monitor, "Recording", 3_000_000);
    let usb = monitor.root.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        usb.join("b.vigil").to_str().unwrap(),
        "--max-file-size",
        "1MB",
    ]));
    let paths: Vec<String> = report["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(paths.len() >= 4, "{report}");
    hq.ok(&["import", &paths[0]]);
    hq.ok(&["import", &paths[2]]);
    // A part imported twice changes nothing.
    let before = tables(&hq);
    hq.ok(&["import", &paths[2]]);
    assert_eq!(tables(&hq), before);
    let shown = json(&hq.ok(&["--json", "show", &id]));
    let parts = &shown["attachments"][0]["parts"];
    let of = parts["of"].as_u64().unwrap();
    assert!(of >= 3, "{shown}");
    let missing: Vec<u64> = parts["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect();
    assert!(!missing.is_empty(), "{shown}");
    assert_eq!(
        missing.len() as u64 + parts["have"].as_u64().unwrap(),
        of,
        "{shown}"
    );
    let text = hq.ok(&["show", &id]);
    assert!(text.contains("incomplete"), "{text}");
    let att = shown["attachments"][0]["id"].as_str().unwrap().to_owned();
    let early = hq.run(&[
        "--json",
        "extract",
        &att,
        hq.root.path().join("early").to_str().unwrap(),
    ]);
    assert_eq!(json_error_code(&early), "attachment_incomplete");
    for p in &paths {
        hq.ok(&["import", p]);
    }
    let shown = json(&hq.ok(&["--json", "show", &id]));
    assert!(shown["attachments"][0].get("parts").is_none(), "{shown}");
}

/// A stick that fills up part-way through an export of several bundles (fusefat does not say
/// how much space it has, so nothing can refuse it beforehand): the export ends with no_space,
/// the bundles it had written are removed, and nothing is recorded as exported.
#[test]
fn a_stick_that_fills_up_part_way_keeps_nothing_and_records_nothing() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a FUSE file system image needs root here");
        return;
    }
    let (_hq, monitor, _) = organisation("Coalition HQ");
    for i in 0..3 {
        record_with(&monitor, &format!("Hearing {i}"), 3_000_000);
    }
    let fat = Stick::fat32(monitor.root.path(), 64);
    // Most of the stick taken by other files: room for one bundle, not three.
    std::fs::write(fat.dir.join("photos.zip"), vec![5u8; 58 << 20]).unwrap();
    let before = fat.files();
    let refused = monitor.run(&[
        "--json",
        "export",
        "--to",
        fat.dir.join("b.vigil").to_str().unwrap(),
        "--max-file-size",
        "4MB",
    ]);
    refused_with(&refused, "no_space", "another stick");
    assert!(stderr(&refused).contains("removed"), "{}", stderr(&refused));
    assert_eq!(fat.files(), before, "no bundle is left, under any name");
    still_unsent(&monitor, 3);
}

/// A read-only stick is refused at once with its own code and message; nothing is recorded as
/// exported.
#[test]
fn a_read_only_stick_is_refused_with_its_own_message() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a read-only file system needs root here");
        return;
    }
    let (_hq, monitor, _) = organisation("Coalition HQ");
    record_with(&monitor, "Hearing", 10_000);
    let stick = monitor.root.path().join("locked");
    let _mounted = Tmpfs::mount(&stick, "ro,size=8m");
    let refused = monitor.run(&[
        "--json",
        "export",
        "--to",
        stick.join("b.vigil").to_str().unwrap(),
    ]);
    refused_with(&refused, "read_only", "read-only");
    still_unsent(&monitor, 1);
}

/// A stick with too little free space (a 1 MiB tmpfs here) is refused before anything is
/// written, with its own code and the sizes; the records stay unsent.
#[test]
fn a_stick_too_small_is_refused_before_anything_is_written() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs needs root here");
        return;
    }
    let (_hq, monitor, _) = organisation("Coalition HQ");
    record_with(&monitor, "Hearing with a recording", 3 << 20);
    let stick = monitor.root.path().join("stick");
    let _mounted = Tmpfs::mount(&stick, "size=1m");
    let refused = monitor.run(&[
        "--json",
        "export",
        "--to",
        stick.join("b.vigil").to_str().unwrap(),
    ]);
    refused_with(&refused, "no_space", "another stick");
    assert_eq!(
        std::fs::read_dir(&stick).unwrap().count(),
        0,
        "nothing was written to the stick"
    );
    still_unsent(&monitor, 1);
}

/// A stick pulled out while the bundle is written (its FUSE driver killed mid-write): the
/// export ends with its own code and message, nothing is recorded as exported, and the next
/// export still carries the record.
#[test]
fn a_stick_pulled_out_mid_write_loses_nothing() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a FUSE file system image needs root here");
        return;
    }
    let (hq, monitor, _) = organisation("Coalition HQ");
    let id = record_with(&monitor, "Meeting recording", 160 << 20);
    let mut fat = Stick::fat32(monitor.root.path(), 512);
    let export = monitor
        .cmd()
        .args(["--json", "export", "--to"])
        .arg(fat.dir.join("b.vigil"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Pulled out once a few megabytes are on the stick, long before the end.
    let start = Instant::now();
    let tmp_name = format!(".b.vigil.{}.tmp", export.id());
    loop {
        let written = std::fs::metadata(fat.dir.join(&tmp_name)).map_or(0, |m| m.len());
        if written > 4 << 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the export never began writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    fat.pull_out();
    let out = export.wait_with_output().unwrap();
    refused_with(&out, "drive_lost", "pulled out");
    drop(fat);
    let again = still_unsent(&monitor, 1);
    hq.ok(&["import", again.to_str().unwrap()]);
    let shown = json(&hq.ok(&["--json", "show", &id]));
    assert_eq!(shown["attachments"][0]["size"], 160 << 20, "{shown}");
}

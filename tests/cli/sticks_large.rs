//! The acceptance on real file systems, at the real size: a record with a 4.3 GiB recording,
//! exported to a FAT32 stick (fusefat), goes as several bundles each under FAT32's 4 GiB
//! limit (and the 2 GiB fusefat itself writes), with nothing asked of the monitor (the stick's
//! file system and driver are read from the mount table); HQ imports them in reverse order and the recording's SHA-256 matches. The same
//! export to an exFAT stick (exfat-fuse) writes one bundle.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use crate::common::*;
use crate::stick_images::*;

/// 4.3 GiB.
const SIZE: u64 = 4_617_089_843;

#[test]
fn a_4_3_gib_recording_goes_to_fat32_in_parts_and_to_exfat_whole() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a FUSE file system image needs root here");
        return;
    }
    let (hq, monitor, _) = organisation("Coalition HQ");
    let root = monitor.root.path().to_path_buf();
    let id = monitor.new_incident("Meeting recording");
    // Pseudo-random content, hashed as it is written; removed once attached.
    let src = root.join("meeting.mp4");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    {
        let mut w = BufWriter::new(File::create(&src).unwrap());
        let mut block = vec![0u8; 1 << 20];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        let mut left = SIZE;
        let mut i = 0u64;
        while left > 0 {
            block[..8].copy_from_slice(&i.to_le_bytes());
            let n = left.min(block.len() as u64) as usize;
            ctx.update(&block[..n]);
            w.write_all(&block[..n]).unwrap();
            left -= n as u64;
            i += 1;
        }
        w.flush().unwrap();
    }
    let want = hex::encode(ctx.finish());
    monitor.ok(&["attach", &id, src.to_str().unwrap()]);
    std::fs::remove_file(&src).unwrap();
    monitor.ok(&["seal", &id]);

    // exFAT: one bundle. (First, and its image removed after: the test keeps at most three
    // copies of the recording on disk at once.)
    let exfat = Stick::exfat(&root, 5 << 10);
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--to",
        exfat.dir.join("meeting.vigil").to_str().unwrap(),
    ]));
    assert_eq!(report["bundles"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["parts"], 0, "{report}");
    assert!(report["bytes"].as_u64().unwrap() > SIZE, "{report}");
    drop(exfat);
    std::fs::remove_file(root.join("exfat.img")).unwrap();

    // FAT32: parts, each bundle under its limit, found from the mount table alone.
    let fat = Stick::fat32(&root, 5 << 10);
    let report = json(&monitor.ok(&[
        "--json",
        "export",
        "--all",
        "--to",
        fat.dir.join("meeting.vigil").to_str().unwrap(),
    ]));
    let bundles: Vec<PathBuf> = report["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| PathBuf::from(b["path"].as_str().unwrap()))
        .collect();
    assert!(bundles.len() >= 2, "{report}");
    assert!(report["parts"].as_u64().unwrap() >= 2, "{report}");
    for b in &bundles {
        let size = std::fs::metadata(b).unwrap().len();
        // Under FAT32's 4 GiB, and under the 2 GiB that fusefat itself writes.
        assert!(size <= 1 << 31, "{} is {size} bytes", b.display());
    }
    // The monitor's copy is no longer needed.
    std::fs::remove_dir_all(root.join("vault")).unwrap();
    for b in bundles.iter().rev() {
        hq.ok(&["import", b.to_str().unwrap()]);
    }
    drop(fat);
    std::fs::remove_file(root.join("fat32.img")).unwrap();

    // The record is complete at HQ, and its recording is the one attached.
    let shown = json(&hq.ok(&["--json", "show", &id]));
    let att = &shown["attachments"][0];
    assert!(att.get("parts").is_none(), "complete: {shown}");
    assert_eq!(att["sha256"].as_str(), Some(want.as_str()));
    let vault = open_vault(&hq);
    let mut reader = vault
        .attachment_reader(att["id"].as_str().unwrap().parse().unwrap())
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    assert_eq!(read, SIZE);
    assert_eq!(
        reader.verified_sha256().map(hex::encode),
        Some(want.clone()),
        "the joined recording's SHA-256"
    );
    drop(reader);
    vault.close().unwrap();
}

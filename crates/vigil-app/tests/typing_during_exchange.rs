//! Typing during an exchange: running-log entries appended from one thread while a 1 GiB export,
//! then a 1 GiB import, runs on another, through the same `Session` the window uses. Every
//! entry is stamped with the time its call arrived (within 50 ms), not the time the vault was
//! free, and every entry is there afterwards, in order.
//!
//! No timing is asserted beyond the stamp itself: how fast an entry becomes durable during an
//! export is measured by `scripts/bench-desktop` (docs/benchmarks-desktop.md).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use vigil_app::Session;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{KdfChoice, SystemClock};

const GIB: u64 = 1 << 30;
const PASSPHRASE: &str = "correct horse battery staple";

fn session(dir: &Path) -> Session {
    let s = Session::new(
        dir.to_path_buf(),
        Arc::new(SystemClock),
        KdfChoice::Params(KdfParams::FLOOR),
        None,
    );
    s.create_vault(PASSPHRASE.into()).unwrap();
    s
}

/// `len` bytes that neither compress nor repeat by chunk (xorshift64*), written in 1 MiB pieces.
fn incompressible_file(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            word.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.into_inner().unwrap().sync_all().unwrap();
}

/// Appends entries to `incident` on `s` until `busy` is cleared (and at least `min` of them),
/// returning for each the instant its call was made and the time the vault recorded.
fn type_while(
    s: &Session,
    incident: &str,
    busy: &AtomicBool,
    min: usize,
    label: &str,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while busy.load(Ordering::SeqCst) || i < min {
        let text = format!("{label} entry {i}: the men are still in the room");
        let called = Utc::now();
        let entry = s.append_log(incident, &text, i.is_multiple_of(7)).unwrap();
        out.push((called, entry.at.with_timezone(&Utc), text));
        i += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    out
}

fn assert_stamped_on_arrival(entries: &[(DateTime<Utc>, DateTime<Utc>, String)], what: &str) {
    for (called, recorded, text) in entries {
        let off = (*recorded - *called).num_milliseconds().abs();
        assert!(
            off <= 50,
            "{what}: {text:?} called at {called}, recorded at {recorded} ({off} ms apart)"
        );
    }
}

#[test]
fn entries_typed_during_a_1_gib_export_and_import_keep_the_time_they_were_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let usb = tmp.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let hq = session(&tmp.path().join("hq"));
    let monitor = session(&tmp.path().join("monitor"));
    let profile = hq.create_org("HQ", 1, &usb).unwrap().profile_path.unwrap();
    let invitation = hq
        .invite_device("Aigul's laptop", 14, &usb)
        .unwrap()
        .invitation_path
        .unwrap();
    monitor
        .join_org(Path::new(&profile), Some(Path::new(&invitation)))
        .unwrap();

    // A sealed record with a 1 GiB video, and a live log in another record.
    let video = tmp.path().join("meeting.mp4");
    incompressible_file(&video, GIB);
    let record = monitor.new_incident("Lawyers' meeting broken up").unwrap();
    let record_id = record.id.to_string();
    monitor
        .add_attachment(&record_id, &video, &mut |_| {})
        .unwrap();
    std::fs::remove_file(&video).unwrap();
    monitor.seal(&record_id).unwrap();
    let live = monitor
        .new_incident("Trial of Ms Osmonova")
        .unwrap()
        .id
        .to_string();

    // Export on one thread, typing on another, into the same session.
    let busy = AtomicBool::new(true);
    let (summary, typed) = std::thread::scope(|scope| {
        let exporter = scope.spawn(|| {
            let r = monitor.export_unsent(&usb, &mut |_, _, _| {});
            busy.store(false, Ordering::SeqCst);
            r
        });
        let typed = type_while(&monitor, &live, &busy, 20, "export");
        (exporter.join().unwrap().unwrap(), typed)
    });
    assert_eq!((summary.revisions, summary.attachments), (1, 1));
    assert!(std::fs::metadata(&summary.path).unwrap().len() > GIB);
    assert_stamped_on_arrival(&typed, "during the export");
    let view = monitor.incident(&live).unwrap();
    let texts: Vec<&str> = view.log.iter().map(|e| e.text.as_str()).collect();
    let expected: Vec<&str> = typed.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(
        texts, expected,
        "every entry typed during the export, in order"
    );
    drop(monitor);

    // HQ imports the 1 GiB bundle while someone at HQ keeps a live log in the same session.
    let hq_live = hq.new_incident("Hotline calls").unwrap().id.to_string();
    busy.store(true, Ordering::SeqCst);
    let (imported, typed) = std::thread::scope(|scope| {
        let importer = scope.spawn(|| {
            let r = hq.import_bundle(Path::new(&summary.path), &mut |_, _| {});
            busy.store(false, Ordering::SeqCst);
            r
        });
        let typed = type_while(&hq, &hq_live, &busy, 20, "import");
        (importer.join().unwrap().unwrap(), typed)
    });
    assert_eq!((imported.applied, imported.attachments), (1, 1));
    assert!(imported.quarantined.is_none());
    assert_stamped_on_arrival(&typed, "during the import");
    let view = hq.incident(&hq_live).unwrap();
    let texts: Vec<&str> = view.log.iter().map(|e| e.text.as_str()).collect();
    let expected: Vec<&str> = typed.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(
        texts, expected,
        "every entry typed during the import, in order"
    );
    let record = hq.incident(&record_id).unwrap();
    assert_eq!(record.attachments.len(), 1);
    assert_eq!(record.attachments[0].size, GIB);
}

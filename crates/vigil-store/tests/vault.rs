//! The vault on its own: round trips, append-only log, locking, versioning, attachments.

#![allow(clippy::unwrap_used)]

mod common;

use common::{new_vault, pass, reopen, t0};
use std::sync::Arc;

use chrono::{Duration, FixedOffset};
use proptest::prelude::*;
use vigil_crypto::kdf::KdfParams;
use vigil_model::{Incident, IncidentId, PartyKind, Precision, TermCode, TimePoint};
use vigil_store::{FixedClock, KdfChoice, ListQuery, NewEntry, StoreError, SystemClock, Vault};

fn sample(title: &str) -> Incident {
    let mut i = Incident::new(IncidentId::new(), title, t0());
    i.summary = "Nine men broke into the meeting".into();
    i.violations = vec![TermCode::new("obstruction_of_lawyers")];
    i.parties
        .push(vigil_fixtures::incidents::nine_unknown_individuals());
    i.start = TimePoint {
        precision: Precision::Approximate,
        at: Some(t0()),
    };
    i
}

#[test]
fn incidents_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let inc = sample("Meeting interrupted");
    v.create_incident(&inc).unwrap();
    v.close().unwrap();
    let v = reopen(&path);
    let back = v.incident(inc.id).unwrap();
    assert_eq!(back.to_json(), inc.to_json());
    assert_eq!(v.count_incidents().unwrap(), 1);
    assert_eq!(v.search("nine", 10).unwrap()[0].id, inc.id);
    assert_eq!(v.search("unknown indiv", 10).unwrap()[0].matched, "party");
}

#[test]
fn running_log_is_ordered_even_when_the_clock_jumps_back_and_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let clock = Arc::new(FixedClock::new(t0()));
    let mut v = Vault::create(
        &path,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        clock.clone(),
    )
    .unwrap();
    let inc = sample("Log");
    v.create_incident(&inc).unwrap();
    v.append_log(inc.id, "first", false).unwrap();
    clock.advance(Duration::minutes(-30)); // the laptop's clock is corrected backwards
    v.append_log(inc.id, "second", true).unwrap();
    let log = v.log_entries(inc.id).unwrap();
    assert_eq!(
        log.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(log[1].at < log[0].at);
    assert!(matches!(
        v.append_log(inc.id, "   ", false),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        v.append_log(IncidentId::new(), "x", false),
        Err(StoreError::NotFound { .. })
    ));
    v.close().unwrap();
    // The database itself refuses to rewrite or delete an entry.
    let v = reopen(&path);
    v.close().unwrap();
    let conn = raw_connection(&path);
    assert!(
        conn.execute("UPDATE log_entries SET text = 'changed'", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM log_entries", []).is_err());
}

/// A raw keyed SQLCipher connection to the vault's database, for checks below the API.
/// The running log's input draft: kept per incident across a reopen, replaced by newer text,
/// removed by blank text, cleared in the same write as the entry it became, refused when too
/// long or for an unknown incident, and left alone by a seal.
#[test]
fn the_input_draft_is_kept_until_it_is_entered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let inc = sample("Meeting interrupted");
    let other = sample("Trial of the lawyers");
    v.create_incident(&inc).unwrap();
    v.create_incident(&other).unwrap();
    assert_eq!(v.log_draft(inc.id).unwrap(), None);
    v.save_log_draft(inc.id, "nine men").unwrap();
    v.save_log_draft(inc.id, "nine men enter").unwrap();
    v.save_log_draft(other.id, "judge arrives").unwrap();
    v.close().unwrap();

    let mut v = reopen(&path);
    assert_eq!(
        v.log_draft(inc.id).unwrap().as_deref(),
        Some("nine men enter")
    );
    let entry = v
        .append_entry(
            inc.id,
            &NewEntry::note("nine men enter", true),
            t0(),
            Some(""),
        )
        .unwrap();
    assert_eq!(entry.text, "nine men enter");
    assert_eq!(
        v.log_draft(inc.id).unwrap(),
        None,
        "cleared by the entry's write"
    );
    assert_eq!(
        v.log_draft(other.id).unwrap().as_deref(),
        Some("judge arrives")
    );
    v.append_entry(
        other.id,
        &NewEntry::note("judge arrives", false),
        t0(),
        Some("she"),
    )
    .unwrap();
    assert_eq!(v.log_draft(other.id).unwrap().as_deref(), Some("she"));
    v.save_log_draft(other.id, "  \n").unwrap();
    assert_eq!(
        v.log_draft(other.id).unwrap(),
        None,
        "blank text removes it"
    );

    let too_long = "x".repeat(vigil_model::MAX_ENTRY_CHARS + 1);
    let err = v.save_log_draft(inc.id, &too_long).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = v.save_log_draft(IncidentId::new(), "text").unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    // A failed entry leaves the draft as it was.
    v.save_log_draft(inc.id, "kept").unwrap();
    assert!(
        v.append_entry(inc.id, &NewEntry::note(" ", false), t0(), Some(""))
            .is_err()
    );
    assert_eq!(v.log_draft(inc.id).unwrap().as_deref(), Some("kept"));

    // Sealing leaves the draft in the input: it is not part of the record.
    v.seal(inc.id).unwrap();
    assert_eq!(v.log_draft(inc.id).unwrap().as_deref(), Some("kept"));
}

#[test]
fn a_correction_points_at_an_entry_of_its_incident_and_both_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let inc = sample("Meeting interrupted");
    let other = sample("Trial of the lawyers");
    v.create_incident(&inc).unwrap();
    v.create_incident(&other).unwrap();
    let wrong = v.append_log(inc.id, "eight men enter", false).unwrap();
    let elsewhere = v.append_log(other.id, "judge arrives", false).unwrap();
    let typed = t0() + Duration::minutes(20);
    let fixed = v
        .append_entry(
            inc.id,
            &NewEntry {
                text: "nine men enter, not eight",
                flagged: false,
                corrects: Some(wrong.id),
                happened_at: Some(t0() + Duration::minutes(2)),
            },
            typed,
            None,
        )
        .unwrap();
    v.close().unwrap();

    let mut v = reopen(&path);
    let log = v.log_entries(inc.id).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], wrong, "the corrected entry stays as it was written");
    assert_eq!(log[1], fixed);
    assert_eq!(log[1].corrects, Some(wrong.id));
    assert_eq!(log[1].happened_at, Some(t0() + Duration::minutes(2)));
    assert_eq!(log[1].at, typed);

    // Refused, and nothing written: an entry of another incident, one that does not exist, and
    // a time after the writing.
    for (corrects, happened_at, code) in [
        (Some(elsewhere.id), None, "unknown_entry"),
        (Some(vigil_model::EntryId::new()), None, "unknown_entry"),
        (
            None,
            Some(typed + Duration::seconds(1)),
            "happened_after_written",
        ),
    ] {
        let err = v
            .append_entry(
                inc.id,
                &NewEntry {
                    text: "later",
                    flagged: false,
                    corrects,
                    happened_at,
                },
                typed,
                None,
            )
            .unwrap_err();
        match err {
            StoreError::Invalid(e) => assert_eq!(e.0[0].problem.code(), code),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(v.log_entries(inc.id).unwrap().len(), 2);

    // Both are sealed, and the revision carries them as written.
    let rev = v.seal(inc.id).unwrap();
    let doc = rev.document().unwrap();
    assert_eq!(doc.version, 3);
    assert_eq!(doc.log, log);
}

fn raw_connection(path: &std::path::Path) -> rusqlite::Connection {
    let key = Vault::unwrap_key(path, &pass()).unwrap();
    let conn = rusqlite::Connection::open(path.join("vault.db")).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\";",
        key.expose_hex().as_str()
    ))
    .unwrap();
    conn
}

#[test]
fn a_second_process_cannot_open_an_open_vault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let v = new_vault(&path);
    assert!(matches!(
        Vault::open(&path, &pass(), Arc::new(SystemClock)),
        Err(StoreError::Locked)
    ));
    v.close().unwrap();
    reopen(&path).close().unwrap();
}

#[test]
fn a_vault_from_a_newer_version_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    new_vault(&path).close().unwrap();
    let conn = raw_connection(&path);
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Vault::open(&path, &pass(), Arc::new(SystemClock)),
        Err(StoreError::NewerVersion { found: 99, .. })
    ));
}

#[test]
fn a_weakened_key_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    new_vault(&path).close().unwrap();
    let header = std::fs::read_to_string(path.join("vault.key")).unwrap();
    let weak = header.replace("\"m_kib\": 65536", "\"m_kib\": 8");
    assert_ne!(weak, header);
    std::fs::write(path.join("vault.key"), weak).unwrap();
    let err = Vault::open(&path, &pass(), Arc::new(SystemClock)).unwrap_err();
    assert!(matches!(err, StoreError::KdfRefused(_)), "{err}");
    assert!(err.is_damage());
}

#[test]
fn sealed_incidents_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let mut inc = sample("Sealed");
    inc.status = vigil_model::IncidentStatus::Sealed;
    v.create_incident(&inc).unwrap();
    inc.title = "changed".into();
    assert!(matches!(
        v.update_incident(&inc),
        Err(StoreError::Sealed(_))
    ));
    assert_eq!(v.incident(inc.id).unwrap().title, "Sealed");
}

#[test]
fn updates_are_validated_and_reindexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let mut inc = sample("Before");
    v.create_incident(&inc).unwrap();
    inc.title = "After the protest".into();
    v.update_incident(&inc).unwrap();
    assert_eq!(v.search("protest", 10).unwrap().len(), 1);
    assert!(v.search("before", 10).unwrap().is_empty());
    inc.title = "  ".into();
    let err = v.update_incident(&inc).unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(e) if e.contains("title", "required")),
        "{err}"
    );
    let listed = v.list_incidents(&ListQuery::default()).unwrap();
    assert_eq!(listed[0].title, "After the protest");
}

#[test]
fn duplicate_incident_ids_are_refused_and_bulk_insert_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let a = sample("A");
    let b = sample("B");
    v.create_incident(&a).unwrap();
    assert!(v.create_incidents(&[b.clone(), a.clone()]).is_err());
    assert_eq!(v.count_incidents().unwrap(), 1, "b was not kept");
}

#[test]
fn orphaned_chunks_from_a_crash_are_swept_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let inc = sample("Attachments");
    v.create_incident(&inc).unwrap();
    let meta = v
        .add_attachment(
            inc.id,
            "a.bin",
            "application/octet-stream",
            &[1u8; 1000][..],
            None,
        )
        .unwrap();
    v.close().unwrap();
    let orphan_dir = path.join("blobs").join("ab");
    std::fs::create_dir_all(&orphan_dir).unwrap();
    std::fs::write(
        orphan_dir.join("ab0000000000000000000000000000ff"),
        [0u8; 10],
    )
    .unwrap();
    let v = reopen(&path);
    assert!(!orphan_dir.join("ab0000000000000000000000000000ff").exists());
    let mut out = Vec::new();
    v.read_attachment(meta.id, &mut out).unwrap();
    assert_eq!(out, vec![1u8; 1000]);
}

/// A file with a name Vigil never gives a chunk (not ASCII, too short, not hex) in the chunk
/// folder is left alone, and the vault opens.
#[test]
fn a_foreign_file_in_the_chunk_folder_is_left_alone_and_the_vault_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    new_vault(&path).close().unwrap();
    let fanout = path.join("blobs").join("zz");
    std::fs::create_dir_all(&fanout).unwrap();
    for name in ["ёлка", "aё", "é", "x", "notes.txt"] {
        std::fs::write(fanout.join(name), b"not a chunk").unwrap();
        std::fs::write(path.join("blobs").join(name), b"not a chunk").unwrap();
    }
    let v = reopen(&path);
    v.close().unwrap();
    for name in ["ёлка", "aё", "é", "x", "notes.txt"] {
        assert!(fanout.join(name).exists(), "{name} is left alone");
    }
}

/// Every chunk file has the same modification time, whenever its attachment was added.
#[cfg(unix)]
#[test]
fn chunk_files_do_not_group_attachments_by_name_size_or_time() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let inc = sample("Times");
    // Three attachments of different sizes, added at different times (each in its own
    // session, as a monitor adds them on different days); the chunks each one wrote, in order.
    let mut written: Vec<Vec<std::path::PathBuf>> = Vec::new();
    let mut before = std::collections::BTreeSet::new();
    for (n, size) in [(1u8, 900_000usize), (2, 2_000_000), (3, 3_000_000)] {
        let mut v = if n == 1 {
            let mut v = new_vault(&path);
            v.create_incident(&inc).unwrap();
            v
        } else {
            reopen(&path)
        };
        v.add_attachment(
            inc.id,
            "a.bin",
            "application/octet-stream",
            &vec![n; size][..],
            None,
        )
        .unwrap();
        v.close().unwrap();
        let now: std::collections::BTreeSet<_> = chunk_files(&path).into_iter().collect();
        written.push(now.difference(&before).cloned().collect());
        before = now;
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let all = chunk_files(&path);
    assert_eq!(
        written.iter().map(Vec::len).collect::<Vec<_>>(),
        [4, 8, 12],
        "the chunks each attachment wrote"
    );
    let meta: Vec<_> = all.iter().map(|f| std::fs::metadata(f).unwrap()).collect();
    // Sizes: every chunk is as large as every other.
    assert!(meta.iter().all(|m| m.len() == meta[0].len()));
    // Times: one modification time for all, and after the last close one change time.
    assert!(
        meta.iter()
            .all(|m| m.mtime() as u64 == vigil_store::CHUNK_MTIME_SECS)
    );
    assert!(
        meta.iter().all(|m| m.ctime() == meta[0].ctime()),
        "the change times differ: {:?}",
        meta.iter().map(MetadataExt::ctime).collect::<Vec<_>>()
    );
    // What no program can set, the inode number and the birth time: the chunks were spare
    // files made together before any attachment, so neither separates the attachments.
    let label: std::collections::HashMap<_, usize> = written
        .iter()
        .enumerate()
        .flat_map(|(i, files)| files.iter().map(move |f| (f.clone(), i)))
        .collect();
    let mut by_inode: Vec<(u64, usize)> = all
        .iter()
        .map(|f| (std::fs::metadata(f).unwrap().ino(), label[f]))
        .collect();
    by_inode.sort();
    let runs = 1 + by_inode.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(runs > 3, "inode order groups the attachments: {by_inode:?}");
    if let Ok(born) = all
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.created()))
        .collect::<std::io::Result<Vec<_>>>()
    {
        let first = born.iter().min().unwrap();
        let last = born.iter().max().unwrap();
        assert!(
            last.duration_since(*first).unwrap() < std::time::Duration::from_secs(1),
            "the birth times span the three sessions: {born:?}"
        );
    }
    // Names: random, so sorted by name the chunks of one attachment do not sit together (24
    // random names fall into three runs one time in about 200 million).
    let name = |p: &std::path::PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    let mut by_name: Vec<(String, usize)> = written
        .iter()
        .enumerate()
        .flat_map(|(i, files)| files.iter().map(move |f| (name(f), i)))
        .collect();
    by_name.sort();
    let runs = 1 + by_name.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        runs > 3,
        "the names sort the attachments into {runs} groups: {by_name:?}"
    );
}

/// Every chunk file of the vault at `path`.
fn chunk_files(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for fanout in std::fs::read_dir(path.join("blobs")).unwrap().flatten() {
        if fanout.file_name() == "spare" {
            continue;
        }
        for f in std::fs::read_dir(fanout.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out.sort();
    out
}

/// An existing empty folder given for a new vault is made private (0700), whatever its mode.
#[cfg(unix)]
#[test]
fn an_existing_empty_folder_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    std::fs::create_dir(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    new_vault(&path).close().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn attachment_sizes_at_chunk_boundaries() {
    use vigil_crypto::chunk::PAYLOAD_LEN;
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let inc = sample("Sizes");
    v.create_incident(&inc).unwrap();
    for size in [
        0,
        1,
        PAYLOAD_LEN - 1,
        PAYLOAD_LEN,
        PAYLOAD_LEN + 1,
        2 * PAYLOAD_LEN,
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut seen = 0;
        let mut progress = |n: u64| seen = n;
        let meta = v
            .add_attachment(
                inc.id,
                "f",
                "application/octet-stream",
                &data[..],
                Some(&mut progress),
            )
            .unwrap();
        assert_eq!(seen, size as u64);
        assert_eq!(meta.size, size as u64);
        let mut out = Vec::new();
        v.read_attachment(meta.id, &mut out).unwrap();
        assert_eq!(out, data, "size {size}");
    }
    assert_eq!(v.attachments(inc.id).unwrap().len(), 6);
}

fn arb_incident() -> impl Strategy<Value = Incident> {
    (
        "[A-Za-zА-Яа-я0-9 ,.]{1,80}",
        "[A-Za-zА-Яа-я0-9 ,.\n]{0,400}",
        proptest::collection::vec("[a-zа-я]{1,20}", 0..4),
        proptest::option::of(1u32..500),
        -720i32..720,
    )
        .prop_filter("title must not be blank", |(t, ..)| !t.trim().is_empty())
        .prop_map(|(title, summary, tags, size, offset_min)| {
            let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
            let mut i = sample(&title);
            i.summary = summary;
            let mut seen = std::collections::HashSet::new();
            i.tags = tags
                .into_iter()
                .filter(|t| seen.insert(t.to_lowercase()))
                .collect();
            if let PartyKind::Group { size: s, .. } = &mut i.parties[0].kind {
                *s = size;
            }
            i.start.at = Some(t0().with_timezone(&offset));
            i
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever is saved comes back identical, field for field and offset for offset.
    #[test]
    fn vault_save_load_round_trip(incidents in proptest::collection::vec(arb_incident(), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let mut v = new_vault(&path);
        v.create_incidents(&incidents).unwrap();
        v.close().unwrap();
        let v = reopen(&path);
        for i in &incidents {
            let back = v.incident(i.id).unwrap();
            prop_assert_eq!(back.to_json(), i.to_json());
            prop_assert_eq!(&back, i);
        }
        prop_assert_eq!(v.count_incidents().unwrap(), incidents.len() as u64);
    }
}

/// Both ways of reading an attachment, hashing again or trusting the authenticated chunks,
/// give its bytes and its recorded hash, and both refuse a chunk that was altered, swapped with
/// another or removed, with the store's error inside the I/O error.
#[test]
fn attachment_reader_streams_and_detects_tampering() {
    use std::io::Read;
    use vigil_store::AttachmentReader;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let inc = sample("Reader");
    v.create_incident(&inc).unwrap();
    // Three chunks (256 KiB each at most).
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    let meta = v
        .add_attachment(inc.id, "v.bin", "application/octet-stream", &data[..], None)
        .unwrap();
    let sha = ring::digest::digest(&ring::digest::SHA256, &data);
    let readers = |v: &Vault| -> [(&str, AttachmentReader); 2] {
        [
            ("rehashing", v.attachment_reader(meta.id).unwrap()),
            (
                "authenticated only",
                v.attachment_reader(meta.id).unwrap().authenticated_only(),
            ),
        ]
    };
    for (how, mut r) in readers(&v) {
        let mut out = Vec::new();
        assert_eq!(r.verified_sha256(), None, "{how}: nothing read yet");
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data, "{how}");
        assert_eq!(r.verified_sha256().unwrap(), sha.as_ref(), "{how}");
    }
    let mut chunks = chunk_files(&path);
    chunks.sort();
    assert_eq!(chunks.len(), 3);
    let originals: Vec<Vec<u8>> = chunks.iter().map(|c| std::fs::read(c).unwrap()).collect();
    let refused = |v: &Vault, what: &str| {
        for (how, mut r) in readers(v) {
            let err = r.read_to_end(&mut Vec::new()).unwrap_err();
            let inner = err.get_ref().and_then(|e| e.downcast_ref::<StoreError>());
            assert!(
                matches!(inner, Some(StoreError::TamperedAttachment { .. })),
                "{what}, {how}: {err}"
            );
            assert_eq!(r.verified_sha256(), None, "{what}, {how}");
        }
    };
    let restore = || {
        for (c, b) in chunks.iter().zip(&originals) {
            std::fs::write(c, b).unwrap();
        }
    };
    for (k, chunk) in chunks.iter().enumerate() {
        let mut bytes = originals[k].clone();
        bytes[100 + k * 1000] ^= 1;
        std::fs::write(chunk, bytes).unwrap();
        refused(&v, &format!("a byte of chunk file {k} flipped"));
        restore();
    }
    // Two chunk files swapped (whichever places they hold in the attachment).
    std::fs::write(&chunks[0], &originals[1]).unwrap();
    std::fs::write(&chunks[1], &originals[0]).unwrap();
    refused(&v, "two chunks swapped");
    restore();
    // A chunk file gone.
    std::fs::remove_file(&chunks[2]).unwrap();
    refused(&v, "a chunk removed");
    restore();
    for (how, mut r) in readers(&v) {
        r.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(r.verified_sha256().unwrap(), sha.as_ref(), "mended, {how}");
    }
}

//! A monitor's vault exports; HQ's vault imports: everything arrives, verified, once.

#![allow(clippy::unwrap_used)]

use vigil_fixtures::bundle as common;

use std::path::{Path, PathBuf};

use common::walk;
use std::sync::Arc;

use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_exchange::{ExchangeError, ExportPhase, Selection, export, import, verify_extracted};
use vigil_model::{Incident, IncidentId};
use vigil_store::{KdfChoice, SystemClock, Vault};

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    hq: Vault,
    monitor: Vault,
}

fn pass() -> Passphrase {
    Passphrase::new("pass".into())
}

fn vault(path: &Path) -> Vault {
    Vault::create(
        path,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let mut hq = vault(&root.join("hq"));
    let mut monitor = vault(&root.join("monitor"));
    let profile = hq.create_org("Coalition HQ", 2).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    World {
        _tmp: tmp,
        root,
        hq,
        monitor,
    }
}

fn sealed_incident(v: &mut Vault, title: &str, attachment: &[u8]) -> IncidentId {
    let mut inc = Incident::new(IncidentId::new(), title, v.now());
    inc.summary = "Nine men broke into the lawyers' meeting.".into();
    inc.parties
        .push(vigil_fixtures::incidents::nine_unknown_individuals());
    v.create_incident(&inc).unwrap();
    v.append_log(inc.id, "10:30 nine men enter", true).unwrap();
    v.append_log(inc.id, "10:41 they name their movement", false)
        .unwrap();
    v.add_attachment(inc.id, "note.txt", "text/plain", attachment, None)
        .unwrap();
    v.seal(inc.id).unwrap();
    inc.id
}

fn attachment_bytes(v: &Vault, incident: IncidentId) -> Vec<Vec<u8>> {
    v.attachments(incident)
        .unwrap()
        .iter()
        .map(|a| {
            let mut out = Vec::new();
            v.read_attachment(a.id, &mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn round_trip_every_field_and_import_three_times() {
    let mut w = world();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let id = sealed_incident(&mut w.monitor, "Meeting broken up", &big);
    let bundle = w.root.join("usb.vigil");
    let mut seen: Vec<(ExportPhase, u64, u64)> = Vec::new();
    let report = vigil_exchange::export_with_progress(
        &mut w.monitor,
        &Selection::Unsent,
        &bundle,
        &mut |phase, done, total| seen.push((phase, done, total)),
    )
    .unwrap();
    assert_eq!((report.revisions, report.attachments), (1, 1));
    // Writing, then checking: in each phase progress only grows and ends at its total. Writing
    // counts the entries (the 1 MB attachment among them), checking the bundle file read back.
    let split = seen
        .iter()
        .position(|s| s.0 == ExportPhase::Checking)
        .unwrap();
    let (writing, checking) = seen.split_at(split);
    assert!(checking.iter().all(|s| s.0 == ExportPhase::Checking));
    for phase in [writing, checking] {
        assert!(
            phase
                .windows(2)
                .all(|p| p[0].1 <= p[1].1 && p[0].2 == p[1].2)
        );
        let (_, done, total) = *phase.last().unwrap();
        assert_eq!(done, total);
    }
    assert!(writing.last().unwrap().2 > 1_000_000);
    assert_eq!(checking.last().unwrap().2, report.bytes);
    // Nothing left unsent.
    assert!(matches!(
        export(
            &mut w.monitor,
            &Selection::Unsent,
            &w.root.join("again.vigil")
        ),
        Err(ExchangeError::NothingToExport)
    ));

    let mut read: Vec<(u64, u64)> = Vec::new();
    let first = vigil_exchange::import_with_progress(&mut w.hq, &bundle, &mut |done, total| {
        read.push((done, total))
    })
    .unwrap();
    assert_eq!((first.applied, first.attachments), (1, 1));
    // Import progress only grows, and reaches the bundle file's size.
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert!(read.len() > 1 && read.windows(2).all(|p| p[0].0 <= p[1].0));
    assert_eq!(*read.last().unwrap(), (size, size));
    assert_eq!(
        w.hq.incident(id).unwrap().to_json(),
        w.monitor.incident(id).unwrap().to_json()
    );
    assert_eq!(
        w.hq.log_entries(id).unwrap(),
        w.monitor.log_entries(id).unwrap()
    );
    assert_eq!(attachment_bytes(&w.hq, id), vec![big]);
    w.hq.verify_chain().unwrap();

    let digest = w.hq.content_digest().unwrap();
    for _ in 0..2 {
        let again = import(&mut w.hq, &bundle).unwrap();
        assert_eq!((again.applied, again.skipped, again.attachments), (0, 1, 0));
        assert_eq!(w.hq.content_digest().unwrap(), digest, "nothing changes");
    }
    // A vault that is neither the exporting device nor HQ cannot open it.
    let mut stranger = vault(&w.root.join("stranger"));
    let r = import(&mut stranger, &bundle).unwrap_err();
    assert_eq!(r.code(), "bundle.not_for_us");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The monitor's laptop is restored from a backup older than its last export: importing its
/// own bundle (encrypted to the device too) brings the sealed records back, and sealing goes on
/// from where the chain really is.
#[test]
fn a_monitor_restores_from_its_own_bundle() {
    let w = world();
    let (root, monitor) = (w.root, w.monitor);
    monitor.close().unwrap();
    let backup = root.join("backup");
    copy_dir(&root.join("monitor"), &backup);
    let mut monitor = Vault::open(&root.join("monitor"), &pass(), Arc::new(SystemClock)).unwrap();
    let photo = vec![7u8; 200_000];
    let id = sealed_incident(&mut monitor, "Detention visit", &photo);
    let bundle = root.join("b.vigil");
    export(&mut monitor, &Selection::Unsent, &bundle).unwrap();

    let mut restored = Vault::open(&backup, &pass(), Arc::new(SystemClock)).unwrap();
    assert!(restored.incident(id).is_err(), "the backup predates it");
    let r = import(&mut restored, &bundle).unwrap();
    assert_eq!((r.applied, r.attachments), (1, 1));
    assert_eq!(
        restored.incident(id).unwrap().to_json(),
        monitor.incident(id).unwrap().to_json()
    );
    assert_eq!(attachment_bytes(&restored, id), vec![photo]);
    restored.verify_chain().unwrap();
    // The next seal follows the restored revision in this device's chain, so HQ accepts it.
    let next = sealed_incident(&mut restored, "After the restore", b"more");
    let later = root.join("later.vigil");
    export(&mut restored, &Selection::Incidents(vec![next]), &later).unwrap();
    let mut hq = w.hq;
    import(&mut hq, &bundle).unwrap();
    let r = import(&mut hq, &later).unwrap();
    assert_eq!(r.applied, 1);
    hq.verify_chain().unwrap();
}

#[test]
fn overlapping_bundles_and_amendments_apply_once() {
    let mut w = world();
    let a = sealed_incident(&mut w.monitor, "First", b"one");
    let b1 = w.root.join("b1.vigil");
    export(&mut w.monitor, &Selection::Unsent, &b1).unwrap();
    let mut next = w.monitor.incident(a).unwrap();
    next.title = "First, amended".into();
    w.monitor.amend(a, &next).unwrap();
    let b2 = w.root.join("b2.vigil");
    export(&mut w.monitor, &Selection::All, &b2).unwrap();
    import(&mut w.hq, &b2).unwrap();
    let digest = w.hq.content_digest().unwrap();
    let r = import(&mut w.hq, &b1).unwrap();
    assert_eq!(r.applied, 0);
    assert_eq!(w.hq.content_digest().unwrap(), digest);
    assert_eq!(w.hq.incident(a).unwrap().title, "First, amended");
}

/// The same photo attached twice (to one incident, and to another): the bundle carries it
/// once, HQ keeps it under each id, and each copy stays readable when the other is gone.
#[test]
fn the_same_file_under_several_ids_arrives_under_each() {
    let mut w = world();
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let a = sealed_incident(&mut w.monitor, "First", &photo);
    let mut b = Incident::new(IncidentId::new(), "Second", w.monitor.now());
    b.summary = "The same van, the next day.".into();
    w.monitor.create_incident(&b).unwrap();
    for _ in 0..2 {
        w.monitor
            .add_attachment(b.id, "van.jpg", "image/jpeg", photo.as_slice(), None)
            .unwrap();
    }
    w.monitor.seal(b.id).unwrap();
    let bundle = w.root.join("same.vigil");
    let report = export(&mut w.monitor, &Selection::Unsent, &bundle).unwrap();
    assert_eq!(
        (report.revisions, report.attachments),
        (2, 1),
        "carried once"
    );
    let r = import(&mut w.hq, &bundle).unwrap();
    assert_eq!((r.applied, r.attachments), (2, 3));
    assert_eq!(attachment_bytes(&w.hq, a), vec![photo.clone()]);
    assert_eq!(attachment_bytes(&w.hq, b.id), vec![photo.clone(), photo]);
    w.hq.verify_chain().unwrap();
}

#[test]
fn a_bundle_missing_an_earlier_revision_is_a_broken_chain() {
    let mut w = world();
    let a = sealed_incident(&mut w.monitor, "One", b"1");
    export(
        &mut w.monitor,
        &Selection::Unsent,
        &w.root.join("first.vigil"),
    )
    .unwrap();
    let b = sealed_incident(&mut w.monitor, "Two", b"2");
    let second = w.root.join("second.vigil");
    export(&mut w.monitor, &Selection::Incidents(vec![b]), &second).unwrap();
    let digest = w.hq.content_digest().unwrap();
    let err = import(&mut w.hq, &second).unwrap_err();
    assert_eq!(err.code(), "chain_broken", "{err}");
    assert_eq!(w.hq.content_digest().unwrap(), digest);
    let _ = a;
}

#[test]
fn bundles_for_another_organisation_are_not_for_us() {
    let mut w = world();
    sealed_incident(&mut w.monitor, "One", b"1");
    let bundle = w.root.join("b.vigil");
    export(&mut w.monitor, &Selection::Unsent, &bundle).unwrap();
    let mut other = vault(&w.root.join("other-hq"));
    other.create_org("Another org", 1).unwrap();
    let digest = other.content_digest().unwrap();
    let err = import(&mut other, &bundle).unwrap_err();
    assert_eq!(err.code(), "bundle.not_for_us", "{err}");
    assert_eq!(other.content_digest().unwrap(), digest);
}

#[test]
fn damaged_bundles_change_nothing() {
    let mut w = world();
    sealed_incident(&mut w.monitor, "One", &[5u8; 300_000]);
    let bundle = w.root.join("b.vigil");
    export(&mut w.monitor, &Selection::Unsent, &bundle).unwrap();
    let good = std::fs::read(&bundle).unwrap();
    let digest = w.hq.content_digest().unwrap();
    let blobs = |v: &Vault| common::chunk_files(v.dir());
    let before = blobs(&w.hq);
    let bad = w.root.join("bad.vigil");
    let mut cases = 0;
    for offset in (0..good.len()).step_by(good.len() / 23 + 1) {
        let mut b = good.clone();
        b[offset] ^= 0x40;
        std::fs::write(&bad, &b).unwrap();
        assert!(import(&mut w.hq, &bad).is_err(), "flip at {offset}");
        cases += 1;
    }
    for cut in [10, 100, good.len() / 3, good.len() / 2, good.len() - 17] {
        std::fs::write(&bad, &good[..cut]).unwrap();
        assert!(import(&mut w.hq, &bad).is_err(), "cut at {cut}");
        cases += 1;
    }
    assert!(cases >= 25);
    assert_eq!(w.hq.content_digest().unwrap(), digest);
    assert_eq!(blobs(&w.hq), before, "no staged chunk is left behind");
    import(&mut w.hq, &bundle).unwrap();
}

/// An attachment damaged in the monitor's own vault is never exported: the export stops with
/// the vault's error, leaves no bundle and no temporary file, and marks nothing as sent.
#[test]
fn an_attachment_damaged_in_the_vault_is_not_exported() {
    let mut w = world();
    // Several chunks, so the damage is met in the middle of the stream.
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    sealed_incident(&mut w.monitor, "One", &data);
    let mut chunks = common::chunk_files(w.monitor.dir());
    chunks.sort();
    for chunk in [&chunks[chunks.len() / 2], &chunks[0]] {
        let mut bytes = std::fs::read(chunk).unwrap();
        bytes[200] ^= 1;
        std::fs::write(chunk, &bytes).unwrap();
        let out = w.root.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let err = export(&mut w.monitor, &Selection::Unsent, &out.join("b.vigil")).unwrap_err();
        assert_eq!(err.code(), "attachment_tampered", "{err}");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "nothing left");
        bytes[200] ^= 1;
        std::fs::write(chunk, &bytes).unwrap();
    }
    // Mended, it exports, and only now is anything marked as sent.
    export(&mut w.monitor, &Selection::Unsent, &w.root.join("b.vigil")).unwrap();
    assert!(matches!(
        export(&mut w.monitor, &Selection::Unsent, &w.root.join("c.vigil")),
        Err(ExchangeError::NothingToExport)
    ));
}

/// A bundle that the drive gives back other than written (here: altered while it is being read
/// back) is refused before it takes its name: no file is left, nothing is marked as sent, and
/// the next export succeeds.
#[test]
fn a_bundle_that_reads_back_wrong_never_takes_its_name() {
    let mut w = world();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 239) as u8).collect();
    sealed_incident(&mut w.monitor, "One", &data);
    let out = w.root.join("stick");
    std::fs::create_dir_all(&out).unwrap();
    let dest = out.join("b.vigil");
    let mut altered = false;
    let err = vigil_exchange::export_with_progress(
        &mut w.monitor,
        &Selection::Unsent,
        &dest,
        &mut |phase, _, _| {
            if phase == ExportPhase::Checking && !altered {
                // The read-back has begun on the temporary file: alter its end on "the stick".
                let tmp = walk(&out).into_iter().next().unwrap();
                assert!(tmp.to_string_lossy().ends_with(".tmp"), "{}", tmp.display());
                let mut bytes = std::fs::read(&tmp).unwrap();
                let at = bytes.len() - 100;
                bytes[at] ^= 1;
                std::fs::write(&tmp, bytes).unwrap();
                altered = true;
            }
        },
    )
    .unwrap_err();
    assert!(altered);
    assert_eq!(err.code(), "bundle.tampered", "{err}");
    assert_eq!(
        walk(&out),
        Vec::<PathBuf>::new(),
        "nothing left on the stick"
    );
    export(&mut w.monitor, &Selection::Unsent, &dest).unwrap();
    assert_eq!(walk(&out), vec![dest]);
}

/// An archivist's path: the Debian `age` tool and `tar`, then `vigil verify` on the folder.
#[test]
fn the_age_cli_and_tar_open_a_bundle_and_the_extracted_manifest_verifies() {
    let mut w = world();
    let id = sealed_incident(&mut w.monitor, "For the archive", b"archived evidence");
    let bundle = w.root.join("b.vigil");
    export(&mut w.monitor, &Selection::Unsent, &bundle).unwrap();
    let identity = w.root.join("hq-identity.txt");
    std::fs::write(&identity, w.hq.org_identity_file(0).unwrap().as_bytes()).unwrap();
    let tar = w.root.join("b.tar");
    let status = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&tar)
        .arg(&bundle)
        .status()
        .expect("the age command is installed by scripts/setup");
    assert!(status.success());
    let out = w.root.join("extracted");
    std::fs::create_dir(&out).unwrap();
    assert!(
        std::process::Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let proof = verify_extracted(&out).unwrap();
    assert_eq!(proof.revisions.len(), 1);
    assert_eq!(proof.revisions[0].incident, id.to_string());
    assert_eq!(proof.attachments.len(), 1);
    // Change one byte of the extracted attachment: verification fails.
    let att = walk(&out.join("vigil-bundle/attachments"))[0].clone();
    let mut bytes = std::fs::read(&att).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&att, bytes).unwrap();
    assert_eq!(
        verify_extracted(&out).unwrap_err().code(),
        "bundle.tampered"
    );
}

/// HQ keeps each monitor's signed custody log from its bundles: a record's provenance shows
/// where it was created and sealed (on the monitor), when it left in a bundle (known from the
/// next bundle's log) and when HQ imported it, every signature checked again.
#[test]
fn hq_keeps_the_monitors_custody_log_and_shows_a_records_provenance() {
    use vigil_store::CustodyKind;
    let mut w = world();
    let id = sealed_incident(&mut w.monitor, "Hearing closed to the public", b"notes");
    let first = w.root.join("first.vigil");
    let exported = export(&mut w.monitor, &Selection::Unsent, &first).unwrap();
    let r = import(&mut w.hq, &first).unwrap();
    assert!(r.custody_events >= 2, "created and sealed at least: {r:?}");

    let p = w.hq.provenance(id).unwrap();
    assert_eq!(p.revisions.len(), 1);
    let rev = &p.revisions[0];
    assert!(rev.verified);
    assert_eq!(rev.device, w.monitor.device());
    assert_eq!(rev.device_key, w.monitor.device_public().sign_pk);
    let kinds = |p: &vigil_store::Provenance| -> Vec<(CustodyKind, bool)> {
        p.events.iter().map(|e| (e.event, e.this_device)).collect()
    };
    assert_eq!(
        kinds(&p),
        vec![
            (CustodyKind::Created, false),
            (CustodyKind::Sealed, false),
            (CustodyKind::Imported, true),
        ]
    );
    assert!(p.events.iter().all(|e| e.verified));

    // The next bundle carries the monitor's "exported" event for the first one.
    let other = sealed_incident(&mut w.monitor, "Another hearing", b"more");
    let second = w.root.join("second.vigil");
    export(&mut w.monitor, &Selection::Unsent, &second).unwrap();
    let r = import(&mut w.hq, &second).unwrap();
    assert_eq!(r.applied, 1);
    let p = w.hq.provenance(id).unwrap();
    assert_eq!(
        kinds(&p),
        vec![
            (CustodyKind::Created, false),
            (CustodyKind::Sealed, false),
            (CustodyKind::Exported, false),
            (CustodyKind::Imported, true),
        ]
    );
    assert_eq!(p.events[2].subject, exported.id);
    // The other record's history does not leak into this one.
    assert!(
        w.hq.provenance(other)
            .unwrap()
            .events
            .iter()
            .all(|e| e.subject != id.to_string())
    );
    // Importing the bundles again adds no event; the whole vault still verifies.
    let digest = w.hq.content_digest().unwrap();
    import(&mut w.hq, &first).unwrap();
    import(&mut w.hq, &second).unwrap();
    assert_eq!(w.hq.content_digest().unwrap(), digest);
    w.hq.verify_chain().unwrap();

    // HQ can export its own sealed records; its bundle holds only HQ's own custody events.
    let hq_id = sealed_incident(&mut w.hq, "Seen at HQ", b"hq");
    let hq_bundle = w.root.join("hq.vigil");
    export(&mut w.hq, &Selection::Incidents(vec![hq_id]), &hq_bundle).unwrap();
}

/// An enrolled device can sign a log that names any incident (ids are chosen by the client).
/// Those events are kept, but they are not a record's history unless their device sealed a
/// revision of it.
#[test]
fn another_devices_events_naming_a_record_are_not_its_history() {
    let mut w = world();
    let x = sealed_incident(&mut w.monitor, "Real", b"1");
    let first = w.root.join("first.vigil");
    export(&mut w.monitor, &Selection::Unsent, &first).unwrap();
    import(&mut w.hq, &first).unwrap();
    let before = w.hq.provenance(x).unwrap();

    let mut stranger = vault(&w.root.join("stranger"));
    let invitation = w.hq.issue_invitation("Second laptop", 14).unwrap();
    stranger
        .join_and_enrol(
            &w.hq.org_profile().unwrap().unwrap().to_json_pretty(),
            &invitation.expose_file_bytes(),
        )
        .unwrap();
    // An incident with X's id: its "created" event names X, signed by the stranger's device.
    stranger
        .create_incident(&Incident::new(x, "Forged", stranger.now()))
        .unwrap();
    sealed_incident(&mut stranger, "Other", b"2");
    let theirs = w.root.join("stranger.vigil");
    export(&mut stranger, &Selection::Unsent, &theirs).unwrap();
    let r = import(&mut w.hq, &theirs).unwrap();
    assert_eq!(r.applied, 1);
    assert!(
        w.hq.custody_log()
            .unwrap()
            .iter()
            .any(|e| e.doc.device == stranger.device() && e.doc.subject == x.to_string()),
        "the stranger's event naming X is kept (it is that device's history)"
    );
    let after = w.hq.provenance(x).unwrap();
    assert!(
        after.events.iter().all(|e| e.device != stranger.device()),
        "{after:?}"
    );
    assert_eq!(after, before);
}

/// An edit waiting at HQ to amend a sealed record survives the import of the monitor's newer
/// amendment, and is never sealed over it unseen: sealing it is refused until the person keeps
/// it on top of the newer version (or discards it).
#[test]
fn an_edit_waiting_for_a_record_that_was_amended_elsewhere_is_kept_but_not_sealed_blindly() {
    let mut w = world();
    let id = sealed_incident(&mut w.monitor, "Hearing", b"1");
    let first = w.root.join("first.vigil");
    export(&mut w.monitor, &Selection::Unsent, &first).unwrap();
    import(&mut w.hq, &first).unwrap();

    // HQ starts an edit of the sealed record (kept as the editor's draft) ...
    let mut hq_edit = w.hq.incident(id).unwrap();
    hq_edit.summary = "HQ's note".into();
    w.hq.save_draft(&hq_edit).unwrap();
    // ... while the monitor amends it, and that arrives.
    let mut next = w.monitor.incident(id).unwrap();
    next.title = "Hearing, postponed".into();
    w.monitor.amend(id, &next).unwrap();
    let second = w.root.join("second.vigil");
    export(&mut w.monitor, &Selection::Unsent, &second).unwrap();
    import(&mut w.hq, &second).unwrap();
    assert_eq!(w.hq.incident(id).unwrap().title, "Hearing, postponed");
    assert_eq!(
        w.hq.draft(id).unwrap().unwrap().summary,
        "HQ's note",
        "the edit is kept"
    );
    assert_eq!(w.hq.seal_now(id).unwrap_err().code(), "draft_outdated");

    // Kept on top (the editor re-bases it on the newer version's time): it seals.
    let mut rebased = w.hq.draft(id).unwrap().unwrap();
    rebased.updated_at = w.hq.incident(id).unwrap().updated_at;
    rebased.title = "Hearing, postponed".into();
    w.hq.save_draft(&rebased).unwrap();
    let rev = w.hq.seal_now(id).unwrap();
    assert_eq!(rev.document().unwrap().incident.summary, "HQ's note");
    assert_eq!(rev.document().unwrap().incident.title, "Hearing, postponed");

    // Discarding instead leaves the record as it is.
    let mut again = w.hq.incident(id).unwrap();
    again.summary = "Second thoughts".into();
    w.hq.save_draft(&again).unwrap();
    w.hq.discard_draft(id).unwrap();
    assert!(w.hq.draft(id).unwrap().is_none());
    assert_eq!(w.hq.seal_now(id).unwrap_err().code(), "nothing_to_seal");
}

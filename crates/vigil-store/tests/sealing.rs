//! Sealed revisions, the custody log, organisations and applying received revisions.

#![allow(clippy::unwrap_used)]

mod common;

use common::{new_vault, pass, reopen, t0};
use std::path::Path;
use std::str::FromStr;

use vigil_crypto::sign::AgeIdentity;
use vigil_model::{Incident, IncidentId, IncidentStatus};
use vigil_store::{
    CustodyKind, Incoming, JoinOutcome, Revision, RevisionDoc, Standing, StoreError, Vault,
};

fn canonical_bytes(doc: &RevisionDoc) -> Vec<u8> {
    vigil_ledger::canonical::encode_serialize("a revision", doc).unwrap()
}

fn incident(v: &mut Vault, title: &str) -> IncidentId {
    let mut i = Incident::new(IncidentId::new(), title, t0());
    i.summary = "Nine men broke into the meeting".into();
    v.create_incident(&i).unwrap();
    v.append_log(i.id, "Police arrived at 10:40", false)
        .unwrap();
    i.id
}

/// A raw connection to the vault's database, as an attacker with the key would have, with
/// the append-only triggers dropped.
fn raw(dir: &Path) -> rusqlite::Connection {
    let key = Vault::unwrap_key(dir, &pass()).unwrap();
    let conn = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", &*key.expose_hex()))
        .unwrap();
    conn.execute_batch(
        "DROP TRIGGER revisions_append_only_update; DROP TRIGGER revisions_append_only_delete;",
    )
    .unwrap();
    conn
}

#[test]
fn sealing_round_trip_and_sealed_incidents_refuse_updates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let mut v = new_vault(&path);
    let id = incident(&mut v, "Meeting broken up");
    let rev = v.seal(id).unwrap();
    assert_eq!(rev.device, v.device());
    assert_eq!(rev.device_seq, 1);
    assert_eq!(rev.prev_hash, None);
    assert_eq!(rev.amends, None);

    let verified = rev.verify().unwrap();
    let doc = verified.document();
    assert_eq!(doc.incident.title, "Meeting broken up");
    assert_eq!(doc.incident.status, IncidentStatus::Sealed);
    assert_eq!(doc.log.len(), 1);
    assert_eq!(doc.device_keys, v.device_public());
    assert_eq!(canonical_bytes(doc), rev.doc);

    let mut inc = v.incident(id).unwrap();
    assert!(inc.is_sealed());
    inc.title = "changed".into();
    assert!(matches!(
        v.update_incident(&inc),
        Err(StoreError::Sealed(_))
    ));
    assert!(matches!(v.seal(id), Err(StoreError::Sealed(_))));
    v.close().unwrap();

    let v = reopen(&path);
    assert_eq!(v.revisions(id).unwrap(), vec![rev.clone()]);
    assert_eq!(v.unsent_revisions().unwrap(), vec![rev]);
    v.verify_chain().unwrap();
    let kinds: Vec<CustodyKind> = v
        .custody_log()
        .unwrap()
        .iter()
        .map(|e| e.doc.event)
        .collect();
    assert_eq!(kinds, vec![CustodyKind::Created, CustodyKind::Sealed]);
}

/// An edit made in the app waits for the next seal: amending with other fields meanwhile would
/// drop it, so the vault refuses (in every caller: the CLI and the app alike), and changes
/// nothing. Sealing takes the edit.
#[test]
fn amend_is_refused_while_an_edit_waits_and_seal_takes_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let a = incident(&mut v, "First");
    let r1 = v.seal(a).unwrap();
    let mut edit = v.incident(a).unwrap();
    edit.summary = "Nine men entered the meeting room.".into();
    v.save_draft(&edit).unwrap();
    let mut other = v.incident(a).unwrap();
    other.title = "Another title".into();
    let err = v.amend(a, &other).unwrap_err();
    assert!(matches!(err, StoreError::EditWaiting(_)), "{err}");
    assert_eq!(err.code(), "edit_waiting");
    assert_eq!(v.revisions(a).unwrap(), vec![r1.clone()]);
    assert_eq!(v.draft(a).unwrap().unwrap().summary, edit.summary);
    let r2 = v.seal_now(a).unwrap();
    assert_eq!(r2.amends, Some(r1.id));
    assert_eq!(v.incident(a).unwrap().summary, edit.summary);
    assert!(v.draft(a).unwrap().is_none());
    v.amend(a, &other).unwrap();
}

#[test]
fn amendments_chain_and_nothing_sealed_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let a = incident(&mut v, "First");
    let b = incident(&mut v, "Second");
    let mut inc = v.incident(a).unwrap();
    assert!(matches!(v.amend(a, &inc), Err(StoreError::NotSealed(_))));
    let r1 = v.seal(a).unwrap();
    let r2 = v.seal(b).unwrap();
    inc.title = "First, corrected".into();
    let r3 = v.amend(a, &inc).unwrap();
    assert_eq!(r2.prev_hash, Some(r1.hash));
    assert_eq!(r3.prev_hash, Some(r2.hash));
    assert_eq!(r3.amends, Some(r1.id));
    assert_eq!(r3.device_seq, 3);
    assert_eq!(v.incident(a).unwrap().title, "First, corrected");
    assert_eq!(v.revisions(a).unwrap(), vec![r1.clone(), r3.clone()]);
    assert_eq!(
        v.revisions(a).unwrap()[0]
            .document()
            .unwrap()
            .incident
            .title,
        "First"
    );
    v.verify_chain().unwrap();

    v.mark_exported(&[r1.id, r2.id], "bundle-1").unwrap();
    assert_eq!(v.unsent_revisions().unwrap(), vec![r3]);
    assert_eq!(
        v.custody_log().unwrap().last().unwrap().doc.event,
        CustodyKind::Exported
    );
    v.verify_chain().unwrap();
}

fn sealed_three(path: &Path) -> Vec<Revision> {
    let mut v = new_vault(path);
    let mut revs = Vec::new();
    for t in ["one", "two", "three"] {
        let id = incident(&mut v, t);
        revs.push(v.seal(id).unwrap());
    }
    v.verify_chain().unwrap();
    v.close().unwrap();
    revs
}

fn chain_error(path: &Path) -> StoreError {
    reopen(path).verify_chain().unwrap_err()
}

#[test]
fn a_tampered_revision_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let revs = sealed_three(&path);
    let conn = raw(&path);
    let doc = String::from_utf8(revs[1].doc.clone())
        .unwrap()
        .replace("two", "TWO");
    conn.execute(
        "UPDATE revisions SET doc = ?1 WHERE id = ?2",
        rusqlite::params![doc.as_bytes(), revs[1].id.0.as_bytes().as_slice()],
    )
    .unwrap();
    drop(conn);
    let e = chain_error(&path);
    assert_eq!(e.code(), "chain_broken", "{e}");
}

#[test]
fn a_removed_revision_is_detected_even_the_newest() {
    for victim in [1usize, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let revs = sealed_three(&path);
        let conn = raw(&path);
        conn.execute(
            "DELETE FROM revisions WHERE id = ?1",
            [revs[victim].id.0.as_bytes().as_slice()],
        )
        .unwrap();
        drop(conn);
        assert_eq!(chain_error(&path).code(), "chain_broken");
    }
}

#[test]
fn a_reordered_revision_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let revs = sealed_three(&path);
    let conn = raw(&path);
    // Swap the chain positions of revisions 2 and 3.
    conn.execute_batch(&format!(
        "UPDATE revisions SET device_seq = -1 WHERE id = x'{b}';
         UPDATE revisions SET device_seq = 2 WHERE id = x'{c}';
         UPDATE revisions SET device_seq = 3 WHERE id = x'{b}';",
        b = hex::encode(revs[1].id.0.as_bytes()),
        c = hex::encode(revs[2].id.0.as_bytes()),
    ))
    .unwrap();
    drop(conn);
    assert_eq!(chain_error(&path).code(), "chain_broken");
}

#[test]
fn org_create_join_and_identity_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut hq = new_vault(&dir.path().join("hq"));
    let mut monitor = new_vault(&dir.path().join("monitor"));
    assert!(matches!(
        monitor.org_keys(),
        Err(StoreError::NoOrganisation)
    ));
    assert!(monitor.hq_recipients().unwrap().is_empty());

    let profile = hq.create_org("Human Rights Centre", 2).unwrap();
    let text = profile.to_json_pretty();
    assert_eq!(
        vigil_store::OrgProfile::parse_and_verify(&text).unwrap(),
        profile
    );
    assert!(matches!(
        hq.create_org("Again", 1),
        Err(StoreError::AlreadyInOrg { .. })
    ));
    assert_eq!(profile.hq_recipients.len(), 2);

    let (joined, outcome) = monitor.join_org(&text).unwrap();
    assert_eq!(outcome, JoinOutcome::Joined);
    assert_eq!(joined, profile);
    assert_eq!(monitor.join_org(&text).unwrap().1, JoinOutcome::Unchanged);
    assert_eq!(monitor.hq_recipients().unwrap(), profile.hq_recipients);
    assert!(matches!(monitor.org_keys(), Err(StoreError::NotHq)));

    // Tampered: the name changed after signing.
    let tampered = text.replace("Human Rights Centre", "Human Rights Centrе");
    let mut other = new_vault(&dir.path().join("other"));
    let e = other.join_org(&tampered).unwrap_err();
    assert_eq!(e.code(), "bad_signature");
    assert!(other.org_profile().unwrap().is_none());
    assert_eq!(other.join_org("{}").unwrap_err().code(), "bad_profile");

    // Another organisation is refused by a vault that already joined one.
    let mut hq2 = new_vault(&dir.path().join("hq2"));
    let p2 = hq2.create_org("Another", 1).unwrap();
    assert!(matches!(
        monitor.join_org(&p2.to_json_pretty()),
        Err(StoreError::AlreadyInOrg { .. })
    ));

    let file = hq.org_identity_file(1).unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("# created: "));
    assert_eq!(
        lines[1],
        format!("# public key: {}", profile.hq_recipients[1])
    );
    let id = AgeIdentity::from_str(lines[2]).unwrap();
    assert_eq!(id.to_public().to_string(), profile.hq_recipients[1]);
    assert_eq!(hq.org_identities().unwrap().len(), 2);
    assert!(hq.org_identity_file(2).is_err());
}

/// HQ and a monitor it enrolled.
fn enrolled_pair(dir: &Path) -> (Vault, Vault) {
    let mut hq = new_vault(&dir.join("hq"));
    let mut monitor = new_vault(&dir.join("monitor"));
    let profile = hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    (hq, monitor)
}

/// What `monitor` would send in a bundle: these revisions, and its certificate.
fn incoming(hq: &Vault, monitor: &Vault, revisions: &[&Revision]) -> Incoming {
    let mut i = Incoming::new(
        hq.dir(),
        "a bundle".into(),
        monitor.device(),
        monitor.device_public().sign_pk,
        monitor.certificate().unwrap().map(|c| c.bytes().to_vec()),
    )
    .unwrap();
    for r in revisions {
        i.push_revision(r.verify().unwrap()).unwrap();
    }
    i
}

fn apply(
    hq: &mut Vault,
    monitor: &Vault,
    revisions: &[&Revision],
) -> Result<vigil_store::ApplyReport, StoreError> {
    let i = incoming(hq, monitor, revisions);
    let standing = hq.judge_sender(&i).unwrap();
    assert!(!matches!(standing, Standing::Quarantine(_)), "{standing:?}");
    hq.apply_incoming(i, &standing, None)
}

#[test]
fn applying_revisions_is_idempotent_and_conflicts_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hq, mut monitor) = enrolled_pair(dir.path());
    let a = incident(&mut monitor, "Detention at the border");
    monitor.append_log(a, "Second note", true).unwrap();
    let r1 = monitor.seal(a).unwrap();
    let mut inc = monitor.incident(a).unwrap();
    inc.summary = "Amended summary".into();
    let r2 = monitor.amend(a, &inc).unwrap();

    let before = hq.content_digest().unwrap();
    let report = apply(&mut hq, &monitor, &[&r2, &r1]).unwrap();
    assert_eq!(report.applied, vec![r1.id, r2.id]);
    assert_eq!(report.new_devices, vec![monitor.device()]);
    assert_eq!(report.registered, Some(monitor.device()));
    let after_first = hq.content_digest().unwrap();
    assert_ne!(before, after_first);

    let got = hq.incident(a).unwrap();
    assert!(got.is_sealed());
    assert_eq!(got.summary, "Amended summary");
    assert_eq!(hq.log_entries(a).unwrap(), monitor.log_entries(a).unwrap());
    assert_eq!(hq.revisions(a).unwrap(), vec![r1.clone(), r2.clone()]);
    hq.verify_chain().unwrap();
    assert_eq!(hq.devices().unwrap()[0].name, "Aigul's laptop");

    let again = apply(&mut hq, &monitor, &[&r2, &r1]).unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.skipped.len(), 2);
    assert_eq!(hq.content_digest().unwrap(), after_first);

    // Same id, different content, signed by the same device (a compromised or buggy one):
    // refused, nothing changed.
    let keys = &monitor;
    let mut doc = r1.document().unwrap();
    doc.incident.summary = "Rewritten".into();
    let bytes = canonical_bytes(&doc);
    let sig = vigil_crypto::sign::Signature(keys.device_sign(&vigil_crypto::sign::sha256(&bytes)));
    let forged = Revision::from_signed(bytes, sig).unwrap();
    let e = apply(&mut hq, &monitor, &[&forged]).unwrap_err();
    assert_eq!(e.code(), "revision_conflict");
    assert_eq!(hq.content_digest().unwrap(), after_first);

    // A revision signed by another key in this device's delivery is refused by its key.
    let other = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let mut doc = r1.document().unwrap();
    doc.id = vigil_store::RevisionId::new();
    doc.device_keys = other.public();
    doc.device = vigil_ledger::ids::device_id_for(&other.public().sign_pk);
    let bytes = canonical_bytes(&doc);
    let sig = other.sign(&vigil_crypto::sign::sha256(&bytes));
    let foreign = Revision::from_signed(bytes, sig).unwrap();
    // HQ cannot trust a delivery carrying it (an id it never saw with this sender's key)...
    let i = incoming(&hq, &monitor, &[&foreign]);
    let standing = hq.judge_sender(&i).unwrap();
    assert!(
        matches!(&standing, Standing::Quarantine(r) if r.code() == "former_id"),
        "{standing:?}"
    );
    // ... and even a person accepting it cannot make it this sender's.
    assert_eq!(
        hq.apply_incoming(i, &standing, Some(uuid::Uuid::nil()))
            .unwrap_err()
            .code(),
        "foreign_revision"
    );
    assert_eq!(hq.content_digest().unwrap(), after_first);
    let keys = other;

    // Places outside a chain are refused before anything else looks at them.
    for (seq, prev) in [
        (0, None),
        (1, Some(r1.hash)),
        (2, None),
        (u64::MAX, Some(r1.hash)),
    ] {
        let mut doc = r1.document().unwrap();
        doc.device_seq = seq;
        doc.prev = prev;
        let bytes = canonical_bytes(&doc);
        let sig = keys.sign(&vigil_crypto::sign::sha256(&bytes));
        let e = Revision::from_signed(bytes, sig)
            .unwrap()
            .verify()
            .unwrap_err();
        assert_eq!(e.code(), "record_altered", "seq {seq}");
    }
}

#[test]
fn a_forged_signature_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = new_vault(&dir.path().join("v"));
    let id = incident(&mut v, "x");
    let mut rev = v.seal(id).unwrap();
    rev.sig.0[0] ^= 1;
    assert_eq!(rev.verify().unwrap_err().code(), "bad_signature");
}

/// Sealing again records what changed as an amendment: new running-log entries, and edits kept
/// as the editor's draft; with nothing new it is refused, and nothing sealed is rewritten.
#[test]
fn sealing_again_amends_with_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = new_vault(tmp.path());
    let id = incident(&mut v, "Lawyers' meeting broken up");
    let first = v.seal_now(id).unwrap();
    assert_eq!(first.amends, None);
    assert_eq!(
        v.seal_now(id).unwrap_err().code(),
        "nothing_to_seal",
        "nothing new since the seal"
    );

    v.append_log(id, "10:52 they leave with two lawyers", false)
        .unwrap();
    let second = v.seal_now(id).unwrap();
    assert_eq!(second.amends, Some(first.id));
    assert_eq!(second.document().unwrap().log.len(), 2);

    // The editor keeps edits of a sealed incident as its draft; sealing turns them into the
    // next amendment and clears the draft.
    let mut edited = v.incident(id).unwrap();
    edited.title = "Lawyers' meeting broken up; two lawyers detained".into();
    assert_eq!(v.update_incident(&edited).unwrap_err().code(), "sealed");
    v.save_draft(&edited).unwrap();
    let third = v.seal_now(id).unwrap();
    assert_eq!(third.amends, Some(second.id));
    assert_eq!(
        third.document().unwrap().incident.title,
        "Lawyers' meeting broken up; two lawyers detained"
    );
    assert_eq!(
        v.incident(id).unwrap().title,
        third.document().unwrap().incident.title
    );
    assert!(v.draft(id).unwrap().is_none());
    assert_eq!(v.seal_now(id).unwrap_err().code(), "nothing_to_seal");

    // Every earlier revision is as it was; the chain verifies.
    let revs = v.revisions(id).unwrap();
    assert_eq!(revs, vec![first.clone(), second, third]);
    assert_eq!(
        revs[0].document().unwrap().incident.title,
        "Lawyers' meeting broken up"
    );
    v.verify_chain().unwrap();
}

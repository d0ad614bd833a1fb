//! Trust at HQ: every attack on HQ's view of a record is refused or kept in quarantine, with
//! HQ's tables exactly as they were, and the real monitor's next amendment still arrives.
//! Enrolment, revocation, reused and expired invitations, quarantine, forks, the older format
//! and the bundle limits.
//!
//! Every forged bundle here is made from a real monitor's bundle, changed, and signed with the
//! attacker's own keys, as an attacker holding the organisation profile (and, for an insider,
//! a real enrolment) could.

#![allow(clippy::unwrap_used)]

use vigil_fixtures as support;

use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use support::*;
use vigil_crypto::sign::DeviceKeys;
use vigil_exchange::{accept, import};
use vigil_store::{FixedClock, QuarantineLimits, Vault};

fn new_id() -> Value {
    json!(uuid::Uuid::now_v7().to_string())
}

/// Shows that nothing of an outsider's bundle took: it is in quarantine (or refused); a person
/// accepting it by mistake is refused with `code`; dropping it leaves HQ byte-identical.
fn refused_even_if_accepted(hq: &mut Vault, bundle: &Path, by: &dyn Signer, code: &str) {
    let digest = hq.content_digest().unwrap();
    let got = outcome(hq, bundle);
    assert!(got.starts_with("quarantined:"), "{got}");
    let key = hex::encode(by.public().sign_pk);
    let e = accept(hq, &key).unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    assert_eq!(hq.quarantine().unwrap().len(), 1, "still kept for a person");
    assert_eq!(hq.drop_quarantined(&key).unwrap(), 1);
    assert_eq!(hq.content_digest().unwrap(), digest, "byte-identical");
}

/// The real monitor amends `x` (a new running-log entry), and HQ takes it and shows it.
fn next_amendment_arrives(
    hq: &mut Vault,
    monitor: &mut Vault,
    x: vigil_model::IncidentId,
    dir: &Path,
) {
    monitor
        .append_log(x, "11:02 the police arrive", false)
        .unwrap();
    let rev = monitor.seal_now(x).unwrap();
    let b = send(monitor, dir, &format!("next-{}.vigil", rev.id));
    assert_eq!(outcome(hq, &b), "applied 1");
    assert_eq!(hq.lineage(x).unwrap().heads, vec![rev.id]);
    assert_eq!(hq.log_entries(x).unwrap(), monitor.log_entries(x).unwrap());
    assert_eq!(hq.incident(x).unwrap(), monitor.incident(x).unwrap());
}

/// Attack 1: a device HQ has never seen sends a revision of another monitor's incident, later
/// than the real one and amending nothing, to become its head.
#[test]
fn an_unknown_device_cannot_replace_an_incident() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Aigul's laptop");
    let x = seal_new(&mut monitor, "Lawyers' meeting broken up");
    let first = send(&mut monitor, root, "first.vigil");
    assert_eq!(outcome(&mut hq, &first), "applied 1");
    let before = view(&hq, x);
    let o = Opened::open(&hq, &first);

    let attacker = DeviceKeys::generate().unwrap();
    let mut doc = o.doc();
    doc["id"] = new_id();
    doc["sealed_at"] = json!("2030-01-01T00:00:00+00:00");
    doc["incident"]["title"] = json!("Nothing happened");
    doc["incident"]["summary"] = json!("The meeting ended normally.");
    let rev = revision_entry(&mut doc, &attacker);
    let mut files = vec![rev];
    files.extend(o.attachments());
    // With no certificate, and with the real monitor's certificate copied from its bundle.
    for (name, cert) in [("plain.vigil", None), ("copied.vigil", o.certificate())] {
        let b = forge(&o, &attacker, cert, files.clone(), &root.join(name));
        refused_even_if_accepted(&mut hq, &b, &attacker, "incident_taken");
        assert_eq!(view(&hq, x), before);
    }
    next_amendment_arrives(&mut hq, &mut monitor, x, root);
}

/// Attack 2: running-log entries added to another monitor's incident, under that monitor's
/// name, through a revision of a different incident, at the places the real monitor's next
/// entries will take.
#[test]
fn no_one_writes_in_another_monitors_running_log() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Aigul's laptop");
    let x = seal_new(&mut monitor, "Lawyers' meeting broken up");
    let first = send(&mut monitor, root, "first.vigil");
    assert_eq!(outcome(&mut hq, &first), "applied 1");
    let before = view(&hq, x);
    let o = Opened::open(&hq, &first);
    let victim = monitor.device().to_string();
    let attacker = DeviceKeys::generate().unwrap();

    // A revision of the attacker's own new incident, carrying an entry of X at place 3 under
    // the monitor's name, and one carrying an entry of its own incident under that name.
    let forged_entry = |incident: &Value| {
        json!({
            "id": uuid::Uuid::now_v7().to_string(), "incident": incident, "seq": 3,
            "at": "2019-05-23T10:50:00+06:00", "text": "10:50 the lawyers leave of their own will",
            "device": victim, "flagged": false,
        })
    };
    let own_incident = vigil_model::IncidentId::new().to_string();
    for (name, target, code) in [
        ("other.vigil", json!(x.to_string()), "entry_wrong_incident"),
        ("own.vigil", json!(own_incident), "entry_foreign_device"),
    ] {
        let mut doc = o.doc();
        doc["id"] = new_id();
        doc["incident"]["id"] = json!(own_incident);
        for e in doc["log"].as_array_mut().unwrap() {
            e["incident"] = json!(own_incident);
            e["id"] = new_id();
            e["device"] = json!(attacker.device());
        }
        doc["log"]
            .as_array_mut()
            .unwrap()
            .push(forged_entry(&target));
        doc["attachments"] = json!([]);
        let rev = revision_entry(&mut doc, &attacker);
        let b = forge(&o, &attacker, None, vec![rev], &root.join(name));
        refused_even_if_accepted(&mut hq, &b, &attacker, code);
        assert_eq!(view(&hq, x), before);
    }
    next_amendment_arrives(&mut hq, &mut monitor, x, root);
    assert_eq!(
        hq.log_entries(x).unwrap()[2].text,
        "11:02 the police arrive"
    );
}

/// Attack 3: someone claims a monitor's device id with another key before that monitor's first
/// bundle, to have its bundles refused.
#[test]
fn a_device_id_cannot_be_claimed_with_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Aigul's laptop");
    let x = seal_new(&mut monitor, "Lawyers' meeting broken up");
    // The attacker learnt the id (and even got the bundle's contents) before HQ saw any of it.
    let first = send(&mut monitor, root, "first.vigil");
    let o = Opened::open(&hq, &first);
    let digest = hq.content_digest().unwrap();
    let attacker = DeviceKeys::generate().unwrap();

    /// Signs as the attacker, but gives the monitor's id.
    struct Claimer<'a>(&'a DeviceKeys, vigil_model::DeviceId);
    impl Signer for Claimer<'_> {
        fn device(&self) -> vigil_model::DeviceId {
            self.1
        }
        fn public(&self) -> vigil_crypto::sign::DevicePublic {
            self.0.public()
        }
        fn sign(&self, bytes: &[u8]) -> [u8; 64] {
            self.0.sign(bytes).0
        }
    }
    let claimer = Claimer(&attacker, monitor.device());
    let mut doc = o.doc();
    doc["id"] = new_id();
    let rev = revision_entry(&mut doc, &claimer);
    for (name, cert) in [("a.vigil", None), ("b.vigil", o.certificate())] {
        let b = forge(&o, &claimer, cert, vec![rev.clone()], &root.join(name));
        assert_eq!(outcome(&mut hq, &b), "device_id_forged");
        assert_eq!(hq.content_digest().unwrap(), digest, "not even kept");
    }
    // The id in a revision only, under the attacker's own manifest.
    let b = forge(&o, &attacker, None, vec![rev], &root.join("c.vigil"));
    assert_eq!(outcome(&mut hq, &b), "device_id_forged");
    assert_eq!(hq.content_digest().unwrap(), digest);

    assert_eq!(outcome(&mut hq, &first), "applied 1");
    assert_eq!(hq.devices().unwrap()[0].device, monitor.device());
    next_amendment_arrives(&mut hq, &mut monitor, x, root);
}

/// Attack 4: another organisation's genuine revisions carried in, to pass as verified.
#[test]
fn another_organisations_revisions_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq_a = hq(&root.join("hq-a"));
    let mut monitor_a = enrolled(&mut hq_a, &root.join("monitor-a"), "A's laptop");
    seal_new(&mut monitor_a, "Sealed for organisation A");
    let bundle_a = send(&mut monitor_a, root, "a.vigil");
    let from_a = Opened::open(&hq_a, &bundle_a);

    let mut hq_b = hq(&root.join("hq-b"));
    let mut monitor_b = enrolled(&mut hq_b, &root.join("monitor-b"), "B's laptop");
    let y = seal_new(&mut monitor_b, "Sealed for organisation B");
    let bundle_b = send(&mut monitor_b, root, "b.vigil");
    assert_eq!(outcome(&mut hq_b, &bundle_b), "applied 1");
    let before = view(&hq_b, y);
    let digest = hq_b.content_digest().unwrap();
    let to_b = Opened::open(&hq_b, &bundle_b);

    // A's genuine revision, exactly as A's monitor signed it, in a bundle for B signed by the
    // same monitor (with its certificate from A): B cannot trust it, and a person accepting it
    // is refused, because the revision names organisation A.
    let mut genuine = vec![(
        from_a
            .files
            .iter()
            .find(|f| f.0.starts_with("revisions/"))
            .unwrap()
            .0
            .clone(),
        from_a.revision().to_vec(),
    )];
    genuine.extend(from_a.attachments());
    let b = forge(
        &to_b,
        &monitor_a,
        from_a.certificate(),
        genuine.clone(),
        &root.join("carried.vigil"),
    );
    refused_even_if_accepted(&mut hq_b, &b, &monitor_a, "wrong_organisation");
    // An insider of B carrying it: refused at once, the revision is not its own.
    let b = forge(
        &to_b,
        &monitor_b,
        to_b.certificate(),
        genuine,
        &root.join("insider.vigil"),
    );
    assert_eq!(outcome(&mut hq_b, &b), "foreign_revision");
    assert_eq!(hq_b.content_digest().unwrap(), digest);
    assert_eq!(view(&hq_b, y), before);
    next_amendment_arrives(&mut hq_b, &mut monitor_b, y, root);
}

/// A properly enrolled second monitor amends the first monitor's incident, and writes an entry
/// under the first monitor's name: each refused with its own code. With the organisation's
/// grant, its amendment is taken.
#[test]
fn an_enrolled_insider_is_held_to_its_own_records() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut a = enrolled(&mut hq, &root.join("a"), "Aigul's laptop");
    let mut b = enrolled(&mut hq, &root.join("b"), "Bakyt's laptop");
    let x = seal_new(&mut a, "Lawyers' meeting broken up");
    let from_a = send(&mut a, root, "a.vigil");
    assert_eq!(outcome(&mut hq, &from_a), "applied 1");
    let y = seal_new(&mut b, "Detention visit");
    let from_b = send(&mut b, root, "b.vigil");
    assert_eq!(outcome(&mut hq, &from_b), "applied 1");
    let before = view(&hq, x);
    let digest = hq.content_digest().unwrap();
    let oa = Opened::open(&hq, &from_a);
    let ob = Opened::open(&hq, &from_b);
    let b_first = ob.doc();

    // B's next revision: an amendment of A's incident X.
    let mut doc = oa.doc();
    let amends = doc["id"].clone();
    doc["id"] = new_id();
    doc["amends"] = amends;
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&b_first));
    doc["incident"]["summary"] = json!("Rewritten by another monitor.");
    let takeover = revision_entry(&mut doc, &b);
    let bundle = forge(
        &ob,
        &b,
        ob.certificate(),
        vec![takeover.clone()],
        &root.join("takeover.vigil"),
    );
    assert_eq!(outcome(&mut hq, &bundle), "not_authorised");
    assert_eq!(hq.content_digest().unwrap(), digest);

    // B's next revision of its own incident Y, carrying an entry under A's name.
    let mut doc = ob.doc();
    let amends = doc["id"].clone();
    doc["id"] = new_id();
    doc["amends"] = amends;
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&b_first));
    let mut entry = doc["log"][0].clone();
    entry["id"] = new_id();
    entry["seq"] = json!(3);
    entry["device"] = json!(a.device());
    doc["log"].as_array_mut().unwrap().push(entry);
    let posing = revision_entry(&mut doc, &b);
    let bundle = forge(
        &ob,
        &b,
        ob.certificate(),
        vec![posing],
        &root.join("posing.vigil"),
    );
    assert_eq!(outcome(&mut hq, &bundle), "entry_foreign_device");
    assert_eq!(hq.content_digest().unwrap(), digest);
    assert_eq!(view(&hq, x), before);
    assert!(
        hq.log_entries(y)
            .unwrap()
            .iter()
            .all(|e| e.device == b.device())
    );

    // The organisation hands X to B: now B's amendment is taken.
    hq.grant(x, &b.device().to_string()).unwrap();
    let bundle = forge(
        &ob,
        &b,
        ob.certificate(),
        vec![takeover],
        &root.join("granted.vigil"),
    );
    assert_eq!(outcome(&mut hq, &bundle), "applied 1");
    assert_eq!(
        hq.incident(x).unwrap().summary,
        "Rewritten by another monitor."
    );
}

/// Two authorised revisions amending the same one, in either order: both kept, the conflict
/// shown (the record as it was where they parted); a third revision amending one of them
/// continues that branch.
#[test]
fn forks_are_kept_and_shown_whatever_the_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq1 = hq(&root.join("hq1"));
    let mut a = enrolled(&mut hq1, &root.join("a"), "Aigul's laptop");
    let b = enrolled(&mut hq1, &root.join("b"), "Bakyt's laptop");
    let x = seal_new(&mut a, "Lawyers' meeting broken up");
    let first = send(&mut a, root, "first.vigil");
    assert_eq!(outcome(&mut hq1, &first), "applied 1");
    let r1 = hq1.lineage(x).unwrap().heads[0];
    let title = hq1.incident(x).unwrap().title;
    hq1.grant(x, &b.device().to_string()).unwrap();
    // B's amendment of r1 (its first revision): the summary changed, and B's own running-log
    // entry at the next place, the same place A's next entry takes (places are per device).
    let oa = Opened::open(&hq1, &first);
    let mut doc = oa.doc();
    doc["id"] = new_id();
    doc["amends"] = json!(r1.to_string());
    doc["incident"]["summary"] = json!("Two lawyers were taken away.");
    let log = doc["log"].as_array_mut().unwrap();
    let mut mine = log[0].clone();
    mine["id"] = new_id();
    mine["seq"] = json!(log.len() + 1);
    mine["device"] = json!(b.device().to_string());
    mine["text"] = json!("10:53 a van at the door");
    log.push(mine);
    let b_rev = revision_entry(&mut doc, &b);
    let b_id: vigil_store::RevisionId = doc["id"].as_str().unwrap().parse().unwrap();
    let b_cert = b.certificate().unwrap().map(|c| c.bytes().to_vec());
    let from_b = forge(&oa, &b, b_cert, vec![b_rev], &root.join("b.vigil"));
    // A's amendment of r1: a new running-log entry.
    a.append_log(x, "10:52 they leave with two lawyers", false)
        .unwrap();
    let r2 = a.seal_now(x).unwrap();
    let from_a = send(&mut a, root, "a2.vigil");

    // The same HQ twice, to receive them in either order.
    hq1.close().unwrap();
    copy_dir(&root.join("hq1"), &root.join("hq2"));
    let open =
        |p: &str| Vault::open(&root.join(p), &pass(), Arc::new(vigil_store::SystemClock)).unwrap();
    let (mut hq1, mut hq2) = (open("hq1"), open("hq2"));
    assert_eq!(outcome(&mut hq1, &from_a), "applied 1");
    let r = import(&mut hq1, &from_b).unwrap();
    assert_eq!((r.applied, r.forks.clone()), (1, vec![x.to_string()]));
    assert_eq!(outcome(&mut hq2, &from_b), "applied 1");
    let r = import(&mut hq2, &from_a).unwrap();
    assert_eq!((r.applied, r.forks.clone()), (1, vec![x.to_string()]));

    let mut heads = vec![r2.id, b_id];
    heads.sort();
    for hq in [&hq1, &hq2] {
        let l = hq.lineage(x).unwrap();
        assert_eq!((l.heads.clone(), l.shown), (heads.clone(), Some(r1)));
        // Shown as it was where the versions part, with every entry kept.
        let shown = hq.incident(x).unwrap();
        assert_eq!(
            (shown.title.as_str(), shown.summary.as_str()),
            (title.as_str(), "Nine men broke into the lawyers' meeting.")
        );
        let log = hq.log_entries(x).unwrap();
        assert_eq!(log.len(), 4);
        assert_eq!(log[2].seq, log[3].seq, "{log:?}");
        let p = hq.provenance(x).unwrap();
        assert_eq!(p.heads, heads, "history shows the conflict");
    }
    assert_eq!(view(&hq1, x), view(&hq2, x));

    // A third revision, amending A's: that branch goes on; the fork stays for a person.
    a.append_log(x, "11:02 the police arrive", false).unwrap();
    let r3 = a.seal_now(x).unwrap();
    assert_eq!(r3.amends, Some(r2.id));
    let from_a = send(&mut a, root, "a3.vigil");
    let mut heads = vec![r3.id, b_id];
    heads.sort();
    for hq in [&mut hq1, &mut hq2] {
        let r = import(hq, &from_a).unwrap();
        assert_eq!(r.forks, vec![x.to_string()]);
        let l = hq.lineage(x).unwrap();
        assert_eq!((l.heads, l.shown), (heads.clone(), Some(r1)));
        assert_eq!(
            hq.amend(x, &hq.incident(x).unwrap()).unwrap_err().code(),
            "incident_forked"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "vault.lock" {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Revocation: what a device sealed before it stays. Whatever new it sends afterwards waits for
/// a person, because its key may be a thief's and a thief sets the clock back; and even a person
/// accepting cannot bring in what claims to be sealed after the revocation.
#[test]
fn a_revoked_device_keeps_its_past_and_loses_its_future() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let t0 = chrono::DateTime::parse_from_rfc3339("2019-05-23T10:00:00+06:00").unwrap();
    let hq_clock = Arc::new(FixedClock::new(t0));
    let mut hq = vault_with(&root.join("hq"), hq_clock.clone());
    hq.create_org("Coalition HQ", 1).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let mut monitor = enrolled_with(
        &mut hq,
        &root.join("monitor"),
        "Aigul's laptop",
        clock.clone(),
    );
    let key = hex::encode(monitor.device_public().sign_pk);
    clock.advance(Duration::hours(1));
    let x = seal_new(&mut monitor, "Lawyers' meeting broken up");
    assert_eq!(
        outcome(&mut hq, &send(&mut monitor, root, "1.vigil")),
        "applied 1"
    );
    clock.advance(Duration::hours(2));
    monitor
        .append_log(x, "before the revocation", false)
        .unwrap();
    let before_revocation = monitor.seal_now(x).unwrap();

    hq_clock.advance(Duration::hours(4));
    let revoked = hq.revoke_device(&monitor.device().to_string()).unwrap();
    assert_eq!(revoked.revoked_at, Some(t0 + Duration::hours(4)));
    // Sealed before the revocation, sent after it: kept for a person, who confirms it with the
    // monitor and accepts it.
    assert_eq!(
        outcome(&mut hq, &send(&mut monitor, root, "2.vigil")),
        "quarantined:device_revoked"
    );
    assert_eq!(hq.log_entries(x).unwrap().len(), 2, "nothing applied yet");
    let reports = accept(&mut hq, &key).unwrap();
    assert_eq!(
        (reports[0].applied, reports[0].refused_after_revocation),
        (1, 0)
    );
    assert_eq!(hq.lineage(x).unwrap().heads, vec![before_revocation.id]);

    // The laptop is seized; the thief sets its clock back before the revocation and seals.
    clock.set(t0 + Duration::hours(5));
    clock.set(t0 + Duration::minutes(210));
    monitor
        .append_log(x, "forged by whoever holds the laptop", false)
        .unwrap();
    let forged = monitor.seal_now(x).unwrap();
    assert!(forged.sealed_at < revoked.revoked_at.unwrap());
    let digest = hq.content_digest().unwrap();
    assert_eq!(
        outcome(&mut hq, &send(&mut monitor, root, "3.vigil")),
        "quarantined:device_revoked"
    );
    assert_eq!(hq.lineage(x).unwrap().heads, vec![before_revocation.id]);
    // The monitor does not recognise it: HQ drops it, and nothing of it was ever applied.
    assert_eq!(hq.drop_quarantined(&key).unwrap(), 1);
    assert_eq!(hq.content_digest().unwrap(), digest);

    // Sealed after the revocation by the device's own clock: refused even when accepted.
    clock.set(t0 + Duration::hours(6));
    monitor
        .append_log(x, "after the revocation", false)
        .unwrap();
    monitor.seal_now(x).unwrap();
    assert_eq!(
        outcome(&mut hq, &send(&mut monitor, root, "4.vigil")),
        "quarantined:device_revoked"
    );
    let reports = accept(&mut hq, &key).unwrap();
    assert_eq!(
        (reports[0].applied, reports[0].refused_after_revocation),
        (0, 1)
    );
    assert!(hq.quarantine().unwrap().is_empty());
    assert_eq!(hq.lineage(x).unwrap().heads, vec![before_revocation.id]);
    assert_eq!(hq.log_entries(x).unwrap().len(), 3);
    assert!(hq.devices().unwrap()[0].revoked_at.is_some());
}

/// Quarantine is bounded (by bundles and by bytes), and a forger cannot hide another sender's
/// bundle by sending its id first.
#[test]
fn quarantine_is_bounded_and_a_bundle_id_cannot_be_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut bundles = Vec::new();
    let mut keys = Vec::new();
    for i in 0..3 {
        let mut stranger = vault(&root.join(format!("stranger{i}")));
        stranger.join_org(&profile(&hq)).unwrap();
        seal_new(&mut stranger, "Detention visit");
        bundles.push(send(&mut stranger, root, &format!("{i}.vigil")));
        keys.push(hex::encode(stranger.device_public().sign_pk));
    }

    // Someone who saw the third bundle's id sends a bundle of its own under it, first.
    let genuine = Opened::open(&hq, &bundles[2]);
    let forger = DeviceKeys::generate().unwrap();
    let mut doc = genuine.doc();
    doc["id"] = new_id();
    doc["device"] = json!(forger.device().to_string());
    let rev = revision_entry(&mut doc, &forger);
    let forged = forge_with_id(
        &genuine,
        &forger,
        None,
        vec![rev],
        &root.join("forged.vigil"),
        genuine.manifest.bundle_id,
    );
    assert_eq!(outcome(&mut hq, &forged), "quarantined:no_certificate");
    assert_eq!(outcome(&mut hq, &bundles[2]), "quarantined:no_certificate");
    let held = hq.quarantine().unwrap();
    assert_eq!(held.len(), 2, "the genuine bundle is kept on its own");
    assert!(held.iter().any(|e| hex::encode(e.sign_pk) == keys[2]));
    // The same file again is kept once.
    assert_eq!(outcome(&mut hq, &bundles[2]), "quarantined:no_certificate");
    assert_eq!(hq.quarantine().unwrap().len(), 2);

    // Full by count: refused, nothing changes.
    hq.set_quarantine_limits(QuarantineLimits {
        bundles: 2,
        bytes: 1 << 30,
    });
    let digest = hq.content_digest().unwrap();
    assert_eq!(outcome(&mut hq, &bundles[0]), "quarantine_full");
    assert_eq!(hq.content_digest().unwrap(), digest);
    // Full by size: likewise.
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    hq.set_quarantine_limits(QuarantineLimits {
        bundles: 10,
        bytes: size(&forged) + size(&bundles[2]) + size(&bundles[0]) - 1,
    });
    assert_eq!(outcome(&mut hq, &bundles[0]), "quarantine_full");
    assert_eq!(hq.content_digest().unwrap(), digest);
    // A person drops one; there is room again.
    assert_eq!(
        hq.drop_quarantined(&hex::encode(forger.public().sign_pk))
            .unwrap(),
        1
    );
    assert_eq!(outcome(&mut hq, &bundles[0]), "quarantined:no_certificate");
    // A trusted sender is never held up by a full quarantine.
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Aigul's laptop");
    hq.set_quarantine_limits(QuarantineLimits {
        bundles: 0,
        bytes: 0,
    });
    seal_new(&mut monitor, "Hearing");
    assert_eq!(
        outcome(&mut hq, &send(&mut monitor, root, "m.vigil")),
        "applied 1"
    );
}

/// An invitation used by two devices: the first wins, the second is kept in quarantine and
/// reported; a person can accept it after comparing its key.
#[test]
fn a_reused_invitation_serves_its_first_device_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    let file = invitation.expose_file_bytes();
    let mut first = vault(&root.join("first"));
    let mut second = vault(&root.join("second"));
    for v in [&mut first, &mut second] {
        v.join_and_enrol(&profile(&hq), &file).unwrap();
    }
    assert_eq!(hq.pending_invitations().unwrap().len(), 1);
    let x = seal_new(&mut first, "Lawyers' meeting broken up");
    assert_eq!(
        outcome(&mut hq, &send(&mut first, root, "1.vigil")),
        "applied 1"
    );
    assert!(hq.pending_invitations().unwrap().is_empty());

    let y = seal_new(&mut second, "Detention visit");
    let from_second = send(&mut second, root, "2.vigil");
    let digest = hq.content_digest().unwrap();
    assert_eq!(
        outcome(&mut hq, &from_second),
        "quarantined:invitation_reused"
    );
    let held = hq.quarantine().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].device, second.device());
    assert!(
        held[0].detail.contains(&first.device().to_string()),
        "{}",
        held[0].detail
    );
    // The name belongs to the device that used the invitation first: it is not lent to this one.
    assert_eq!(held[0].name, None);
    // Importing it again keeps it once.
    assert_eq!(
        outcome(&mut hq, &from_second),
        "quarantined:invitation_reused"
    );
    assert_eq!(hq.quarantine().unwrap().len(), 1);
    assert!(hq.incident(y).is_err());

    // Dropping it leaves HQ as it was; accepting it (sent again) applies it as an import would.
    hq.drop_quarantined(&second.device().to_string()).unwrap();
    assert_eq!(hq.content_digest().unwrap(), digest);
    assert_eq!(
        outcome(&mut hq, &from_second),
        "quarantined:invitation_reused"
    );
    let reports = accept(&mut hq, &hex::encode(second.device_public().sign_pk)[..16]).unwrap();
    assert_eq!(
        (reports.len(), reports[0].applied, reports[0].attachments),
        (1, 1, 1)
    );
    assert_eq!(hq.incident(y).unwrap(), second.incident(y).unwrap());
    assert_eq!(hq.log_entries(y).unwrap(), second.log_entries(y).unwrap());
    let devices = hq.devices().unwrap();
    assert_eq!(devices.len(), 2);
    assert!(
        devices
            .iter()
            .any(|d| d.device == second.device() && d.trust == vigil_store::DeviceTrust::Accepted)
    );
    // From now on its bundles are taken like any registered device's.
    second.append_log(y, "13:00 released", false).unwrap();
    second.seal_now(y).unwrap();
    assert_eq!(
        outcome(&mut hq, &send(&mut second, root, "3.vigil")),
        "applied 1"
    );
    assert!(hq.incident(x).is_ok());
}

/// A certificate made after its invitation expired (a device whose clock was set to suit it):
/// kept in quarantine.
#[test]
fn an_expired_invitation_is_not_enough() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let invitation = hq.issue_invitation("Aigul's laptop", 1).unwrap();
    let profile_text = profile(&hq);
    // The monitor's own app refuses an expired invitation.
    let later = hq.now() + Duration::days(3);
    let mut late = vault_with(&root.join("late"), Arc::new(FixedClock::new(later)));
    assert_eq!(
        late.join_and_enrol(&profile_text, &invitation.expose_file_bytes())
            .unwrap_err()
            .code(),
        "invitation_unusable"
    );
    // A modified one makes the certificate anyway, and a bundle with it.
    let keys = DeviceKeys::generate().unwrap();
    let p = vigil_store::OrgProfile::parse_and_verify(&profile_text).unwrap();
    let cert =
        vigil_ledger::enrolment::Invitation::from_file_bytes(&invitation.expose_file_bytes(), &p)
            .unwrap()
            .enrol(&keys, keys.device(), later)
            .unwrap();
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Another laptop");
    seal_new(&mut monitor, "A real bundle to forge from");
    let real = send(&mut monitor, root, "real.vigil");
    let o = Opened::open(&hq, &real);
    let mut doc = o.doc();
    doc["id"] = new_id();
    doc["incident"]["id"] = json!(vigil_model::IncidentId::new().to_string());
    let incident = doc["incident"]["id"].clone();
    for e in doc["log"].as_array_mut().unwrap() {
        e["id"] = new_id();
        e["incident"] = incident.clone();
        e["device"] = json!(keys.device());
    }
    doc["attachments"] = json!([]);
    let rev = revision_entry(&mut doc, &keys);
    let digest = hq.content_digest().unwrap();
    let b = forge(
        &o,
        &keys,
        Some(cert.bytes().to_vec()),
        vec![rev],
        &root.join("late.vigil"),
    );
    assert_eq!(outcome(&mut hq, &b), "quarantined:invitation_expired");
    hq.drop_quarantined(&keys.device().to_string()).unwrap();
    assert_eq!(hq.content_digest().unwrap(), digest);
}

/// A bundle written before enrolment existed (kept as a fixture, made with that version's
/// code) arrives in quarantine at an HQ vault of that version, and accepting it applies it.
/// The monitor's vault of that version then enrols, takes the id its key makes, and its next
/// amendment of the same record is taken.
#[test]
fn an_older_bundle_arrives_in_quarantine_and_its_monitor_can_enrol() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    copy_dir(&fixture, &root.join("v1"));
    std::fs::create_dir_all(root.join("v1/hq/blobs")).unwrap();
    let fixture_pass = vigil_crypto::Passphrase::new("fixture passphrase".into());
    let open = |p: &str| {
        Vault::open(
            &root.join("v1").join(p),
            &fixture_pass,
            Arc::new(vigil_store::SystemClock),
        )
        .unwrap()
    };
    let mut hq = open("hq");
    let x: vigil_model::IncidentId = std::fs::read_to_string(fixture.join("incident-id"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let legacy: vigil_model::DeviceId = std::fs::read_to_string(fixture.join("monitor-device-id"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let bundle = fixture.join("bundle.vigil");
    assert_eq!(outcome(&mut hq, &bundle), "quarantined:no_certificate");
    assert!(hq.incident(x).is_err());
    let held = hq.quarantine().unwrap();
    assert_eq!((held[0].device, held[0].revisions), (legacy, 2));

    let reports = accept(&mut hq, &legacy.to_string()).unwrap();
    assert_eq!((reports[0].applied, reports[0].attachments), (2, 1));
    assert_eq!(hq.log_entries(x).unwrap().len(), 3);
    assert_eq!(hq.revisions(x).unwrap().len(), 2);
    hq.verify_chain().unwrap();
    assert_eq!(
        hq.provenance(x)
            .unwrap()
            .revisions
            .iter()
            .filter(|r| r.verified)
            .count(),
        2
    );

    // The monitor, on the older vault: it enrols and takes the id its key makes.
    let mut monitor = open("monitor");
    assert_eq!(monitor.device(), legacy);
    let invitation = hq.issue_invitation("Aigul's old laptop", 14).unwrap();
    monitor.enrol(&invitation.expose_file_bytes()).unwrap();
    assert_ne!(monitor.device(), legacy);
    assert_eq!(
        monitor.device(),
        vigil_ledger::ids::device_id_for(&monitor.device_public().sign_pk)
    );
    monitor
        .append_log(x, "11:30 a new entry after enrolling", false)
        .unwrap();
    let rev = monitor.seal_now(x).unwrap();
    assert_eq!((rev.device_seq, rev.device), (1, monitor.device()));
    monitor.verify_chain().unwrap();
    let next = send(&mut monitor, root, "next.vigil");
    assert_eq!(outcome(&mut hq, &next), "applied 1");
    assert_eq!(hq.lineage(x).unwrap().heads, vec![rev.id]);
    assert_eq!(hq.log_entries(x).unwrap(), monitor.log_entries(x).unwrap());
    assert_eq!(hq.devices().unwrap()[0].device, monitor.device());
    // Its invitation is recorded now: it is enrolled, and no other device can use it.
    assert_eq!(
        hq.devices().unwrap()[0].trust,
        vigil_store::DeviceTrust::Enrolled
    );
    assert!(hq.pending_invitations().unwrap().is_empty());
    hq.verify_chain().unwrap();

    // Another HQ of the organisation (the fixture's, as it was) receives everything at once:
    // revisions under both ids, the newest amending one under the old id. It holds the old id
    // for a person (never seen with this key); accepted, each is applied after the one it
    // amends and its chain's previous, whatever order the ids sort in.
    copy_dir(&fixture.join("hq"), &root.join("v1/hq2"));
    std::fs::create_dir_all(root.join("v1/hq2/blobs")).unwrap();
    let mut hq2 = open("hq2");
    let all = root.join("all.vigil");
    vigil_exchange::export(&mut monitor, &vigil_exchange::Selection::All, &all).unwrap();
    assert_eq!(outcome(&mut hq2, &all), "quarantined:former_id");
    let reports = accept(&mut hq2, &monitor.device().to_string()).unwrap();
    assert_eq!(reports[0].applied, 3);
    assert_eq!(hq2.lineage(x).unwrap().heads, vec![rev.id]);
    assert_eq!(hq2.log_entries(x).unwrap(), monitor.log_entries(x).unwrap());
    hq2.verify_chain().unwrap();
}

/// The limits a bundle's manifest must keep are checked before any entry is read.
#[test]
fn bundles_over_the_limits_are_refused_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = hq(&root.join("hq"));
    let mut monitor = enrolled(&mut hq, &root.join("monitor"), "Aigul's laptop");
    seal_new(&mut monitor, "x");
    let real = send(&mut monitor, root, "real.vigil");
    let o = Opened::open(&hq, &real);
    let digest = hq.content_digest().unwrap();
    let sha = hex::encode([0u8; 32]);
    let big = vigil_bundle::MAX_JSON_ENTRY;
    let cases: Vec<Vec<(String, u64)>> = vec![
        // One JSON entry over its limit.
        vec![("custody/log.jsonl".into(), big + 1)],
        // JSON entries together over theirs.
        (0..5)
            .map(|i| (format!("revisions/r{i}.json"), big))
            .collect(),
        // Too many entries.
        (0..=vigil_bundle::MAX_ENTRIES)
            .map(|i| (format!("attachments/{:064x}", i), 1))
            .collect(),
    ];
    for entries in cases {
        let manifest = vigil_bundle::Manifest::new(
            uuid::Uuid::now_v7(),
            chrono::Utc::now(),
            o.manifest.org_id,
            o.manifest.device.clone(),
            entries
                .into_iter()
                .map(|(path, size)| vigil_bundle::ManifestEntry {
                    path,
                    size,
                    sha256: sha.clone(),
                })
                .collect(),
        );
        let json = manifest.to_canonical_json().unwrap();
        let sig = hex::encode(monitor.device_sign(&json)).into_bytes();
        let mut t = bundle::Tar::default();
        t.head(&json, &sig).end();
        let file = root.join("over.vigil");
        std::fs::write(&file, bundle::encrypt_to(&t.bytes, &o.hq_recipients)).unwrap();
        assert_eq!(outcome(&mut hq, &file), "bundle.too_large");
        assert_eq!(hq.content_digest().unwrap(), digest);
    }
}

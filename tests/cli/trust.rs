//! Trust at HQ through the `vigil` command: each attack of issue 9 arrives as a bundle file
//! (forged from a real monitor's bundle with the attacker's own keys), and `vigil import` keeps
//! it in quarantine (exit 4) or refuses it (exit 1) with its own code; a person who accepts it
//! by mistake is refused too; HQ's tables are byte-identical afterwards; the real monitor goes
//! on. Then enrolment as HQ runs it: invite, devices, revoke, grant, quarantine, and a fork
//! shown by `show` and `history`.

use std::path::Path;

use serde_json::{Value, json};
use vigil_crypto::sign::DeviceKeys;

use crate::common::*;

pub(crate) use vigil_fixtures as support;

use support::{Opened, Signer, forge, hash_of, revision_entry};

fn new_id() -> Value {
    json!(uuid::Uuid::now_v7().to_string())
}

/// `vigil --json import FILE`: its exit code, and the quarantine reason or error code.
fn import(hq: &Env, file: &Path) -> (i32, String) {
    let out = hq.run(&["--json", "import", file.to_str().unwrap()]);
    let code = out.status.code().unwrap();
    let what = match code {
        0 => "applied".to_owned(),
        4 => {
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            report["quarantined"]["reason"].as_str().unwrap().to_owned()
        }
        _ => json_error_code(&out),
    };
    (code, what)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_attack_is_refused_by_the_cli_and_the_monitor_goes_on() {
    let (hq, monitor, profile) = organisation("Coalition HQ");
    let x = monitor.new_incident("Lawyers' meeting broken up");
    monitor.ok(&["log", &x, "10:30 nine men enter the office"]);
    monitor.ok(&["seal", &x]);
    let b1 = monitor.root.path().join("b1.vigil");
    monitor.ok(&["export", "--to", b1.to_str().unwrap()]);
    hq.ok(&["import", b1.to_str().unwrap()]);
    // An enrolled second monitor, the insider.
    let insider = Env::new();
    insider.init();
    let invitation = hq.root.path().join("second.invitation");
    hq.ok(&[
        "org",
        "invite",
        "--name",
        "Bakyt",
        "--out",
        invitation.to_str().unwrap(),
    ]);
    insider.ok(&[
        "org",
        "join",
        profile.to_str().unwrap(),
        "--invite",
        invitation.to_str().unwrap(),
    ]);
    let y = insider.new_incident("Detention visit");
    insider.ok(&["log", &y, "13:00 visit refused"]);
    insider.ok(&["seal", &y]);
    let b2 = insider.root.path().join("b2.vigil");
    insider.ok(&["export", "--to", b2.to_str().unwrap()]);
    hq.ok(&["import", b2.to_str().unwrap()]);

    // The attacks, made in this process with HQ's and each attacker's own keys.
    let dir = hq.root.path();
    let hq_vault = open_vault(&hq);
    let o = Opened::open(&hq_vault, &b1);
    let oi = Opened::open(&hq_vault, &b2);
    hq_vault.close().unwrap();
    let victim = o.doc()["device"].clone();
    let attacker = DeviceKeys::generate().unwrap();
    let mut cases: Vec<(&str, std::path::PathBuf, i32, &str, Option<&str>)> = Vec::new();

    // 1. An unknown device's first sealing of X, later than the real one.
    let mut doc = o.doc();
    doc["id"] = new_id();
    doc["sealed_at"] = json!("2030-01-01T00:00:00+00:00");
    doc["incident"]["title"] = json!("Nothing happened");
    let rev = revision_entry(&mut doc, &attacker);
    let mut files = vec![rev];
    files.extend(o.attachments());
    cases.push((
        "replace X",
        forge(&o, &attacker, o.certificate(), files, &dir.join("1.vigil")),
        4,
        "certificate_invalid",
        Some("incident_taken"),
    ));
    // 2. An entry of X under the monitor's name, in a revision of the attacker's own incident.
    let mut doc = o.doc();
    let own = vigil_model::IncidentId::new().to_string();
    doc["id"] = new_id();
    doc["incident"]["id"] = json!(own);
    let mut entry = doc["log"][0].clone();
    entry["id"] = new_id();
    entry["seq"] = json!(2);
    entry["incident"] = json!(x);
    entry["device"] = victim.clone();
    doc["log"] = json!([entry]);
    let rev = revision_entry(&mut doc, &attacker);
    cases.push((
        "entry under the monitor's name",
        forge(&o, &attacker, None, vec![rev], &dir.join("2.vigil")),
        4,
        "no_certificate",
        Some("entry_wrong_incident"),
    ));
    // 3. The monitor's device id claimed with the attacker's key.
    struct Claim<'a>(&'a DeviceKeys, vigil_model::DeviceId);
    impl Signer for Claim<'_> {
        fn device(&self) -> vigil_model::DeviceId {
            self.1
        }
        fn public(&self) -> vigil_crypto::sign::DevicePublic {
            self.0.public()
        }
        fn sign(&self, b: &[u8]) -> [u8; 64] {
            self.0.sign(b).0
        }
    }
    let claim = Claim(&attacker, serde_json::from_value(victim.clone()).unwrap());
    let mut doc = o.doc();
    doc["id"] = new_id();
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&o.doc()));
    let rev = revision_entry(&mut doc, &claim);
    cases.push((
        "the monitor's id, another key",
        forge(&o, &claim, None, vec![rev], &dir.join("3.vigil")),
        1,
        "device_id_forged",
        None,
    ));
    // 4. Another organisation's genuine revision: sent by its own monitor (whose certificate
    // is that organisation's), and carried by this organisation's insider.
    let (other_hq, other_monitor, _) = organisation("Another organisation");
    let z = other_monitor.new_incident("Sealed elsewhere");
    other_monitor.ok(&["seal", &z]);
    let b3 = other_monitor.root.path().join("b3.vigil");
    other_monitor.ok(&["export", "--to", b3.to_str().unwrap()]);
    let other_hq_vault = open_vault(&other_hq);
    let from_other = Opened::open(&other_hq_vault, &b3);
    other_hq_vault.close().unwrap();
    let genuine = from_other
        .files
        .iter()
        .find(|f| f.0.starts_with("revisions/"))
        .unwrap()
        .clone();
    let other_vault = open_vault(&other_monitor);
    cases.push((
        "another organisation's revision, from its monitor",
        forge(
            &o,
            &other_vault,
            from_other.certificate(),
            vec![genuine.clone()],
            &dir.join("4a.vigil"),
        ),
        4,
        "certificate_invalid",
        Some("wrong_organisation"),
    ));
    other_vault.close().unwrap();
    let insider_vault = open_vault(&insider);
    cases.push((
        "another organisation's revision, carried by the insider",
        forge(
            &oi,
            &insider_vault,
            oi.certificate(),
            vec![genuine],
            &dir.join("4b.vigil"),
        ),
        1,
        "foreign_revision",
        None,
    ));
    // 5. The insider amends X, and writes under the first monitor's name.
    let insider_first = oi.doc();
    let mut doc = o.doc();
    let amends = doc["id"].clone();
    doc["id"] = new_id();
    doc["amends"] = amends;
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&insider_first));
    doc["incident"]["summary"] = json!("Rewritten by another monitor");
    let rev = revision_entry(&mut doc, &insider_vault);
    cases.push((
        "the insider amends X",
        forge(
            &oi,
            &insider_vault,
            oi.certificate(),
            vec![rev],
            &dir.join("5.vigil"),
        ),
        1,
        "not_authorised",
        None,
    ));
    let mut doc = oi.doc();
    let amends = doc["id"].clone();
    doc["id"] = new_id();
    doc["amends"] = amends;
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&insider_first));
    let mut entry = doc["log"][0].clone();
    entry["id"] = new_id();
    entry["seq"] = json!(2);
    entry["device"] = victim.clone();
    doc["log"].as_array_mut().unwrap().push(entry);
    let rev = revision_entry(&mut doc, &insider_vault);
    cases.push((
        "the insider writes as the monitor",
        forge(
            &oi,
            &insider_vault,
            oi.certificate(),
            vec![rev],
            &dir.join("6.vigil"),
        ),
        1,
        "entry_foreign_device",
        None,
    ));
    insider_vault.close().unwrap();

    let before = tables(&hq);
    let shown = hq.ok(&["--json", "show", &x]);
    for (name, file, exit, what, accepted) in cases {
        assert_eq!(import(&hq, &file), (exit, what.to_owned()), "{name}");
        if let Some(code) = accepted {
            let listed = json(&hq.ok(&["--json", "quarantine", "list"]));
            let key = listed[0]["sign_pk"].as_str().unwrap().to_owned();
            let out = hq.run(&["--json", "quarantine", "accept", &key[..16]]);
            assert_eq!(out.status.code(), Some(1), "{name}");
            assert_eq!(json_error_code(&out), code, "{name}");
            hq.ok(&["quarantine", "drop", &key]);
        }
        assert_eq!(
            tables(&hq),
            before,
            "{name}: HQ's tables are byte-identical"
        );
        assert_eq!(hq.ok(&["--json", "show", &x]), shown, "{name}");
    }

    // The real monitor's next amendment still arrives and shows.
    monitor.ok(&["log", &x, "11:02 the police arrive"]);
    monitor.ok(&["seal", &x]);
    let b4 = monitor.root.path().join("b4.vigil");
    monitor.ok(&["export", "--to", b4.to_str().unwrap()]);
    assert_eq!(import(&hq, &b4), (0, "applied".to_owned()));
    let now = json(&hq.ok(&["--json", "show", &x]));
    assert_eq!(now["log"].as_array().unwrap().len(), 2);
    assert_eq!(now["log"][1]["text"], "11:02 the police arrive");
    assert_eq!(now["conflict"], Value::Null);
}

/// HQ runs enrolment from the command line: invitations, the device list with keys to read
/// out, a bundle kept in quarantine (exit 4) and accepted, a grant, a fork shown by `show` and
/// `history`, and a revocation.
#[test]
fn hq_runs_enrolment_from_the_command_line() {
    let (hq, monitor, profile) = organisation("Coalition HQ");
    let listed = hq.ok(&["org", "devices"]);
    assert!(listed.contains("No device is registered yet."), "{listed}");
    assert!(
        listed.contains("Invitation for \"Aigul's laptop\""),
        "{listed}"
    );
    let x = monitor.new_incident("Lawyers' meeting broken up");
    monitor.ok(&["log", &x, "10:30 nine men enter the office"]);
    monitor.ok(&["seal", &x]);
    let b1 = monitor.root.path().join("b1.vigil");
    monitor.ok(&["export", "--to", b1.to_str().unwrap()]);
    let imported = hq.ok(&["import", b1.to_str().unwrap()]);
    assert!(
        imported.contains("is now registered as enrolled"),
        "{imported}"
    );
    let key = {
        let v = open_vault(&monitor);
        let k = v.device_public().sign_pk;
        v.close().unwrap();
        k
    };
    let listed = hq.ok(&["org", "devices"]);
    assert!(listed.contains("Aigul's laptop"), "{listed}");
    assert!(
        listed.contains(&vigil_crypto::sign::grouped_hex(&key)),
        "{listed}"
    );
    assert!(
        !listed.contains("Invitation for"),
        "the invitation is used: {listed}"
    );

    // A monitor that joined with the profile only.
    let other = Env::new();
    other.init();
    let joined = other.ok(&["org", "join", profile.to_str().unwrap()]);
    assert!(joined.contains("Not enrolled"), "{joined}");
    let y = other.new_incident("Detention visit");
    other.ok(&["seal", &y]);
    let b2 = other.root.path().join("b2.vigil");
    other.ok(&["export", "--to", b2.to_str().unwrap()]);
    let out = hq.run(&["import", b2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("was NOT applied") && said.contains("quarantine"),
        "{said}"
    );
    let other_key = {
        let v = open_vault(&other);
        let k = v.device_public().sign_pk;
        v.close().unwrap();
        k
    };
    assert!(
        said.contains(&vigil_crypto::sign::grouped_hex(&other_key)),
        "{said}"
    );
    let held = hq.ok(&["quarantine", "list"]);
    assert!(held.contains("not enrolled by the organisation"), "{held}");
    assert_eq!(hq.run(&["show", &y]).status.code(), Some(1), "not applied");
    let accepted = hq.ok(&["quarantine", "accept", &hex::encode(other_key)[..12]]);
    assert!(accepted.contains("1 new revisions"), "{accepted}");
    assert!(hq.ok(&["show", &y]).contains("Detention visit"));
    assert!(hq.ok(&["org", "devices"]).contains("accepted by a person"));
    assert!(
        hq.ok(&["quarantine", "list"])
            .contains("Nothing is in quarantine.")
    );

    // The organisation hands X to the second device, which amends it while the first monitor
    // does too: both are kept, and `show` and `history` say so.
    let other_device = {
        let v = open_vault(&other);
        let d = v.device();
        v.close().unwrap();
        d
    };
    let granted = hq.ok(&["org", "grant", &x, &other_device.to_string()]);
    assert!(granted.contains("may now amend"), "{granted}");
    let hq_vault = open_vault(&hq);
    let o = Opened::open(&hq_vault, &b1);
    let ob = Opened::open(&hq_vault, &b2);
    hq_vault.close().unwrap();
    let other_vault = open_vault(&other);
    let mut doc = o.doc();
    let amends = doc["id"].clone();
    doc["id"] = new_id();
    doc["amends"] = amends;
    doc["device_seq"] = json!(2);
    doc["prev"] = json!(hash_of(&ob.doc()));
    doc["incident"]["summary"] = json!("Two lawyers were taken away.");
    let rev = revision_entry(&mut doc, &other_vault);
    let b3 = forge(
        &ob,
        &other_vault,
        None,
        vec![rev],
        &hq.root.path().join("b3.vigil"),
    );
    other_vault.close().unwrap();
    hq.ok(&["import", b3.to_str().unwrap()]);
    monitor.ok(&["log", &x, "10:52 they leave with two lawyers"]);
    monitor.ok(&["seal", &x]);
    let b4 = monitor.root.path().join("b4.vigil");
    monitor.ok(&["export", "--to", b4.to_str().unwrap()]);
    let out = hq.run(&["import", b4.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("now has two versions"),
        "{}",
        stderr(&out)
    );
    assert!(hq.ok(&["show", &x]).contains("CONFLICT: 2 versions"));
    assert!(hq.ok(&["history", &x]).contains("CONFLICT: 2 versions"));
    let shown = json(&hq.ok(&["--json", "show", &x]));
    assert_eq!(shown["conflict"].as_array().unwrap().len(), 2);

    // Revoked: what the first monitor seals from now on waits in quarantine.
    let revoked = hq.ok(&["org", "revoke", &hex::encode(key)[..8]]);
    assert!(revoked.contains("Revoked Aigul's laptop"), "{revoked}");
    assert!(hq.ok(&["org", "devices"]).contains("REVOKED"));
    monitor.ok(&["log", &x, "11:30 after the revocation"]);
    monitor.ok(&["seal", &x]);
    let b5 = monitor.root.path().join("b5.vigil");
    monitor.ok(&["export", "--to", b5.to_str().unwrap()]);
    assert_eq!(import(&hq, &b5), (4, "device_revoked".to_owned()));
}

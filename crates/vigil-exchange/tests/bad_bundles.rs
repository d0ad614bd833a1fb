//! HQ's vault against every bad bundle: the reader's whole corpus (made here from a real
//! monitor's bundle, signed with the monitor's real device key), plus the cases only a vault can
//! judge (revision signatures, chains, attachments, organisations, reused revision ids). Each is
//! rejected with its own code, and HQ's vault (every table, and its attachment store) is
//! exactly as it was, both when HQ has nothing yet from this monitor and when it already holds
//! the good bundle.

#![allow(clippy::unwrap_used)]

#[path = "../../vigil-bundle/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;

use common::corpus::{self, Case};
use common::{Tar, encrypt_to, new_key, read_all, sign_with, walk};
use vigil_bundle::{BundleReader, Manifest, ManifestEntry};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_exchange::{Selection, export, import};
use vigil_model::{Incident, IncidentId};
use vigil_store::{KdfChoice, SystemClock, Vault};

fn vault(path: &Path) -> Vault {
    Vault::create(
        path,
        &Passphrase::new("pass".into()),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn seal_new(v: &mut Vault, title: &str, attachment: &[u8]) -> IncidentId {
    let mut inc = Incident::new(IncidentId::new(), title, v.now());
    inc.summary = "Nine men broke into the lawyers' meeting.".into();
    v.create_incident(&inc).unwrap();
    v.append_log(inc.id, "10:30 nine men enter", true).unwrap();
    v.add_attachment(inc.id, "photo.jpg", "image/jpeg", attachment, None)
        .unwrap();
    v.seal(inc.id).unwrap();
    inc.id
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(vigil_crypto::sign::sha256(bytes))
}

/// A revision entry (`{"doc","format","sig","version"}`) with its document changed by `edit`
/// and signed again by `sign` over the SHA-256 of its canonical form.
fn resign_revision(
    entry: &[u8],
    edit: impl FnOnce(&mut serde_json::Value),
    sign: &dyn Fn(&[u8]) -> [u8; 64],
) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(entry).unwrap();
    edit(&mut v["doc"]);
    let doc = vigil_crypto::sign::canonical_json(&v["doc"]);
    v["sig"] = serde_json::json!(hex::encode(sign(&vigil_crypto::sign::sha256(&doc))));
    vigil_crypto::sign::canonical_json(&v)
}

struct Monitor {
    /// The good bundle's entries, its manifest, and the bundle.
    files: Vec<(String, Vec<u8>)>,
    manifest: Manifest,
    good: Vec<u8>,
    recipients: Vec<age::x25519::Recipient>,
}

impl Monitor {
    /// A bundle of `files` under a manifest like the good one (changed by `edit`), signed by
    /// `sign` and encrypted to HQ and the device.
    fn bundle(
        &self,
        files: &[(String, Vec<u8>)],
        edit: impl FnOnce(&mut Manifest),
        sign: &dyn Fn(&[u8]) -> [u8; 64],
    ) -> Vec<u8> {
        let mut m = Manifest::new(
            uuid::Uuid::now_v7(),
            self.manifest.created_at,
            self.manifest.org_id,
            self.manifest.device.clone(),
            files
                .iter()
                .map(|(path, bytes)| ManifestEntry {
                    path: path.clone(),
                    size: bytes.len() as u64,
                    sha256: sha256_hex(bytes),
                })
                .collect(),
        );
        edit(&mut m);
        let json = m.to_canonical_json().unwrap();
        let sig = hex::encode(sign(&json)).into_bytes();
        let mut t = Tar::default();
        t.head(&json, &sig);
        for (path, bytes) in files {
            t.file(path, bytes);
        }
        t.end();
        encrypt_to(&t.bytes, &self.recipients)
    }

    /// The good files with the entry at `i` replaced.
    fn with(&self, i: usize, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut f = self.files.clone();
        f[i].1 = bytes;
        f
    }
}

/// Imports each case into `hq` and checks its code and that nothing changed.
fn run(hq: &mut Vault, cases: &[Case], scratch: &Path) -> Vec<String> {
    let digest = hq.content_digest().unwrap();
    let blobs = walk(&hq.dir().join("blobs"));
    let mut wrong = Vec::new();
    let file = scratch.join("bad.vigil");
    for case in cases {
        std::fs::write(&file, &case.bytes).unwrap();
        let got = match import(hq, &file) {
            Ok(r) => format!("ok (applied {})", r.applied),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e.code()
            }
        };
        if got != case.code {
            wrong.push(format!("{}: expected {}, got {got}", case.name, case.code));
        }
        if hq.content_digest().unwrap() != digest {
            wrong.push(format!("{}: HQ's vault changed", case.name));
            break;
        }
        if walk(&hq.dir().join("blobs")) != blobs {
            wrong.push(format!("{}: HQ's attachment store changed", case.name));
            break;
        }
    }
    wrong
}

#[test]
fn every_bad_bundle_is_refused_and_hq_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = vault(&root.join("hq"));
    let mut monitor = vault(&root.join("monitor"));
    let profile = hq.create_org("Coalition HQ", 2).unwrap();
    monitor.join_org(&profile.to_json_pretty()).unwrap();
    // An attachment over two age chunks, so the corpus can cut and flip first, middle and last.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = seal_new(&mut monitor, "Meeting broken up", &photo);
    let bundle = root.join("good.vigil");
    export(&mut monitor, &Selection::Unsent, &bundle).unwrap();
    let good = std::fs::read(&bundle).unwrap();

    // Open the good bundle as HQ does, to have its entries and manifest.
    let identity: age::x25519::Identity = hq
        .org_identity_file(0)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let files = read_all(&good, std::slice::from_ref(&identity)).unwrap();
    let manifest = BundleReader::open(&good[..], &[identity])
        .unwrap()
        .manifest()
        .clone();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].0.starts_with("revisions/") && files[2].0.starts_with("attachments/"));
    let mut recipients: Vec<age::x25519::Recipient> = hq
        .hq_recipients()
        .unwrap()
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    recipients.push(monitor.device_public().age_recipient.parse().unwrap());
    let m = Monitor {
        files,
        manifest,
        good,
        recipients,
    };
    let device = |b: &[u8]| monitor.device_sign(b);

    // The reader's corpus, made from this real bundle.
    let mut cases = corpus::cases(&corpus::Source {
        files: m.files.clone(),
        manifest: m.manifest.clone(),
        good: m.good.clone(),
        recipients: m.recipients.clone(),
        sign: &device,
    });
    let reader_cases = cases.len();

    // What only a vault can judge: every one of these has a manifest properly signed by the
    // monitor's device, so the archive itself is sound.
    let mut add = |name: &str, bytes: Vec<u8>, code: &'static str| {
        cases.push(Case {
            name: name.into(),
            bytes,
            code,
        });
    };
    let rev = &m.files[0].1;
    let stranger = new_key();
    let by_stranger = |b: &[u8]| sign_with(&stranger, b);
    add(
        "revision signed by another key",
        m.bundle(
            &m.with(0, resign_revision(rev, |_| {}, &by_stranger)),
            |_| {},
            &device,
        ),
        "bad_signature",
    );
    let mut edited: serde_json::Value = serde_json::from_slice(rev).unwrap();
    edited["doc"]["incident"]["title"] = serde_json::json!("Nothing happened");
    add(
        "revision edited after sealing",
        m.bundle(
            &m.with(0, vigil_crypto::sign::canonical_json(&edited)),
            |_| {},
            &device,
        ),
        "bad_signature",
    );
    add(
        "revision entry is not JSON",
        m.bundle(&m.with(0, b"not json".to_vec()), |_| {}, &device),
        "bundle.malformed",
    );
    let mut newer: serde_json::Value = serde_json::from_slice(rev).unwrap();
    newer["version"] = serde_json::json!(2);
    add(
        "revision entry of a newer version",
        m.bundle(
            &m.with(0, vigil_crypto::sign::canonical_json(&newer)),
            |_| {},
            &device,
        ),
        "bundle.newer_version",
    );
    let mut renamed = m.files.clone();
    renamed[0].0 = format!("revisions/{}.json", uuid::Uuid::now_v7());
    add(
        "revision under another revision's name",
        m.bundle(&renamed, |_| {}, &device),
        "bundle.malformed",
    );
    let mut log: serde_json::Value =
        serde_json::from_slice(m.files[1].1.split(|b| *b == b'\n').next().unwrap()).unwrap();
    log["doc"]["event"] = serde_json::json!("deleted");
    let mut log_bytes = vigil_crypto::sign::canonical_json(&log);
    log_bytes.push(b'\n');
    add(
        "custody event edited after signing",
        m.bundle(&m.with(1, log_bytes), |_| {}, &device),
        "bad_signature",
    );
    // An event of another device inside this device's custody log.
    let mut foreign: serde_json::Value =
        serde_json::from_slice(m.files[1].1.split(|b| *b == b'\n').next().unwrap()).unwrap();
    foreign["doc"]["device"] = serde_json::json!(uuid::Uuid::now_v7().to_string());
    let foreign_doc = vigil_crypto::sign::canonical_json(&foreign["doc"]);
    // Signed by the exporting device, so only the device check can catch it.
    foreign["sig"] = serde_json::json!(hex::encode(
        monitor.device_sign(&vigil_crypto::sign::sha256(&foreign_doc))
    ));
    let mut foreign_log = m.files[1].1.clone();
    foreign_log.extend(vigil_crypto::sign::canonical_json(&foreign));
    foreign_log.push(b'\n');
    add(
        "an event of another device in the custody log",
        m.bundle(&m.with(1, foreign_log), |_| {}, &device),
        "bundle.malformed",
    );
    add(
        "attachment left out",
        m.bundle(&m.files[..2], |_| {}, &device),
        "bundle.missing_attachment",
    );
    let mut misnamed = m.files.clone();
    misnamed[2].0 = format!("attachments/{}", sha256_hex(b"something else"));
    add(
        "attachment named for another hash",
        m.bundle(&misnamed, |_| {}, &device),
        "bundle.malformed",
    );
    add(
        "another organisation's id, encrypted to this HQ",
        m.bundle(&m.files, |x| x.org_id = uuid::Uuid::now_v7(), &device),
        "bundle.wrong_organisation",
    );
    add(
        "manifest names a device key that did not sign it",
        m.bundle(
            &m.files,
            |x| x.device.sign_pk = hex::encode([7u8; 32]),
            &device,
        ),
        "bundle.bad_signature",
    );
    // The device's second revision, without its first: a gap in the chain.
    let second = resign_revision(
        rev,
        |d| {
            d["device_seq"] = serde_json::json!(2);
            d["prev"] = serde_json::json!(sha256_hex(b"a revision HQ never saw"));
            d["id"] = serde_json::json!(uuid::Uuid::now_v7().to_string());
        },
        &device,
    );
    let _ = id;
    let doc: serde_json::Value = serde_json::from_slice(&second).unwrap();
    let mut gap = m.with(0, second.clone());
    gap[0].0 = format!("revisions/{}.json", doc["doc"]["id"].as_str().unwrap());
    add(
        "second revision without the first",
        m.bundle(&gap, |_| {}, &device),
        "bundle.broken_chain",
    );

    let vault_cases = cases.len() - reader_cases;
    eprintln!(
        "{} bad bundles: {reader_cases} from the reader's corpus, {vault_cases} vault-level",
        cases.len()
    );
    assert!(cases.len() >= 60);

    // HQ before it has anything from this monitor.
    let wrong = run(&mut hq, &cases, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // HQ holding the good bundle: the same cases, plus a revision that reuses an id HQ already
    // has, with other content, properly signed by the same device (a compromised or buggy
    // device could do this).
    import(&mut hq, &bundle).unwrap();
    for case in &mut cases {
        if case.name == "attachment left out" {
            // Now HQ has the photo already: a bundle that leaves it out is fine, and adds nothing.
            case.code = "ok (applied 0)";
        }
    }
    let reused = resign_revision(
        rev,
        |d| {
            d["incident"]["title"] = serde_json::json!("Rewritten");
        },
        &device,
    );
    cases.push(Case {
        name: "revision id reused with other content".into(),
        bytes: m.bundle(&m.with(0, reused), |_| {}, &device),
        code: "revision_conflict",
    });
    // The same device id with another key (a stolen profile and a made-up device claiming to
    // be this monitor's): HQ knows this device's key by now.
    let stranger_keys = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let first: serde_json::Value = serde_json::from_slice(rev).unwrap();
    let first_hash = sha256_hex(&vigil_crypto::sign::canonical_json(&first["doc"]));
    let impostor = resign_revision(
        rev,
        |d| {
            d["device_keys"]["sign_pk"] =
                serde_json::json!(hex::encode(stranger_keys.public().sign_pk));
            d["id"] = serde_json::json!(uuid::Uuid::now_v7().to_string());
            d["device_seq"] = serde_json::json!(2);
            d["prev"] = serde_json::json!(first_hash);
        },
        &|b| stranger_keys.sign(b).0,
    );
    let doc: serde_json::Value = serde_json::from_slice(&impostor).unwrap();
    let mut files = m.with(0, impostor.clone());
    files[0].0 = format!("revisions/{}.json", doc["doc"]["id"].as_str().unwrap());
    cases.push(Case {
        name: "a known device's id with another key".into(),
        bytes: m.bundle(&files, |_| {}, &device),
        code: "device_key_conflict",
    });
    let wrong = run(&mut hq, &cases, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A custody event at a place HQ already holds, with other content, properly signed by the
    // device (a laptop restored from an old backup, or history rewritten after the fact). It
    // does not block the device's reports, HQ's kept history stays exactly as it was, and the
    // import says so.
    let digest = hq.content_digest().unwrap();
    let mut first_event: serde_json::Value =
        serde_json::from_slice(m.files[1].1.split(|b| *b == b'\n').next().unwrap()).unwrap();
    first_event["doc"]["at"] = serde_json::json!("2019-05-23T12:30:00+06:00");
    let doc = vigil_crypto::sign::canonical_json(&first_event["doc"]);
    first_event["sig"] = serde_json::json!(hex::encode(
        monitor.device_sign(&vigil_crypto::sign::sha256(&doc))
    ));
    let mut rewritten = vigil_crypto::sign::canonical_json(&first_event);
    rewritten.push(b'\n');
    for line in m.files[1]
        .1
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
    {
        rewritten.extend_from_slice(line);
        rewritten.push(b'\n');
    }
    let file = root.join("rewritten.vigil");
    std::fs::write(&file, m.bundle(&m.with(1, rewritten), |_| {}, &device)).unwrap();
    let r = import(&mut hq, &file).unwrap();
    assert_eq!((r.applied, r.custody_events), (0, 0));
    assert_eq!(r.custody_conflicts.len(), 1, "{r:?}");
    assert!(r.custody_conflicts[0].contains("custody event 1 of device"));
    assert_eq!(
        hq.content_digest().unwrap(),
        digest,
        "the kept history is unchanged"
    );
    hq.verify_chain().unwrap();
    assert_eq!(hq.incident(id).unwrap().title, "Meeting broken up");
}

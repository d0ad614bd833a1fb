//! HQ's vault against every bad bundle: the reader's whole corpus (made here from a real
//! monitor's bundle, signed with the monitor's real device key), plus the cases only a vault
//! can judge (revision signatures, chains, attachments, organisations, enrolment,
//! authorisation, reused ids). Each is refused with its own code, or kept in quarantine for
//! its own reason, and HQ's vault (every table, and its attachment store) is exactly as it was
//! (a quarantined bundle is dropped again to show that nothing else changed), both when HQ has
//! nothing yet from this monitor and when it already holds the good bundle.

#![allow(clippy::unwrap_used)]

use vigil_fixtures as support;

use support::bundle as common;

use std::path::Path;
use std::sync::Arc;

use common::corpus::{self, Case};
use common::{Tar, encrypt_to, new_key, read_all, sign_with};
use serde_json::{Value, json};
use vigil_bundle::{BundleReader, Manifest, ManifestEntry};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_exchange::{Selection, export, import};
use vigil_ledger::canonical;
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
    edit: impl FnOnce(&mut Value),
    sign: &dyn Fn(&[u8]) -> [u8; 64],
) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(entry).unwrap();
    edit(&mut v["doc"]);
    let doc = canonical::encode(&v["doc"]);
    v["sig"] = json!(hex::encode(sign(&vigil_crypto::sign::sha256(&doc))));
    canonical::encode(&v)
}

/// The id inside a revision entry, and the path it must have.
fn path_of(entry: &[u8]) -> String {
    let v: Value = serde_json::from_slice(entry).unwrap();
    format!("revisions/{}.json", v["doc"]["id"].as_str().unwrap())
}

/// The hash of the document inside a revision entry.
fn hash_of(entry: &[u8]) -> String {
    let v: Value = serde_json::from_slice(entry).unwrap();
    sha256_hex(&canonical::encode(&v["doc"]))
}

/// A monitor's real bundle, opened, to make bad ones from.
struct Monitor {
    /// The good bundle's entries: its certificate, a revision, the custody log, an attachment.
    files: Vec<(String, Vec<u8>)>,
    manifest: Manifest,
    good: Vec<u8>,
    recipients: Vec<age::x25519::Recipient>,
}

const CERT: usize = 0;
const REV: usize = 1;
const LOG: usize = 2;
const PHOTO: usize = 3;

impl Monitor {
    fn open(hq: &Vault, device: &Vault, good: Vec<u8>) -> Monitor {
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
        assert_eq!(files.len(), 4, "{files:?}");
        assert_eq!(files[CERT].0, vigil_bundle::CERTIFICATE);
        assert!(
            files[REV].0.starts_with("revisions/") && files[PHOTO].0.starts_with("attachments/")
        );
        let mut recipients: Vec<age::x25519::Recipient> = hq
            .hq_recipients()
            .unwrap()
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        recipients.push(device.device_public().age_recipient.parse().unwrap());
        Monitor {
            files,
            manifest,
            good,
            recipients,
        }
    }

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

    /// The good files with the entry at `i` replaced (and named for it if it is a revision).
    fn with(&self, i: usize, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut f = self.files.clone();
        if f[i].0.starts_with("revisions/") && serde_json::from_slice::<Value>(&bytes).is_ok() {
            f[i].0 = path_of(&bytes);
        }
        f[i].1 = bytes;
        f
    }

    /// The good files without the entry at `i`.
    fn without(&self, i: usize) -> Vec<(String, Vec<u8>)> {
        let mut f = self.files.clone();
        f.remove(i);
        f
    }

    /// The first custody event line, changed by `edit` and signed again by `sign`.
    fn event(&self, edit: impl FnOnce(&mut Value), sign: &dyn Fn(&[u8]) -> [u8; 64]) -> Vec<u8> {
        let mut line: Value =
            serde_json::from_slice(self.files[LOG].1.split(|b| *b == b'\n').next().unwrap())
                .unwrap();
        edit(&mut line["doc"]);
        let doc = canonical::encode(&line["doc"]);
        line["sig"] = json!(hex::encode(sign(&vigil_crypto::sign::sha256(&doc))));
        canonical::encode(&line)
    }
}

/// Imports each case into `hq`, checks its outcome (an error code, `ok (applied N)`, or
/// `quarantined:<reason>`, dropped again at once), and that nothing changed.
fn run(hq: &mut Vault, cases: &[Case], scratch: &Path) -> Vec<String> {
    let digest = hq.content_digest().unwrap();
    let blobs = common::chunk_files(hq.dir());
    let mut wrong = Vec::new();
    let file = scratch.join("bad.vigil");
    for case in cases {
        std::fs::write(&file, &case.bytes).unwrap();
        let got = match import(hq, &file) {
            Ok(r) => match r.quarantined {
                Some(q) => {
                    assert_eq!(hq.drop_quarantined(&hex::encode(q.sign_pk)).unwrap(), 1);
                    // A name is shown only from a certificate that holds and is not a copy.
                    let unverified = ["no_certificate", "certificate_invalid", "invitation_reused"];
                    if q.name.is_some() && unverified.contains(&q.reason.as_str()) {
                        wrong.push(format!("{}: shows the name {:?}", case.name, q.name));
                    }
                    format!("quarantined:{}", q.reason)
                }
                None => format!("ok (applied {})", r.applied),
            },
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e.code().to_string()
            }
        };
        if got != case.code {
            wrong.push(format!("{}: expected {}, got {got}", case.name, case.code));
        }
        if hq.content_digest().unwrap() != digest {
            wrong.push(format!("{}: HQ's vault changed", case.name));
            break;
        }
        if common::chunk_files(hq.dir()) != blobs {
            wrong.push(format!("{}: HQ's attachment store changed", case.name));
            break;
        }
    }
    wrong
}

struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, name: &str, bytes: Vec<u8>, code: &'static str) {
        self.0.push(Case {
            name: name.into(),
            bytes,
            code,
        });
    }
}

#[test]
fn every_bad_bundle_is_refused_and_hq_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut hq = vault(&root.join("hq"));
    let mut monitor = vault(&root.join("monitor"));
    let profile = hq.create_org("Coalition HQ", 2).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    // An attachment over two age chunks, so the corpus can cut and flip first, middle and last.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = seal_new(&mut monitor, "Meeting broken up", &photo);
    let bundle = root.join("good.vigil");
    export(&mut monitor, &Selection::Unsent, &bundle).unwrap();
    let m = Monitor::open(&hq, &monitor, std::fs::read(&bundle).unwrap());
    let device = |b: &[u8]| monitor.device_sign(b);

    // The reader's corpus, made from this real bundle (its certificate kept first in each).
    let mut cases = Cases(corpus::cases(&corpus::Source {
        lead: m.files[..REV].to_vec(),
        files: m.files[REV..].to_vec(),
        manifest: m.manifest.clone(),
        good: m.good.clone(),
        recipients: m.recipients.clone(),
        sign: &device,
    }));
    let reader_cases = cases.0.len();

    // What only a vault can judge: every one of these has a manifest properly signed by the
    // monitor's device, so the archive itself is sound.
    let rev = &m.files[REV].1;
    let stranger = new_key();
    let by_stranger = |b: &[u8]| sign_with(&stranger, b);
    cases.add(
        "revision signed by another key",
        m.bundle(
            &m.with(REV, resign_revision(rev, |_| {}, &by_stranger)),
            |_| {},
            &device,
        ),
        "bad_signature",
    );
    let mut edited: Value = serde_json::from_slice(rev).unwrap();
    edited["doc"]["incident"]["title"] = json!("Nothing happened");
    cases.add(
        "revision edited after sealing",
        m.bundle(&m.with(REV, canonical::encode(&edited)), |_| {}, &device),
        "bad_signature",
    );
    cases.add(
        "revision entry is not JSON",
        m.bundle(&m.with(REV, b"not json".to_vec()), |_| {}, &device),
        "record_malformed",
    );
    let pretty = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(rev).unwrap()).unwrap();
    cases.add(
        "revision entry not in canonical form",
        m.bundle(&m.with(REV, pretty), |_| {}, &device),
        "not_canonical",
    );
    let text = String::from_utf8(rev.clone()).unwrap();
    let twice = text.replacen("{\"doc\":{", "{\"doc\":{\"amends\":null,", 1);
    cases.add(
        "revision document names a key twice",
        m.bundle(&m.with(REV, twice.into_bytes()), |_| {}, &device),
        "duplicate_key",
    );
    let mut newer: Value = serde_json::from_slice(rev).unwrap();
    newer["version"] = json!(2);
    cases.add(
        "revision entry of a newer version",
        m.bundle(&m.with(REV, canonical::encode(&newer)), |_| {}, &device),
        "newer_version",
    );
    cases.add(
        "a correction of an entry the revision does not carry",
        m.bundle(
            &m.with(
                REV,
                resign_revision(
                    rev,
                    |d| d["log"][0]["corrects"] = json!(uuid::Uuid::now_v7().to_string()),
                    &device,
                ),
            ),
            |_| {},
            &device,
        ),
        "record_malformed",
    );
    cases.add(
        "an entry that happened after it was written",
        m.bundle(
            &m.with(
                REV,
                resign_revision(
                    rev,
                    |d| d["log"][0]["happened_at"] = json!("2999-01-01T00:00:00+00:00"),
                    &device,
                ),
            ),
            |_| {},
            &device,
        ),
        "record_malformed",
    );
    cases.add(
        "revision document of a newer version",
        m.bundle(
            &m.with(
                REV,
                resign_revision(
                    rev,
                    |d| d["version"] = json!(vigil_ledger::revision::REVISION_VERSION + 1),
                    &device,
                ),
            ),
            |_| {},
            &device,
        ),
        "newer_version",
    );
    cases.add(
        "revision at place 0 of its chain",
        m.bundle(
            &m.with(
                REV,
                resign_revision(rev, |d| d["device_seq"] = json!(0), &device),
            ),
            |_| {},
            &device,
        ),
        "record_altered",
    );
    let mut renamed = m.files.clone();
    renamed[REV].0 = format!("revisions/{}.json", uuid::Uuid::now_v7());
    cases.add(
        "revision under another revision's name",
        m.bundle(&renamed, |_| {}, &device),
        "bundle.malformed",
    );
    let elsewhere = uuid::Uuid::now_v7().to_string();
    cases.add(
        "revision sealed for another organisation, signed by the device",
        m.bundle(
            &m.with(
                REV,
                resign_revision(
                    rev,
                    |d| {
                        d["org"] = json!(elsewhere);
                        d["id"] = json!(uuid::Uuid::now_v7().to_string());
                    },
                    &device,
                ),
            ),
            |_| {},
            &device,
        ),
        "wrong_organisation",
    );
    // Another device's genuine-looking revision (its own keys) carried in this device's bundle.
    let other = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let carried = resign_revision(
        rev,
        |d| {
            d["device_keys"] = serde_json::to_value(other.public()).unwrap();
            d["device"] = json!(vigil_ledger::ids::device_id_for(&other.public().sign_pk));
            d["id"] = json!(uuid::Uuid::now_v7().to_string());
        },
        &|b| other.sign(b).0,
    );
    cases.add(
        "another device's revision in this device's bundle",
        m.bundle(&m.with(REV, carried), |_| {}, &device),
        "foreign_revision",
    );
    let mut log_bytes = m.event(|d| d["event"] = json!("sealed"), &|_| [0u8; 64]);
    log_bytes.push(b'\n');
    cases.add(
        "custody event edited after signing",
        m.bundle(&m.with(LOG, log_bytes), |_| {}, &device),
        "bad_signature",
    );
    // An event of another device inside this device's custody log, signed by this device, so
    // only the device check can catch it.
    let mut foreign_log = m.files[LOG].1.clone();
    foreign_log.extend(m.event(
        |d| {
            d["device"] = json!(uuid::Uuid::now_v7().to_string());
            d["seq"] = json!(1000);
            d["prev"] = json!(sha256_hex(b"x"));
        },
        &device,
    ));
    foreign_log.push(b'\n');
    cases.add(
        "an event of another device in the custody log",
        m.bundle(&m.with(LOG, foreign_log), |_| {}, &device),
        "bundle.malformed",
    );
    let mut backwards = m.files[LOG].1.clone();
    backwards.extend(m.files[LOG].1.split(|b| *b == b'\n').next().unwrap());
    backwards.push(b'\n');
    cases.add(
        "custody events out of order",
        m.bundle(&m.with(LOG, backwards), |_| {}, &device),
        "bundle.malformed",
    );
    cases.add(
        "attachment left out",
        m.bundle(&m.without(PHOTO), |_| {}, &device),
        "missing_attachment",
    );
    let mut misnamed = m.files.clone();
    misnamed[PHOTO].0 = format!("attachments/{}", sha256_hex(b"something else"));
    cases.add(
        "attachment named for another hash",
        m.bundle(&misnamed, |_| {}, &device),
        "bundle.malformed",
    );
    cases.add(
        "another organisation's id, encrypted to this HQ",
        m.bundle(&m.files, |x| x.org_id = uuid::Uuid::now_v7(), &device),
        "wrong_organisation",
    );
    cases.add(
        "manifest names a device key that did not sign it",
        m.bundle(
            &m.files,
            |x| x.device.sign_pk = hex::encode([7u8; 32]),
            &device,
        ),
        "bad_signature",
    );
    // The device's second revision, without its first: a gap in the chain.
    let second = resign_revision(
        rev,
        |d| {
            d["device_seq"] = json!(2);
            d["prev"] = json!(sha256_hex(b"a revision HQ never saw"));
            d["id"] = json!(uuid::Uuid::now_v7().to_string());
        },
        &device,
    );
    cases.add(
        "second revision without the first",
        m.bundle(&m.with(REV, second), |_| {}, &device),
        "chain_broken",
    );
    // Enrolment: HQ cannot trust what this device sends, so it is kept for a person.
    cases.add(
        "no certificate",
        m.bundle(&m.without(CERT), |_| {}, &device),
        "quarantined:no_certificate",
    );
    cases.add(
        "certificate is not one",
        m.bundle(&m.with(CERT, b"{}".to_vec()), |_| {}, &device),
        "quarantined:certificate_invalid",
    );
    let mut cert: Value = serde_json::from_slice(&m.files[CERT].1).unwrap();
    cert["invitation"]["name"] = json!("HQ's own laptop");
    cases.add(
        "certificate edited after signing",
        m.bundle(&m.with(CERT, canonical::encode(&cert)), |_| {}, &device),
        "quarantined:certificate_invalid",
    );

    let vault_cases = cases.0.len() - reader_cases;
    eprintln!(
        "{} bad bundles: {reader_cases} from the reader's corpus, {vault_cases} vault-level",
        cases.0.len()
    );
    assert!(cases.0.len() >= 70);

    // HQ before it has anything from this monitor.
    let wrong = run(&mut hq, &cases.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // HQ holding the good bundle: the same cases, plus what only a vault that holds the
    // record can judge, each properly signed by the same enrolled device (a compromised or
    // buggy device could do this).
    import(&mut hq, &bundle).unwrap();
    for case in &mut cases.0 {
        if case.name == "attachment left out" {
            // Now HQ has the photo already: a bundle that leaves it out is fine, and adds nothing.
            case.code = "ok (applied 0)";
        }
        if case
            .name
            .starts_with("revision sealed for another organisation")
        {
            // Its place in the chain is taken now; the amendment below is checked instead.
            case.code = "revision_conflict";
        }
        if case.name.starts_with("certificate") || case.name == "no certificate" {
            // The device is registered by its key now: its certificate is not looked at again.
            case.code = "ok (applied 0)";
        }
    }
    let first_hash = hash_of(rev);
    let first_id: Value = serde_json::from_slice::<Value>(rev).unwrap()["doc"]["id"].clone();
    let amend = |edit: &dyn Fn(&mut Value)| {
        resign_revision(
            rev,
            |d| {
                d["id"] = json!(uuid::Uuid::now_v7().to_string());
                d["device_seq"] = json!(2);
                d["prev"] = json!(first_hash);
                d["amends"] = first_id.clone();
                edit(d);
            },
            &device,
        )
    };
    cases.add(
        "revision id reused with other content",
        m.bundle(
            &m.with(
                REV,
                resign_revision(
                    rev,
                    |d| d["incident"]["title"] = json!("Rewritten"),
                    &device,
                ),
            ),
            |_| {},
            &device,
        ),
        "revision_conflict",
    );
    cases.add(
        "a second first sealing of a held incident",
        m.bundle(
            &m.with(REV, amend(&|d| d["amends"] = Value::Null)),
            |_| {},
            &device,
        ),
        "incident_taken",
    );
    cases.add(
        "an amendment sealed for another organisation",
        m.bundle(
            &m.with(REV, amend(&|d| d["org"] = json!(elsewhere))),
            |_| {},
            &device,
        ),
        "wrong_organisation",
    );
    cases.add(
        "an amendment of a revision HQ does not hold",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| d["amends"] = json!(uuid::Uuid::now_v7().to_string())),
            ),
            |_| {},
            &device,
        ),
        "amends_unknown",
    );
    cases.add(
        "a held running-log entry rewritten",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| d["log"][0]["text"] = json!("10:30 nothing happens")),
            ),
            |_| {},
            &device,
        ),
        "entry_conflict",
    );
    cases.add(
        "a new entry taking place 1",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| {
                    d["log"][0]["id"] = json!(uuid::Uuid::now_v7().to_string());
                }),
            ),
            |_| {},
            &device,
        ),
        "entry_place_taken",
    );
    let other_incident = IncidentId::new().to_string();
    cases.add(
        "an entry of another incident",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| {
                    let mut e = d["log"][0].clone();
                    e["id"] = json!(uuid::Uuid::now_v7().to_string());
                    e["seq"] = json!(2);
                    e["incident"] = json!(other_incident);
                    d["log"].as_array_mut().unwrap().push(e);
                }),
            ),
            |_| {},
            &device,
        ),
        "entry_wrong_incident",
    );
    let someone = vigil_ledger::ids::device_id_for(&[3u8; 32]).to_string();
    cases.add(
        "a new entry under another device's name",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| {
                    let mut e = d["log"][0].clone();
                    e["id"] = json!(uuid::Uuid::now_v7().to_string());
                    e["seq"] = json!(2);
                    e["device"] = json!(someone);
                    d["log"].as_array_mut().unwrap().push(e);
                }),
            ),
            |_| {},
            &device,
        ),
        "entry_foreign_device",
    );
    cases.add(
        "a held attachment's id for other content",
        m.bundle(
            &m.with(
                REV,
                amend(&|d| d["attachments"][0]["sha256"] = json!(sha256_hex(b"other"))),
            ),
            |_| {},
            &device,
        ),
        "attachment_conflict",
    );
    // A revision under another id than the device's: taken only if HQ knows that id with this
    // device's key (one it had before it enrolled); here HQ does not, so a person decides.
    let under_other_id = resign_revision(
        rev,
        |d| {
            d["id"] = json!(uuid::Uuid::now_v7().to_string());
            d["device"] = json!(uuid::Uuid::now_v7().to_string());
        },
        &device,
    );
    cases.add(
        "a revision under an id HQ never saw",
        m.bundle(&m.with(REV, under_other_id), |_| {}, &device),
        "quarantined:former_id",
    );
    // Device ids of a kind Vigil never made: neither random (version 7) nor made from a key
    // (version 8), or made from a key in a document of version 1 (older than such ids).
    let other_kind = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f";
    cases.add(
        "a revision under a device id of another kind",
        m.bundle(
            &m.with(
                REV,
                resign_revision(rev, |d| d["device"] = json!(other_kind), &device),
            ),
            |_| {},
            &device,
        ),
        "record_malformed",
    );
    let as_version_1 = resign_revision(
        rev,
        |d| {
            d["version"] = json!(1);
            d.as_object_mut().unwrap().remove("org");
        },
        &device,
    );
    cases.add(
        "a version-1 revision under an id made from a key",
        m.bundle(&m.with(REV, as_version_1), |_| {}, &device),
        "record_malformed",
    );
    cases.add(
        "a manifest naming a device id of another kind",
        m.bundle(
            &m.files,
            |mf| mf.device.id = other_kind.parse().unwrap(),
            &device,
        ),
        "bundle.malformed",
    );
    let wrong = run(&mut hq, &cases.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A custody event at a place HQ already holds, with other content, properly signed by the
    // device (a laptop restored from an old backup, or history rewritten after the fact). It
    // does not block the device's reports, HQ's kept history stays exactly as it was, and the
    // import says so.
    let digest = hq.content_digest().unwrap();
    let mut rewritten = m.event(|d| d["at"] = json!("2019-05-23T12:30:00+06:00"), &device);
    rewritten.push(b'\n');
    for line in m.files[LOG]
        .1
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
    {
        rewritten.extend_from_slice(line);
        rewritten.push(b'\n');
    }
    let file = root.join("rewritten.vigil");
    std::fs::write(&file, m.bundle(&m.with(LOG, rewritten), |_| {}, &device)).unwrap();
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

    // Other senders: what the register knows decides, and each case has its own outcome.
    let mut other = Cases(Vec::new());
    let o = support::Opened::open(&hq, &bundle);
    let fresh_revision = |by: &dyn support::Signer| {
        let mut doc = o.doc();
        doc["id"] = json!(uuid::Uuid::now_v7().to_string());
        doc["incident"]["id"] = json!(IncidentId::new().to_string());
        let incident = doc["incident"]["id"].clone();
        for e in doc["log"].as_array_mut().unwrap() {
            e["id"] = json!(uuid::Uuid::now_v7().to_string());
            e["incident"] = incident.clone();
            e["device"] = json!(by.device());
        }
        doc["attachments"] = json!([]);
        support::revision_entry(&mut doc, by)
    };
    let forged = |by: &dyn support::Signer, cert: Option<Vec<u8>>, files| {
        let path = root.join("forged.vigil");
        support::forge(&o, by, cert, files, &path);
        std::fs::read(&path).unwrap()
    };
    // A device id made from another key than the one that signs.
    struct Claim<'a>(&'a vigil_crypto::sign::DeviceKeys, vigil_model::DeviceId);
    impl support::Signer for Claim<'_> {
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
    let attacker = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let claim = Claim(&attacker, monitor.device());
    other.add(
        "the monitor's device id with another key",
        forged(&claim, None, vec![fresh_revision(&claim)]),
        "device_id_forged",
    );
    // A second enrolled monitor amending the first monitor's incident.
    let mut second = vault(&root.join("second"));
    let invite = hq.issue_invitation("Bakyt's laptop", 14).unwrap();
    second
        .join_and_enrol(&profile.to_json_pretty(), &invite.expose_file_bytes())
        .unwrap();
    let mut doc = o.doc();
    let amends = doc["id"].clone();
    doc["id"] = json!(uuid::Uuid::now_v7().to_string());
    doc["amends"] = amends;
    let cert = second.certificate().unwrap().map(|c| c.bytes().to_vec());
    let takeover = support::revision_entry(&mut doc, &second);
    other.add(
        "another enrolled device amends the incident",
        forged(&second, cert.clone(), vec![takeover]),
        "not_authorised",
    );
    // The monitor's invitation, used again by another device.
    let mut copier = vault(&root.join("copier"));
    copier
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let copied = copier.certificate().unwrap().map(|c| c.bytes().to_vec());
    other.add(
        "an invitation used by a second device",
        forged(&copier, copied, vec![fresh_revision(&copier)]),
        "quarantined:invitation_reused",
    );
    // A certificate made after its invitation expired.
    let late_keys = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let short = hq.issue_invitation("Late laptop", 1).unwrap();
    let late =
        vigil_ledger::enrolment::Invitation::from_file_bytes(&short.expose_file_bytes(), &profile)
            .unwrap()
            .enrol(
                &late_keys,
                support::Signer::device(&late_keys),
                hq.now() + chrono::Duration::days(3),
            )
            .unwrap();
    other.add(
        "an expired invitation",
        forged(
            &late_keys,
            Some(late.bytes().to_vec()),
            vec![fresh_revision(&late_keys)],
        ),
        "quarantined:invitation_expired",
    );
    // A device made before enrolment (a random id), accepted by a person; then its id with
    // another key.
    let legacy_keys = vigil_crypto::sign::DeviceKeys::generate().unwrap();
    let legacy = Claim(&legacy_keys, vigil_model::DeviceId::new());
    std::fs::write(
        root.join("legacy.vigil"),
        forged(&legacy, None, vec![fresh_revision(&legacy)]),
    )
    .unwrap();
    assert!(
        import(&mut hq, &root.join("legacy.vigil"))
            .unwrap()
            .quarantined
            .is_some()
    );
    vigil_exchange::accept(&mut hq, &legacy.1.to_string()).unwrap();
    let impostor = Claim(&attacker, legacy.1);
    other.add(
        "a device id HQ registered with another key",
        forged(&impostor, None, vec![fresh_revision(&impostor)]),
        "quarantined:key_conflict",
    );
    let wrong = run(&mut hq, &other.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // That device enrols and speaks under the id its key makes: its old id is no longer in the
    // register, but HQ still knows it with its key, and no one else may take it.
    let renamed = Claim(
        &legacy_keys,
        vigil_ledger::ids::device_id_for(&legacy_keys.public().sign_pk),
    );
    std::fs::write(
        root.join("renamed.vigil"),
        forged(&renamed, None, vec![fresh_revision(&renamed)]),
    )
    .unwrap();
    assert_eq!(
        import(&mut hq, &root.join("renamed.vigil"))
            .unwrap()
            .applied,
        1
    );
    let squatter = Cases(vec![Case {
        name: "a device's earlier id, under another key".into(),
        bytes: forged(&impostor, None, vec![fresh_revision(&impostor)]),
        code: "quarantined:key_conflict",
    }]);
    let wrong = run(&mut hq, &squatter.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Revoked: a revision sealed after the revocation keeps the bundle in quarantine.
    hq.revoke_device(&monitor.device().to_string()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    monitor
        .append_log(id, "after the revocation", false)
        .unwrap();
    monitor.seal_now(id).unwrap();
    let after = root.join("after.vigil");
    export(&mut monitor, &Selection::Unsent, &after).unwrap();
    let revoked = Cases(vec![Case {
        name: "a revoked device's revision sealed after the revocation".into(),
        bytes: std::fs::read(&after).unwrap(),
        code: "quarantined:device_revoked",
    }]);
    let wrong = run(&mut hq, &revoked.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Quarantine full: what would wait there is refused, and nothing is kept.
    hq.set_quarantine_limits(vigil_store::QuarantineLimits {
        bundles: 0,
        bytes: 0,
    });
    let full = Cases(vec![Case {
        name: "a bundle for quarantine when it is full".into(),
        bytes: std::fs::read(&after).unwrap(),
        code: "quarantine_full",
    }]);
    let wrong = run(&mut hq, &full.0, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

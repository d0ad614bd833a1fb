//! Attachments in parts against an enrolled insider: bundles forged with the monitor's own
//! device key, each properly signed, so only the rules of parts can catch them. Each is refused
//! with its code and HQ's vault (every table, and its chunk store) is exactly as it was, both
//! when HQ holds nothing and when it holds the record waiting for its parts. Parts that are
//! each as listed but join into other content than the list names are dropped, and the record
//! keeps waiting; the genuine parts, or the attachment whole from a later export, complete it.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_bundle::{Manifest, ManifestEntry, PartInfo, PartList, PartPath};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_exchange::{Limits, Selection, import};
use vigil_fixtures::bundle::{Tar, chunk_files, encrypt_to, read_all};
use vigil_model::{AttachmentId, Incident, IncidentId};
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

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(vigil_crypto::sign::sha256(bytes))
}

/// HQ, an enrolled monitor, and the monitor's record with a 150,000-byte photo exported in
/// parts (bundle files of at most 100,000 bytes): the bundles, in order.
struct Setup {
    hq: Vault,
    monitor: Vault,
    photo: Vec<u8>,
    attachment: AttachmentId,
    bundles: Vec<PathBuf>,
    identity: age::x25519::Identity,
    /// Every entry of every bundle, by path (the certificate, revision, log, list, parts).
    entries: Vec<(String, Vec<u8>)>,
    manifest: Manifest,
}

fn setup(root: &Path) -> Setup {
    let mut hq = vault(&root.join("hq"));
    let mut monitor = vault(&root.join("monitor"));
    let profile = hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let inc = Incident::new(IncidentId::new(), "Meeting broken up", monitor.now());
    monitor.create_incident(&inc).unwrap();
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let attachment = monitor
        .add_attachment(inc.id, "photo.jpg", "image/jpeg", &photo[..], None)
        .unwrap()
        .id;
    monitor.seal(inc.id).unwrap();
    let limits = Limits {
        max_file: Some(100_000),
        ..Limits::default()
    };
    let bundles: Vec<PathBuf> = vigil_exchange::export_all(
        &mut monitor,
        &Selection::Unsent,
        &root.join("b.vigil"),
        limits,
    )
    .unwrap()
    .into_iter()
    .map(|r| r.path)
    .collect();
    assert!(bundles.len() >= 2, "{bundles:?}");
    let identity: age::x25519::Identity = hq
        .org_identity_file(0)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let first = std::fs::read(&bundles[0]).unwrap();
    let manifest = vigil_bundle::BundleReader::open(&first[..], std::slice::from_ref(&identity))
        .unwrap()
        .manifest()
        .clone();
    assert_eq!(manifest.version, vigil_bundle::PARTS_VERSION);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for b in &bundles {
        let bytes = std::fs::read(b).unwrap();
        for e in read_all(&bytes, std::slice::from_ref(&identity)).unwrap() {
            if !entries.iter().any(|(p, _)| *p == e.0) {
                entries.push(e);
            }
        }
    }
    Setup {
        hq,
        monitor,
        photo,
        attachment,
        bundles,
        identity,
        entries,
        manifest,
    }
}

impl Setup {
    fn entry(&self, path: &str) -> Vec<u8> {
        self.entries
            .iter()
            .find(|(p, _)| p == path)
            .unwrap()
            .1
            .clone()
    }

    /// The certificate, the revision and the custody log, as the first bundle has them.
    fn head(&self) -> Vec<(String, Vec<u8>)> {
        self.entries
            .iter()
            .filter(|(p, _)| {
                p == vigil_bundle::CERTIFICATE
                    || p == vigil_bundle::CUSTODY_LOG
                    || p.starts_with("revisions/")
            })
            .cloned()
            .collect()
    }

    fn sha(&self) -> String {
        sha256_hex(&self.photo)
    }

    /// A list of the photo cut into `pieces`, as `PartList` writes it.
    fn list_of(&self, pieces: &[&[u8]], size: u64, part_size: u64) -> (String, Vec<u8>) {
        let list = PartList::new(
            self.sha(),
            size,
            part_size,
            pieces
                .iter()
                .map(|p| PartInfo {
                    sha256: sha256_hex(p),
                    size: p.len() as u64,
                })
                .collect(),
        );
        (
            PartPath::List(self.sha()).path(),
            list.to_canonical_json().unwrap(),
        )
    }

    fn part(&self, index: u64, bytes: &[u8]) -> (String, Vec<u8>) {
        (PartPath::Part(self.sha(), index).path(), bytes.to_vec())
    }

    /// A bundle of `files`, its manifest changed by `edit`, signed with the monitor's device
    /// key and encrypted to HQ and the device: a bundle the enrolled device could make.
    fn forge(&self, files: &[(String, Vec<u8>)], edit: impl FnOnce(&mut Manifest)) -> Vec<u8> {
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
        let sig = hex::encode(self.monitor.device_sign(&json)).into_bytes();
        let mut t = Tar::default();
        t.head(&json, &sig);
        for (path, bytes) in files {
            t.file(path, bytes);
        }
        t.end();
        let mut recipients: Vec<age::x25519::Recipient> = self
            .hq
            .hq_recipients()
            .unwrap()
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        recipients.push(self.identity.to_public());
        encrypt_to(&t.bytes, &recipients)
    }
}

/// Imports each forged bundle into `hq` and checks its code and that nothing changed.
fn refused(hq: &mut Vault, cases: &[(&str, Vec<u8>, &str)], scratch: &Path) -> Vec<String> {
    let digest = hq.content_digest().unwrap();
    let chunks = chunk_files(hq.dir());
    let file = scratch.join("forged.vigil");
    let mut wrong = Vec::new();
    for (name, bytes, code) in cases {
        std::fs::write(&file, bytes).unwrap();
        let got = match import(hq, &file) {
            Ok(r) => format!("ok (applied {}, parts {})", r.applied, r.parts),
            Err(e) => e.code().to_string(),
        };
        if got != *code {
            wrong.push(format!("{name}: expected {code}, got {got}"));
        }
        if hq.content_digest().unwrap() != digest || chunk_files(hq.dir()) != chunks {
            wrong.push(format!("{name}: HQ's vault changed"));
        }
    }
    wrong
}

#[test]
fn forged_parts_are_refused_and_hq_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut s = setup(root);
    let p = &s.photo;
    let (a, b, c) = (&p[..64_000], &p[64_000..128_000], &p[128_000..]);
    let list = s.list_of(&[a, b, c], p.len() as u64, 64_000);
    let mut honest = s.head();
    honest.extend([list.clone(), s.part(0, a), s.part(1, b), s.part(2, c)]);
    // The control: the same bundle, honest, is sound.
    vigil_exchange::verify_bundle_from(
        &s.forge(&honest, |_| {})[..],
        std::slice::from_ref(&s.identity),
    )
    .unwrap();

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut other = b.to_vec();
    other[0] ^= 1;
    let mut swapped = honest.clone();
    swapped[4] = s.part(1, &other);
    cases.push((
        "a part whose bytes are not those its list names",
        s.forge(&swapped, |_| {}),
        "bundle.malformed",
    ));
    let mut early = s.head();
    early.extend([s.part(0, a), list.clone(), s.part(1, b), s.part(2, c)]);
    cases.push((
        "a part before its list",
        s.forge(&early, |_| {}),
        "bundle.malformed",
    ));
    let mut beyond = honest.clone();
    beyond.push(s.part(3, c));
    cases.push((
        "a part beyond its list",
        s.forge(&beyond, |_| {}),
        "bundle.malformed",
    ));
    let mut short = honest.clone();
    short[3] = s.list_of(&[a, b, c], p.len() as u64 + 1, 64_000);
    cases.push((
        "a list whose parts do not add up",
        s.forge(&short, |_| {}),
        "bundle.malformed",
    ));
    let mut misnamed = honest.clone();
    misnamed[3].0 = PartPath::List(sha256_hex(b"other")).path();
    cases.push((
        "a list named for another attachment",
        s.forge(&misnamed, |_| {}),
        "bundle.malformed",
    ));
    let mut spaced = honest.clone();
    spaced[3].1.insert(1, b' ');
    cases.push((
        "a list not in canonical form",
        s.forge(&spaced, |_| {}),
        "bundle.malformed",
    ));
    cases.push((
        "parts in a version-2 manifest",
        s.forge(&honest, |m| m.version = 2),
        "bundle.malformed",
    ));
    let mut none = s.head();
    none.push(s.part(0, a));
    cases.push((
        "a part without any list",
        s.forge(&none, |_| {}),
        "bundle.malformed",
    ));

    // HQ holding nothing from this monitor.
    let wrong = refused(&mut s.hq, &cases, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // HQ holding the record, waiting for its parts.
    let first = import(&mut s.hq, &s.bundles[0]).unwrap();
    assert_eq!(first.applied, 1);
    assert!(s.hq.attachment_parts(s.attachment).unwrap().is_some());
    let wrong = refused(&mut s.hq, &cases, root);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(cases.len(), 8);
}

/// Parts each as their list names, but joining into other content than the list claims (the
/// photo's SHA-256): the import is sound, the joined content is refused, the list and its parts
/// go, and the record keeps waiting with nothing left behind; the genuine parts complete it.
#[test]
fn parts_that_join_into_other_content_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut s = setup(root);
    let chunks = chunk_files(s.hq.dir());
    let fake: Vec<u8> = vec![9u8; s.photo.len()];
    let (a, b) = (&fake[..100_000], &fake[100_000..]);
    let mut forged = s.head();
    forged.extend([
        s.list_of(&[a, b], fake.len() as u64, 100_000),
        s.part(0, a),
        s.part(1, b),
    ]);
    let file = root.join("forged.vigil");
    std::fs::write(&file, s.forge(&forged, |_| {})).unwrap();
    let r = import(&mut s.hq, &file).unwrap();
    assert_eq!((r.applied, r.parts, r.completed), (1, 2, 0), "{r:?}");
    let waiting = s.hq.attachment_parts(s.attachment).unwrap().unwrap();
    assert_eq!(waiting.of, 0, "the false list is gone: {waiting:?}");
    assert_eq!(
        s.hq.attachment_reader(s.attachment).unwrap_err().code(),
        "attachment_incomplete"
    );
    assert_eq!(
        chunk_files(s.hq.dir()),
        chunks,
        "no chunk of the false parts is left"
    );
    for b in s.bundles.iter().rev() {
        import(&mut s.hq, b).unwrap();
    }
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut s.hq.attachment_reader(s.attachment).unwrap(), &mut got)
        .unwrap();
    assert_eq!(got, s.photo);
}

/// A record waiting for parts is completed by the attachment whole, from a later export of the
/// same record without a file limit (to an exFAT stick, say); the parts kept go.
#[test]
fn a_whole_copy_from_a_later_export_completes_a_record_waiting_for_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut s = setup(root);
    import(&mut s.hq, &s.bundles[0]).unwrap();
    assert!(s.hq.attachment_parts(s.attachment).unwrap().is_some());
    let whole = root.join("whole.vigil");
    vigil_exchange::export(&mut s.monitor, &Selection::All, &whole).unwrap();
    let r = import(&mut s.hq, &whole).unwrap();
    assert_eq!((r.applied, r.attachments), (0, 1), "{r:?}");
    assert_eq!(s.hq.attachment_parts(s.attachment).unwrap(), None);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut s.hq.attachment_reader(s.attachment).unwrap(), &mut got)
        .unwrap();
    assert_eq!(got, s.photo);
    // The parts still to come change nothing now.
    let digest = s.hq.content_digest().unwrap();
    for b in &s.bundles[1..] {
        import(&mut s.hq, b).unwrap();
    }
    assert_eq!(s.hq.content_digest().unwrap(), digest);
    let _ = s.entry(vigil_bundle::CUSTODY_LOG);
}

//! Test fixtures shared by Vigil's test suites (a dev-dependency only, never shipped): vaults in
//! an organisation, the sample incident, bundles forged from a real monitor's bundle with
//! whatever keys an attacker holds, and hand-made bundle archives ([`bundle`]).
//!
//! A fixture that cannot be set up is a broken test, so these panic rather than return errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Fixtures hold age identities and key pairs, which have no Debug of their own (on purpose).
#![allow(missing_debug_implementations)]

pub mod incidents;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use vigil_bundle::{DeviceInfo, Manifest, ManifestEntry};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_crypto::sign::{DeviceKeys, DevicePublic};
use vigil_exchange::{ImportReport, Selection, export, import};
use vigil_ledger::canonical;
use vigil_model::{DeviceId, Incident, IncidentId};
use vigil_store::{Clock, KdfChoice, SystemClock, Vault};

pub mod bundle;

/// The passphrase of every fixture vault.
pub fn pass() -> Passphrase {
    Passphrase::new("pass".into())
}

/// A new vault at `path` (the floor KDF, so tests stay fast) on `clock`.
pub fn vault_with(path: &Path, clock: Arc<dyn Clock>) -> Vault {
    Vault::create(path, &pass(), KdfChoice::Params(KdfParams::FLOOR), clock).unwrap()
}

/// A new vault at `path` on the system clock.
pub fn vault(path: &Path) -> Vault {
    vault_with(path, Arc::new(SystemClock))
}

/// HQ with its organisation.
pub fn hq(path: &Path) -> Vault {
    let mut hq = vault(path);
    hq.create_org("Coalition HQ", 1).unwrap();
    hq
}

/// A monitor's vault enrolled by `hq` under `name`.
pub fn enrolled(hq: &mut Vault, path: &Path, name: &str) -> Vault {
    enrolled_with(hq, path, name, Arc::new(SystemClock))
}

/// [`enrolled`] on `clock`.
pub fn enrolled_with(hq: &mut Vault, path: &Path, name: &str, clock: Arc<dyn Clock>) -> Vault {
    let mut v = vault_with(path, clock);
    let invitation = hq.issue_invitation(name, 14).unwrap();
    v.join_and_enrol(&profile(hq), &invitation.expose_file_bytes())
        .unwrap();
    v
}

/// HQ's signed organisation profile, as a monitor receives it.
pub fn profile(hq: &Vault) -> String {
    hq.org_profile().unwrap().unwrap().to_json_pretty()
}

/// A new incident with a running log and an attachment, sealed.
pub fn seal_new(v: &mut Vault, title: &str) -> IncidentId {
    let mut inc = Incident::new(IncidentId::new(), title, v.now());
    inc.summary = "Nine men broke into the lawyers' meeting.".into();
    v.create_incident(&inc).unwrap();
    v.append_log(inc.id, "10:30 nine men enter", true).unwrap();
    v.append_log(inc.id, "10:41 they name their movement", false)
        .unwrap();
    v.add_attachment(
        inc.id,
        "note.txt",
        "text/plain",
        &b"names, as they gave them"[..],
        None,
    )
    .unwrap();
    v.seal(inc.id).unwrap();
    inc.id
}

/// Exports what `v` has not sent yet into `dir/name`.
pub fn send(v: &mut Vault, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    export(v, &Selection::Unsent, &path).unwrap();
    path
}

/// Imports, and says how it went: `applied N`, `quarantined:<reason>` or the error's code.
pub fn outcome(hq: &mut Vault, bundle: &Path) -> String {
    match import(hq, bundle) {
        Ok(ImportReport {
            quarantined: Some(q),
            ..
        }) => format!("quarantined:{}", q.reason),
        Ok(r) => format!("applied {}", r.applied),
        Err(e) => e.code().to_owned(),
    }
}

/// What HQ shows of an incident: its fields, log, attachments and latest revisions.
pub fn view(hq: &Vault, id: IncidentId) -> Value {
    json!({
        "incident": hq.incident(id).unwrap(),
        "log": hq.log_entries(id).unwrap(),
        "attachments": hq.attachments(id).unwrap(),
        "heads": hq.lineage(id).unwrap().heads.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    })
}

/// Whoever signs a forged bundle: a real vault, or bare keys an attacker made.
pub trait Signer {
    /// The signer's device id.
    fn device(&self) -> DeviceId;
    /// Its public keys.
    fn public(&self) -> DevicePublic;
    /// Its Ed25519 signature of `bytes`.
    fn sign(&self, bytes: &[u8]) -> [u8; 64];
}

impl Signer for Vault {
    fn device(&self) -> DeviceId {
        Vault::device(self)
    }
    fn public(&self) -> DevicePublic {
        self.device_public()
    }
    fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.device_sign(bytes)
    }
}

impl Signer for DeviceKeys {
    fn device(&self) -> DeviceId {
        vigil_ledger::ids::device_id_for(&self.public().sign_pk)
    }
    fn public(&self) -> DevicePublic {
        DeviceKeys::public(self)
    }
    fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        DeviceKeys::sign(self, bytes).0
    }
}

/// A real bundle, opened with HQ's keys, to forge others from.
/// A real bundle opened with HQ's key: its files, manifest and recipients, to forge from.
#[derive(Debug)]
pub struct Opened {
    /// Every entry (path, bytes), in order.
    pub files: Vec<(String, Vec<u8>)>,
    /// The manifest.
    pub manifest: Manifest,
    /// HQ's recipients, to encrypt a forged bundle to.
    pub hq_recipients: Vec<age::x25519::Recipient>,
}

/// HQ's first reader identity (what `age -d -i` would use).
pub fn hq_identity(hq: &Vault) -> age::x25519::Identity {
    hq.org_identity_file(0)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap()
}

impl Opened {
    /// Opens `bundle` with HQ's key.
    pub fn open(hq: &Vault, bundle: &Path) -> Opened {
        let bytes = std::fs::read(bundle).unwrap();
        let id = hq_identity(hq);
        let files = bundle::read_all(&bytes, std::slice::from_ref(&id)).unwrap();
        let manifest = vigil_bundle::BundleReader::open(&bytes[..], &[id])
            .unwrap()
            .manifest()
            .clone();
        Opened {
            files,
            manifest,
            hq_recipients: hq
                .hq_recipients()
                .unwrap()
                .iter()
                .map(|r| r.parse().unwrap())
                .collect(),
        }
    }

    /// The first revision entry.
    pub fn revision(&self) -> &[u8] {
        &self
            .files
            .iter()
            .find(|f| f.0.starts_with("revisions/"))
            .unwrap()
            .1
    }

    /// The revision entry's document.
    pub fn doc(&self) -> Value {
        serde_json::from_slice::<Value>(self.revision()).unwrap()["doc"].clone()
    }

    /// The attachments' entries.
    pub fn attachments(&self) -> Vec<(String, Vec<u8>)> {
        self.files
            .iter()
            .filter(|f| f.0.starts_with("attachments/"))
            .cloned()
            .collect()
    }

    /// The sender's certificate entry, if the bundle carries one.
    pub fn certificate(&self) -> Option<Vec<u8>> {
        self.files
            .iter()
            .find(|f| f.0 == vigil_bundle::CERTIFICATE)
            .map(|f| f.1.clone())
    }
}

/// A revision entry for `doc`, signed by `by` (which it names as its device).
pub fn revision_entry(doc: &mut Value, by: &dyn Signer) -> (String, Vec<u8>) {
    doc["device"] = json!(by.device());
    doc["device_keys"] = serde_json::to_value(by.public()).unwrap();
    let bytes = canonical::encode(doc);
    let sig = by.sign(&vigil_crypto::sign::sha256(&bytes));
    let entry = json!({
        "doc": doc,
        "format": "vigil-sealed-revision",
        "sig": hex::encode(sig),
        "version": 1,
    });
    (
        format!("revisions/{}.json", doc["id"].as_str().unwrap()),
        canonical::encode(&entry),
    )
}

/// The SHA-256 of a revision document, hex (for `prev`).
pub fn hash_of(doc: &Value) -> String {
    hex::encode(vigil_crypto::sign::sha256(&canonical::encode(doc)))
}

/// A bundle of `files` (certificate first if given) from `by`, for `org`, encrypted to HQ.
pub fn forge(
    o: &Opened,
    by: &dyn Signer,
    certificate: Option<Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
    dest: &Path,
) -> PathBuf {
    forge_with_id(o, by, certificate, files, dest, uuid::Uuid::now_v7())
}

/// [`forge`], under a bundle id of the forger's choosing.
pub fn forge_with_id(
    o: &Opened,
    by: &dyn Signer,
    certificate: Option<Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
    dest: &Path,
    bundle_id: uuid::Uuid,
) -> PathBuf {
    let mut all = Vec::new();
    if let Some(c) = certificate {
        all.push((vigil_bundle::CERTIFICATE.to_owned(), c));
    }
    all.extend(files);
    let public = by.public();
    let manifest = Manifest::new(
        bundle_id,
        chrono::Utc::now(),
        o.manifest.org_id,
        DeviceInfo {
            id: *by.device().as_uuid(),
            sign_pk: hex::encode(public.sign_pk),
            age_recipient: public.age_recipient.clone(),
        },
        all.iter()
            .map(|(path, bytes)| ManifestEntry {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: hex::encode(vigil_crypto::sign::sha256(bytes)),
            })
            .collect(),
    );
    let json = manifest.to_canonical_json().unwrap();
    let sig = hex::encode(by.sign(&json)).into_bytes();
    let mut t = bundle::Tar::default();
    t.head(&json, &sig);
    for (path, bytes) in &all {
        t.file(path, bytes);
    }
    t.end();
    let mut recipients = o.hq_recipients.clone();
    recipients.push(public.age_recipient.parse().unwrap());
    std::fs::write(dest, bundle::encrypt_to(&t.bytes, &recipients)).unwrap();
    dest.to_path_buf()
}

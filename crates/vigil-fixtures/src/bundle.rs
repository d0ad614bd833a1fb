//! Keys, manifests and hand-made bundle archives, and the corpus of bad bundles ([`corpus`]).

pub mod corpus;

use std::io::{Read, Write};

use age::x25519::{Identity, Recipient};
use ring::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;
use vigil_bundle::{BundleError, BundleReader, BundleWriter, DeviceInfo, Manifest, ManifestEntry};

/// An HQ reader, a device (age identity + Ed25519 key) and an organisation.
pub struct Fixture {
    /// HQ's age identity (a recipient of every bundle).
    pub hq: Identity,
    /// The sending device's own age identity.
    pub device: Identity,
    /// The device's Ed25519 signing key.
    pub key: Ed25519KeyPair,
    /// The organisation.
    pub org: Uuid,
    /// The device.
    pub device_id: Uuid,
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A fresh Ed25519 key pair.
pub fn new_key() -> Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

/// `key`'s Ed25519 signature of `bytes`.
pub fn sign_with(key: &Ed25519KeyPair, bytes: &[u8]) -> [u8; 64] {
    key.sign(bytes).as_ref().try_into().unwrap()
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A sender with fresh keys and ids.
    pub fn new() -> Self {
        Self {
            hq: Identity::generate(),
            device: Identity::generate(),
            key: new_key(),
            org: Uuid::now_v7(),
            device_id: Uuid::now_v7(),
        }
    }

    /// The bundle's age recipients: HQ and the device itself.
    pub fn recipients(&self) -> Vec<Recipient> {
        vec![self.hq.to_public(), self.device.to_public()]
    }

    /// The manifest's `device` block for this sender.
    pub fn device_info(&self) -> DeviceInfo {
        DeviceInfo {
            id: self.device_id,
            sign_pk: hex::encode(self.key.public_key().as_ref()),
            age_recipient: self.device.to_public().to_string(),
        }
    }

    /// A manifest listing `files` (path, bytes) in order.
    pub fn manifest(&self, files: &[(&str, &[u8])]) -> Manifest {
        let entries = files
            .iter()
            .map(|(path, bytes)| ManifestEntry {
                path: (*path).to_owned(),
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect();
        Manifest::new(
            Uuid::now_v7(),
            "2019-05-23T06:30:00Z".parse().unwrap(),
            self.org,
            self.device_info(),
            entries,
        )
    }

    /// The device's signature of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        sign_with(&self.key, bytes)
    }

    /// A well-formed bundle holding `files`, written with `BundleWriter`.
    pub fn bundle(&self, files: &[(&str, &[u8])]) -> Vec<u8> {
        let manifest = self.manifest(files);
        let mut w = BundleWriter::new(Vec::new(), &self.recipients()).unwrap();
        w.write_manifest(&manifest, &|b| self.sign(b)).unwrap();
        for (path, bytes) in files {
            w.add_entry(path, bytes.len() as u64, &mut &bytes[..])
                .unwrap();
        }
        w.finish().unwrap()
    }

    /// `plaintext` as an age file to this fixture's recipients (no Vigil checks at all).
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        encrypt_to(plaintext, &self.recipients())
    }

    /// Canonical manifest bytes and their hex signature.
    pub fn signed(&self, manifest: &Manifest) -> (Vec<u8>, Vec<u8>) {
        let json = manifest.to_canonical_json().unwrap();
        let sig = hex::encode(self.sign(&json)).into_bytes();
        (json, sig)
    }
}

/// `plaintext` encrypted to `recipients` with age.
pub fn encrypt_to(plaintext: &[u8], recipients: &[Recipient]) -> Vec<u8> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .unwrap();
    let mut w = enc.wrap_output(Vec::new()).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap()
}

/// A hand-made ustar archive, for bundles `BundleWriter` refuses to make.
#[derive(Default)]
/// A ustar archive built by hand, header by header (to make archives the writer never would).
pub struct Tar {
    /// The archive so far.
    pub bytes: Vec<u8>,
    /// Entries that come right after the manifest and its signature in every archive made
    /// with [`Tar::head`] (a device's certificate).
    pub lead: Vec<(String, Vec<u8>)>,
}

impl Tar {
    /// An entry named `name` (raw, not prefixed) of type `kind`, whose header claims `size`.
    pub fn raw(&mut self, name: &[u8], kind: u8, size: u64, data: &[u8]) -> &mut Self {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::new(kind));
        if kind == b'2' {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        self.bytes.extend_from_slice(h.as_bytes());
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// A regular file `vigil-bundle/<path>` with `data`.
    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.raw(
            format!("vigil-bundle/{path}").as_bytes(),
            b'0',
            data.len() as u64,
            data,
        )
    }

    /// manifest.json and manifest.sig, then the lead entries.
    pub fn head(&mut self, json: &[u8], sig: &[u8]) -> &mut Self {
        self.file("manifest.json", json).file("manifest.sig", sig);
        for (path, data) in std::mem::take(&mut self.lead) {
            self.file(&path, &data);
        }
        self
    }

    /// Ends the archive (two zero blocks).
    pub fn end(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&[0u8; 1024]);
        self
    }
}

/// Opens `bundle` with `identities` and reads every entry to the end.
pub fn read_all(
    bundle: &[u8],
    identities: &[Identity],
) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let mut reader = BundleReader::open(bundle, identities)?;
    let mut out = Vec::new();
    while let Some(mut entry) = reader.next_entry()? {
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        out.push((entry.path().to_owned(), data));
    }
    Ok(out)
}

/// The error code of reading `bundle` to the end, or "ok".
pub fn outcome(bundle: &[u8], identities: &[Identity]) -> String {
    match read_all(bundle, identities) {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

/// The chunk files of the vault in `dir`: every file under `blobs/` but the empty spare files
/// that become chunks (`blobs/spare/`), sorted.
pub fn chunk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk(&dir.join("blobs"))
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "spare"))
        .collect()
}

/// Every file under `dir`, recursively, sorted.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

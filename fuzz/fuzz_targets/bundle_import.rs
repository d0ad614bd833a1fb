//! What HQ checks at import, past the container: arbitrary revision entries and custody logs in
//! a bundle whose archive and manifest are sound (built here and signed with a fixed device
//! key, so the fuzzer's bytes reach the revision and custody parsers and their signature,
//! canonical-form and chain checks, instead of stopping at the age MAC or the manifest
//! signature). Every input must be accepted or refused cleanly, never panic.
//!
//! Input layout: a revision entry, then `\n--\n`, then a custody log (both optional). Seeds that
//! start from a real bundle's entries are in `corpus/bundle_import/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use vigil_bundle::{BundleWriter, DeviceInfo, Manifest, ManifestEntry};

const IDENTITY: &str = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
const REVISION: &str = "revisions/0190a1b2-0000-7000-8000-000000000001.json";

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
}

fuzz_target!(|data: &[u8]| {
    let Ok(identity) = IDENTITY.parse::<age::x25519::Identity>() else {
        return;
    };
    let Ok(key) = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]) else {
        return;
    };
    let (revision, custody) = match data.windows(4).position(|w| w == b"\n--\n") {
        Some(at) => (&data[..at], &data[at + 4..]),
        None => (data, &[][..]),
    };
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    if !revision.is_empty() {
        files.push((REVISION, revision));
    }
    if !custody.is_empty() {
        files.push((vigil_bundle::CUSTODY_LOG, custody));
    }
    if files.is_empty() {
        return;
    }
    let manifest = Manifest::new(
        uuid::Uuid::from_u128(1),
        chrono::DateTime::from_timestamp(1_558_593_000, 0).unwrap_or_default(),
        uuid::Uuid::from_u128(2),
        DeviceInfo {
            id: uuid::Uuid::from_u128(3),
            sign_pk: hex::encode(key.public_key().as_ref()),
            age_recipient: identity.to_public().to_string(),
        },
        files
            .iter()
            .map(|(path, bytes)| ManifestEntry {
                path: (*path).to_owned(),
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    );
    let Ok(mut w) = BundleWriter::new(Vec::new(), &[identity.to_public()]) else {
        return;
    };
    let sign = |b: &[u8]| -> [u8; 64] { key.sign(b).as_ref().try_into().unwrap_or([0u8; 64]) };
    if w.write_manifest(&manifest, &sign).is_err() {
        return;
    }
    for (path, bytes) in &files {
        if w.add_entry(path, bytes.len() as u64, &mut &bytes[..])
            .is_err()
        {
            return;
        }
    }
    let Ok(bundle) = w.finish() else {
        return;
    };
    let _ = vigil_exchange::verify_bundle_from(&bundle[..], &[identity]);
});

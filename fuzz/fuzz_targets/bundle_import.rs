//! What HQ checks at import, past the container: arbitrary revision entries and custody logs in
//! a bundle whose archive and manifest are sound, so the fuzzer's bytes reach the parsers and
//! checks of `vigil_exchange::verify_bundle_from` instead of stopping at the age MAC or the
//! manifest signature:
//! - the revision entry is named after the id in its document (when it has one), so it gets
//!   past the name check to its canonical-form, hash and signature checks;
//! - each custody line's `doc` is signed here with the bundle's fixed device key, and the
//!   manifest names the device the first line claims, so the lines get past the signature
//!   check to the custody event's own checks (format, canonical form, device).
//!
//! Every input must be accepted or refused cleanly, never panic. Input layout: a revision
//! entry, then `\n--\n`, then a custody log (both optional). Seeds from a real bundle are in
//! `fuzz/seeds/bundle_import/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use vigil_bundle::{BundleWriter, DeviceInfo, Manifest, ManifestEntry};

const IDENTITY: &str = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

/// The custody log with every line's `doc` signed by `key` (lines that are not JSON objects
/// with a `doc` are kept as they are), and the device the first signed line names.
fn signed_custody(log: &[u8], key: &Ed25519KeyPair) -> (Vec<u8>, Option<uuid::Uuid>) {
    let mut out = Vec::new();
    let mut device = None;
    for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(mut v) if v.get("doc").is_some() => {
                let doc = vigil_ledger::canonical::encode(&v["doc"]);
                let sig = key.sign(&sha256(&doc));
                v["sig"] = serde_json::json!(hex::encode(sig.as_ref()));
                if device.is_none() {
                    device = v["doc"]["device"].as_str().and_then(|d| d.parse().ok());
                }
                out.extend(vigil_ledger::canonical::encode(&v));
            }
            _ => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }
    (out, device)
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
    let revision_path = serde_json::from_slice::<serde_json::Value>(revision)
        .ok()
        .and_then(|v| {
            v["doc"]["id"]
                .as_str()
                .map(|id| format!("revisions/{id}.json"))
        })
        .unwrap_or_else(|| "revisions/0190a1b2-0000-7000-8000-000000000001.json".into());
    let (custody, device) = signed_custody(custody, &key);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if !revision.is_empty() {
        files.push((revision_path, revision.to_vec()));
    }
    if !custody.is_empty() {
        files.push((vigil_bundle::CUSTODY_LOG.to_owned(), custody));
    }
    if files.is_empty() {
        return;
    }
    let manifest = Manifest::new(
        uuid::Uuid::from_u128(1),
        chrono::DateTime::from_timestamp(1_558_593_000, 0).unwrap_or_default(),
        uuid::Uuid::from_u128(2),
        DeviceInfo {
            id: device.unwrap_or(uuid::Uuid::from_u128(3)),
            sign_pk: hex::encode(key.public_key().as_ref()),
            age_recipient: identity.to_public().to_string(),
        },
        files
            .iter()
            .map(|(path, bytes)| ManifestEntry {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: hex::encode(sha256(bytes)),
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

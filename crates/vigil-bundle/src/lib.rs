//! Vigil bundles: how a monitor's records travel to HQ on a USB stick.
//!
//! A bundle (`*.vigil`) is two standard layers, so that an archivist can open one decades from
//! now with the `age` and `tar` tools alone (`docs/bundle-format.md` has the full description):
//!
//! 1. **age** ([`encryption`]): a binary age v1 file encrypted to every HQ reader's X25519
//!    recipient and to the exporting device's own, so the device can restore from it.
//! 2. **ustar** (`archive`): inside, a plain POSIX tar archive. Every entry is a regular file
//!    under `vigil-bundle/`, in this order:
//!    - `vigil-bundle/manifest.json`: the [`Manifest`] in canonical JSON
//!      ([`vigil_ledger::canonical`]):
//!      format, version, bundle id, time, organisation, device (Ed25519 key, age recipient), and
//!      every following entry's path, size and SHA-256, with totals;
//!    - `vigil-bundle/manifest.sig`: the device's Ed25519 signature of exactly those bytes, in
//!      128 lowercase hex digits;
//!    - the entries, in manifest order: `device/certificate.json` (version 2),
//!      `revisions/<id>.json`, `custody/log.jsonl`, `attachments/<sha256>`. This crate treats
//!      their content as opaque bytes, within the limits the manifest checks
//!      ([`MAX_ENTRIES`], [`MAX_JSON_ENTRY`], [`MAX_JSON_BYTES`]).
//!
//! The archive ends with two zero blocks and nothing after them.
//!
//! Reading checks, as it streams: the age header and every 64 KiB payload chunk (age), the
//! manifest's signature and form, each tar header (regular files only, no escaping paths), each
//! entry against the manifest (order, size, SHA-256), and at the end that every entry came, the
//! archive ended, and the age stream ended where it should. Failures are [`BundleError`]s with a
//! stable [`code`](BundleError::code) per class.
//!
//! ```
//! use std::io::Read;
//! use vigil_bundle::{BundleReader, BundleWriter, DeviceInfo, Manifest, ManifestEntry};
//! use ring::signature::{Ed25519KeyPair, KeyPair};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hq = age::x25519::Identity::generate();
//! let device = age::x25519::Identity::generate();
//! let rng = ring::rand::SystemRandom::new();
//! let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "keygen")?;
//! let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "key")?;
//!
//! let log = b"{\"event\":\"exported\"}\n";
//! let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, log));
//! let manifest = Manifest::new(
//!     uuid::Uuid::now_v7(),
//!     "2019-05-23T10:00:00Z".parse()?,
//!     uuid::Uuid::now_v7(),
//!     DeviceInfo {
//!         id: uuid::Uuid::now_v7(),
//!         sign_pk: hex::encode(key.public_key().as_ref()),
//!         age_recipient: device.to_public().to_string(),
//!     },
//!     vec![ManifestEntry { path: "custody/log.jsonl".into(), size: log.len() as u64, sha256: sha }],
//! );
//!
//! let mut writer = BundleWriter::new(Vec::new(), &[hq.to_public(), device.to_public()])?;
//! writer.write_manifest(&manifest, &|bytes| {
//!     key.sign(bytes).as_ref().try_into().expect("Ed25519 signatures are 64 bytes")
//! })?;
//! writer.add_entry("custody/log.jsonl", log.len() as u64, &mut &log[..])?;
//! let bundle: Vec<u8> = writer.finish()?;
//!
//! let mut reader = BundleReader::open(&bundle[..], &[hq])?;
//! assert_eq!(reader.manifest(), &manifest);
//! let mut entry = reader.next_entry()?.expect("one entry");
//! assert_eq!(entry.path(), "custody/log.jsonl");
//! let mut content = Vec::new();
//! entry.read_to_end(&mut content)?;
//! assert_eq!(content, log);
//! assert!(reader.next_entry()?.is_none()); // only now is the whole bundle proven
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod archive;
pub mod encryption;
mod error;
mod hashing;
mod manifest;
mod padding;
pub mod parts;
mod read;
mod write;

pub use encryption::{Payload, decrypt_payload};
pub use error::{BundleError, Result};
pub use manifest::{
    CERTIFICATE, CUSTODY_LOG, DeviceInfo, FORMAT, MAX_ENTRIES, MAX_JSON_BYTES, MAX_JSON_ENTRY,
    MAX_MANIFEST_BYTES, Manifest, ManifestEntry, PADDED_VERSION, PADDING, ROOT, SIGNATURE_HEX_LEN,
    Totals, VERSION, check_entry_path,
};
pub use padding::{MIN_BUCKET, bucket};
pub use parts::{PARTS_VERSION, PartInfo, PartList, PartPath};
pub use read::{BundleReader, Entry};
pub use write::{BundleFile, BundleWriter, PendingBundle, export_file, write_pending};

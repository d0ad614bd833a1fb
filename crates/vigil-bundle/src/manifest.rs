//! `vigil-bundle/manifest.json`: what a bundle holds, signed by the exporting device.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{BundleError, Result};

/// The value of the manifest's `format` field.
pub const FORMAT: &str = "vigil-bundle";
/// The newest manifest `version` this build reads. Version 2 added the device's certificate
/// entry and the limits below; version 3 the optional `padding` entry (see
/// [`Manifest::pad_to_bucket`]), and only a padded bundle is written as version 3, so that
/// an unpadded one still opens with a build that reads version 2. Version 1 (no certificate)
/// is still read. Version 4 adds attachments carried in parts ([`crate::parts`]), and only a
/// bundle that carries parts is written as version 4.
pub const VERSION: u64 = 4;
/// The version of a manifest without padding.
const UNPADDED_VERSION: u64 = 2;
/// The manifest version of a padded bundle (an unpadded one stays version 2).
pub const PADDED_VERSION: u64 = 3;
/// The padding entry's path inside the bundle folder (version 3; see `padding`).
pub const PADDING: &str = "padding";
/// The device certificate's path inside the bundle folder (version 2).
pub const CERTIFICATE: &str = "device/certificate.json";
/// The most entries a bundle may hold.
pub const MAX_ENTRIES: u64 = 100_000;
/// The largest JSON entry (a revision, the custody log, the certificate) a bundle may hold.
pub const MAX_JSON_ENTRY: u64 = 16 * 1024 * 1024;
/// The most bytes of JSON entries, all together, a bundle may hold. Attachments are not
/// counted: they are streamed, never held in memory.
pub const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;
/// The folder every archive entry lives in.
pub const ROOT: &str = "vigil-bundle/";
/// The largest `manifest.json` a reader accepts.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// The custody log's path inside the bundle folder.
pub const CUSTODY_LOG: &str = "custody/log.jsonl";

/// The manifest: every entry with its size and SHA-256, and the device that signs it.
///
/// Written as canonical JSON ([`vigil_ledger::canonical`]); `manifest.sig` signs exactly those bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version; readers refuse a newer one than [`VERSION`].
    pub version: u64,
    /// Names this bundle; a re-export makes a new one.
    pub bundle_id: Uuid,
    /// When the bundle was made, in UTC.
    pub created_at: DateTime<Utc>,
    /// The organisation the device belongs to.
    pub org_id: Uuid,
    /// The exporting device.
    pub device: DeviceInfo,
    /// The archive entries after `manifest.sig`, in archive order.
    pub entries: Vec<ManifestEntry>,
    /// Sums over `entries`, so a reader can refuse an oversized archive early.
    pub totals: Totals,
}

/// The exporting device, as named in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// The device's id.
    pub id: Uuid,
    /// Its Ed25519 public key, 64 lowercase hex digits; verifies `manifest.sig`.
    pub sign_pk: String,
    /// Its own age recipient (`age1…`); every bundle is also encrypted to it.
    pub age_recipient: String,
}

/// One archive entry: `vigil-bundle/<path>`, `size` bytes with SHA-256 `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Relative to `vigil-bundle/`: `revisions/<id>.json`, `custody/log.jsonl` or
    /// `attachments/<sha256 hex>`.
    pub path: String,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
}

/// Sums over the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Number of entries.
    pub entries: u64,
    /// Sum of their sizes.
    pub bytes: u64,
}

impl Manifest {
    /// A version-2 manifest over `entries`, with `totals` computed (version 3 once padded).
    pub fn new(
        bundle_id: Uuid,
        created_at: DateTime<Utc>,
        org_id: Uuid,
        device: DeviceInfo,
        entries: Vec<ManifestEntry>,
    ) -> Self {
        let totals = Totals {
            entries: entries.len() as u64,
            bytes: entries
                .iter()
                .map(|e| e.size)
                .fold(0u64, u64::saturating_add),
        };
        // Parts need version 4; a bundle without parts keeps the version older readers know.
        let version = if entries
            .iter()
            .any(|e| crate::parts::PartPath::parse(&e.path).is_some())
        {
            crate::parts::PARTS_VERSION
        } else {
            UNPADDED_VERSION
        };
        Self {
            format: FORMAT.into(),
            version,
            bundle_id,
            created_at,
            org_id,
            device,
            entries,
            totals,
        }
    }

    /// The exact bytes of `manifest.json`: canonical JSON.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        vigil_ledger::canonical::encode_serialize("the manifest", self)
            .map_err(|e| BundleError::Malformed(e.to_string()))
    }

    /// Checks everything the format requires of a manifest: paths, hex fields, unique paths,
    /// totals, and the limits ([`MAX_ENTRIES`], [`MAX_JSON_ENTRY`], [`MAX_JSON_BYTES`]).
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(BundleError::NotABundle(format!(
                "manifest format is {:?}",
                self.format
            )));
        }
        if self.version > VERSION {
            return Err(BundleError::NewerVersion {
                found: self.version,
                supported: VERSION,
            });
        }
        if self.version == 0 {
            return Err(BundleError::Malformed("manifest version 0".into()));
        }
        if !is_lower_hex(&self.device.sign_pk, 64) {
            return Err(BundleError::Malformed(
                "device.sign_pk is not 64 lowercase hex digits".into(),
            ));
        }
        if self
            .device
            .age_recipient
            .parse::<age::x25519::Recipient>()
            .is_err()
        {
            return Err(BundleError::Malformed(
                "device.age_recipient is not an age X25519 recipient".into(),
            ));
        }
        if self.entries.len() as u64 > MAX_ENTRIES {
            return Err(BundleError::TooLarge(format!(
                "{} entries; a bundle holds at most {MAX_ENTRIES}",
                self.entries.len()
            )));
        }
        let mut seen = HashSet::with_capacity(self.entries.len());
        let mut bytes = 0u64;
        let mut json = 0u64;
        for e in &self.entries {
            check_entry_path(&e.path)?;
            if e.path == CERTIFICATE && self.version < 2 {
                return Err(BundleError::Malformed(format!(
                    "{CERTIFICATE} in a version-{} manifest",
                    self.version
                )));
            }
            if e.path == PADDING
                && (self.version < PADDED_VERSION
                    || !std::ptr::eq(e, self.entries.last().unwrap_or(e)))
            {
                return Err(BundleError::Malformed(format!(
                    "{:?} in a version-{} manifest, or not as its last entry",
                    e.path, self.version
                )));
            }
            let part = crate::parts::PartPath::parse(&e.path);
            if part.is_some() && self.version < crate::parts::PARTS_VERSION {
                return Err(BundleError::Malformed(format!(
                    "{:?} in a version-{} manifest",
                    e.path, self.version
                )));
            }
            // Attachments, their parts and the padding are streamed, never held in memory.
            let streamed = e.path.starts_with("attachments/")
                || e.path == PADDING
                || matches!(part, Some(crate::parts::PartPath::Part(..)));
            if !streamed {
                if e.size > MAX_JSON_ENTRY {
                    return Err(BundleError::TooLarge(format!(
                        "{} is {} bytes; a JSON entry holds at most {MAX_JSON_ENTRY}",
                        e.path, e.size
                    )));
                }
                json += e.size;
                if json > MAX_JSON_BYTES {
                    return Err(BundleError::TooLarge(format!(
                        "its JSON entries pass {MAX_JSON_BYTES} bytes"
                    )));
                }
            }
            if !seen.insert(e.path.as_str()) {
                return Err(BundleError::Malformed(format!(
                    "manifest lists {:?} twice",
                    e.path
                )));
            }
            if !is_lower_hex(&e.sha256, 64) {
                return Err(BundleError::Malformed(format!(
                    "sha256 of {:?} is not 64 lowercase hex digits",
                    e.path
                )));
            }
            bytes = bytes
                .checked_add(e.size)
                .ok_or_else(|| BundleError::TooLarge("entry sizes overflow".into()))?;
        }
        if self.totals.entries != self.entries.len() as u64 || self.totals.bytes != bytes {
            return Err(BundleError::Malformed(format!(
                "totals say {} entries / {} bytes, entries sum to {} / {}",
                self.totals.entries,
                self.totals.bytes,
                self.entries.len(),
                bytes
            )));
        }
        Ok(())
    }
}

/// Length of `manifest.sig`: an Ed25519 signature in lowercase hex.
pub const SIGNATURE_HEX_LEN: u64 = 128;

impl Manifest {
    /// Checks `manifest.json` bytes and their `manifest.sig`, as found in a bundle or extracted
    /// from one with `age` and `tar`, and returns the manifest.
    ///
    /// In order: JSON object with `format` [`FORMAT`] (else [`NotABundle`](BundleError::NotABundle)),
    /// `version` at most [`VERSION`] (else [`NewerVersion`](BundleError::NewerVersion)), the
    /// Ed25519 signature by `device.sign_pk` over exactly `json` (else
    /// [`BadSignature`](BundleError::BadSignature)), the bytes are canonical JSON, and
    /// [`validate`](Self::validate) passes.
    ///
    /// This proves only that the key named in the manifest signed it; whether that key belongs
    /// to an enrolled device of the organisation is for the caller to check.
    pub fn verify(json: &[u8], sig_hex: &[u8]) -> Result<Manifest> {
        // Format and version first, without building anything else: a manifest of another
        // format or a newer version says so, whatever else it holds.
        #[derive(Deserialize)]
        struct Probe {
            format: Option<String>,
            version: Option<u64>,
        }
        let probe: Probe = serde_json::from_slice(json)
            .map_err(|e| BundleError::Malformed(format!("manifest.json is not JSON: {e}")))?;
        if probe.format.as_deref() != Some(FORMAT) {
            return Err(BundleError::NotABundle(
                "manifest.json is not a Vigil bundle manifest".into(),
            ));
        }
        match probe.version {
            Some(v) if v > VERSION => {
                return Err(BundleError::NewerVersion {
                    found: v,
                    supported: VERSION,
                });
            }
            Some(_) => {}
            None => return Err(BundleError::Malformed("manifest version is missing".into())),
        }
        // Typed straight from the bytes (no JSON tree, whatever its size).
        let manifest: Manifest = serde_json::from_slice(json)
            .map_err(|e| BundleError::Malformed(format!("manifest.json: {e}")))?;
        let pk = hex::decode(&manifest.device.sign_pk)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| {
                BundleError::Malformed("device.sign_pk is not 32 bytes of hex".into())
            })?;
        let sig = std::str::from_utf8(sig_hex)
            .ok()
            .filter(|s| is_lower_hex(s, SIGNATURE_HEX_LEN as usize))
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(|| {
                BundleError::BadSignature("manifest.sig is not 128 lowercase hex digits".into())
            })?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &pk)
            .verify(json, &sig)
            .map_err(|_| {
                BundleError::BadSignature(
                    "manifest.sig is not the device's signature of manifest.json".into(),
                )
            })?;
        vigil_ledger::canonical::check("manifest.json", json).map_err(|e| {
            BundleError::Malformed(format!("manifest.json is not canonical JSON: {e}"))
        })?;
        manifest.validate()?;
        Ok(manifest)
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks that `path` (relative to `vigil-bundle/`) is one the format allows.
///
/// Unsafe paths (absolute, `..`, backslashes, empty components, NUL) are
/// [`PathEscape`](BundleError::PathEscape); safe paths of no known kind are
/// [`Malformed`](BundleError::Malformed).
pub fn check_entry_path(path: &str) -> Result<()> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(BundleError::PathEscape(path.into()));
    }
    let known = if path == CUSTODY_LOG || path == CERTIFICATE || path == PADDING {
        true
    } else if let Some(id) = path
        .strip_prefix("revisions/")
        .and_then(|r| r.strip_suffix(".json"))
    {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    } else if let Some(h) = path.strip_prefix("attachments/") {
        is_lower_hex(h, 64)
    } else if path.starts_with(crate::parts::PARTS_DIR) {
        crate::parts::PartPath::parse(path).is_some()
    } else {
        false
    };
    if known {
        Ok(())
    } else {
        Err(BundleError::Malformed(format!(
            "{path:?} is not a kind of entry this format knows"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entry_paths() {
        for ok in [
            "custody/log.jsonl",
            "device/certificate.json",
            "revisions/0190a1b2-0000-7000-8000-000000000001.json",
            "attachments/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            check_entry_path(ok).unwrap();
        }
        for escape in [
            "",
            "/etc/passwd",
            "../x",
            "revisions/../../x.json",
            "a//b",
            "./custody/log.jsonl",
            "a\\b",
        ] {
            assert_eq!(
                check_entry_path(escape).unwrap_err().code(),
                "bundle.path_escape"
            );
        }
        for unknown in [
            "notes.txt",
            "revisions/.json",
            "revisions/a b.json",
            "attachments/E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "custody/log.json",
        ] {
            assert_eq!(
                check_entry_path(unknown).unwrap_err().code(),
                "bundle.malformed"
            );
        }
    }
}

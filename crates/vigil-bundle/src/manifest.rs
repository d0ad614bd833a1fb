//! `vigil-bundle/manifest.json`: what a bundle holds, signed by the exporting device.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{BundleError, Result};

/// The value of the manifest's `format` field.
pub const FORMAT: &str = "vigil-bundle";
/// The newest manifest `version` this build writes and reads.
pub const VERSION: u64 = 1;
/// The folder every archive entry lives in.
pub const ROOT: &str = "vigil-bundle/";
/// The largest `manifest.json` a reader accepts.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// The custody log's path inside the bundle folder.
pub const CUSTODY_LOG: &str = "custody/log.jsonl";

/// The manifest: every entry with its size and SHA-256, and the device that signs it.
///
/// Written as [canonical JSON](canonical_json); `manifest.sig` signs exactly those bytes.
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
    /// A version-[`VERSION`] manifest over `entries`, with `totals` computed.
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
        Self {
            format: FORMAT.into(),
            version: VERSION,
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
        let value = serde_json::to_value(self)
            .map_err(|e| BundleError::Malformed(format!("manifest: {e}")))?;
        Ok(canonical_json(&value)?.into_bytes())
    }

    /// Checks everything the format requires of a version-1 manifest: paths, hex fields,
    /// unique paths, totals.
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
        let mut seen = HashSet::with_capacity(self.entries.len());
        let mut bytes = 0u64;
        for e in &self.entries {
            check_entry_path(&e.path)?;
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
        let value: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| BundleError::Malformed(format!("manifest.json is not JSON: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(BundleError::NotABundle(
                "manifest.json is not a Vigil bundle manifest".into(),
            ));
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v > VERSION => {
                return Err(BundleError::NewerVersion {
                    found: v,
                    supported: VERSION,
                });
            }
            Some(_) => {}
            None => return Err(BundleError::Malformed("manifest version is missing".into())),
        }
        let manifest: Manifest = serde_json::from_value(value.clone())
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
        if canonical_json(&value)?.as_bytes() != json {
            return Err(BundleError::Malformed(
                "manifest.json is not canonical JSON".into(),
            ));
        }
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
    let known = if path == CUSTODY_LOG {
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

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
/// strings escaped as `serde_json` does (only `"`, `\` and control characters), integers only.
///
/// The manifest's signature is over these bytes, so this must never change for version 1.
pub fn canonical_json(value: &serde_json::Value) -> Result<String> {
    let mut out = String::new();
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &serde_json::Value, out: &mut String) -> Result<()> {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(BundleError::Malformed(
                    "canonical JSON has integers only".into(),
                ));
            }
        }
        Value::String(s) => out.push_str(&string_literal(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&string_literal(key));
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

fn string_literal(s: &str) -> String {
    // serde_json's escaping of a lone string is fixed and minimal; Display of a Value::String
    // cannot fail.
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_golden() {
        let v = json!({
            "b": [1, -2, {"z": null, "a": true}],
            "a": "é\"\\\n\u{1}/<",
            "A": {},
            "ab": [],
            "aa": false,
            "big": 18446744073709551615u64
        });
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"A\":{},\"a\":\"é\\\"\\\\\\n\\u0001/<\",\"aa\":false,\"ab\":[],\
             \"b\":[1,-2,{\"a\":true,\"z\":null}],\"big\":18446744073709551615}"
        );
    }

    #[test]
    fn canonical_json_rejects_floats() {
        assert_eq!(
            canonical_json(&json!({"x": 1.5})).unwrap_err().code(),
            "bundle.malformed"
        );
    }

    #[test]
    fn entry_paths() {
        for ok in [
            "custody/log.jsonl",
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

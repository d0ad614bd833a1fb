//! An attachment carried in parts across several bundles (manifest version 4), when it is larger
//! than one bundle file may be (FAT32: 4 GiB less one byte).
//!
//! - `parts/<sha256>.json`: the part list, canonical JSON: the whole attachment's SHA-256 and
//!   size, the part size, and every part's size and SHA-256, in order. Every bundle that carries
//!   a part of the attachment carries the list too, before its parts, so that each part is
//!   checked on arrival against hashes the device signed (through the manifest).
//! - `parts/<sha256>/<index>`: part `index` (from 0) of that attachment, streamed like an
//!   attachment: `part_size` bytes, the last one the rest (a small attachment of a record that
//!   is cut into parts is a list of one part).
//!
//! Once every part of a list is in, the importer joins them and checks the whole attachment
//! against its SHA-256 and size, as its revision names them.

use serde::{Deserialize, Serialize};

use crate::error::{BundleError, Result};

/// The folder of part lists and parts inside the bundle folder.
pub const PARTS_DIR: &str = "parts/";
/// The manifest version of a bundle that carries parts (padded or not).
pub const PARTS_VERSION: u64 = 4;
/// The value of a part list's `format` field.
pub const PART_LIST_FORMAT: &str = "vigil-attachment-parts";
/// The most parts one attachment may be cut into.
pub const MAX_PARTS: u64 = 100_000;

/// What a bundle entry under `parts/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPath {
    /// `parts/<sha256>.json`: the part list of the attachment with that SHA-256.
    List(String),
    /// `parts/<sha256>/<index>`: one of its parts.
    Part(String, u64),
}

impl PartPath {
    /// The entry path (relative to `vigil-bundle/`).
    pub fn path(&self) -> String {
        match self {
            PartPath::List(sha) => format!("{PARTS_DIR}{sha}.json"),
            PartPath::Part(sha, i) => format!("{PARTS_DIR}{sha}/{i}"),
        }
    }

    /// Reads an entry path, if it is one of these: lowercase hex of 64 digits, an index in
    /// decimal without leading zeros below [`MAX_PARTS`].
    pub fn parse(path: &str) -> Option<PartPath> {
        let rest = path.strip_prefix(PARTS_DIR)?;
        if let Some(sha) = rest.strip_suffix(".json") {
            return is_sha(sha).then(|| PartPath::List(sha.to_owned()));
        }
        let (sha, index) = rest.split_once('/')?;
        let canonical = !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
            && (index == "0" || !index.starts_with('0'));
        let i: u64 = index.parse().ok().filter(|_| canonical)?;
        (is_sha(sha) && i < MAX_PARTS).then(|| PartPath::Part(sha.to_owned(), i))
    }
}

fn is_sha(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One part: its size and SHA-256 (64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartInfo {
    /// Its SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The part list of an attachment (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartList {
    /// Always [`PART_LIST_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u64,
    /// The whole attachment's SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The size of every part but the last.
    pub part_size: u64,
    /// The parts, in order.
    pub parts: Vec<PartInfo>,
}

impl PartList {
    /// A list for an attachment of `size` bytes with SHA-256 `sha256`, cut every `part_size`
    /// bytes into `parts`.
    pub fn new(sha256: String, size: u64, part_size: u64, parts: Vec<PartInfo>) -> PartList {
        PartList {
            format: PART_LIST_FORMAT.into(),
            version: 1,
            sha256,
            size,
            part_size,
            parts,
        }
    }

    /// The exact bytes of the list entry: canonical JSON.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        vigil_ledger::canonical::encode_serialize("the part list", self)
            .map_err(|e| BundleError::Malformed(e.to_string()))
    }

    /// Reads and checks a list entry found at `path`: canonical JSON of this form, naming the
    /// attachment `path` names, whose parts add up ([`validate`](Self::validate)).
    pub fn from_entry(path: &str, bytes: &[u8]) -> Result<PartList> {
        let bad = |d: String| BundleError::Malformed(format!("{path}: {d}"));
        vigil_ledger::canonical::check(path, bytes)
            .map_err(|e| bad(format!("not canonical JSON: {e}")))?;
        let list: PartList = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        list.validate().map_err(|e| bad(e.to_string()))?;
        if PartPath::parse(path) != Some(PartPath::List(list.sha256.clone())) {
            return Err(bad("names another attachment".into()));
        }
        Ok(list)
    }

    /// Checks the list's form: hex hashes, at least one part and at most [`MAX_PARTS`], every
    /// part but the last of `part_size` bytes, the last of 1 to `part_size`, all adding up to
    /// `size`.
    pub fn validate(&self) -> Result<()> {
        let bad = |d: &str| Err(BundleError::Malformed(format!("part list: {d}")));
        if self.format != PART_LIST_FORMAT || self.version != 1 {
            return bad("not a part list of version 1");
        }
        if !is_sha(&self.sha256) || self.parts.iter().any(|p| !is_sha(&p.sha256)) {
            return bad("a hash is not 64 lowercase hex digits");
        }
        let n = self.parts.len() as u64;
        if !(1..=MAX_PARTS).contains(&n) || self.part_size == 0 {
            return bad("the number of parts or their size is out of range");
        }
        let (last, full) = self.parts.split_last().unwrap_or_else(|| unreachable!());
        if full.iter().any(|p| p.size != self.part_size)
            || last.size == 0
            || last.size > self.part_size
        {
            return bad("the parts are not cut at its part size");
        }
        let total = self
            .part_size
            .checked_mul(n - 1)
            .and_then(|t| t.checked_add(last.size));
        if total != Some(self.size) {
            return bad("the parts do not add up to its size");
        }
        Ok(())
    }

    /// The list's id: the SHA-256 of its canonical JSON. Two exports with other part sizes
    /// make two lists of one attachment; either completes it.
    pub fn id(&self) -> Result<[u8; 32]> {
        let bytes = self.to_canonical_json()?;
        let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let mut id = [0u8; 32];
        id.copy_from_slice(d.as_ref());
        Ok(id)
    }

    /// Where part `index` begins in the whole attachment.
    pub fn offset(&self, index: u64) -> u64 {
        self.part_size.saturating_mul(index)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn list(sizes: &[u64], part_size: u64) -> PartList {
        PartList::new(
            SHA.into(),
            sizes.iter().sum(),
            part_size,
            sizes
                .iter()
                .map(|&size| PartInfo {
                    sha256: SHA.into(),
                    size,
                })
                .collect(),
        )
    }

    #[test]
    fn paths_are_read_exactly() {
        let list_path = format!("parts/{SHA}.json");
        assert_eq!(
            PartPath::parse(&list_path),
            Some(PartPath::List(SHA.into()))
        );
        assert_eq!(
            PartPath::parse(&format!("parts/{SHA}/0")),
            Some(PartPath::Part(SHA.into(), 0))
        );
        assert_eq!(
            PartPath::parse(&format!("parts/{SHA}/12")),
            Some(PartPath::Part(SHA.into(), 12))
        );
        for bad in [
            format!("parts/{SHA}/01"),
            format!("parts/{SHA}/"),
            format!("parts/{SHA}/-1"),
            format!("parts/{SHA}/100000"),
            format!("parts/{SHA}/1/2"),
            format!("parts/{}/0", SHA.to_uppercase()),
            "parts/abc.json".into(),
            format!("attachments/{SHA}"),
        ] {
            assert_eq!(PartPath::parse(&bad), None, "{bad}");
        }
        for p in [PartPath::List(SHA.into()), PartPath::Part(SHA.into(), 7)] {
            assert_eq!(PartPath::parse(&p.path()), Some(p));
        }
    }

    #[test]
    fn a_list_must_add_up() {
        list(&[10, 10, 3], 10).validate().unwrap();
        list(&[10, 10], 10).validate().unwrap();
        // A small attachment of a record cut into parts travels as a list of one.
        list(&[7], 10).validate().unwrap();
        for (sizes, part) in [
            (&[][..], 10),       // no part
            (&[10, 11][..], 10), // the last is larger
            (&[9, 10][..], 10),  // a full part is short
            (&[10, 0][..], 10),  // an empty last part
        ] {
            assert!(list(sizes, part).validate().is_err(), "{sizes:?}");
        }
        let mut off = list(&[10, 3], 10);
        off.size = 14;
        assert!(off.validate().is_err());
    }

    #[test]
    fn a_list_entry_is_canonical_and_named_for_its_attachment() {
        let l = list(&[10, 3], 10);
        let bytes = l.to_canonical_json().unwrap();
        let path = format!("parts/{SHA}.json");
        assert_eq!(PartList::from_entry(&path, &bytes).unwrap(), l);
        let other = format!("parts/{}.json", "a".repeat(64));
        assert!(PartList::from_entry(&other, &bytes).is_err());
        let mut spaced = bytes.clone();
        spaced.insert(1, b' ');
        assert!(PartList::from_entry(&path, &spaced).is_err());
    }
}

//! Optional padding of a bundle to a size bucket, so that its size tells less about what it
//! carries (manifest version 3).
//!
//! A padded bundle ends with one more entry, `padding`: zero bytes, declared in the manifest
//! with their size and SHA-256 like every entry, and as large as needed to bring the archive
//! (the age payload) to exactly the next bucket. The buckets follow Padmé (Nikitin et al.,
//! "Reducing Metadata Leakage from Encrypted Files and Communication with PURBs", PETS 2019),
//! from 1 MiB up: a size then reveals only about log2(log2(size)) bits, and costs at most
//! about 12 % more bytes. The age file adds the same number of bytes to every payload of a
//! given size for a given set of recipients, so bundles of one organisation in one bucket have
//! one file size.

use ring::digest;

use crate::archive::{BLOCK, padding as block_padding};
use crate::error::{BundleError, Result};
use crate::manifest::{Manifest, ManifestEntry, PADDED_VERSION, PADDING};
/// The smallest bucket: every padded bundle is at least this large.
pub const MIN_BUCKET: u64 = 1 << 20;

/// The bucket a payload of `len` bytes is padded to: Padmé, never below [`MIN_BUCKET`].
pub fn bucket(len: u64) -> u64 {
    let len = len.max(MIN_BUCKET);
    let e = u64::from(63 - len.leading_zeros()); // floor(log2(len))
    let s = u64::from(64 - e.leading_zeros()); // floor(log2(e)) + 1
    let mask = (1u64 << (e - s)) - 1;
    (len + mask) & !mask
}

/// The SHA-256 of `n` zero bytes, in hex.
fn zeros_sha256(n: u64) -> String {
    let zeros = [0u8; 64 * 1024];
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut left = n;
    while left > 0 {
        let take = left.min(zeros.len() as u64) as usize;
        ctx.update(&zeros[..take]);
        left -= take as u64;
    }
    hex::encode(ctx.finish())
}

impl Manifest {
    /// The size of the archive (the age payload) this manifest describes: `manifest.json`,
    /// `manifest.sig` and every entry, each a header block and its content padded to a block,
    /// then the two end blocks.
    pub fn archive_len(&self) -> Result<u64> {
        let block = BLOCK as u64;
        let file = |size: u64| block + size + block_padding(size) as u64;
        let json = self.to_canonical_json()?.len() as u64;
        let sig = crate::SIGNATURE_HEX_LEN;
        let entries: u64 = self.entries.iter().map(|e| file(e.size)).sum();
        Ok(file(json) + file(sig) + entries + 2 * block)
    }

    /// An upper bound of the bundle file's size for `recipients` recipients: the archive,
    /// age's header (a stanza per recipient, a random "grease" stanza of at most a few hundred
    /// bytes, the MAC) and its stream (a 16-byte nonce, a 16-byte tag per 64 KiB).
    pub fn file_size_bound(&self, recipients: usize) -> Result<u64> {
        let archive = self.archive_len()?;
        let header = 64 + 128 * recipients as u64 + 512;
        Ok(archive + header + 16 + 16 * archive.div_ceil(64 * 1024).max(1))
    }

    /// Appends the `padding` entry that brings the archive to exactly its [`bucket`], and
    /// makes this a version-3 manifest. Call it last, before signing.
    pub fn pad_to_bucket(&mut self) -> Result<()> {
        if self.entries.iter().any(|e| e.path == PADDING) {
            return Err(BundleError::Malformed(
                "the bundle is padded already".into(),
            ));
        }
        self.version = self.version.max(PADDED_VERSION);
        self.entries.push(ManifestEntry {
            path: PADDING.into(),
            size: 0,
            sha256: zeros_sha256(0),
        });
        self.totals.entries += 1;
        let mut target = bucket(self.archive_len()?);
        // The manifest's own length moves with the padding's size (its digits): settle it.
        for _ in 0..16 {
            let now = self.archive_len()?;
            if now == target {
                let last = self.entries.len() - 1;
                self.entries[last].sha256 = zeros_sha256(self.entries[last].size);
                return Ok(());
            }
            let last = self.entries.len() - 1;
            let size = self.entries[last].size;
            let new_size = if now < target {
                size + (target - now)
            } else if now - target <= size {
                size - (now - target)
            } else {
                target = bucket(target + 1);
                continue;
            };
            self.totals.bytes = self.totals.bytes - size + new_size;
            self.entries[last].size = new_size;
        }
        Err(BundleError::Malformed(
            "the padding could not be settled".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_are_padme_from_one_mebibyte() {
        assert_eq!(bucket(0), MIN_BUCKET);
        assert_eq!(bucket(MIN_BUCKET), MIN_BUCKET);
        // Just above 1 MiB: the next multiple of 32 KiB (E = 20, S = 5).
        assert_eq!(bucket(MIN_BUCKET + 1), MIN_BUCKET + 32 * 1024);
        for len in [1u64 << 20, 3 << 20, 100 << 20, 4_300_000_000, 9 << 30] {
            let b = bucket(len);
            assert!(b >= len);
            assert!((b - len) * 100 / len <= 12, "{len} -> {b}");
            assert_eq!(b % BLOCK as u64, 0);
            assert_eq!(bucket(b), b, "a bucket is its own bucket");
        }
    }
}

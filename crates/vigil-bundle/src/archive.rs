//! The inner layer: a strict subset of POSIX ustar.
//!
//! Each entry is a 512-byte ustar header (type `0`, regular file) followed by its content,
//! zero-padded to a multiple of 512 bytes; the archive ends with two all-zero blocks and nothing
//! after them. No directories, links, PAX or GNU extension headers.

use crate::error::{BundleError, Result};
use crate::manifest::{ROOT, check_entry_path};

/// The ustar block size.
pub(crate) const BLOCK: usize = 512;

/// Mode of every entry: a plain readable file.
const MODE: u32 = 0o644;

/// Zero padding after `size` bytes of content.
pub(crate) fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The header block for `vigil-bundle/<path>`.
pub(crate) fn header_block(path: &str, size: u64, mtime: u64) -> Result<[u8; BLOCK]> {
    let full = format!("{ROOT}{path}");
    let mut h = tar::Header::new_ustar();
    // ustar's name field holds 100 bytes; every path the format allows fits, and a prefix split
    // would only make the archive harder to read by hand.
    if full.len() > 100 {
        return Err(BundleError::Malformed(format!("path {full:?} is too long")));
    }
    h.set_path(&full)
        .map_err(|e| BundleError::Malformed(format!("path {full:?}: {e}")))?;
    h.set_size(size);
    h.set_mode(MODE);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(h.as_bytes());
    Ok(block)
}

/// What one header block says.
#[derive(Debug)]
pub(crate) enum Block {
    /// An all-zero block: the end of the archive (the next block must be zero too).
    End,
    /// A regular file at `vigil-bundle/<path>` of `size` bytes; `path` is relative to the root.
    File { path: String, size: u64 },
}

/// Parses and checks one header block.
pub(crate) fn parse_header(block: &[u8; BLOCK]) -> Result<Block> {
    if block.iter().all(|&b| b == 0) {
        return Ok(Block::End);
    }
    let h = tar::Header::from_byte_slice(block);
    if h.as_ustar().is_none() {
        return Err(BundleError::Malformed(
            "an archive header is not POSIX ustar".into(),
        ));
    }
    let stored = h
        .cksum()
        .map_err(|_| BundleError::Malformed("unreadable header checksum".into()))?;
    let computed: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    if stored != computed {
        return Err(BundleError::Malformed(
            "an archive header's checksum is wrong".into(),
        ));
    }
    let raw_path = h.path_bytes();
    let full = std::str::from_utf8(&raw_path)
        .map_err(|_| BundleError::Malformed("an entry path is not UTF-8".into()))?
        .to_owned();
    match block[156] {
        b'0' => {}
        b'1' | b'2' => {
            return Err(BundleError::PathEscape(format!("{full} (a link)")));
        }
        other => {
            return Err(BundleError::Malformed(format!(
                "{full:?} is not a regular file (type {:?})",
                char::from(other)
            )));
        }
    }
    let path = match full.strip_prefix(ROOT) {
        Some(rest) => rest.to_owned(),
        None => {
            // Report escapes as such even outside our folder.
            if full.starts_with('/') || full.split('/').any(|c| c == "..") {
                return Err(BundleError::PathEscape(full));
            }
            return Err(BundleError::Malformed(format!(
                "{full:?} is outside the {ROOT} folder"
            )));
        }
    };
    if path != "manifest.json" && path != "manifest.sig" {
        check_entry_path(&path)?;
    }
    let size = h
        .size()
        .map_err(|_| BundleError::Malformed(format!("unreadable size for {full:?}")))?;
    Ok(Block::File { path, size })
}

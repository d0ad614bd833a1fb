//! Attachments carried in parts, when a record does not fit in one bundle file (FAT32: 4 GiB
//! less one byte; see `vigil_bundle::parts` for the format).
//!
//! The export cuts each attachment of such a record at one part size, hashes every part (one
//! read of the attachment, while planning), and signs the part list in the first bundle,
//! beside the revision. Each bundle carries as many parts as fit, after their list; what is
//! left is carried ([`Carry`]) into the next bundle of the same export.

use std::io::Read;

use vigil_bundle::{ManifestEntry, PartInfo, PartList, PartPath};
use vigil_ledger::revision::AttachmentRef;
use vigil_model::AttachmentId;
use vigil_store::{StoreError, Vault};

use crate::error::{ExchangeError, Result};
use crate::stick::Budget;

/// The parts of one attachment not yet written by an export, carried to its next bundle.
#[derive(Debug, Clone)]
pub struct Carry {
    attachment: AttachmentId,
    list: PartList,
    list_bytes: Vec<u8>,
    /// The first part not yet written.
    next: usize,
}

/// A part's bytes, read from the vault's chunks when the bundle is written.
pub(crate) type PartReader = Box<dyn Read + Send>;

/// The part size for bundles with room for `cap` bytes of entries, of which `json` go to the
/// entries every bundle carries (its certificate, custody log): what remains after room for
/// the part lists, in whole 64 KiB.
pub(crate) fn part_size(cap: u64, json: u64) -> u64 {
    let lists = (cap / 16).min(1 << 20);
    let room = cap.saturating_sub(json + lists + 8 * crate::stick::ENTRY_OVERHEAD);
    if room >= 1 << 16 {
        room & !0xffff
    } else {
        room
    }
}

/// Cuts `a` every `part_size` bytes and hashes each part: one read of the whole attachment,
/// whose SHA-256 is checked at its end.
pub(crate) fn cut(vault: &Vault, a: &AttachmentRef, part_size: u64) -> Result<Carry> {
    let mut reader = vault.attachment_reader(a.id)?;
    let mut parts = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size = 0u64;
        let mut part = (&mut reader).take(part_size);
        loop {
            let n = part.read(&mut buf)?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
            size += n as u64;
        }
        if size == 0 {
            break;
        }
        parts.push(PartInfo {
            sha256: hex::encode(ctx.finish()),
            size,
        });
    }
    // The end was read, so the whole attachment's hash and size were checked.
    if reader.verified_sha256().is_none() {
        return Err(StoreError::TamperedAttachment {
            id: a.id.to_string(),
        }
        .into());
    }
    let list = PartList::new(a.sha256.to_string(), a.size, part_size, parts);
    list.validate()?;
    Ok(Carry {
        attachment: a.id,
        list_bytes: list.to_canonical_json()?,
        list,
        next: 0,
    })
}

/// The part lists and parts of one bundle, and what must wait for the next.
#[derive(Default)]
pub(crate) struct Placed {
    pub(crate) lists: Vec<(ManifestEntry, Vec<u8>)>,
    pub(crate) parts: Vec<(ManifestEntry, PartReader)>,
    pub(crate) carry: Vec<Carry>,
}

impl Placed {
    /// Puts `c`'s list in the bundle, then as many of its parts as `budget` still allows.
    /// Returns false if the list itself does not fit.
    pub(crate) fn place(
        &mut self,
        vault: &Vault,
        mut c: Carry,
        budget: &mut Budget,
    ) -> Result<bool> {
        let list_len = c.list_bytes.len() as u64;
        if !budget.fits(list_len, 0, 1) {
            self.carry.push(c);
            return Ok(false);
        }
        budget.take(list_len, 0, 1);
        let sha = c.list.sha256.clone();
        self.lists.push((
            ManifestEntry {
                path: PartPath::List(sha.clone()).path(),
                size: list_len,
                sha256: hex::encode(vigil_crypto::sign::sha256(&c.list_bytes)),
            },
            c.list_bytes.clone(),
        ));
        while let Some(part) = c.list.parts.get(c.next) {
            if !budget.fits(0, part.size, 1) {
                break;
            }
            budget.take(0, part.size, 1);
            let reader = vault
                .attachment_reader(c.attachment)
                .map_err(ExchangeError::Store)?
                .from_offset(c.list.offset(c.next as u64))?
                .take(part.size);
            self.parts.push((
                ManifestEntry {
                    path: PartPath::Part(sha.clone(), c.next as u64).path(),
                    size: part.size,
                    sha256: part.sha256.clone(),
                },
                Box::new(reader),
            ));
            c.next += 1;
        }
        if c.next < c.list.parts.len() {
            self.carry.push(c);
        }
        Ok(true)
    }

    /// Whether parts must wait for another bundle.
    pub(crate) fn waiting(&self) -> bool {
        !self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::part_size;

    #[test]
    fn parts_leave_room_for_what_every_bundle_carries() {
        let cap = crate::stick::entries_budget(u64::from(u32::MAX), 3, false);
        let p = part_size(cap, 10 << 20);
        assert_eq!(p % (1 << 16), 0);
        assert!(p < cap - (10 << 20) && p > cap - (12 << 20), "{p} of {cap}");
        assert!(part_size(100_000, 10_000) > 0);
        assert_eq!(part_size(10_000, 10_000), 0);
    }
}

//! The write phase's inner loop: a planned bundle's entries, each from where the plan left it
//! (bytes, the spill, the vault's chunks, parts of them, zeros), into the bundle writer.

use vigil_bundle::{BundleError, Manifest, ManifestEntry};
use vigil_store::{AttachmentReader, RevisionId, Slot, Spill};

use crate::pipe::{ChannelReader, Counted, PIPE_DEPTH, pump};

/// What an entry of a planned bundle holds. Nothing here borrows the vault: the write phase
/// runs while the vault serves other work.
pub(crate) enum Content {
    Bytes(Vec<u8>),
    /// A revision entry, waiting in the plan's spill (encrypted, nameless), so that a plan
    /// holds one revision in memory at a time.
    Revision(RevisionId, Slot),
    /// An attachment, read from the vault's chunk files by a reader that owns what it needs.
    Attachment(Option<Box<AttachmentReader>>),
    /// The padding to the size bucket: zero bytes.
    Zeros,
    /// A part of an attachment, read from its chunks.
    Part(Option<crate::parts::PartReader>),
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(vigil_crypto::sign::sha256(b))
}

pub(crate) fn bytes_entry(path: String, bytes: Vec<u8>) -> (ManifestEntry, Content) {
    (
        ManifestEntry {
            path,
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        },
        Content::Bytes(bytes),
    )
}

/// Writes a planned bundle's manifest and entries into `w`, calling `progress(bytes of entries
/// written, bytes in all)`.
pub(crate) fn fill<W: std::io::Write>(
    w: &mut vigil_bundle::BundleWriter<W>,
    manifest: &Manifest,
    signature: &[u8; 64],
    entries: &mut [(ManifestEntry, Content)],
    spill: &mut Spill,
    progress: &mut dyn FnMut(u64, u64),
) -> vigil_bundle::Result<()> {
    let total = manifest.totals.bytes;
    let mut done = 0u64;
    let mut writing = |d: u64, t: u64| progress(d, t);
    {
        w.write_manifest(manifest, &|_| *signature)?;
        for (entry, content) in entries.iter_mut() {
            writing(done, total);
            match content {
                Content::Bytes(b) => w.add_entry(&entry.path, entry.size, &mut &b[..])?,
                Content::Zeros => w.add_entry(
                    &entry.path,
                    entry.size,
                    &mut std::io::Read::take(std::io::repeat(0), entry.size),
                )?,
                Content::Revision(id, slot) => {
                    let b = spill
                        .get(*slot)
                        .map_err(|e| BundleError::Io(std::io::Error::other(e)))?;
                    if sha256_hex(&b) != entry.sha256 {
                        return Err(BundleError::Malformed(format!(
                            "revision {id} changed while it was exported"
                        )));
                    }
                    w.add_entry(&entry.path, entry.size, &mut &b[..])?
                }
                Content::Part(reader) => {
                    let Some(mut r) = reader.take() else {
                        return Err(BundleError::Malformed(format!(
                            "{} is planned twice",
                            entry.path
                        )));
                    };
                    let mut counted = Counted {
                        inner: &mut r,
                        base: done,
                        total,
                        progress: &mut writing,
                    };
                    w.add_entry(&entry.path, entry.size, &mut counted)?;
                }
                Content::Attachment(reader) => {
                    let Some(r) = reader.take() else {
                        return Err(BundleError::Malformed(format!(
                            "{} is planned twice",
                            entry.path
                        )));
                    };
                    // Two stages on two cores: one thread decrypts the vault's chunks while
                    // this one archives and encrypts (a third writes to disk); the writer
                    // takes the hash the reader vouches for at the end.
                    let hashed = std::cell::Cell::new(None);
                    std::thread::scope(|scope| -> vigil_bundle::Result<()> {
                        let (tx, rx) = std::sync::mpsc::sync_channel(PIPE_DEPTH);
                        let (back, spare) = std::sync::mpsc::sync_channel(PIPE_DEPTH + 2);
                        scope.spawn(move || pump(*r, tx, spare));
                        let mut piped = ChannelReader {
                            rx,
                            back,
                            buf: Vec::new(),
                            pos: 0,
                            hashed: &hashed,
                        };
                        let mut counted = Counted {
                            inner: &mut piped,
                            base: done,
                            total,
                            progress: &mut writing,
                        };
                        w.add_entry_hashed(&entry.path, entry.size, &mut counted, || hashed.get())
                    })?;
                }
            }
            done += entry.size;
        }
        writing(done, total);
        Ok(())
    }
}

//! Writing a bundle: [`BundleWriter`] and the crash-safe [`export_file`].

use std::io::{self, Read, Write};
use std::path::Path;

use age::stream::StreamWriter;
use ring::digest;

use crate::archive::{BLOCK, header_block, padding};
use crate::encryption::encrypt_to;
use crate::error::{BundleError, Result};
use crate::manifest::Manifest;

const COPY_BUFFER: usize = 64 * 1024;

/// Who hashes an entry's bytes: the writer as they pass, or their source (which then reports
/// the hash once it has ended).
enum Hashing<'a> {
    Here,
    BySource(Box<dyn FnOnce() -> Option<[u8; 32]> + 'a>),
}

/// Writes a bundle as a stream: the manifest first, then each entry in manifest order.
///
/// Memory use is constant: entries are copied through a 64 KiB buffer, hashed on the way, and
/// checked against the manifest. After any error the writer refuses further use; the partial
/// output must be discarded ([`export_file`] does that).
pub struct BundleWriter<W: Write> {
    out: StreamWriter<W>,
    recipients: Vec<String>,
    manifest: Option<Manifest>,
    mtime: u64,
    next: usize,
    broken: bool,
}

impl<W: Write> std::fmt::Debug for BundleWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleWriter")
            .field("recipients", &self.recipients)
            .field("next", &self.next)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl<W: Write> BundleWriter<W> {
    /// Starts an age file to `recipients` (every HQ reader and the exporting device) on `out`.
    pub fn new(out: W, recipients: &[age::x25519::Recipient]) -> Result<Self> {
        let stream = encrypt_to(out, recipients)?;
        Ok(Self {
            out: stream,
            recipients: recipients.iter().map(ToString::to_string).collect(),
            manifest: None,
            mtime: 0,
            next: 0,
            broken: false,
        })
    }

    /// Writes `manifest.json` (canonical JSON) and `manifest.sig` (`sign` over those bytes, in
    /// hex). The manifest must be valid and name the device's own recipient among the
    /// recipients.
    pub fn write_manifest(
        &mut self,
        manifest: &Manifest,
        sign: &dyn Fn(&[u8]) -> [u8; 64],
    ) -> Result<()> {
        self.usable()?;
        if self.manifest.is_some() {
            return Err(BundleError::Malformed(
                "the manifest is already written".into(),
            ));
        }
        manifest.validate()?;
        if !self.recipients.contains(&manifest.device.age_recipient) {
            return Err(BundleError::Malformed(
                "the device's own recipient must be among the bundle's recipients".into(),
            ));
        }
        let json = manifest.to_canonical_json()?;
        if json.len() as u64 > crate::manifest::MAX_MANIFEST_BYTES {
            return Err(BundleError::TooLarge("the manifest exceeds 16 MiB".into()));
        }
        let sig = hex::encode(sign(&json));
        self.mtime = u64::try_from(manifest.created_at.timestamp()).unwrap_or(0);
        self.guard(|w| {
            w.write_file("manifest.json", &json)?;
            w.write_file("manifest.sig", sig.as_bytes())
        })?;
        self.manifest = Some(manifest.clone());
        Ok(())
    }

    /// Streams the next entry: `path` and `size` must be those of the manifest's next entry, and
    /// `content` must yield exactly `size` bytes with the declared SHA-256.
    pub fn add_entry(&mut self, path: &str, size: u64, content: &mut impl Read) -> Result<()> {
        self.entry(path, size, content, Hashing::Here)
    }

    /// [`add_entry`](Self::add_entry) for a source that vouches for the hash of the bytes it
    /// yields (it hashed them itself, on another thread say, or they are authenticated against
    /// a recorded hash): once `content` has ended, `sha256()` must give the SHA-256 of exactly
    /// the bytes it yielded, or `None` if it cannot. That hash is checked against the manifest
    /// as `add_entry` checks its own, so the bytes are not hashed here; the check is only as
    /// strong as the source's word, so read the bundle back (Vigil's export does) when that
    /// matters.
    pub fn add_entry_hashed(
        &mut self,
        path: &str,
        size: u64,
        content: &mut impl Read,
        sha256: impl FnOnce() -> Option<[u8; 32]>,
    ) -> Result<()> {
        self.entry(path, size, content, Hashing::BySource(Box::new(sha256)))
    }

    fn entry(
        &mut self,
        path: &str,
        size: u64,
        content: &mut impl Read,
        hashing: Hashing<'_>,
    ) -> Result<()> {
        self.usable()?;
        let Some(manifest) = &self.manifest else {
            return Err(BundleError::Malformed(
                "write the manifest before any entry".into(),
            ));
        };
        let Some(expected) = manifest.entries.get(self.next) else {
            return Err(BundleError::Malformed(format!(
                "{path:?} is not in the manifest (all its entries are written)"
            )));
        };
        if expected.path != path {
            return Err(BundleError::Malformed(format!(
                "entries must come in manifest order: expected {:?}, got {path:?}",
                expected.path
            )));
        }
        if expected.size != size {
            return Err(BundleError::Malformed(format!(
                "{path:?}: the manifest declares {} bytes, the caller {size}",
                expected.size
            )));
        }
        let want_sha = expected.sha256.clone();
        let mtime = self.mtime;
        self.guard(|w| {
            w.out.write_all(&header_block(path, size, mtime)?)?;
            let mut ctx = match hashing {
                Hashing::Here => Some(digest::Context::new(&digest::SHA256)),
                Hashing::BySource(_) => None,
            };
            let mut buf = vec![0u8; COPY_BUFFER];
            let mut left = size;
            while left > 0 {
                let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
                let n = match content.read(&mut buf[..want]) {
                    Ok(0) => {
                        return Err(BundleError::Malformed(format!(
                            "{path:?}: the source ended {left} bytes before its declared size"
                        )));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(BundleError::Io(e)),
                };
                if let Some(ctx) = ctx.as_mut() {
                    ctx.update(&buf[..n]);
                }
                w.out.write_all(&buf[..n])?;
                left -= n as u64;
            }
            let mut probe = [0u8; 1];
            loop {
                match content.read(&mut probe) {
                    Ok(0) => break,
                    Ok(_) => {
                        return Err(BundleError::TooLarge(format!(
                            "{path:?}: the source is longer than its declared {size} bytes"
                        )));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(BundleError::Io(e)),
                }
            }
            let got = match (ctx, hashing) {
                (Some(ctx), _) => Some(hex::encode(ctx.finish())),
                (None, Hashing::BySource(sha256)) => sha256().map(hex::encode),
                (None, Hashing::Here) => None,
            };
            if got.as_deref() != Some(want_sha.as_str()) {
                return Err(BundleError::Tampered(format!(
                    "{path:?} does not match the SHA-256 in the manifest"
                )));
            }
            w.out.write_all(&[0u8; BLOCK][..padding(size)])?;
            Ok(())
        })?;
        self.next += 1;
        Ok(())
    }

    /// Ends the archive and the age file, and returns the output. Fails if any manifest entry
    /// was not written.
    pub fn finish(mut self) -> Result<W> {
        self.usable()?;
        let Some(manifest) = &self.manifest else {
            return Err(BundleError::Malformed("no manifest was written".into()));
        };
        if let Some(missing) = manifest.entries.get(self.next) {
            return Err(BundleError::Malformed(format!(
                "{:?} is in the manifest but was never written",
                missing.path
            )));
        }
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out.finish()?)
    }

    fn write_file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(&header_block(path, bytes.len() as u64, self.mtime)?)?;
        self.out.write_all(bytes)?;
        self.out
            .write_all(&[0u8; BLOCK][..padding(bytes.len() as u64)])?;
        Ok(())
    }

    fn usable(&self) -> Result<()> {
        if self.broken {
            Err(BundleError::Malformed(
                "an earlier error left this bundle incomplete; start again".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let r = f(self);
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}

/// The file a bundle is written to, as the encrypting side sees it: the producer's end of
/// [`vigil_durable::write_through`]'s pipe. Bytes are gathered into 1 MiB blocks that a disk
/// thread writes, so encryption never waits for a system call; on Linux what is written is
/// synced every 8 MiB, so the final `fsync` only waits for the last few MiB. Memory stays
/// bounded: at most a few blocks are in flight.
pub type BundleFile<'a> = &'a mut vigil_durable::BlockWriter;

/// Writes a bundle to `path` so that a crash never leaves a partial file under that name:
/// [`write_pending`], then [`PendingBundle::commit`] at once.
pub fn export_file(
    path: &Path,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<BundleFile<'_>>) -> Result<()>,
) -> Result<()> {
    write_pending(path, recipients, build)?.commit()
}

/// A bundle written and fsynced under a temporary name beside its destination, not yet in
/// place: read it back at [`path`](Self::path), then [`commit`](Self::commit) it. Dropped
/// without a commit, the temporary file is removed, so a bundle that fails its read-back never
/// appears under the final name.
#[derive(Debug)]
pub struct PendingBundle(vigil_durable::Pending);

impl PendingBundle {
    /// The written file, under its temporary name.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Renames the bundle into place (over any file of that name) and fsyncs the folder.
    pub fn commit(self) -> Result<()> {
        Ok(self.0.commit()?)
    }
}

/// Writes a bundle for `dest` to a temporary name in the same folder and fsyncs it, through
/// [`vigil_durable::write_through`] (whose fault-injection tests cover this path).
///
/// `build` writes the manifest and entries. On error the temporary file is removed and `dest`
/// is untouched; the error returned is the root cause (a failed sync or write before the
/// encrypting side's own).
pub fn write_pending(
    dest: &Path,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<BundleFile<'_>>) -> Result<()>,
) -> Result<PendingBundle> {
    if dest.file_name().is_none() {
        return Err(BundleError::Malformed(format!(
            "{} is not a file name",
            dest.display()
        )));
    }
    let (pending, file) = vigil_durable::Pending::create(dest)?;
    // From here on, dropping `pending` removes the temporary file.
    vigil_durable::write_through(file, |out| {
        let mut writer = BundleWriter::new(out, recipients)?;
        build(&mut writer)?;
        writer.finish()?.flush()?;
        Ok::<(), BundleError>(())
    })?;
    Ok(PendingBundle(pending))
}

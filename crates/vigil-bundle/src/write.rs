//! Writing a bundle: [`BundleWriter`] and the crash-safe [`export_file`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use age::stream::StreamWriter;
use ring::digest;

use crate::archive::{BLOCK, header_block, padding};
use crate::encryption::encrypt_to;
use crate::error::{BundleError, Result};
use crate::manifest::Manifest;

const COPY_BUFFER: usize = 64 * 1024;

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
            let mut ctx = digest::Context::new(&digest::SHA256);
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
                ctx.update(&buf[..n]);
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
            if hex::encode(ctx.finish()) != want_sha {
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

/// Writes a bundle to `path` so that a crash never leaves a partial file under that name.
///
/// `build` writes the manifest and entries; the bundle goes to a temporary name in the same
/// folder, is fsynced, renamed over `path`, and the folder is fsynced. On error the temporary
/// file is removed and `path` is untouched.
pub fn export_file(
    path: &Path,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| BundleError::Malformed(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut writer = BundleWriter::new(file, recipients)?;
        build(&mut writer)?;
        let file = writer.finish()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename itself.
    Ok(())
}

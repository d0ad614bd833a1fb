//! Reading a whole bundle, from a file, a stream, or a folder it was extracted into.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use vigil_bundle::{BundleError, BundleReader, Manifest};
use vigil_ledger::LedgerError;

use crate::check::{Checker, Keep, Seen};
use crate::error::Result;
use crate::pipe::Counted;

/// What the vault expects of a bundle before any entry is read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expect {
    /// The vault's organisation: a bundle of another is refused at once.
    pub org: Option<uuid::Uuid>,
}

/// Reads `input` as a bundle, checking every entry, handing what passes to `keep`.
pub(crate) fn read_stream(
    input: impl Read,
    identities: &[age::x25519::Identity],
    expect: Expect,
    keep: &mut dyn Keep,
) -> Result<(Manifest, Seen)> {
    let mut reader = BundleReader::open(input, identities)?;
    let manifest = reader.manifest().clone();
    if let Some(ours) = expect.org
        && manifest.org_id != ours
    {
        return Err(LedgerError::WrongOrganisation {
            what: "this bundle".into(),
            found: manifest.org_id.to_string(),
            ours: ours.to_string(),
        }
        .into());
    }
    keep.manifest(&manifest)?;
    let mut checker = Checker::new(&manifest, keep)?;
    while let Some(mut entry) = reader.next_entry()? {
        let (path, size, sha) = (
            entry.path().to_owned(),
            entry.size(),
            entry.sha256().to_owned(),
        );
        checker.entry(&path, size, &sha, &mut entry)?;
    }
    let seen = checker.finish();
    Ok((manifest, seen))
}

/// [`read_stream`] over a file, reporting the bytes read so far, of all, as it goes.
/// Opens a bundle file; an error names the file (the person chose it, and may have mistyped it).
pub(crate) fn open_bundle(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| named(path, e))
}

/// An I/O error about `path`, saying which file.
pub(crate) fn named(path: &Path, e: std::io::Error) -> crate::ExchangeError {
    crate::ExchangeError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

pub(crate) fn read_file(
    path: &Path,
    identities: &[age::x25519::Identity],
    expect: Expect,
    keep: &mut dyn Keep,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Manifest, Seen)> {
    let file = open_bundle(path)?;
    let total = file.metadata()?.len();
    let mut file = BufReader::with_capacity(1 << 20, file);
    let counted = Counted {
        inner: &mut file,
        base: 0,
        total,
        progress,
    };
    read_stream(counted, identities, expect, keep)
}

/// A file of an extracted bundle, checked against the manifest as it is read: a short or
/// altered file fails at its end, before what it held is believed.
struct Extracted {
    file: File,
    path: String,
    size: u64,
    sha256: String,
    seen: u64,
    hash: ring::digest::Context,
    checked: bool,
}

impl Read for Extracted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.checked {
            return Ok(0);
        }
        let n = self.file.read(buf)?;
        self.seen += n as u64;
        self.hash.update(&buf[..n]);
        if n == 0 || self.seen > self.size {
            let done = std::mem::replace(
                &mut self.hash,
                ring::digest::Context::new(&ring::digest::SHA256),
            )
            .finish();
            self.checked = n == 0;
            if self.seen != self.size || hex::encode(done.as_ref()) != self.sha256 {
                return Err(std::io::Error::other(BundleError::Tampered(format!(
                    "{} does not match the manifest",
                    self.path
                ))));
            }
        }
        Ok(n)
    }
}

/// Reads a bundle that was decrypted with `age -d` and unpacked with `tar -x` into `dir`
/// (the folder holding `vigil-bundle/`, or that folder itself).
pub(crate) fn read_extracted(dir: &Path, keep: &mut dyn Keep) -> Result<(Manifest, Seen)> {
    let root = if dir.join("vigil-bundle").is_dir() {
        dir.join("vigil-bundle")
    } else {
        dir.to_path_buf()
    };
    let missing = |what: &str, e: std::io::Error| {
        BundleError::Malformed(format!("no vigil-bundle/{what}: {e}"))
    };
    let json =
        std::fs::read(root.join("manifest.json")).map_err(|e| missing("manifest.json", e))?;
    let sig = std::fs::read(root.join("manifest.sig")).map_err(|e| missing("manifest.sig", e))?;
    let manifest = Manifest::verify(&json, &sig)?;
    let mut checker = Checker::new(&manifest, keep)?;
    for e in &manifest.entries {
        vigil_bundle::check_entry_path(&e.path)?;
        let file = File::open(root.join(&e.path))
            .map_err(|_| BundleError::Truncated(format!("{} is missing", e.path)))?;
        let mut r = Extracted {
            file,
            path: e.path.clone(),
            size: e.size,
            sha256: e.sha256.clone(),
            seen: 0,
            hash: ring::digest::Context::new(&ring::digest::SHA256),
            checked: false,
        };
        checker.entry(&e.path, e.size, &e.sha256, &mut r)?;
        // Whatever was not read is read now, so the file's hash is always checked.
        std::io::copy(&mut r, &mut std::io::sink())?;
    }
    let seen = checker.finish();
    Ok((manifest, seen))
}

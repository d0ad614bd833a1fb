//! Reading a bundle: [`BundleReader`] and its [`Entry`] streams.

use std::io::{self, Read};

use ring::digest;

use crate::archive::{BLOCK, Block, padding, parse_header};
use crate::encryption::{Payload, decrypt_payload};
use crate::error::{BundleError, Result};
use crate::hashing::Sha256Worker;
use crate::manifest::{MAX_MANIFEST_BYTES, Manifest, SIGNATURE_HEX_LEN};

/// Reads a bundle as a stream, checking everything the format promises.
///
/// [`open`](Self::open) decrypts, reads `manifest.json` and `manifest.sig` and verifies the
/// signature; [`next_entry`](Self::next_entry) then yields each entry in manifest order. Each
/// entry's SHA-256 is checked when its end is reached (or when the next entry is asked for).
///
/// **Nothing is proven until `next_entry` returns `Ok(None)`:** only then are the age stream's
/// final chunk, the end of the archive and the absence of missing or extra entries checked.
/// Stage what you read and apply it only after that.
pub struct BundleReader<R: Read> {
    tape: Tape<R>,
    manifest: Manifest,
    signature: [u8; 64],
    next: usize,
    current: Option<Current>,
    bytes: u64,
    done: bool,
    failed: bool,
    /// Hashes large entries on another core; started at the first one.
    worker: Option<Sha256Worker>,
}

struct Current {
    left: u64,
    size: u64,
    sha256: String,
    hash: Option<EntryHash>,
}

/// Where the current entry is being hashed.
enum EntryHash {
    Here(Box<digest::Context>),
    /// By the reader's [`Sha256Worker`].
    Worker,
}

/// Entries from this size up are hashed on the helper thread; smaller ones are not worth the
/// hand-over.
const WORKER_FROM: u64 = 1 << 20;

impl<R: Read> std::fmt::Debug for BundleReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleReader")
            .field("bundle_id", &self.manifest.bundle_id)
            .field("next", &self.next)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> BundleReader<R> {
    /// Decrypts `input` with any of `identities`, reads the manifest and verifies its signature
    /// (see [`Manifest::verify`]).
    pub fn open(input: R, identities: &[age::x25519::Identity]) -> Result<Self> {
        let mut tape = Tape {
            payload: decrypt_payload(input, identities)?,
        };
        let json = match tape.read_header_block() {
            Ok(Block::File { path, size }) if path == "manifest.json" => {
                if size > MAX_MANIFEST_BYTES {
                    return Err(BundleError::TooLarge(format!(
                        "manifest.json declares {size} bytes; the limit is {MAX_MANIFEST_BYTES}"
                    )));
                }
                tape.read_small(size)?
            }
            Ok(Block::File { path, .. }) => {
                return Err(BundleError::NotABundle(format!(
                    "the archive starts with {path:?}, not manifest.json"
                )));
            }
            Ok(Block::End) => return Err(BundleError::NotABundle("the archive is empty".into())),
            Err(BundleError::Malformed(detail)) => {
                return Err(BundleError::NotABundle(format!(
                    "the payload is not a Vigil archive: {detail}"
                )));
            }
            Err(e) => return Err(e),
        };
        let sig = match tape.read_header_block()? {
            Block::File { path, size } if path == "manifest.sig" => {
                if size != SIGNATURE_HEX_LEN {
                    return Err(BundleError::BadSignature(format!(
                        "manifest.sig has {size} bytes, not {SIGNATURE_HEX_LEN}"
                    )));
                }
                tape.read_small(size)?
            }
            _ => {
                return Err(BundleError::Malformed(
                    "manifest.sig must follow manifest.json".into(),
                ));
            }
        };
        let manifest = Manifest::verify(&json, &sig)?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(&sig, &mut signature)
            .map_err(|_| BundleError::BadSignature("manifest.sig is not hex".into()))?;
        Ok(Self {
            tape,
            manifest,
            signature,
            next: 0,
            current: None,
            bytes: 0,
            done: false,
            failed: false,
            worker: None,
        })
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The device's Ed25519 signature over `manifest.json`.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The next entry, or `None` once the whole bundle has been read and checked.
    ///
    /// Whatever the previous entry left unread is read, hashed and checked first.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>> {
        if self.failed {
            return Err(BundleError::Malformed(
                "an earlier error stopped reading this bundle".into(),
            ));
        }
        if self.done {
            return Ok(None);
        }
        let r = self.advance();
        if r.is_err() {
            self.failed = true;
        }
        match r? {
            None => Ok(None),
            Some((path, size)) => Ok(Some(Entry {
                reader: self,
                path,
                size,
            })),
        }
    }

    fn advance(&mut self) -> Result<Option<(String, u64)>> {
        self.finish_current()?;
        let (path, size) = match self.tape.read_header_block()? {
            Block::End => {
                let mut second = [0u8; BLOCK];
                self.tape.read_exact(&mut second)?;
                if second.iter().any(|&b| b != 0) {
                    return Err(BundleError::Malformed(
                        "the archive's end marker is not two zero blocks".into(),
                    ));
                }
                if let Some(missing) = self.manifest.entries.get(self.next) {
                    return Err(BundleError::Malformed(format!(
                        "{:?} is in the manifest but not in the archive",
                        missing.path
                    )));
                }
                let mut probe = [0u8; 1];
                if self.tape.read_some(&mut probe)? != 0 {
                    return Err(BundleError::Malformed(
                        "data follows the end of the archive".into(),
                    ));
                }
                self.done = true;
                return Ok(None);
            }
            Block::File { path, size } => (path, size),
        };
        let Some(expected) = self.manifest.entries.get(self.next) else {
            return Err(BundleError::TooLarge(format!(
                "{path:?} is beyond the {} entries the manifest declares",
                self.manifest.entries.len()
            )));
        };
        if expected.path != path {
            let entries = &self.manifest.entries;
            let detail = if path == "manifest.json"
                || path == "manifest.sig"
                || entries[..self.next].iter().any(|e| e.path == path)
            {
                format!("{path:?} appears twice in the archive")
            } else if entries[self.next..].iter().any(|e| e.path == path) {
                format!("{path:?} is out of manifest order")
            } else {
                format!("{path:?} is not in the manifest")
            };
            return Err(BundleError::Malformed(detail));
        }
        if size > expected.size {
            return Err(BundleError::TooLarge(format!(
                "{path:?} holds {size} bytes; the manifest declares {}",
                expected.size
            )));
        }
        if size < expected.size {
            return Err(BundleError::Malformed(format!(
                "{path:?} holds {size} bytes; the manifest declares {}",
                expected.size
            )));
        }
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > self.manifest.totals.bytes {
            return Err(BundleError::TooLarge(
                "the entries exceed the manifest's total".into(),
            ));
        }
        if size >= WORKER_FROM && self.worker.is_none() {
            // Without a thread (none may be started), hash here.
            self.worker = Sha256Worker::start().ok();
        }
        let hash = if size >= WORKER_FROM && self.worker.is_some() {
            EntryHash::Worker
        } else {
            EntryHash::Here(Box::new(digest::Context::new(&digest::SHA256)))
        };
        self.current = Some(Current {
            left: size,
            size,
            sha256: expected.sha256.clone(),
            hash: Some(hash),
        });
        self.next += 1;
        Ok(Some((path, size)))
    }

    /// Reads what is left of the current entry, checks its hash and skips its padding.
    fn finish_current(&mut self) -> Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let mut buf = vec![0u8; 64 * 1024];
        while self.read_entry(&mut buf)? != 0 {}
        if let Some(cur) = self.current.take() {
            self.tape.skip_padding(cur.size)?;
        }
        Ok(())
    }

    /// Reads from the current entry; at its end checks the SHA-256 and returns 0.
    fn read_entry(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(0);
        };
        if cur.left == 0 {
            let got = match cur.hash.take() {
                None => return Ok(0),
                Some(EntryHash::Here(ctx)) => hex::encode(ctx.finish()),
                Some(EntryHash::Worker) => match self.worker.as_mut() {
                    Some(w) => hex::encode(w.finish()?),
                    None => String::new(),
                },
            };
            if got != cur.sha256 {
                return Err(BundleError::Tampered(
                    "an entry does not match its SHA-256 in the manifest".into(),
                ));
            }
            return Ok(0);
        }
        let want = usize::try_from(cur.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.tape.payload.read(&mut buf[..want])?;
        let Some(cur) = self.current.as_mut() else {
            return Ok(0);
        };
        if n == 0 {
            return Err(BundleError::Truncated(
                "the archive ends inside an entry".into(),
            ));
        }
        match cur.hash.as_mut() {
            Some(EntryHash::Here(ctx)) => ctx.update(&buf[..n]),
            Some(EntryHash::Worker) => {
                if let Some(w) = self.worker.as_mut() {
                    w.update(&buf[..n])?;
                }
            }
            None => {}
        }
        cur.left -= n as u64;
        Ok(n)
    }
}

/// The decrypted payload, read block by block.
struct Tape<R: Read> {
    payload: Payload<R>,
}

impl<R: Read> Tape<R> {
    fn read_header_block(&mut self) -> Result<Block> {
        let mut block = [0u8; BLOCK];
        self.read_exact(&mut block)?;
        parse_header(&block)
    }

    fn read_small(&mut self, size: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(size)
            .map_err(|_| BundleError::TooLarge("entry too large for memory".into()))?;
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf)?;
        self.skip_padding(size)?;
        Ok(buf)
    }

    fn skip_padding(&mut self, size: u64) -> Result<()> {
        let mut pad = [0u8; BLOCK];
        let pad = &mut pad[..padding(size)];
        self.read_exact(pad)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(BundleError::Malformed(
                "non-zero padding after an entry".into(),
            ));
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.payload.read_exact(buf) {
            Ok(()) => Ok(()),
            Err(e) => match BundleError::from(e) {
                BundleError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(
                    BundleError::Truncated("the archive ends before the bundle does".into()),
                ),
                other => Err(other),
            },
        }
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.payload.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// One entry of a bundle being read: its path (relative to `vigil-bundle/`), its size, and its
/// content as a [`Read`] that yields exactly `size` bytes and fails with
/// [`Tampered`](BundleError::Tampered) at the end if the SHA-256 differs from the manifest's.
/// Errors from `read` carry a [`BundleError`]; convert with `BundleError::from`.
pub struct Entry<'a, R: Read> {
    reader: &'a mut BundleReader<R>,
    path: String,
    size: u64,
}

impl<R: Read> std::fmt::Debug for Entry<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Entry<'_, R> {
    /// The path relative to `vigil-bundle/`, as in the manifest.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The size in bytes, as in the manifest.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 the content must have (lowercase hex), as in the manifest.
    pub fn sha256(&self) -> &str {
        self.reader
            .current
            .as_ref()
            .map_or("", |c| c.sha256.as_str())
    }
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.reader.read_entry(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.reader.failed = true;
                Err(e.into_io())
            }
        }
    }
}

//! Writing a bundle: [`BundleWriter`] and the crash-safe [`export_file`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use age::stream::StreamWriter;
use ring::digest;

use crate::archive::{BLOCK, header_block, padding};
use crate::encryption::encrypt_to;
use crate::error::{BundleError, Result};
use crate::manifest::Manifest;

const COPY_BUFFER: usize = 64 * 1024;

/// Buffers of [`BundleFile`]: one write call per MiB rather than per age chunk.
const WRITE_BUFFER: usize = 1 << 20;

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

/// Bytes written between two requests to start putting the bundle on disk.
const FLUSH_EVERY: u64 = 16 << 20;

/// Buffers of [`WRITE_BUFFER`] bytes queued for the disk thread.
const DISK_QUEUE: usize = 4;

/// The file [`export_file`] writes a bundle to, as the encrypting thread sees it.
///
/// Bytes are gathered into 1 MiB buffers that a disk thread writes, so encryption never waits
/// for a system call; on Linux, every 16 MiB the disk thread asks another to `fdatasync` what
/// is written so far, so the disk works while the bundle is still being encrypted and the final
/// `fsync` only waits for the last few MiB. Memory stays bounded: at most a few buffers are in
/// flight.
pub struct BundleFile {
    buf: Vec<u8>,
    blocks: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
}

impl std::fmt::Debug for BundleFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleFile").finish_non_exhaustive()
    }
}

impl BundleFile {
    fn send(&mut self) -> io::Result<()> {
        let mut next = self.spare.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.buf, next);
        self.blocks
            .send(full)
            .map_err(|_| io::Error::other("the disk thread stopped"))
    }
}

impl Write for BundleFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(WRITE_BUFFER);
        }
        let n = bytes.len().min(WRITE_BUFFER.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() >= WRITE_BUFFER {
            self.send()?;
        }
        Ok(n)
    }

    /// Hands what is gathered to the disk thread (it is on disk only once the export is done).
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// Writes a bundle to `path` so that a crash never leaves a partial file under that name:
/// [`write_pending`], then [`PendingBundle::commit`] at once.
pub fn export_file(
    path: &Path,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<BundleFile>) -> Result<()>,
) -> Result<()> {
    write_pending(path, recipients, build)?.commit()
}

/// A bundle written and fsynced under a temporary name beside its destination, not yet in
/// place: read it back at [`path`](Self::path), then [`commit`](Self::commit) it. Dropped
/// without a commit, the temporary file is removed, so a bundle that fails its read-back never
/// appears under the final name.
#[derive(Debug)]
pub struct PendingBundle {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PendingBundle {
    /// The written file, under its temporary name.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the bundle into place (over any file of that name) and fsyncs the folder.
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        sync_dir(folder_of(&self.dest))?;
        Ok(())
    }
}

impl Drop for PendingBundle {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes a bundle for `dest` to a temporary name in the same folder and fsyncs it.
///
/// `build` writes the manifest and entries. On error the temporary file is removed and `dest`
/// is untouched. A disk thread writes 1 MiB at a time, so encryption never waits for a system
/// call; on Linux, every 16 MiB another thread has what is written synced and then dropped from
/// the page cache (elsewhere `sync_data` may flush the drive's own cache, too slow to repeat).
pub fn write_pending(
    dest: &Path,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<BundleFile>) -> Result<()>,
) -> Result<PendingBundle> {
    let name = dest
        .file_name()
        .ok_or_else(|| BundleError::Malformed(format!("{} is not a file name", dest.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(folder_of(dest).join(&tmp_name))?;
    // From here on, dropping `pending` removes the temporary file.
    let pending = PendingBundle {
        tmp: folder_of(dest).join(tmp_name),
        dest: dest.to_path_buf(),
        committed: false,
    };
    write_through(file, recipients, build)?;
    Ok(pending)
}

/// What [`write_through`] needs of the file it writes (a trait, so that tests can make a disk
/// fail at a chosen point).
trait Disk: Write + Send + Sized {
    /// Another handle to the same open file (for the syncing thread).
    fn handle(&self) -> io::Result<Self>;
    /// `fdatasync`.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`.
    fn sync_all(&self) -> io::Result<()>;
    /// Drops `len` bytes from `offset` (to the end for 0) from the page cache.
    fn forget(&self, offset: u64, len: u64);
}

impl Disk for File {
    fn handle(&self) -> io::Result<Self> {
        self.try_clone()
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn sync_all(&self) -> io::Result<()> {
        File::sync_all(self)
    }

    fn forget(&self, offset: u64, len: u64) {
        forget_written(self, offset, len);
    }
}

/// Writes the bundle `build` makes to `file` through a disk thread (and, on Linux, a syncing
/// thread; see [`write_pending`]), then fsyncs it. The first error is returned, root cause first.
fn write_through<D: Disk>(
    file: D,
    recipients: &[age::x25519::Recipient],
    build: impl FnOnce(&mut BundleWriter<BundleFile>) -> Result<()>,
) -> Result<()> {
    // The syncing thread uses its own handle to the same open file. It stops at its first
    // error and returns it: that error is reported to this open file once only, so the final
    // fsync below could not be relied on to see it again.
    let syncing = file.handle()?;
    std::thread::scope(|scope| {
        let (flush, requests) = mpsc::sync_channel::<u64>(1);
        let syncer = scope.spawn(move || -> io::Result<()> {
            let mut forgotten = 0;
            for upto in requests {
                syncing.sync_data()?;
                syncing.forget(forgotten, upto - forgotten);
                forgotten = upto;
            }
            Ok(())
        });
        let (blocks, queue) = mpsc::sync_channel::<Vec<u8>>(DISK_QUEUE);
        let (spare_tx, spare) = mpsc::sync_channel::<Vec<u8>>(DISK_QUEUE + 1);
        let disk = scope.spawn(move || -> io::Result<D> {
            let mut file = file;
            let (mut written, mut since_flush) = (0u64, 0u64);
            for block in queue {
                file.write_all(&block)?;
                written += block.len() as u64;
                since_flush += block.len() as u64;
                if PERIODIC_SYNC && since_flush >= FLUSH_EVERY {
                    since_flush = 0;
                    match flush.try_send(written) {
                        // Full: a sync is already asked for; it will cover these bytes.
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        // The syncing thread stopped at an error: writing on is pointless.
                        Err(TrySendError::Disconnected(_)) => {
                            return Err(io::Error::other("syncing the bundle failed"));
                        }
                    }
                }
                let _ = spare_tx.try_send(block);
            }
            Ok(file)
        });
        let built = (|| {
            let out = BundleFile {
                buf: Vec::new(),
                blocks,
                spare,
            };
            let mut writer = BundleWriter::new(out, recipients)?;
            build(&mut writer)?;
            writer.finish()?.flush()?;
            // Dropping the output ends the queue, and the disk thread with it.
            Ok::<_, BundleError>(())
        })();
        let stopped = || io::Error::other("a bundle writing thread panicked");
        let written = disk.join().unwrap_or_else(|_| Err(stopped()));
        let synced = syncer.join().unwrap_or_else(|_| Err(stopped()));
        // The root cause first: a sync error stops the disk thread, and a disk error is all
        // the encrypting side saw as "the disk thread stopped".
        synced?;
        let file = written?;
        built?;
        file.sync_all()?;
        file.forget(0, 0);
        Ok(())
    })
}

/// Whether [`write_pending`] syncs as it goes (see there).
const PERIODIC_SYNC: bool = cfg!(target_os = "linux");

/// Tells the kernel that `len` bytes of `file` from `offset` (to its end for 0), now on disk,
/// will not be read again soon: a bundle of gigabytes should not push everything else out of the
/// page cache, and the read-back after the export then reads what the disk holds rather than
/// cached pages.
#[cfg(target_os = "linux")]
fn forget_written(file: &File, offset: u64, len: u64) {
    // Advice only: if it is not taken, nothing is lost but cache.
    let _ = rustix::fs::fadvise(
        file,
        offset,
        std::num::NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

#[cfg(not(target_os = "linux"))]
fn forget_written(_file: &File, _offset: u64, _len: u64) {}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::manifest::{DeviceInfo, ManifestEntry};

    /// A disk that can be made to fail: a write past `fail_write_at` bytes, or the
    /// `fail_sync`-th `fdatasync`.
    #[derive(Default)]
    struct State {
        written: u64,
        syncs: u32,
        fail_write_at: Option<u64>,
        fail_sync: Option<u32>,
        fsynced: bool,
    }

    struct FakeDisk(Arc<Mutex<State>>);

    impl Write for FakeDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            if s.fail_write_at
                .is_some_and(|at| s.written + buf.len() as u64 > at)
            {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on the stick",
                ));
            }
            s.written += buf.len() as u64;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Disk for FakeDisk {
        fn handle(&self) -> io::Result<Self> {
            Ok(FakeDisk(Arc::clone(&self.0)))
        }

        fn sync_data(&self) -> io::Result<()> {
            let mut s = self.0.lock().unwrap();
            s.syncs += 1;
            if s.fail_sync == Some(s.syncs) {
                return Err(io::Error::other("the stick was pulled out"));
            }
            Ok(())
        }

        fn sync_all(&self) -> io::Result<()> {
            self.0.lock().unwrap().fsynced = true;
            Ok(())
        }

        fn forget(&self, _offset: u64, _len: u64) {}
    }

    const LEN: u64 = 40 << 20;

    /// Writes a bundle of one 40 MiB entry of zeros to a fake disk set up by `setup`.
    fn write_to_fake(setup: State, build_fails: bool) -> (Result<()>, State) {
        let device = age::x25519::Identity::generate();
        let recipients = vec![device.to_public()];
        let mut ctx = digest::Context::new(&digest::SHA256);
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(LEN >> 20) {
            ctx.update(&zeros);
        }
        let sha = hex::encode(ctx.finish());
        let manifest = Manifest::new(
            uuid::Uuid::now_v7(),
            chrono::Utc::now(),
            uuid::Uuid::now_v7(),
            DeviceInfo {
                id: uuid::Uuid::now_v7(),
                sign_pk: "ab".repeat(32),
                age_recipient: device.to_public().to_string(),
            },
            vec![ManifestEntry {
                path: format!("attachments/{sha}"),
                size: LEN,
                sha256: sha.clone(),
            }],
        );
        let state = Arc::new(Mutex::new(setup));
        let result = write_through(FakeDisk(Arc::clone(&state)), &recipients, |w| {
            w.write_manifest(&manifest, &|_| [0u8; 64])?;
            if build_fails {
                return Err(BundleError::Malformed("the caller gave up".into()));
            }
            w.add_entry(
                &format!("attachments/{sha}"),
                LEN,
                &mut io::repeat(0).take(LEN),
            )
        });
        let state = std::mem::take(&mut *state.lock().unwrap());
        (result, state)
    }

    #[test]
    fn a_healthy_disk_gets_all_of_it_synced_as_it_goes_and_fsynced() {
        let (result, s) = write_to_fake(State::default(), false);
        result.unwrap();
        assert!(s.written > LEN, "{} bytes", s.written);
        assert!(s.fsynced);
        if PERIODIC_SYNC {
            assert!(s.syncs >= 1, "{} periodic syncs", s.syncs);
        }
    }

    /// A failed periodic sync is the error returned (not the disk thread's "syncing failed",
    /// nor anything the encrypting side saw), and nothing is fsynced as if all were well.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_sync_is_the_error_returned() {
        let setup = State {
            fail_sync: Some(1),
            ..State::default()
        };
        let (result, s) = write_to_fake(setup, false);
        let err = result.unwrap_err();
        assert_eq!(err.code(), "bundle.io");
        assert!(err.to_string().contains("pulled out"), "{err}");
        assert!(!s.fsynced);
    }

    /// A write that fails (a full stick) is the error returned, not the encrypting side's
    /// "the disk thread stopped".
    #[test]
    fn a_failed_write_is_the_error_returned() {
        let setup = State {
            fail_write_at: Some(20 << 20),
            ..State::default()
        };
        let (result, s) = write_to_fake(setup, false);
        let err = result.unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(s.written <= 20 << 20);
        assert!(!s.fsynced);
    }

    /// When the caller fails, that is the error, and the file is not fsynced.
    #[test]
    fn a_failed_build_is_the_error_returned() {
        let (result, s) = write_to_fake(State::default(), true);
        let err = result.unwrap_err();
        assert_eq!(err.code(), "bundle.malformed");
        assert!(err.to_string().contains("gave up"), "{err}");
        assert!(!s.fsynced);
    }
}

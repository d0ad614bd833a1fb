//! Durable file I/O in one place: everything Vigil writes to disk that must survive a crash, a
//! full disk or a stick pulled out goes through here, so the fault-injection tests below cover
//! it once for every caller (the vault's key header and settings, attachment chunks as they are
//! staged, bundles as they are exported).
//!
//! - [`create_private`], [`create_private_dir`]: new files (0600) and folders (0700) only the
//!   owner can read.
//! - [`drive`]: what a drive allows before a large file is written to it (free space,
//!   read-only, its file system's largest file).
//! - [`sync_dir`]: a folder's entries (a rename, a new file) on disk.
//! - [`write_atomic`]: a small file replaced whole or not at all.
//! - [`Pending`]: a large file written under a temporary name beside its destination, renamed
//!   into place only once complete (and checked, if the caller wants); dropped, it is removed.
//! - [`write_through`]: a bounded pipe that moves a producer's bytes to a [`Disk`] on a thread
//!   of its own, syncing as it goes, and returns the root cause of any failure.
//! - [`SyncPool`]: many small files (attachment chunks) fsynced by a few threads while the next
//!   ones are written, again returning the root cause.
//!
//! Every function returns the first error that actually happened (the disk's "no space left",
//! the failed `fsync`), never a secondary one such as "the disk thread stopped".

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

/// What [`write_through`] needs of the file it writes: a trait, so that tests can make a disk
/// fail at a chosen point.
pub trait Disk: Write + Send + Sized {
    /// Another handle to the same open file (for the syncing thread).
    fn handle(&self) -> io::Result<Self>;
    /// `fdatasync`.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`.
    fn sync_all(&self) -> io::Result<()>;
    /// Drops `len` bytes from `offset` (to the end for 0) from the page cache: advice only.
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

/// Tells the kernel that `len` bytes of `file` from `offset` (to its end for 0), now on disk,
/// will not be read again soon: a file of gigabytes should not push everything else out of the
/// page cache, and a read-back then reads what the disk holds rather than cached pages.
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

/// Creates `path`, which must not exist, readable and writable by the owner only (0600).
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Creates `dir` and its missing parents, for the owner only (0700). An existing folder is
/// left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Puts a folder's entries on disk: after a rename or a new file in it, the name survives a
/// crash only once its folder is synced.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Puts a folder's entries on disk (nothing to do where a folder cannot be opened as a file:
/// NTFS journals the rename itself).
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The folder a file is in (`.` for a bare name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically: a private temporary file in the same folder, fsynced,
/// renamed over the target, and the folder fsynced. A crash leaves the old file or the new one,
/// never a mix; on error the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (pending, mut f) = Pending::create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    pending.commit()
}

/// A file written under a temporary name beside its destination (in the same folder, so the
/// rename is atomic): [`commit`](Self::commit) renames it into place. Dropped without a commit
/// (an error, a failed read-back, a panic), the temporary file is removed, so a partial file
/// never appears under the final name.
#[derive(Debug)]
pub struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Pending {
    /// Creates the temporary file for `dest`, named after it and this process, with the
    /// permissions any new file gets (a bundle on a stick must stay readable by HQ's user).
    pub fn create(dest: &Path) -> io::Result<(Pending, File)> {
        Self::create_with(dest, |tmp| {
            OpenOptions::new().write(true).create_new(true).open(tmp)
        })
    }

    /// [`Pending::create`], readable and writable by the owner only (0600): for the vault's
    /// own files.
    pub fn create_private(dest: &Path) -> io::Result<(Pending, File)> {
        Self::create_with(dest, create_private)
    }

    fn create_with(
        dest: &Path,
        open: impl FnOnce(&Path) -> io::Result<File>,
    ) -> io::Result<(Pending, File)> {
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file name", dest.display()),
            )
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = folder_of(dest).join(tmp_name);
        // A temporary file left by a crash of an earlier process with the same id.
        let _ = fs::remove_file(&tmp);
        let file = open(&tmp)?;
        Ok((
            Pending {
                tmp,
                dest: dest.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// Removes from `folder` the temporary files that processes no longer running left while
    /// writing a file whose name ends in `suffix` (`.vigil`): a killed export leaves its
    /// partial file under its temporary name, and the next export to that folder clears it.
    /// A file of a process still running is left alone. Returns how many were removed.
    pub fn remove_stale(folder: &Path, suffix: &str) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| stale_pid(n, suffix)) else {
                continue;
            };
            if pid != std::process::id()
                && !process_alive(pid)
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(folder)?;
        }
        Ok(removed)
    }

    /// The file being written, under its temporary name.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Where it goes once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the file into place (over any file of that name) and syncs the folder. The
    /// caller has synced the file itself.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        sync_dir(folder_of(&self.dest))
    }
}

/// The process id in a temporary name `.<name><suffix>.<pid>.tmp`, if `name` is one.
fn stale_pid(name: &str, suffix: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (stem, pid) = rest.rsplit_once('.')?;
    if !stem.ends_with(suffix) || stem.len() == suffix.len() {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this id runs (on Linux, `/proc/<pid>`; elsewhere assumed, so that
/// nothing is removed that might still be written).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Bytes gathered into one write call of the disk thread.
pub const BLOCK_LEN: usize = 1 << 20;
/// Blocks queued for the disk thread: memory stays bounded whatever the file's size.
const DISK_QUEUE: usize = 4;
/// Bytes written between two requests to start putting the file on disk: small enough that a
/// running-log entry's own fsync, which waits for the journal, never queues behind much of it.
const SYNC_EVERY: u64 = 8 << 20;
/// Whether [`write_through`] syncs as it goes: on Linux `fdatasync` is cheap enough to repeat;
/// elsewhere it may flush the drive's own cache, too slow to repeat.
const PERIODIC_SYNC: bool = cfg!(target_os = "linux");

/// The producer's side of [`write_through`]'s pipe: bytes are gathered into [`BLOCK_LEN`]
/// blocks that the disk thread writes, so the producer (encryption, say) never waits for a
/// system call, and at most a few blocks are in flight.
pub struct BlockWriter {
    buf: Vec<u8>,
    blocks: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter").finish_non_exhaustive()
    }
}

impl BlockWriter {
    fn send(&mut self) -> io::Result<()> {
        let mut next = self.spare.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.buf, next);
        self.blocks
            .send(full)
            .map_err(|_| io::Error::other("the disk thread stopped"))
    }
}

impl Write for BlockWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(BLOCK_LEN);
        }
        let n = bytes.len().min(BLOCK_LEN.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() >= BLOCK_LEN {
            self.send()?;
        }
        Ok(n)
    }

    /// Hands what is gathered to the disk thread (it is on disk only once
    /// [`write_through`] returns).
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// Moves what `produce` writes to `file` through a disk thread and, on Linux, a thread that
/// `fdatasync`s every 8 MiB (so the disk works while the producer still produces, and the
/// final `fsync` waits only for the last few MiB), then `fsync`s the file.
///
/// The error returned is the root cause: a failed sync first (it stops the disk thread), then a
/// failed write (all the producer saw of it was "the disk thread stopped"), then the producer's
/// own error. After any error the file is not fsynced as if all were well. A panic in `produce`
/// reaches the caller once the threads have stopped.
pub fn write_through<D: Disk, T, E: From<io::Error>>(
    file: D,
    produce: impl FnOnce(&mut BlockWriter) -> Result<T, E>,
) -> Result<T, E> {
    // The syncing thread uses its own handle to the same open file. It stops at its first error
    // and returns it: that error is reported to this open file once only, so the final fsync
    // could not be relied on to see it again.
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
                if PERIODIC_SYNC && since_flush >= SYNC_EVERY {
                    since_flush = 0;
                    match flush.try_send(written) {
                        // Full: a sync is already asked for; it will cover these bytes.
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        // The syncing thread stopped at an error: writing on is pointless.
                        Err(TrySendError::Disconnected(_)) => {
                            return Err(io::Error::other("syncing the file failed"));
                        }
                    }
                }
                let _ = spare_tx.try_send(block);
            }
            Ok(file)
        });
        let produced = (|| {
            let mut out = BlockWriter {
                buf: Vec::new(),
                blocks,
                spare,
            };
            let value = produce(&mut out)?;
            out.flush()?;
            // Dropping the writer ends the queue, and the disk thread with it.
            Ok::<T, E>(value)
        })();
        let stopped = || io::Error::other("a file writing thread panicked");
        let written = disk.join().unwrap_or_else(|_| Err(stopped()));
        let synced = syncer.join().unwrap_or_else(|_| Err(stopped()));
        synced?;
        let file = written?;
        let value = produced?;
        file.sync_all()?;
        file.forget(0, 0);
        Ok(value)
    })
}

/// What [`SyncPool`] needs of a file: a trait, so that tests can make an fsync fail.
pub trait Syncable: Send {
    /// `fsync`.
    fn sync_all(&self) -> io::Result<()>;
}

impl Syncable for File {
    fn sync_all(&self) -> io::Result<()> {
        File::sync_all(self)
    }
}

/// Threads that fsync files while the next are written, and files waiting for them.
const SYNCERS: usize = 4;
const SYNC_QUEUE: usize = 8;

/// Files handed to a few threads that fsync them while the producer writes the next ones:
/// several fsyncs in flight share the file system's journal commits, where one after another
/// each waited for its own. Made by [`SyncPool::run`].
pub struct SyncPool<F: Syncable> {
    to_sync: SyncSender<F>,
    failed: Arc<AtomicBool>,
    stopped_by_sync: bool,
}

impl<F: Syncable> std::fmt::Debug for SyncPool<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncPool").finish_non_exhaustive()
    }
}

impl<F: Syncable> SyncPool<F> {
    /// Runs `produce`, which writes files and hands each to [`SyncPool::sync`]; returns once
    /// every file handed over is fsynced. The error returned is the root cause: a failed fsync
    /// if the producer stopped because of it (or finished without noticing), else the
    /// producer's own error. `on_io` turns the pool's own I/O errors (a failed fsync, a thread
    /// that could not start) into the caller's error type.
    pub fn run<T, E>(
        on_io: impl Fn(io::Error) -> E,
        produce: impl FnOnce(&mut SyncPool<F>) -> Result<T, E>,
    ) -> Result<T, E> {
        let (to_sync, queue) = mpsc::sync_channel::<F>(SYNC_QUEUE);
        let queue = Mutex::new(queue);
        // The first sync error. The thread that met it keeps taking files (and dropping them),
        // so the producer never waits on a queue nobody empties; it stops at its next file.
        let first_error: Mutex<Option<io::Error>> = Mutex::new(None);
        let failed = Arc::new(AtomicBool::new(false));
        let fail = |e: io::Error| {
            first_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(e);
            failed.store(true, Ordering::SeqCst);
        };
        std::thread::scope(|scope| {
            let mut syncers = Vec::with_capacity(SYNCERS);
            for _ in 0..SYNCERS {
                let (queue, failed, fail) = (&queue, &*failed, &fail);
                let t = std::thread::Builder::new()
                    .name("vigil-sync".into())
                    .spawn_scoped(scope, move || {
                        loop {
                            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok(f) = next else { return };
                            if !failed.load(Ordering::SeqCst)
                                && let Err(e) = f.sync_all()
                            {
                                fail(e);
                            }
                        }
                    })
                    .map_err(&on_io)?;
                syncers.push(t);
            }
            let mut pool = SyncPool {
                to_sync,
                failed: Arc::clone(&failed),
                stopped_by_sync: false,
            };
            let produced = produce(&mut pool);
            let stopped_by_sync = pool.stopped_by_sync;
            drop(pool);
            for t in syncers {
                if t.join().is_err() {
                    fail(io::Error::other("a thread syncing files panicked"));
                }
            }
            let sync_error = first_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match (produced, sync_error) {
                (Err(e), _) if !stopped_by_sync => Err(e),
                (_, Some(e)) => Err(on_io(e)),
                (r, None) => r,
            }
        })
    }

    /// Hands a written file over to be fsynced. Refused once an fsync failed: the producer
    /// should stop, and [`SyncPool::run`] returns that failure.
    pub fn sync(&mut self, file: F) -> io::Result<()> {
        let refused = || io::Error::other("syncing the files stopped");
        if self.failed.load(Ordering::SeqCst) {
            self.stopped_by_sync = true;
            return Err(refused());
        }
        self.to_sync.send(file).map_err(|_| {
            self.stopped_by_sync = true;
            refused()
        })
    }
}

mod drive;
pub use drive::{
    Drive, FAT_MAX_FILE, FUSEFAT_MAX_FILE, Fault, drive, fault_of, free_space, fs_name, max_file_of,
};

#[cfg(test)]
mod tests;

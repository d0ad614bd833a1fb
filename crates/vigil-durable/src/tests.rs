//! Fault injection: disks that fail a write, fill up, fail a sync, and producers that fail or
//! panic. Each test checks that the root cause is what is returned and that no partial file is
//! left under a final name.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::*;

/// A disk that can be made to fail: a write past `fail_write_at` bytes (with `full`: as a full
/// disk does), or the `fail_sync`-th `fdatasync`.
#[derive(Default)]
struct State {
    written: u64,
    syncs: u32,
    fail_write_at: Option<u64>,
    full: bool,
    fail_sync: Option<u32>,
    fsynced: bool,
}

/// A real file (a [`Pending`] one) whose writes and syncs fail as its [`State`] says.
struct FakeDisk(Arc<Mutex<State>>, File);

impl Write for FakeDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap();
        if s.fail_write_at
            .is_some_and(|at| s.written + buf.len() as u64 > at)
        {
            return Err(if s.full {
                io::Error::new(io::ErrorKind::StorageFull, "no space left on the stick")
            } else {
                io::Error::other("input/output error on the stick")
            });
        }
        self.1.write_all(buf)?;
        s.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Disk for FakeDisk {
    fn handle(&self) -> io::Result<Self> {
        Ok(FakeDisk(Arc::clone(&self.0), self.1.try_clone()?))
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

/// The producer's own failure, distinct from any I/O error.
#[derive(Debug)]
enum ProduceError {
    Io(io::Error),
    GaveUp,
}

impl From<io::Error> for ProduceError {
    fn from(e: io::Error) -> Self {
        ProduceError::Io(e)
    }
}

/// Writes 40 MiB of zeros through a [`Pending`] file on a disk set up by `setup`, committing
/// it only if all went well (as the bundle writer does); the producer gives up halfway when
/// `gives_up`. Also checks that a failure leaves nothing: not the final name, not the
/// temporary file.
fn write_to_fake(setup: State, gives_up: bool) -> (Result<u64, ProduceError>, State) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("bundle.vigil");
    let (pending, file) = Pending::create(&dest).unwrap();
    let state = Arc::new(Mutex::new(setup));
    let result = write_through(FakeDisk(Arc::clone(&state), file), |w| {
        let half = io::copy(&mut io::repeat(0).take(LEN / 2), w)?;
        if gives_up {
            return Err(ProduceError::GaveUp);
        }
        Ok(half + io::copy(&mut io::repeat(0).take(LEN / 2), w)?)
    });
    match &result {
        Ok(_) => {
            pending.commit().unwrap();
            assert_eq!(fs::metadata(&dest).unwrap().len(), LEN);
        }
        Err(_) => {
            drop(pending);
            assert!(!dest.exists(), "a partial file under the final name");
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                0,
                "a temporary file left"
            );
        }
    }
    let state = std::mem::take(&mut *state.lock().unwrap());
    (result, state)
}

fn io_message(r: Result<u64, ProduceError>) -> String {
    match r {
        Err(ProduceError::Io(e)) => e.to_string(),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_healthy_disk_gets_all_of_it_synced_as_it_goes_and_fsynced() {
    let (result, s) = write_to_fake(State::default(), false);
    assert_eq!(result.unwrap(), LEN);
    assert_eq!(s.written, LEN);
    assert!(s.fsynced);
    if PERIODIC_SYNC {
        assert!(s.syncs >= 1, "{} periodic syncs", s.syncs);
    }
}

/// A failed periodic sync is the error returned (not the disk thread's "syncing failed", nor
/// the producer's "the disk thread stopped"), and nothing is fsynced as if all were well.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_sync_is_the_error_returned() {
    let setup = State {
        fail_sync: Some(1),
        ..State::default()
    };
    let (result, s) = write_to_fake(setup, false);
    assert!(io_message(result).contains("pulled out"));
    assert!(!s.fsynced);
}

/// A write that fails is the error returned, not the producer's "the disk thread stopped".
#[test]
fn a_failed_write_is_the_error_returned() {
    let setup = State {
        fail_write_at: Some(20 << 20),
        ..State::default()
    };
    let (result, s) = write_to_fake(setup, false);
    assert!(io_message(result).contains("input/output error"));
    assert!(s.written <= 20 << 20);
    assert!(!s.fsynced);
}

/// A full disk is reported as such (ErrorKind::StorageFull), so callers can say so.
#[test]
fn a_full_disk_is_the_error_returned_with_its_kind() {
    let setup = State {
        fail_write_at: Some(8 << 20),
        full: true,
        ..State::default()
    };
    let (result, s) = write_to_fake(setup, false);
    match result {
        Err(ProduceError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}"),
        other => panic!("expected a full disk, got {other:?}"),
    }
    assert!(!s.fsynced);
}

/// When the producer fails, that is the error, and the file is not fsynced.
#[test]
fn a_failed_producer_is_the_error_returned() {
    let (result, s) = write_to_fake(State::default(), true);
    assert!(matches!(result, Err(ProduceError::GaveUp)), "{result:?}");
    assert!(!s.fsynced);
}

/// A producer that panics: the panic reaches the caller (no thread is left waiting), and the
/// pending file is removed as the stack unwinds, so nothing appears under the final name.
#[test]
fn a_panicking_producer_leaves_no_file_and_no_thread_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("bundle.vigil");
    let outcome = std::panic::catch_unwind(|| {
        let (pending, file) = Pending::create(&dest).unwrap();
        let _ = write_through(file, |w| -> io::Result<()> {
            io::copy(&mut io::repeat(7).take(3 << 20), w)?;
            panic!("the progress callback panicked");
        });
        pending.commit().unwrap();
    });
    assert!(outcome.is_err());
    assert!(!dest.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file"
    );
}

/// A real file: written through the pipe, committed, exactly the bytes produced.
#[test]
fn a_pending_file_appears_whole_once_committed_and_never_before() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("bundle.vigil");
    let (pending, file) = Pending::create_private(&dest).unwrap();
    let n = write_through(file, |w| io::copy(&mut io::repeat(9).take(5 << 20), w)).unwrap();
    assert_eq!(n, 5 << 20);
    assert!(!dest.exists(), "not under its final name before the commit");
    assert_eq!(fs::metadata(pending.path()).unwrap().len(), 5 << 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(pending.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    pending.commit().unwrap();
    assert_eq!(fs::metadata(&dest).unwrap().len(), 5 << 20);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    // Dropped without a commit (a failed read-back): removed, and the old file stays.
    let (pending, mut file) = Pending::create(&dest).unwrap();
    file.write_all(b"half").unwrap();
    drop(pending);
    assert_eq!(fs::metadata(&dest).unwrap().len(), 5 << 20);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn write_atomic_replaces_whole_files_and_refuses_what_is_not_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    write_atomic(&path, b"{\"a\":1}").unwrap();
    write_atomic(&path, b"{\"a\":2}").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"{\"a\":2}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    // Into a folder that does not exist: the error, and nothing written anywhere.
    let missing = dir.path().join("missing").join("settings.json");
    assert_eq!(
        write_atomic(&missing, b"x").unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(
        write_atomic(Path::new("/"), b"x").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn private_files_and_folders_are_the_owners_only() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a").join("b");
    create_private_dir(&sub).unwrap();
    create_private_dir(&sub).unwrap();
    let f = sub.join("chunk");
    create_private(&f).unwrap();
    assert_eq!(
        create_private(&f).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists,
        "never over an existing file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&f), 0o600);
    }
}

/// A file whose fsync fails when `fail` says so.
struct FakeFile {
    n: usize,
    fail: Option<usize>,
    synced: Arc<Mutex<Vec<usize>>>,
}

impl Syncable for FakeFile {
    fn sync_all(&self) -> io::Result<()> {
        if self.fail == Some(self.n) {
            return Err(io::Error::other(format!("fsync of file {} failed", self.n)));
        }
        self.synced.lock().unwrap().push(self.n);
        Ok(())
    }
}

/// Hands `files` files to a pool whose fsync fails at file `fail`; the producer gives up at
/// file `gives_up`. Returns the result, how many files were handed over, and which synced.
fn sync_files(
    files: usize,
    fail: Option<usize>,
    gives_up: Option<usize>,
) -> (Result<(), ProduceError>, usize, Vec<usize>) {
    let synced = Arc::new(Mutex::new(Vec::new()));
    let mut handed = 0;
    let result = SyncPool::run(ProduceError::Io, |pool| {
        for n in 0..files {
            if gives_up == Some(n) {
                return Err(ProduceError::GaveUp);
            }
            pool.sync(FakeFile {
                n,
                fail,
                synced: Arc::clone(&synced),
            })?;
            handed += 1;
            // Give the syncing threads a chance to meet the failure before the end.
            std::thread::yield_now();
        }
        Ok(())
    });
    let mut synced = std::mem::take(&mut *synced.lock().unwrap());
    synced.sort_unstable();
    (result, handed, synced)
}

#[test]
fn every_file_handed_to_the_pool_is_synced_before_it_returns() {
    let (result, handed, synced) = sync_files(200, None, None);
    result.unwrap();
    assert_eq!(handed, 200);
    assert_eq!(synced, (0..200).collect::<Vec<_>>());
}

/// A failed fsync of one chunk is the error returned, whether the producer noticed it (and
/// stopped) or finished first.
#[test]
fn a_failed_fsync_in_the_pool_is_the_error_returned() {
    for (files, fail) in [(2000, 3), (4, 3)] {
        let (result, handed, synced) = sync_files(files, Some(fail), None);
        match result {
            Err(ProduceError::Io(e)) => {
                assert!(
                    e.to_string()
                        .contains(&format!("fsync of file {fail} failed")),
                    "{e}"
                )
            }
            other => panic!("expected the fsync failure, got {other:?}"),
        }
        assert!(!synced.contains(&fail));
        assert!(handed <= files);
    }
}

/// The producer's own failure is returned when no fsync failed.
#[test]
fn a_producer_failing_in_the_pool_is_the_error_returned() {
    let (result, handed, synced) = sync_files(100, None, Some(10));
    assert!(matches!(result, Err(ProduceError::GaveUp)), "{result:?}");
    assert_eq!(handed, 10);
    assert_eq!(
        synced,
        (0..10).collect::<Vec<_>>(),
        "what was handed over is synced"
    );
}

/// A killed export's temporary file is removed by the next one; a running process's, this
/// process's and any other file are left.
#[test]
fn stale_temporary_files_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // No process has an id above the kernel's largest (4,194,304).
    let dead = ".vigil-20260101-120000.vigil.4294967.tmp";
    let own = format!(".b.vigil.{}.tmp", std::process::id());
    let running = ".c.vigil.1.tmp";
    let other = [".notes.txt.4294967.tmp", "a.vigil", ".vigil.4294967.tmp"];
    for name in [dead, &own, running].into_iter().chain(other) {
        fs::write(dir.path().join(name), b"partial").unwrap();
    }
    assert_eq!(Pending::remove_stale(dir.path(), ".vigil").unwrap(), 1);
    assert!(!dir.path().join(dead).exists());
    for kept in [&own, running].into_iter().chain(other) {
        assert!(dir.path().join(kept).exists(), "{kept}");
    }
}

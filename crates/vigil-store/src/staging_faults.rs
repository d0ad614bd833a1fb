//! Fault injection while an attachment is staged: a chunk whose fsync fails, a chunk that does
//! not fit on a full disk. The root cause is the error returned, and no chunk file is left.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A real chunk file whose write (`full_at`) or fsync (`sync_fails_at`) fails for the n-th
/// chunk created.
struct FaultyChunk {
    file: File,
    n: usize,
    full_at: Option<usize>,
    sync_fails_at: Option<usize>,
}

impl Write for FaultyChunk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.full_at == Some(self.n) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl vigil_durable::Syncable for FaultyChunk {
    fn sync_all(&self) -> io::Result<()> {
        if self.sync_fails_at == Some(self.n) {
            return Err(io::Error::other("fsync failed: the disk went away"));
        }
        self.file.sync_all()
    }
}

/// Stages 6 chunks' worth of bytes with chunk files that fail as set; returns the result and
/// every file left in the chunk store.
fn stage_faulty(full_at: Option<usize>, sync_fails_at: Option<usize>) -> (Result<()>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let created = AtomicUsize::new(0);
    let bytes = vec![0x5a_u8; PAYLOAD_LEN * 6 - 100];
    let result = stage_with(dir.path(), &bytes[..], None, |path| {
        Ok(FaultyChunk {
            file: vigil_durable::create_private(path)?,
            n: created.fetch_add(1, Ordering::SeqCst),
            full_at,
            sync_fails_at,
        })
    })
    .map(|staged| assert_eq!(staged.size(), bytes.len() as u64));
    let left = walk(&dir.path().join(BLOB_DIR));
    (result, left)
}

fn walk(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

fn source_of(r: Result<()>) -> io::Error {
    match r {
        Err(StoreError::Io { context, source }) => {
            assert_eq!(context, "writing an attachment chunk");
            source
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn healthy_chunks_are_all_kept() {
    let (result, left) = stage_faulty(None, None);
    result.unwrap();
    assert_eq!(left, 6);
}

/// A failed fsync of a chunk (the first, one in the middle, the last) is the error returned,
/// not "syncing the files stopped"; and nothing of the attachment is left.
#[test]
fn a_failed_fsync_while_staging_is_the_error_and_leaves_nothing() {
    for at in [0, 3, 5] {
        let (result, left) = stage_faulty(None, Some(at));
        let e = source_of(result);
        assert!(
            e.to_string().contains("the disk went away"),
            "chunk {at}: {e}"
        );
        assert_eq!(left, 0, "chunk {at}: files left behind");
    }
}

/// A chunk that does not fit (a full disk) is the error returned, with its kind, and nothing
/// is left.
#[test]
fn a_full_disk_while_staging_is_the_error_and_leaves_nothing() {
    let (result, left) = stage_faulty(Some(2), None);
    // The disk's "no space left" is the error, named as the condition it is.
    assert!(matches!(result, Err(StoreError::DiskFull)), "{result:?}");
    assert_eq!(left, 0);
}

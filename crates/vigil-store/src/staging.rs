//! Staging an attachment: its bytes encrypted into chunk files of the vault's chunk store,
//! fsynced through [`vigil_durable::SyncPool`], before (and without) the vault recording them.
//! A staged attachment is recorded by `Vault::commit_attachment` or an import, or discarded.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ring::digest;
use vigil_crypto::chunk::{CHUNK_SEALED_LEN, ChunkCipher, PAYLOAD_LEN};
use vigil_crypto::{Key256, secret::random_bytes};

use crate::error::{Result, StoreError};
use crate::{BLOB_DIR, fsync_dir};

/// Called after each chunk with the bytes processed so far.
pub type AttachmentWriteProgress<'a> = &'a mut dyn FnMut(u64);

pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn blob_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(BLOB_DIR).join(&name[..2]).join(name)
}

/// An attachment whose encrypted chunks are on disk (fsynced) but not yet recorded in the
/// database. Staging needs no database access, so a long file can be added while the vault keeps
/// serving other work (the running log must never wait for a video to be copied).
#[derive(Debug)]
pub struct StagedAttachment {
    pub(crate) dir: PathBuf,
    pub(crate) key: Key256,
    pub(crate) names: Vec<String>,
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
    /// The spare files its chunks were made from (given back if it is discarded).
    pub(crate) spares: Vec<String>,
}

impl StagedAttachment {
    /// Removes the staged chunk files, and gives back the spares they were made from: a
    /// refused import leaves the chunk store as it found it.
    pub fn discard(self) {
        for name in &self.names {
            let _ = fs::remove_file(blob_path(&self.dir, name));
        }
        give_back(&self.dir, &self.spares);
    }

    /// Bytes staged.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 of the staged plaintext.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Its key and chunk file names, to record (inside the vault only).
    pub(crate) fn parts(&self) -> (&Key256, &[String]) {
        (&self.key, &self.names)
    }

    /// Whether it was staged into `dir`'s chunk store.
    pub(crate) fn is_in(&self, dir: &Path) -> bool {
        self.dir == dir
    }

    /// A second copy of the staged chunks under new names, for the same content arriving
    /// under a second attachment id: each id keeps chunks of its own, so removing one never
    /// breaks the other. On error nothing of the copy is left.
    pub(crate) fn duplicate(&self) -> Result<StagedAttachment> {
        let mut copy = StagedAttachment {
            dir: self.dir.clone(),
            key: Key256::from_bytes(*self.key.expose_bytes()),
            names: Vec::with_capacity(self.names.len()),
            size: self.size,
            sha256: self.sha256,
            spares: Vec::new(),
        };
        let mut dirs: HashSet<PathBuf> = HashSet::new();
        let mut spares = Spares::load(&self.dir);
        let copied = (|| -> Result<()> {
            let io = || StoreError::io("copying an attachment chunk");
            for name in &self.names {
                let bytes = fs::read(blob_path(&self.dir, name)).map_err(io())?;
                let new = random_name()?;
                let path = blob_path(&self.dir, &new);
                let parent = path.parent().map(PathBuf::from).unwrap_or_default();
                if !dirs.contains(&parent) {
                    crate::create_private_dir(&parent)?;
                    dirs.insert(parent);
                }
                copy.names.push(new);
                let mut f = spares.chunk_file(&path).map_err(io())?;
                f.write_all(&bytes).map_err(io())?;
                f.set_modified(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(CHUNK_MTIME_SECS),
                )
                .map_err(io())?;
                f.sync_all().map_err(io())?;
            }
            for d in &dirs {
                fsync_dir(d)?;
            }
            Ok(())
        })();
        copy.spares = spares.taken;
        match copied {
            Ok(()) => Ok(copy),
            Err(e) => {
                copy.discard();
                Err(e)
            }
        }
    }
}

/// Removes chunk files of `dir`'s chunk store by name (after the rows naming them are gone).
pub(crate) fn remove_chunks(dir: &Path, names: &[String]) {
    for name in names {
        let _ = fs::remove_file(blob_path(dir, name));
    }
}

/// Encrypts a stream into chunk files of the vault in `dir`, one chunk at a time, with a fresh
/// key; the result is recorded with [`crate::Vault::commit_attachment`]. On error nothing is left.
pub fn stage_attachment(
    dir: &Path,
    reader: impl Read,
    progress: Option<AttachmentWriteProgress<'_>>,
) -> Result<StagedAttachment> {
    let spares = std::cell::RefCell::new(Spares::load(dir));
    let staged = stage_with(dir, reader, progress, |path| {
        spares.borrow_mut().chunk_file(path)
    });
    let taken = spares.into_inner().taken;
    match staged {
        Ok(mut staged) => {
            staged.spares = taken;
            Ok(staged)
        }
        Err(e) => {
            // Its chunk files are gone already: the spares come back as they were.
            give_back(dir, &taken);
            Err(e)
        }
    }
}

/// Makes the spare files `names` again (empty, as spares are).
fn give_back(dir: &Path, names: &[String]) {
    let spare_dir = dir.join(BLOB_DIR).join(SPARE_DIR);
    for name in names {
        let path = spare_dir.join(name);
        if vigil_durable::create_private(&path).is_ok() {
            let _ = fix_mtime(&path);
        }
    }
}

/// The folder of spare chunk files, under `blobs/`.
pub(crate) const SPARE_DIR: &str = "spare";
/// Fewer spares than this at an open, and a batch of [`SPARE_BATCH`] more is made.
const SPARE_LOW: usize = 32;
const SPARE_BATCH: usize = 64;

/// Spare chunk files: empty files made in batches (when the vault is created, and at an open
/// when few are left), each of which becomes a chunk by being moved into place and written.
/// A chunk then carries its batch's inode number and birth time (which no program can set)
/// rather than the moment its attachment was added, and the chunks of one attachment are a
/// random draw from the batches: neither inode order nor birth times group them. Only an
/// attachment larger than the spares left gets fresh files for the rest.
struct Spares {
    dir: PathBuf,
    names: Vec<String>,
    /// The spares made into chunk files so far.
    taken: Vec<String>,
}

impl Spares {
    /// The spares of the vault in `dir`, in random order.
    fn load(dir: &Path) -> Spares {
        let spare_dir = dir.join(BLOB_DIR).join(SPARE_DIR);
        let mut names: Vec<String> = fs::read_dir(&spare_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        // Fisher-Yates with the system's random numbers.
        for i in (1..names.len()).rev() {
            let mut b = [0u8; 8];
            if random_bytes(&mut b).is_err() {
                break;
            }
            let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
            names.swap(i, j);
        }
        Spares {
            dir: spare_dir,
            names,
            taken: Vec::new(),
        }
    }

    /// A new chunk file at `path`: a spare moved there, or a new file when none is left.
    fn chunk_file(&mut self, path: &Path) -> std::io::Result<fs::File> {
        while let Some(name) = self.names.pop() {
            match fs::rename(self.dir.join(&name), path) {
                Ok(()) => {
                    self.taken.push(name);
                    return fs::File::options().write(true).truncate(true).open(path);
                }
                // Taken meanwhile by another staging: the next one.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => break,
            }
        }
        vigil_durable::create_private(path)
    }
}

/// Makes a batch of spare chunk files when fewer than [`SPARE_LOW`] are left. Best effort: a
/// vault on a full or read-only disk still opens (its next chunks are then new files).
pub(crate) fn refill_spares(dir: &Path) {
    let spare_dir = dir.join(BLOB_DIR).join(SPARE_DIR);
    let have = fs::read_dir(&spare_dir).map(|d| d.count()).unwrap_or(0);
    if have >= SPARE_LOW {
        return;
    }
    let made = (|| -> Result<()> {
        crate::create_private_dir(&spare_dir)?;
        for _ in 0..SPARE_BATCH {
            let path = spare_dir.join(random_name()?);
            vigil_durable::create_private(&path).map_err(StoreError::io("making a spare chunk"))?;
            fix_mtime(&path)?;
        }
        fsync_dir(&spare_dir)
    })();
    if let Err(e) = made {
        tracing::warn!("no spare chunk files made: {e}");
    }
}

/// [`stage_attachment`], creating each chunk file with `create` (tests make files whose write
/// or fsync fails). Chunk files are fsynced by a [`vigil_durable::SyncPool`] while the next
/// ones are encrypted; the error returned is the root cause.
fn stage_with<F: Write + vigil_durable::Syncable>(
    dir: &Path,
    mut reader: impl Read,
    mut progress: Option<AttachmentWriteProgress<'_>>,
    create: impl Fn(&Path) -> std::io::Result<F>,
) -> Result<StagedAttachment> {
    let key = Key256::generate()?;
    let cipher = ChunkCipher::new(&key)?;
    let mut hasher = digest::Context::new(&digest::SHA256);
    let mut size: u64 = 0;
    let mut names: Vec<String> = Vec::new();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    let mut plain = vec![0u8; PAYLOAD_LEN];
    let mut next = vec![0u8; PAYLOAD_LEN];
    let mut sealed = Vec::with_capacity(CHUNK_SEALED_LEN);
    let written = vigil_durable::SyncPool::run(
        |e| StoreError::io("writing an attachment chunk")(e),
        |pool| -> Result<()> {
            // Read one chunk ahead so the last chunk can be marked as last.
            let mut n = read_full(&mut reader, &mut plain)
                .map_err(StoreError::io("reading the file to attach"))?;
            loop {
                let m = if n == PAYLOAD_LEN {
                    read_full(&mut reader, &mut next)
                        .map_err(StoreError::io("reading the file to attach"))?
                } else {
                    0
                };
                let last = m == 0;
                hasher.update(&plain[..n]);
                size += n as u64;
                cipher.seal(names.len() as u64, last, &plain[..n], &mut sealed)?;
                let name = random_name()?;
                let path = blob_path(dir, &name);
                let parent = path.parent().map(PathBuf::from).unwrap_or_default();
                if !dirs.contains(&parent) {
                    crate::create_private_dir(&parent)?;
                    dirs.insert(parent);
                }
                names.push(name);
                let mut f = create(&path).map_err(StoreError::io("writing an attachment chunk"))?;
                f.write_all(&sealed)
                    .map_err(StoreError::io("writing an attachment chunk"))?;
                pool.sync(f)
                    .map_err(StoreError::io("writing an attachment chunk"))?;
                if let Some(p) = progress.as_mut() {
                    p(size);
                }
                if last {
                    break;
                }
                std::mem::swap(&mut plain, &mut next);
                n = m;
            }
            Ok(())
        },
    )
    .and_then(|()| {
        for name in &names {
            fix_mtime(&blob_path(dir, name))?;
        }
        for d in &dirs {
            fsync_dir(d)?;
        }
        fsync_dir(&dir.join(BLOB_DIR))
    });
    let mut sha = [0u8; 32];
    sha.copy_from_slice(hasher.finish().as_ref());
    let staged = StagedAttachment {
        dir: dir.to_path_buf(),
        key,
        names,
        size,
        sha256: sha,
        spares: Vec::new(),
    };
    match written {
        Ok(()) => Ok(staged),
        Err(e) => {
            staged.discard();
            Err(e)
        }
    }
}

/// The one modification time every chunk file gets (2000-01-01 00:00 UTC), so that the
/// folder's listing tells neither when an attachment was added nor which chunks were written
/// together.
pub const CHUNK_MTIME_SECS: u64 = 946_684_800;

/// Gives a chunk file the fixed modification time ([`CHUNK_MTIME_SECS`]).
pub(crate) fn fix_mtime(path: &Path) -> Result<()> {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(CHUNK_MTIME_SECS);
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .map_err(StoreError::io("setting a chunk's time"))
}

/// Sets every chunk file's modification time again (and so its change time to now, the same
/// for all of them).
pub(crate) fn retouch_all(dir: &Path) -> Result<()> {
    let Ok(shards) = fs::read_dir(dir.join(BLOB_DIR)) else {
        return Ok(());
    };
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(CHUNK_MTIME_SECS);
    let _ = fs::File::open(dir.join(BLOB_DIR)).and_then(|d| d.set_modified(when));
    for shard in shards.flatten() {
        // The folders' own times too: a shard's says when a chunk last arrived in it.
        let _ = fs::File::open(shard.path()).and_then(|d| d.set_modified(when));
        let Ok(files) = fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.flatten() {
            // A chunk swept meanwhile is simply gone.
            match fix_mtime(&f.path()) {
                Ok(()) => {}
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn random_name() -> Result<String> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(hex::encode(b))
}

#[cfg(test)]
#[path = "staging_faults.rs"]
mod staging_faults;

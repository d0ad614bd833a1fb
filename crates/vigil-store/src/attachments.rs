//! Attachments: streamed in and out in fixed-size encrypted chunks.
//!
//! Adding: a fresh random key for the attachment; read at most one chunk payload at a time,
//! hash it (SHA-256 of the original), seal it ([`vigil_crypto::chunk`]) and write it to a new
//! file with a random name under `blobs/`, fsynced. When every chunk is on disk the folders are
//! fsynced and one database transaction records the attachment, its key and its chunk list. A
//! crash before that commit leaves only unreferenced chunk files, which the next open removes.
//!
//! Reading: chunks are opened in order; the running SHA-256 and length must equal what was
//! recorded, so a removed, swapped, altered or truncated chunk is always detected. Memory use is
//! one chunk, whatever the attachment's size.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use ring::digest;
use rusqlite::{OptionalExtension, params};
use vigil_crypto::chunk::{CHUNK_SEALED_LEN, ChunkCipher, PAYLOAD_LEN};
use vigil_crypto::{Key256, secret::random_bytes};
use vigil_model::{AttachmentId, AttachmentMeta, IncidentId, Sha256};

use crate::error::{Result, StoreError};
use crate::{BLOB_DIR, Vault, fsync_dir, uuid_from};

/// Called after each chunk with the bytes processed so far.
pub type AttachmentWriteProgress<'a> = &'a mut dyn FnMut(u64);

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

impl Vault {
    fn blob_path(&self, name: &str) -> PathBuf {
        self.dir.join(BLOB_DIR).join(&name[..2]).join(name)
    }

    /// Adds an attachment from a stream. The stream is read once, one chunk at a time.
    pub fn add_attachment(
        &mut self,
        incident: IncidentId,
        original_name: &str,
        media_type: &str,
        mut reader: impl Read,
        progress: Option<AttachmentWriteProgress<'_>>,
    ) -> Result<AttachmentMeta> {
        self.incident(incident)?;
        let key = Key256::generate()?;
        let cipher = ChunkCipher::new(&key)?;
        let mut hasher = digest::Context::new(&digest::SHA256);
        let mut size: u64 = 0;
        let mut names: Vec<String> = Vec::new();
        let mut dirs: HashSet<PathBuf> = HashSet::new();
        let mut plain = vec![0u8; PAYLOAD_LEN];
        let mut sealed = Vec::with_capacity(CHUNK_SEALED_LEN);
        let mut progress = progress;
        // Read one chunk ahead so the last chunk can be marked as last.
        let mut n = read_full(&mut reader, &mut plain)
            .map_err(StoreError::io("reading the file to attach"))?;
        let mut next = vec![0u8; PAYLOAD_LEN];
        let result = (|| -> Result<()> {
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
                let path = self.blob_path(&name);
                let dir = path.parent().map(PathBuf::from).unwrap_or_default();
                if !dirs.contains(&dir) {
                    crate::create_private_dir(&dir)?;
                    dirs.insert(dir);
                }
                names.push(name);
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(StoreError::io("writing an attachment chunk"))?;
                f.write_all(&sealed)
                    .map_err(StoreError::io("writing an attachment chunk"))?;
                f.sync_all()
                    .map_err(StoreError::io("writing an attachment chunk"))?;
                if let Some(p) = progress.as_mut() {
                    p(size);
                }
                if last {
                    return Ok(());
                }
                std::mem::swap(&mut plain, &mut next);
                n = m;
            }
        })();
        let commit = result.and_then(|()| {
            for d in &dirs {
                fsync_dir(d)?;
            }
            fsync_dir(&self.dir.join(BLOB_DIR))?;
            let sha = hasher.finish();
            let mut sha_bytes = [0u8; 32];
            sha_bytes.copy_from_slice(sha.as_ref());
            let meta = AttachmentMeta {
                id: AttachmentId::new(),
                incident,
                original_name: original_name.to_owned(),
                media_type: media_type.to_owned(),
                size,
                sha256: Sha256(sha_bytes),
                added_at: self.clock.now(),
            };
            meta.validate()?;
            let tx = self.conn.transaction()?;
            tx.execute(
                "INSERT INTO attachments (id, incident_id, original_name, media_type, size, sha256, added_at, file_key, chunk_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    meta.id.as_uuid().as_bytes().as_slice(),
                    incident.as_uuid().as_bytes().as_slice(),
                    meta.original_name,
                    meta.media_type,
                    size as i64,
                    sha_bytes.as_slice(),
                    meta.added_at.to_rfc3339(),
                    key.expose_bytes().as_slice(),
                    names.len() as i64,
                ],
            )?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO attachment_chunks (attachment_id, idx, blob) VALUES (?1, ?2, ?3)",
                )?;
                for (i, name) in names.iter().enumerate() {
                    stmt.execute(params![meta.id.as_uuid().as_bytes().as_slice(), i as i64, name])?;
                }
            }
            tx.commit()?;
            Ok(meta)
        });
        if commit.is_err() {
            for name in &names {
                let _ = fs::remove_file(self.blob_path(name));
            }
        }
        commit
    }

    /// Attachments of an incident, oldest first.
    pub fn attachments(&self, incident: IncidentId) -> Result<Vec<AttachmentMeta>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM attachments WHERE incident_id = ?1 ORDER BY added_at, id",
        )?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([incident.as_uuid().as_bytes().as_slice()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter()
            .map(|id| Ok(self.attachment(AttachmentId::from_uuid(uuid_from(id)?))?.0))
            .collect()
    }

    fn attachment(&self, id: AttachmentId) -> Result<(AttachmentMeta, Key256, u64)> {
        let row = self
            .conn
            .query_row(
                "SELECT incident_id, original_name, media_type, size, sha256, added_at, file_key, chunk_count
                 FROM attachments WHERE id = ?1",
                [id.as_uuid().as_bytes().as_slice()],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, String>(5)?,
                        zeroize::Zeroizing::new(r.get::<_, Vec<u8>>(6)?),
                        r.get::<_, i64>(7)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "attachment",
                id: id.to_string(),
            })?;
        let (incident, name, media, size, sha, added, key, chunks) = row;
        let corrupted = |d: &str| StoreError::Corrupted {
            detail: d.to_owned(),
        };
        let sha: [u8; 32] = sha
            .as_slice()
            .try_into()
            .map_err(|_| corrupted("attachment hash"))?;
        let key = Key256::from_slice(&key).ok_or_else(|| corrupted("attachment key"))?;
        let meta = AttachmentMeta {
            id,
            incident: IncidentId::from_uuid(uuid_from(&incident)?),
            original_name: name,
            media_type: media,
            size: size as u64,
            sha256: Sha256(sha),
            added_at: chrono::DateTime::parse_from_rfc3339(&added)
                .map_err(|_| corrupted("attachment time"))?,
        };
        Ok((meta, key, chunks as u64))
    }

    /// Looks up an attachment's description.
    pub fn attachment_meta(&self, id: AttachmentId) -> Result<AttachmentMeta> {
        Ok(self.attachment(id)?.0)
    }

    /// Decrypts an attachment into `out`, one chunk at a time, and checks its length and
    /// SHA-256 against the record. On [`StoreError::TamperedAttachment`] the caller must discard
    /// what was written.
    pub fn read_attachment(
        &self,
        id: AttachmentId,
        out: &mut impl Write,
    ) -> Result<AttachmentMeta> {
        let (meta, key, chunk_count) = self.attachment(id)?;
        let cipher = ChunkCipher::new(&key)?;
        let tampered = || StoreError::TamperedAttachment { id: id.to_string() };
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, blob FROM attachment_chunks WHERE attachment_id = ?1 ORDER BY idx",
        )?;
        let names: Vec<(i64, String)> = stmt
            .query_map([id.as_uuid().as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if names.len() as u64 != chunk_count {
            return Err(tampered());
        }
        let mut hasher = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK_SEALED_LEN];
        for (i, (idx, name)) in names.iter().enumerate() {
            if *idx != i as i64 {
                return Err(tampered());
            }
            let mut f = File::open(self.blob_path(name)).map_err(|_| tampered())?;
            let n = read_full(&mut f, &mut buf)
                .map_err(StoreError::io("reading an attachment chunk"))?;
            let mut extra = [0u8; 1];
            if n != CHUNK_SEALED_LEN
                || f.read(&mut extra)
                    .map_err(StoreError::io("reading an attachment chunk"))?
                    != 0
            {
                return Err(tampered());
            }
            let last = i + 1 == names.len();
            let payload = cipher
                .open(i as u64, last, &mut buf)
                .map_err(|_| tampered())?;
            hasher.update(payload);
            size += payload.len() as u64;
            out.write_all(payload)
                .map_err(StoreError::io("writing the attachment"))?;
        }
        if size != meta.size || hasher.finish().as_ref() != meta.sha256.0.as_slice() {
            return Err(tampered());
        }
        Ok(meta)
    }

    /// Removes chunk files that no attachment refers to (left by a crash before commit).
    pub(crate) fn sweep_orphan_chunks(&mut self) -> Result<()> {
        let root = self.dir.join(BLOB_DIR);
        let Ok(fanout) = fs::read_dir(&root) else {
            return Ok(());
        };
        let mut on_disk = Vec::new();
        for d in fanout.flatten() {
            if let Ok(files) = fs::read_dir(d.path()) {
                for f in files.flatten() {
                    if let Some(n) = f.file_name().to_str() {
                        on_disk.push(n.to_owned());
                    }
                }
            }
        }
        if on_disk.is_empty() {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM attachment_chunks WHERE blob = ?1")?;
        for name in on_disk {
            if !stmt.exists([&name])? && name.len() >= 2 {
                let _ = fs::remove_file(self.blob_path(&name));
            }
        }
        Ok(())
    }
}

fn random_name() -> Result<String> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(hex::encode(b))
}

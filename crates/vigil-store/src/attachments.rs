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

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ring::digest;
use rusqlite::{OptionalExtension, params};
use vigil_crypto::Key256;
use vigil_crypto::chunk::{CHUNK_SEALED_LEN, ChunkCipher};
use vigil_model::{AttachmentId, AttachmentMeta, IncidentId, Sha256};

use crate::error::{Result, StoreError};
use crate::staging::{
    AttachmentWriteProgress, StagedAttachment, blob_path, read_full, stage_attachment,
};
use crate::{BLOB_DIR, Vault, uuid_from};

impl Vault {
    fn blob_path(&self, name: &str) -> PathBuf {
        blob_path(&self.dir, name)
    }

    /// Adds an attachment from a stream: [`stage_attachment`] then
    /// [`Vault::commit_attachment`]. The stream is read once, one chunk at a time.
    pub fn add_attachment(
        &mut self,
        incident: IncidentId,
        original_name: &str,
        media_type: &str,
        reader: impl Read,
        progress: Option<AttachmentWriteProgress<'_>>,
    ) -> Result<AttachmentMeta> {
        self.incident(incident)?;
        let staged = stage_attachment(&self.dir, reader, progress)?;
        self.commit_attachment(incident, original_name, media_type, staged)
    }

    /// Records staged chunks as an attachment of `incident`, in one transaction. On failure the
    /// staged chunk files are removed.
    pub fn commit_attachment(
        &mut self,
        incident: IncidentId,
        original_name: &str,
        media_type: &str,
        staged: StagedAttachment,
    ) -> Result<AttachmentMeta> {
        let result = self.commit_inner(incident, original_name, media_type, &staged);
        if result.is_err() {
            staged.discard();
        }
        result
    }

    fn commit_inner(
        &mut self,
        incident: IncidentId,
        original_name: &str,
        media_type: &str,
        staged: &StagedAttachment,
    ) -> Result<AttachmentMeta> {
        if staged.dir != self.dir {
            return Err(StoreError::Corrupted {
                detail: "attachment staged for another vault".into(),
            });
        }
        // A lock and unlock while staging sweeps unreferenced chunks: make sure none is gone.
        for name in &staged.names {
            if !blob_path(&self.dir, name).exists() {
                return Err(StoreError::Io {
                    context: "adding the attachment".into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "its encrypted chunks were removed while it was being added; add it again",
                    ),
                });
            }
        }
        let meta = AttachmentMeta {
            id: AttachmentId::new(),
            incident,
            original_name: original_name.to_owned(),
            media_type: media_type.to_owned(),
            size: staged.size,
            sha256: Sha256(staged.sha256),
            added_at: self.clock.now(),
        };
        meta.validate()?;
        let tx = self.conn.transaction()?;
        write_rows(
            &tx,
            meta.id,
            incident,
            &meta.original_name,
            &meta.media_type,
            staged,
            &meta.added_at,
        )?;
        tx.commit()?;
        Ok(meta)
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
        let mut reader = self.attachment_reader(id)?;
        let meta = reader.meta().clone();
        std::io::copy(&mut reader, out).map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<StoreError>())
            {
                Some(StoreError::TamperedAttachment { id }) => {
                    StoreError::TamperedAttachment { id: id.clone() }
                }
                _ => StoreError::Io {
                    context: "writing the attachment".into(),
                    source: e,
                },
            }
        })?;
        Ok(meta)
    }

    /// A reader over an attachment's plaintext, decrypting one chunk at a time; the length and
    /// SHA-256 are checked when the last byte has been read (a failure is an `io::Error` whose
    /// inner error is [`StoreError::TamperedAttachment`]). Holds no borrow of the vault.
    pub fn attachment_reader(&self, id: AttachmentId) -> Result<AttachmentReader> {
        let freed: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT freed_at FROM attachments WHERE id = ?1",
                [id.as_uuid().as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(Some(_)) = freed {
            return Err(StoreError::AttachmentFreed { id: id.to_string() });
        }
        if let Some(e) = self.incomplete(id)? {
            return Err(e);
        }
        let (meta, key, chunk_count) = self.attachment(id)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, blob FROM attachment_chunks WHERE attachment_id = ?1 ORDER BY idx",
        )?;
        let names: Vec<(i64, String)> = stmt
            .query_map([id.as_uuid().as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let tampered = || StoreError::TamperedAttachment { id: id.to_string() };
        if names.len() as u64 != chunk_count
            || names
                .iter()
                .enumerate()
                .any(|(i, (idx, _))| *idx != i as i64)
        {
            return Err(tampered());
        }
        AttachmentReader::over(
            &self.dir,
            &key,
            names.into_iter().map(|(_, n)| n).collect(),
            meta,
        )
    }

    /// A reader over a copy the vault keeps in its chunk store besides attachments (a
    /// quarantined bundle, a staged upload): `row_sql` selects its key, SHA-256, size and chunk
    /// count by id, `chunks_sql` its chunk names in order; `what` names it in errors.
    pub(crate) fn stored_copy_reader(
        &self,
        id: uuid::Uuid,
        what: &'static str,
        row_sql: &str,
        chunks_sql: &str,
    ) -> Result<AttachmentReader> {
        self.stored_copy_reader_by(id, what, row_sql, chunks_sql, [id.as_bytes().as_slice()])
    }

    /// [`Self::stored_copy_reader`] of a copy its SQL finds by `key` (`id` names it).
    pub(crate) fn stored_copy_reader_by<P: rusqlite::Params + Copy>(
        &self,
        id: uuid::Uuid,
        what: &'static str,
        row_sql: &str,
        chunks_sql: &str,
        key_of: P,
    ) -> Result<AttachmentReader> {
        let row: Option<(Vec<u8>, Vec<u8>, i64, i64)> = self
            .conn
            .query_row(row_sql, key_of, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (key, sha, size, count) = row.ok_or_else(|| StoreError::NotFound {
            what,
            id: id.to_string(),
        })?;
        let corrupted = |d: &str| StoreError::Corrupted {
            detail: format!("{what}: {d}"),
        };
        let key = Key256::from_slice(&zeroize::Zeroizing::new(key))
            .ok_or_else(|| corrupted("its key"))?;
        let names = self
            .conn
            .prepare_cached(chunks_sql)?
            .query_map(key_of, |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if names.len() as i64 != count {
            return Err(StoreError::TamperedAttachment { id: id.to_string() });
        }
        let meta = AttachmentMeta {
            id: AttachmentId::from_uuid(id),
            incident: IncidentId::from_uuid(uuid::Uuid::nil()),
            original_name: what.into(),
            media_type: "application/octet-stream".into(),
            size: size as u64,
            sha256: Sha256(
                sha.as_slice()
                    .try_into()
                    .map_err(|_| corrupted("its hash"))?,
            ),
            added_at: self.clock.now(),
        };
        AttachmentReader::over(&self.dir, &key, names, meta)
    }

    /// Removes chunk files that no attachment refers to (left by a crash before commit).
    pub(crate) fn sweep_orphan_chunks(&mut self) -> Result<()> {
        let root = self.dir.join(BLOB_DIR);
        let Ok(fanout) = fs::read_dir(&root) else {
            return Ok(());
        };
        let mut on_disk = Vec::new();
        for d in fanout.flatten() {
            // Spare chunk files are no chunks yet (see `staging`).
            if d.file_name() == crate::staging::SPARE_DIR {
                continue;
            }
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
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM attachment_chunks WHERE blob = ?1
             UNION ALL SELECT 1 FROM quarantine_chunks WHERE blob = ?1
             UNION ALL SELECT 1 FROM sync_blob_chunks WHERE blob = ?1
             UNION ALL SELECT 1 FROM part_chunks WHERE blob = ?1",
        )?;
        for name in on_disk {
            // Only names of the form Vigil gives chunks (32 hex digits) are its own: anything
            // else found there (a file someone put in the folder, whatever its name) is left
            // alone, and never makes opening fail.
            let ours = name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if ours && !stmt.exists([&name])? {
                let _ = fs::remove_file(self.blob_path(&name));
            }
        }
        Ok(())
    }
}

/// Streams an attachment's plaintext out of its encrypted chunks (see
/// [`Vault::attachment_reader`]).
pub struct AttachmentReader {
    paths: Vec<PathBuf>,
    cipher: ChunkCipher,
    meta: AttachmentMeta,
    next: usize,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    hasher: Option<digest::Context>,
    verified: Option<[u8; 32]>,
    seen: u64,
}

impl std::fmt::Debug for AttachmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentReader")
            .field("attachment", &self.meta.id)
            .field("chunk", &self.next)
            .finish_non_exhaustive()
    }
}

impl AttachmentReader {
    /// A reader over the chunk files `names` (in order) of `dir`'s chunk store, sealed under
    /// `key`, whose plaintext must be `meta.size` bytes with SHA-256 `meta.sha256`.
    pub(crate) fn over(
        dir: &Path,
        key: &Key256,
        names: Vec<String>,
        meta: AttachmentMeta,
    ) -> Result<AttachmentReader> {
        Ok(AttachmentReader {
            paths: names.iter().map(|n| blob_path(dir, n)).collect(),
            cipher: ChunkCipher::new(key)?,
            meta,
            next: 0,
            buf: vec![0u8; CHUNK_SEALED_LEN],
            start: 0,
            end: 0,
            hasher: Some(digest::Context::new(&digest::SHA256)),
            verified: None,
            seen: 0,
        })
    }

    /// The attachment being read.
    pub fn meta(&self) -> &AttachmentMeta {
        &self.meta
    }

    fn fail(&self) -> std::io::Error {
        std::io::Error::other(StoreError::TamperedAttachment {
            id: self.meta.id.to_string(),
        })
    }

    /// The SHA-256 of every byte read, once `read` has returned the end (`Ok(0)`) and the bytes
    /// matched the vault's record of size and hash; `None` before that.
    ///
    /// A consumer that needs the hash of what it read (the bundle writer does) can take it
    /// from here instead of hashing the same bytes a second time.
    pub fn verified_sha256(&self) -> Option<[u8; 32]> {
        self.verified
    }

    /// Reads without recomputing the SHA-256 of the bytes, for a consumer that hashes them again
    /// downstream anyway (an export reads its whole bundle back and hashes every entry).
    ///
    /// Every chunk is still authenticated as it is decrypted: AES-256-GCM under a key that
    /// belongs to this attachment alone, with the chunk's place and the last-chunk flag in the
    /// nonce, and the chunk count and total size are checked. So the bytes read are exactly those
    /// encrypted when the attachment was added, in the same pass that computed its recorded
    /// hash; [`verified_sha256`](Self::verified_sha256) gives that recorded hash once the end
    /// is reached. Hashing 1 GiB costs about 0.6 s of a core here; this is that saving.
    pub fn authenticated_only(mut self) -> Self {
        self.hasher = None;
        self
    }

    /// Reads from byte `offset` on (a resumed upload): the chunks before it are not opened,
    /// so the whole's SHA-256 is not recomputed ([`authenticated_only`](Self::authenticated_only));
    /// each chunk read is still authenticated, and the size checked at the end.
    pub fn from_offset(mut self, offset: u64) -> std::io::Result<Self> {
        self.hasher = None;
        if offset > self.meta.size {
            return Err(self.fail());
        }
        let payload = vigil_crypto::chunk::PAYLOAD_LEN as u64;
        let skip = (offset / payload).min(self.paths.len() as u64);
        self.next = skip as usize;
        self.seen = skip * payload;
        let mut rest = offset - self.seen;
        let mut sink = [0u8; 4096];
        while rest > 0 {
            let n = self.read(&mut sink[..rest.min(4096) as usize])?;
            if n == 0 {
                return Err(self.fail());
            }
            rest -= n as u64;
        }
        Ok(self)
    }

    /// Decrypts the next chunk into the buffer; false at the end (after the final checks).
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.next == self.paths.len() {
            if self.verified.is_none() {
                if self.seen != self.meta.size {
                    return Err(self.fail());
                }
                let sha = match self.hasher.take() {
                    Some(h) => {
                        let d: [u8; 32] =
                            h.finish().as_ref().try_into().map_err(|_| self.fail())?;
                        if d != self.meta.sha256.0 {
                            return Err(self.fail());
                        }
                        d
                    }
                    // Authenticated chunks only (see `authenticated_only`).
                    None => self.meta.sha256.0,
                };
                self.verified = Some(sha);
            }
            return Ok(false);
        }
        let mut f = File::open(&self.paths[self.next]).map_err(|_| self.fail())?;
        let n = read_full(&mut f, &mut self.buf)?;
        let mut extra = [0u8; 1];
        if n != CHUNK_SEALED_LEN || f.read(&mut extra)? != 0 {
            return Err(self.fail());
        }
        let last = self.next + 1 == self.paths.len();
        let index = self.next as u64;
        let len = match self.cipher.open(index, last, &mut self.buf) {
            Ok(p) => p.len(),
            Err(_) => return Err(self.fail()),
        };
        // The payload sits after the 4-byte length field.
        self.start = 4;
        self.end = 4 + len;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&self.buf[self.start..self.end]);
        }
        self.seen += len as u64;
        self.next += 1;
        Ok(true)
    }
}

impl Read for AttachmentReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.start == self.end {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// Records a staged attachment under a known id (an import), inside the caller's transaction.
pub(crate) fn insert_staged(
    tx: &rusqlite::Transaction<'_>,
    aref: &crate::AttachmentRef,
    incident: IncidentId,
    staged: &StagedAttachment,
    now: &chrono::DateTime<chrono::FixedOffset>,
) -> Result<()> {
    write_rows(
        tx,
        aref.id,
        incident,
        &aref.original_name,
        &aref.media_type,
        staged,
        now,
    )
}

/// The attachment's row and its chunk list, inside the caller's transaction.
fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    id: AttachmentId,
    incident: IncidentId,
    original_name: &str,
    media_type: &str,
    staged: &StagedAttachment,
    added_at: &chrono::DateTime<chrono::FixedOffset>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO attachments (id, incident_id, original_name, media_type, size, sha256, added_at, file_key, chunk_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id.as_uuid().as_bytes().as_slice(),
            incident.as_uuid().as_bytes().as_slice(),
            original_name,
            media_type,
            staged.size as i64,
            staged.sha256.as_slice(),
            added_at.to_rfc3339(),
            staged.key.expose_bytes().as_slice(),
            staged.names.len() as i64,
        ],
    )?;
    insert_chunk_rows(tx, id.as_uuid().as_bytes(), &staged.names)
}

/// The chunk list of attachment `id` (its bytes), in order.
pub(crate) fn insert_chunk_rows(
    conn: &rusqlite::Connection,
    id: &[u8],
    names: &[String],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO attachment_chunks (attachment_id, idx, blob) VALUES (?1, ?2, ?3)",
    )?;
    for (i, name) in names.iter().enumerate() {
        stmt.execute(params![id, i as i64, name])?;
    }
    Ok(())
}

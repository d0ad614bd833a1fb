//! Attachments on their way to the server (schema 7).
//!
//! An item carries revisions; the attachments they name go apart, by the server's resumable
//! upload, each under its own id. An attachment is queued with the first item whose revisions
//! name it, and that item (and every later one) waits until the attachment's receipt has been
//! checked: HQ never meets a revision whose file it cannot fetch.
//!
//! Before its upload starts, the attachment is encrypted to HQ (age) and that ciphertext is
//! staged into the chunk store, under the vault's own encryption like every chunk, and
//! recorded here with its size and SHA-256. A resumed upload, after a cut connection or a
//! killed process, sends the same bytes from where the server stopped. The checked receipt
//! replaces the staged copy (its chunks are removed) and goes in the custody log.

use rusqlite::{OptionalExtension, params};
use vigil_ledger::custody::CustodyKind;
use vigil_model::AttachmentId;

use crate::Vault;
use crate::attachments::AttachmentReader;
use crate::custody::append_custody;
use crate::error::{Result, StoreError};
use crate::staging::{StagedAttachment, blob_path, remove_chunks};

/// The ciphertext staged for an attachment's upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedBlob {
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256 (what the server checks the whole upload against).
    pub sha256: [u8; 32],
}

/// An attachment queued for the server, without a checked receipt yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingBlob {
    /// The attachment (and the upload's id).
    pub attachment: AttachmentId,
    /// The first item that waits for it.
    pub item: u64,
    /// The attachment's own size.
    pub plain_size: u64,
    /// Its staged ciphertext, once prepared.
    pub prepared: Option<PreparedBlob>,
}

fn corrupted(detail: &str) -> StoreError {
    StoreError::Corrupted {
        detail: detail.to_owned(),
    }
}

/// Queues attachments with the item `seq` (those already queued keep their first item).
pub(crate) fn queue_blobs(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    blobs: &[AttachmentId],
    now: &str,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO sync_blobs (attachment, item, queued_at) VALUES (?1, ?2, ?3)",
    )?;
    for a in blobs {
        stmt.execute(params![a.as_uuid().as_bytes().as_slice(), seq, now])?;
    }
    Ok(())
}

impl Vault {
    /// Attachments queued and not yet receipted, in the order of the items waiting for them.
    pub fn sync_blobs_pending(&self) -> Result<Vec<PendingBlob>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.attachment, b.item, COALESCE(a.size, 0), b.size, b.sha256
             FROM sync_blobs b LEFT JOIN attachments a ON a.id = b.attachment
             WHERE b.receipt IS NULL ORDER BY b.item, b.queued_at, b.attachment",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, item, plain, size, sha)| {
                let prepared = match (size, sha) {
                    (Some(size), Some(sha)) => Some(PreparedBlob {
                        size: size as u64,
                        sha256: sha
                            .try_into()
                            .map_err(|_| corrupted("a queued attachment's hash is malformed"))?,
                    }),
                    _ => None,
                };
                Ok(PendingBlob {
                    attachment: AttachmentId::from_uuid(crate::uuid_from(&id)?),
                    item: item as u64,
                    plain_size: plain as u64,
                    prepared,
                })
            })
            .collect()
    }

    /// Records the staged ciphertext of a queued attachment's upload. If one was recorded
    /// already (another pass got there first), that one stays and `staged` is removed. On an
    /// error `staged` is removed.
    pub fn sync_blob_prepared(
        &mut self,
        attachment: AttachmentId,
        staged: StagedAttachment,
    ) -> Result<PreparedBlob> {
        let result = self.record_prepared(attachment, &staged);
        match &result {
            Ok((_, true)) => {}
            _ => staged.discard(),
        }
        result.map(|(p, _)| p)
    }

    fn record_prepared(
        &mut self,
        attachment: AttachmentId,
        staged: &StagedAttachment,
    ) -> Result<(PreparedBlob, bool)> {
        if !staged.is_in(&self.dir) {
            return Err(corrupted("a sync upload staged for another vault"));
        }
        let id = attachment.as_uuid().as_bytes().to_vec();
        let tx = self.conn.transaction()?;
        let row: Option<(Option<i64>, Option<Vec<u8>>)> = tx
            .query_row(
                "SELECT size, sha256 FROM sync_blobs WHERE attachment = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => {
                return Err(StoreError::NotFound {
                    what: "queued attachment",
                    id: attachment.to_string(),
                });
            }
            Some((Some(size), Some(sha))) => {
                let sha256 = sha
                    .try_into()
                    .map_err(|_| corrupted("a queued attachment's hash is malformed"))?;
                return Ok((
                    PreparedBlob {
                        size: size as u64,
                        sha256,
                    },
                    false,
                ));
            }
            Some(_) => {}
        }
        // A lock and unlock while staging sweeps unreferenced chunks: make sure none is gone.
        let (key, names) = staged.parts();
        if names.iter().any(|n| !blob_path(&self.dir, n).exists()) {
            return Err(StoreError::Io {
                context: "preparing an upload".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "its encrypted chunks were removed while it was being prepared",
                ),
            });
        }
        tx.execute(
            "UPDATE sync_blobs SET size = ?2, sha256 = ?3, file_key = ?4, chunk_count = ?5,
                                   prepared_at = ?6
             WHERE attachment = ?1",
            params![
                &id,
                staged.size() as i64,
                staged.sha256().as_slice(),
                key.expose_bytes().as_slice(),
                names.len() as i64,
                self.clock.now().to_rfc3339(),
            ],
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sync_blob_chunks (attachment, idx, blob) VALUES (?1, ?2, ?3)",
            )?;
            for (i, name) in names.iter().enumerate() {
                stmt.execute(params![&id, i as i64, name])?;
            }
        }
        tx.commit()?;
        Ok((
            PreparedBlob {
                size: staged.size(),
                sha256: staged.sha256(),
            },
            true,
        ))
    }

    /// Every attachment's upload prepared here, and the SHA-256 of its ciphertext (hex), in
    /// the order they were queued.
    pub fn sync_blob_digests(&self) -> Result<Vec<(String, String)>> {
        crate::rows::id_digests(
            &self.conn,
            "SELECT attachment, sha256 FROM sync_blobs WHERE sha256 IS NOT NULL
             ORDER BY item, queued_at, attachment",
        )
    }

    /// A reader over a queued attachment's staged ciphertext (each chunk authenticated as it
    /// is read; the size and SHA-256 checked at the end of a whole read).
    pub fn sync_blob_reader(&self, attachment: AttachmentId) -> Result<AttachmentReader> {
        self.stored_copy_reader(
            *attachment.as_uuid(),
            "prepared upload",
            "SELECT file_key, sha256, size, chunk_count FROM sync_blobs
             WHERE attachment = ?1 AND file_key IS NOT NULL",
            "SELECT blob FROM sync_blob_chunks WHERE attachment = ?1 ORDER BY idx",
        )
    }

    /// Records the server's receipt for an attachment (already checked against the
    /// organisation's receipt key by the caller): one `server_receipt` custody event keeps it,
    /// and the staged ciphertext goes. False if it was receipted already.
    pub fn sync_blob_record_receipt(
        &mut self,
        attachment: AttachmentId,
        receipt: &[u8],
    ) -> Result<bool> {
        let now = self.clock.now();
        let value: serde_json::Value = serde_json::from_slice(receipt)
            .map_err(|e| corrupted(&format!("a receipt to keep is not JSON: {e}")))?;
        let id = attachment.as_uuid().as_bytes().to_vec();
        let tx = self.conn.transaction()?;
        let open: Option<bool> = tx
            .query_row(
                "SELECT receipt IS NULL FROM sync_blobs WHERE attachment = ?1",
                [&id],
                |r| r.get(0),
            )
            .optional()?;
        if open != Some(true) {
            return Ok(false);
        }
        let names = tx
            .prepare_cached("SELECT blob FROM sync_blob_chunks WHERE attachment = ?1")?
            .query_map([&id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.execute("DELETE FROM sync_blob_chunks WHERE attachment = ?1", [&id])?;
        tx.execute(
            "UPDATE sync_blobs SET receipt = ?2, received_at = ?3, file_key = NULL
             WHERE attachment = ?1",
            params![&id, receipt, now.to_rfc3339()],
        )?;
        append_custody(
            &tx,
            &self.keys,
            self.device,
            now,
            CustodyKind::ServerReceipt,
            &attachment.to_string(),
            serde_json::json!({
                "attachments": [attachment.to_string()],
                "receipt": value,
            }),
        )?;
        tx.commit()?;
        remove_chunks(&self.dir, &names);
        Ok(true)
    }
}

impl Vault {
    /// Removes from this laptop the content of every attachment delivered to HQ: its upload's
    /// receipt checked, and the item that first named it acknowledged by HQ (which imported it
    /// only with the file fetched and checked). The record, name, size and SHA-256 stay, and
    /// say where it went; the chunks and the key go, in one transaction, then the files.
    /// Returns the attachments freed.
    pub fn sync_free_delivered(&mut self) -> Result<Vec<AttachmentId>> {
        let now = self.clock.now().to_rfc3339();
        let tx = self.conn.transaction()?;
        let ids = tx
            .prepare_cached(
                "SELECT a.id FROM attachments a
                 JOIN sync_blobs b ON b.attachment = a.id
                 JOIN sync_items i ON i.seq = b.item
                 WHERE b.receipt IS NOT NULL AND i.acked_at IS NOT NULL AND a.freed_at IS NULL",
            )?
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut names: Vec<String> = Vec::new();
        let mut freed = Vec::with_capacity(ids.len());
        for id in &ids {
            names.extend(
                tx.prepare_cached("SELECT blob FROM attachment_chunks WHERE attachment_id = ?1")?
                    .query_map([id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            );
            tx.execute(
                "DELETE FROM attachment_chunks WHERE attachment_id = ?1",
                [id],
            )?;
            tx.execute(
                "UPDATE attachments SET freed_at = ?2, file_key = zeroblob(32) WHERE id = ?1",
                params![id, now],
            )?;
            freed.push(AttachmentId::from_uuid(crate::uuid_from(id)?));
        }
        tx.commit()?;
        remove_chunks(&self.dir, &names);
        Ok(freed)
    }

    /// The attachments `incoming`'s revisions name that neither came with it nor are held
    /// here: one per content (an import copies the chunks for a second id with the same
    /// content). HQ fetches these from the server before it applies a feed item.
    pub fn missing_attachments(
        &self,
        incoming: &mut crate::Incoming,
    ) -> Result<Vec<crate::AttachmentRef>> {
        let mut wanted: Vec<crate::AttachmentRef> = Vec::new();
        let mut held = self
            .conn
            .prepare_cached("SELECT 1 FROM attachments WHERE id = ?1")?;
        let headers = incoming.revisions.clone();
        for r in &headers {
            let v = incoming.load_revision(r)?;
            for a in v.into_document().attachments {
                if incoming.has_attachment(&a.sha256)
                    || wanted.iter().any(|w| w.sha256 == a.sha256)
                    || held.exists([a.id.as_uuid().as_bytes().as_slice()])?
                {
                    continue;
                }
                wanted.push(a);
            }
        }
        Ok(wanted)
    }
}

//! What this vault sent its organisation's server and what came back (schema 6).
//!
//! A monitor's device sends **items**: each a bundle of its revisions, sealed in the order it
//! sealed them, with its custody events since the last item, age-encrypted to HQ exactly like
//! a bundle on a stick. An item is kept here from the moment it is built (its place `seq` in
//! the device's sequence, its id and its bytes) until the server's receipt for it has been
//! checked; a retry after a crash or a cut connection sends the same bytes under the same id
//! and place, so the server stores each item once. The receipt replaces the bytes, and goes in
//! the custody log; HQ's acknowledgement marks the item verified.
//!
//! HQ's vault keeps where it is in the organisation's feed, and the items it imported and has
//! still to acknowledge.
//!
//! Nothing in this module touches the network: the sync client (`vigil-sync`) holds the vault
//! only for these short reads and writes.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;
use vigil_ledger::custody::CustodyKind;
use vigil_model::IncidentId;

use crate::custody::append_custody;
use crate::error::Result;
use crate::{RevisionId, Vault};

/// Where an incident is on its way to HQ, as this device knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Nothing of it is sealed here: there is nothing to send.
    NotSealed,
    /// A sealed version is only on this laptop (perhaps on a stick too).
    OnlyHere,
    /// Sent to the server (at least one attempt got past connecting); its receipt has not come
    /// back yet.
    Sent,
    /// The server holds every sealed version: its signed receipts are checked and kept.
    HeldByServer,
    /// HQ imported and verified every sealed version.
    VerifiedByHq,
}

impl Delivery {
    /// The status as written in JSON and looked up in translations.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::NotSealed => "not_sealed",
            Delivery::OnlyHere => "only_here",
            Delivery::Sent => "sent",
            Delivery::HeldByServer => "held_by_server",
            Delivery::VerifiedByHq => "verified_by_hq",
        }
    }
}

/// An item built and not yet receipted.
#[derive(Clone)]
pub struct PendingItem {
    /// Its place in this device's sequence on the server, from 1.
    pub seq: u64,
    /// Its id (the bundle's id).
    pub id: Uuid,
    /// The age ciphertext (a bundle).
    pub ciphertext: Vec<u8>,
    /// SHA-256 of the ciphertext.
    pub sha256: [u8; 32],
    /// The revisions it carries.
    pub revisions: u64,
}

impl std::fmt::Debug for PendingItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingItem")
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// What is still to send, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outbox {
    /// Sealed revisions not yet in any item.
    pub revisions_unqueued: u64,
    /// Items built and not yet receipted.
    pub items_pending: u64,
    /// Their revisions.
    pub revisions_pending: u64,
    /// Their bytes.
    pub bytes_pending: u64,
    /// Items receipted and not yet acknowledged by HQ.
    pub items_unacked: u64,
    /// Attachments queued and not yet receipted.
    pub attachments_pending: u64,
    /// Their size.
    pub attachment_bytes_pending: u64,
}

impl Outbox {
    /// Whether everything sealed here is held by the server.
    pub fn all_sent(&self) -> bool {
        self.revisions_unqueued == 0 && self.items_pending == 0 && self.attachments_pending == 0
    }
}

const OWN: &str =
    "imported = 0 AND device IN (SELECT device FROM known_devices WHERE sign_pk = ?1)";

impl Vault {
    /// This device's sealed revisions not yet in any item, oldest first, at most `limit`.
    pub fn sync_unqueued_revisions(&self, limit: usize) -> Result<Vec<RevisionId>> {
        let through = self.sync_state_u64("revisions_through")?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM revisions WHERE rowid > ?2 AND {OWN} ORDER BY rowid LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![
                    self.keys.public().sign_pk.as_slice(),
                    through as i64,
                    limit as i64
                ],
                |r| r.get::<_, Vec<u8>>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter()
            .map(|id| Ok(RevisionId(crate::uuid_from(id)?)))
            .collect()
    }

    /// The last of this device's custody events an item carried (0: none).
    pub fn sync_custody_through(&self) -> Result<u64> {
        self.sync_state_u64("custody_through")
    }

    /// Keeps a built item: it takes the next place in this device's sequence, and its
    /// revisions (and custody events through `custody_through`) count as queued. Returns its
    /// place.
    pub fn sync_add_item(
        &mut self,
        id: Uuid,
        ciphertext: &[u8],
        revisions: &[RevisionId],
        custody_through: u64,
        blobs: &[vigil_model::AttachmentId],
    ) -> Result<u64> {
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        let seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM sync_items",
            [],
            |r| r.get(0),
        )?;
        let sha = vigil_crypto::sign::sha256(ciphertext);
        tx.execute(
            "INSERT INTO sync_items (seq, id, ciphertext, sha256, size, revisions, custody_through, built_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                seq,
                id.as_bytes().as_slice(),
                ciphertext,
                sha.as_slice(),
                ciphertext.len() as i64,
                revisions.len() as i64,
                custody_through as i64,
                now.to_rfc3339()
            ],
        )?;
        let mut through: i64 = 0;
        for r in revisions {
            let rowid: i64 = tx
                .prepare_cached("SELECT rowid FROM revisions WHERE id = ?1")?
                .query_row([r.0.as_bytes().as_slice()], |row| row.get(0))?;
            through = through.max(rowid);
            tx.prepare_cached("INSERT INTO sync_item_revisions (revision, item) VALUES (?1, ?2)")?
                .execute(params![r.0.as_bytes().as_slice(), seq])?;
        }
        crate::sync_blobs::queue_blobs(&tx, seq, blobs, &now.to_rfc3339())?;
        set_state(&tx, "revisions_through", &through.to_string(), true)?;
        set_state(&tx, "custody_through", &custody_through.to_string(), true)?;
        tx.commit()?;
        Ok(seq as u64)
    }

    /// The items built and not yet receipted, in order, at most `limit`, up to the first that
    /// waits for an attachment's receipt.
    pub fn sync_pending_items(&self, limit: usize) -> Result<Vec<PendingItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, ciphertext, sha256, revisions FROM sync_items
             WHERE receipt IS NULL
               AND seq < COALESCE((SELECT MIN(item) FROM sync_blobs WHERE receipt IS NULL),
                                  9223372036854775807)
             ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(seq, id, ciphertext, sha, revisions)| {
                Ok(PendingItem {
                    seq: seq as u64,
                    id: crate::uuid_from(&id)?,
                    ciphertext,
                    sha256: sha.try_into().map_err(|_| crate::StoreError::Corrupted {
                        detail: "a sync item's hash is malformed".into(),
                    })?,
                    revisions: revisions as u64,
                })
            })
            .collect()
    }

    /// Records the server's receipt for items (already checked against the organisation's
    /// receipt key by the caller): the bytes kept for a retry go, and one `server_receipt`
    /// custody event names the items and their revisions and keeps the signed receipt. Items
    /// already receipted are left as they are.
    pub fn sync_record_receipt(&mut self, items: &[Uuid], receipt: &[u8]) -> Result<usize> {
        let now = self.clock.now();
        let receipt_value: serde_json::Value =
            serde_json::from_slice(receipt).map_err(|e| crate::StoreError::Corrupted {
                detail: format!("a receipt to keep is not JSON: {e}"),
            })?;
        let tx = self.conn.transaction()?;
        let mut recorded: Vec<String> = Vec::new();
        let mut revisions: Vec<String> = Vec::new();
        for id in items {
            let row: Option<(i64, bool)> = tx
                .prepare_cached("SELECT seq, receipt IS NOT NULL FROM sync_items WHERE id = ?1")?
                .query_row([id.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((seq, false)) = row else { continue };
            tx.prepare_cached(
                "UPDATE sync_items SET receipt = ?2, received_at = ?3, ciphertext = NULL WHERE seq = ?1",
            )?
            .execute(params![seq, receipt, now.to_rfc3339()])?;
            let mut stmt =
                tx.prepare_cached("SELECT revision FROM sync_item_revisions WHERE item = ?1")?;
            for r in stmt.query_map([seq], |r| r.get::<_, Vec<u8>>(0))? {
                revisions.push(crate::uuid_from(&r?)?.to_string());
            }
            recorded.push(id.to_string());
        }
        if let Some(first) = recorded.first() {
            append_custody(
                &tx,
                &self.keys,
                self.device,
                now,
                CustodyKind::ServerReceipt,
                first,
                serde_json::json!({
                    "items": recorded,
                    "revisions": revisions,
                    "receipt": receipt_value,
                }),
            )?;
        }
        tx.commit()?;
        Ok(recorded.len())
    }

    /// Records that items were sent (a push got past connecting, whatever its outcome).
    pub fn sync_mark_attempted(&mut self, items: &[Uuid]) -> Result<()> {
        let now = self.clock.now().to_rfc3339();
        let tx = self.conn.transaction()?;
        for id in items {
            tx.prepare_cached(
                "UPDATE sync_items SET attempted_at = ?2 WHERE id = ?1 AND attempted_at IS NULL",
            )?
            .execute(params![id.as_bytes().as_slice(), now])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks items HQ acknowledged. Unknown ids (not this device's items) are ignored.
    pub fn sync_record_acks(&mut self, items: &[(Uuid, String)]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for (id, at) in items {
            n += tx
                .prepare_cached(
                    "UPDATE sync_items SET acked_at = ?2 WHERE id = ?1 AND acked_at IS NULL AND receipt IS NOT NULL",
                )?
                .execute(params![id.as_bytes().as_slice(), at])?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Every item built here, in order: its id and the SHA-256 of its bytes (hex), to compare
    /// with what the server holds.
    pub fn sync_item_digests(&self) -> Result<Vec<(String, String)>> {
        crate::rows::id_digests(&self.conn, "SELECT id, sha256 FROM sync_items ORDER BY seq")
    }

    /// What is still to send.
    pub fn sync_outbox(&self) -> Result<Outbox> {
        let through = self.sync_state_u64("revisions_through")?;
        let unqueued: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM revisions WHERE rowid > ?2 AND {OWN}"),
            params![self.keys.public().sign_pk.as_slice(), through as i64],
            |r| r.get(0),
        )?;
        let (items, revisions, bytes): (i64, i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(revisions), 0), COALESCE(SUM(size), 0)
             FROM sync_items WHERE receipt IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let unacked: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM sync_items WHERE receipt IS NOT NULL AND acked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        let (blobs, blob_bytes): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(a.size), 0)
             FROM sync_blobs b LEFT JOIN attachments a ON a.id = b.attachment
             WHERE b.receipt IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Outbox {
            attachments_pending: blobs as u64,
            attachment_bytes_pending: blob_bytes as u64,
            revisions_unqueued: unqueued as u64,
            items_pending: items as u64,
            revisions_pending: revisions as u64,
            bytes_pending: bytes as u64,
            items_unacked: unacked as u64,
        })
    }

    /// Where each of `incidents` is on its way to HQ (see [`Delivery`]).
    pub fn delivery(&self, incidents: &[IncidentId]) -> Result<BTreeMap<IncidentId, Delivery>> {
        let mut out = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT s.item IS NULL OR i.attempted_at IS NULL, i.receipt IS NULL, i.acked_at IS NULL
             FROM revisions r
             LEFT JOIN sync_item_revisions s ON s.revision = r.id
             LEFT JOIN sync_items i ON i.seq = s.item
             WHERE r.incident = ?2 AND r.{}",
            OWN.replace("device IN", "r.device IN")
        ))?;
        for incident in incidents {
            let rows = stmt
                .query_map(
                    params![
                        self.keys.public().sign_pk.as_slice(),
                        incident.as_uuid().as_bytes().as_slice()
                    ],
                    |r| {
                        Ok((
                            r.get::<_, bool>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, bool>(2)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let status = rows
                .iter()
                .map(|&(unqueued, no_receipt, no_ack)| {
                    if unqueued {
                        Delivery::OnlyHere
                    } else if no_receipt {
                        Delivery::Sent
                    } else if no_ack {
                        Delivery::HeldByServer
                    } else {
                        Delivery::VerifiedByHq
                    }
                })
                .min()
                .unwrap_or(Delivery::NotSealed);
            out.insert(*incident, status);
        }
        Ok(out)
    }

    /// HQ: where it is in the organisation's feed (0: at the start).
    pub fn sync_feed_cursor(&self) -> Result<i64> {
        Ok(self.sync_state_u64("feed_since")? as i64)
    }

    /// HQ: records feed items imported (to acknowledge) and the cursor after them, in one
    /// transaction.
    pub fn sync_record_pulled(&mut self, items: &[(Uuid, Uuid, i64)], next: i64) -> Result<()> {
        let now = self.clock.now().to_rfc3339();
        let tx = self.conn.transaction()?;
        for (id, device, pos) in items {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO sync_pulled (id, device, pos, pulled_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                id.as_bytes().as_slice(),
                device.as_bytes().as_slice(),
                pos,
                now
            ])?;
        }
        set_state(&tx, "feed_since", &next.to_string(), true)?;
        tx.commit()?;
        Ok(())
    }

    /// HQ: imported items not yet acknowledged, at most `limit`.
    pub fn sync_unacked_pulled(&self, limit: usize) -> Result<Vec<Uuid>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM sync_pulled WHERE acked = 0 ORDER BY pos LIMIT ?1")?;
        let rows = stmt
            .query_map([limit as i64], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|id| crate::uuid_from(id)).collect()
    }

    /// HQ: marks items acknowledged at the server.
    pub fn sync_mark_acked(&mut self, items: &[Uuid]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for id in items {
            tx.prepare_cached("UPDATE sync_pulled SET acked = 1 WHERE id = ?1")?
                .execute([id.as_bytes().as_slice()])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A cursor or note of the sync client (`receipts_since`, `acks_since`, `last_success`,
    /// `last_error`, …).
    pub fn sync_state(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a cursor or note of the sync client; `None` removes it.
    pub fn set_sync_state(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => set_state(&self.conn, key, v, false)?,
            None => {
                self.conn
                    .execute("DELETE FROM sync_state WHERE key = ?1", [key])?;
            }
        }
        Ok(())
    }

    fn sync_state_u64(&self, key: &str) -> Result<u64> {
        Ok(self
            .sync_state(key)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

/// Sets `key`; with `only_up`, a numeric value never moves back.
fn set_state(conn: &rusqlite::Connection, key: &str, value: &str, only_up: bool) -> Result<()> {
    let sql = if only_up {
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE CAST(excluded.value AS INTEGER) > CAST(sync_state.value AS INTEGER)"
    } else {
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    };
    conn.prepare_cached(sql)?.execute([key, value])?;
    Ok(())
}

//! Items: pushes (all or nothing, idempotent), receipts, the feed, acknowledgements.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;
use vigil_crypto::sign::SigningKey;
use vigil_ledger::signed::{RECEIPT_FORMAT, Receipt, ReceiptDoc, SignedWire};
use vigil_model::DeviceId;

use super::now;
use crate::error::ApiError;

/// One item as a device pushes it, checked by the API layer.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// Its id.
    pub id: Uuid,
    /// Its place in the device's sequence.
    pub seq: u64,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256 of the ciphertext, hex.
    pub sha256: String,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
}

/// A stored item as the feed returns it.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// Its place in the feed.
    pub pos: i64,
    /// The device that pushed it.
    pub device: String,
    /// Its place in that device's sequence.
    pub seq: u64,
    /// Its id.
    pub id: String,
    /// `revision` or `custody`.
    pub kind: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
    /// Its receipt.
    pub receipt: SignedWire,
}

/// An acknowledgement: HQ verified an item.
#[derive(Debug, Clone)]
pub struct AckRow {
    /// Its place in the device's list.
    pub pos: i64,
    /// The item.
    pub item: String,
    /// The HQ device that verified it.
    pub acked_by: String,
    /// When the server recorded it.
    pub acked_at: String,
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushConflict {
    /// The id is known with other content.
    IdReused(Uuid),
    /// The device's sequence number is taken by another item.
    SeqTaken(u64),
}

fn wire_from(document: String, signature: &str) -> rusqlite::Result<SignedWire> {
    let signature = signature.parse().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "receipt_sig".into(), rusqlite::types::Type::Text)
    })?;
    Ok(SignedWire {
        document,
        signature,
    })
}

/// Stores a batch from `device` of `org`, all or nothing. Items already stored with the same
/// content return their first receipt; any conflict refuses the whole batch.
pub fn push(
    conn: &mut Connection,
    key: &SigningKey,
    org: Uuid,
    device: DeviceId,
    items: &[NewItem],
) -> Result<Result<Vec<SignedWire>, PushConflict>, ApiError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut receipts = Vec::with_capacity(items.len());
    for item in items {
        let by_id: Option<(String, i64, String, String, i64, String, String)> = tx
            .query_row(
                "SELECT device, seq, kind, sha256, size, receipt, receipt_sig FROM items WHERE id = ?1",
                params![item.id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        if let Some((d, seq, kind, sha, size, receipt, sig)) = by_id {
            let same = d == device.to_string()
                && u64::try_from(seq).ok() == Some(item.seq)
                && kind == item.kind
                && sha == item.sha256
                && u64::try_from(size).ok() == Some(item.ciphertext.len() as u64);
            if !same {
                return Ok(Err(PushConflict::IdReused(item.id)));
            }
            receipts.push(wire_from(receipt, &sig)?);
            continue;
        }
        let taken: bool = tx
            .query_row(
                "SELECT 1 FROM items WHERE device = ?1 AND seq = ?2",
                params![device.to_string(), item.seq as i64],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        if taken {
            return Ok(Err(PushConflict::SeqTaken(item.seq)));
        }
        let receipt = Receipt::sign(
            ReceiptDoc {
                format: RECEIPT_FORMAT.into(),
                version: 1,
                org,
                device,
                seq: item.seq,
                item: item.id,
                sha256: item.sha256.clone(),
                size: item.ciphertext.len() as u64,
                received_at: now(),
            },
            |m| key.sign(m),
        )
        .map_err(ApiError::internal)?;
        let wire = receipt.to_wire();
        tx.execute(
            "INSERT INTO items (org, device, seq, id, kind, sha256, size, ciphertext, receipt, receipt_sig)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                org.to_string(),
                device.to_string(),
                item.seq as i64,
                item.id.to_string(),
                item.kind,
                item.sha256,
                item.ciphertext.len() as i64,
                item.ciphertext,
                wire.document,
                wire.signature.to_string()
            ],
        )?;
        receipts.push(wire);
    }
    tx.commit()?;
    Ok(Ok(receipts))
}

/// A device's own receipts, from sequence number `since_seq` on (exclusive), at most `limit`.
pub fn receipts(
    conn: &Connection,
    device: DeviceId,
    since_seq: i64,
    limit: i64,
) -> rusqlite::Result<Vec<(u64, SignedWire)>> {
    let mut stmt = conn.prepare(
        "SELECT seq, receipt, receipt_sig FROM items WHERE device = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![device.to_string(), since_seq, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, doc, sig) = row?;
        out.push((seq.max(0) as u64, wire_from(doc, &sig)?));
    }
    Ok(out)
}

/// The organisation's items after feed position `since`, at most `limit`, oldest first.
pub fn feed(
    conn: &Connection,
    org: Uuid,
    since: i64,
    limit: i64,
) -> rusqlite::Result<Vec<StoredItem>> {
    let mut stmt = conn.prepare(
        "SELECT pos, device, seq, id, kind, sha256, size, ciphertext, receipt, receipt_sig
         FROM items WHERE org = ?1 AND pos > ?2 ORDER BY pos LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![org.to_string(), since, limit], |r| {
        Ok(StoredItem {
            pos: r.get(0)?,
            device: r.get(1)?,
            seq: r.get::<_, i64>(2)?.max(0) as u64,
            id: r.get(3)?,
            kind: r.get(4)?,
            sha256: r.get(5)?,
            size: r.get::<_, i64>(6)?.max(0) as u64,
            ciphertext: r.get(7)?,
            receipt: wire_from(r.get(8)?, &r.get::<_, String>(9)?)?,
        })
    })?;
    rows.collect()
}

/// HQ's device `by` acknowledges items of `org`. Returns how many were new; unknown items or
/// items of another organisation refuse the whole list.
pub fn ack(
    conn: &mut Connection,
    org: Uuid,
    by: DeviceId,
    items: &[Uuid],
) -> Result<Result<usize, Uuid>, ApiError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut new = 0;
    for item in items {
        let device: Option<String> = tx
            .query_row(
                "SELECT device FROM items WHERE id = ?1 AND org = ?2",
                params![item.to_string(), org.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(device) = device else {
            return Ok(Err(*item));
        };
        new += tx.execute(
            "INSERT INTO acks (item, device, acked_by, acked_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (item) DO NOTHING",
            params![item.to_string(), device, by.to_string(), now().to_rfc3339()],
        )?;
    }
    tx.commit()?;
    Ok(Ok(new))
}

/// Acknowledgements of a device's items, after position `since`.
pub fn acks(
    conn: &Connection,
    device: DeviceId,
    since: i64,
    limit: i64,
) -> rusqlite::Result<Vec<AckRow>> {
    let mut stmt = conn.prepare(
        "SELECT pos, item, acked_by, acked_at FROM acks WHERE device = ?1 AND pos > ?2 ORDER BY pos LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![device.to_string(), since, limit], |r| {
        Ok(AckRow {
            pos: r.get(0)?,
            item: r.get(1)?,
            acked_by: r.get(2)?,
            acked_at: r.get(3)?,
        })
    })?;
    rows.collect()
}

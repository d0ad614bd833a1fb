//! Items: pushes (all or nothing, idempotent), receipts, the feed, acknowledgements.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;
use vigil_crypto::sign::SigningKey;
use vigil_ledger::signed::SignedWire;
use vigil_model::DeviceId;

use crate::db::{AckRow, Existing, NewItem, PushConflict, StoredItem, now, receipt_for};
use crate::error::ApiError;

fn wire_from(document: String, signature: &str) -> rusqlite::Result<SignedWire> {
    crate::db::wire_from(document, signature).map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "receipt_sig".into(), rusqlite::types::Type::Text)
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
        let existing = tx
            .query_row(
                "SELECT device, seq, kind, sha256, size, receipt, receipt_sig FROM items WHERE id = ?1",
                params![item.id.to_string()],
                |r| {
                    Ok(Existing {
                        device: r.get(0)?,
                        seq: r.get(1)?,
                        kind: r.get(2)?,
                        sha256: r.get(3)?,
                        size: r.get(4)?,
                        receipt: wire_from(r.get(5)?, &r.get::<_, String>(6)?)?,
                    })
                },
            )
            .optional()?;
        if let Some(existing) = existing {
            if !existing.is(device, item) {
                return Ok(Err(PushConflict::IdReused(item.id)));
            }
            receipts.push(existing.receipt);
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
        let wire = receipt_for(key, org, device, item)?;
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

//! Items: pushes (all or nothing, idempotent), receipts, the feed, acknowledgements.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;
use vigil_crypto::sign::SigningKey;
use vigil_ledger::signed::SignedWire;
use vigil_model::DeviceId;

use super::use_nonce;
use crate::db::{
    AckRow, Existing, NewItem, Nonce, PushRefused, ReceiptFate, StoredItem, already_stored, now,
    receipt_fate,
};
use crate::error::ApiError;

fn wire_from(document: String, signature: &str) -> rusqlite::Result<SignedWire> {
    crate::db::wire_from(document, signature).map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "signature".into(), rusqlite::types::Type::Text)
    })
}

/// Stores a batch from the nonce's device of `org`, all or nothing, after spending the nonce.
/// Items already stored with the same content are covered by the receipt that first covered
/// them; the new ones by `receipt`, signed beforehand for the case that every item is new, or
/// by one signed here for the new ones only. Any conflict refuses the whole batch (the caller
/// rolls back what this wrote).
pub fn push(
    conn: &Connection,
    key: &SigningKey,
    org: Uuid,
    nonce: &Nonce,
    items: &[NewItem],
    receipt: SignedWire,
) -> Result<Result<Vec<SignedWire>, PushRefused>, ApiError> {
    if !use_nonce(conn, nonce)? {
        return Ok(Err(PushRefused::Replayed));
    }
    let device = nonce.device;
    let device_s = device.to_string();
    conn.prepare_cached("INSERT INTO receipts (device, document, signature) VALUES (?1, ?2, ?3)")?
        .execute(params![
            device_s,
            receipt.document,
            receipt.signature.to_string()
        ])?;
    let this = conn.last_insert_rowid();
    let org_s = org.to_string();
    let mut insert = conn.prepare_cached(
        "INSERT INTO items (org, device, seq, id, kind, sha256, size, ciphertext, receipt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
    )?;
    let mut new = Vec::with_capacity(items.len());
    let mut earlier = Vec::new();
    for item in items {
        let stored = insert.execute(params![
            org_s,
            device_s,
            item.seq as i64,
            item.id.to_string(),
            item.kind,
            item.sha256,
            item.ciphertext.len() as i64,
            item.ciphertext,
            this
        ])?;
        if stored == 1 {
            new.push(item);
            continue;
        }
        if let Err(refused) =
            already_stored(existing(conn, item.id)?, device, item, this, &mut earlier)
        {
            return Ok(Err(refused));
        }
    }
    let mut receipts = Vec::with_capacity(1 + earlier.len());
    match receipt_fate(key, org, device, items.len(), new, receipt)? {
        ReceiptFate::Kept(wire) => receipts.push(wire),
        ReceiptFate::Unused => {
            conn.execute("DELETE FROM receipts WHERE pos = ?1", params![this])?;
        }
        ReceiptFate::Replaced(wire) => {
            conn.execute(
                "UPDATE receipts SET document = ?2, signature = ?3 WHERE pos = ?1",
                params![this, wire.document, wire.signature.to_string()],
            )?;
            receipts.push(wire);
        }
    }
    for pos in earlier {
        let wire = conn.query_row(
            "SELECT document, signature FROM receipts WHERE pos = ?1",
            params![pos],
            |r| wire_from(r.get(0)?, &r.get::<_, String>(1)?),
        )?;
        receipts.push(wire);
    }
    Ok(Ok(receipts))
}

fn existing(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<Existing>> {
    conn.query_row(
        "SELECT device, seq, kind, sha256, size, receipt FROM items WHERE id = ?1",
        params![id.to_string()],
        |r| {
            Ok(Existing {
                device: r.get(0)?,
                seq: r.get(1)?,
                kind: r.get(2)?,
                sha256: r.get(3)?,
                size: r.get(4)?,
                receipt: r.get(5)?,
            })
        },
    )
    .optional()
}

/// A device's receipts after position `since` (exclusive), at most `limit`, oldest first.
pub fn receipts(
    conn: &Connection,
    device: DeviceId,
    since: i64,
    limit: i64,
) -> rusqlite::Result<Vec<(i64, SignedWire)>> {
    let mut stmt = conn.prepare(
        "SELECT pos, document, signature FROM receipts WHERE device = ?1 AND pos > ?2 ORDER BY pos LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![device.to_string(), since, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            wire_from(r.get(1)?, &r.get::<_, String>(2)?)?,
        ))
    })?;
    rows.collect()
}

/// The organisation's items after feed position `since`, at most `limit`, oldest first.
pub fn feed(
    conn: &Connection,
    org: Uuid,
    since: i64,
    limit: i64,
) -> rusqlite::Result<Vec<StoredItem>> {
    let mut stmt = conn.prepare(
        "SELECT pos, device, seq, id, kind, sha256, size, ciphertext
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
        })
    })?;
    rows.collect()
}

/// HQ's device `by` acknowledges items of `org`. Returns how many were new; unknown items or
/// items of another organisation refuse the whole list.
pub fn ack(
    conn: &Connection,
    org: Uuid,
    by: DeviceId,
    items: &[Uuid],
) -> Result<Result<usize, Uuid>, ApiError> {
    let tx = conn;
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

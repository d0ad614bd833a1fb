//! Resumable uploads: the upload rows and their parts (the bytes are in the blob store).

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use vigil_ledger::signed::SignedWire;

use crate::db::{PartRow, UploadCreated, UploadRow, now};

fn row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, i64, String, i64, bool)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn to_upload(
    (id, org, device, length, sha256, offset, complete): (
        String,
        String,
        String,
        i64,
        String,
        i64,
        bool,
    ),
) -> Option<UploadRow> {
    Some(UploadRow {
        id: id.parse().ok()?,
        org: org.parse().ok()?,
        device: device.parse().ok()?,
        length: u64::try_from(length).ok()?,
        sha256,
        offset: u64::try_from(offset).ok()?,
        complete,
    })
}

/// An upload.
pub fn upload(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<UploadRow>> {
    Ok(conn
        .query_row(
            "SELECT id, org, device, length, sha256, upload_offset, complete FROM uploads WHERE id = ?1",
            params![id.to_string()],
            row,
        )
        .optional()?
        .and_then(to_upload))
}

/// Creates an upload, or finds the same one.
pub fn create_upload(conn: &Connection, new: &UploadRow) -> rusqlite::Result<UploadCreated> {
    if let Some(existing) = upload(conn, new.id)? {
        return Ok(
            if existing.device == new.device
                && existing.length == new.length
                && existing.sha256 == new.sha256
            {
                UploadCreated::Again(existing)
            } else {
                UploadCreated::Conflict
            },
        );
    }
    conn.execute(
        "INSERT INTO uploads (id, org, device, length, sha256, upload_offset, complete, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6)",
        params![
            new.id.to_string(),
            new.org.to_string(),
            new.device.to_string(),
            new.length as i64,
            new.sha256,
            now().to_rfc3339()
        ],
    )?;
    Ok(UploadCreated::New)
}

/// Records a part if the upload is still at its offset.
pub fn add_part(conn: &Connection, id: Uuid, part: &PartRow) -> rusqlite::Result<bool> {
    let moved = conn.execute(
        "UPDATE uploads SET upload_offset = ?3 WHERE id = ?1 AND upload_offset = ?2 AND complete = 0",
        params![
            id.to_string(),
            part.offset as i64,
            (part.offset + part.size) as i64
        ],
    )?;
    if moved != 1 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO upload_parts (upload, part_offset, key, size) VALUES (?1, ?2, ?3, ?4)",
        params![
            id.to_string(),
            part.offset as i64,
            part.key,
            part.size as i64
        ],
    )?;
    Ok(true)
}

/// An upload's parts, in order.
pub fn parts(conn: &Connection, id: Uuid) -> rusqlite::Result<Vec<PartRow>> {
    let mut stmt = conn.prepare(
        "SELECT part_offset, key, size FROM upload_parts WHERE upload = ?1 ORDER BY part_offset",
    )?;
    let rows = stmt.query_map(params![id.to_string()], |r| {
        Ok(PartRow {
            offset: r.get::<_, i64>(0)?.max(0) as u64,
            key: r.get(1)?,
            size: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

/// Marks an upload complete, or starts it again from zero.
pub fn finish_upload(
    conn: &Connection,
    id: Uuid,
    receipt: Option<&SignedWire>,
) -> rusqlite::Result<()> {
    if let Some(receipt) = receipt {
        conn.execute(
            "UPDATE uploads SET complete = 1, receipt = ?2, receipt_sig = ?3 WHERE id = ?1",
            params![
                id.to_string(),
                receipt.document,
                receipt.signature.to_string()
            ],
        )?;
    } else {
        conn.execute(
            "DELETE FROM upload_parts WHERE upload = ?1",
            params![id.to_string()],
        )?;
        conn.execute(
            "UPDATE uploads SET upload_offset = 0 WHERE id = ?1",
            params![id.to_string()],
        )?;
    }
    Ok(())
}

/// The receipt of a complete upload.
pub fn upload_receipt(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<SignedWire>> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT receipt, receipt_sig FROM uploads WHERE id = ?1 AND complete = 1",
            params![id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((Some(doc), Some(sig))) => crate::db::wire_from(doc, &sig).map(Some).map_err(|_| {
            rusqlite::Error::InvalidColumnType(0, "receipt_sig".into(), rusqlite::types::Type::Text)
        }),
        _ => Ok(None),
    }
}

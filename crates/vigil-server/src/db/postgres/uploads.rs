//! Resumable uploads on PostgreSQL (see [`crate::db::sqlite::create_upload`] and its
//! neighbours): the same rules, with the offset moved by a compare-and-set so that two
//! processes given the same part store it once.

use uuid::Uuid;

use vigil_ledger::signed::SignedWire;

use super::Postgres;
use crate::db::{PartRow, UploadCreated, UploadRow, now};
use crate::error::ApiError;

fn to_upload(r: &tokio_postgres::Row) -> Option<UploadRow> {
    Some(UploadRow {
        id: r.get::<_, String>(0).parse().ok()?,
        org: r.get::<_, String>(1).parse().ok()?,
        device: r.get::<_, String>(2).parse().ok()?,
        length: u64::try_from(r.get::<_, i64>(3)).ok()?,
        sha256: r.get(4),
        offset: u64::try_from(r.get::<_, i64>(5)).ok()?,
        complete: r.get(6),
    })
}

impl Postgres {
    /// An upload.
    pub async fn upload(&self, id: Uuid) -> Result<Option<UploadRow>, ApiError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT id, org, device, length, sha256, upload_offset, complete FROM uploads WHERE id = $1",
                &[&id.to_string()],
            )
            .await?
            .as_ref()
            .and_then(to_upload))
    }

    /// Creates an upload, or finds the same one.
    pub async fn create_upload(&self, new: &UploadRow) -> Result<UploadCreated, ApiError> {
        let inserted = self
            .client()
            .await?
            .execute(
                "INSERT INTO uploads (id, org, device, length, sha256, upload_offset, complete, created_at)
                 VALUES ($1, $2, $3, $4, $5, 0, false, $6) ON CONFLICT (id) DO NOTHING",
                &[
                    &new.id.to_string(),
                    &new.org.to_string(),
                    &new.device.to_string(),
                    &(new.length as i64),
                    &new.sha256,
                    &now().to_rfc3339(),
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(UploadCreated::New);
        }
        Ok(match self.upload(new.id).await? {
            Some(e)
                if e.device == new.device && e.length == new.length && e.sha256 == new.sha256 =>
            {
                UploadCreated::Again(e)
            }
            _ => UploadCreated::Conflict,
        })
    }

    /// Records a part if the upload is still at its offset.
    pub async fn add_part(&self, id: Uuid, part: &PartRow) -> Result<bool, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let moved = tx
            .execute(
                "UPDATE uploads SET upload_offset = $3 WHERE id = $1 AND upload_offset = $2 AND NOT complete",
                &[
                    &id.to_string(),
                    &(part.offset as i64),
                    &((part.offset + part.size) as i64),
                ],
            )
            .await?;
        if moved != 1 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO upload_parts (upload, part_offset, key, size) VALUES ($1, $2, $3, $4)",
            &[
                &id.to_string(),
                &(part.offset as i64),
                &part.key,
                &(part.size as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An upload's parts, in order.
    pub async fn parts(&self, id: Uuid) -> Result<Vec<PartRow>, ApiError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT part_offset, key, size FROM upload_parts WHERE upload = $1 ORDER BY part_offset",
                &[&id.to_string()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| PartRow {
                offset: r.get::<_, i64>(0).max(0) as u64,
                key: r.get(1),
                size: r.get::<_, i64>(2).max(0) as u64,
            })
            .collect())
    }

    /// Marks an upload complete, or starts it again from zero.
    pub async fn finish_upload(
        &self,
        id: Uuid,
        receipt: Option<&SignedWire>,
    ) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if let Some(receipt) = receipt {
            tx.execute(
                "UPDATE uploads SET complete = true, receipt = $2, receipt_sig = $3 WHERE id = $1",
                &[
                    &id.to_string(),
                    &receipt.document,
                    &receipt.signature.to_string(),
                ],
            )
            .await?;
        } else {
            tx.execute(
                "DELETE FROM upload_parts WHERE upload = $1",
                &[&id.to_string()],
            )
            .await?;
            tx.execute(
                "UPDATE uploads SET upload_offset = 0 WHERE id = $1",
                &[&id.to_string()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The receipt of a complete upload.
    pub async fn upload_receipt(&self, id: Uuid) -> Result<Option<SignedWire>, ApiError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT receipt, receipt_sig FROM uploads WHERE id = $1 AND complete",
                &[&id.to_string()],
            )
            .await?;
        match row.map(|r| (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1))) {
            Some((Some(doc), Some(sig))) => Ok(Some(
                crate::db::wire_from(doc, &sig).map_err(ApiError::internal)?,
            )),
            _ => Ok(None),
        }
    }
}

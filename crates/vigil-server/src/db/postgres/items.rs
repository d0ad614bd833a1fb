//! Items on PostgreSQL (see [`crate::db::sqlite::push`] and its neighbours): the same rules,
//! with a push's items stored by one statement, and pushes of one organisation serialised by
//! a transaction-level advisory lock, so that feed positions are committed in the order they
//! are handed out and HQ's cursor never skips an item that commits late.

use std::collections::HashSet;

use tokio_postgres::Transaction;
use uuid::Uuid;
use vigil_crypto::sign::SigningKey;
use vigil_ledger::signed::SignedWire;
use vigil_model::DeviceId;

use super::{Postgres, db_error};
use crate::db::{
    AckRow, Existing, NewItem, Nonce, PushRefused, ReceiptFate, StoredItem, already_stored, now,
    receipt_fate, wire_from,
};
use crate::error::ApiError;

async fn use_nonce(tx: &Transaction<'_>, nonce: &Nonce) -> Result<bool, ApiError> {
    tx.execute(
        "DELETE FROM nonces WHERE expires < $1",
        &[&chrono::Utc::now().timestamp()],
    )
    .await?;
    let n = tx
        .execute(
            "INSERT INTO nonces (device, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&nonce.device.to_string(), &nonce.nonce, &nonce.expires],
        )
        .await?;
    Ok(n == 1)
}

async fn existing(tx: &Transaction<'_>, id: Uuid) -> Result<Option<Existing>, ApiError> {
    let row = tx
        .query_opt(
            "SELECT device, seq, kind, sha256, size, receipt FROM items WHERE id = $1",
            &[&id.to_string()],
        )
        .await?;
    Ok(row.map(|r| Existing {
        device: r.get(0),
        seq: r.get(1),
        kind: r.get(2),
        sha256: r.get(3),
        size: r.get(4),
        receipt: r.get(5),
    }))
}

impl Postgres {
    /// Spends a nonce.
    pub async fn use_nonce(&self, nonce: &Nonce) -> Result<bool, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let fresh = use_nonce(&tx, nonce).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Stores a batch, all or nothing, after spending the nonce (see
    /// [`crate::db::sqlite::push`]).
    pub async fn push(
        &self,
        key: &SigningKey,
        org: Uuid,
        nonce: &Nonce,
        items: &[NewItem],
        receipt: SignedWire,
    ) -> Result<Result<Vec<SignedWire>, PushRefused>, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !use_nonce(&tx, nonce).await? {
            return Ok(Err(PushRefused::Replayed));
        }
        let device = nonce.device;
        let device_s = device.to_string();
        let org_s = org.to_string();
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&org_s],
        )
        .await?;
        let this: i64 = tx
            .query_one(
                "INSERT INTO receipts (device, document, signature) VALUES ($1, $2, $3) RETURNING pos",
                &[&device_s, &receipt.document, &receipt.signature.to_string()],
            )
            .await?
            .get(0);
        let seqs: Vec<i64> = items.iter().map(|i| i.seq as i64).collect();
        let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
        let kinds: Vec<&str> = items.iter().map(|i| i.kind.as_str()).collect();
        let shas: Vec<&str> = items.iter().map(|i| i.sha256.as_str()).collect();
        let sizes: Vec<i64> = items.iter().map(|i| i.ciphertext.len() as i64).collect();
        let cts: Vec<&[u8]> = items.iter().map(|i| i.ciphertext.as_slice()).collect();
        let mut stored: HashSet<String> = tx
            .query(
                "INSERT INTO items (org, device, seq, id, kind, sha256, size, ciphertext, receipt)
                 SELECT $1, $2, s, i, k, h, z, c, $9
                 FROM UNNEST($3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::BYTEA[])
                      WITH ORDINALITY AS t(s, i, k, h, z, c, n)
                 ORDER BY n
                 ON CONFLICT DO NOTHING RETURNING id",
                &[&org_s, &device_s, &seqs, &ids, &kinds, &shas, &sizes, &cts, &this],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut new = Vec::with_capacity(items.len());
        let mut earlier = Vec::new();
        for (item, id) in items.iter().zip(&ids) {
            // An id repeated inside the batch is stored once: its later copies are found below.
            if stored.remove(id) {
                new.push(item);
                continue;
            }
            // Not stored: the id is taken, by this item or (free when the statement ran,
            // under this organisation's lock) the device's sequence number is another item's.
            let found = existing(&tx, item.id).await?;
            if let Err(refused) = already_stored(found, device, item, this, &mut earlier) {
                return Ok(Err(refused));
            }
        }
        let mut receipts = Vec::with_capacity(1 + earlier.len());
        match receipt_fate(key, org, device, items.len(), new, receipt)? {
            ReceiptFate::Kept(wire) => receipts.push(wire),
            ReceiptFate::Unused => {
                tx.execute("DELETE FROM receipts WHERE pos = $1", &[&this])
                    .await?;
            }
            ReceiptFate::Replaced(wire) => {
                tx.execute(
                    "UPDATE receipts SET document = $2, signature = $3 WHERE pos = $1",
                    &[&this, &wire.document, &wire.signature.to_string()],
                )
                .await?;
                receipts.push(wire);
            }
        }
        for pos in earlier {
            let r = tx
                .query_one(
                    "SELECT document, signature FROM receipts WHERE pos = $1",
                    &[&pos],
                )
                .await?;
            receipts.push(wire_from(r.get(0), r.get(1)).map_err(db_error)?);
        }
        tx.commit().await?;
        Ok(Ok(receipts))
    }

    /// A device's receipts after position `since`.
    pub async fn receipts(
        &self,
        device: DeviceId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<(i64, SignedWire)>, ApiError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT pos, document, signature FROM receipts WHERE device = $1 AND pos > $2 ORDER BY pos LIMIT $3",
                &[&device.to_string(), &since, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.get(0), wire_from(r.get(1), r.get(2)).map_err(db_error)?)))
            .collect()
    }

    /// The organisation's items after feed position `since`.
    pub async fn feed(
        &self,
        org: Uuid,
        since: i64,
        limit: i64,
    ) -> Result<Vec<StoredItem>, ApiError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT pos, device, seq, id, kind, sha256, size, ciphertext
                 FROM items WHERE org = $1 AND pos > $2 ORDER BY pos LIMIT $3",
                &[&org.to_string(), &since, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredItem {
                pos: r.get(0),
                device: r.get(1),
                seq: r.get::<_, i64>(2).max(0) as u64,
                id: r.get(3),
                kind: r.get(4),
                sha256: r.get(5),
                size: r.get::<_, i64>(6).max(0) as u64,
                ciphertext: r.get(7),
            })
            .collect())
    }

    /// HQ acknowledges items of `org`.
    pub async fn ack(
        &self,
        org: Uuid,
        by: DeviceId,
        items: &[Uuid],
    ) -> Result<Result<usize, Uuid>, ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut new = 0;
        for item in items {
            let row = tx
                .query_opt(
                    "SELECT device FROM items WHERE id = $1 AND org = $2",
                    &[&item.to_string(), &org.to_string()],
                )
                .await?;
            let Some(row) = row else {
                return Ok(Err(*item));
            };
            let device: String = row.get(0);
            new += tx
                .execute(
                    "INSERT INTO acks (item, device, acked_by, acked_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (item) DO NOTHING",
                    &[
                        &item.to_string(),
                        &device,
                        &by.to_string(),
                        &now().to_rfc3339(),
                    ],
                )
                .await? as usize;
        }
        tx.commit().await?;
        Ok(Ok(new))
    }

    /// Acknowledgements of a device's items after `since`.
    pub async fn acks(
        &self,
        device: DeviceId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<AckRow>, ApiError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT pos, item, acked_by, acked_at FROM acks WHERE device = $1 AND pos > $2 ORDER BY pos LIMIT $3",
                &[&device.to_string(), &since, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AckRow {
                pos: r.get(0),
                item: r.get(1),
                acked_by: r.get(2),
                acked_at: r.get(3),
            })
            .collect())
    }
}

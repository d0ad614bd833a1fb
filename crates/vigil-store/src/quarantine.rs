//! Quarantine: bundles from senders HQ cannot trust yet, kept whole and encrypted until a
//! person decides.
//!
//! Nothing of a quarantined bundle is applied. The bundle file itself (already encrypted to
//! HQ) is stored in the vault's chunk store under a key of its own, like an attachment, so it
//! survives the USB stick it came on and reveals nothing on disk. A person who compared the
//! sender's key accepts it (the import runs again from the stored copy, exactly as it would
//! have, and the sender is registered as accepted), or drops it.

use std::io::Read;

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;
use uuid::Uuid;
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::trust::QuarantineReason;
use vigil_model::DeviceId;

use crate::error::{Result, StoreError};
use crate::rows::{key_from, time_from};
use crate::staging::{StagedAttachment, remove_chunks};
use crate::{Vault, uuid_from};

/// A bundle held in quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineEntry {
    /// Identifies the entry.
    pub id: Uuid,
    /// The bundle's own id.
    pub bundle_id: String,
    /// The device that sent it.
    pub device: DeviceId,
    /// The key that signed it, for a person to compare.
    #[serde(with = "hex::serde")]
    pub sign_pk: SignPublicKey,
    /// Why it is here: a [`QuarantineReason`] code.
    pub reason: String,
    /// Why, in English.
    pub detail: String,
    /// The name the sender's certificate gives it, if it carried one.
    pub name: Option<String>,
    /// When HQ received it.
    pub received_at: DateTime<FixedOffset>,
    /// How many revisions it holds.
    pub revisions: u64,
    /// The bundle's size in bytes.
    pub size: u64,
}

/// What to keep about a bundle put in quarantine.
#[derive(Debug, Clone)]
pub struct QuarantineNote {
    /// The bundle's own id.
    pub bundle_id: String,
    /// The device that sent it.
    pub device: DeviceId,
    /// The key that signed it.
    pub sign_pk: SignPublicKey,
    /// Why.
    pub reason: QuarantineReason,
    /// The name from its certificate.
    pub name: Option<String>,
    /// How many revisions it holds.
    pub revisions: u64,
}

const COLUMNS: &str =
    "id, bundle_id, device, sign_pk, reason, detail, name, received_at, revisions, size";

fn entries(
    conn: &Connection,
    tail: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<QuarantineEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM quarantine {tail}"))?;
    type Row = (
        Vec<u8>,
        String,
        Vec<u8>,
        Vec<u8>,
        String,
        String,
        Option<String>,
        String,
        i64,
        i64,
    );
    let rows = stmt
        .query_map(args, |r| {
            Ok::<Row, _>((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(
            |(id, bundle_id, device, pk, reason, detail, name, at, revisions, size)| {
                Ok(QuarantineEntry {
                    id: uuid_from(&id)?,
                    bundle_id,
                    device: DeviceId::from_uuid(uuid_from(&device)?),
                    sign_pk: key_from(&pk)?,
                    reason,
                    detail,
                    name,
                    received_at: time_from(&at)?,
                    revisions: revisions as u64,
                    size: size as u64,
                })
            },
        )
        .collect()
}

/// Removes a quarantine entry's rows inside the caller's transaction; its chunk file names are
/// returned, to remove once the transaction is committed.
pub(crate) fn remove_entry(tx: &Transaction<'_>, id: Uuid) -> Result<Vec<String>> {
    let key = id.as_bytes().as_slice();
    let mut stmt =
        tx.prepare_cached("SELECT blob FROM quarantine_chunks WHERE quarantine = ?1 ORDER BY idx")?;
    let names = stmt
        .query_map([key], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.prepare_cached("DELETE FROM quarantine_chunks WHERE quarantine = ?1")?
        .execute([key])?;
    tx.prepare_cached("DELETE FROM quarantine WHERE id = ?1")?
        .execute([key])?;
    Ok(names)
}

/// How much may wait in quarantine, so that senders nobody trusts cannot fill HQ's disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineLimits {
    /// Bundles (1,000 unless set).
    pub bundles: u64,
    /// Bytes of bundles (4 GiB unless set).
    pub bytes: u64,
}

impl Default for QuarantineLimits {
    fn default() -> Self {
        QuarantineLimits {
            bundles: 1_000,
            bytes: 4 << 30,
        }
    }
}

impl Vault {
    /// Sets how much may wait in quarantine while this vault is open.
    pub fn set_quarantine_limits(&mut self, limits: QuarantineLimits) {
        self.quarantine_limits = limits;
    }

    /// Whether a bundle of `size` bytes still fits in quarantine ([`QuarantineLimits`]);
    /// checked before it is copied in, and again when it is recorded.
    pub fn quarantine_room(&self, size: u64) -> Result<()> {
        let (count, bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM quarantine",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (count, bytes) = (count as u64, bytes as u64);
        let limits = self.quarantine_limits;
        if count >= limits.bundles || bytes.saturating_add(size) > limits.bytes {
            return Err(StoreError::QuarantineFull {
                bundles: count,
                bytes,
            });
        }
        Ok(())
    }

    /// Keeps a bundle (staged whole into this vault's chunk store) in quarantine. A bundle
    /// already there (the same id and the same bytes) is not kept twice: the entry it has is
    /// returned and the staged copy goes. Another file under a used bundle id is kept on its
    /// own: a forger cannot hide a bundle by sending its id first.
    pub fn quarantine_bundle(
        &mut self,
        staged: StagedAttachment,
        note: QuarantineNote,
    ) -> Result<QuarantineEntry> {
        let result = self.quarantine_inner(&staged, &note);
        match &result {
            Ok((_, true)) => {}
            _ => staged.discard(),
        }
        result.map(|(e, _)| e)
    }

    fn quarantine_inner(
        &mut self,
        staged: &StagedAttachment,
        note: &QuarantineNote,
    ) -> Result<(QuarantineEntry, bool)> {
        if !staged.is_in(&self.dir) {
            return Err(StoreError::Corrupted {
                detail: "a bundle staged for another vault".into(),
            });
        }
        if let Some(e) = entries(
            &self.conn,
            "WHERE bundle_id = ?1 AND sha256 = ?2",
            params![note.bundle_id, staged.sha256().as_slice()],
        )?
        .pop()
        {
            return Ok((e, false));
        }
        self.quarantine_room(staged.size())?;
        let id = Uuid::now_v7();
        let (key, names) = staged.parts();
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO quarantine (id, bundle_id, device, sign_pk, reason, detail, name, received_at,
                                     revisions, size, sha256, file_key, chunk_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                id.as_bytes().as_slice(),
                note.bundle_id,
                note.device.as_uuid().as_bytes().as_slice(),
                note.sign_pk.as_slice(),
                note.reason.code(),
                note.reason.describe(),
                note.name,
                now.to_rfc3339(),
                note.revisions as i64,
                staged.size() as i64,
                staged.sha256().as_slice(),
                key.expose_bytes().as_slice(),
                names.len() as i64,
            ],
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO quarantine_chunks (quarantine, idx, blob) VALUES (?1, ?2, ?3)",
            )?;
            for (i, name) in names.iter().enumerate() {
                stmt.execute(params![id.as_bytes().as_slice(), i as i64, name])?;
            }
        }
        tx.commit()?;
        let entry = entries(&self.conn, "WHERE id = ?1", [id.as_bytes().as_slice()])?
            .pop()
            .ok_or_else(|| StoreError::NotFound {
                what: "quarantine entry",
                id: id.to_string(),
            })?;
        Ok((entry, true))
    }

    /// Everything in quarantine, oldest first.
    pub fn quarantine(&self) -> Result<Vec<QuarantineEntry>> {
        entries(&self.conn, "ORDER BY received_at, id", [])
    }

    /// The quarantine entries a person names by device id or the start of the key (at least 8
    /// hex digits), oldest first. A device id that arrived with more than one key must be
    /// named by its key.
    pub fn quarantined_from(&self, who: &str) -> Result<Vec<QuarantineEntry>> {
        let all = self.quarantine()?;
        let who = who.trim();
        let found: Vec<QuarantineEntry> = if let Ok(id) = who.parse::<Uuid>() {
            let of: Vec<QuarantineEntry> = all
                .into_iter()
                .filter(|e| *e.device.as_uuid() == id)
                .collect();
            if of.iter().any(|e| e.sign_pk != of[0].sign_pk) {
                return Err(StoreError::AmbiguousDevice {
                    device: who.to_owned(),
                });
            }
            of
        } else {
            let digits: String = who
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if digits.len() < 8 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                Vec::new()
            } else {
                let of: Vec<QuarantineEntry> = all
                    .into_iter()
                    .filter(|e| hex::encode(e.sign_pk).starts_with(&digits))
                    .collect();
                if of.iter().any(|e| e.sign_pk != of[0].sign_pk) {
                    return Err(StoreError::AmbiguousDevice {
                        device: who.to_owned(),
                    });
                }
                of
            }
        };
        if found.is_empty() {
            return Err(StoreError::NotFound {
                what: "quarantined bundle from device",
                id: who.to_owned(),
            });
        }
        Ok(found)
    }

    /// The stored bundle of a quarantine entry, decrypted as it is read (its length and SHA-256
    /// are checked at the end).
    pub fn quarantine_reader(&self, id: Uuid) -> Result<impl Read + use<>> {
        self.stored_copy_reader(
            id,
            "quarantine entry",
            "SELECT file_key, sha256, size, chunk_count FROM quarantine WHERE id = ?1",
            "SELECT blob FROM quarantine_chunks WHERE quarantine = ?1 ORDER BY idx",
        )
    }

    /// Discards the quarantined bundles a person names (see [`Vault::quarantined_from`]).
    /// Returns how many went.
    pub fn drop_quarantined(&mut self, who: &str) -> Result<usize> {
        let found = self.quarantined_from(who)?;
        let tx = self.conn.transaction()?;
        let mut names = Vec::new();
        for e in &found {
            names.extend(remove_entry(&tx, e.id)?);
        }
        tx.commit()?;
        remove_chunks(&self.dir, &names);
        Ok(found.len())
    }
}

//! This vault's custody log, and the logs of other devices kept beside it.
//!
//! Every change that matters to a record's history (created, sealed, exported, imported) is a
//! custody event signed by this vault's device and chained to its previous one
//! ([`vigil_ledger::custody`]). Events received in bundles are other devices' logs, kept
//! append-only as history: they never replace what is kept here.

use chrono::{DateTime, FixedOffset};
use rusqlite::{OptionalExtension, Transaction, params};
use vigil_crypto::sign::DeviceKeys;
use vigil_ledger::RevisionId;
use vigil_ledger::custody::{CustodyEvent, CustodyKind, NewEvent};
use vigil_model::DeviceId;

use crate::Vault;
use crate::error::Result;
use crate::rows::{custody_from_row, insert_custody, known_device, sha_from};

/// The organisation a vault belongs to, as its documents name it.
pub(crate) fn org_of(conn: &rusqlite::Connection) -> Result<Option<uuid::Uuid>> {
    let id: Option<String> = conn
        .prepare_cached("SELECT org_id FROM org WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(id.and_then(|s| s.parse().ok()))
}

/// Appends a custody event signed by `keys`, inside the caller's transaction.
pub(crate) fn append_custody(
    tx: &Transaction<'_>,
    keys: &DeviceKeys,
    device: DeviceId,
    at: DateTime<FixedOffset>,
    event: CustodyKind,
    subject: &str,
    details: serde_json::Value,
) -> Result<()> {
    let dev = device.as_uuid().as_bytes().as_slice();
    let last: Option<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT seq, hash FROM custody_log WHERE device = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s as u64 + 1, Some(sha_from(&h)?)),
        None => (1, None),
    };
    let ev = CustodyEvent::sign(
        keys,
        NewEvent {
            org: org_of(tx)?,
            device,
            at,
            event,
            subject,
            details,
        },
        seq,
        prev,
    )?;
    insert_custody(tx, &ev)
}

/// What became of a custody event received in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    /// Stored now.
    Stored,
    /// Already here, identical.
    AlreadyHere,
    /// Not kept, and nothing wrong with it: its device is unknown here, or it is this vault's
    /// own event that cannot continue its log here (a bundle that does not hold the revision
    /// it records, or a gap).
    Skipped,
    /// It contradicts the history kept here (another event at its place, or a link to a
    /// neighbour that does not match). The kept history wins; the caller reports it.
    Conflict(String),
}

/// The hash of an event kept here, and its `prev` link.
type KeptEvent = (Vec<u8>, Option<Vec<u8>>);

/// Takes a custody event received in a bundle into the caller's transaction. Its signature
/// must verify with the key known for its device (a bad signature fails the import). The
/// history kept here is append-only and is never replaced: an event that contradicts it is a
/// [`Received::Conflict`].
pub(crate) fn store_received(
    tx: &Transaction<'_>,
    ev: &CustodyEvent,
    own: DeviceId,
) -> Result<Received> {
    // Whatever the caller put in `doc` and `hash`, only what the bytes say counts.
    let checked = CustodyEvent::from_signed(ev.bytes.clone(), ev.sig)?;
    let d = &checked.doc;
    let hash = checked.hash;
    let Some(key) = known_device(tx, d.device)? else {
        return Ok(Received::Skipped);
    };
    checked.verify(&key.sign_pk)?;
    let dev = d.device.as_uuid().as_bytes().as_slice();
    let hash_at = |seq: u64| -> Result<Option<KeptEvent>> {
        Ok(tx
            .prepare_cached(
                "SELECT hash, prev_hash FROM custody_log WHERE device = ?1 AND seq = ?2",
            )?
            .query_row(params![dev, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    };
    let by_id: Option<Vec<u8>> = tx
        .prepare_cached("SELECT hash FROM custody_log WHERE id = ?1")?
        .query_row([d.id.as_bytes().as_slice()], |r| r.get(0))
        .optional()?;
    let conflict = |what: &str| {
        Ok(Received::Conflict(format!(
            "custody event {} of device {}: {what}; the history kept here was left as it is",
            d.seq, d.device
        )))
    };
    match (hash_at(d.seq)?, by_id) {
        (Some((a, _)), Some(b)) if a == hash.0 && b == hash.0 => return Ok(Received::AlreadyHere),
        (None, None) => {}
        _ => return conflict("another event is kept at its place"),
    }
    if let Some((before, _)) = hash_at(d.seq - 1)?
        && d.prev.map(|p| p.0.to_vec()) != Some(before)
    {
        return conflict("it does not follow the event before it");
    }
    if let Some(next) = d.seq.checked_add(1)
        && let Some((_, after_prev)) = hash_at(next)?
        && after_prev != Some(hash.0.to_vec())
    {
        return conflict("the event after it does not follow it");
    }
    if d.device == own {
        // This vault's own log (restoring from its own bundle) must run without a gap, and a
        // `sealed` event needs its revision here (the chain check demands it).
        let last: Option<i64> = tx
            .prepare_cached("SELECT max(seq) FROM custody_log WHERE device = ?1")?
            .query_row([dev], |r| r.get(0))?;
        if d.seq != last.map_or(1, |l| l as u64 + 1) {
            return Ok(Received::Skipped);
        }
        if d.event == CustodyKind::Sealed {
            let stored: Option<Vec<u8>> = match d.subject.parse::<RevisionId>() {
                Ok(id) => tx
                    .prepare_cached("SELECT hash FROM revisions WHERE id = ?1 AND device = ?2")?
                    .query_row(params![id.0.as_bytes().as_slice(), dev], |r| r.get(0))
                    .optional()?,
                Err(_) => None,
            };
            let named = d.details["hash"].as_str().map(str::to_owned);
            if stored.map(hex::encode) != named {
                return Ok(Received::Skipped);
            }
        }
    }
    insert_custody(tx, &checked)?;
    Ok(Received::Stored)
}

impl Vault {
    /// The custody log, by device and chain position.
    pub fn custody_log(&self) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc, hash, sig FROM custody_log ORDER BY device, seq")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(bytes, hash, sig)| custody_from_row(bytes, &hash, &sig))
            .collect()
    }

    /// This device's own custody events, newest first, as long as `fits` says they fit (a
    /// bundle carries as much of its device's history as its limits allow).
    pub fn own_custody_newest_first(
        &self,
        mut fits: impl FnMut(&CustodyEvent) -> bool,
    ) -> Result<Vec<CustodyEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc, hash, sig FROM custody_log WHERE device = ?1 ORDER BY seq DESC",
        )?;
        let mut rows = stmt.query([self.device.as_uuid().as_bytes().as_slice()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let ev = custody_from_row(
                r.get(0)?,
                &r.get::<_, Vec<u8>>(1)?,
                &r.get::<_, Vec<u8>>(2)?,
            )?;
            if !fits(&ev) {
                break;
            }
            out.push(ev);
        }
        Ok(out)
    }
}

//! What the vault holds that bears on one incoming revision, looked up by index for
//! [`vigil_ledger::authorise`], and the rows an applied revision adds to the running log.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, Transaction, params};
use vigil_crypto::sign::DevicePublic;
use vigil_ledger::authorise::IncidentFacts;
use vigil_ledger::revision::VerifiedRevision;
use vigil_model::{AttachmentId, DeviceId, EntryId, IncidentId, LogEntry};

use crate::error::Result;
use crate::rows::{known_device, sha_from};
use crate::{register, uuid_from};

pub(crate) fn attachment_held(tx: &Transaction<'_>, id: AttachmentId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM attachments WHERE id = ?1")?
        .exists([id.as_uuid().as_bytes().as_slice()])?)
}

/// What the vault holds that bears on one revision (see [`IncidentFacts`]): each an indexed
/// lookup, so a bundle of many revisions of one incident is checked in linear time.
pub(crate) fn facts_for(tx: &Transaction<'_>, v: &VerifiedRevision) -> Result<IncidentFacts> {
    let doc = v.document();
    let r = v.revision();
    let inc = r.incident.as_uuid().as_bytes().as_slice();
    let key = v.sign_pk().as_slice();
    let exists = tx
        .prepare_cached("SELECT 1 FROM incidents WHERE id = ?1")?
        .exists([inc])?;
    let sealed = tx
        .prepare_cached("SELECT 1 FROM revisions WHERE incident = ?1 LIMIT 1")?
        .exists([inc])?;
    let holds_amended = match r.amends {
        Some(a) => tx
            .prepare_cached("SELECT 1 FROM revisions WHERE id = ?1 AND incident = ?2")?
            .exists(params![a.0.as_bytes().as_slice(), inc])?,
        None => false,
    };
    let sealed_by_key = tx
        .prepare_cached(
            "SELECT 1 FROM known_devices k JOIN revisions r ON r.device = k.device
             WHERE k.sign_pk = ?1 AND r.incident = ?2 LIMIT 1",
        )?
        .exists(params![key, inc])?;
    let mut facts = IncidentFacts {
        exists,
        sealed,
        holds_amended,
        sealed_by_key,
        granted: register::granted(tx, r.incident)?,
        ..IncidentFacts::default()
    };
    let mut devices: BTreeSet<DeviceId> = BTreeSet::new();
    for e in &doc.log {
        if let Some(held) = entry_by_id(tx, e.id)? {
            facts
                .entries
                .insert(e.id, vigil_ledger::authorise::entry_digest(&held));
            continue;
        }
        let at: Option<Vec<u8>> = tx
            .prepare_cached(
                "SELECT id FROM log_entries WHERE incident_id = ?1 AND device = ?2 AND seq = ?3",
            )?
            .query_row(
                params![inc, e.device.as_uuid().as_bytes().as_slice(), e.seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = at {
            facts
                .places
                .insert((e.device, e.seq), EntryId::from_uuid(uuid_from(&id)?));
        }
        devices.insert(e.device);
    }
    for d in devices {
        if let Some(DevicePublic { sign_pk, .. }) = known_device(tx, d)? {
            facts.device_keys.insert(d, sign_pk);
        }
    }
    for a in &doc.attachments {
        let row: Option<(Vec<u8>, Vec<u8>)> = tx
            .prepare_cached("SELECT incident_id, sha256 FROM attachments WHERE id = ?1")?
            .query_row([a.id.as_uuid().as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((held_in, sha)) = row {
            facts.attachments.insert(
                a.id,
                (IncidentId::from_uuid(uuid_from(&held_in)?), sha_from(&sha)?),
            );
        }
    }
    Ok(facts)
}

fn entry_by_id(tx: &Transaction<'_>, id: EntryId) -> Result<Option<LogEntry>> {
    tx.prepare_cached(&format!(
        "SELECT {} FROM log_entries WHERE id = ?1",
        crate::rows::ENTRY_COLUMNS
    ))?
    .query_row(
        [id.as_uuid().as_bytes().as_slice()],
        crate::rows::entry_from_row,
    )
    .optional()?
    .map(crate::rows::RawEntry::into_entry)
    .transpose()
}

pub(crate) fn insert_log_entry(tx: &Transaction<'_>, e: &LogEntry) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO log_entries (id, incident_id, seq, at, text, device, flagged, corrects,
                                  happened_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        e.id.as_uuid().as_bytes().as_slice(),
        e.incident.as_uuid().as_bytes().as_slice(),
        e.seq as i64,
        e.at.to_rfc3339(),
        e.text,
        e.device.as_uuid().as_bytes().as_slice(),
        e.flagged,
        e.corrects.map(|c| c.as_uuid().as_bytes().to_vec()),
        e.happened_at.map(|h| h.to_rfc3339()),
    ])?;
    crate::search::index_entry(tx, e)
}

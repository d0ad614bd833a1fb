//! Attachments that came in parts: a record larger than one bundle file (FAT32: 4 GiB), its
//! attachments cut into parts across several bundles (see `vigil_bundle::parts`).
//!
//! - Every part list a bundle brings is kept (`part_lists`), named by the SHA-256 of its
//!   canonical JSON; each part, checked against its list on arrival, is staged into the chunk
//!   store like an attachment (`parts`, `part_chunks`). Bundles arrive in any order; a part
//!   already here is not stored twice.
//! - A revision whose attachment came as a part list, not whole, is applied, and its
//!   attachment waits (`awaiting_parts`: a row without key or chunks): reading it says which
//!   parts are missing ([`Vault::attachment_parts`]).
//! - Once a list has all its parts, [`Vault::assemble_parts`] joins them (each part checked
//!   against its SHA-256 as it is read), stages the whole, checks it against the SHA-256 and
//!   size the revision names, and gives it to every attachment waiting for that content; then
//!   the parts go. A list whose parts join into other content than it claims is dropped.

use std::collections::{BTreeSet, VecDeque};
use std::io::Read;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use vigil_ledger::revision::AttachmentRef;
use vigil_model::{AttachmentId, IncidentId, Sha256};

use crate::Vault;
use crate::attachments::AttachmentReader;
use crate::error::{Result, StoreError};
use crate::incoming::Incoming;
use crate::staging::{StagedAttachment, remove_chunks, stage_attachment};

/// How far an attachment that came in parts is: parts here of all, and which are missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartsState {
    /// Parts here (of the most complete list).
    pub have: u64,
    /// Parts in all.
    pub of: u64,
    /// The missing parts' numbers, from 1.
    pub missing: Vec<u64>,
}

/// Whether a part list for the content `sha256` is kept here.
pub(crate) fn list_held(conn: &Connection, sha256: &Sha256) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM part_lists WHERE sha256 = ?1")?
        .exists([sha256.0.as_slice()])?)
}

/// Records attachment `a` of `incident` as waiting for its parts: no key, no chunks.
pub(crate) fn insert_awaiting(
    conn: &Connection,
    a: &AttachmentRef,
    incident: IncidentId,
    now: &chrono::DateTime<chrono::FixedOffset>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO attachments (id, incident_id, original_name, media_type, size, sha256,
                                  added_at, file_key, chunk_count, awaiting_parts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, zeroblob(32), 0, 1)",
    )?
    .execute(params![
        a.id.as_uuid().as_bytes().as_slice(),
        incident.as_uuid().as_bytes().as_slice(),
        a.original_name,
        a.media_type,
        a.size as i64,
        a.sha256.0.as_slice(),
        now.to_rfc3339(),
    ])?;
    Ok(())
}

/// Stores the part lists and parts `incoming` brought, but none of content already whole here.
/// A part already here stays in
/// `incoming` (its staged copy is discarded with it); a stored one moves to `used`, whose
/// chunks are the vault's once the transaction commits. Returns the parts stored.
pub(crate) fn store_incoming(
    conn: &Connection,
    incoming: &mut Incoming,
    used: &mut Vec<StagedAttachment>,
    now: &chrono::DateTime<chrono::FixedOffset>,
) -> Result<usize> {
    let mut list = conn.prepare_cached(
        "INSERT OR IGNORE INTO part_lists (id, sha256, size, parts, body, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // Content already whole here needs no parts (importing a bundle again, once joined).
    let mut whole = conn.prepare_cached(
        "SELECT 1 FROM attachments WHERE sha256 = ?1 AND size = ?2 AND awaiting_parts = 0",
    )?;
    let mut skipped: Vec<[u8; 32]> = Vec::new();
    for l in &incoming.part_lists {
        if whole.exists(params![l.sha256.0.as_slice(), l.size as i64])? {
            skipped.push(l.id);
            continue;
        }
        list.execute(params![
            l.id.as_slice(),
            l.sha256.0.as_slice(),
            l.size as i64,
            l.parts as i64,
            l.body,
            now.to_rfc3339()
        ])?;
    }
    let mut held = conn.prepare_cached("SELECT 1 FROM parts WHERE list = ?1 AND idx = ?2")?;
    let mut row = conn.prepare_cached(
        "INSERT INTO parts (list, idx, size, sha256, file_key, chunk_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut chunk = conn.prepare_cached(
        "INSERT INTO part_chunks (list, idx, chunk, blob) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut stored = 0;
    let mut kept = Vec::new();
    for p in std::mem::take(&mut incoming.parts) {
        if skipped.contains(&p.list) || held.exists(params![p.list.as_slice(), p.index as i64])? {
            kept.push(p);
            continue;
        }
        let s = &p.staged;
        row.execute(params![
            p.list.as_slice(),
            p.index as i64,
            s.size as i64,
            s.sha256.as_slice(),
            s.key.expose_bytes().as_slice(),
            s.names.len() as i64
        ])?;
        for (i, name) in s.names.iter().enumerate() {
            chunk.execute(params![p.list.as_slice(), p.index as i64, i as i64, name])?;
        }
        stored += 1;
        used.push(p.staged);
    }
    incoming.parts = kept;
    Ok(stored)
}

/// Gives the whole attachments `incoming` brought to the attachments here that wait for parts
/// of that content (a record exported first in parts, then whole, say, to another stick), and
/// drops that content's part lists. The staged copies used move to `used`; returns the chunk
/// files of the parts dropped (to remove once the transaction commits) and how many waited.
pub(crate) fn fill_awaiting(
    conn: &Connection,
    incoming: &mut Incoming,
    used: &mut Vec<StagedAttachment>,
) -> Result<(Vec<String>, usize)> {
    let mut names = Vec::new();
    let mut filled = 0;
    let shas: Vec<Sha256> = incoming.attachments.keys().copied().collect();
    for sha in shas {
        let waiting = match incoming.attachments.get(&sha) {
            Some(staged) => awaiting(conn, &sha.0, staged.size as i64)?,
            None => continue,
        };
        if waiting.is_empty() {
            continue;
        }
        if let Some(staged) = incoming.attachments.remove(&sha) {
            names.extend(give_whole(conn, &sha.0, &waiting, staged, used)?);
            filled += waiting.len();
        }
    }
    Ok((names, filled))
}

/// The attachments here that wait for parts of the content `sha` of `size` bytes.
fn awaiting(conn: &Connection, sha: &[u8], size: i64) -> Result<Vec<Vec<u8>>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM attachments WHERE awaiting_parts = 1 AND sha256 = ?1 AND size = ?2",
        )?
        .query_map(params![sha, size], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Gives the whole content `staged` to the attachments `ids` waiting for it (a copy of the
/// chunks for each after the first), and removes every part list of the content `sha` with
/// its parts. Every staged copy goes to `used` (the caller discards them if the transaction
/// does not commit); returns the removed parts' chunk files, to remove once it has.
fn give_whole(
    conn: &Connection,
    sha: &[u8],
    ids: &[Vec<u8>],
    staged: StagedAttachment,
    used: &mut Vec<StagedAttachment>,
) -> Result<Vec<String>> {
    let first = used.len();
    used.push(staged);
    for _ in 1..ids.len() {
        let copy = used[first].duplicate()?;
        used.push(copy);
    }
    for (id, s) in ids.iter().zip(&used[first..]) {
        conn.execute(
            "UPDATE attachments SET file_key = ?2, chunk_count = ?3, awaiting_parts = 0
             WHERE id = ?1",
            params![id, s.key.expose_bytes().as_slice(), s.names.len() as i64],
        )?;
        crate::attachments::insert_chunk_rows(conn, id, &s.names)?;
    }
    let lists: Vec<Vec<u8>> = conn
        .prepare_cached("SELECT id FROM part_lists WHERE sha256 = ?1")?
        .query_map([sha], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    delete_lists(conn, &lists)
}

/// Reads the parts of a list one after the other, each checked against its SHA-256 at its end.
struct Joined(VecDeque<AttachmentReader>);

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(r) = self.0.front_mut() {
            let n = r.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.0.pop_front();
        }
        Ok(0)
    }
}

impl Vault {
    /// How far attachment `id` is when it came in parts and waits for some; `None` for an
    /// attachment that is whole here (or was never in parts).
    pub fn attachment_parts(&self, id: AttachmentId) -> Result<Option<PartsState>> {
        let row: Option<(i64, Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT awaiting_parts, sha256, size FROM attachments WHERE id = ?1",
                [id.as_uuid().as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((1, sha, size)) = row else {
            return Ok(None);
        };
        let lists: Vec<(Vec<u8>, i64)> = self
            .conn
            .prepare_cached("SELECT id, parts FROM part_lists WHERE sha256 = ?1 AND size = ?2")?
            .query_map(params![sha, size], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut best = PartsState {
            have: 0,
            of: 0,
            missing: Vec::new(),
        };
        for (list, parts) in lists {
            let here: BTreeSet<i64> = self
                .conn
                .prepare_cached("SELECT idx FROM parts WHERE list = ?1")?
                .query_map([&list], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if best.of == 0 || here.len() as u64 > best.have {
                best = PartsState {
                    have: here.len() as u64,
                    of: parts as u64,
                    missing: (0..parts)
                        .filter(|i| !here.contains(i))
                        .map(|i| i as u64 + 1)
                        .collect(),
                };
            }
        }
        Ok(Some(best))
    }

    /// The error for reading attachment `id` while it waits for parts, if it does.
    pub(crate) fn incomplete(&self, id: AttachmentId) -> Result<Option<StoreError>> {
        Ok(self
            .attachment_parts(id)?
            .map(|p| StoreError::AttachmentIncomplete {
                id: id.to_string(),
                missing: p.missing.len() as u64,
                of: p.of,
            }))
    }

    /// Joins the parts of every attachment waiting for them whose list is now complete (see
    /// the module documentation). Returns how many contents were completed.
    pub fn assemble_parts(&mut self) -> Result<usize> {
        let complete: Vec<(Vec<u8>, i64, Vec<u8>, i64)> = self
            .conn
            .prepare(
                "SELECT DISTINCT a.sha256, a.size, l.id, l.parts
                 FROM attachments a JOIN part_lists l ON l.sha256 = a.sha256 AND l.size = a.size
                 WHERE a.awaiting_parts = 1
                   AND (SELECT count(*) FROM parts p WHERE p.list = l.id) = l.parts",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut done: BTreeSet<Vec<u8>> = BTreeSet::new();
        for (sha, size, list, parts) in complete {
            if done.contains(&sha) {
                continue;
            }
            let readers = (0..parts)
                .map(|i| self.part_reader(&list, i))
                .collect::<Result<VecDeque<_>>>()?;
            let staged = stage_attachment(&self.dir, Joined(readers), None)?;
            if staged.size != size as u64 || staged.sha256.as_slice() != sha.as_slice() {
                // Parts that join into other content than the list claims: the list goes.
                staged.discard();
                self.drop_lists(&[list])?;
                continue;
            }
            self.complete_with(&sha, size, staged)?;
            done.insert(sha);
        }
        Ok(done.len())
    }

    /// A reader over part `idx` of `list`, checked against its size and SHA-256 at its end.
    fn part_reader(&self, list: &[u8], idx: i64) -> Result<AttachmentReader> {
        self.stored_copy_reader_by(
            uuid::Uuid::nil(),
            "a part of an attachment",
            "SELECT file_key, sha256, size, chunk_count FROM parts WHERE list = ?1 AND idx = ?2",
            "SELECT blob FROM part_chunks WHERE list = ?1 AND idx = ?2 ORDER BY chunk",
            params![list, idx],
        )
    }

    /// Gives the staged whole content to every attachment waiting for it, and removes every
    /// list of that content with its parts, in one transaction.
    fn complete_with(&mut self, sha: &[u8], size: i64, staged: StagedAttachment) -> Result<()> {
        let mut used = Vec::new();
        let result = (|| {
            let tx = self.conn.transaction()?;
            let ids = awaiting(&tx, sha, size)?;
            let names = give_whole(&tx, sha, &ids, staged, &mut used)?;
            tx.commit()?;
            Ok::<_, StoreError>(names)
        })();
        match result {
            Ok(names) => {
                remove_chunks(&self.dir, &names);
                Ok(())
            }
            Err(e) => {
                used.into_iter().for_each(StagedAttachment::discard);
                Err(e)
            }
        }
    }

    /// Removes part lists with their parts and chunk files.
    fn drop_lists(&mut self, lists: &[Vec<u8>]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let names = delete_lists(&tx, lists)?;
        tx.commit()?;
        remove_chunks(&self.dir, &names);
        Ok(())
    }
}

/// Deletes the rows of `lists` and their parts; returns their chunk files' names.
fn delete_lists(conn: &Connection, lists: &[Vec<u8>]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for list in lists {
        names.extend(
            conn.prepare_cached("SELECT blob FROM part_chunks WHERE list = ?1")?
                .query_map([list], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        );
        conn.execute("DELETE FROM part_chunks WHERE list = ?1", [list])?;
        conn.execute("DELETE FROM parts WHERE list = ?1", [list])?;
        conn.execute("DELETE FROM part_lists WHERE id = ?1", [list])?;
    }
    Ok(names)
}

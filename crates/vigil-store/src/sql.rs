//! The statements the vault runs, over any rusqlite connection with the vault schema.
//!
//! [`crate::Vault`] calls these on its keyed SQLCipher connection; the benchmarks call the very
//! same functions on a plain, unkeyed SQLite connection, so that the reference runs identical
//! SQL and the comparison measures encryption alone.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use vigil_model::{DeviceId, EntryId, Incident, IncidentId, IncidentStatus, LogEntry};

use crate::error::{Result, StoreError};
use crate::{IncidentSummary, ListQuery};

// Re-exported for the benchmark's reference (the `bench` feature); the vault itself calls them
// from their own modules.
#[cfg_attr(not(feature = "bench"), allow(unused_imports))]
pub use crate::schema::{SCHEMA_VERSION, migrate};
#[cfg_attr(not(feature = "bench"), allow(unused_imports))]
pub use crate::search::{fts_query, index_entry, index_incident, search};

/// The page cache, in KiB as SQLite counts it (negative): 16 MiB, enough for the pages a list,
/// a search or an open record touches again (an import uses a smaller one; `Vault::
/// release_memory` empties it after an export or import).
pub const CACHE_KIB: i64 = -16384;

/// The per-connection settings (`journal_mode = WAL` is set once, at creation, and persists).
pub fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    Ok(())
}

/// Milliseconds since the epoch, for the indexed time columns.
pub fn to_ms(t: &DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

/// The status as stored in the `status` column.
pub fn status_str(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Draft => "draft",
        IncidentStatus::Sealed => "sealed",
    }
}

/// Inserts a new incident and its search rows. A duplicate id is refused.
pub fn insert_incident(tx: &Transaction<'_>, i: &Incident) -> Result<()> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO incidents (id, title, status, created_ms, updated_ms, start_ms, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            i.id.as_uuid().as_bytes().as_slice(),
            i.title,
            status_str(i.status),
            to_ms(&i.created_at),
            to_ms(&i.updated_at),
            i.start.at.as_ref().map(to_ms),
            i.to_json()
        ])?;
    if inserted == 0 {
        return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
            vigil_model::FieldError::new(
                "id",
                vigil_model::Problem::DuplicateId {
                    id: i.id.to_string(),
                },
            ),
        ])));
    }
    index_incident(tx, i, false)?;
    index_filters(tx, i, false)?;
    Ok(())
}

/// Rewrites an existing incident's row and search rows.
pub fn update_incident(tx: &Transaction<'_>, next: &Incident) -> Result<()> {
    tx.prepare_cached(
        "UPDATE incidents SET title = ?2, status = ?3, updated_ms = ?4, start_ms = ?5, doc = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        next.id.as_uuid().as_bytes().as_slice(),
        next.title,
        status_str(next.status),
        to_ms(&next.updated_at),
        next.start.at.as_ref().map(to_ms),
        next.to_json()
    ])?;
    index_incident(tx, next, true)?;
    index_filters(tx, next, true)
}

/// Reads one incident.
pub fn load_incident(conn: &Connection, id: IncidentId) -> Result<Incident> {
    let doc: String = conn
        .prepare_cached("SELECT doc FROM incidents WHERE id = ?1")?
        .query_row([id.as_uuid().as_bytes().as_slice()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "incident",
            id: id.to_string(),
        })?;
    Ok(Incident::from_json(&doc)?)
}

const FILTERS: &str = "
    (?1 IS NULL OR i.status = ?1)
    AND (?2 IS NULL OR EXISTS (SELECT 1 FROM incident_terms t WHERE t.code = ?2 AND t.incident = i.id))
    AND (?3 IS NULL OR EXISTS (SELECT 1 FROM incident_tags g WHERE g.tag = lower(?3) AND g.incident = i.id))
    AND (?4 IS NULL OR coalesce(i.start_ms, i.created_ms) >= ?4)
    AND (?5 IS NULL OR coalesce(i.start_ms, i.created_ms) < ?5)
    AND (?6 IS NULL OR i.id IN (SELECT incident FROM search_index WHERE search_index MATCH ?6))";

fn filter_params(q: &ListQuery) -> [rusqlite::types::Value; 6] {
    use rusqlite::types::Value;
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_owned()));
    let ms =
        |t: Option<&DateTime<FixedOffset>>| t.map_or(Value::Null, |t| Value::Integer(to_ms(t)));
    let fts = q.text.as_deref().and_then(fts_query);
    [
        text(q.status.map(status_str)),
        text(q.violation.as_deref().filter(|s| !s.is_empty())),
        text(q.tag.as_deref().map(str::trim).filter(|s| !s.is_empty())),
        ms(q.from.as_ref()),
        ms(q.to.as_ref()),
        text(fts.as_deref()),
    ]
}

/// A page of incidents that pass the filters, newest first.
pub fn list_incidents(conn: &Connection, q: &ListQuery) -> Result<Vec<IncidentSummary>> {
    let limit = if q.limit == 0 { 100 } else { q.limit };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT i.doc,
                (SELECT count(*) FROM log_entries l WHERE l.incident_id = i.id),
                (SELECT count(*) FROM attachments a WHERE a.incident_id = i.id)
         FROM incidents i
         WHERE {FILTERS}
         ORDER BY i.created_ms DESC, i.id DESC
         LIMIT ?7 OFFSET ?8"
    ))?;
    let [a, b, c, d, e, f] = filter_params(q);
    let rows = stmt.query_map(params![a, b, c, d, e, f, limit, q.offset], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, logs, atts) = row?;
        let inc = Incident::from_json(&doc)?;
        out.push(IncidentSummary {
            id: inc.id,
            title: inc.title,
            status: inc.status,
            created_at: inc.created_at,
            updated_at: inc.updated_at,
            log_entries: logs as u64,
            attachments: atts as u64,
        });
    }
    Ok(out)
}

/// The number of incidents that pass the filters.
pub fn count_matching(conn: &Connection, q: &ListQuery) -> Result<u64> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT count(*) FROM incidents i WHERE {FILTERS}"))?;
    let [a, b, c, d, e, f] = filter_params(q);
    let n: i64 = stmt.query_row(params![a, b, c, d, e, f], |r| r.get(0))?;
    Ok(n as u64)
}

/// Rewrites the filter rows (violation codes, tags) of an incident.
fn index_filters(tx: &Transaction<'_>, i: &Incident, replace: bool) -> Result<()> {
    let id = i.id.as_uuid().as_bytes().as_slice();
    if replace {
        tx.prepare_cached("DELETE FROM incident_terms WHERE incident = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM incident_tags WHERE incident = ?1")?
            .execute([id])?;
    }
    let mut terms =
        tx.prepare_cached("INSERT OR IGNORE INTO incident_terms (incident, code) VALUES (?1, ?2)")?;
    for v in &i.violations {
        terms.execute(params![id, v.as_str()])?;
    }
    let mut tags =
        tx.prepare_cached("INSERT OR IGNORE INTO incident_tags (incident, tag) VALUES (?1, ?2)")?;
    for t in &i.tags {
        tags.execute(params![id, t.trim().to_lowercase()])?;
    }
    Ok(())
}

/// Stores the editor's unsaved state of an incident.
pub fn save_draft(conn: &Connection, i: &Incident, now: &DateTime<FixedOffset>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO editor_drafts (incident, doc, saved_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (incident) DO UPDATE SET doc = excluded.doc, saved_ms = excluded.saved_ms",
    )?
    .execute(params![
        i.id.as_uuid().as_bytes().as_slice(),
        i.to_json(),
        to_ms(now)
    ])?;
    Ok(())
}

/// The editor's unsaved state of an incident, if any.
pub fn load_draft(conn: &Connection, id: IncidentId) -> Result<Option<Incident>> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM editor_drafts WHERE incident = ?1")?
        .query_row([id.as_uuid().as_bytes().as_slice()], |r| r.get(0))
        .optional()?;
    Ok(match doc {
        Some(d) => Some(Incident::from_json(&d)?),
        None => None,
    })
}

/// Drops the editor's unsaved state once the incident itself is saved.
pub fn clear_draft(tx: &Connection, id: IncidentId) -> Result<()> {
    tx.prepare_cached("DELETE FROM editor_drafts WHERE incident = ?1")?
        .execute([id.as_uuid().as_bytes().as_slice()])?;
    Ok(())
}

/// The number of incidents.
pub fn count_incidents(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM incidents")?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

/// What a person writes as one running-log entry: its text and what it says about itself. The
/// vault adds its place, time of writing and device.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewEntry<'a> {
    /// The note.
    pub text: &'a str,
    /// A key moment.
    pub flagged: bool,
    /// The earlier entry of the same incident that it corrects.
    pub corrects: Option<EntryId>,
    /// When it happened, if earlier than its writing.
    pub happened_at: Option<DateTime<FixedOffset>>,
}

impl<'a> NewEntry<'a> {
    /// A plain note.
    pub fn note(text: &'a str, flagged: bool) -> Self {
        NewEntry {
            text,
            flagged,
            ..NewEntry::default()
        }
    }
}

/// Appends a running-log entry in its own IMMEDIATE transaction and commits it (durable when
/// this returns, with `synchronous = FULL`). A correction must name an entry already in the
/// incident's log. With `draft_after`, the incident's input draft is set to it in the same
/// transaction.
pub fn append_log(
    conn: &mut Connection,
    device: DeviceId,
    incident: IncidentId,
    new: &NewEntry<'_>,
    at: DateTime<FixedOffset>,
    draft_after: Option<&str>,
) -> Result<LogEntry> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let key = incident.as_uuid().as_bytes().to_vec();
    require_incident(&tx, incident)?;
    let seq: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM log_entries WHERE incident_id = ?1")?
        .query_row([&key], |r| r.get(0))?;
    let entry = LogEntry {
        id: EntryId::new(),
        incident,
        seq: seq as u64,
        at,
        text: new.text.to_owned(),
        device,
        flagged: new.flagged,
        corrects: new.corrects,
        happened_at: new.happened_at,
    };
    entry.validate()?;
    if let Some(target) = entry.corrects {
        let held = tx
            .prepare_cached("SELECT 1 FROM log_entries WHERE id = ?1 AND incident_id = ?2")?
            .exists(params![target.as_uuid().as_bytes().as_slice(), key])?;
        if !held {
            return Err(
                vigil_model::ValidationErrors(vec![vigil_model::FieldError::new(
                    "corrects",
                    vigil_model::Problem::UnknownEntry {
                        id: target.to_string(),
                    },
                )])
                .into(),
            );
        }
    }
    crate::facts::insert_log_entry(&tx, &entry)?;
    if let Some(draft) = draft_after {
        set_log_draft(&tx, incident, draft, &at)?;
    }
    tx.commit()?;
    Ok(entry)
}

/// `NotFound` unless the incident is in the vault.
fn require_incident(conn: &Connection, incident: IncidentId) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM incidents WHERE id = ?1")?
        .exists([incident.as_uuid().as_bytes().as_slice()])?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "incident",
            id: incident.to_string(),
        })
    }
}

/// Keeps what is typed in an incident's running-log input but not yet entered; blank text
/// removes it. Longer than an entry may be: refused, as the entry would be.
pub fn set_log_draft(
    conn: &Connection,
    incident: IncidentId,
    text: &str,
    now: &DateTime<FixedOffset>,
) -> Result<()> {
    let key = incident.as_uuid().as_bytes().to_vec();
    if text.trim().is_empty() {
        conn.prepare_cached("DELETE FROM log_drafts WHERE incident = ?1")?
            .execute([&key])?;
        return Ok(());
    }
    if text.chars().count() > vigil_model::MAX_ENTRY_CHARS {
        let too_long = vigil_model::Problem::TooLong {
            max: vigil_model::MAX_ENTRY_CHARS,
        };
        return Err(
            vigil_model::ValidationErrors(vec![vigil_model::FieldError::new("text", too_long)])
                .into(),
        );
    }
    require_incident(conn, incident)?;
    conn.prepare_cached(
        "INSERT INTO log_drafts (incident, text, saved_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (incident) DO UPDATE SET text = excluded.text, saved_ms = excluded.saved_ms",
    )?
    .execute(params![key, text, to_ms(now)])?;
    Ok(())
}

/// The running-log input's draft of an incident, if any.
pub fn log_draft(conn: &Connection, incident: IncidentId) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT text FROM log_drafts WHERE incident = ?1")?
        .query_row([incident.as_uuid().as_bytes().as_slice()], |r| r.get(0))
        .optional()?)
}

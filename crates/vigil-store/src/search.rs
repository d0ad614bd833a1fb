//! Full-text search (FTS5) inside the encrypted database.
//!
//! One table, `search_index`, holds a row per incident (title, summary, place, tags), per party
//! (its name and notes) and per running-log entry. Rows for an incident and its parties are
//! replaced whenever the incident is saved; log rows are only ever added, like the log itself.
//! The user's words are quoted one by one (so punctuation can never be FTS syntax) and the last
//! word matches as a prefix, for search as you type.

use rusqlite::{Connection, Transaction, params};
use serde::{Deserialize, Serialize};
use vigil_model::{Incident, IncidentId, LogEntry};

use crate::error::Result;
use crate::uuid_from;

/// One search result: an incident and the best place it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SearchHit {
    /// The incident.
    pub id: IncidentId,
    /// Its title.
    pub title: String,
    /// What matched: `incident`, `party` or `log`.
    pub matched: String,
    /// A short excerpt around the match, with the match in `[` `]`.
    pub snippet: String,
}

/// Writes the full-text rows of an incident and its parties. With `replace`, the incident's
/// previous rows are removed first (found through `search_refs`, not by scanning the index).
pub fn index_incident(tx: &Transaction<'_>, i: &Incident, replace: bool) -> Result<()> {
    let id = i.id.as_uuid().as_bytes().to_vec();
    if replace {
        tx.prepare_cached(
            "DELETE FROM search_index WHERE rowid IN
             (SELECT fts_rowid FROM search_refs WHERE incident = ?1)",
        )?
        .execute([&id])?;
        tx.prepare_cached("DELETE FROM search_refs WHERE incident = ?1")?
            .execute([&id])?;
    }
    let mut body = String::new();
    for part in [
        &i.title,
        &i.summary,
        &i.location.place,
        &i.location.admin_area,
    ] {
        body.push_str(part);
        body.push('\n');
    }
    for t in &i.tags {
        body.push_str(t);
        body.push(' ');
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO search_index (body, kind, incident, ref) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut refs =
        tx.prepare_cached("INSERT INTO search_refs (fts_rowid, incident) VALUES (?1, ?2)")?;
    insert.execute(params![body, "incident", id, id])?;
    refs.execute(params![tx.last_insert_rowid(), id])?;
    for p in &i.parties {
        insert.execute(params![
            party_text(p),
            "party",
            id,
            p.id.as_uuid().as_bytes().as_slice()
        ])?;
        refs.execute(params![tx.last_insert_rowid(), id])?;
    }
    Ok(())
}

fn party_text(p: &vigil_model::Party) -> String {
    use vigil_model::PartyKind;
    let mut t = p.display_name();
    match &p.kind {
        PartyKind::Person {
            occupation: Some(o),
            ..
        } => {
            t.push('\n');
            t.push_str(o);
        }
        PartyKind::Group {
            name, description, ..
        } => {
            for s in [name, description] {
                if !t.contains(s.as_str()) {
                    t.push('\n');
                    t.push_str(s);
                }
            }
        }
        _ => {}
    }
    t.push('\n');
    t.push_str(&p.notes);
    t
}

/// Writes the full-text row of a running-log entry.
pub fn index_entry(tx: &Transaction<'_>, e: &LogEntry) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO search_index (body, kind, incident, ref) VALUES (?1, 'log', ?2, ?3)",
    )?
    .execute(params![
        e.text,
        e.incident.as_uuid().as_bytes().as_slice(),
        e.id.as_uuid().as_bytes().as_slice()
    ])?;
    Ok(())
}

/// Turns what a person typed into a safe FTS5 query: each word quoted, the last one a prefix.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<&str> = input.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut q = String::new();
    for (n, w) in words.iter().enumerate() {
        if n > 0 {
            q.push(' ');
        }
        q.push('"');
        q.push_str(&w.replace('"', "\"\""));
        q.push('"');
        if n + 1 == words.len() {
            q.push('*');
        }
    }
    Some(q)
}

/// Runs a search (see [`fts_query`]) on any connection with the vault schema.
pub fn search(conn: &Connection, input: &str, limit: u32) -> Result<Vec<SearchHit>> {
    let Some(q) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let limit = if limit == 0 { 50 } else { limit };
    // Newest rows first; one hit per incident. FTS5 walks rowids in descending order natively,
    // so a LIMIT stops the scan early even when a word matches most of the vault.
    let mut stmt = conn.prepare_cached(
        "SELECT s.incident, s.kind, snippet(search_index, 0, '[', ']', '…', 10), i.title
         FROM search_index s JOIN incidents i ON i.id = s.incident
         WHERE search_index MATCH ?1
         ORDER BY s.rowid DESC",
    )?;
    let mut rows = stmt.query([q])?;
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::new();
    while let Some(r) = rows.next()? {
        let id: Vec<u8> = r.get(0)?;
        if !seen.insert(id.clone()) {
            continue;
        }
        hits.push(SearchHit {
            id: IncidentId::from_uuid(uuid_from(&id)?),
            matched: r.get(1)?,
            snippet: r.get(2)?,
            title: r.get(3)?,
        });
        if hits.len() >= limit as usize {
            break;
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_input_is_never_fts_syntax() {
        assert_eq!(fts_query("nine men").as_deref(), Some("\"nine\" \"men\"*"));
        assert_eq!(fts_query("a\"b OR").as_deref(), Some("\"a\"\"b\" \"OR\"*"));
        assert_eq!(fts_query("   "), None);
    }
}

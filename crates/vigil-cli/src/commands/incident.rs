//! `vigil new`, `log`, `list`, `show` and `search`: incidents and their running log.

use std::fs;
use std::io::{BufRead, Write};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, NaiveTime};
use vigil_model::{EntryId, Incident, IncidentDraft, IncidentId, IncidentStatus, LogEntry};
use vigil_store::{ListQuery, NewEntry};

use super::{Ctx, parse_incident_id};
use crate::cli::ReportFields;
use crate::error::{Failure, usage};
use crate::{output, typed};

impl ReportFields {
    /// Whether no field was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.title.is_none() && self.summary.is_none() && self.from.is_none()
    }

    /// `base` as these fields say: the file's report (keeping `base`'s id and creation
    /// time), then the title and summary given.
    pub(crate) fn apply(self, base: Incident) -> Result<Incident, Failure> {
        if self.title.is_some() {
            typed::warn_on_command_line("title");
        }
        if self.summary.is_some() {
            typed::warn_on_command_line("summary");
        }
        let mut incident = match self.from {
            Some(path) => {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let draft = IncidentDraft::from_json(&text)
                    .map_err(|e| usage(format!("{}: {e}", path.display())))?;
                draft.into_incident(base.id, base.created_at)
            }
            None => base,
        };
        if let Some(t) = self.title {
            incident.title = t;
        }
        if let Some(s) = self.summary {
            incident.summary = s;
        }
        Ok(incident)
    }
}

/// Creates an incident and prints its id.
pub(crate) fn new(ctx: &Ctx, mut fields: ReportFields) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let now = vault.now();
    let asked = fields.is_empty();
    if asked {
        let title = typed::next_line("Title: ")?.unwrap_or_default();
        if title.trim().is_empty() {
            return Err(usage("an incident needs a title; nothing was created"));
        }
        let summary = typed::next_line("Summary (optional, Enter to skip): ")?;
        fields.title = Some(title);
        fields.summary = summary.filter(|s| !s.trim().is_empty());
    }
    let incident = if asked {
        let mut i = Incident::new(IncidentId::new(), String::new(), now);
        i.title = fields.title.unwrap_or_default();
        i.summary = fields.summary.unwrap_or_default();
        i
    } else {
        fields.apply(Incident::new(IncidentId::new(), String::new(), now))?
    };
    vault.create_incident(&incident)?;
    vault.close()?;
    ctx.out.id("incident", &incident.id.to_string());
    Ok(())
}

/// Appends to a running log: entries typed or piped in, one per line, each printed once it is
/// on disk; or one entry given on the command line (with a warning). A single entry may
/// correct an earlier one, or say when it happened.
pub(crate) fn log(
    ctx: &Ctx,
    id: &str,
    text: Option<&str>,
    flag: bool,
    corrects: Option<&str>,
    happened_at: Option<&str>,
) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let single = corrects.is_some() || happened_at.is_some();
    let given = text.filter(|t| *t != "-");
    if given.is_some() {
        typed::warn_on_command_line("entry text");
    }
    let mut vault = ctx.open()?;
    // Before anyone types: an unknown incident is said at once.
    vault.incident(incident)?;
    let one: Option<String> = match given {
        Some(t) => Some(t.to_owned()),
        None if single => {
            let line = typed::next_line("Entry (Enter saves it): ")?.unwrap_or_default();
            if line.trim().is_empty() {
                return Err(usage("the entry is empty; nothing was added"));
            }
            Some(line)
        }
        None => None,
    };
    if one.is_none() {
        typed::hint(
            "Type the log, one entry per line: each is saved when you press Enter. End with Ctrl+D.\n",
        );
        let stdin = std::io::stdin();
        let mut line = String::new();
        let mut stdout = std::io::stdout().lock();
        loop {
            line.clear();
            let n = stdin
                .lock()
                .read_line(&mut line)
                .context("cannot read standard input")?;
            if n == 0 {
                break;
            }
            let entry_text = line.trim_end_matches(['\n', '\r']);
            if entry_text.trim().is_empty() {
                continue;
            }
            let entry = vault.append_log(incident, entry_text, flag)?;
            // Printed only once the entry is committed and on disk.
            ctx.out
                .entry_to(&mut stdout, &entry)
                .context("cannot write to standard output")?;
            stdout.flush().context("cannot write to standard output")?;
        }
    } else if let Some(text) = one.as_deref() {
        let now = vault.now();
        let corrects = match corrects {
            Some(c) => Some(entry_named(&vault.log_entries(incident)?, c)?),
            None => None,
        };
        let happened_at = happened_at.map(|h| parse_happened_at(h, now)).transpose()?;
        let new = NewEntry {
            text,
            flagged: flag,
            corrects,
            happened_at,
        };
        let entry = vault.append_entry(incident, &new, now, None)?;
        ctx.out
            .entry_to(&mut std::io::stdout().lock(), &entry)
            .context("cannot write to standard output")?;
    }
    vault.close()?;
    Ok(())
}

/// The entry of `log` that `name` means: its place (as `show` prints it) or its id.
fn entry_named(log: &[LogEntry], name: &str) -> Result<EntryId, Failure> {
    if let Ok(id) = name.parse::<EntryId>() {
        return Ok(id);
    }
    let place: u64 = name.parse().map_err(|_| {
        usage(format!(
            "'{name}' is neither an entry's place in the log nor its id"
        ))
    })?;
    let mut at_place = log.iter().filter(|e| e.seq == place);
    match (at_place.next(), at_place.next()) {
        (Some(e), None) => Ok(e.id),
        (None, _) => Err(usage(format!("the log has no entry at place {place}"))),
        (Some(_), Some(_)) => Err(usage(format!(
            "several devices wrote an entry at place {place}: name it by its id (`show --json`)"
        ))),
    }
}

/// "HH:MM" (the latest such minute not after `now`, in `now`'s offset) or an RFC 3339 time.
fn parse_happened_at(
    text: &str,
    now: DateTime<FixedOffset>,
) -> Result<DateTime<FixedOffset>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    let time = NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
        usage(format!(
            "'{text}' is not a time: give HH:MM or an RFC 3339 time such as 2019-05-23T10:30:00+06:00"
        ))
    })?;
    let today = now.date_naive().and_time(time);
    let local = today
        .and_local_timezone(*now.offset())
        .single()
        .ok_or_else(|| usage(format!("'{text}' is not a time")))?;
    Ok(if local > now {
        local - chrono::Duration::days(1)
    } else {
        local
    })
}

/// Lists incidents, newest first.
pub(crate) fn list(
    ctx: &Ctx,
    status: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<(), Failure> {
    let status = match status {
        None => None,
        Some("draft") => Some(IncidentStatus::Draft),
        Some("sealed") => Some(IncidentStatus::Sealed),
        Some(other) => {
            return Err(usage(format!(
                "unknown status '{other}': use draft or sealed"
            )));
        }
    };
    let vault = ctx.open()?;
    let rows = vault.list_incidents(&ListQuery {
        status,
        limit,
        offset,
        ..ListQuery::default()
    })?;
    vault.close()?;
    ctx.out.list(&rows);
    Ok(())
}

/// Shows an incident with its running log and attachments.
pub(crate) fn show(ctx: &Ctx, id: &str) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let vault = ctx.open()?;
    let inc = vault.incident(incident)?;
    let log = vault.log_entries(incident)?;
    let atts = vault
        .attachments(incident)?
        .into_iter()
        .map(|meta| {
            Ok(output::ShownAttachment {
                parts: vault.attachment_parts(meta.id)?,
                meta,
            })
        })
        .collect::<Result<Vec<_>, vigil_store::StoreError>>()?;
    let lineage = vault.lineage(incident)?;
    let lang = output::lang();
    ctx.out
        .show(&inc, &log, &atts, &lineage, vault.thesaurus(), &lang);
    vault.close()?;
    Ok(())
}

/// Full-text search.
pub(crate) fn search(ctx: &Ctx, query: &str, limit: u32) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let hits = vault.search(query, limit)?;
    vault.close()?;
    ctx.out.search(&hits);
    Ok(())
}

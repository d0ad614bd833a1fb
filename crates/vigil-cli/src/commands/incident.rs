//! `vigil new`, `log`, `list`, `show` and `search`: incidents and their running log.

use std::fs;
use std::io::{BufRead, Write};

use anyhow::Context;
use vigil_model::{Incident, IncidentDraft, IncidentId, IncidentStatus};
use vigil_store::ListQuery;

use super::{Ctx, parse_incident_id};
use crate::cli::ReportFields;
use crate::error::{Failure, usage};
use crate::output;

impl ReportFields {
    /// Whether no field was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.title.is_none() && self.summary.is_none() && self.from.is_none()
    }

    /// `base` as these fields say: the file's report (keeping `base`'s id and creation
    /// time), then the title and summary given.
    pub(crate) fn apply(self, base: Incident) -> Result<Incident, Failure> {
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
pub(crate) fn new(ctx: &Ctx, fields: ReportFields) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let now = vault.now();
    let incident = fields.apply(Incident::new(IncidentId::new(), String::new(), now))?;
    vault.create_incident(&incident)?;
    vault.close()?;
    ctx.out.id("incident", &incident.id.to_string());
    Ok(())
}

/// Appends to a running log: one entry, or (`-`) one per line of standard input, each printed
/// once it is on disk.
pub(crate) fn log(ctx: &Ctx, id: &str, text: &str, flag: bool) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let mut vault = ctx.open()?;
    if text == "-" {
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
    } else {
        let entry = vault.append_log(incident, text, flag)?;
        ctx.out
            .entry_to(&mut std::io::stdout().lock(), &entry)
            .context("cannot write to standard output")?;
    }
    vault.close()?;
    Ok(())
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
    let atts = vault.attachments(incident)?;
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

//! What `vigil` prints: plain text for people, JSON objects with an `id` for scripts.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use vigil_model::{AttachmentMeta, Incident, LogEntry, Thesaurus, TimePoint};
use vigil_store::{IncidentSummary, SearchHit};

#[derive(Debug)]
pub struct Printer {
    pub json: bool,
}

/// The user's language for labels ("en", "ru" or "ky"), from the usual environment variables.
pub fn lang() -> String {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            let l = v.get(..2).unwrap_or("").to_ascii_lowercase();
            if ["en", "ru", "ky"].contains(&l.as_str()) {
                return l;
            }
        }
    }
    "en".to_owned()
}

fn time_point(t: &TimePoint) -> String {
    match (&t.at, t.precision) {
        (Some(at), vigil_model::Precision::Approximate) => format!("about {}", at.to_rfc3339()),
        (Some(at), _) => at.to_rfc3339(),
        (None, _) => "unknown".to_owned(),
    }
}

impl Printer {
    pub fn created_vault(&self, dir: &Path, device: &str) {
        if self.json {
            println!("{}", json!({ "id": device, "vault": dir }));
        } else {
            println!("Created a new vault in {}", dir.display());
        }
    }

    pub fn id(&self, kind: &str, id: &str) {
        if self.json {
            println!("{}", json!({ "id": id, "kind": kind }));
        } else {
            println!("{id}");
        }
    }

    pub fn message(&self, m: &str) {
        if self.json {
            println!("{}", json!({ "id": null, "message": m }));
        } else {
            println!("{m}");
        }
    }

    pub fn wiped(&self, dir: &Path, r: &vigil_store::WipeReport) {
        let key_ms = r.key_destroyed_after.as_secs_f64() * 1000.0;
        let all_ms = r.removed_after.as_secs_f64() * 1000.0;
        if self.json {
            println!(
                "{}",
                json!({ "id": null, "wiped": dir.display().to_string(), "key_destroyed_ms": key_ms,
                        "removed_ms": all_ms, "was_open": r.was_open })
            );
        } else {
            println!(
                "The vault's key was destroyed after {key_ms:.0} ms: nothing in {} can be opened \
                 any more. Its files were removed after {all_ms:.0} ms.",
                dir.display()
            );
            if r.was_open {
                println!(
                    "The vault was open in another program: close it (what it still writes \
                     cannot be opened either)."
                );
            }
        }
    }

    pub fn entry_to(&self, w: &mut impl Write, e: &LogEntry) -> std::io::Result<()> {
        if self.json {
            writeln!(w, "{}", serde_json::to_string(e).unwrap_or_default())
        } else {
            writeln!(w, "{}", e.id)
        }
    }

    pub fn attachment(&self, a: &AttachmentMeta) {
        if self.json {
            println!("{}", serde_json::to_string(a).unwrap_or_default());
        } else {
            println!("{}", a.id);
        }
    }

    pub fn list(&self, rows: &[IncidentSummary]) {
        if self.json {
            println!("{}", serde_json::to_string(rows).unwrap_or_default());
            return;
        }
        for r in rows {
            println!(
                "{}  {}  {:<6}  {:>4} log  {:>3} att  {}",
                r.id,
                r.created_at.format("%Y-%m-%d %H:%M"),
                match r.status {
                    vigil_model::IncidentStatus::Draft => "draft",
                    vigil_model::IncidentStatus::Sealed => "sealed",
                },
                r.log_entries,
                r.attachments,
                r.title
            );
        }
    }

    pub fn search(&self, hits: &[SearchHit]) {
        if self.json {
            println!("{}", serde_json::to_string(hits).unwrap_or_default());
            return;
        }
        for h in hits {
            println!(
                "{}  {}  ({}: {})",
                h.id,
                h.title,
                h.matched,
                h.snippet.replace('\n', " ")
            );
        }
    }

    pub fn show(
        &self,
        i: &Incident,
        log: &[LogEntry],
        atts: &[ShownAttachment],
        lineage: &vigil_store::Lineage,
        th: &Thesaurus,
        lang: &str,
    ) {
        let versions: Vec<String> = lineage.heads.iter().map(|h| h.to_string()).collect();
        if self.json {
            println!(
                "{}",
                json!({
                    "id": i.id,
                    "incident": i,
                    "log": log,
                    "attachments": atts,
                    "conflict": lineage.is_fork().then_some(&versions),
                })
            );
            return;
        }
        println!("{}\n", i.title);
        if lineage.is_fork() {
            println!(
                "CONFLICT: {} versions of this record amend the same revision: {}. It is shown as \
                 it was before they parted; see `vigil history {}`.\n",
                versions.len(),
                versions.join(", "),
                i.id
            );
        }
        println!("id:        {}", i.id);
        println!("status:    {:?}", i.status);
        println!("start:     {}", time_point(&i.start));
        println!("end:       {}", time_point(&i.end));
        let loc = &i.location;
        let country = loc
            .country
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default();
        println!("where:     {} {} {}", loc.place, loc.admin_area, country);
        if !i.violations.is_empty() {
            let labels: Vec<&str> = i.violations.iter().map(|v| th.label(v, lang)).collect();
            println!("violations: {}", labels.join("; "));
        }
        if !i.tags.is_empty() {
            println!("tags:      {}", i.tags.join(", "));
        }
        if !i.summary.is_empty() {
            println!("\n{}\n", i.summary);
        }
        if !i.parties.is_empty() {
            println!("Parties:");
            for p in &i.parties {
                let roles: Vec<String> = p.roles.iter().map(|r| format!("{r:?}")).collect();
                println!("  - {} [{}]", p.display_name(), roles.join(", "));
            }
        }
        if !i.acts.is_empty() {
            println!("Acts:");
            for a in &i.acts {
                let name = |id| {
                    i.parties
                        .iter()
                        .find(|p| p.id == id)
                        .map(|p| p.display_name())
                        .unwrap_or_default()
                };
                println!(
                    "  - {}: {} -> {} ({})",
                    th.label(&a.act_type, lang),
                    name(a.perpetrator),
                    name(a.victim),
                    time_point(&a.time)
                );
            }
        }
        if !i.interventions.is_empty() {
            println!("Interventions:");
            for v in &i.interventions {
                println!("  - {} [{:?}] {}", v.action, v.status, v.response);
            }
        }
        if !log.is_empty() {
            println!("Running log:");
            for e in log {
                let flag = if e.flagged { " *" } else { "" };
                let mut notes = Vec::new();
                if let Some(target) = e.corrects.and_then(|c| log.iter().find(|t| t.id == c)) {
                    notes.push(format!("corrects {}", target.seq));
                }
                if let Some(h) = e.happened_at {
                    notes.push(format!("happened {}", h.format("%Y-%m-%d %H:%M")));
                }
                let by: Vec<String> = log
                    .iter()
                    .filter(|c| c.corrects == Some(e.id))
                    .map(|c| c.seq.to_string())
                    .collect();
                if !by.is_empty() {
                    notes.push(format!("corrected by {}", by.join(", ")));
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", notes.join("; "))
                };
                println!(
                    "  {:>3}  {}{}  {}{}",
                    e.seq,
                    e.at.format("%H:%M:%S"),
                    flag,
                    e.text,
                    notes
                );
            }
        }
        if !atts.is_empty() {
            println!("Attachments:");
            for a in atts {
                let m = &a.meta;
                println!(
                    "  {}  {}  {} bytes  sha256 {}",
                    m.id, m.original_name, m.size, m.sha256
                );
                if let Some(p) = &a.parts {
                    let missing: Vec<String> = p.missing.iter().map(u64::to_string).collect();
                    println!(
                        "    incomplete: it came in {} parts; {} here, missing part {} (import the other bundles of that export)",
                        p.of,
                        p.have,
                        missing.join(", ")
                    );
                }
            }
        }
    }
}

/// An attachment as `vigil show` gives it: its metadata and, while it waits for parts still to
/// be imported, which.
#[derive(Debug, serde::Serialize)]
pub struct ShownAttachment {
    #[serde(flatten)]
    pub meta: AttachmentMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<vigil_store::PartsState>,
}

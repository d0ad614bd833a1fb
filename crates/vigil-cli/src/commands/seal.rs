//! `vigil seal`, `amend` and `history`: signed revisions and where a record has been.

use super::{Ctx, parse_incident_id};
use crate::cli::ReportFields;
use crate::error::{Failure, usage};

/// Seals an incident (or records an amendment with what was added since).
pub(crate) fn seal(ctx: &Ctx, id: &str) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let mut vault = ctx.open()?;
    let rev = vault.seal_now(incident)?;
    vault.close()?;
    print_revision(&rev, ctx.json());
    Ok(())
}

/// Amends a sealed incident with changed fields.
pub(crate) fn amend(ctx: &Ctx, id: &str, fields: ReportFields) -> Result<(), Failure> {
    if fields.is_empty() {
        return Err(usage(
            "say what the amendment changes: --title, --summary or --from FILE.json (new \
             running-log entries and attachments are sealed by `vigil seal ID`)",
        ));
    }
    let incident = parse_incident_id(id)?;
    let mut vault = ctx.open()?;
    let current = vault.incident(incident)?;
    let next = fields.apply(current)?;
    let rev = vault.amend(incident, &next)?;
    vault.close()?;
    print_revision(&rev, ctx.json());
    Ok(())
}

/// Prints a record's provenance: its revisions (signatures checked again) and custody.
pub(crate) fn history(ctx: &Ctx, id: &str) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let vault = ctx.open()?;
    let title = vault.incident(incident)?.title;
    let p = vault.provenance(incident)?;
    vault.close()?;
    if ctx.json() {
        println!("{}", serde_json::to_string(&p).unwrap_or_default());
    } else {
        print!("{}", describe_provenance(&title, &p));
    }
    Ok(())
}

/// A sealed revision: its id, or with --json what identifies and proves it.
fn print_revision(rev: &vigil_store::Revision, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "id": rev.id.to_string(),
                "incident": rev.incident,
                "hash": rev.hash,
                "device": rev.device,
                "device_seq": rev.device_seq,
                "amends": rev.amends.map(|a| a.to_string()),
            })
        );
    } else {
        println!("{}", rev.id);
    }
}

/// A record's provenance for people: what was sealed, by which key, and where it has been.
fn describe_provenance(title: &str, p: &vigil_store::Provenance) -> String {
    let ok = |v: bool| if v { "verified" } else { "DOES NOT VERIFY" };
    let mut s = format!("Incident {} {title:?}\n", p.incident);
    if p.revisions.is_empty() {
        s.push_str("Not sealed: no signed revision yet.\n");
    } else {
        s.push_str("Sealed revisions (signature checked again now):\n");
    }
    if p.heads.len() > 1 {
        s.push_str(&format!(
            "CONFLICT: {} versions amend the same revision and none is chosen; it is shown as \
             revision {} until a person settles it. The versions:\n",
            p.heads.len(),
            p.shown
                .map(|r| r.to_string())
                .unwrap_or_else(|| "(none shared)".into())
        ));
        for h in &p.heads {
            s.push_str(&format!("  {h}\n"));
        }
    }
    for r in &p.revisions {
        s.push_str(&format!(
            "  {} sealed {} by device {} (#{}), sha256 {}: {}\n      device key {}\n",
            r.id,
            r.sealed_at.to_rfc3339(),
            r.device,
            r.device_seq,
            r.hash,
            ok(r.verified),
            vigil_crypto::sign::grouped_hex(&r.device_key),
        ));
        if let Some(a) = r.amends {
            s.push_str(&format!("      amends {a}\n"));
        }
    }
    s.push_str("Custody (each device's signed log):\n");
    for e in &p.events {
        let what = e.event.describe(&e.subject);
        let place = if e.this_device {
            "this vault".to_owned()
        } else {
            format!("device {}", e.device)
        };
        s.push_str(&format!(
            "  {}  {what}, on {place}: {}\n",
            e.at.to_rfc3339(),
            ok(e.verified)
        ));
    }
    s
}

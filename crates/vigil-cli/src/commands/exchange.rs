//! `vigil export`, `import` and `verify`: bundles on a USB stick.

use std::path::Path;

use super::{Ctx, parse_incident_id};
use crate::commands::quarantine;
use crate::error::{Failure, QUARANTINED};

/// Writes sealed revisions into bundles (as many as the drive's largest file, or
/// `max_file`, needs), reading each back and verifying it before the next.
pub(crate) fn export(
    ctx: &Ctx,
    to: &Path,
    ids: &[String],
    (unsent, all): (bool, bool),
    pad: bool,
    max_file: Option<u64>,
) -> Result<(), Failure> {
    let mut selection = if all {
        vigil_exchange::Selection::All
    } else if unsent || ids.is_empty() {
        vigil_exchange::Selection::Unsent
    } else {
        vigil_exchange::Selection::Incidents(
            ids.iter()
                .map(|i| parse_incident_id(i))
                .collect::<Result<_, _>>()?,
        )
    };
    let mut vault = ctx.open()?;
    let limits = vigil_exchange::Limits {
        pad,
        max_file,
        ..Default::default()
    };
    // Said, and refused if it cannot fit, before anything is written.
    let planned = vigil_exchange::preview_files(&vault, &selection, to, limits)?;
    if !ctx.json() {
        eprintln!("{}", describe_files(&planned));
    }
    planned.check_room()?;
    // Every bundle is written and verified before any is recorded as exported: a failure
    // part-way leaves every record of this export unsent, to go again.
    let mut written: Vec<vigil_exchange::Written> = Vec::new();
    let mut dest = to.to_path_buf();
    loop {
        let w = match write_one(&vault, &selection, &dest, limits) {
            Ok(w) => w,
            Err(e) => {
                for w in written {
                    eprintln!(
                        "vigil: removed {}, written before this failed; nothing was recorded as exported, so the next export carries these records again",
                        w.report().path.display()
                    );
                    w.discard();
                }
                return Err(e.into());
            }
        };
        let r = w.report();
        if !ctx.json() {
            println!(
                "Wrote {} ({} revisions, {} attachments, {} parts, {} bytes), read back and verified.",
                r.path.display(),
                r.revisions,
                r.attachments,
                r.parts,
                r.bytes
            );
        }
        let next = w.next();
        written.push(w);
        match next {
            Some(s) => selection = s,
            None => break,
        }
        dest = vigil_exchange::stick::unused_name(to);
    }
    let reports = written
        .into_iter()
        .map(|w| vigil_exchange::record(&mut vault, w))
        .collect::<Result<Vec<_>, _>>()?;
    vault.close()?;
    if ctx.json() {
        let mut out = export_json(&reports);
        out["planned"] = serde_json::to_value(&planned).unwrap_or_default();
        println!("{out}");
    } else if reports.len() > 1 {
        println!("{} bundles: bring them all to HQ.", reports.len());
    }
    Ok(())
}

/// One bundle of `selection`: planned, written and read back (not yet recorded).
fn write_one(
    vault: &vigil_store::Vault,
    selection: &vigil_exchange::Selection,
    dest: &Path,
    limits: vigil_exchange::Limits,
) -> Result<vigil_exchange::Written, vigil_exchange::ExchangeError> {
    let mut writing = TerminalProgress::new("Writing the bundle");
    let mut checking = TerminalProgress::new("Reading it back");
    let written = vigil_exchange::plan_with(vault, selection, dest, limits).and_then(|plan| {
        plan.write(&mut |phase, d, t| match phase {
            vigil_exchange::ExportPhase::Writing => writing.show(d, t),
            vigil_exchange::ExportPhase::Checking => {
                writing.finish("done.");
                checking.show(d, t)
            }
        })
    });
    // Still writing when it failed: the writing line says so (it said "done." if the
    // checking had begun).
    writing.finish(if written.is_ok() { "done." } else { "failed." });
    checking.finish(if written.is_ok() {
        "verified."
    } else {
        "failed."
    });
    written
}

/// What an export will write, in words.
fn describe_files(p: &vigil_exchange::FilesPreview) -> String {
    let files = if p.files == 1 {
        "1 bundle file".to_owned()
    } else {
        format!("about {} bundle files", p.files)
    };
    let limit = match (&p.max_file, &p.limited_by) {
        (Some(max), Some(by)) => format!("; files of at most {max} bytes ({by})"),
        _ => String::new(),
    };
    let free = p
        .free
        .map(|f| format!("; {f} bytes free on the drive"))
        .unwrap_or_default();
    format!(
        "Will write {files}, at most {} bytes in all{limit}{free}.",
        p.bytes
    )
}

/// The export's JSON: the first bundle's id and path, totals over all, and every bundle.
fn export_json(reports: &[vigil_exchange::ExportReport]) -> serde_json::Value {
    let first = reports.first();
    serde_json::json!({
        "id": first.map(|r| r.id.clone()),
        "path": first.map(|r| r.path.clone()),
        "revisions": reports.iter().map(|r| r.revisions).sum::<usize>(),
        "attachments": reports.iter().map(|r| r.attachments).sum::<usize>(),
        "parts": reports.iter().map(|r| r.parts).sum::<usize>(),
        "bytes": reports.iter().map(|r| r.bytes).sum::<u64>(),
        "left": reports.last().map_or(0, |r| r.left),
        "bundles": reports,
    })
}

/// Imports a bundle, all or nothing; exit code 4 when it is kept in quarantine.
pub(crate) fn import(ctx: &Ctx, file: &Path) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let mut progress = TerminalProgress::new("Checking the bundle");
    let report =
        vigil_exchange::import_with_progress(&mut vault, file, &mut |d, t| progress.show(d, t));
    progress.finish(if report.is_ok() { "done." } else { "refused." });
    let report = report?;
    vault.close()?;
    quarantine::print_import(&report, ctx.json());
    if report.quarantined.is_some() {
        return Err(Failure {
            code: QUARANTINED,
            kind: "quarantined".into(),
            message: "nothing was applied: the bundle is kept in quarantine until a person \
                      accepts or drops it (vigil quarantine list)"
                .into(),
        });
    }
    Ok(())
}

/// Says what a bundle (or an extracted one) proves.
pub(crate) fn verify(ctx: &Ctx, file: &Path) -> Result<(), Failure> {
    let proof = if file.is_dir() {
        vigil_exchange::verify_extracted(file)?
    } else {
        let vault = ctx.open()?;
        let proof = vigil_exchange::verify_with_vault(&vault, file)?;
        vault.close()?;
        proof
    };
    if ctx.json() {
        println!("{}", serde_json::to_string(&proof).unwrap_or_default());
    } else {
        print!("{}", proof.describe());
    }
    Ok(())
}

/// A percentage on standard error while a long task runs, when that is a terminal.
struct TerminalProgress {
    what: &'static str,
    tty: bool,
    shown: u64,
}

impl TerminalProgress {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            shown: u64::MAX,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.tty && pct != self.shown {
            self.shown = pct;
            eprint!("\r{}... {pct:3}%", self.what);
        }
    }

    /// Ends the line with `outcome` (once; nothing if nothing was shown).
    fn finish(&mut self, outcome: &str) {
        if self.tty && self.shown != u64::MAX {
            eprintln!("\r{}... {outcome}", self.what);
        }
        self.shown = u64::MAX;
    }
}

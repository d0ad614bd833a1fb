//! `vigil quarantine`, and what `vigil import` says about a bundle.

use vigil_crypto::sign::grouped_hex;
use vigil_exchange::ImportReport;
use vigil_store::Vault;

use crate::cli::QuarantineCommand;
use crate::error::Failure;
use crate::output;

/// What an import did, for people or scripts.
pub(crate) fn print_import(report: &ImportReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
    } else if let Some(q) = &report.quarantined {
        println!(
            "Bundle {} from device {} was NOT applied: {}.\nIt is kept in quarantine. Compare \
             the device's key with the monitor by phone:\n  {}\nthen `vigil quarantine accept {}` \
             or `vigil quarantine drop {}`.",
            report.id,
            report.device,
            q.detail,
            grouped_hex(&q.sign_pk),
            report.device,
            report.device
        );
    } else {
        println!(
            "Imported bundle {} from device {}: {} new revisions, {} already here, {} attachments.",
            report.id, report.device, report.applied, report.skipped, report.attachments
        );
        if let Some(d) = &report.registered {
            println!("Device {d} is now registered as enrolled by the organisation.");
        }
        if report.refused_after_revocation > 0 {
            println!(
                "{} revisions sealed after the device was revoked were refused.",
                report.refused_after_revocation
            );
        }
    }
    for conflict in &report.custody_conflicts {
        eprintln!("vigil: warning: {conflict}");
    }
    for incident in &report.forks {
        eprintln!(
            "vigil: warning: incident {incident} now has two versions amending the same one; \
             see `vigil history {incident}`"
        );
    }
}

pub(crate) fn run(
    action: QuarantineCommand,
    out: &output::Printer,
    open: impl Fn() -> Result<Vault, Failure>,
) -> Result<(), Failure> {
    match action {
        QuarantineCommand::List => {
            let vault = open()?;
            let entries = vault.quarantine()?;
            vault.close()?;
            if out.json {
                println!("{}", serde_json::to_string(&entries).unwrap_or_default());
                return Ok(());
            }
            if entries.is_empty() {
                println!("Nothing is in quarantine.");
            }
            for e in &entries {
                println!(
                    "Bundle {} from device {}{}, received {}: {} revisions, {} bytes",
                    e.bundle_id,
                    e.device,
                    e.name
                        .as_ref()
                        .map(|n| format!(" (\"{n}\")"))
                        .unwrap_or_default(),
                    e.received_at.to_rfc3339(),
                    e.revisions,
                    e.size
                );
                println!("  why: {}", e.detail);
                println!("  key: {}", grouped_hex(&e.sign_pk));
            }
        }
        QuarantineCommand::Accept { device } => {
            let mut vault = open()?;
            let reports = vigil_exchange::accept(&mut vault, &device);
            vault.close()?;
            let reports = reports?;
            for r in &reports {
                print_import(r, out.json);
            }
        }
        QuarantineCommand::Drop { device } => {
            let mut vault = open()?;
            let n = vault.drop_quarantined(&device)?;
            vault.close()?;
            out.message(&format!("dropped {n} bundle(s) from quarantine"));
        }
    }
    Ok(())
}

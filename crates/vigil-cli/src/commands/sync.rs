//! `vigil sync` and `vigil status`: the organisation's server.

use vigil_store::Delivery;

use super::{Ctx, parse_incident_id};
use crate::error::{Failure, NOT_SENT};

/// One sync pass (see `vigil_sync::run`), with progress on standard error.
pub(crate) fn sync(ctx: &Ctx, options: vigil_sync::Options) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let mut shown = false;
    let mut access = &mut vault;
    let result = vigil_sync::sync(&mut access, &options, &mut |p| {
        if ctx.json() {
            return;
        }
        shown = true;
        match p {
            vigil_sync::Progress::Building { revisions } => {
                eprint!("\rPreparing: {revisions} revisions sealed into items   ");
            }
            vigil_sync::Progress::Pushing {
                items,
                items_total,
                bytes,
                bytes_total,
            } => eprint!("\rSending: {items}/{items_total} items, {bytes}/{bytes_total} bytes   "),
            vigil_sync::Progress::Uploading { bytes, bytes_total } => {
                eprint!("\rSending attachments: {bytes}/{bytes_total} bytes   ");
            }
            vigil_sync::Progress::Pulling { items } => {
                eprint!("\rReceiving: {items} items imported   ");
            }
        }
    });
    if shown {
        eprintln!();
    }
    let outbox = vault.sync_outbox();
    vault.close()?;
    let report = result?;
    let outbox = outbox?;
    if ctx.json() {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "{}: sent {} revisions in {} items ({} bytes) and {} attachments ({} bytes), each receipt checked; {} acknowledged by HQ.",
            report.server,
            report.revisions_sent,
            report.items_sent,
            report.bytes_sent,
            report.attachments_sent,
            report.attachment_bytes_sent,
            report.acks_received
        );
        if report.items_imported + report.items_quarantined > 0 || !report.items_refused.is_empty()
        {
            println!(
                "Received {} items ({} new revisions, {} attachments fetched), acknowledged {}; {} kept in quarantine.",
                report.items_imported,
                report.revisions_imported,
                report.attachments_fetched,
                report.items_acked,
                report.items_quarantined
            );
        }
        for why in &report.items_refused {
            println!("Refused: {why}");
        }
        if report.profile_updated {
            println!("Took a newer organisation profile from the server.");
        }
    }
    if !outbox.all_sent() {
        return Err(Failure {
            code: NOT_SENT,
            kind: "not_all_sent".into(),
            message: format!(
                "{} revisions and {} attachments are not yet held by the server",
                outbox.revisions_unqueued + outbox.revisions_pending,
                outbox.attachments_pending
            ),
        });
    }
    Ok(())
}

/// `vigil sync --watch`: passes that start by themselves, one line per pass, until killed.
pub(crate) fn watch(
    ctx: &Ctx,
    options: vigil_sync::Options,
    interval: u64,
    probe_min: u64,
    probe_max: u64,
) -> Result<(), Failure> {
    let mut vault = ctx.open()?;
    let schedule = vigil_sync::Schedule {
        interval: std::time::Duration::from_secs(interval),
        probe_min: std::time::Duration::from_secs(probe_min.max(1)),
        probe_max: std::time::Duration::from_secs(probe_max.max(probe_min).max(1)),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let wake = std::sync::atomic::AtomicBool::new(false);
    let json = ctx.json();
    let mut access = &mut vault;
    vigil_sync::watch(
        &mut access,
        &options,
        &schedule,
        &stop,
        &wake,
        &mut |event| {
            use std::io::Write as _;
            match event {
                vigil_sync::Event::Synced(r) if json => {
                    let mut v = serde_json::to_value(&r).unwrap_or_default();
                    v["event"] = "synced".into();
                    println!("{v}");
                }
                vigil_sync::Event::Synced(r) => println!(
                    "{}: synced; sent {} revisions, {} acknowledged by HQ, {} received",
                    chrono::Local::now().format("%H:%M:%S"),
                    r.revisions_sent,
                    r.acks_received,
                    r.items_imported
                ),
                vigil_sync::Event::Failed { error, next } if json => println!(
                    "{}",
                    serde_json::json!({
                        "event": "failed",
                        "code": error.code(),
                        "message": error.to_string(),
                        "next_probe_secs": next.as_secs_f64(),
                    })
                ),
                vigil_sync::Event::Failed { error, next } => println!(
                    "{}: {error} (next try in {} s)",
                    chrono::Local::now().format("%H:%M:%S"),
                    next.as_secs()
                ),
                vigil_sync::Event::NetworkChanged if json => {
                    println!("{}", serde_json::json!({ "event": "network_changed" }));
                }
                vigil_sync::Event::NetworkChanged => println!(
                    "{}: the network changed; trying now",
                    chrono::Local::now().format("%H:%M:%S")
                ),
                vigil_sync::Event::Progress(_) => {}
            }
            let _ = std::io::stdout().flush();
        },
    );
    vault.close()?;
    Ok(())
}

/// Where an incident is on its way to HQ, or what is still to send.
pub(crate) fn status(ctx: &Ctx, id: Option<&str>) -> Result<(), Failure> {
    let vault = ctx.open()?;
    let result = match id {
        Some(id) => {
            let id = parse_incident_id(id)?;
            // The incident must exist: an unknown id is an error, not "not sealed".
            vault.incident(id)?;
            let delivery = vault
                .delivery(&[id])?
                .remove(&id)
                .unwrap_or(Delivery::NotSealed);
            if ctx.json() {
                println!(
                    "{}",
                    serde_json::json!({ "id": id, "status": delivery.as_str() })
                );
            } else {
                println!("{}", describe(delivery));
            }
            Ok(())
        }
        None => {
            let outbox = vault.sync_outbox()?;
            let last_success = vault.sync_state("last_success")?;
            let last_error = vault.sync_state("last_error")?;
            let server = vault.org_profile()?.and_then(|p| p.server);
            if ctx.json() {
                println!(
                    "{}",
                    serde_json::json!({
                        "server": server,
                        "outbox": outbox,
                        "last_success": last_success,
                        "last_error": last_error,
                    })
                );
            } else {
                match &server {
                    Some(s) => println!("Server: {s}"),
                    None => println!("Server: none (HQ names it with `vigil org server`)"),
                }
                println!(
                    "Not yet held by the server: {} revisions ({} bytes built and waiting).",
                    outbox.revisions_unqueued + outbox.revisions_pending,
                    outbox.bytes_pending
                );
                println!(
                    "Held by the server, not yet verified by HQ: {} items.",
                    outbox.items_unacked
                );
                println!(
                    "Last success: {}",
                    last_success.as_deref().unwrap_or("never")
                );
                if let Some(e) = last_error {
                    println!("Last error: {e}");
                }
            }
            Ok(())
        }
    };
    vault.close()?;
    result
}

fn describe(d: Delivery) -> &'static str {
    match d {
        Delivery::NotSealed => "not sealed: nothing to send yet",
        Delivery::OnlyHere => "only on this laptop: not yet sent to the server",
        Delivery::Sent => "sent: the server's receipt has not come back yet",
        Delivery::HeldByServer => {
            "held by the server (its signed receipt checked); not yet verified by HQ"
        }
        Delivery::VerifiedByHq => "verified by HQ",
    }
}

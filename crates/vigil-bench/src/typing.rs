//! The typing rows of sync-bench: running-log entries written through the app's session (the
//! call the window makes for each entry; durable when it returns) every 20 ms, while the
//! session's own sync worker runs a pass, against the same entries with no sync running, in
//! the same run and the same vault.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{KdfChoice, SystemClock};

use crate::Row;

const PASSPHRASE: &str = "bench passphrase";

fn unlocked(dir: &Path) -> Result<Arc<vigil_app::Session>> {
    let session = Arc::new(vigil_app::Session::new(
        dir.to_path_buf(),
        Arc::new(SystemClock),
        KdfChoice::Params(KdfParams::FLOOR),
        None,
    ));
    session
        .unlock(PASSPHRASE.to_owned())
        .map_err(|e| anyhow::anyhow!("unlock: {e:?}"))?;
    Ok(session)
}

/// Entry-to-durable times of entries written every 20 ms while `busy` holds (at least
/// `at_least`, at most 20,000).
fn type_while(
    session: &vigil_app::Session,
    at_least: usize,
    busy: &dyn Fn() -> bool,
) -> Result<Vec<Duration>> {
    let incident = session
        .new_incident("Meeting broken up")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let id = incident.id.to_string();
    let mut took = Vec::new();
    while took.len() < at_least || (busy() && took.len() < 20_000) {
        let started = Instant::now();
        session
            .append_log(
                &id,
                &format!("10:{:05} police entered the room", took.len()),
                false,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        took.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(took)
}

fn percentiles(took: &mut [Duration]) -> String {
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} entries)",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        took.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        took.len()
    )
}

/// Types while the session at `dir` (a vault with something to sync) runs its first pass;
/// `what` names the pass. The reference is the same typing before the worker starts.
pub(crate) fn during_sync(dir: &Path, what: &str) -> Result<Row> {
    let session = unlocked(dir)?;
    // What earlier work left for the disk to write is written first, for both measures.
    let flushed = std::process::Command::new("sync").status()?;
    anyhow::ensure!(flushed.success(), "sync(1) failed");
    let mut idle = type_while(&session, 300, &|| false)?;
    let flushed = std::process::Command::new("sync").status()?;
    anyhow::ensure!(flushed.success(), "sync(1) failed");
    let worker = Arc::clone(&session);
    std::thread::spawn(move || worker.run_sync_worker());
    let running = || session.sync_status().is_ok_and(|s| s.running);
    let end = Instant::now() + Duration::from_secs(30);
    while !running() {
        if Instant::now() > end {
            anyhow::bail!("the sync worker never started a pass");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let mut during = type_while(&session, 0, &running)?;
    let pass = started.elapsed();
    let status = session
        .sync_status()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if status.error_code.is_some() {
        anyhow::bail!("the pass failed: {:?}", status.error);
    }
    session.lock();
    Ok(Row {
        measure: format!(
            "running-log entry to durable while {what} (the app's session, its sync worker running; an entry every 20 ms)"
        ),
        vigil: format!(
            "{} over the {:.1} s pass",
            percentiles(&mut during),
            pass.as_secs_f64()
        ),
        reference: format!("no sync running, same vault: {}", percentiles(&mut idle)),
        target: "p99 < 16 ms".into(),
    })
}

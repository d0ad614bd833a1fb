//! Sync that starts by itself: while the server cannot be reached, cheap probes (`GET
//! /healthz`, unsigned, without the vault) with exponential backoff and jitter; once it
//! answers, a pass at once; then a pass every `interval` to send what was sealed meanwhile and
//! collect acknowledgements.
//!
//! A network change the system announces ([`crate::netwatch`]: Linux's rtnetlink) ends any
//! wait at once, and the probes start again from the shortest wait.
//!
//! Stopping is safe at any moment, a kill included: an item is in the vault before it is sent,
//! and a receipt is recorded in one transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::http::Server;
use crate::pass::{Options, Progress, Report};
use crate::run::sync;
use crate::{SyncError, VaultAccess};

/// When to probe and when to sync.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The first wait after a failure.
    pub probe_min: Duration,
    /// The longest wait between probes.
    pub probe_max: Duration,
    /// Between passes while the server answers.
    pub interval: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            probe_min: Duration::from_secs(1),
            probe_max: Duration::from_secs(60),
            interval: Duration::from_secs(30),
        }
    }
}

/// What the watcher did, for a display or a log.
#[derive(Debug)]
pub enum Event {
    /// A pass completed.
    Synced(Report),
    /// A pass failed; `next` is when the next probe goes.
    Failed {
        /// Why.
        error: SyncError,
        /// The wait before the next probe.
        next: Duration,
    },
    /// Progress within a pass.
    Progress(Progress),
    /// The system announced a network change: a pass goes now.
    NetworkChanged,
}

/// The wait after `failures` failures in a row: `probe_min · 2^(failures-1)`, at most
/// `probe_max`, less a random part of up to a fifth (so that many devices coming back at
/// once do not probe in step).
pub fn backoff(schedule: &Schedule, failures: u32) -> Duration {
    let doubled = schedule
        .probe_min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let base = doubled.min(schedule.probe_max);
    let mut r = [0u8; 2];
    let jitter = match vigil_crypto::secret::random_bytes(&mut r) {
        Ok(()) => f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) * 0.2,
        Err(_) => 0.0,
    };
    base.mul_f64(1.0 - jitter)
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// The time passed.
    Elapsed,
    /// Someone asked for a pass now ("Sync now").
    Woken,
    /// The system announced a network change ([`crate::netwatch`]).
    NetworkChanged,
    /// Stop.
    Stop,
}

/// Sleeps up to `d`, ending early when `stop` or `wake` is set or the network changes.
fn pause(d: Duration, stop: &AtomicBool, wake: &AtomicBool) -> Waited {
    let until = Instant::now() + d;
    let network = crate::netwatch::changes();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Waited::Stop;
        }
        if wake.swap(false, Ordering::Relaxed) {
            return Waited::Woken;
        }
        if crate::netwatch::changes() != network {
            return Waited::NetworkChanged;
        }
        let now = Instant::now();
        if now >= until {
            return Waited::Elapsed;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - now));
    }
}

/// Runs until `stop` is set (see the module documentation); `wake` asks for a pass at once.
pub fn watch(
    vault: &mut impl VaultAccess,
    options: &Options,
    schedule: &Schedule,
    stop: &AtomicBool,
    wake: &AtomicBool,
    on: &mut dyn FnMut(Event),
) {
    // Listening from the start, so that no change after the first pass is missed.
    let _ = crate::netwatch::changes();
    let mut failures: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        if failures > 0 {
            // Wait and probe until the server answers, without the vault.
            let next = backoff(schedule, failures);
            let probed = match pause(next, stop, wake) {
                Waited::Stop => return,
                Waited::Woken => Ok(()),
                // A new network: try it now, and probe it from the shortest wait again.
                Waited::NetworkChanged => {
                    on(Event::NetworkChanged);
                    failures = 0;
                    Ok(())
                }
                Waited::Elapsed => probe(vault, options),
            };
            match probed {
                Ok(()) => {}
                Err(e) if e.is_transient() => {
                    failures = failures.saturating_add(1);
                    continue;
                }
                Err(_) => {}
            }
        }
        match sync(vault, options, &mut |p| on(Event::Progress(p))) {
            Ok(report) => {
                failures = 0;
                on(Event::Synced(report));
                match pause(schedule.interval, stop, wake) {
                    Waited::Stop => return,
                    Waited::NetworkChanged => on(Event::NetworkChanged),
                    Waited::Woken | Waited::Elapsed => {}
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                // Something a person must fix (a key, a profile) is not retried fast.
                if !error.is_transient() {
                    failures = failures.max(32);
                }
                let next = backoff(schedule, failures);
                on(Event::Failed { error, next });
            }
        }
    }
}

/// One probe: does the profile's server answer `/healthz`?
fn probe(vault: &mut impl VaultAccess, options: &Options) -> Result<(), SyncError> {
    let (settings, device) = vault.with(|v| -> Result<_, SyncError> {
        let profile = v
            .org_profile()?
            .ok_or(vigil_store::StoreError::NoOrganisation)?;
        let settings = profile.server_settings()?.ok_or(SyncError::NoServer)?;
        Ok((settings, v.device()))
    })??;
    Server::new(&settings, device, options.proxy.as_deref())?.probe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_less_a_jitter() {
        let s = Schedule {
            probe_min: Duration::from_secs(1),
            probe_max: Duration::from_secs(60),
            interval: Duration::from_secs(30),
        };
        for (failures, base) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (6, 32.0),
            (7, 60.0),
            (40, 60.0),
        ] {
            let d = backoff(&s, failures).as_secs_f64();
            assert!(d <= base && d >= base * 0.8, "{failures}: {d}");
        }
        let many: std::collections::BTreeSet<u128> =
            (0..20).map(|_| backoff(&s, 7).as_micros()).collect();
        assert!(many.len() > 1, "the waits are not all equal");
    }
}

//! Sync in the window: a worker thread that runs while the app runs, syncing by itself while
//! the vault is unlocked and the organisation's profile names a server (probes with backoff
//! while it cannot be reached), "Sync now", and what the status bar shows.
//!
//! The worker holds the vault only between network calls ([`vigil_sync::VaultAccess`]): typing
//! in the running log never waits for the network. Locking stops it; unlocking starts it again.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use vigil_store::Vault;
use vigil_sync::{Event, Progress, SyncError, VaultAccess};

use crate::session::{Live, guard};
use crate::{AppError, Session};

/// What the status bar shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SyncView {
    /// The server the profile names; `None`: no server, nothing to show.
    pub server: Option<String>,
    /// Whether sync runs by itself (Settings).
    pub automatic: bool,
    /// A pass is under way.
    pub running: bool,
    /// Items the server confirmed so far in this pass, of all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub items_done: u64,
    /// Of all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub items_total: u64,
    /// Bytes confirmed so far, of all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_done: u64,
    /// Of all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_total: u64,
    /// When a pass last completed (RFC 3339).
    pub last_success: Option<String>,
    /// The last pass's error, if it failed: a stable code to translate.
    pub error_code: Option<String>,
    /// Its English text.
    pub error: Option<String>,
    /// Seconds until the next try, after a failure.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub next_try_s: Option<u64>,
    /// Sealed revisions not yet held by the server.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub waiting: u64,
    /// Items the server holds that HQ has not verified yet.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unverified: u64,
}

/// Whether the organisation's profile names a sync server (sync and delivery exist only then).
pub(crate) fn names_server(v: &Vault) -> Result<bool, vigil_store::StoreError> {
    Ok(v.org_profile()?.is_some_and(|p| p.server.is_some()))
}

/// The session's vault, lent to the sync client one short closure at a time.
struct Lent<'a>(&'a Session);

impl VaultAccess for Lent<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Vault) -> R) -> Result<R, SyncError> {
        let mut slot = guard(&self.0.vault);
        match slot.as_mut() {
            Some(v) => Ok(f(v)),
            None => Err(SyncError::Locked),
        }
    }
}

impl Session {
    /// Runs the sync worker for as long as the app runs (call it on its own thread).
    pub fn run_sync_worker(&self) -> ! {
        loop {
            // Asked once a second while there is nothing to run (locked, or no server): each
            // asking holds the vault a moment.
            std::thread::sleep(Duration::from_secs(1));
            if !self.has_server() {
                // Nothing to do; a "Sync now" meanwhile is answered by the status.
                self.sync.wake.store(false, Ordering::Relaxed);
                continue;
            }
            let settings = self.settings();
            self.sync.stop.store(false, Ordering::Relaxed);
            let options = vigil_sync::Options {
                proxy: settings.sync_proxy.clone(),
                item_revisions: None,
                free_delivered: settings.sync_free_delivered,
            };
            let mut on = |e: Event| self.on_sync_event(e);
            if settings.sync_automatic {
                vigil_sync::watch(
                    &mut Lent(self),
                    &options,
                    &vigil_sync::Schedule::default(),
                    &self.sync.stop,
                    &self.sync.wake,
                    &mut on,
                );
            } else if self.sync.wake.swap(false, Ordering::Relaxed) {
                let result = vigil_sync::sync(&mut Lent(self), &options, &mut |p| {
                    on(Event::Progress(p));
                });
                on(match result {
                    Ok(r) => Event::Synced(r),
                    Err(error) => Event::Failed {
                        error,
                        next: Duration::ZERO,
                    },
                });
            }
        }
    }

    fn has_server(&self) -> bool {
        self.with_vault(|v| Ok(names_server(v)?)).unwrap_or(false)
    }

    fn on_sync_event(&self, event: Event) {
        let mut live = guard(&self.sync.live);
        match event {
            Event::Progress(p) => {
                live.running = true;
                live.progress = Some(p);
            }
            Event::Synced(_) => {
                *live = Live::default();
            }
            Event::NetworkChanged => {}
            Event::Failed { error, next } => {
                live.running = false;
                live.progress = None;
                if !matches!(error, SyncError::Locked) {
                    live.error = Some((error.code().to_owned(), error.to_string()));
                    live.next_try = (!next.is_zero()).then(|| Instant::now() + next);
                }
            }
        }
    }

    /// "Sync now": a pass at once (the next probe is not waited for).
    pub fn sync_now(&self) -> Result<(), AppError> {
        if !self.is_unlocked() {
            return Err(AppError::locked());
        }
        self.sync.wake.store(true, Ordering::Relaxed);
        guard(&self.sync.live).running = true;
        Ok(())
    }

    /// What the status bar shows.
    pub fn sync_status(&self) -> Result<SyncView, AppError> {
        let (server, outbox, last_success) = self.with_vault(|v| {
            Ok((
                v.org_profile()?.and_then(|p| p.server),
                v.sync_outbox()?,
                v.sync_state("last_success")?,
            ))
        })?;
        let live = guard(&self.sync.live).clone();
        let (items_done, items_total, bytes_done, bytes_total) = match live.progress {
            Some(Progress::Pushing {
                items,
                items_total,
                bytes,
                bytes_total,
            }) => (items, items_total, bytes, bytes_total),
            Some(Progress::Uploading { bytes, bytes_total }) => (0, 0, bytes, bytes_total),
            _ => (0, 0, 0, 0),
        };
        Ok(SyncView {
            server,
            automatic: self.settings().sync_automatic,
            running: live.running,
            items_done,
            items_total,
            bytes_done,
            bytes_total,
            last_success,
            error_code: live.error.as_ref().map(|e| e.0.clone()),
            error: live.error.map(|e| e.1),
            next_try_s: live.next_try.map(|t| {
                t.saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .ceil() as u64
            }),
            waiting: outbox.revisions_unqueued + outbox.revisions_pending,
            unverified: outbox.items_unacked,
        })
    }
}

//! The session: one vault folder, locked or open, its settings, and the lock's lifecycle
//! (create, unlock with a growing delay after wrong passphrases, lock, auto-lock). What the
//! session does with an open vault is in `incidents`, `exchange`, `org`, `history` and
//! `quarantine`, one `impl Session` block each.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use vigil_crypto::Passphrase;
use vigil_store::{Clock, KdfChoice, StoreError, Vault};

use crate::{AppError, AppStatus, Settings, VaultOverview};

#[derive(Debug)]
struct Activity {
    last: Instant,
    failures: u32,
}

/// The desktop app's state: one vault folder, open (unlocked) or not, and the settings.
///
/// All methods take `&self` so that one `Session` can be shared by the UI's concurrent commands;
/// they are serialised on the vault, which is one SQLCipher connection.
#[derive(Debug)]
pub struct Session {
    pub(crate) dir: PathBuf,
    pub(crate) clock: Arc<dyn Clock>,
    kdf: KdfChoice,
    settings_path: Option<PathBuf>,
    settings: Mutex<Settings>,
    pub(crate) vault: Mutex<Option<Vault>>,
    activity: Mutex<Activity>,
    /// Exports and imports under way: the vault is not held while their files are written and
    /// read, and auto-lock waits for them.
    pub(crate) exchanges: AtomicUsize,
    /// The sync worker's state (see `sync`).
    pub(crate) sync: SyncShared,
}

/// The sync worker's shared state (the worker itself is in `sync`).
#[derive(Debug, Default)]
pub(crate) struct SyncShared {
    /// Set on lock and on a settings change: the worker's current run ends.
    pub(crate) stop: AtomicBool,
    /// "Sync now".
    pub(crate) wake: AtomicBool,
    /// What the status bar shows.
    pub(crate) live: Mutex<Live>,
}

/// The worker's latest news: a pass under way, its progress, the last error and the next try.
#[derive(Debug, Default, Clone)]
pub(crate) struct Live {
    pub(crate) running: bool,
    pub(crate) progress: Option<vigil_sync::Progress>,
    pub(crate) error: Option<(String, String)>,
    pub(crate) next_try: Option<Instant>,
}

pub(crate) fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a lock was held cannot leave the vault half-changed (every change is one
    // SQLite transaction), so carry on with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a wrong passphrase is held back: 0.5 s, 1 s, 2 s, ... up to 30 s.
pub fn unlock_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let ms = 500u64.saturating_mul(1 << (failures - 1).min(10));
    Duration::from_millis(ms.min(30_000))
}

impl Session {
    /// A locked session over the vault in `dir`. New vaults get `kdf`; settings are read from
    /// and written to `settings_path` (none: kept in memory only, for tests).
    pub fn new(
        dir: PathBuf,
        clock: Arc<dyn Clock>,
        kdf: KdfChoice,
        settings_path: Option<PathBuf>,
    ) -> Self {
        let settings = settings_path
            .as_deref()
            .map(Settings::load)
            .unwrap_or_default();
        // Counted across restarts: quitting does not reset the delay (or an optional wipe).
        let failures = Vault::failed_unlocks(&dir);
        Self {
            dir,
            clock,
            kdf,
            settings_path,
            settings: Mutex::new(settings),
            vault: Mutex::new(None),
            activity: Mutex::new(Activity {
                last: Instant::now(),
                failures,
            }),
            exchanges: AtomicUsize::new(0),
            sync: SyncShared::default(),
        }
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of the vault that is open: the session's folder, or the decoy's inside it
    /// after the duress passphrase.
    pub(crate) fn open_dir(&self) -> Result<PathBuf, AppError> {
        guard(&self.vault)
            .as_ref()
            .map(|v| v.dir().to_path_buf())
            .ok_or_else(AppError::locked)
    }

    /// Whether a vault is open.
    pub fn is_unlocked(&self) -> bool {
        guard(&self.vault).is_some()
    }

    /// Where things stand, for the first screen.
    pub fn status(&self) -> AppStatus {
        AppStatus {
            vault_dir: self.dir.display().to_string(),
            vault_exists: Vault::exists(&self.dir),
            unlocked: self.is_unlocked(),
            settings: self.settings(),
        }
    }

    /// Creates a new vault in the session's folder and opens it.
    pub fn create_vault(&self, passphrase: String) -> Result<VaultOverview, AppError> {
        let passphrase = Passphrase::new(passphrase);
        let mut slot = guard(&self.vault);
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        let vault = Vault::create(&self.dir, &passphrase, self.kdf, Arc::clone(&self.clock))?;
        *slot = Some(vault);
        self.touch();
        Ok(VaultOverview {
            dir: self.dir.clone(),
            incidents: 0,
        })
    }

    /// Opens the vault with `passphrase`. A vault that was already open is closed first, so the
    /// passphrase is always checked. Each wrong passphrase in a row is answered more slowly.
    pub fn unlock(&self, passphrase: String) -> Result<VaultOverview, AppError> {
        let passphrase = Passphrase::new(passphrase);
        let mut slot = guard(&self.vault);
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        match Vault::open(&self.dir, &passphrase, Arc::clone(&self.clock)) {
            Ok(vault) => {
                let overview = VaultOverview {
                    dir: self.dir.clone(),
                    incidents: vault.count_incidents()?,
                };
                *slot = Some(vault);
                let mut a = guard(&self.activity);
                if a.failures > 0 {
                    let _ = Vault::record_failed_unlocks(&self.dir, 0);
                }
                a.failures = 0;
                a.last = Instant::now();
                Ok(overview)
            }
            Err(StoreError::WrongPassphrase) => {
                drop(slot);
                let failures = {
                    let mut a = guard(&self.activity);
                    a.failures = a.failures.saturating_add(1);
                    a.failures
                };
                let _ = Vault::record_failed_unlocks(&self.dir, failures);
                let limit = guard(&self.settings).wipe_after_failures;
                if limit > 0 && failures >= limit {
                    return Err(self.wipe_after_failures(failures));
                }
                std::thread::sleep(unlock_delay(failures));
                let mut err = AppError::from(StoreError::WrongPassphrase);
                err.retry_after_ms = Some(unlock_delay(failures + 1).as_millis() as u64);
                Err(err)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the vault, if open. Closing cannot be refused: a failure to close cleanly (which
    /// loses nothing, every write is already committed) still leaves the session locked.
    pub fn lock(&self) {
        self.sync.stop.store(true, Ordering::Relaxed);
        if let Some(vault) = guard(&self.vault).take() {
            close_quietly(vault);
        }
    }

    /// Records input from the person (for auto-lock).
    pub fn touch(&self) {
        guard(&self.activity).last = Instant::now();
    }

    /// Locks if there was no input for the auto-lock time. Returns true if it locked now.
    ///
    /// It never waits for the vault: a vault in use (an unlock deriving its key, say) is not
    /// idle, and the question is asked again a second later. The idle time is read only once
    /// the vault is held, so an unlock that has just finished (and reset the clock) is seen:
    /// reading it first had locked a vault opened after a long wait on the unlock screen.
    pub fn lock_if_idle(&self) -> bool {
        let limit = Duration::from_secs(u64::from(guard(&self.settings).auto_lock_seconds));
        let mut slot = match self.vault.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        let idle = guard(&self.activity).last.elapsed();
        let exchanging = self.exchanges.load(Ordering::SeqCst) > 0;
        match slot.take() {
            Some(vault) if idle >= limit && !exchanging => {
                self.sync.stop.store(true, Ordering::Relaxed);
                close_quietly(vault);
                true
            }
            open => {
                *slot = open;
                false
            }
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        guard(&self.settings).clone()
    }

    /// Checks, stores and applies new settings.
    pub fn save_settings(&self, settings: Settings) -> Result<Settings, AppError> {
        settings.validate()?;
        if let Some(path) = &self.settings_path {
            settings.save(path)?;
        }
        *guard(&self.settings) = settings.clone();
        // The sync worker starts again with the new proxy and schedule.
        self.sync.stop.store(true, Ordering::Relaxed);
        Ok(settings)
    }

    pub(crate) fn with_vault<T>(
        &self,
        f: impl FnOnce(&Vault) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let slot = guard(&self.vault);
        match slot.as_ref() {
            Some(vault) => f(vault),
            None => Err(AppError::locked()),
        }
    }

    pub(crate) fn with_vault_mut<T>(
        &self,
        f: impl FnOnce(&mut Vault) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut slot = guard(&self.vault);
        match slot.as_mut() {
            Some(vault) => f(vault),
            None => Err(AppError::locked()),
        }
    }
}

/// Closes `vault`, ignoring a failure: every write was committed when it returned, so a failed
/// close can only leave the write-ahead log unmerged, which the next open merges.
pub(crate) fn close_quietly(vault: Vault) {
    let _ = vault.close();
}

/// What the session's tests share: a fixed clock and a small vault.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;
    use std::sync::Arc;

    use chrono::DateTime;
    use vigil_crypto::Passphrase;
    use vigil_crypto::kdf::KdfParams;
    use vigil_model::{Incident, IncidentId};
    use vigil_store::{Clock, FixedClock, KdfChoice, Vault};

    pub(crate) const PASS: &str = "correct horse battery staple";

    pub(crate) fn clock() -> Arc<dyn Clock> {
        let t = DateTime::parse_from_rfc3339("2024-03-08T14:30:00+06:00").unwrap();
        Arc::new(FixedClock::new(t))
    }

    /// A vault with one incident and one log entry, closed again. Returns the incident's id.
    pub(crate) fn make_vault(dir: &Path) -> IncidentId {
        let clock = clock();
        let mut vault = Vault::create(
            dir,
            &Passphrase::new(PASS.into()),
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::clone(&clock),
        )
        .unwrap();
        let mut incident = Incident::new(
            IncidentId::new(),
            "Lawyer beaten outside court",
            clock.now(),
        );
        incident.summary = "Nine men in plain clothes.".into();
        vault.create_incident(&incident).unwrap();
        vault
            .append_log(incident.id, "Ambulance called", false)
            .unwrap();
        vault.close().unwrap();
        incident.id
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use vigil_crypto::kdf::KdfParams;
    use vigil_model::IncidentId;

    use super::testing::{PASS, clock, make_vault};
    use super::*;

    /// The auto-lock's question lands while an unlock holds the vault (Argon2id takes about a
    /// second), after a long wait on the unlock screen. The vault that unlock opens stays open:
    /// the check had read the old idle time, waited for the vault, then locked the new one.
    #[test]
    fn an_unlock_after_a_long_wait_is_not_undone_by_the_auto_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let session = Arc::new(Session::new(
            dir.clone(),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        ));
        let mut settings = session.settings();
        settings.auto_lock_seconds = 60;
        session.save_settings(settings).unwrap();
        // Two minutes on the unlock screen.
        guard(&session.activity).last = Instant::now() - Duration::from_secs(120);

        // The unlock is under way: it holds the vault while it derives the key.
        let mut slot = guard(&session.vault);
        let (asked_tx, asked_rx) = std::sync::mpsc::channel();
        let checker = {
            let session = Arc::clone(&session);
            std::thread::spawn(move || {
                asked_tx.send(()).unwrap();
                session.lock_if_idle()
            })
        };
        asked_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // ...and finishes as `unlock` does: the vault in place, the idle clock reset.
        *slot = Some(Vault::open(&dir, &Passphrase::new(PASS.into()), clock()).unwrap());
        guard(&session.activity).last = Instant::now();
        drop(slot);

        assert!(
            !checker.join().unwrap(),
            "the auto-lock locked a vault just opened"
        );
        assert!(session.is_unlocked());
        assert!(!session.lock_if_idle(), "a fresh unlock is not idle");
        assert!(session.is_unlocked());

        // Idle for real: it locks.
        guard(&session.activity).last = Instant::now() - Duration::from_secs(61);
        assert!(session.lock_if_idle());
        assert!(!session.is_unlocked());
    }

    #[test]
    fn wrong_passphrase_is_reported_by_code() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let session = Session::new(dir, clock(), KdfChoice::Params(KdfParams::FLOOR), None);
        let err = session.unlock("not it".into()).unwrap_err();
        assert_eq!(err.code, "wrong_passphrase");
        assert!(err.message.contains("passphrase"), "{}", err.message);
        assert!(!session.is_unlocked());
    }

    #[test]
    fn missing_vault_and_bad_ids_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let session = Session::new(
            tmp.path().join("nothing here"),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );
        assert_eq!(session.unlock(PASS.into()).unwrap_err().code, "not_a_vault");
        assert_eq!(session.incident("x").unwrap_err().code, "invalid_id");
        assert_eq!(
            session
                .incident(&IncidentId::new().to_string())
                .unwrap_err()
                .code,
            "locked"
        );
    }
}

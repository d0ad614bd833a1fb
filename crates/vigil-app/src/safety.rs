//! Field safety in the session: quick delete, re-keying after a passphrase was seen or given
//! up, and the optional wipe after too many wrong passphrases.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use vigil_crypto::Passphrase;
use vigil_store::Vault;

use crate::session::{close_quietly, guard};
use crate::{AppError, Session};

impl Session {
    /// Quick delete: destroys the vault's key first (on disk, before anything else: nothing in
    /// the vault can be opened from then on, whatever the passphrase), then closes the vault
    /// and removes its files. Works locked or unlocked; needs no passphrase.
    pub fn quick_delete(&self) -> Result<(), AppError> {
        self.sync.stop.store(true, Ordering::Relaxed);
        // The key goes first, even while the vault is open here: the open connection keeps
        // only what it already holds in memory, and is dropped next.
        let report = Vault::wipe(&self.dir)?;
        drop(guard(&self.vault).take());
        tracing::info!(
            key_destroyed_ms = report.key_destroyed_after.as_millis() as u64,
            "quick delete done"
        );
        Ok(())
    }

    /// Gives the open vault a fresh database key and a key header under `new_passphrase` (the
    /// current one, asked again, may be kept): an old copy of the key header then opens
    /// nothing written from now on. A wrong passphrase changes nothing and keeps the vault
    /// open.
    pub fn rekey(&self, passphrase: String, new_passphrase: String) -> Result<(), AppError> {
        let passphrase = Passphrase::new(passphrase);
        let new_passphrase = Passphrase::new(new_passphrase);
        let dir = self.open_dir()?;
        // Checked before the vault is closed, so that a mistyped passphrase locks nothing.
        Vault::unwrap_key(&dir, &passphrase)?;
        self.sync.stop.store(true, Ordering::Relaxed);
        let mut slot = guard(&self.vault);
        if let Some(open) = slot.take() {
            close_quietly(open);
        }
        // On a failure the old key and header stand (the next open finishes or undoes the
        // step), and the session is locked: the unlock screen comes back.
        let vault =
            Vault::rekey_and_open(&dir, &passphrase, &new_passphrase, Arc::clone(&self.clock))?;
        *slot = Some(vault);
        drop(slot);
        self.touch();
        Ok(())
    }

    /// Whether the open vault has a duress passphrase.
    pub fn has_duress(&self) -> Result<bool, AppError> {
        match guard(&self.vault).as_ref() {
            Some(v) => Ok(v.has_duress()),
            None => Err(AppError::locked()),
        }
    }

    /// Sets the duress passphrase (the vault's own passphrase is asked again): it will open a
    /// separate decoy vault, and with `destroy_real` destroy this vault's key as it does.
    pub fn set_duress(
        &self,
        passphrase: String,
        duress: String,
        destroy_real: bool,
    ) -> Result<(), AppError> {
        let passphrase = Passphrase::new(passphrase);
        let duress = Passphrase::new(duress);
        let dir = self.open_dir()?;
        Vault::unwrap_key(&dir, &passphrase)?;
        match guard(&self.vault).as_ref() {
            Some(v) => Ok(v.set_duress(&duress, destroy_real)?),
            None => Err(AppError::locked()),
        }
    }

    /// Removes the duress passphrase and destroys the decoy vault.
    pub fn remove_duress(&self) -> Result<(), AppError> {
        match guard(&self.vault).as_ref() {
            Some(v) => Ok(v.remove_duress()?),
            None => Err(AppError::locked()),
        }
    }

    /// The wrong passphrase number `failures` reached the limit set in the settings: the vault
    /// is destroyed as by a quick delete. Returns what the unlock screen says.
    pub(crate) fn wipe_after_failures(&self, failures: u32) -> AppError {
        tracing::warn!(
            failures,
            "wrong passphrase limit reached: destroying the vault"
        );
        match self.quick_delete() {
            Ok(()) => AppError::vault_wiped(),
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use vigil_crypto::kdf::KdfParams;
    use vigil_store::KdfChoice;

    use super::*;
    use crate::session::testing::{PASS, clock, make_vault};

    fn session(dir: &Path) -> Session {
        Session::new(
            dir.to_path_buf(),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        )
    }

    #[test]
    fn quick_delete_of_an_open_vault_leaves_nothing_and_locks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let s = session(&dir);
        s.unlock(PASS.into()).unwrap();
        s.quick_delete().unwrap();
        assert!(!s.is_unlocked());
        assert!(!s.status().vault_exists);
        assert!(!dir.exists());
        assert_eq!(s.unlock(PASS.into()).unwrap_err().code, "not_a_vault");
    }

    #[test]
    fn rekey_asks_the_passphrase_again_takes_the_new_one_and_keeps_the_vault_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let id = make_vault(&dir);
        let s = session(&dir);
        assert_eq!(
            s.rekey(PASS.into(), PASS.into()).unwrap_err().code,
            "locked"
        );
        s.unlock(PASS.into()).unwrap();
        let header = std::fs::read(dir.join("vault.key")).unwrap();
        assert_eq!(
            s.rekey("not it".into(), "new words".into())
                .unwrap_err()
                .code,
            "wrong_passphrase"
        );
        assert!(s.is_unlocked(), "a mistyped passphrase locks nothing");
        assert_eq!(std::fs::read(dir.join("vault.key")).unwrap(), header);
        s.rekey(PASS.into(), "a new passphrase of words".into())
            .unwrap();
        assert!(s.is_unlocked());
        assert_ne!(std::fs::read(dir.join("vault.key")).unwrap(), header);
        assert_eq!(
            s.incident(&id.to_string()).unwrap().incident.title,
            "Lawyer beaten outside court"
        );
        s.lock();
        assert_eq!(s.unlock(PASS.into()).unwrap_err().code, "wrong_passphrase");
        s.unlock("a new passphrase of words".into()).unwrap();
    }

    #[test]
    fn with_the_limit_set_the_vault_is_destroyed_at_the_nth_wrong_passphrase_even_across_restarts()
    {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let first = session(&dir);
        let mut settings = first.settings();
        settings.wipe_after_failures = 3;
        first.save_settings(settings.clone()).unwrap();
        for _ in 0..2 {
            assert_eq!(
                first.unlock("guess".into()).unwrap_err().code,
                "wrong_passphrase"
            );
        }
        assert!(dir.join("vault.key").exists());
        // The app is started again: the count goes on.
        let second = session(&dir);
        second.save_settings(settings).unwrap();
        assert_eq!(
            second.unlock("guess".into()).unwrap_err().code,
            "vault_wiped"
        );
        assert!(!dir.exists());
    }

    #[test]
    fn without_the_limit_wrong_passphrases_only_slow_down_and_the_right_one_resets_the_count() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        make_vault(&dir);
        let s = session(&dir);
        for _ in 0..3 {
            assert_eq!(
                s.unlock("guess".into()).unwrap_err().code,
                "wrong_passphrase"
            );
        }
        assert_eq!(Vault::failed_unlocks(&dir), 3);
        s.unlock(PASS.into()).unwrap();
        assert_eq!(Vault::failed_unlocks(&dir), 0);
        assert!(!dir.join("vault.failures").exists());
    }

    #[test]
    fn the_duress_passphrase_needs_the_real_one_and_opens_the_decoy_which_may_destroy_the_real() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let id = make_vault(&dir);
        let s = session(&dir);
        s.unlock(PASS.into()).unwrap();
        assert!(!s.has_duress().unwrap());
        assert_eq!(
            s.set_duress("not it".into(), "decoy words".into(), false)
                .unwrap_err()
                .code,
            "wrong_passphrase"
        );
        assert_eq!(
            s.set_duress(PASS.into(), PASS.into(), false)
                .unwrap_err()
                .code,
            "duress_same_as_real"
        );
        s.set_duress(PASS.into(), "decoy words".into(), false)
            .unwrap();
        assert!(s.has_duress().unwrap());
        s.lock();

        // The decoy: empty, and from inside it no duress passphrase is set.
        s.unlock("decoy words".into()).unwrap();
        assert!(s.list(&Default::default()).unwrap().total == 0);
        assert!(!s.has_duress().unwrap());
        s.lock();
        s.unlock(PASS.into()).unwrap();
        assert_eq!(s.list(&Default::default()).unwrap().total, 1);
        s.set_duress(PASS.into(), "decoy words".into(), true)
            .unwrap();
        s.lock();

        s.unlock("decoy words".into()).unwrap();
        assert!(s.list(&Default::default()).unwrap().total == 0);
        s.lock();
        assert_eq!(s.unlock(PASS.into()).unwrap_err().code, "wrong_passphrase");
        assert!(s.incident(&id.to_string()).is_err());
    }
}

//! The app's settings: language, auto-lock time, vault folder and how to sync. They are not sensitive (no
//! report content), so they live in a small JSON file in the user's config folder, written
//! atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AppError;

/// The languages the UI ships in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
    /// Kyrgyz.
    Ky,
}

/// What a person can change in the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// UI language.
    pub language: Language,
    /// Lock the vault after this many seconds without input.
    pub auto_lock_seconds: u32,
    /// The vault folder to open at the next start (`None`: the default folder).
    pub vault_dir: Option<String>,
    /// Sync with the organisation's server by itself whenever it can be reached (else only on
    /// "Sync now").
    pub sync_automatic: bool,
    /// A SOCKS5 proxy for all sync traffic (`socks5h://127.0.0.1:9050` for Tor).
    pub sync_proxy: Option<String>,
    /// Remove an attachment's content from this laptop once HQ has acknowledged it (frees
    /// space; what was removed can no longer be opened or exported here).
    pub sync_free_delivered: bool,
    /// Quick delete (Ctrl+Shift+Delete) asks first; without, it destroys the vault at once.
    pub quick_delete_confirm: bool,
    /// Destroy the vault after this many wrong passphrases in a row (0: never; else 3 to 100).
    pub wipe_after_failures: u32,
    /// Discreet mode: a neutral window title ("Notes") and a plain icon, so that a glance at
    /// the screen or the task bar does not say Vigil.
    pub discreet: bool,
    /// Pad bundles written to a stick to their size bucket (at least 1 MiB, at most about
    /// 12 % more), so that a bundle's size tells less about what it carries.
    pub pad_bundles: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: Language::En,
            auto_lock_seconds: 300,
            vault_dir: None,
            sync_automatic: true,
            sync_proxy: None,
            sync_free_delivered: false,
            quick_delete_confirm: true,
            wipe_after_failures: 0,
            discreet: false,
            pad_bundles: false,
        }
    }
}

impl Settings {
    /// Checks the values a person entered.
    pub fn validate(&self) -> Result<(), AppError> {
        if !(1..=86_400).contains(&self.auto_lock_seconds) {
            return Err(AppError::invalid_setting(
                "auto_lock_seconds",
                "the auto-lock time must be between 1 second and 24 hours".into(),
            ));
        }
        if self.wipe_after_failures != 0 && !(3..=100).contains(&self.wipe_after_failures) {
            return Err(AppError::invalid_setting(
                "wipe_after_failures",
                "the vault can be destroyed after 3 to 100 wrong passphrases (0: never)".into(),
            ));
        }
        if let Some(p) = &self.sync_proxy
            && !(p.starts_with("socks5h://") || p.starts_with("socks5://"))
        {
            return Err(AppError::invalid_setting(
                "sync_proxy",
                "the proxy must be a SOCKS5 address: socks5h://host:port (Tor: socks5h://127.0.0.1:9050)".into(),
            ));
        }
        Ok(())
    }

    /// `<config dir>/vigil/settings.json`.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("vigil").join("settings.json"))
    }

    /// Reads the settings; a missing or unreadable file gives the defaults (and a warning for
    /// the latter), never an error that would stop the app from starting.
    pub fn load(path: &Path) -> Settings {
        match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Settings>(&text) {
                Ok(s) if s.validate().is_ok() => s,
                _ => {
                    tracing::warn!("ignoring unreadable settings file {}", path.display());
                    Settings::default()
                }
            },
            Err(_) => Settings::default(),
        }
    }

    /// Writes the settings atomically.
    pub fn save(&self, path: &Path) -> Result<(), AppError> {
        self.validate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::io(&e))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| AppError::io(&e))?;
        vigil_store::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}

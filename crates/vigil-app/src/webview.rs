//! The web view's data folder: WebKit keeps an HTTP cache, an HSTS database and web storage
//! there. Vigil gives it a fresh private folder (0700) in the temp directory for each run, so
//! nothing outlives the session under the user's home, and removes it on exit.
//!
//! A run that was killed cannot remove its folder, so each run holds a lock on a file inside
//! its own folder, and at start removes every `vigil-webview-*` folder whose lock is free (its
//! run has ended). Folders of other running windows are left alone.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PREFIX: &str = "vigil-webview-";
const LOCK: &str = ".in-use";

/// This run's web view folder; removed when dropped.
#[derive(Debug)]
pub struct WebviewDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl WebviewDir {
    /// Sweeps folders left by ended runs from `tmp`, then makes and locks a new one.
    pub fn create_in(tmp: &Path) -> std::io::Result<WebviewDir> {
        sweep(tmp);
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(tmp)?;
        let lock = File::create(dir.path().join(LOCK))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        Ok(WebviewDir { dir, _lock: lock })
    }

    /// [`WebviewDir::create_in`] the system temp directory.
    pub fn create() -> std::io::Result<WebviewDir> {
        Self::create_in(&std::env::temp_dir())
    }

    /// The folder.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Removes the web view folders of runs that have ended.
fn sweep(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) || !e.path().is_dir() {
            continue;
        }
        let in_use = match File::open(e.path().join(LOCK)) {
            Ok(f) => f.try_lock().is_err(),
            Err(_) => false,
        };
        if !in_use {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn folders_of_ended_runs_are_swept_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let live = WebviewDir::create_in(tmp.path()).unwrap();
        // A folder left by a killed run: no lock held (the lock file may or may not exist).
        let stale = tmp.path().join(format!("{PREFIX}stale"));
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("hsts-storage.sqlite"), "x").unwrap();
        let other = tmp.path().join("someone-elses");
        fs::create_dir(&other).unwrap();

        let second = WebviewDir::create_in(tmp.path()).unwrap();
        assert!(!stale.exists());
        assert!(live.path().exists(), "a running window's folder is kept");
        assert!(other.exists());
        let mode = fs::metadata(second.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let path = second.path();
        drop(second);
        assert!(!path.exists(), "removed on drop");
    }
}

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why no vault folder could be chosen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultDirError {
    /// `--vault` was the last argument.
    #[error("--vault needs a folder: vigil-desktop --vault DIR")]
    MissingValue,
    /// Neither `--vault`, `VIGIL_VAULT` nor a platform data folder is available.
    #[error(
        "no data folder is known on this system; start Vigil with --vault DIR or set VIGIL_VAULT"
    )]
    NoDataDir,
}

/// The vault folder to open: `--vault DIR` (or `--vault=DIR`) among `args` (program name
/// excluded), else `env` (the value of `VIGIL_VAULT`), else `<data_dir>/vigil/vault` - the same
/// folder the `vigil` command uses.
pub fn vault_dir(
    args: impl IntoIterator<Item = OsString>,
    env: Option<OsString>,
    data_dir: Option<PathBuf>,
) -> Result<PathBuf, VaultDirError> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--vault" {
            return args
                .next()
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or(VaultDirError::MissingValue);
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--vault=")) {
            if value.is_empty() {
                return Err(VaultDirError::MissingValue);
            }
            return Ok(PathBuf::from(value));
        }
    }
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    data_dir
        .map(|d| d.join("vigil").join("vault"))
        .ok_or(VaultDirError::NoDataDir)
}

/// [`vault_dir`] for this process: its arguments, `VIGIL_VAULT` and the platform data folder.
pub fn process_vault_dir() -> Result<PathBuf, VaultDirError> {
    vault_dir(
        std::env::args_os().skip(1),
        std::env::var_os("VIGIL_VAULT"),
        dirs::data_dir(),
    )
}

/// The name under which the window of the vault at `dir` is the only one on this desktop
/// session (the single-instance plugin's D-Bus id, under the app's identifier): one per vault
/// folder, so a second start on the same vault brings its window forward, while another vault
/// may still open beside it. The folder's path is hashed, so the name says nothing about it.
pub fn instance_id(identifier: &str, dir: &Path) -> String {
    let path = std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf());
    let digest = vigil_crypto::sign::sha256(path.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{identifier}.vault_{hex}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn one_instance_name_per_vault_folder_revealing_nothing_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("monitor");
        std::fs::create_dir(&a).unwrap();
        let id = instance_id("org.vigil.desktop", &a);
        assert!(id.starts_with("org.vigil.desktop.vault_"), "{id}");
        assert!(!id.contains("monitor"));
        // The same folder by another path is the same instance; another folder is not.
        assert_eq!(
            instance_id("org.vigil.desktop", &a.join("..").join("monitor")),
            id
        );
        assert_ne!(instance_id("org.vigil.desktop", &dir.path().join("hq")), id);
        // A valid D-Bus name element: letters, digits and `_`, not starting with a digit.
        let last = id.rsplit('.').next().unwrap();
        assert!(last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn argument_beats_environment_beats_data_dir() {
        let data = Some(PathBuf::from("/data"));
        let env = Some(OsString::from("/env"));
        assert_eq!(
            vault_dir(args(&["--vault", "/arg"]), env.clone(), data.clone()).unwrap(),
            PathBuf::from("/arg")
        );
        assert_eq!(
            vault_dir(args(&["--vault=/arg"]), env.clone(), data.clone()).unwrap(),
            PathBuf::from("/arg")
        );
        assert_eq!(
            vault_dir(args(&[]), env, data.clone()).unwrap(),
            PathBuf::from("/env")
        );
        assert_eq!(
            vault_dir(args(&[]), None, data).unwrap(),
            PathBuf::from("/data/vigil/vault")
        );
    }

    #[test]
    fn missing_values_are_errors() {
        assert!(matches!(
            vault_dir(args(&["--vault"]), None, None),
            Err(VaultDirError::MissingValue)
        ));
        assert!(matches!(
            vault_dir(args(&["--vault="]), None, None),
            Err(VaultDirError::MissingValue)
        ));
        assert!(matches!(
            vault_dir(args(&[]), None, None),
            Err(VaultDirError::NoDataDir)
        ));
    }
}

//! Passphrases: from a file, standard input or the terminal, never from the command line.

use std::fs::File;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use vigil_crypto::Passphrase;

use crate::error::{Failure, usage};

/// Reads passphrases from a file, standard input or the terminal.
pub(crate) struct Passphrases {
    /// `--passphrase-file`, if given.
    pub(crate) file: Option<PathBuf>,
}

impl Passphrases {
    fn read_line_from(path: &Path) -> Result<Passphrase, Failure> {
        let mut line = String::new();
        if path == Path::new("-") {
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                usage(format!(
                    "cannot read the passphrase from standard input: {e}"
                ))
            })?;
        } else {
            let f = File::open(path).map_err(|e| {
                usage(format!(
                    "cannot read the passphrase file {}: {e}",
                    path.display()
                ))
            })?;
            std::io::BufReader::new(f)
                .read_line(&mut line)
                .map_err(|e| {
                    usage(format!(
                        "cannot read the passphrase file {}: {e}",
                        path.display()
                    ))
                })?;
        }
        let trimmed_len = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed_len);
        if line.is_empty() {
            return Err(usage("the passphrase is empty"));
        }
        Ok(Passphrase::new(line))
    }

    fn prompt(label: &str) -> Result<Passphrase, Failure> {
        let p = rpassword::prompt_password(label).map_err(|e| {
            usage(format!(
                "cannot ask for the passphrase: {e}; use --passphrase-file"
            ))
        })?;
        if p.is_empty() {
            return Err(usage("the passphrase is empty"));
        }
        Ok(Passphrase::new(p))
    }

    pub(crate) fn existing(&self) -> Result<Passphrase, Failure> {
        match &self.file {
            Some(f) => Self::read_line_from(f),
            None => Self::prompt("Vault passphrase: "),
        }
    }

    pub(crate) fn new_one(file: Option<&Path>) -> Result<Passphrase, Failure> {
        if let Some(f) = file {
            return Self::read_line_from(f);
        }
        eprintln!(
            "Choose a passphrase of several words. If it is lost, nothing in the vault can be recovered."
        );
        let a = Self::prompt("New passphrase: ")?;
        let b = Self::prompt("Repeat it: ")?;
        if a.expose_str() != b.expose_str() {
            return Err(usage("the two passphrases differ; nothing was changed"));
        }
        Ok(a)
    }
}

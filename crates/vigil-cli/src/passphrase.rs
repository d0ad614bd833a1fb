//! Passphrases: from a file, standard input or the terminal, never from the command line.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use vigil_crypto::Passphrase;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Failure, usage};

/// The longest passphrase read from a file or standard input, in bytes.
const MAX_LEN: usize = 4096;

/// Reads passphrases from a file, standard input or the terminal.
pub(crate) struct Passphrases {
    /// `--passphrase-file`, if given.
    pub(crate) file: Option<PathBuf>,
}

impl Passphrases {
    /// The first line of `path` ('-': standard input), read one byte at a time into a buffer
    /// that is wiped: no reader keeps a copy, and nothing after the line is consumed (standard
    /// input may go on with entries).
    fn read_line_from(path: &Path) -> Result<Passphrase, Failure> {
        let cannot = |e: std::io::Error| {
            if path == Path::new("-") {
                usage(format!(
                    "cannot read the passphrase from standard input: {e}"
                ))
            } else {
                usage(format!(
                    "cannot read the passphrase file {}: {e}",
                    path.display()
                ))
            }
        };
        let mut source = if path == Path::new("-") {
            use std::os::fd::AsFd;
            File::from(
                std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(cannot)?,
            )
        } else {
            File::open(path).map_err(cannot)?
        };
        // Room for any passphrase, allocated once so that it never moves.
        let mut line = Zeroizing::new(Vec::with_capacity(MAX_LEN));
        let mut byte = [0u8; 1];
        loop {
            match source.read(&mut byte) {
                Ok(0) => break,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) if line.len() == MAX_LEN => {
                    return Err(usage("the passphrase is longer than 4096 bytes"));
                }
                Ok(_) => line.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(cannot(e)),
            }
        }
        byte.zeroize();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return Err(usage("the passphrase is empty"));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| usage("the passphrase is not valid UTF-8 text"))?;
        let mut owned = String::with_capacity(text.len());
        owned.push_str(text);
        Ok(Passphrase::new(owned))
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

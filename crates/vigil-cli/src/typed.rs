//! Report content typed in: read from the terminal or standard input, so that it never has to
//! be on the command line, where it stays in the shell's history and any program on the
//! machine can read it from `/proc` while `vigil` runs.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;

use crate::error::Failure;

/// Says, once, why content on the command line is unsafe and what to do instead.
pub(crate) fn warn_on_command_line(what: &str) {
    eprintln!(
        "vigil: warning: the {what} given on the command line stays in the shell's history and \
         is visible to other programs while vigil runs; leave it out and vigil asks for it (or \
         pipe it in)"
    );
}

/// Whether standard input is a terminal (a person typing), not a pipe or a file.
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Shows `hint` on the terminal (standard error), and nothing when input is piped.
pub(crate) fn hint(hint: &str) {
    if interactive() {
        eprint!("{hint}");
        let _ = std::io::stderr().flush();
    }
}

/// The next line of standard input without its line ending; `None` at the end of input.
pub(crate) fn next_line(label: &str) -> Result<Option<String>, Failure> {
    hint(label);
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read standard input")?;
    if n == 0 {
        return Ok(None);
    }
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    Ok(Some(line))
}

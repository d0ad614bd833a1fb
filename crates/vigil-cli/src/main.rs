//! `vigil`: everything the Vigil app does, from a terminal or a script.
//!
//! Exit codes: 0 ok; 1 usage or validation error; 2 wrong passphrase; 3 damaged or unreadable
//! vault; 4 a bundle was kept in quarantine (nothing applied: a person must decide); 5 `vigil
//! sync` could not send everything; 6 the disk holding the vault is full (nothing saved before
//! is lost). With
//! `--json` every command that prints data prints JSON objects with an `id` field.

mod cli;
mod commands;
mod demo;
mod error;
mod output;
mod passphrase;
mod typed;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    // Before any passphrase or key exists: a crash must not write them to disk.
    if let Err(e) = vigil_crypto::process::forbid_core_dumps() {
        eprintln!("vigil: warning: core dumps could not be turned off: {e}");
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    let json = cli.json;
    let result = commands::run(cli);
    hold_if_asked();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                let v = serde_json::json!({ "error": { "code": f.kind, "message": f.message } });
                eprintln!("{v}");
            } else {
                eprintln!("vigil: error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// With `VIGIL_HOLD_AT_EXIT` set, waits for standard input to close before exiting, once the
/// command is done and its vault closed: for the memory test, which takes a core image of the
/// process at exactly that moment (no passphrase or key may be left in it). Changes nothing
/// else.
fn hold_if_asked() {
    if std::env::var_os("VIGIL_HOLD_AT_EXIT").is_none() {
        return;
    }
    eprintln!("vigil: holding until standard input closes");
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
}

//! Every code the backend can hand the window has a message in the UI's translation table, so
//! a Russian or Kyrgyz speaker never gets an English fallback: each `fn code` of the crates'
//! errors (and each code the app makes itself) needs `error.<code>`, each validation problem
//! `problem.<code>`. The Russian and Kyrgyz tables are typed by the English one, so the UI build
//! (`tsc`) fails if either lacks a key that English has.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The string literals returned by `fn code` in `source` (from the function to its end).
fn codes_of_code_fn(source: &str) -> BTreeSet<String> {
    let start = source
        .find("fn code(&self)")
        .expect("a fn code(&self) to read");
    let body = &source[start..];
    let end = body.find("\n    }\n").expect("the end of fn code");
    literals(&body[..end], "=>")
}

/// String literals of codes (`[a-z_.]+`) that follow `marker`, e.g. `=> "bundle.tampered"`.
fn literals(text: &str, marker: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices(marker) {
        let rest = text[at + marker.len()..].trim_start();
        let rest = rest.strip_prefix("Self::new(").unwrap_or(rest).trim_start();
        if let Some(lit) = rest.strip_prefix('"')
            && let Some(end) = lit.find('"')
        {
            let code = &lit[..end];
            if !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || "_.".contains(c))
            {
                out.insert(code.to_owned());
            }
        }
    }
    out
}

/// The keys of the English table in ui/src/lang/en.ts.
fn english_keys() -> BTreeSet<String> {
    let ts = read("ui/src/lang/en.ts");
    let start = ts.find("export const en = {").unwrap();
    let end = start + ts[start..].find("} as const;").unwrap();
    ts[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once("\":").map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn every_error_and_problem_code_has_a_message() {
    let mut errors = BTreeSet::new();
    for file in [
        "crates/vigil-store/src/error.rs",
        "crates/vigil-bundle/src/error.rs",
        "crates/vigil-exchange/src/error.rs",
        "crates/vigil-ledger/src/error.rs",
        "crates/vigil-model/src/error.rs",
        "crates/vigil-sync/src/lib.rs",
    ] {
        let found = codes_of_code_fn(&read(file));
        assert!(found.len() >= 2, "{file}: found only {found:?}");
        errors.extend(found);
    }
    // Codes the app makes itself: `Self::new("locked", …)`, `invalid_field(…, "invalid", …)`.
    for file in [
        "crates/vigil-app/src/error.rs",
        "crates/vigil-app/src/org.rs",
    ] {
        let text = read(file);
        errors.extend(literals(&text, "Self::new("));
        errors.extend(literals(&text, "invalid_field(\"readers\","));
    }
    for must in [
        "bundle.tampered",
        "wrong_passphrase",
        "locked",
        "no_organisation",
        "entry_foreign_device",
        "nothing_to_export",
    ] {
        assert!(errors.contains(must), "the scan missed {must}: {errors:?}");
    }
    let problems = codes_of_code_fn(&read("crates/vigil-model/src/validate.rs"));
    assert!(problems.contains("too_long"), "{problems:?}");
    // Why a bundle is kept in quarantine: shown beside it at HQ.
    let reasons = codes_of_code_fn(&read("crates/vigil-ledger/src/trust.rs"));
    assert!(reasons.contains("invitation_reused"), "{reasons:?}");

    let keys = english_keys();
    let missing: Vec<String> = errors
        .iter()
        .map(|c| format!("error.{c}"))
        .chain(problems.iter().map(|c| format!("problem.{c}")))
        .chain(reasons.iter().map(|c| format!("quarantine.{c}")))
        .filter(|k| !keys.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "no message in ui/src/lang/en.ts for: {missing:?}"
    );
}

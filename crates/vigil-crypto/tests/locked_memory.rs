//! Keys and passphrases live in pages locked into memory (never swapped out), where the system
//! permits it. Alone in its test binary, so that nothing else locks memory meanwhile.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

/// A field of /proc/self/status, its first number.
fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// How much memory this process may lock (RLIMIT_MEMLOCK), in bytes.
fn lock_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn a_key_and_a_passphrase_lock_their_pages() {
    assert_eq!(
        status("VmLck:"),
        0,
        "nothing is locked before any secret exists"
    );
    let key = vigil_crypto::Key256::generate().unwrap();
    let after_key = status("VmLck:");
    let pass = vigil_crypto::Passphrase::new("a passphrase of several words ".repeat(200));
    let after_pass = status("VmLck:");
    if lock_limit() < 64 * 1024 && status("Uid:") != 0 {
        eprintln!("the locked-memory limit here is too small to show it; nothing checked");
        return;
    }
    assert!(after_key >= 4, "the key's page is locked ({after_key} KiB)");
    assert!(
        after_pass >= after_key + 4,
        "the passphrase's pages are locked ({after_key} -> {after_pass} KiB)"
    );
    drop((key, pass));
}

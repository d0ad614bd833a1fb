//! Field safety in the window: once it is locked, the app's own process holds neither the
//! passphrase nor the database key (its memory read as a core image would hold it).

use std::fs;

use crate::harness::{Env, PASSPHRASE, serial};
use crate::memory::{found_in_memory, secrets, vault_key};

fn app_pid(app: &crate::harness::App) -> u32 {
    app.process_ids()
        .into_iter()
        .find(|pid| {
            fs::read_link(format!("/proc/{pid}/exe"))
                .unwrap_or_default()
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vigil-desktop"))
        })
        .expect("the app's process")
}

/// Unlocked, the key is in the app's memory (the control); locked, neither it nor the
/// passphrase is, in any form the code handles (raw, hex).
#[tokio::test]
async fn once_locked_the_app_holds_neither_passphrase_nor_key() {
    let _turn = serial().await;
    let mut env = Env::new("memory-after-lock");
    env.create_vault();
    env.write_settings("en", 300);
    let key = vault_key(&env.vault, PASSPHRASE);
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    let pid = app_pid(&app);
    let secrets = secrets(PASSPHRASE, &key);
    let (open, searched) = found_in_memory(pid, &secrets);
    eprintln!("unlocked: searched {} MiB, found {open:?}", searched >> 20);
    assert!(
        open.iter().any(|f| f == "the database key"),
        "the open vault's key is found in the app's memory (the control): {open:?}"
    );

    app.click("#lock").await;
    app.wait_for("#unlock-screen").await;
    let (locked, searched) = found_in_memory(pid, &secrets);
    eprintln!("locked: searched {} MiB, found {locked:?}", searched >> 20);
    assert!(
        searched > 64 << 20,
        "only {searched} bytes of the app's memory were read"
    );
    assert!(
        locked.is_empty(),
        "the locked app's memory holds {locked:?}"
    );
    app.quit().await;
}

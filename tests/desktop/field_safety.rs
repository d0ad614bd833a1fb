//! Field safety in the window: once it is locked, the app's own process holds neither the
//! passphrase nor the database key (its memory read as a core image would hold it).

use std::fs;

use crate::harness::{Env, PASSPHRASE, TIMEOUT, serial};
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

/// Ctrl, Shift and Delete held together (the keys are released by the NULL key).
const QUICK_DELETE: &str = "\u{E009}\u{E008}\u{E017}\u{E000}";

/// Quick delete from the open vault: the question, then the first screen, and no vault left.
#[tokio::test]
async fn quick_delete_asks_then_leaves_no_vault_and_the_first_screen() {
    let _turn = serial().await;
    let mut env = Env::new("quick-delete");
    env.create_vault();
    env.write_settings("en", 300);
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.type_into("#search", QUICK_DELETE).await;
    app.wait_for("#quick-delete-dialog").await;
    app.screenshot("quick-delete").await;
    // Cancel keeps everything.
    app.click("#quick-delete-cancel").await;
    assert!(env.vault.join("vault.key").exists());
    app.type_into("#search", QUICK_DELETE).await;
    app.click("#quick-delete-go").await;
    app.wait_for("#create-screen").await;
    assert!(!env.vault.exists(), "the vault folder is gone");
    app.quit().await;
}

/// With the question turned off in the settings, the keys alone destroy the vault, even from
/// the unlock screen (no passphrase needed).
#[tokio::test]
async fn quick_delete_without_the_question_works_from_the_unlock_screen() {
    let _turn = serial().await;
    let mut env = Env::new("quick-delete-locked");
    env.create_vault();
    env.write_settings_with(serde_json::json!({ "quick_delete_confirm": false }));
    let mut app = env.launch().await;
    app.type_into("#passphrase", QUICK_DELETE).await;
    app.wait_for("#create-screen").await;
    assert!(!env.vault.exists(), "the vault folder is gone");
    app.quit().await;
}

/// A new key and passphrase from Settings: a mistyped current passphrase changes nothing; then
/// the vault stays open, and the next unlock takes the new passphrase only.
#[tokio::test]
async fn a_new_key_from_settings_takes_the_new_passphrase() {
    let _turn = serial().await;
    let mut env = Env::new("rekey");
    env.create_vault();
    env.write_settings("en", 300);
    let header = fs::read(env.vault.join("vault.key")).unwrap();
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.click("#open-settings").await;
    app.wait_for("#settings-safety").await;
    app.type_into("#rekey-passphrase", "not the passphrase")
        .await;
    app.type_into("#rekey-new", "a new passphrase of words")
        .await;
    app.type_into("#rekey-confirm", "a new passphrase of words")
        .await;
    app.click("#rekey-go").await;
    app.wait_text("#rekey-outcome", "Wrong passphrase").await;
    assert_eq!(fs::read(env.vault.join("vault.key")).unwrap(), header);

    app.type_into("#rekey-passphrase", PASSPHRASE).await;
    app.type_into("#rekey-new", "a new passphrase of words")
        .await;
    app.type_into("#rekey-confirm", "a new passphrase of words")
        .await;
    app.click("#rekey-go").await;
    app.wait_text("#rekey-outcome", "new key").await;
    assert_ne!(fs::read(env.vault.join("vault.key")).unwrap(), header);
    app.click("#settings-close").await;
    app.click("#lock").await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_text("#unlock-error", "Wrong passphrase").await;
    app.replace_text("#passphrase", "a new passphrase of words")
        .await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.quit().await;
}

/// With the limit set to 3, the third wrong passphrase in a row destroys the vault, and the
/// window shows the first screen.
#[tokio::test]
async fn the_third_wrong_passphrase_destroys_the_vault_when_asked_to() {
    let _turn = serial().await;
    let mut env = Env::new("wipe-after-failures");
    env.create_vault();
    env.write_settings_with(serde_json::json!({ "wipe_after_failures": 3 }));
    let mut app = env.launch().await;
    for attempt in 1..=3 {
        app.replace_text("#passphrase", &format!("guess number {attempt}"))
            .await;
        app.click("#unlock").await;
        if attempt < 3 {
            // Each answer is counted on disk (a restart does not reset it) before the next.
            let counted = env.vault.join("vault.failures");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while fs::read_to_string(&counted).ok().as_deref() != Some(&attempt.to_string()) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "attempt {attempt} was not counted"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert!(env.vault.join("vault.key").exists());
            // ... and the screen has its answer (a press while it waits would be dropped).
            app.wait_until("the unlock button back", TIMEOUT, |c| async move {
                c.execute("return !document.querySelector('#unlock').disabled", vec![])
                    .await
                    .is_ok_and(|v| v == serde_json::Value::Bool(true))
            })
            .await;
        }
    }
    app.wait_for("#create-screen").await;
    assert!(!env.vault.exists(), "the vault folder is gone");
    app.quit().await;
}

/// The names of the X windows on the display (what a task bar would show).
fn window_names() -> String {
    let out = std::process::Command::new("xwininfo")
        .args(["-root", "-tree"])
        .output()
        .expect("xwininfo (x11-utils) lists the windows");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Discreet mode: from the first frame the window is "Notes" with a plain icon, not Vigil;
/// turned off in Settings, it is Vigil again at once.
#[tokio::test]
async fn discreet_mode_names_the_window_notes() {
    let _turn = serial().await;
    let mut env = Env::new("discreet");
    env.create_vault();
    env.write_settings_with(serde_json::json!({ "discreet": true }));
    let mut app = env.launch().await;
    assert_eq!(app.title().await, "Notes");
    let names = window_names();
    assert!(names.contains("\"Notes\""), "{names}");
    assert!(!names.contains("\"Vigil\""), "{names}");
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.click("#open-settings").await;
    app.click("#setting-discreet").await;
    app.wait_until("the window to be Vigil again", TIMEOUT, |c| async move {
        c.title().await.is_ok_and(|t| t == "Vigil")
    })
    .await;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !window_names().contains("\"Vigil\"") {
        assert!(std::time::Instant::now() < deadline, "{}", window_names());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.quit().await;
}

/// The duress passphrase, set in Settings with destruction on: at the next unlock it opens an
/// empty decoy through the same screen, and the real vault's key is gone.
#[tokio::test]
async fn the_duress_passphrase_opens_the_decoy_and_destroys_the_real_vault() {
    let _turn = serial().await;
    let mut env = Env::new("duress");
    env.create_vault();
    {
        let mut v = crate::harness::open_vault(&env.vault);
        let inc = vigil_model::Incident::new(
            vigil_model::IncidentId::new(),
            "Names of the detained",
            v.now(),
        );
        v.create_incident(&inc).unwrap();
        v.close().unwrap();
    }
    env.write_settings("en", 300);
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.wait_count(".incident-row", 1).await;
    app.click("#open-settings").await;
    app.wait_for("#settings-safety").await;
    app.wait_text("#duress-state", "No duress passphrase").await;
    app.type_into("#duress-passphrase", PASSPHRASE).await;
    app.type_into("#duress-new", "grocery list 42").await;
    app.type_into("#duress-confirm", "grocery list 42").await;
    app.click("#duress-destroy").await;
    app.click("#duress-go").await;
    app.wait_text("#duress-outcome", "destroys this one").await;
    app.wait_text("#duress-state", "is set").await;
    assert!(env.vault.join("alt").join("vault.key").exists());
    app.click("#settings-close").await;
    app.click("#lock").await;

    app.type_into("#passphrase", "grocery list 42").await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.wait_count(".incident-row", 0).await;
    assert!(!app.is_visible("#unlock-error").await);
    // From inside the decoy, no duress passphrase is set.
    app.click("#open-settings").await;
    app.wait_text("#duress-state", "No duress passphrase").await;
    app.quit().await;
    assert!(
        !env.vault.join("alt").exists(),
        "the decoy took the real vault's place"
    );
    let real = vigil_store::Vault::open(
        &env.vault,
        &vigil_crypto::Passphrase::new(PASSPHRASE.to_owned()),
        std::sync::Arc::new(vigil_store::SystemClock),
    );
    assert!(matches!(
        real,
        Err(vigil_store::StoreError::WrongPassphrase)
    ));
}

/// Selects the first running-log entry and presses Ctrl+C.
async fn copy_first_entry(app: &crate::harness::App) {
    app.eval(
        "const r = document.createRange();
         r.selectNodeContents(document.querySelector('.log-entry'));
         const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
         document.activeElement?.blur(); return null",
        vec![],
    )
    .await;
    app.press_ctrl('c').await;
}

/// The X clipboard's text, as another program reads it (xclip); empty when it holds none.
fn clipboard() -> String {
    let out = std::process::Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip (scripts/setup installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn wait_clipboard(what: &str, holds: impl Fn(&str) -> bool, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let now = clipboard();
        if holds(&now) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clipboard never {what}: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Text copied from a report (Ctrl+C) is on the clipboard for other programs, and is cleared
/// 30 s later; text copied elsewhere meanwhile is left alone.
#[tokio::test]
async fn copied_report_text_leaves_the_clipboard_after_30_seconds() {
    let _turn = serial().await;
    let mut env = Env::new("clipboard");
    env.create_vault();
    env.write_settings("en", 300);
    let mut app = env.launch().await;
    app.unlock_and_log("10:31 the lawyer otterbrook is taken away")
        .await;
    copy_first_entry(&app).await;
    let long = std::time::Duration::from_secs(45);
    wait_clipboard(
        "held the copied text",
        |t| t.contains("otterbrook"),
        TIMEOUT,
    )
    .await;
    wait_clipboard("was cleared", |t| !t.contains("otterbrook"), long).await;

    // Copied again, then something else is copied in another program: that stays.
    copy_first_entry(&app).await;
    wait_clipboard(
        "held the copied text",
        |t| t.contains("otterbrook"),
        TIMEOUT,
    )
    .await;
    let mut other = std::process::Command::new("xclip")
        .args(["-i", "-quiet", "-selection", "clipboard"])
        .stdin(std::process::Stdio::piped())
        // -quiet keeps it in the foreground (so that it can be stopped), and chatty.
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = other.stdin.take().unwrap();
        stdin.write_all(b"a shopping list").unwrap();
    }
    wait_clipboard(
        "took the other program's text",
        |t| t == "a shopping list",
        TIMEOUT,
    )
    .await;
    // Past the 30 s of the second copy (the first copy's clearing proved the timer runs).
    tokio::time::sleep(std::time::Duration::from_secs(33)).await;
    assert_eq!(clipboard(), "a shopping list");
    let _ = other.kill();
    let _ = other.wait();
    app.quit().await;
}

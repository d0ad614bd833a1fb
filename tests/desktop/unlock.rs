//! The unlock screen: a wrong passphrase, and locking on idle.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, PASSPHRASE, serial};

/// A wrong passphrase shows an error and keeps the unlock screen; the right one still works.
#[tokio::test]
async fn wrong_passphrase_keeps_the_unlock_screen() {
    let _turn = serial().await;
    let mut env = Env::new("wrong-passphrase");
    env.create_vault();
    env.write_settings("en", 300);
    let mut app = env.launch().await;

    app.type_into("#passphrase", "incorrect horse battery staple")
        .await;
    app.click("#unlock").await;
    app.wait_until(
        "a message in #unlock-error",
        crate::harness::TIMEOUT,
        |c| async move {
            c.execute(
                "const e = document.querySelector('#unlock-error');
                 return !!e && !e.closest('[hidden]') && e.textContent.trim().length > 0",
                vec![],
            )
            .await
            .is_ok_and(|v| v == Value::Bool(true))
        },
    )
    .await;
    app.screenshot("wrong-passphrase").await;
    assert!(app.is_visible("#unlock-screen").await);
    assert!(!app.is_visible("#main-screen").await);

    // The growing delay after a failure may hold the button for a moment; the wait covers it.
    app.replace_text("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.quit().await;
}

/// With `auto_lock_seconds: 3` in the settings, the app locks by itself after unlocking.
#[tokio::test]
async fn locks_itself_when_idle() {
    let _turn = serial().await;
    let mut env = Env::new("auto-lock");
    env.create_vault();
    env.write_settings("en", 3);
    let mut app = env.launch().await;

    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    // No input from here on.
    app.wait_until(
        "the unlock screen to come back by itself",
        Duration::from_secs(15),
        |c| async move {
            c.execute(
                "const e = document.querySelector('#unlock-screen');
                 return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0",
                vec![],
            )
            .await
            .is_ok_and(|v| v == Value::Bool(true))
        },
    )
    .await;
    assert!(!app.is_visible("#main-screen").await);
    app.quit().await;
}

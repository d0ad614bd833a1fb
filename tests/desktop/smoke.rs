//! The harness itself: the window starts under WebDriver with our private environment and
//! `--vault`, its page can be read and can reach the backend, and it exits when the session ends.

use serde_json::json;

use crate::harness::{Env, serial};

#[tokio::test]
async fn the_window_opens_with_our_environment_and_closes() {
    let _turn = serial().await;
    let mut env = Env::new("smoke");
    // A value no default has: seeing it back proves the app read our XDG_CONFIG_HOME.
    env.write_settings("en", 1234);
    let app = env.launch().await;
    assert_eq!(app.title().await, "Vigil");
    let body = app.eval("return document.body.tagName", vec![]).await;
    assert_eq!(body.as_str(), Some("BODY"));
    app.screenshot("smoke").await;

    // The app (and its WebKit helpers) run with our TMPDIR, so the no-traces scan covers them.
    assert!(
        !app.process_ids().is_empty(),
        "the app's processes carry the private environment"
    );
    let status = app
        .eval_async(
            r#"const done = arguments[arguments.length - 1];
               window.__TAURI__.core.invoke('app_status').then(done, e => done({ error: e }));"#,
            vec![],
        )
        .await;
    assert_eq!(
        status["vault_dir"],
        json!(env.vault.to_str().unwrap()),
        "--vault reached the app: {status}"
    );
    assert_eq!(status["vault_exists"], json!(false), "{status}");
    assert_eq!(
        status["settings"]["auto_lock_seconds"],
        json!(1234),
        "settings.json under our XDG_CONFIG_HOME was read: {status}"
    );

    assert!(
        app.quit().await,
        "the app should exit by itself when the WebDriver session ends"
    );
}

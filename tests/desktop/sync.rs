//! Sync through the window (issue 13): a monitor seals a record in the window; the app sends it
//! to the real `vigil-server` by itself ("Sync now" here, so the test need not wait for the
//! interval), the list and the editor say "Held by the server"; HQ pulls, verifies and
//! acknowledges; after the next sync the window says "Verified by HQ", in English, Russian and
//! Kyrgyz (screenshots of each).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::harness::{App, Env, PASSPHRASE, new_vault, open_vault};

/// The server binary, built beside the app by `cargo test --workspace`.
fn server_binary() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_vigil-desktop")).with_file_name("vigil-server");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p vigil-server); scripts/test does",
        bin.display()
    );
    bin
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(server_binary())
        .arg("admin")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "admin {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn start_server(data: &Path) -> (Server, String) {
    let mut child = Command::new(server_binary())
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
        .to_owned();
    (Server(child), format!("http://{addr}"))
}

async fn sync_now_until(app: &mut App, css: &str) {
    app.click("#sync-now").await;
    app.wait_for(css).await;
}

#[tokio::test]
async fn the_window_sends_by_itself_and_shows_when_hq_verified() {
    let _turn = crate::harness::serial().await;
    let mut env = Env::new("sync");
    env.write_settings("en", 300);
    env.create_vault();

    // HQ (in this process) makes the organisation; the monitor's vault joins with an invitation.
    let hq_dir = env.root.path().join("hq-vault");
    let mut hq = new_vault(&hq_dir);
    hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    let profile = hq.org_profile().unwrap().unwrap().to_json_pretty();
    let mut monitor = open_vault(&env.vault);
    monitor
        .join_and_enrol(&profile, &invitation.expose_file_bytes())
        .unwrap();

    // The real server; HQ names it in the profile, which the server and the monitor take.
    let data = env.root.path().join("server");
    let (_server, url) = start_server(&data);
    let key: [u8; 32] = hex_key(&admin(&data, &["key"]));
    let profile = hq
        .set_server(&vigil_ledger::profile::ServerSettings {
            url,
            pin: None,
            receipt_key: key,
        })
        .unwrap()
        .to_json_pretty();
    let file = env.root.path().join("org.json");
    std::fs::write(&file, &profile).unwrap();
    admin(&data, &["org", "add", file.to_str().unwrap()]);
    monitor.join_org(&profile).unwrap();
    monitor.close().unwrap();

    // The monitor seals a record in the window.
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.wait_for("#sync-now:not([hidden])").await;
    app.click("#new-log").await;
    app.wait_for("#live-log-screen").await;
    app.type_into("#log-input", "10:30 nine men enter the office")
        .await;
    app.press_enter("#log-input").await;
    app.wait_count(".log-entry", 1).await;
    app.seal_record().await;
    app.wait_for("#seal-state[data-state=sealed]").await;
    app.click("#back").await;
    app.wait_for("#main-screen").await;

    // Sent and receipted: the list says so, and the status bar says when.
    sync_now_until(&mut app, ".incident-row .delivery-held_by_server").await;
    app.wait_for("#sync-state[data-state=ok]").await;
    assert!(app.text("#sync-state").await.contains("Synced at"));
    app.screenshot("sync-held-en").await;

    // HQ pulls, checks it through the bundle path, and acknowledges.
    // (The blocking client runs its own runtime: not inside the test's.)
    let report = tokio::task::spawn_blocking(move || {
        let report = vigil_sync::sync(&mut &mut hq, &vigil_sync::Options::default(), &mut |_| {});
        hq.close().unwrap();
        report
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!((report.items_imported, report.items_acked), (1, 1));

    // The monitor's next sync learns it: "Verified by HQ", in the list and the editor.
    sync_now_until(&mut app, ".incident-row .delivery-verified_by_hq").await;
    assert_eq!(
        app.text(".incident-row .delivery-verified_by_hq").await,
        "Verified by HQ"
    );
    // HQ has it: nothing is counted as still to take to HQ on a stick.
    app.wait_until(
        "the status bar to count nothing still to take to HQ",
        std::time::Duration::from_secs(15),
        |c| async move {
            c.execute(
                "return document.getElementById('unsent-count').hidden",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
        },
    )
    .await;
    app.screenshot("sync-verified-en").await;
    app.click(".incident-row").await;
    app.wait_for("#live-log-screen").await;
    app.click("#open-editor").await;
    app.wait_for("#editor-delivery[data-delivery=verified_by_hq]")
        .await;
    app.click("#back").await;
    app.wait_for("#live-log-screen").await;
    app.click("#back").await;
    app.wait_for("#main-screen").await;

    // The same in Russian and Kyrgyz, nothing clipped (the screenshots show it).
    for (lang, verified) in [("ru", "Проверено штабом"), ("ky", "Штаб текшерди")]
    {
        app.click("#open-settings").await;
        app.wait_for("#settings-screen").await;
        app.select("#setting-language", lang).await;
        app.click("#settings-close").await;
        app.wait_text(".incident-row .delivery-verified_by_hq", verified)
            .await;
        app.screenshot(&format!("sync-verified-{lang}")).await;
    }
    assert!(app.quit().await);
}

fn hex_key(text: &str) -> [u8; 32] {
    let t = text.trim();
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

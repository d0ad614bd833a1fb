//! Sync through the window (issue 13): a monitor seals a record in the window; the app sends it
//! to the real `vigil-server` by itself ("Sync now" here, so the test need not wait for the
//! interval), the list and the editor say "Held by the server"; HQ pulls, verifies and
//! acknowledges; after the next sync the window says "Verified by HQ", in English, Russian and
//! Kyrgyz (screenshots of each).

use std::path::Path;

use crate::harness::{App, Env, PASSPHRASE, new_vault, open_vault};
use crate::vigil_server::VigilServer;

/// A real `vigil-server` on `data` (tests/support/vigil_server.rs), and its address.
fn start_server_at(data: &Path, listen: &str) -> (VigilServer, String) {
    let bin = VigilServer::binary(env!("CARGO_BIN_EXE_vigil-desktop"));
    let server = VigilServer::start(&bin, data, listen, None);
    let url = server.url();
    (server, url)
}

pub(crate) fn start_server(data: &Path) -> (VigilServer, String) {
    start_server_at(data, "127.0.0.1:0")
}

/// HQ (a vault in this process) makes the organisation, the monitor's vault (`env.vault`) joins
/// with an invitation, and both take a new profile that names `url` for `server`, which
/// registers it. Returns both vaults, open.
pub(crate) fn organisation(
    env: &Env,
    server: &VigilServer,
    url: &str,
) -> (vigil_store::Vault, vigil_store::Vault) {
    let mut hq = new_vault(&env.root.path().join("hq-vault"));
    hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    let profile = hq.org_profile().unwrap().unwrap().to_json_pretty();
    let mut monitor = open_vault(&env.vault);
    monitor
        .join_and_enrol(&profile, &invitation.expose_file_bytes())
        .unwrap();
    let key: [u8; 32] = hex_key(&server.admin(&["key"]));
    let profile = hq
        .set_server(&vigil_ledger::profile::ServerSettings {
            url: url.to_owned(),
            pin: None,
            receipt_key: key,
        })
        .unwrap()
        .to_json_pretty();
    let file = env.root.path().join("org.json");
    std::fs::write(&file, &profile).unwrap();
    server.admin(&["org", "add", file.to_str().unwrap()]);
    monitor.join_org(&profile).unwrap();
    (hq, monitor)
}

/// Seals `n` small records in `monitor`.
pub(crate) fn seal_records(monitor: &mut vigil_store::Vault, n: usize) {
    let now = monitor.now();
    let incidents: Vec<vigil_model::Incident> = (0..n)
        .map(|i| {
            vigil_model::Incident::new(vigil_model::IncidentId::new(), format!("Hearing {i}"), now)
        })
        .collect();
    monitor.create_incidents(&incidents).unwrap();
    for inc in &incidents {
        monitor.seal(inc.id).unwrap();
    }
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

    // HQ (in this process) makes the organisation; the monitor's vault joins; the real server.
    let data = env.root.path().join("server");
    let (server, url) = start_server(&data);
    let (mut hq, monitor) = organisation(&env, &server, &url);
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

/// A gate between the app and the server: connections are accepted at once, but nothing is
/// forwarded until the gate opens. A sync pass that reaches the network waits there.
struct Gate {
    addr: String,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    waiting: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn gate(target: String) -> Gate {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let open = Arc::new(AtomicBool::new(false));
    let waiting = Arc::new(AtomicU64::new(0));
    let (o, w) = (Arc::clone(&open), Arc::clone(&waiting));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (o, w, target) = (Arc::clone(&o), Arc::clone(&w), target.clone());
            std::thread::spawn(move || {
                w.fetch_add(1, Ordering::SeqCst);
                while !o.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c, mut s) = (client, server);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                    let _ = s2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut s, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    Gate {
        addr,
        open,
        waiting,
    }
}

/// The vault is never held while sync waits on the network: with a pass stuck in the network,
/// 300 running-log entries are written, each durable and with the time it was typed, and only
/// then does the pass go on and finish.
#[tokio::test]
async fn typing_goes_on_while_a_sync_pass_waits_on_the_network() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let _turn = crate::harness::serial().await;
    let env = Env::new("sync-typing");
    env.create_vault();
    let data = env.root.path().join("server");
    let (server, url) = start_server(&data);
    let gate = gate(url.trim_start_matches("http://").to_owned());
    let (hq, mut monitor) = organisation(&env, &server, &format!("http://{}", gate.addr));
    hq.close().unwrap();
    seal_records(&mut monitor, 20);
    monitor.close().unwrap();

    // The app's session with its sync worker, as the window runs them.
    let session = Arc::new(vigil_app::Session::new(
        env.vault.clone(),
        Arc::new(vigil_store::SystemClock),
        vigil_store::KdfChoice::Params(vigil_crypto::kdf::KdfParams::FLOOR),
        None,
    ));
    session.unlock(PASSPHRASE.to_owned()).unwrap();
    let worker = Arc::clone(&session);
    std::thread::spawn(move || worker.run_sync_worker());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while gate.waiting.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < until,
            "the worker never reached the network"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // The pass waits at the gate; typing goes on meanwhile (on another thread, so that a vault
    // held by the pass would show as a timeout here, not as a hung test).
    let typist = Arc::clone(&session);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let incident = typist.new_incident("Meeting broken up").unwrap();
        let id = incident.id.to_string();
        let mut sent = Vec::new();
        for i in 0..300 {
            let before = chrono::Utc::now();
            let entry = typist
                .append_log(&id, &format!("10:{i:03} entry {i}"), false)
                .unwrap();
            let after = chrono::Utc::now();
            sent.push((before, entry, after));
        }
        let _ = tx.send((id, sent));
    });
    let (id, sent) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("typing waited for the network: the vault was held during the sync pass");
    for (before, entry, after) in &sent {
        let at = entry.at.with_timezone(&chrono::Utc);
        assert!(
            *before - chrono::Duration::milliseconds(1) <= at && at <= *after,
            "an entry keeps the time it was typed"
        );
    }
    assert!(
        !gate.open.load(Ordering::SeqCst) && session.sync_status().unwrap().waiting > 0,
        "all of it happened while the pass waited on the network"
    );
    let log = session.incident(&id).unwrap().log;
    assert_eq!(log.len(), 300, "every entry is in the vault");

    // The gate opens: the pass goes on and sends everything sealed.
    gate.open.store(true, Ordering::SeqCst);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = session.sync_status().unwrap();
        if status.waiting == 0 && status.last_success.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "the pass did not finish: {status:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    session.lock();
}

/// Sealed while the server is down: once it starts, the window's worker finds it (probes with
/// backoff) and sends everything, and the list says so, with nobody touching anything.
#[tokio::test]
async fn sealed_while_the_server_is_down_arrives_by_itself_once_it_starts() {
    let _turn = crate::harness::serial().await;
    let mut env = Env::new("sync-by-itself");
    env.write_settings("en", 300);
    env.create_vault();
    let data = env.root.path().join("server");
    let (mut server, url) = start_server(&data);
    let (hq, mut monitor) = organisation(&env, &server, &url);
    hq.close().unwrap();
    seal_records(&mut monitor, 3);
    monitor.close().unwrap();
    server.stop();

    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.wait_count(".incident-row .delivery-only_here", 3).await;
    app.wait_for("#sync-state[data-error=server_unreachable]")
        .await;
    app.screenshot("sync-unreachable-en").await;

    // The server starts (at the same address); nobody clicks anything.
    let _server = start_server_at(&data, url.trim_start_matches("http://"));
    app.wait_until(
        "the three records to be held by the server, with no click",
        std::time::Duration::from_secs(90),
        |c| async move {
            c.execute(
                "return document.querySelectorAll('.incident-row .delivery-held_by_server').length",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
                == Some(3)
        },
    )
    .await;
    app.wait_for("#sync-state[data-state=ok]").await;
    assert!(app.quit().await);
}

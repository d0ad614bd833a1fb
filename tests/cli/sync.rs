//! Sync through the real `vigil-server` (issue 13): a monitor's sealed records reach HQ through
//! the server, every receipt checked against the pinned key, HQ imports them through the bundle
//! path and acknowledges them, and the monitor then sees "verified by HQ". Pinning and forged
//! receipts are refused with their own messages; the same revision by stick and by sync is
//! stored once.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::common::{Env, json_error_code, open_vault, organisation, tables};
use crate::vigil_server::VigilServer;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// A real `vigil-server` on 127.0.0.1 (tests/support/vigil_server.rs).
pub(crate) struct Server;

impl Server {
    pub(crate) fn start(data: &Path, listen: &str, tls: Option<(&Path, &Path)>) -> VigilServer {
        let bin = VigilServer::binary(env!("CARGO_BIN_EXE_vigil"));
        VigilServer::start(&bin, data, listen, tls)
    }
}

/// HQ names the server in a new profile, registers it there, and the monitor takes it.
pub(crate) fn point_at(
    hq: &Env,
    monitor: &Env,
    server: &VigilServer,
    url: &str,
    extra: &[&str],
    key: &str,
) {
    let profile = hq.root.path().join(format!("org-{}.json", uuid_like()));
    let mut args = vec![
        "org",
        "server",
        "--url",
        url,
        "--receipt-key",
        key,
        "--profile-out",
        profile.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    hq.ok(&args);
    server.admin(&["org", "add", profile.to_str().unwrap()]);
    let joined = json(&monitor.ok(&["--json", "org", "join", profile.to_str().unwrap()]));
    assert_eq!(joined["outcome"], "updated");
}

/// An organisation whose profile names, instead of its real server, the address `between`
/// makes of the server's (a proxy in front of it); the server's data folder.
pub(crate) fn connected_through(
    between: impl FnOnce(String) -> String,
) -> (Env, Env, VigilServer, PathBuf) {
    let (hq, monitor, _) = organisation("Bishkek Monitors");
    let data = hq.root.path().join("server");
    let server = Server::start(&data, "127.0.0.1:0", None);
    let key = server.admin(&["key"]).trim().to_owned();
    let url = format!("http://{}", between(server.addr.clone()));
    point_at(&hq, &monitor, &server, &url, &[], &key);
    (hq, monitor, server, data)
}

/// An organisation (HQ and one enrolled monitor) whose profile names a real server on
/// 127.0.0.1, registered there; the server's data folder.
pub(crate) fn connected() -> (Env, Env, VigilServer, PathBuf) {
    let (hq, monitor, _) = organisation("Bishkek Monitors");
    let data = hq.root.path().join("server");
    let server = Server::start(&data, "127.0.0.1:0", None);
    let key = server.admin(&["key"]).trim().to_owned();
    let url = server.url();
    point_at(&hq, &monitor, &server, &url, &[], &key);
    (hq, monitor, server, data)
}

fn uuid_like() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

pub(crate) fn sealed(monitor: &Env, title: &str, lines: &[&str]) -> String {
    let id = monitor.new_incident(title);
    for l in lines {
        monitor.ok(&["log", &id, l]);
    }
    monitor.ok(&["seal", &id]);
    id
}

pub(crate) fn status(env: &Env, id: &str) -> String {
    json(&env.ok(&["--json", "status", id]))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn sync(env: &Env) -> Output {
    env.run(&["--json", "sync"])
}

pub(crate) fn synced(env: &Env) -> Value {
    let out = sync(env);
    assert!(
        out.status.success(),
        "sync failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn sealed_records_reach_hq_through_the_server_and_come_back_verified() {
    let (hq, monitor, mut server, data) = connected();

    // Sealed while the server is down: nothing lost, exit 5, still only on this laptop.
    let addr = server.addr.clone();
    server.stop();
    let first = sealed(
        &monitor,
        "Lawyers' meeting broken up",
        &["09:10 nine men enter", "09:12 phones taken"],
    );
    let draft = monitor.new_incident("Not sealed yet");
    assert_eq!(status(&monitor, &first), "only_here");
    assert_eq!(status(&monitor, &draft), "not_sealed");
    let down = sync(&monitor);
    assert_eq!(down.status.code(), Some(5), "{down:?}");
    assert_eq!(json_error_code(&down), "server_unreachable");
    assert!(
        monitor.ok(&["status"]).contains("Last error:"),
        "the last error is kept for the status"
    );

    // The server is back (same address): the monitor's sync sends, the receipt is checked.
    let _server = Server::start(&data, &addr, None);
    let sent = synced(&monitor);
    assert_eq!(
        (sent["items_sent"].as_u64(), sent["revisions_sent"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(status(&monitor, &first), "held_by_server");
    let history = monitor.ok(&["history", &first]);
    assert!(
        history.contains("held by the server"),
        "the receipt is in the custody log: {history}"
    );

    // HQ pulls, imports through the bundle path, and acknowledges.
    let pulled = synced(&hq);
    assert_eq!(
        (
            pulled["items_imported"].as_u64(),
            pulled["revisions_imported"].as_u64(),
            pulled["items_acked"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let at_hq = json(&hq.ok(&["--json", "show", &first]));
    let at_monitor = json(&monitor.ok(&["--json", "show", &first]));
    assert_eq!(at_hq["incident"]["title"], at_monitor["incident"]["title"]);
    assert_eq!(
        at_hq["log"], at_monitor["log"],
        "the same log, entry by entry"
    );

    // The monitor learns that HQ verified it.
    let back = synced(&monitor);
    assert_eq!(back["acks_received"].as_u64(), Some(1));
    assert_eq!(status(&monitor, &first), "verified_by_hq");

    // Syncing again changes nothing anywhere.
    let again = synced(&monitor);
    assert_eq!(
        (again["items_sent"].as_u64(), again["items_built"].as_u64()),
        (Some(0), Some(0))
    );
    let again = synced(&hq);
    assert_eq!(again["items_imported"].as_u64(), Some(0));

    // Two roads, one copy: a revision carried by stick and then by sync is stored once.
    let second = sealed(&monitor, "Detention visit", &["14:00 denied entry"]);
    let stick = monitor.root.path().join("stick.vigil");
    monitor.ok(&["export", "--unsent", "--to", stick.to_str().unwrap()]);
    let by_stick = json(&hq.ok(&["--json", "import", stick.to_str().unwrap()]));
    assert_eq!(by_stick["applied"].as_u64(), Some(1));
    assert_eq!(synced(&monitor)["revisions_sent"].as_u64(), Some(1));
    let by_sync = synced(&hq);
    assert_eq!(
        (
            by_sync["items_imported"].as_u64(),
            by_sync["revisions_imported"].as_u64()
        ),
        (Some(1), Some(0)),
        "the item is imported, its revision was already here"
    );
    let listed = hq.ok(&["list"]);
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.contains("Detention visit"))
            .count(),
        1,
        "{listed}"
    );
    synced(&monitor);
    assert_eq!(status(&monitor, &second), "verified_by_hq");
}

#[test]
fn a_receipt_signed_by_another_key_is_refused_and_the_item_is_kept() {
    let (hq, monitor, _) = organisation("Bishkek Monitors");
    let data = hq.root.path().join("server");
    let server = Server::start(&data, "127.0.0.1:0", None);
    // The profile pins a receipt key the server does not hold.
    let not_the_servers = "7".repeat(64);
    let url = server.url();
    point_at(&hq, &monitor, &server, &url, &[], &not_the_servers);
    let id = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);
    let out = sync(&monitor);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(json_error_code(&out), "bad_receipt");
    assert_eq!(
        status(&monitor, &id),
        "sent",
        "never marked as held by the server"
    );
    assert!(!monitor.ok(&["history", &id]).contains("held by the server"));
    // Once the profile names the right key, the same item (same id and place) is confirmed.
    let key = server.admin(&["key"]).trim().to_owned();
    point_at(&hq, &monitor, &server, &url, &[], &key);
    let sent = synced(&monitor);
    assert_eq!(
        (sent["items_built"].as_u64(), sent["items_sent"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(status(&monitor, &id), "held_by_server");
}

fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn tls_is_pinned_to_the_profiles_key() {
    let (hq, monitor, _) = organisation("Bishkek Monitors");
    let dir = hq.root.path();
    let (cert, key) = certificate(dir, "server");
    let (other_cert, _) = certificate(dir, "other");
    let data = dir.join("server-data");
    let server = Server::start(&data, "127.0.0.1:0", Some((&cert, &key)));
    let receipt_key = server.admin(&["key"]).trim().to_owned();
    let url = format!("https://{}", server.addr);

    // https without a pin is refused when the profile is made.
    let refused = hq.run(&[
        "--json",
        "org",
        "server",
        "--url",
        &url,
        "--receipt-key",
        &receipt_key,
        "--profile-out",
        dir.join("nopin.json").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pin"));

    // Pinned to another certificate's key: the server's own key is refused, nothing sent.
    point_at(
        &hq,
        &monitor,
        &server,
        &url,
        &["--pin-from", other_cert.to_str().unwrap()],
        &receipt_key,
    );
    let id = sealed(&monitor, "Protest dispersed", &["18:00 police arrive"]);
    let out = sync(&monitor);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(json_error_code(&out), "wrong_server_key");
    assert_eq!(status(&monitor, &id), "only_here");

    // Pinned to its own key: it goes through.
    point_at(
        &hq,
        &monitor,
        &server,
        &url,
        &["--pin-from", cert.to_str().unwrap()],
        &receipt_key,
    );
    synced(&monitor);
    assert_eq!(status(&monitor, &id), "held_by_server");
    synced(&hq);
    synced(&monitor);
    assert_eq!(status(&monitor, &id), "verified_by_hq");
}

/// Lines a child prints, as they come.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line `rx` gives that `pick` accepts, waiting at most `secs` in all.
pub(crate) fn wait_for(
    rx: &std::sync::mpsc::Receiver<String>,
    secs: u64,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("nothing came within {secs} s"));
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if pick(&v) {
            return v;
        }
    }
}

/// `vigil --json sync --watch ARGS` on `monitor`, its lines as they come, and its first event,
/// a failure to reach the (stopped) server.
pub(crate) fn watching(
    monitor: &Env,
    args: &[&str],
) -> (Child, std::sync::mpsc::Receiver<String>, Value) {
    let mut child = monitor
        .cmd()
        .args(["--json", "sync", "--watch"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let failed = wait_for(&rx, 30, |v| v["event"] == "failed");
    assert_eq!(failed["code"], "server_unreachable");
    (child, rx, failed)
}

#[test]
fn a_watching_device_sends_by_itself_once_the_server_starts() {
    let (_hq, monitor, mut server, data) = connected();
    let addr = server.addr.clone();
    server.stop();
    let a = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);
    let b = sealed(&monitor, "Press conference", &["12:00 police present"]);

    let (mut watching, rx, _) = watching(&monitor, &["--interval", "1", "--probe-max", "1"]);

    // Nobody does anything but start the server: the probes find it, and the pass sends both.
    let _server = Server::start(&data, &addr, None);
    let synced = wait_for(&rx, 30, |v| v["event"] == "synced");
    assert_eq!(synced["revisions_sent"].as_u64(), Some(2), "{synced}");
    watching.kill().unwrap();
    watching.wait().unwrap();
    assert_eq!(status(&monitor, &a), "held_by_server");
    assert_eq!(status(&monitor, &b), "held_by_server");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sync_goes_through_a_socks5_proxy_when_asked() {
    let (_hq, monitor, _server, _) = connected();

    let port = free_port();
    let mut proxy = Command::new("microsocks")
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("microsocks (Debian package; scripts/setup installs it)");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < until,
            "microsocks did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let via = format!("socks5h://127.0.0.1:{port}");
    let first = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);
    let out = monitor.run(&["--json", "sync", "--proxy", &via]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(status(&monitor, &first), "held_by_server");

    // With the proxy gone, nothing reaches the (running) server: every request went through it.
    proxy.kill().unwrap();
    proxy.wait().unwrap();
    let second = sealed(&monitor, "Press conference", &["12:00 police present"]);
    let out = monitor.run(&["--json", "sync", "--proxy", &via]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(json_error_code(&out), "server_unreachable");
    assert_eq!(status(&monitor, &second), "only_here");

    // Anything but SOCKS5 is refused as a proxy, with its own code.
    let out = monitor.run(&["--json", "sync", "--proxy", "http://127.0.0.1:3128"]);
    assert_eq!(json_error_code(&out), "bad_proxy");
    // And without the proxy, straight to the server.
    synced(&monitor);
    assert_eq!(status(&monitor, &second), "held_by_server");
}

/// An enrolled insider pushes, with its own keys, an item that is age ciphertext for HQ but no
/// bundle: HQ refuses it with the reason, never acknowledges it, imports the genuine items
/// around it, and holds nothing of it.
#[test]
fn an_insiders_forged_item_is_refused_at_hq_and_never_acknowledged() {
    use std::str::FromStr as _;
    let (hq, monitor, server, _) = connected();
    // A second device of the organisation, enrolled like any other, then registered by a sync.
    let invitation = hq.root.path().join("insider.invitation");
    hq.ok(&[
        "org",
        "invite",
        "--name",
        "Insider",
        "--out",
        invitation.to_str().unwrap(),
    ]);
    let profile = hq.root.path().join("profile-now.json");
    let v = open_vault(&hq);
    std::fs::write(&profile, v.org_profile().unwrap().unwrap().to_json_pretty()).unwrap();
    v.close().unwrap();
    let insider = Env::new();
    insider.init();
    insider.ok(&[
        "org",
        "join",
        profile.to_str().unwrap(),
        "--invite",
        invitation.to_str().unwrap(),
    ]);
    synced(&insider);
    let genuine = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);
    synced(&monitor);

    // The forged item: signed by the insider's own key, encrypted to HQ's reader, not a bundle.
    let v = open_vault(&insider);
    let p = v.org_profile().unwrap().unwrap();
    let recipient = age::x25519::Recipient::from_str(&p.hq_recipients[0]).unwrap();
    let forged = age::encrypt(&recipient, b"not a bundle: forged by an enrolled device").unwrap();
    let device = vigil_ledger::ids::device_id_for(&v.device_public().sign_pk);
    let body = serde_json::json!({ "items": [{
        "org": p.org_id, "device": device, "seq": 1, "id": uuid::Uuid::now_v7(),
        "kind": "revision", "sha256": hex::encode(ring::digest::digest(&ring::digest::SHA256, &forged)),
        "size": forged.len(),
        "ciphertext": base64_std(&forged),
    }]});
    let http = vigil_sync::http::Server::new(&p.server_settings().unwrap().unwrap(), device, None)
        .unwrap();
    let req = vigil_sync::http::Request::sign(
        device,
        reqwest::Method::POST,
        "/v1/items",
        serde_json::to_vec(&body).unwrap(),
        |m| vigil_crypto::sign::Signature(v.device_sign(m)),
    )
    .unwrap();
    http.send(req)
        .expect("the server stores ciphertext it cannot read");
    v.close().unwrap();

    let before = tables(&hq);
    let pulled = synced(&hq);
    assert_eq!(pulled["items_imported"].as_u64(), Some(1), "{pulled}");
    assert_eq!(
        pulled["items_acked"].as_u64(),
        Some(1),
        "only the genuine item"
    );
    let refused = pulled["items_refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{pulled}");
    assert!(refused[0].as_str().unwrap().contains(&device.to_string()));
    assert_ne!(tables(&hq), before, "the genuine item was imported");
    let v = open_vault(&hq);
    assert_eq!(
        v.count_incidents().unwrap(),
        1,
        "nothing of the forged item"
    );
    v.close().unwrap();
    synced(&monitor);
    assert_eq!(status(&monitor, &genuine), "verified_by_hq");
    // Pulled again, no record changes (only the sync's own notes, such as its last success).
    let count = |env: &Env| {
        let v = open_vault(env);
        let n = (
            v.count_incidents().unwrap(),
            v.all_revisions().unwrap().len(),
        );
        v.close().unwrap();
        n
    };
    let held = count(&hq);
    let again = synced(&hq);
    assert_eq!(again["items_imported"].as_u64(), Some(0));
    assert_eq!(count(&hq), held);
    drop(server);
}

fn base64_std(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A replayed older profile (one without the server, signed by the organisation itself) never
/// replaces the newer one the monitor holds.
#[test]
fn an_older_profile_never_replaces_a_newer_one() {
    let (hq, monitor, _server, _) = connected();
    let first = hq.root.path().join("org.json"); // written by `org create`: version 1
    let before = monitor.ok(&["--json", "status"]);
    let out = monitor.run(&["--json", "org", "join", first.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_error_code(&out), "older_profile");
    assert_eq!(
        monitor.ok(&["--json", "status"]),
        before,
        "the server is still named"
    );
    drop(hq);
}

//! The server's own TLS (`--tls-cert`, `--tls-key`): devices register, push and read over
//! HTTPS with the certificate the operator gave; plain HTTP, a client that does not trust that
//! certificate, and a key that is not the certificate's are all refused.

use std::process::Command;

use crate::harness::{Backend, Org, SERVER, Server, Store, http};
use vigil_ledger::enrolment::DeviceRole;

struct Tls {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    pem: String,
}

fn certificate(dir: &std::path::Path, name: &str) -> Tls {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let pem = made.cert.pem();
    std::fs::write(&cert, &pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Tls { cert, key, pem }
}

fn trusting(pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .https_only(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn devices_work_over_https_with_the_operators_certificate_and_nothing_else_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Backend::Sqlite, dir.path());
    let org = Org::new("Bishkek Monitoring Group");
    org.register(&store, dir.path());
    let tls = certificate(dir.path(), "server");
    let cert = tls.cert.to_str().unwrap();
    let key = tls.key.to_str().unwrap();
    let mut server = Server::start_with(
        &store,
        &dir.path().join("server.log"),
        &["--tls-cert", cert, "--tls-key", key],
    );
    let plain = server.url.clone();
    server.url = plain.replacen("http://", "https://", 1);
    server.client = trusting(&tls.pem);

    // An HQ device and a monitor register, the monitor pushes, HQ reads: all over HTTPS.
    let hq = org.enrol("HQ reader", DeviceRole::Hq);
    let mut monitor = org.enrol("Aigul's laptop", DeviceRole::Monitor);
    for d in [&hq, &monitor] {
        let r = d.register(&server).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let item = monitor.item(&org, 1, b"a revision sent over TLS");
    let r = monitor.push(&server, &[item]).await;
    assert_eq!(r.status, 200, "{r:?}");
    monitor.seq = 2;
    let feed = hq.send(&server, "GET", "/v1/feed?since=0", b"").await;
    assert_eq!(feed.status, 200, "{feed:?}");
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 1);

    // Plain HTTP to the same port gets no answer from the API.
    let r = http().get(format!("{plain}/healthz")).send().await;
    assert!(
        !matches!(&r, Ok(resp) if resp.status().is_success()),
        "plain HTTP must not be served: {r:?}"
    );
    // A client that trusts another certificate refuses this server.
    let other = certificate(dir.path(), "other");
    let r = trusting(&other.pem)
        .get(format!("{}/healthz", server.url))
        .send()
        .await;
    assert!(r.is_err(), "a certificate the client does not trust: {r:?}");
    // The one that trusts it is served.
    let r = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Stopped while this runtime keeps serving the client's side of the connection (HTTP/2
    // closes with a handshake the client answers).
    let stopped = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    assert!(stopped.success(), "{stopped:?}");

    // A key that is not the certificate's stops the start, saying so.
    let out = Command::new(SERVER)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("other-data"))
        .args(["--tls-cert", cert, "--tls-key"])
        .arg(&other.key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not belong together"), "{err}");
    // A certificate without its key is refused before anything starts.
    let out = Command::new(SERVER)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("other-data"))
        .args(["--tls-cert", cert])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "{out:?}"
    );
}

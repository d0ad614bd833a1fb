//! API v1 through the real server: pushes, receipts, the feed, acknowledgements, idempotency,
//! conflicts, hostile items, and what the server keeps.

use std::io::Read as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::signed::{Receipt, SignedWire};

use crate::harness::{Backend, World};

/// An unsigned GET's JSON body.
async fn get_json(url: String) -> Value {
    crate::harness::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) async fn receipt_key(w: &World) -> SignPublicKey {
    let body = get_json(format!("{}/v1/server", w.server.url)).await;
    hex::decode(body["receipt_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

pub(crate) fn wire(v: &Value) -> SignedWire {
    serde_json::from_value(v.clone()).unwrap()
}

async fn it_starts_on_a_free_port_serves_health_and_openapi_and_stops_on_sigterm(backend: Backend) {
    let mut w = World::new(backend).await;
    let health = crate::harness::http()
        .get(format!("{}/healthz", w.server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let doc = get_json(format!("{}/v1/openapi.json", w.server.url)).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in [
        "/v1/items",
        "/v1/receipts",
        "/v1/feed",
        "/v1/acks",
        "/v1/revocations",
        "/v1/devices",
        "/v1/profile",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["components"]["securitySchemes"]["signature"].is_object());
    let status = w.server.stop();
    assert!(status.success(), "stopped cleanly on SIGTERM: {status:?}");
}

async fn a_monitor_pushes_hq_reads_verifies_and_acknowledges_and_the_monitor_sees_it(
    backend: Backend,
) {
    let w = World::new(backend).await;
    let key = receipt_key(&w).await;
    let texts: Vec<String> = (1..=5)
        .map(|i| format!("revision {i} of the meeting"))
        .collect();
    let items: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| w.monitor.item(&w.org, i as u64 + 1, t.as_bytes()))
        .collect();
    let check = |receipt: &Value, covered: &[&Value]| {
        let receipt = Receipt::from_wire(&wire(receipt), w.org.id(), &key).unwrap();
        assert_eq!(receipt.doc.device, w.monitor.id);
        assert_eq!(receipt.doc.items.len(), covered.len());
        for item in covered {
            let id = item["id"].as_str().unwrap().parse().unwrap();
            let got = receipt.doc.covers(id).expect("the receipt covers the item");
            assert_eq!(got.sha256, item["sha256"].as_str().unwrap());
            assert_eq!(got.size, item["size"].as_u64().unwrap());
            assert_eq!(Some(got.seq), item["seq"].as_u64());
        }
    };
    // One push of three items: one receipt covers the three.
    let r = w.monitor.push(&w.server, &items[..3]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let receipts = r.body["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 1, "{r:?}");
    check(&receipts[0], &[&items[0], &items[1], &items[2]]);
    let first = receipts[0].clone();
    let r = w.monitor.push(&w.server, &items[3..4]).await;
    assert_eq!(r.status, 200, "{r:?}");
    // A push that repeats item 1 beside the new item 5: a new receipt for item 5 only, and
    // the receipt that first covered item 1, unchanged.
    let r = w
        .monitor
        .push(&w.server, &[items[4].clone(), items[0].clone()])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let receipts = r.body["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{r:?}");
    check(&receipts[0], &[&items[4]]);
    assert_eq!(receipts[1], first);

    // The monitor reads its receipts back, page by page: three pushes, three receipts.
    let page = w
        .monitor
        .send(&w.server, "GET", "/v1/receipts?since=0&limit=2", b"")
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body["receipts"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["receipts"][0]["receipt"], first);
    let next = page.body["next"].as_i64().unwrap();
    let rest = w
        .monitor
        .send(&w.server, "GET", &format!("/v1/receipts?since={next}"), b"")
        .await;
    assert_eq!(rest.body["receipts"].as_array().unwrap().len(), 1);

    // HQ reads the feed and opens each item with the organisation's reader key.
    let feed = w.hq.send(&w.server, "GET", "/v1/feed?since=0", b"").await;
    assert_eq!(feed.status, 200, "{feed:?}");
    let got = feed.body["items"].as_array().unwrap();
    assert_eq!(got.len(), 5);
    for (item, text) in got.iter().zip(&texts) {
        let ciphertext = STANDARD
            .decode(item["ciphertext"].as_str().unwrap())
            .unwrap();
        let decryptor = age::Decryptor::new(&ciphertext[..]).unwrap();
        let mut plain = String::new();
        decryptor
            .decrypt(std::iter::once(
                &w.org.keys.identities()[0] as &dyn age::Identity,
            ))
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(&plain, text);
    }
    let next = feed.body["next"].as_i64().unwrap();
    let empty =
        w.hq.send(&w.server, "GET", &format!("/v1/feed?since={next}"), b"")
            .await;
    assert_eq!(empty.body["items"].as_array().unwrap().len(), 0);

    // HQ acknowledges two; the monitor sees exactly those, once, even when sent twice.
    let ids: Vec<&Value> = got.iter().take(2).map(|i| &i["id"]).collect();
    let body = serde_json::to_vec(&json!({ "items": ids })).unwrap();
    let ack = w.hq.send(&w.server, "POST", "/v1/acks", &body).await;
    assert_eq!(ack.status, 200, "{ack:?}");
    assert_eq!(ack.body["new"], 2);
    let again = w.hq.send(&w.server, "POST", "/v1/acks", &body).await;
    assert_eq!(again.body["new"], 0);
    let acks = w
        .monitor
        .send(&w.server, "GET", "/v1/acks?since=0", b"")
        .await;
    assert_eq!(acks.status, 200, "{acks:?}");
    let acked: Vec<&str> = acks.body["acks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["item"].as_str().unwrap())
        .collect();
    assert_eq!(
        acked,
        ids.iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>()
    );
    for a in acks.body["acks"].as_array().unwrap() {
        assert_eq!(a["acked_by"], w.hq.id.to_string());
    }

    // The organisation's profile is served to its devices.
    let profile = w.monitor.send(&w.server, "GET", "/v1/profile", b"").await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["org_id"], w.org.id().to_string());
}

async fn the_same_batch_pushed_ten_times_at_once_is_stored_once_with_identical_receipts(
    backend: Backend,
) {
    let w = World::new(backend).await;
    let items: Vec<Value> = (1..=5)
        .map(|seq| {
            w.monitor
                .item(&w.org, seq, format!("entry {seq}").as_bytes())
        })
        .collect();
    let pushes = (0..10).map(|_| w.monitor.push(&w.server, &items));
    let replies = futures_util::future::join_all(pushes).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{r:?}");
    }
    let first = &replies[0].body["receipts"];
    for r in &replies[1..] {
        assert_eq!(
            &r.body["receipts"], first,
            "every push gets the same receipts"
        );
    }
    assert_eq!(w.store.count("items"), 5);
    let feed = w.hq.send(&w.server, "GET", "/v1/feed?since=0", b"").await;
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 5);
}

async fn another_item_at_a_known_place_refuses_the_whole_batch(backend: Backend) {
    let w = World::new(backend).await;
    let first = w.monitor.item(&w.org, 1, b"the real first revision");
    assert_eq!(
        w.monitor
            .push(&w.server, std::slice::from_ref(&first))
            .await
            .status,
        200
    );

    // Another item claiming sequence 1, with a new one beside it: nothing of it is stored.
    let impostor = w.monitor.item(&w.org, 1, b"a different first revision");
    let new = w.monitor.item(&w.org, 2, b"a genuine second revision");
    let r = w.monitor.push(&w.server, &[new.clone(), impostor]).await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.code(), "conflict");
    assert_eq!(w.store.count("items"), 1);

    // The same id with other content.
    let mut reused = w.monitor.item(&w.org, 3, b"other content");
    reused["id"] = first["id"].clone();
    let r = w.monitor.push(&w.server, &[reused]).await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(w.store.count("items"), 1);

    // The genuine second revision on its own goes through.
    assert_eq!(w.monitor.push(&w.server, &[new]).await.status, 200);
    assert_eq!(w.store.count("items"), 2);
}

async fn items_that_are_not_what_they_say_are_refused_and_nothing_is_stored(backend: Backend) {
    let w = World::new(backend).await;
    let good = w.monitor.item(&w.org, 1, b"a sealed revision");
    let plain = b"age-encryption.org/v0\nno this is plaintext: Ms Osmonova".to_vec();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "a wrong SHA-256",
            with(&good, "sha256", json!("00".repeat(32))),
            400,
            "digest_mismatch",
        ),
        (
            "a wrong size",
            with(&good, "size", json!(1)),
            400,
            "bad_item",
        ),
        (
            "plaintext",
            with(
                &with(
                    &with(&good, "ciphertext", json!(STANDARD.encode(&plain))),
                    "size",
                    json!(plain.len()),
                ),
                "sha256",
                json!(hex::encode(vigil_crypto::sign::sha256(&plain))),
            ),
            400,
            "not_ciphertext",
        ),
        (
            "another organisation",
            with(&good, "org", json!(uuid::Uuid::now_v7())),
            403,
            "other_organisation",
        ),
        (
            "another device",
            with(&good, "device", json!(w.hq.id.as_uuid())),
            403,
            "not_your_device",
        ),
        ("sequence 0", with(&good, "seq", json!(0)), 400, "bad_item"),
        (
            "an unknown kind",
            with(&good, "kind", json!("photo")),
            400,
            "bad_item",
        ),
        (
            "not base64",
            with(&good, "ciphertext", json!("***")),
            400,
            "bad_item",
        ),
        (
            "an unknown field",
            with(&good, "title", json!("Police interrupt")),
            400,
            "bad_request",
        ),
    ];
    for (what, item, status, code) in cases {
        let r = w.monitor.push(&w.server, &[item]).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {r:?}");
    }
    let r = w.monitor.push(&w.server, &[]).await;
    assert_eq!(r.status, 400, "an empty push: {r:?}");
    let r = w
        .monitor
        .send(&w.server, "POST", "/v1/items", b"{not json")
        .await;
    assert_eq!(r.status, 400, "not JSON: {r:?}");
    assert_eq!(w.store.count("items"), 0);
}

fn with(item: &Value, key: &str, value: Value) -> Value {
    let mut item = item.clone();
    item[key] = value;
    item
}

/// Every file under `dirs` (and the log), searched for each marker as bytes.
fn files_containing(
    dirs: &[std::path::PathBuf],
    log: &std::path::Path,
    markers: &[&str],
) -> Vec<String> {
    let mut found = Vec::new();
    let mut files = vec![log.to_owned()];
    let mut stack = dirs.to_vec();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for m in markers {
            if bytes.windows(m.len()).any(|w| w == m.as_bytes()) {
                found.push(format!("{m} in {}", f.display()));
            }
        }
    }
    found
}

async fn the_server_keeps_no_plaintext_no_names_and_logs_no_content(backend: Backend) {
    let mut w = World::new(backend).await;
    let markers = [
        "MARKER-VICTIM-Osmonova",
        "MARKER-TITLE-Police-interrupt",
        "Aigul's laptop",
        "HQ reader",
    ];
    let items: Vec<Value> = (1..=20)
        .map(|seq| {
            w.monitor.item(
                &w.org,
                seq,
                format!(
                    "{{\"title\":\"{}\",\"victim\":\"{}\"}}",
                    markers[1], markers[0]
                )
                .as_bytes(),
            )
        })
        .collect();
    assert_eq!(w.monitor.push(&w.server, &items).await.status, 200);
    let feed = w.hq.send(&w.server, "GET", "/v1/feed?since=0", b"").await;
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 20);
    // An attachment full of the markers, as a device uploads it (age ciphertext for HQ).
    let photo = format!("{} {} ", markers[0], markers[1]).repeat(2000);
    let ciphertext = age::encrypt(&w.org.recipient(), photo.as_bytes()).unwrap();
    crate::uploads::upload_whole(&w, &w.monitor, &ciphertext).await;
    w.server.stop();
    let log = std::fs::read_to_string(&w.server.log).unwrap();
    assert!(log.contains("items pushed"), "the log is written: {log}");
    assert!(log.contains("attachment uploaded"), "{log}");
    let found = files_containing(&w.store.files(), &w.server.log, &markers);
    assert!(found.is_empty(), "{found:?}");
    // The organisation's name is public (its profile), and is the only name kept.
    assert!(
        !files_containing(
            &w.store.files(),
            &w.server.log,
            &["Bishkek Monitoring Group"]
        )
        .is_empty()
    );
    let _ = w.store.admin(&["org", "list"]);
}

/// `/metrics` counts requests by endpoint and status and refusals by code, and names no device
/// or organisation; a device over its rate limit is told to slow down.
async fn metrics_count_without_naming_anyone_and_a_flooding_device_is_slowed(backend: Backend) {
    let mut w = World::new(backend).await;
    let item = w.monitor.item(&w.org, 1, b"a sealed revision");
    assert_eq!(w.monitor.push(&w.server, &[item]).await.status, 200);
    let r = w
        .monitor
        .send(&w.server, "GET", "/v1/feed?since=0", b"")
        .await;
    assert_eq!(r.status, 403);
    let text = w.server.metrics().await;
    assert!(
        text.contains(
            r#"vigil_server_requests_total{method="POST",endpoint="/v1/items",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"vigil_server_refusals_total{code="hq_only"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("vigil_server_items_accepted_total 1"),
        "{text}"
    );
    for secret in [w.monitor.id.to_string(), w.org.id().to_string()] {
        assert!(!text.contains(&secret), "{secret} in {text}");
    }

    // The same world's server again, with a limit of 1 request a second (bursts of 2).
    w.server.stop();
    let log = w.dir.path().join("limited.log");
    let limited = crate::harness::Server::start_with(&w.store, &log, &["--rate-limit", "1"]);
    // 30 at once: only the burst, and what the seconds they take refill, can pass.
    let statuses = futures_util::future::join_all(
        (0..30).map(|_| w.monitor.send(&limited, "GET", "/v1/receipts?since=0", b"")),
    )
    .await;
    let ok = statuses.iter().filter(|r| r.status == 200).count();
    let slowed: Vec<_> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(ok >= 2, "the burst is served: {ok}");
    assert!(!slowed.is_empty(), "then it is slowed");
    assert!(slowed.iter().all(|r| r.code() == "rate_limited"));
    // Another device is not slowed by it.
    assert_eq!(
        w.hq.send(&limited, "GET", "/v1/feed?since=0", b"")
            .await
            .status,
        200
    );
}

crate::on_every_backend!(
    metrics_count_without_naming_anyone_and_a_flooding_device_is_slowed,
    it_starts_on_a_free_port_serves_health_and_openapi_and_stops_on_sigterm,
    a_monitor_pushes_hq_reads_verifies_and_acknowledges_and_the_monitor_sees_it,
    the_same_batch_pushed_ten_times_at_once_is_stored_once_with_identical_receipts,
    another_item_at_a_known_place_refuses_the_whole_batch,
    items_that_are_not_what_they_say_are_refused_and_nothing_is_stored,
    the_server_keeps_no_plaintext_no_names_and_logs_no_content,
);

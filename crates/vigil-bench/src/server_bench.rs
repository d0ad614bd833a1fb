//! The organisation's server under load, on loopback, against a reference in the same run: the
//! same signed requests to a static axum handler that reads the body and stores nothing.
//! Writes docs/benchmarks-server.md. Bounded: each measure runs `--seconds` (default 60) and
//! stops by itself.
//!
//! The server runs in this process (its library, as `vigil-server` runs it), on SQLite in a
//! temporary folder and on a private PostgreSQL cluster (Debian's `postgresql`, as the tests
//! start it). The clients are this process's tasks, so client and server share the two cores.

#![allow(clippy::print_stderr, missing_docs)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use vigil_crypto::sign::{self, DeviceKeys, OrgKeys};
use vigil_ledger::enrolment::{DeviceRole, Invitation};
use vigil_ledger::http_sig::{self, RequestLine};
use vigil_ledger::ids::device_id_for;
use vigil_ledger::profile::OrgProfile;
use vigil_model::DeviceId;

#[path = "../../../tests/server/pg.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
mod pg;

const WORKERS: usize = 64;

struct Worker {
    keys: DeviceKeys,
    id: DeviceId,
    cert: Vec<u8>,
    seq: u64,
}

struct Org {
    keys: OrgKeys,
    profile: OrgProfile,
}

fn sign_headers(w: &Worker, method: &str, path: &str, body: &[u8]) -> http_sig::SignedHeaders {
    http_sig::sign_request(
        &RequestLine {
            method,
            path,
            query: "",
        },
        body,
        w.id,
        Utc::now().timestamp(),
        &Uuid::now_v7().simple().to_string(),
        |m| w.keys.sign(m),
    )
    .expect("a fresh nonce is in the profile's form")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    w: &Worker,
    path: &str,
    body: Vec<u8>,
) -> anyhow::Result<u16> {
    let h = sign_headers(w, "POST", path, &body);
    let r = client
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let _ = r.bytes().await?;
    Ok(status)
}

/// An item as a device's client writes it (borrowing the shared ciphertext, as a client that
/// serialises its own structs does).
#[derive(serde::Serialize)]
struct Item<'a> {
    org: Uuid,
    device: Uuid,
    seq: u64,
    id: Uuid,
    kind: &'a str,
    sha256: &'a str,
    size: usize,
    ciphertext: &'a str,
}

#[derive(serde::Serialize)]
struct Push<'a> {
    items: Vec<Item<'a>>,
}

/// One measure: WORKERS tasks pushing `batch` items per request for `seconds`.
struct Measure {
    requests: usize,
    errors: usize,
    latencies_ms: Vec<f64>,
    elapsed: f64,
}

async fn load(
    url: &str,
    org: &Org,
    workers: &mut [Worker],
    batch: usize,
    seconds: u64,
    ciphertext: &[u8],
) -> Measure {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let sha = hex::encode(sign::sha256(ciphertext));
    let ct = STANDARD.encode(ciphertext);
    let org_id = org.profile.org_id;
    let tasks = workers.iter_mut().map(|w| {
        let client = client.clone();
        let (sha, ct) = (&sha, &ct);
        async move {
            let mut out = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let items: Vec<_> = (0..batch)
                    .map(|_| {
                        let seq = w.seq;
                        w.seq += 1;
                        Item {
                            org: org_id,
                            device: *w.id.as_uuid(),
                            seq,
                            id: Uuid::now_v7(),
                            kind: "revision",
                            sha256: sha,
                            size: ciphertext.len(),
                            ciphertext: ct,
                        }
                    })
                    .collect();
                let body = serde_json::to_vec(&Push { items }).unwrap_or_default();
                let t = Instant::now();
                match post(&client, url, w, "/v1/items", body).await {
                    Ok(200) => out.0 += 1,
                    _ => out.1 += 1,
                }
                out.2.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            out
        }
    });
    let results = futures_util::future::join_all(tasks).await;
    let mut m = Measure {
        requests: 0,
        errors: 0,
        latencies_ms: Vec::new(),
        elapsed: started.elapsed().as_secs_f64(),
    };
    for (ok, err, lat) in results {
        m.requests += ok;
        m.errors += err;
        m.latencies_ms.extend(lat);
    }
    m.latencies_ms.sort_by(f64::total_cmp);
    m
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[(((p / 100.0) * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

fn workers(org: &Org) -> anyhow::Result<Vec<Worker>> {
    (0..WORKERS)
        .map(|i| {
            let inv = Invitation::issue_for(
                &org.keys,
                org.profile.org_id,
                &format!("bench {i}"),
                DeviceRole::Monitor,
                Utc::now().fixed_offset() - chrono::Duration::hours(1),
                Utc::now().fixed_offset() + chrono::Duration::days(1),
            )?;
            let keys = DeviceKeys::generate()?;
            let id = device_id_for(&keys.public().sign_pk);
            let cert = inv.enrol(&keys, id, Utc::now().fixed_offset())?;
            Ok(Worker {
                keys,
                id,
                cert: cert.bytes().to_vec(),
                seq: 1,
            })
        })
        .collect()
}

/// Starts the server (or the reference) on 127.0.0.1:0; returns its URL.
async fn start(router: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

fn reference() -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/items",
            axum::routing::post(|body: axum::body::Bytes| async move {
                axum::Json(json!({ "receipts": [], "bytes": body.len() }))
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
}

fn row(report: &mut String, what: &str, batch: usize, m: &Measure) {
    let _ = writeln!(
        report,
        "| {what} | {batch} | {:.0} | {:.0} | {:.2} | {:.2} | {} |",
        m.requests as f64 / m.elapsed,
        (m.requests * batch) as f64 / m.elapsed,
        pct(&m.latencies_ms, 50.0),
        pct(&m.latencies_ms, 99.0),
        m.errors
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut out, mut only) = (60u64, None, None::<String>);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().context("--seconds N")?.parse()?,
            "--quick" => seconds = 2,
            // For profiling one target: reference, SQLite or PostgreSQL.
            "--only" => only = Some(args.next().context("--only TARGET")?.to_lowercase()),
            "--out" => out = args.next(),
            other => {
                anyhow::bail!(
                    "unknown argument {other}; use --seconds N, --quick, --out FILE, --only TARGET"
                )
            }
        }
    }
    let keys = OrgKeys::generate(1)?;
    let profile = OrgProfile::signed(Uuid::now_v7(), "Bench", &keys, Utc::now().fixed_offset())?;
    let org = Org { keys, profile };
    let recipient: age::x25519::Recipient = org.profile.hq_recipients[0]
        .parse()
        .map_err(|e: &str| anyhow::anyhow!("HQ's recipient: {e}"))?;
    let ciphertext = age::encrypt(&recipient, &[b'x'; 600])?;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "# Vigil server benchmarks\n\nMeasured {} with `cargo run --release -p vigil-bench --bin server-bench` on this \
         machine ({} s per row, {WORKERS} concurrent devices, each item {} bytes of age ciphertext). \
         Server and clients share the machine's cores. The reference is the same signed requests \
         to a static axum handler that reads the body and stores nothing.\n\n\
         | target | items per push | pushes/s | items/s | p50 ms | p99 ms | errors |\n|---|--:|--:|--:|--:|--:|--:|",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        seconds,
        ciphertext.len()
    );
    let runs = |target: &str| only.as_deref().is_none_or(|o| o == target.to_lowercase());
    let reference_url = start(reference()).await?;
    for batch in [1usize, 100].into_iter().filter(|_| runs("reference")) {
        let mut ws = workers(&org)?;
        let m = load(&reference_url, &org, &mut ws, batch, seconds, &ciphertext).await;
        row(&mut report, "reference: static axum handler", batch, &m);
    }
    let dir = tempfile::tempdir()?;
    let cluster = pg::PgCluster::start();
    for (name, database) in [("SQLite", None), ("PostgreSQL", Some(cluster.url.clone()))] {
        if !runs(name) {
            continue;
        }
        let data = dir.path().join(name);
        let mut state =
            vigil_server::AppState::open(Some(&data), database.as_deref(), None).await?;
        // The per-device rate limit (200 requests a second by default) would cap each device
        // here: raised, so that the server itself is measured.
        state.metrics = Arc::new(vigil_server::metrics::Metrics::new(1_000_000, 1_000_000));
        state.db.add_org(org.profile.to_json_pretty()).await?;
        let url = start(vigil_server::router(state)).await?;
        for batch in [1usize, 100] {
            let mut ws = workers(&org)?;
            let client = reqwest::Client::new();
            for w in &ws {
                let status = post(&client, &url, w, "/v1/devices", w.cert.clone()).await?;
                anyhow::ensure!(status == 200, "registering a bench device: {status}");
            }
            let m = load(&url, &org, &mut ws, batch, seconds, &ciphertext).await;
            row(&mut report, &format!("vigil-server on {name}"), batch, &m);
        }
    }
    let _ = writeln!(
        report,
        "\nTargets (issue 12): at least 5,000 single-item pushes/s on SQLite, 50,000 items/s in \
         batches, 0 errors. Each push is checked as in production: signature, digest, nonce \
         (spent in the push's transaction), device lookup, then every item's SHA-256 and \
         the batch stored in one transaction with one signed receipt for the push. On SQLite the \
         writes of concurrent requests are committed together (group commit, \
         `synchronous=FULL`: one fsync per group, and no receipt leaves before its group is on \
         disk); on PostgreSQL each push is its own transaction. The per-device rate limit is \
         raised for the run."
    );
    print!("{report}");
    if let Some(out) = out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}

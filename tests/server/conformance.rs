//! Conformance: schemathesis (PyPI) against the real server and its own OpenAPI document. Any
//! 5xx, any response whose status, content type, headers or body the document does not
//! describe, fails the test with schemathesis's report.
//!
//! Schemathesis runs from the virtualenv `scripts/setup --tests` makes (`target/conformance-venv`,
//! pinned in `tests/server/conformance/requirements.txt`), as HQ's device, which may call every
//! operation. `tests/server/conformance/vigil_hooks.py` signs every request on the bytes sent
//! (RFC 9421, Vigil's profile), and half the time puts an id the server holds into `{id}`. Before
//! the run, that signer must get a signed GET and POST accepted and a tampered one refused;
//! after it, `/metrics` must show signed operations answered 2xx, so a signer that broke halfway
//! (every request a documented 401) cannot pass for a clean run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Backend, World};

/// Where `scripts/setup --tests` puts schemathesis.
fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/conformance-venv")
}

fn hooks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/server/conformance")
}

/// Examples per operation and phase: enough to reach every documented status, well under two
/// minutes on two cores.
const MAX_EXAMPLES: &str = "40";
/// A fixed seed, so a failure repeats (`VIGIL_CONFORMANCE_SEED` picks another).
const SEED: &str = "20260512";

/// How PKCS#8 v2 (ring) and v1 (RFC 8410) documents of an Ed25519 key begin; the 32-byte seed
/// follows.
const V2_HEAD: &[u8] = &[
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const V1_HEAD: &[u8] = &[
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// What the Python side needs: where the server is, who to sign as and with what key, and ids
/// the server holds.
fn write_config(w: &World, dir: &Path, items: &[Value], uploads: &[uuid::Uuid]) -> PathBuf {
    // The device's Ed25519 key, owner-only, in the test's own temporary folder. The vault's
    // export holds ring's PKCS#8 v2 document (seed and public key), which Python's
    // cryptography does not read; the same seed in a PKCS#8 v1 document (RFC 8410) it does.
    let secret = w.hq.keys.expose_secret_bytes();
    let text = std::str::from_utf8(&secret).unwrap();
    let v2 = hex::decode(
        text.lines()
            .nth(1)
            .expect("the export's second line is PKCS#8"),
    )
    .unwrap();
    let (head, seed) = (&v2[..16], &v2[16..48]);
    assert_eq!(head, V2_HEAD, "ring's PKCS#8 v2 document for Ed25519");
    let key_file = dir.join("hq.pk8");
    std::fs::write(&key_file, [V1_HEAD, seed].concat()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = dir.join("conformance.json");
    let doc = json!({
        "url": w.server.url,
        "device": w.hq.id.to_string(),
        "key_file": key_file,
        "items": items.iter().map(|i| i["id"].clone()).collect::<Vec<_>>(),
        "uploads": uploads,
    });
    std::fs::write(&config, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    config
}

/// Runs `program args…` from the virtualenv with the hooks and `config`; (success, output).
fn run(program: &str, args: &[&str], config: &Path, cwd: &Path) -> (bool, String) {
    let out = Command::new(venv().join("bin").join(program))
        .args(args)
        .current_dir(cwd)
        .env("VIGIL_CONFORMANCE", config)
        .env("PYTHONPATH", hooks_dir())
        .env("SCHEMATHESIS_HOOKS", "vigil_hooks")
        .env("NO_COLOR", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("could not run {program} from the virtualenv: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The count of `vigil_server_requests_total` for `method` on `endpoint` with a 2xx status.
fn answered_2xx(metrics: &str, method: &str, endpoint: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("vigil_server_requests_total{"))
        .filter(|l| {
            l.contains(&format!("method=\"{method}\""))
                && l.contains(&format!("endpoint=\"{endpoint}\""))
                && l.contains("status=\"2")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn schemathesis_finds_no_server_error_and_no_response_outside_the_document(backend: Backend) {
    let venv = venv();
    assert!(
        venv.join("bin/schemathesis").exists() && venv.join("bin/python").exists(),
        "schemathesis is not installed in {}: run `scripts/setup --tests` (it installs the pinned \
         versions of tests/server/conformance/requirements.txt there)",
        venv.display()
    );
    // Schemathesis sends as fast as it can, all as one device: no rate limit in the way.
    let w = World::with_server_args(backend, &["--rate-limit", "100000"]).await;

    // Real content behind every GET: items from both devices, receipts, acknowledgements both
    // ways, a complete attachment and an upload still open.
    let monitor_items: Vec<Value> = (1..=3)
        .map(|seq| {
            w.monitor
                .item(&w.org, seq, format!("note {seq}").as_bytes())
        })
        .collect();
    let r = w.monitor.push(&w.server, &monitor_items).await;
    assert_eq!(r.status, 200, "{r:?}");
    let hq_items: Vec<Value> = (1..=2)
        .map(|seq| w.hq.item(&w.org, seq, format!("HQ note {seq}").as_bytes()))
        .collect();
    let r = w.hq.push(&w.server, &hq_items).await;
    assert_eq!(r.status, 200, "{r:?}");
    let acked = json!({ "items": [monitor_items[0]["id"], hq_items[0]["id"]] });
    let r =
        w.hq.send(&w.server, "POST", "/v1/acks", acked.to_string().as_bytes())
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    let attachment = age::encrypt(&w.org.recipient(), &[7u8; 3000]).unwrap();
    let complete = crate::uploads::upload_whole(&w, &w.hq, &attachment).await;
    let open = uuid::Uuid::now_v7();
    assert_eq!(
        crate::uploads::create(&w, &w.hq, open, &attachment).await,
        201
    );

    let dir = w.dir.path();
    let config = write_config(&w, dir, &monitor_items, &[complete, open]);

    // The signer alone: accepted when right, refused when the request differs from what it signed.
    let check = hooks_dir().join("vigil_hooks.py");
    let (ok, out) = run(
        "python",
        &[check.to_str().unwrap(), config.to_str().unwrap()],
        &config,
        dir,
    );
    assert!(
        ok,
        "the Python signer does not sign as the server expects:\n{out}"
    );

    let before = w.server.metrics().await;
    let seed = std::env::var("VIGIL_CONFORMANCE_SEED").unwrap_or_else(|_| SEED.to_owned());
    let schema = format!("{}/v1/openapi.json", w.server.url);
    let (ok, out) = run(
        "schemathesis",
        &[
            "run",
            &schema,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,ignored_auth,\
             unsupported_method",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            &seed,
            // One worker: with two, Hypothesis's `ast.parse` failed in CPython 3.11.7 ("AST
            // constructor recursion depth mismatch", CPython gh-106905, fixed in 3.11.8).
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--generation-with-security-parameters",
            "false",
            "--no-color",
        ],
        &config,
        dir,
    );
    println!("{out}");
    if !ok {
        // What the server logged of its failures (a 5xx's detail is in the log, not the reply).
        let log = std::fs::read_to_string(&w.server.log).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("\"ERROR\"")).collect();
        panic!(
            "schemathesis found responses the OpenAPI document does not allow (seed {seed}):\n\
             {out}\nthe server's errors:\n{}",
            errors.join("\n")
        );
    }

    // The run was signed: each of these signed operations answered schemathesis with a 2xx.
    let after = w.server.metrics().await;
    for (method, endpoint) in [
        ("GET", "/v1/profile"),
        ("GET", "/v1/receipts"),
        ("GET", "/v1/feed"),
        ("GET", "/v1/acks"),
        ("GET", "/v1/blobs/{id}"),
        ("HEAD", "/v1/uploads/{id}"),
    ] {
        assert!(
            answered_2xx(&after, method, endpoint) > answered_2xx(&before, method, endpoint),
            "schemathesis's signed {method} {endpoint} never succeeded: is the signer broken?\n\
             {out}\n{after}"
        );
    }
}

// On both databases (their code differs, and so could their failures); not on S3 as well: the
// document has no operation that reads attachments differently there (`Range` is not one of its
// parameters), and each run costs some 10 s of the two cores.
mod sqlite {
    #[tokio::test]
    async fn schemathesis_finds_no_server_error_and_no_response_outside_the_document() {
        super::schemathesis_finds_no_server_error_and_no_response_outside_the_document(
            crate::harness::Backend::Sqlite,
        )
        .await
    }
}

mod postgres {
    #[tokio::test]
    async fn schemathesis_finds_no_server_error_and_no_response_outside_the_document() {
        super::schemathesis_finds_no_server_error_and_no_response_outside_the_document(
            crate::harness::Backend::Postgres,
        )
        .await
    }
}

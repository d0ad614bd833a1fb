//! A bundle at its JSON limit: `vigil export` fills one bundle up to `MAX_JSON_BYTES` and says
//! what is left for the next; `vigil import` of that full bundle stays under 128 MiB of memory
//! (its records are read, checked and applied one at a time); one over the limit is refused
//! before anything is read.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;

/// The most memory an import of a bundle at the JSON limit may take.
const RSS_LIMIT_KIB: i64 = 128 * 1024;

/// One running-log entry of nearly the longest text allowed.
fn long_line(i: usize) -> String {
    let mut s = format!("{i:05} ");
    while s.len() < 99_000 {
        s.push_str("the nine men read out a list of names and the lawyers were told to leave; ");
    }
    s.truncate(99_000);
    s
}

#[test]
fn a_bundle_at_the_json_limit_imports_in_bounded_memory_and_one_over_is_refused() {
    let (hq, monitor, _) = organisation("Coalition HQ");
    let x = monitor.new_incident("A long hearing");
    // 160 entries of 99 KB: each sealed revision of this record carries them all, ~15.8 MB.
    let mut log = monitor
        .cmd()
        .args(["log", &x, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut input = log.stdin.take().unwrap();
        for i in 0..160 {
            writeln!(input, "{}", long_line(i)).unwrap();
        }
    }
    assert!(log.wait().unwrap().success());
    // Five revisions: more than one bundle holds.
    for i in 0..5 {
        monitor.ok(&["log", &x, &format!("amendment {i}")]);
        monitor.ok(&["seal", &x]);
    }
    let usb = monitor.root.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let full = usb.join("full.vigil");
    let report: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "export", "--to", full.to_str().unwrap()]))
            .unwrap();
    // One export, two bundles: the first filled to its JSON limit, the rest beside it.
    assert_eq!(report["left"], 0, "{report}");
    assert_eq!(report["revisions"], 5, "{report}");
    let bundles = report["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 2, "{report}");
    assert_eq!(bundles[0]["revisions"], 4, "{report}");
    assert_eq!(bundles[1]["revisions"], 1, "{report}");
    assert_eq!(bundles[0]["path"].as_str(), full.to_str());
    let bytes = bundles[0]["bytes"].as_u64().unwrap();
    assert!(
        bytes > vigil_bundle::MAX_JSON_BYTES * 9 / 10
            && bytes < vigil_bundle::MAX_JSON_BYTES + (1 << 20),
        "a bundle filled to its JSON limit: {bytes} bytes"
    );

    let mut import = hq.cmd();
    import.args(["import", full.to_str().unwrap()]);
    let (ok, rss) = peak_rss(&import, &hq);
    assert!(ok, "the full bundle imports");
    eprintln!("importing a {bytes}-byte bundle at the JSON limit: peak RSS {rss} KiB");
    assert!(rss < RSS_LIMIT_KIB, "import peak RSS {rss} KiB");
    let shown: serde_json::Value = serde_json::from_str(&hq.ok(&["--json", "show", &x])).unwrap();
    assert_eq!(shown["log"].as_array().unwrap().len(), 164);

    // The rest went in the next bundle: one revision, a quarter of the JSON. Memory stays flat:
    // importing four times as much costs less than one revision's worth more.
    let rest = usb.join("full-2.vigil");
    assert_eq!(bundles[1]["path"].as_str(), rest.to_str());
    let mut import = hq.cmd();
    import.args(["import", rest.to_str().unwrap()]);
    let (ok, rest_rss) = peak_rss(&import, &hq);
    assert!(ok);
    eprintln!("importing one revision of the same size: peak RSS {rest_rss} KiB");
    assert!(
        rss - rest_rss < vigil_bundle::MAX_JSON_ENTRY as i64 / 1024,
        "{rss} KiB for four revisions, {rest_rss} KiB for one"
    );
    let shown: serde_json::Value = serde_json::from_str(&hq.ok(&["--json", "show", &x])).unwrap();
    assert_eq!(shown["log"].as_array().unwrap().len(), 165);

    // One over the limit: its manifest is refused before any entry is read.
    let over = over_the_limit(&hq, &monitor, &full);
    let before = tables(&hq);
    let out = hq.run(&["--json", "import", over.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "bundle.too_large");
    assert_eq!(tables(&hq), before);
}

/// A bundle like `like` whose manifest declares JSON entries one byte over the limit, signed by
/// the monitor and encrypted to HQ.
fn over_the_limit(hq: &Env, monitor: &Env, like: &std::path::Path) -> std::path::PathBuf {
    let hq_vault = open_vault(hq);
    let recipients: Vec<age::x25519::Recipient> = hq_vault
        .hq_recipients()
        .unwrap()
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    let identity = crate::trust::support::hq_identity(&hq_vault);
    hq_vault.close().unwrap();
    let bytes = std::fs::read(like).unwrap();
    let manifest = vigil_bundle::BundleReader::open(&bytes[..], &[identity])
        .unwrap()
        .manifest()
        .clone();
    let sizes = [vigil_bundle::MAX_JSON_ENTRY; 4];
    let mut entries: Vec<vigil_bundle::ManifestEntry> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| vigil_bundle::ManifestEntry {
            path: format!("revisions/r{i}.json"),
            size: *size,
            sha256: hex::encode([0u8; 32]),
        })
        .collect();
    entries.push(vigil_bundle::ManifestEntry {
        path: vigil_bundle::CUSTODY_LOG.into(),
        size: 1,
        sha256: hex::encode([0u8; 32]),
    });
    let m = vigil_bundle::Manifest::new(
        uuid::Uuid::now_v7(),
        chrono::Utc::now(),
        manifest.org_id,
        manifest.device.clone(),
        entries,
    );
    assert_eq!(m.totals.bytes, vigil_bundle::MAX_JSON_BYTES + 1);
    let json = m.to_canonical_json().unwrap();
    let monitor_vault = open_vault(monitor);
    let sig = hex::encode(monitor_vault.device_sign(&json)).into_bytes();
    monitor_vault.close().unwrap();
    let mut t = crate::trust::support::bundle::Tar::default();
    t.head(&json, &sig).end();
    let path = hq.root.path().join("over.vigil");
    std::fs::write(
        &path,
        crate::trust::support::bundle::encrypt_to(&t.bytes, &recipients),
    )
    .unwrap();
    path
}

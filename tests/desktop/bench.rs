//! Desktop benchmarks, through the real window and the real IPC path, each beside a reference
//! measured in the same run. Run by `scripts/bench-desktop` (release build); writes
//! `docs/benchmarks-desktop.md`. Not part of the test suite: timings are not assertions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "harness/mod.rs"]
#[allow(dead_code, unused_imports)]
mod harness;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Env, PASSPHRASE};
use serde_json::{Value, json};
use vigil_crypto::Passphrase;
use vigil_model::{Incident, IncidentId};
use vigil_store::{KdfChoice, ListQuery, SystemClock, Vault};

const LAUNCHES: usize = 5;
const APPENDS: usize = 300;
const LIST_SIZE: usize = 10_000;
const EXPORT_BYTES: u64 = 1 << 30;
/// The photo the benchmark previews, attached to the big record.
const PHOTO: &str = "photo-of-the-room.png";
/// How long without input before memory is read.
const SETTLE: Duration = Duration::from_secs(10);

/// The reference window: an example of this package (scripts/bench-desktop builds it), beside
/// the app's binary.
fn bare_window() -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_vigil-desktop"))
        .parent()
        .unwrap()
        .join("examples")
        .join("bare-window")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn ms_list(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array of timings, got {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A vault with `n` incidents (the floor KDF, so unlocking measures the app, not Argon2id).
fn vault_with(env: &Env, n: usize) -> IncidentId {
    let mut v = Vault::create(
        &env.vault,
        &Passphrase::new(PASSPHRASE.to_owned()),
        KdfChoice::Params(vigil_crypto::kdf::KdfParams::FLOOR),
        Arc::new(SystemClock),
    )
    .unwrap();
    let now = v.now();
    let incidents: Vec<Incident> = (0..n)
        .map(|i| {
            let mut inc = Incident::new(IncidentId::new(), format!("Incident {i}: hearing"), now);
            inc.summary = format!("Monitor's summary of incident {i}, with a few words to index.");
            inc
        })
        .collect();
    v.create_incidents(&incidents).unwrap();
    let first = incidents
        .last()
        .map(|i| i.id)
        .unwrap_or_else(IncidentId::new);
    v.close().unwrap();
    first
}

/// Makes the vault a monitor's (an organisation created in `hq`, joined by invitation) with a
/// sealed record holding a `EXPORT_BYTES` video, so an export has 1 GiB to write.
fn with_big_sealed_record(env: &Env, hq: &Path, usb: &Path) {
    let session = |dir: &Path| {
        vigil_app::Session::new(
            dir.to_path_buf(),
            Arc::new(SystemClock),
            KdfChoice::Params(vigil_crypto::kdf::KdfParams::FLOOR),
            None,
        )
    };
    let hq = session(hq);
    hq.create_vault(PASSPHRASE.to_owned()).unwrap();
    let profile = hq.create_org("HQ", 1, usb).unwrap().profile_path.unwrap();
    let invitation = hq
        .invite_device("bench laptop", 14, usb)
        .unwrap()
        .invitation_path
        .unwrap();
    let monitor = session(&env.vault);
    monitor.unlock(PASSPHRASE.to_owned()).unwrap();
    monitor
        .join_org(Path::new(&profile), Some(Path::new(&invitation)))
        .unwrap();
    let video = usb.join("meeting.mp4");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&video).unwrap());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..EXPORT_BYTES / buf.len() as u64 {
            for word in buf.chunks_exact_mut(8) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                word.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            }
            f.write_all(&buf).unwrap();
        }
        f.flush().unwrap();
    }
    let record = monitor
        .new_incident("Meeting broken up")
        .unwrap()
        .id
        .to_string();
    monitor
        .add_attachment(&record, &video, &mut |_| {})
        .unwrap();
    std::fs::remove_file(&video).unwrap();
    // A photo to preview (one of the committed screenshots: a real 1100×720 PNG).
    let photo = usb.join(PHOTO);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/list-en.png"),
        &photo,
    )
    .unwrap();
    monitor
        .add_attachment(&record, &photo, &mut |_| {})
        .unwrap();
    std::fs::remove_file(&photo).unwrap();
    monitor.seal(&record).unwrap();
    monitor.lock();
}

/// One process's share of memory, from `/proc/<pid>/smaps_rollup`, in KiB.
#[derive(Debug, Clone, Default)]
struct ProcessMemory {
    name: String,
    pss: u64,
    anon: u64,
    file: u64,
    shmem: u64,
}

fn memory(pids: &[u32]) -> Vec<ProcessMemory> {
    let mut out: Vec<ProcessMemory> = pids
        .iter()
        .filter_map(|pid| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            let field = |key: &str| {
                s.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let name = std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            if std::env::var_os("VIGIL_BENCH_SMAPS").is_some() {
                top_mappings(*pid, &name);
            }
            Some(ProcessMemory {
                name: if name.starts_with("WebKit") {
                    name
                } else {
                    "main process".to_owned()
                },
                pss: field("Pss:"),
                anon: field("Pss_Anon:"),
                file: field("Pss_File:"),
                shmem: field("Pss_Shmem:"),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// With `VIGIL_BENCH_SMAPS` set: the largest mappings of a process by PSS, on stderr.
fn top_mappings(pid: u32, name: &str) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return;
    };
    let mut maps: Vec<(u64, String)> = Vec::new();
    let mut current = String::new();
    for line in s.lines() {
        if let Some(kib) = line.strip_prefix("Pss:") {
            let kib = kib
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .unwrap_or(0);
            maps.push((kib, current.clone()));
        } else if line
            .split_whitespace()
            .next()
            .and_then(|range| range.split_once('-'))
            .is_some_and(|(a, b)| {
                u64::from_str_radix(a, 16).is_ok() && u64::from_str_radix(b, 16).is_ok()
            })
        {
            current = line.to_owned();
        }
    }
    maps.sort_by_key(|m| std::cmp::Reverse(m.0));
    eprintln!("[smaps] {name} ({pid}):");
    for (kib, map) in maps.iter().take(12) {
        eprintln!("[smaps]   {kib:>8} kB  {map}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run scripts/bench-desktop"]
async fn desktop_benchmarks() {
    let mut report = String::new();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(
        report,
        "# Vigil desktop benchmarks\n\nMeasured {} with `scripts/bench-desktop` ({profile} build), under Xvfb, \
         through WebDriver (tauri-driver + WebKitWebDriver). Each row names its reference, measured \
         in the same run.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    )
    .unwrap();

    // 1. Cold start to an interactive unlock screen.
    let mut env = Env::new("bench-start");
    let incident = vault_with(&env, LIST_SIZE);
    let side = tempfile::tempdir().unwrap();
    let usb = side.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    with_big_sealed_record(&env, &side.path().join("hq"), &usb);
    let mut launch_ms = Vec::new();
    let mut page_ms = Vec::new();
    for _ in 0..LAUNCHES {
        let t = Instant::now();
        let mut app = env.launch().await;
        app.wait_for("#unlock-screen #passphrase").await;
        launch_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        // The page's own view: from navigation start to now (the unlock screen is up).
        let v = app.eval("return performance.now()", vec![]).await;
        page_ms.push(v.as_f64().unwrap());
        app.quit().await;
    }
    let launch_ms = sorted(launch_ms);
    let page_ms = sorted(page_ms);

    // 2. Unlock to the first page of a 10k-incident list, in the window, vs. the same work
    // in-process (open with the same KDF + first page).
    let mut app = env.launch().await;
    app.wait_for("#unlock-screen #passphrase").await;
    app.type_into("#passphrase", PASSPHRASE).await;
    let unlock = app
        .eval_async(
            r#"const done = arguments[arguments.length - 1];
               const t0 = performance.now();
               const obs = new MutationObserver(() => {
                 if (document.querySelector('#incident-list .incident-row')) {
                   obs.disconnect(); done(performance.now() - t0);
                 }
               });
               obs.observe(document.body, {subtree: true, childList: true});
               document.querySelector('#unlock').click();"#,
            vec![],
        )
        .await
        .as_f64()
        .unwrap();
    let rows = app.count("#incident-list .incident-row").await;

    // 2b. Memory once unlocked, the list shown, 10 s without input.
    tokio::time::sleep(SETTLE).await;
    let idle_pids = app.process_ids();
    let idle_mem = memory(&idle_pids);
    let idle_kib: u64 = idle_mem.iter().map(|p| p.pss).sum();

    // 3. Keystroke-to-durable through the real IPC path: append_log resolves only after the
    // entry is committed with synchronous=FULL. Reference: the IPC round trip alone (touch).
    let script = r#"const [id, n, cmd] = arguments; const done = arguments[arguments.length - 1];
        (async () => { const inv = window.__TAURI__.core.invoke; const out = [];
          for (let i = 0; i < n; i++) { const t = performance.now();
            if (cmd === 'append_log') await inv('append_log', {id, entry: {text: 'bench entry ' + i, flagged: false, draft_after: ''}});
            else await inv('touch');
            out.push(performance.now() - t); }
          done(out); })().catch(e => done(String(e)));"#;
    let id = json!(incident.to_string());
    let ipc_ms = sorted(ms_list(
        &app.eval_async(script, vec![id.clone(), json!(APPENDS), json!("touch")])
            .await,
    ));
    let append_ms = sorted(ms_list(
        &app.eval_async(script, vec![id, json!(APPENDS), json!("append_log")])
            .await,
    ));

    // 3b. The same, while a 1 GiB export writes the bundle and reads it back: appends are timed
    // until the export's promise resolves.
    app.set_script_timeout(Duration::from_secs(600)).await;
    let during = app
        .eval_async(
            r#"const [id, folder] = arguments; const done = arguments[arguments.length - 1];
            (async () => { const core = window.__TAURI__.core; const out = []; const ipc = [];
              let finished = false;
              const exp = core.invoke('export_bundle', {folder, onProgress: new core.Channel()})
                .then(r => { finished = true; return r; });
              let i = 0;
              while (!finished) { let t = performance.now();
                await core.invoke('append_log', {id, entry: {text: 'during export ' + i++, flagged: false, draft_after: ''}});
                out.push(performance.now() - t);
                t = performance.now();
                await core.invoke('touch');
                ipc.push(performance.now() - t);
                await new Promise(r => setTimeout(r, 10)); }
              const r = await exp; done({ms: out, ipc, attachments: r.attachments}); })()
              .catch(e => done(String(e)));"#,
            vec![
                json!(incident.to_string()),
                json!(usb.display().to_string()),
            ],
        )
        .await;
    assert_eq!(during["attachments"], json!(2), "the export ran: {during}");
    let during_ms = sorted(ms_list(&during["ms"]));
    let during_ipc = sorted(ms_list(&during["ipc"]));

    // 4. Memory after use: the record's photo previewed and closed (after the export above),
    // then 10 s without input.
    app.type_into("#search", "Meeting broken").await;
    app.click_until(".incident-row", "#live-log-screen").await;
    app.click(&format!(".attachment[data-name='{PHOTO}']"))
        .await;
    app.wait_until("the photo to be shown", Duration::from_secs(30), |c| async move {
        c.execute(
            "const i = document.querySelector('.preview-body img'); return !!i && i.complete && i.naturalWidth > 0",
            vec![],
        )
        .await
        .is_ok_and(|v| v == Value::Bool(true))
    })
    .await;
    app.eval(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'})); return null",
        vec![],
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    let pids = app.process_ids();
    let used_mem = memory(&pids);
    let used_kib: u64 = used_mem.iter().map(|p| p.pss).sum();
    app.quit().await;

    // 4b. The reference: a bare Tauri window (same Tauri, same WebKitGTK, a blank page), alone,
    // 10 s after it started.
    let bare_env = Env::new("bench-bare");
    let mut bare = bare_env.spawn_private(&bare_window());
    tokio::time::sleep(SETTLE).await;
    let bare_pids = bare_env.processes();
    let bare_mem = memory(&bare_pids);
    let bare_kib: u64 = bare_mem.iter().map(|p| p.pss).sum();
    let _ = bare.kill();
    let _ = bare.wait();

    // References in-process, same vault, same run.
    let t = Instant::now();
    let v = Vault::open(
        &env.vault,
        &Passphrase::new(PASSPHRASE.to_owned()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let first = v
        .list_incidents(&ListQuery {
            limit: 200,
            ..ListQuery::default()
        })
        .unwrap();
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(!first.is_empty());
    let mut v = v;
    let mut direct = Vec::new();
    for i in 0..APPENDS {
        let t = Instant::now();
        v.append_log(incident, &format!("direct entry {i}"), false)
            .unwrap();
        direct.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.close().unwrap();
    let direct = sorted(direct);

    // 5. Sizes.
    let bin = std::fs::metadata(env!("CARGO_BIN_EXE_vigil-desktop"))
        .map(|m| m.len())
        .unwrap_or(0);
    let deb = std::env::var("VIGIL_DEB")
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());

    let f = |x: f64| format!("{x:.1} ms");
    writeln!(
        report,
        "| measure | Vigil | reference (same run) | target |"
    )
    .unwrap();
    writeln!(report, "|---|--:|--:|---|").unwrap();
    writeln!(
        report,
        "| cold start to interactive unlock screen, median of {LAUNCHES} (WebDriver session start → `#passphrase` shown) | {} | page's own time since navigation start: {} | — |",
        f(pct(&launch_ms, 50.0)),
        f(pct(&page_ms, 50.0))
    )
    .unwrap();
    writeln!(
        report,
        "| unlock → first page of a {LIST_SIZE}-incident list ({rows} rows rendered; floor KDF) | {} | in-process `Vault::open` + first page: {} | — |",
        f(unlock),
        f(open_ms)
    )
    .unwrap();
    for (name, p) in [("p50", 50.0), ("p99", 99.0)] {
        writeln!(
            report,
            "| keystroke-to-durable: `append_log` through the real IPC, {name} of {APPENDS} | {} | IPC round trip alone (`touch`): {}; in-process durable append: {} | {} |",
            f(pct(&append_ms, p)),
            f(pct(&ipc_ms, p)),
            f(pct(&direct, p)),
            if name == "p99" {
                if pct(&append_ms, p) < 16.0 { "< 16 ms: met" } else { "< 16 ms: **MISSED**" }
            } else {
                "—"
            }
        )
        .unwrap();
    }
    writeln!(
        report,
        "| keystroke-to-durable p99 during a 1 GiB export ({} appends while the bundle was written and read back) | {} | idle, same window: {}; IPC round trip alone (`touch`) during the export: {} | < 16 ms: {} |",
        during_ms.len(),
        f(pct(&during_ms, 99.0)),
        f(pct(&append_ms, 99.0)),
        f(pct(&during_ipc, 99.0)),
        if pct(&during_ms, 99.0) < 16.0 { "met" } else { "**MISSED**" }
    )
    .unwrap();
    let mib = |k: u64| k as f64 / 1024.0;
    let ratio = |k: u64| k as f64 / bare_kib.max(1) as f64;
    let verdict = |r: f64, limit: f64| {
        if r <= limit {
            format!("≤ {limit}× the bare window: met")
        } else {
            format!("≤ {limit}× the bare window: **MISSED**")
        }
    };
    writeln!(
        report,
        "| memory (PSS) of the app and its WebKit processes ({} processes), unlocked on the {LIST_SIZE}-incident list, 10 s without input | {:.1} MiB ({:.2}×) | a bare Tauri window (same Tauri and WebKitGTK, a blank page; {} processes), 10 s after it started: {:.1} MiB | {} |",
        idle_pids.len(),
        mib(idle_kib),
        ratio(idle_kib),
        bare_pids.len(),
        mib(bare_kib),
        verdict(ratio(idle_kib), 1.3)
    )
    .unwrap();
    writeln!(
        report,
        "| memory (PSS) after use: a 1 GiB export and a photo previewed and closed, then 10 s without input ({} processes) | {:.1} MiB ({:.2}×) | the same bare window: {:.1} MiB | {} |",
        pids.len(),
        mib(used_kib),
        ratio(used_kib),
        mib(bare_kib),
        verdict(ratio(used_kib), 1.5)
    )
    .unwrap();
    writeln!(
        report,
        "| `vigil-desktop` binary ({profile}) | {:.1} MiB | Tauri's hello-world: 2.6 MB; an Electron one: over 130 MB | — |",
        bin as f64 / 1048576.0
    )
    .unwrap();
    match deb {
        Some(d) => writeln!(
            report,
            "| `.deb` built by the Tauri bundler | {:.1} MiB | — | — |",
            d as f64 / 1048576.0
        )
        .unwrap(),
        None => writeln!(
            report,
            "| `.deb` built by the Tauri bundler | not built in this run | — | — |"
        )
        .unwrap(),
    }
    writeln!(
        report,
        "\n## Memory by process\n\nPSS in MiB (of it: anonymous / file-backed / shared memory), the \
         same three moments as above.\n\n| process | app, idle | app, after use | bare window |\n|---|--:|--:|--:|"
    )
    .unwrap();
    let cell = |mem: &[ProcessMemory], i: usize| {
        mem.get(i).map_or_else(
            || "—".to_owned(),
            |p| {
                format!(
                    "{:.1} ({:.1} / {:.1} / {:.1})",
                    mib(p.pss),
                    mib(p.anon),
                    mib(p.file),
                    mib(p.shmem)
                )
            },
        )
    };
    for i in 0..idle_mem.len().max(used_mem.len()).max(bare_mem.len()) {
        let name = [&idle_mem, &used_mem, &bare_mem]
            .iter()
            .find_map(|m| m.get(i).map(|p| p.name.clone()))
            .unwrap_or_default();
        writeln!(
            report,
            "| {name} | {} | {} | {} |",
            cell(&idle_mem, i),
            cell(&used_mem, i),
            cell(&bare_mem, i)
        )
        .unwrap();
    }
    writeln!(
        report,
        "\nThe IPC rows are timed inside the page with `performance.now()` around `invoke(...)`, so \
         WebDriver's own latency is not in them; the cold-start row includes starting WebKitWebDriver's \
         session. Memory is the proportional set size from `/proc/<pid>/smaps_rollup`. The app turns \
         WebKit's accelerated compositing off and uses its document-viewer cache model \
         (`src-tauri/main.rs`); the bare window keeps Tauri's defaults."
    )
    .unwrap();
    println!("{report}");
    if let Ok(out) = std::env::var("VIGIL_BENCH_OUT") {
        std::fs::write(out, &report).unwrap();
    }
}

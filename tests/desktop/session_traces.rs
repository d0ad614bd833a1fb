//! One window session of a monitor that types, attaches (through the native file picker, as a
//! person does), previews, seals, exports to a stick and syncs to the real server; then no
//! marker from it is anywhere outside the vault: not in HOME, the XDG folders (the webview's
//! data and cache among them), the temporary folders, the stick, the server's files, the logs
//! of the app, its driver and the server, nor on a command line of the app's processes
//! (issue 14).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::harness::{ENTER, Env, PASSPHRASE, serial};
use crate::traces;

/// Typed in the running log.
const TYPED: &str = "quokkaridge";
/// Inside the attached file.
const CONTENT: &str = "pangolinfen";
/// In the attached file's name.
const FILE_NAME: &str = "narwhalcove-names.txt";
const MARKERS: [&str; 4] = [TYPED, CONTENT, "narwhalcove", PASSPHRASE];

/// Chooses `file` in the native file picker titled `title`, as a person would: typing its path
/// (GTK opens the location field at the first "/") and pressing Enter.
fn choose_in_picker(title: &str, file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let window = loop {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", title])
            .output()
            .expect("xdotool (scripts/setup installs it)");
        let found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(str::to_owned);
        if let Some(id) = found {
            break id;
        }
        assert!(Instant::now() < deadline, "no file picker titled {title:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = |args: &[&str]| {
        let s = Command::new("xdotool").args(args).status().unwrap();
        assert!(s.success(), "xdotool {args:?}");
    };
    run(&["windowfocus", "--sync", &window]);
    std::thread::sleep(Duration::from_millis(300));
    run(&["type", "--delay", "30", &file.display().to_string()]);
    std::thread::sleep(Duration::from_millis(300));
    run(&["key", "Return"]);
}

/// Files under `root` changed since `since`, outside `skip`, with a marker in them.
fn changed_with_markers(root: &Path, skip: &[PathBuf], since: SystemTime) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(entries) = fs::read_dir(root) else {
        return hits;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            hits.extend(changed_with_markers(&path, skip, since));
        } else if meta.is_file()
            && meta.len() < 64 << 20
            && meta.modified().is_ok_and(|m| m >= since)
        {
            for hit in traces::scan_file(&path, &MARKERS) {
                hits.push(format!(
                    "{}: {} ({})",
                    path.display(),
                    hit.marker,
                    hit.encoding
                ));
            }
        }
    }
    hits
}

#[tokio::test]
async fn typed_attached_exported_and_synced_leaves_no_trace_outside_the_vault() {
    let _turn = serial().await;
    let started = SystemTime::now() - Duration::from_secs(2);
    let mut env = Env::new("session-traces");
    // Bundles padded to their size bucket (Settings → Field safety).
    env.write_settings_with(serde_json::json!({ "pad_bundles": true }));
    env.create_vault();
    let data = env.root.path().join("server");
    let (mut server, url) = crate::sync::start_server(&data);
    let (hq, monitor) = crate::sync::organisation(&env, &server, &url);
    monitor.close().unwrap();
    hq.close().unwrap();
    // The file comes from elsewhere (a camera's card): it is the one place the markers are.
    let card = tempfile::Builder::new()
        .prefix("vigil-card-")
        .tempdir()
        .unwrap();
    let file = card.path().join(FILE_NAME);
    fs::write(&file, format!("{CONTENT}: the names of the detained\n")).unwrap();
    let usb = env.root.path().join("usb");
    fs::create_dir(&usb).unwrap();

    let mut app = env.launch().await;
    app.unlock_and_log(&format!("10:30 {TYPED} detained")).await;

    app.click("#log-attach").await;
    choose_in_picker("Attach file", &file);
    let attached = format!(".attachment[data-name='{FILE_NAME}']");
    app.wait_for(&attached).await;
    app.click(&attached).await;
    app.wait_text(".preview-body pre", CONTENT).await;
    app.click(".dialog.preview .actions button").await;

    app.seal_record().await;
    app.wait_for("#seal-state[data-state=sealed]").await;
    app.click("#back").await;
    app.wait_for("#main-screen").await;
    app.click("#export").await;
    app.wait_for("#export-dialog").await;
    app.type_into("#export-folder", &format!("{}{ENTER}", usb.display()))
        .await;
    app.wait_text("#export-result", &usb.display().to_string())
        .await;
    app.click("#export-close").await;
    let bundles: Vec<_> = fs::read_dir(&usb).unwrap().flatten().collect();
    assert_eq!(bundles.len(), 1);
    let size = bundles[0].metadata().unwrap().len();
    assert!(
        size >= vigil_bundle::MIN_BUCKET,
        "a padded bundle fills at least its first bucket: {size} bytes"
    );
    app.click("#sync-now").await;
    app.wait_for(".incident-row .delivery-held_by_server").await;

    // Nothing on a command line of the app's processes, read while they run.
    traces::assert_not_on_command_lines(&app.process_ids(), &MARKERS);
    app.quit().await;
    server.stop();

    let root = env.root.path();
    // No recent-files entry (GTK keeps a list for its file picker; it may write it empty).
    for list in traces::list_files(root, &env.vault)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "recently-used.xbel"))
    {
        let text = fs::read_to_string(&list).unwrap_or_default();
        assert!(
            !text.contains("<bookmark "),
            "a recent-files entry was written to {}:\n{text}",
            list.display()
        );
    }
    // HOME, the XDG folders (WebKit's data and cache), TMPDIR, the stick, the server's data
    // and log: everything in the private world but the vault.
    let hits = traces::scan(root, &env.vault, &MARKERS);
    assert!(
        hits.is_empty(),
        "content outside the vault: {hits:#?}\nfiles:\n{:#?}",
        traces::list_files(root, &env.vault)
    );
    // The logs of the app and its driver.
    let hits = traces::scan(env.logs_dir(), Path::new("/nonexistent"), &MARKERS);
    assert!(hits.is_empty(), "content in a log: {hits:#?}");
    // The machine's shared temporary folders: whatever changed during the session.
    let skip = vec![card.path().to_path_buf(), root.to_path_buf()];
    for tmp in ["/tmp", "/var/tmp", "/dev/shm"] {
        let hits = changed_with_markers(Path::new(tmp), &skip, started);
        assert!(hits.is_empty(), "content in {tmp}: {hits:#?}");
    }
    // Control: the file itself is found by the same scan.
    assert!(!traces::scan_file(&file, &MARKERS).is_empty());
}

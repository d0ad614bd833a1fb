//! Attachments through the real `vigil-server` (issue 13): they go apart from the items that
//! name them, by the server's resumable upload, and HQ fetches them before it imports the
//! item. A sync killed mid-upload resumes where the server stopped, re-sending at most the
//! part in flight (the server's counters show it); a blob that is not the file its signed
//! revision names is refused at HQ and never acknowledged.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use vigil_model::AttachmentId;

use crate::common::{Env, open_vault};
use crate::sync::{connected, sealed, status, sync, synced};

/// One upload part (`vigil_sync::blobs::PART_BYTES`).
const PART: u64 = 8 * 1024 * 1024;

/// `size` bytes of a reproducible non-repeating pattern.
pub(crate) fn media(path: &Path, size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(size);
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// A sealed incident with one attachment of `size` bytes; its id, the attachment's id and
/// its bytes.
fn sealed_with_file(monitor: &Env, title: &str, size: usize) -> (String, String, Vec<u8>) {
    let file = monitor.root.path().join(format!("{title}.mp4"));
    let bytes = media(&file, size);
    let id = monitor.new_incident(title);
    let attached: serde_json::Value =
        serde_json::from_str(&monitor.ok(&["--json", "attach", &id, file.to_str().unwrap()]))
            .unwrap();
    monitor.ok(&["seal", &id]);
    std::fs::remove_file(&file).unwrap();
    let attachment = attached["id"].as_str().unwrap().to_owned();
    (id, attachment, bytes)
}

fn extracted(env: &Env, attachment: &str) -> Vec<u8> {
    let out = env.root.path().join(format!("out-{attachment}"));
    env.ok(&["extract", attachment, out.to_str().unwrap()]);
    std::fs::read(out).unwrap()
}

#[test]
fn an_attachment_goes_by_resumable_upload_and_hq_gets_the_same_file() {
    let (hq, monitor, server, _) = connected();
    let before = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);
    let (filmed, attachment, bytes) =
        sealed_with_file(&monitor, "Dispersal filmed", 3 * PART as usize - 12_345);
    let after = sealed(&monitor, "Press conference", &["12:00 police present"]);

    let sent = synced(&monitor);
    assert_eq!(sent["attachments_sent"], 1, "{sent}");
    let ciphertext = sent["attachment_bytes_sent"].as_u64().unwrap();
    assert!(
        ciphertext > bytes.len() as u64,
        "age ciphertext: {ciphertext}"
    );
    for id in [&before, &filmed, &after] {
        assert_eq!(status(&monitor, id), "held_by_server");
    }
    // The server stored every byte once, and was sent each once.
    assert_eq!(server.counter("upload_bytes"), ciphertext);
    assert_eq!(server.counter("upload_part_bytes"), ciphertext);

    let pulled = synced(&hq);
    assert_eq!(pulled["attachments_fetched"], 1, "{pulled}");
    assert!(
        pulled["items_refused"].as_array().unwrap().is_empty(),
        "{pulled}"
    );
    assert_eq!(extracted(&hq, &attachment), bytes, "HQ holds the same file");

    synced(&monitor);
    for id in [&before, &filmed, &after] {
        assert_eq!(status(&monitor, id), "verified_by_hq");
    }
    // A second pass sends nothing again, and removes nothing unless asked.
    let again = synced(&monitor);
    assert_eq!(again["attachments_sent"], 0);
    assert_eq!(again["attachments_freed"], 0);
    assert_eq!(server.counter("upload_part_bytes"), ciphertext);
    assert_eq!(
        extracted(&monitor, &attachment),
        bytes,
        "the monitor keeps it"
    );
}

/// The chunk files, not the empty spare files that become chunks (blobs/spare).
fn chunk_files(env: &Env) -> usize {
    walk(&env.vault.join("blobs")) - walk(&env.vault.join("blobs").join("spare"))
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// Asked to (`--free-delivered`), a monitor removes a file's content from the laptop, but only
/// once HQ has acknowledged it: its chunks go, opening it says where it went, HQ holds it.
#[test]
fn a_delivered_file_leaves_the_laptop_only_when_asked_and_after_hqs_acknowledgement() {
    let (hq, monitor, _server, _) = connected();
    let (filmed, attachment, bytes) = sealed_with_file(&monitor, "Dispersal filmed", 3 << 20);

    let free = |env: &Env| -> serde_json::Value {
        serde_json::from_str(&env.ok(&["--json", "sync", "--free-delivered"])).unwrap()
    };
    let sent = free(&monitor);
    assert_eq!(sent["attachments_sent"], 1);
    assert_eq!(
        sent["attachments_freed"], 0,
        "held by the server, not yet by HQ"
    );
    assert_eq!(extracted(&monitor, &attachment), bytes);

    synced(&hq);
    let before = chunk_files(&monitor);
    let freed = free(&monitor);
    assert_eq!(freed["attachments_freed"], 1, "{freed}");
    assert_eq!(status(&monitor, &filmed), "verified_by_hq");
    assert!(before > 0);
    assert_eq!(
        chunk_files(&monitor),
        0,
        "its chunks (the vault's only ones) left the laptop"
    );
    let out_path = monitor.root.path().join("again.mp4");
    let out = monitor.run(&["--json", "extract", &attachment, out_path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(crate::common::json_error_code(&out), "attachment_freed");
    assert!(!out_path.exists());
    assert_eq!(extracted(&hq, &attachment), bytes, "HQ holds it");
    let again = free(&monitor);
    assert_eq!(again["attachments_freed"], 0, "once");
}

/// `vigil sync` is killed (SIGKILL) once the server holds part of a 256 MiB attachment; the
/// next run asks the server where it stands and resumes there.
#[test]
fn a_sync_killed_mid_upload_resumes_and_re_sends_at_most_one_part() {
    let (hq, monitor, server, _) = connected();
    let (filmed, attachment, bytes) = sealed_with_file(&monitor, "Meeting filmed", 256 << 20);

    let mut child = monitor
        .cmd()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let held = loop {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "sync ended before the upload was under way: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        let last = seen
            .rsplit("Sending attachments: ")
            .next()
            .and_then(|s| s.split('/').next())
            .and_then(|s| s.trim().parse::<u64>().ok());
        if seen.contains("Sending attachments: ") && last.is_some_and(|b| b >= PART) {
            break last.unwrap();
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = server.counter("upload_bytes");
    assert!(stored >= held, "the server holds what it confirmed");
    let total = {
        let v = open_vault(&monitor);
        let pending = v.sync_blobs_pending().unwrap();
        v.close().unwrap();
        assert_eq!(pending.len(), 1, "the upload is still queued");
        pending[0]
            .prepared
            .expect("its ciphertext was prepared")
            .size
    };
    assert!(stored < total, "killed mid-upload ({stored} of {total})");
    assert_eq!(status(&monitor, &filmed), "only_here");

    let sent = synced(&monitor);
    assert_eq!(sent["attachments_sent"], 1, "{sent}");
    assert_eq!(status(&monitor, &filmed), "held_by_server");
    assert_eq!(
        server.counter("upload_bytes"),
        total,
        "each byte stored once"
    );
    let received = server.counter("upload_part_bytes");
    assert!(
        received <= total + PART,
        "at most one part sent twice: {received} received for {total}"
    );
    eprintln!(
        "killed at {stored} of {total} bytes; {} bytes received in all",
        received
    );

    synced(&hq);
    assert_eq!(extracted(&hq, &attachment), bytes);
}

/// An enrolled insider, with its own keys, uploads for its record's attachment the ciphertext
/// of another file: HQ refuses the item with the reason, never acknowledges it, and holds
/// nothing of it.
#[test]
fn an_uploaded_file_that_is_not_the_one_the_record_names_is_refused_at_hq() {
    let (hq, monitor, _server, _) = connected();
    let (filmed, attachment, _) = sealed_with_file(&monitor, "Dispersal filmed", 100_000);
    // Another file, in a draft.
    let other_file = monitor.root.path().join("other.jpg");
    media(&other_file, 90_000);
    let draft = monitor.new_incident("Draft");
    let other: serde_json::Value = serde_json::from_str(&monitor.ok(&[
        "--json",
        "attach",
        &draft,
        other_file.to_str().unwrap(),
    ]))
    .unwrap();
    let other: AttachmentId = other["id"].as_str().unwrap().parse().unwrap();
    let attachment: AttachmentId = attachment.parse().unwrap();

    // The insider builds its outbox as sync would, then prepares the other file's ciphertext
    // as the upload of the sealed record's attachment.
    {
        let mut v = open_vault(&monitor);
        let ids = v.sync_unqueued_revisions(500).unwrap();
        let dir = v.dir().to_path_buf();
        let limits = vigil_exchange::Limits {
            custody_after: Some(v.sync_custody_through().unwrap()),
            max_bytes: Some(12 << 20),
            attachments_apart: true,
            pad: false,
            max_file: None,
        };
        let plan =
            vigil_exchange::plan_with(&v, &vigil_exchange::Selection::Revisions(ids), &dir, limits)
                .unwrap();
        let item = plan.write_item().unwrap();
        assert_eq!(item.blobs, vec![attachment]);
        v.sync_add_item(
            item.id,
            &item.bytes,
            &item.sent,
            item.custody_through,
            &item.blobs,
        )
        .unwrap();
        let forged = vigil_exchange::blob::seal_blob(&v, other)
            .unwrap()
            .stage()
            .unwrap();
        v.sync_blob_prepared(attachment, forged).unwrap();
        v.close().unwrap();
    }
    let sent = synced(&monitor);
    assert_eq!(sent["attachments_sent"], 1, "{sent}");
    assert_eq!(status(&monitor, &filmed), "held_by_server");

    let pulled = synced(&hq);
    let refused = pulled["items_refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{pulled}");
    assert!(
        refused[0]
            .as_str()
            .unwrap()
            .contains("not the file its revision names"),
        "{pulled}"
    );
    assert_eq!(pulled["items_acked"], 0);
    let v = open_vault(&hq);
    assert_eq!(v.count_incidents().unwrap(), 0, "nothing of it at HQ");
    v.close().unwrap();
    let out = sync(&monitor);
    assert!(out.status.success());
    assert_eq!(
        status(&monitor, &filmed),
        "held_by_server",
        "never verified"
    );
}

/// A proxy on 127.0.0.1:0 to `target` that cuts, once, the first connection whose answers pass
/// `after` bytes (HQ's download of a large file: nothing else here answers that much); whether
/// it has cut.
fn cut_once_proxy(
    target: String,
    after: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::Write as _;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&cut);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(Shutdown::Write);
            });
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let (mut from, mut to) = (server, client);
                let (mut buf, mut passed) = (vec![0u8; 64 * 1024], 0u64);
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    passed += n as u64;
                    if passed > after && !done.swap(true, Ordering::SeqCst) {
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    });
    (addr, cut)
}

/// HQ's download of a large file is cut in the middle of a range: the range is asked for
/// again, and the same pass imports the file.
#[test]
fn a_download_cut_mid_range_is_asked_for_again_within_the_pass() {
    let mut cut = None;
    let (hq, monitor, _server, _) = crate::sync::connected_through(|addr| {
        let (proxy, flag) = cut_once_proxy(addr, 4 << 20);
        cut = Some(flag);
        proxy
    });
    let cut = cut.unwrap();
    let (_, attachment, bytes) = sealed_with_file(&monitor, "Dispersal filmed", 12 << 20);
    synced(&monitor);
    assert!(
        !cut.load(std::sync::atomic::Ordering::SeqCst),
        "the monitor's pass is not cut"
    );

    let pulled = synced(&hq);
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the download was cut"
    );
    assert_eq!(pulled["attachments_fetched"], 1, "{pulled}");
    assert_eq!(extracted(&hq, &attachment), bytes);
}

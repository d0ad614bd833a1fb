//! Typing while sync moves a large file (issue 13): the app's session with its sync worker, as
//! the window runs them, sends a 256 MiB attachment to the real `vigil-server`; 300
//! running-log entries are written meanwhile, each durable and with the time it was typed. Then
//! HQ's session pulls it (the file fetched, decrypted and checked outside the vault) while 300
//! entries are written there. How long each entry took is printed; the benchmark
//! (`sync-bench`) reports its percentiles against typing with no sync running.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{Env, PASSPHRASE};
use crate::sync::{organisation, seal_records, start_server};

/// `len` bytes of a fast pseudo-random stream, read like a file.
struct Media(u64, u64);

impl Read for Media {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (out.len() as u64).min(self.1) as usize;
        for b in &mut out[..n] {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        self.1 -= n as u64;
        Ok(n)
    }
}

fn session(vault: &std::path::Path) -> Arc<vigil_app::Session> {
    let session = unlocked(vault);
    start_worker(&session);
    session
}

fn start_worker(session: &Arc<vigil_app::Session>) {
    let worker = Arc::clone(session);
    std::thread::spawn(move || worker.run_sync_worker());
}

fn unlocked(vault: &std::path::Path) -> Arc<vigil_app::Session> {
    let session = Arc::new(vigil_app::Session::new(
        vault.to_path_buf(),
        Arc::new(vigil_store::SystemClock),
        vigil_store::KdfChoice::Params(vigil_crypto::kdf::KdfParams::FLOOR),
        None,
    ));
    session.unlock(PASSPHRASE.to_owned()).unwrap();
    session
}

/// Appends 300 entries to a new incident of `session` while `busy()` holds for the first;
/// returns how many were written while it still held, and each one's time to return.
fn type_300(
    session: &Arc<vigil_app::Session>,
    busy: impl Fn(&vigil_app::Session) -> bool,
    before_each: impl Fn(usize),
) -> (usize, Vec<Duration>) {
    let incident = session.new_incident("Meeting broken up").unwrap();
    let id = incident.id.to_string();
    let (mut during, mut took) = (0, Vec::new());
    for i in 0..300 {
        before_each(i);
        let before = chrono::Utc::now();
        let started = Instant::now();
        let entry = session
            .append_log(&id, &format!("10:{i:03} entry {i}"), false)
            .unwrap();
        took.push(started.elapsed());
        let after = chrono::Utc::now();
        let at = entry.at.with_timezone(&chrono::Utc);
        assert!(
            before - chrono::Duration::milliseconds(1) <= at && at <= after,
            "an entry keeps the time it was typed"
        );
        if busy(session) {
            during += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(session.incident(&id).unwrap().log.len(), 300);
    (during, took)
}

fn until(what: &str, secs: u64, done: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < end, "{what} did not happen in {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn slowest(took: &[Duration]) -> Duration {
    took.iter().copied().max().unwrap_or_default()
}

#[tokio::test]
async fn typing_goes_on_while_a_256_mib_attachment_is_uploaded_and_pulled() {
    let _turn = crate::harness::serial().await;
    let env = Env::new("sync-upload-typing");
    env.create_vault();
    let (_server, url) = start_server(&env.root.path().join("server"));
    let (hq, mut monitor) = organisation(&env, &_server, &url);
    let hq_dir = hq.dir().to_path_buf();
    hq.close().unwrap();
    seal_records(&mut monitor, 3);
    let now = monitor.now();
    let filmed = vigil_model::Incident::new(vigil_model::IncidentId::new(), "Filmed", now);
    monitor
        .create_incidents(std::slice::from_ref(&filmed))
        .unwrap();
    let meta = monitor
        .add_attachment(
            filmed.id,
            "meeting.mp4",
            "video/mp4",
            Media(0x5EED, 256 << 20),
            None,
        )
        .unwrap();
    monitor.seal(filmed.id).unwrap();
    monitor.close().unwrap();

    // The monitor's worker prepares and uploads the file; typing goes on meanwhile.
    let mon = session(&env.vault);
    let uploading = |s: &vigil_app::Session| {
        let v = s.sync_status().unwrap();
        v.running && v.bytes_total > 0 && v.bytes_done < v.bytes_total
    };
    until("the upload's start", 120, || uploading(&mon));
    let (during, took) = type_300(&mon, uploading, |_| {});
    eprintln!(
        "monitor: {during} of 300 entries written while the upload ran; slowest {:?}",
        slowest(&took)
    );
    assert!(during >= 100, "typed while the upload ran: {during}");
    until("the upload's end", 300, || {
        let v = mon.sync_status().unwrap();
        v.waiting == 0 && !v.running && v.last_success.is_some()
    });
    mon.lock();

    // HQ's worker pulls it (the file is fetched and decrypted outside the vault), starting
    // once HQ has typed ten entries.
    let hq = unlocked(&hq_dir);
    let pulling = |s: &vigil_app::Session| s.sync_status().unwrap().running;
    let (during, took) = type_300(&hq, pulling, |i| {
        if i == 10 {
            start_worker(&hq);
            until("HQ's pull", 60, || pulling(&hq));
        }
    });
    eprintln!(
        "HQ: {during} of 300 entries written while the pull ran; slowest {:?}",
        slowest(&took)
    );
    assert!(during >= 20, "typed while HQ pulled: {during}");
    until("HQ's import", 300, || {
        hq.incident(&filmed.id.to_string())
            .is_ok_and(|i| i.attachments.len() == 1)
    });
    hq.lock();
    let v = crate::harness::open_vault(&hq_dir);
    let got = v.read_attachment(meta.id, &mut std::io::sink()).unwrap();
    assert_eq!(got.sha256, meta.sha256);
    v.close().unwrap();
}

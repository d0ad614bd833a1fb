//! Sync through a fault-injecting TCP proxy between client and server (issue 13): connections
//! cut at random byte offsets, stalls, a slow link. 1,000 sealed revisions and a 256 MiB
//! attachment go through it, and the server ends with exactly the monitor's items and upload
//! (nothing lost, nothing stored twice, hashes equal), HQ with exactly the 1,000 revisions and
//! the same file.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use vigil_model::{Incident, IncidentId};

use crate::common::{Env, open_vault};

use crate::sync::connected_through;

/// SplitMix64, seeded per connection: the faults are random but the run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Default)]
struct Faults {
    cuts: AtomicU64,
    stalls: AtomicU64,
    connections: AtomicU64,
}

/// A proxy on 127.0.0.1:0 to `target`. Each connection: with probability 1/2 it is cut after a
/// random number of bytes (up to 512 KiB, both directions counted: a request cut on its way, or
/// its answer lost after the server stored it); with probability 1/4 it stalls for a second
/// once; every connection is a slow link (16 KiB at a time, a millisecond apart).
fn chaos_proxy(target: String, seed: u64) -> (String, Arc<Faults>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let faults = Arc::new(Faults::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (f, s) = (Arc::clone(&faults), Arc::clone(&stop));
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            if s.load(Ordering::Relaxed) {
                break;
            }
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            f.connections.fetch_add(1, Ordering::Relaxed);
            let mut rng = Rng(seed ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let cut_at = (rng.below(2) == 0).then(|| rng.below(512 * 1024));
            let stall_at = (rng.below(4) == 0).then(|| rng.below(64 * 1024));
            let budget = Arc::new(AtomicU64::new(0));
            let pipe = |mut from: TcpStream, mut to: TcpStream, upstream: bool| {
                let (f, budget) = (Arc::clone(&f), Arc::clone(&budget));
                move || {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut stalled = false;
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let seen = budget.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                        if let Some(at) = cut_at
                            && seen > at
                        {
                            f.cuts.fetch_add(1, Ordering::Relaxed);
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                            return;
                        }
                        if let Some(at) = stall_at
                            && upstream
                            && !stalled
                            && seen > at
                        {
                            stalled = true;
                            f.stalls.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let _ = to.shutdown(Shutdown::Write);
                }
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(pipe(client, server, true));
            std::thread::spawn(pipe(s2, c2, false));
        }
    });
    (addr, faults, stop)
}

/// Runs `vigil sync` until it exits 0, at most `tries` times; returns how many runs it took.
fn sync_until_done(env: &Env, tries: usize) -> usize {
    for n in 1..=tries {
        let out = env.run(&["--json", "sync", "--item-revisions", "10"]);
        match out.status.code() {
            Some(0) => return n,
            Some(5) => {}
            other => panic!("sync failed with {other:?}: {out:?}"),
        }
    }
    panic!("sync did not complete in {tries} runs");
}

#[test]
fn a_thousand_revisions_through_a_faulty_link_arrive_exactly_once() {
    let mut proxied = None;
    let (hq, monitor, _server, data) = connected_through(|addr| {
        let (proxy, faults, stop) = chaos_proxy(addr, 0x5EED);
        proxied = Some((faults, stop));
        proxy
    });
    let (faults, stop) = proxied.unwrap();

    // 1,000 sealed revisions over ten rounds (a monitor's days), made in this process (a
    // thousand `vigil seal` would be slow); after each round both sides sync until done.
    let (mut monitor_runs, mut hq_runs) = (0, 0);
    let mut filmed = None;
    for round in 0..10 {
        let mut v = open_vault(&monitor);
        let now = v.now();
        let incidents: Vec<Incident> = (0..100)
            .map(|i| Incident::new(IncidentId::new(), format!("Hearing {round}-{i}"), now))
            .collect();
        v.create_incidents(&incidents).unwrap();
        if round == 4 {
            let file = monitor.root.path().join("meeting.mp4");
            crate::sync_attachments::media(&file, 256 << 20);
            let meta = v
                .add_attachment(
                    incidents[0].id,
                    "meeting.mp4",
                    "video/mp4",
                    std::fs::File::open(&file).unwrap(),
                    None,
                )
                .unwrap();
            std::fs::remove_file(&file).unwrap();
            filmed = Some(meta);
        }
        for inc in &incidents {
            v.seal(inc.id).unwrap();
        }
        v.close().unwrap();
        monitor_runs += sync_until_done(&monitor, 100);
        hq_runs += sync_until_done(&hq, 100);
    }
    // And once more, so every acknowledgement has reached the monitor.
    monitor_runs += sync_until_done(&monitor, 100);
    stop.store(true, Ordering::Relaxed);
    eprintln!(
        "chaos: {} connections, {} cut, {} stalled; the monitor needed {monitor_runs} runs, HQ {hq_runs}",
        faults.connections.load(Ordering::Relaxed),
        faults.cuts.load(Ordering::Relaxed),
        faults.stalls.load(Ordering::Relaxed)
    );
    assert!(
        faults.cuts.load(Ordering::Relaxed) > 0 && faults.stalls.load(Ordering::Relaxed) > 0,
        "the proxy injected faults"
    );

    // The server holds exactly the monitor's items: as many, with the same ids and hashes.
    let v = open_vault(&monitor);
    let outbox = v.sync_outbox().unwrap();
    assert!(outbox.all_sent() && outbox.items_unacked == 0, "{outbox:?}");
    let ours = v.sync_item_digests().unwrap();
    let uploads = v.sync_blob_digests().unwrap();
    v.close().unwrap();
    assert_eq!(ours.len(), 100, "1,000 revisions in items of 10");
    let stored = server_items(&data);
    assert_eq!(
        stored, ours,
        "nothing lost, nothing stored twice, every hash equal"
    );

    // And exactly its one upload, each byte stored once.
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        server_uploads(&data),
        vec![(uploads[0].0.clone(), uploads[0].1.clone(), 1, true)],
        "the upload complete, its hash equal, its parts covering it exactly once"
    );

    // HQ holds exactly the 1,000 revisions, and the same file.
    let filmed = filmed.unwrap();
    let v = open_vault(&hq);
    assert_eq!(v.count_incidents().unwrap(), 1000);
    assert_eq!(v.all_revisions().unwrap().len(), 1000);
    let mut hasher = Sha256Writer::default();
    let held = v.read_attachment(filmed.id, &mut hasher).unwrap();
    assert_eq!(held.sha256, filmed.sha256);
    assert_eq!(hasher.finish(), filmed.sha256.0, "the same bytes");
    v.close().unwrap();
}

/// Hashes what is written.
struct Sha256Writer(ring::digest::Context);

impl Default for Sha256Writer {
    fn default() -> Self {
        Sha256Writer(ring::digest::Context::new(&ring::digest::SHA256))
    }
}

impl Sha256Writer {
    fn finish(self) -> [u8; 32] {
        self.0.finish().as_ref().try_into().unwrap()
    }
}

impl Write for Sha256Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The uploads the server stored: id, SHA-256, whether its parts cover it exactly once (1:
/// their sizes add up to its length, each at the offset the one before ends), complete.
fn server_uploads(data: &std::path::Path) -> Vec<(String, String, i64, bool)> {
    let out = std::process::Command::new("sqlite3")
        .arg(data.join("server.sqlite3"))
        .arg(
            "SELECT u.id, u.sha256,
                    (SELECT SUM(size) FROM upload_parts p WHERE p.upload = u.id) = u.length
                    AND NOT EXISTS (SELECT 1 FROM upload_parts p WHERE p.upload = u.id
                        AND p.part_offset > 0 AND NOT EXISTS (SELECT 1 FROM upload_parts q
                            WHERE q.upload = u.id AND q.part_offset + q.size = p.part_offset)),
                    u.complete
             FROM uploads u ORDER BY u.id",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3] == "1",
            )
        })
        .collect()
}

/// The items the server stored (id and SHA-256 of the ciphertext), read from its database.
fn server_items(data: &std::path::Path) -> Vec<(String, String)> {
    let out = std::process::Command::new("sqlite3")
        .arg(data.join("server.sqlite3"))
        .arg("SELECT id, sha256 FROM items ORDER BY seq")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (id, sha) = l.split_once('|').unwrap();
            (id.to_owned(), sha.to_owned())
        })
        .collect()
}

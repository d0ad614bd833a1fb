//! A 2 GiB attachment goes in and comes back out with the same SHA-256, while the process that
//! does it stays under 100 MiB of peak resident memory.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::common::*;

const SIZE: u64 = 2 << 30;
const RSS_LIMIT_KIB: i64 = 100 * 1024;

#[test]
fn two_gib_attachment_round_trip_in_constant_memory() {
    let env = Env::new();
    env.init();
    let id = env.new_incident("Large video");
    let src = env.root.path().join("video.bin");
    // Pseudo-random content, generated and hashed as it is written.
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    {
        let mut w = BufWriter::new(File::create(&src).unwrap());
        let mut block = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        for i in 0..(SIZE >> 20) {
            block[..8].copy_from_slice(&i.to_le_bytes());
            ctx.update(&block);
            w.write_all(&block).unwrap();
        }
        w.flush().unwrap();
    }
    let want = ctx.finish().as_ref().to_vec();

    let mut attach = env.cmd();
    attach.args(["attach", &id, src.to_str().unwrap()]);
    let (ok, attach_rss) = peak_rss(&attach, &env);
    assert!(ok, "attach failed");
    std::fs::remove_file(&src).unwrap();

    let shown: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "show", &id])).unwrap();
    let att = &shown["attachments"][0];
    assert_eq!(att["size"], SIZE);
    assert_eq!(att["sha256"], hex(&want));
    let att_id = att["id"].as_str().unwrap().to_owned();

    let dest = env.root.path().join("video-out.bin");
    let mut extract = env.cmd();
    extract.args(["extract", &att_id, dest.to_str().unwrap()]);
    let (ok, extract_rss) = peak_rss(&extract, &env);
    assert!(ok, "extract failed");
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), SIZE);
    assert_eq!(sha256_file(&dest), want);
    eprintln!("peak RSS: attach {attach_rss} KiB, extract {extract_rss} KiB");
    assert!(
        attach_rss < RSS_LIMIT_KIB,
        "attach peak RSS {attach_rss} KiB"
    );
    assert!(
        extract_rss < RSS_LIMIT_KIB,
        "extract peak RSS {extract_rss} KiB"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

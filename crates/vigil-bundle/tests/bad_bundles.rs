//! A corpus of bad bundles, each rejected with the right error code.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, Tar, encrypt_to, outcome, sha256_hex, sign_with};
use vigil_bundle::Manifest;

const REV: &str = "revisions/0190a1b2-0000-7000-8000-000000000001.json";
const LOG: &str = "custody/log.jsonl";

fn attachment_path(bytes: &[u8]) -> String {
    format!("attachments/{}", sha256_hex(bytes))
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    code: &'static str,
}

/// The age header's length: up to and including the MAC line.
fn header_len(bundle: &[u8]) -> usize {
    let mac = bundle.windows(4).position(|w| w == b"\n---").unwrap() + 1;
    mac + bundle[mac..].iter().position(|&b| b == b'\n').unwrap() + 1
}

#[test]
fn bad_bundles_are_rejected_with_the_right_code() {
    let fx = Fixture::new();
    let rev = br#"{"title":"Peaceful assembly dispersed"}"#.to_vec();
    let log = b"{\"event\":\"sealed\"}\n".to_vec();
    // Three age chunks' worth, so a bundle has a first, middle and last chunk.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let photo_path = attachment_path(&photo);
    let files: Vec<(&str, &[u8])> = vec![(REV, &rev), (LOG, &log), (&photo_path, &photo)];
    let good = fx.bundle(&files);
    let ids = [fx.hq.clone()];
    assert_eq!(outcome(&good, &ids), "ok");

    let manifest = fx.manifest(&files);
    let (json, sig) = fx.signed(&manifest);
    let enc = |tar: &Tar| fx.encrypt(&tar.bytes);
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, code: &'static str| {
        cases.push(Case {
            name: name.into(),
            bytes,
            code,
        });
    };

    // --- Not a bundle at all.
    add("empty file", Vec::new(), "bundle.not_a_bundle");
    add(
        "zip file",
        b"PK\x03\x04\x14\x00\x00\x00".repeat(20),
        "bundle.not_a_bundle",
    );
    add(
        "armored age",
        b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n".to_vec(),
        "bundle.not_a_bundle",
    );
    let mut v2 = good.clone();
    v2[19..21].copy_from_slice(b"v2");
    add("age v2 intro line", v2, "bundle.not_a_bundle");
    add(
        "age payload is not tar",
        fx.encrypt(&[b'x'; 3000]),
        "bundle.not_a_bundle",
    );
    add("age payload is empty", fx.encrypt(b""), "bundle.truncated");
    let mut t = Tar::default();
    t.file(LOG, &log).head(&json, &sig).end();
    add("manifest not first", enc(&t), "bundle.not_a_bundle");
    let mut other = manifest.clone();
    other.format = "something-else".into();
    let (oj, os) = fx.signed(&other);
    let mut t = Tar::default();
    t.head(&oj, &os).end();
    add("manifest of another format", enc(&t), "bundle.not_a_bundle");

    // --- Not for us.
    let stranger = age::x25519::Identity::generate();
    add(
        "to another recipient",
        encrypt_to(
            &Tar::default().head(&json, &sig).end().bytes,
            &[stranger.to_public()],
        ),
        "bundle.not_for_us",
    );

    // --- Bit flips: header, nonce, first, middle and last chunk.
    let hl = header_len(&good);
    let mut mac = good.clone();
    let p = hl - 10; // a base64 character in the middle of the MAC
    mac[p] = if mac[p] == b'A' { b'B' } else { b'A' };
    add("header MAC changed", mac, "bundle.tampered");
    let mut stanza = good.clone();
    stanza[hl - 60] ^= 0x80; // not base64 any more
    add("header byte flipped", stanza, "bundle.not_a_bundle");
    let payload_start = hl + 16;
    let chunk = 65536 + 16;
    let flips = [
        hl + 3,                    // nonce
        payload_start,             // first chunk, first byte
        payload_start + 700,       // first chunk, in the manifest
        payload_start + chunk - 1, // first chunk's tag
        payload_start + chunk + 5, // middle chunk
        good.len() - 100,          // last chunk
        good.len() - 1,            // last chunk's tag
    ];
    for off in flips {
        let mut b = good.clone();
        b[off] ^= 0x01;
        add(&format!("bit flip at {off}"), b, "bundle.tampered");
    }

    // --- Truncation. The age STREAM cannot tell a file cut inside a chunk from a damaged
    // chunk, so those are `tampered`; cuts in the header and at chunk boundaries are `truncated`.
    for (len, code) in [
        (5, "bundle.truncated"),
        (40, "bundle.truncated"),
        (hl, "bundle.truncated"),
        (hl + 8, "bundle.truncated"),
        (payload_start, "bundle.truncated"),
        (payload_start + chunk, "bundle.truncated"),
        (payload_start + 2 * chunk, "bundle.truncated"),
        (payload_start + 100, "bundle.tampered"),
        (payload_start + chunk + 1000, "bundle.tampered"),
        (good.len() - 1, "bundle.tampered"),
    ] {
        add(&format!("truncated to {len}"), good[..len].to_vec(), code);
    }
    let mut t = Tar::default();
    t.head(&json, &sig).file(REV, &rev);
    add(
        "archive cut before its end marker",
        enc(&t),
        "bundle.truncated",
    );

    // --- Trailing garbage.
    let mut tail = good.clone();
    tail.extend_from_slice(b"garbage");
    add("garbage after the age file", tail, "bundle.tampered");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .file(REV, &rev)
        .file(LOG, &log)
        .file(&photo_path, &photo)
        .end();
    t.bytes.extend_from_slice(&[0u8; 512]);
    t.bytes.extend_from_slice(b"garbage");
    add("garbage after the archive end", enc(&t), "bundle.malformed");

    // --- Signatures.
    let other_key = common::new_key();
    let bad_sig = hex::encode(sign_with(&other_key, &json)).into_bytes();
    let mut t = Tar::default();
    t.head(&json, &bad_sig)
        .file(REV, &rev)
        .file(LOG, &log)
        .file(&photo_path, &photo)
        .end();
    add("signed by another key", enc(&t), "bundle.bad_signature");
    let mut t = Tar::default();
    t.head(&json, &[b'z'; 128]).end();
    add("signature not hex", enc(&t), "bundle.bad_signature");
    let mut t = Tar::default();
    t.head(&json, &sig[..64]).end();
    add("signature too short", enc(&t), "bundle.bad_signature");
    let mut edited = manifest.clone();
    edited.entries[0].size += 1;
    edited.totals.bytes += 1;
    let ej = edited.to_canonical_json().unwrap();
    let mut t = Tar::default();
    t.head(&ej, &sig).end();
    add(
        "manifest edited after signing",
        enc(&t),
        "bundle.bad_signature",
    );
    let pretty = serde_json::to_vec_pretty(&manifest).unwrap();
    let pretty_sig = hex::encode(fx.sign(&pretty)).into_bytes();
    let mut t = Tar::default();
    t.head(&pretty, &pretty_sig).end();
    add("manifest not canonical", enc(&t), "bundle.malformed");

    // --- Versions.
    let mut newer = manifest.clone();
    newer.version = 2;
    let (nj, ns) = fx.signed(&newer);
    let mut t = Tar::default();
    t.head(&nj, &ns).end();
    add("newer version", enc(&t), "bundle.newer_version");

    // --- Paths and entry types.
    let mut t = Tar::default();
    t.head(&json, &sig)
        .raw(b"vigil-bundle/../../etc/cron.d/x", b'0', 3, b"bad")
        .end();
    add("path with ..", enc(&t), "bundle.path_escape");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .raw(b"/etc/passwd", b'0', 3, b"bad")
        .end();
    add("absolute path", enc(&t), "bundle.path_escape");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .raw(format!("vigil-bundle/{REV}").as_bytes(), b'2', 0, b"")
        .end();
    add("symlink entry", enc(&t), "bundle.path_escape");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .raw(format!("vigil-bundle/{REV}").as_bytes(), b'1', 0, b"")
        .end();
    add("hard link entry", enc(&t), "bundle.path_escape");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .raw(b"vigil-bundle/revisions/", b'5', 0, b"")
        .end();
    add("directory entry", enc(&t), "bundle.malformed");
    let mut escaping = manifest.clone();
    escaping.entries[0].path = "revisions/../../x.json".into();
    let (xj, xs) = fx.signed(&escaping);
    let mut t = Tar::default();
    t.head(&xj, &xs).end();
    add(
        "manifest lists an escaping path",
        enc(&t),
        "bundle.path_escape",
    );

    // --- Sizes.
    let mut t = Tar::default();
    let longer = [&rev[..], b"extra"].concat();
    t.head(&json, &sig)
        .file(REV, &longer)
        .file(LOG, &log)
        .file(&photo_path, &photo)
        .end();
    add("entry larger than declared", enc(&t), "bundle.too_large");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .file(REV, &rev)
        .file(LOG, &log)
        .file(&photo_path, &photo)
        .file("revisions/extra.json", b"{}")
        .end();
    add(
        "entries beyond the manifest's totals",
        enc(&t),
        "bundle.too_large",
    );
    let mut t = Tar::default();
    t.raw(b"vigil-bundle/manifest.json", b'0', 17 * 1024 * 1024, b"")
        .end();
    add("manifest over 16 MiB", enc(&t), "bundle.too_large");
    let mut wrong_totals = manifest.clone();
    wrong_totals.totals.bytes -= 1;
    let (wj, ws) = fx.signed(&wrong_totals);
    let mut t = Tar::default();
    t.head(&wj, &ws).end();
    add("totals disagree with entries", enc(&t), "bundle.malformed");

    // --- Entries against the manifest.
    let mut t = Tar::default();
    t.head(&json, &sig)
        .file(REV, &rev)
        .file(&photo_path, &photo)
        .end();
    add("entry missing in the middle", enc(&t), "bundle.malformed");
    let mut t = Tar::default();
    t.head(&json, &sig).file(REV, &rev).file(LOG, &log).end();
    add("last entry missing", enc(&t), "bundle.malformed");
    let mut t = Tar::default();
    t.head(&json, &sig).file(REV, &rev).file(REV, &rev).end();
    add("duplicate entry", enc(&t), "bundle.malformed");
    let mut t = Tar::default();
    t.head(&json, &sig)
        .file("revisions/unknown.json", b"{}")
        .end();
    add("unknown entry", enc(&t), "bundle.malformed");
    let mut t = Tar::default();
    let mut changed = rev.clone();
    changed[2] ^= 0x20;
    t.head(&json, &sig)
        .file(REV, &changed)
        .file(LOG, &log)
        .file(&photo_path, &photo)
        .end();
    add("content differs from its hash", enc(&t), "bundle.tampered");

    let mut wrong = Vec::new();
    let total = cases.len();
    for case in &cases {
        let got = outcome(&case.bytes, &ids);
        if got != case.code {
            wrong.push(format!("{}: expected {}, got {got}", case.name, case.code));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(total >= 30, "only {total} bad bundles");
    eprintln!("{total} bad bundles rejected");
}

#[test]
fn manifest_round_trips_through_verify() {
    let fx = Fixture::new();
    let m: Manifest = fx.manifest(&[(LOG, b"x")]);
    let (json, sig) = fx.signed(&m);
    assert_eq!(Manifest::verify(&json, &sig).unwrap(), m);
}

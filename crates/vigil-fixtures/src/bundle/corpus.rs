//! The bad-bundle corpus: every way a bundle can be wrong, made from one good bundle.
//!
//! Shared by the reader's own test (`vigil-bundle`, hand-made entries) and by HQ's vault-level
//! test (`vigil-exchange`, a real monitor's bundle), so every case is checked both for its error
//! code and for leaving HQ's vault unchanged.
#![allow(dead_code, clippy::unwrap_used)]

use age::x25519::Recipient;
use vigil_bundle::Manifest;

use super::{Tar, encrypt_to, sign_with};

/// A good bundle and what is needed to make bad ones like it.
pub struct Source<'a> {
    /// The good bundle's entries that come first, before the others (a device certificate),
    /// kept in every case so that each fails for its own reason.
    pub lead: Vec<(String, Vec<u8>)>,
    /// The good bundle's other entries in order: a revision, the custody log, and an
    /// attachment of more than two age chunks (128 KiB), so there is a first, middle and last
    /// chunk.
    pub files: Vec<(String, Vec<u8>)>,
    /// The good bundle's manifest.
    pub manifest: Manifest,
    /// The good bundle itself.
    pub good: Vec<u8>,
    /// Who the bundles are encrypted to.
    pub recipients: Vec<Recipient>,
    /// The key the good manifest is signed with.
    pub sign: &'a dyn Fn(&[u8]) -> [u8; 64],
}

/// One bad bundle and the error code it must be rejected with.
/// One bad bundle and the error code a reader must give for it.
pub struct Case {
    /// What is wrong with it.
    pub name: String,
    /// The bundle file.
    pub bytes: Vec<u8>,
    /// The expected error code.
    pub code: &'static str,
}

impl Source<'_> {
    fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        encrypt_to(plaintext, &self.recipients)
    }

    fn tar(&self) -> Tar {
        Tar {
            lead: self.lead.clone(),
            ..Tar::default()
        }
    }

    fn signed(&self, manifest: &Manifest) -> (Vec<u8>, Vec<u8>) {
        let json = manifest.to_canonical_json().unwrap();
        let sig = hex::encode((self.sign)(&json)).into_bytes();
        (json, sig)
    }
}

/// The age header's length: up to and including the MAC line.
pub fn header_len(bundle: &[u8]) -> usize {
    let mac = bundle.windows(4).position(|w| w == b"\n---").unwrap() + 1;
    mac + bundle[mac..].iter().position(|&b| b == b'\n').unwrap() + 1
}

/// Every bad bundle made from `src`, with its expected code.
pub fn cases(src: &Source) -> Vec<Case> {
    assert_eq!(
        src.files.len(),
        3,
        "a revision, the custody log, an attachment"
    );
    assert!(
        src.files[2].1.len() > 2 * 65536,
        "the attachment spans three chunks"
    );
    let manifest = src.manifest.clone();
    let (json, sig) = src.signed(&manifest);
    let enc = |tar: &Tar| src.encrypt(&tar.bytes);
    let good = src.good.clone();
    let (rev_path, rev) = (&src.files[0].0, &src.files[0].1);
    let (log_path, log) = (&src.files[1].0, &src.files[1].1);
    let (photo_path, photo) = (&src.files[2].0, &src.files[2].1);
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
        src.encrypt(&[b'x'; 3000]),
        "bundle.not_a_bundle",
    );
    add("age payload is empty", src.encrypt(b""), "bundle.truncated");
    let mut t = src.tar();
    t.file(log_path, log).head(&json, &sig).end();
    add("manifest not first", enc(&t), "bundle.not_a_bundle");
    let mut other = manifest.clone();
    other.format = "something-else".into();
    let (oj, os) = src.signed(&other);
    let mut t = src.tar();
    t.head(&oj, &os).end();
    add("manifest of another format", enc(&t), "bundle.not_a_bundle");

    // --- Not for us.
    let stranger = age::x25519::Identity::generate();
    add(
        "to another recipient",
        encrypt_to(
            &src.tar().head(&json, &sig).end().bytes,
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
    let mut t = src.tar();
    t.head(&json, &sig).file(rev_path, rev);
    add(
        "archive cut before its end marker",
        enc(&t),
        "bundle.truncated",
    );

    // --- Trailing garbage.
    let mut tail = good.clone();
    tail.extend_from_slice(b"garbage");
    add("garbage after the age file", tail, "bundle.tampered");
    let mut t = src.tar();
    t.head(&json, &sig)
        .file(rev_path, rev)
        .file(log_path, log)
        .file(photo_path, photo)
        .end();
    t.bytes.extend_from_slice(&[0u8; 512]);
    t.bytes.extend_from_slice(b"garbage");
    add("garbage after the archive end", enc(&t), "bundle.malformed");

    // --- Signatures.
    let other_key = super::new_key();
    let bad_sig = hex::encode(sign_with(&other_key, &json)).into_bytes();
    let mut t = src.tar();
    t.head(&json, &bad_sig)
        .file(rev_path, rev)
        .file(log_path, log)
        .file(photo_path, photo)
        .end();
    add("signed by another key", enc(&t), "bad_signature");
    let mut t = src.tar();
    t.head(&json, &[b'z'; 128]).end();
    add("signature not hex", enc(&t), "bad_signature");
    let mut t = src.tar();
    t.head(&json, &sig[..64]).end();
    add("signature too short", enc(&t), "bad_signature");
    let mut edited = manifest.clone();
    edited.entries[0].size += 1;
    edited.totals.bytes += 1;
    let ej = edited.to_canonical_json().unwrap();
    let mut t = src.tar();
    t.head(&ej, &sig).end();
    add("manifest edited after signing", enc(&t), "bad_signature");
    let pretty = serde_json::to_vec_pretty(&manifest).unwrap();
    let pretty_sig = hex::encode((src.sign)(&pretty)).into_bytes();
    let mut t = src.tar();
    t.head(&pretty, &pretty_sig).end();
    add("manifest not canonical", enc(&t), "bundle.malformed");

    // --- Versions.
    let mut newer = manifest.clone();
    newer.version = vigil_bundle::VERSION + 1;
    let (nj, ns) = src.signed(&newer);
    let mut t = src.tar();
    t.head(&nj, &ns).end();
    add("newer version", enc(&t), "newer_version");

    // --- Paths and entry types.
    let mut t = src.tar();
    t.head(&json, &sig)
        .raw(b"vigil-bundle/../../etc/cron.d/x", b'0', 3, b"bad")
        .end();
    add("path with ..", enc(&t), "bundle.path_escape");
    let mut t = src.tar();
    t.head(&json, &sig)
        .raw(b"/etc/passwd", b'0', 3, b"bad")
        .end();
    add("absolute path", enc(&t), "bundle.path_escape");
    let mut t = src.tar();
    t.head(&json, &sig)
        .raw(format!("vigil-bundle/{rev_path}").as_bytes(), b'2', 0, b"")
        .end();
    add("symlink entry", enc(&t), "bundle.path_escape");
    let mut t = src.tar();
    t.head(&json, &sig)
        .raw(format!("vigil-bundle/{rev_path}").as_bytes(), b'1', 0, b"")
        .end();
    add("hard link entry", enc(&t), "bundle.path_escape");
    let mut t = src.tar();
    t.head(&json, &sig)
        .raw(b"vigil-bundle/revisions/", b'5', 0, b"")
        .end();
    add("directory entry", enc(&t), "bundle.malformed");
    let mut escaping = manifest.clone();
    escaping.entries[0].path = "revisions/../../x.json".into();
    let (xj, xs) = src.signed(&escaping);
    let mut t = src.tar();
    t.head(&xj, &xs).end();
    add(
        "manifest lists an escaping path",
        enc(&t),
        "bundle.path_escape",
    );

    // --- Sizes.
    let mut t = src.tar();
    let longer = [&rev[..], b"extra"].concat();
    t.head(&json, &sig)
        .file(rev_path, &longer)
        .file(log_path, log)
        .file(photo_path, photo)
        .end();
    add("entry larger than declared", enc(&t), "bundle.too_large");
    let mut t = src.tar();
    t.head(&json, &sig)
        .file(rev_path, rev)
        .file(log_path, log)
        .file(photo_path, photo)
        .file("revisions/extra.json", b"{}")
        .end();
    add(
        "entries beyond the manifest's totals",
        enc(&t),
        "bundle.too_large",
    );
    let mut t = src.tar();
    t.raw(b"vigil-bundle/manifest.json", b'0', 17 * 1024 * 1024, b"")
        .end();
    add("manifest over 16 MiB", enc(&t), "bundle.too_large");
    let mut wrong_totals = manifest.clone();
    wrong_totals.totals.bytes -= 1;
    let (wj, ws) = src.signed(&wrong_totals);
    let mut t = src.tar();
    t.head(&wj, &ws).end();
    add("totals disagree with entries", enc(&t), "bundle.malformed");

    // --- Entries against the manifest.
    let mut t = src.tar();
    t.head(&json, &sig)
        .file(rev_path, rev)
        .file(photo_path, photo)
        .end();
    add("entry missing in the middle", enc(&t), "bundle.malformed");
    let mut t = src.tar();
    t.head(&json, &sig)
        .file(rev_path, rev)
        .file(log_path, log)
        .end();
    add("last entry missing", enc(&t), "bundle.malformed");
    let mut t = src.tar();
    t.head(&json, &sig)
        .file(rev_path, rev)
        .file(rev_path, rev)
        .end();
    add("duplicate entry", enc(&t), "bundle.malformed");
    let mut t = src.tar();
    t.head(&json, &sig)
        .file("revisions/unknown.json", b"{}")
        .end();
    add("unknown entry", enc(&t), "bundle.malformed");
    let mut t = src.tar();
    let mut changed = rev.clone();
    changed[2] ^= 0x20;
    t.head(&json, &sig)
        .file(rev_path, &changed)
        .file(log_path, log)
        .file(photo_path, photo)
        .end();
    add("content differs from its hash", enc(&t), "bundle.tampered");

    cases
}

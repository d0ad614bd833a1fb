//! Writing and reading bundles, and opening them with the Debian `age` and `tar` commands.
#![allow(clippy::unwrap_used)]

use vigil_fixtures::bundle as common;

use std::io::{self, Read};
use std::process::Command;

use common::{Fixture, read_all, sha256_hex};
use vigil_bundle::{
    BundleReader, BundleWriter, Manifest, ManifestEntry, export_file, write_pending,
};

const MIB: u64 = 1024 * 1024;

/// A deterministic stream of `len` bytes that never exists in memory as a whole.
fn pattern(len: u64) -> impl Read {
    Pattern { pos: 0, len }
}

struct Pattern {
    pos: u64,
    len: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len - self.pos).min(buf.len() as u64) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let p = self.pos + i as u64;
            *b = (p.wrapping_mul(2_654_435_761) >> 13) as u8;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn pattern_sha(len: u64) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut p = Pattern { pos: 0, len };
    let mut buf = vec![0u8; 65536];
    loop {
        let n = p.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    hex::encode(ctx.finish())
}

fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "revisions/0190a1b2-0000-7000-8000-000000000001.json",
            br#"{"title":"Peaceful assembly dispersed in Bishkek"}"#.to_vec(),
        ),
        ("custody/log.jsonl", Vec::new()),
        (
            "attachments/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            b"photo bytes".repeat(10_000),
        ),
    ]
}

/// The manifest entries of `files`.
fn entries_of(files: &[(&'static str, Vec<u8>)]) -> Vec<ManifestEntry> {
    files
        .iter()
        .map(|(p, b)| ManifestEntry {
            path: (*p).into(),
            size: b.len() as u64,
            sha256: sha256_hex(b),
        })
        .collect()
}

#[test]
fn round_trip_small_zero_and_multi_mib_entries() {
    let fx = Fixture::new();
    let big_len = 5 * MIB + 123;
    let big_path = format!("attachments/{}", pattern_sha(big_len));
    let files = sample_files();
    let mut entries = entries_of(&files);
    entries.push(ManifestEntry {
        path: big_path.clone(),
        size: big_len,
        sha256: pattern_sha(big_len),
    });
    let manifest = Manifest::new(
        uuid::Uuid::now_v7(),
        "2019-05-23T06:30:00Z".parse().unwrap(),
        fx.org,
        fx.device_info(),
        entries,
    );
    let mut w = BundleWriter::new(Vec::new(), &fx.recipients()).unwrap();
    w.write_manifest(&manifest, &|b| fx.sign(b)).unwrap();
    for (path, bytes) in &files {
        w.add_entry(path, bytes.len() as u64, &mut &bytes[..])
            .unwrap();
    }
    w.add_entry(&big_path, big_len, &mut pattern(big_len))
        .unwrap();
    let bundle = w.finish().unwrap();

    // Both the HQ reader and the device itself can open it.
    for id in [&fx.hq, &fx.device] {
        let mut reader = BundleReader::open(&bundle[..], std::slice::from_ref(id)).unwrap();
        assert_eq!(reader.manifest(), &manifest);
        let mut seen = Vec::new();
        while let Some(mut entry) = reader.next_entry().unwrap() {
            let path = entry.path().to_owned();
            if path == big_path {
                // Stream it through a hash: no copy of the payload is ever held.
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                let mut buf = vec![0u8; 65536];
                let mut total = 0u64;
                loop {
                    let n = entry.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                    ctx.update(&buf[..n]);
                }
                assert_eq!(total, big_len);
                assert_eq!(hex::encode(ctx.finish()), pattern_sha(big_len));
            } else {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                let want = &files.iter().find(|(p, _)| *p == path).unwrap().1;
                assert_eq!(&data, want, "{path}");
            }
            seen.push(path);
        }
        assert_eq!(seen.len(), 4);
    }
}

#[test]
fn entries_left_unread_are_still_checked() {
    let fx = Fixture::new();
    let files = sample_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    let bundle = fx.bundle(&refs);
    let mut reader = BundleReader::open(&bundle[..], std::slice::from_ref(&fx.hq)).unwrap();
    let mut n = 0;
    while reader.next_entry().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(
        read_all(&bundle, std::slice::from_ref(&fx.device))
            .unwrap()
            .len(),
        3
    );
}

/// An entry whose bytes differ from the manifest's hash is tampered, whether the reader hashes it
/// itself (small entries) or on its helper thread (from 1 MiB), and whether it is read or
/// skipped. (The bundles are made with a source that lies about its hash.)
#[test]
fn an_entry_unlike_its_hash_is_tampered_small_or_large_read_or_skipped() {
    let fx = Fixture::new();
    for len in [MIB - 1, MIB, 3 * MIB + 5] {
        let (manifest, entry, sha) = pattern_manifest(&fx, len);
        let mut other = Vec::new();
        pattern(len).read_to_end(&mut other).unwrap();
        other[len as usize / 2] ^= 1;
        let mut w = BundleWriter::new(Vec::new(), &fx.recipients()).unwrap();
        w.write_manifest(&manifest, &|b| fx.sign(b)).unwrap();
        w.add_entry_hashed(&entry, len, &mut &other[..], || Some(sha))
            .unwrap();
        let bundle = w.finish().unwrap();
        for read in [true, false] {
            let mut reader = BundleReader::open(&bundle[..], std::slice::from_ref(&fx.hq)).unwrap();
            let err = {
                let mut e = reader.next_entry().unwrap().unwrap();
                if read {
                    let err = io::copy(&mut e, &mut io::sink()).unwrap_err();
                    vigil_bundle::BundleError::from(err)
                } else {
                    drop(e);
                    reader.next_entry().unwrap_err()
                }
            };
            assert_eq!(err.code(), "bundle.tampered", "{len} bytes, read: {read}");
        }
    }
}

#[test]
fn writer_refuses_what_the_manifest_does_not_say() {
    let fx = Fixture::new();
    let files = sample_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    let manifest = fx.manifest(&refs);
    let new = || {
        let mut w = BundleWriter::new(Vec::new(), &fx.recipients()).unwrap();
        w.write_manifest(&manifest, &|b| fx.sign(b)).unwrap();
        w
    };
    let (p0, b0) = (&files[0].0, &files[0].1);
    // Wrong content for the declared hash.
    let mut w = new();
    let wrong = vec![b'x'; b0.len()];
    let err = w
        .add_entry(p0, b0.len() as u64, &mut &wrong[..])
        .unwrap_err();
    assert_eq!(err.code(), "bundle.tampered");
    // Unusable after an error.
    assert_eq!(
        w.add_entry(p0, b0.len() as u64, &mut &b0[..])
            .unwrap_err()
            .code(),
        "bundle.malformed"
    );
    // Source shorter / longer than declared.
    let mut w = new();
    let err = w.add_entry(p0, b0.len() as u64, &mut &b0[1..]).unwrap_err();
    assert_eq!(err.code(), "bundle.malformed");
    let mut w = new();
    let longer = [&b0[..], b"!"].concat();
    let err = w
        .add_entry(p0, b0.len() as u64, &mut &longer[..])
        .unwrap_err();
    assert_eq!(err.code(), "bundle.too_large");
    // Out of order.
    let mut w = new();
    let err = w.add_entry(files[1].0, 0, &mut io::empty()).unwrap_err();
    assert_eq!(err.code(), "bundle.malformed");
    // finish() with an entry never written.
    let mut w = new();
    w.add_entry(p0, b0.len() as u64, &mut &b0[..]).unwrap();
    assert_eq!(w.finish().unwrap_err().code(), "bundle.malformed");
    // The device's own recipient must be a recipient.
    let mut w = BundleWriter::new(Vec::new(), &[fx.hq.to_public()]).unwrap();
    assert_eq!(
        w.write_manifest(&manifest, &|b| fx.sign(b))
            .unwrap_err()
            .code(),
        "bundle.malformed"
    );
    // No recipients at all.
    assert_eq!(
        BundleWriter::new(Vec::new(), &[]).unwrap_err().code(),
        "bundle.malformed"
    );
}

#[test]
fn export_file_renames_into_place_and_cleans_up_on_error() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.vigil");
    let files = sample_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    let manifest = fx.manifest(&refs);
    export_file(&path, &fx.recipients(), |w| {
        w.write_manifest(&manifest, &|b| fx.sign(b))?;
        for (p, b) in &files {
            w.add_entry(p, b.len() as u64, &mut &b[..])?;
        }
        Ok(())
    })
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        read_all(&bytes, std::slice::from_ref(&fx.hq))
            .unwrap()
            .len(),
        3
    );

    // A failing build leaves the existing file alone and no temporary behind.
    let err = export_file(&path, &fx.recipients(), |w| {
        w.write_manifest(&manifest, &|b| fx.sign(b))
    })
    .unwrap_err();
    assert_eq!(err.code(), "bundle.malformed");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("bundle.vigil")]);
}

/// A pending bundle is complete under its temporary name; dropped, it vanishes and leaves the
/// file already at its destination alone; committed, it replaces it.
#[test]
fn a_pending_bundle_takes_its_name_only_when_committed() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("bundle.vigil");
    std::fs::write(&dest, b"an older bundle").unwrap();
    let files = sample_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    let manifest = fx.manifest(&refs);
    let write = || {
        write_pending(&dest, &fx.recipients(), |w| {
            w.write_manifest(&manifest, &|b| fx.sign(b))?;
            for (p, b) in &files {
                w.add_entry(p, b.len() as u64, &mut &b[..])?;
            }
            Ok(())
        })
        .unwrap()
    };
    let names = || {
        let mut n: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let pending = write();
    assert_ne!(pending.path(), dest);
    let bytes = std::fs::read(pending.path()).unwrap();
    assert_eq!(
        read_all(&bytes, std::slice::from_ref(&fx.hq))
            .unwrap()
            .len(),
        3
    );
    assert_eq!(names().len(), 2);
    drop(pending);
    assert_eq!(names(), vec!["bundle.vigil"]);
    assert_eq!(std::fs::read(&dest).unwrap(), b"an older bundle");

    let pending = write();
    let bytes = std::fs::read(pending.path()).unwrap();
    pending.commit().unwrap();
    assert_eq!(names(), vec!["bundle.vigil"]);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
}

/// A manifest with one attachment of `len` pattern bytes.
fn pattern_manifest(fx: &Fixture, len: u64) -> (Manifest, String, [u8; 32]) {
    let hex_sha = pattern_sha(len);
    let mut sha = [0u8; 32];
    hex::decode_to_slice(&hex_sha, &mut sha).unwrap();
    let path = format!("attachments/{hex_sha}");
    let manifest = Manifest::new(
        uuid::Uuid::now_v7(),
        "2019-05-23T06:30:00Z".parse().unwrap(),
        fx.org,
        fx.device_info(),
        vec![ManifestEntry {
            path: path.clone(),
            size: len,
            sha256: hex_sha,
        }],
    );
    (manifest, path, sha)
}

/// A bundle of several times the sync interval (16 MiB) goes to disk while it is written, by a
/// helper thread, and reads back whole; the entry's hash comes from its source.
#[test]
fn export_file_of_many_mib_reads_back_whole() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.vigil");
    let len = 33 * MIB + 7;
    let (manifest, entry, sha) = pattern_manifest(&fx, len);
    export_file(&path, &fx.recipients(), |w| {
        w.write_manifest(&manifest, &|b| fx.sign(b))?;
        w.add_entry_hashed(&entry, len, &mut pattern(len), || Some(sha))
    })
    .unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = BundleReader::open(file, std::slice::from_ref(&fx.hq)).unwrap();
    let mut e = reader.next_entry().unwrap().unwrap();
    assert_eq!(e.path(), entry);
    assert_eq!(io::copy(&mut e, &mut io::sink()).unwrap(), len);
    assert!(reader.next_entry().unwrap().is_none());
}

/// A source that reports a hash other than the manifest's, or none, fails the export as
/// tampered, and leaves nothing behind.
#[test]
fn a_source_hash_other_than_the_manifests_is_refused() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.vigil");
    let len = 3 * MIB;
    let (manifest, entry, sha) = pattern_manifest(&fx, len);
    let mut wrong = sha;
    wrong[0] ^= 1;
    for reported in [Some(wrong), None] {
        let err = export_file(&path, &fx.recipients(), |w| {
            w.write_manifest(&manifest, &|b| fx.sign(b))?;
            w.add_entry_hashed(&entry, len, &mut pattern(len), || reported)
        })
        .unwrap_err();
        assert_eq!(err.code(), "bundle.tampered", "{reported:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

/// The archivist's path: the Debian `age` command and `tar`, nothing of Vigil's.
#[test]
fn debian_age_and_tar_open_a_bundle() {
    let age_cli = Command::new("age").arg("--version").output();
    assert!(
        age_cli.is_ok_and(|o| o.status.success()),
        "the `age` command is missing: run scripts/setup (Debian package `age`)"
    );
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let files = sample_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, &b[..])).collect();
    let bundle = fx.bundle(&refs);
    let bundle_path = dir.path().join("bundle.vigil");
    std::fs::write(&bundle_path, &bundle).unwrap();
    let id_path = dir.path().join("id.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(&id_path, format!("{}\n", fx.hq.to_string().expose_secret())).unwrap();
    }
    let tar_path = dir.path().join("out.tar");
    let status = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&id_path)
        .arg("-o")
        .arg(&tar_path)
        .arg(&bundle_path)
        .status()
        .unwrap();
    assert!(status.success());

    let list = Command::new("tar")
        .arg("-tf")
        .arg(&tar_path)
        .output()
        .unwrap();
    assert!(list.status.success());
    let listed: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut want = vec![
        "vigil-bundle/manifest.json".to_owned(),
        "vigil-bundle/manifest.sig".to_owned(),
    ];
    want.extend(files.iter().map(|(p, _)| format!("vigil-bundle/{p}")));
    assert_eq!(listed, want);

    let out = dir.path().join("x");
    std::fs::create_dir(&out).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for (p, b) in &files {
        assert_eq!(
            &std::fs::read(out.join("vigil-bundle").join(p)).unwrap(),
            b,
            "{p}"
        );
    }
    // The extracted manifest verifies on its own.
    let json = std::fs::read(out.join("vigil-bundle/manifest.json")).unwrap();
    let sig = std::fs::read(out.join("vigil-bundle/manifest.sig")).unwrap();
    let manifest = Manifest::verify(&json, &sig).unwrap();
    assert_eq!(
        manifest,
        fx.manifest(&refs).clone_with_id(manifest.bundle_id)
    );
}

trait CloneWithId {
    fn clone_with_id(self, id: uuid::Uuid) -> Self;
}

impl CloneWithId for Manifest {
    fn clone_with_id(mut self, id: uuid::Uuid) -> Self {
        self.bundle_id = id;
        self
    }
}

/// A padded bundle: its payload (what age decrypts) is exactly its bucket, its reader yields
/// the padding like any entry (checked against its hash), and a manifest that puts the
/// padding anywhere but last, or in a version-2 manifest, is refused.
#[test]
fn a_padded_payload_is_exactly_its_bucket_and_the_padding_goes_last_in_version_3() {
    let fx = Fixture::new();
    let files = sample_files();
    let entries = entries_of(&files);
    let mut manifest = Manifest::new(
        uuid::Uuid::now_v7(),
        "2019-05-23T06:30:00Z".parse().unwrap(),
        fx.org,
        fx.device_info(),
        entries,
    );
    let unpadded = manifest.archive_len().unwrap();
    manifest.pad_to_bucket().unwrap();
    assert_eq!(manifest.version, vigil_bundle::PADDED_VERSION);
    let padding = manifest.entries.last().unwrap().clone();
    assert_eq!(padding.path, vigil_bundle::PADDING);
    let bucket = vigil_bundle::bucket(unpadded);
    assert_eq!(manifest.archive_len().unwrap(), bucket);

    let mut w = BundleWriter::new(Vec::new(), &fx.recipients()).unwrap();
    w.write_manifest(&manifest, &|b| fx.sign(b)).unwrap();
    for (path, bytes) in &files {
        w.add_entry(path, bytes.len() as u64, &mut &bytes[..])
            .unwrap();
    }
    w.add_entry(
        &padding.path,
        padding.size,
        &mut io::repeat(0).take(padding.size),
    )
    .unwrap();
    let bundle = w.finish().unwrap();
    let mut payload = Vec::new();
    vigil_bundle::decrypt_payload(&bundle[..], std::slice::from_ref(&fx.hq))
        .unwrap()
        .read_to_end(&mut payload)
        .unwrap();
    assert_eq!(
        payload.len() as u64,
        bucket,
        "the payload is the bucket, to the byte"
    );
    let mut reader = BundleReader::open(&bundle[..], std::slice::from_ref(&fx.hq)).unwrap();
    let mut last = String::new();
    while let Some(mut entry) = reader.next_entry().unwrap() {
        last = entry.path().to_owned();
        io::copy(&mut entry, &mut io::sink()).unwrap();
    }
    assert_eq!(last, vigil_bundle::PADDING);

    // Forged placements: not last, or in a version-2 manifest.
    let mut early = manifest.clone();
    let p = early.entries.pop().unwrap();
    early.entries.insert(0, p);
    assert_eq!(early.validate().unwrap_err().code(), "bundle.malformed");
    let mut old = manifest.clone();
    old.version = 2;
    assert_eq!(old.validate().unwrap_err().code(), "bundle.malformed");
}

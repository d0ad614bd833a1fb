//! The "no traces" scan: report content must exist only inside the encrypted vault.

use std::fs;
use std::path::{Path, PathBuf};

/// One place a marker was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub file: PathBuf,
    pub marker: String,
    pub encoding: &'static str,
}

/// Every regular file under `root`, except those under `skip`, searched for each marker as
/// UTF-8, UTF-16LE and UTF-16BE, ignoring ASCII case. Symlinks are not followed. A file that
/// cannot be read is reported as a hit with encoding "unreadable", so nothing is skipped silently.
pub fn scan(root: &Path, skip: &Path, markers: &[&str]) -> Vec<Hit> {
    let patterns = patterns(markers);
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            hits.push(Hit {
                file: dir,
                marker: String::new(),
                encoding: "unreadable",
            });
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.starts_with(skip) {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue; // gone meanwhile
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                hits.extend(scan_with(&path, &patterns));
            }
        }
    }
    hits
}

/// Each marker, lower-cased, as UTF-8, UTF-16LE and UTF-16BE bytes.
fn patterns(markers: &[&str]) -> Vec<(String, &'static str, Vec<u8>)> {
    markers
        .iter()
        .flat_map(|m| {
            let lower = m.to_lowercase();
            let le: Vec<u8> = lower.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let be: Vec<u8> = lower.encode_utf16().flat_map(u16::to_be_bytes).collect();
            [
                (m.to_string(), "UTF-8", lower.clone().into_bytes()),
                (m.to_string(), "UTF-16LE", le),
                (m.to_string(), "UTF-16BE", be),
            ]
        })
        .collect()
}

/// The markers found in one file, as [`scan`] looks for them.
pub fn scan_file(path: &Path, markers: &[&str]) -> Vec<Hit> {
    scan_with(path, &patterns(markers))
}

fn scan_with(path: &Path, patterns: &[(String, &'static str, Vec<u8>)]) -> Vec<Hit> {
    let Ok(mut bytes) = fs::read(path) else {
        return vec![Hit {
            file: path.to_path_buf(),
            marker: String::new(),
            encoding: "unreadable",
        }];
    };
    bytes.make_ascii_lowercase();
    patterns
        .iter()
        .filter(|(_, _, pattern)| contains(&bytes, pattern))
        .map(|(marker, encoding, _)| Hit {
            file: path.to_path_buf(),
            marker: marker.clone(),
            encoding,
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// No marker on the command line of any of `pids` (read while they run; there must be some).
pub fn assert_not_on_command_lines(pids: &[u32], markers: &[&str]) {
    assert!(!pids.is_empty(), "no processes to read");
    for pid in pids {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).to_lowercase();
        for m in markers {
            assert!(
                !cmdline.contains(&m.to_lowercase()),
                "{m:?} on the command line of process {pid}"
            );
        }
    }
}

/// Every file under `root` (not under `skip`), for a failure message.
pub fn list_files(root: &Path, skip: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.starts_with(skip) {
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(_) => files.push(path),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

/// The scan finds a marker in each encoding, in nested folders, in any case, and skips `skip`.
#[test]
fn the_scan_detects_markers() {
    let root = tempfile::tempdir().unwrap();
    let nested = root.path().join("a").join("b");
    let skip = root.path().join("vault");
    fs::create_dir_all(&nested).unwrap();
    fs::create_dir_all(&skip).unwrap();
    let marker = "zebrafinch";
    assert!(scan(root.path(), &skip, &[marker]).is_empty());

    fs::write(skip.join("db"), marker).unwrap();
    assert!(
        scan(root.path(), &skip, &[marker]).is_empty(),
        "skip is skipped"
    );

    let cases: [(&str, Vec<u8>); 4] = [
        ("UTF-8", b"xx ZebraFinch yy".to_vec()),
        (
            "UTF-16LE",
            "..zebrafinch.."
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        (
            "UTF-16BE",
            "zebrafinch"
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect(),
        ),
        (
            "UTF-8",
            "девять zebrafinch".as_bytes().to_vec(), // next to non-ASCII text
        ),
    ];
    for (encoding, bytes) in cases {
        let file = nested.join("leak");
        fs::write(&file, bytes).unwrap();
        let hits = scan(root.path(), &skip, &[marker, "nine unknown individuals"]);
        // UTF-16 text between other UTF-16 characters matches both byte orders (shifted by
        // one byte), so only ask that the right one is among the hits.
        assert!(
            hits.iter().all(|h| h.file == file && h.marker == marker),
            "{hits:?}"
        );
        assert!(hits.iter().any(|h| h.encoding == encoding), "{hits:?}");
        fs::remove_file(&file).unwrap();
    }
    assert!(scan(root.path(), &skip, &[marker]).is_empty());
}

//! What a running process holds in memory, for the tests that look for secrets left in it.
//!
//! Every readable mapping with resident pages, read through `/proc/PID/mem` (root may, even
//! from a process that made itself non-dumpable): the pages a core image would hold, without
//! writing out the gigabytes of address space WebKit reserves and never touches.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const PIECE: u64 = 16 << 20;

/// Which of `needles` (name, bytes) occur anywhere in the memory of process `pid`, and how
/// many bytes were searched.
pub fn found_in_memory(pid: u32, needles: &[(&str, Vec<u8>)]) -> (Vec<String>, u64) {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut mem = File::open(format!("/proc/{pid}/mem")).unwrap();
    let overlap = needles.iter().map(|(_, n)| n.len()).max().unwrap_or(1) as u64;
    let finders: Vec<(&str, memchr::memmem::Finder<'_>)> = needles
        .iter()
        .map(|(name, n)| (*name, memchr::memmem::Finder::new(n)))
        .collect();
    let mut found: Vec<String> = Vec::new();
    let mut searched = 0u64;
    for (start, end) in resident_readable(&smaps) {
        let mut at = start;
        while at < end {
            let len = (end - at).min(PIECE + overlap);
            let mut buf = vec![0u8; len as usize];
            let ok = mem.seek(SeekFrom::Start(at)).is_ok() && mem.read_exact(&mut buf).is_ok();
            if ok {
                searched += len;
                for (name, finder) in &finders {
                    if finder.find(&buf).is_some() && !found.iter().any(|f| f == name) {
                        found.push((*name).to_owned());
                    }
                }
            }
            at += PIECE;
        }
    }
    (found, searched)
}

/// (start, end) of each readable mapping with resident pages.
fn resident_readable(smaps: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut current: Option<(u64, u64)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
        {
            let readable = fields.next().is_some_and(|p| p.starts_with('r'));
            current = readable.then_some((a, b));
        } else if first == "Rss:"
            && let Some(region) = current.take()
            && fields
                .next()
                .and_then(|k| k.parse::<u64>().ok())
                .unwrap_or(0)
                > 0
        {
            out.push(region);
        }
    }
    out
}

/// The vault's database key, unwrapped from its key header the way the vault does.
pub fn vault_key(vault: &Path, passphrase: &str) -> [u8; 32] {
    let text = fs::read_to_string(vault.join("vault.key")).unwrap();
    let header = vigil_crypto::keyfile::KeyHeader::from_json(&text).unwrap();
    let pass = vigil_crypto::Passphrase::new(passphrase.to_owned());
    *header.unwrap_key(&pass).unwrap().expose_bytes()
}

/// What must not be left in memory once a vault is closed, in every form the code handles.
pub fn secrets(passphrase: &str, key: &[u8; 32]) -> Vec<(&'static str, Vec<u8>)> {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("the passphrase", passphrase.as_bytes().to_vec()),
        // A freed buffer loses its first 16 bytes to the allocator's pointers: the tail too.
        (
            "the end of the passphrase",
            passphrase.as_bytes()[8..].to_vec(),
        ),
        ("the database key", key.to_vec()),
        ("the database key in hex", hex.as_bytes().to_vec()),
        (
            "the database key in upper-case hex",
            hex.to_uppercase().into_bytes(),
        ),
    ]
}

/// Which of `needles` occur in `hay`.
pub fn found_in(hay: &[u8], needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    needles
        .iter()
        .filter(|(_, n)| memchr::memmem::find(hay, n).is_some())
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

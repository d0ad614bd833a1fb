//! Checking every entry of a bundle, one at a time, as it is read.
//!
//! The archive layer ([`vigil_bundle`]) has already checked the manifest's signature and form,
//! and checks each entry's size and SHA-256 as it streams. Here each entry is checked for what
//! it says:
//!
//! - `device/certificate.json`: kept as it came, for the vault to judge ([`vigil_ledger::trust`]);
//! - `revisions/<id>.json`: a canonical revision entry holding the revision it is named after,
//!   whose hash, chain fields and signature verify, signed by the key of the device that made
//!   the bundle (a bundle carries its own device's records only);
//! - `custody/log.jsonl`: one canonical line per event, each the bundle device's, in the order
//!   of its log, signed by its key;
//! - `attachments/<sha256>`: named after its content;
//! - `parts/<sha256>.json`: an attachment's part list, canonical, adding up, named for it;
//! - `parts/<sha256>/<index>`: after its list, the part the list names, with its hash and size.
//!
//! JSON entries are read and parsed one at a time, and what passes is handed to a [`Keep`] (an
//! import keeps it in the vault's spill), so memory stays flat whatever the bundle holds.

use std::io::{BufRead, BufReader, Read};

use std::collections::HashMap;

use vigil_bundle::{BundleError, Manifest, PartList, PartPath};
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::LedgerError;
use vigil_ledger::custody::CustodyEvent;
use vigil_ledger::revision::{Revision, VerifiedRevision};

use crate::error::{ExchangeError, Result};

/// What to do with entries that passed their checks.
pub(crate) trait Keep {
    /// The bundle's manifest (signature checked), before any entry.
    fn manifest(&mut self, _: &Manifest) -> Result<()> {
        Ok(())
    }
    /// A verified revision (given up to the keeper: a large one is never copied).
    fn revision(&mut self, v: VerifiedRevision) -> Result<()>;
    /// A custody event of the bundle's device, signature checked.
    fn custody(&mut self, ev: &CustodyEvent) -> Result<()>;
    /// An attachment's content (named after its SHA-256), to read or leave.
    fn attachment(&mut self, sha256: &str, content: &mut dyn Read) -> Result<()>;
    /// The certificate's bytes.
    fn certificate(&mut self, bytes: Vec<u8>) -> Result<()>;
    /// A part list (checked; `body` its canonical JSON), before any of its parts.
    fn part_list(&mut self, _: &PartList, _body: &[u8]) -> Result<()> {
        Ok(())
    }
    /// Part `index` of the attachment `list` cuts, to read or leave (its hash is the list's).
    fn part(&mut self, _list: &PartList, _index: u64, _content: &mut dyn Read) -> Result<()> {
        Ok(())
    }
}

/// Keeps nothing: verification only.
pub(crate) struct Nothing;

impl Keep for Nothing {
    fn revision(&mut self, _: VerifiedRevision) -> Result<()> {
        Ok(())
    }
    fn custody(&mut self, _: &CustodyEvent) -> Result<()> {
        Ok(())
    }
    fn attachment(&mut self, _: &str, _: &mut dyn Read) -> Result<()> {
        Ok(())
    }
    fn certificate(&mut self, _: Vec<u8>) -> Result<()> {
        Ok(())
    }
}

/// A revision as a bundle showed it, for [`crate::Proof`].
#[derive(Debug, Clone)]
pub(crate) struct SeenRevision {
    pub id: String,
    pub incident: String,
    pub title: String,
    pub device: String,
    pub device_seq: u64,
    pub sealed_at: String,
    pub hash: String,
    pub amends: Option<String>,
}

/// What checking a whole bundle saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub certificate: Option<Vec<u8>>,
    pub revisions: Vec<SeenRevision>,
    pub attachments: Vec<(String, u64)>,
    pub custody_events: usize,
    /// Part lists: the attachment's SHA-256, its size, and how many parts it is cut into.
    pub part_lists: Vec<(String, u64, u64)>,
    /// Parts: the attachment's SHA-256 and the part's number (from 0).
    pub parts: Vec<(String, u64)>,
}

/// The exporting device's Ed25519 key, as the manifest names it.
pub(crate) fn device_key(manifest: &Manifest) -> Result<SignPublicKey> {
    hex::decode(&manifest.device.sign_pk)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| BundleError::Malformed("device key".into()).into())
}

fn malformed(detail: String) -> ExchangeError {
    BundleError::Malformed(detail).into()
}

/// Checks the entries of one bundle (see the module documentation).
pub(crate) struct Checker<'k> {
    device: uuid::Uuid,
    device_pk: SignPublicKey,
    keep: &'k mut dyn Keep,
    seen: Seen,
    last_event: u64,
    lists: HashMap<String, PartList>,
}

impl<'k> Checker<'k> {
    pub(crate) fn new(manifest: &Manifest, keep: &'k mut dyn Keep) -> Result<Self> {
        let device_pk = device_key(manifest)?;
        // Ids made from keys (version 8) cannot be claimed with another key. Vaults made before
        // enrolment have random (version 7) ids, which only a person can vouch for.
        let claimed = vigil_model::DeviceId::from_uuid(manifest.device.id);
        if !matches!(manifest.device.id.get_version_num(), 7 | 8) {
            return Err(BundleError::Malformed(format!(
                "the manifest's device id {claimed} is of a kind Vigil never made"
            ))
            .into());
        }
        if manifest.device.id.get_version_num() == 8
            && !vigil_ledger::ids::is_derived(claimed, &device_pk)
        {
            return Err(LedgerError::DeviceIdForged {
                device: claimed.to_string(),
                derived: vigil_ledger::ids::device_id_for(&device_pk).to_string(),
            }
            .into());
        }
        Ok(Checker {
            device: manifest.device.id,
            device_pk,
            keep,
            seen: Seen::default(),
            last_event: 0,
            lists: HashMap::new(),
        })
    }

    /// Checks one entry: `path` (relative to the bundle folder), `size` bytes, named for its
    /// SHA-256 `sha256` in the manifest, whose content `r` yields (and fails on if it does not
    /// match the manifest).
    pub(crate) fn entry(
        &mut self,
        path: &str,
        size: u64,
        sha256: &str,
        r: &mut dyn Read,
    ) -> Result<()> {
        if let Some(part) = PartPath::parse(path) {
            return self.part_entry(part, path, size, sha256, r);
        }
        if let Some(sha) = path.strip_prefix("attachments/") {
            if sha256 != sha {
                return Err(malformed(format!(
                    "{path}: named for another hash than its content"
                )));
            }
            self.seen.attachments.push((sha.to_owned(), size));
            self.keep.attachment(sha, r)?;
            // Drain whatever was not read, so the hash is still checked.
            std::io::copy(r, &mut std::io::sink())?;
            return Ok(());
        }
        if path == vigil_bundle::PADDING {
            // Zero bytes that only make the bundle's size a bucket's: read (so that their
            // hash is checked) and dropped.
            std::io::copy(r, &mut std::io::sink())?;
            return Ok(());
        }
        if size > vigil_bundle::MAX_JSON_ENTRY {
            return Err(BundleError::TooLarge(format!("{path} is {size} bytes")).into());
        }
        if path == vigil_bundle::CUSTODY_LOG {
            return self.custody_log(path, r);
        }
        let mut bytes = Vec::with_capacity(size as usize);
        r.read_to_end(&mut bytes)?;
        if path == vigil_bundle::CERTIFICATE {
            self.seen.certificate = Some(bytes.clone());
            return self.keep.certificate(bytes);
        }
        if path.starts_with("revisions/") {
            let v = Revision::verified_from_entry(path, bytes)?;
            let rev = v.revision();
            if format!("revisions/{}.json", rev.id) != path {
                return Err(malformed(format!("{path}: holds revision {}", rev.id)));
            }
            if *v.sign_pk() != self.device_pk {
                return Err(LedgerError::ForeignRevision {
                    revision: rev.id.to_string(),
                }
                .into());
            }
            let (r, d) = (v.revision(), v.document());
            self.seen.revisions.push(SeenRevision {
                id: r.id.to_string(),
                incident: r.incident.to_string(),
                title: d.incident.title.clone(),
                device: r.device.to_string(),
                device_seq: r.device_seq,
                sealed_at: r.sealed_at.to_rfc3339(),
                hash: r.hash.to_string(),
                amends: r.amends.map(|a| a.to_string()),
            });
            return self.keep.revision(v);
        }
        Err(malformed(format!(
            "{path} is not a kind of entry this version knows"
        )))
    }

    /// A part list (before its parts, in the same bundle), or a part: the one its list names,
    /// with that hash and size.
    fn part_entry(
        &mut self,
        part: PartPath,
        path: &str,
        size: u64,
        sha256: &str,
        r: &mut dyn Read,
    ) -> Result<()> {
        match part {
            PartPath::List(sha) => {
                if size > vigil_bundle::MAX_JSON_ENTRY {
                    return Err(BundleError::TooLarge(format!("{path} is {size} bytes")).into());
                }
                let mut bytes = Vec::with_capacity(size as usize);
                r.read_to_end(&mut bytes)?;
                let list = PartList::from_entry(path, &bytes)?;
                self.seen
                    .part_lists
                    .push((sha.clone(), list.size, list.parts.len() as u64));
                self.keep.part_list(&list, &bytes)?;
                self.lists.insert(sha, list);
                Ok(())
            }
            PartPath::Part(sha, index) => {
                let list = self
                    .lists
                    .get(&sha)
                    .ok_or_else(|| malformed(format!("{path}: a part before its list")))?;
                let named = usize::try_from(index).ok().and_then(|i| list.parts.get(i));
                if named.is_none_or(|p| p.sha256 != sha256 || p.size != size) {
                    return Err(malformed(format!("{path}: not the part its list names")));
                }
                let list = list.clone();
                self.seen.parts.push((sha, index));
                self.keep.part(&list, index, r)?;
                std::io::copy(r, &mut std::io::sink())?;
                Ok(())
            }
        }
    }

    /// The custody log, one line at a time.
    fn custody_log(&mut self, path: &str, r: &mut dyn Read) -> Result<()> {
        let mut lines = BufReader::new(r);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut lines)
                .take(vigil_bundle::MAX_JSON_ENTRY + 1)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(());
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.is_empty() {
                continue;
            }
            let ev = CustodyEvent::from_line(&line)?;
            ev.verify(&self.device_pk)?;
            if *ev.doc.device.as_uuid() != self.device {
                return Err(malformed(format!(
                    "{path}: an event of device {} in a bundle of device {}",
                    ev.doc.device, self.device
                )));
            }
            if ev.doc.seq <= self.last_event {
                return Err(malformed(format!(
                    "{path}: event {} comes after event {}",
                    ev.doc.seq, self.last_event
                )));
            }
            self.last_event = ev.doc.seq;
            self.seen.custody_events += 1;
            self.keep.custody(&ev)?;
        }
    }

    pub(crate) fn finish(self) -> Seen {
        self.seen
    }
}

//! Moving sealed revisions between vaults in bundles (see `docs/bundle-format.md`).
//!
//! **Export** collects sealed revisions (by incident, the ones not yet sent, or all), the
//! attachments they refer to and the device's custody log, streams them into a bundle
//! encrypted to every HQ reader and to the device itself, under a temporary name
//! ([`vigil_bundle::write_pending`]), fsyncs it, reads it back from the drive and verifies all
//! of it, and only then renames it into place and records the export in the custody log.
//!
//! **Import** decrypts and checks everything before changing anything: the manifest signature,
//! every entry's size and hash, every revision's canonical form, hash and signature, each
//! device's chain (no revision missing or out of order), and that every attachment a revision
//! refers to arrived or is already here. Attachments are staged into the vault's chunk store
//! while the bundle is read; revisions and attachments are then applied in one transaction.
//! Importing the same bundle again, or overlapping bundles, adds nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_bundle::{BundleError, BundleReader, DeviceInfo, Manifest, ManifestEntry};
use vigil_model::{IncidentId, Sha256};
use vigil_store::{
    AttachmentRef, CustodyEvent, Revision, RevisionId, StagedAttachment, StoreError, Vault,
    VerifiedRevision,
};

/// Format marker of a revision entry (`revisions/<id>.json`).
pub const REVISION_ENTRY_FORMAT: &str = "vigil-sealed-revision";
const MAX_JSON_ENTRY: u64 = 64 * 1024 * 1024;

/// What can go wrong moving bundles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The bundle itself is unreadable, not ours, tampered, truncated...
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// The vault refused (bad signature, conflicting revision, ...).
    #[error("{0}")]
    Store(StoreError),
    /// Exporting needs an organisation to export to.
    #[error(
        "this vault has not joined an organisation: import the org profile first (vigil org join PROFILE)"
    )]
    NoOrganisation,
    /// The selection holds no sealed revision.
    #[error("nothing to export: seal the incidents first (vigil seal ID)")]
    NothingToExport,
    /// The bundle is for another organisation.
    #[error("this bundle belongs to another organisation ({found}), not to this vault's ({ours})")]
    WrongOrganisation {
        /// The bundle's organisation.
        found: String,
        /// This vault's.
        ours: String,
    },
    /// A device's revisions do not form an unbroken chain.
    #[error("broken chain: {0}")]
    BrokenChain(String),
    /// A revision refers to an attachment that is neither in the bundle nor in the vault.
    #[error("revision {revision} refers to attachment {sha256}, which is missing from the bundle")]
    MissingAttachment {
        /// The revision.
        revision: String,
        /// The attachment's hash.
        sha256: String,
    },
    /// An entry is well-formed for the archive but not for Vigil.
    #[error("malformed bundle content: {0}")]
    Malformed(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(std::io::Error),
}

/// A bundle entry is read through [`std::io::Read`], so what is wrong with the bundle (a
/// tampered or cut chunk, a hash mismatch) arrives wrapped in an I/O error, possibly inside the
/// vault's own I/O error while staging an attachment. Unwrap it, so a tampered bundle is
/// reported as tampered and not as a disk problem.
fn bundle_error_in(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<BundleError>())
}

impl From<std::io::Error> for ExchangeError {
    fn from(e: std::io::Error) -> Self {
        if bundle_error_in(&e) {
            ExchangeError::Bundle(BundleError::from(e))
        } else {
            ExchangeError::Io(e)
        }
    }
}

impl From<StoreError> for ExchangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io { source, .. } if bundle_error_in(&source) => {
                ExchangeError::Bundle(BundleError::from(source))
            }
            other => ExchangeError::Store(other),
        }
    }
}

impl ExchangeError {
    /// A stable code for scripts and the UI.
    pub fn code(&self) -> String {
        match self {
            ExchangeError::Bundle(b) => b.code().to_owned(),
            ExchangeError::Store(s) => s.code().to_owned(),
            ExchangeError::NoOrganisation => "no_organisation".into(),
            ExchangeError::NothingToExport => "nothing_to_export".into(),
            ExchangeError::WrongOrganisation { .. } => "bundle.wrong_organisation".into(),
            ExchangeError::BrokenChain(_) => "bundle.broken_chain".into(),
            ExchangeError::MissingAttachment { .. } => "bundle.missing_attachment".into(),
            ExchangeError::Malformed(_) => "bundle.malformed".into(),
            ExchangeError::Io(_) => "io".into(),
        }
    }

    /// True when the input is bad (as opposed to the vault or the machine).
    pub fn is_bad_bundle(&self) -> bool {
        !matches!(self, ExchangeError::Store(_) | ExchangeError::Io(_))
            || matches!(
                self,
                ExchangeError::Store(
                    StoreError::BadSignature { .. }
                        | StoreError::RevisionTampered { .. }
                        | StoreError::RevisionConflict { .. }
                )
            )
    }
}

type Result<T> = std::result::Result<T, ExchangeError>;

/// Which revisions to export.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every revision of these incidents.
    Incidents(Vec<IncidentId>),
    /// Revisions not yet in any bundle.
    Unsent,
    /// Every revision in the vault.
    All,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The bundle's id.
    pub id: String,
    /// Where it is.
    pub path: PathBuf,
    /// Revisions in it.
    pub revisions: usize,
    /// Attachments in it.
    pub attachments: usize,
    /// Size of the file.
    pub bytes: u64,
}

/// A revision entry as written in the archive.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionEntry {
    format: String,
    version: u32,
    doc: serde_json::Value,
    sig: String,
}

fn revision_entry(rev: &Revision) -> Result<Vec<u8>> {
    let doc: serde_json::Value = serde_json::from_slice(&rev.doc)
        .map_err(|e| ExchangeError::Malformed(format!("stored revision {}: {e}", rev.id)))?;
    let entry = RevisionEntry {
        format: REVISION_ENTRY_FORMAT.into(),
        version: 1,
        doc,
        sig: hex::encode(rev.sig.0),
    };
    let value =
        serde_json::to_value(&entry).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    Ok(vigil_crypto::sign::canonical_json(&value))
}

fn parse_revision_entry(path: &str, bytes: &[u8]) -> Result<Revision> {
    let entry: RevisionEntry = serde_json::from_slice(bytes)
        .map_err(|e| ExchangeError::Malformed(format!("{path}: {e}")))?;
    if entry.format != REVISION_ENTRY_FORMAT {
        return Err(ExchangeError::Malformed(format!(
            "{path}: not a revision entry"
        )));
    }
    if entry.version > 1 {
        return Err(BundleError::NewerVersion {
            found: u64::from(entry.version),
            supported: 1,
        }
        .into());
    }
    let sig: [u8; 64] = hex::decode(&entry.sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| ExchangeError::Malformed(format!("{path}: bad signature field")))?;
    let doc = vigil_crypto::sign::canonical_json(&entry.doc);
    Ok(Revision::from_signed(
        doc,
        vigil_crypto::sign::Signature(sig),
    )?)
}

fn sha_hex(s: &Sha256) -> String {
    s.to_string()
}

fn sha256_bytes(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
}

fn org_id(vault: &Vault) -> Result<uuid::Uuid> {
    Ok(vault
        .org_profile()?
        .ok_or(ExchangeError::NoOrganisation)?
        .org_id)
}

fn identities(vault: &Vault) -> Vec<age::x25519::Identity> {
    let mut ids = vec![vault.device_age_identity().clone()];
    if let Ok(org) = vault.org_identities() {
        ids.extend(org);
    }
    ids
}

/// What an export is doing, for its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportPhase {
    /// Writing the bundle until it is fsynced (under a temporary name); counts the bytes of its
    /// entries.
    Writing,
    /// Reading the written bundle back and verifying all of it before it is renamed into place;
    /// counts the bytes of the file. (On Linux this reads the drive itself: the bundle's pages
    /// are dropped from the cache once they are on it.)
    Checking,
}

/// Exports the selected revisions to `dest`, verifies the written file, and records the export.
pub fn export(vault: &mut Vault, selection: &Selection, dest: &Path) -> Result<ExportReport> {
    export_with_progress(vault, selection, dest, &mut |_, _, _| {})
}

/// [`export`], calling `progress(phase, bytes done, bytes in all)`: first while the bundle is
/// written, then while it is read back.
pub fn export_with_progress(
    vault: &mut Vault,
    selection: &Selection,
    dest: &Path,
    progress: &mut dyn FnMut(ExportPhase, u64, u64),
) -> Result<ExportReport> {
    let org = org_id(vault)?;
    let mut recipients: Vec<age::x25519::Recipient> = Vec::new();
    for r in vault.hq_recipients()? {
        recipients.push(
            r.parse()
                .map_err(|e| ExchangeError::Malformed(format!("HQ recipient {r}: {e}")))?,
        );
    }
    let device = vault.device_public();
    recipients.push(
        device
            .age_recipient
            .parse()
            .map_err(|e| ExchangeError::Malformed(format!("device recipient: {e}")))?,
    );
    let revisions: Vec<Revision> = match selection {
        Selection::Unsent => vault.unsent_revisions()?,
        Selection::All => vault.all_revisions()?,
        Selection::Incidents(ids) => {
            let mut out = Vec::new();
            for id in ids {
                out.extend(vault.revisions(*id)?);
            }
            out
        }
    };
    if revisions.is_empty() {
        return Err(ExchangeError::NothingToExport);
    }
    // Entries: revisions, custody log, then each attachment once (by content hash).
    let mut entries: Vec<(ManifestEntry, Content)> = Vec::new();
    let mut attachments: BTreeMap<String, (vigil_model::AttachmentId, u64)> = BTreeMap::new();
    for rev in &revisions {
        let bytes = revision_entry(rev)?;
        for a in rev.document()?.attachments {
            attachments
                .entry(sha_hex(&a.sha256))
                .or_insert((a.id, a.size));
        }
        entries.push((
            ManifestEntry {
                path: format!("revisions/{}.json", rev.id),
                size: bytes.len() as u64,
                sha256: sha256_bytes(&bytes),
            },
            Content::Bytes(bytes),
        ));
    }
    let mut log = Vec::new();
    // This device's own events only: an HQ vault also keeps the logs of the devices it
    // received bundles from, which are theirs to sign.
    let own = vault.device();
    for ev in vault
        .custody_log()?
        .into_iter()
        .filter(|e| e.doc.device == own)
    {
        let line = serde_json::json!({
            "doc": serde_json::from_slice::<serde_json::Value>(&ev.bytes)
                .map_err(|e| ExchangeError::Malformed(e.to_string()))?,
            "sig": hex::encode(ev.sig.0),
        });
        log.extend(vigil_crypto::sign::canonical_json(&line));
        log.push(b'\n');
    }
    entries.push((
        ManifestEntry {
            path: vigil_bundle::CUSTODY_LOG.into(),
            size: log.len() as u64,
            sha256: sha256_bytes(&log),
        },
        Content::Bytes(log),
    ));
    for (sha, (id, size)) in &attachments {
        entries.push((
            ManifestEntry {
                path: format!("attachments/{sha}"),
                size: *size,
                sha256: sha.clone(),
            },
            Content::Attachment(*id),
        ));
    }
    let bundle_id = uuid::Uuid::now_v7();
    let manifest = Manifest::new(
        bundle_id,
        chrono::Utc::now(),
        org,
        DeviceInfo {
            id: *vault.device().as_uuid(),
            sign_pk: hex::encode(device.sign_pk),
            age_recipient: device.age_recipient.clone(),
        },
        entries.iter().map(|(e, _)| e.clone()).collect(),
    );
    let v: &Vault = vault;
    let total = manifest.totals.bytes;
    let mut done = 0u64;
    let mut writing = |d: u64, t: u64| progress(ExportPhase::Writing, d, t);
    let pending = vigil_bundle::write_pending(dest, &recipients, |w| {
        w.write_manifest(&manifest, &|bytes| v.device_sign(bytes))?;
        for (entry, content) in &entries {
            writing(done, total);
            match content {
                Content::Bytes(b) => w.add_entry(&entry.path, entry.size, &mut &b[..])?,
                Content::Attachment(id) => {
                    // No second SHA-256 here: the chunks are authenticated as they are
                    // decrypted, and the read-back below hashes every entry of the bundle.
                    let r = v
                        .attachment_reader(*id)
                        .map_err(|e| BundleError::Io(std::io::Error::other(e)))?
                        .authenticated_only();
                    // Two stages on two cores: one thread decrypts the vault's chunks while
                    // this one archives and encrypts (a third writes to disk); the writer takes
                    // the hash the reader vouches for at the end.
                    let hashed = std::cell::Cell::new(None);
                    std::thread::scope(|scope| -> vigil_bundle::Result<()> {
                        let (tx, rx) = std::sync::mpsc::sync_channel(PIPE_DEPTH);
                        let (back, spare) = std::sync::mpsc::sync_channel(PIPE_DEPTH + 2);
                        scope.spawn(move || pump(r, tx, spare));
                        let mut piped = ChannelReader {
                            rx,
                            back,
                            buf: Vec::new(),
                            pos: 0,
                            hashed: &hashed,
                        };
                        let mut counted = Counted {
                            inner: &mut piped,
                            base: done,
                            total,
                            progress: &mut writing,
                        };
                        w.add_entry_hashed(&entry.path, entry.size, &mut counted, || hashed.get())
                    })?;
                }
            }
            done += entry.size;
        }
        writing(done, total);
        Ok(())
    })
    .map_err(vault_error_inside)?;
    // Read the whole file back from the drive and check every byte before it takes its name
    // (a bundle that fails is removed with its temporary name) and before saying it is done.
    let checked = read_bundle(
        pending.path(),
        &identities(vault),
        &mut |_, _| Ok(()),
        &mut |d, t| progress(ExportPhase::Checking, d, t),
    )?;
    if checked.manifest.bundle_id != bundle_id {
        return Err(ExchangeError::Malformed(
            "read-back found another bundle".into(),
        ));
    }
    pending.commit()?;
    let ids: Vec<RevisionId> = revisions.iter().map(|r| r.id).collect();
    vault.mark_exported(&ids, &bundle_id.to_string())?;
    Ok(ExportReport {
        id: bundle_id.to_string(),
        path: dest.to_path_buf(),
        revisions: revisions.len(),
        attachments: attachments.len(),
        bytes: std::fs::metadata(dest)?.len(),
    })
}

/// The vault's own error (a damaged attachment, say) when it reached the bundle writer through a
/// read: the fault is in the vault, not in the bundle file.
fn vault_error_inside(e: BundleError) -> ExchangeError {
    match e {
        BundleError::Io(io) if io.get_ref().is_some_and(|i| i.is::<StoreError>()) => {
            match io.into_inner().map(|i| i.downcast::<StoreError>()) {
                Some(Ok(store)) => ExchangeError::Store(*store),
                Some(Err(other)) => ExchangeError::Io(std::io::Error::other(other)),
                None => ExchangeError::Malformed("an empty I/O error".into()),
            }
        }
        other => ExchangeError::from(other),
    }
}

/// Blocks in flight between the decrypting and the writing thread (constant memory:
/// `PIPE_DEPTH` × [`PIPE_BLOCK`]).
const PIPE_DEPTH: usize = 4;
const PIPE_BLOCK: usize = 256 * 1024;

/// What the decrypting thread sends the writing one.
enum Piped {
    /// The next plaintext bytes.
    Block(Vec<u8>),
    /// The end, with the SHA-256 the reader vouches for (`AttachmentReader::verified_sha256`).
    End([u8; 32]),
    /// Reading failed; nothing follows.
    Failed(std::io::Error),
}

/// Reads `r` to its end in blocks and sends them, then its verified hash; an error is sent as
/// the last message. Blocks the writer is done with come back on `spare` and are reused.
fn pump(
    mut r: vigil_store::AttachmentReader,
    tx: std::sync::mpsc::SyncSender<Piped>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut block = spare.try_recv().unwrap_or_default();
        block.resize(PIPE_BLOCK, 0);
        let mut n = 0;
        while n < PIPE_BLOCK {
            match r.read(&mut block[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Piped::Failed(e));
                    return;
                }
            }
        }
        let last = if n == 0 {
            match r.verified_sha256() {
                Some(sha) => Piped::End(sha),
                None => Piped::Failed(std::io::Error::other(
                    "the attachment ended without its hash being checked",
                )),
            }
        } else {
            block.truncate(n);
            Piped::Block(block)
        };
        let end = !matches!(last, Piped::Block(_));
        if tx.send(last).is_err() || end {
            return; // done, or the writer stopped (it failed)
        }
    }
}

/// Reports progress as bytes pass through (every block, which is at most a few per MiB).
struct Counted<'a, R> {
    inner: &'a mut R,
    base: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.base += n as u64;
        (self.progress)(self.base, self.total);
        Ok(n)
    }
}

/// The receiving end of [`pump`], as a reader; the hash that ends the stream is left in
/// `hashed`.
struct ChannelReader<'a> {
    rx: std::sync::mpsc::Receiver<Piped>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    hashed: &'a std::cell::Cell<Option<[u8; 32]>>,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.hashed.get().is_some() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Piped::Block(block)) => {
                    let used = std::mem::replace(&mut self.buf, block);
                    if used.capacity() > 0 {
                        let _ = self.back.try_send(used);
                    }
                    self.pos = 0;
                }
                Ok(Piped::End(sha)) => {
                    self.hashed.set(Some(sha));
                    return Ok(0);
                }
                Ok(Piped::Failed(e)) => return Err(e),
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the decrypting thread stopped before the end of the attachment",
                    ));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

enum Content {
    Bytes(Vec<u8>),
    Attachment(vigil_model::AttachmentId),
}

/// What reading a whole bundle proved.
#[derive(Debug)]
pub struct CheckedBundle {
    /// The signed manifest.
    pub manifest: Manifest,
    /// Every revision, verified (canonical form, hash, signature).
    pub revisions: Vec<VerifiedRevision>,
    /// Attachments present: hash → size.
    pub attachments: BTreeMap<String, u64>,
    /// The exporting device's custody events, each signature checked against its key.
    pub custody: Vec<CustodyEvent>,
}

/// Reads a whole bundle and checks everything in it, changing nothing.
pub fn verify_bundle(path: &Path, identities: &[age::x25519::Identity]) -> Result<CheckedBundle> {
    read_bundle(path, identities, &mut |_, _| Ok(()), &mut |_, _| {})
}

/// [`verify_bundle`] over any reader (the fuzz target feeds it from memory).
pub fn verify_bundle_from(
    input: impl Read,
    identities: &[age::x25519::Identity],
) -> Result<CheckedBundle> {
    read_bundle_from(input, identities, &mut |_, _| Ok(()))
}

type AttachmentSink<'a> = dyn FnMut(&str, &mut dyn Read) -> Result<()> + 'a;

fn read_bundle(
    path: &Path,
    identities: &[age::x25519::Identity],
    on_attachment: &mut AttachmentSink<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CheckedBundle> {
    let file = File::open(path)?;
    let total = file.metadata()?.len();
    let mut file = BufReader::with_capacity(1 << 20, file);
    let counted = Counted {
        inner: &mut file,
        base: 0,
        total,
        progress,
    };
    read_bundle_from(counted, identities, on_attachment)
}

fn read_bundle_from(
    input: impl Read,
    identities: &[age::x25519::Identity],
    on_attachment: &mut AttachmentSink<'_>,
) -> Result<CheckedBundle> {
    let mut reader = BundleReader::open(input, identities)?;
    let manifest = reader.manifest().clone();
    let device_pk = device_key(&manifest)?;
    let mut revisions = Vec::new();
    let mut attachments = BTreeMap::new();
    let mut custody = Vec::new();
    while let Some(mut entry) = reader.next_entry()? {
        let p = entry.path().to_owned();
        if let Some(sha) = p.strip_prefix("attachments/") {
            let sha = sha.to_owned();
            if entry.sha256() != sha {
                return Err(ExchangeError::Malformed(format!(
                    "{p}: named for another hash than its content"
                )));
            }
            attachments.insert(sha.clone(), entry.size());
            on_attachment(&sha, &mut entry)?;
            // Drain whatever the sink did not read, so the hash is still checked.
            std::io::copy(&mut entry, &mut std::io::sink())?;
            continue;
        }
        if entry.size() > MAX_JSON_ENTRY {
            return Err(BundleError::TooLarge(format!("{p} is {} bytes", entry.size())).into());
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        if p.starts_with("revisions/") {
            let rev = parse_revision_entry(&p, &bytes)?;
            if format!("revisions/{}.json", rev.id) != p {
                return Err(ExchangeError::Malformed(format!(
                    "{p}: holds revision {}",
                    rev.id
                )));
            }
            revisions.push(rev.verify()?);
        } else if p == vigil_bundle::CUSTODY_LOG {
            custody.extend(verify_custody_log(
                &p,
                &bytes,
                manifest.device.id,
                &device_pk,
            )?);
        }
    }
    Ok(CheckedBundle {
        manifest,
        revisions,
        attachments,
        custody,
    })
}

/// The exporting device's Ed25519 key, as the manifest names it.
fn device_key(manifest: &Manifest) -> Result<[u8; 32]> {
    hex::decode(&manifest.device.sign_pk)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| ExchangeError::Malformed("device key".into()))
}

/// Checks every line of a custody log (`{"doc":…,"sig":…}`): each event is the exporting
/// device's, in canonical form, signed by its key. Returns the events, for HQ to keep.
fn verify_custody_log(
    path: &str,
    bytes: &[u8],
    device: uuid::Uuid,
    device_pk: &[u8; 32],
) -> Result<Vec<CustodyEvent>> {
    let mut events = Vec::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| ExchangeError::Malformed(format!("{path}: {e}")))?;
        if let Some(found) = v["doc"]["version"].as_u64().filter(|&n| n > 1) {
            return Err(BundleError::NewerVersion {
                found,
                supported: 1,
            }
            .into());
        }
        let doc = vigil_crypto::sign::canonical_json(&v["doc"]);
        let sig: [u8; 64] = v["sig"]
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| ExchangeError::Malformed(format!("{path}: bad signature")))?;
        let hash = ring::digest::digest(&ring::digest::SHA256, &doc);
        vigil_crypto::sign::verify(
            device_pk,
            hash.as_ref(),
            &vigil_crypto::sign::Signature(sig),
        )
        .map_err(|_| StoreError::BadSignature {
            what: "a custody event".into(),
        })?;
        let event = CustodyEvent::from_signed(doc, vigil_crypto::sign::Signature(sig))?;
        if *event.doc.device.as_uuid() != device {
            return Err(ExchangeError::Malformed(format!(
                "{path}: an event of device {} in a bundle of device {device}",
                event.doc.device
            )));
        }
        events.push(event);
    }
    Ok(events)
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The bundle's id.
    pub id: String,
    /// The device that made it.
    pub device: String,
    /// Revisions stored now.
    pub applied: usize,
    /// Revisions that were already here.
    pub skipped: usize,
    /// Attachments stored now.
    pub attachments: usize,
    /// The sending device's custody events stored now (its history, kept at HQ).
    pub custody_events: usize,
    /// Custody events that contradict the history already kept here (which stays as it was):
    /// worth a person's attention, e.g. a laptop restored from an old backup.
    pub custody_conflicts: Vec<String>,
}

/// Imports a bundle: everything is checked first, then applied in one transaction; nothing
/// changes if anything is wrong. Importing the same bundle again changes nothing.
pub fn import(vault: &mut Vault, path: &Path) -> Result<ImportReport> {
    import_with_progress(vault, path, &mut |_, _| {})
}

/// [`import`], reporting the bytes of the bundle file read so far, of all, as it goes.
pub fn import_with_progress(
    vault: &mut Vault,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let ids = identities(vault);
    let dir = vault.dir().to_path_buf();
    let mut staged: HashMap<String, StagedAttachment> = HashMap::new();
    let checked = read_bundle(
        path,
        &ids,
        &mut |sha, r| {
            let s = vigil_store::stage_attachment(&dir, r, None)?;
            staged.insert(sha.to_owned(), s);
            Ok(())
        },
        progress,
    );
    let result = checked.and_then(|c| apply_checked(vault, c, &mut staged));
    for (_, s) in staged.drain() {
        s.discard();
    }
    result
}

fn apply_checked(
    vault: &mut Vault,
    checked: CheckedBundle,
    staged: &mut HashMap<String, StagedAttachment>,
) -> Result<ImportReport> {
    if let Some(profile) = vault.org_profile()?
        && profile.org_id != checked.manifest.org_id
    {
        return Err(ExchangeError::WrongOrganisation {
            found: checked.manifest.org_id.to_string(),
            ours: profile.org_id.to_string(),
        });
    }
    check_chains(vault, &checked.revisions)?;
    // Every attachment a revision names is in the bundle or already in the vault.
    let mut with_content: Vec<(AttachmentRef, IncidentId, StagedAttachment)> = Vec::new();
    for v in &checked.revisions {
        let doc = v.document();
        for a in &doc.attachments {
            let sha = sha_hex(&a.sha256);
            if let Some(s) = staged.remove(&sha) {
                with_content.push((a.clone(), doc.incident.id, s));
            } else if !checked.attachments.contains_key(&sha)
                && !vault.has_attachment_content(&a.sha256)?
                && !with_content.iter().any(|(r, _, _)| r.sha256 == a.sha256)
            {
                return Err(ExchangeError::MissingAttachment {
                    revision: v.revision().id.to_string(),
                    sha256: sha,
                });
            }
        }
    }
    let report = vault.apply_bundle(
        &checked.revisions,
        with_content,
        &checked.custody,
        &checked.manifest.bundle_id.to_string(),
    )?;
    Ok(ImportReport {
        id: checked.manifest.bundle_id.to_string(),
        device: checked.manifest.device.id.to_string(),
        applied: report.applied.len(),
        skipped: report.skipped.len(),
        attachments: report.attachments,
        custody_events: report.custody_events,
        custody_conflicts: report.custody_conflicts,
    })
}

/// Each device's revisions, with those already in the vault, must run 1, 2, 3... each naming
/// the hash of the one before.
fn check_chains(vault: &Vault, revisions: &[VerifiedRevision]) -> Result<()> {
    let mut by_device: BTreeMap<_, Vec<&Revision>> = BTreeMap::new();
    for v in revisions {
        by_device
            .entry(v.revision().device)
            .or_default()
            .push(v.revision());
    }
    for (device, mut revs) in by_device {
        revs.sort_by_key(|r| r.device_seq);
        for (i, r) in revs.iter().enumerate() {
            let expected_prev = if r.device_seq == 1 {
                None
            } else if i > 0 && revs[i - 1].device_seq + 1 == r.device_seq {
                Some(revs[i - 1].hash)
            } else {
                match vault.revision_hash_at(device, r.device_seq - 1)? {
                    Some(h) => Some(h),
                    None => {
                        return Err(ExchangeError::BrokenChain(format!(
                            "revision {} is number {} of device {device}, but number {} is neither in the bundle nor in this vault",
                            r.id,
                            r.device_seq,
                            r.device_seq - 1
                        )));
                    }
                }
            };
            if i > 0 && revs[i - 1].device_seq == r.device_seq {
                return Err(ExchangeError::BrokenChain(format!(
                    "two revisions are number {} of device {device}",
                    r.device_seq
                )));
            }
            if r.prev_hash != expected_prev {
                return Err(ExchangeError::BrokenChain(format!(
                    "revision {} does not follow the revision before it from device {device}",
                    r.id
                )));
            }
        }
    }
    Ok(())
}

/// What a bundle proves, for `vigil verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// The bundle's id.
    pub id: String,
    /// When it was made (UTC).
    pub created_at: String,
    /// The organisation it was made for.
    pub org_id: String,
    /// The device that signed the manifest.
    pub device: String,
    /// Its Ed25519 public key (hex).
    pub device_key: String,
    /// Every revision, with what its signature covers.
    pub revisions: Vec<ProvenRevision>,
    /// Every attachment, with its size; all matched their SHA-256.
    pub attachments: Vec<ProvenAttachment>,
    /// Custody events whose signatures were checked.
    pub custody_events: usize,
}

/// A revision whose canonical form, hash and signature were checked.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenRevision {
    /// The revision.
    pub id: String,
    /// Its incident.
    pub incident: String,
    /// The incident's title as sealed.
    pub title: String,
    /// The device that sealed it, and its place in that device's chain.
    pub device: String,
    /// Position in the device's chain.
    pub device_seq: u64,
    /// When it was sealed, on the device's clock.
    pub sealed_at: String,
    /// SHA-256 of its canonical document.
    pub hash: String,
    /// The revision it amends, if any.
    pub amends: Option<String>,
}

/// An attachment whose bytes matched the hash its revisions name.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenAttachment {
    /// SHA-256 (also its name in the bundle).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Proof {
    fn from_checked(c: &CheckedBundle) -> Proof {
        Proof {
            id: c.manifest.bundle_id.to_string(),
            created_at: c.manifest.created_at.to_rfc3339(),
            org_id: c.manifest.org_id.to_string(),
            device: c.manifest.device.id.to_string(),
            device_key: c.manifest.device.sign_pk.clone(),
            revisions: c
                .revisions
                .iter()
                .map(|v| {
                    let (r, d) = (v.revision(), v.document());
                    ProvenRevision {
                        id: r.id.to_string(),
                        incident: r.incident.to_string(),
                        title: d.incident.title.clone(),
                        device: r.device.to_string(),
                        device_seq: r.device_seq,
                        sealed_at: r.sealed_at.to_rfc3339(),
                        hash: r.hash.to_string(),
                        amends: r.amends.map(|a| a.to_string()),
                    }
                })
                .collect(),
            attachments: c
                .attachments
                .iter()
                .map(|(sha, size)| ProvenAttachment {
                    sha256: sha.clone(),
                    size: *size,
                })
                .collect(),
            custody_events: c.custody.len(),
        }
    }

    /// A plain-text account for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "Bundle {} made {} for organisation {}\nSigned by device {}: signature valid.\n\
             Device key (Ed25519; compare with the key the monitor's Organisation dialog shows):\n  {}\n",
            self.id,
            self.created_at,
            self.org_id,
            self.device,
            hex::decode(&self.device_key)
                .map(|k| vigil_crypto::sign::grouped_hex(&k))
                .unwrap_or_else(|_| self.device_key.clone())
        );
        s.push_str(&format!(
            "{} sealed revision(s), each in canonical form, hash and device signature verified:\n",
            self.revisions.len()
        ));
        for r in &self.revisions {
            s.push_str(&format!(
                "  {}  incident {} \"{}\"\n      device {} #{}, sealed {}, sha256 {}{}\n",
                r.id,
                r.incident,
                r.title,
                r.device,
                r.device_seq,
                r.sealed_at,
                r.hash,
                r.amends
                    .as_ref()
                    .map(|a| format!(", amends {a}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "{} attachment(s), each matching its SHA-256:\n",
            self.attachments.len()
        ));
        for a in &self.attachments {
            s.push_str(&format!("  {}  {} bytes\n", a.sha256, a.size));
        }
        s.push_str(&format!(
            "{} custody event(s), each signature verified.\n",
            self.custody_events
        ));
        s
    }
}

/// Verifies a bundle file with the keys of `vault` (its HQ identities, or its own device
/// identity), changing nothing.
pub fn verify_with_vault(vault: &Vault, path: &Path) -> Result<Proof> {
    let checked = verify_bundle(path, &identities(vault))?;
    Ok(Proof::from_checked(&checked))
}

/// Verifies a bundle that was decrypted with `age -d` and unpacked with `tar -x` into `dir`:
/// no keys are needed to check what it proves.
pub fn verify_extracted(dir: &Path) -> Result<Proof> {
    let root = if dir.join("vigil-bundle").is_dir() {
        dir.join("vigil-bundle")
    } else {
        dir.to_path_buf()
    };
    let json = std::fs::read(root.join("manifest.json"))
        .map_err(|e| ExchangeError::Malformed(format!("no vigil-bundle/manifest.json: {e}")))?;
    let sig = std::fs::read(root.join("manifest.sig"))
        .map_err(|e| ExchangeError::Malformed(format!("no vigil-bundle/manifest.sig: {e}")))?;
    let manifest = Manifest::verify(&json, &sig)?;
    let device_pk = device_key(&manifest)?;
    let mut revisions = Vec::new();
    let mut attachments = BTreeMap::new();
    let mut custody = Vec::new();
    for e in &manifest.entries {
        vigil_bundle::check_entry_path(&e.path)?;
        let path = root.join(&e.path);
        let mut f = File::open(&path)
            .map_err(|_| BundleError::Truncated(format!("{} is missing", e.path)))?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        let mut small = Vec::new();
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
            size += n as u64;
            if !e.path.starts_with("attachments/") && size <= MAX_JSON_ENTRY {
                small.extend_from_slice(&buf[..n]);
            }
        }
        if size != e.size || hex::encode(ctx.finish().as_ref()) != e.sha256 {
            return Err(
                BundleError::Tampered(format!("{} does not match the manifest", e.path)).into(),
            );
        }
        if e.path.starts_with("attachments/") {
            attachments.insert(e.sha256.clone(), size);
        } else if e.path.starts_with("revisions/") {
            revisions.push(parse_revision_entry(&e.path, &small)?.verify()?);
        } else if e.path == vigil_bundle::CUSTODY_LOG {
            custody.extend(verify_custody_log(
                &e.path,
                &small,
                manifest.device.id,
                &device_pk,
            )?);
        }
    }
    Ok(Proof::from_checked(&CheckedBundle {
        manifest,
        revisions,
        attachments,
        custody,
    }))
}

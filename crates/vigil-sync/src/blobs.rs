//! Attachments by the server's resumable upload (tus 1.0: creation, checksum), and HQ's
//! download of them in ranges.
//!
//! A device prepares each queued attachment once (age ciphertext to HQ, staged in the vault's
//! chunk store: see `vigil_store`'s `sync_blobs`), creates the upload under the attachment's
//! id with the ciphertext's length and SHA-256, and sends it in parts of [`crate::http::PART_BYTES`], each
//! with its own SHA-256 and the offset the server holds. After a cut connection or a killed
//! process the next pass asks the server where it stands and resumes there: at most the part
//! in flight is sent again. The server's receipt is checked against the pinned receipt key,
//! this device, the attachment, the hash and the size, and kept in the custody log.

use std::io::Read;
use std::sync::mpsc::Receiver;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use reqwest::header::HeaderMap;
use vigil_exchange::{ExchangeError, Reading, Staged};
use vigil_ledger::signed::{AttachmentReceipt, SignedWire};
use vigil_model::AttachmentId;
use vigil_store::{AttachmentRef, PreparedBlob, StagedAttachment};

use crate::http::Server;
use crate::pass::{Context, Progress, Report, signed};
use crate::{SyncError, VaultAccess};

const TUS: &str = "1.0.0";

fn header_u64(headers: &HeaderMap, name: &str) -> Result<u64, SyncError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| SyncError::Malformed(format!("the upload's answer has no {name}")))
}

/// Prepares and uploads every queued attachment, in the order of the items waiting for them.
pub(crate) fn upload_all(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    report: &mut Report,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), SyncError> {
    let pending = vault.with(|v| v.sync_blobs_pending())??;
    let total: u64 = pending
        .iter()
        .map(|b| b.prepared.map_or(b.plain_size, |p| p.size))
        .sum();
    let mut done = 0u64;
    for blob in pending {
        let prepared = match blob.prepared {
            Some(p) => p,
            None => {
                let sealing =
                    vault.with(|v| vigil_exchange::blob::seal_blob(v, blob.attachment))??;
                // Encrypting and staging happen without the vault.
                let staged = sealing.stage()?;
                vault.with(|v| v.sync_blob_prepared(blob.attachment, staged))??
            }
        };
        let mut step = |n: u64| {
            progress(Progress::Uploading {
                bytes: done + n,
                bytes_total: total,
            })
        };
        upload_one(vault, server, ctx, blob.attachment, prepared, &mut step)?;
        done += prepared.size;
        report.attachments_sent += 1;
        report.attachment_bytes_sent += prepared.size;
    }
    Ok(())
}

fn tus_headers(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut h = vec![("Tus-Resumable", TUS.to_owned())];
    h.extend_from_slice(extra);
    h
}

/// Where the server stands with this upload (`HEAD`).
fn server_offset(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    path: &str,
) -> Result<u64, SyncError> {
    let req = signed(vault, ctx.device, Method::HEAD, path, Vec::new())?;
    let (headers, _) = server.send_with(req, None, &tus_headers(&[]))?;
    header_u64(&headers, "upload-offset")
}

fn upload_one(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    id: AttachmentId,
    blob: PreparedBlob,
    progress: &mut dyn FnMut(u64),
) -> Result<(), SyncError> {
    let sha_hex = hex::encode(blob.sha256);
    let metadata = format!(
        "id {},sha256 {}",
        STANDARD.encode(id.to_string()),
        STANDARD.encode(&sha_hex)
    );
    let req = signed(vault, ctx.device, Method::POST, "/v1/uploads", Vec::new())?;
    let (headers, _) = server.send_with(
        req,
        None,
        &tus_headers(&[
            ("Upload-Length", blob.size.to_string()),
            ("Upload-Metadata", metadata),
        ]),
    )?;
    let path = format!("/v1/uploads/{id}");
    let mut offset = header_u64(&headers, "upload-offset")?;
    let mut restarted = false;
    // Parts are read (and decrypted from the staged copy) on a thread of their own while the
    // one before is on its way; after a jump of the server's offset they are read from there.
    let mut parts: Option<(u64, Receiver<std::io::Result<Vec<u8>>>)> = None;
    while offset < blob.size {
        progress(offset);
        let rx = match &parts {
            Some((next, rx)) if *next == offset => rx,
            _ => {
                let reader = vault.with(|v| v.sync_blob_reader(id))??;
                &parts
                    .insert((
                        offset,
                        read_parts(reader, offset, blob.size, server.part_bytes),
                    ))
                    .1
            }
        };
        let part = rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread stopped")))
            .map_err(|source| vigil_store::StoreError::Io {
                context: "reading an upload's staged copy".into(),
                source,
            })?;
        let len = part.len() as u64;
        if let Some((next, _)) = parts.as_mut() {
            *next = offset + len;
        }
        let req = signed(vault, ctx.device, Method::PATCH, &path, part)?;
        let checksum = req.body_sha256_base64().to_owned();
        let sent = server.send_with(
            req,
            Some("application/offset+octet-stream"),
            &tus_headers(&[
                ("Upload-Offset", offset.to_string()),
                ("Upload-Checksum", format!("sha256 {checksum}")),
            ]),
        );
        offset = match sent {
            Ok((h, _)) => header_u64(&h, "upload-offset")?,
            // Another attempt got there first, or the part was damaged on the way: ask.
            Err(SyncError::Refused { status, .. }) if status == 409 || status == 460 => {
                server_offset(vault, server, ctx, &path)?
            }
            // The whole did not match its hash and the server dropped it: once more from 0.
            Err(SyncError::Refused { status: 422, .. }) if !restarted => {
                restarted = true;
                server_offset(vault, server, ctx, &path)?
            }
            Err(e) => return Err(e),
        };
    }
    progress(blob.size);
    let req = signed(
        vault,
        ctx.device,
        Method::GET,
        &format!("{path}/receipt"),
        Vec::new(),
    )?;
    #[derive(serde::Deserialize)]
    struct Answer {
        receipt: SignedWire,
    }
    let answer: Answer = serde_json::from_slice(&server.send(req)?)
        .map_err(|e| SyncError::Malformed(format!("an upload's receipt: {e}")))?;
    let receipt = AttachmentReceipt::from_wire(&answer.receipt, ctx.org, &ctx.settings.receipt_key)
        .map_err(|e| SyncError::BadReceipt(e.to_string()))?;
    let d = &receipt.doc;
    if d.device != ctx.device
        || d.attachment != *id.as_uuid()
        || d.sha256 != sha_hex
        || d.size != blob.size
    {
        return Err(SyncError::BadReceipt(format!(
            "the receipt for attachment {id} names another device, attachment, hash or size"
        )));
    }
    let wire =
        serde_json::to_vec(&answer.receipt).map_err(|e| SyncError::Malformed(e.to_string()))?;
    vault.with(|v| v.sync_blob_record_receipt(id, &wire))??;
    Ok(())
}

/// Reads `reader` from `offset` to `size` in parts of `part` bytes on a thread, one part
/// ahead of the sender; dropping the receiver stops it.
fn read_parts(
    reader: vigil_store::AttachmentReader,
    offset: u64,
    size: u64,
    part: u64,
) -> Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let mut reader = match reader.from_offset(offset) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut at = offset;
        while at < size {
            let len = part.min(size - at);
            let mut bytes = vec![0u8; len as usize];
            let read = reader.read_exact(&mut bytes).map(|()| bytes);
            let failed = read.is_err();
            if tx.send(read).is_err() || failed {
                return;
            }
            at += len;
        }
    });
    rx
}

/// Reads a blob from the server in ranges of the server's part size, each a signed request of its
/// own (the vault is held only to sign). A transport error is kept in `failed`.
struct Download<'a, V: VaultAccess> {
    vault: &'a mut V,
    server: &'a Server,
    path: String,
    length: Option<u64>,
    offset: u64,
    buf: Vec<u8>,
    pos: usize,
    failed: Option<SyncError>,
}

impl<V: VaultAccess> Download<'_, V> {
    fn next_range(&mut self) -> Result<(), SyncError> {
        let end = self.offset + self.server.part_bytes - 1;
        let range = [("Range", format!("bytes={}-{end}", self.offset))];
        // A range cut on its way is asked for again (signed anew: a nonce is used once) a few
        // times before the pass gives up, so a large file survives a flaky link in one pass.
        let mut tries = 0u64;
        let (headers, body) = loop {
            let req = signed(
                self.vault,
                self.server.device,
                Method::GET,
                &self.path,
                Vec::new(),
            )?;
            match self.server.send_with(req, None, &range) {
                Ok(answer) => break answer,
                Err(SyncError::Interrupted(_)) if tries < RANGE_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(200 * tries));
                }
                Err(e) => return Err(e),
            }
        };
        // `Content-Range: bytes A-B/LENGTH`.
        let total = headers
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once('/'))
            .and_then(|(_, l)| l.parse::<u64>().ok())
            .ok_or_else(|| SyncError::Malformed("a blob range without Content-Range".into()))?;
        if self.length.is_some_and(|l| l != total)
            || body.is_empty()
            || self.offset + body.len() as u64 > total
        {
            return Err(SyncError::Malformed("a blob range out of place".into()));
        }
        self.length = Some(total);
        self.offset += body.len() as u64;
        self.buf = body;
        self.pos = 0;
        Ok(())
    }
}

impl<V: VaultAccess> Read for Download<'_, V> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.length.is_some_and(|l| self.offset >= l) {
                return Ok(0);
            }
            if let Err(e) = self.next_range() {
                let message = e.to_string();
                self.failed = Some(e);
                return Err(std::io::Error::other(message));
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// How many times a download range cut on its way is asked for again within a pass.
const RANGE_RETRIES: u64 = 3;

/// What fetching an item's attachments came to.
pub(crate) enum Fetched {
    /// All there: the item can be applied.
    Complete(Staged),
    /// The item is refused (an attachment is not at the server, or is not the file named).
    Refused(Staged, ExchangeError),
}

/// HQ: fetches the attachments a staged feed item names that this vault does not hold, and
/// adds them to it. A transport error stops the pass (the item is tried again next time).
pub(crate) fn fetch_missing(
    vault: &mut impl VaultAccess,
    server: &Server,
    reading: &Reading,
    mut staged: Staged,
    report: &mut Report,
) -> Result<Fetched, SyncError> {
    let wanted = match vault.with(|v| staged.missing_attachments(v))? {
        Ok(w) => w,
        Err(e) => return Ok(Fetched::Refused(staged, e)),
    };
    if wanted.is_empty() {
        return Ok(Fetched::Complete(staged));
    }
    for a in wanted {
        match fetch_one(vault, server, reading, &a) {
            Ok(Ok(s)) => {
                staged.add_attachment(s);
                report.attachments_fetched += 1;
            }
            Ok(Err(e)) => return Ok(Fetched::Refused(staged, e)),
            Err(e) => {
                staged.discard();
                return Err(e);
            }
        }
    }
    Ok(Fetched::Complete(staged))
}

fn fetch_one(
    vault: &mut impl VaultAccess,
    server: &Server,
    reading: &Reading,
    a: &AttachmentRef,
) -> Result<Result<StagedAttachment, ExchangeError>, SyncError> {
    let mut download = Download {
        vault,
        server,
        path: format!("/v1/blobs/{}", a.id),
        length: None,
        offset: 0,
        buf: Vec::new(),
        pos: 0,
        failed: None,
    };
    let opened = vigil_exchange::blob::open_blob(reading, &mut download, a);
    match (opened, download.failed) {
        (Ok(s), _) => Ok(Ok(s)),
        (Err(_), Some(SyncError::Refused { status: 404, .. })) => {
            Ok(Err(vigil_store::StoreError::MissingAttachment {
                revision: "(a feed item)".into(),
                sha256: a.sha256.to_string(),
            }
            .into()))
        }
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Ok(Err(e)),
    }
}

//! The attachment upload row of sync-bench: a sealed record with a large attachment synced by
//! `vigil_sync` (prepared once: age-encrypted to HQ and staged in the vault, then sent in
//! 8 MiB parts by the resumable upload, the receipt checked), against `curl` sending the same
//! number of bytes to the same server's upload in the same parts, with the same signed
//! headers prepared beforehand.

use std::io::{Read, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vigil_crypto::kdf::KdfParams;
use vigil_ledger::http_sig::{RequestLine, sign_request};
use vigil_store::{KdfChoice, SystemClock, Vault};

use crate::{Row, Server, organisation, pass, sync};

const PART: u64 = 8 * 1024 * 1024;

/// `len` bytes of a fast pseudo-random stream (xorshift), read like a file.
struct Media {
    x: u64,
    left: u64,
}

impl Read for Media {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize & !7;
        let n = if n == 0 {
            (self.left as usize).min(out.len())
        } else {
            n
        };
        for c in out[..n].chunks_mut(8) {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            c.copy_from_slice(&self.x.to_le_bytes()[..c.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Seals a record with one attachment of `size` pseudo-random bytes (from `seed`).
fn filmed(mon: &mut Vault, size: u64, seed: u64) -> Result<()> {
    let incident =
        vigil_model::Incident::new(vigil_model::IncidentId::new(), "Meeting filmed", mon.now());
    mon.create_incidents(std::slice::from_ref(&incident))?;
    let media = Media {
        x: seed,
        left: size,
    };
    mon.add_attachment(incident.id, "meeting.mp4", "video/mp4", media, None)?;
    mon.seal(incident.id)?;
    Ok(())
}

pub(crate) fn upload(bin: &Path, root: &Path, mib: u64) -> Result<Row> {
    let dir = root.join("upload");
    std::fs::create_dir(&dir)?;
    let server = Server::start(bin, &dir.join("server"), "127.0.0.1:0")?;
    let (mut hq, mut mon) = organisation(&dir, &server)?;
    filmed(&mut mon, mib << 20, 0x9E37_79B9_7F4A_7C15)?;

    let started = Instant::now();
    let mut prepared = None;
    let mut access = &mut mon;
    let report = vigil_sync::sync(&mut access, &vigil_sync::Options::default(), &mut |p| {
        if matches!(p, vigil_sync::Progress::Uploading { .. }) && prepared.is_none() {
            prepared = Some(started.elapsed());
        }
    })?;
    let total = started.elapsed();
    let prepare = prepared.context("no upload happened")?;
    if report.attachments_sent != 1 || !report.outbox.all_sent() {
        bail!("the attachment was not sent: {report:?}");
    }
    let bytes = report.attachment_bytes_sent;
    let upload = total - prepare;

    // HQ fetches and checks it (reported, not compared).
    let t = Instant::now();
    let pulled = sync(&mut hq)?;
    let fetch = t.elapsed();
    if pulled.attachments_fetched != 1 {
        bail!("HQ fetched {} attachments", pulled.attachments_fetched);
    }
    hq.close()?;
    mon.close()?;

    let curl = curl_reference(&dir, &server, bytes)?;
    let mibs = |b: u64, s: f64| b as f64 / 1048576.0 / s;
    Ok(Row {
        measure: format!(
            "{mib} MiB attachment upload (a sealed record synced until its receipt is checked)"
        ),
        vigil: format!(
            "{:.1} s in all: preparing {:.1} s (age-encrypted to HQ and staged in the vault once, so that a resumed upload sends the same bytes), uploading {:.1} s ({:.0} MiB/s, {:.0}% of curl; {:.0}% counting the preparing). HQ fetched, decrypted and checked it in {:.1} s",
            total.as_secs_f64(),
            prepare.as_secs_f64(),
            upload.as_secs_f64(),
            mibs(bytes, upload.as_secs_f64()),
            100.0 * curl / upload.as_secs_f64(),
            100.0 * curl / total.as_secs_f64(),
            fetch.as_secs_f64(),
        ),
        reference: format!(
            "curl: {curl:.1} s ({:.0} MiB/s) for the same {:.0} MiB in the same 8 MiB signed parts to the same server",
            mibs(bytes, curl),
            bytes as f64 / 1048576.0
        ),
        target: "≥ 80% of curl".into(),
    })
}

/// The typing rows for a 256 MiB attachment: a fresh organisation on `server` whose monitor
/// has one sealed record with it; typing while the monitor's session uploads it, then while
/// HQ's session pulls it.
pub(crate) fn typing(bin: &Path, root: &Path) -> Result<Vec<Row>> {
    let dir = root.join("typing-upload");
    std::fs::create_dir(&dir)?;
    let server = Server::start(bin, &dir.join("server"), "127.0.0.1:0")?;
    let (hq, mut mon) = organisation(&dir, &server)?;
    filmed(&mut mon, 256 << 20, 0x5EED)?;
    mon.close()?;
    hq.close()?;
    Ok(vec![
        crate::typing::during_sync(
            &dir.join("monitor"),
            "the monitor's session prepares and uploads a 256 MiB attachment",
        )?,
        crate::typing::during_sync(
            &dir.join("hq"),
            "HQ's session fetches, decrypts and imports that attachment",
        )?,
    ])
}

/// `curl` uploads `bytes` bytes (age's magic, then random) to the same server by the same
/// protocol: the upload created by a third enrolled device, then one `curl` process sending
/// every part over one connection with headers signed beforehand. Returns the seconds curl
/// took.
fn curl_reference(dir: &Path, server: &Server, bytes: u64) -> Result<f64> {
    let floor = KdfChoice::Params(KdfParams::FLOOR);
    let mut hq = Vault::open(&dir.join("hq"), &pass(), Arc::new(SystemClock))?;
    let invitation = hq.issue_invitation("Reference device", 14)?;
    let profile = hq.org_profile()?.context("profile")?;
    hq.close()?;
    let mut dev = Vault::create(&dir.join("curl"), &pass(), floor, Arc::new(SystemClock))?;
    dev.join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())?;
    sync(&mut dev)?; // registers it
    let device = vigil_ledger::ids::device_id_for(&dev.device_public().sign_pk);
    let settings = profile.server_settings()?.context("server")?;
    let http = vigil_sync::http::Server::new(&settings, device, None)?;

    // The parts, on disk, and their SHA-256 (as the client has them before it sends).
    let parts_dir = dir.join("parts");
    std::fs::create_dir(&parts_dir)?;
    let mut whole = ring::digest::Context::new(&ring::digest::SHA256);
    let mut media = Media {
        x: 0x2545_F491_4F6C_DD1D,
        left: bytes,
    };
    let mut parts = Vec::new();
    let mut offset = 0u64;
    while offset < bytes {
        let len = PART.min(bytes - offset) as usize;
        let mut part = vec![0u8; len];
        media.read_exact(&mut part)?;
        if offset == 0 {
            part[..22].copy_from_slice(b"age-encryption.org/v1\n");
        }
        whole.update(&part);
        let path = parts_dir.join(format!("{offset}"));
        std::fs::write(&path, &part)?;
        parts.push((offset, path, part));
        offset += len as u64;
    }
    let id = uuid::Uuid::now_v7();
    let sha = hex::encode(whole.finish());
    let req = vigil_sync::http::Request::sign(
        device,
        reqwest::Method::POST,
        "/v1/uploads",
        Vec::new(),
        |m| vigil_crypto::sign::Signature(dev.device_sign(m)),
    )?;
    http.send_with(
        req,
        None,
        &[
            ("Tus-Resumable", "1.0.0".into()),
            ("Upload-Length", bytes.to_string()),
            (
                "Upload-Metadata",
                format!(
                    "id {},sha256 {}",
                    STANDARD.encode(id.to_string()),
                    STANDARD.encode(&sha)
                ),
            ),
        ],
    )?;

    // One config for curl: every PATCH, signed now.
    let path = format!("/v1/uploads/{id}");
    let mut config = String::new();
    let created = chrono::Utc::now().timestamp();
    for (n, (offset, file, part)) in parts.iter().enumerate() {
        let headers = sign_request(
            &RequestLine {
                method: "PATCH",
                path: &path,
                query: "",
            },
            part,
            device,
            created,
            &format!("curl-reference-{n:08}"),
            |m| vigil_crypto::sign::Signature(dev.device_sign(m)),
        )?;
        let checksum = STANDARD.encode(vigil_crypto::sign::sha256(part));
        if n > 0 {
            config.push_str("next\n");
        }
        config.push_str(&format!(
            "url = \"{}{path}\"\nrequest = \"PATCH\"\nfail\nsilent\nshow-error\noutput = \"/dev/null\"\n\
             header = \"Tus-Resumable: 1.0.0\"\nheader = \"Upload-Offset: {offset}\"\n\
             header = \"Upload-Checksum: sha256 {checksum}\"\n\
             header = \"Content-Type: application/offset+octet-stream\"\n\
             header = \"Content-Digest: {}\"\nheader = \"Signature-Input: {}\"\nheader = \"Signature: {}\"\n\
             data-binary = \"@{}\"\n",
            server.url,
            headers.content_digest,
            headers.signature_input.replace('"', "\\\""),
            headers.signature,
            file.display()
        ));
    }
    drop(parts);
    let config_path = dir.join("curl.config");
    std::fs::File::create(&config_path)?.write_all(config.as_bytes())?;
    dev.close()?;

    let started = Instant::now();
    let out = std::process::Command::new("curl")
        .arg("-K")
        .arg(&config_path)
        .output()
        .context("running curl")?;
    let took = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("curl failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Every byte arrived and the whole matched: the server has a receipt for it.
    let dev = Vault::open(&dir.join("curl"), &pass(), Arc::new(SystemClock))?;
    let req = vigil_sync::http::Request::sign(
        device,
        reqwest::Method::GET,
        &format!("{path}/receipt"),
        Vec::new(),
        |m| vigil_crypto::sign::Signature(dev.device_sign(m)),
    )?;
    http.send(req).context("the curl upload is not complete")?;
    dev.close()?;
    std::fs::remove_dir_all(&parts_dir)?;
    Ok(took)
}

//! Resumable attachment uploads (tus) and HQ's blob download.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use vigil_crypto::sign::sha256;
use vigil_ledger::signed::AttachmentReceipt;

use crate::harness::{Backend, Device, World};

/// A small deterministic generator, so a failing run can be repeated (`VIGIL_UPLOAD_SEED`).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn seed() -> u64 {
    std::env::var("VIGIL_UPLOAD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// An attachment as a device would upload it: age ciphertext for HQ.
fn attachment(w: &World, rng: &mut Lcg, len: usize) -> Vec<u8> {
    let plain: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    age::encrypt(&w.org.recipient(), &plain).unwrap()
}

fn b64(s: &str) -> String {
    STANDARD.encode(s.as_bytes())
}

/// Creates upload `id` for `data` (not sent); the status.
pub(crate) async fn create(w: &World, d: &Device, id: Uuid, data: &[u8]) -> u16 {
    create_claiming(w, d, id, data.len(), data).await
}

/// Creates upload `id` of `len` bytes whose SHA-256 is said to be `claimed`'s.
async fn create_claiming(w: &World, d: &Device, id: Uuid, len: usize, claimed: &[u8]) -> u16 {
    let (r, h) = d
        .send_headers(
            &w.server,
            "POST",
            "/v1/uploads",
            b"",
            &[
                ("tus-resumable", "1.0.0".into()),
                ("upload-length", len.to_string()),
                (
                    "upload-metadata",
                    format!(
                        "id {},sha256 {}",
                        b64(&id.to_string()),
                        b64(&hex::encode(sha256(claimed)))
                    ),
                ),
            ],
        )
        .await;
    if r.status == 201 {
        assert_eq!(h["location"].to_str().unwrap(), format!("/v1/uploads/{id}"));
    }
    r.status
}

async fn offset(w: &World, d: &Device, id: Uuid) -> u64 {
    let (r, h) = d
        .send_headers(&w.server, "HEAD", &format!("/v1/uploads/{id}"), b"", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    h["upload-offset"].to_str().unwrap().parse().unwrap()
}

fn part_headers(offset: u64, part: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("tus-resumable", "1.0.0".into()),
        ("content-type", "application/offset+octet-stream".into()),
        ("upload-offset", offset.to_string()),
        (
            "upload-checksum",
            format!("sha256 {}", STANDARD.encode(sha256(part))),
        ),
    ]
}

async fn patch(w: &World, d: &Device, id: Uuid, offset: u64, part: &[u8]) -> crate::harness::Reply {
    d.send_headers(
        &w.server,
        "PATCH",
        &format!("/v1/uploads/{id}"),
        part,
        &part_headers(offset, part),
    )
    .await
    .0
}

async fn download(w: &World, d: &Device, id: Uuid, range: Option<&str>) -> (u16, Vec<u8>) {
    let h = d.sign("GET", &format!("/v1/blobs/{id}"), b"");
    let mut req = crate::harness::http()
        .get(format!("{}/v1/blobs/{id}", w.server.url))
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// Uploads `data` whole in one part; returns its id.
pub(crate) async fn upload_whole(w: &World, d: &Device, data: &[u8]) -> Uuid {
    let id = Uuid::now_v7();
    assert_eq!(create(w, d, id, data).await, 201);
    let r = patch(w, d, id, 0, data).await;
    assert_eq!(r.status, 204, "{r:?}");
    id
}

/// An upload whose connection is cut at 20 random byte offsets, and one part sent with a
/// changed byte, completes with the exact SHA-256; each part is stored once.
async fn an_upload_cut_at_20_random_offsets_completes_with_the_exact_sha256(backend: Backend) {
    let w = World::new(backend).await;
    let seed = seed();
    eprintln!("VIGIL_UPLOAD_SEED={seed}");
    let mut rng = Lcg(seed);
    let data = attachment(&w, &mut rng, 3 * 1024 * 1024 + 12_345);
    let id = Uuid::now_v7();
    assert_eq!(create(&w, &w.monitor, id, &data).await, 201);
    // Creating it again (a device that crashed before it saw the answer) finds the same.
    assert_eq!(create(&w, &w.monitor, id, &data).await, 201);

    let mut cuts: Vec<usize> = (0..20)
        .map(|_| 1 + rng.next() as usize % (data.len() - 1))
        .collect();
    cuts.sort_unstable();
    const PART: usize = 256 * 1024;
    let mut corrupted_once = false;
    let mut parts_sent = 0;
    loop {
        let at = offset(&w, &w.monitor, id).await as usize;
        if at == data.len() {
            break;
        }
        let end = (at + PART).min(data.len());
        let part = &data[at..end];
        // Every cut that falls in this part: an attempt dropped there, then a HEAD.
        while let Some(pos) = cuts.first().copied().filter(|c| *c < end) {
            cuts.remove(0);
            let sent = pos.saturating_sub(at);
            w.monitor
                .cut_request(
                    &w.server,
                    "PATCH",
                    &format!("/v1/uploads/{id}"),
                    part,
                    &part_headers(at as u64, part),
                    sent,
                )
                .await;
            assert_eq!(
                offset(&w, &w.monitor, id).await as usize,
                at,
                "a cut part is not kept"
            );
        }
        if !corrupted_once && at > 0 {
            corrupted_once = true;
            let mut bad = part.to_vec();
            let middle = bad.len() / 2;
            bad[middle] ^= 0x01;
            let headers = part_headers(at as u64, part);
            let (r, _) = w
                .monitor
                .send_headers(
                    &w.server,
                    "PATCH",
                    &format!("/v1/uploads/{id}"),
                    &bad,
                    &headers,
                )
                .await;
            assert_eq!((r.status, r.code()), (460, "checksum_mismatch"), "{r:?}");
        }
        let r = patch(&w, &w.monitor, id, at as u64, part).await;
        assert_eq!(r.status, 204, "{r:?}");
        // The same part again, now that the server moved on: refused, not stored twice.
        let again = patch(&w, &w.monitor, id, at as u64, part).await;
        assert_eq!(
            (again.status, again.code()),
            (409, "offset_mismatch"),
            "{again:?}"
        );
        parts_sent += 1;
    }
    assert!(cuts.is_empty());
    assert_eq!(w.store.count("upload_parts"), parts_sent);
    assert_eq!(
        w.store.part_files(&id.to_string()),
        parts_sent as usize,
        "no orphan part"
    );
    assert_eq!(
        w.store.text(&format!(
            "SELECT sum(size) FROM upload_parts WHERE upload = '{id}'"
        )),
        data.len().to_string()
    );

    // HQ downloads it whole, and a range of it.
    let (status, body) = download(&w, &w.hq, id, None).await;
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), sha256(&data));
    let (status, body) = download(&w, &w.hq, id, Some("bytes=262000-800000")).await;
    assert_eq!(status, 206);
    assert_eq!(body, &data[262_000..=800_000]);
    let (status, body) =
        download(&w, &w.hq, id, Some(&format!("bytes={}-", data.len() - 10))).await;
    assert_eq!((status, body.as_slice()), (206, &data[data.len() - 10..]));

    // The monitor holds the server's signed word for the whole attachment.
    let r = w
        .monitor
        .send(&w.server, "GET", &format!("/v1/uploads/{id}/receipt"), b"")
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let key = crate::api::receipt_key(&w).await;
    let receipt =
        AttachmentReceipt::from_wire(&crate::api::wire(&r.body["receipt"]), w.org.id(), &key)
            .unwrap();
    assert_eq!(receipt.doc.attachment, id);
    assert_eq!(receipt.doc.device, w.monitor.id);
    assert_eq!(receipt.doc.size, data.len() as u64);
    assert_eq!(receipt.doc.sha256, hex::encode(sha256(&data)));
}

/// Uploads belong to their device, blobs to HQ, and only ciphertext whose whole matches its
/// SHA-256 is kept.
async fn uploads_refuse_strangers_plaintext_and_a_wrong_whole(backend: Backend) {
    let w = World::new(backend).await;
    let mut rng = Lcg(7);
    let data = attachment(&w, &mut rng, 100_000);
    let id = Uuid::now_v7();
    assert_eq!(create(&w, &w.monitor, id, &data).await, 201);

    // HQ (another device) cannot see or write the monitor's upload.
    let (r, _) =
        w.hq.send_headers(&w.server, "HEAD", &format!("/v1/uploads/{id}"), b"", &[])
            .await;
    assert_eq!(r.status, 404);
    assert_eq!(patch(&w, &w.hq, id, 0, &data).await.status, 404);
    // The same id with another length: refused.
    assert_eq!(create(&w, &w.hq, id, &data[..10]).await, 409);

    // Plaintext is refused at the first byte.
    let plain_id = Uuid::now_v7();
    let plain = b"Ms Osmonova, 12 Chui Avenue".repeat(10);
    assert_eq!(create(&w, &w.monitor, plain_id, &plain).await, 201);
    let r = patch(&w, &w.monitor, plain_id, 0, &plain).await;
    assert_eq!((r.status, r.code()), (400, "not_ciphertext"), "{r:?}");
    assert_eq!(offset(&w, &w.monitor, plain_id).await, 0);

    // Not complete yet: HQ cannot download it; a monitor never can.
    let r = patch(&w, &w.monitor, id, 0, &data[..50_000]).await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(download(&w, &w.hq, id, None).await.0, 404);
    assert_eq!(download(&w, &w.monitor, id, None).await.0, 403);
    // No receipt for half an attachment, and none for another device's.
    let receipt = format!("/v1/uploads/{id}/receipt");
    let r = w.monitor.send(&w.server, "GET", &receipt, b"").await;
    assert_eq!((r.status, r.code()), (409, "incomplete_upload"), "{r:?}");
    let r = w.hq.send(&w.server, "GET", &receipt, b"").await;
    assert_eq!(r.status, 404, "{r:?}");

    // A whole that does not match the SHA-256 it was created with: dropped, back to 0.
    let wrong_id = Uuid::now_v7();
    let mut other = data.clone();
    other[99_000] ^= 1;
    let status = create_claiming(&w, &w.monitor, wrong_id, data.len(), &data).await;
    assert_eq!(status, 201);
    let r = patch(&w, &w.monitor, wrong_id, 0, &other).await;
    assert_eq!((r.status, r.code()), (422, "digest_mismatch"), "{r:?}");
    assert_eq!(offset(&w, &w.monitor, wrong_id).await, 0);
    assert_eq!(w.store.part_files(&wrong_id.to_string()), 0);
    let r = w
        .monitor
        .send(
            &w.server,
            "GET",
            &format!("/v1/uploads/{wrong_id}/receipt"),
            b"",
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "incomplete_upload"), "{r:?}");

    // Without the tus header, or its content type: refused.
    let (r, _) = w
        .monitor
        .send_headers(&w.server, "PATCH", &format!("/v1/uploads/{id}"), b"x", &[])
        .await;
    assert_eq!(r.status, 412, "{r:?}");
}

crate::on_every_backend!(
    an_upload_cut_at_20_random_offsets_completes_with_the_exact_sha256,
    uploads_refuse_strangers_plaintext_and_a_wrong_whole,
);

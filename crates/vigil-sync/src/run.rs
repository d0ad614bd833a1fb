//! One sync pass: register, build items, push them and check their receipts, then pull
//! (acknowledgements and the profile; on HQ the feed, imported and acknowledged).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_exchange::{ExchangeError, Limits, Selection};
use vigil_ledger::signed::{ReceiptDoc, Signed, SignedWire};
use vigil_model::DeviceId;
use vigil_store::StoreError;

use crate::http::Server;
use crate::pass::{Context, Options, Progress, Report, context, signed};
use crate::{SyncError, VaultAccess};

/// Revisions an item carries at most.
pub const ITEM_REVISIONS: usize = 500;
/// Bytes of entries an item carries at most (the server takes 16 MiB an item; a bundle adds
/// its manifest, headers and age's overhead). Attachments are not in items: they go by the
/// resumable upload ([`crate::blobs`]).
pub const ITEM_BYTES: u64 = 12 * 1024 * 1024;
/// Bytes of ciphertext one push carries at most (base64 adds a third; the server takes
/// 64 MiB a request).
const PUSH_BYTES: u64 = 24 * 1024 * 1024;
/// Items one push carries at most.
const PUSH_ITEMS: usize = 100;
/// Feed items asked for at a time.
const FEED_PAGE: usize = 200;

/// One pass (see the module documentation). Returns what it did; on an error, what the server
/// confirmed before it stays recorded, and `last_error` in the vault's sync state says why.
pub fn sync(
    vault: &mut impl VaultAccess,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, SyncError> {
    let result = pass(vault, options, progress);
    let now = chrono::Utc::now().to_rfc3339();
    let recorded = vault.with(|v| -> Result<(), SyncError> {
        match &result {
            Ok(_) => {
                v.set_sync_state("last_success", Some(&now))?;
                v.set_sync_state("last_error", None)?;
            }
            Err(e) => {
                v.set_sync_state("last_error", Some(&format!("{now} {}: {e}", e.code())))?;
            }
        }
        Ok(())
    });
    // The pass's own error says more than a failure to note it (a vault locked meanwhile).
    let report = result?;
    recorded??;
    Ok(report)
}

fn pass(
    vault: &mut impl VaultAccess,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, SyncError> {
    let ctx = vault.with(context)??;
    let server = Server::new(&ctx.settings, ctx.device, options.proxy.as_deref())?;
    // Running from here on, for whoever shows progress.
    progress(Progress::Building { revisions: 0 });
    let mut report = Report {
        server: ctx.settings.url.clone(),
        ..Report::default()
    };
    register(vault, &server, &ctx)?;
    let per_item = options
        .item_revisions
        .unwrap_or(ITEM_REVISIONS)
        .clamp(1, ITEM_REVISIONS);
    let held_back = build(vault, per_item, &mut report, progress)?;
    crate::blobs::upload_all(vault, &server, &ctx, &mut report, progress)?;
    push(vault, &server, &ctx, &mut report, progress)?;
    pull_acks(vault, &server, &ctx, &mut report)?;
    if options.free_delivered && !ctx.is_hq {
        report.attachments_freed = vault.with(|v| v.sync_free_delivered())??.len() as u64;
    }
    pull_profile(vault, &server, &ctx, &mut report)?;
    if ctx.is_hq {
        pull_feed(vault, &server, &mut report, progress)?;
        acknowledge(vault, &server, &ctx, &mut report)?;
    }
    report.outbox = vault.with(|v| v.sync_outbox())??;
    if let Some(e) = held_back {
        return Err(e);
    }
    Ok(report)
}

fn register(vault: &mut impl VaultAccess, server: &Server, ctx: &Context) -> Result<(), SyncError> {
    let key = "registered_at";
    if vault.with(|v| v.sync_state(key))??.as_deref() == Some(ctx.settings.url.as_str()) {
        return Ok(());
    }
    let req = signed(
        vault,
        ctx.device,
        Method::POST,
        "/v1/devices",
        ctx.certificate.clone(),
    )?;
    server.send(req)?;
    vault.with(|v| v.set_sync_state(key, Some(&ctx.settings.url)))??;
    Ok(())
}

/// Seals every revision not yet in an item into items, kept in the vault before anything is
/// sent. A revision too large for an item stops the building (the chain keeps its order); its
/// error is returned after the rest of the pass.
fn build(
    vault: &mut impl VaultAccess,
    per_item: usize,
    report: &mut Report,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<SyncError>, SyncError> {
    let mut built = 0u64;
    loop {
        let planned = vault.with(|v| -> Result<_, SyncError> {
            let ids = v.sync_unqueued_revisions(per_item)?;
            if ids.is_empty() {
                return Ok(None);
            }
            let limits = Limits {
                custody_after: Some(v.sync_custody_through()?),
                max_bytes: Some(ITEM_BYTES),
                attachments_apart: true,
                pad: false,
                max_file: None,
            };
            let dir = v.dir().to_path_buf();
            match vigil_exchange::plan_with(v, &Selection::Revisions(ids), &dir, limits) {
                Ok(plan) => Ok(Some(Ok(plan))),
                Err(ExchangeError::Bundle(vigil_bundle::BundleError::TooLarge(detail))) => {
                    Ok(Some(Err(detail)))
                }
                Err(e) => Err(e.into()),
            }
        })??;
        let plan = match planned {
            None => return Ok(None),
            Some(Ok(plan)) => plan,
            Some(Err(detail)) => return Ok(Some(SyncError::TooLargeForSync(detail))),
        };
        // Encrypting and checking the item happens without the vault.
        let item = plan.write_item()?;
        vault.with(|v| {
            v.sync_add_item(
                item.id,
                &item.bytes,
                &item.sent,
                item.custody_through,
                &item.blobs,
            )
        })??;
        built += item.sent.len() as u64;
        report.items_built += 1;
        progress(Progress::Building { revisions: built });
    }
}

#[derive(Serialize)]
struct PushItem<'a> {
    org: Uuid,
    device: DeviceId,
    seq: u64,
    id: Uuid,
    kind: &'a str,
    sha256: String,
    size: u64,
    ciphertext: String,
}

#[derive(Deserialize)]
struct PushResponse {
    receipts: Vec<SignedWire>,
}

fn push(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    report: &mut Report,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), SyncError> {
    let outbox = vault.with(|v| v.sync_outbox())??;
    let (items_total, bytes_total) = (outbox.items_pending, outbox.bytes_pending);
    loop {
        let mut pending = vault.with(|v| v.sync_pending_items(PUSH_ITEMS))??;
        if pending.is_empty() {
            return Ok(());
        }
        let mut bytes = 0u64;
        let keep = pending
            .iter()
            .take_while(|i| {
                bytes += i.ciphertext.len() as u64;
                bytes <= PUSH_BYTES
            })
            .count()
            .max(1);
        pending.truncate(keep);
        let items: Vec<PushItem<'_>> = pending
            .iter()
            .map(|i| PushItem {
                org: ctx.org,
                device: ctx.device,
                seq: i.seq,
                id: i.id,
                kind: "revision",
                sha256: hex::encode(i.sha256),
                size: i.ciphertext.len() as u64,
                ciphertext: STANDARD.encode(&i.ciphertext),
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "items": items }))
            .map_err(|e| SyncError::Malformed(e.to_string()))?;
        drop(items);
        let req = signed(vault, ctx.device, Method::POST, "/v1/items", body)?;
        let ids: Vec<Uuid> = pending.iter().map(|i| i.id).collect();
        let answer = server.send(req);
        if !matches!(answer, Err(SyncError::Unreachable(_))) {
            vault.with(|v| v.sync_mark_attempted(&ids))??;
        }
        let answer = answer?;
        let resp: PushResponse = serde_json::from_slice(&answer)
            .map_err(|e| SyncError::Malformed(format!("a push's answer: {e}")))?;
        // Every item must be covered by a receipt signed with the pinned key, for this device,
        // with the item's own place, hash and size.
        let mut by_receipt: BTreeMap<usize, Vec<Uuid>> = BTreeMap::new();
        let checked: Vec<Signed<ReceiptDoc>> = resp
            .receipts
            .iter()
            .map(|w| Signed::<ReceiptDoc>::from_wire(w, ctx.org, &ctx.settings.receipt_key))
            .collect::<Result<_, _>>()
            .map_err(|e| SyncError::BadReceipt(e.to_string()))?;
        for item in &pending {
            let found = checked
                .iter()
                .enumerate()
                .find_map(|(n, r)| r.doc.covers(item.id).map(|c| (n, r.doc.device, c.clone())));
            match found {
                Some((n, device, c))
                    if device == ctx.device
                        && c.seq == item.seq
                        && c.sha256 == hex::encode(item.sha256)
                        && c.size == item.ciphertext.len() as u64 =>
                {
                    by_receipt.entry(n).or_default().push(item.id);
                }
                Some(_) => {
                    return Err(SyncError::BadReceipt(format!(
                        "the receipt for item {} names another device, place, hash or size",
                        item.id
                    )));
                }
                None => {
                    return Err(SyncError::BadReceipt(format!(
                        "no receipt covers item {}",
                        item.id
                    )));
                }
            }
        }
        for (n, ids) in by_receipt {
            let wire = serde_json::to_vec(&resp.receipts[n])
                .map_err(|e| SyncError::Malformed(e.to_string()))?;
            vault.with(|v| v.sync_record_receipt(&ids, &wire))??;
        }
        report.items_sent += pending.len() as u64;
        report.revisions_sent += pending.iter().map(|i| i.revisions).sum::<u64>();
        report.bytes_sent += pending
            .iter()
            .map(|i| i.ciphertext.len() as u64)
            .sum::<u64>();
        progress(Progress::Pushing {
            items: report.items_sent,
            items_total,
            bytes: report.bytes_sent,
            bytes_total,
        });
    }
}

#[derive(Deserialize)]
struct AckRow {
    item: String,
    acked_at: String,
}

#[derive(Deserialize)]
struct AcksPage {
    acks: Vec<AckRow>,
    next: i64,
}

fn pull_acks(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    report: &mut Report,
) -> Result<(), SyncError> {
    loop {
        let since: i64 = vault
            .with(|v| v.sync_state("acks_since"))??
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let path = format!("/v1/acks?since={since}");
        let req = signed(vault, ctx.device, Method::GET, &path, Vec::new())?;
        let page: AcksPage = serde_json::from_slice(&server.send(req)?)
            .map_err(|e| SyncError::Malformed(format!("acknowledgements: {e}")))?;
        if page.acks.is_empty() || page.next <= since {
            return Ok(());
        }
        let acks: Vec<(Uuid, String)> = page
            .acks
            .iter()
            .filter_map(|a| Some((a.item.parse().ok()?, a.acked_at.clone())))
            .collect();
        let n = vault.with(|v| -> Result<usize, SyncError> {
            let n = v.sync_record_acks(&acks)?;
            v.set_sync_state("acks_since", Some(&page.next.to_string()))?;
            Ok(n)
        })??;
        report.acks_received += n as u64;
    }
}

/// Takes a newer signed profile of the organisation from the server (checked like any
/// profile: the organisation's own key, never an older version).
fn pull_profile(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    report: &mut Report,
) -> Result<(), SyncError> {
    let req = signed(vault, ctx.device, Method::GET, "/v1/profile", Vec::new())?;
    let text = String::from_utf8(server.send(req)?)
        .map_err(|_| SyncError::Malformed("the profile is not text".into()))?;
    let offered = vigil_ledger::profile::OrgProfile::parse_and_verify(&text)?;
    if offered.to_json_pretty() == ctx.profile_json {
        return Ok(());
    }
    match vault.with(|v| v.join_org(&text))? {
        Ok((_, vigil_store::JoinOutcome::Updated)) => {
            report.profile_updated = true;
            Ok(())
        }
        Ok(_) | Err(StoreError::OlderProfile { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct FeedItem {
    pos: i64,
    device: String,
    id: String,
    sha256: String,
    ciphertext: String,
}

#[derive(Deserialize)]
struct FeedPage {
    items: Vec<FeedItem>,
    next: i64,
}

/// Whether an import failed because of what the item holds (refuse it, go on) rather than
/// because of the vault (stop, try again later).
fn refused_item(e: &ExchangeError) -> bool {
    match e {
        ExchangeError::Bundle(_) | ExchangeError::Ledger(_) => true,
        ExchangeError::Store(s) => matches!(
            s,
            StoreError::RevisionConflict { .. }
                | StoreError::DeviceKeyConflict { .. }
                | StoreError::MissingAttachment { .. }
                | StoreError::TamperedAttachment { .. }
        ),
        _ => false,
    }
}

fn pull_feed(
    vault: &mut impl VaultAccess,
    server: &Server,
    report: &mut Report,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), SyncError> {
    let device = server.device;
    loop {
        let since = vault.with(|v| v.sync_feed_cursor())??;
        let path = format!("/v1/feed?since={since}&limit={FEED_PAGE}");
        let req = signed(vault, device, Method::GET, &path, Vec::new())?;
        let page: FeedPage = serde_json::from_slice(&server.send(req)?)
            .map_err(|e| SyncError::Malformed(format!("the feed: {e}")))?;
        if page.items.is_empty() {
            return Ok(());
        }
        for item in &page.items {
            // (An item's attachments may take a while to fetch.)
            progress(Progress::Pulling {
                items: report.items_imported,
            });
            let id: Uuid = item
                .id
                .parse()
                .map_err(|_| SyncError::Malformed(format!("feed item id {}", item.id)))?;
            let sender: Uuid = item
                .device
                .parse()
                .map_err(|_| SyncError::Malformed(format!("feed device {}", item.device)))?;
            let bytes = STANDARD
                .decode(&item.ciphertext)
                .map_err(|_| SyncError::Malformed(format!("feed item {id} is not base64")))?;
            let imported = if hex::encode(vigil_crypto::sign::sha256(&bytes)) != item.sha256 {
                Err(format!(
                    "item {id}: its SHA-256 is not the one the feed names"
                ))
            } else {
                match import_item(vault, server, &bytes, report)? {
                    Ok(r) => Ok(r),
                    Err(e) if refused_item(&e) => Err(format!("item {id} from {sender}: {e}")),
                    Err(e) => return Err(e.into()),
                }
            };
            let pulled: Vec<(Uuid, Uuid, i64)> = match imported {
                Ok(r) if r.quarantined.is_some() => {
                    report.items_quarantined += 1;
                    Vec::new()
                }
                Ok(r) => {
                    report.items_imported += 1;
                    report.revisions_imported += r.applied as u64;
                    vec![(id, sender, item.pos)]
                }
                Err(why) => {
                    report.items_refused.push(why);
                    Vec::new()
                }
            };
            vault.with(|v| v.sync_record_pulled(&pulled, item.pos))??;
            progress(Progress::Pulling {
                items: report.items_imported,
            });
        }
        vault.with(|v| v.sync_record_pulled(&[], page.next))??;
    }
}

/// Imports a feed item through the bundle path: checked and staged, its attachments fetched
/// from the server (outside the vault), then applied or held in quarantine.
fn import_item(
    vault: &mut impl VaultAccess,
    server: &Server,
    bytes: &[u8],
    report: &mut Report,
) -> Result<Result<vigil_exchange::ImportReport, ExchangeError>, SyncError> {
    // Decrypting and checking every revision happens without the vault.
    let reading = vault.with(|v| vigil_exchange::Reading::of(v))??;
    let staged = match vigil_exchange::stage_bytes_with(&reading, bytes) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    match crate::blobs::fetch_missing(vault, server, &reading, staged, report)? {
        crate::blobs::Fetched::Complete(staged) => {
            Ok(vault.with(|v| vigil_exchange::settle_bytes(v, staged, bytes))?)
        }
        crate::blobs::Fetched::Refused(staged, e) => {
            staged.discard();
            Ok(Err(e))
        }
    }
}

fn acknowledge(
    vault: &mut impl VaultAccess,
    server: &Server,
    ctx: &Context,
    report: &mut Report,
) -> Result<(), SyncError> {
    loop {
        let ids = vault.with(|v| v.sync_unacked_pulled(1000))??;
        if ids.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&serde_json::json!({ "items": ids }))
            .map_err(|e| SyncError::Malformed(e.to_string()))?;
        let req = signed(vault, ctx.device, Method::POST, "/v1/acks", body)?;
        server.send(req)?;
        vault.with(|v| v.sync_mark_acked(&ids))??;
        report.items_acked += ids.len() as u64;
    }
}

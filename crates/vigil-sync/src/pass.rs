//! What a pass works with: how to sync, what it reports as it goes and when done, what it
//! reads of the vault once, and requests signed by the device.

use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;
use vigil_crypto::sign::Signature;
use vigil_ledger::ids::device_id_for;
use vigil_ledger::profile::ServerSettings;
use vigil_model::DeviceId;
use vigil_store::{Outbox, StoreError, Vault};

use crate::http::Request;
use crate::{SyncError, VaultAccess};

/// How to sync.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A SOCKS5 proxy for every request (`socks5h://127.0.0.1:9050` for Tor).
    pub proxy: Option<String>,
    /// Revisions an item carries at most (default 500, `run::ITEM_REVISIONS`); smaller items make
    /// more, shorter requests (the chaos test uses them).
    pub item_revisions: Option<usize>,
    /// Remove from this laptop the content of attachments HQ has acknowledged (off unless
    /// asked: `vigil sync --free-delivered`, or the app's setting). Never anything not sealed.
    pub free_delivered: bool,
}

/// What a pass is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Progress {
    /// Sealing revisions into items.
    Building {
        /// Revisions put in items so far.
        revisions: u64,
    },
    /// Uploading attachments.
    Uploading {
        /// Bytes the server holds so far.
        bytes: u64,
        /// Of all.
        bytes_total: u64,
    },
    /// Sending items.
    Pushing {
        /// Items the server confirmed so far.
        items: u64,
        /// Of all.
        items_total: u64,
        /// Bytes confirmed so far.
        bytes: u64,
        /// Of all.
        bytes_total: u64,
    },
    /// HQ: importing the organisation's feed.
    Pulling {
        /// Items imported so far.
        items: u64,
    },
}

/// What a pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The server.
    pub server: String,
    /// Items built in this pass.
    pub items_built: u64,
    /// Items the server confirmed in this pass (with checked receipts).
    pub items_sent: u64,
    /// Their revisions.
    pub revisions_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Attachments uploaded in this pass (with checked receipts).
    pub attachments_sent: u64,
    /// Their bytes (ciphertext).
    pub attachment_bytes_sent: u64,
    /// HQ: attachments fetched from the server for the items imported.
    pub attachments_fetched: u64,
    /// Attachments whose content was removed from this laptop after HQ's acknowledgement.
    pub attachments_freed: u64,
    /// HQ's acknowledgements received.
    pub acks_received: u64,
    /// Whether a newer organisation profile was taken from the server.
    pub profile_updated: bool,
    /// HQ: feed items imported.
    pub items_imported: u64,
    /// HQ: revisions they brought that were new here.
    pub revisions_imported: u64,
    /// HQ: feed items kept in quarantine (a sender a person must decide on).
    pub items_quarantined: u64,
    /// HQ: feed items refused by the checks, with why (never acknowledged).
    pub items_refused: Vec<String>,
    /// HQ: items acknowledged.
    pub items_acked: u64,
    /// What is still to send after this pass.
    pub outbox: Outbox,
}

/// Everything a pass needs from the vault, read once.
pub(crate) struct Context {
    pub(crate) settings: ServerSettings,
    pub(crate) org: Uuid,
    pub(crate) device: DeviceId,
    pub(crate) certificate: Vec<u8>,
    pub(crate) is_hq: bool,
    pub(crate) profile_json: String,
}

pub(crate) fn context(v: &mut Vault) -> Result<Context, SyncError> {
    let profile = v.org_profile()?.ok_or(StoreError::NoOrganisation)?;
    let settings = profile.server_settings()?.ok_or(SyncError::NoServer)?;
    let is_hq = v.is_hq()?;
    let certificate = if is_hq {
        v.hq_certificate()?.bytes().to_vec()
    } else {
        v.certificate()?
            .ok_or(SyncError::NotEnrolled)?
            .bytes()
            .to_vec()
    };
    Ok(Context {
        settings,
        org: profile.org_id,
        device: device_id_for(&v.device_public().sign_pk),
        certificate,
        is_hq,
        profile_json: profile.to_json_pretty(),
    })
}

pub(crate) fn signed(
    vault: &mut impl VaultAccess,
    device: DeviceId,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<Request, SyncError> {
    // The body's digest is computed here; the vault is held only to sign the few bytes of the
    // signature base (an upload part is 8 MiB).
    let mut failed = None;
    let req = Request::sign(device, method, path, body, |b| {
        vault
            .with(|v| Signature(v.device_sign(b)))
            .unwrap_or_else(|e| {
                failed = Some(e);
                Signature([0u8; 64])
            })
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(req),
    }
}

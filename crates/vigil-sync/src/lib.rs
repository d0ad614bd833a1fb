//! The sync client: a vault's sealed records to its organisation's server, and back.
//!
//! | module | what |
//! |---|---|
//! | [`tls`] | TLS pinned to the key the organisation's profile names |
//! | [`http`] | signed requests (the server's RFC 9421 profile), SOCKS5 for Tor |
//! | [`run`] | one pass: build items, push them, check receipts, pull, acknowledge |
//! | [`blobs`] | attachments by the resumable upload (tus), and HQ's ranged download |
//! | [`mod@watch`] | passes that start by themselves: probes with backoff and jitter, then a pass |
//! | [`netwatch`] | the system's word that the network changed (Linux: rtnetlink) |
//!
//! Every sealed revision of this device travels in an **item**: a bundle, exactly as on a
//! stick (age-encrypted to HQ's readers, signed manifest, certificate) but for its attachments,
//! which go apart by the server's resumable upload before the item that names them; held in
//! the vault from
//! the moment it is built until the server's receipt for it is checked against the
//! organisation's pinned receipt key (see `vigil_store`'s `sync` module). HQ pulls the feed and
//! imports each item through the same code as a bundle file
//! ([`vigil_exchange::import_bytes`]), then acknowledges it; the monitor reads the
//! acknowledgements. The server sees ciphertext and routing metadata only.
//!
//! The vault is held only for short reads and writes between network calls ([`VaultAccess`]):
//! the app keeps it free for typing while a sync runs.

#![forbid(unsafe_code)]

pub mod blobs;
pub mod http;
pub mod netwatch;
mod pass;
pub mod run;
pub mod tls;
pub mod watch;

pub use pass::{Options, Progress, Report};
pub use run::sync;
pub use tls::{pin_of_der, pin_of_pem};
pub use watch::{Event, Schedule, watch};

use vigil_store::Vault;

/// Short, exclusive use of the vault between network calls. The CLI owns its vault; the app
/// lends its session's for the length of one closure, and refuses ([`SyncError::Locked`]) once
/// the person locked it.
pub trait VaultAccess {
    /// Runs `f` with the vault.
    fn with<R>(&mut self, f: impl FnOnce(&mut Vault) -> R) -> Result<R, SyncError>;
}

impl VaultAccess for &mut Vault {
    fn with<R>(&mut self, f: impl FnOnce(&mut Vault) -> R) -> Result<R, SyncError> {
        Ok(f(self))
    }
}

/// Why a sync did not complete. Nothing half-done is kept: what the server confirmed is
/// recorded, the rest is tried again on the next pass.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The organisation's profile names no server.
    #[error(
        "the organisation's profile names no server: HQ sets it with `vigil org server` and hands out the new profile"
    )]
    NoServer,
    /// This device has no certificate to present.
    #[error("this device is not enrolled in the organisation: enrol it with HQ's invitation first")]
    NotEnrolled,
    /// The server could not be reached (down, no network, a timeout): try again later.
    #[error("the server could not be reached: {0}; everything stays queued and is sent later")]
    Unreachable(String),
    /// The connection broke after it was made (a reset, a timeout): what was being sent may or
    /// may not have arrived; the retry sends the same bytes, which the server stores once.
    #[error(
        "the connection to the server broke: {0}; everything not confirmed is sent again later"
    )]
    Interrupted(String),
    /// The server presented a key other than the pinned one.
    #[error(
        "the server presented a TLS key that is not the one the organisation pinned: refused (someone may be intercepting the connection, or the server's key changed without a new profile)"
    )]
    WrongServerKey,
    /// The proxy setting is unusable.
    #[error("the proxy is unusable: {0}")]
    Proxy(String),
    /// A certificate file is unusable.
    #[error("{0}")]
    Certificate(String),
    /// The server refused a request.
    #[error("the server refused the request ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// A receipt the server sent is not what it must be (forged, another key, not covering).
    #[error("the server's receipt is refused: {0}; nothing is marked as held by the server")]
    BadReceipt(String),
    /// The server sent something malformed.
    #[error("the server's answer is malformed: {0}")]
    Malformed(String),
    /// This computer could not prepare a request (no randomness for a nonce, say).
    #[error("this computer could not prepare the request: {0}")]
    Local(String),
    /// A sealed record's text is too large for one item (attachments go apart and are not
    /// counted): it, and everything sealed after it, wait.
    #[error(
        "{0}; a record this large does not travel by sync, so it and every record sealed after it wait here: take them to HQ on a stick (vigil export --unsent)"
    )]
    TooLargeForSync(String),
    /// The vault was locked while the sync ran: it stops, and goes on after the next unlock.
    #[error("the vault was locked; sync goes on once it is unlocked")]
    Locked,
    /// The vault.
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
    /// Building or importing a bundle.
    #[error(transparent)]
    Exchange(#[from] vigil_exchange::ExchangeError),
    /// A signed document.
    #[error(transparent)]
    Ledger(#[from] vigil_ledger::LedgerError),
}

impl SyncError {
    /// A stable code for `--json` and translations.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NoServer => "no_server",
            SyncError::NotEnrolled => "not_enrolled",
            SyncError::Unreachable(_) => "server_unreachable",
            SyncError::Interrupted(_) => "connection_lost",
            SyncError::WrongServerKey => "wrong_server_key",
            SyncError::Proxy(_) => "bad_proxy",
            SyncError::Certificate(_) => "bad_certificate",
            SyncError::Refused { .. } => "server_refused",
            SyncError::BadReceipt(_) => "bad_receipt",
            SyncError::Malformed(_) => "server_malformed",
            SyncError::Local(_) => "local",
            SyncError::Locked => "locked",
            SyncError::TooLargeForSync(_) => "too_large_for_sync",
            SyncError::Store(e) => e.code(),
            SyncError::Exchange(e) => e.code(),
            SyncError::Ledger(e) => e.code(),
        }
    }

    /// Whether trying again later may succeed without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable(_) | SyncError::Interrupted(_) => true,
            SyncError::Refused { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    fn from_transport(e: reqwest::Error) -> SyncError {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.to_string().contains(tls::WRONG_KEY) {
                return SyncError::WrongServerKey;
            }
            source = s.source();
        }
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_connect() {
            SyncError::Unreachable(chain)
        } else {
            SyncError::Interrupted(chain)
        }
    }
}

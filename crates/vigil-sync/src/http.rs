//! Signed requests to the organisation's server (the RFC 9421 profile of
//! [`vigil_ledger::http_sig`]), over TLS pinned to the profile's key, optionally through a
//! SOCKS5 proxy.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use vigil_crypto::sign::Signature;
use vigil_ledger::http_sig::{RequestLine, SignedHeaders, sign_request};
use vigil_ledger::profile::ServerSettings;
use vigil_model::DeviceId;

use crate::{SyncError, tls};

/// How long a request may take before the attempt counts as failed (a batch of items is at
/// most a few MiB; a slow link gets this long).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The bytes of one upload part, and of one range of a download.
pub const PART_BYTES: u64 = 8 * 1024 * 1024;
/// The same through a proxy (Tor): a part must arrive within a request's time limit.
pub const PROXIED_PART_BYTES: u64 = 1024 * 1024;
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection to the server, for one device.
#[derive(Debug)]
pub struct Server {
    client: Client,
    base: String,
    /// The device that signs (its certificate's id).
    pub device: DeviceId,
    /// The bytes of an upload part or a download range: [`PART_BYTES`], or
    /// [`PROXIED_PART_BYTES`] through a proxy (Tor carries 8 MiB in well over a
    /// request's time limit).
    pub part_bytes: u64,
}

/// A request, signed, ready to send without the vault.
#[derive(Debug)]
pub struct Request {
    method: reqwest::Method,
    path_and_query: String,
    body: Vec<u8>,
    headers: SignedHeaders,
}

impl Request {
    /// Signs `method path?query` with `body` by the device's key (`sign`), now.
    pub fn sign(
        device: DeviceId,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
        sign: impl FnOnce(&[u8]) -> Signature,
    ) -> Result<Request, SyncError> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut nonce = [0u8; 16];
        vigil_crypto::secret::random_bytes(&mut nonce)
            .map_err(|e| SyncError::Local(format!("no randomness for a nonce: {e}")))?;
        let line = RequestLine {
            method: method.as_str(),
            path,
            query,
        };
        let headers = sign_request(
            &line,
            &body,
            device,
            chrono::Utc::now().timestamp(),
            &hex::encode(nonce),
            sign,
        )
        .map_err(|e| SyncError::Local(e.to_string()))?;
        Ok(Request {
            method,
            path_and_query: path_and_query.to_owned(),
            body,
            headers,
        })
    }
}

impl Request {
    /// The body's SHA-256 in base64, as its signed `Content-Digest` names it (an upload part's
    /// `Upload-Checksum` is the same hash).
    pub fn body_sha256_base64(&self) -> &str {
        self.headers
            .content_digest
            .strip_prefix("sha-256=:")
            .and_then(|d| d.strip_suffix(':'))
            .unwrap_or_default()
    }
}

impl Server {
    /// A client for `settings` (TLS pinned to its key; plain HTTP only to loopback, as the
    /// profile's rules allow), through `proxy` (`socks5h://host:port`) if given.
    pub fn new(
        settings: &ServerSettings,
        device: DeviceId,
        proxy: Option<&str>,
    ) -> Result<Server, SyncError> {
        settings.check().map_err(SyncError::Ledger)?;
        // reqwest builds its TLS on rustls's process-wide provider even for plain HTTP: ring,
        // like everything else here (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent("vigil")
            .no_proxy();
        if let Some(pin) = &settings.pin {
            builder = builder.tls_backend_preconfigured(tls::pinned_config(pin)?);
        }
        if let Some(p) = proxy {
            if !(p.starts_with("socks5h://") || p.starts_with("socks5://")) {
                return Err(SyncError::Proxy(format!(
                    "{p}: give a SOCKS5 proxy as socks5h://host:port (Tor: socks5h://127.0.0.1:9050)"
                )));
            }
            let proxy =
                reqwest::Proxy::all(p).map_err(|e| SyncError::Proxy(format!("{p}: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| SyncError::Local(format!("{e}")))?;
        Ok(Server {
            client,
            base: settings.url.trim_end_matches('/').to_owned(),
            device,
            part_bytes: if proxy.is_some() {
                PROXIED_PART_BYTES
            } else {
                PART_BYTES
            },
        })
    }

    /// Sends a signed request; a reply other than 2xx is [`SyncError::Refused`].
    pub fn send(&self, req: Request) -> Result<Vec<u8>, SyncError> {
        let url = format!("{}{}", self.base, req.path_and_query);
        let resp = self
            .client
            .request(req.method, url)
            .header("Content-Digest", req.headers.content_digest)
            .header("Signature-Input", req.headers.signature_input)
            .header("Signature", req.headers.signature)
            .header("Content-Type", "application/json")
            .body(req.body)
            .send()
            .map_err(SyncError::from_transport)?;
        read(resp)
    }

    /// Sends a signed request with `content_type` and `headers` besides the signature's (the
    /// upload protocol's); returns the reply's headers and body. A reply other than 2xx is
    /// [`SyncError::Refused`].
    pub fn send_with(
        &self,
        req: Request,
        content_type: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), SyncError> {
        let url = format!("{}{}", self.base, req.path_and_query);
        let mut builder = self
            .client
            .request(req.method, url)
            .header("Content-Digest", req.headers.content_digest)
            .header("Signature-Input", req.headers.signature_input)
            .header("Signature", req.headers.signature);
        if let Some(t) = content_type {
            builder = builder.header("Content-Type", t);
        }
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let resp = builder
            .body(req.body)
            .send()
            .map_err(SyncError::from_transport)?;
        let headers = resp.headers().clone();
        Ok((headers, read(resp)?))
    }

    /// `GET /healthz`: whether the server answers at all (the cheap probe).
    pub fn probe(&self) -> Result<(), SyncError> {
        let resp = self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .map_err(SyncError::from_transport)?;
        read(resp).map(|_| ())
    }
}

fn read(resp: Response) -> Result<Vec<u8>, SyncError> {
    let status = resp.status();
    let body = resp.bytes().map_err(SyncError::from_transport)?.to_vec();
    if status.is_success() {
        return Ok(body);
    }
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(SyncError::Refused {
        status: status.as_u16(),
        code: problem
            .get("code")
            .and_then(|c| c.as_str())
            .unwrap_or("http")
            .to_owned(),
        message: problem
            .get("message")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| status.to_string()),
    })
}

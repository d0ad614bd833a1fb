//! The signature every request to the organisation's server carries: HTTP Message Signatures
//! (RFC 9421) with an Ed25519 device key, over a body digest (RFC 9530).
//!
//! Vigil signs and accepts one strict profile, so that there is exactly one way to read a
//! signature and nothing left to negotiate:
//!
//! ```text
//! Content-Digest: sha-256=:<base64 of the body's SHA-256>:
//! Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix seconds>;nonce="<16 to 64 of A-Z a-z 0-9 - _>";keyid="<device id>";alg="ed25519"
//! Signature: sig1=:<base64 of the 64-byte Ed25519 signature>:
//! ```
//!
//! The signature base is RFC 9421's, line by line:
//!
//! ```text
//! "@method": POST
//! "@path": /v1/items
//! "@query": ?since=42
//! "content-digest": sha-256=:…:
//! "@signature-params": ("@method" "@path" "@query" "content-digest");created=…;nonce="…";keyid="…";alg="ed25519"
//! ```
//!
//! A request without a body signs the digest of the empty body. The server refuses anything
//! else: another label, other components, parameters in another order, a second signature.
//! Whether `created` is recent and the nonce unused is the server's to check
//! ([`SignatureClaims::check_fresh`] and its own nonce store).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vigil_crypto::sign::{self, SignPublicKey, Signature};
use vigil_model::DeviceId;

/// The signature's label.
pub const LABEL: &str = "sig1";
/// The covered components, serialised as RFC 9421 writes them.
pub const COMPONENTS: &str = r#"("@method" "@path" "@query" "content-digest")"#;
/// How far `created` may be from the server's clock, either way, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;
/// Shortest and longest nonce.
pub const NONCE_CHARS: std::ops::RangeInclusive<usize> = 16..=64;
/// The largest header value read (a real one is under 300 bytes).
const MAX_HEADER_BYTES: usize = 1024;

/// Why a request's signature was refused. Each has a stable [`code`](HttpSigError::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSigError {
    /// A header of the profile is missing.
    #[error("the request is not signed: the {0} header is missing")]
    Missing(&'static str),
    /// A header is not in the profile's form.
    #[error("the request's {header} header is not in Vigil's form: {detail}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The body is not the one the digest names.
    #[error("the request's body does not match its Content-Digest")]
    DigestMismatch,
    /// The signature does not verify with the device's key.
    #[error("the request's signature does not verify with the device's key")]
    BadSignature,
    /// `created` is too far from the server's clock.
    #[error(
        "the request was signed at {created}, more than {MAX_SKEW_SECS} s from the server's clock ({now}); check the device's clock"
    )]
    Stale {
        /// When it says it was signed.
        created: i64,
        /// The server's time.
        now: i64,
    },
}

impl HttpSigError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            HttpSigError::Missing(_) => "unsigned",
            HttpSigError::Malformed { .. } => "signature_malformed",
            HttpSigError::DigestMismatch => "digest_mismatch",
            HttpSigError::BadSignature => "bad_signature",
            HttpSigError::Stale { .. } => "stale_signature",
        }
    }
}

/// The request as the signature covers it.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: &'a str,
    /// The path, as sent (percent-encoding kept), without the query.
    pub path: &'a str,
    /// The query without its `?`; empty when there is none.
    pub query: &'a str,
}

/// The three headers a signed request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Content-Digest`.
    pub content_digest: String,
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
}

/// `Content-Digest` of a body (RFC 9530, SHA-256).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sign::sha256(body)))
}

fn params(created: i64, nonce: &str, keyid: DeviceId) -> String {
    format!(r#"{COMPONENTS};created={created};nonce="{nonce}";keyid="{keyid}";alg="ed25519""#)
}

fn signature_base(line: &RequestLine<'_>, digest: &str, params: &str) -> String {
    format!(
        "\"@method\": {}\n\"@path\": {}\n\"@query\": ?{}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        line.method.to_ascii_uppercase(),
        line.path,
        line.query
    )
}

fn valid_nonce(nonce: &str) -> bool {
    NONCE_CHARS.contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Signs a request: `sign` is the device key's signing function, `keyid` its device id,
/// `created` the time in Unix seconds and `nonce` a fresh random string of the profile's form.
pub fn sign_request(
    line: &RequestLine<'_>,
    body: &[u8],
    keyid: DeviceId,
    created: i64,
    nonce: &str,
    sign: impl FnOnce(&[u8]) -> Signature,
) -> Result<SignedHeaders, HttpSigError> {
    if !valid_nonce(nonce) {
        return Err(HttpSigError::Malformed {
            header: "Signature-Input",
            detail: "the nonce must be 16 to 64 letters, digits, '-' or '_'".into(),
        });
    }
    let content_digest = content_digest(body);
    let params = params(created, nonce, keyid);
    let signature = sign(signature_base(line, &content_digest, &params).as_bytes());
    Ok(SignedHeaders {
        content_digest,
        signature_input: format!("{LABEL}={params}"),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(signature.0)),
    })
}

/// What a request's signature headers claim, read but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureClaims {
    /// The device that says it signed.
    pub keyid: DeviceId,
    /// When, in Unix seconds.
    pub created: i64,
    /// Its nonce.
    pub nonce: String,
    params: String,
    signature: Signature,
    content_digest: String,
}

fn malformed(header: &'static str, detail: impl Into<String>) -> HttpSigError {
    HttpSigError::Malformed {
        header,
        detail: detail.into(),
    }
}

/// A quoted string parameter `;name="value"` at the start of `rest`; the value and the rest.
fn quoted<'a>(rest: &'a str, name: &str) -> Result<(&'a str, &'a str), HttpSigError> {
    let rest = rest
        .strip_prefix(';')
        .and_then(|r| r.strip_prefix(name))
        .and_then(|r| r.strip_prefix("=\""))
        .ok_or_else(|| malformed("Signature-Input", format!("expected ;{name}=\"…\"")))?;
    let end = rest
        .find('"')
        .ok_or_else(|| malformed("Signature-Input", format!("{name} is not closed")))?;
    Ok((&rest[..end], &rest[end + 1..]))
}

impl SignatureClaims {
    /// Reads the `Signature-Input`, `Signature` and `Content-Digest` headers, refusing anything
    /// outside the profile.
    pub fn parse(
        signature_input: Option<&str>,
        signature: Option<&str>,
        content_digest: Option<&str>,
    ) -> Result<SignatureClaims, HttpSigError> {
        let input = signature_input.ok_or(HttpSigError::Missing("Signature-Input"))?;
        let signature = signature.ok_or(HttpSigError::Missing("Signature"))?;
        let digest = content_digest.ok_or(HttpSigError::Missing("Content-Digest"))?;
        for (header, value) in [
            ("Signature-Input", input),
            ("Signature", signature),
            ("Content-Digest", digest),
        ] {
            if value.len() > MAX_HEADER_BYTES || !value.is_ascii() {
                return Err(malformed(header, "too long or not ASCII"));
            }
        }
        let params = input
            .strip_prefix(LABEL)
            .and_then(|r| r.strip_prefix('='))
            .ok_or_else(|| {
                malformed("Signature-Input", format!("one signature labelled {LABEL}"))
            })?;
        let rest = params.strip_prefix(COMPONENTS).ok_or_else(|| {
            malformed(
                "Signature-Input",
                format!("the covered components must be {COMPONENTS}"),
            )
        })?;
        let rest = rest
            .strip_prefix(";created=")
            .ok_or_else(|| malformed("Signature-Input", "expected ;created="))?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(malformed("Signature-Input", "created is not a time"));
        }
        let created: i64 = rest[..digits]
            .parse()
            .map_err(|_| malformed("Signature-Input", "created is not a time"))?;
        let (nonce, rest) = quoted(&rest[digits..], "nonce")?;
        if !valid_nonce(nonce) {
            return Err(malformed(
                "Signature-Input",
                "the nonce must be 16 to 64 letters, digits, '-' or '_'",
            ));
        }
        let (keyid, rest) = quoted(rest, "keyid")?;
        let keyid: DeviceId = keyid
            .parse()
            .map_err(|_| malformed("Signature-Input", "keyid is not a device id"))?;
        let (alg, rest) = quoted(rest, "alg")?;
        if alg != "ed25519" || !rest.is_empty() {
            return Err(malformed(
                "Signature-Input",
                "alg must be \"ed25519\" and come last",
            ));
        }
        let sig_b64 = signature
            .strip_prefix(LABEL)
            .and_then(|r| r.strip_prefix("=:"))
            .and_then(|r| r.strip_suffix(':'))
            .ok_or_else(|| malformed("Signature", format!("one signature labelled {LABEL}")))?;
        let sig_bytes = STANDARD
            .decode(sig_b64)
            .map_err(|_| malformed("Signature", "not base64"))?;
        let signature = Signature::from_slice(&sig_bytes)
            .map_err(|_| malformed("Signature", "not an Ed25519 signature"))?;
        let digest_b64 = digest
            .strip_prefix("sha-256=:")
            .and_then(|r| r.strip_suffix(':'))
            .ok_or_else(|| malformed("Content-Digest", "one sha-256 digest"))?;
        if STANDARD.decode(digest_b64).map(|d| d.len()) != Ok(32) {
            return Err(malformed("Content-Digest", "not a SHA-256 digest"));
        }
        Ok(SignatureClaims {
            keyid,
            created,
            nonce: nonce.to_owned(),
            params: params.to_owned(),
            signature,
            content_digest: digest.to_owned(),
        })
    }

    /// Checks that `created` is within [`MAX_SKEW_SECS`] of `now` (Unix seconds).
    pub fn check_fresh(&self, now: i64) -> Result<(), HttpSigError> {
        if (now - self.created).abs() > MAX_SKEW_SECS {
            return Err(HttpSigError::Stale {
                created: self.created,
                now,
            });
        }
        Ok(())
    }

    /// Checks the body against the digest, then the signature with the device's key `pk`.
    pub fn verify(
        &self,
        line: &RequestLine<'_>,
        body: &[u8],
        pk: &SignPublicKey,
    ) -> Result<(), HttpSigError> {
        if content_digest(body) != self.content_digest {
            return Err(HttpSigError::DigestMismatch);
        }
        let base = signature_base(line, &self.content_digest, &self.params);
        sign::verify(pk, base.as_bytes(), &self.signature).map_err(|_| HttpSigError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vigil_crypto::sign::DeviceKeys;

    const LINE: RequestLine<'static> = RequestLine {
        method: "POST",
        path: "/v1/items",
        query: "",
    };
    const NONCE: &str = "0123456789abcdef";

    fn signed(keys: &DeviceKeys, body: &[u8]) -> SignedHeaders {
        let id = crate::ids::device_id_for(&keys.public().sign_pk);
        sign_request(&LINE, body, id, 1_700_000_000, NONCE, |m| keys.sign(m)).unwrap()
    }

    fn claims(h: &SignedHeaders) -> Result<SignatureClaims, HttpSigError> {
        SignatureClaims::parse(
            Some(&h.signature_input),
            Some(&h.signature),
            Some(&h.content_digest),
        )
    }

    #[test]
    fn a_signed_request_verifies_and_nothing_else_does() {
        let keys = DeviceKeys::generate().unwrap();
        let pk = keys.public().sign_pk;
        let h = signed(&keys, b"body");
        let c = claims(&h).unwrap();
        assert_eq!(c.keyid, crate::ids::device_id_for(&pk));
        assert_eq!(c.nonce, NONCE);
        c.verify(&LINE, b"body", &pk).unwrap();
        assert_eq!(
            c.verify(&LINE, b"bodY", &pk).unwrap_err(),
            HttpSigError::DigestMismatch
        );
        for line in [
            RequestLine {
                method: "PUT",
                ..LINE
            },
            RequestLine {
                path: "/v1/feed",
                ..LINE
            },
            RequestLine {
                query: "since=1",
                ..LINE
            },
        ] {
            assert_eq!(
                c.verify(&line, b"body", &pk).unwrap_err(),
                HttpSigError::BadSignature
            );
        }
        let other = DeviceKeys::generate().unwrap().public().sign_pk;
        assert_eq!(
            c.verify(&LINE, b"body", &other).unwrap_err(),
            HttpSigError::BadSignature
        );
    }

    #[test]
    fn the_digest_and_the_signature_cannot_be_swapped_together() {
        // An attacker who changes the body and recomputes the digest still lacks the key.
        let keys = DeviceKeys::generate().unwrap();
        let mut h = signed(&keys, b"body");
        h.content_digest = content_digest(b"forged");
        let c = claims(&h).unwrap();
        assert_eq!(
            c.verify(&LINE, b"forged", &keys.public().sign_pk)
                .unwrap_err(),
            HttpSigError::BadSignature
        );
    }

    #[test]
    fn anything_outside_the_profile_is_refused() {
        let keys = DeviceKeys::generate().unwrap();
        let h = signed(&keys, b"");
        let cases = [
            h.signature_input.replacen("sig1", "sig2", 1),
            h.signature_input.replace(r#" "@query""#, ""),
            h.signature_input.replace(";alg=\"ed25519\"", ""),
            h.signature_input.replace("ed25519", "hmac-sha256"),
            format!("{};expires=1", h.signature_input),
            h.signature_input.replace(NONCE, "short"),
            h.signature_input.replace(NONCE, "0123456789abcde\""),
            h.signature_input
                .replace("created=1700000000", "created=-1"),
            h.signature_input
                .replace("created=1700000000", "created=1e9"),
            format!("{}, sig2=(\"@method\")", h.signature_input),
        ];
        for input in cases {
            let e =
                SignatureClaims::parse(Some(&input), Some(&h.signature), Some(&h.content_digest))
                    .unwrap_err();
            assert_eq!(e.code(), "signature_malformed", "{input}: {e}");
        }
        let e = SignatureClaims::parse(None, Some(&h.signature), Some(&h.content_digest));
        assert_eq!(e.unwrap_err().code(), "unsigned");
        let e = SignatureClaims::parse(
            Some(&h.signature_input),
            Some(&h.signature),
            Some("sha-512=:AAAA:"),
        );
        assert_eq!(e.unwrap_err().code(), "signature_malformed");
        let e = SignatureClaims::parse(
            Some(&h.signature_input),
            Some("sig1=:AAAA:"),
            Some(&h.content_digest),
        );
        assert_eq!(e.unwrap_err().code(), "signature_malformed");
    }

    #[test]
    fn old_and_future_signatures_are_stale() {
        let keys = DeviceKeys::generate().unwrap();
        let c = claims(&signed(&keys, b"")).unwrap();
        c.check_fresh(1_700_000_000 + MAX_SKEW_SECS).unwrap();
        c.check_fresh(1_700_000_000 - MAX_SKEW_SECS).unwrap();
        assert_eq!(
            c.check_fresh(1_700_000_000 + MAX_SKEW_SECS + 1)
                .unwrap_err()
                .code(),
            "stale_signature"
        );
        assert_eq!(
            c.check_fresh(1_700_000_000 - MAX_SKEW_SECS - 1)
                .unwrap_err()
                .code(),
            "stale_signature"
        );
    }

    #[test]
    fn the_signature_base_is_rfc_9421s() {
        let keys = DeviceKeys::generate().unwrap();
        let id = crate::ids::device_id_for(&keys.public().sign_pk);
        let line = RequestLine {
            method: "get",
            path: "/v1/feed",
            query: "since=7",
        };
        let p = params(1_700_000_000, NONCE, id);
        assert_eq!(
            signature_base(&line, &content_digest(b""), &p),
            format!(
                "\"@method\": GET\n\"@path\": /v1/feed\n\"@query\": ?since=7\n\"content-digest\": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\n\"@signature-params\": (\"@method\" \"@path\" \"@query\" \"content-digest\");created=1700000000;nonce=\"{NONCE}\";keyid=\"{id}\";alg=\"ed25519\""
            )
        );
    }
}

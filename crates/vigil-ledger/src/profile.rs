//! The organisation profile: what a monitor's vault needs to know of its organisation.
//!
//! HQ creates it with the organisation's keys and hands the file to monitors in person:
//!
//! ```json
//! {"format":"vigil-org-profile","version":1,"org_id":"<uuid>","name":"...",
//!  "hq_recipients":["age1..."],"org_sign_pk":"<64 hex>","server":null,"server_pin":null,
//!  "created_at":"<RFC 3339>","signature":"<128 hex>"}
//! ```
//!
//! `signature` is Ed25519, by the key `org_sign_pk`, over the SHA-256 of the canonical JSON of
//! the profile without its `signature` field. A profile carries its own key, so its signature
//! proves integrity, not who made it: monitors compare the key with HQ's by phone. Every
//! invitation, certificate and grant of the organisation is signed by that key.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, AgeRecipient, OrgKeys, SignPublicKey, Signature};

use crate::{LedgerError, Result, canonical};

/// The largest organisation document read (a profile, an invitation, a certificate): real ones
/// are about 1 KiB.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The `format` of an org profile.
pub const PROFILE_FORMAT: &str = "vigil-org-profile";
/// The newest profile version this build reads. It writes version 1 for a profile without a
/// server (byte for byte what earlier builds wrote) and version 2 for one that names a server.
pub const PROFILE_VERSION: u32 = 2;

const WHAT: &str = "the organisation profile";

/// A verified organisation profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgProfile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// [`PROFILE_VERSION`].
    pub version: u32,
    /// Identifies the organisation.
    pub org_id: Uuid,
    /// Its name.
    pub name: String,
    /// The HQ readers' age recipients: every bundle is encrypted to all of them.
    pub hq_recipients: Vec<String>,
    /// The Ed25519 key that signs organisation documents.
    #[serde(with = "hex::serde")]
    pub org_sign_pk: SignPublicKey,
    /// The sync server's address: `https://…`, or `http://` to a loopback address (tests).
    pub server: Option<String>,
    /// The pin of the sync server's TLS key: SHA-256 of its SubjectPublicKeyInfo, 64 hex
    /// digits. Required for `https://`.
    pub server_pin: Option<String>,
    /// The server's receipt key (Ed25519, 64 hex digits, from `vigil-server admin key`): a
    /// receipt signed by another key is refused. Version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_receipt_key: Option<String>,
    /// When this version of the profile was signed; an older version never replaces a newer
    /// one. Version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// When the organisation was created.
    pub created_at: DateTime<FixedOffset>,
    /// Signature over the rest (see the module documentation).
    pub signature: Signature,
}

fn bad(detail: impl Into<String>) -> LedgerError {
    LedgerError::malformed(WHAT, detail)
}

impl OrgProfile {
    /// Parses a profile (as people see it, so any JSON layout) and checks its signature against
    /// its own `org_sign_pk`.
    pub fn parse_and_verify(text: &str) -> Result<OrgProfile> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(bad(format!(
                "{} bytes, far more than a profile",
                text.len()
            )));
        }
        let mut value = canonical::parse_strict(WHAT, text.as_bytes())?;
        let obj = value
            .as_object_mut()
            .ok_or_else(|| bad("not a JSON object"))?;
        if obj.get("format").and_then(|f| f.as_str()) != Some(PROFILE_FORMAT) {
            return Err(bad("this file is not a Vigil organisation profile"));
        }
        match obj.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v <= u64::from(PROFILE_VERSION) => {}
            Some(v) => {
                return Err(LedgerError::NewerVersion {
                    what: WHAT.into(),
                    found: v,
                    supported: u64::from(PROFILE_VERSION),
                });
            }
            None => return Err(bad("it has no version")),
        }
        let sig = obj
            .remove("signature")
            .ok_or_else(|| bad("it is not signed"))?;
        let sig: Signature =
            serde_json::from_value(sig).map_err(|_| bad("its signature is malformed"))?;
        let pk: SignPublicKey = obj
            .get("org_sign_pk")
            .and_then(|p| p.as_str())
            .and_then(|p| hex::decode(p).ok())
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| bad("its org_sign_pk is malformed"))?;
        // The profile is a file people may reformat; what is signed is its canonical form.
        let hash = sign::sha256(&canonical::encode(&value));
        sign::verify(&pk, &hash, &sig)
            .map_err(|_| LedgerError::BadSignature { what: WHAT.into() })?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "signature".into(),
                serde_json::Value::String(sig.to_string()),
            );
        }
        let profile: OrgProfile =
            serde_json::from_value(value).map_err(|e| bad(format!("unreadable: {e}")))?;
        if profile.hq_recipients.is_empty() {
            return Err(bad("it names no HQ recipient"));
        }
        if profile.version < 2
            && (profile.server_receipt_key.is_some() || profile.updated_at.is_some())
        {
            return Err(bad(
                "a version 1 profile has no server_receipt_key or updated_at",
            ));
        }
        profile.server_settings()?;
        for r in &profile.hq_recipients {
            AgeRecipient::from_str(r)
                .map_err(|e| bad(format!("HQ recipient {r:?} is not an age recipient: {e}")))?;
        }
        Ok(profile)
    }

    /// The profile as JSON (indented, for people; verification uses the canonical form).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A new organisation's profile, signed with its keys.
    pub fn signed(
        org_id: Uuid,
        name: &str,
        keys: &OrgKeys,
        created_at: DateTime<FixedOffset>,
    ) -> Result<OrgProfile> {
        let unsigned = serde_json::json!({
            "format": PROFILE_FORMAT,
            "version": 1,
            "org_id": org_id,
            "name": name,
            "hq_recipients": keys.recipients(),
            "org_sign_pk": hex::encode(keys.sign_pk()),
            "server": null,
            "server_pin": null,
            "created_at": created_at,
        });
        let sig = keys.sign(&sign::sha256(&canonical::encode(&unsigned)));
        Ok(OrgProfile {
            format: PROFILE_FORMAT.into(),
            version: 1,
            org_id,
            name: name.to_owned(),
            hq_recipients: keys.recipients(),
            org_sign_pk: keys.sign_pk(),
            server: None,
            server_pin: None,
            server_receipt_key: None,
            updated_at: None,
            created_at,
            signature: sig,
        })
    }

    /// A new version of this profile naming the sync server (see [`ServerSettings`]), signed
    /// with the organisation's keys (which must be this profile's).
    pub fn with_server(
        &self,
        keys: &OrgKeys,
        server: &ServerSettings,
        now: DateTime<FixedOffset>,
    ) -> Result<OrgProfile> {
        if keys.sign_pk() != self.org_sign_pk {
            return Err(LedgerError::BadSignature {
                what: "the organisation profile (these are not its keys)".into(),
            });
        }
        server.check()?;
        let mut next = self.clone();
        next.version = 2;
        next.server = Some(server.url.clone());
        next.server_pin = server.pin.clone();
        next.server_receipt_key = Some(hex::encode(server.receipt_key));
        // Strictly later than the version it replaces, even within one second.
        let floor = self.updated_at.unwrap_or(self.created_at);
        next.updated_at = Some(if now > floor {
            now
        } else {
            floor + chrono::Duration::seconds(1)
        });
        let mut value = serde_json::to_value(&next).map_err(|e| bad(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("signature");
        }
        next.signature = keys.sign(&sign::sha256(&canonical::encode(&value)));
        Ok(next)
    }

    /// When this version was signed: `updated_at`, or the creation for a first version.
    pub fn signed_at(&self) -> DateTime<FixedOffset> {
        self.updated_at.unwrap_or(self.created_at)
    }

    /// The sync server the profile names, checked; `None` when it names none.
    pub fn server_settings(&self) -> Result<Option<ServerSettings>> {
        let (Some(url), Some(key)) = (&self.server, &self.server_receipt_key) else {
            if self.server.is_some() {
                return Err(bad("it names a server without its receipt key"));
            }
            return Ok(None);
        };
        let receipt_key: SignPublicKey = hex::decode(key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| bad("its server_receipt_key is not 64 hex digits"))?;
        let s = ServerSettings {
            url: url.clone(),
            pin: self.server_pin.clone(),
            receipt_key,
        };
        s.check()?;
        Ok(Some(s))
    }
}

/// Where and how a device reaches its organisation's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `https://host[:port]`, or `http://` to a loopback address.
    pub url: String,
    /// SHA-256 of the server's TLS SubjectPublicKeyInfo, 64 lowercase hex digits.
    pub pin: Option<String>,
    /// The key that signs the server's receipts.
    pub receipt_key: SignPublicKey,
}

impl ServerSettings {
    /// Checks the rules: `https://` needs a pin, plain `http://` is allowed to loopback only
    /// (127.0.0.0/8, `[::1]`, `localhost`), no path, query or credentials.
    pub fn check(&self) -> Result<()> {
        let bad_url = |why: &str| bad(format!("server {:?}: {why}", self.url));
        let (scheme, rest) = self
            .url
            .split_once("://")
            .ok_or_else(|| bad_url("not an address (https://host:port)"))?;
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        if host_port.is_empty()
            || host_port.contains(['/', '?', '#', '@', ' '])
            || !host_port.is_ascii()
        {
            return Err(bad_url("give the scheme, host and port only"));
        }
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
        };
        if let Some(pin) = &self.pin
            && (pin.len() != 64 || !pin.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(bad("its server_pin is not 64 lowercase hex digits"));
        }
        match scheme {
            "https" if self.pin.is_some() => Ok(()),
            "https" => Err(bad_url("an https server needs the pin of its key")),
            "http" if is_loopback(host) => Ok(()),
            "http" => Err(bad_url(
                "plain http is allowed only to this computer (127.0.0.1, [::1], localhost); use https with a pinned key",
            )),
            _ => Err(bad_url("the address must start with https://")),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn server(url: &str, pin: Option<&str>) -> ServerSettings {
        ServerSettings {
            url: url.into(),
            pin: pin.map(Into::into),
            receipt_key: [7; 32],
        }
    }

    #[test]
    fn a_server_is_named_in_a_newer_signed_version_under_the_rules() {
        let keys = OrgKeys::generate(1).unwrap();
        let now: DateTime<FixedOffset> = "2026-12-01T09:00:00+06:00".parse().unwrap();
        let p = OrgProfile::signed(Uuid::now_v7(), "HQ", &keys, now).unwrap();
        assert_eq!(p.version, 1);
        assert!(!p.to_json_pretty().contains("updated_at"));
        let pin = "ab".repeat(32);
        let s = server("https://vigil.example.org:8443", Some(&pin));
        let v2 = p.with_server(&keys, &s, now).unwrap();
        assert_eq!(v2.version, 2);
        assert!(v2.signed_at() > p.signed_at());
        let back = OrgProfile::parse_and_verify(&v2.to_json_pretty()).unwrap();
        assert_eq!(back.server_settings().unwrap(), Some(s.clone()));
        // Another organisation's keys cannot make a version of it.
        let other = OrgKeys::generate(1).unwrap();
        assert!(p.with_server(&other, &s, now).is_err());
        // An edited server address breaks the signature.
        let moved = v2
            .to_json_pretty()
            .replace("vigil.example.org", "evil.example.org");
        assert_eq!(
            OrgProfile::parse_and_verify(&moved).unwrap_err().code(),
            "bad_signature"
        );
        for (url, pin) in [
            ("https://vigil.example.org", None),
            ("http://vigil.example.org", None),
            ("http://10.0.0.1:80", None),
            ("ftp://127.0.0.1", None),
            ("https://h/path", Some(pin.as_str())),
            ("https://user@h", Some(pin.as_str())),
            ("https://h", Some("AB")),
        ] {
            assert!(server(url, pin).check().is_err(), "{url} {pin:?}");
        }
        for url in [
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost:9",
        ] {
            server(url, None).check().unwrap();
        }
    }

    #[test]
    fn a_profile_verifies_in_any_layout_and_refuses_edits() {
        let keys = OrgKeys::generate(2).unwrap();
        let p = OrgProfile::signed(
            Uuid::now_v7(),
            "Coalition HQ",
            &keys,
            "2019-05-01T09:00:00+06:00".parse().unwrap(),
        )
        .unwrap();
        let pretty = p.to_json_pretty();
        assert_eq!(OrgProfile::parse_and_verify(&pretty).unwrap(), p);
        let compact = serde_json::to_string(&p).unwrap();
        assert_eq!(OrgProfile::parse_and_verify(&compact).unwrap(), p);
        let renamed = pretty.replace("Coalition HQ", "Another HQ");
        assert_eq!(
            OrgProfile::parse_and_verify(&renamed).unwrap_err().code(),
            "bad_signature"
        );
        let twice = pretty.replacen("{", "{\"name\": \"X\",", 1);
        assert_eq!(
            OrgProfile::parse_and_verify(&twice).unwrap_err().code(),
            "duplicate_key"
        );
    }
}

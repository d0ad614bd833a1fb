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
/// The profile version this build writes and the newest it reads.
pub const PROFILE_VERSION: u32 = 1;

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
    /// The sync server's address (filled in by the sync feature).
    pub server: Option<String>,
    /// The sync server's key pin.
    pub server_pin: Option<String>,
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
            "version": PROFILE_VERSION,
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
            version: PROFILE_VERSION,
            org_id,
            name: name.to_owned(),
            hq_recipients: keys.recipients(),
            org_sign_pk: keys.sign_pk(),
            server: None,
            server_pin: None,
            created_at,
            signature: sig,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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

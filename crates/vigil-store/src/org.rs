//! The organisation a vault belongs to, and this vault's own device identity.
//!
//! HQ creates the organisation ([`Vault::create_org`]): fresh [`OrgKeys`] kept in its vault,
//! and a signed **org profile** that monitors import ([`Vault::join_org`]):
//!
//! ```json
//! {"format":"vigil-org-profile","version":1,"org_id":"<uuid>","name":"...",
//!  "hq_recipients":["age1..."],"org_sign_pk":"<64 hex>","server":null,"server_pin":null,
//!  "created_at":"<RFC 3339>","signature":"<128 hex>"}
//! ```
//!
//! `signature` is Ed25519, by the key `org_sign_pk`, over the SHA-256 of the canonical JSON of
//! the profile without its `signature` field. A profile carries its own key, so its signature
//! proves integrity, not who made it: monitors get the file from HQ by hand.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{
    self, AgeIdentity, AgeRecipient, DeviceKeys, DevicePublic, OrgKeys, Signature, canonical_json,
};
use zeroize::Zeroizing;

use crate::Vault;
use crate::error::{Result, StoreError};

/// The `format` of an org profile.
pub const PROFILE_FORMAT: &str = "vigil-org-profile";
/// The profile version this build writes and the newest it reads.
pub const PROFILE_VERSION: u32 = 1;

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
    pub org_sign_pk: [u8; 32],
    /// The sync server's address (filled in by the sync feature).
    pub server: Option<String>,
    /// The sync server's key pin.
    pub server_pin: Option<String>,
    /// When the organisation was created.
    pub created_at: DateTime<FixedOffset>,
    /// Signature over the rest (see the module documentation).
    pub signature: Signature,
}

/// What [`Vault::join_org`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinOutcome {
    /// The vault now belongs to the organisation.
    Joined,
    /// The vault already held exactly this profile.
    Unchanged,
    /// A newer profile of the same organisation, signed by the same key, replaced the old one.
    Updated,
}

fn bad(reason: impl Into<String>) -> StoreError {
    StoreError::BadProfile(reason.into())
}

impl OrgProfile {
    /// Parses a profile and checks its signature against its own `org_sign_pk`.
    pub fn parse_and_verify(text: &str) -> Result<OrgProfile> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let obj = value
            .as_object_mut()
            .ok_or_else(|| bad("not a JSON object"))?;
        if obj.get("format").and_then(|f| f.as_str()) != Some(PROFILE_FORMAT) {
            return Err(bad("this file is not a Vigil organisation profile"));
        }
        match obj.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v <= u64::from(PROFILE_VERSION) => {}
            Some(v) => {
                return Err(StoreError::NewerVersion {
                    found: v as u32,
                    supported: PROFILE_VERSION,
                });
            }
            None => return Err(bad("it has no version")),
        }
        let sig = obj
            .remove("signature")
            .ok_or_else(|| bad("it is not signed"))?;
        let sig: Signature =
            serde_json::from_value(sig.clone()).map_err(|_| bad("its signature is malformed"))?;
        let pk: [u8; 32] = obj
            .get("org_sign_pk")
            .and_then(|p| p.as_str())
            .and_then(|p| hex::decode(p).ok())
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| bad("its org_sign_pk is malformed"))?;
        let hash = sign::sha256(&canonical_json(&value));
        sign::verify(&pk, &hash, &sig).map_err(|_| StoreError::BadSignature {
            what: "the organisation profile".into(),
        })?;
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

    fn signed(
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
        let sig = keys.sign(&sign::sha256(&canonical_json(&unsigned)));
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

/// Loads this vault's device keys, creating them (and registering the device as known) in a
/// vault made before identities existed.
pub(crate) fn load_or_create_device_keys(
    conn: &mut rusqlite::Connection,
    device: vigil_model::DeviceId,
    now: DateTime<FixedOffset>,
) -> Result<DeviceKeys> {
    let stored: Option<Zeroizing<Vec<u8>>> = conn
        .query_row("SELECT secret FROM device_keys WHERE id = 1", [], |r| {
            r.get::<_, Vec<u8>>(0).map(Zeroizing::new)
        })
        .optional()?;
    if let Some(secret) = stored {
        return DeviceKeys::from_secret_bytes(&secret).map_err(|e| StoreError::Corrupted {
            detail: format!("the device keys: {e}"),
        });
    }
    let keys = DeviceKeys::generate()?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO device_keys (id, device, secret, created_at) VALUES (1, ?1, ?2, ?3)",
        params![
            device.as_uuid().as_bytes().as_slice(),
            keys.expose_secret_bytes().as_slice(),
            now.to_rfc3339()
        ],
    )?;
    crate::seal::register_device(&tx, device, &keys.public(), &now)?;
    tx.commit()?;
    Ok(keys)
}

/// The stored profile text and, on HQ, the organisation's secret keys.
type OrgRow = (String, Option<Zeroizing<Vec<u8>>>);

impl Vault {
    /// This device's public keys.
    pub fn device_public(&self) -> DevicePublic {
        self.keys.public()
    }

    /// This device's age identity (to decrypt the bundles it encrypted to itself).
    pub fn device_age_identity(&self) -> &AgeIdentity {
        self.keys.age_identity()
    }

    fn org_row(&self) -> Result<Option<OrgRow>> {
        Ok(self
            .conn
            .query_row("SELECT profile, secret FROM org WHERE id = 1", [], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?.map(Zeroizing::new),
                ))
            })
            .optional()?)
    }

    /// The organisation this vault belongs to, if any.
    pub fn org_profile(&self) -> Result<Option<OrgProfile>> {
        match self.org_row()? {
            None => Ok(None),
            Some((text, _)) => {
                OrgProfile::parse_and_verify(&text)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupted {
                        detail: format!("the stored organisation profile: {e}"),
                    })
            }
        }
    }

    /// The HQ recipients every bundle must be encrypted to (empty outside an organisation).
    pub fn hq_recipients(&self) -> Result<Vec<String>> {
        Ok(self
            .org_profile()?
            .map(|p| p.hq_recipients)
            .unwrap_or_default())
    }

    /// The organisation's secret keys (HQ vault only).
    pub fn org_keys(&self) -> Result<OrgKeys> {
        match self.org_row()? {
            None => Err(StoreError::NoOrg),
            Some((_, None)) => Err(StoreError::NotHq),
            Some((_, Some(secret))) => {
                OrgKeys::from_secret_bytes(&secret).map_err(|e| StoreError::Corrupted {
                    detail: format!("the organisation keys: {e}"),
                })
            }
        }
    }

    /// The HQ readers' age identities (HQ vault only), to decrypt bundles.
    pub fn org_identities(&self) -> Result<Vec<AgeIdentity>> {
        Ok(self.org_keys()?.identities().to_vec())
    }

    /// HQ reader number `reader` (from 0) as an `age-keygen`-style identity file.
    pub fn org_identity_file(&self, reader: usize) -> Result<Zeroizing<String>> {
        let keys = self.org_keys()?;
        let identity = keys.identities().get(reader).ok_or(StoreError::NotFound {
            what: "HQ reader",
            id: (reader + 1).to_string(),
        })?;
        let created = self.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(sign::age_identity_file(identity, &created))
    }

    /// Creates an organisation with this vault as its HQ: fresh organisation keys with `readers`
    /// HQ reader identities, kept in the vault, and the signed profile to hand to monitors.
    pub fn create_org(&mut self, name: &str, readers: usize) -> Result<OrgProfile> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
                vigil_model::FieldError::new("name", vigil_model::Problem::Required),
            ])));
        }
        if let Some(p) = self.org_profile()? {
            return Err(StoreError::AlreadyInOrg {
                org_id: p.org_id.to_string(),
                name: p.name,
            });
        }
        let now = self.clock.now();
        let keys = OrgKeys::generate(readers)?;
        let profile = OrgProfile::signed(Uuid::now_v7(), name.trim(), &keys, now)?;
        self.conn.execute(
            "INSERT INTO org (id, org_id, profile, secret, joined_at) VALUES (1, ?1, ?2, ?3, ?4)",
            params![
                profile.org_id.to_string(),
                profile.to_json_pretty(),
                keys.expose_secret_bytes().as_slice(),
                now.to_rfc3339()
            ],
        )?;
        Ok(profile)
    }

    /// Joins the organisation of a signed profile (checked against its own key). A vault
    /// belongs to one organisation: another one is refused; the same profile again changes
    /// nothing; a newer profile of the same organisation signed by the same key replaces it.
    pub fn join_org(&mut self, profile_json: &str) -> Result<(OrgProfile, JoinOutcome)> {
        let offered = OrgProfile::parse_and_verify(profile_json)?;
        let now = self.clock.now();
        match self.org_profile()? {
            Some(current) if current == offered => Ok((offered, JoinOutcome::Unchanged)),
            Some(current)
                if current.org_id == offered.org_id
                    && current.org_sign_pk == offered.org_sign_pk =>
            {
                self.conn.execute(
                    "UPDATE org SET profile = ?1 WHERE id = 1",
                    [offered.to_json_pretty()],
                )?;
                Ok((offered, JoinOutcome::Updated))
            }
            Some(current) => Err(StoreError::AlreadyInOrg {
                org_id: current.org_id.to_string(),
                name: current.name,
            }),
            None => {
                self.conn.execute(
                    "INSERT INTO org (id, org_id, profile, secret, joined_at)
                     VALUES (1, ?1, ?2, NULL, ?3)",
                    params![
                        offered.org_id.to_string(),
                        offered.to_json_pretty(),
                        now.to_rfc3339()
                    ],
                )?;
                Ok((offered, JoinOutcome::Joined))
            }
        }
    }
}

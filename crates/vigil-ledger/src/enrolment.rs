//! Enrolment: the organisation invites a device, the device binds its keys to the invitation,
//! and the resulting certificate travels with everything the device sends.
//!
//! 1. **Invitation** ([`Invitation::issue`], HQ). The organisation signs an [`InvitationBody`]:
//!    its id, the organisation, a name for the device ("Aigul's laptop"), when it was issued and
//!    until when it may be used, and the public half of a fresh Ed25519 *invitation key*. The
//!    invitation file holds that signed body and the invitation key's secret half, so it is a
//!    secret: it is handed over in person or on a stick, and is good for one device.
//! 2. **Certificate** ([`Invitation::enrol`], the device). The device writes a
//!    [`CertificateDoc`]: the signed invitation, its own id and public keys, and when it enrolled;
//!    then signs it twice, with the invitation key (proving it holds the invitation) and with its
//!    own key (proving it holds that key). The invitation's secret never leaves the device.
//! 3. **Checking** ([`Certificate::verify`], HQ or the server). Anyone who knows the
//!    organisation's public key can check a certificate: the organisation signed the invitation
//!    for this organisation, the invitation key and the device key both signed the certificate,
//!    and the device id is the one its key makes ([`crate::ids::device_id_for`]). Whether the
//!    invitation was still valid, already used by another device, or the device since revoked
//!    is for the holder of that knowledge ([`crate::trust`]).
//!
//! ```
//! use vigil_crypto::sign::{DeviceKeys, OrgKeys};
//! use vigil_ledger::enrolment::{Certificate, Invitation};
//! use vigil_ledger::ids::device_id_for;
//! use vigil_ledger::profile::OrgProfile;
//!
//! let org_keys = OrgKeys::generate(1).unwrap();
//! let at = "2019-05-20T09:00:00+06:00".parse().unwrap();
//! let profile = OrgProfile::signed(uuid::Uuid::now_v7(), "Coalition HQ", &org_keys, at).unwrap();
//! let until = "2019-06-03T09:00:00+06:00".parse().unwrap();
//! let invitation = Invitation::issue(&org_keys, profile.org_id, "Aigul's laptop", at, until).unwrap();
//! let file = invitation.expose_file_bytes();
//!
//! // On the monitor's laptop.
//! let keys = DeviceKeys::generate().unwrap();
//! let received = Invitation::from_file_bytes(&file, &profile).unwrap();
//! let when = "2019-05-21T14:00:00+06:00".parse().unwrap();
//! let certificate = received.enrol(&keys, device_id_for(&keys.public().sign_pk), when).unwrap();
//!
//! // At HQ, or the server: only public keys are needed.
//! let checked = Certificate::from_bytes(certificate.bytes().to_vec())
//!     .verify(profile.org_id, &profile.org_sign_pk)
//!     .unwrap();
//! assert_eq!(checked.invitation.name, "Aigul's laptop");
//! assert!(checked.in_time());
//! ```

use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{
    self, AgeRecipient, DeviceKeys, DevicePublic, OrgKeys, SignPublicKey, Signature, SigningKey,
};
use vigil_model::{DeviceId, Sha256};
use zeroize::Zeroizing;

use crate::ids::device_id_for;
use crate::profile::OrgProfile;
use crate::{LedgerError, Result, canonical};

/// The `format` of an invitation body.
pub const INVITATION_FORMAT: &str = "vigil-invitation";
/// The `format` of an invitation file.
pub const INVITATION_FILE_FORMAT: &str = "vigil-invitation-file";
/// The `format` of a device certificate.
pub const CERTIFICATE_FORMAT: &str = "vigil-device-certificate";
/// The version of all three that this build writes and the newest it reads.
pub const ENROLMENT_VERSION: u32 = 2;
/// The version a monitor's invitation and certificate are written in (unchanged since 1, so
/// older versions of Vigil still read them); an HQ device's are version 2, which adds
/// [`InvitationBody::role`].
pub const MONITOR_ENROLMENT_VERSION: u32 = 1;
/// How long an invitation is valid unless HQ says otherwise.
pub const DEFAULT_INVITATION_DAYS: i64 = 14;
/// How far before its issue a device's clock may put its enrolment (clocks differ).
pub const CLOCK_SKEW_HOURS: i64 = 24;
/// The largest invitation file or certificate read (real ones are about 1 KiB); the same
/// limit as for a profile.
pub use crate::profile::MAX_DOCUMENT_BYTES;
/// The longest name an invitation gives a device.
pub const MAX_NAME_CHARS: usize = 200;

/// The part of an invitation that the organisation signs. Public: it travels in every
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationBody {
    /// Always [`INVITATION_FORMAT`].
    pub format: String,
    /// [`ENROLMENT_VERSION`].
    pub version: u32,
    /// Identifies the invitation (one device may use it).
    pub id: Uuid,
    /// The organisation.
    pub org: Uuid,
    /// The device's name, as HQ will list it.
    pub name: String,
    /// When it was issued, on HQ's clock.
    pub issued_at: DateTime<FixedOffset>,
    /// The last moment a device may enrol with it.
    pub expires_at: DateTime<FixedOffset>,
    /// The public half of the invitation key.
    #[serde(with = "hex::serde")]
    pub invitation_pk: SignPublicKey,
    /// What the device may do at the organisation's server: left out for a monitor (as in
    /// version 1); `hq` from version 2.
    #[serde(default, skip_serializing_if = "DeviceRole::is_monitor")]
    pub role: DeviceRole,
}

/// What an enrolled device may do at the organisation's server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceRole {
    /// Pushes its own sealed records and reads its own receipts.
    #[default]
    Monitor,
    /// One of HQ's machines: also reads the change feed and blobs, and pushes revocations and
    /// acknowledgements.
    Hq,
}

impl DeviceRole {
    /// Whether this is [`DeviceRole::Monitor`].
    pub fn is_monitor(&self) -> bool {
        *self == DeviceRole::Monitor
    }

    /// The enrolment version that carries this role.
    pub fn version(self) -> u32 {
        match self {
            DeviceRole::Monitor => MONITOR_ENROLMENT_VERSION,
            DeviceRole::Hq => ENROLMENT_VERSION,
        }
    }

    /// Its name in documents and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceRole::Monitor => "monitor",
            DeviceRole::Hq => "hq",
        }
    }
}

/// An invitation body with the organisation's signature. Public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInvitation {
    /// The body.
    pub body: InvitationBody,
    /// The organisation's signature over the SHA-256 of the body's canonical JSON.
    pub org_sig: Signature,
}

const INVITATION: &str = "the invitation";
const CERTIFICATE: &str = "the device certificate";

impl SignedInvitation {
    fn hash(body: &InvitationBody) -> Result<[u8; 32]> {
        Ok(sign::sha256(&canonical::encode_serialize(
            INVITATION, body,
        )?))
    }

    /// Checks the organisation's signature and that the invitation is for `org`.
    pub fn verify(&self, org: Uuid, org_pk: &SignPublicKey) -> Result<()> {
        self.verify_signed_bytes(
            org,
            org_pk,
            &canonical::encode_serialize(INVITATION, &self.body)?,
        )
    }

    /// [`SignedInvitation::verify`], the signature checked over `signed` (the body's canonical
    /// bytes as they arrived, when it came inside a canonical record).
    fn verify_signed_bytes(&self, org: Uuid, org_pk: &SignPublicKey, signed: &[u8]) -> Result<()> {
        if self.body.format != INVITATION_FORMAT {
            return Err(LedgerError::malformed(INVITATION, "not an invitation"));
        }
        if self.body.version > ENROLMENT_VERSION {
            return Err(LedgerError::NewerVersion {
                what: INVITATION.into(),
                found: u64::from(self.body.version),
                supported: u64::from(ENROLMENT_VERSION),
            });
        }
        if self.body.version < self.body.role.version() {
            return Err(LedgerError::malformed(
                INVITATION,
                format!(
                    "a version-{} invitation cannot carry the role {}",
                    self.body.version,
                    self.body.role.as_str()
                ),
            ));
        }
        if self.body.org != org {
            return Err(LedgerError::WrongOrganisation {
                what: INVITATION.into(),
                found: self.body.org.to_string(),
                ours: org.to_string(),
            });
        }
        sign::verify(org_pk, &sign::sha256(signed), &self.org_sig).map_err(|_| {
            LedgerError::BadSignature {
                what: "the invitation (by the organisation's key)".into(),
            }
        })
    }
}

/// An invitation file: the signed invitation and its secret key. Secret: no `Clone`, no
/// `Serialize`, `Debug` prints `***`; the key is wiped on drop.
pub struct Invitation {
    signed: SignedInvitation,
    key: SigningKey,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invitation({}, ***)", self.signed.body.id)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationFile {
    format: String,
    version: u32,
    invitation: InvitationBody,
    org_sig: Signature,
    /// PKCS#8 of the invitation key, hex.
    secret: String,
}

impl Invitation {
    /// HQ issues an invitation for one monitor's device, valid from `issued_at` until
    /// `expires_at`.
    pub fn issue(
        org_keys: &OrgKeys,
        org: Uuid,
        name: &str,
        issued_at: DateTime<FixedOffset>,
        expires_at: DateTime<FixedOffset>,
    ) -> Result<Invitation> {
        Self::issue_for(
            org_keys,
            org,
            name,
            DeviceRole::Monitor,
            issued_at,
            expires_at,
        )
    }

    /// [`Invitation::issue`] for a device with `role`.
    pub fn issue_for(
        org_keys: &OrgKeys,
        org: Uuid,
        name: &str,
        role: DeviceRole,
        issued_at: DateTime<FixedOffset>,
        expires_at: DateTime<FixedOffset>,
    ) -> Result<Invitation> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(LedgerError::malformed(
                INVITATION,
                format!("a device name of 1 to {MAX_NAME_CHARS} characters is needed"),
            ));
        }
        if expires_at <= issued_at {
            return Err(LedgerError::malformed(
                INVITATION,
                "it would expire before it is issued",
            ));
        }
        let key = SigningKey::generate()
            .map_err(|e| LedgerError::malformed(INVITATION, e.to_string()))?;
        let body = InvitationBody {
            format: INVITATION_FORMAT.into(),
            version: role.version(),
            id: Uuid::now_v7(),
            org,
            name: name.to_owned(),
            issued_at,
            expires_at,
            invitation_pk: key.public(),
            role,
        };
        let org_sig = org_keys.sign(&SignedInvitation::hash(&body)?);
        Ok(Invitation {
            signed: SignedInvitation { body, org_sig },
            key,
        })
    }

    /// The public, signed part.
    pub fn signed(&self) -> &SignedInvitation {
        &self.signed
    }

    /// The invitation file's bytes (JSON, with the secret key in it): for the file handed to
    /// the monitor only.
    pub fn expose_file_bytes(&self) -> Zeroizing<Vec<u8>> {
        let file = InvitationFile {
            format: INVITATION_FILE_FORMAT.into(),
            version: self.signed.body.version,
            invitation: self.signed.body.clone(),
            org_sig: self.signed.org_sig,
            secret: hex::encode(self.key.expose_pkcs8()),
        };
        let mut text = Zeroizing::new(serde_json::to_vec_pretty(&file).unwrap_or_default());
        text.push(b'\n');
        // The intermediate string of the secret is gone with `file`; wipe its hex too.
        let mut secret = file.secret;
        zeroize::Zeroize::zeroize(&mut secret);
        text
    }

    /// Reads an invitation file and checks it belongs to the organisation of `profile`.
    pub fn from_file_bytes(bytes: &[u8], profile: &OrgProfile) -> Result<Invitation> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(LedgerError::malformed(
                INVITATION,
                format!("{} bytes, far more than an invitation", bytes.len()),
            ));
        }
        let value = canonical::parse_strict(INVITATION, bytes)?;
        if value.get("format").and_then(|f| f.as_str()) != Some(INVITATION_FILE_FORMAT) {
            return Err(LedgerError::malformed(
                INVITATION,
                "this file is not a Vigil invitation",
            ));
        }
        if let Some(v) = value.get("version").and_then(|v| v.as_u64())
            && v > u64::from(ENROLMENT_VERSION)
        {
            return Err(LedgerError::NewerVersion {
                what: INVITATION.into(),
                found: v,
                supported: u64::from(ENROLMENT_VERSION),
            });
        }
        let file: InvitationFile = serde_json::from_value(value)
            .map_err(|e| LedgerError::malformed(INVITATION, e.to_string()))?;
        let signed = SignedInvitation {
            body: file.invitation,
            org_sig: file.org_sig,
        };
        signed.verify(profile.org_id, &profile.org_sign_pk)?;
        let pkcs8 = Zeroizing::new(
            hex::decode(&file.secret)
                .map_err(|_| LedgerError::malformed(INVITATION, "its secret is not hex"))?,
        );
        let mut secret = file.secret;
        zeroize::Zeroize::zeroize(&mut secret);
        let key = SigningKey::from_pkcs8(&pkcs8)
            .map_err(|e| LedgerError::malformed(INVITATION, e.to_string()))?;
        if key.public() != signed.body.invitation_pk {
            return Err(LedgerError::malformed(
                INVITATION,
                "its secret is not the invitation's key",
            ));
        }
        Ok(Invitation { signed, key })
    }

    /// Refuses an invitation that has expired by `now` (the device's clock), or that was
    /// issued after `now` (the device's clock is wrong, and HQ would not accept the enrolment).
    pub fn check_usable(&self, now: DateTime<FixedOffset>) -> Result<()> {
        let body = &self.signed.body;
        if now > body.expires_at {
            return Err(LedgerError::InvitationUnusable(format!(
                "it expired on {}; ask HQ for a new one",
                body.expires_at.to_rfc3339()
            )));
        }
        if now < body.issued_at - Duration::hours(CLOCK_SKEW_HOURS) {
            return Err(LedgerError::InvitationUnusable(format!(
                "it was issued on {}, after this computer's date ({}); set the date and time \
                 right, then join again",
                body.issued_at.to_rfc3339(),
                now.to_rfc3339()
            )));
        }
        Ok(())
    }

    /// The device enrols: a certificate binding `device` and its keys to this invitation,
    /// signed with the invitation key and the device key.
    pub fn enrol(
        &self,
        keys: &DeviceKeys,
        device: DeviceId,
        enrolled_at: DateTime<FixedOffset>,
    ) -> Result<Certificate> {
        let device_keys = keys.public();
        if device != device_id_for(&device_keys.sign_pk) {
            return Err(LedgerError::DeviceIdForged {
                device: device.to_string(),
                derived: device_id_for(&device_keys.sign_pk).to_string(),
            });
        }
        let unsigned = serde_json::json!({
            "format": CERTIFICATE_FORMAT,
            "version": self.signed.body.version,
            "invitation": self.signed.body,
            "org_sig": self.signed.org_sig,
            "device": device,
            "device_keys": device_keys,
            "enrolled_at": enrolled_at,
        });
        let hash = sign::sha256(&canonical::encode(&unsigned));
        let mut value = unsigned;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "invitation_sig".into(),
                serde_json::Value::String(self.key.sign(&hash).to_string()),
            );
            obj.insert(
                "device_sig".into(),
                serde_json::Value::String(keys.sign(&hash).to_string()),
            );
        }
        Ok(Certificate {
            bytes: canonical::encode(&value),
        })
    }
}

/// A device certificate as it travels: canonical JSON bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    bytes: Vec<u8>,
}

/// The content of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateDoc {
    /// Always [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// [`ENROLMENT_VERSION`].
    pub version: u32,
    /// The invitation the device enrolled with.
    pub invitation: InvitationBody,
    /// The organisation's signature over it.
    pub org_sig: Signature,
    /// The device's id (the one its key makes).
    pub device: DeviceId,
    /// Its public keys.
    pub device_keys: DevicePublic,
    /// When it enrolled, on its own clock.
    pub enrolled_at: DateTime<FixedOffset>,
    /// The invitation key's signature over the rest.
    pub invitation_sig: Signature,
    /// The device key's signature over the rest.
    pub device_sig: Signature,
}

/// A certificate whose signatures all verified for an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// The invitation it used.
    pub invitation: InvitationBody,
    /// The device.
    pub device: DeviceId,
    /// Its keys.
    pub device_keys: DevicePublic,
    /// When it enrolled (its own clock).
    pub enrolled_at: DateTime<FixedOffset>,
    /// SHA-256 of the certificate's bytes.
    pub hash: Sha256,
}

impl VerifiedCertificate {
    /// Whether the device enrolled while the invitation was valid (allowing its clock to run
    /// [`CLOCK_SKEW_HOURS`] behind HQ's).
    pub fn in_time(&self) -> bool {
        self.enrolled_at >= self.invitation.issued_at - Duration::hours(CLOCK_SKEW_HOURS)
            && self.enrolled_at <= self.invitation.expires_at
    }
}

impl Certificate {
    /// A certificate from its bytes (nothing checked yet).
    pub fn from_bytes(bytes: Vec<u8>) -> Certificate {
        Certificate { bytes }
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks everything the certificate proves, for the organisation `org` whose key is
    /// `org_pk` (see the module documentation).
    pub fn verify(&self, org: Uuid, org_pk: &SignPublicKey) -> Result<VerifiedCertificate> {
        if self.bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(LedgerError::malformed(
                CERTIFICATE,
                format!("{} bytes, far more than a certificate", self.bytes.len()),
            ));
        }
        let mut value = canonical::parse(CERTIFICATE, &self.bytes)?;
        if value.get("format").and_then(|f| f.as_str()) != Some(CERTIFICATE_FORMAT) {
            return Err(LedgerError::malformed(
                CERTIFICATE,
                "not a device certificate",
            ));
        }
        if let Some(v) = value.get("version").and_then(|v| v.as_u64())
            && v > u64::from(ENROLMENT_VERSION)
        {
            return Err(LedgerError::NewerVersion {
                what: CERTIFICATE.into(),
                found: v,
                supported: u64::from(ENROLMENT_VERSION),
            });
        }
        let doc = CertificateDoc::deserialize(&value)
            .map_err(|e| LedgerError::malformed(CERTIFICATE, e.to_string()))?;
        // The certificate is canonical, so its invitation's bytes within it are exactly those
        // the organisation signed: checked as they are, never re-encoded from the parsed body.
        SignedInvitation {
            body: doc.invitation.clone(),
            org_sig: doc.org_sig,
        }
        .verify_signed_bytes(org, org_pk, &canonical::encode(&value["invitation"]))?;
        let derived = device_id_for(&doc.device_keys.sign_pk);
        if doc.device != derived {
            return Err(LedgerError::DeviceIdForged {
                device: doc.device.to_string(),
                derived: derived.to_string(),
            });
        }
        AgeRecipient::from_str(&doc.device_keys.age_recipient)
            .map_err(|e| LedgerError::malformed(CERTIFICATE, format!("its age recipient: {e}")))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("invitation_sig");
            obj.remove("device_sig");
        }
        let hash = sign::sha256(&canonical::encode(&value));
        sign::verify(&doc.invitation.invitation_pk, &hash, &doc.invitation_sig).map_err(|_| {
            LedgerError::BadSignature {
                what: "the device certificate (by the invitation's key)".into(),
            }
        })?;
        sign::verify(&doc.device_keys.sign_pk, &hash, &doc.device_sig).map_err(|_| {
            LedgerError::BadSignature {
                what: "the device certificate (by the device's key)".into(),
            }
        })?;
        Ok(VerifiedCertificate {
            invitation: doc.invitation,
            device: doc.device,
            device_keys: doc.device_keys,
            enrolled_at: doc.enrolled_at,
            hash: Sha256(sign::sha256(&self.bytes)),
        })
    }
}

#[cfg(test)]
#[path = "enrolment_tests.rs"]
mod tests;

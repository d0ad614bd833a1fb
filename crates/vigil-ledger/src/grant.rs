//! Grants: the organisation hands an incident to another device.
//!
//! Only a device that sealed an incident may amend it ([`crate::authorise`]), unless the
//! organisation signs a grant naming the incident and the device (a monitor took over a case
//! from a colleague). A grant is small canonical JSON signed with the organisation's key, so HQ
//! and the server can both check it:
//!
//! ```json
//! {"device":"<uuid>","format":"vigil-grant","granted_at":"<RFC 3339>","incident":"<uuid>",
//!  "org":"<uuid>","version":1}
//! ```

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, OrgKeys, SignPublicKey, Signature};
use vigil_model::{DeviceId, IncidentId};

use crate::{LedgerError, Result, canonical};

/// The `format` of a grant.
pub const GRANT_FORMAT: &str = "vigil-grant";
/// The grant version this build writes and the newest it reads.
pub const GRANT_VERSION: u32 = 1;

const WHAT: &str = "a grant";

/// What a grant says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDoc {
    /// Always [`GRANT_FORMAT`].
    pub format: String,
    /// [`GRANT_VERSION`].
    pub version: u32,
    /// The organisation.
    pub org: Uuid,
    /// The incident handed over.
    pub incident: IncidentId,
    /// The device it is handed to.
    pub device: DeviceId,
    /// When, on HQ's clock.
    pub granted_at: DateTime<FixedOffset>,
}

/// A grant with the organisation's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What it says.
    pub doc: GrantDoc,
    /// Its canonical JSON.
    pub bytes: Vec<u8>,
    /// The organisation's signature over the SHA-256 of `bytes`.
    pub sig: Signature,
}

impl Grant {
    /// The organisation grants `incident` to `device`.
    pub fn issue(
        keys: &OrgKeys,
        org: Uuid,
        incident: IncidentId,
        device: DeviceId,
        granted_at: DateTime<FixedOffset>,
    ) -> Result<Grant> {
        let doc = GrantDoc {
            format: GRANT_FORMAT.into(),
            version: GRANT_VERSION,
            org,
            incident,
            device,
            granted_at,
        };
        let bytes = canonical::encode_serialize(WHAT, &doc)?;
        let sig = keys.sign(&sign::sha256(&bytes));
        Ok(Grant { doc, bytes, sig })
    }

    /// Reads a grant and checks that the organisation `org` (key `org_pk`) signed it.
    pub fn verify(
        bytes: Vec<u8>,
        sig: Signature,
        org: Uuid,
        org_pk: &SignPublicKey,
    ) -> Result<Grant> {
        let (doc, _) = canonical::decode::<GrantDoc>(WHAT, &bytes)?;
        if doc.format != GRANT_FORMAT {
            return Err(LedgerError::malformed(WHAT, "not a grant"));
        }
        if doc.version > GRANT_VERSION {
            return Err(LedgerError::NewerVersion {
                what: WHAT.into(),
                found: u64::from(doc.version),
                supported: u64::from(GRANT_VERSION),
            });
        }
        if doc.org != org {
            return Err(LedgerError::WrongOrganisation {
                what: WHAT.into(),
                found: doc.org.to_string(),
                ours: org.to_string(),
            });
        }
        sign::verify(org_pk, &sign::sha256(&bytes), &sig)
            .map_err(|_| LedgerError::BadSignature { what: WHAT.into() })?;
        Ok(Grant { doc, bytes, sig })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn grants_verify_with_the_organisation_key_only() {
        let keys = OrgKeys::generate(1).unwrap();
        let org = Uuid::now_v7();
        let g = Grant::issue(
            &keys,
            org,
            IncidentId::new(),
            DeviceId::new(),
            "2019-05-24T09:00:00+06:00".parse().unwrap(),
        )
        .unwrap();
        let back = Grant::verify(g.bytes.clone(), g.sig, org, &keys.sign_pk()).unwrap();
        assert_eq!(back, g);
        let other = OrgKeys::generate(1).unwrap();
        assert_eq!(
            Grant::verify(g.bytes.clone(), g.sig, org, &other.sign_pk())
                .unwrap_err()
                .code(),
            "bad_signature"
        );
        assert_eq!(
            Grant::verify(g.bytes, g.sig, Uuid::now_v7(), &keys.sign_pk())
                .unwrap_err()
                .code(),
            "wrong_organisation"
        );
    }
}

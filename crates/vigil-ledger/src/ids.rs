//! The ids the ledger adds to the model's: revisions, and device ids made from signing keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{SignPublicKey, sha256};
use vigil_model::DeviceId;

/// Identifies a sealed revision (UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevisionId(pub Uuid);

impl RevisionId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RevisionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for RevisionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim()).map(Self)
    }
}

/// Domain separation for [`device_id_for`].
const DEVICE_ID_TAG: &[u8] = b"vigil-device-id-v1\0";

/// The device id a signing key makes: the first 16 bytes of
/// `SHA-256("vigil-device-id-v1\0" || key)`, as a version-8 UUID (RFC 9562, custom). Since the id
/// is a function of the key, no one can present another device's id with a key of their own.
///
/// Vaults made before enrolment existed have random (version-7) ids; see `docs/threat-model.md`
/// for how those are handled.
///
/// ```
/// use vigil_ledger::ids::{device_id_for, is_derived};
///
/// let key = [7u8; 32];
/// let id = device_id_for(&key);
/// assert_eq!(id.as_uuid().get_version_num(), 8);
/// assert!(is_derived(id, &key));
/// assert!(!is_derived(id, &[8u8; 32]));
/// ```
pub fn device_id_for(sign_pk: &SignPublicKey) -> DeviceId {
    let mut input = Vec::with_capacity(DEVICE_ID_TAG.len() + sign_pk.len());
    input.extend_from_slice(DEVICE_ID_TAG);
    input.extend_from_slice(sign_pk);
    let hash = sha256(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    DeviceId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// Whether `device` is the id `sign_pk` makes.
pub fn is_derived(device: DeviceId, sign_pk: &SignPublicKey) -> bool {
    device_id_for(sign_pk) == device
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn golden_vector() {
        // Computed outside Rust: Python's hashlib.sha256(b"vigil-device-id-v1\x00" + bytes(32)),
        // first 16 bytes, with uuid's version-8 and variant bits set.
        let id = device_id_for(&[0u8; 32]);
        assert_eq!(id.to_string(), "4b247039-3356-823f-b53c-2793d0aa12a5");
        assert_ne!(device_id_for(&[1u8; 32]), id);
    }
}

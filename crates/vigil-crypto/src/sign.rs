//! Device and organisation identities, signatures, and the canonical JSON that is signed.
//!
//! Every vault has a [`DeviceKeys`]: an Ed25519 key (ring) that signs its sealed revisions and
//! its custody log, and an age X25519 identity so that it can read the bundles it encrypts to
//! itself. An organisation's HQ vault also holds [`OrgKeys`]: an Ed25519 key that signs
//! organisation documents (the org profile) and one or more age X25519 identities for the HQ
//! readers, to which every bundle is encrypted.
//!
//! # What is signed
//!
//! A signed document is a JSON object. Its bytes are [`canonical_json`] of the object (without
//! its signature field, where it carries one); its name is the SHA-256 of those bytes; the
//! signature is Ed25519 over that 32-byte hash. So anyone with `sha256sum` and an Ed25519
//! verifier can check a document, given the canonical bytes.
//!
//! # Canonical JSON
//!
//! The subset of RFC 8785 (JCS) that Vigil's documents rely on:
//!
//! - object keys sorted by their UTF-8 bytes (the same order as RFC 8785's UTF-16 order for every
//!   key Vigil writes, which are ASCII);
//! - no whitespace between tokens;
//! - strings escaped as serde_json escapes them: `"` and `\` and control characters only (the
//!   short forms `\b \f \n \r \t`, others as `\u00xx` with lowercase hex), everything else
//!   as raw UTF-8, exactly as in RFC 8785;
//! - integers in plain decimal. Floats appear only in latitude and longitude, printed by
//!   serde_json as the shortest string that round-trips (RFC 8785 differs only for exponents,
//!   `1e21` against `1e+21`, which coordinates never need).
//!
//! ```
//! use vigil_crypto::sign::{DeviceKeys, canonical_json, sha256, verify};
//!
//! let doc = serde_json::json!({"b": [1, "two"], "a": {"y": null, "x": true}});
//! let bytes = canonical_json(&doc);
//! assert_eq!(bytes, br#"{"a":{"x":true,"y":null},"b":[1,"two"]}"#);
//!
//! let keys = DeviceKeys::generate().unwrap();
//! let hash = sha256(&bytes);
//! let sig = keys.sign(&hash);
//! assert!(verify(&keys.public().sign_pk, &hash, &sig).is_ok());
//! assert!(verify(&keys.public().sign_pk, b"something else", &sig).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

pub use age::x25519::{Identity as AgeIdentity, Recipient as AgeRecipient};

use crate::CryptoError;

/// An Ed25519 public key, written in JSON as 64 lowercase hex digits.
pub type SignPublicKey = [u8; 32];

/// An Ed25519 signature, written in JSON as 128 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Reads a signature from exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| CryptoError::BadKey("a signature must be 64 bytes".into()))?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for Signature {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, CryptoError> {
        let bytes =
            hex::decode(s).map_err(|_| CryptoError::BadKey("a signature must be hex".into()))?;
        Self::from_slice(&bytes)
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A key in lower-case hex, in groups of four digits (`97dd b3ee …`), as the app and
/// `vigil verify` show keys for people to compare by reading them aloud.
pub fn grouped_hex(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    hex.as_bytes()
        .chunks(4)
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Checks an Ed25519 signature.
pub fn verify(pk: &SignPublicKey, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
    UnparsedPublicKey::new(&ED25519, pk)
        .verify(msg, &sig.0)
        .map_err(|_| CryptoError::BadSignature)
}

/// The canonical bytes of a JSON value (see the module documentation).
pub fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // null, booleans and numbers: serde_json's own (compact) printing.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        serde_json::Value::String(s.to_owned())
            .to_string()
            .as_bytes(),
    );
}

/// The public half of a device identity, as it appears in signed documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePublic {
    /// Ed25519 public key that verifies the device's revisions and custody events.
    #[serde(with = "hex::serde")]
    pub sign_pk: SignPublicKey,
    /// The device's own age recipient (`age1...`).
    pub age_recipient: String,
}

const DEVICE_EXPORT_TAG: &str = "vigil-device-keys-v1";
const ORG_EXPORT_TAG: &str = "vigil-org-keys-v1";

/// An Ed25519 signing key on its own (an invitation's key; devices and organisations hold
/// theirs inside [`DeviceKeys`] and [`OrgKeys`]). Secret: no `Clone`, no `Serialize`, `Debug`
/// prints `***`, the PKCS#8 bytes are wiped on drop; ring's parsed key pair is kept for speed
/// (ring does not wipe it, so it lives no longer than this value).
pub struct SigningKey {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CryptoError::Rng)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Reads a key from its PKCS#8 v2 document (what [`SigningKey::expose_pkcs8`] gives).
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, CryptoError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes)
            .map_err(|_| CryptoError::BadKey("the Ed25519 signing key is unreadable".into()))?;
        Ok(Self {
            pkcs8: Zeroizing::new(bytes.to_vec()),
            pair,
        })
    }

    /// The secret key as its PKCS#8 document, to store inside something encrypted or to hand
    /// over in person (an invitation file).
    pub fn expose_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key.
    pub fn public(&self) -> SignPublicKey {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.pair.public_key().as_ref());
        pk
    }

    /// Signs `msg` (in Vigil, always a 32-byte document hash).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(msg).as_ref());
        Signature(out)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

fn parse_age_identity(line: &str) -> Result<AgeIdentity, CryptoError> {
    AgeIdentity::from_str(line.trim())
        .map_err(|e| CryptoError::BadKey(format!("an age identity is unreadable: {e}")))
}

/// Splits exported key material into its lines after checking the tag line.
fn export_lines<'a>(bytes: &'a [u8], tag: &str) -> Result<Vec<&'a str>, CryptoError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CryptoError::BadKey("the stored key material is not text".into()))?;
    let mut lines = text.lines();
    if lines.next() != Some(tag) {
        return Err(CryptoError::BadKey(format!(
            "the stored key material is not {tag}"
        )));
    }
    Ok(lines.collect())
}

/// A vault's own device identity: Ed25519 signing key and age X25519 identity. Secret: no
/// `Clone`, no `Serialize`, `Debug` prints `***`, key bytes wiped on drop.
pub struct DeviceKeys {
    signing: SigningKey,
    age: AgeIdentity,
}

impl DeviceKeys {
    /// Fresh keys from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            signing: SigningKey::generate()?,
            age: AgeIdentity::generate(),
        })
    }

    /// The public keys.
    pub fn public(&self) -> DevicePublic {
        DevicePublic {
            sign_pk: self.signing.public(),
            age_recipient: self.age.to_public().to_string(),
        }
    }

    /// Signs `msg` (in Vigil, always a 32-byte document hash).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }

    /// The age identity, to decrypt bundles this device encrypted to itself.
    pub fn age_identity(&self) -> &AgeIdentity {
        &self.age
    }

    /// The secret material as bytes, for storage inside the encrypted vault only:
    /// `vigil-device-keys-v1\n<Ed25519 PKCS#8, hex>\n<AGE-SECRET-KEY-1...>\n`.
    pub fn expose_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(256));
        out.extend_from_slice(DEVICE_EXPORT_TAG.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(hex::encode(&*self.signing.pkcs8).as_bytes());
        out.push(b'\n');
        out.extend_from_slice(self.age.to_string().expose_secret().as_bytes());
        out.push(b'\n');
        out
    }

    /// Reads what [`DeviceKeys::expose_secret_bytes`] wrote.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let lines = export_lines(bytes, DEVICE_EXPORT_TAG)?;
        let [pkcs8_hex, age] = lines[..] else {
            return Err(CryptoError::BadKey(
                "the stored device keys are incomplete".into(),
            ));
        };
        let pkcs8 = Zeroizing::new(
            hex::decode(pkcs8_hex)
                .map_err(|_| CryptoError::BadKey("the stored signing key is not hex".into()))?,
        );
        Ok(Self {
            signing: SigningKey::from_pkcs8(&pkcs8)?,
            age: parse_age_identity(age)?,
        })
    }
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKeys(***)")
    }
}

/// An organisation's secret keys, held by its HQ vault: the Ed25519 key that signs organisation
/// documents and the age X25519 identities of the HQ readers. Secret, like [`DeviceKeys`].
pub struct OrgKeys {
    signing: SigningKey,
    readers: Vec<AgeIdentity>,
}

impl OrgKeys {
    /// Fresh keys with `readers` HQ reader identities (at least one).
    pub fn generate(readers: usize) -> Result<Self, CryptoError> {
        Ok(Self {
            signing: SigningKey::generate()?,
            readers: (0..readers.max(1))
                .map(|_| AgeIdentity::generate())
                .collect(),
        })
    }

    /// The Ed25519 public key that verifies organisation documents.
    pub fn sign_pk(&self) -> SignPublicKey {
        self.signing.public()
    }

    /// The HQ readers' age recipients (`age1...`), in order.
    pub fn recipients(&self) -> Vec<String> {
        self.readers
            .iter()
            .map(|i| i.to_public().to_string())
            .collect()
    }

    /// Signs `msg` (in Vigil, always a 32-byte document hash).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }

    /// The HQ readers' age identities, to decrypt bundles.
    pub fn identities(&self) -> &[AgeIdentity] {
        &self.readers
    }

    /// The secret material as bytes, for storage inside the encrypted vault only:
    /// `vigil-org-keys-v1\n<Ed25519 PKCS#8, hex>\n<AGE-SECRET-KEY-1...>\n...` (one line per reader).
    pub fn expose_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(512));
        out.extend_from_slice(ORG_EXPORT_TAG.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(hex::encode(&*self.signing.pkcs8).as_bytes());
        out.push(b'\n');
        for r in &self.readers {
            out.extend_from_slice(r.to_string().expose_secret().as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Reads what [`OrgKeys::expose_secret_bytes`] wrote.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let lines = export_lines(bytes, ORG_EXPORT_TAG)?;
        let Some((pkcs8_hex, readers)) = lines.split_first() else {
            return Err(CryptoError::BadKey(
                "the stored organisation keys are incomplete".into(),
            ));
        };
        if readers.is_empty() {
            return Err(CryptoError::BadKey(
                "the stored organisation keys have no HQ reader".into(),
            ));
        }
        let pkcs8 = Zeroizing::new(
            hex::decode(pkcs8_hex)
                .map_err(|_| CryptoError::BadKey("the stored signing key is not hex".into()))?,
        );
        Ok(Self {
            signing: SigningKey::from_pkcs8(&pkcs8)?,
            readers: readers
                .iter()
                .map(|l| parse_age_identity(l))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl fmt::Debug for OrgKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgKeys(***, {} readers)", self.readers.len())
    }
}

/// An age identity in the text form `age-keygen` writes, comment header included:
///
/// ```text
/// # created: 2024-03-08T14:30:00+06:00
/// # public key: age1...
/// AGE-SECRET-KEY-1...
/// ```
///
/// `created` is an RFC 3339 time with whole seconds.
pub fn age_identity_file(identity: &AgeIdentity, created: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(200));
    out.push_str("# created: ");
    out.push_str(created);
    out.push_str("\n# public key: ");
    out.push_str(&identity.to_public().to_string());
    out.push('\n');
    out.push_str(identity.to_string().expose_secret());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_grouped_for_reading_aloud() {
        assert_eq!(grouped_hex(&[0xab, 0xcd, 0x12, 0x34, 0xef]), "abcd 1234 ef");
    }

    #[test]
    fn canonical_json_golden_vector() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{ "z": 1, "a": [true, false, null, -7, 12345678901234],
                 "é": "quote \" backslash \\ tab \t nl \n bell \u0007 кириллица 😀",
                 "lat": 42.8746, "lon": 74.5698, "n": {"b": {}, "a": []} }"#,
        )
        .unwrap();
        let got = String::from_utf8(canonical_json(&v)).unwrap();
        assert_eq!(
            got,
            "{\"a\":[true,false,null,-7,12345678901234],\"lat\":42.8746,\"lon\":74.5698,\
             \"n\":{\"a\":[],\"b\":{}},\"z\":1,\
             \"é\":\"quote \\\" backslash \\\\ tab \\t nl \\n bell \\u0007 кириллица 😀\"}"
        );
        assert_eq!(
            hex::encode(sha256(got.as_bytes())),
            hex::encode(sha256(&canonical_json(
                &serde_json::from_str::<serde_json::Value>(&got).unwrap()
            ))),
            "canonical form is a fixed point"
        );
    }

    #[test]
    fn sign_and_verify_golden_vector() {
        // RFC 8032 section 7.1, test 2, wrapped as ring's PKCS#8 v2 document.
        let seed = hex::decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
            .unwrap();
        let pk: [u8; 32] =
            hex::decode("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
                .unwrap()
                .try_into()
                .unwrap();
        let pair = Ed25519KeyPair::from_seed_and_public_key(&seed, &pk).unwrap();
        let sig = pair.sign(&[0x72]);
        assert_eq!(
            hex::encode(sig.as_ref()),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
        let sig = Signature::from_slice(sig.as_ref()).unwrap();
        verify(&pk, &[0x72], &sig).unwrap();
        assert!(matches!(
            verify(&pk, &[0x73], &sig),
            Err(CryptoError::BadSignature)
        ));
    }

    #[test]
    fn device_keys_round_trip_through_storage() {
        let keys = DeviceKeys::generate().unwrap();
        let stored = keys.expose_secret_bytes();
        let back = DeviceKeys::from_secret_bytes(&stored).unwrap();
        assert_eq!(back.public(), keys.public());
        let hash = sha256(b"doc");
        verify(&keys.public().sign_pk, &hash, &back.sign(&hash)).unwrap();
        assert!(keys.public().age_recipient.starts_with("age1"));
        assert_eq!(format!("{keys:?}"), "DeviceKeys(***)");
        assert!(DeviceKeys::from_secret_bytes(b"nonsense").is_err());
        let json = serde_json::to_value(keys.public()).unwrap();
        assert_eq!(json["sign_pk"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn org_keys_round_trip_and_identity_file() {
        let keys = OrgKeys::generate(2).unwrap();
        let back = OrgKeys::from_secret_bytes(&keys.expose_secret_bytes()).unwrap();
        assert_eq!(back.recipients(), keys.recipients());
        assert_eq!(back.sign_pk(), keys.sign_pk());
        assert_eq!(keys.recipients().len(), 2);
        assert!(!format!("{keys:?}").contains("AGE-SECRET"));

        let file = age_identity_file(&keys.identities()[0], "2024-03-08T14:30:00+06:00");
        let lines: Vec<&str> = file.lines().collect();
        assert_eq!(lines[0], "# created: 2024-03-08T14:30:00+06:00");
        assert_eq!(lines[1], format!("# public key: {}", keys.recipients()[0]));
        assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
        let parsed = AgeIdentity::from_str(lines[2]).unwrap();
        assert_eq!(parsed.to_public().to_string(), keys.recipients()[0]);
    }
}

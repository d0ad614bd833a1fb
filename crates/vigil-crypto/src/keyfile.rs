//! The key header: the vault's database key, wrapped under the passphrase.
//!
//! It is a small JSON document, stored as `vault.key` beside the database:
//!
//! ```json
//! {"format":"vigil-key","version":2,
//!  "kdf":{"alg":"argon2id","m_kib":65536,"t":3,"p":4,"salt":"<32 hex>"},
//!  "wrap":{"alg":"aes-256-gcm","nonce":"<24 hex>","ciphertext":"<96 hex: key + tag>"}}
//! ```
//!
//! Order of operations on unlock: parse; refuse a newer version; refuse parameters below the
//! floor (before spending any work); derive the key-encryption key with Argon2id; open the
//! AES-256-GCM box. The associated data binds the format, version, parameters and salt, so a
//! header whose parameters were edited fails exactly like a wrong passphrase, and cannot be used
//! to make guessing cheaper. Nothing in the header is secret; nothing in it reveals content.
//!
//! Version 2 derives the key from the passphrase's normalised form
//! ([`Passphrase::normalized`]: RFC 8265 OpaqueString, NFC). Version 1 used the passphrase as
//! typed: its header is opened with the normalised form and, if that fails, with the form as
//! typed, and the vault then writes it again as version 2 ([`KeyHeader::is_current`]).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use crate::kdf::{self, KdfParams};
use crate::secret::random_bytes;
use crate::{CryptoError, Key256, Passphrase};

/// The newest header version this build reads and the one it writes.
pub const VERSION: u32 = 2;
const FORMAT: &str = "vigil-key";
const SALT_LEN: usize = 16;

/// A parsed key header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyHeader {
    format: String,
    version: u32,
    kdf: KdfSection,
    wrap: WrapSection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfSection {
    alg: String,
    m_kib: u32,
    t: u32,
    p: u32,
    #[serde(with = "hex::serde")]
    salt: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrapSection {
    alg: String,
    #[serde(with = "hex::serde")]
    nonce: Vec<u8>,
    #[serde(with = "hex::serde")]
    ciphertext: Vec<u8>,
}

impl KeyHeader {
    /// Wraps `key` under `pass` with fresh salt and nonce.
    pub fn seal(key: &Key256, pass: &Passphrase, params: KdfParams) -> Result<Self, CryptoError> {
        params.check()?;
        let mut salt = vec![0u8; SALT_LEN];
        random_bytes(&mut salt)?;
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut header = KeyHeader {
            format: FORMAT.to_owned(),
            version: VERSION,
            kdf: KdfSection {
                alg: "argon2id".to_owned(),
                m_kib: params.m_kib,
                t: params.t,
                p: params.p,
                salt,
            },
            wrap: WrapSection {
                alg: "aes-256-gcm".to_owned(),
                nonce: nonce.to_vec(),
                ciphertext: Vec::new(),
            },
        };
        let kek = kdf::derive(&pass.normalized(), &header.kdf.salt, params)?;
        let sealing = aead_key(&kek)?;
        let mut buf = key.expose_bytes().to_vec();
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header.aad()),
                &mut buf,
            )
            .map_err(|_| CryptoError::Rng)?;
        header.wrap.ciphertext = buf;
        Ok(header)
    }

    /// Parses a header, checking its shape and version but not the passphrase.
    pub fn from_json(text: &str) -> Result<Self, CryptoError> {
        #[derive(Deserialize)]
        struct Probe {
            format: Option<String>,
            version: Option<u32>,
        }
        let probe: Probe = serde_json::from_str(text)
            .map_err(|e| CryptoError::NotAKeyHeader(format!("unreadable: {e}")))?;
        if probe.format.as_deref() != Some(FORMAT) {
            return Err(CryptoError::NotAKeyHeader("wrong format marker".into()));
        }
        let version = probe
            .version
            .ok_or_else(|| CryptoError::NotAKeyHeader("no version".into()))?;
        if version > VERSION {
            return Err(CryptoError::NewerFormat {
                found: version,
                supported: VERSION,
            });
        }
        let h: KeyHeader = serde_json::from_str(text)
            .map_err(|e| CryptoError::NotAKeyHeader(format!("malformed: {e}")))?;
        if h.kdf.alg != "argon2id" || h.wrap.alg != "aes-256-gcm" {
            return Err(CryptoError::NotAKeyHeader("unknown algorithm".into()));
        }
        if h.kdf.salt.len() != SALT_LEN
            || h.wrap.nonce.len() != NONCE_LEN
            || h.wrap.ciphertext.len() != 32 + AES_256_GCM.tag_len()
        {
            return Err(CryptoError::NotAKeyHeader(
                "field of the wrong length".into(),
            ));
        }
        Ok(h)
    }

    /// Serialises the header.
    pub fn to_json(&self) -> String {
        // A struct of strings, integers and byte vectors always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The Argon2id parameters the header asks for.
    pub fn params(&self) -> KdfParams {
        KdfParams {
            m_kib: self.kdf.m_kib,
            t: self.kdf.t,
            p: self.kdf.p,
        }
    }

    /// Whether the header is of the version this build writes; an older one should be written
    /// again ([`KeyHeader::seal`]) once it has opened.
    pub fn is_current(&self) -> bool {
        self.version == VERSION
    }

    /// Derives the key-encryption key and unwraps the database key: from the passphrase's
    /// normalised form, and for a version-1 header, failing that, from the form as typed.
    pub fn unwrap_key(&self, pass: &Passphrase) -> Result<Key256, CryptoError> {
        let normal = pass.normalized();
        match self.unwrap_with(&normal) {
            Err(CryptoError::WrongPassphrase)
                if self.version < 2 && normal.expose_str() != pass.expose_str() =>
            {
                self.unwrap_with(pass)
            }
            other => other,
        }
    }

    fn unwrap_with(&self, pass: &Passphrase) -> Result<Key256, CryptoError> {
        let params = self.params();
        params.check()?;
        let kek = kdf::derive(pass, &self.kdf.salt, params)?;
        let opening = aead_key(&kek)?;
        let nonce: [u8; NONCE_LEN] = self
            .wrap
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::NotAKeyHeader("bad nonce".into()))?;
        let mut buf = zeroize::Zeroizing::new(self.wrap.ciphertext.clone());
        let plain = opening
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad()),
                &mut buf,
            )
            .map_err(|_| CryptoError::WrongPassphrase)?;
        Key256::from_slice(plain).ok_or(CryptoError::WrongPassphrase)
    }

    /// The same database key under a new passphrase (and fresh salt and nonce).
    pub fn rewrap(
        &self,
        old: &Passphrase,
        new: &Passphrase,
        params: KdfParams,
    ) -> Result<Self, CryptoError> {
        let key = self.unwrap_key(old)?;
        Self::seal(&key, new, params)
    }

    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(FORMAT.as_bytes());
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(&self.kdf.m_kib.to_be_bytes());
        aad.extend_from_slice(&self.kdf.t.to_be_bytes());
        aad.extend_from_slice(&self.kdf.p.to_be_bytes());
        aad.extend_from_slice(&self.kdf.salt);
        aad
    }
}

fn aead_key(k: &Key256) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, k.expose_bytes())
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Rng)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.to_owned())
    }

    /// A version-1 header, as the previous release wrote it: from the passphrase as typed.
    fn seal_v1(key: &Key256, pass: &Passphrase) -> KeyHeader {
        let params = KdfParams::FLOOR;
        let mut h = KeyHeader::seal(key, pass, params).unwrap();
        h.version = 1;
        let kek = kdf::derive(pass, &h.kdf.salt, params).unwrap();
        let nonce: [u8; NONCE_LEN] = h.wrap.nonce.as_slice().try_into().unwrap();
        let mut buf = key.expose_bytes().to_vec();
        aead_key(&kek)
            .unwrap()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(h.aad()),
                &mut buf,
            )
            .unwrap();
        h.wrap.ciphertext = buf;
        h
    }

    /// Every Unicode form of a passphrase (composed, decomposed, compatibility-composed) opens
    /// a header made with any of them: Cyrillic with й and ё, Latin with accents.
    #[test]
    fn every_unicode_form_of_a_passphrase_opens_it() {
        use unicode_normalization::UnicodeNormalization;
        for p in ["Бишкек йод ёлка 2019", "Crème brûlée à l'école"] {
            let forms: Vec<String> = vec![p.nfc().collect(), p.nfd().collect(), p.nfkc().collect()];
            assert_ne!(forms[0], forms[1], "the forms differ as bytes");
            let key = Key256::generate().unwrap();
            for made in &forms {
                let h = KeyHeader::seal(&key, &pass(made), KdfParams::FLOOR).unwrap();
                assert!(h.is_current());
                for typed in &forms {
                    let k = h.unwrap_key(&pass(typed)).unwrap();
                    assert_eq!(k.expose_bytes(), key.expose_bytes());
                }
                assert!(matches!(
                    h.unwrap_key(&pass(&format!("{made}!"))),
                    Err(CryptoError::WrongPassphrase)
                ));
            }
        }
    }

    /// A no-break space (as some keyboards and pasted text give) is a space.
    #[test]
    fn a_non_ascii_space_is_a_space() {
        let key = Key256::generate().unwrap();
        let h = KeyHeader::seal(
            &key,
            &pass("nine\u{00A0}men\u{2009}entered"),
            KdfParams::FLOOR,
        )
        .unwrap();
        assert!(h.unwrap_key(&pass("nine men entered")).is_ok());
    }

    /// A version-1 header made from a decomposed passphrase opens with that form (as before)
    /// and with the composed one; it is not current, so the vault writes it again.
    #[test]
    fn a_version_1_header_opens_with_the_form_it_was_made_with_and_the_normal_one() {
        use unicode_normalization::UnicodeNormalization;
        let p = "Бишкек йод ёлка 2019";
        let (nfc, nfd): (String, String) = (p.nfc().collect(), p.nfd().collect());
        let key = Key256::generate().unwrap();
        let old = seal_v1(&key, &pass(&nfd));
        assert!(!old.is_current());
        let parsed = KeyHeader::from_json(&old.to_json()).unwrap();
        assert!(parsed.unwrap_key(&pass(&nfd)).is_ok());
        assert!(matches!(
            parsed.unwrap_key(&pass("wrong")),
            Err(CryptoError::WrongPassphrase)
        ));
        // Written again (as the vault does), it opens with every form.
        let new = KeyHeader::seal(
            &parsed.unwrap_key(&pass(&nfd)).unwrap(),
            &pass(&nfd),
            parsed.params(),
        )
        .unwrap();
        assert!(new.unwrap_key(&pass(&nfc)).is_ok());
        // A version-1 header made from the composed form (most vaults) opens as before.
        let composed = seal_v1(&key, &pass(&nfc));
        assert!(composed.unwrap_key(&pass(&nfd)).is_ok());
    }

    #[test]
    fn wrong_passphrase_is_distinct() {
        let key = Key256::generate().unwrap();
        let h = KeyHeader::seal(&key, &pass("right"), KdfParams::FLOOR).unwrap();
        assert!(matches!(
            h.unwrap_key(&pass("wrong")),
            Err(CryptoError::WrongPassphrase)
        ));
    }

    #[test]
    fn edited_parameters_are_refused_or_fail_authentication() {
        let key = Key256::generate().unwrap();
        let h = KeyHeader::seal(&key, &pass("right"), KdfParams::FLOOR).unwrap();
        let weak = h.to_json().replace("\"t\": 3", "\"t\": 1");
        let parsed = KeyHeader::from_json(&weak).unwrap();
        assert!(matches!(
            parsed.unwrap_key(&pass("right")),
            Err(CryptoError::KdfBelowFloor(_))
        ));
        let stronger = h.to_json().replace("\"t\": 3", "\"t\": 4");
        let parsed = KeyHeader::from_json(&stronger).unwrap();
        assert!(matches!(
            parsed.unwrap_key(&pass("right")),
            Err(CryptoError::WrongPassphrase)
        ));
    }

    #[test]
    fn rewrap_keeps_the_key() {
        let key = Key256::generate().unwrap();
        let h = KeyHeader::seal(&key, &pass("old"), KdfParams::FLOOR).unwrap();
        let h2 = h
            .rewrap(&pass("old"), &pass("new"), KdfParams::FLOOR)
            .unwrap();
        assert_eq!(
            h2.unwrap_key(&pass("new")).unwrap().expose_bytes(),
            key.expose_bytes()
        );
        assert!(h2.unwrap_key(&pass("old")).is_err());
    }

    #[test]
    fn garbage_and_newer_versions_are_told_apart() {
        assert!(matches!(
            KeyHeader::from_json("hello"),
            Err(CryptoError::NotAKeyHeader(_))
        ));
        assert!(matches!(
            KeyHeader::from_json(r#"{"format":"other"}"#),
            Err(CryptoError::NotAKeyHeader(_))
        ));
        assert!(matches!(
            KeyHeader::from_json(r#"{"format":"vigil-key","version":9}"#),
            Err(CryptoError::NewerFormat { found: 9, .. })
        ));
    }
}

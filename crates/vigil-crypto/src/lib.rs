//! Key handling for the Vigil vault.
//!
//! Three things live here, each in its own module:
//!
//! - [`secret`]: the types that hold secret material ([`Passphrase`], [`Key256`]). They cannot be
//!   cloned or serialised, print as `***`, and are wiped from memory when dropped.
//! - [`keyfile`]: the small key header stored beside the encrypted database. The database key is
//!   32 random bytes, wrapped with AES-256-GCM under a key-encryption key derived from the
//!   passphrase with Argon2id ([`kdf`]). Changing the passphrase rewraps the key; the database is
//!   never re-encrypted.
//! - [`chunk`]: authenticated encryption of attachment chunks, each padded to a fixed size, so the
//!   files on disk reveal neither how many attachments there are nor how large each one is.
//! - [`sign`]: device and organisation identities (Ed25519 signing keys, age X25519 identities)
//!   and the canonical JSON that sealed documents are signed in.
//!
//! ```
//! use vigil_crypto::{Key256, Passphrase, kdf::KdfParams, keyfile::KeyHeader};
//!
//! let db_key = Key256::generate().unwrap();
//! let pass = Passphrase::new("correct horse battery staple".to_owned());
//! let header = KeyHeader::seal(&db_key, &pass, KdfParams::FLOOR).unwrap();
//! let text = header.to_json();
//! let unwrapped = KeyHeader::from_json(&text).unwrap().unwrap_key(&pass).unwrap();
//! assert_eq!(unwrapped.expose_bytes(), db_key.expose_bytes());
//! let wrong = Passphrase::new("wrong".to_owned());
//! assert!(KeyHeader::from_json(&text).unwrap().unwrap_key(&wrong).is_err());
//! ```

pub mod chunk;
pub mod kdf;
pub mod keyfile;
pub mod process;
pub mod secret;
pub mod sign;

pub use secret::{Key256, Passphrase};

/// What can go wrong with keys and encrypted data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The passphrase does not unwrap the key. Retrying with the right passphrase helps.
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    /// The key header cannot be parsed: this is not a Vigil key header.
    #[error("not a Vigil key header: {0}")]
    NotAKeyHeader(String),
    /// The key header was written by a newer version of Vigil.
    #[error(
        "the key header has format version {found}, but this version of Vigil reads up to {supported}; update Vigil"
    )]
    NewerFormat {
        /// Version found in the header.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// The key header asks for Argon2id parameters below the floor. Refused, because an attacker
    /// who can write the header could otherwise make the passphrase cheap to guess.
    #[error(
        "the key header asks for key-derivation parameters below the safe minimum ({0}); refusing to use it"
    )]
    KdfBelowFloor(String),
    /// Argon2 refused the parameters.
    #[error("key derivation failed: {0}")]
    Kdf(String),
    /// Authenticated decryption failed: the data was altered, truncated or reordered.
    #[error("encrypted data failed its integrity check (altered, truncated or reordered)")]
    Tampered,
    /// Stored key material cannot be read (damaged, or not what it claims to be).
    #[error("key material is unreadable: {0}")]
    BadKey(String),
    /// A signature does not verify: the document was altered or signed by another key.
    #[error("the signature does not verify (the document was altered or signed by another key)")]
    BadSignature,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

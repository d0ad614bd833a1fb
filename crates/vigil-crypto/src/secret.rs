//! Types for secret material.
//!
//! None of them implements `Clone`, `Serialize` or a revealing `Debug`; their bytes are reachable
//! only through methods named `expose_*`, so every use is easy to find in review.

use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;

/// A passphrase typed by a person. Wiped on drop.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Takes ownership of the string, so no other copy is left behind by this call.
    pub fn new(s: String) -> Self {
        crate::process::lock_in_memory(s.as_bytes());
        Self(Zeroizing::new(s))
    }

    /// The passphrase text. Keep the borrow short.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

    /// True when the passphrase is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The form keys are derived from (key header version 2): RFC 8265's OpaqueString profile,
    /// that is, every non-ASCII space mapped to U+0020, then Unicode Normalization Form C.
    /// Keyboards, input methods and pasted text give one passphrase in different forms (an
    /// `й` typed as one character or as `и` and a combining breve); all of them are one
    /// passphrase here.
    pub fn normalized(&self) -> Passphrase {
        use unicode_normalization::UnicodeNormalization;
        let mapped = self
            .0
            .chars()
            .map(|c| if is_non_ascii_space(c) { ' ' } else { c })
            .nfc()
            .collect::<String>();
        Passphrase::new(mapped)
    }
}

/// The space separators (Unicode category Zs) other than U+0020.
fn is_non_ascii_space(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

/// A 256-bit symmetric key. Wiped on drop. The bytes live in one heap allocation that never
/// moves, so passing a key around copies a pointer, never the key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Key256(Box<[u8; 32]>);

impl Key256 {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = Self(locked_box([0u8; 32]));
        SystemRandom::new()
            .fill(&mut k.0[..])
            .map_err(|_| CryptoError::Rng)?;
        Ok(k)
    }

    /// Wraps existing key bytes (for example read back from the encrypted database). The
    /// caller's copy is its own to wipe; prefer [`Key256::from_slice`] on a wiped buffer.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(locked_box(bytes))
    }

    /// Builds a key from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let mut k = Self(locked_box([0u8; 32]));
        k.0.copy_from_slice(bytes);
        Some(k)
    }

    /// A key whose bytes the caller fills in place (a key derivation's output).
    pub(crate) fn filled_by<E>(fill: impl FnOnce(&mut [u8]) -> Result<(), E>) -> Result<Self, E> {
        let mut k = Self(locked_box([0u8; 32]));
        fill(&mut k.0[..])?;
        Ok(k)
    }

    /// The raw key bytes. Keep the borrow short.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as lowercase hex, in a buffer that is wiped on drop.
    pub fn expose_hex(&self) -> Zeroizing<String> {
        let hex = Zeroizing::new(hex::encode(&self.0[..]));
        crate::process::lock_in_memory(hex.as_bytes());
        hex
    }
}

impl fmt::Debug for Key256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key256(***)")
    }
}

/// A key's heap allocation, its pages locked in memory where the system permits (never
/// written to swap).
fn locked_box(bytes: [u8; 32]) -> Box<[u8; 32]> {
    let b = Box::new(bytes);
    crate::process::lock_in_memory(&b[..]);
    b
}

/// Fills a buffer with random bytes from the operating system.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let p = Passphrase::new("hunter2-marker".into());
        assert_eq!(format!("{p:?}"), "Passphrase(***)");
        let k = Key256::from_bytes([0xab; 32]);
        assert!(!format!("{k:?}").contains("ab"));
    }

    #[test]
    fn generated_keys_differ() -> Result<(), CryptoError> {
        let a = Key256::generate()?;
        let b = Key256::generate()?;
        assert_ne!(a.expose_bytes(), b.expose_bytes());
        Ok(())
    }
}

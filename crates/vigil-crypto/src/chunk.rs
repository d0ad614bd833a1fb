//! Authenticated encryption of attachment chunks.
//!
//! An attachment is cut into pieces of at most [`PAYLOAD_LEN`] bytes. Each piece is framed as
//! `u32 little-endian length || bytes || zero padding` to exactly [`CHUNK_PLAIN_LEN`] bytes and
//! sealed with AES-256-GCM under a key that belongs to that attachment alone, so every chunk on
//! disk is exactly [`CHUNK_SEALED_LEN`] bytes whatever it holds.
//!
//! The 96-bit nonce is `chunk index (u64 big-endian) || 0 0 0 || last flag`. Because the key is
//! used for one attachment only, the index makes each nonce unique; because the index and the
//! last flag are in the nonce, a chunk moved to another position, a missing final chunk or an
//! extra chunk after it fails to decrypt. This is the STREAM construction that age also uses.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{CryptoError, Key256};

/// Plaintext bytes in one chunk, including the 4-byte length field and padding.
pub const CHUNK_PLAIN_LEN: usize = 256 * 1024;
/// Attachment bytes carried by one chunk at most.
pub const PAYLOAD_LEN: usize = CHUNK_PLAIN_LEN - 4;
/// Size of every sealed chunk on disk.
pub const CHUNK_SEALED_LEN: usize = CHUNK_PLAIN_LEN + 16;
const AAD: &[u8] = b"vigil-attachment-chunk-v1";

/// Seals and opens the chunks of one attachment.
pub struct ChunkCipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkCipher(***)")
    }
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

impl ChunkCipher {
    /// A cipher for the attachment whose key is `key`.
    pub fn new(key: &Key256) -> Result<Self, CryptoError> {
        let key = UnboundKey::new(&AES_256_GCM, key.expose_bytes())
            .map(LessSafeKey::new)
            .map_err(|_| CryptoError::Rng)?;
        Ok(Self { key })
    }

    /// Seals `payload` (at most [`PAYLOAD_LEN`] bytes) as chunk `index` into `out`, which is
    /// resized to [`CHUNK_SEALED_LEN`].
    pub fn seal(
        &self,
        index: u64,
        last: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if payload.len() > PAYLOAD_LEN {
            return Err(CryptoError::Kdf("chunk payload too long".into()));
        }
        out.clear();
        out.resize(CHUNK_PLAIN_LEN, 0);
        let len = u32::try_from(payload.len()).map_err(|_| CryptoError::Tampered)?;
        out[..4].copy_from_slice(&len.to_le_bytes());
        out[4..4 + payload.len()].copy_from_slice(payload);
        self.key
            .seal_in_place_append_tag(nonce(index, last), Aad::from(AAD), out)
            .map_err(|_| CryptoError::Rng)?;
        Ok(())
    }

    /// Opens chunk `index` in place and returns its payload.
    pub fn open<'a>(
        &self,
        index: u64,
        last: bool,
        sealed: &'a mut [u8],
    ) -> Result<&'a [u8], CryptoError> {
        if sealed.len() != CHUNK_SEALED_LEN {
            return Err(CryptoError::Tampered);
        }
        let plain = self
            .key
            .open_in_place(nonce(index, last), Aad::from(AAD), sealed)
            .map_err(|_| CryptoError::Tampered)?;
        let mut len = [0u8; 4];
        len.copy_from_slice(&plain[..4]);
        let len = u32::from_le_bytes(len) as usize;
        if len > PAYLOAD_LEN || (!last && len != PAYLOAD_LEN) {
            return Err(CryptoError::Tampered);
        }
        Ok(&plain[4..4 + len])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_fixed_size() {
        let c = ChunkCipher::new(&Key256::generate().unwrap()).unwrap();
        let mut out = Vec::new();
        c.seal(7, true, b"hello", &mut out).unwrap();
        assert_eq!(out.len(), CHUNK_SEALED_LEN);
        assert_eq!(c.open(7, true, &mut out.clone()).unwrap(), b"hello");
    }

    #[test]
    fn reorder_truncation_and_flips_are_detected() {
        let c = ChunkCipher::new(&Key256::generate().unwrap()).unwrap();
        let mut out = Vec::new();
        c.seal(0, false, &[1u8; PAYLOAD_LEN], &mut out).unwrap();
        assert!(matches!(
            c.open(1, false, &mut out.clone()),
            Err(CryptoError::Tampered)
        ));
        assert!(matches!(
            c.open(0, true, &mut out.clone()),
            Err(CryptoError::Tampered)
        ));
        let mut flipped = out.clone();
        flipped[1000] ^= 1;
        assert!(matches!(
            c.open(0, false, &mut flipped),
            Err(CryptoError::Tampered)
        ));
        let other = ChunkCipher::new(&Key256::generate().unwrap()).unwrap();
        assert!(matches!(
            other.open(0, false, &mut out),
            Err(CryptoError::Tampered)
        ));
    }
}

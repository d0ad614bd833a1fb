//! Argon2id key derivation with a hard floor and one-time calibration.
//!
//! The floor is m = 64 MiB, t = 3, p = 4. At vault creation [`calibrate`] raises the time cost
//! until one derivation takes at least half a second on this machine (never more than about one
//! second, and never below the floor). The chosen parameters are stored in the key header; a
//! header that asks for less than the floor is refused before any derivation is attempted.

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

use crate::{CryptoError, Key256, Passphrase};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The weakest parameters Vigil ever accepts.
    pub const FLOOR: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };

    /// Refuses parameters below [`KdfParams::FLOOR`] in any dimension, and absurdly large ones
    /// that would let a forged header exhaust memory.
    pub fn check(&self) -> Result<(), CryptoError> {
        let f = Self::FLOOR;
        if self.m_kib < f.m_kib || self.t < f.t || self.p < f.p {
            return Err(CryptoError::KdfBelowFloor(format!(
                "m={} KiB, t={}, p={}; the minimum is m={} KiB, t={}, p={}",
                self.m_kib, self.t, self.p, f.m_kib, f.t, f.p
            )));
        }
        if self.m_kib > 4 * 1024 * 1024 || self.t > 1000 || self.p > 64 {
            return Err(CryptoError::Kdf(format!(
                "parameters m={} KiB, t={}, p={} are beyond any sane setting",
                self.m_kib, self.t, self.p
            )));
        }
        Ok(())
    }
}

/// Derives a 256-bit key from a passphrase and salt.
pub fn derive(pass: &Passphrase, salt: &[u8], params: KdfParams) -> Result<Key256, CryptoError> {
    params.check()?;
    let p = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    Key256::filled_by(|out| {
        argon
            .hash_password_into(pass.expose_str().as_bytes(), salt, out)
            .map_err(|e| CryptoError::Kdf(e.to_string()))
    })
}

/// Picks parameters for this machine: the floor's memory and lanes, with the time cost raised
/// until one derivation takes at least `target.start` (0.5 s by default), capped so it does not
/// exceed `target.end` by design. Returns the parameters and the measured duration.
pub fn calibrate(target: std::ops::Range<Duration>) -> Result<(KdfParams, Duration), CryptoError> {
    let pass = Passphrase::new("calibration".to_owned());
    let salt = [0u8; 16];
    let mut params = KdfParams::FLOOR;
    let time = |p: KdfParams| -> Result<Duration, CryptoError> {
        let start = Instant::now();
        derive(&pass, &salt, p)?;
        Ok(start.elapsed())
    };
    let mut took = time(params)?;
    if took >= target.start {
        return Ok((params, took));
    }
    // Time grows linearly in t: estimate the t that lands in the middle of the range.
    let per_pass = took.as_secs_f64() / f64::from(params.t);
    let mid = (target.start.as_secs_f64() + target.end.as_secs_f64()) / 2.0;
    let wanted = (mid / per_pass.max(1e-6)).ceil();
    params.t = (wanted as u32).clamp(KdfParams::FLOOR.t, 64);
    took = time(params)?;
    Ok((params, took))
}

/// Default calibration target: 0.5 s to 1 s.
pub const DEFAULT_TARGET: std::ops::Range<Duration> =
    Duration::from_millis(500)..Duration::from_millis(1000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_enforced_in_every_dimension() {
        for weak in [
            KdfParams {
                m_kib: 32 * 1024,
                ..KdfParams::FLOOR
            },
            KdfParams {
                t: 2,
                ..KdfParams::FLOOR
            },
            KdfParams {
                p: 1,
                ..KdfParams::FLOOR
            },
        ] {
            assert!(matches!(weak.check(), Err(CryptoError::KdfBelowFloor(_))));
            let pass = Passphrase::new("x".into());
            assert!(matches!(
                derive(&pass, &[0; 16], weak),
                Err(CryptoError::KdfBelowFloor(_))
            ));
        }
        assert!(KdfParams::FLOOR.check().is_ok());
    }

    #[test]
    fn derivation_is_deterministic_and_salted() -> Result<(), CryptoError> {
        let pass = Passphrase::new("passphrase".into());
        let a = derive(&pass, &[1; 16], KdfParams::FLOOR)?;
        let b = derive(&pass, &[1; 16], KdfParams::FLOOR)?;
        let c = derive(&pass, &[2; 16], KdfParams::FLOOR)?;
        assert_eq!(a.expose_bytes(), b.expose_bytes());
        assert_ne!(a.expose_bytes(), c.expose_bytes());
        Ok(())
    }
}

//! The one chain checker, for revisions and custody events alike.
//!
//! Each device numbers its records 1, 2, 3 ... and every record names the hash of the one
//! before it (`prev`; the first names none). A removed, reordered or altered record therefore
//! shows as a link whose `prev` is not the hash held at the place before it. How much of a
//! chain must be there depends on whose it is:
//!
//! - [`Completeness::FromFirst`]: the vault's own chains, which it holds whole;
//! - [`Completeness::Continuing`]: what a bundle brings must continue what is held (a gap means
//!   a record went missing on the way);
//! - [`Completeness::WherePresent`]: another device's chain, of which a vault may hold only
//!   part; every link is checked where both its ends are held.
//!
//! ```
//! use vigil_ledger::chain::{Completeness, Link, check};
//! use vigil_ledger::LedgerError;
//! use vigil_model::{DeviceId, Sha256};
//!
//! let a = Link { seq: 1, prev: None, hash: Sha256([1; 32]) };
//! let b = Link { seq: 2, prev: Some(Sha256([1; 32])), hash: Sha256([2; 32]) };
//! let device = DeviceId::new();
//! let none_held = |_: u64| -> Result<Option<Sha256>, LedgerError> { Ok(None) };
//! assert!(check(device, "revision", &[a, b], Completeness::FromFirst, none_held).is_ok());
//! let e = check(device, "revision", &[b], Completeness::Continuing, none_held).unwrap_err();
//! assert_eq!(e.code(), "chain_broken");
//! ```

use vigil_model::{DeviceId, Sha256};

use crate::LedgerError;

/// One record's place in its device's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Its place, from 1.
    pub seq: u64,
    /// The hash it names as the previous record's.
    pub prev: Option<Sha256>,
    /// Its own hash.
    pub hash: Sha256,
}

/// How much of a chain must be present (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// Whole, from place 1.
    FromFirst,
    /// Each link's predecessor among the links or held.
    Continuing,
    /// Links checked where both ends are present.
    WherePresent,
}

fn broken(device: DeviceId, detail: String) -> LedgerError {
    LedgerError::ChainBroken {
        device: device.to_string(),
        detail,
    }
}

/// Checks that `links` (one device's records of kind `what`, in any order) form a chain with
/// what is held, which `held` tells by place.
pub fn check<E: From<LedgerError>>(
    device: DeviceId,
    what: &str,
    links: &[Link],
    completeness: Completeness,
    mut held: impl FnMut(u64) -> Result<Option<Sha256>, E>,
) -> Result<(), E> {
    let mut links = links.to_vec();
    links.sort_by_key(|l| l.seq);
    for i in 0..links.len() {
        let l = links[i];
        if l.seq == 0 || l.seq > i64::MAX as u64 || (l.seq == 1) != l.prev.is_none() {
            return Err(broken(device, format!("{what} {} is out of its chain", l.seq)).into());
        }
        let before = i.checked_sub(1).map(|j| links[j]);
        if before.is_some_and(|b| b.seq == l.seq) {
            return Err(broken(device, format!("two {what}s are number {}", l.seq)).into());
        }
        if l.seq == 1 {
            continue;
        }
        let expected = match before.filter(|b| b.seq + 1 == l.seq) {
            Some(b) => Some(b.hash),
            None => held(l.seq - 1)?,
        };
        match expected {
            Some(h) if l.prev == Some(h) => {}
            Some(_) => {
                return Err(broken(
                    device,
                    format!("{what} {} does not follow {what} {}", l.seq, l.seq - 1),
                )
                .into());
            }
            None if completeness == Completeness::WherePresent => {}
            None => {
                return Err(broken(
                    device,
                    format!(
                        "{what} {} is here, but {what} {} is missing",
                        l.seq,
                        l.seq - 1
                    ),
                )
                .into());
            }
        }
    }
    if completeness == Completeness::FromFirst
        && let Some(first) = links.first()
        && first.seq != 1
    {
        return Err(broken(device, format!("its first {what} is number {}", first.seq)).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chain(n: u64) -> Vec<Link> {
        (1..=n)
            .map(|i| Link {
                seq: i,
                prev: (i > 1).then(|| Sha256([(i - 1) as u8; 32])),
                hash: Sha256([i as u8; 32]),
            })
            .collect()
    }

    fn run(links: &[Link], c: Completeness, held: &[Link]) -> Result<(), &'static str> {
        check(DeviceId::new(), "revision", links, c, |seq| {
            Ok::<_, LedgerError>(held.iter().find(|l| l.seq == seq).map(|l| l.hash))
        })
        .map_err(|e| e.code())
    }

    #[test]
    fn chains_and_their_breaks() {
        let c = chain(5);
        assert_eq!(run(&c, Completeness::FromFirst, &[]), Ok(()));
        let mut reversed = c.clone();
        reversed.reverse();
        assert_eq!(run(&reversed, Completeness::FromFirst, &[]), Ok(()));
        // A record removed from the middle, or from the start.
        let gap = [c[0], c[1], c[3], c[4]];
        assert!(run(&gap, Completeness::FromFirst, &[]).is_err());
        assert!(run(&gap, Completeness::Continuing, &[]).is_err());
        assert_eq!(run(&gap, Completeness::WherePresent, &[]), Ok(()));
        assert!(run(&c[1..], Completeness::FromFirst, &[]).is_err());
        // What a bundle brings continues what is held.
        assert_eq!(run(&c[2..], Completeness::Continuing, &c[..2]), Ok(()));
        assert!(run(&c[3..], Completeness::Continuing, &c[..2]).is_err());
        // A link altered, repeated, or at place 0.
        let mut altered = c.clone();
        altered[2].prev = Some(Sha256([9; 32]));
        assert!(run(&altered, Completeness::WherePresent, &[]).is_err());
        let twice = [c[0], c[1], c[1]];
        assert!(run(&twice, Completeness::WherePresent, &[]).is_err());
        let zero = [Link {
            seq: 0,
            prev: None,
            hash: Sha256([0; 32]),
        }];
        assert!(run(&zero, Completeness::WherePresent, &[]).is_err());
        // What is held disagrees with the link.
        let other = chain(2)
            .into_iter()
            .map(|mut l| {
                l.hash = Sha256([7; 32]);
                l
            })
            .collect::<Vec<_>>();
        assert!(run(&c[2..], Completeness::Continuing, &other).is_err());
    }
}

//! Vigil's ledger: the signed records and the rules for trusting them, with no database and no
//! file I/O.
//!
//! Every record a Vigil vault signs or accepts from elsewhere is defined here, once, so that a
//! monitor's vault, HQ's vault and the organisation's server read and judge them the same way:
//!
//! | module | what |
//! |---|---|
//! | [`canonical`] | the byte form every record is signed in, and the strict reader that refuses any other |
//! | [`ids`] | revision ids, and device ids made from signing keys |
//! | [`profile`] | the organisation profile monitors join with |
//! | [`revision`] | sealed revisions, and their bundle entries |
//! | [`custody`] | the custody log's events, and their bundle lines |
//! | [`enrolment`] | invitations and device certificates |
//! | [`grant`] | the organisation handing an incident to another device |
//! | [`signed`] | small signed documents: revocations, the server's receipts |
//! | [`http_sig`] | the signature on every request to the organisation's server |
//! | [`chain`] | the one checker of per-device hash chains |
//! | [`lineage`] | an incident's heads and forks, from its `amends` links |
//! | [`trust`] | which senders are trusted, and why others go to quarantine |
//! | [`authorise`] | who may add what to an incident |
//!
//! Types whose names start with `Verified` can only be made by checking. Everything here is a
//! pure function of its inputs: callers bring what they hold (from a vault, a bundle or a
//! server's database) and get a decision, with a [`LedgerError`] that has a stable code.

#![forbid(unsafe_code)]

pub mod authorise;
pub mod canonical;
pub mod chain;
pub mod custody;
pub mod enrolment;
mod error;
pub mod grant;
pub mod http_sig;
pub mod ids;
pub mod lineage;
pub mod profile;
pub mod revision;
pub mod signed;
pub mod trust;

pub use error::{LedgerError, Result};
pub use ids::RevisionId;

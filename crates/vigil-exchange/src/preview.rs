//! What an export would carry and write, said before anything is written.

use std::collections::BTreeMap;

use vigil_store::Vault;

use crate::error::Result;
use crate::export::{Selection, selected};

/// What an export of `selection` would carry, said before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preview {
    /// Sealed revisions (first sealings and amendments).
    pub revisions: u64,
    /// The records (incidents) they are versions of.
    pub records: u64,
    /// Attachments, each file once.
    pub attachments: u64,
    /// The attachments' size, in bytes.
    pub attachment_bytes: u64,
}

/// What an export of `selection` would carry (all of it; a bundle that would grow past its
/// limits carries the first part and says so when written).
pub fn preview(vault: &Vault, selection: &Selection) -> Result<Preview> {
    let mut records = std::collections::BTreeSet::new();
    let mut files = BTreeMap::new();
    let chosen = selected(vault, selection)?;
    for id in &chosen {
        let doc = vault.revision(*id)?.document()?;
        records.insert(doc.incident.id);
        for a in doc.attachments {
            files.insert(a.sha256.to_string(), a.size);
        }
    }
    Ok(Preview {
        revisions: chosen.len() as u64,
        records: records.len() as u64,
        attachments: files.len() as u64,
        attachment_bytes: files.values().sum(),
    })
}

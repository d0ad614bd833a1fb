//! A bundle written into memory for the organisation's server: a sync item.

use vigil_bundle::BundleError;
use vigil_model::AttachmentId;
use vigil_store::RevisionId;

use crate::check::Nothing;
use crate::error::{Result, vault_error_inside};
use crate::export::ExportPlan;
use crate::fill::fill;
use crate::read::Expect;

/// A bundle written into memory for the organisation's server ([`ExportPlan::write_item`]).
#[derive(Debug)]
pub struct Item {
    /// The bundle's id, the item's id at the server.
    pub id: uuid::Uuid,
    /// The bundle: age ciphertext for HQ's readers and this device.
    pub bytes: Vec<u8>,
    /// The revisions it carries, in order.
    pub sent: Vec<RevisionId>,
    /// The last of this device's custody events it carries.
    pub custody_through: u64,
    /// The attachments its revisions name, which travel apart ([`crate::Limits::attachments_apart`]).
    pub blobs: Vec<AttachmentId>,
}

impl ExportPlan {
    /// The second phase for a sync item: the bundle is written into memory, and read back and
    /// checked whole before it is handed out. Nothing touches the disk.
    pub fn write_item(self) -> Result<Item> {
        let ExportPlan {
            recipients,
            manifest,
            signature,
            mut entries,
            mut spill,
            identities,
            sent,
            custody_through,
            blobs,
            ..
        } = self;
        let mut w = vigil_bundle::BundleWriter::new(Vec::new(), &recipients)?;
        fill(
            &mut w,
            &manifest,
            &signature,
            &mut entries,
            &mut spill,
            &mut |_, _| {},
        )
        .map_err(vault_error_inside)?;
        let bytes = w.finish()?;
        let (read_back, _) =
            crate::read::read_stream(&bytes[..], &identities, Expect::default(), &mut Nothing)?;
        if read_back.bundle_id != manifest.bundle_id {
            return Err(BundleError::Malformed("read-back found another bundle".into()).into());
        }
        Ok(Item {
            id: manifest.bundle_id,
            bytes,
            sent,
            custody_through,
            blobs,
        })
    }
}

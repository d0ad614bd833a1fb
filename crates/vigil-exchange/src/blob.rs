//! Attachments that travel apart from their bundle: a sync item's go to the server by its
//! resumable upload. Each is one age file of the attachment's bytes, to the same recipients as
//! a bundle (HQ's, and the sending device's), so HQ opens it as it opens a bundle, and the
//! standard `age` tool can too.
//!
//! Sealing reads the attachment from the vault's chunks and encrypts it on one thread while
//! the caller stages the ciphertext into the chunk store on another ([`std::io::pipe`]), in
//! constant memory, without the vault. Opening decrypts a download straight into the chunk
//! store and checks it against the size and SHA-256 the signed revision names.

use std::io::{Read, Write};
use std::path::PathBuf;

use vigil_bundle::BundleError;
use vigil_model::AttachmentId;
use vigil_store::{AttachmentReader, AttachmentRef, StagedAttachment, Vault};

use crate::error::{ExchangeError, Result};
use crate::import::Reading;

/// An attachment ready to be sealed for the server, holding nothing of the vault.
pub struct BlobSealing {
    dir: PathBuf,
    reader: AttachmentReader,
    recipients: Vec<age::x25519::Recipient>,
}

impl std::fmt::Debug for BlobSealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobSealing")
            .field("attachment", &self.reader.meta().id)
            .finish_non_exhaustive()
    }
}

/// The first phase, a short read of the vault: the attachment's reader and the recipients.
pub fn seal_blob(vault: &Vault, id: AttachmentId) -> Result<BlobSealing> {
    Ok(BlobSealing {
        dir: vault.dir().to_path_buf(),
        // Each chunk is authenticated as it is read; HQ checks the whole against the SHA-256
        // the signed revision names, so it is not computed here a second time.
        reader: vault.attachment_reader(id)?.authenticated_only(),
        recipients: crate::proof::recipients(vault)?,
    })
}

impl BlobSealing {
    /// The second phase, without the vault: the attachment's bytes (each chunk authenticated)
    /// encrypted to the recipients and staged into the vault's
    /// chunk store; the staged plaintext is the age file. Nothing is left on an error.
    pub fn stage(self) -> Result<StagedAttachment> {
        let BlobSealing {
            dir,
            mut reader,
            recipients,
        } = self;
        let (from, to) = std::io::pipe()?;
        let encrypting = std::thread::spawn(move || -> std::result::Result<(), ExchangeError> {
            let encryptor = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| {
                BundleError::Malformed(format!("cannot encrypt to these recipients: {e}"))
            })?;
            let mut w = encryptor.wrap_output(std::io::BufWriter::with_capacity(1 << 20, to))?;
            std::io::copy(&mut reader, &mut w)?;
            w.finish()?.flush()?;
            Ok(())
        });
        let staged = vigil_store::stage_attachment(&dir, from, None);
        let encrypted = encrypting
            .join()
            .map_err(|_| ExchangeError::from(std::io::Error::other("the encrypting thread failed")))
            .and_then(|r| r);
        match (staged, encrypted) {
            (Ok(s), Ok(())) => Ok(s),
            (Ok(s), Err(e)) => {
                s.discard();
                Err(e)
            }
            (Err(e), _) => Err(e.into()),
        }
    }
}

/// Decrypts a blob from the server with the vault's identities (`reading`) into its chunk
/// store, and checks it is the attachment `expect` names (size and SHA-256, as signed in the
/// revision). A blob that is not for this vault, damaged, cut or another file is refused and
/// nothing is left.
pub fn open_blob(
    reading: &Reading,
    input: impl Read,
    expect: &AttachmentRef,
) -> Result<StagedAttachment> {
    let payload = vigil_bundle::decrypt_payload(input, reading.identities())?;
    let staged = vigil_store::stage_attachment(reading.dir(), payload, None)?;
    if staged.size() != expect.size || staged.sha256() != expect.sha256.0 {
        staged.discard();
        return Err(BundleError::Tampered(format!(
            "attachment {} from the server is not the file its revision names",
            expect.id
        ))
        .into());
    }
    Ok(staged)
}

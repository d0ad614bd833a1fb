//! The outer layer: a binary (not armored) age v1 file to X25519 recipients.
//!
//! [`decrypt_payload`] is the only way this crate opens an age file; the bundle reader and the
//! C2SP CCTV vector tests both go through it, so the vectors test the reader's own decryption.

use std::io::{self, BufReader, Chain, Cursor, Read, Write};

use age::stream::{StreamReader, StreamWriter};

use crate::error::{BundleError, Result};

const AGE_MAGIC: &[u8] = b"age-encryption.org/";
const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Starts an age file to `recipients` on `out`; the returned writer encrypts what is written to
/// it, and must be `finish`ed.
pub(crate) fn encrypt_to<W: Write>(
    out: W,
    recipients: &[age::x25519::Recipient],
) -> Result<StreamWriter<W>> {
    if recipients.is_empty() {
        return Err(BundleError::Malformed(
            "a bundle needs at least one recipient".into(),
        ));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| {
                BundleError::Malformed(format!("cannot encrypt to these recipients: {e}"))
            })?;
    Ok(encryptor.wrap_output(out)?)
}

type Inner<R> = StreamReader<BufReader<Chain<Cursor<Vec<u8>>, R>>>;

/// The decrypted payload of an age file, read as a stream.
///
/// Plaintext is released one authenticated 64 KiB chunk at a time, so a damaged or cut file is
/// only known to be so when its end is reached: treat nothing as final before `read` returned
/// `Ok(0)`. Errors carry a [`BundleError`] (convert with `BundleError::from(io_error)`):
/// [`Tampered`](BundleError::Tampered) for a chunk that fails authentication (or, since the two
/// cannot be told apart, a file cut inside a chunk), [`Truncated`](BundleError::Truncated) for a
/// file cut at a chunk boundary.
pub struct Payload<R: Read> {
    inner: Inner<R>,
}

impl<R: Read> std::fmt::Debug for Payload<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload").finish_non_exhaustive()
    }
}

impl<R: Read> Read for Payload<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| payload_error(e).into_io())
    }
}

fn payload_error(e: io::Error) -> BundleError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            BundleError::Truncated("the encrypted stream ends before its final chunk".into())
        }
        io::ErrorKind::InvalidData => {
            BundleError::Tampered(format!("encrypted payload fails authentication: {e}"))
        }
        _ => BundleError::Io(e),
    }
}

/// Opens an age file with any of `identities` and returns its payload as a stream.
///
/// Only binary age v1 files are accepted; errors are classified as
/// [`NotABundle`](BundleError::NotABundle) (not an age v1 file, armored, malformed header),
/// [`NotForUs`](BundleError::NotForUs) (no identity matches), [`Tampered`](BundleError::Tampered)
/// (header MAC fails), [`Truncated`](BundleError::Truncated) (the file ends inside the header) or
/// [`Io`](BundleError::Io).
pub fn decrypt_payload<R: Read>(
    mut input: R,
    identities: &[age::x25519::Identity],
) -> Result<Payload<R>> {
    // Look at the first bytes ourselves, so that an empty file, a foreign file and an armored age
    // file each get a clear message rather than "invalid header".
    let mut head = vec![0u8; ARMOR_BEGIN.len()];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BundleError::Io(e)),
        }
    }
    head.truncate(got);
    if head.is_empty() {
        return Err(BundleError::NotABundle("the file is empty".into()));
    }
    if head.starts_with(ARMOR_BEGIN) {
        return Err(BundleError::NotABundle(
            "an ASCII-armored age file; bundles are binary age files".into(),
        ));
    }
    let n = head.len().min(AGE_MAGIC.len());
    if head[..n] != AGE_MAGIC[..n] {
        return Err(BundleError::NotABundle("not an age file".into()));
    }
    if head.len() < AGE_MAGIC.len() {
        return Err(BundleError::Truncated(
            "the file ends inside the age header".into(),
        ));
    }

    let input = BufReader::new(Cursor::new(head).chain(input));
    let decryptor = age::Decryptor::new(input).map_err(header_error)?;
    let inner = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(header_error)?;
    Ok(Payload { inner })
}

fn header_error(e: age::DecryptError) -> BundleError {
    use age::DecryptError as E;
    match e {
        E::NoMatchingKeys => BundleError::NotForUs,
        E::InvalidMac => BundleError::Tampered("the age header's MAC does not verify".into()),
        E::DecryptionFailed | E::KeyDecryptionFailed => {
            BundleError::Tampered(format!("age header: {e}"))
        }
        E::UnknownFormat => BundleError::NotABundle("an age file of an unknown version".into()),
        E::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            BundleError::Truncated("the file ends inside the age header".into())
        }
        E::Io(io) => BundleError::Io(io),
        other => BundleError::NotABundle(format!("invalid age header: {other}")),
    }
}

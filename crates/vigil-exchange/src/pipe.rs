//! The thread pipe that moves an attachment from the vault into a bundle: one thread decrypts
//! the vault's chunks while the caller archives and encrypts them, in constant memory.

use std::io::Read;

/// Blocks in flight between the decrypting and the writing thread (constant memory:
/// `PIPE_DEPTH` × [`PIPE_BLOCK`]).
pub(crate) const PIPE_DEPTH: usize = 4;
const PIPE_BLOCK: usize = 256 * 1024;

/// What the decrypting thread sends the writing one.
pub(crate) enum Piped {
    /// The next plaintext bytes.
    Block(Vec<u8>),
    /// The end, with the SHA-256 the reader vouches for (`AttachmentReader::verified_sha256`).
    End([u8; 32]),
    /// Reading failed; nothing follows.
    Failed(std::io::Error),
}

/// Reads `r` to its end in blocks and sends them, then its verified hash; an error is sent as
/// the last message. Blocks the writer is done with come back on `spare` and are reused.
pub(crate) fn pump(
    mut r: vigil_store::AttachmentReader,
    tx: std::sync::mpsc::SyncSender<Piped>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut block = spare.try_recv().unwrap_or_default();
        block.resize(PIPE_BLOCK, 0);
        let mut n = 0;
        while n < PIPE_BLOCK {
            match r.read(&mut block[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Piped::Failed(e));
                    return;
                }
            }
        }
        let last = if n == 0 {
            match r.verified_sha256() {
                Some(sha) => Piped::End(sha),
                None => Piped::Failed(std::io::Error::other(
                    "the attachment ended without its hash being checked",
                )),
            }
        } else {
            block.truncate(n);
            Piped::Block(block)
        };
        let end = !matches!(last, Piped::Block(_));
        if tx.send(last).is_err() || end {
            return; // done, or the writer stopped (it failed)
        }
    }
}

/// Reports progress as bytes pass through (every block, which is at most a few per MiB).
pub(crate) struct Counted<'a, R> {
    pub(crate) inner: &'a mut R,
    pub(crate) base: u64,
    pub(crate) total: u64,
    pub(crate) progress: &'a mut dyn FnMut(u64, u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.base += n as u64;
        (self.progress)(self.base, self.total);
        Ok(n)
    }
}

/// The receiving end of [`pump`], as a reader; the hash that ends the stream is left in
/// `hashed`.
pub(crate) struct ChannelReader<'a> {
    pub(crate) rx: std::sync::mpsc::Receiver<Piped>,
    pub(crate) back: std::sync::mpsc::SyncSender<Vec<u8>>,
    pub(crate) buf: Vec<u8>,
    pub(crate) pos: usize,
    pub(crate) hashed: &'a std::cell::Cell<Option<[u8; 32]>>,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.hashed.get().is_some() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Piped::Block(block)) => {
                    let used = std::mem::replace(&mut self.buf, block);
                    if used.capacity() > 0 {
                        let _ = self.back.try_send(used);
                    }
                    self.pos = 0;
                }
                Ok(Piped::End(sha)) => {
                    self.hashed.set(Some(sha));
                    return Ok(0);
                }
                Ok(Piped::Failed(e)) => return Err(e),
                Err(_) => {
                    return Err(std::io::Error::other(
                        "the decrypting thread stopped before the end of the attachment",
                    ));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

//! SHA-256 of a large entry on a helper thread, so that reading a bundle decrypts on one core
//! while it hashes on the other.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ring::digest;

/// Bytes handed to the helper at a time.
const BLOCK: usize = 256 * 1024;
/// Blocks in flight (memory stays under `(DEPTH + 2) × BLOCK`).
const DEPTH: usize = 4;

enum Job {
    Update(Vec<u8>),
    Finish,
}

/// A SHA-256 computed by a helper thread, for one stream after another: [`update`](Self::update)
/// with the bytes in order, then [`finish`](Self::finish) gives their hash and starts afresh.
pub(crate) struct Sha256Worker {
    jobs: Option<SyncSender<Job>>,
    hashes: Receiver<[u8; 32]>,
    spare: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    thread: Option<JoinHandle<()>>,
}

impl Sha256Worker {
    pub(crate) fn start() -> io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(DEPTH);
        let (hash_tx, hashes) = sync_channel(1);
        let (spare_tx, spare) = sync_channel(DEPTH + 1);
        let thread = std::thread::Builder::new()
            .name("vigil-sha256".into())
            .spawn(move || {
                let mut ctx = digest::Context::new(&digest::SHA256);
                for job in rx {
                    match job {
                        Job::Update(block) => {
                            ctx.update(&block);
                            let _ = spare_tx.try_send(block);
                        }
                        Job::Finish => {
                            let done =
                                std::mem::replace(&mut ctx, digest::Context::new(&digest::SHA256))
                                    .finish();
                            let mut out = [0u8; 32];
                            out.copy_from_slice(done.as_ref());
                            if hash_tx.send(out).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            hashes,
            spare,
            pending: Vec::new(),
            thread: Some(thread),
        })
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut bytes = bytes;
        while !bytes.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = self
                    .spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
                self.pending.clear();
            }
            let n = bytes.len().min(BLOCK - self.pending.len());
            self.pending.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.pending.len() >= BLOCK {
                self.send_pending()?;
            }
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> io::Result<[u8; 32]> {
        if !self.pending.is_empty() {
            self.send_pending()?;
        }
        self.send(Job::Finish)?;
        self.hashes.recv().map_err(|_| stopped())
    }

    fn send_pending(&mut self) -> io::Result<()> {
        let block = std::mem::take(&mut self.pending);
        self.send(Job::Update(block))
    }

    fn send(&self, job: Job) -> io::Result<()> {
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|_| stopped()),
            None => Err(stopped()),
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("the hashing thread stopped")
}

impl Drop for Sha256Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread; wait for it so none outlives its reader.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn gives_the_same_hash_as_hashing_in_place_for_stream_after_stream() {
        let mut w = Sha256Worker::start().unwrap();
        for len in [0usize, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 77] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            // Fed in uneven pieces.
            for piece in data.chunks(70_001) {
                w.update(piece).unwrap();
            }
            assert_eq!(
                w.finish().unwrap().as_slice(),
                digest::digest(&digest::SHA256, &data).as_ref(),
                "{len} bytes"
            );
        }
    }
}

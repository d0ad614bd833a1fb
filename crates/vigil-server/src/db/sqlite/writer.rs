//! Group commit: one thread owns the connection that writes, and commits the writes of every
//! request waiting at that moment in one transaction, so that many requests share one `fsync`.
//!
//! Each write runs in its own savepoint inside that transaction: a write that fails, or that
//! asks to be undone (a push refused as a conflict), is rolled back alone, and the others are
//! committed. No write's answer leaves before the transaction that holds it is committed with
//! `synchronous=FULL`: a receipt is never sent for an item that is not on disk.
//!
//! Two chores stay off the requests' path: a housekeeping write (forgetting expired nonces)
//! rides along with a group at most once per interval, and checkpoints (copying the WAL into
//! the database file, with its own `fsync`) run on a connection of their own in another
//! thread, which SQLite lets run beside the writer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Weak;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// The most writes one transaction holds.
const MAX_GROUP: usize = 512;

/// A write waiting for the writer thread.
pub(super) trait Job: Send {
    /// Runs it inside its savepoint; false when its changes must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends its answer, once its transaction is committed (or failed).
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

/// A write and the channel its answer goes back on.
pub(super) struct Pending<T, F> {
    f: Option<F>,
    keep: fn(&T) -> bool,
    out: Option<Result<T, ApiError>>,
    tx: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Pending<T, F> {
    /// A write `f` whose changes stay when it returns `Ok(t)` with `keep(&t)`.
    pub(super) fn new(
        f: F,
        keep: fn(&T) -> bool,
    ) -> (Self, oneshot::Receiver<Result<T, ApiError>>) {
        let (tx, rx) = oneshot::channel();
        let job = Pending {
            f: Some(f),
            keep,
            out: None,
            tx,
        };
        (job, rx)
    }
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(ApiError::internal("a database write panicked")));
        let keep = matches!(&out, Ok(t) if (self.keep)(t));
        self.out = Some(out);
        keep
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.out) {
            (_, None) => Err(ApiError::internal("the write did not run")),
            (Err(e), Some(_)) => Err(ApiError::internal(format!(
                "the database could not commit: {e}"
            ))),
            (Ok(()), Some(out)) => out,
        };
        // The request may have gone (its client left): nothing to tell.
        let _ = self.tx.send(answer);
    }
}

/// A housekeeping write, run inside a group's transaction at most once per interval.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chore {
    /// How often.
    pub every: Duration,
    /// What.
    pub run: fn(&Connection) -> rusqlite::Result<()>,
}

/// Starts the writer thread on `conn`; it ends when every sender is dropped.
pub(super) fn start(conn: Connection, chore: Chore) -> std::io::Result<Sender<Box<dyn Job>>> {
    let (tx, rx) = std::sync::mpsc::channel::<Box<dyn Job>>();
    std::thread::Builder::new()
        .name("vigil-sqlite-writer".into())
        .spawn(move || run(&conn, &rx, chore))?;
    Ok(tx)
}

fn run(conn: &Connection, rx: &Receiver<Box<dyn Job>>, chore: Chore) {
    let mut chore_done: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let due = chore_done.is_none_or(|t| t.elapsed() >= chore.every);
        let committed = commit_group(conn, &mut group, due.then_some(chore.run));
        if due && committed.is_ok() {
            chore_done = Some(Instant::now());
        }
        for job in group {
            job.finish(committed.clone());
        }
    }
}

fn commit_group(
    conn: &Connection,
    group: &mut [Box<dyn Job>],
    chore: Option<fn(&Connection) -> rusqlite::Result<()>>,
) -> Result<(), String> {
    // IMMEDIATE: the write lock is taken now (waiting on another process within the busy
    // timeout), so that no write inside fails half-way for want of it.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    let result = (|| {
        if let Some(chore) = chore {
            chore(conn)?;
        }
        for job in group.iter_mut() {
            conn.prepare_cached("SAVEPOINT job")?.execute([])?;
            if job.run(conn) {
                conn.prepare_cached("RELEASE job")?.execute([])?;
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            }
        }
        conn.execute_batch("COMMIT")
    })();
    result.map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    })
}

/// Checkpoints the WAL of the database at `path` from a connection of its own, every
/// `every`, until `alive` is gone (every handle on the database dropped). PASSIVE: it copies
/// what no reader still needs and never waits for the writer or a reader.
pub(super) fn start_checkpoints(
    conn: Connection,
    alive: Weak<impl Send + Sync + 'static>,
    every: Duration,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vigil-sqlite-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(every);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "a WAL checkpoint failed; the next one retries");
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn write<T: Send + 'static>(
        tx: &Sender<Box<dyn Job>>,
        keep: fn(&T) -> bool,
        f: impl FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (job, answer) = Pending::new(f, keep);
        tx.send(Box::new(job)).unwrap();
        answer.await.unwrap()
    }

    #[tokio::test]
    async fn each_write_is_kept_or_rolled_back_alone_within_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT PRIMARY KEY)")
            .unwrap();
        let chore = Chore {
            every: Duration::from_secs(60),
            run: |_| Ok(()),
        };
        let tx = start(conn, chore).unwrap();
        fn insert(v: &'static str) -> impl Fn(&Connection) -> Result<usize, ApiError> {
            move |c: &Connection| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                    .map_err(ApiError::internal)
            }
        }
        // Sent together, so that they share groups: one kept, one failing after its insert,
        // one that asks to be undone, one that panics after its insert.
        let (a, b, c, d) = tokio::join!(
            write(&tx, |_| true, insert("kept")),
            write(
                &tx,
                |_| true,
                |c: &Connection| {
                    insert("failed")(c)?;
                    Err::<usize, _>(ApiError::internal("refused"))
                }
            ),
            write(&tx, |n: &usize| *n == 0, insert("undone")),
            write(
                &tx,
                |_: &usize| true,
                |c: &Connection| {
                    insert("panicked")(c)?;
                    panic!("a bug in a write")
                }
            ),
        );
        assert_eq!(a.unwrap(), 1);
        assert!(b.is_err());
        assert_eq!(c.unwrap(), 1, "the answer is given, its change is not kept");
        assert!(d.is_err());
        // A second connection sees what was committed, and only that.
        let other = Connection::open(&path).unwrap();
        let rows: Vec<String> = other
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, ["kept"]);
        // The writer survived the panic.
        assert_eq!(write(&tx, |_| true, insert("after")).await.unwrap(), 1);
    }
}

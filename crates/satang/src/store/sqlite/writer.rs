//! The machinery of the SQLite store: the writer thread that commits in groups, and the readers. Every
//! concern module goes through three methods: [`SqliteStore::write`] (a job for the writer),
//! [`SqliteStore::read`] (a lookup on the calling thread) and [`SqliteStore::scan`] (a walk on the blocking
//! pool).
//!
//! Why a writer thread and not a pool: SQLite lets one connection write at a time, and the cost of a
//! durable commit is the `fsync`, not the inserts. So every write is a job sent to one thread, which takes
//! whatever jobs are queued (up to [`MAX_BATCH`]), runs each inside its own `SAVEPOINT` (a failing job rolls
//! back alone), and commits them together with one `fsync` (`synchronous=FULL`). Only after that commit
//! does any caller get its answer, so an acknowledged write survives a crash or power loss. Under load the
//! batches grow by themselves; idle, a lone write commits at once.
//!
//! Reads use a small pool of separate connections on the blocking thread pool; WAL lets them read the last
//! committed state while the writer works. A third kind of thread copies committed pages from the WAL into
//! the database file ([`checkpointer_loop`]), so the writer never stops to do it.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{BUSY_TIMEOUT_MS, CACHE_KIB, SqliteStore, sql_err};
use crate::store::{StoreError, StoreResult};

/// The most write jobs committed by one transaction.
pub const MAX_BATCH: usize = 512;

/// Concurrent readers; more would only contend for the two cores.
pub(super) const READERS: usize = 8;

type CommitResult = Result<(), String>;

pub(super) trait WriteJob: Send {
    /// Runs the job's statements; `false` means it failed (or panicked).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Tells the caller how it went, once the batch's commit is known.
    fn finish(self: Box<Self>, commit: CommitResult);
}

struct Job<T, F> {
    f: F,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T: Send, F: FnMut(&Connection) -> StoreResult<T> + Send> WriteJob for Job<T, F> {
    fn run(&mut self, conn: &Connection) -> bool {
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (self.f)(conn)));
        match r {
            Ok(r) => {
                let ok = r.is_ok();
                self.result = Some(r);
                ok
            }
            Err(_) => {
                self.result = None;
                false
            }
        }
    }

    fn finish(self: Box<Self>, commit: CommitResult) {
        let out = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) | (None, Err(e)) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
            (None, Ok(())) => {
                Err(StoreError::Other(anyhow::anyhow!("write job panicked; its changes were rolled back")))
            }
        };
        let _ = self.reply.send(out);
    }
}

pub(super) struct Readers {
    pub(super) path: PathBuf,
    pub(super) idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn get(&self) -> StoreResult<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(sql_err)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(sql_err)?;
        conn.pragma_update(None, "cache_size", CACHE_KIB).map_err(sql_err)?;
        super::configure(&conn).map_err(sql_err)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }
}

thread_local! {
    /// Each thread's read-only connection per database file, for [`SqliteStore::read`].
    static THREAD_READERS: std::cell::RefCell<std::collections::HashMap<PathBuf, Connection>> =
        std::cell::RefCell::new(std::collections::HashMap::new());

    /// Set by a job on the writer thread that queued webhook deliveries; read after the batch commits.
    pub(super) static OUTBOX_TOUCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };

    /// Set by a job on the writer thread that wrote an event; read after the batch commits.
    pub(super) static EVENTS_WRITTEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };

    /// Work a job leaves for the end of its batch, run just before the batch's commit (see
    /// [`before_commit`]).
    static BEFORE_COMMIT: std::cell::RefCell<Vec<BeforeCommit>> = const { std::cell::RefCell::new(Vec::new()) };
}

type BeforeCommit = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()>>;

/// Asks the writer to run `f` in this job's transaction after every job of the batch has run, just before
/// the commit: for writes that are cheaper done once per batch than once per statement (the search index,
/// [`super::search::index_charge`]). Called from a write job; if the job is rolled back, so is `f`.
pub(super) fn before_commit(f: impl FnOnce(&Connection) -> rusqlite::Result<()> + 'static) {
    BEFORE_COMMIT.with(|b| b.borrow_mut().push(Box::new(f)));
}

fn pending_before_commit() -> usize {
    BEFORE_COMMIT.with(|b| b.borrow().len())
}

/// Forgets what jobs rolled back asked for (everything past `len`).
fn forget_before_commit(len: usize) {
    BEFORE_COMMIT.with(|b| b.borrow_mut().truncate(len));
}

/// Runs what the batch's jobs asked for, in the order they asked.
fn run_before_commit(conn: &Connection) -> rusqlite::Result<()> {
    for f in BEFORE_COMMIT.with(|b| std::mem::take(&mut *b.borrow_mut())) {
        f(conn)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Queues a write. The closure may run twice: if another job of its batch fails after writing, the
    /// batch is rolled back and replayed job by job under savepoints.
    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn WriteJob> = Box::new(Job { f, result: None, reply });
        self.jobs.send(job).await.map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?
    }

    /// A short read (a lookup by key): run right here on the calling thread, on that thread's own read-only
    /// connection. Handing microsecond lookups to another thread cost more in context switches than the
    /// lookup itself (the profile of `retrieve-charge` showed it), so only scans go to the blocking pool.
    pub(super) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        THREAD_READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let conn = match readers.get(&self.readers.path) {
                Some(c) => c,
                None => {
                    let c = self.readers.get()?;
                    readers.entry(self.readers.path.clone()).or_insert(c)
                }
            };
            f(conn)
        })
    }

    /// A read that may walk many rows (lists, batches): on the blocking pool, a few at a time.
    pub(super) async fn scan<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self.read_permits.acquire().await.map_err(|e| StoreError::Other(e.into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.get()?;
            let r = f(&conn);
            readers.put(conn);
            r
        })
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("read task failed: {e}")))?
    }
}

/// The WAL size, in pages, at which a commit asks for a checkpoint (SQLite's own default).
const CHECKPOINT_PAGES: i32 = 1000;

/// Between the writer and the checkpointer: whether a checkpoint is due, and whether the writer stopped.
#[derive(Default)]
pub(super) struct Checkpoints {
    due: Mutex<bool>,
    wake: Condvar,
    stopped: AtomicBool,
}

impl Checkpoints {
    fn request(&self) {
        *self.due.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_one();
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.request();
    }
}

/// Copies committed pages from the WAL into the database file (`wal_checkpoint(PASSIVE)`) on a thread and
/// connection of its own, whenever a commit leaves the WAL at [`CHECKPOINT_PAGES`] or more.
///
/// Why not SQLite's automatic checkpoint, which runs at the same size: it runs on the connection that
/// commits, so the single writer thread stopped to copy a thousand pages and fsync the database file while
/// every queued write waited: 13 % of satang's CPU under `complete-and-deliver` was that checkpoint, on the
/// one thread all writes go through (perf). A passive checkpoint blocks neither the writer nor readers; as
/// before, it leaves pages a reader still needs for a later one.
pub(super) fn checkpointer_loop(conn: Connection, checkpoints: Arc<Checkpoints>) {
    loop {
        {
            let mut due = checkpoints.due.lock().unwrap_or_else(|p| p.into_inner());
            while !*due {
                due = checkpoints.wake.wait(due).unwrap_or_else(|p| p.into_inner());
            }
            *due = false;
        }
        if checkpoints.stopped.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = conn.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(())) {
            tracing::warn!(error.message = %e, "SQLite checkpoint failed; the next commit asks again");
        }
        // While a reader holds the WAL's start, every commit asks again: at most a hundred tries a second.
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub(super) fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn WriteJob>>,
    outbox: Arc<Notify>,
    events: crate::store::EventsSignal,
    checkpoints: Arc<Checkpoints>,
) {
    // Checkpoints are the checkpointer's (see `checkpointer_loop`): this hook replaces SQLite's automatic one.
    let asks = checkpoints.clone();
    let hook = conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
        if pages >= CHECKPOINT_PAGES {
            asks.request();
        }
        Ok(())
    }));
    if let Err(e) = hook {
        tracing::warn!(error.message = %e, "could not move checkpoints off the writer");
    }
    let _stop = StopOnDrop(checkpoints);
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        OUTBOX_TOUCHED.with(|t| t.set(false));
        EVENTS_WRITTEN.with(|t| t.set(false));
        let started = std::time::Instant::now();
        let outcome = run_batch(&conn, &mut batch).map_err(|e| e.to_string());
        if outcome.is_ok() {
            crate::metrics::commit(batch.len(), started.elapsed().as_secs_f64());
        }
        if outcome.is_ok() && EVENTS_WRITTEN.with(|t| t.get()) {
            events.bump();
        }
        match &outcome {
            Ok(()) if OUTBOX_TOUCHED.with(|t| t.get()) => outbox.notify_one(),
            Ok(()) => {}
            Err(e) => tracing::error!(error.message = %e, jobs = batch.len(), "SQLite batch failed; rolled back"),
        }
        for job in batch.drain(..) {
            job.finish(outcome.clone());
        }
    }
}

/// Stops the checkpointer when the writer's loop ends, however it ends.
struct StopOnDrop(Arc<Checkpoints>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Runs a batch in one transaction. Jobs run back to back without savepoints: in WAL mode a savepoint makes
/// SQLite copy every page it touches to a statement journal first, which the profile showed as the single
/// largest cost of a write. A job that fails having changed nothing (the usual case: a version check, a
/// source already used, a missing row) needs no undo. Only if a job fails after changing rows is the whole
/// batch rolled back and replayed with a savepoint per job ([`run_batch_with_savepoints`]).
fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> rusqlite::Result<()> {
    let exec = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ());
    forget_before_commit(0);
    exec("begin immediate")?;
    let body = (|| {
        for job in batch.iter_mut() {
            let (before, asked) = (conn.total_changes(), pending_before_commit());
            if !job.run(conn) {
                if conn.total_changes() != before {
                    return Ok(false);
                }
                forget_before_commit(asked);
            }
        }
        run_before_commit(conn)?;
        exec("commit").map(|_| true)
    })();
    match body {
        Ok(true) => Ok(()),
        Ok(false) => {
            exec("rollback")?;
            forget_before_commit(0);
            OUTBOX_TOUCHED.with(|t| t.set(false));
            EVENTS_WRITTEN.with(|t| t.set(false));
            run_batch_with_savepoints(conn, batch)
        }
        Err(e) => {
            forget_before_commit(0);
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("rollback");
            }
            Err(e)
        }
    }
}

/// The careful way: each job inside its own savepoint, so a failing job rolls back alone.
fn run_batch_with_savepoints(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> rusqlite::Result<()> {
    let exec = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ());
    exec("begin immediate")?;
    let body = (|| {
        for job in batch.iter_mut() {
            exec("savepoint job")?;
            let asked = pending_before_commit();
            if !job.run(conn) {
                exec("rollback to job")?;
                forget_before_commit(asked);
            }
            exec("release job")?;
        }
        run_before_commit(conn)?;
        exec("commit")
    })();
    if body.is_err() {
        forget_before_commit(0);
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("rollback");
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(f: impl FnMut(&Connection) -> StoreResult<()> + Send + 'static) -> Box<dyn WriteJob> {
        let (reply, _) = oneshot::channel();
        Box::new(Job { f, result: None, reply })
    }

    fn insert(c: &Connection, x: i64) -> StoreResult<()> {
        c.execute("insert into t (x) values (?1)", [x]).map(|_| ()).map_err(sql_err)
    }

    fn later(x: i64) {
        before_commit(move |c| c.execute("insert into t (x) values (?1)", [x]).map(|_| ()));
    }

    /// A connection with one table of numbers, `t`.
    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("create table t (x integer not null)").unwrap();
        conn
    }

    fn rows(c: &Connection) -> Vec<i64> {
        let mut st = c.prepare("select x from t order by x").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn work_left_for_the_commit_runs_once_and_only_for_jobs_that_stand() {
        let conn = table();
        let mut batch = vec![
            job(|c| {
                insert(c, 1)?;
                later(100);
                Ok(())
            }),
            // Fails having written: the batch is replayed with savepoints and this job rolls back alone.
            job(|c| {
                insert(c, 2)?;
                later(200);
                Err(StoreError::Conflict)
            }),
            // Fails having written nothing.
            job(|_| {
                later(300);
                Err(StoreError::Conflict)
            }),
            job(|_| {
                later(400);
                Ok(())
            }),
        ];
        run_batch(&conn, &mut batch).unwrap();
        assert_eq!(rows(&conn), vec![1, 100, 400]);
        // Nothing is left over for the next batch.
        let mut next = vec![job(|c| insert(c, 5))];
        run_batch(&conn, &mut next).unwrap();
        assert_eq!(rows(&conn), vec![1, 5, 100, 400]);
    }

    #[test]
    fn without_a_failure_the_batch_commits_without_savepoints_and_runs_the_work_in_order() {
        let conn = table();
        let mut batch = vec![
            job(|_| {
                later(7);
                Ok(())
            }),
            job(|_| {
                // A job that fails having written nothing takes its work with it, without a replay.
                later(8);
                Err(StoreError::Conflict)
            }),
            job(|c| {
                later(9);
                insert(c, 3)
            }),
        ];
        run_batch(&conn, &mut batch).unwrap();
        assert_eq!(rows(&conn), vec![3, 7, 9]);
    }
}

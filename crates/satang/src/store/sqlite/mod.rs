//! The SQLite store: one file in WAL mode, durable on acknowledge, with a single writer thread that
//! commits in groups.
//!
//! Why a writer thread and not a pool: SQLite lets one connection write at a time, and the cost of a
//! durable commit is the `fsync`, not the inserts. So every write is a job sent to one thread, which takes
//! whatever jobs are queued (up to [`MAX_BATCH`]), runs each inside its own `SAVEPOINT` (a failing job rolls
//! back alone), and commits them together with one `fsync` (`synchronous=FULL`). Only after that commit
//! does any caller get its answer, so an acknowledged write survives a crash or power loss. Under load the
//! batches grow by themselves; idle, a lone write commits at once.
//!
//! Reads use a small pool of separate connections on the blocking thread pool; WAL lets them read the last
//! committed state while the writer works. Other processes (`satang account create` while `serve` runs) use
//! the same file with a busy timeout.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use satang_domain::{
    AccountId, Amount, Charge, ChargeId, Currency, DeliveryId, Direction, EndpointId, EventId, EventKey, FeeSchedule,
    LedgerEntry, Origin, RefundId, Source, SourceId, Timestamp, TransactionId,
};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use super::migrate::{Migration, SQLITE};
use super::*;

/// The most write jobs committed by one transaction.
pub const MAX_BATCH: usize = 512;
/// Optimistic attempts of a charge change before it runs inside the writer.
const OPTIMISTIC_TRIES: usize = 3;
/// Concurrent readers; more would only contend for the two cores.
const READERS: usize = 8;
const BUSY_TIMEOUT_MS: u64 = 10_000;
/// Page cache per connection, in KiB (negative in the pragma): 32 MiB instead of SQLite's 2 MiB, so the
/// upper levels of the indexes of a million charges stay in memory. With the writer and a reader per
/// thread this keeps satang well inside its memory budget.
const CACHE_KIB: i64 = -32_000;

type CommitResult = Result<(), String>;

trait WriteJob: Send {
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

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
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
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
    readers: Arc<Readers>,
    read_permits: Arc<Semaphore>,
    outbox: Arc<Notify>,
}

thread_local! {
    /// Each thread's read-only connection per database file, for [`SqliteStore::read`].
    static THREAD_READERS: std::cell::RefCell<std::collections::HashMap<PathBuf, Connection>> =
        std::cell::RefCell::new(std::collections::HashMap::new());

    /// Set by a job on the writer thread that queued webhook deliveries; read after the batch commits.
    static OUTBOX_TOUCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(anyhow::Error::new(e)),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e).context("stored document does not parse"))
}

/// Opens a read-write connection with satang's settings.
pub fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening SQLite database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    // FULL: the WAL is fsynced on every commit, so an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "full")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    Ok(conn)
}

/// Applies the migrations not yet recorded in `schema_migrations`.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> anyhow::Result<()> {
    conn.execute_batch(
        "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at integer not null)",
    )?;
    for m in migrations {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row("select version from schema_migrations where version = ?1", [m.version], |r| r.get(0))
            .optional()?;
        if done.is_none() {
            tx.execute_batch(m.sql).with_context(|| format!("migration {} {}", m.version, m.name))?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, strftime('%s','now'))",
                params![m.version, m.name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    pub async fn open(path: &str) -> anyhow::Result<Self> {
        if path.is_empty() || path.starts_with(":memory:") {
            anyhow::bail!("satang needs a SQLite file (e.g. sqlite:satang.db), not an in-memory database");
        }
        let path = PathBuf::from(path);
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> anyhow::Result<Connection> {
            let mut conn = connect(&p)?;
            migrate(&mut conn, SQLITE)?;
            Ok(conn)
        })
        .await??;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>(MAX_BATCH * 4);
        let outbox = Arc::new(Notify::new());
        let signal = outbox.clone();
        std::thread::Builder::new().name("satang-sqlite-writer".into()).spawn(move || writer_loop(conn, rx, signal))?;
        Ok(SqliteStore {
            jobs: tx,
            readers: Arc::new(Readers { path, idle: Mutex::new(Vec::new()) }),
            read_permits: Arc::new(Semaphore::new(READERS)),
            outbox,
        })
    }

    /// Queues a write. The closure may run twice: if another job of its batch fails after writing, the
    /// batch is rolled back and replayed job by job under savepoints.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
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
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
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
    async fn scan<T, F>(&self, f: F) -> StoreResult<T>
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

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Box<dyn WriteJob>>, outbox: Arc<Notify>) {
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
        let outcome = run_batch(&conn, &mut batch).map_err(|e| e.to_string());
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

/// Runs a batch in one transaction. Jobs run back to back without savepoints: in WAL mode a savepoint makes
/// SQLite copy every page it touches to a statement journal first, which the profile showed as the single
/// largest cost of a write. A job that fails having changed nothing (the usual case: a version check, a
/// source already used, a missing row) needs no undo. Only if a job fails after changing rows is the whole
/// batch rolled back and replayed with a savepoint per job ([`run_batch_with_savepoints`]).
fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> rusqlite::Result<()> {
    let exec = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ());
    exec("begin immediate")?;
    let body = (|| {
        for job in batch.iter_mut() {
            let before = conn.total_changes();
            if !job.run(conn) && conn.total_changes() != before {
                return Ok(false);
            }
        }
        exec("commit").map(|_| true)
    })();
    match body {
        Ok(true) => Ok(()),
        Ok(false) => {
            exec("rollback")?;
            OUTBOX_TOUCHED.with(|t| t.set(false));
            run_batch_with_savepoints(conn, batch)
        }
        Err(e) => {
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
            if !job.run(conn) {
                exec("rollback to job")?;
            }
            exec("release job")?;
        }
        exec("commit")
    })();
    if body.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("rollback");
    }
    body
}

// ---------------------------------------------------------------------------------------------------------
// Statements shared by several jobs.

/// Counts one more row in a counted list (see [`list_total`]) and returns the new count, which for charges
/// is also the new row's position.
fn count_insert(conn: &Connection, scope: &Scope, list: &str) -> StoreResult<i64> {
    conn.prepare_cached(
        "insert into list_counters (account_id, livemode, list, n) values (?1, ?2, ?3, 1) \
         on conflict (account_id, livemode, list) do update set n = n + 1 returning n",
    )
    .and_then(|mut st| st.query_row(params![scope.account.as_str(), scope.livemode, list], |r| r.get(0)))
    .map_err(sql_err)
}

fn insert_event(conn: &Connection, scope: &Scope, e: &NewEvent) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into events (id, account_id, livemode, key, charge_id, created_at, data) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            e.id.as_str(),
            scope.account.as_str(),
            scope.livemode,
            e.key.as_str(),
            e.charge.as_ref().map(|c| c.as_str()),
            e.created_at.unix(),
            e.data,
        ])
    })
    .map_err(sql_err)?;
    count_insert(conn, scope, "events")?;
    let queued = if e.webhook_urls.is_empty() {
        conn.prepare_cached(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) select ?1, account_id, livemode, id, url, 'pending', 0, ?2, ?2 \
             from webhook_endpoints where account_id = ?3 and livemode = ?4",
        )
        .and_then(|mut st| {
            st.execute(params![e.id.as_str(), e.created_at.unix(), scope.account.as_str(), scope.livemode])
        })
        .map_err(sql_err)?
    } else {
        ensure_signing_secret(conn, scope, e.created_at)?;
        let mut n = 0;
        for url in &e.webhook_urls {
            n += conn
                .prepare_cached(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                     next_attempt_at, created_at) values (?1, ?2, ?3, null, ?4, 'pending', 0, ?5, ?5)",
                )
                .and_then(|mut st| {
                    st.execute(params![e.id.as_str(), scope.account.as_str(), scope.livemode, url, e.created_at.unix()])
                })
                .map_err(sql_err)?;
        }
        n
    };
    if queued > 0 {
        OUTBOX_TOUCHED.with(|t| t.set(true));
    }
    Ok(())
}

fn ensure_signing_secret(conn: &Connection, scope: &Scope, now: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into webhook_signing (account_id, livemode, secret, created_at) values (?1, ?2, ?3, ?4) \
         on conflict (account_id, livemode) do nothing",
    )
    .and_then(|mut st| {
        st.execute(params![scope.account.as_str(), scope.livemode, crate::webhooks::sign::new_secret(), now.unix()])
    })
    .map_err(sql_err)?;
    Ok(())
}

fn read_signing_secret(conn: &Connection, scope: &Scope) -> StoreResult<SigningSecret> {
    conn.prepare_cached(
        "select secret, previous_secret, previous_until from webhook_signing where account_id = ?1 and livemode = ?2",
    )
    .and_then(|mut st| {
        st.query_row(params![scope.account.as_str(), scope.livemode], |r| {
            Ok(SigningSecret {
                secret: r.get(0)?,
                previous_secret: r.get(1)?,
                previous_until: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix),
            })
        })
    })
    .map_err(sql_err)
}

const ENDPOINT_COLUMNS: &str = "id, account_id, livemode, url, secret, previous_secret, previous_until, created_at";

/// A webhook endpoint row's columns, in [`ENDPOINT_COLUMNS`] order.
type EndpointRow = (String, String, bool, String, String, Option<String>, Option<i64>, i64);

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn endpoint(row: EndpointRow) -> StoreResult<WebhookEndpoint> {
    let (id, account, livemode, url, secret, previous_secret, previous_until, created) = row;
    let other = |e: satang_domain::BadId| StoreError::Other(e.into());
    Ok(WebhookEndpoint {
        id: EndpointId::try_from(id).map_err(other)?,
        account: AccountId::try_from(account).map_err(other)?,
        livemode,
        url,
        secret,
        previous_secret,
        previous_until: previous_until.map(Timestamp::from_unix),
        created_at: Timestamp::from_unix(created),
    })
}

fn load_charge(conn: &Connection, which: &ChargeRef) -> StoreResult<(i64, Charge)> {
    load_charge_versioned(conn, which).map(|(seq, _, c)| (seq, c))
}

/// The charge with its row's `seq` and `version`.
fn load_charge_versioned(conn: &Connection, which: &ChargeRef) -> StoreResult<(i64, i64, Charge)> {
    let row: Option<(i64, i64, String)> = match which {
        ChargeRef::Scoped(scope, id) => conn
            .prepare_cached("select seq, version, doc from charges where id = ?1 and account_id = ?2 and livemode = ?3")
            .and_then(|mut st| {
                st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            }),
        ChargeRef::Unscoped(id) => {
            conn.prepare_cached("select seq, version, doc from charges where id = ?1").and_then(|mut st| {
                st.query_row(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()
            })
        }
    }
    .map_err(sql_err)?;
    let id = match which {
        ChargeRef::Scoped(_, id) | ChargeRef::Unscoped(id) => id,
    };
    let (seq, version, doc) = row.ok_or_else(|| StoreError::not_found("charge", id))?;
    Ok((seq, version, serde_json::from_str(&doc).map_err(json_err)?))
}

/// A source from its own document, or (`inline`) from the document of the charge it was created with.
pub(crate) fn source_from(doc: &str, inline: bool) -> StoreResult<Source> {
    if inline {
        let charge: Charge = serde_json::from_str(doc).map_err(json_err)?;
        Ok(charge.source)
    } else {
        serde_json::from_str(doc).map_err(json_err)
    }
}

/// How many rows a counted list (`charges` since 0004, `events` since 0005) holds in the scope: a counter
/// row kept in the same transaction as every insert, so the whole list's total costs no count.
fn list_total(c: &Connection, scope: &Scope, list: &str) -> StoreResult<i64> {
    c.prepare_cached("select n from list_counters where account_id = ?1 and livemode = ?2 and list = ?3")
        .and_then(|mut st| st.query_row(params![scope.account.as_str(), scope.livemode, list], |r| r.get(0)).optional())
        .map_err(sql_err)
        .map(|n| n.unwrap_or(0))
}

fn parse_docs<T: serde::de::DeserializeOwned>(docs: Vec<String>) -> StoreResult<Vec<T>> {
    docs.iter().map(|d| serde_json::from_str(d).map_err(json_err)).collect()
}

/// One page of a scoped list: rows of `table` in the caller's account and mode, created in `[from, to]`,
/// optionally narrowed by `column = value`, in (created_at, seq) order; and how many rows match in all.
/// Both walk the (account, mode, created_at) index range, without loading the skipped rows. The total of a
/// whole list (no from/to) named in `counted` is read from its counter instead (see [`list_total`]).
#[allow(clippy::too_many_arguments)]
fn page<T>(
    c: &Connection,
    table: &str,
    columns: &str,
    scope: &Scope,
    filter: Option<(&str, &str)>,
    q: &ListQuery,
    counted: Option<&str>,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    use rusqlite::types::Value as V;
    let dir = match q.order {
        Order::Chronological => "asc",
        Order::ReverseChronological => "desc",
    };
    let mut args = vec![
        V::Text(scope.account.to_string()),
        V::Integer(scope.livemode as i64),
        V::Integer(q.from.unix()),
        V::Integer(q.to.unix()),
    ];
    let mut cond = String::from("account_id = ?1 and livemode = ?2 and created_at >= ?3 and created_at <= ?4");
    if let Some((col, val)) = filter {
        cond.push_str(&format!(" and {col} = ?5"));
        args.push(V::Text(val.to_string()));
    }
    let n = args.len();
    let total: i64 = match counted.filter(|_| q.whole) {
        Some(list) => list_total(c, scope, list)?,
        None => c
            .prepare_cached(&format!("select count(*) from {table} where {cond}"))
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
            .map_err(sql_err)?,
    };
    args.push(V::Integer(q.limit as i64));
    args.push(V::Integer(q.offset as i64));
    // (created_at, seq): the order of the (account, mode, created_at) indexes, which end in the rowid, seq.
    let sql = format!(
        "select {columns} from {table} where {cond} order by created_at {dir}, seq {dir} limit ?{} offset ?{}",
        n + 1,
        n + 2
    );
    let items = c
        .prepare_cached(&sql)
        .and_then(|mut st| st.query_map(rusqlite::params_from_iter(args.iter()), map)?.collect::<Result<Vec<_>, _>>())
        .map_err(sql_err)?;
    Ok(Page { items, total: total as u64 })
}

fn parse_doc<T: serde::de::DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(json_err)
}

/// Writes what a charge change books besides the charge itself: new refund rows, ledger entries and
/// the balance they move.
fn book_change(c: &Connection, scope: &Scope, before: &Charge, after: &Charge) -> StoreResult<()> {
    for r in after.refunds.iter().skip(before.refunds.len()) {
        let rec = RefundRecord { charge: after.id.clone(), currency: after.currency, refund: r.clone() };
        let doc = serde_json::to_string(&rec).map_err(json_err)?;
        c.prepare_cached(
            "insert into refunds (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut st| {
            st.execute(params![r.id.as_str(), scope.account.as_str(), scope.livemode, after.id.as_str(), r.created_at.unix(), doc])
        })
        .map_err(sql_err)?;
    }
    for e in satang_domain::ledger::entries_for_change(before, after) {
        let (charge_id, refund_id) = match &e.origin {
            Origin::Charge(id) => (Some(id.as_str()), None),
            Origin::Refund(id) => (None, Some(id.as_str())),
        };
        c.prepare_cached(
            "insert into ledger (id, account_id, livemode, direction, amount, currency, charge_id, refund_id, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut st| {
            st.execute(params![
                e.id.as_str(),
                scope.account.as_str(),
                scope.livemode,
                e.direction.as_str(),
                e.amount.subunits(),
                e.currency.code(),
                charge_id,
                refund_id,
                e.created_at.unix()
            ])
        })
        .map_err(sql_err)?;
        c.prepare_cached(
            "insert into balances (account_id, livemode, currency, total, updated_at) values (?1, ?2, ?3, ?4, ?5) \
             on conflict (account_id, livemode, currency) do update set total = total + excluded.total, \
             updated_at = excluded.updated_at",
        )
        .and_then(|mut st| {
            st.execute(params![
                scope.account.as_str(),
                scope.livemode,
                e.currency.code(),
                e.direction.signed(e.amount),
                e.created_at.unix()
            ])
        })
        .map_err(sql_err)?;
    }
    Ok(())
}

/// A ledger row's columns, in [`LEDGER_COLUMNS`] order.
type LedgerRow = (String, String, i64, String, Option<String>, Option<String>, i64);

fn ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

const LEDGER_COLUMNS: &str = "id, direction, amount, currency, charge_id, refund_id, created_at";

fn ledger_entry(row: LedgerRow) -> StoreResult<LedgerEntry> {
    let (id, direction, amount, currency, charge, refund, created) = row;
    let other = |m: String| StoreError::Other(anyhow::anyhow!(m));
    let origin = match (charge, refund) {
        (Some(c), None) => Origin::Charge(ChargeId::try_from(c).map_err(|e| other(e.to_string()))?),
        (None, Some(r)) => Origin::Refund(RefundId::try_from(r).map_err(|e| other(e.to_string()))?),
        _ => return Err(other(format!("ledger entry {id} points at neither one charge nor one refund"))),
    };
    Ok(LedgerEntry {
        id: TransactionId::try_from(id).map_err(|e| other(e.to_string()))?,
        direction: if direction == "credit" { Direction::Credit } else { Direction::Debit },
        amount: Amount::new(amount).map_err(|e| other(e.to_string()))?,
        currency: currency.parse().map_err(|e: satang_domain::money::UnknownCurrency| other(e.to_string()))?,
        origin,
        created_at: Timestamp::from_unix(created),
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("select 1", [], |_| Ok(())).map_err(sql_err)).await
    }

    async fn create_account(&self, a: NewAccount) -> StoreResult<()> {
        self.write(move |c| {
            c.execute(
                "insert into accounts (id, name, created_at, api_version) values (?1, ?2, ?3, ?4)",
                params![a.id.as_str(), a.name, a.created_at.unix(), a.api_version],
            )
            .map_err(sql_err)?;
            for k in &a.keys {
                c.execute(
                    "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
                     values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        k.hash,
                        a.id.as_str(),
                        k.livemode,
                        k.kind.as_str(),
                        k.public_key,
                        k.hint,
                        a.created_at.unix()
                    ],
                )
                .map_err(sql_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn count_accounts(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.query_row("select count(*) from accounts", [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(sql_err)
        })
        .await
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Account> {
        let id = id.clone();
        self.read(move |c| {
            c.query_row("select name, created_at, api_version from accounts where id = ?1", [id.as_str()], |r| {
                Ok(Account {
                    id: id.clone(),
                    name: r.get(0)?,
                    created_at: Timestamp::from_unix(r.get(1)?),
                    api_version: r.get(2)?,
                })
            })
            .optional()
            .map_err(sql_err)?
            .ok_or_else(|| StoreError::not_found("account", &id))
        })
        .await
    }

    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyGrant>> {
        let hash = hash.to_string();
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "select k.account_id, a.name, k.livemode, k.kind, a.api_version from api_keys k \
                     join accounts a on a.id = k.account_id where k.hash = ?1",
                )
                .and_then(|mut st| {
                    st.query_row([&hash], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, bool>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            let Some((account, name, livemode, kind, api_version)) = row else { return Ok(None) };
            let account = AccountId::try_from(account).map_err(|e| StoreError::Other(e.into()))?;
            let kind = if kind == "secret" { KeyKind::Secret } else { KeyKind::Public };
            Ok(Some(KeyGrant { account, account_name: name, livemode, kind, api_version }))
        })
        .await
    }

    async fn fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
    ) -> StoreResult<Option<FeeSchedule>> {
        let (account, method) = (account.clone(), method.to_string());
        self.read(move |c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "select schedule from fee_schedules where account_id = ?1 and method = ?2 and currency = ?3",
                )
                .and_then(|mut st| {
                    st.query_row(params![account.as_str(), method, currency.code()], |r| r.get(0)).optional()
                })
                .map_err(sql_err)?;
            doc.map(|d| serde_json::from_str(&d).map_err(json_err)).transpose()
        })
        .await
    }

    async fn set_fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
        schedule: FeeSchedule,
    ) -> StoreResult<()> {
        let (account, method) = (account.clone(), method.to_string());
        let doc = serde_json::to_string(&schedule).map_err(json_err)?;
        self.write(move |c| {
            let now = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
            let n = c
                .execute(
                    "insert into fee_schedules (account_id, method, currency, schedule, updated_at) \
                     select ?1, ?2, ?3, ?4, ?5 where exists (select 1 from accounts where id = ?1) \
                     on conflict (account_id, method, currency) do update set schedule = excluded.schedule, \
                     updated_at = excluded.updated_at",
                    params![account.as_str(), method, currency.code(), doc, now],
                )
                .map_err(sql_err)?;
            if n == 0 { Err(StoreError::not_found("account", &account)) } else { Ok(()) }
        })
        .await
    }

    async fn insert_source(&self, scope: &Scope, source: &Source) -> StoreResult<()> {
        let doc = serde_json::to_string(source).map_err(json_err)?;
        let (scope, id, created) = (scope.clone(), source.id.clone(), source.created_at);
        self.write(move |c| {
            c.prepare_cached(
                "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, null, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![id.as_str(), scope.account.as_str(), scope.livemode, created.unix(), doc]))
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn get_source(&self, scope: &Scope, id: &SourceId) -> StoreResult<(Source, Option<String>)> {
        let (scope, id) = (scope.clone(), id.clone());
        self.read(move |c| {
            let row: Option<(Option<String>, Option<String>, bool)> = c
                .prepare_cached(
                    "select case when s.doc = '' then ch.doc else s.doc end, ch.status, s.doc = '' \
                     from sources s left join charges ch on ch.id = s.charge_id \
                     where s.id = ?1 and s.account_id = ?2 and s.livemode = ?3",
                )
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            let (doc, status, inline) = row.ok_or_else(|| StoreError::not_found("source", &id))?;
            let doc = doc.ok_or_else(|| StoreError::Other(anyhow::anyhow!("source {id} has no document")))?;
            Ok((source_from(&doc, inline)?, status))
        })
        .await
    }

    async fn create_charge(
        &self,
        scope: &Scope,
        charge: &Charge,
        doc: String,
        new_source: bool,
        events: Vec<NewEvent>,
    ) -> StoreResult<()> {
        // An inline source lives inside its charge's document; its own row only marks it used (doc '').
        let source_doc = if new_source { Some(String::new()) } else { None };
        let scope = scope.clone();
        let (id, source_id, created, expires) =
            (charge.id.clone(), charge.source.id.clone(), charge.created_at, charge.expires_at);
        let status = charge.status.name();
        self.write(move |c| {
            match &source_doc {
                Some(sdoc) => {
                    c.prepare_cached(
                        "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            source_id.as_str(),
                            scope.account.as_str(),
                            scope.livemode,
                            id.as_str(),
                            created.unix(),
                            sdoc
                        ])
                    })
                    .map_err(sql_err)?;
                }
                None => {
                    let n = c
                        .prepare_cached(
                            "update sources set charge_id = ?1 where id = ?2 and account_id = ?3 and livemode = ?4 \
                             and charge_id is null",
                        )
                        .and_then(|mut st| {
                            st.execute(params![id.as_str(), source_id.as_str(), scope.account.as_str(), scope.livemode])
                        })
                        .map_err(sql_err)?;
                    if n == 0 {
                        let used: Option<Option<String>> = c
                            .query_row(
                                "select charge_id from sources where id = ?1 and account_id = ?2 and livemode = ?3",
                                params![source_id.as_str(), scope.account.as_str(), scope.livemode],
                                |r| r.get(0),
                            )
                            .optional()
                            .map_err(sql_err)?;
                        return Err(match used {
                            Some(Some(charge)) => StoreError::SourceUsed { source_id: source_id.clone(), charge },
                            _ => StoreError::not_found("source", &source_id),
                        });
                    }
                }
            }
            let pos = count_insert(c, &scope, "charges")?;
            c.prepare_cached(
                "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc, pos) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id.as_str(),
                    scope.account.as_str(),
                    scope.livemode,
                    status,
                    created.unix(),
                    expires.unix(),
                    doc,
                    pos
                ])
            })
            .map_err(sql_err)?;
            for e in &events {
                insert_event(c, &scope, e)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_charge(&self, scope: &Scope, id: &ChargeId) -> StoreResult<Charge> {
        let which = ChargeRef::Scoped(scope.clone(), id.clone());
        self.read(move |c| load_charge(c, &which).map(|(_, ch)| ch)).await
    }

    async fn find_charge(&self, id: &ChargeId) -> StoreResult<Charge> {
        let which = ChargeRef::Unscoped(id.clone());
        self.read(move |c| load_charge(c, &which).map(|(_, ch)| ch)).await
    }

    async fn list_charges(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
        let scope = scope.clone();
        self.scan(move |c| {
            if !q.whole {
                let docs = page(c, "charges", "doc", &scope, None, &q, None, |r| r.get::<_, String>(0))?;
                return Ok(Page { items: parse_docs(docs.items)?, total: docs.total });
            }
            // The whole list: positions 1..=n, so a page at any depth is an index range.
            let total = list_total(c, &scope, "charges")?;
            let (sql, bound) = match q.order {
                Order::Chronological => (
                    "select doc from charges where account_id = ?1 and livemode = ?2 and pos > ?3 order by pos limit ?4",
                    q.offset as i64,
                ),
                Order::ReverseChronological => (
                    "select doc from charges where account_id = ?1 and livemode = ?2 and pos <= ?3 order by pos desc limit ?4",
                    total - q.offset as i64,
                ),
            };
            let docs = c
                .prepare_cached(sql)
                .and_then(|mut st| {
                    st.query_map(params![scope.account.as_str(), scope.livemode, bound, q.limit as i64], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            Ok(Page { items: parse_docs(docs)?, total: total as u64 })
        })
        .await
    }

    /// Optimistic first: load and change the charge on the calling thread, then let the writer check that
    /// nobody changed it meanwhile (`version`) and write. That keeps the domain work and the JSON off the
    /// single writer thread. After [`OPTIMISTIC_TRIES`] lost races (many refunds at once on one charge) the
    /// change runs inside the writer, where it cannot lose.
    async fn update_charge(&self, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge> {
        let mutation = Arc::new(mutation);
        for _ in 0..OPTIMISTIC_TRIES {
            let w = which.clone();
            let (seq, version, before) = self.read(move |c| load_charge_versioned(c, &w)).await?;
            let mut charge = before.clone();
            let events = mutation(&mut charge)?;
            let doc = serde_json::to_string(&charge).map_err(json_err)?;
            let after = charge.clone();
            let written = self
                .write(move |c| {
                    let n = c
                        .prepare_cached(
                            "update charges set doc = ?1, status = ?2, expires_at = ?3, version = version + 1 \
                             where seq = ?4 and version = ?5",
                        )
                        .and_then(|mut st| {
                            st.execute(params![doc, after.status.name(), after.expires_at.unix(), seq, version])
                        })
                        .map_err(sql_err)?;
                    if n == 0 {
                        return Err(StoreError::Conflict);
                    }
                    let scope = Scope { account: after.account.clone(), livemode: after.livemode() };
                    book_change(c, &scope, &before, &after)?;
                    for e in &events {
                        insert_event(c, &scope, e)?;
                    }
                    Ok(())
                })
                .await;
            match written {
                Ok(()) => return Ok(charge),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        self.write(move |c| {
            let (seq, _, mut charge) = load_charge_versioned(c, &which)?;
            let before = charge.clone();
            let events = mutation(&mut charge)?;
            let scope = Scope { account: charge.account.clone(), livemode: charge.livemode() };
            book_change(c, &scope, &before, &charge)?;
            let doc = serde_json::to_string(&charge).map_err(json_err)?;
            c.prepare_cached(
                "update charges set doc = ?1, status = ?2, expires_at = ?3, version = version + 1 where seq = ?4",
            )
            .and_then(|mut st| st.execute(params![doc, charge.status.name(), charge.expires_at.unix(), seq]))
            .map_err(sql_err)?;
            for e in &events {
                insert_event(c, &scope, e)?;
            }
            Ok(charge)
        })
        .await
    }

    async fn due_charges(&self, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>> {
        self.scan(move |c| {
            let ids = c
                .prepare_cached(
                    "select id from charges where status = 'pending' and expires_at <= ?1 order by expires_at limit ?2",
                )
                .and_then(|mut st| {
                    st.query_map(params![now.unix(), limit as i64], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            ids.into_iter().map(|s| ChargeId::try_from(s).map_err(|e| StoreError::Other(e.into()))).collect()
        })
        .await
    }

    async fn get_event(&self, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent> {
        let (scope, id) = (scope.clone(), id.clone());
        self.read(move |c| {
            c.prepare_cached(
                "select key, created_at, data from events where id = ?1 and account_id = ?2 and livemode = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                })
                .optional()
            })
            .map_err(sql_err)?
            .map(|(key, created, data)| event_row(id.to_string(), key, scope.livemode, created, data))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("event", &id))
        })
        .await
    }

    async fn list_events(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<StoredEvent>> {
        let (scope, charge) = (scope.clone(), charge.map(|c| c.to_string()));
        self.scan(move |c| {
            let filter = charge.as_deref().map(|id| ("charge_id", id));
            let counted = filter.is_none().then_some("events");
            let rows = page(c, "events", "id, key, created_at, data", &scope, filter, &q, counted, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
            })?;
            let items = rows
                .items
                .into_iter()
                .map(|(id, key, created, data)| event_row(id, key, scope.livemode, created, data))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Page { items, total: rows.total })
        })
        .await
    }

    async fn list_refunds(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<RefundRecord>> {
        let (scope, charge) = (scope.clone(), charge.map(|c| c.to_string()));
        self.scan(move |c| {
            let filter = charge.as_deref().map(|id| ("charge_id", id));
            let docs = page(c, "refunds", "doc", &scope, filter, &q, None, |r| r.get::<_, String>(0))?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
    }

    async fn get_refund(&self, scope: &Scope, charge: &ChargeId, id: &RefundId) -> StoreResult<RefundRecord> {
        let (scope, charge, id) = (scope.clone(), charge.clone(), id.clone());
        self.read(move |c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "select doc from refunds where id = ?1 and charge_id = ?2 and account_id = ?3 and livemode = ?4",
                )
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), charge.as_str(), scope.account.as_str(), scope.livemode], |r| {
                        r.get(0)
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            parse_doc(&doc.ok_or_else(|| StoreError::not_found("refund", &id))?)
        })
        .await
    }

    async fn list_transactions(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<LedgerEntry>> {
        let scope = scope.clone();
        self.scan(move |c| {
            let rows = page(c, "ledger", LEDGER_COLUMNS, &scope, None, &q, None, ledger_row)?;
            Ok(Page { items: rows.items.into_iter().map(ledger_entry).collect::<StoreResult<_>>()?, total: rows.total })
        })
        .await
    }

    async fn get_transaction(&self, scope: &Scope, id: &TransactionId) -> StoreResult<LedgerEntry> {
        let (scope, id) = (scope.clone(), id.clone());
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "select {LEDGER_COLUMNS} from ledger where id = ?1 and account_id = ?2 and livemode = ?3"
                ))
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], ledger_row).optional()
                })
                .map_err(sql_err)?;
            ledger_entry(row.ok_or_else(|| StoreError::not_found("transaction", &id))?)
        })
        .await
    }

    async fn balances(&self, scope: &Scope) -> StoreResult<Vec<Balance>> {
        let scope = scope.clone();
        self.read(move |c| {
            let rows = c
                .prepare_cached(
                    "select currency, total from balances where account_id = ?1 and livemode = ?2 order by currency",
                )
                .and_then(|mut st| {
                    st.query_map(params![scope.account.as_str(), scope.livemode], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(cur, total)| {
                    let currency =
                        cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
                    Ok(Balance { currency, total })
                })
                .collect()
        })
        .await
    }

    fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    async fn create_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<()> {
        let ep = ep.clone();
        self.write(move |c| {
            c.execute(
                "insert into webhook_endpoints (id, account_id, livemode, url, secret, created_at) \
                 select ?1, ?2, ?3, ?4, ?5, ?6 where exists (select 1 from accounts where id = ?2)",
                params![ep.id.as_str(), ep.account.as_str(), ep.livemode, ep.url, ep.secret, ep.created_at.unix()],
            )
            .map_err(sql_err)
            .and_then(|n| if n == 0 { Err(StoreError::not_found("account", &ep.account)) } else { Ok(()) })
        })
        .await
    }

    async fn list_endpoints(&self, account: &AccountId, livemode: Option<bool>) -> StoreResult<Vec<WebhookEndpoint>> {
        let account = account.clone();
        self.read(move |c| {
            let rows = c
                .prepare_cached(&format!(
                    "select {ENDPOINT_COLUMNS} from webhook_endpoints where account_id = ?1 and (?2 is null or livemode = ?2) order by seq"
                ))
                .and_then(|mut st| st.query_map(params![account.as_str(), livemode], endpoint_row)?.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err)?;
            rows.into_iter().map(endpoint).collect()
        })
        .await
    }

    async fn get_endpoint(&self, id: &EndpointId) -> StoreResult<WebhookEndpoint> {
        let id = id.clone();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = ?1"))
                .and_then(|mut st| st.query_row([id.as_str()], endpoint_row).optional())
                .map_err(sql_err)?;
            endpoint(row.ok_or_else(|| StoreError::not_found("webhook_endpoint", &id))?)
        })
        .await
    }

    async fn delete_endpoint(&self, id: &EndpointId, now: Timestamp) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |c| {
            let n = c.execute("delete from webhook_endpoints where id = ?1", [id.as_str()]).map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("webhook_endpoint", &id));
            }
            c.execute(
                "update webhook_deliveries set state = 'failed', finished_at = ?2, locked_until = null \
                 where endpoint_id = ?1 and state = 'pending'",
                params![id.as_str(), now.unix()],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn roll_endpoint_secret(
        &self,
        id: &EndpointId,
        secret: String,
        previous_until: Timestamp,
    ) -> StoreResult<WebhookEndpoint> {
        let id = id.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "update webhook_endpoints set previous_secret = secret, previous_until = ?2, secret = ?3 where id = ?1",
                    params![id.as_str(), previous_until.unix(), secret],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("webhook_endpoint", &id));
            }
            let row = c
                .query_row(&format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = ?1"), [id.as_str()], endpoint_row)
                .map_err(sql_err)?;
            endpoint(row)
        })
        .await
    }

    async fn signing_secret(&self, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret> {
        let scope = scope.clone();
        self.write(move |c| {
            ensure_signing_secret(c, &scope, now)?;
            read_signing_secret(c, &scope)
        })
        .await
    }

    async fn roll_signing_secret(
        &self,
        scope: &Scope,
        secret: String,
        previous_until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<SigningSecret> {
        let scope = scope.clone();
        self.write(move |c| {
            ensure_signing_secret(c, &scope, now)?;
            c.execute(
                "update webhook_signing set previous_secret = secret, previous_until = ?3, secret = ?4 \
                 where account_id = ?1 and livemode = ?2",
                params![scope.account.as_str(), scope.livemode, previous_until.unix(), secret],
            )
            .map_err(sql_err)?;
            read_signing_secret(c, &scope)
        })
        .await
    }

    async fn claim_deliveries(&self, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
        let req_w = req.clone();
        let claim = move |c: &Connection| -> StoreResult<Vec<i64>> {
            let req = &req_w;
            let saturated: Vec<&String> =
                req.busy.iter().filter(|(_, n)| **n >= req.per_target).map(|(u, _)| u).collect();
            // Saturated URLs are left out of the scan so one slow receiver cannot crowd out the others.
            let skip = if saturated.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..saturated.len()).map(|i| format!("?{}", i + 4)).collect();
                format!(" and url not in ({})", marks.join(", "))
            };
            let sql = format!(
                "select seq, url from webhook_deliveries where state = 'pending' and next_attempt_at <= ?1 \
                 and (locked_until is null or locked_until <= ?3){skip} order by next_attempt_at, seq limit ?2"
            );
            let mut args: Vec<rusqlite::types::Value> =
                vec![req.now.unix().into(), ((req.limit * 4).max(16) as i64).into(), req.lease_now.unix().into()];
            args.extend(saturated.iter().map(|u| rusqlite::types::Value::Text((*u).clone())));
            // Numbered placeholders throughout: the skip list is ?4, ?5, … after due time, limit and lease time.
            let candidates: Vec<(i64, String)> = c
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_map(rusqlite::params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            let mut taken: std::collections::HashMap<String, usize> = req.busy.clone();
            let mut picked = Vec::new();
            for (seq, url) in candidates {
                if picked.len() >= req.limit {
                    break;
                }
                let n = taken.entry(url).or_insert(0);
                if *n < req.per_target {
                    *n += 1;
                    picked.push(seq);
                }
            }
            // The writer only takes the leases; what is needed to send is read afterwards, off its thread.
            for seq in &picked {
                c.prepare_cached("update webhook_deliveries set locked_until = ?2 where seq = ?1")
                    .and_then(|mut st| st.execute(params![seq, req.lease_until.unix()]))
                    .map_err(sql_err)?;
            }
            Ok(picked)
        };
        let picked = self.write(claim).await?;
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        let now = req.now;
        self.read(move |c| {
            let mut out = Vec::with_capacity(picked.len());
            for seq in picked {
                let row = c
                    .prepare_cached(
                        "select d.event_id, d.account_id, d.livemode, d.endpoint_id, d.url, d.attempts, d.created_at, \
                         e.key, e.created_at, e.data, a.api_version, \
                         coalesce(w.secret, s.secret), coalesce(w.previous_secret, s.previous_secret), \
                         coalesce(w.previous_until, s.previous_until) \
                         from webhook_deliveries d join events e on e.id = d.event_id join accounts a on a.id = d.account_id \
                         left join webhook_endpoints w on w.id = d.endpoint_id \
                         left join webhook_signing s on d.endpoint_id is null and s.account_id = d.account_id \
                         and s.livemode = d.livemode where d.seq = ?1",
                    )
                    .and_then(|mut st| {
                        st.query_row([seq], |r| {
                            Ok((
                                (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, Option<String>>(3)?),
                                (r.get::<_, String>(4)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?),
                                (r.get::<_, String>(7)?, r.get::<_, i64>(8)?, r.get::<_, String>(9)?, r.get::<_, String>(10)?),
                                (r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?, r.get::<_, Option<i64>>(13)?),
                            ))
                        })
                    })
                    .map_err(sql_err)?;
                let ((event_id, account, livemode, endpoint_id), (url, attempts, queued), (key, created, data, version), secrets) = row;
                // An endpoint removed after queueing has no secret: its deliveries were marked failed with it.
                let (Some(secret), previous, until) = secrets else { continue };
                let previous_secret = previous.filter(|_| until.is_some_and(|u| u > now.unix()));
                let other = |e: satang_domain::BadId| StoreError::Other(e.into());
                out.push(ClaimedDelivery {
                    seq,
                    event: event_row(event_id, key, livemode, created, data)?,
                    account: AccountId::try_from(account).map_err(other)?,
                    api_version: version,
                    url,
                    endpoint: endpoint_id.map(EndpointId::try_from).transpose().map_err(other)?,
                    attempts: attempts as u32,
                    queued_at: Timestamp::from_unix(queued),
                    secret,
                    previous_secret,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn finish_attempt(&self, seq: i64, a: AttemptRecord, outcome: DeliveryOutcome) -> StoreResult<()> {
        self.write(move |c| {
            c.prepare_cached(
                "insert into webhook_attempts (id, delivery_id, event_id, url, status, error, duration_ms, payload, created_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    a.id.as_str(),
                    seq.to_string(),
                    a.event.as_str(),
                    a.url,
                    a.status,
                    a.error,
                    a.duration_ms as i64,
                    a.payload,
                    a.created_at.unix()
                ])
            })
            .map_err(sql_err)?;
            let now = a.created_at.unix();
            let (state, next, finished) = match outcome {
                DeliveryOutcome::Delivered => ("delivered", None, Some(now)),
                DeliveryOutcome::RetryAt(t) => ("pending", Some(t.unix()), None),
                DeliveryOutcome::GaveUp => ("failed", None, Some(now)),
            };
            c.prepare_cached(
                "update webhook_deliveries set state = ?2, attempts = attempts + 1, \
                 next_attempt_at = coalesce(?3, next_attempt_at), finished_at = ?4, locked_until = null where seq = ?1",
            )
            .and_then(|mut st| st.execute(params![seq, state, next, finished]))
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn list_attempts(&self, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        self.scan(move |c| {
            let sql = format!(
                "select id, event_id, url, status, error, duration_ms, payload, created_at from webhook_attempts \
                 where event_id in ({}) order by seq",
                vec!["?"; ids.len()].join(", ")
            );
            let rows = c
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_map(rusqlite::params_from_iter(ids.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<u16>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, i64>(7)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(id, event, url, status, error, ms, payload, at)| {
                    let other = |e: satang_domain::BadId| StoreError::Other(e.into());
                    Ok(AttemptRecord {
                        id: DeliveryId::try_from(id).map_err(other)?,
                        event: EventId::try_from(event).map_err(other)?,
                        url,
                        status,
                        error,
                        duration_ms: ms as u64,
                        payload,
                        created_at: Timestamp::from_unix(at),
                    })
                })
                .collect()
        })
        .await
    }

    async fn redeliver(&self, scope: &Scope, event: &EventId, now: Timestamp) -> StoreResult<usize> {
        let (scope, event) = (scope.clone(), event.clone());
        self.write(move |c| {
            let exists: Option<i64> = c
                .query_row(
                    "select 1 from events where id = ?1 and account_id = ?2 and livemode = ?3",
                    params![event.as_str(), scope.account.as_str(), scope.livemode],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            if exists.is_none() {
                return Err(StoreError::not_found("event", &event));
            }
            // A charge's own URLs are the event's targets for good; otherwise the account's endpoints now.
            let charge_urls = c
                .execute(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                     next_attempt_at, created_at) select ?1, ?2, ?3, null, u.url, 'pending', 0, ?4, ?4 \
                     from (select distinct url from webhook_deliveries where event_id = ?1 and endpoint_id is null) u",
                    params![event.as_str(), scope.account.as_str(), scope.livemode, now.unix()],
                )
                .map_err(sql_err)?;
            let n = if charge_urls > 0 {
                charge_urls
            } else {
                c.execute(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                     next_attempt_at, created_at) select ?1, account_id, livemode, id, url, 'pending', 0, ?4, ?4 \
                     from webhook_endpoints where account_id = ?2 and livemode = ?3",
                    params![event.as_str(), scope.account.as_str(), scope.livemode, now.unix()],
                )
                .map_err(sql_err)?
            };
            if n > 0 {
                OUTBOX_TOUCHED.with(|t| t.set(true));
            }
            Ok(n)
        })
        .await
    }
}

fn event_row(id: String, key: String, livemode: bool, created: i64, data: String) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        id: EventId::try_from(id).map_err(|e| StoreError::Other(e.into()))?,
        key: EventKey::parse(&key).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
        livemode,
        created_at: Timestamp::from_unix(created),
        data,
    })
}

//! The PostgreSQL store: the same [`Store`] as SQLite, for several satang nodes on one database.
//!
//! * A connection pool (deadpool) of configurable size; every connection runs with a `statement_timeout`,
//!   and checkouts and connects time out, so a database outage answers with Omise-shaped 503s instead of
//!   hanging, and the pool reconnects by itself once the database is back.
//! * Each method is one transaction. A charge change locks its row (`select … for update`) while the
//!   domain closure runs, so transitions and refunds racing on one charge from any number of nodes are
//!   applied one after the other and can never over-refund.
//! * Webhook deliveries are claimed with `for update skip locked` plus a lease, so each attempt happens on
//!   exactly one node; every commit that queues deliveries also sends `NOTIFY satang_outbox`, which wakes
//!   the workers of all nodes through a dedicated `LISTEN` connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use satang_domain::{
    AccountId, Amount, Charge, ChargeId, Currency, DeliveryId, Direction, EndpointId, EventId, EventKey, FeeSchedule,
    LedgerEntry, Origin, RefundId, Source, SourceId, Timestamp, TransactionId,
};
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::migrate::POSTGRES;
use super::*;

const OUTBOX_CHANNEL: &str = "satang_outbox";

/// Pool and timeout settings.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub pool_size: usize,
    pub statement_timeout: Duration,
    /// How long a request waits for a connection (or for one to be made) before answering 503.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { pool_size: 16, statement_timeout: Duration::from_secs(5), acquire_timeout: Duration::from_secs(3) }
    }
}

pub struct PgStore {
    pool: Pool,
    /// Wakes this node's webhook worker.
    outbox: Arc<Notify>,
    /// Asks the notifier task to wake every node's workers (`NOTIFY satang_outbox`).
    cluster: Arc<Notify>,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("database connection lost: {e}"));
    }
    match e.code() {
        Some(c)
            if *c == SqlState::QUERY_CANCELED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW =>
        {
            StoreError::Unavailable(e.to_string())
        }
        Some(c) if c.code().starts_with("08") => StoreError::Unavailable(e.to_string()),
        Some(_) => StoreError::Other(anyhow::Error::new(e)),
        // No SQL state: an I/O or protocol failure talking to the server.
        None => StoreError::Unavailable(e.to_string()),
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e).context("stored document does not parse"))
}

fn bad_id(e: satang_domain::BadId) -> StoreError {
    StoreError::Other(e.into())
}

fn parse_doc<T: serde::de::DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(json_err)
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;

impl PgStore {
    pub async fn open(url: &str, opts: PgOptions) -> anyhow::Result<Self> {
        let mut cfg: tokio_postgres::Config = url.parse()?;
        // Custom plans always: a generic plan for the list query (account and time window as parameters)
        // chose a sort of the whole account over the index walk, 100× slower.
        cfg.options(format!(
            "-c statement_timeout={} -c plan_cache_mode=force_custom_plan",
            opts.statement_timeout.as_millis()
        ));
        cfg.connect_timeout(opts.acquire_timeout);
        cfg.application_name("satang");
        let mgr = Manager::from_config(cfg.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(opts.pool_size.max(1))
            .wait_timeout(Some(opts.acquire_timeout))
            .create_timeout(Some(opts.acquire_timeout))
            .recycle_timeout(Some(opts.acquire_timeout))
            .runtime(Runtime::Tokio1)
            .build()?;
        let store = PgStore { pool, outbox: Arc::new(Notify::new()), cluster: Arc::new(Notify::new()) };
        store.migrate().await?;
        tokio::spawn(listen(cfg.clone(), store.outbox.clone()));
        tokio::spawn(notifier(cfg, store.cluster.clone()));
        Ok(store)
    }

    /// Applies the migrations not yet recorded, under an advisory lock so nodes starting together take turns.
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.batch_execute(
            "select pg_advisory_xact_lock(7263470); \
             create table if not exists schema_migrations (version bigint primary key, name text not null, applied_at bigint not null)",
        )
        .await?;
        for m in POSTGRES {
            let done = tx.query_opt("select version from schema_migrations where version = $1", &[&m.version]).await?;
            if done.is_none() {
                tx.batch_execute(m.sql)
                    .await
                    .map_err(|e| anyhow::anyhow!("migration {} {}: {e}", m.version, m.name))?;
                tx.execute(
                    "insert into schema_migrations (version, name, applied_at) values ($1, $2, extract(epoch from now())::bigint)",
                    &[&m.version, &m.name],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    /// After a commit that queued deliveries: wake this node's worker now, and the other nodes' through the
    /// notifier. NOTIFY is not sent inside the transaction because PostgreSQL serializes the commits of
    /// notifying transactions, which would undo group commit.
    fn wake_workers(&self) {
        self.outbox.notify_one();
        self.cluster.notify_one();
    }
}

/// Sends `NOTIFY satang_outbox` on its own connection when asked, at most once per couple of milliseconds
/// however many commits ask, so other nodes' workers wake within milliseconds of a commit.
async fn notifier(cfg: tokio_postgres::Config, wanted: Arc<Notify>) {
    loop {
        match cfg.connect(NoTls).await {
            Ok((client, conn)) => {
                let driver = tokio::spawn(conn);
                loop {
                    wanted.notified().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    if client.batch_execute(&format!("notify {OUTBOX_CHANNEL}")).await.is_err() {
                        break;
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error.message = %e, "NOTIFY connection failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Keeps a `LISTEN satang_outbox` connection open (reconnecting after failures) and turns each notification
/// into a wake-up of this node's webhook worker.
async fn listen(cfg: tokio_postgres::Config, outbox: Arc<Notify>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match cfg.connect(NoTls).await {
            Ok((client, mut conn)) => {
                backoff = Duration::from_millis(200);
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                                if tx.send(()).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return,
                        }
                    }
                });
                if client.batch_execute(&format!("listen {OUTBOX_CHANNEL}")).await.is_ok() {
                    // A missed notification while reconnecting is covered by the worker's polling.
                    outbox.notify_one();
                    while rx.recv().await.is_some() {
                        outbox.notify_one();
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error.message = %e, "LISTEN connection failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Statements shared by several methods.

/// Counts one more row in a list whose whole total has a counter (see the 0005 migration): a delta row,
/// which no other insert waits on.
async fn count_insert(tx: &Tx<'_>, scope: &Scope, list: &str) -> StoreResult<()> {
    let st = tx
        .prepare_cached("insert into list_count_deltas (account_id, livemode, list) values ($1, $2, $3)")
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&scope.account.as_str(), &scope.livemode, &list]).await.map_err(pg_err)?;
    Ok(())
}

/// Writes the event and its outbox rows; returns whether any delivery was queued (the caller wakes the
/// workers once the transaction has committed).
async fn insert_event(tx: &Tx<'_>, scope: &Scope, e: &NewEvent) -> StoreResult<bool> {
    let st = tx
        .prepare_cached(
            "insert into events (id, account_id, livemode, key, charge_id, created_at, data) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(
        &st,
        &[
            &e.id.as_str(),
            &scope.account.as_str(),
            &scope.livemode,
            &e.key.as_str(),
            &e.charge.as_ref().map(|c| c.as_str()),
            &e.created_at.unix(),
            &e.data,
        ],
    )
    .await
    .map_err(pg_err)?;
    count_insert(tx, scope, "events").await?;
    let queued = if e.webhook_urls.is_empty() {
        let st = tx
            .prepare_cached(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) select $1, account_id, livemode, id, url, 'pending', 0, $2, $2 \
                 from webhook_endpoints where account_id = $3 and livemode = $4",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&e.id.as_str(), &e.created_at.unix(), &scope.account.as_str(), &scope.livemode])
            .await
            .map_err(pg_err)?
    } else {
        ensure_signing_secret(tx, scope, e.created_at).await?;
        let st = tx
            .prepare_cached(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) values ($1, $2, $3, null, $4, 'pending', 0, $5, $5)",
            )
            .await
            .map_err(pg_err)?;
        let mut n = 0;
        for url in &e.webhook_urls {
            n += tx
                .execute(&st, &[&e.id.as_str(), &scope.account.as_str(), &scope.livemode, url, &e.created_at.unix()])
                .await
                .map_err(pg_err)?;
        }
        n
    };
    Ok(queued > 0)
}

/// A random shard of a split counter (see the 0004 migration).
fn shard() -> i16 {
    rand::RngExt::random_range(&mut rand::rng(), 0..16)
}

async fn ensure_signing_secret(tx: &Tx<'_>, scope: &Scope, now: Timestamp) -> StoreResult<()> {
    tx.execute(
        "insert into webhook_signing (account_id, livemode, secret, created_at) values ($1, $2, $3, $4) \
         on conflict (account_id, livemode) do nothing",
        &[&scope.account.as_str(), &scope.livemode, &crate::webhooks::sign::new_secret(), &now.unix()],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

async fn read_signing_secret(tx: &Tx<'_>, scope: &Scope) -> StoreResult<SigningSecret> {
    let r = tx
        .query_one(
            "select secret, previous_secret, previous_until from webhook_signing where account_id = $1 and livemode = $2",
            &[&scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?;
    Ok(SigningSecret {
        secret: r.get(0),
        previous_secret: r.get(1),
        previous_until: r.get::<_, Option<i64>>(2).map(Timestamp::from_unix),
    })
}

async fn load_charge_for_update(tx: &Tx<'_>, which: &ChargeRef) -> StoreResult<(i64, Charge)> {
    let (row, id) = match which {
        ChargeRef::Scoped(scope, id) => (
            tx.query_opt(
                "select seq, doc from charges where id = $1 and account_id = $2 and livemode = $3 for update",
                &[&id.as_str(), &scope.account.as_str(), &scope.livemode],
            )
            .await,
            id,
        ),
        ChargeRef::Unscoped(id) => {
            (tx.query_opt("select seq, doc from charges where id = $1 for update", &[&id.as_str()]).await, id)
        }
    };
    let row = row.map_err(pg_err)?.ok_or_else(|| StoreError::not_found("charge", id))?;
    Ok((row.get(0), parse_doc(row.get::<_, &str>(1))?))
}

/// New refund rows, ledger entries and the balance they move, for a charge's change.
async fn book_change(tx: &Tx<'_>, scope: &Scope, before: &Charge, after: &Charge) -> StoreResult<()> {
    for r in after.refunds.iter().skip(before.refunds.len()) {
        let rec = RefundRecord { charge: after.id.clone(), currency: after.currency, refund: r.clone() };
        let doc = serde_json::to_string(&rec).map_err(json_err)?;
        tx.execute(
            "insert into refunds (id, account_id, livemode, charge_id, created_at, doc) values ($1, $2, $3, $4, $5, $6)",
            &[&r.id.as_str(), &scope.account.as_str(), &scope.livemode, &after.id.as_str(), &r.created_at.unix(), &doc],
        )
        .await
        .map_err(pg_err)?;
    }
    for e in satang_domain::ledger::entries_for_change(before, after) {
        let (charge_id, refund_id) = match &e.origin {
            Origin::Charge(id) => (Some(id.as_str()), None),
            Origin::Refund(id) => (None, Some(id.as_str())),
        };
        tx.execute(
            "insert into ledger (id, account_id, livemode, direction, amount, currency, charge_id, refund_id, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &e.id.as_str(),
                &scope.account.as_str(),
                &scope.livemode,
                &e.direction.as_str(),
                &e.amount.subunits(),
                &e.currency.code(),
                &charge_id,
                &refund_id,
                &e.created_at.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
            "insert into balances (account_id, livemode, currency, shard, total, updated_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (account_id, livemode, currency, shard) \
             do update set total = balances.total + excluded.total, updated_at = excluded.updated_at",
            &[
                &scope.account.as_str(),
                &scope.livemode,
                &e.currency.code(),
                &shard(),
                &e.direction.signed(e.amount),
                &e.created_at.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

/// One page of a scoped list (see the SQLite store's `page`), in (created_at, seq) order, the order of the
/// `*_by_scope_time_seq` indexes, so the newest page is a short index walk. The offset is walked in an inner
/// query that reads only `seq` (an index-only scan once vacuum has marked the pages visible) and the page's
/// rows are fetched after it, so a deep page does not read every skipped row from the heap. The total of a
/// whole list (no from/to) named in `counted` comes from its counter (0005 migration); other totals count
/// the rows.
async fn page(
    c: &deadpool_postgres::Client,
    table: &str,
    columns: &str,
    scope: &Scope,
    filter: Option<(&str, &str)>,
    q: &ListQuery,
    counted: Option<&str>,
) -> StoreResult<Page<Row>> {
    let dir = match q.order {
        Order::Chronological => "asc",
        Order::ReverseChronological => "desc",
    };
    let (from, to, limit, offset) = (q.from.unix(), q.to.unix(), q.limit as i64, q.offset as i64);
    let account = scope.account.as_str();
    let mut cond = String::from("account_id = $1 and livemode = $2 and created_at >= $3 and created_at <= $4");
    let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&account, &scope.livemode, &from, &to];
    let filter_val;
    if let Some((col, val)) = filter {
        cond.push_str(&format!(" and {col} = $5"));
        filter_val = val.to_string();
        args.push(&filter_val);
    }
    let n = args.len();
    let total: i64 = match counted.filter(|_| q.whole) {
        Some(list) => {
            // Folded count plus the deltas not yet folded, in one snapshot (see the 0005 migration).
            let st = c
                .prepare_cached(
                    "select coalesce((select n from list_counts where account_id = $1 and livemode = $2 and list = $3), 0) \
                     + (select count(*) from list_count_deltas where account_id = $1 and livemode = $2 and list = $3)",
                )
                .await
                .map_err(pg_err)?;
            c.query_one(&st, &[&scope.account.as_str(), &scope.livemode, &list]).await.map_err(pg_err)?.get(0)
        }
        None => {
            let st = c.prepare_cached(&format!("select count(*) from {table} where {cond}")).await.map_err(pg_err)?;
            c.query_one(&st, &args).await.map_err(pg_err)?.get(0)
        }
    };
    args.push(&limit);
    args.push(&offset);
    let order = format!("order by created_at {dir}, seq {dir}");
    let sql = format!(
        "select {columns} from {table} where seq in \
         (select seq from {table} where {cond} {order} limit ${} offset ${}) {order}",
        n + 1,
        n + 2
    );
    let st = c.prepare_cached(&sql).await.map_err(pg_err)?;
    let items = c.query(&st, &args).await.map_err(pg_err)?;
    Ok(Page { items, total: total as u64 })
}

fn event_from(row: &Row, livemode: bool) -> StoreResult<StoredEvent> {
    let key: String = row.get(1);
    Ok(StoredEvent {
        id: EventId::try_from(row.get::<_, String>(0)).map_err(bad_id)?,
        key: EventKey::parse(&key).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
        livemode,
        created_at: Timestamp::from_unix(row.get(2)),
        data: row.get(3),
    })
}

const LEDGER_COLUMNS: &str = "id, direction, amount, currency, charge_id, refund_id, created_at";

fn ledger_from(row: &Row) -> StoreResult<LedgerEntry> {
    let id: String = row.get(0);
    let other = |m: String| StoreError::Other(anyhow::anyhow!(m));
    let origin = match (row.get::<_, Option<String>>(4), row.get::<_, Option<String>>(5)) {
        (Some(c), None) => Origin::Charge(ChargeId::try_from(c).map_err(bad_id)?),
        (None, Some(r)) => Origin::Refund(RefundId::try_from(r).map_err(bad_id)?),
        _ => return Err(other(format!("ledger entry {id} points at neither one charge nor one refund"))),
    };
    let direction: String = row.get(1);
    let currency: String = row.get(3);
    Ok(LedgerEntry {
        id: TransactionId::try_from(id).map_err(bad_id)?,
        direction: if direction == "credit" { Direction::Credit } else { Direction::Debit },
        amount: Amount::new(row.get(2)).map_err(|e| other(e.to_string()))?,
        currency: currency.parse().map_err(|e: satang_domain::money::UnknownCurrency| other(e.to_string()))?,
        origin,
        created_at: Timestamp::from_unix(row.get(6)),
    })
}

const ENDPOINT_COLUMNS: &str = "id, account_id, livemode, url, secret, previous_secret, previous_until, created_at";

fn endpoint_from(r: &Row) -> StoreResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: EndpointId::try_from(r.get::<_, String>(0)).map_err(bad_id)?,
        account: AccountId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
        livemode: r.get(2),
        url: r.get(3),
        secret: r.get(4),
        previous_secret: r.get(5),
        previous_until: r.get::<_, Option<i64>>(6).map(Timestamp::from_unix),
        created_at: Timestamp::from_unix(r.get(7)),
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.query_one("select 1", &[]).await.map_err(pg_err)?;
        Ok(())
    }

    async fn housekeeping(&self) -> StoreResult<()> {
        // Each batch is one statement, so one transaction: the deltas it deletes are exactly the ones it
        // adds. Nodes folding at once take disjoint batches (skip locked) and upsert the counts in key
        // order, so they cannot deadlock.
        const BATCH: i64 = 10_000;
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "with batch as (select seq from list_count_deltas order by seq limit $1 for update skip locked), \
                 gone as (delete from list_count_deltas d using batch where d.seq = batch.seq \
                   returning d.account_id, d.livemode, d.list), \
                 sums as (select account_id, livemode, list, count(*) as n from gone \
                   group by account_id, livemode, list order by account_id, livemode, list), \
                 added as (insert into list_counts (account_id, livemode, list, n) \
                   select account_id, livemode, list, n from sums \
                   on conflict (account_id, livemode, list) do update set n = list_counts.n + excluded.n) \
                 select count(*) from gone",
            )
            .await
            .map_err(pg_err)?;
        loop {
            let folded: i64 = c.query_one(&st, &[&BATCH]).await.map_err(pg_err)?.get(0);
            if folded < BATCH {
                return Ok(());
            }
        }
    }

    async fn after_bulk_load(&self) -> StoreResult<()> {
        self.housekeeping().await?;
        // What autovacuum would do soon after: statistics for the planner and the visibility map that makes
        // deep list offsets index-only. Vacuum may outlast the statement timeout, so it runs without one; it
        // cannot run in a transaction, and several statements in one simple query are one, so each is sent
        // on its own.
        let c = self.client().await?;
        c.batch_execute("set statement_timeout = 0").await.map_err(pg_err)?;
        let vacuumed = c.batch_execute("vacuum (analyze) charges, sources, events, list_count_deltas").await;
        c.batch_execute("reset statement_timeout").await.map_err(pg_err)?;
        vacuumed.map_err(pg_err)
    }

    async fn create_account(&self, a: NewAccount) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        tx.execute(
            "insert into accounts (id, name, created_at, api_version) values ($1, $2, $3, $4)",
            &[&a.id.as_str(), &a.name, &a.created_at.unix(), &a.api_version],
        )
        .await
        .map_err(pg_err)?;
        for k in &a.keys {
            tx.execute(
                "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7)",
                &[&k.hash, &a.id.as_str(), &k.livemode, &k.kind.as_str(), &k.public_key, &k.hint, &a.created_at.unix()],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn count_accounts(&self) -> StoreResult<u64> {
        let n: i64 = self.client().await?.query_one("select count(*) from accounts", &[]).await.map_err(pg_err)?.get(0);
        Ok(n as u64)
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Account> {
        let row = self
            .client()
            .await?
            .query_opt("select name, created_at, api_version from accounts where id = $1", &[&id.as_str()])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("account", id))?;
        Ok(Account {
            id: id.clone(),
            name: row.get(0),
            created_at: Timestamp::from_unix(row.get(1)),
            api_version: row.get(2),
        })
    }

    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyGrant>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "select k.account_id, a.name, k.livemode, k.kind, a.api_version from api_keys k \
                 join accounts a on a.id = k.account_id where k.hash = $1",
            )
            .await
            .map_err(pg_err)?;
        let Some(row) = c.query_opt(&st, &[&hash]).await.map_err(pg_err)? else { return Ok(None) };
        let kind: String = row.get(3);
        Ok(Some(KeyGrant {
            account: AccountId::try_from(row.get::<_, String>(0)).map_err(bad_id)?,
            account_name: row.get(1),
            livemode: row.get(2),
            kind: if kind == "secret" { KeyKind::Secret } else { KeyKind::Public },
            api_version: row.get(4),
        }))
    }

    async fn fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
    ) -> StoreResult<Option<FeeSchedule>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "select schedule from fee_schedules where account_id = $1 and method = $2 and currency = $3",
            )
            .await
            .map_err(pg_err)?;
        let row = c.query_opt(&st, &[&account.as_str(), &method, &currency.code()]).await.map_err(pg_err)?;
        row.map(|r| parse_doc(r.get::<_, &str>(0))).transpose()
    }

    async fn set_fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
        schedule: FeeSchedule,
    ) -> StoreResult<()> {
        let doc = serde_json::to_string(&schedule).map_err(json_err)?;
        let now = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
        let n = self
            .client()
            .await?
            .execute(
                "insert into fee_schedules (account_id, method, currency, schedule, updated_at) \
                 select $1, $2, $3, $4, $5 where exists (select 1 from accounts where id = $1) \
                 on conflict (account_id, method, currency) do update set schedule = excluded.schedule, \
                 updated_at = excluded.updated_at",
                &[&account.as_str(), &method, &currency.code(), &doc, &now],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 { Err(StoreError::not_found("account", account)) } else { Ok(()) }
    }

    async fn insert_source(&self, scope: &Scope, source: &Source) -> StoreResult<()> {
        let doc = serde_json::to_string(source).map_err(json_err)?;
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values ($1, $2, $3, null, $4, $5)",
            )
            .await
            .map_err(pg_err)?;
        c.execute(
            &st,
            &[&source.id.as_str(), &scope.account.as_str(), &scope.livemode, &source.created_at.unix(), &doc],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn get_source(&self, scope: &Scope, id: &SourceId) -> StoreResult<(Source, Option<String>)> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "select case when s.doc = '' then ch.doc else s.doc end, ch.status, s.doc = '' \
                 from sources s left join charges ch on ch.id = s.charge_id \
                 where s.id = $1 and s.account_id = $2 and s.livemode = $3",
            )
            .await
            .map_err(pg_err)?;
        let row = c
            .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("source", id))?;
        let doc: Option<&str> = row.get(0);
        let doc = doc.ok_or_else(|| StoreError::Other(anyhow::anyhow!("source {id} has no document")))?;
        Ok((super::sqlite::source_from(doc, row.get(2))?, row.get(1)))
    }

    async fn create_charge(
        &self,
        scope: &Scope,
        charge: &Charge,
        doc: String,
        new_source: bool,
        events: Vec<NewEvent>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let (id, src) = (charge.id.as_str(), charge.source.id.as_str());
        if new_source {
            // An inline source lives inside its charge's document; its own row only marks it used (doc '').
            let sdoc = String::new();
            let st = tx
                .prepare_cached(
                    "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values ($1, $2, $3, $4, $5, $6)",
                )
                .await
                .map_err(pg_err)?;
            tx.execute(&st, &[&src, &scope.account.as_str(), &scope.livemode, &id, &charge.created_at.unix(), &sdoc])
                .await
                .map_err(pg_err)?;
        } else {
            let n = tx
                .execute(
                    "update sources set charge_id = $1 where id = $2 and account_id = $3 and livemode = $4 and charge_id is null",
                    &[&id, &src, &scope.account.as_str(), &scope.livemode],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 {
                let used = tx
                    .query_opt(
                        "select charge_id from sources where id = $1 and account_id = $2 and livemode = $3",
                        &[&src, &scope.account.as_str(), &scope.livemode],
                    )
                    .await
                    .map_err(pg_err)?;
                return Err(match used.and_then(|r| r.get::<_, Option<String>>(0)) {
                    Some(other) => StoreError::SourceUsed { source_id: charge.source.id.clone(), charge: other },
                    None => StoreError::not_found("source", &charge.source.id),
                });
            }
        }
        let st = tx
            .prepare_cached(
                "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc) \
                 values ($1, $2, $3, $4, $5, $6, 1, $7)",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(
            &st,
            &[
                &id,
                &scope.account.as_str(),
                &scope.livemode,
                &charge.status.name(),
                &charge.created_at.unix(),
                &charge.expires_at.unix(),
                &doc,
            ],
        )
        .await
        .map_err(pg_err)?;
        count_insert(&tx, scope, "charges").await?;
        let mut queued = false;
        for e in &events {
            queued |= insert_event(&tx, scope, e).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        if queued {
            self.wake_workers();
        }
        Ok(())
    }

    async fn get_charge(&self, scope: &Scope, id: &ChargeId) -> StoreResult<Charge> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("select doc from charges where id = $1 and account_id = $2 and livemode = $3")
            .await
            .map_err(pg_err)?;
        let row = c
            .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("charge", id))?;
        parse_doc(row.get::<_, &str>(0))
    }

    async fn find_charge(&self, id: &ChargeId) -> StoreResult<Charge> {
        let c = self.client().await?;
        let st = c.prepare_cached("select doc from charges where id = $1").await.map_err(pg_err)?;
        let row = c
            .query_opt(&st, &[&id.as_str()])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("charge", id))?;
        parse_doc(row.get::<_, &str>(0))
    }

    async fn list_charges(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
        let c = self.client().await?;
        let rows = page(&c, "charges", "doc", scope, None, &q, Some("charges")).await?;
        let items = rows.items.iter().map(|r| parse_doc(r.get::<_, &str>(0))).collect::<StoreResult<_>>()?;
        Ok(Page { items, total: rows.total })
    }

    async fn update_charge(&self, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let (seq, mut charge) = load_charge_for_update(&tx, &which).await?;
        let before = charge.clone();
        let events = mutation(&mut charge)?;
        let scope = Scope { account: charge.account.clone(), livemode: charge.livemode() };
        book_change(&tx, &scope, &before, &charge).await?;
        let doc = serde_json::to_string(&charge).map_err(json_err)?;
        let st = tx
            .prepare_cached(
                "update charges set doc = $1, status = $2, expires_at = $3, version = version + 1 where seq = $4",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&doc, &charge.status.name(), &charge.expires_at.unix(), &seq]).await.map_err(pg_err)?;
        let mut queued = false;
        for e in &events {
            queued |= insert_event(&tx, &scope, e).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        if queued {
            self.wake_workers();
        }
        Ok(charge)
    }

    async fn due_charges(&self, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "select id from charges where status = 'pending' and expires_at <= $1 order by expires_at limit $2",
            )
            .await
            .map_err(pg_err)?;
        let rows = c.query(&st, &[&now.unix(), &(limit as i64)]).await.map_err(pg_err)?;
        rows.iter().map(|r| ChargeId::try_from(r.get::<_, String>(0)).map_err(bad_id)).collect()
    }

    async fn list_refunds(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<RefundRecord>> {
        let c = self.client().await?;
        let rows = page(&c, "refunds", "doc", scope, charge.map(|id| ("charge_id", id.as_str())), &q, None).await?;
        let items = rows.items.iter().map(|r| parse_doc(r.get::<_, &str>(0))).collect::<StoreResult<_>>()?;
        Ok(Page { items, total: rows.total })
    }

    async fn get_refund(&self, scope: &Scope, charge: &ChargeId, id: &RefundId) -> StoreResult<RefundRecord> {
        let row = self
            .client()
            .await?
            .query_opt(
                "select doc from refunds where id = $1 and charge_id = $2 and account_id = $3 and livemode = $4",
                &[&id.as_str(), &charge.as_str(), &scope.account.as_str(), &scope.livemode],
            )
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("refund", id))?;
        parse_doc(row.get::<_, &str>(0))
    }

    async fn list_transactions(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<LedgerEntry>> {
        let c = self.client().await?;
        let rows = page(&c, "ledger", LEDGER_COLUMNS, scope, None, &q, None).await?;
        Ok(Page { items: rows.items.iter().map(ledger_from).collect::<StoreResult<_>>()?, total: rows.total })
    }

    async fn get_transaction(&self, scope: &Scope, id: &TransactionId) -> StoreResult<LedgerEntry> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("select {LEDGER_COLUMNS} from ledger where id = $1 and account_id = $2 and livemode = $3"),
                &[&id.as_str(), &scope.account.as_str(), &scope.livemode],
            )
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("transaction", id))?;
        ledger_from(&row)
    }

    async fn balances(&self, scope: &Scope) -> StoreResult<Vec<Balance>> {
        let rows = self
            .client()
            .await?
            .query(
                "select currency, sum(total)::bigint from balances where account_id = $1 and livemode = $2 \
                 group by currency order by currency",
                &[&scope.account.as_str(), &scope.livemode],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let cur: String = r.get(0);
                let currency =
                    cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
                Ok(Balance { currency, total: r.get(1) })
            })
            .collect()
    }

    async fn get_event(&self, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "select id, key, created_at, data from events where id = $1 and account_id = $2 and livemode = $3",
            )
            .await
            .map_err(pg_err)?;
        let row = c
            .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("event", id))?;
        event_from(&row, scope.livemode)
    }

    async fn list_events(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<StoredEvent>> {
        let c = self.client().await?;
        let rows = page(
            &c,
            "events",
            "id, key, created_at, data",
            scope,
            charge.map(|id| ("charge_id", id.as_str())),
            &q,
            charge.is_none().then_some("events"),
        )
        .await?;
        let items = rows.items.iter().map(|r| event_from(r, scope.livemode)).collect::<StoreResult<_>>()?;
        Ok(Page { items, total: rows.total })
    }

    fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    async fn create_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<()> {
        let n = self
            .client()
            .await?
            .execute(
                "insert into webhook_endpoints (id, account_id, livemode, url, secret, created_at) \
                 select $1, $2, $3, $4, $5, $6 where exists (select 1 from accounts where id = $2)",
                &[&ep.id.as_str(), &ep.account.as_str(), &ep.livemode, &ep.url, &ep.secret, &ep.created_at.unix()],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 { Err(StoreError::not_found("account", &ep.account)) } else { Ok(()) }
    }

    async fn list_endpoints(&self, account: &AccountId, livemode: Option<bool>) -> StoreResult<Vec<WebhookEndpoint>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "select {ENDPOINT_COLUMNS} from webhook_endpoints where account_id = $1 \
                     and ($2::boolean is null or livemode = $2) order by seq"
                ),
                &[&account.as_str(), &livemode],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(endpoint_from).collect()
    }

    async fn get_endpoint(&self, id: &EndpointId) -> StoreResult<WebhookEndpoint> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = $1"), &[&id.as_str()])
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("webhook_endpoint", id))?;
        endpoint_from(&row)
    }

    async fn delete_endpoint(&self, id: &EndpointId, now: Timestamp) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx.execute("delete from webhook_endpoints where id = $1", &[&id.as_str()]).await.map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::not_found("webhook_endpoint", id));
        }
        tx.execute(
            "update webhook_deliveries set state = 'failed', finished_at = $2, locked_until = null \
             where endpoint_id = $1 and state = 'pending'",
            &[&id.as_str(), &now.unix()],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn roll_endpoint_secret(
        &self,
        id: &EndpointId,
        secret: String,
        previous_until: Timestamp,
    ) -> StoreResult<WebhookEndpoint> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "update webhook_endpoints set previous_secret = secret, previous_until = $2, secret = $3 \
                     where id = $1 returning {ENDPOINT_COLUMNS}"
                ),
                &[&id.as_str(), &previous_until.unix(), &secret],
            )
            .await
            .map_err(pg_err)?
            .ok_or_else(|| StoreError::not_found("webhook_endpoint", id))?;
        endpoint_from(&row)
    }

    async fn signing_secret(&self, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        ensure_signing_secret(&tx, scope, now).await?;
        let s = read_signing_secret(&tx, scope).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(s)
    }

    async fn roll_signing_secret(
        &self,
        scope: &Scope,
        secret: String,
        previous_until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<SigningSecret> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        ensure_signing_secret(&tx, scope, now).await?;
        tx.execute(
            "update webhook_signing set previous_secret = secret, previous_until = $3, secret = $4 \
             where account_id = $1 and livemode = $2",
            &[&scope.account.as_str(), &scope.livemode, &previous_until.unix(), &secret],
        )
        .await
        .map_err(pg_err)?;
        let s = read_signing_secret(&tx, scope).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(s)
    }

    async fn claim_deliveries(&self, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let saturated: Vec<String> =
            req.busy.iter().filter(|(_, n)| **n >= req.per_target).map(|(u, _)| u.clone()).collect();
        let candidates = tx
            .query(
                "select seq, url from webhook_deliveries where state = 'pending' and next_attempt_at <= $1 \
                 and (locked_until is null or locked_until <= $3) and not (url = any($4)) \
                 order by next_attempt_at, seq limit $2 for update skip locked",
                &[&req.now.unix(), &((req.limit * 4).max(16) as i64), &req.lease_now.unix(), &saturated],
            )
            .await
            .map_err(pg_err)?;
        let mut taken: HashMap<String, usize> = req.busy.clone();
        let mut picked = Vec::new();
        for row in candidates {
            if picked.len() >= req.limit {
                break;
            }
            let url: String = row.get(1);
            let n = taken.entry(url).or_insert(0);
            if *n < req.per_target {
                *n += 1;
                picked.push(row.get::<_, i64>(0));
            }
        }
        let mut out = Vec::with_capacity(picked.len());
        for seq in picked {
            tx.execute(
                "update webhook_deliveries set locked_until = $2 where seq = $1",
                &[&seq, &req.lease_until.unix()],
            )
            .await
            .map_err(pg_err)?;
            let r = tx
                .query_one(
                    "select d.event_id, d.account_id, d.livemode, d.endpoint_id, d.url, d.attempts, d.created_at, \
                     e.key, e.created_at, e.data, a.api_version, \
                     coalesce(w.secret, s.secret), coalesce(w.previous_secret, s.previous_secret), \
                     coalesce(w.previous_until, s.previous_until) \
                     from webhook_deliveries d join events e on e.id = d.event_id join accounts a on a.id = d.account_id \
                     left join webhook_endpoints w on w.id = d.endpoint_id \
                     left join webhook_signing s on d.endpoint_id is null and s.account_id = d.account_id \
                     and s.livemode = d.livemode where d.seq = $1",
                    &[&seq],
                )
                .await
                .map_err(pg_err)?;
            let Some(secret) = r.get::<_, Option<String>>(11) else {
                tx.execute(
                    "update webhook_deliveries set state = 'failed', finished_at = $2, locked_until = null where seq = $1",
                    &[&seq, &req.now.unix()],
                )
                .await
                .map_err(pg_err)?;
                continue;
            };
            let until: Option<i64> = r.get(13);
            let previous_secret = r.get::<_, Option<String>>(12).filter(|_| until.is_some_and(|u| u > req.now.unix()));
            let livemode: bool = r.get(2);
            let key: String = r.get(7);
            out.push(ClaimedDelivery {
                seq,
                event: StoredEvent {
                    id: EventId::try_from(r.get::<_, String>(0)).map_err(bad_id)?,
                    key: EventKey::parse(&key)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
                    livemode,
                    created_at: Timestamp::from_unix(r.get(8)),
                    data: r.get(9),
                },
                account: AccountId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
                api_version: r.get(10),
                url: r.get(4),
                endpoint: r.get::<_, Option<String>>(3).map(EndpointId::try_from).transpose().map_err(bad_id)?,
                attempts: r.get::<_, i32>(5) as u32,
                queued_at: Timestamp::from_unix(r.get(6)),
                secret,
                previous_secret,
            });
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }

    async fn finish_attempt(&self, seq: i64, a: AttemptRecord, outcome: DeliveryOutcome) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let status = a.status.map(|s| s as i32);
        tx.execute(
            "insert into webhook_attempts (id, delivery_id, event_id, url, status, error, duration_ms, payload, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &a.id.as_str(),
                &seq.to_string(),
                &a.event.as_str(),
                &a.url,
                &status,
                &a.error,
                &(a.duration_ms as i64),
                &a.payload,
                &a.created_at.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
        let now = a.created_at.unix();
        let (state, next, finished): (&str, Option<i64>, Option<i64>) = match outcome {
            DeliveryOutcome::Delivered => ("delivered", None, Some(now)),
            DeliveryOutcome::RetryAt(t) => ("pending", Some(t.unix()), None),
            DeliveryOutcome::GaveUp => ("failed", None, Some(now)),
        };
        tx.execute(
            "update webhook_deliveries set state = $2, attempts = attempts + 1, \
             next_attempt_at = coalesce($3, next_attempt_at), finished_at = $4, locked_until = null where seq = $1",
            &[&seq, &state, &next, &finished],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_attempts(&self, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
        let rows = self
            .client()
            .await?
            .query(
                "select id, event_id, url, status, error, duration_ms, payload, created_at from webhook_attempts \
                 where event_id = any($1) order by seq",
                &[&ids],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    id: DeliveryId::try_from(r.get::<_, String>(0)).map_err(bad_id)?,
                    event: EventId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
                    url: r.get(2),
                    status: r.get::<_, Option<i32>>(3).map(|s| s as u16),
                    error: r.get(4),
                    duration_ms: r.get::<_, i64>(5) as u64,
                    payload: r.get(6),
                    created_at: Timestamp::from_unix(r.get(7)),
                })
            })
            .collect()
    }

    async fn redeliver(&self, scope: &Scope, event: &EventId, now: Timestamp) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let exists = tx
            .query_opt(
                "select 1 from events where id = $1 and account_id = $2 and livemode = $3",
                &[&event.as_str(), &scope.account.as_str(), &scope.livemode],
            )
            .await
            .map_err(pg_err)?;
        if exists.is_none() {
            return Err(StoreError::not_found("event", event));
        }
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&event.as_str(), &scope.account.as_str(), &scope.livemode, &now.unix()];
        let charge_urls = tx
            .execute(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) select $1, $2, $3, null, u.url, 'pending', 0, $4, $4 \
                 from (select distinct url from webhook_deliveries where event_id = $1 and endpoint_id is null) u",
                &args,
            )
            .await
            .map_err(pg_err)?;
        let n = if charge_urls > 0 {
            charge_urls
        } else {
            tx.execute(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) select $1, account_id, livemode, id, url, 'pending', 0, $4, $4 \
                 from webhook_endpoints where account_id = $2 and livemode = $3",
                &args,
            )
            .await
            .map_err(pg_err)?
        };
        tx.commit().await.map_err(pg_err)?;
        if n > 0 {
            self.wake_workers();
        }
        Ok(n as usize)
    }
}

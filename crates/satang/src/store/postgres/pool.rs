//! The connection pool: its settings ([`PgOptions`]), the options every connection runs with, and checkouts
//! that time out into [`StoreError::Unavailable`].

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::PgStore;
use crate::store::{StoreError, StoreResult};

/// Pool and timeout settings.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub pool_size: usize,
    pub statement_timeout: Duration,
    /// How long a request waits for a connection (or for one to be made) before answering 503.
    pub acquire_timeout: Duration,
    /// Rows of a list between two of its marks (0017 migration, `lists.rs`): a deep page of the whole
    /// charge or event list walks at most this many index entries from a mark. At 1M charges and 200
    /// deep pages/s, 10,000 and 1,000 gave p99 34 and 29 ms, within that machine's noise of each other;
    /// 1,000 keeps the worst walk short, and each of its 1,000 marks per million rows costs one walk of
    /// 1,000 entries to write.
    pub list_mark_spacing: u64,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(3),
            list_mark_spacing: 1_000,
        }
    }
}

/// The settings of every connection (timeouts, plan mode), and the pool over them.
pub(super) fn connect(url: &str, opts: &PgOptions) -> anyhow::Result<(tokio_postgres::Config, Pool)> {
    let mut cfg: tokio_postgres::Config = url.parse()?;
    // Prepared statements keep their plans (PostgreSQL's default): planning every execution, which
    // `plan_cache_mode=force_custom_plan` did here, was a quarter of the server's CPU per charge created.
    // The lists and searches whose best plan depends on their values (an account's size, a time window)
    // are sent as statements for one use instead (`query_typed`'s unnamed statement, or a `&str` query),
    // which PostgreSQL plans for their values each time.
    //
    // JIT compilation is off: PostgreSQL compiles any statement whose estimated cost passes
    // `jit_above_cost`, and at 1M charges a deep page's estimate (its length is an expression the planner
    // guesses at thousands of rows) did, which spent 47 ms compiling a 2 ms query: 29 deep pages/s where
    // 1,000 were possible. satang's statements are short; none gains from compiling.
    cfg.options(format!("-c statement_timeout={} -c jit=off", opts.statement_timeout.as_millis()));
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
    Ok((cfg, pool))
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

impl PgStore {
    pub(super) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }
}

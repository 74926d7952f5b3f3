//! Configuration: one clap struct per command, every field also readable from a `SATANG_*` variable.
//! The doc comments are the `--help` text.

use std::net::SocketAddr;

#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite:PATH` (created if missing) or `postgres://user@host/db`.
    #[arg(long = "database", id = "database", env = "SATANG_DATABASE_URL", default_value = "sqlite:satang.db")]
    pub url: String,

    /// PostgreSQL: connections in this node's pool.
    #[arg(long, env = "SATANG_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// PostgreSQL: longest a statement may run before it is cancelled (milliseconds).
    #[arg(long, env = "SATANG_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub db_statement_timeout_ms: u64,

    /// PostgreSQL: longest a request waits for a connection before answering 503 (milliseconds).
    #[arg(long, env = "SATANG_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,
}

impl DatabaseArgs {
    pub fn pg_options(&self) -> crate::store::postgres::PgOptions {
        crate::store::postgres::PgOptions {
            pool_size: self.db_pool_size.max(1),
            statement_timeout: std::time::Duration::from_millis(self.db_statement_timeout_ms.max(1)),
            acquire_timeout: std::time::Duration::from_millis(self.db_acquire_timeout_ms.max(1)),
        }
    }

    pub async fn open(&self) -> anyhow::Result<crate::store::DynStore> {
        crate::store::open_with(&self.url, self.pg_options()).await
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SATANG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Base URL payers and merchants use to reach this gateway; `authorize_uri` is built from it.
    /// Defaults to `http://<listen>`.
    #[arg(long, env = "SATANG_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub background: BackgroundArgs,

    /// Serve the API only; run the webhook worker and expiry sweeper elsewhere (`satang worker`).
    #[arg(long, env = "SATANG_NO_WORKER")]
    pub no_worker: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BackgroundArgs {
    /// Seconds between expiry sweeps (pending charges past `expires_at` become expired).
    #[arg(long, env = "SATANG_SWEEP_INTERVAL", default_value_t = 1)]
    pub sweep_interval: u64,

    /// Webhook sends in flight at most per receiving URL.
    #[arg(long, env = "SATANG_WEBHOOK_PER_ENDPOINT", default_value_t = 16)]
    pub webhook_per_endpoint: usize,

    /// Webhook sends in flight at most in all.
    #[arg(long, env = "SATANG_WEBHOOK_CONCURRENCY", default_value_t = 256)]
    pub webhook_concurrency: usize,

    /// Seconds a claimed delivery stays leased to its worker. If the worker dies mid-send, the delivery is
    /// sent again after this; keep it above the 10 s send timeout.
    #[arg(long, env = "SATANG_WEBHOOK_LEASE", default_value_t = 60)]
    pub webhook_lease: i64,
}

impl BackgroundArgs {
    pub fn worker_config(&self) -> crate::webhooks::worker::WorkerConfig {
        crate::webhooks::worker::WorkerConfig {
            per_target: self.webhook_per_endpoint.max(1),
            max_in_flight: self.webhook_concurrency.max(1),
            lease_seconds: self.webhook_lease.max(1),
            ..Default::default()
        }
    }

    pub fn sweep_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.sweep_interval.max(1))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The public URL of the API nodes: events render `authorize_uri` with it.
    #[arg(long, env = "SATANG_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,

    #[command(flatten)]
    pub background: BackgroundArgs,
}

impl ServeArgs {
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }
}

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
            ..Default::default()
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

    #[command(flatten)]
    pub http: HttpArgs,

    /// Serve Prometheus metrics at `http://ADDR/metrics` on this address (its own port, away from the API).
    /// Off when not given.
    #[arg(long, env = "SATANG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Developer mode: a temporary SQLite database (gone when satang stops; --database is ignored), and a
    /// demo account whose test keys are fixed and printed on every start. Test mode only.
    #[arg(long, env = "SATANG_DEV")]
    pub dev: bool,

    /// With --dev: the demo account's public key (e.g. a team's shared `pkey_test_…`).
    #[arg(long, env = "SATANG_DEV_PUBLIC_KEY", default_value = crate::accounts::DEV_PUBLIC_KEY)]
    pub dev_public_key: String,

    /// With --dev: the demo account's secret key (e.g. a team's shared `skey_test_…`); never a live key.
    #[arg(long, env = "SATANG_DEV_SECRET_KEY", default_value = crate::accounts::DEV_SECRET_KEY, hide_env_values = true)]
    pub dev_secret_key: String,
}

/// Connection limits, timeouts and TLS of `satang serve` (see [`crate::http`]).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Connections open at once; more are answered with a 503 and closed. Default: 4096, or fewer when the
    /// open-files limit is lower.
    #[arg(long, env = "SATANG_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Seconds a client has to send a request's headers once it has started (slow clients get a 408).
    #[arg(long, env = "SATANG_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds a connection may stay silent (new, or between keep-alive requests) before it is closed.
    #[arg(long, env = "SATANG_IDLE_TIMEOUT", default_value_t = 30)]
    pub idle_timeout: u64,

    /// Seconds a response may wait for the client to read it before the connection is dropped.
    #[arg(long, env = "SATANG_WRITE_TIMEOUT", default_value_t = 30)]
    pub write_timeout: u64,

    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "SATANG_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SATANG_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Requests a second one public key may make (POST/GET /sources, /capability); 0 for no limit.
    #[arg(long, env = "SATANG_RATE_LIMIT_KEY", default_value_t = 100)]
    pub rate_limit_key: u32,

    /// Requests a second one client address may make with public keys (three times as many to the payer
    /// pages); 0 for no limit.
    #[arg(long, env = "SATANG_RATE_LIMIT_IP", default_value_t = 20)]
    pub rate_limit_ip: u32,

    /// Redeliveries of one event a minute (`POST /events/:id/redeliver`, after a burst of 3); 0 for no limit.
    #[arg(long, env = "SATANG_RATE_LIMIT_REDELIVER", default_value_t = 6)]
    pub rate_limit_redeliver: u32,

    /// Behind a load balancer: the header holding the client's address (e.g. X-Forwarded-For; its first
    /// address is used). Only set it when the balancer always sets the header.
    #[arg(long, env = "SATANG_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<axum::http::HeaderName>,

    /// With TLS: also listen on this plain-HTTP address and redirect (308) every request to the public URL.
    #[arg(long, env = "SATANG_REDIRECT_HTTP", requires = "tls_cert")]
    pub redirect_http: Option<SocketAddr>,
}

impl HttpArgs {
    pub fn rate_limits(&self) -> crate::http::ratelimit::RateLimits {
        crate::http::ratelimit::RateLimits {
            per_key: self.rate_limit_key,
            per_ip: self.rate_limit_ip,
            redeliveries_per_minute: self.rate_limit_redeliver,
        }
    }

    pub fn limits(&self) -> crate::http::ServerLimits {
        let d = crate::http::ServerLimits::default();
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        crate::http::ServerLimits {
            max_connections: self.max_connections.unwrap_or(d.max_connections).max(1),
            head_timeout: secs(self.header_timeout),
            idle_timeout: secs(self.idle_timeout),
            write_timeout: secs(self.write_timeout),
            ..d
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct BackgroundArgs {
    /// Seconds between expiry sweeps (pending charges past `expires_at` become expired).
    #[arg(long, env = "SATANG_SWEEP_INTERVAL", default_value_t = 1)]
    pub sweep_interval: u64,

    /// Webhook sends in flight at most per receiving URL.
    #[arg(long, env = "SATANG_WEBHOOK_PER_ENDPOINT", default_value_t = 64)]
    pub webhook_per_endpoint: usize,

    /// Webhook sends in flight at most in all.
    #[arg(long, env = "SATANG_WEBHOOK_CONCURRENCY", default_value_t = 256)]
    pub webhook_concurrency: usize,

    /// Seconds a claimed delivery stays leased to its worker. If the worker dies mid-send, the delivery is
    /// sent again after this; keep it above the 10 s send timeout.
    #[arg(long, env = "SATANG_WEBHOOK_LEASE", default_value_t = 60)]
    pub webhook_lease: i64,

    /// Let webhooks reach loopback and private networks (RFC 1918, CGNAT, IPv6 unique-local) in both
    /// modes, for receivers on the operator's own network. Without it, test mode reaches public addresses
    /// and loopback, live mode public addresses only. Link-local and cloud-metadata addresses are always
    /// refused.
    #[arg(long, env = "SATANG_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
}

impl BackgroundArgs {
    pub fn webhook_policy(&self) -> crate::webhooks::ssrf::Policy {
        crate::webhooks::ssrf::Policy { allow_private: self.allow_private_webhooks }
    }

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
        let scheme = if self.http.tls_cert.is_some() { "https" } else { "http" };
        self.public_url.clone().unwrap_or_else(|| format!("{scheme}://{bound}"))
    }
}

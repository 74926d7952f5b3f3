//! Configuration: one clap struct per command, every field also readable from a `SATANG_*` variable.
//! The doc comments are the `--help` text.

use std::net::SocketAddr;

#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite:PATH` (created if missing) or `postgres://user@host/db`.
    #[arg(long = "database", env = "SATANG_DATABASE_URL", default_value = "sqlite:satang.db")]
    pub url: String,
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

    /// Seconds between expiry sweeps (pending charges past `expires_at` become expired).
    #[arg(long, env = "SATANG_SWEEP_INTERVAL", default_value_t = 1)]
    pub sweep_interval: u64,
}

impl ServeArgs {
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }
}

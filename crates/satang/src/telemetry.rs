//! Logging: `tracing` to stderr, filtered by `SATANG_LOG` (or `RUST_LOG`), JSON lines when
//! `SATANG_LOG_FORMAT=json`. Spans carry method, route and request ID; keys, secrets and bodies are never
//! recorded (handlers get a `Caller`, not the key, and nothing logs request bodies).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("SATANG_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "satang=info,tower_http=warn".to_string());
    let builder = tracing_subscriber::fmt().with_env_filter(EnvFilter::new(filter)).with_writer(std::io::stderr);
    let json = std::env::var("SATANG_LOG_FORMAT").map(|v| v == "json").unwrap_or(false);
    // A second init (tests) is harmless.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

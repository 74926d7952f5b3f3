//! Logging: `tracing` to stderr, filtered by `SATANG_LOG` (or `RUST_LOG`), JSON lines when
//! `SATANG_LOG_FORMAT=json`. Every line written while a request is served starts with (or, in JSON,
//! carries) its `request_id`, the one in the `X-Request-Id` header and the error body, so a merchant can
//! quote it and the operator finds every line of that request. Keys, secrets and bodies are never recorded
//! (handlers get a `Caller`, not the key, and nothing logs request bodies).

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub fn init() {
    let filter = std::env::var("SATANG_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "satang=info,tower_http=warn".to_string());
    let builder = tracing_subscriber::fmt().with_env_filter(EnvFilter::new(filter)).with_writer(std::io::stderr);
    let json = std::env::var("SATANG_LOG_FORMAT").map(|v| v == "json").unwrap_or(false);
    // A second init (tests) is harmless.
    let _ = if json {
        builder.json().event_format(WithRequestId { inner: format::format().json(), json: true }).try_init()
    } else {
        builder.event_format(WithRequestId { inner: format::format(), json: false }).try_init()
    };
}

/// Wraps a line format with the ID of the request being served ([`crate::api::REQUEST_ID`]), read from the
/// task-local when a line is written: no span, so nothing is formatted for requests that log nothing.
pub struct WithRequestId<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let Ok(id) = crate::api::REQUEST_ID.try_with(|id| id.clone()) else {
            return self.inner.format_event(ctx, writer, event);
        };
        if self.json {
            let mut line = String::new();
            self.inner.format_event(ctx, Writer::new(&mut line), event)?;
            match line.strip_prefix('{') {
                Some(rest) => write!(writer, "{{\"request_id\":\"{id}\",{rest}"),
                None => writer.write_str(&line),
            }
        } else {
            write!(writer, "request_id={id} ")?;
            self.inner.format_event(ctx, writer, event)
        }
    }
}

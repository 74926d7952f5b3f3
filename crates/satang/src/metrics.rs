//! Prometheus metrics, off unless `satang serve --metrics-listen ADDR`, which serves `GET /metrics` (text
//! format) on that address only, away from the public API. Recorded with the `metrics` crate and rendered by
//! `metrics-exporter-prometheus`; until [`install`] runs nothing is recorded and the request path does no
//! work for them ([`enabled`]).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `satang_http_requests_total` | counter | `route`, `method`, `status` |
//! | `satang_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `satang_charges_total` | counter | `method` (alipay, alipay_hk), `status` (pending when created, then successful, failed, expired) |
//! | `satang_webhook_outbox_depth` | gauge | deliveries waiting to be sent or retried (read at scrape) |
//! | `satang_webhook_outbox_oldest_age_seconds` | gauge | age of the oldest of them (0 when none) |
//! | `satang_webhook_delivery_duration_seconds` | histogram | `outcome` (delivered, failed) |
//! | `satang_store_commit_batch_size` | histogram | writes per commit (SQLite batches them; PostgreSQL: 1) |
//! | `satang_store_commit_duration_seconds` | histogram | SQLite: time to run and commit (fsync) a batch; PostgreSQL: a charge write's `COMMIT` round trip |
//! | `satang_provider_calls_total` | counter | `endpoint` (e.g. `payments/pay`), `result` (the acquirer's result code, `http_<status>`, or `error`) |
//! | `satang_provider_call_duration_seconds` | histogram | `endpoint` |

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use satang_domain::Charge;

use crate::app::AppState;

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether metrics are being recorded (`--metrics-listen` was given).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the process-wide recorder (once).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    let batch = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)?
        .set_buckets_for_metric(Matcher::Full("satang_store_commit_batch_size".into()), &batch)?
        .install_recorder()?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(handle)
}

/// One served request.
pub fn request(route: &str, method: &str, status: u16, seconds: f64) {
    let (route, method) = (route.to_string(), method.to_string());
    ::metrics::counter!("satang_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status.to_string())
        .increment(1);
    ::metrics::histogram!("satang_http_request_duration_seconds", "route" => route, "method" => method).record(seconds);
}

/// A charge written in this status (created, settled or expired).
pub fn charge(c: &Charge) {
    if enabled() {
        ::metrics::counter!("satang_charges_total", "method" => c.source.method.name, "status" => c.status.name())
            .increment(1);
    }
}

/// One webhook send.
pub fn delivery(delivered: bool, seconds: f64) {
    if enabled() {
        let outcome = if delivered { "delivered" } else { "failed" };
        ::metrics::histogram!("satang_webhook_delivery_duration_seconds", "outcome" => outcome).record(seconds);
    }
}

/// One committed write: a batch of the SQLite store, or one charge transaction on PostgreSQL.
pub fn commit(batch: usize, seconds: f64) {
    if enabled() {
        ::metrics::histogram!("satang_store_commit_batch_size").record(batch as f64);
        ::metrics::histogram!("satang_store_commit_duration_seconds").record(seconds);
    }
}

/// One call to the acquirer (each try of a retried call counts).
pub fn provider_call(call: &crate::connector::ProviderCall) {
    if enabled() {
        let result = match (&call.result_code, call.http_status) {
            (Some(code), _) => code.clone(),
            (None, Some(status)) => format!("http_{status}"),
            (None, None) => "error".to_string(),
        };
        let endpoint = call.endpoint.clone();
        ::metrics::counter!("satang_provider_calls_total", "endpoint" => endpoint.clone(), "result" => result)
            .increment(1);
        ::metrics::histogram!("satang_provider_call_duration_seconds", "endpoint" => endpoint)
            .record(call.latency_ms as f64 / 1000.0);
    }
}

async fn scrape(State(app): State<AppState>) -> Response {
    let now = app.now();
    match app.store.outbox_stats().await {
        Ok((depth, oldest)) => {
            ::metrics::gauge!("satang_webhook_outbox_depth").set(depth as f64);
            let age = oldest.map(|t| (now.unix() - t.unix()).max(0)).unwrap_or(0);
            ::metrics::gauge!("satang_webhook_outbox_oldest_age_seconds").set(age as f64);
        }
        Err(e) => tracing::warn!(error.message = %e, "outbox metrics could not be read"),
    }
    let text = HANDLE.get().map(|h| h.render()).unwrap_or_default();
    let mut res = text.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    res
}

/// Serves `GET /metrics` on `addr` until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, app: AppState) -> anyhow::Result<SocketAddr> {
    install()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // Its own small router on its own port: not part of the public HTTP service or its OpenAPI document.
    let router = axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(app);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error.message = %e, "the metrics listener stopped");
        }
    });
    Ok(bound)
}

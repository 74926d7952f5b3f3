//! The Omise-compatible REST API: routes, the middleware every request passes, and list parameters.
//!
//! | module | owns |
//! |---|---|
//! | [`params`] | the one extractor that merges query string and body (JSON or bracketed form) |
//! | [`auth`] | HTTP Basic key auth, public vs secret key extractors |
//! | [`version`] | `Omise-Version`, legacy field names, the 200 response |
//! | [`error`] | Omise error objects and HTTP statuses |
//! | [`wire`] | response objects in Omise's shape |
//! | [`sources`], [`charges`], [`refunds`], [`transactions`], [`events`], [`capability`] | handlers |
//! | [`search`] | `GET /search` (Omise's Search API) |
//! | [`webhooks`] | the admin API for webhook endpoints (beyond Omise) |
//! | [`openapi`] | `GET /openapi.json`, every route in one table, checked against the code by tests |
//! | [`request_log`] | `GET /logs/stream`, the account's served requests (beyond Omise) |
//! | [`stream`] | `GET /events/stream`, the account's events as server-sent events (beyond Omise) |
//! | [`idempotency`] | `Idempotency-Key` on every POST and PATCH (beyond Omise) |

pub mod account;
pub mod auth;
pub mod capability;
pub mod charges;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod openapi;
pub mod params;
pub mod refunds;
pub mod request_log;
pub mod search;
pub mod sources;
pub mod stream;
pub mod transactions;
pub mod version;
pub mod webhooks;
pub mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use satang_domain::Timestamp;
use tracing::Instrument;

use crate::app::AppState;
use crate::store::{ListQuery, Order};
use error::ApiError;
use params::Params;

/// Longest time a request may take before it is answered with a 503 instead of hanging.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The API's routes (without the payer pages). Paths have no trailing slash; [`crate::startup`] strips one
/// from each request before routing, for php and python (`/charges/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sources", post(sources::create_source))
        .route("/sources/{id}", get(sources::retrieve_source))
        .route("/charges", post(charges::create_charge).get(charges::list_charges))
        .route("/charges/{id}", get(charges::retrieve_charge).patch(charges::update_charge))
        .route("/charges/{id}/expire", post(charges::expire_charge))
        .route("/charges/{id}/mark_as_paid", post(charges::mark_as_paid))
        .route("/charges/{id}/mark_as_failed", post(charges::mark_as_failed))
        .route("/charges/{id}/events", get(events::list_charge_events))
        .route("/charges/{id}/refunds", post(refunds::create_refund).get(refunds::list_charge_refunds))
        .route("/charges/{id}/refunds/{refund}", get(refunds::retrieve_refund))
        .route("/refunds", get(refunds::list_refunds))
        .route("/search", get(search::search))
        .route("/transactions", get(transactions::list_transactions))
        .route("/transactions/{id}", get(transactions::retrieve_transaction))
        .route("/balance", get(transactions::retrieve_balance))
        .route("/events", get(events::list_events))
        .route("/events/stream", get(stream::stream_events))
        .route("/logs/stream", get(request_log::tail))
        .route("/events/{id}", get(events::retrieve_event))
        .route("/events/{id}/redeliver", post(events::redeliver_event))
        .route("/webhook_endpoints", post(webhooks::create_endpoint).get(webhooks::list_endpoints))
        .route("/webhook_endpoints/{id}", get(webhooks::retrieve_endpoint).delete(webhooks::delete_endpoint))
        .route("/webhook_endpoints/{id}/roll_secret", post(webhooks::roll_endpoint_secret))
        .route("/webhook_signing_secret", get(webhooks::retrieve_signing_secret))
        .route("/webhook_signing_secret/roll", post(webhooks::roll_signing_secret))
        .route("/capability", get(capability::retrieve_capability))
        .route("/account", get(account::retrieve_account))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi::serve_document))
}

/// Liveness: the process answers HTTP.
async fn healthz() -> Response {
    json_status(StatusCode::OK, r#"{"object":"health","status":"ok"}"#)
}

/// Readiness: the database answers too. A load balancer sends traffic only while this is 200.
async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => json_status(StatusCode::OK, r#"{"object":"health","status":"ready"}"#),
        Err(e) => ApiError::unavailable(e.to_string()).into_response(),
    }
}

fn json_status(status: StatusCode, body: &'static str) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    res
}

/// Unknown paths: an Omise `not_found` error, never an HTML page.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("the requested resource {} was not found", req.uri().path()),
    )
}

/// Known path, wrong method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

tokio::task_local! {
    /// The ID of the request being served: in its `X-Request-Id` header, its error body and every log line
    /// written while it is served ([`crate::telemetry`]).
    pub static REQUEST_ID: String;
}

/// The ID of the request being served, or a fresh one for a refusal made outside any request (a connection
/// over the cap, a malformed head), so every error body has one.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_else(|_| new_request_id())
}

fn new_request_id() -> String {
    format!("req_{}", satang_domain::id::random_base36(20))
}

/// Gives every request an ID (echoed as `X-Request-Id`, in error bodies and in every log line written while
/// it is served), a debug-level tracing span without keys or bodies, and a time limit. The span is
/// debug-level because the fmt subscriber formats an enabled span's fields on every request, which the
/// create-charge profile showed at several percent; `SATANG_LOG=satang=debug` turns it on. The request ID
/// reaches log lines through a task-local the log formatter reads, which costs nothing when nothing logs.
pub async fn request_context(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = new_request_id();
    let logged = app.request_log.wanted().then(|| (req.method().to_string(), req.uri().path().to_string()));
    let measured = crate::metrics::enabled().then(|| {
        let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str()).unwrap_or("unmatched").to_string();
        (route, req.method().to_string())
    });
    let span = if tracing::enabled!(tracing::Level::DEBUG) {
        let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
        tracing::debug_span!(
            "request",
            http.method = %req.method(),
            http.route = route.as_deref().unwrap_or("-"),
        )
    } else {
        tracing::Span::none()
    };
    let started = std::time::Instant::now();
    let page = req.uri().path().starts_with("/pay") || req.uri().path().starts_with("/dashboard");
    let served = REQUEST_ID.scope(request_id.clone(), async {
        let run = request_log::CALLER_SCOPE.scope(std::cell::OnceCell::new(), async {
            let res = tokio::time::timeout(REQUEST_TIMEOUT, next.run(req).instrument(span.clone())).await;
            (res, request_log::CALLER_SCOPE.with(|c| c.get().cloned()))
        });
        let (res, caller) = run.await;
        let mut res = match res {
            Ok(res) => res,
            Err(_) => ApiError::timed_out(REQUEST_TIMEOUT).into_response(),
        };
        if !page && res.status().is_client_error() && !is_json(&res) {
            res = as_omise_error(res).await;
        }
        span.in_scope(|| {
            tracing::debug!(
                http.status = res.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "done"
            )
        });
        if let Some((route, method)) = measured {
            crate::metrics::request(&route, &method, res.status().as_u16(), started.elapsed().as_secs_f64());
        }
        if let (Some((method, path)), Some(scope)) = (logged, caller)
            && path != request_log::PATH
        {
            app.request_log.publish(request_log::RequestRecord {
                scope,
                time: app.now().iso(),
                method,
                path,
                status: res.status().as_u16(),
                latency_ms: started.elapsed().as_millis() as u64,
                request_id: request_id.clone(),
                error_code: res.extensions().get::<error::ErrorCode>().map(|c| c.0),
            });
        }
        res
    });
    let mut res = served.await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// A refusal made by the framework rather than by satang (a path segment that is not UTF-8, say) arrives as
/// plain text; clients detect errors by `object: "error"`, so it is rewrapped as an Omise error with the
/// same status and the framework's text as the message.
async fn as_omise_error(res: Response) -> Response {
    let status = res.status();
    let text = axum::body::to_bytes(res.into_body(), 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        _ => "bad_request",
    };
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("bad request").to_ascii_lowercase()
    } else {
        text.trim().chars().take(300).collect()
    };
    ApiError::new(status, code, message).into_response()
}

/// Turns a panic in a handler into a 500 Omise error (the panic itself is logged by the hook).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// Reads `from`, `to`, `offset`, `limit`, `order` (omise-wire.md §4.5): limit defaults to 20 and is capped
/// at 100, order defaults to chronological, `to` defaults to now.
pub fn list_query(p: &Params, now: Timestamp) -> Result<ListQuery, ApiError> {
    let limit = match p.int("limit")? {
        None => 20,
        Some(l) if l < 0 => return Err(ApiError::bad_request("limit must not be negative")),
        Some(l) => l.min(100) as u64,
    };
    let offset = match p.int("offset")? {
        None => 0,
        Some(o) if o < 0 => return Err(ApiError::bad_request("offset must not be negative")),
        Some(o) => o as u64,
    };
    let order = match p.string("order")?.as_deref() {
        None | Some("") | Some("chronological") => Order::Chronological,
        Some("reverse_chronological") => Order::ReverseChronological,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order {other} is not supported (use chronological or reverse_chronological)"
            )));
        }
    };
    let (from, to) = (p.timestamp("from")?, p.timestamp("to")?);
    let whole = from.is_none() && to.is_none();
    let (from, to) = (from.unwrap_or(Timestamp::EPOCH), to.unwrap_or(now));
    if from > to {
        return Err(ApiError::bad_request("from must not be later than to"));
    }
    Ok(ListQuery { from, to, offset, limit, order, whole })
}

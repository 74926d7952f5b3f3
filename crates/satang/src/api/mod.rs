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
//! | [`idempotency`] | `Idempotency-Key` on every POST and PATCH (beyond Omise) |

pub mod account;
pub mod auth;
pub mod capability;
pub mod charges;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod params;
pub mod refunds;
pub mod search;
pub mod sources;
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
    /// The ID of the request being served, for the one log line an internal error writes.
    pub static REQUEST_ID: String;
}

/// Gives every request an ID (echoed as `X-Request-Id`, and in any error it logs), a debug-level tracing
/// span without keys or bodies, and a time limit. The span is debug-level because the fmt subscriber
/// formats an enabled span's fields on every request, which the create-charge profile showed at several
/// percent; `SATANG_LOG=satang=debug` turns it on.
pub async fn request_context(req: Request, next: Next) -> Response {
    let request_id = satang_domain::id::random_base36(20);
    let span = if tracing::enabled!(tracing::Level::DEBUG) {
        let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
        tracing::debug_span!(
            "request",
            http.method = %req.method(),
            http.route = route.as_deref().unwrap_or("-"),
            request.id = %request_id,
        )
    } else {
        tracing::Span::none()
    };
    let started = std::time::Instant::now();
    let page = req.uri().path().starts_with("/pay") || req.uri().path().starts_with("/dashboard");
    let served = REQUEST_ID.scope(request_id.clone(), async {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req).instrument(span.clone())).await {
            Ok(res) => res,
            Err(_) => ApiError::timed_out(REQUEST_TIMEOUT).into_response(),
        }
    });
    let mut res = served.await;
    if !page && res.status().is_client_error() && !is_json(&res) {
        res = as_omise_error(res).await;
    }
    span.in_scope(|| {
        tracing::debug!(http.status = res.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "done")
    });
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

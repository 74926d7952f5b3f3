//! `Idempotency-Key` on every POST and PATCH, as Stripe and Hyperswitch take it (no official Omise client
//! sends one today, omise-wire.md §10, so it is purely an addition): a client that retries after a timeout
//! or a dropped connection gets the first answer again, byte for byte, instead of a second charge or refund.
//!
//! * Same key, same request (method, path, query and body), within [`KEY_LIFETIME_SECONDS`]: the first
//!   response is returned again, with `Idempotent-Replayed: true`.
//! * Same key, another request: 422 `idempotency_key_reused`; nothing runs.
//! * Keys belong to an account and mode, like everything else: another account's key is another key.
//!
//! Why it cannot lose or double anything: the key and its response are written by the store **in the same
//! transaction as the effect** (the charge, refund, source, endpoint…), under a unique index on
//! (account, mode, key). The handler declares how its response is rendered ([`respond_with`]); the store
//! renders it from what it wrote, inside the transaction, and this layer returns exactly those bytes. So a
//! crash either loses both the effect and the key (the retry runs it, once) or keeps both (the retry gets the
//! stored answer). Two requests with one key racing on two nodes both run, but only the first commit wins
//! the unique index; the other's transaction rolls back (its effect with it) and it answers with the winner's
//! stored response.
//!
//! A request that fails (4xx) records nothing, so fixing the request and retrying with the same key works.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::auth::basic_user;
use super::error::ApiError;
use super::params::read_body;
use super::version::Reply;
use crate::app::AppState;
use crate::store::Scope;
use crate::store::idempotency::{
    KeyRow, PENDING_KEY, PendingKey, Rendered, Renderer, StoredResponse, Written, pending_key,
};

/// How long a key is remembered.
pub const KEY_LIFETIME_SECONDS: i64 = 24 * 3600;
/// The longest key accepted.
pub const MAX_KEY_BYTES: usize = 255;

/// Declares, from inside a handler, how the response to the current request is rendered from what the store
/// writes, so that a pending `Idempotency-Key` is recorded with it, in the write's transaction. Without a key
/// it does nothing. `render` gives the reply the handler answers with for that outcome (or its error).
pub fn respond_with(render: impl Fn(Written<'_>) -> Result<Reply, ApiError> + Send + Sync + 'static) {
    if let Some(p) = pending_key() {
        p.set_renderer(Box::new(move |w: Written<'_>| {
            Ok(match render(w) {
                Ok(reply) => {
                    let (version, body) = reply.into_parts();
                    Rendered { status: 200, version: Some(version.as_str().to_string()), body }
                }
                Err(e) => Rendered { status: e.status.as_u16(), version: None, body: e.body() },
            })
        }) as Renderer);
    }
}

/// The error a renderer gives for a write it was not made for (a bug, never a client's doing).
pub fn unexpected_write() -> ApiError {
    ApiError::internal(anyhow::anyhow!("an Idempotency-Key renderer was given another kind of write"))
}

fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(uri.path_and_query().map(|p| p.as_str()).unwrap_or("").as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = (status, stored.body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    if let Some(v) = stored.version.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("omise-version", v);
    }
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new request",
    )
}

/// The middleware: replays, refuses, or runs the request with its key pending.
pub async fn layer(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PATCH) {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_BYTES => k.trim().to_string(),
        _ => {
            return ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_BYTES} visible ASCII characters (a UUID is a good choice)"
            ))
            .into_response();
        }
    };
    // The key belongs to the caller's account and mode; without a valid key the handler answers 401.
    let grant = match basic_user(req.headers()) {
        Some(api_key) => match app.keys.lookup(&app.store, &api_key, app.now()).await {
            Ok(Some(g)) => g,
            Ok(None) => return next.run(req).await,
            Err(e) => return e.into_response(),
        },
        None => return next.run(req).await,
    };
    let scope = Scope { account: grant.account, livemode: grant.livemode };
    let (parts, body) = req.into_parts();
    let bytes = match read_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let fp = fingerprint(&parts.method, &parts.uri, &bytes);
    let now = app.now();
    let since = now.plus_seconds(-KEY_LIFETIME_SECONDS);
    match app.store.idempotent_response(&scope, &key, since).await {
        Ok(Some(stored)) if stored.fingerprint == fp => return replay(stored),
        Ok(Some(_)) => return reused().into_response(),
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let pending = Arc::new(PendingKey::new(scope.clone(), key.clone(), fp.clone(), now));
    let req = Request::from_parts(parts, Body::from(bytes));
    let res = PENDING_KEY.scope(pending.clone(), next.run(req)).await;
    // The response rendered with the write, if the write committed with it (its status is the handler's).
    let recorded = pending.take_recorded().filter(|r| !pending.was_taken() && r.status == res.status().as_u16());
    if let Some(recorded) = recorded {
        return first_answer(recorded);
    }
    if res.status().is_success() {
        // Routes whose effect is not money and has no object to render from the write (redelivering an
        // event: receivers de-duplicate the copy anyway) record their answer after it.
        return record_after(&app, &pending, res).await;
    }
    // Failed without recording: if another request with this key committed first (our transaction rolled
    // back, effect and all, or failed on what the winner did, e.g. its source now being used), answer as it
    // did, or refuse a different request. Otherwise our own error stands.
    match app.store.idempotent_response(&scope, &key, since).await {
        Ok(Some(stored)) if stored.fingerprint == fp => replay(stored),
        Ok(Some(_)) => reused().into_response(),
        Ok(None) => res,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Records a successful answer after the fact, for routes that declare no renderer.
async fn record_after(app: &AppState, pending: &PendingKey, res: Response) -> Response {
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let response = StoredResponse {
        fingerprint: pending.fingerprint.clone(),
        status: parts.status.as_u16(),
        version: parts.headers.get("omise-version").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: bytes.to_vec(),
        created_at: pending.created_at,
    };
    let row = KeyRow { scope: pending.scope.clone(), key: pending.key.clone(), response };
    if let Err(e) = app.store.record_idempotent_response(&row).await {
        tracing::warn!(error.message = %e, "could not record an Idempotency-Key after its request");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The first answer to a key: exactly the bytes the store recorded, without the replay marker.
fn first_answer(recorded: StoredResponse) -> Response {
    let mut res = replay(recorded);
    res.headers_mut().remove("idempotent-replayed");
    res
}

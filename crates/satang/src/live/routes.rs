//! The acquirer-facing and merchant-facing routes of live mode.
//!
//! - `POST /antom/notify`: Antom's `notifyPayment`, on any node. The request id in the body only finds
//!   the charge (and so the account's connector); nothing is acted on before the signature verifies.
//!   Answered with Antom's exact acknowledgement once applied; a refused notification gets a non-200 so
//!   that Antom retries a genuine one satang could not apply (database down).
//! - `GET /antom/return/:charge` (`paymentRedirectUrl`): the payer's way back. The return proves nothing,
//!   so satang asks `inquiryPayment`, applies the answer, and sends the browser on to `return_uri`.
//! - `GET /charges/:id/provider_calls`: a satang extension listing the calls made to the acquirer for a
//!   charge (secret key).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use satang_domain::ChargeId;

use crate::api::auth::SecretKey;
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::connector::antom::wire::NOTIFY_ACK;
use crate::connector::{Inbound, Notification};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/antom/notify", post(notify))
        .route("/antom/return/{charge}", get(back_from_wallet))
        .route("/charges/{id}/provider_calls", get(provider_calls))
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"result": {"resultCode": code, "resultStatus": "F", "resultMessage": message}});
    (status, axum::Json(body)).into_response()
}

async fn notify(State(app): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("paymentRequestId").and_then(|r| r.as_str()).map(str::to_string));
    let Some(request_id) = request_id else {
        return refuse(StatusCode::BAD_REQUEST, "PARAM_ILLEGAL", "not a payment notification");
    };
    let attempt = match app.store.payment_attempt(&request_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "unknown paymentRequestId"),
        Err(_) => return refuse(StatusCode::SERVICE_UNAVAILABLE, "UNKNOWN_EXCEPTION", "try again"),
    };
    let charge = match app.store.find_charge(&attempt.charge).await {
        Ok(c) => c,
        Err(_) => return refuse(StatusCode::SERVICE_UNAVAILABLE, "UNKNOWN_EXCEPTION", "try again"),
    };
    let conn = match app.connectors.for_account(&app.store, &charge.account).await {
        Ok(Some(c)) => c,
        _ => return refuse(StatusCode::SERVICE_UNAVAILABLE, "UNKNOWN_EXCEPTION", "no connector"),
    };
    let parsed = conn.parse_notification(Inbound { path: uri.path(), headers: &headers, body: &body });
    let state = match parsed {
        Ok(Notification::Payment { request_id: id, state }) if id == request_id => state,
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "PARAM_ILLEGAL", "not a payment notification"),
        Err(e) => {
            tracing::warn!(charge.id = %charge.id, error.message = %e, "notification refused");
            return refuse(StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE", "the signature is invalid");
        }
    };
    match super::apply(&app, &attempt, &state).await {
        Ok(_) => (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], NOTIFY_ACK).into_response(),
        Err(e) => {
            tracing::warn!(charge.id = %charge.id, error.message = %e.message, "notification not applied");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "UNKNOWN_EXCEPTION", "try again")
        }
    }
}

async fn back_from_wallet(State(app): State<AppState>, Path(charge): Path<String>) -> Response {
    let Ok(id) = charge.parse::<ChargeId>() else { return StatusCode::NOT_FOUND.into_response() };
    let Ok(mut charge) = app.store.find_charge(&id).await else { return StatusCode::NOT_FOUND.into_response() };
    if charge.livemode()
        && !charge.status.is_final()
        && let Ok(Some(attempt)) = app.store.latest_payment_attempt(&id).await
        && let Ok(after) = super::inquire(&app, &attempt).await
    {
        charge = after;
    }
    match &charge.return_uri {
        Some(uri) => Redirect::to(uri).into_response(),
        None => Redirect::to(&format!("/pay/{}/{}", charge.id, charge.authorize_token)).into_response(),
    }
}

async fn provider_calls(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = crate::api::charges::parse_charge_id(&id)?;
    app.store.get_charge(&caller.scope, &id).await?;
    let calls = app.store.list_provider_calls(&id).await?;
    let data: Vec<serde_json::Value> = calls
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            v["object"] = "provider_call".into();
            v["at"] = c.at.iso().into();
            v
        })
        .collect();
    Ok(axum::Json(serde_json::json!({"object": "list", "charge": id, "total": data.len(), "data": data}))
        .into_response())
}

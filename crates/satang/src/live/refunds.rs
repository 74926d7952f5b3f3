//! Live refunds: Antom refunds first, then satang books the refund under the same ID.
//!
//! The refund's ID is chosen before the call and sent as `refundRequestId` (Antom's idempotency key), so
//! retries never refund twice. satang's own checks (amount left, window, count) run first, so what satang
//! would refuse costs no call. Antom's refusals (`REFUND_AMOUNT_EXCEED`, `REFUND_WINDOW_EXCEED`, …) are
//! `failed_refund` errors and leave nothing behind. An unknown outcome (`U` after retries, a timeout) is
//! resolved with `inquiryRefund`, never by guessing: found → booked; not found → nothing happened, try
//! again; still unknown → 503 naming the refund ID, nothing booked yet (the repair below books it if
//! Antom confirms it later).
//!
//! **Crash window.** Antom refunded and satang died before booking (or the outcome stayed unknown).
//! A refund intent (`refund_intents`: refund ID, charge, amount, metadata) is written in its own
//! transaction *before* the call, and deleted once the refund is booked or known not to have happened.
//! The repair ([`repair_due`], run by [`super::run_checks`] at a node's start for every intent and then
//! periodically for intents older than [`FIRST_CHECK_SECONDS`], each intent leased to one node) asks
//! `inquiryRefund` about each intent left behind:
//!
//! | answer | what the repair does |
//! |---|---|
//! | `SUCCESS` | books the refund under its ID (one transaction with its event and webhook rows), drops the intent |
//! | `FAIL` / not found, intent older than [`GRACE_SECONDS`] | drops the intent: nothing was refunded |
//! | not found, younger | asks again next round (the refund call may still be on its way) |
//! | `PROCESSING` / no answer | asks again next round |
//!
//! **Never twice.** Booking refuses a refund ID already on the charge, inside the charge's transaction
//! ([`crate::ops::ALREADY_BOOKED`]), so the request path and the repair racing end in one refund: the
//! loser sees the refund booked and answers with it.

use std::time::Duration;

use satang_domain::{Charge, ChargeId, Refund, RefundId};
use serde_json::{Map, Value};

use crate::api::error::ApiError;
use crate::app::App;
use crate::connector::{ConnectorError, RefundOrder, RefundState};
use crate::store::connectors::RefundIntent;
use crate::store::{ChargeRef, Refusal, Scope, StoreError};

/// How long after its intent was written a refund not found at the acquirer may still be on its way
/// (the request path's tries, backoff and inquiries take well under this).
pub const GRACE_SECONDS: i64 = 120;

/// When the repair first asks about an intent the request path may still be resolving. A node that
/// starts asks about every intent at once ([`repair_due`] with `all`).
pub const FIRST_CHECK_SECONDS: i64 = 30;

fn failed_refund(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, "failed_refund", message)
}

fn unavailable(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", message)
}

pub async fn refund(
    app: &App,
    scope: &Scope,
    id: &ChargeId,
    amount: i64,
    metadata: Map<String, Value>,
) -> Result<(Charge, Refund), ApiError> {
    let charge = app.store.get_charge(scope, id).await?;
    let mut probe = charge.clone();
    if let Err(e) = probe.refund(amount, metadata.clone(), app.now()) {
        return Err(StoreError::Refused(Refusal::Refund(e)).into());
    }
    let payment_id = app
        .store
        .latest_payment_attempt(id)
        .await?
        .and_then(|a| a.handoff)
        .and_then(|h| h.payment_id)
        .ok_or_else(|| failed_refund("the charge has no acquirer payment to refund".into()))?;
    let conn = match app.connectors.for_account(&app.store, &charge.account).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(failed_refund("the account has no payment connector".into())),
        Err(e) => return Err(super::connector_error(e)),
    };
    let refund_id = RefundId::generate(true);
    let order = RefundOrder {
        request_id: refund_id.to_string(),
        payment_id,
        amount,
        currency: charge.currency.code().to_string(),
        notify_url: None,
    };
    let intent = RefundIntent {
        refund: refund_id.clone(),
        charge: id.clone(),
        amount,
        metadata: metadata.clone(),
        created_at: app.now(),
        // The request path resolves it itself unless it dies; the repair looks later (or at the next start).
        next_check_at: app.now().plus_seconds(FIRST_CHECK_SECONDS),
    };
    app.store.insert_refund_intent(&intent).await?;
    let mut calls = Vec::new();
    let mut outcome = conn.refund(&order, &mut calls).await;
    let mut asked = 0u32;
    let result = loop {
        match outcome {
            Ok(RefundState::Succeeded { .. }) => break Ok(()),
            Ok(RefundState::Refused { provider_code, message }) => {
                let why = message.map(|m| format!(": {m}")).unwrap_or_default();
                break Err(failed_refund(format!("the acquirer refused the refund ({provider_code}){why}")));
            }
            Ok(RefundState::NotFound) => {
                break Err(unavailable(
                    "the refund did not reach the acquirer and nothing was refunded: try again".into(),
                ));
            }
            Err(ConnectorError::Misconfigured(m)) => break Err(unavailable(m)),
            Ok(RefundState::Processing) | Err(_) if asked < 3 => {
                asked += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(asked))).await;
                outcome = conn.inquire_refund(&order.request_id, &mut calls).await;
            }
            _ => {
                tracing::error!(charge.id = %id, refund.id = %refund_id, "refund outcome unknown at the acquirer");
                break Err(unavailable(format!(
                    "the outcome of refund {refund_id} at the acquirer is not known yet; nothing is booked now, and \
                     satang books it under this ID if the acquirer confirms it (see GET /charges/{id}/provider_calls)"
                )));
            }
        }
    };
    super::record(app, id, &calls).await;
    match result {
        Ok(()) => {}
        // Unknown: the intent stays for the repair.
        Err(e) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => return Err(e),
        // Refused, or known not to have reached the acquirer: nothing to repair.
        Err(e) => {
            drop_intent(app, &refund_id).await;
            return Err(e);
        }
    }
    let booked = book(app, ChargeRef::Scoped(scope.clone(), id.clone()), &intent).await.inspect_err(|e| {
        tracing::error!(charge.id = %id, refund.id = %refund_id, error.message = %e.message,
            "refunded at the acquirer but not booked: the repair will try again");
    })?;
    drop_intent(app, &refund_id).await;
    Ok(booked)
}

async fn drop_intent(app: &App, refund: &RefundId) {
    if let Err(e) = app.store.delete_refund_intent(refund).await {
        // Left behind, it is asked about and dropped (or found booked) by the repair.
        tracing::warn!(refund.id = %refund, error.message = %e, "refund intent not deleted");
    }
}

/// Books the intent's refund; a refund already booked under its ID (the other of the request path and
/// the repair got there first) is answered as it is.
async fn book(app: &App, which: ChargeRef, intent: &RefundIntent) -> Result<(Charge, Refund), ApiError> {
    match crate::ops::book_refund_at(app, which, intent.refund.clone(), intent.amount, intent.metadata.clone()).await {
        Err(e) if e.message == crate::ops::ALREADY_BOOKED => {
            let charge = app.store.find_charge(&intent.charge).await?;
            let refund = charge
                .refunds
                .iter()
                .find(|r| r.id == intent.refund)
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("booked refund not found")))?;
            Ok((charge, refund))
        }
        other => other,
    }
}

/// Resolves one refund intent with `inquiryRefund` (see the module docs). Returns whether it was
/// resolved (booked or dropped).
pub async fn repair(app: &App, intent: &RefundIntent) -> Result<bool, ApiError> {
    let later = |app: &App| app.now().plus_seconds(app.connectors.inquiry_every());
    let charge = app.store.find_charge(&intent.charge).await?;
    if charge.refunds.iter().any(|r| r.id == intent.refund) {
        drop_intent(app, &intent.refund).await;
        return Ok(true);
    }
    let conn = match app.connectors.for_account(&app.store, &charge.account).await {
        Ok(Some(c)) => c,
        Ok(None) | Err(_) => {
            tracing::warn!(refund.id = %intent.refund, "refund intent: the account's connector is not usable");
            app.store.reschedule_refund_intent(&intent.refund, later(app)).await?;
            return Ok(false);
        }
    };
    let mut calls = Vec::new();
    let answer = conn.inquire_refund(intent.refund.as_str(), &mut calls).await;
    super::record(app, &intent.charge, &calls).await;
    let old = app.now().unix() - intent.created_at.unix() >= GRACE_SECONDS;
    match answer {
        Ok(RefundState::Succeeded { .. }) => {
            match book(app, ChargeRef::Unscoped(intent.charge.clone()), intent).await {
                Ok(_) => {
                    tracing::info!(charge.id = %intent.charge, refund.id = %intent.refund,
                        "refund booked by the repair");
                    drop_intent(app, &intent.refund).await;
                    Ok(true)
                }
                Err(e) => {
                    tracing::error!(charge.id = %intent.charge, refund.id = %intent.refund, error.message = %e.message,
                    "refunded at the acquirer but cannot be booked: book it by hand");
                    app.store.reschedule_refund_intent(&intent.refund, later(app)).await?;
                    Ok(false)
                }
            }
        }
        Ok(RefundState::Refused { .. }) => {
            drop_intent(app, &intent.refund).await;
            Ok(true)
        }
        Ok(RefundState::NotFound) if old => {
            drop_intent(app, &intent.refund).await;
            Ok(true)
        }
        Ok(_) | Err(_) => {
            app.store.reschedule_refund_intent(&intent.refund, later(app)).await?;
            Ok(false)
        }
    }
}

/// One round of the refund repair: claims due intents (so one node asks about each) and resolves them;
/// with `all` (a node's first round), every intent not leased, due or not.
pub async fn repair_due(app: &App, limit: u64, all: bool) -> Result<usize, ApiError> {
    let now = if all { app.now().plus_seconds(366 * 24 * 3600) } else { app.now() };
    let wall = satang_domain::Clock::now(&satang_domain::SystemClock);
    let due = app.store.claim_refund_intents(now, wall, wall.plus_seconds(60), limit).await?;
    for i in &due {
        if let Err(e) = repair(app, i).await {
            tracing::warn!(refund.id = %i.refund, error.message = %e.message, "refund repair failed");
        }
    }
    Ok(due.len())
}

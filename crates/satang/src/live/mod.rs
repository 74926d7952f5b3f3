//! Live charges: handing a charge to the account's acquirer, and applying what the acquirer says.
//!
//! | module | owns |
//! |---|---|
//! | [`handoff`] | opening an order (`pay`) when the payer first opens `authorize_uri`, and what the page shows |
//! | [`refunds`] | refunds through the acquirer, booked under the ID sent to it; the refund-intent repair |
//! | [`routes`] | the notify route, the return route (`paymentRedirectUrl`), `GET /charges/:id/provider_calls` |
//! | this file | refusing live charges that cannot be paid, applying a payment state to a charge |
//!
//! **When `pay` is called.** Not when the charge is created but when the payer first opens
//! `authorize_uri`: only then is the payer's device known (Antom's `env.terminalType` WEB / WAP / APP and
//! `osType` decide whether Antom gives a code to scan or an app link), and an Antom order that closed
//! unpaid (Antom caps how long an order stays open) can be replaced by a new attempt while the charge is
//! still pending. Each attempt has its own request id, `<charge id>_<n>`.
//!
//! **Applying a result.** A verified notification, an inquiry after the payer's return, and the periodic
//! inquiry all go through [`apply`], which changes the charge through [`ops::settle`]: one transaction with
//! its events and webhook outbox rows. A charge already final is left as it is (a repeated notification
//! changes nothing); `PAYMENT_PENDING` / `PROCESSING` leave it pending.
//!
//! **Crashes between the acquirer's answer and satang's commit.** Nothing the acquirer does is lost or
//! counted twice, because every request id is written (`payment_attempts`, state `opening`) *before* the
//! call, and every call is idempotent on its request id:
//!
//! | satang crashed … | what is left | how it is repaired |
//! |---|---|---|
//! | after writing the attempt, before or during `pay` | an `opening` attempt | the payer's next visit sends `pay` again with the same request id and body (Antom answers the same order, or opens it now); the periodic inquiry asks about it too (`ORDER_NOT_EXIST` closes it: nothing can be paid on it) |
//! | after `pay` answered, before the handoff was stored | an `opening` attempt, an open Antom order | as above: the same request gets the same answer |
//! | after the payer paid, before the notification's commit | a pending charge, a paid Antom order | Antom retries the notification (no ack was sent); the return route and the periodic inquiry ask `inquiryPayment`; each applies `SUCCESS` once, in one transaction |
//! | after the charge's commit, before the ack | a successful charge | the notification comes again; the charge is final, so it is acknowledged and nothing changes |
//! | after writing a refund intent, before or during `refund` | a refund intent | the repair asks `inquiryRefund` (same `refundRequestId`): not found after the grace period → dropped, nothing refunded |
//! | after Antom refunded, before the refund's commit | a refund intent, money refunded at Antom | the repair finds `SUCCESS` and books the refund under its ID, once (see [`refunds`]) |
//! | after the refund's commit, before the intent was dropped | a booked refund, its intent | the repair sees the refund on the charge and drops the intent |
//!
//! A payment that Antom reports after satang expired the charge (paid at the last second) cannot make
//! the charge successful (`expired` is final); it is logged at error level for the operator to refund.
//! `paymentExpiryTime` is the charge's `expires_at`, or earlier when the acquirer keeps orders open for
//! less ([`crate::connector::Connector::max_order_seconds`]), so no order outlives its charge; expiring a
//! charge also cancels its open order first.

pub mod handoff;
pub mod refunds;
pub mod routes;

use satang_domain::{Charge, ChargeStatus};

use crate::api::error::ApiError;
use crate::app::App;
use crate::connector::{ConnectorError, PaymentState, ProviderCall};
use crate::ops::{self, PayerOutcome};
use crate::store::ChargeRef;
use crate::store::connectors::{AttemptState, PaymentAttempt};

/// Refuses a live charge the account cannot have paid: no connector, or one without the method.
pub async fn require_connector(app: &App, account: &satang_domain::AccountId, method: &str) -> Result<(), ApiError> {
    let no = |why: String| ApiError::invalid_charge(why);
    match app.connectors.for_account(&app.store, account).await {
        Ok(Some(c)) if c.offers(method) => Ok(()),
        Ok(Some(c)) => Err(no(format!(
            "live {method} charges cannot be paid: the account's {} connector does not offer {method}",
            c.provider()
        ))),
        Ok(None) => Err(no(format!(
            "live {method} charges cannot be paid: the account has no payment connector (satang connector set)"
        ))),
        Err(e) => {
            tracing::error!(account = %account, error.message = %e, "the account's connector cannot be loaded");
            Err(no(format!("live {method} charges cannot be paid now: the account's connector is not usable")))
        }
    }
}

/// Writes what the calls were to the charge's log; a failure to log never fails the payment.
pub async fn record(app: &App, charge: &satang_domain::ChargeId, calls: &[ProviderCall]) {
    calls.iter().for_each(crate::metrics::provider_call);
    if let Err(e) = app.store.record_provider_calls(charge, calls).await {
        tracing::warn!(charge.id = %charge, error.message = %e, "provider calls not recorded");
    }
}

/// Applies a payment state of an attempt to its charge (and the attempt). Returns the charge as it is
/// after.
pub async fn apply(app: &App, attempt: &PaymentAttempt, state: &PaymentState) -> Result<Charge, ApiError> {
    let now = app.now();
    let outcome = match state {
        PaymentState::Open => None,
        PaymentState::Succeeded { .. } => Some(PayerOutcome::Paid),
        PaymentState::Failed { code, .. } => Some(PayerOutcome::Failed(*code)),
        PaymentState::Closed { .. } | PaymentState::NotFound => None,
    };
    let mut next = attempt.clone();
    match state {
        PaymentState::Open => next.next_check_at = now.plus_seconds(app.connectors.inquiry_every()),
        PaymentState::Succeeded { payment_id } => {
            next.state = AttemptState::Closed;
            if let (Some(h), Some(p)) = (next.handoff.as_mut(), payment_id) {
                h.payment_id = Some(p.clone());
            }
        }
        _ => next.state = AttemptState::Closed,
    }
    let charge = match outcome {
        None => app.store.find_charge(&attempt.charge).await?,
        Some(o) => match ops::settle(app, ChargeRef::Unscoped(attempt.charge.clone()), o).await {
            Ok(c) => c,
            Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST => {
                // Already final (a repeated notification), or expired meanwhile.
                let c = app.store.find_charge(&attempt.charge).await?;
                if matches!(o, PayerOutcome::Paid) && !matches!(c.status, ChargeStatus::Successful { .. }) {
                    tracing::error!(charge.id = %c.id, request_id = %attempt.request_id,
                        "the acquirer reports a payment of a charge that is {}: refund it", c.status.name());
                }
                c
            }
            Err(e) => return Err(e),
        },
    };
    if next != *attempt {
        app.store.update_payment_attempt(&next).await?;
    }
    Ok(charge)
}

/// Asks the acquirer about an attempt and applies the answer; an inconclusive answer changes nothing
/// and schedules the next check.
pub async fn inquire(app: &App, attempt: &PaymentAttempt) -> Result<Charge, ApiError> {
    let charge = app.store.find_charge(&attempt.charge).await?;
    if !matches!(charge.status, ChargeStatus::Pending) {
        let closed = PaymentAttempt { state: AttemptState::Closed, ..attempt.clone() };
        app.store.update_payment_attempt(&closed).await?;
        return Ok(charge);
    }
    let conn = match app.connectors.for_account(&app.store, &charge.account).await {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(charge),
        Err(e) => return Err(connector_error(e)),
    };
    let mut calls = Vec::new();
    let answer = conn.inquire(&attempt.request_id, &mut calls).await;
    record(app, &charge.id, &calls).await;
    match answer {
        // A pay still on its way (tries and backoff take well under two minutes) is not "never sent" yet.
        Ok(PaymentState::NotFound)
            if attempt.state == AttemptState::Opening && app.now().unix() - attempt.created_at.unix() < 120 =>
        {
            let later = PaymentAttempt {
                next_check_at: app.now().plus_seconds(app.connectors.inquiry_every()),
                ..attempt.clone()
            };
            app.store.update_payment_attempt(&later).await?;
            Ok(charge)
        }
        Ok(state) => apply(app, attempt, &state).await,
        Err(e) => {
            let later = PaymentAttempt {
                next_check_at: app.now().plus_seconds(app.connectors.inquiry_every()),
                ..attempt.clone()
            };
            app.store.update_payment_attempt(&later).await?;
            tracing::warn!(charge.id = %charge.id, error.message = %e, "inquiry not conclusive");
            Ok(charge)
        }
    }
}

pub fn connector_error(e: ConnectorError) -> ApiError {
    ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", e.to_string())
}

/// One round of the periodic inquiry: claims due attempts (so one node asks about each) and asks.
pub async fn check_due(app: &App, limit: u64) -> Result<usize, ApiError> {
    let now = app.now();
    let wall = satang_domain::Clock::now(&satang_domain::SystemClock);
    let due = app.store.claim_payment_checks(now, wall, wall.plus_seconds(60), limit).await?;
    for a in &due {
        if let Err(e) = inquire(app, a).await {
            tracing::warn!(request_id = %a.request_id, error.message = %e.message, "periodic inquiry failed");
        }
    }
    Ok(due.len())
}

/// Runs [`check_due`] and the refund repair ([`refunds::repair_due`]) every `interval` until `stop` turns
/// true: the periodic inquiry of open attempts and refund intents, on every node, each claimed by one.
pub async fn run_checks(
    app: std::sync::Arc<App>,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        if let Err(e) = check_due(&app, 100).await {
            tracing::warn!(error.message = %e.message, "periodic inquiry round failed");
        }
        if let Err(e) = refunds::repair_due(&app, 100, std::mem::take(&mut first)).await {
            tracing::warn!(error.message = %e.message, "refund repair round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Cancels the open order of a pending live charge at its acquirer before the charge expires, so that it
/// cannot be paid after. An order already paid is applied instead (the charge then does not expire).
pub async fn cancel_open_order(app: &App, id: &satang_domain::ChargeId) -> Result<(), ApiError> {
    let Some(attempt) = app.store.latest_payment_attempt(id).await? else { return Ok(()) };
    if attempt.state == AttemptState::Closed {
        return Ok(());
    }
    let charge = app.store.find_charge(id).await?;
    if !matches!(charge.status, ChargeStatus::Pending) {
        return Ok(());
    }
    let conn = match app.connectors.for_account(&app.store, &charge.account).await {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(()),
        Err(e) => return Err(connector_error(e)),
    };
    let mut calls = Vec::new();
    let answer = conn.cancel(&attempt.request_id, &mut calls).await;
    record(app, id, &calls).await;
    match answer {
        Ok(crate::connector::CancelOutcome::Cancelled) => {
            let closed = PaymentAttempt { state: AttemptState::Closed, ..attempt };
            app.store.update_payment_attempt(&closed).await?;
            Ok(())
        }
        Ok(crate::connector::CancelOutcome::Refused { .. }) => inquire(app, &attempt).await.map(|_| ()),
        Err(e) => Err(connector_error(e)),
    }
}

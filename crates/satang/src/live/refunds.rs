//! Live refunds: Antom refunds first, then satang books the refund under the same ID.
//!
//! The refund's ID is chosen before the call and sent as `refundRequestId` (Antom's idempotency key), so
//! retries never refund twice. satang's own checks (amount left, window, count) run first, so what satang
//! would refuse costs no call. Antom's refusals (`REFUND_AMOUNT_EXCEED`, `REFUND_WINDOW_EXCEED`, …) are
//! `failed_refund` errors and leave nothing behind. An unknown outcome (`U` after retries, a timeout) is
//! resolved with `inquiryRefund`, never by guessing: found → booked; not found → nothing happened, try
//! again; still unknown → 503 naming the refund ID, nothing booked.
//!
//! Crash window: Antom refunded and satang died before booking. The provider-call log holds the refund
//! request with `SUCCESS`; the refund is not booked, so the merchant's balance shows more than is left at
//! Antom until an operator books it. (Automatic repair needs a refund-intent row written before the call:
//! not done yet.)

use std::time::Duration;

use satang_domain::{Charge, ChargeId, Refund, RefundId};
use serde_json::{Map, Value};

use crate::api::error::ApiError;
use crate::app::App;
use crate::connector::{ConnectorError, RefundOrder, RefundState};
use crate::store::{Refusal, Scope, StoreError};

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
                    "the outcome of refund {refund_id} at the acquirer is not known yet; nothing was booked (see \
                     GET /charges/{id}/provider_calls)"
                )));
            }
        }
    };
    super::record(app, id, &calls).await;
    result?;
    crate::ops::book_refund(app, scope, id, refund_id.clone(), amount, metadata).await.inspect_err(|e| {
        tracing::error!(charge.id = %id, refund.id = %refund_id, error.message = %e.message,
            "refunded at the acquirer but not booked: book it by hand");
    })
}

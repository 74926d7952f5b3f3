//! Operations on charges that several front doors share: the API handlers, the payer pages, the expiry
//! sweeper and the test-mode shortcuts all go through these functions, so a payer clicking "pay" and a
//! test calling `mark_as_paid` take exactly the same path (domain transition, events, one transaction).

use satang_domain::{
    Charge, ChargeId, ChargeRequest, ChargeStatus, EventId, EventKey, FailureCode, FeeSchedule, Source, SourceId,
    SourceRequest, Timestamp,
};
use serde_json::{Map, Value};

use crate::api::error::ApiError;
use crate::api::wire::charge::ChargeObject;
use crate::app::App;
use crate::store::{ChargeRef, NewEvent, Refusal, Scope, StoreError};

/// A charge's 2019-05-29 JSON at `now`: what its events carry and what the API answers.
pub fn charge_json(app: &App, charge: &Charge, now: Timestamp) -> Result<String, serde_json::Error> {
    Ok(crate::json::to_string(&ChargeObject::new(charge, &app.render_ctx(now)))?)
}

fn violations(v: satang_domain::Violations) -> ApiError {
    if v.all_invalid_charge() { ApiError::invalid_charge(v.message()) } else { ApiError::bad_request(v.message()) }
}

/// `POST /sources`.
pub async fn create_source(app: &App, scope: &Scope, req: SourceRequest) -> Result<Source, ApiError> {
    let source = Source::create(req, scope.livemode, app.now()).map_err(|v| ApiError::bad_request(v.message()))?;
    app.store.insert_source(scope, &source).await?;
    Ok(source)
}

/// The charge's source: an existing one by ID, or one described inline (`source[type]=alipay_hk`).
pub enum SourceInput {
    Existing(SourceId),
    Inline(Box<SourceRequest>),
}

/// A charge request as it arrives: its source not yet resolved (maybe absent).
pub type ChargeInput = ChargeRequest<Option<SourceInput>>;

/// The fee schedule in force for an account's charges of one method and currency.
pub async fn fee_schedule(app: &App, scope: &Scope, source: &Source) -> Result<FeeSchedule, ApiError> {
    if let Some(s) = app.store.fee_schedule(&scope.account, source.method.name, source.currency).await? {
        return Ok(s);
    }
    source.method.limit(source.currency).map(|l| l.default_fees).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("registry has no {} entry for {}", source.method.name, source.currency))
    })
}

/// `POST /charges`: returns the charge and its JSON (2019 shape) as written into `charge.create`.
pub async fn create_charge(app: &App, scope: &Scope, mut input: ChargeInput) -> Result<(Charge, String), ApiError> {
    let now = app.now();
    let (source, new_source) = match input.source.take() {
        None => {
            return Err(ApiError::invalid_charge("source is required (an alipay or alipay_hk source ID or object)"));
        }
        Some(SourceInput::Existing(id)) => {
            let (source, used_by) = app.store.get_source(scope, &id).await?;
            if used_by.is_some() {
                return Err(ApiError::invalid_charge(format!("source {id} has already been used by another charge")));
            }
            (source, false)
        }
        Some(SourceInput::Inline(req)) => {
            let mut req = *req;
            // WooCommerce sends only source[type] and source[platform_type]: the charge's amount and
            // currency are the source's.
            req.amount = req.amount.or(input.amount);
            req.currency = req.currency.or_else(|| input.currency.clone());
            let source = Source::create(req, scope.livemode, now).map_err(violations)?;
            (source, true)
        }
    };
    let fees = fee_schedule(app, scope, &source).await?;
    let req = input.with_source(source);
    let charge = Charge::create(scope.account.clone(), req, fees, scope.livemode, now).map_err(violations)?;
    if scope.livemode {
        // No pending charge that can never be paid: a live charge needs the account's acquirer.
        crate::live::require_connector(app, &scope.account, charge.source.method.name).await?;
    }
    let json = charge_json(app, &charge, now).map_err(|e| ApiError::internal(e.into()))?;
    // One serialization serves as the charge's document and as its charge.create snapshot.
    let doc = crate::json::to_string(&charge).map_err(|e| ApiError::internal(e.into()))?;
    let event = NewEvent {
        id: EventId::generate(scope.livemode),
        key: EventKey::ChargeCreate,
        created_at: now,
        data: doc.clone(),
        charge: Some(charge.id.clone()),
        webhook_urls: charge.webhook_endpoints.clone(),
    };
    app.store.create_charge(scope, &charge, doc, new_source, vec![event]).await?;
    crate::metrics::charge(&charge);
    Ok((charge, json))
}

/// What the payer (or a test) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerOutcome {
    Paid,
    Failed(FailureCode),
}

/// Applies the payer's outcome to a pending charge. If the charge had already passed `expires_at`, it
/// expires instead and the outcome is refused with `expired_charge`.
pub async fn settle(app: &App, which: ChargeRef, outcome: PayerOutcome) -> Result<Charge, ApiError> {
    let now = app.now();
    let charge = app
        .store
        .update_charge(
            which,
            Box::new(move |c: &mut Charge| {
                let settled = match outcome {
                    PayerOutcome::Paid => c.pay(now)?,
                    PayerOutcome::Failed(code) => c.fail(code, now)?,
                };
                snapshot_events(c, &settled.events(), now)
            }),
        )
        .await?;
    crate::metrics::charge(&charge);
    settled(&charge)?;
    Ok(charge)
}

/// How a settle that was written answers: a charge that had passed `expires_at` expired instead, and the
/// payer's outcome is refused with `expired_charge`.
pub fn settled(charge: &Charge) -> Result<(), ApiError> {
    if matches!(charge.status, ChargeStatus::Expired { .. }) {
        return Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, "expired_charge", "charge expired"));
    }
    Ok(())
}

/// `POST /charges/:id/expire`. A live charge's open order is cancelled at the acquirer first.
pub async fn expire(app: &App, scope: &Scope, id: &ChargeId) -> Result<Charge, ApiError> {
    if scope.livemode {
        app.store.get_charge(scope, id).await?;
        crate::live::cancel_open_order(app, id).await?;
    }
    let now = app.now();
    app.store
        .update_charge(
            ChargeRef::Scoped(scope.clone(), id.clone()),
            Box::new(move |c: &mut Charge| {
                let keys = c.expire(now)?;
                snapshot_events(c, &keys, now)
            }),
        )
        .await
        .inspect(crate::metrics::charge)
        .map_err(|e| match e {
            StoreError::Refused(Refusal::Transition(t)) => {
                ApiError::bad_request(t.to_string()).with_code("failed_expire")
            }
            other => other.into(),
        })
}

/// `PATCH /charges/:id`.
pub async fn update(
    app: &App,
    scope: &Scope,
    id: &ChargeId,
    description: Option<Option<String>>,
    metadata: Option<Map<String, Value>>,
) -> Result<Charge, ApiError> {
    let now = app.now();
    Ok(app
        .store
        .update_charge(
            ChargeRef::Scoped(scope.clone(), id.clone()),
            Box::new(move |c: &mut Charge| {
                let keys = c.update(description.clone(), metadata.clone());
                snapshot_events(c, &keys, now)
            }),
        )
        .await?)
}

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Pending charges past `expires_at` that the sweep looked at.
    pub due: usize,
    /// Those it expired (others were settled or expired elsewhere in the meantime).
    pub expired: usize,
    /// Those whose update failed for a reason other than the database being unavailable (logged each).
    pub failed: usize,
}

/// Expires up to `limit` charges whose `expires_at` has passed. Safe to run anywhere, any number of times:
/// each charge is re-checked inside its own transaction, so one already settled or expired elsewhere is
/// left alone and no `charge.expire` is written twice. The updates are issued together, so the store
/// commits them in a few group commits rather than one `fsync` each.
pub async fn expire_due(app: &App, limit: u64) -> Result<Swept, ApiError> {
    let now = app.now();
    let mut due = app.store.due_charges(now, limit).await?;
    // Live charges: their acquirer's order is cancelled first; one that cannot be cancelled now (the
    // acquirer unreachable) waits for the next round rather than expire while it could still be paid.
    let mut kept = Vec::with_capacity(due.len());
    for id in due.drain(..) {
        if !id.is_live() {
            kept.push(id);
            continue;
        }
        match crate::live::cancel_open_order(app, &id).await {
            Ok(()) => kept.push(id),
            Err(e) => {
                tracing::warn!(charge.id = %id, error.message = %e.message, "order not cancelled; expiring later")
            }
        }
    }
    let due = kept;
    let updates = due.iter().map(|id| {
        // Set only when this transaction did the expiring (another node may have got there first).
        let did = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = did.clone();
        let update = app.store.update_charge(
            ChargeRef::Unscoped(id.clone()),
            Box::new(move |c: &mut Charge| {
                let keys = c.expire_if_due(now);
                flag.store(!keys.is_empty(), std::sync::atomic::Ordering::SeqCst);
                snapshot_events(c, &keys, now)
            }),
        );
        async move {
            update.await.map(|c| {
                let did = did.load(std::sync::atomic::Ordering::SeqCst);
                if did {
                    crate::metrics::charge(&c);
                }
                did
            })
        }
    });
    let mut swept = Swept { due: due.len(), ..Swept::default() };
    let mut first_error = None;
    for (id, result) in due.iter().zip(futures::future::join_all(updates).await) {
        match result {
            Ok(true) => swept.expired += 1,
            Ok(false) | Err(StoreError::NotFound { .. }) => {}
            Err(StoreError::Unavailable(m)) => first_error = first_error.or(Some(StoreError::Unavailable(m))),
            // One charge that cannot be expired must not hold up the others: log it and go on.
            Err(e) => {
                swept.failed += 1;
                tracing::warn!(charge.id = %id, error.message = %e, "could not expire a charge past expires_at");
            }
        }
    }
    match first_error {
        Some(e) if swept.expired == 0 => Err(e.into()),
        _ => Ok(swept),
    }
}

/// Events about a charge, each carrying a snapshot of the charge as it is now (rendered to wire JSON when
/// read, see `api::wire::event`).
pub fn snapshot_events(c: &Charge, keys: &[EventKey], now: Timestamp) -> Result<Vec<NewEvent>, Refusal> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let data = serde_json::to_string(c).map_err(|e| Refusal::Other(format!("cannot snapshot charge: {e}")))?;
    Ok(keys
        .iter()
        .map(|k| NewEvent {
            id: EventId::generate(c.livemode()),
            key: *k,
            created_at: now,
            data: data.clone(),
            charge: Some(c.id.clone()),
            webhook_urls: c.webhook_endpoints.clone(),
        })
        .collect())
}

/// `POST /charges/:id/refunds`: checks and books the refund inside the transaction that holds the charge,
/// so refunds racing on one charge (on one node or several) can never together exceed it.
pub async fn refund(
    app: &App,
    scope: &Scope,
    id: &ChargeId,
    amount: i64,
    metadata: Map<String, Value>,
) -> Result<(Charge, satang_domain::Refund), ApiError> {
    if scope.livemode {
        // The acquirer refunds first (see `live::refunds`), then the refund is booked under the same ID.
        return crate::live::refunds::refund(app, scope, id, amount, metadata).await;
    }
    book_refund(app, scope, id, satang_domain::RefundId::generate(false), amount, metadata).await
}

/// Books a refund under `refund_id` (the domain's checks, the refund row, its ledger entry and event, in
/// the transaction that holds the charge).
pub async fn book_refund(
    app: &App,
    scope: &Scope,
    id: &ChargeId,
    refund_id: satang_domain::RefundId,
    amount: i64,
    metadata: Map<String, Value>,
) -> Result<(Charge, satang_domain::Refund), ApiError> {
    book_refund_at(app, ChargeRef::Scoped(scope.clone(), id.clone()), refund_id, amount, metadata).await
}

/// The message of the refusal to book a refund ID a second time.
pub const ALREADY_BOOKED: &str = "this refund is already booked";

/// [`book_refund`] for a charge named with or without its scope. A refund ID already on the charge is
/// refused ([`ALREADY_BOOKED`]) in the same transaction, so two bookings of one ID end in one refund.
pub async fn book_refund_at(
    app: &App,
    which: ChargeRef,
    refund_id: satang_domain::RefundId,
    amount: i64,
    metadata: Map<String, Value>,
) -> Result<(Charge, satang_domain::Refund), ApiError> {
    let now = app.now();
    let charge = app
        .store
        .update_charge(
            which,
            Box::new(move |c: &mut Charge| {
                if c.refunds.iter().any(|r| r.id == refund_id) {
                    return Err(Refusal::Other(ALREADY_BOOKED.into()));
                }
                let r = c.refund_as(refund_id.clone(), amount, metadata.clone(), now)?;
                let rec = crate::store::RefundRecord { charge: c.id.clone(), currency: c.currency, refund: r };
                let data =
                    serde_json::to_string(&rec).map_err(|e| Refusal::Other(format!("cannot snapshot refund: {e}")))?;
                Ok(vec![NewEvent {
                    id: EventId::generate(c.livemode()),
                    key: EventKey::RefundCreate,
                    created_at: now,
                    data,
                    charge: Some(c.id.clone()),
                    webhook_urls: c.webhook_endpoints.clone(),
                }])
            }),
        )
        .await?;
    let refund =
        charge.refunds.last().cloned().ok_or_else(|| ApiError::internal(anyhow::anyhow!("refund not recorded")))?;
    Ok((charge, refund))
}

//! Refunds (omise-wire.md §4.3, §9): `POST/GET /charges/:id/refunds`, `GET /charges/:id/refunds/:rid`,
//! `GET /refunds`. Every refused refund is `failed_refund` (HTTP 400) with a message naming the rule.

use axum::extract::{Path, State};
use satang_domain::RefundId;

use super::auth::SecretKey;
use super::charges::parse_charge_id;
use super::error::ApiError;
use super::idempotency;
use super::list_query;
use super::params::Params;
use super::version::Reply;
use super::wire::ListObject;
use super::wire::refund::RefundObject;
use crate::app::AppState;
use crate::ops;
use crate::store::idempotency::Written;

pub async fn create_refund(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Reply, ApiError> {
    let id = parse_charge_id(&id)?;
    let amount = p.int("amount")?.ok_or_else(|| ApiError::bad_request("amount is required"))?;
    let metadata = p.object("metadata")?.unwrap_or_default();
    let version = caller.version;
    idempotency::respond_with(move |w| match w {
        Written::Charge(c) => match c.refunds.last() {
            Some(r) => Reply::new(version, &RefundObject::new(&c.id, c.currency, r)),
            None => Err(idempotency::unexpected_write()),
        },
        _ => Err(idempotency::unexpected_write()),
    });
    let (charge, refund) = ops::refund(&app, &caller.scope, &id, amount, metadata).await?;
    Reply::new(caller.version, &RefundObject::new(&charge.id, charge.currency, &refund))
}

pub async fn list_charge_refunds(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Reply, ApiError> {
    let id = parse_charge_id(&id)?;
    app.store.get_charge(&caller.scope, &id).await?;
    let q = list_query(&p, app.now())?;
    let page = app.store.list_refunds(&caller.scope, Some(&id), q).await?;
    let data = page.items.iter().map(RefundObject::from_record).collect();
    Reply::new(caller.version, &ListObject::new(data, page.total, &q, format!("/charges/{id}/refunds")))
}

pub async fn retrieve_refund(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path((charge, refund)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let charge = parse_charge_id(&charge)?;
    let refund: RefundId = refund.parse().map_err(|_| ApiError::not_found("refund", &refund))?;
    let rec = app.store.get_refund(&caller.scope, &charge, &refund).await?;
    Reply::new(caller.version, &RefundObject::from_record(&rec))
}

pub async fn list_refunds(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let q = list_query(&p, app.now())?;
    let page = app.store.list_refunds(&caller.scope, None, q).await?;
    let data = page.items.iter().map(RefundObject::from_record).collect();
    Reply::new(caller.version, &ListObject::new(data, page.total, &q, "/refunds".into()))
}

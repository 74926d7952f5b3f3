//! `POST /sources`, `GET /sources/:id` (omise-wire.md §4.1, §7). Either key works here.

use axum::extract::{Path, State};
use satang_domain::{PayerDetails, SourceId, SourceRequest};

use super::auth::AnyKey;
use super::error::ApiError;
use super::idempotency;
use super::params::Params;
use super::version::Reply;
use super::wire::source::SourceObject;
use crate::app::AppState;
use crate::ops;
use crate::store::idempotency::Written;

/// Reads a source description from a params object: the body of `POST /sources`, or the inline
/// `source` object of `POST /charges`.
pub fn source_request(p: &Params) -> Result<SourceRequest, ApiError> {
    let obj = |k: &str| p.get(k).filter(|v| v.is_object()).cloned();
    Ok(SourceRequest {
        kind: p.string("type")?,
        amount: p.int("amount")?,
        currency: p.string("currency")?,
        platform_type: p.string("platform_type")?,
        details: PayerDetails {
            ip: p.string("ip")?,
            email: p.string("email")?,
            name: p.string("name")?,
            phone_number: p.string("phone_number")?,
            mobile_number: p.string("mobile_number")?,
            billing: obj("billing"),
            shipping: obj("shipping"),
            items: p.get("items").and_then(|v| v.as_array()).cloned().unwrap_or_default(),
            promotion_code: p.string("promotion_code")?,
        },
    })
}

pub async fn create_source(
    State(app): State<AppState>,
    AnyKey(caller): AnyKey,
    params: Params,
) -> Result<Reply, ApiError> {
    let req = source_request(&params)?;
    let version = caller.version;
    idempotency::respond_with(move |w| match w {
        Written::Source(s) => Reply::new(version, &SourceObject::new(s, None)),
        _ => Err(idempotency::unexpected_write()),
    });
    let source = ops::create_source(&app, &caller.scope, req).await?;
    Reply::new(caller.version, &SourceObject::new(&source, None))
}

pub async fn retrieve_source(
    State(app): State<AppState>,
    AnyKey(caller): AnyKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let id: SourceId = id.parse().map_err(|_| ApiError::not_found("source", &id))?;
    let (source, status) = app.store.get_source(&caller.scope, &id).await?;
    Reply::new(caller.version, &SourceObject::new(&source, status.as_deref()))
}

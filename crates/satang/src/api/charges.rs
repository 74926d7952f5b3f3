//! `/charges`: create, retrieve, update, list, expire, and the test-mode `mark_as_paid` / `mark_as_failed`
//! (omise-wire.md §4.2, §5, §7).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use satang_domain::{ChargeId, FailureCode};
use serde_json::Value;

use super::auth::SecretKey;
use super::error::ApiError;
use super::idempotency;
use super::list_query;
use super::params::Params;
use super::sources::source_request;
use super::version::Reply;
use super::wire::ListObject;
use super::wire::charge::ChargeObject;
use crate::app::AppState;
use crate::ops::{self, ChargeInput, PayerOutcome, SourceInput};
use crate::store::idempotency::Written;
use crate::store::{ChargeRef, Scope};

pub fn parse_charge_id(id: &str) -> Result<ChargeId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("charge", id))
}

fn reply(
    app: &AppState,
    caller_version: super::version::ApiVersion,
    c: &satang_domain::Charge,
) -> Result<Reply, ApiError> {
    Reply::new(caller_version, &ChargeObject::new(c, &app.render_ctx(app.now())))
}

/// An `Idempotency-Key` on this request records the charge as written, in this version (see
/// [`idempotency::respond_with`]); `outcome` turns a written charge into the handler's error when the write
/// itself is an error answer (a payment that arrived after expiry).
fn respond_with_charge(
    app: &AppState,
    version: super::version::ApiVersion,
    outcome: fn(&satang_domain::Charge) -> Result<(), ApiError>,
) {
    let app = app.clone();
    idempotency::respond_with(move |w| match w {
        Written::Charge(c) => outcome(c).and_then(|()| reply(&app, version, c)),
        _ => Err(idempotency::unexpected_write()),
    });
}

fn written(_: &satang_domain::Charge) -> Result<(), ApiError> {
    Ok(())
}

pub async fn create_charge(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let source = match p.get("source") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(SourceInput::Existing(
            s.trim().parse().map_err(|_| ApiError::bad_request(format!("source {s} is invalid")))?,
        )),
        Some(Value::Object(m)) => Some(SourceInput::Inline(Box::new(source_request(&Params(m.clone()))?))),
        Some(_) => return Err(ApiError::bad_request("source is invalid: send a source ID or a source object")),
    };
    let input = ChargeInput {
        source,
        amount: p.int("amount").map_err(|e| ApiError::invalid_charge(e.message))?,
        currency: p.string("currency")?,
        return_uri: p.string("return_uri")?,
        description: p.string("description")?,
        metadata: p.object("metadata")?.unwrap_or_default(),
        expires_at: p.timestamp("expires_at").map_err(|e| ApiError::invalid_charge(e.message))?,
        ip: p.string("ip")?,
        webhook_endpoints: p.string_list("webhook_endpoints")?,
    };
    // Refuse at once what a send would refuse anyway (see `ssrf::Policy::check_literal`).
    for url in input.webhook_endpoints.iter().filter(|u| satang_domain::rules::is_web_url(u)) {
        app.webhook_policy
            .check_literal(url, caller.scope.livemode)
            .map_err(|e| ApiError::invalid_charge(format!("webhook endpoint {url} is refused: {e}")))?;
    }
    respond_with_charge(&app, caller.version, written);
    let (charge, json) = ops::create_charge(&app, &caller.scope, input).await?;
    if caller.version == super::version::ApiVersion::DEFAULT {
        // The event's JSON is the response: render once.
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&json).map_err(|e| ApiError::internal(e.into()))?;
        return Reply::new(caller.version, &raw);
    }
    reply(&app, caller.version, &charge)
}

pub async fn retrieve_charge(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let charge = app.store.get_charge(&caller.scope, &parse_charge_id(&id)?).await?;
    reply(&app, caller.version, &charge)
}

pub async fn update_charge(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Reply, ApiError> {
    let id = parse_charge_id(&id)?;
    // `description` sent empty clears it; absent leaves it alone (go always sends it).
    let description = match p.string("description")? {
        None => None,
        Some(d) if d.is_empty() => Some(None),
        Some(d) => Some(Some(d)),
    };
    let metadata = p.object("metadata")?;
    respond_with_charge(&app, caller.version, written);
    let charge = ops::update(&app, &caller.scope, &id, description, metadata).await?;
    reply(&app, caller.version, &charge)
}

pub async fn list_charges(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let q = list_query(&p, app.now())?;
    let page = app.store.list_charges(&caller.scope, q).await?;
    let ctx = app.render_ctx(app.now());
    let data: Vec<_> = page.items.iter().map(|c| ChargeObject::new(c, &ctx)).collect();
    // A charge object is ~2.3 KB (2,306 bytes with a short description and no metadata): at 2 KB a page of
    // twenty (46 KB) outgrew its buffer, which was then reallocated and its first 42 KB copied.
    let bytes = 1024 + 2560 * data.len();
    let rendered = ListObject::new(data, page.total, &q, "/charges".into());
    Reply::sized(caller.version, &rendered, bytes)
}

pub async fn expire_charge(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    respond_with_charge(&app, caller.version, written);
    let charge = ops::expire(&app, &caller.scope, &parse_charge_id(&id)?).await?;
    reply(&app, caller.version, &charge)
}

fn test_mode_only(scope: &Scope, what: &str) -> Result<(), ApiError> {
    if scope.livemode {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "{what} is only available in test mode (use a skey_test_ key); live charges complete in the wallet"
            ),
        ));
    }
    Ok(())
}

pub async fn mark_as_paid(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    test_mode_only(&caller.scope, "mark_as_paid")?;
    let which = ChargeRef::Scoped(caller.scope.clone(), parse_charge_id(&id)?);
    respond_with_charge(&app, caller.version, ops::settled);
    let charge = ops::settle(&app, which, PayerOutcome::Paid).await?;
    reply(&app, caller.version, &charge)
}

pub async fn mark_as_failed(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Reply, ApiError> {
    test_mode_only(&caller.scope, "mark_as_failed")?;
    let code = match p.string("failure_code")? {
        None => FailureCode::PaymentRejected,
        Some(c) => FailureCode::parse(&c).ok_or_else(|| {
            let all: Vec<_> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
            ApiError::bad_request(format!("failure_code must be one of {}", all.join(", ")))
        })?,
    };
    let which = ChargeRef::Scoped(caller.scope.clone(), parse_charge_id(&id)?);
    respond_with_charge(&app, caller.version, ops::settled);
    let charge = ops::settle(&app, which, PayerOutcome::Failed(code)).await?;
    reply(&app, caller.version, &charge)
}

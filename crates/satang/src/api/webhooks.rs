//! The admin API for webhook endpoints (beyond Omise; secret key, scoped to the key's account and mode),
//! which the dashboard uses. The CLI (`satang webhook …`) does the same through `webhooks::endpoints`.
//!
//! `POST/GET /webhook_endpoints`, `GET/DELETE /webhook_endpoints/:id`, `POST /webhook_endpoints/:id/roll_secret`,
//! `GET /webhook_signing_secret`, `POST /webhook_signing_secret/roll` (the secret for charges' own URLs).

use axum::extract::{Path, State};
use satang_domain::EndpointId;
use serde::Serialize;

use super::auth::{Caller, SecretKey};
use super::error::ApiError;
use super::idempotency;
use super::params::Params;
use super::version::Reply;
use crate::app::AppState;
use crate::store::idempotency::Written;
use crate::store::{SigningSecret, WebhookEndpoint};
use crate::webhooks::endpoints::{self, EndpointError};

#[derive(Serialize)]
pub struct EndpointObject<'a> {
    object: &'static str,
    id: &'a str,
    livemode: bool,
    location: String,
    url: &'a str,
    /// The signing secret, base64: verify `Omise-Signature` with it.
    secret: &'a str,
    /// Until when the previous secret also signs, after a roll.
    previous_secret_valid_until: Option<String>,
    created_at: String,
}

impl<'a> EndpointObject<'a> {
    pub fn new(e: &'a WebhookEndpoint) -> Self {
        EndpointObject {
            object: "webhook_endpoint",
            id: e.id.as_str(),
            livemode: e.livemode,
            location: format!("/webhook_endpoints/{}", e.id),
            url: &e.url,
            secret: &e.secret,
            previous_secret_valid_until: e.previous_until.map(|t| t.iso()),
            created_at: e.created_at.iso(),
        }
    }
}

#[derive(Serialize)]
struct SigningSecretObject<'a> {
    object: &'static str,
    livemode: bool,
    location: &'static str,
    secret: &'a str,
    previous_secret_valid_until: Option<String>,
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Store(s) => s.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// An `Idempotency-Key` on this request records the endpoint as written.
fn respond_with_endpoint(version: super::version::ApiVersion) {
    idempotency::respond_with(move |w| match w {
        Written::Endpoint(ep) => Reply::new(version, &EndpointObject::new(ep)),
        _ => Err(idempotency::unexpected_write()),
    });
}

/// The endpoint, if it belongs to the caller's account and mode.
async fn owned(app: &AppState, caller: &Caller, id: &str) -> Result<WebhookEndpoint, ApiError> {
    let not_found = || ApiError::not_found("webhook_endpoint", id);
    let parsed: EndpointId = id.parse().map_err(|_| not_found())?;
    let ep = app.store.get_endpoint(&parsed).await?;
    if ep.account != caller.scope.account || ep.livemode != caller.scope.livemode {
        return Err(not_found());
    }
    Ok(ep)
}

pub async fn create_endpoint(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let url = p.string("url")?.filter(|u| !u.is_empty()).ok_or_else(|| ApiError::bad_request("url is required"))?;
    respond_with_endpoint(caller.version);
    let ep = endpoints::add(
        &app.store,
        &caller.scope.account,
        caller.scope.livemode,
        url.trim(),
        app.webhook_policy,
        app.now(),
    )
    .await?;
    Reply::new(caller.version, &EndpointObject::new(&ep))
}

pub async fn list_endpoints(State(app): State<AppState>, SecretKey(caller): SecretKey) -> Result<Reply, ApiError> {
    let eps = app.store.list_endpoints(&caller.scope.account, Some(caller.scope.livemode)).await?;
    let data: Vec<EndpointObject> = eps.iter().map(EndpointObject::new).collect();
    let list = serde_json::json!({
        "object": "list", "data": data, "total": data.len(), "location": "/webhook_endpoints",
    });
    Reply::new(caller.version, &list)
}

pub async fn retrieve_endpoint(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let ep = owned(&app, &caller, &id).await?;
    Reply::new(caller.version, &EndpointObject::new(&ep))
}

pub async fn delete_endpoint(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let ep = owned(&app, &caller, &id).await?;
    app.store.delete_endpoint(&ep.id, app.now()).await?;
    let body = serde_json::json!({"object": "webhook_endpoint", "id": ep.id, "livemode": ep.livemode, "deleted": true});
    Reply::new(caller.version, &body)
}

pub async fn roll_endpoint_secret(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let ep = owned(&app, &caller, &id).await?;
    respond_with_endpoint(caller.version);
    let rolled = endpoints::roll(&app.store, &ep.id, app.now()).await?;
    Reply::new(caller.version, &EndpointObject::new(&rolled))
}

fn signing_object(livemode: bool, s: &SigningSecret) -> SigningSecretObject<'_> {
    SigningSecretObject {
        object: "webhook_signing_secret",
        livemode,
        location: "/webhook_signing_secret",
        secret: &s.secret,
        previous_secret_valid_until: s.previous_until.map(|t| t.iso()),
    }
}

pub async fn retrieve_signing_secret(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
) -> Result<Reply, ApiError> {
    let s = app.store.signing_secret(&caller.scope, app.now()).await?;
    Reply::new(caller.version, &signing_object(caller.scope.livemode, &s))
}

pub async fn roll_signing_secret(State(app): State<AppState>, SecretKey(caller): SecretKey) -> Result<Reply, ApiError> {
    let (version, livemode) = (caller.version, caller.scope.livemode);
    idempotency::respond_with(move |w| match w {
        Written::SigningSecret(s) => Reply::new(version, &signing_object(livemode, s)),
        _ => Err(idempotency::unexpected_write()),
    });
    let s = endpoints::roll_signing(&app.store, &caller.scope, app.now()).await?;
    Reply::new(caller.version, &signing_object(caller.scope.livemode, &s))
}

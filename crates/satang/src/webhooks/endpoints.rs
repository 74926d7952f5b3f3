//! Managing endpoints: the one implementation behind `satang webhook …` and the admin HTTP API.

use satang_domain::{AccountId, EndpointId, Timestamp};

use super::sign::new_secret;
use super::ssrf;
use crate::store::{DynStore, Scope, SigningSecret, StoreError, WebhookEndpoint};

/// How long the previous secret keeps signing after a roll.
pub const ROLL_GRACE_SECONDS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("url {0} is invalid (it must be an absolute http or https URL)")]
    InvalidUrl(String),
    #[error(transparent)]
    Refused(#[from] ssrf::Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a URL for a mode under the operator's policy (see [`ssrf`]): an absolute http(s) URL whose host
/// the mode may reach; https in live mode.
pub async fn check_url(url: &str, livemode: bool, policy: ssrf::Policy) -> Result<(), EndpointError> {
    if !satang_domain::rules::is_web_url(url) {
        return Err(EndpointError::InvalidUrl(url.to_string()));
    }
    policy.check(url, livemode).await?;
    Ok(())
}

pub async fn add(
    store: &DynStore,
    account: &AccountId,
    livemode: bool,
    url: &str,
    policy: ssrf::Policy,
    now: Timestamp,
) -> Result<WebhookEndpoint, EndpointError> {
    check_url(url, livemode, policy).await?;
    let ep = WebhookEndpoint {
        id: EndpointId::generate(livemode),
        account: account.clone(),
        livemode,
        url: url.to_string(),
        secret: new_secret(),
        previous_secret: None,
        previous_until: None,
        created_at: now,
    };
    store.create_endpoint(&ep).await?;
    Ok(ep)
}

/// Gives the endpoint a new secret; the old one keeps signing for [`ROLL_GRACE_SECONDS`].
pub async fn roll(store: &DynStore, id: &EndpointId, now: Timestamp) -> Result<WebhookEndpoint, EndpointError> {
    Ok(store.roll_endpoint_secret(id, new_secret(), now.plus_seconds(ROLL_GRACE_SECONDS)).await?)
}

/// The same for the secret that signs deliveries to charges' own URLs.
pub async fn roll_signing(store: &DynStore, scope: &Scope, now: Timestamp) -> Result<SigningSecret, EndpointError> {
    Ok(store.roll_signing_secret(scope, new_secret(), now.plus_seconds(ROLL_GRACE_SECONDS), now).await?)
}

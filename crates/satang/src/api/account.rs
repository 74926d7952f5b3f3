//! `GET /account` (Omise's account object; `OmiseAccount::retrieve()` in omise-php, `omise.Account.retrieve()`
//! in omise-python): who the secret key belongs to, and the account's currency.
//!
//! satang's accounts are Thai merchant accounts, as both seed documents are Thai Omise documents: their
//! currency (what `/capability`'s `charge_amount` is expressed in, and what balances settle in) is THB,
//! and `supported_currencies` lists every currency some payment method of the registry takes.

use axum::extract::State;
use satang_domain::{Currency, REGISTRY};
use serde::Serialize;

use super::auth::SecretKey;
use super::error::ApiError;
use super::version::Reply;
use crate::app::AppState;

/// The currency of every account, and the country it is in.
pub const ACCOUNT_CURRENCY: Currency = Currency::Thb;
pub const ACCOUNT_COUNTRY: &str = "TH";

#[derive(Serialize)]
struct AccountObject {
    object: &'static str,
    id: String,
    livemode: bool,
    location: &'static str,
    country: &'static str,
    currency: String,
    email: Option<String>,
    /// Beyond Omise: the account's name, as the dashboard and payer pages show it.
    name: String,
    supported_currencies: Vec<String>,
    api_version: String,
    webhook_uri: Option<String>,
    zero_interest_installments: bool,
    created_at: String,
}

/// The currencies some payment method takes, in lower case as Omise writes them here.
pub fn supported_currencies() -> Vec<String> {
    let mut all: Vec<String> =
        REGISTRY.iter().flat_map(|m| m.currencies.iter().map(|l| l.currency.code().to_lowercase())).collect();
    all.sort();
    all.dedup();
    all
}

pub async fn retrieve_account(State(app): State<AppState>, SecretKey(caller): SecretKey) -> Result<Reply, ApiError> {
    let account = app.store.get_account(&caller.scope.account).await?;
    let obj = AccountObject {
        object: "account",
        id: account.id.to_string(),
        livemode: caller.scope.livemode,
        location: "/account",
        country: ACCOUNT_COUNTRY,
        currency: ACCOUNT_CURRENCY.code().to_lowercase(),
        email: None,
        name: account.name,
        supported_currencies: supported_currencies(),
        api_version: account.api_version,
        webhook_uri: None,
        zero_interest_installments: false,
        created_at: account.created_at.iso(),
    };
    Reply::new(caller.version, &obj)
}

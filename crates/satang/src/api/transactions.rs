//! The merchant's money: `GET /transactions`, `GET /transactions/:id`, `GET /balance`.

use axum::extract::{Path, State};
use satang_domain::{Currency, TransactionId};

use super::auth::SecretKey;
use super::error::ApiError;
use super::list_query;
use super::params::Params;
use super::version::Reply;
use super::wire::ListObject;
use super::wire::transaction::{BalanceObject, TransactionObject};
use crate::app::AppState;

pub async fn list_transactions(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let q = list_query(&p, app.now())?;
    let page = app.store.list_transactions(&caller.scope, q).await?;
    let data = page.items.iter().map(TransactionObject::new).collect();
    Reply::new(caller.version, &ListObject::new(data, page.total, &q, "/transactions".into()))
}

pub async fn retrieve_transaction(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let id: TransactionId = id.parse().map_err(|_| ApiError::not_found("transaction", &id))?;
    let entry = app.store.get_transaction(&caller.scope, &id).await?;
    Reply::new(caller.version, &TransactionObject::new(&entry))
}

/// The top-level currency: the account's only one, else the one holding the most, else THB.
pub async fn retrieve_balance(State(app): State<AppState>, SecretKey(caller): SecretKey) -> Result<Reply, ApiError> {
    let balances = app.store.balances(&caller.scope).await?;
    let main = balances
        .iter()
        .max_by_key(|b| (b.total, std::cmp::Reverse(b.currency)))
        .map(|b| b.currency)
        .unwrap_or(Currency::Thb);
    Reply::new(caller.version, &BalanceObject::new(caller.scope.livemode, &balances, main, app.now()))
}

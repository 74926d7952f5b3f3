//! `connectors`, `provider_calls`, `payment_attempts` (see [`crate::store::connectors`]).

use satang_domain::{AccountId, ChargeId, Timestamp};
use tokio_postgres::Row;

use super::{PgStore, bad_id, json_err, pg_err};
use crate::connector::ProviderCall;
use crate::store::connectors::{AttemptState, ConnectorRecord, PaymentAttempt};
use crate::store::{StoreError, StoreResult};

pub(super) async fn set(store: &PgStore, r: &ConnectorRecord) -> StoreResult<()> {
    let key_version = i32::try_from(r.key_version).map_err(|e| StoreError::Other(e.into()))?;
    let n = store
        .client()
        .await?
        .execute(
            "insert into connectors (account_id, provider, client_id, endpoint, key_version, merchant_key, \
             provider_public_key, updated_at) select $1, $2, $3, $4, $5, $6, $7, $8 \
             where exists (select 1 from accounts where id = $1) \
             on conflict (account_id) do update set provider = excluded.provider, client_id = excluded.client_id, \
             endpoint = excluded.endpoint, key_version = excluded.key_version, merchant_key = excluded.merchant_key, \
             provider_public_key = excluded.provider_public_key, updated_at = excluded.updated_at",
            &[
                &r.account.as_str(),
                &r.provider,
                &r.client_id,
                &r.endpoint,
                &key_version,
                &r.merchant_key_sealed,
                &r.provider_public_key,
                &r.updated_at.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 { Err(StoreError::not_found("account", &r.account)) } else { Ok(()) }
}

pub(super) async fn get(store: &PgStore, account: &AccountId) -> StoreResult<Option<ConnectorRecord>> {
    let row = store
        .client()
        .await?
        .query_opt(
            "select provider, client_id, endpoint, key_version, merchant_key, provider_public_key, updated_at \
             from connectors where account_id = $1",
            &[&account.as_str()],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.map(|r| ConnectorRecord {
        account: account.clone(),
        provider: r.get(0),
        client_id: r.get(1),
        endpoint: r.get(2),
        key_version: r.get::<_, i32>(3).try_into().unwrap_or(0),
        merchant_key_sealed: r.get(4),
        provider_public_key: r.get(5),
        updated_at: Timestamp::from_unix(r.get(6)),
    }))
}

pub(super) async fn remove(store: &PgStore, account: &AccountId) -> StoreResult<bool> {
    let n = store
        .client()
        .await?
        .execute("delete from connectors where account_id = $1", &[&account.as_str()])
        .await
        .map_err(pg_err)?;
    Ok(n > 0)
}

pub(super) async fn record_calls(store: &PgStore, charge: &ChargeId, calls: &[ProviderCall]) -> StoreResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let c = store.client().await?;
    let st = c
        .prepare_cached("insert into provider_calls (charge_id, call, created_at) values ($1, $2, $3)")
        .await
        .map_err(pg_err)?;
    for call in calls {
        let doc = serde_json::to_string(call).map_err(json_err)?;
        c.execute(&st, &[&charge.as_str(), &doc, &call.at.unix()]).await.map_err(pg_err)?;
    }
    Ok(())
}

pub(super) async fn list_calls(store: &PgStore, charge: &ChargeId) -> StoreResult<Vec<ProviderCall>> {
    let rows = store
        .client()
        .await?
        .query("select call from provider_calls where charge_id = $1 order by seq", &[&charge.as_str()])
        .await
        .map_err(pg_err)?;
    rows.iter().map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(json_err)).collect()
}

const ATTEMPT_COLUMNS: &str = "request_id, charge_id, attempt, provider, handoff, state, created_at, next_check_at";

fn attempt(r: &Row) -> StoreResult<PaymentAttempt> {
    let handoff: Option<String> = r.get(4);
    Ok(PaymentAttempt {
        request_id: r.get(0),
        charge: r.get::<_, &str>(1).parse().map_err(bad_id)?,
        attempt: r.get::<_, i32>(2).try_into().unwrap_or(0),
        provider: r.get(3),
        handoff: handoff.map(|h| serde_json::from_str(&h)).transpose().map_err(json_err)?,
        state: AttemptState::parse(r.get(5)),
        created_at: Timestamp::from_unix(r.get(6)),
        next_check_at: Timestamp::from_unix(r.get(7)),
    })
}

pub(super) async fn insert_attempt(store: &PgStore, a: &PaymentAttempt) -> StoreResult<bool> {
    let handoff = a.handoff.as_ref().map(serde_json::to_string).transpose().map_err(json_err)?;
    let n_attempt = i32::try_from(a.attempt).map_err(|e| StoreError::Other(e.into()))?;
    // The unique index on (charge_id, attempt) makes two nodes racing for the same attempt number collide.
    let n = store
        .client()
        .await?
        .execute(
            &format!(
                "insert into payment_attempts ({ATTEMPT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8) \
                 on conflict do nothing"
            ),
            &[
                &a.request_id,
                &a.charge.as_str(),
                &n_attempt,
                &a.provider,
                &handoff,
                &a.state.as_str(),
                &a.created_at.unix(),
                &a.next_check_at.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
    Ok(n > 0)
}

pub(super) async fn update_attempt(store: &PgStore, a: &PaymentAttempt) -> StoreResult<()> {
    let handoff = a.handoff.as_ref().map(serde_json::to_string).transpose().map_err(json_err)?;
    store
        .client()
        .await?
        .execute(
            "update payment_attempts set handoff = $2, state = $3, next_check_at = $4, lease_until = 0 \
             where request_id = $1",
            &[&a.request_id, &handoff, &a.state.as_str(), &a.next_check_at.unix()],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn get_attempt(store: &PgStore, request_id: &str) -> StoreResult<Option<PaymentAttempt>> {
    let row = store
        .client()
        .await?
        .query_opt(&format!("select {ATTEMPT_COLUMNS} from payment_attempts where request_id = $1"), &[&request_id])
        .await
        .map_err(pg_err)?;
    row.as_ref().map(attempt).transpose()
}

pub(super) async fn latest_attempt(store: &PgStore, charge: &ChargeId) -> StoreResult<Option<PaymentAttempt>> {
    let row = store
        .client()
        .await?
        .query_opt(
            &format!(
                "select {ATTEMPT_COLUMNS} from payment_attempts where charge_id = $1 order by attempt desc limit 1"
            ),
            &[&charge.as_str()],
        )
        .await
        .map_err(pg_err)?;
    row.as_ref().map(attempt).transpose()
}

/// Leases due attempts to one caller: `for update skip locked` so that nodes asking at once split them.
pub(super) async fn claim_checks(
    store: &PgStore,
    now: Timestamp,
    lease_now: Timestamp,
    lease_until: Timestamp,
    limit: u64,
) -> StoreResult<Vec<PaymentAttempt>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = store
        .client()
        .await?
        .query(
            &format!(
                "update payment_attempts set lease_until = $3 where request_id in (select request_id from \
                 payment_attempts where state <> 'closed' and next_check_at <= $1 and lease_until <= $2 \
                 order by next_check_at limit $4 for update skip locked) returning {ATTEMPT_COLUMNS}"
            ),
            &[&now.unix(), &lease_now.unix(), &lease_until.unix(), &limit],
        )
        .await
        .map_err(pg_err)?;
    rows.iter().map(attempt).collect()
}

pub(super) async fn count(store: &PgStore) -> StoreResult<u64> {
    let row = store.client().await?.query_one("select count(*) from connectors", &[]).await.map_err(pg_err)?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

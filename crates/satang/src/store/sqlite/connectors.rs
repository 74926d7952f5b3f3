//! `connectors`, `provider_calls`, `payment_attempts`, `refund_intents` (see [`crate::store::connectors`]).

use rusqlite::{OptionalExtension, Row, params};
use satang_domain::{AccountId, ChargeId, RefundId, Timestamp};

use super::{SqliteStore, json_err, sql_err};
use crate::connector::ProviderCall;
use crate::store::connectors::{AttemptState, ConnectorRecord, PaymentAttempt, RefundIntent};
use crate::store::{StoreError, StoreResult};

pub(super) async fn set(store: &SqliteStore, r: &ConnectorRecord) -> StoreResult<()> {
    let r = r.clone();
    store
        .write(move |c| {
            let n = c
                .execute(
                    "insert into connectors (account_id, provider, client_id, endpoint, key_version, merchant_key, \
                     provider_public_key, updated_at) select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
                     where exists (select 1 from accounts where id = ?1) \
                     on conflict (account_id) do update set provider = excluded.provider, client_id = \
                     excluded.client_id, endpoint = excluded.endpoint, key_version = excluded.key_version, \
                     merchant_key = excluded.merchant_key, provider_public_key = excluded.provider_public_key, \
                     updated_at = excluded.updated_at",
                    params![
                        r.account.as_str(),
                        r.provider,
                        r.client_id,
                        r.endpoint,
                        r.key_version,
                        r.merchant_key_sealed,
                        r.provider_public_key,
                        r.updated_at.unix()
                    ],
                )
                .map_err(sql_err)?;
            if n == 0 { Err(StoreError::not_found("account", &r.account)) } else { Ok(()) }
        })
        .await
}

pub(super) async fn get(store: &SqliteStore, account: &AccountId) -> StoreResult<Option<ConnectorRecord>> {
    let account = account.clone();
    store
        .read(move |c| {
            c.prepare_cached(
                "select provider, client_id, endpoint, key_version, merchant_key, provider_public_key, updated_at \
                 from connectors where account_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row(params![account.as_str()], |r| {
                    Ok(ConnectorRecord {
                        account: account.clone(),
                        provider: r.get(0)?,
                        client_id: r.get(1)?,
                        endpoint: r.get(2)?,
                        key_version: r.get(3)?,
                        merchant_key_sealed: r.get(4)?,
                        provider_public_key: r.get(5)?,
                        updated_at: Timestamp::from_unix(r.get(6)?),
                    })
                })
                .optional()
            })
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn remove(store: &SqliteStore, account: &AccountId) -> StoreResult<bool> {
    let account = account.clone();
    store
        .write(move |c| {
            c.execute("delete from connectors where account_id = ?1", params![account.as_str()])
                .map(|n| n > 0)
                .map_err(sql_err)
        })
        .await
}

pub(super) async fn record_calls(store: &SqliteStore, charge: &ChargeId, calls: &[ProviderCall]) -> StoreResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let docs: Vec<(String, i64)> = calls
        .iter()
        .map(|c| serde_json::to_string(c).map(|d| (d, c.at.unix())))
        .collect::<Result<_, _>>()
        .map_err(json_err)?;
    let charge = charge.clone();
    store
        .write(move |c| {
            let mut st = c
                .prepare_cached("insert into provider_calls (charge_id, call, created_at) values (?1, ?2, ?3)")
                .map_err(sql_err)?;
            for (doc, at) in &docs {
                st.execute(params![charge.as_str(), doc, at]).map_err(sql_err)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn list_calls(store: &SqliteStore, charge: &ChargeId) -> StoreResult<Vec<ProviderCall>> {
    let charge = charge.clone();
    store
        .read(move |c| {
            let docs: Vec<String> = c
                .prepare_cached("select call from provider_calls where charge_id = ?1 order by seq")
                .and_then(|mut st| st.query_map(params![charge.as_str()], |r| r.get(0))?.collect())
                .map_err(sql_err)?;
            docs.iter().map(|d| serde_json::from_str(d).map_err(json_err)).collect()
        })
        .await
}

const ATTEMPT_COLUMNS: &str = "request_id, charge_id, attempt, provider, handoff, state, created_at, next_check_at";

fn attempt(r: &Row<'_>) -> rusqlite::Result<(PaymentAttempt, Option<String>)> {
    let charge: String = r.get(1)?;
    let state: String = r.get(5)?;
    Ok((
        PaymentAttempt {
            request_id: r.get(0)?,
            charge: charge.parse().map_err(|_| rusqlite::Error::InvalidQuery)?,
            attempt: r.get(2)?,
            provider: r.get(3)?,
            handoff: None,
            state: AttemptState::parse(&state),
            created_at: Timestamp::from_unix(r.get(6)?),
            next_check_at: Timestamp::from_unix(r.get(7)?),
        },
        r.get(4)?,
    ))
}

fn with_handoff((mut a, h): (PaymentAttempt, Option<String>)) -> StoreResult<PaymentAttempt> {
    a.handoff = h.map(|h| serde_json::from_str(&h)).transpose().map_err(json_err)?;
    Ok(a)
}

/// Inserts the attempt unless its request id, or its charge's attempt number, exists; returns whether it
/// did.
pub(super) async fn insert_attempt(store: &SqliteStore, a: &PaymentAttempt) -> StoreResult<bool> {
    let a = a.clone();
    let handoff = a.handoff.as_ref().map(serde_json::to_string).transpose().map_err(json_err)?;
    store
        .write(move |c| {
            c.execute(
                &format!(
                    "insert into payment_attempts ({ATTEMPT_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     on conflict do nothing"
                ),
                params![
                    a.request_id,
                    a.charge.as_str(),
                    a.attempt,
                    a.provider,
                    handoff,
                    a.state.as_str(),
                    a.created_at.unix(),
                    a.next_check_at.unix()
                ],
            )
            .map(|n| n > 0)
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn update_attempt(store: &SqliteStore, a: &PaymentAttempt) -> StoreResult<()> {
    let a = a.clone();
    let handoff = a.handoff.as_ref().map(serde_json::to_string).transpose().map_err(json_err)?;
    store
        .write(move |c| {
            c.execute(
                "update payment_attempts set handoff = ?2, state = ?3, next_check_at = ?4, lease_until = 0 \
                 where request_id = ?1",
                params![a.request_id, handoff, a.state.as_str(), a.next_check_at.unix()],
            )
            .map(|_| ())
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn get_attempt(store: &SqliteStore, request_id: &str) -> StoreResult<Option<PaymentAttempt>> {
    let id = request_id.to_string();
    let row = store
        .read(move |c| {
            c.prepare_cached(&format!("select {ATTEMPT_COLUMNS} from payment_attempts where request_id = ?1"))
                .and_then(|mut st| st.query_row(params![id], attempt).optional())
                .map_err(sql_err)
        })
        .await?;
    row.map(with_handoff).transpose()
}

pub(super) async fn latest_attempt(store: &SqliteStore, charge: &ChargeId) -> StoreResult<Option<PaymentAttempt>> {
    let charge = charge.clone();
    let row = store
        .read(move |c| {
            c.prepare_cached(&format!(
                "select {ATTEMPT_COLUMNS} from payment_attempts where charge_id = ?1 order by attempt desc limit 1"
            ))
            .and_then(|mut st| st.query_row(params![charge.as_str()], attempt).optional())
            .map_err(sql_err)
        })
        .await?;
    row.map(with_handoff).transpose()
}

/// Leases up to `limit` attempts that are not closed and due for a check, to one caller until
/// `lease_until` (wall clock).
pub(super) async fn claim_checks(
    store: &SqliteStore,
    now: Timestamp,
    lease_now: Timestamp,
    lease_until: Timestamp,
    limit: u64,
) -> StoreResult<Vec<PaymentAttempt>> {
    let rows = store
        .write(move |c| {
            let rows: Vec<(PaymentAttempt, Option<String>)> = c
                .prepare_cached(&format!(
                    "select {ATTEMPT_COLUMNS} from payment_attempts where state != 'closed' and next_check_at <= ?1 \
                     and lease_until <= ?2 order by next_check_at limit {limit}"
                ))
                .and_then(|mut st| st.query_map(params![now.unix(), lease_now.unix()], attempt)?.collect())
                .map_err(sql_err)?;
            let mut st = c
                .prepare_cached("update payment_attempts set lease_until = ?2 where request_id = ?1")
                .map_err(sql_err)?;
            for (a, _) in &rows {
                st.execute(params![a.request_id, lease_until.unix()]).map_err(sql_err)?;
            }
            Ok(rows)
        })
        .await?;
    rows.into_iter().map(with_handoff).collect()
}

pub(super) async fn count(store: &SqliteStore) -> StoreResult<u64> {
    store
        .read(|c| {
            c.query_row("select count(*) from connectors", [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(sql_err)
        })
        .await
}

const INTENT_COLUMNS: &str = "refund_id, charge_id, amount, metadata, created_at, next_check_at";

fn intent(r: &Row<'_>) -> rusqlite::Result<(String, String, i64, String, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_intent(
    (refund, charge, amount, metadata, created, next): (String, String, i64, String, i64, i64),
) -> StoreResult<RefundIntent> {
    Ok(RefundIntent {
        refund: refund.parse().map_err(|_| StoreError::Other(anyhow::anyhow!("bad refund id {refund}")))?,
        charge: charge.parse().map_err(|_| StoreError::Other(anyhow::anyhow!("bad charge id {charge}")))?,
        amount,
        metadata: serde_json::from_str(&metadata).map_err(json_err)?,
        created_at: Timestamp::from_unix(created),
        next_check_at: Timestamp::from_unix(next),
    })
}

pub(super) async fn insert_refund_intent(store: &SqliteStore, i: &RefundIntent) -> StoreResult<()> {
    let metadata = serde_json::to_string(&i.metadata).map_err(json_err)?;
    let i = i.clone();
    store
        .write(move |c| {
            c.execute(
                &format!("insert into refund_intents ({INTENT_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    i.refund.as_str(),
                    i.charge.as_str(),
                    i.amount,
                    metadata,
                    i.created_at.unix(),
                    i.next_check_at.unix()
                ],
            )
            .map(|_| ())
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn delete_refund_intent(store: &SqliteStore, refund: &RefundId) -> StoreResult<()> {
    let refund = refund.clone();
    store
        .write(move |c| {
            c.execute("delete from refund_intents where refund_id = ?1", params![refund.as_str()])
                .map(|_| ())
                .map_err(sql_err)
        })
        .await
}

pub(super) async fn reschedule_refund_intent(
    store: &SqliteStore,
    refund: &RefundId,
    next: Timestamp,
) -> StoreResult<()> {
    let refund = refund.clone();
    store
        .write(move |c| {
            c.execute(
                "update refund_intents set next_check_at = ?2, lease_until = 0 where refund_id = ?1",
                params![refund.as_str(), next.unix()],
            )
            .map(|_| ())
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn claim_refund_intents(
    store: &SqliteStore,
    now: Timestamp,
    lease_now: Timestamp,
    lease_until: Timestamp,
    limit: u64,
) -> StoreResult<Vec<RefundIntent>> {
    let rows = store
        .write(move |c| {
            let rows: Vec<_> = c
                .prepare_cached(&format!(
                    "select {INTENT_COLUMNS} from refund_intents where next_check_at <= ?1 and lease_until <= ?2 \
                     order by next_check_at limit {limit}"
                ))
                .and_then(|mut st| st.query_map(params![now.unix(), lease_now.unix()], intent)?.collect())
                .map_err(sql_err)?;
            let mut st =
                c.prepare_cached("update refund_intents set lease_until = ?2 where refund_id = ?1").map_err(sql_err)?;
            for r in &rows {
                let r: &(String, String, i64, String, i64, i64) = r;
                st.execute(params![r.0, lease_until.unix()]).map_err(sql_err)?;
            }
            Ok(rows)
        })
        .await?;
    rows.into_iter().map(to_intent).collect()
}

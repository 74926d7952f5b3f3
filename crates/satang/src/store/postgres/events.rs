//! Events: the `events` table. Writing an event also queues its webhook deliveries (`webhook_deliveries`)
//! and counts it in its list, in the same transaction.

use satang_domain::{ChargeId, EventId, EventKey, Timestamp};
use tokio_postgres::Row;

use super::lists::{count_insert, page};
use super::webhooks::ensure_signing_secret;
use super::{Op, PgStore, Tx, bad_id, pg_err};
use crate::store::{ListQuery, NewEvent, Page, Scope, StoreError, StoreResult, StoredEvent};

/// Writes the event, its list count and its outbox rows, sent together (one round trip once the statements
/// are prepared); returns whether any delivery was queued (the caller wakes the workers once the
/// transaction has committed).
pub(super) async fn insert_event(tx: &Tx<'_>, scope: &Scope, e: &NewEvent) -> StoreResult<bool> {
    let (event_st, endpoints_st, own_st) = futures::try_join!(
        tx.prepare_cached(
            "insert into events (id, account_id, livemode, key, charge_id, created_at, data) values ($1, $2, $3, $4, $5, $6, $7)",
        ),
        tx.prepare_cached(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) select $1, account_id, livemode, id, url, 'pending', 0, $2, $2 \
             from webhook_endpoints where account_id = $3 and livemode = $4",
        ),
        tx.prepare_cached(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) values ($1, $2, $3, null, $4, 'pending', 0, $5, $5)",
        ),
    )
    .map_err(pg_err)?;
    if !e.webhook_urls.is_empty() {
        ensure_signing_secret(tx, scope, e.created_at).await?;
    }
    let (id, account, livemode, at) = (e.id.as_str(), scope.account.as_str(), scope.livemode, e.created_at.unix());
    let (event_st, endpoints_st, own_st) = (&event_st, &endpoints_st, &own_st);
    let event: Op<'_> = Box::pin(async move {
        tx.execute(
            event_st,
            &[&id, &account, &livemode, &e.key.as_str(), &e.charge.as_ref().map(|c| c.as_str()), &at, &e.data],
        )
        .await
    });
    let mut ops = vec![event];
    if e.webhook_urls.is_empty() {
        ops.push(Box::pin(async move { tx.execute(endpoints_st, &[&id, &at, &account, &livemode]).await }));
    } else {
        for url in &e.webhook_urls {
            ops.push(Box::pin(async move { tx.execute(own_st, &[&id, &account, &livemode, url, &at]).await }));
        }
    }
    let (counts, ()) = futures::try_join!(
        async { futures::future::try_join_all(ops).await.map_err(pg_err) },
        count_insert(tx, scope, "events")
    )?;
    Ok(counts.iter().skip(1).sum::<u64>() > 0)
}

fn event_from(row: &Row, livemode: bool) -> StoreResult<StoredEvent> {
    let key: String = row.get(1);
    Ok(StoredEvent {
        id: EventId::try_from(row.get::<_, String>(0)).map_err(bad_id)?,
        key: EventKey::parse(&key).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
        livemode,
        created_at: Timestamp::from_unix(row.get(2)),
        data: row.get(3),
    })
}

pub(super) async fn get_event(store: &PgStore, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent> {
    let c = store.client().await?;
    let st = c
        .prepare_cached(
            "select id, key, created_at, data from events where id = $1 and account_id = $2 and livemode = $3",
        )
        .await
        .map_err(pg_err)?;
    let row = c
        .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("event", id))?;
    event_from(&row, scope.livemode)
}

pub(super) async fn list_events(
    store: &PgStore,
    scope: &Scope,
    charge: Option<&ChargeId>,
    q: ListQuery,
) -> StoreResult<Page<StoredEvent>> {
    let c = store.client().await?;
    let rows = page(
        &c,
        "events",
        "id, key, created_at, data",
        scope,
        charge.map(|id| ("charge_id", id.as_str())),
        &q,
        charge.is_none().then_some("events"),
    )
    .await?;
    let items = rows.items.iter().map(|r| event_from(r, scope.livemode)).collect::<StoreResult<_>>()?;
    Ok(Page { items, total: rows.total })
}

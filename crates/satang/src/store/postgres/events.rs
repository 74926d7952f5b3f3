//! Events: the `events` table. Writing an event also queues its webhook deliveries (`webhook_deliveries`)
//! and counts it in its list, in the same transaction.

use satang_domain::{ChargeId, EventId, EventKey, Timestamp};
use tokio_postgres::Row;

use super::lists::{count_insert, page};
use super::webhooks::ensure_signing_secret;
use super::{PgStore, Tx, bad_id, pg_err};
use crate::store::{ListQuery, NewEvent, Page, Scope, StoreError, StoreResult, StoredEvent};

/// Writes the event and its outbox rows; returns whether any delivery was queued (the caller wakes the
/// workers once the transaction has committed).
pub(super) async fn insert_event(tx: &Tx<'_>, scope: &Scope, e: &NewEvent) -> StoreResult<bool> {
    let st = tx
        .prepare_cached(
            "insert into events (id, account_id, livemode, key, charge_id, created_at, data) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(
        &st,
        &[
            &e.id.as_str(),
            &scope.account.as_str(),
            &scope.livemode,
            &e.key.as_str(),
            &e.charge.as_ref().map(|c| c.as_str()),
            &e.created_at.unix(),
            &e.data,
        ],
    )
    .await
    .map_err(pg_err)?;
    count_insert(tx, scope, "events").await?;
    let queued = if e.webhook_urls.is_empty() {
        let st = tx
            .prepare_cached(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) select $1, account_id, livemode, id, url, 'pending', 0, $2, $2 \
                 from webhook_endpoints where account_id = $3 and livemode = $4",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&e.id.as_str(), &e.created_at.unix(), &scope.account.as_str(), &scope.livemode])
            .await
            .map_err(pg_err)?
    } else {
        ensure_signing_secret(tx, scope, e.created_at).await?;
        let st = tx
            .prepare_cached(
                "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                 next_attempt_at, created_at) values ($1, $2, $3, null, $4, 'pending', 0, $5, $5)",
            )
            .await
            .map_err(pg_err)?;
        let mut n = 0;
        for url in &e.webhook_urls {
            n += tx
                .execute(&st, &[&e.id.as_str(), &scope.account.as_str(), &scope.livemode, url, &e.created_at.unix()])
                .await
                .map_err(pg_err)?;
        }
        n
    };
    Ok(queued > 0)
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

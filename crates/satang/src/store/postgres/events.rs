//! Events: the `events` table. Events are written with the charge's change that makes them, by the
//! charge's own statement (`events_written` in [`super::charges`]), which also queues their webhook
//! deliveries (`webhook_deliveries`) and counts them in their list.

use satang_domain::{ChargeId, EventId, EventKey, Timestamp};
use tokio_postgres::Row;

use super::lists::{deep_page, page};
use super::{PgStore, bad_id, pg_err};
use crate::store::{ListQuery, Page, Scope, StoreError, StoreResult, StoredEvent};

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
    const COLUMNS: &str = "id, key, created_at, data";
    let rows = if charge.is_none() && store.marked(&q) {
        deep_page(&c, "events", COLUMNS, "events", scope, &q).await?
    } else {
        page(
            &c,
            "events",
            COLUMNS,
            scope,
            charge.map(|id| ("charge_id", id.as_str())),
            &q,
            charge.is_none().then_some("events"),
        )
        .await?
    };
    let items = rows.items.iter().map(|r| event_from(r, scope.livemode)).collect::<StoreResult<_>>()?;
    Ok(Page { items, total: rows.total })
}

//! Events: the `events` table. Writing an event also queues its webhook deliveries (`webhook_deliveries`)
//! and counts it in its list, in the same transaction.

use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{ChargeId, EventId, EventKey, Timestamp};

use super::lists::{count_insert, page};
use super::webhooks::ensure_signing_secret;
use super::writer::{EVENTS_WRITTEN, OUTBOX_TOUCHED};
use super::{SqliteStore, sql_err};
use crate::store::{ListQuery, NewEvent, Page, Scope, StoreError, StoreResult, StoredEvent};

pub(super) fn insert_event(conn: &Connection, scope: &Scope, e: &NewEvent) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into events (id, account_id, livemode, key, charge_id, created_at, data) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            e.id.as_str(),
            scope.account.as_str(),
            scope.livemode,
            e.key.as_str(),
            e.charge.as_ref().map(|c| c.as_str()),
            e.created_at.unix(),
            e.data,
        ])
    })
    .map_err(sql_err)?;
    count_insert(conn, scope, "events")?;
    EVENTS_WRITTEN.with(|t| t.set(true));
    let queued = if e.webhook_urls.is_empty() {
        conn.prepare_cached(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) select ?1, account_id, livemode, id, url, 'pending', 0, ?2, ?2 \
             from webhook_endpoints where account_id = ?3 and livemode = ?4",
        )
        .and_then(|mut st| {
            st.execute(params![e.id.as_str(), e.created_at.unix(), scope.account.as_str(), scope.livemode])
        })
        .map_err(sql_err)?
    } else {
        ensure_signing_secret(conn, scope, e.created_at)?;
        let mut n = 0;
        for url in &e.webhook_urls {
            n += conn
                .prepare_cached(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
                     next_attempt_at, created_at) values (?1, ?2, ?3, null, ?4, 'pending', 0, ?5, ?5)",
                )
                .and_then(|mut st| {
                    st.execute(params![e.id.as_str(), scope.account.as_str(), scope.livemode, url, e.created_at.unix()])
                })
                .map_err(sql_err)?;
        }
        n
    };
    if queued > 0 {
        OUTBOX_TOUCHED.with(|t| t.set(true));
    }
    Ok(())
}

pub(super) fn event_row(
    id: String,
    key: String,
    livemode: bool,
    created: i64,
    data: String,
) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        id: EventId::try_from(id).map_err(|e| StoreError::Other(e.into()))?,
        key: EventKey::parse(&key).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
        livemode,
        created_at: Timestamp::from_unix(created),
        data,
    })
}

pub(super) async fn get_event(store: &SqliteStore, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent> {
    let (scope, id) = (scope.clone(), id.clone());
    store
        .read(move |c| {
            c.prepare_cached(
                "select key, created_at, data from events where id = ?1 and account_id = ?2 and livemode = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                })
                .optional()
            })
            .map_err(sql_err)?
            .map(|(key, created, data)| event_row(id.to_string(), key, scope.livemode, created, data))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("event", &id))
        })
        .await
}

pub(super) async fn list_events(
    store: &SqliteStore,
    scope: &Scope,
    charge: Option<&ChargeId>,
    q: ListQuery,
) -> StoreResult<Page<StoredEvent>> {
    let (scope, charge) = (scope.clone(), charge.map(|c| c.to_string()));
    store
        .scan(move |c| {
            let filter = charge.as_deref().map(|id| ("charge_id", id));
            let counted = filter.is_none().then_some("events");
            let rows = page(c, "events", "id, key, created_at, data", &scope, filter, &q, counted, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
            })?;
            let items = rows
                .items
                .into_iter()
                .map(|(id, key, created, data)| event_row(id, key, scope.livemode, created, data))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Page { items, total: rows.total })
        })
        .await
}

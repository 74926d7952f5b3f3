//! Sources and charges: the `sources` and `charges` tables, and the due-list of expiring charges. A
//! charge change books its refunds and ledger entries ([`super::ledger`]) and writes its events
//! ([`super::events`]) in the same transaction.

use satang_domain::{Charge, ChargeId, Source, SourceId, Timestamp};

use super::events::insert_event;
use super::idempotency;
use super::ledger::book_change;
use super::lists::page;
use super::{PgStore, Tx, bad_id, json_err, parse_doc, pg_err};
use crate::api::idempotency::KEY_LIFETIME_SECONDS;
use crate::store::idempotency::{Written, pending_key};
use crate::store::{ChargeMutation, ChargeRef, ListQuery, NewEvent, Page, Scope, StoreError, StoreResult};

async fn load_charge_for_update(tx: &Tx<'_>, which: &ChargeRef) -> StoreResult<(i64, Charge)> {
    let (row, id) = match which {
        ChargeRef::Scoped(scope, id) => (
            tx.query_opt(
                "select seq, doc from charges where id = $1 and account_id = $2 and livemode = $3 for update",
                &[&id.as_str(), &scope.account.as_str(), &scope.livemode],
            )
            .await,
            id,
        ),
        ChargeRef::Unscoped(id) => {
            (tx.query_opt("select seq, doc from charges where id = $1 for update", &[&id.as_str()]).await, id)
        }
    };
    let row = row.map_err(pg_err)?.ok_or_else(|| StoreError::not_found("charge", id))?;
    Ok((row.get(0), parse_doc(row.get::<_, &str>(1))?))
}

pub(super) async fn insert_source(store: &PgStore, scope: &Scope, source: &Source) -> StoreResult<()> {
    let doc = serde_json::to_string(source).map_err(json_err)?;
    let pending = pending_key();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let st = tx
        .prepare_cached(
            "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values ($1, $2, $3, null, $4, $5)",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&source.id.as_str(), &scope.account.as_str(), &scope.livemode, &source.created_at.unix(), &doc])
        .await
        .map_err(pg_err)?;
    idempotency::record(&tx, &pending, Written::Source(source)).await?;
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn get_source(store: &PgStore, scope: &Scope, id: &SourceId) -> StoreResult<(Source, Option<String>)> {
    let c = store.client().await?;
    let st = c
        .prepare_cached(
            "select case when s.doc = '' then ch.doc else s.doc end, ch.status, s.doc = '' \
             from sources s left join charges ch on ch.id = s.charge_id \
             where s.id = $1 and s.account_id = $2 and s.livemode = $3",
        )
        .await
        .map_err(pg_err)?;
    let row = c
        .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("source", id))?;
    let doc: Option<&str> = row.get(0);
    let doc = doc.ok_or_else(|| StoreError::Other(anyhow::anyhow!("source {id} has no document")))?;
    Ok((super::sqlite::source_from(doc, row.get(2))?, row.get(1)))
}

/// Everything a new charge writes, as one statement: the source claimed (or inserted), the charge, its list
/// count, its events with their list counts and outbox rows (the account's endpoints, or the charge's own
/// `webhook_endpoints` with the signing secret they need), and the request's idempotency key. Every part
/// selects `from ch`, so when the source is already used nothing at all is written.
///
/// One statement is one implicit transaction and one round trip, where BEGIN, the seven statements and
/// COMMIT cost three round trips and nine executions on both sides (issue 15: PostgreSQL create-charge was
/// at 24 % of a bare insert). Only a request with an `Idempotency-Key` runs it inside BEGIN … COMMIT: a key
/// another request holds (`idem` returns no row) must roll the charge back.
const CREATE_CHARGE: &str = "\
with src_new as ( \
  insert into sources (id, account_id, livemode, charge_id, created_at, doc) \
  select $1, $2, $3, $4, $5, '' where $6 returning 1 \
), src_claimed as ( \
  update sources set charge_id = $4 \
  where not $6 and id = $1 and account_id = $2 and livemode = $3 and charge_id is null returning 1 \
), ch as ( \
  insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc) \
  select $4, $2, $3, $7, $5, $8, 1, $9 \
  where exists (select 1 from src_new) or exists (select 1 from src_claimed) returning seq \
), ev as ( \
  insert into events (id, account_id, livemode, key, charge_id, created_at, data) \
  select e.id, $2, $3, e.key, e.charge_id, e.at, e.data \
  from ch, unnest($10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[]) as e(id, key, charge_id, at, data) \
  returning 1 \
), counted as ( \
  insert into list_count_deltas (account_id, livemode, list) \
  select $2, $3, 'charges' from ch union all select $2, $3, 'events' from ev \
), signing as ( \
  insert into webhook_signing (account_id, livemode, secret, created_at) \
  select $2, $3, $15, $5 from ch where $15::text is not null \
  on conflict (account_id, livemode) do nothing \
), outbox as ( \
  insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
    next_attempt_at, created_at) \
  select e.id, w.account_id, w.livemode, w.id, w.url, 'pending', 0, e.at, e.at \
  from ch, unnest($10::text[], $13::bigint[], $16::bool[]) as e(id, at, own) \
  join webhook_endpoints w on w.account_id = $2 and w.livemode = $3 \
  where not e.own \
  union all \
  select o.event_id, $2, $3, null, o.url, 'pending', 0, o.at, o.at \
  from ch, unnest($17::text[], $18::text[], $19::bigint[]) as o(event_id, url, at) \
  returning 1 \
), idem as ( \
  insert into idempotency_keys (account_id, livemode, key, fingerprint, status, version, body, created_at) \
  select $2, $3, $20, $21, $22, $23, $24, $25 from ch where $20::text is not null \
  on conflict (account_id, livemode, key) do update set fingerprint = excluded.fingerprint, \
    status = excluded.status, version = excluded.version, body = excluded.body, created_at = excluded.created_at \
  where idempotency_keys.created_at < $26 \
  returning 1 \
) \
select (select count(*) from ch), (select count(*) from outbox), (select count(*) from idem)";

pub(super) async fn create_charge(
    store: &PgStore,
    scope: &Scope,
    charge: &Charge,
    doc: String,
    new_source: bool,
    events: Vec<NewEvent>,
) -> StoreResult<()> {
    let pending = pending_key();
    let key = match pending.as_ref().and_then(|p| p.render(Written::Charge(charge))) {
        None => None,
        Some(Ok(row)) => Some(row),
        Some(Err(e)) => return Err(StoreError::Other(anyhow::anyhow!("rendering the Idempotency-Key response: {e}"))),
    };
    let (id, src) = (charge.id.as_str(), charge.source.id.as_str());
    let (account, livemode, created) = (scope.account.as_str(), scope.livemode, charge.created_at.unix());
    let ev_ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let ev_keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    let ev_charges: Vec<Option<&str>> = events.iter().map(|e| e.charge.as_ref().map(|c| c.as_str())).collect();
    let ev_at: Vec<i64> = events.iter().map(|e| e.created_at.unix()).collect();
    let ev_data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    let ev_own: Vec<bool> = events.iter().map(|e| !e.webhook_urls.is_empty()).collect();
    let own: Vec<(&str, &str, i64)> = events
        .iter()
        .flat_map(|e| e.webhook_urls.iter().map(move |u| (e.id.as_str(), u.as_str(), e.created_at.unix())))
        .collect();
    let own_events: Vec<&str> = own.iter().map(|o| o.0).collect();
    let own_urls: Vec<&str> = own.iter().map(|o| o.1).collect();
    let own_at: Vec<i64> = own.iter().map(|o| o.2).collect();
    // Signing a charge's own URLs needs the account's secret: one is offered, and kept only if the account
    // has none yet (`on conflict do nothing`).
    let secret = (!own.is_empty()).then(crate::webhooks::sign::new_secret);
    let r = key.as_ref().map(|k| &k.response);
    let key_status = r.map(|r| i32::from(r.status));
    let expired_before = r.map(|r| r.created_at.plus_seconds(-KEY_LIFETIME_SECONDS).unix());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 26] = [
        &src,
        &account,
        &livemode,
        &id,
        &created,
        &new_source,
        &charge.status.name(),
        &charge.expires_at.unix(),
        &doc,
        &ev_ids,
        &ev_keys,
        &ev_charges,
        &ev_at,
        &ev_data,
        &secret,
        &ev_own,
        &own_events,
        &own_urls,
        &own_at,
        &key.as_ref().map(|k| k.key.as_str()),
        &r.map(|r| r.fingerprint.as_str()),
        &key_status,
        &r.and_then(|r| r.version.as_deref()),
        &r.map(|r| r.body.as_slice()),
        &r.map(|r| r.created_at.unix()),
        &expired_before,
    ];
    let mut c = store.client().await?;
    let committing = std::time::Instant::now();
    let (inserted, queued) = if key.is_none() {
        let st = c.prepare_cached(CREATE_CHARGE).await.map_err(pg_err)?;
        let row = c.query_one(&st, &params).await.map_err(pg_err)?;
        (row.get::<_, i64>(0) > 0, row.get::<_, i64>(1))
    } else {
        let tx = c.transaction().await.map_err(pg_err)?;
        let st = tx.prepare_cached(CREATE_CHARGE).await.map_err(pg_err)?;
        let row = tx.query_one(&st, &params).await.map_err(pg_err)?;
        let (inserted, queued, recorded) = (row.get::<_, i64>(0) > 0, row.get::<_, i64>(1), row.get::<_, i64>(2));
        if inserted && recorded == 0 {
            // Rolled back when `tx` drops.
            if let Some(p) = &pending {
                p.mark_taken();
            }
            return Err(StoreError::KeyTaken);
        }
        tx.commit().await.map_err(pg_err)?;
        (inserted, queued)
    };
    if !inserted {
        let used = c
            .query_opt(
                "select charge_id from sources where id = $1 and account_id = $2 and livemode = $3",
                &[&src, &account, &livemode],
            )
            .await
            .map_err(pg_err)?;
        return Err(match used.and_then(|r| r.get::<_, Option<String>>(0)) {
            Some(other) => StoreError::SourceUsed { source_id: charge.source.id.clone(), charge: other },
            None => StoreError::not_found("source", &charge.source.id),
        });
    }
    crate::metrics::commit(1, committing.elapsed().as_secs_f64());
    if !events.is_empty() {
        store.events.bump();
    }
    if queued > 0 {
        store.wake_workers();
    }
    Ok(())
}

pub(super) async fn get_charge(store: &PgStore, scope: &Scope, id: &ChargeId) -> StoreResult<Charge> {
    let c = store.client().await?;
    let st = c
        .prepare_cached("select doc from charges where id = $1 and account_id = $2 and livemode = $3")
        .await
        .map_err(pg_err)?;
    let row = c
        .query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("charge", id))?;
    parse_doc(row.get::<_, &str>(0))
}

pub(super) async fn find_charge(store: &PgStore, id: &ChargeId) -> StoreResult<Charge> {
    let c = store.client().await?;
    let st = c.prepare_cached("select doc from charges where id = $1").await.map_err(pg_err)?;
    let row =
        c.query_opt(&st, &[&id.as_str()]).await.map_err(pg_err)?.ok_or_else(|| StoreError::not_found("charge", id))?;
    parse_doc(row.get::<_, &str>(0))
}

pub(super) async fn list_charges(store: &PgStore, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
    let c = store.client().await?;
    let rows = page(&c, "charges", "doc", scope, None, &q, Some("charges")).await?;
    let items = rows.items.iter().map(|r| parse_doc(r.get::<_, &str>(0))).collect::<StoreResult<_>>()?;
    Ok(Page { items, total: rows.total })
}

/// The charge is loaded under a row lock (concurrent changes to one charge queue here, on any node), changed
/// by the domain, and written with its bookings, events and idempotency key sent together.
pub(super) async fn update_charge(store: &PgStore, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge> {
    let pending = pending_key();
    let audit = crate::store::users::pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let (seq, mut charge) = load_charge_for_update(&tx, &which).await?;
    let before = charge.clone();
    let events = mutation(&mut charge)?;
    let scope = Scope { account: charge.account.clone(), livemode: charge.livemode() };
    let doc = serde_json::to_string(&charge).map_err(json_err)?;
    let st = tx
        .prepare_cached(
            "update charges set doc = $1, status = $2, expires_at = $3, version = version + 1 where seq = $4",
        )
        .await
        .map_err(pg_err)?;
    let t = &tx;
    let update =
        async { t.execute(&st, &[&doc, &charge.status.name(), &charge.expires_at.unix(), &seq]).await.map_err(pg_err) };
    let events_written = futures::future::try_join_all(events.iter().map(|e| insert_event(t, &scope, e)));
    let ((), _, queued, ()) = futures::try_join!(
        book_change(t, &scope, &before, &charge),
        update,
        events_written,
        idempotency::record(t, &pending, Written::Charge(&charge)),
    )?;
    if let Some(a) = &audit {
        super::users::insert_audit(&tx, a).await?;
    }
    let committing = std::time::Instant::now();
    tx.commit().await.map_err(pg_err)?;
    crate::metrics::commit(1, committing.elapsed().as_secs_f64());
    if !queued.is_empty() {
        store.events.bump();
    }
    if queued.contains(&true) {
        store.wake_workers();
    }
    Ok(charge)
}

pub(super) async fn due_charges(store: &PgStore, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>> {
    let c = store.client().await?;
    let st = c
        .prepare_cached(
            "select id from charges where status = 'pending' and expires_at <= $1 order by expires_at limit $2",
        )
        .await
        .map_err(pg_err)?;
    let rows = c.query(&st, &[&now.unix(), &(limit as i64)]).await.map_err(pg_err)?;
    rows.iter().map(|r| ChargeId::try_from(r.get::<_, String>(0)).map_err(bad_id)).collect()
}

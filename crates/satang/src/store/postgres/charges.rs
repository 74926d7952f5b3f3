//! Sources and charges: the `sources` and `charges` tables, and the due-list of expiring charges. A
//! charge change books its refunds and ledger entries ([`super::ledger`]) and writes its events
//! ([`super::events`]) in the same transaction.

use satang_domain::{Charge, ChargeId, Source, SourceId, Timestamp};

use super::events::insert_event;
use super::idempotency;
use super::ledger::book_change;
use super::lists::{count_insert, page};
use super::{PgStore, Tx, bad_id, json_err, parse_doc, pg_err};
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

/// One transaction: the source claimed (or inserted), the charge, its list count, its events with their
/// outbox rows, and the request's idempotency key. The statements are independent, so they are sent together
/// and answered in order: BEGIN, one round trip, COMMIT.
pub(super) async fn create_charge(
    store: &PgStore,
    scope: &Scope,
    charge: &Charge,
    doc: String,
    new_source: bool,
    events: Vec<NewEvent>,
) -> StoreResult<()> {
    let pending = pending_key();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let (id, src) = (charge.id.as_str(), charge.source.id.as_str());
    let (account, livemode, created) = (scope.account.as_str(), scope.livemode, charge.created_at.unix());
    let (insert_source_st, claim_source_st, charge_st) = futures::try_join!(
        tx.prepare_cached(
            "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values ($1, $2, $3, $4, $5, '')",
        ),
        tx.prepare_cached(
            "update sources set charge_id = $4 where id = $1 and account_id = $2 and livemode = $3 and charge_id is null",
        ),
        tx.prepare_cached(
            "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc) \
             values ($1, $2, $3, $4, $5, $6, 1, $7)",
        ),
    )
    .map_err(pg_err)?;
    let t = &tx;
    // An inline source lives inside its charge's document; its own row only marks it used (doc '').
    let source = async {
        if new_source {
            t.execute(&insert_source_st, &[&src, &account, &livemode, &id, &created]).await
        } else {
            t.execute(&claim_source_st, &[&src, &account, &livemode, &id]).await
        }
        .map_err(pg_err)
    };
    let insert = async {
        t.execute(
            &charge_st,
            &[&id, &account, &livemode, &charge.status.name(), &created, &charge.expires_at.unix(), &doc],
        )
        .await
        .map_err(pg_err)
    };
    let events_written = futures::future::try_join_all(events.iter().map(|e| insert_event(t, scope, e)));
    let (claimed, _, (), queued, ()) = futures::try_join!(
        source,
        insert,
        count_insert(t, scope, "charges"),
        events_written,
        idempotency::record(t, &pending, Written::Charge(charge)),
    )?;
    if claimed == 0 {
        let used = tx
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
    let committing = std::time::Instant::now();
    tx.commit().await.map_err(pg_err)?;
    crate::metrics::commit(1, committing.elapsed().as_secs_f64());
    if !queued.is_empty() {
        store.events.bump();
    }
    if queued.contains(&true) {
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

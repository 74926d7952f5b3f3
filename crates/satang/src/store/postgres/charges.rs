//! Sources and charges: the `sources` and `charges` tables, and the due-list of expiring charges. A
//! charge change books its refunds and ledger entries ([`super::ledger`]) and writes its events
//! ([`super::events`]) in the same transaction.

use satang_domain::{Charge, ChargeId, Source, SourceId, Timestamp};

use deadpool_postgres::GenericClient;
use satang_domain::ledger::Origin;

use super::idempotency;
use super::lists::{deep_page, page};
use super::{PgStore, bad_id, json_err, parse_doc, pg_err};
use crate::api::idempotency::KEY_LIFETIME_SECONDS;
use crate::store::idempotency::{KeyRow, Written, pending_key};
use crate::store::search::{charge_text, text_changed};
use crate::store::users::AuditEntry;
use crate::store::{
    ChargeMutation, ChargeRef, ListQuery, NewEvent, Page, RefundRecord, Scope, StoreError, StoreResult,
};
use tokio_postgres::types::ToSql;

/// A charge with its row's `seq` and `version`; with `lock`, under its row lock (inside a transaction).
async fn load_versioned(c: &impl GenericClient, which: &ChargeRef, lock: bool) -> StoreResult<(i64, i64, Charge)> {
    const SCOPED: &str = "select seq, version, doc from charges where id = $1 and account_id = $2 and livemode = $3";
    const SCOPED_LOCKED: &str =
        "select seq, version, doc from charges where id = $1 and account_id = $2 and livemode = $3 for update";
    const ANY: &str = "select seq, version, doc from charges where id = $1";
    const ANY_LOCKED: &str = "select seq, version, doc from charges where id = $1 for update";
    let (row, id) = match which {
        ChargeRef::Scoped(scope, id) => {
            let st = c.prepare_cached(if lock { SCOPED_LOCKED } else { SCOPED }).await.map_err(pg_err)?;
            (c.query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode]).await, id)
        }
        ChargeRef::Unscoped(id) => {
            let st = c.prepare_cached(if lock { ANY_LOCKED } else { ANY }).await.map_err(pg_err)?;
            (c.query_opt(&st, &[&id.as_str()]).await, id)
        }
    };
    let row = row.map_err(pg_err)?.ok_or_else(|| StoreError::not_found("charge", id))?;
    Ok((row.get(0), row.get(1), parse_doc(row.get::<_, &str>(2))?))
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

/// What a charge's write adds besides the charge, as the data-modifying CTEs both [`CREATE_CHARGE`] and
/// [`UPDATE_CHARGE`] end with, each part selecting `from ch` (the charge's own insert or update: when it
/// wrote nothing, neither do they). Both statements number these parameters alike: `$2`/`$3` the scope,
/// `$5` the time of the write, `$10`–`$14` the events (id, key, charge, time, JSON), `$15` a signing secret
/// offered for the charge's own webhook URLs, `$16` whether each event goes to those URLs instead of the
/// account's endpoints, `$17`–`$19` those (event, URL, time), `$20`–`$26` the `Idempotency-Key` row.
macro_rules! events_written {
    () => {
        "ev as ( \
  insert into events (id, account_id, livemode, key, charge_id, created_at, data) \
  select e.id, $2, $3, e.key, e.charge_id, e.at, e.data \
  from ch, unnest($10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[]) as e(id, key, charge_id, at, data) \
  returning created_at, seq \
), counted as ( \
  insert into list_count_deltas (account_id, livemode, list, created_at, item_seq) \
  select $2, $3, 'events', created_at, seq from ev \
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
) "
    };
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
const CREATE_CHARGE: &str = concat!(
    "with src_new as ( \
  insert into sources (id, account_id, livemode, charge_id, created_at, doc) \
  select $1, $2, $3, $4, $5, '' where $6 returning 1 \
), src_claimed as ( \
  update sources set charge_id = $4 \
  where not $6 and id = $1 and account_id = $2 and livemode = $3 and charge_id is null returning 1 \
), ch as ( \
  insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc, method, currency, \
    search) \
  select $4, $2, $3, $7, $5, $8, 1, $9, $27, $28, to_tsvector('simple'::regconfig, $29) \
  where exists (select 1 from src_new) or exists (select 1 from src_claimed) returning created_at, seq \
), ch_counted as ( \
  insert into list_count_deltas (account_id, livemode, list, created_at, item_seq) \
  select $2, $3, 'charges', created_at, seq from ch \
), ",
    events_written!(),
    "select (select count(*) from ch), (select count(*) from outbox), (select count(*) from idem)"
);

/// A charge's change as one statement, like [`CREATE_CHARGE`]: the charge's update if it is still at the
/// version it was read at (`$6`), its new refunds (`$27`–`$30`), ledger entries (`$31`–`$37`) and the
/// balances they move (summed per currency into the connection's own shard, see [`super::ledger`]), an
/// audit row for a dashboard action (`$38`–`$42`), and [`events_written`]. The search vector is computed
/// again only when its text (`$9`) is sent.
const UPDATE_CHARGE: &str = concat!(
    "with ch as ( \
  update charges set doc = $1, status = $7, expires_at = $8, version = version + 1, \
    search = coalesce(to_tsvector('simple'::regconfig, $9::text), search) \
  where seq = $4 and version = $6 returning 1 \
), refunded as ( \
  insert into refunds (id, account_id, livemode, charge_id, created_at, doc) \
  select r.id, $2, $3, $27, r.at, r.doc from ch, unnest($28::text[], $29::bigint[], $30::text[]) as r(id, at, doc) \
), booked as ( \
  insert into ledger (id, account_id, livemode, direction, amount, currency, charge_id, refund_id, created_at) \
  select l.id, $2, $3, l.direction, abs(l.signed), l.currency, l.charge_id, l.refund_id, l.at \
  from ch, unnest($31::text[], $32::text[], $33::bigint[], $34::text[], $35::text[], $36::text[], $37::bigint[]) \
    as l(id, direction, signed, currency, charge_id, refund_id, at) \
), balanced as ( \
  insert into balances (account_id, livemode, currency, shard, total, updated_at) \
  select $2, $3, l.currency, (pg_backend_pid() % 64)::int2, sum(l.signed), max(l.at) \
  from ch, unnest($33::bigint[], $34::text[], $37::bigint[]) as l(signed, currency, at) group by l.currency \
  on conflict (account_id, livemode, currency, shard) \
  do update set total = balances.total + excluded.total, updated_at = excluded.updated_at \
), audited as ( \
  insert into audit_log (account_id, actor, action, detail, created_at) \
  select $38, $39, $40, $41, $42 from ch where $38::text is not null \
), ",
    events_written!(),
    "select (select count(*) from ch), (select count(*) from outbox), (select count(*) from idem)"
);

type Param<'a> = &'a (dyn ToSql + Sync);

/// The parameters `$10`–`$26` of [`events_written`]: a write's events, where they are delivered, and its
/// `Idempotency-Key` row.
struct EventArgs<'a> {
    ids: Vec<&'a str>,
    keys: Vec<&'a str>,
    charges: Vec<Option<&'a str>>,
    at: Vec<i64>,
    data: Vec<&'a str>,
    secret: Option<String>,
    own: Vec<bool>,
    own_events: Vec<&'a str>,
    own_urls: Vec<&'a str>,
    own_at: Vec<i64>,
    key: Option<&'a str>,
    fingerprint: Option<&'a str>,
    status: Option<i32>,
    version: Option<&'a str>,
    body: Option<&'a [u8]>,
    key_created: Option<i64>,
    expired_before: Option<i64>,
}

impl<'a> EventArgs<'a> {
    fn new(events: &'a [NewEvent], key: Option<&'a KeyRow>) -> Self {
        let own: Vec<(&str, &str, i64)> = events
            .iter()
            .flat_map(|e| e.webhook_urls.iter().map(move |u| (e.id.as_str(), u.as_str(), e.created_at.unix())))
            .collect();
        let r = key.map(|k| &k.response);
        EventArgs {
            ids: events.iter().map(|e| e.id.as_str()).collect(),
            keys: events.iter().map(|e| e.key.as_str()).collect(),
            charges: events.iter().map(|e| e.charge.as_ref().map(|c| c.as_str())).collect(),
            at: events.iter().map(|e| e.created_at.unix()).collect(),
            data: events.iter().map(|e| e.data.as_str()).collect(),
            // Signing a charge's own URLs needs the account's secret: one is offered, and kept only if the
            // account has none yet (`on conflict do nothing`).
            secret: (!own.is_empty()).then(crate::webhooks::sign::new_secret),
            own: events.iter().map(|e| !e.webhook_urls.is_empty()).collect(),
            own_events: own.iter().map(|o| o.0).collect(),
            own_urls: own.iter().map(|o| o.1).collect(),
            own_at: own.iter().map(|o| o.2).collect(),
            key: key.map(|k| k.key.as_str()),
            fingerprint: r.map(|r| r.fingerprint.as_str()),
            status: r.map(|r| i32::from(r.status)),
            version: r.and_then(|r| r.version.as_deref()),
            body: r.map(|r| r.body.as_slice()),
            key_created: r.map(|r| r.created_at.unix()),
            expired_before: r.map(|r| r.created_at.plus_seconds(-KEY_LIFETIME_SECONDS).unix()),
        }
    }

    fn params(&self) -> [Param<'_>; 17] {
        [
            &self.ids,
            &self.keys,
            &self.charges,
            &self.at,
            &self.data,
            &self.secret,
            &self.own,
            &self.own_events,
            &self.own_urls,
            &self.own_at,
            &self.key,
            &self.fingerprint,
            &self.status,
            &self.version,
            &self.body,
            &self.key_created,
            &self.expired_before,
        ]
    }
}

/// The `Idempotency-Key` row a write records, if the request has a key.
fn key_row(
    pending: &Option<std::sync::Arc<crate::store::idempotency::PendingKey>>,
    w: Written<'_>,
) -> StoreResult<Option<KeyRow>> {
    match pending.as_ref().and_then(|p| p.render(w)) {
        None => Ok(None),
        Some(Ok(row)) => Ok(Some(row)),
        Some(Err(e)) => Err(StoreError::Other(anyhow::anyhow!("rendering the Idempotency-Key response: {e}"))),
    }
}

/// Runs [`CREATE_CHARGE`] or [`UPDATE_CHARGE`] on `c` (a connection or a transaction) and returns (whether
/// the charge was written, outbox rows queued). With an `Idempotency-Key` (`keyed`), a key another request
/// holds (`idem` wrote no row) is [`StoreError::KeyTaken`]: the caller's transaction must then roll back.
async fn run_write(
    c: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
    pending: &Option<std::sync::Arc<crate::store::idempotency::PendingKey>>,
    keyed: bool,
) -> StoreResult<(bool, i64)> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    let row = c.query_one(&st, params).await.map_err(pg_err)?;
    let (written, queued, recorded) = (row.get::<_, i64>(0) > 0, row.get::<_, i64>(1), row.get::<_, i64>(2));
    if keyed && written && recorded == 0 {
        if let Some(p) = pending {
            p.mark_taken();
        }
        return Err(StoreError::KeyTaken);
    }
    Ok((written, queued))
}

/// [`run_write`] as its own transaction. One statement is one implicit transaction; only a request with an
/// `Idempotency-Key` runs it inside BEGIN … COMMIT, so that a key another request holds rolls the charge's
/// write back (when `tx` drops).
async fn write_charge(
    c: &mut deadpool_postgres::Client,
    sql: &str,
    params: &[Param<'_>],
    pending: &Option<std::sync::Arc<crate::store::idempotency::PendingKey>>,
    keyed: bool,
) -> StoreResult<(bool, i64)> {
    let committing = std::time::Instant::now();
    let out = if !keyed {
        run_write(&*c, sql, params, pending, false).await?
    } else {
        let tx = c.transaction().await.map_err(pg_err)?;
        let out = run_write(&tx, sql, params, pending, true).await?;
        tx.commit().await.map_err(pg_err)?;
        out
    };
    if out.0 {
        crate::metrics::commit(1, committing.elapsed().as_secs_f64());
    }
    Ok(out)
}

pub(super) async fn create_charge(
    store: &PgStore,
    scope: &Scope,
    charge: &Charge,
    doc: String,
    new_source: bool,
    events: Vec<NewEvent>,
) -> StoreResult<()> {
    let pending = pending_key();
    let key = key_row(&pending, Written::Charge(charge))?;
    let (id, src) = (charge.id.as_str(), charge.source.id.as_str());
    let (account, livemode, created) = (scope.account.as_str(), scope.livemode, charge.created_at.unix());
    let ev = EventArgs::new(&events, key.as_ref());
    let text = charge_text(charge);
    let (status, expires, method, currency) =
        (charge.status.name(), charge.expires_at.unix(), charge.source.method.name, charge.currency.code());
    let mut params: Vec<Param<'_>> =
        vec![&src, &account, &livemode, &id, &created, &new_source, &status, &expires, &doc];
    params.extend(ev.params());
    params.extend([&method as Param<'_>, &currency, &text]);
    let mut c = store.client().await?;
    let (inserted, queued) = write_charge(&mut c, CREATE_CHARGE, &params, &pending, key.is_some()).await?;
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
    let rows = if store.marked(&q) {
        deep_page(&c, "charges", "doc", "charges", scope, &q).await?
    } else {
        page(&c, "charges", "doc", scope, None, &q, Some("charges")).await?
    };
    let items = rows.items.iter().map(|r| parse_doc(r.get::<_, &str>(0))).collect::<StoreResult<_>>()?;
    Ok(Page { items, total: rows.total })
}

/// Lost races before a change takes the charge's row lock (see [`update_charge`]).
const OPTIMISTIC_TRIES: usize = 3;

/// Optimistic first, as on SQLite: the charge is read without a lock, changed by the domain, and written
/// by [`UPDATE_CHARGE`] only if it is still at the version read; a change that lost the race reads again.
/// That is two round trips and no explicit transaction, where a locked read needed four (BEGIN, the read,
/// the writes, COMMIT) and a dozen statements (issue 15: `mark_as_paid` on PostgreSQL). After
/// [`OPTIMISTIC_TRIES`] lost races (many refunds at once on one charge) the change reads the charge under
/// its row lock, where it cannot lose; concurrent changes to one charge then queue on any node.
pub(super) async fn update_charge(store: &PgStore, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge> {
    let pending = pending_key();
    let audit = crate::store::users::pending_audit();
    let mut c = store.client().await?;
    for _ in 0..OPTIMISTIC_TRIES {
        let (seq, version, before) = load_versioned(&c, &which, false).await?;
        let change = Change::new(before, &mutation, &pending)?;
        let args = change.args(seq, version, audit.as_ref());
        let (written, queued) =
            write_charge(&mut c, UPDATE_CHARGE, &args.params(), &pending, change.key.is_some()).await?;
        if written {
            return Ok(change.done(store, queued));
        }
    }
    let tx = c.transaction().await.map_err(pg_err)?;
    let (seq, version, before) = load_versioned(&tx, &which, true).await?;
    let change = Change::new(before, &mutation, &pending)?;
    let args = change.args(seq, version, audit.as_ref());
    let (written, queued) = run_write(&tx, UPDATE_CHARGE, &args.params(), &pending, change.key.is_some()).await?;
    if !written {
        return Err(StoreError::Other(anyhow::anyhow!("charge {} changed under its row lock", change.after.id)));
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(change.done(store, queued))
}

/// The refunds a change added (refunds are only ever appended).
fn new_refunds<'c>(before: &Charge, after: &'c Charge) -> &'c [satang_domain::Refund] {
    &after.refunds[before.refunds.len().min(after.refunds.len())..]
}

/// A charge's change, ready to write: the charge before and after, what it books, its events.
struct Change {
    before: Charge,
    after: Charge,
    doc: String,
    /// The search text, when it changed.
    text: Option<String>,
    events: Vec<NewEvent>,
    key: Option<KeyRow>,
    entries: Vec<satang_domain::ledger::LedgerEntry>,
    refund_docs: Vec<String>,
}

impl Change {
    fn new(
        before: Charge,
        mutation: &ChargeMutation,
        pending: &Option<std::sync::Arc<crate::store::idempotency::PendingKey>>,
    ) -> StoreResult<Change> {
        let mut after = before.clone();
        let events = mutation(&mut after)?;
        let doc = crate::json::to_string(&after).map_err(|e| json_err(e.into()))?;
        let key = key_row(pending, Written::Charge(&after))?;
        let entries = satang_domain::ledger::entries_for_change(&before, &after);
        let refund_docs = new_refunds(&before, &after)
            .iter()
            .map(|r| {
                let rec = RefundRecord { charge: after.id.clone(), currency: after.currency, refund: r.clone() };
                serde_json::to_string(&rec).map_err(json_err)
            })
            .collect::<StoreResult<_>>()?;
        let text = text_changed(&before, &after).then(|| charge_text(&after));
        Ok(Change { before, after, doc, text, events, key, entries, refund_docs })
    }

    fn args<'a>(&'a self, seq: i64, version: i64, audit: Option<&'a AuditEntry>) -> UpdateArgs<'a> {
        let new_refunds = new_refunds(&self.before, &self.after);
        let origin = |e: &'a satang_domain::ledger::LedgerEntry| match &e.origin {
            Origin::Charge(id) => (Some(id.as_str()), None),
            Origin::Refund(id) => (None, Some(id.as_str())),
        };
        UpdateArgs {
            scope: (self.after.account.as_str(), self.after.livemode()),
            now: self.events.first().map_or(self.after.created_at, |e| e.created_at).unix(),
            seq,
            version,
            status: self.after.status.name(),
            expires: self.after.expires_at.unix(),
            events: EventArgs::new(&self.events, self.key.as_ref()),
            refund_ids: new_refunds.iter().map(|r| r.id.as_str()).collect(),
            refund_at: new_refunds.iter().map(|r| r.created_at.unix()).collect(),
            ledger_ids: self.entries.iter().map(|e| e.id.as_str()).collect(),
            directions: self.entries.iter().map(|e| e.direction.as_str()).collect(),
            signed: self.entries.iter().map(|e| e.direction.signed(e.amount)).collect(),
            currencies: self.entries.iter().map(|e| e.currency.code()).collect(),
            ledger_charges: self.entries.iter().map(|e| origin(e).0).collect(),
            ledger_refunds: self.entries.iter().map(|e| origin(e).1).collect(),
            ledger_at: self.entries.iter().map(|e| e.created_at.unix()).collect(),
            audit_account: audit.map(|a| a.account.as_str()),
            audit_actor: audit.map(|a| a.actor.as_str()),
            audit_action: audit.map(|a| a.action.as_str()),
            audit_detail: audit.map(|a| a.detail.as_str()),
            audit_at: audit.map(|a| a.created_at.unix()),
            change: self,
            charge_id: self.after.id.as_str(),
        }
    }

    /// After the commit: wake what waits on new events and deliveries.
    fn done(self, store: &PgStore, queued: i64) -> Charge {
        if !self.events.is_empty() {
            store.events.bump();
        }
        if queued > 0 {
            store.wake_workers();
        }
        self.after
    }
}

/// [`UPDATE_CHARGE`]'s parameters, borrowed from a [`Change`] ([`UpdateArgs::params`]).
struct UpdateArgs<'a> {
    change: &'a Change,
    charge_id: &'a str,
    scope: (&'a str, bool),
    now: i64,
    seq: i64,
    version: i64,
    status: &'static str,
    expires: i64,
    events: EventArgs<'a>,
    refund_ids: Vec<&'a str>,
    refund_at: Vec<i64>,
    ledger_ids: Vec<&'a str>,
    directions: Vec<&'static str>,
    signed: Vec<i64>,
    currencies: Vec<&'static str>,
    ledger_charges: Vec<Option<&'a str>>,
    ledger_refunds: Vec<Option<&'a str>>,
    ledger_at: Vec<i64>,
    audit_account: Option<&'a str>,
    audit_actor: Option<&'a str>,
    audit_action: Option<&'a str>,
    audit_detail: Option<&'a str>,
    audit_at: Option<i64>,
}

impl UpdateArgs<'_> {
    fn params(&self) -> Vec<Param<'_>> {
        let c = self.change;
        let mut p: Vec<Param<'_>> = vec![
            &c.doc,
            &self.scope.0,
            &self.scope.1,
            &self.seq,
            &self.now,
            &self.version,
            &self.status,
            &self.expires,
            &c.text,
        ];
        p.extend(self.events.params());
        p.extend([
            &self.charge_id as Param<'_>,
            &self.refund_ids,
            &self.refund_at,
            &c.refund_docs,
            &self.ledger_ids,
            &self.directions,
            &self.signed,
            &self.currencies,
            &self.ledger_charges,
            &self.ledger_refunds,
            &self.ledger_at,
            &self.audit_account,
            &self.audit_actor,
            &self.audit_action,
            &self.audit_detail,
            &self.audit_at,
        ]);
        p
    }
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

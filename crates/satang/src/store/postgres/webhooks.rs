//! Webhook endpoints and signing secrets, and the delivery outbox: the `webhook_endpoints` and
//! `webhook_signing` tables, leasing due `webhook_deliveries` to workers, the `webhook_attempts` log, and
//! redelivery. (New events queue their deliveries in [`super::events`].)

use super::users::insert_audit;
use crate::store::users::pending_audit;

use satang_domain::{AccountId, DeliveryId, EndpointId, EventId, EventKey, Timestamp};
use tokio_postgres::Row;

use super::idempotency;
use super::{PgStore, Tx, bad_id, pg_err};
use crate::store::idempotency::{Written, pending_key};
use crate::store::{
    AttemptRecord, ClaimRequest, ClaimedDelivery, DeliveryOutcome, Scope, SigningSecret, StoreError, StoreResult,
    StoredEvent, WebhookEndpoint,
};

pub(super) async fn ensure_signing_secret(tx: &Tx<'_>, scope: &Scope, now: Timestamp) -> StoreResult<()> {
    tx.execute(
        "insert into webhook_signing (account_id, livemode, secret, created_at) values ($1, $2, $3, $4) \
         on conflict (account_id, livemode) do nothing",
        &[&scope.account.as_str(), &scope.livemode, &crate::webhooks::sign::new_secret(), &now.unix()],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

async fn read_signing_secret(tx: &Tx<'_>, scope: &Scope) -> StoreResult<SigningSecret> {
    let r = tx
        .query_one(
            "select secret, previous_secret, previous_until from webhook_signing where account_id = $1 and livemode = $2",
            &[&scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?;
    Ok(SigningSecret {
        secret: r.get(0),
        previous_secret: r.get(1),
        previous_until: r.get::<_, Option<i64>>(2).map(Timestamp::from_unix),
    })
}

const ENDPOINT_COLUMNS: &str = "id, account_id, livemode, url, secret, previous_secret, previous_until, created_at";

fn endpoint_from(r: &Row) -> StoreResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: EndpointId::try_from(r.get::<_, String>(0)).map_err(bad_id)?,
        account: AccountId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
        livemode: r.get(2),
        url: r.get(3),
        secret: r.get(4),
        previous_secret: r.get(5),
        previous_until: r.get::<_, Option<i64>>(6).map(Timestamp::from_unix),
        created_at: Timestamp::from_unix(r.get(7)),
    })
}

pub(super) async fn create_endpoint(store: &PgStore, ep: &WebhookEndpoint) -> StoreResult<()> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "insert into webhook_endpoints (id, account_id, livemode, url, secret, created_at) \
             select $1, $2, $3, $4, $5, $6 where exists (select 1 from accounts where id = $2)",
            &[&ep.id.as_str(), &ep.account.as_str(), &ep.livemode, &ep.url, &ep.secret, &ep.created_at.unix()],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("account", &ep.account));
    }
    if let Some(a) = &audit {
        insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn list_endpoints(
    store: &PgStore,
    account: &AccountId,
    livemode: Option<bool>,
) -> StoreResult<Vec<WebhookEndpoint>> {
    let rows = store
        .client()
        .await?
        .query(
            &format!(
                "select {ENDPOINT_COLUMNS} from webhook_endpoints where account_id = $1 \
                 and ($2::boolean is null or livemode = $2) order by seq"
            ),
            &[&account.as_str(), &livemode],
        )
        .await
        .map_err(pg_err)?;
    rows.iter().map(endpoint_from).collect()
}

pub(super) async fn get_endpoint(store: &PgStore, id: &EndpointId) -> StoreResult<WebhookEndpoint> {
    let row = store
        .client()
        .await?
        .query_opt(&format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = $1"), &[&id.as_str()])
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("webhook_endpoint", id))?;
    endpoint_from(&row)
}

pub(super) async fn delete_endpoint(store: &PgStore, id: &EndpointId, now: Timestamp) -> StoreResult<()> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx.execute("delete from webhook_endpoints where id = $1", &[&id.as_str()]).await.map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("webhook_endpoint", id));
    }
    tx.execute(
        "update webhook_deliveries set state = 'failed', finished_at = $2, locked_until = null \
         where endpoint_id = $1 and state = 'pending'",
        &[&id.as_str(), &now.unix()],
    )
    .await
    .map_err(pg_err)?;
    if let Some(a) = &audit {
        insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn roll_endpoint_secret(
    store: &PgStore,
    id: &EndpointId,
    secret: String,
    previous_until: Timestamp,
) -> StoreResult<WebhookEndpoint> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let row = tx
        .query_opt(
            &format!(
                "update webhook_endpoints set previous_secret = secret, previous_until = $2, secret = $3 \
                 where id = $1 returning {ENDPOINT_COLUMNS}"
            ),
            &[&id.as_str(), &previous_until.unix(), &secret],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("webhook_endpoint", id))?;
    let ep = endpoint_from(&row)?;
    if let Some(a) = &audit {
        insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(ep)
}

pub(super) async fn signing_secret(store: &PgStore, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    ensure_signing_secret(&tx, scope, now).await?;
    let s = read_signing_secret(&tx, scope).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(s)
}

pub(super) async fn roll_signing_secret(
    store: &PgStore,
    scope: &Scope,
    secret: String,
    previous_until: Timestamp,
    now: Timestamp,
) -> StoreResult<SigningSecret> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    ensure_signing_secret(&tx, scope, now).await?;
    tx.execute(
        "update webhook_signing set previous_secret = secret, previous_until = $3, secret = $4 \
         where account_id = $1 and livemode = $2",
        &[&scope.account.as_str(), &scope.livemode, &previous_until.unix(), &secret],
    )
    .await
    .map_err(pg_err)?;
    let s = read_signing_secret(&tx, scope).await?;
    idempotency::record(&tx, &pending_key(), Written::SigningSecret(&s)).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(s)
}

/// The whole claim as one statement, so one round trip and one implicit transaction (issue 15: BEGIN, a
/// locked scan, the lease, the read and COMMIT were five round trips per claim, on a path that every
/// delivery's latency goes through). Due deliveries are scanned in order with `skip locked` (another
/// worker's scan passes them by), numbered per URL, and a URL's first ones are taken while it stays within
/// `per_target` counting what the worker already has in flight (`$5`/`$6`); saturated URLs (`$4`) are left
/// out of the scan so one slow receiver cannot crowd out the others.
const CLAIM: &str = "\
with cand as ( \
  select seq, url, next_attempt_at from webhook_deliveries where state = 'pending' and next_attempt_at <= $1 \
  and (locked_until is null or locked_until <= $3) and not (url = any($4)) \
  order by next_attempt_at, seq limit $2 for update skip locked \
), picked as ( \
  select c.seq from ( \
    select seq, url, next_attempt_at, row_number() over (partition by url order by next_attempt_at, seq) as n \
    from cand \
  ) c left join unnest($5::text[], $6::bigint[]) as b(url, busy) on b.url = c.url \
  where c.n + coalesce(b.busy, 0) <= $7 \
  order by c.next_attempt_at, c.seq limit $8 \
), leased as ( \
  update webhook_deliveries d set locked_until = $9 from picked p where d.seq = p.seq \
  returning d.seq, d.event_id, d.account_id, d.livemode, d.endpoint_id, d.url, d.attempts, d.created_at, \
    d.next_attempt_at \
) \
select d.seq, d.event_id, d.account_id, d.livemode, d.endpoint_id, d.url, d.attempts, d.created_at, \
  e.key, e.created_at, e.data, a.api_version, \
  coalesce(w.secret, s.secret), coalesce(w.previous_secret, s.previous_secret), \
  coalesce(w.previous_until, s.previous_until) \
from leased d join events e on e.id = d.event_id join accounts a on a.id = d.account_id \
left join webhook_endpoints w on w.id = d.endpoint_id \
left join webhook_signing s on d.endpoint_id is null and s.account_id = d.account_id and s.livemode = d.livemode \
order by d.next_attempt_at, d.seq";

pub(super) async fn claim_deliveries(store: &PgStore, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
    let c = store.client().await?;
    let saturated: Vec<&str> =
        req.busy.iter().filter(|(_, n)| **n >= req.per_target).map(|(u, _)| u.as_str()).collect();
    let (busy_urls, busy): (Vec<&str>, Vec<i64>) = req.busy.iter().map(|(u, n)| (u.as_str(), *n as i64)).unzip();
    let st = c.prepare_cached(CLAIM).await.map_err(pg_err)?;
    let rows = c
        .query(
            &st,
            &[
                &req.now.unix(),
                &((req.limit * 4).max(16) as i64),
                &req.lease_now.unix(),
                &saturated,
                &busy_urls,
                &busy,
                &(req.per_target as i64),
                &(req.limit as i64),
                &req.lease_until.unix(),
            ],
        )
        .await
        .map_err(pg_err)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut orphans: Vec<i64> = Vec::new();
    for r in rows {
        let seq: i64 = r.get(0);
        let Some(secret) = r.get::<_, Option<String>>(12) else {
            orphans.push(seq);
            continue;
        };
        let until: Option<i64> = r.get(14);
        let previous_secret = r.get::<_, Option<String>>(13).filter(|_| until.is_some_and(|u| u > req.now.unix()));
        let livemode: bool = r.get(3);
        let key: String = r.get(8);
        out.push(ClaimedDelivery {
            seq,
            event: StoredEvent {
                id: EventId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
                key: EventKey::parse(&key)
                    .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event key {key}")))?,
                livemode,
                created_at: Timestamp::from_unix(r.get(9)),
                data: r.get(10),
            },
            account: AccountId::try_from(r.get::<_, String>(2)).map_err(bad_id)?,
            api_version: r.get(11),
            url: r.get(5),
            endpoint: r.get::<_, Option<String>>(4).map(EndpointId::try_from).transpose().map_err(bad_id)?,
            attempts: r.get::<_, i32>(6) as u32,
            queued_at: Timestamp::from_unix(r.get(7)),
            secret,
            previous_secret,
        });
    }
    if !orphans.is_empty() {
        // No secret to sign with (its endpoint is gone): nothing can ever send these.
        c.execute(
            "update webhook_deliveries set state = 'failed', finished_at = $2, locked_until = null where seq = any($1)",
            &[&orphans, &req.now.unix()],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(out)
}

pub(super) async fn finish_attempt(
    store: &PgStore,
    seq: i64,
    a: AttemptRecord,
    outcome: DeliveryOutcome,
) -> StoreResult<()> {
    let c = store.client().await?;
    let status = a.status.map(|s| s as i32);
    let now = a.created_at.unix();
    let (state, next, finished): (&str, Option<i64>, Option<i64>) = match outcome {
        DeliveryOutcome::Delivered => ("delivered", None, Some(now)),
        DeliveryOutcome::RetryAt(t) => ("pending", Some(t.unix()), None),
        DeliveryOutcome::GaveUp => ("failed", None, Some(now)),
    };
    // One statement (so one round trip, and atomic): the attempt's log row and the delivery's new state.
    let st = c
        .prepare_cached(
            "with attempt as (insert into webhook_attempts \
             (id, delivery_id, event_id, url, status, error, duration_ms, payload, created_at, response) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $14)) \
             update webhook_deliveries set state = $11, attempts = attempts + 1, \
             next_attempt_at = coalesce($12, next_attempt_at), finished_at = $13, locked_until = null where seq = $10",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &st,
        &[
            &a.id.as_str(),
            &seq.to_string(),
            &a.event.as_str(),
            &a.url,
            &status,
            &a.error,
            &(a.duration_ms as i64),
            &a.payload,
            &a.created_at.unix(),
            &seq,
            &state,
            &next,
            &finished,
            &a.response,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn outbox_stats(store: &PgStore) -> StoreResult<(u64, Option<Timestamp>)> {
    let row = store
        .client()
        .await?
        .query_one("select count(*), min(created_at) from webhook_deliveries where state = 'pending'", &[])
        .await
        .map_err(pg_err)?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, Option<i64>>(1).map(Timestamp::from_unix)))
}

pub(super) async fn list_attempts(store: &PgStore, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let rows = store
        .client()
        .await?
        .query(
            "select id, event_id, url, status, error, duration_ms, payload, created_at, response \
             from webhook_attempts where event_id = any($1) order by seq",
            &[&ids],
        )
        .await
        .map_err(pg_err)?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRecord {
                id: DeliveryId::try_from(r.get::<_, String>(0)).map_err(bad_id)?,
                event: EventId::try_from(r.get::<_, String>(1)).map_err(bad_id)?,
                url: r.get(2),
                status: r.get::<_, Option<i32>>(3).map(|s| s as u16),
                error: r.get(4),
                duration_ms: r.get::<_, i64>(5) as u64,
                payload: r.get(6),
                response: r.get(8),
                created_at: Timestamp::from_unix(r.get(7)),
            })
        })
        .collect()
}

pub(super) async fn redeliver(store: &PgStore, scope: &Scope, event: &EventId, now: Timestamp) -> StoreResult<usize> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let exists = tx
        .query_opt(
            "select 1 from events where id = $1 and account_id = $2 and livemode = $3",
            &[&event.as_str(), &scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?;
    if exists.is_none() {
        return Err(StoreError::not_found("event", event));
    }
    // A target that already has a fresh copy of this event (queued by an earlier call, not yet tried, not in
    // flight) gets no other: calls in a loop queue at most one waiting copy per target (see
    // `Store::redeliver`). A copy being sent right now, or one that failed and waits for its retry, does not
    // count: the call sends the event again now. Leases are wall-clock time (see `claim_deliveries`).
    let wall = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
    let fresh: i64 = tx
        .query_one(
            "select count(*) from webhook_deliveries where event_id = $1 and state = 'pending' \
             and attempts = 0 and (locked_until is null or locked_until <= $2)",
            &[&event.as_str(), &wall],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    // A charge's own URLs are the event's targets for good; otherwise the account's endpoints now.
    let own_urls: bool = tx
        .query_one(
            "select exists(select 1 from webhook_deliveries where event_id = $1 and endpoint_id is null)",
            &[&event.as_str()],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    let args: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&event.as_str(), &scope.account.as_str(), &scope.livemode, &now.unix(), &wall];
    let queued = if own_urls {
        tx.execute(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) select $1, $2, $3, null, u.url, 'pending', 0, $4, $4 \
             from (select distinct url from webhook_deliveries where event_id = $1 and endpoint_id is null) u \
             where not exists (select 1 from webhook_deliveries d where d.event_id = $1 \
             and d.endpoint_id is null and d.url = u.url and d.state = 'pending' and d.attempts = 0 \
             and (d.locked_until is null or d.locked_until <= $5))",
            &args,
        )
        .await
    } else {
        tx.execute(
            "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, attempts, \
             next_attempt_at, created_at) select $1, e.account_id, e.livemode, e.id, e.url, 'pending', 0, $4, $4 \
             from webhook_endpoints e where e.account_id = $2 and e.livemode = $3 \
             and not exists (select 1 from webhook_deliveries d where d.event_id = $1 \
             and d.endpoint_id = e.id and d.state = 'pending' and d.attempts = 0 \
             and (d.locked_until is null or d.locked_until <= $5))",
            &args,
        )
        .await
    }
    .map_err(pg_err)?;
    let n = queued + fresh as u64;
    if let Some(a) = &audit {
        insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)?;
    if n > 0 {
        store.wake_workers();
    }
    Ok(n as usize)
}

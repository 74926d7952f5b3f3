//! Webhook endpoints and signing secrets, and the delivery outbox: the `webhook_endpoints` and
//! `webhook_signing` tables, leasing due `webhook_deliveries` to workers, the `webhook_attempts` log, and
//! redelivery. (New events queue their deliveries in [`super::events`].)

use super::users::insert_audit;
use crate::store::users::pending_audit;
use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{AccountId, DeliveryId, EndpointId, EventId, Timestamp};

use super::events::event_row;
use super::idempotency;
use super::writer::OUTBOX_TOUCHED;
use super::{SqliteStore, sql_err};
use crate::store::idempotency::{Written, pending_key};
use crate::store::{
    AttemptRecord, ClaimRequest, ClaimedDelivery, DeliveryOutcome, Scope, SigningSecret, StoreError, StoreResult,
    WebhookEndpoint,
};

pub(super) fn ensure_signing_secret(conn: &Connection, scope: &Scope, now: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into webhook_signing (account_id, livemode, secret, created_at) values (?1, ?2, ?3, ?4) \
         on conflict (account_id, livemode) do nothing",
    )
    .and_then(|mut st| {
        st.execute(params![scope.account.as_str(), scope.livemode, crate::webhooks::sign::new_secret(), now.unix()])
    })
    .map_err(sql_err)?;
    Ok(())
}

fn read_signing_secret(conn: &Connection, scope: &Scope) -> StoreResult<SigningSecret> {
    conn.prepare_cached(
        "select secret, previous_secret, previous_until from webhook_signing where account_id = ?1 and livemode = ?2",
    )
    .and_then(|mut st| {
        st.query_row(params![scope.account.as_str(), scope.livemode], |r| {
            Ok(SigningSecret {
                secret: r.get(0)?,
                previous_secret: r.get(1)?,
                previous_until: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix),
            })
        })
    })
    .map_err(sql_err)
}

const ENDPOINT_COLUMNS: &str = "id, account_id, livemode, url, secret, previous_secret, previous_until, created_at";

/// A webhook endpoint row's columns, in [`ENDPOINT_COLUMNS`] order.
type EndpointRow = (String, String, bool, String, String, Option<String>, Option<i64>, i64);

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn endpoint(row: EndpointRow) -> StoreResult<WebhookEndpoint> {
    let (id, account, livemode, url, secret, previous_secret, previous_until, created) = row;
    let other = |e: satang_domain::BadId| StoreError::Other(e.into());
    Ok(WebhookEndpoint {
        id: EndpointId::try_from(id).map_err(other)?,
        account: AccountId::try_from(account).map_err(other)?,
        livemode,
        url,
        secret,
        previous_secret,
        previous_until: previous_until.map(Timestamp::from_unix),
        created_at: Timestamp::from_unix(created),
    })
}

pub(super) async fn create_endpoint(store: &SqliteStore, ep: &WebhookEndpoint) -> StoreResult<()> {
    let pending = pending_key();
    let key = idempotency::render(&pending, Written::Endpoint(ep))?;
    let ep = ep.clone();
    let audit = pending_audit();
    let written = store
        .write(move |c| {
            c.execute(
                "insert into webhook_endpoints (id, account_id, livemode, url, secret, created_at) \
             select ?1, ?2, ?3, ?4, ?5, ?6 where exists (select 1 from accounts where id = ?2)",
                params![ep.id.as_str(), ep.account.as_str(), ep.livemode, ep.url, ep.secret, ep.created_at.unix()],
            )
            .map_err(sql_err)
            .and_then(|n| if n == 0 { Err(StoreError::not_found("account", &ep.account)) } else { Ok(()) })?;
            if let Some(a) = &audit {
                insert_audit(c, a)?;
            }
            idempotency::insert_rendered(c, &key)
        })
        .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn list_endpoints(
    store: &SqliteStore,
    account: &AccountId,
    livemode: Option<bool>,
) -> StoreResult<Vec<WebhookEndpoint>> {
    let account = account.clone();
    store.read(move |c| {
        let rows = c
            .prepare_cached(&format!(
                "select {ENDPOINT_COLUMNS} from webhook_endpoints where account_id = ?1 and (?2 is null or livemode = ?2) order by seq"
            ))
            .and_then(|mut st| st.query_map(params![account.as_str(), livemode], endpoint_row)?.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err)?;
        rows.into_iter().map(endpoint).collect()
    })
    .await
}

pub(super) async fn get_endpoint(store: &SqliteStore, id: &EndpointId) -> StoreResult<WebhookEndpoint> {
    let id = id.clone();
    store
        .read(move |c| {
            let row = c
                .prepare_cached(&format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = ?1"))
                .and_then(|mut st| st.query_row([id.as_str()], endpoint_row).optional())
                .map_err(sql_err)?;
            endpoint(row.ok_or_else(|| StoreError::not_found("webhook_endpoint", &id))?)
        })
        .await
}

pub(super) async fn delete_endpoint(store: &SqliteStore, id: &EndpointId, now: Timestamp) -> StoreResult<()> {
    let id = id.clone();
    let audit = pending_audit();
    store
        .write(move |c| {
            let n = c.execute("delete from webhook_endpoints where id = ?1", [id.as_str()]).map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("webhook_endpoint", &id));
            }
            c.execute(
                "update webhook_deliveries set state = 'failed', finished_at = ?2, locked_until = null \
             where endpoint_id = ?1 and state = 'pending'",
                params![id.as_str(), now.unix()],
            )
            .map_err(sql_err)?;
            if let Some(a) = &audit {
                insert_audit(c, a)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn roll_endpoint_secret(
    store: &SqliteStore,
    id: &EndpointId,
    secret: String,
    previous_until: Timestamp,
) -> StoreResult<WebhookEndpoint> {
    let id = id.clone();
    let pending = pending_key();
    let p = pending.clone();
    let audit = pending_audit();
    let written = store
        .write(move |c| {
            let n = c
            .execute(
                "update webhook_endpoints set previous_secret = secret, previous_until = ?2, secret = ?3 where id = ?1",
                params![id.as_str(), previous_until.unix(), secret],
            )
            .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("webhook_endpoint", &id));
            }
            let row = c
                .query_row(
                    &format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = ?1"),
                    [id.as_str()],
                    endpoint_row,
                )
                .map_err(sql_err)?;
            let ep = endpoint(row)?;
            if let Some(a) = &audit {
                insert_audit(c, a)?;
            }
            idempotency::insert_rendered(c, &idempotency::render(&p, Written::Endpoint(&ep))?)?;
            Ok(ep)
        })
        .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn signing_secret(store: &SqliteStore, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret> {
    let scope = scope.clone();
    store
        .write(move |c| {
            ensure_signing_secret(c, &scope, now)?;
            read_signing_secret(c, &scope)
        })
        .await
}

pub(super) async fn roll_signing_secret(
    store: &SqliteStore,
    scope: &Scope,
    secret: String,
    previous_until: Timestamp,
    now: Timestamp,
) -> StoreResult<SigningSecret> {
    let scope = scope.clone();
    let pending = pending_key();
    let p = pending.clone();
    let written = store
        .write(move |c| {
            ensure_signing_secret(c, &scope, now)?;
            c.execute(
                "update webhook_signing set previous_secret = secret, previous_until = ?3, secret = ?4 \
             where account_id = ?1 and livemode = ?2",
                params![scope.account.as_str(), scope.livemode, previous_until.unix(), secret],
            )
            .map_err(sql_err)?;
            let s = read_signing_secret(c, &scope)?;
            idempotency::insert_rendered(c, &idempotency::render(&p, Written::SigningSecret(&s))?)?;
            Ok(s)
        })
        .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn claim_deliveries(store: &SqliteStore, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
    let req_w = req.clone();
    let claim = move |c: &Connection| -> StoreResult<Vec<i64>> {
        let req = &req_w;
        let saturated: Vec<&String> = req.busy.iter().filter(|(_, n)| **n >= req.per_target).map(|(u, _)| u).collect();
        // Saturated URLs are left out of the scan so one slow receiver cannot crowd out the others.
        let skip = if saturated.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..saturated.len()).map(|i| format!("?{}", i + 3)).collect();
            format!(" and url not in ({})", marks.join(", "))
        };
        // A literal limit (see the module docs).
        let sql = format!(
            "select seq, url from webhook_deliveries where state = 'pending' and next_attempt_at <= ?1 \
             and (locked_until is null or locked_until <= ?2){skip} order by next_attempt_at, seq limit {}",
            (req.limit * 4).max(16)
        );
        let mut args: Vec<rusqlite::types::Value> = vec![req.now.unix().into(), req.lease_now.unix().into()];
        args.extend(saturated.iter().map(|u| rusqlite::types::Value::Text((*u).clone())));
        // Numbered placeholders throughout: the skip list is ?3, ?4, … after due time and lease time.
        let candidates: Vec<(i64, String)> = c
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(rusqlite::params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)?;
        let mut taken: std::collections::HashMap<String, usize> = req.busy.clone();
        let mut picked = Vec::new();
        for (seq, url) in candidates {
            if picked.len() >= req.limit {
                break;
            }
            let n = taken.entry(url).or_insert(0);
            if *n < req.per_target {
                *n += 1;
                picked.push(seq);
            }
        }
        // The writer only takes the leases; what is needed to send is read afterwards, off its thread.
        for seq in &picked {
            c.prepare_cached("update webhook_deliveries set locked_until = ?2 where seq = ?1")
                .and_then(|mut st| st.execute(params![seq, req.lease_until.unix()]))
                .map_err(sql_err)?;
        }
        Ok(picked)
    };
    let picked = store.write(claim).await?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let now = req.now;
    store.read(move |c| {
        let mut out = Vec::with_capacity(picked.len());
        for seq in picked {
            let row = c
                .prepare_cached(
                    "select d.event_id, d.account_id, d.livemode, d.endpoint_id, d.url, d.attempts, d.created_at, \
                     e.key, e.created_at, e.data, a.api_version, \
                     coalesce(w.secret, s.secret), coalesce(w.previous_secret, s.previous_secret), \
                     coalesce(w.previous_until, s.previous_until) \
                     from webhook_deliveries d join events e on e.id = d.event_id join accounts a on a.id = d.account_id \
                     left join webhook_endpoints w on w.id = d.endpoint_id \
                     left join webhook_signing s on d.endpoint_id is null and s.account_id = d.account_id \
                     and s.livemode = d.livemode where d.seq = ?1",
                )
                .and_then(|mut st| {
                    st.query_row([seq], |r| {
                        Ok((
                            (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, Option<String>>(3)?),
                            (r.get::<_, String>(4)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?),
                            (r.get::<_, String>(7)?, r.get::<_, i64>(8)?, r.get::<_, String>(9)?, r.get::<_, String>(10)?),
                            (r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?, r.get::<_, Option<i64>>(13)?),
                        ))
                    })
                })
                .map_err(sql_err)?;
            let ((event_id, account, livemode, endpoint_id), (url, attempts, queued), (key, created, data, version), secrets) = row;
            // An endpoint removed after queueing has no secret: its deliveries were marked failed with it.
            let (Some(secret), previous, until) = secrets else { continue };
            let previous_secret = previous.filter(|_| until.is_some_and(|u| u > now.unix()));
            let other = |e: satang_domain::BadId| StoreError::Other(e.into());
            out.push(ClaimedDelivery {
                seq,
                event: event_row(event_id, key, livemode, created, data)?,
                account: AccountId::try_from(account).map_err(other)?,
                api_version: version,
                url,
                endpoint: endpoint_id.map(EndpointId::try_from).transpose().map_err(other)?,
                attempts: attempts as u32,
                queued_at: Timestamp::from_unix(queued),
                secret,
                previous_secret,
            });
        }
        Ok(out)
    })
    .await
}

pub(super) async fn finish_attempt(
    store: &SqliteStore,
    seq: i64,
    a: AttemptRecord,
    outcome: DeliveryOutcome,
) -> StoreResult<()> {
    store
        .write(move |c| {
            c.prepare_cached(
                "insert into webhook_attempts \
             (id, delivery_id, event_id, url, status, error, duration_ms, payload, created_at, response) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    a.id.as_str(),
                    seq.to_string(),
                    a.event.as_str(),
                    a.url,
                    a.status,
                    a.error,
                    a.duration_ms as i64,
                    a.payload,
                    a.created_at.unix(),
                    a.response
                ])
            })
            .map_err(sql_err)?;
            let now = a.created_at.unix();
            let (state, next, finished) = match outcome {
                DeliveryOutcome::Delivered => ("delivered", None, Some(now)),
                DeliveryOutcome::RetryAt(t) => ("pending", Some(t.unix()), None),
                DeliveryOutcome::GaveUp => ("failed", None, Some(now)),
            };
            c.prepare_cached(
                "update webhook_deliveries set state = ?2, attempts = attempts + 1, \
             next_attempt_at = coalesce(?3, next_attempt_at), finished_at = ?4, locked_until = null where seq = ?1",
            )
            .and_then(|mut st| st.execute(params![seq, state, next, finished]))
            .map_err(sql_err)?;
            Ok(())
        })
        .await
}

pub(super) async fn outbox_stats(store: &SqliteStore) -> StoreResult<(u64, Option<Timestamp>)> {
    store
        .scan(|c| {
            c.query_row("select count(*), min(created_at) from webhook_deliveries where state = 'pending'", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<i64>>(1)?.map(Timestamp::from_unix)))
            })
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn list_attempts(store: &SqliteStore, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    store
        .scan(move |c| {
            let sql = format!(
                "select id, event_id, url, status, error, duration_ms, payload, created_at, response \
                 from webhook_attempts where event_id in ({}) order by seq",
                vec!["?"; ids.len()].join(", ")
            );
            let rows = c
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_map(rusqlite::params_from_iter(ids.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<u16>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, i64>(7)?,
                            r.get::<_, Option<String>>(8)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(id, event, url, status, error, ms, payload, at, response)| {
                    let other = |e: satang_domain::BadId| StoreError::Other(e.into());
                    Ok(AttemptRecord {
                        id: DeliveryId::try_from(id).map_err(other)?,
                        event: EventId::try_from(event).map_err(other)?,
                        url,
                        status,
                        error,
                        duration_ms: ms as u64,
                        payload,
                        response,
                        created_at: Timestamp::from_unix(at),
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn redeliver(
    store: &SqliteStore,
    scope: &Scope,
    event: &EventId,
    now: Timestamp,
) -> StoreResult<usize> {
    let (scope, event) = (scope.clone(), event.clone());
    let audit = pending_audit();
    store
        .write(move |c| {
            let exists: Option<i64> = c
                .query_row(
                    "select 1 from events where id = ?1 and account_id = ?2 and livemode = ?3",
                    params![event.as_str(), scope.account.as_str(), scope.livemode],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err)?;
            if exists.is_none() {
                return Err(StoreError::not_found("event", &event));
            }
            // A target that already has a fresh copy of this event (queued by an earlier call, not yet tried,
            // not in flight) gets no other: calls in a loop queue at most one waiting copy per target (see
            // `Store::redeliver`). A copy being sent right now, or one that failed and waits for its retry,
            // does not count: the call sends the event again now.
            let wall = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
            let fresh: usize = c
                .query_row(
                    "select count(*) from webhook_deliveries where event_id = ?1 and state = 'pending' \
                     and attempts = 0 and (locked_until is null or locked_until <= ?2)",
                    params![event.as_str(), wall],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(sql_err)? as usize;
            // A charge's own URLs are the event's targets for good; otherwise the account's endpoints now.
            let own_urls: bool = c
                .query_row(
                    "select exists(select 1 from webhook_deliveries where event_id = ?1 and endpoint_id is null)",
                    params![event.as_str()],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            // Leases are wall-clock time (see `claim_deliveries`).
            let args = params![event.as_str(), scope.account.as_str(), scope.livemode, now.unix(), wall];
            let queued = if own_urls {
                c.execute(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, \
                     attempts, next_attempt_at, created_at) select ?1, ?2, ?3, null, u.url, 'pending', 0, ?4, ?4 \
                     from (select distinct url from webhook_deliveries where event_id = ?1 and endpoint_id is null) u \
                     where not exists (select 1 from webhook_deliveries d where d.event_id = ?1 \
                     and d.endpoint_id is null and d.url = u.url and d.state = 'pending' and d.attempts = 0 \
                     and (d.locked_until is null or d.locked_until <= ?5))",
                    args,
                )
            } else {
                c.execute(
                    "insert into webhook_deliveries (event_id, account_id, livemode, endpoint_id, url, state, \
                     attempts, next_attempt_at, created_at) select ?1, e.account_id, e.livemode, e.id, e.url, \
                     'pending', 0, ?4, ?4 from webhook_endpoints e where e.account_id = ?2 and e.livemode = ?3 \
                     and not exists (select 1 from webhook_deliveries d where d.event_id = ?1 \
                     and d.endpoint_id = e.id and d.state = 'pending' and d.attempts = 0 \
                     and (d.locked_until is null or d.locked_until <= ?5))",
                    args,
                )
            }
            .map_err(sql_err)?;
            let n = queued + fresh;
            if let Some(a) = &audit {
                insert_audit(c, a)?;
            }
            if n > 0 {
                OUTBOX_TOUCHED.with(|t| t.set(true));
            }
            Ok(n)
        })
        .await
}

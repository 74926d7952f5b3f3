//! `idempotency_keys`: recording a key in the write job of the effect it guards, looking one up, pruning
//! old ones. The rules are in `store/idempotency.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::Timestamp;

use super::{SqliteStore, sql_err};
use crate::api::idempotency::KEY_LIFETIME_SECONDS;
use crate::store::idempotency::{KeyRow, PendingKey, StoredResponse, Written};
use crate::store::{Scope, StoreError, StoreResult};

/// Inserts the key's row, replacing one older than the key lifetime; `KeyTaken` (rolling the job back)
/// when a live row holds the key.
pub(super) fn insert(c: &Connection, row: &KeyRow) -> StoreResult<()> {
    let r = &row.response;
    let expired_before = r.created_at.plus_seconds(-KEY_LIFETIME_SECONDS).unix();
    let n = c
        .prepare_cached(
            "insert into idempotency_keys (account_id, livemode, key, fingerprint, status, version, body, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             on conflict (account_id, livemode, key) do update set fingerprint = excluded.fingerprint, \
               status = excluded.status, version = excluded.version, body = excluded.body, \
               created_at = excluded.created_at \
             where idempotency_keys.created_at < ?9",
        )
        .and_then(|mut st| {
            st.execute(params![
                row.scope.account.as_str(),
                row.scope.livemode,
                row.key,
                r.fingerprint,
                r.status,
                r.version,
                r.body,
                r.created_at.unix(),
                expired_before
            ])
        })
        .map_err(sql_err)?;
    if n == 0 { Err(StoreError::KeyTaken) } else { Ok(()) }
}

/// The row to write with this job for the request's pending key, rendered from what the job writes.
pub(super) fn render(pending: &Option<Arc<PendingKey>>, written: Written<'_>) -> StoreResult<Option<KeyRow>> {
    match pending.as_ref().and_then(|p| p.render(written)) {
        None => Ok(None),
        Some(Ok(row)) => Ok(Some(row)),
        Some(Err(e)) => Err(StoreError::Other(anyhow::anyhow!("rendering the Idempotency-Key response: {e}"))),
    }
}

/// Inserts the rendered row, if any (inside a write job).
pub(super) fn insert_rendered(c: &Connection, row: &Option<KeyRow>) -> StoreResult<()> {
    match row {
        Some(row) => insert(c, row),
        None => Ok(()),
    }
}

/// Tells the pending key that another request recorded it first.
pub(super) fn note_taken<T>(pending: &Option<Arc<PendingKey>>, result: StoreResult<T>) -> StoreResult<T> {
    if let (Err(StoreError::KeyTaken), Some(p)) = (&result, pending) {
        p.mark_taken();
    }
    result
}

pub(super) async fn lookup(
    store: &SqliteStore,
    scope: &Scope,
    key: &str,
    since: Timestamp,
) -> StoreResult<Option<StoredResponse>> {
    let (scope, key) = (scope.clone(), key.to_string());
    store
        .read(move |c| {
            c.prepare_cached(
                "select fingerprint, status, version, body, created_at from idempotency_keys \
                 where account_id = ?1 and livemode = ?2 and key = ?3 and created_at >= ?4",
            )
            .and_then(|mut st| {
                st.query_row(params![scope.account.as_str(), scope.livemode, key, since.unix()], |r| {
                    Ok(StoredResponse {
                        fingerprint: r.get(0)?,
                        status: r.get(1)?,
                        version: r.get(2)?,
                        body: r.get(3)?,
                        created_at: Timestamp::from_unix(r.get(4)?),
                    })
                })
                .optional()
            })
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn record_after(store: &SqliteStore, row: &KeyRow) -> StoreResult<()> {
    let row = row.clone();
    match store.write(move |c| insert(c, &row)).await {
        // Recorded by another request meanwhile: theirs stands.
        Err(StoreError::KeyTaken) => Ok(()),
        other => other,
    }
}

/// Deletes rows past their lifetime, at most once a minute (every housekeeping round would otherwise
/// commit, and fsync, an empty delete each second).
pub(super) async fn prune(store: &SqliteStore, last: &AtomicI64) -> StoreResult<()> {
    let now = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
    let prev = last.load(Ordering::Relaxed);
    if now - prev < 60 || last.compare_exchange(prev, now, Ordering::SeqCst, Ordering::Relaxed).is_err() {
        return Ok(());
    }
    let before = now - KEY_LIFETIME_SECONDS - 3600;
    let any: bool = store
        .read(move |c| {
            c.query_row("select exists (select 1 from idempotency_keys where created_at < ?1)", [before], |r| r.get(0))
                .map_err(sql_err)
        })
        .await?;
    if any {
        store
            .write(move |c| {
                c.execute("delete from idempotency_keys where created_at < ?1", [before]).map_err(sql_err)?;
                Ok(())
            })
            .await?;
    }
    Ok(())
}

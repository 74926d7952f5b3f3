//! `idempotency_keys`: recording a key in the transaction of the effect it guards, looking one up, pruning
//! old ones. The rules are in `store/idempotency.rs`.

use std::sync::Arc;

use satang_domain::Timestamp;

use super::{PgStore, Tx, pg_err};
use crate::api::idempotency::KEY_LIFETIME_SECONDS;
use crate::store::idempotency::{KeyRow, PendingKey, StoredResponse, Written};
use crate::store::{Scope, StoreError, StoreResult};

const INSERT: &str = "insert into idempotency_keys \
     (account_id, livemode, key, fingerprint, status, version, body, created_at) \
     values ($1, $2, $3, $4, $5, $6, $7, $8) \
     on conflict (account_id, livemode, key) do update set fingerprint = excluded.fingerprint, \
       status = excluded.status, version = excluded.version, body = excluded.body, created_at = excluded.created_at \
     where idempotency_keys.created_at < $9";

/// Inserts the row (replacing one past its lifetime). When a live row holds the key, the pending key is told
/// and the error rolls the caller's transaction back. The unique index makes a racing request on another
/// node wait for this transaction, then fail the same way.
async fn insert(tx: &Tx<'_>, row: &KeyRow) -> StoreResult<()> {
    let r = &row.response;
    let expired_before = r.created_at.plus_seconds(-KEY_LIFETIME_SECONDS).unix();
    let st = tx.prepare_cached(INSERT).await.map_err(pg_err)?;
    let n = tx
        .execute(
            &st,
            &[
                &row.scope.account.as_str(),
                &row.scope.livemode,
                &row.key,
                &r.fingerprint,
                &i32::from(r.status),
                &r.version,
                &r.body,
                &r.created_at.unix(),
                &expired_before,
            ],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 { Err(StoreError::KeyTaken) } else { Ok(()) }
}

/// Records the request's pending key, if any, with what this transaction wrote.
pub(super) async fn record(tx: &Tx<'_>, pending: &Option<Arc<PendingKey>>, written: Written<'_>) -> StoreResult<()> {
    let Some(p) = pending else { return Ok(()) };
    let row = match p.render(written) {
        None => return Ok(()),
        Some(Ok(row)) => row,
        Some(Err(e)) => {
            return Err(StoreError::Other(anyhow::anyhow!("rendering the Idempotency-Key response: {e}")));
        }
    };
    let inserted = insert(tx, &row).await;
    if matches!(inserted, Err(StoreError::KeyTaken)) {
        p.mark_taken();
    }
    inserted
}

pub(super) async fn lookup(
    store: &PgStore,
    scope: &Scope,
    key: &str,
    since: Timestamp,
) -> StoreResult<Option<StoredResponse>> {
    let c = store.client().await?;
    let st = c
        .prepare_cached(
            "select fingerprint, status, version, body, created_at from idempotency_keys \
             where account_id = $1 and livemode = $2 and key = $3 and created_at >= $4",
        )
        .await
        .map_err(pg_err)?;
    let row =
        c.query_opt(&st, &[&scope.account.as_str(), &scope.livemode, &key, &since.unix()]).await.map_err(pg_err)?;
    Ok(row.map(|r| StoredResponse {
        fingerprint: r.get(0),
        status: u16::try_from(r.get::<_, i32>(1)).unwrap_or(500),
        version: r.get(2),
        body: r.get(3),
        created_at: Timestamp::from_unix(r.get(4)),
    }))
}

pub(super) async fn record_after(store: &PgStore, row: &KeyRow) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    match insert(&tx, row).await {
        // Recorded by another request meanwhile: theirs stands.
        Err(StoreError::KeyTaken) => Ok(()),
        Err(e) => Err(e),
        Ok(()) => tx.commit().await.map_err(pg_err),
    }
}

/// Deletes rows well past their lifetime (an index range on `created_at`; cheap when there are none).
pub(super) async fn prune(store: &PgStore) -> StoreResult<()> {
    let before = satang_domain::Clock::now(&satang_domain::SystemClock).unix() - KEY_LIFETIME_SECONDS - 3600;
    let c = store.client().await?;
    c.execute("delete from idempotency_keys where created_at < $1", &[&before]).await.map_err(pg_err)?;
    Ok(())
}

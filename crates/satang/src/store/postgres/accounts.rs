//! Accounts, their API keys (found by the key's hash) and their own fee schedules: the `accounts`,
//! `api_keys` and `fee_schedules` tables.

use satang_domain::{AccountId, Currency, FeeSchedule, Timestamp};

use super::{PgStore, bad_id, json_err, parse_doc, pg_err};
use crate::store::users::{AuditEntry, pending_audit};
use crate::store::{
    Account, AccountSettings, CheckoutSettings, KeyGrant, KeyInfo, KeyKind, KeyRecord, NewAccount, StoreError,
    StoreResult,
};

pub(super) async fn create_account(store: &PgStore, a: NewAccount) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    tx.execute(
        "insert into accounts (id, name, created_at, api_version) values ($1, $2, $3, $4)",
        &[&a.id.as_str(), &a.name, &a.created_at.unix(), &a.api_version],
    )
    .await
    .map_err(pg_err)?;
    for k in &a.keys {
        tx.execute(
            "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
            &[&k.hash, &a.id.as_str(), &k.livemode, &k.kind.as_str(), &k.public_key, &k.hint, &a.created_at.unix()],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn count_accounts(store: &PgStore) -> StoreResult<u64> {
    let n: i64 = store.client().await?.query_one("select count(*) from accounts", &[]).await.map_err(pg_err)?.get(0);
    Ok(n as u64)
}

pub(super) async fn get_account(store: &PgStore, id: &AccountId) -> StoreResult<Account> {
    let row = store
        .client()
        .await?
        .query_opt(
            "select name, created_at, api_version, allowed_origins, shop_url, logo_url, support_url from accounts \
             where id = $1",
            &[&id.as_str()],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("account", id))?;
    Ok(Account {
        id: id.clone(),
        name: row.get(0),
        created_at: Timestamp::from_unix(row.get(1)),
        api_version: row.get(2),
        checkout: CheckoutSettings::from_columns(row.get(3), row.get(4), row.get(5), row.get(6)),
    })
}

pub(super) async fn set_checkout_settings(
    store: &PgStore,
    id: &AccountId,
    settings: &CheckoutSettings,
) -> StoreResult<()> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "update accounts set allowed_origins = $2, shop_url = $3, logo_url = $4, support_url = $5 where id = $1",
            &[&id.as_str(), &settings.origins_column(), &settings.shop_url, &settings.logo_url, &settings.support_url],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("account", id));
    }
    if let Some(a) = &audit {
        super::users::insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn set_account_settings(store: &PgStore, id: &AccountId, s: &AccountSettings) -> StoreResult<()> {
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "update accounts set name = $2, api_version = $3, allowed_origins = $4, shop_url = $5, logo_url = $6, \
             support_url = $7 where id = $1",
            &[
                &id.as_str(),
                &s.name,
                &s.api_version,
                &s.checkout.origins_column(),
                &s.checkout.shop_url,
                &s.checkout.logo_url,
                &s.checkout.support_url,
            ],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("account", id));
    }
    if let Some(a) = &audit {
        super::users::insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn find_key(store: &PgStore, hash: &str) -> StoreResult<Option<KeyGrant>> {
    let c = store.client().await?;
    let st = c
        .prepare_cached(
            "select k.account_id, a.name, k.livemode, k.kind, a.api_version, k.expires_at from api_keys k \
             join accounts a on a.id = k.account_id where k.hash = $1",
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = c.query_opt(&st, &[&hash]).await.map_err(pg_err)? else { return Ok(None) };
    let kind: String = row.get(3);
    Ok(Some(KeyGrant {
        account: AccountId::try_from(row.get::<_, String>(0)).map_err(bad_id)?,
        account_name: row.get(1),
        livemode: row.get(2),
        kind: if kind == "secret" { KeyKind::Secret } else { KeyKind::Public },
        api_version: row.get(4),
        expires_at: row.get::<_, Option<i64>>(5).map(Timestamp::from_unix),
    }))
}

pub(super) async fn fee_schedule(
    store: &PgStore,
    account: &AccountId,
    method: &str,
    currency: Currency,
) -> StoreResult<Option<FeeSchedule>> {
    let c = store.client().await?;
    let st = c
        .prepare_cached("select schedule from fee_schedules where account_id = $1 and method = $2 and currency = $3")
        .await
        .map_err(pg_err)?;
    let row = c.query_opt(&st, &[&account.as_str(), &method, &currency.code()]).await.map_err(pg_err)?;
    row.map(|r| parse_doc(r.get::<_, &str>(0))).transpose()
}

pub(super) async fn set_fee_schedule(
    store: &PgStore,
    account: &AccountId,
    method: &str,
    currency: Currency,
    schedule: FeeSchedule,
) -> StoreResult<()> {
    let doc = serde_json::to_string(&schedule).map_err(json_err)?;
    let now = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
    let audit = pending_audit();
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "insert into fee_schedules (account_id, method, currency, schedule, updated_at) \
             select $1, $2, $3, $4, $5 where exists (select 1 from accounts where id = $1) \
             on conflict (account_id, method, currency) do update set schedule = excluded.schedule, \
             updated_at = excluded.updated_at",
            &[&account.as_str(), &method, &currency.code(), &doc, &now],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("account", account));
    }
    if let Some(a) = &audit {
        super::users::insert_audit(&tx, a).await?;
    }
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn list_keys(store: &PgStore, account: &AccountId) -> StoreResult<Vec<KeyInfo>> {
    let rows = store
        .client()
        .await?
        .query(
            "select kind, livemode, hint, public_key, created_at, expires_at from api_keys where account_id = $1 \
             order by created_at, hash",
            &[&account.as_str()],
        )
        .await
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| KeyInfo {
            kind: if r.get::<_, String>(0) == "secret" { KeyKind::Secret } else { KeyKind::Public },
            livemode: r.get(1),
            hint: r.get(2),
            public_key: r.get(3),
            created_at: Timestamp::from_unix(r.get(4)),
            expires_at: r.get::<_, Option<i64>>(5).map(Timestamp::from_unix),
        })
        .collect())
}

pub(super) async fn roll_secret_key(
    store: &PgStore,
    account: &AccountId,
    new: &KeyRecord,
    now: Timestamp,
    old_until: Timestamp,
    audit: &AuditEntry,
) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    tx.execute(
        "update api_keys set expires_at = $3 where account_id = $1 and livemode = $2 and kind = 'secret' \
         and (expires_at is null or expires_at > $3)",
        &[&account.as_str(), &new.livemode, &old_until.unix()],
    )
    .await
    .map_err(pg_err)?;
    tx.execute(
        "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
         values ($1, $2, $3, 'secret', null, $4, $5)",
        &[&new.hash, &account.as_str(), &new.livemode, &new.hint, &now.unix()],
    )
    .await
    .map_err(pg_err)?;
    super::users::insert_audit(&tx, audit).await?;
    tx.commit().await.map_err(pg_err)
}

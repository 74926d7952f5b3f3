//! Accounts, their API keys (found by the key's hash) and their own fee schedules: the `accounts`,
//! `api_keys` and `fee_schedules` tables.

use rusqlite::{OptionalExtension, params};
use satang_domain::{AccountId, Currency, FeeSchedule, Timestamp};

use super::{SqliteStore, json_err, sql_err};
use crate::store::users::{AuditEntry, pending_audit};
use crate::store::{
    Account, AccountSettings, CheckoutSettings, KeyGrant, KeyInfo, KeyKind, KeyRecord, NewAccount, StoreError,
    StoreResult,
};

pub(super) async fn create_account(store: &SqliteStore, a: NewAccount) -> StoreResult<()> {
    store
        .write(move |c| {
            c.execute(
                "insert into accounts (id, name, created_at, api_version) values (?1, ?2, ?3, ?4)",
                params![a.id.as_str(), a.name, a.created_at.unix(), a.api_version],
            )
            .map_err(sql_err)?;
            for k in &a.keys {
                c.execute(
                    "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        k.hash,
                        a.id.as_str(),
                        k.livemode,
                        k.kind.as_str(),
                        k.public_key,
                        k.hint,
                        a.created_at.unix()
                    ],
                )
                .map_err(sql_err)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn count_accounts(store: &SqliteStore) -> StoreResult<u64> {
    store
        .read(|c| {
            c.query_row("select count(*) from accounts", [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(sql_err)
        })
        .await
}

pub(super) async fn get_account(store: &SqliteStore, id: &AccountId) -> StoreResult<Account> {
    let id = id.clone();
    store
        .read(move |c| {
            c.query_row(
                "select name, created_at, api_version, allowed_origins, shop_url, logo_url, support_url from accounts \
                 where id = ?1",
                [id.as_str()],
                |r| {
                    Ok(Account {
                        id: id.clone(),
                        name: r.get(0)?,
                        created_at: Timestamp::from_unix(r.get(1)?),
                        api_version: r.get(2)?,
                        checkout: CheckoutSettings::from_columns(r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    })
                },
            )
            .optional()
            .map_err(sql_err)?
            .ok_or_else(|| StoreError::not_found("account", &id))
        })
        .await
}

pub(super) async fn set_checkout_settings(
    store: &SqliteStore,
    id: &AccountId,
    settings: &CheckoutSettings,
) -> StoreResult<()> {
    let id = id.clone();
    let settings = settings.clone();
    let audit = pending_audit();
    store
        .write(move |c| {
            let n = c
                .execute(
                    "update accounts set allowed_origins = ?2, shop_url = ?3, logo_url = ?4, support_url = ?5 \
                     where id = ?1",
                    params![
                        id.as_str(),
                        settings.origins_column(),
                        settings.shop_url,
                        settings.logo_url,
                        settings.support_url
                    ],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("account", &id));
            }
            if let Some(a) = &audit {
                super::users::insert_audit(c, a)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn set_account_settings(
    store: &SqliteStore,
    id: &AccountId,
    settings: &AccountSettings,
) -> StoreResult<()> {
    let (id, s) = (id.clone(), settings.clone());
    let audit = pending_audit();
    store
        .write(move |c| {
            let n = c
                .execute(
                    "update accounts set name = ?2, api_version = ?3, allowed_origins = ?4, shop_url = ?5, \
                     logo_url = ?6, support_url = ?7 where id = ?1",
                    params![
                        id.as_str(),
                        s.name,
                        s.api_version,
                        s.checkout.origins_column(),
                        s.checkout.shop_url,
                        s.checkout.logo_url,
                        s.checkout.support_url
                    ],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("account", &id));
            }
            if let Some(a) = &audit {
                super::users::insert_audit(c, a)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn find_key(store: &SqliteStore, hash: &str) -> StoreResult<Option<KeyGrant>> {
    let hash = hash.to_string();
    store
        .read(move |c| {
            let row = c
                .prepare_cached(
                    "select k.account_id, a.name, k.livemode, k.kind, a.api_version, k.expires_at from api_keys k \
                 join accounts a on a.id = k.account_id where k.hash = ?1",
                )
                .and_then(|mut st| {
                    st.query_row([&hash], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, bool>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                        ))
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            let Some((account, name, livemode, kind, api_version, expires_at)) = row else { return Ok(None) };
            let account = AccountId::try_from(account).map_err(|e| StoreError::Other(e.into()))?;
            let kind = if kind == "secret" { KeyKind::Secret } else { KeyKind::Public };
            Ok(Some(KeyGrant {
                account,
                account_name: name,
                livemode,
                kind,
                api_version,
                expires_at: expires_at.map(Timestamp::from_unix),
            }))
        })
        .await
}

pub(super) async fn fee_schedule(
    store: &SqliteStore,
    account: &AccountId,
    method: &str,
    currency: Currency,
) -> StoreResult<Option<FeeSchedule>> {
    let (account, method) = (account.clone(), method.to_string());
    store
        .read(move |c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "select schedule from fee_schedules where account_id = ?1 and method = ?2 and currency = ?3",
                )
                .and_then(|mut st| {
                    st.query_row(params![account.as_str(), method, currency.code()], |r| r.get(0)).optional()
                })
                .map_err(sql_err)?;
            doc.map(|d| serde_json::from_str(&d).map_err(json_err)).transpose()
        })
        .await
}

pub(super) async fn set_fee_schedule(
    store: &SqliteStore,
    account: &AccountId,
    method: &str,
    currency: Currency,
    schedule: FeeSchedule,
) -> StoreResult<()> {
    let (account, method) = (account.clone(), method.to_string());
    let doc = serde_json::to_string(&schedule).map_err(json_err)?;
    let audit = pending_audit();
    store
        .write(move |c| {
            let now = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
            let n = c
                .execute(
                    "insert into fee_schedules (account_id, method, currency, schedule, updated_at) \
                 select ?1, ?2, ?3, ?4, ?5 where exists (select 1 from accounts where id = ?1) \
                 on conflict (account_id, method, currency) do update set schedule = excluded.schedule, \
                 updated_at = excluded.updated_at",
                    params![account.as_str(), method, currency.code(), doc, now],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("account", &account));
            }
            if let Some(a) = &audit {
                super::users::insert_audit(c, a)?;
            }
            Ok(())
        })
        .await
}

pub(super) async fn list_keys(store: &SqliteStore, account: &AccountId) -> StoreResult<Vec<KeyInfo>> {
    let account = account.clone();
    store
        .read(move |c| {
            c.prepare_cached(
                "select kind, livemode, hint, public_key, created_at, expires_at from api_keys where account_id = ?1 \
                 order by created_at, rowid",
            )
            .and_then(|mut st| {
                st.query_map([account.as_str()], |r| {
                    Ok(KeyInfo {
                        kind: if r.get::<_, String>(0)? == "secret" { KeyKind::Secret } else { KeyKind::Public },
                        livemode: r.get(1)?,
                        hint: r.get(2)?,
                        public_key: r.get(3)?,
                        created_at: Timestamp::from_unix(r.get(4)?),
                        expires_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_unix),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn roll_secret_key(
    store: &SqliteStore,
    account: &AccountId,
    new: &KeyRecord,
    now: Timestamp,
    old_until: Timestamp,
    audit: &AuditEntry,
) -> StoreResult<()> {
    let (account, new, audit) = (account.clone(), new.clone(), audit.clone());
    store
        .write(move |c| {
            c.execute(
                "update api_keys set expires_at = ?3 where account_id = ?1 and livemode = ?2 and kind = 'secret' \
                 and (expires_at is null or expires_at > ?3)",
                params![account.as_str(), new.livemode, old_until.unix()],
            )
            .map_err(sql_err)?;
            c.execute(
                "insert into api_keys (hash, account_id, livemode, kind, public_key, hint, created_at) \
                 values (?1, ?2, ?3, 'secret', null, ?4, ?5)",
                params![new.hash, account.as_str(), new.livemode, new.hint, now.unix()],
            )
            .map_err(sql_err)?;
            super::users::insert_audit(c, &audit)
        })
        .await
}

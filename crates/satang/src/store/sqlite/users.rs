//! Dashboard users, sessions, login attempts and the audit log (see [`crate::store::users`]).

use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{AccountId, Timestamp};

use super::{SqliteStore, sql_err};
use crate::store::users::{AuditEntry, Role, Session, User};
use crate::store::{Refusal, StoreError, StoreResult};

const USER_COLUMNS: &str = "u.id, u.account_id, u.email, u.role, u.password_hash, u.created_at, u.must_change_password";

type UserRow = (String, String, String, String, String, i64, bool);

fn user_from(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<UserRow> {
    Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?, r.get(at + 4)?, r.get(at + 5)?, r.get(at + 6)?))
}

fn to_user(t: UserRow) -> StoreResult<User> {
    let (id, account, email, role, password_hash, created, must_change_password) = t;
    Ok(User {
        id,
        account: AccountId::try_from(account).map_err(|e| StoreError::Other(e.into()))?,
        email,
        role: Role::parse(&role).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown role {role}")))?,
        password_hash,
        created_at: Timestamp::from_unix(created),
        must_change_password,
    })
}

/// Appends an audit row; callers run it inside the change's own write.
pub(super) fn insert_audit(c: &Connection, a: &AuditEntry) -> StoreResult<()> {
    c.prepare_cached(
        "insert into audit_log (account_id, actor, action, detail, created_at) values (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| st.execute(params![a.account.as_str(), a.actor, a.action, a.detail, a.created_at.unix()]))
    .map_err(sql_err)?;
    Ok(())
}

pub(super) async fn create_user(store: &SqliteStore, user: &User, audit: &AuditEntry) -> StoreResult<()> {
    let (user, audit) = (user.clone(), audit.clone());
    store
        .write(move |c| {
            let taken: Option<i64> = c
                .query_row("select 1 from users where email = ?1", [&user.email], |r| r.get(0))
                .optional()
                .map_err(sql_err)?;
            if taken.is_some() {
                return Err(Refusal::Other(format!("a user with email {} already exists", user.email)).into());
            }
            c.execute(
                "insert into users (id, account_id, email, role, password_hash, created_at, must_change_password) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    user.id,
                    user.account.as_str(),
                    user.email,
                    user.role.as_str(),
                    user.password_hash,
                    user.created_at.unix(),
                    user.must_change_password
                ],
            )
            .map_err(sql_err)?;
            insert_audit(c, &audit)
        })
        .await
}

pub(super) async fn find_user(store: &SqliteStore, email: &str) -> StoreResult<Option<User>> {
    let email = email.to_string();
    store
        .read(move |c| {
            c.query_row(&format!("select {USER_COLUMNS} from users u where u.email = ?1"), [&email], |r| {
                user_from(r, 0)
            })
            .optional()
            .map_err(sql_err)?
            .map(to_user)
            .transpose()
        })
        .await
}

pub(super) async fn create_session(store: &SqliteStore, s: &Session) -> StoreResult<()> {
    let s = s.clone();
    store
        .write(move |c| {
            c.execute(
                "insert into sessions (token_hash, user_id, csrf, created_at, expires_at) values (?1, ?2, ?3, ?4, ?5)",
                params![s.token_hash, s.user_id, s.csrf, s.created_at.unix(), s.expires_at.unix()],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
}

pub(super) async fn find_session(
    store: &SqliteStore,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<(Session, User)>> {
    let token_hash = token_hash.to_string();
    store
        .read(move |c| {
            let row = c
                .query_row(
                    &format!(
                        "select s.token_hash, s.user_id, s.csrf, s.created_at, s.expires_at, {USER_COLUMNS} \
                         from sessions s join users u on u.id = s.user_id where s.token_hash = ?1 and s.expires_at > ?2"
                    ),
                    params![token_hash, now.unix()],
                    |r| {
                        let s = Session {
                            token_hash: r.get(0)?,
                            user_id: r.get(1)?,
                            csrf: r.get(2)?,
                            created_at: Timestamp::from_unix(r.get(3)?),
                            expires_at: Timestamp::from_unix(r.get(4)?),
                        };
                        Ok((s, user_from(r, 5)?))
                    },
                )
                .optional()
                .map_err(sql_err)?;
            row.map(|(s, u)| Ok((s, to_user(u)?))).transpose()
        })
        .await
}

pub(super) async fn delete_session(store: &SqliteStore, token_hash: &str) -> StoreResult<()> {
    let token_hash = token_hash.to_string();
    store
        .write(move |c| {
            c.execute("delete from sessions where token_hash = ?1", [&token_hash]).map_err(sql_err)?;
            Ok(())
        })
        .await
}

pub(super) async fn record_login(store: &SqliteStore, email: &str, ok: bool, at: Timestamp) -> StoreResult<()> {
    let email = email.to_string();
    store
        .write(move |c| {
            c.execute("insert into login_attempts (email, ok, at) values (?1, ?2, ?3)", params![email, ok, at.unix()])
                .map_err(sql_err)?;
            Ok(())
        })
        .await
}

pub(super) async fn failed_logins_since(store: &SqliteStore, email: &str, since: Timestamp) -> StoreResult<u64> {
    let email = email.to_string();
    store
        .read(move |c| {
            c.query_row(
                "select count(*) from login_attempts where email = ?1 and at >= ?2 and not ok",
                params![email, since.unix()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql_err)
        })
        .await
}

pub(super) async fn list_audit(store: &SqliteStore, account: &AccountId, limit: u64) -> StoreResult<Vec<AuditEntry>> {
    let account = account.clone();
    store
        .read(move |c| {
            c.prepare_cached(&format!(
                "select actor, action, detail, created_at from audit_log where account_id = ?1 order by seq desc \
                 limit {limit}"
            ))
            .and_then(|mut st| {
                st.query_map(params![account.as_str()], |r| {
                    Ok(AuditEntry {
                        account: account.clone(),
                        actor: r.get(0)?,
                        action: r.get(1)?,
                        detail: r.get(2)?,
                        created_at: Timestamp::from_unix(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)
        })
        .await
}

/// The user's new password hash, the one-time flag cleared, every other session of theirs ended, and the
/// audit row: one transaction.
pub(super) async fn change_password(
    store: &SqliteStore,
    user_id: &str,
    password_hash: &str,
    keep_session: &str,
    audit: &AuditEntry,
) -> StoreResult<()> {
    let (user_id, hash, keep, audit) =
        (user_id.to_string(), password_hash.to_string(), keep_session.to_string(), audit.clone());
    store
        .write(move |c| {
            let n = c
                .execute(
                    "update users set password_hash = ?2, must_change_password = 0 where id = ?1",
                    params![user_id, hash],
                )
                .map_err(sql_err)?;
            if n == 0 {
                return Err(StoreError::not_found("user", &user_id));
            }
            c.execute("delete from sessions where user_id = ?1 and token_hash <> ?2", params![user_id, keep])
                .map_err(sql_err)?;
            insert_audit(c, &audit)
        })
        .await
}

pub(super) async fn record_audit(store: &SqliteStore, entry: &AuditEntry) -> StoreResult<()> {
    let entry = entry.clone();
    store.write(move |c| insert_audit(c, &entry)).await
}

//! Dashboard users, sessions, login attempts and the audit log (see [`crate::store::users`]).

use satang_domain::{AccountId, Timestamp};
use tokio_postgres::Row;

use super::{PgStore, Tx, bad_id, pg_err};
use crate::store::users::{AuditEntry, Role, Session, User};
use crate::store::{Refusal, StoreError, StoreResult};

const USER_COLUMNS: &str = "u.id, u.account_id, u.email, u.role, u.password_hash, u.created_at, u.must_change_password";

fn to_user(r: &Row, at: usize) -> StoreResult<User> {
    let role: String = r.get(at + 3);
    Ok(User {
        id: r.get(at),
        account: AccountId::try_from(r.get::<_, String>(at + 1)).map_err(bad_id)?,
        email: r.get(at + 2),
        role: Role::parse(&role).ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown role {role}")))?,
        password_hash: r.get(at + 4),
        created_at: Timestamp::from_unix(r.get(at + 5)),
        must_change_password: r.get(at + 6),
    })
}

/// Appends an audit row; callers run it inside the change's own transaction.
pub(super) async fn insert_audit(tx: &Tx<'_>, a: &AuditEntry) -> StoreResult<()> {
    tx.execute(
        "insert into audit_log (account_id, actor, action, detail, created_at) values ($1, $2, $3, $4, $5)",
        &[&a.account.as_str(), &a.actor, &a.action, &a.detail, &a.created_at.unix()],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn create_user(store: &PgStore, user: &User, audit: &AuditEntry) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "insert into users (id, account_id, email, role, password_hash, created_at, must_change_password) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (email) do nothing",
            &[
                &user.id,
                &user.account.as_str(),
                &user.email,
                &user.role.as_str(),
                &user.password_hash,
                &user.created_at.unix(),
                &user.must_change_password,
            ],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(Refusal::Other(format!("a user with email {} already exists", user.email)).into());
    }
    insert_audit(&tx, audit).await?;
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn find_user(store: &PgStore, email: &str) -> StoreResult<Option<User>> {
    let c = store.client().await?;
    let row = c
        .query_opt(&format!("select {USER_COLUMNS} from users u where u.email = $1"), &[&email])
        .await
        .map_err(pg_err)?;
    row.map(|r| to_user(&r, 0)).transpose()
}

pub(super) async fn create_session(store: &PgStore, s: &Session) -> StoreResult<()> {
    store
        .client()
        .await?
        .execute(
            "insert into sessions (token_hash, user_id, csrf, created_at, expires_at) values ($1, $2, $3, $4, $5)",
            &[&s.token_hash, &s.user_id, &s.csrf, &s.created_at.unix(), &s.expires_at.unix()],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn find_session(
    store: &PgStore,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<(Session, User)>> {
    let c = store.client().await?;
    let row = c
        .query_opt(
            &format!(
                "select s.token_hash, s.user_id, s.csrf, s.created_at, s.expires_at, {USER_COLUMNS} \
                 from sessions s join users u on u.id = s.user_id where s.token_hash = $1 and s.expires_at > $2"
            ),
            &[&token_hash, &now.unix()],
        )
        .await
        .map_err(pg_err)?;
    let Some(r) = row else { return Ok(None) };
    let s = Session {
        token_hash: r.get(0),
        user_id: r.get(1),
        csrf: r.get(2),
        created_at: Timestamp::from_unix(r.get(3)),
        expires_at: Timestamp::from_unix(r.get(4)),
    };
    Ok(Some((s, to_user(&r, 5)?)))
}

pub(super) async fn delete_session(store: &PgStore, token_hash: &str) -> StoreResult<()> {
    store
        .client()
        .await?
        .execute("delete from sessions where token_hash = $1", &[&token_hash])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn record_login(store: &PgStore, email: &str, ok: bool, at: Timestamp) -> StoreResult<()> {
    store
        .client()
        .await?
        .execute("insert into login_attempts (email, ok, at) values ($1, $2, $3)", &[&email, &ok, &at.unix()])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn failed_logins_since(store: &PgStore, email: &str, since: Timestamp) -> StoreResult<u64> {
    let n: i64 = store
        .client()
        .await?
        .query_one(
            "select count(*) from login_attempts where email = $1 and at >= $2 and not ok",
            &[&email, &since.unix()],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    Ok(n as u64)
}

pub(super) async fn list_audit(store: &PgStore, account: &AccountId, limit: u64) -> StoreResult<Vec<AuditEntry>> {
    let rows = store
        .client()
        .await?
        .query(
            "select actor, action, detail, created_at from audit_log where account_id = $1 order by seq desc limit $2",
            &[&account.as_str(), &(limit as i64)],
        )
        .await
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            account: account.clone(),
            actor: r.get(0),
            action: r.get(1),
            detail: r.get(2),
            created_at: Timestamp::from_unix(r.get(3)),
        })
        .collect())
}

/// The user's new password hash, the one-time flag cleared, every other session of theirs ended, and the
/// audit row: one transaction.
pub(super) async fn change_password(
    store: &PgStore,
    user_id: &str,
    password_hash: &str,
    keep_session: &str,
    audit: &AuditEntry,
) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg_err)?;
    let n = tx
        .execute(
            "update users set password_hash = $2, must_change_password = false where id = $1",
            &[&user_id, &password_hash],
        )
        .await
        .map_err(pg_err)?;
    if n == 0 {
        return Err(StoreError::not_found("user", user_id));
    }
    tx.execute("delete from sessions where user_id = $1 and token_hash <> $2", &[&user_id, &keep_session])
        .await
        .map_err(pg_err)?;
    insert_audit(&tx, audit).await?;
    tx.commit().await.map_err(pg_err)
}

pub(super) async fn record_audit(store: &PgStore, entry: &AuditEntry) -> StoreResult<()> {
    let c = store.client().await?;
    c.execute(
        "insert into audit_log (account_id, actor, action, detail, created_at) values ($1, $2, $3, $4, $5)",
        &[&entry.account.as_str(), &entry.actor, &entry.action, &entry.detail, &entry.created_at.unix()],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

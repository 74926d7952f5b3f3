//! Who is using the dashboard: argon2 passwords, login with a rate limit, sessions and CSRF.
//!
//! * Passwords are hashed with argon2id (the `argon2` crate's defaults, OWASP's minimum) off the async
//!   threads. An unknown email is checked against a dummy hash, so response time does not tell which
//!   emails exist.
//! * After [`MAX_FAILED_LOGINS`] failures for one email within [`LOGIN_WINDOW_SECS`], further attempts are
//!   refused without checking the password, whatever it is, until the window has passed.
//! * A login always creates a new session (a cookie set before login is never promoted: no fixation). The
//!   cookie (`satang_session`) is `HttpOnly`, `SameSite=Lax`, `Path=/dashboard`, `Secure` when the public
//!   URL is https, and lives [`SESSION_SECS`]; only its SHA-256 is stored. Logout deletes the session row.
//! * `satang user create` without `--password-stdin` prints a one-time password: its user is sent to
//!   [`PASSWORD_PATH`] on every page until they have chosen their own. Changing a password ends the
//!   user's other sessions.
//! * Every form carries a CSRF token: the session's own (stored with it) once logged in; on the login form,
//!   a double-submit token matching a `SameSite=Strict` cookie.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use satang_domain::{AccountId, Timestamp};

use crate::accounts::hash_key;
use crate::app::AppState;
use crate::pages::i18n::cookie;
use crate::pages::token_matches;
use crate::store::users::{AuditEntry, Role, Session, User};
use crate::store::{Scope, StoreError};

pub const SESSION_COOKIE: &str = "satang_session";
pub const LOGIN_CSRF_COOKIE: &str = "satang_login_csrf";
pub const MODE_COOKIE: &str = "satang_mode";
/// Where a user changes their password (and where one with a one-time password is sent until they do).
pub const PASSWORD_PATH: &str = "/dashboard/password";
/// How long a session lasts after login.
pub const SESSION_SECS: i64 = 12 * 3600;
pub const MAX_FAILED_LOGINS: u64 = 5;
pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;
/// The shortest password `satang user create` accepts.
pub const MIN_PASSWORD_LEN: usize = 12;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches in practice, checked when the email is unknown so that the answer takes as
/// long as for a known one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&satang_domain::id::random_base36(32)).unwrap_or_default())
}

/// Creates a user with a password they chose (the CLI's `satang user create --password-stdin`), with its
/// audit row in the same transaction.
pub async fn create_user(
    app_store: &crate::store::DynStore,
    account: &AccountId,
    email: &str,
    role: Role,
    password: &str,
    now: Timestamp,
) -> anyhow::Result<User> {
    make_user(app_store, account, email, role, password, false, now).await
}

/// Creates a user with a generated one-time password (`satang user create` without `--password-stdin`):
/// at first login the dashboard asks them to choose their own before it shows anything else.
pub async fn create_user_with_one_time_password(
    app_store: &crate::store::DynStore,
    account: &AccountId,
    email: &str,
    role: Role,
    password: &str,
    now: Timestamp,
) -> anyhow::Result<User> {
    make_user(app_store, account, email, role, password, true, now).await
}

async fn make_user(
    app_store: &crate::store::DynStore,
    account: &AccountId,
    email: &str,
    role: Role,
    password: &str,
    must_change_password: bool,
    now: Timestamp,
) -> anyhow::Result<User> {
    let email = normalize_email(email).ok_or_else(|| anyhow::anyhow!("{email} is not an email address"))?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        anyhow::bail!("the password must have at least {MIN_PASSWORD_LEN} characters");
    }
    app_store.get_account(account).await?;
    let pw = password.to_string();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&pw)).await??;
    let user = User {
        id: format!("user_{}", satang_domain::id::random_base36(20)),
        account: account.clone(),
        email: email.clone(),
        role,
        password_hash,
        created_at: now,
        must_change_password,
    };
    let audit = AuditEntry {
        account: account.clone(),
        actor: "cli".into(),
        action: "user.create".into(),
        detail: format!("{email} as {}", role.as_str()),
        created_at: now,
    };
    app_store.create_user(&user, &audit).await?;
    Ok(user)
}

/// Lowercased and trimmed, if it looks like an email (one `@`, something on each side, no spaces).
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !domain.contains('@') && !e.contains(char::is_whitespace)).then_some(e)
}

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginRefused {
    BadCredentials,
    TooManyAttempts,
}

/// Checks the credentials and, if they are right, opens a session. Returns the cookie's value.
pub async fn login(app: &AppState, email: &str, password: &str) -> Result<(String, Session), LoginRefused> {
    let now = app.now();
    let email = normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
    let since = Timestamp::from_unix(now.unix() - LOGIN_WINDOW_SECS);
    let failed = app.store.failed_logins_since(&email, since).await.map_err(|_| LoginRefused::TooManyAttempts)?;
    if failed >= MAX_FAILED_LOGINS {
        return Err(LoginRefused::TooManyAttempts);
    }
    let user = app.store.find_user(&email).await.ok().flatten();
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw)).await.unwrap_or(false);
    let user = user.filter(|_| ok);
    let _ = app.store.record_login(&email, user.is_some(), now).await;
    let user = user.ok_or(LoginRefused::BadCredentials)?;
    let token = satang_domain::id::random_base36(40);
    let session = Session {
        token_hash: hash_key(&token),
        user_id: user.id,
        csrf: satang_domain::id::random_base36(32),
        created_at: now,
        expires_at: Timestamp::from_unix(now.unix() + SESSION_SECS),
    };
    app.store.create_session(&session).await.map_err(|_| LoginRefused::BadCredentials)?;
    Ok((token, session))
}

/// The `Set-Cookie` value for a cookie under `/dashboard`; `max_age` 0 clears it.
pub fn set_cookie(app: &AppState, name: &str, value: &str, max_age: i64, same_site: &str) -> String {
    let secure = if app.public_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{name}={value}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}

/// A logged-in user, for handlers: a request without a live session is sent to the login page.
pub struct Signed {
    pub user: User,
    pub session: Session,
    /// The mode the dashboard shows (test unless switched to live).
    pub livemode: bool,
}

impl Signed {
    pub fn scope(&self) -> Scope {
        Scope { account: self.user.account.clone(), livemode: self.livemode }
    }

    /// Whether a form's CSRF token is this session's.
    pub fn csrf_ok(&self, token: &str) -> bool {
        token_matches(&self.session.csrf, token)
    }

    pub fn can_change(&self) -> bool {
        self.user.role >= Role::Admin
    }

    pub fn audit(&self, action: &str, detail: String, now: Timestamp) -> AuditEntry {
        AuditEntry {
            account: self.user.account.clone(),
            actor: self.user.email.clone(),
            action: action.into(),
            detail,
            created_at: now,
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/dashboard/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login()) };
        match app.store.find_session(&hash_key(&token), app.now()).await {
            Ok(Some((session, user))) => {
                // A one-time password is changed before anything else is shown or done.
                let path = parts.uri.path();
                if user.must_change_password && path != PASSWORD_PATH && path != "/dashboard/logout" {
                    return Err(Redirect::to(PASSWORD_PATH).into_response());
                }
                let livemode = cookie(&parts.headers, MODE_COOKIE).as_deref() == Some("live");
                Ok(Signed { user, session, livemode })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(crate::api::error::ApiError::from(e).into_response()),
        }
    }
}

/// Errors a store may give a dashboard action, as the page shows them.
pub fn store_message(e: &StoreError) -> String {
    match e {
        StoreError::NotFound { .. } => "not found".into(),
        StoreError::Refused(r) => r.to_string(),
        _ => "the database is unavailable; try again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(normalize_email(" Som@Shop.Example ").as_deref(), Some("som@shop.example"));
        for bad in ["", "a", "@b", "a@", "a@b@c", "a b@c"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}

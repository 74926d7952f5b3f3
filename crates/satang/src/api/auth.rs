//! Authentication: HTTP Basic with the key as the user name and an empty password (omise-wire.md §1.1).
//!
//! Two extractors, chosen per route: [`AnyKey`] for `/sources` and `/capability` (the official clients
//! send the public key there), [`SecretKey`] for everything else. The key decides the account and the
//! mode; handlers get a [`Caller`] and never see the key. Known keys are cached in memory by hash, so the
//! hot path does no database read; an unknown key is looked up each time, so an account created by
//! `satang account create` on the same database works at once.
//!
//! A request from a browser (it carries `Origin`) is held to the checkout's rules (src/checkout): a secret
//! key there is refused whatever the route, as anyone who opens the page could read it; a public key is
//! checked against the account's origin allow-list, read from the database on each such request so a
//! change made with `satang account set-checkout` applies at once.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;

use super::AppState;
use super::error::ApiError;
use super::version::ApiVersion;
use crate::accounts::hash_key;
use crate::store::{DynStore, KeyGrant, KeyKind, Scope};
use satang_domain::Timestamp;

/// Who is calling, as the key says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub scope: Scope,
    pub kind: KeyKind,
    pub account_name: String,
    /// The version to answer in: the request's `Omise-Version`, else the account default.
    pub version: ApiVersion,
    /// The account's default version, which webhook payloads are written in.
    pub default_version: ApiVersion,
}

/// Any valid key, public or secret.
pub struct AnyKey(pub Caller);

/// A valid secret key.
pub struct SecretKey(pub Caller);

/// Known keys by SHA-256, each kept for [`KEY_CACHE_TTL`] after it was read: a key rolled on another node
/// gets its expiry here within that time (and at once on the node that rolled it, see [`KeyCache::forget_all`]).
#[derive(Default)]
pub struct KeyCache {
    known: RwLock<HashMap<String, (KeyGrant, std::time::Instant)>>,
    /// When this node last wrote an audit row for a rolled key still in use, by the key's hash.
    old_key_noted: std::sync::Mutex<HashMap<String, std::time::Instant>>,
}

/// How often, per node and key, a rolled secret key still in use is written to the audit log.
pub const OLD_KEY_AUDIT_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// How long a key's grant is trusted without asking the database again.
pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

impl KeyCache {
    /// The key's grant, unless the key is unknown or (rolled and) expired by `now`.
    pub async fn lookup(&self, store: &DynStore, key: &str, now: Timestamp) -> Result<Option<KeyGrant>, ApiError> {
        let live = |g: &KeyGrant| g.expires_at.is_none_or(|t| t > now);
        let hash = hash_key(key);
        if let Some((g, at)) = self.known.read().unwrap_or_else(|p| p.into_inner()).get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(g.clone()).filter(live));
        }
        let grant = store.find_key(&hash).await?;
        if let Some(g) = &grant {
            self.known.write().unwrap_or_else(|p| p.into_inner()).insert(hash, (g.clone(), std::time::Instant::now()));
        }
        Ok(grant.filter(live))
    }

    /// Whether a use of the rolled key with this hash should be written to the audit log now (at most once
    /// per [`OLD_KEY_AUDIT_EVERY`] per key on this node).
    fn note_old_key_use(&self, hash: &str) -> bool {
        let mut noted = self.old_key_noted.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        noted.retain(|_, at| now.duration_since(*at) < OLD_KEY_AUDIT_EVERY);
        if noted.contains_key(hash) {
            return false;
        }
        noted.insert(hash.to_string(), now);
        true
    }

    /// Drops every cached grant (after a key roll on this node).
    pub fn forget_all(&self) {
        self.known.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// The key a request carries: the HTTP Basic user name.
pub fn basic_user(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let user = decoded.split(':').next().unwrap_or("").trim();
    (!user.is_empty()).then(|| user.to_string())
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let key = basic_user(&parts.headers).ok_or_else(|| {
        ApiError::authentication(
            "authentication failed: send your key as the HTTP Basic user name (curl -u skey_test_…:)",
        )
    })?;
    let grant = state
        .keys
        .lookup(&state.store, &key, state.now())
        .await?
        .ok_or_else(|| ApiError::authentication("authentication failed"))?;
    if grant.kind == KeyKind::Secret
        && let Some(until) = grant.expires_at
    {
        old_key_used(parts, state, &key, &grant, until).await;
    }
    let requested = parts.headers.get("omise-version").and_then(|v| v.to_str().ok()).and_then(ApiVersion::parse);
    let default_version = ApiVersion::parse(&grant.api_version).unwrap_or(ApiVersion::DEFAULT);
    let version = requested.unwrap_or(default_version);
    let scope = Scope { account: grant.account, livemode: grant.livemode };
    if state.request_log.wanted() {
        super::request_log::note_caller(&scope);
    }
    Ok(Caller { scope, kind: grant.kind, account_name: grant.account_name, version, default_version })
}

/// A secret key that was rolled and still works for its overlap was used: the owner learns it from the audit
/// log (at most every [`OLD_KEY_AUDIT_EVERY`] per key and node), with the key's hint and the route, so they
/// can find the system still holding it before it stops working. This is the only place a request's key
/// is shown; the API's answers never say which key was used.
async fn old_key_used(parts: &Parts, state: &AppState, key: &str, grant: &KeyGrant, until: Timestamp) {
    if !state.keys.note_old_key_use(&hash_key(key)) {
        return;
    }
    let route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let entry = crate::store::users::AuditEntry {
        account: grant.account.clone(),
        actor: "api".into(),
        action: "key.rolled_key_used".into(),
        detail: format!(
            "{} (rolled, works until {}) was used for {} {route}",
            crate::accounts::key_hint(key),
            until.iso(),
            parts.method
        ),
        created_at: state.now(),
    };
    if let Err(e) = state.store.record_audit(&entry).await {
        tracing::warn!(error.message = %e, "writing the audit row of a rolled key's use failed");
    }
}

/// The web origin of a browser's request, if it came from one.
fn browser_origin(parts: &Parts) -> Option<&str> {
    parts.headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("(not readable)"))
}

/// The checkout's rules for a request from a browser (see the module docs).
async fn check_browser(caller: &Caller, origin: &str, state: &AppState) -> Result<(), ApiError> {
    match caller.kind {
        KeyKind::Secret => Err(ApiError::authentication(
            "authentication failed: a secret key (skey_…) was sent from a web page; anyone who opens the page \
             can read it and take over the account. Use the public key (pkey_…) in the browser, keep the secret \
             key on your server, and roll it if this page was public",
        )),
        KeyKind::Public => {
            let account = state.store.get_account(&caller.scope.account).await?;
            if account.checkout.allows_origin(origin) {
                Ok(())
            } else {
                Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this public key may not be used from {origin}: the account allows only its own shop's origins"
                    ),
                ))
            }
        }
    }
}

async fn authenticate_browser_aware(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let caller = authenticate(parts, state).await?;
    if let Some(origin) = browser_origin(parts) {
        check_browser(&caller, origin, state).await?;
    }
    Ok(caller)
}

impl FromRequestParts<AppState> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_browser_aware(parts, state).await.map(AnyKey)
    }
}

impl FromRequestParts<AppState> for SecretKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate_browser_aware(parts, state).await?;
        match caller.kind {
            KeyKind::Secret => Ok(SecretKey(caller)),
            KeyKind::Public => Err(ApiError::authentication(
                "authentication failed: this endpoint needs your secret key (skey_…); \
                 a public key can only create and retrieve sources",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn headers(auth: &str) -> axum::http::HeaderMap {
        Request::builder().header("authorization", auth).body(()).unwrap().into_parts().0.headers
    }

    #[test]
    fn basic_user_is_the_key() {
        let enc = base64::engine::general_purpose::STANDARD.encode("skey_test_abc:");
        assert_eq!(basic_user(&headers(&format!("Basic {enc}"))).as_deref(), Some("skey_test_abc"));
        let enc = base64::engine::general_purpose::STANDARD.encode("skey_test_abc");
        assert_eq!(basic_user(&headers(&format!("basic {enc}"))).as_deref(), Some("skey_test_abc"));
        assert_eq!(basic_user(&headers("Bearer x")), None);
        assert_eq!(basic_user(&headers("Basic !!!")), None);
        let enc = base64::engine::general_purpose::STANDARD.encode(":pw");
        assert_eq!(basic_user(&headers(&format!("Basic {enc}"))), None);
    }
}

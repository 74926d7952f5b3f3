//! Merchant accounts and their API keys.
//!
//! Each account gets a test and a live key pair shaped like Omise's (`pkey_test_…`, `skey_test_…`,
//! `pkey_…`, `skey_…`, omise-wire.md §1.1; omise-go refuses keys without those prefixes). Only a SHA-256 of
//! each key is stored. A fast hash is enough here, unlike for passwords: keys are 19 random base36
//! characters (about 98 bits), so there is nothing to brute-force from a stolen hash.

use satang_domain::id::random_base36;
use satang_domain::{AccountId, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::version::ApiVersion;
use crate::store::{KeyKind, KeyRecord, NewAccount};

/// A new account with its keys in clear: shown once, never stored.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedAccount {
    pub id: String,
    pub name: String,
    pub test_public_key: String,
    pub test_secret_key: String,
    pub live_public_key: String,
    pub live_secret_key: String,
}

/// SHA-256 of a key, lowercase hex: how keys are stored and looked up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn new_key(kind: KeyKind, livemode: bool) -> (String, KeyRecord) {
    let prefix = match kind {
        KeyKind::Public => "pkey",
        KeyKind::Secret => "skey",
    };
    let mode = if livemode { "" } else { "test_" };
    let key = format!("{prefix}_{mode}{}", random_base36(19));
    let hint = format!("{}…", &key[..key.len() - 15]);
    let record = KeyRecord {
        hash: hash_key(&key),
        kind,
        livemode,
        public_key: (kind == KeyKind::Public).then(|| key.clone()),
        hint,
    };
    (key, record)
}

/// Builds a new account and its four keys.
pub fn new_account(name: &str, now: Timestamp) -> (NewAccount, CreatedAccount) {
    let id = AccountId::generate(true);
    let (tp, tp_rec) = new_key(KeyKind::Public, false);
    let (ts, ts_rec) = new_key(KeyKind::Secret, false);
    let (lp, lp_rec) = new_key(KeyKind::Public, true);
    let (ls, ls_rec) = new_key(KeyKind::Secret, true);
    let record = NewAccount {
        id: id.clone(),
        name: name.to_string(),
        created_at: now,
        api_version: ApiVersion::DEFAULT.as_str().to_string(),
        keys: vec![tp_rec, ts_rec, lp_rec, ls_rec],
    };
    let shown = CreatedAccount {
        id: id.to_string(),
        name: name.to_string(),
        test_public_key: tp,
        test_secret_key: ts,
        live_public_key: lp,
        live_secret_key: ls,
    };
    (record, shown)
}

/// Longest overlap a key roll may give the old secret key.
pub const MAX_ROLL_OVERLAP_SECS: i64 = 7 * 86_400;

/// Rolls the secret key of one mode: a new key, shown only in the return value, and the old one (or
/// ones) working for `overlap_secs` more, then refused. The audit row names `actor` (a user's email or
/// `cli`); the API itself never says which key a request used.
pub async fn roll_secret_key(
    store: &crate::store::DynStore,
    account: &AccountId,
    livemode: bool,
    overlap_secs: i64,
    actor: &str,
    now: Timestamp,
) -> anyhow::Result<String> {
    if !(0..=MAX_ROLL_OVERLAP_SECS).contains(&overlap_secs) {
        anyhow::bail!("the overlap must be between 0 and {} hours", MAX_ROLL_OVERLAP_SECS / 3600);
    }
    store.get_account(account).await?;
    let (key, record) = new_key(KeyKind::Secret, livemode);
    let until = Timestamp::from_unix(now.unix() + overlap_secs);
    let audit = crate::store::users::AuditEntry {
        account: account.clone(),
        actor: actor.to_string(),
        action: "key.roll".into(),
        detail: format!(
            "{} secret key {}; the old one works until {}",
            if livemode { "live" } else { "test" },
            record.hint,
            until.iso()
        ),
        created_at: now,
    };
    store.roll_secret_key(account, &record, now, until, &audit).await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_omise_prefixes_and_only_public_ones_are_kept() {
        let (rec, shown) = new_account("Shop", Timestamp::EPOCH);
        assert!(shown.test_public_key.starts_with("pkey_test_"));
        assert!(shown.test_secret_key.starts_with("skey_test_"));
        assert!(shown.live_public_key.starts_with("pkey_") && !shown.live_public_key.contains("test"));
        assert!(shown.live_secret_key.starts_with("skey_") && !shown.live_secret_key.contains("test"));
        for k in &rec.keys {
            match k.kind {
                KeyKind::Secret => assert!(k.public_key.is_none()),
                KeyKind::Public => assert!(k.public_key.is_some()),
            }
            assert!(!k.hint.contains(&shown.test_secret_key[12..]));
        }
        assert_eq!(rec.keys[1].hash, hash_key(&shown.test_secret_key));
    }
}

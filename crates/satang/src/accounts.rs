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
    key_record(format!("{prefix}_{mode}{}", random_base36(19)), kind, livemode)
}

/// What may be shown of a key: its start, never enough of it to use (`skey_test_5abc…`).
pub fn key_hint(key: &str) -> String {
    let keep = key.len().saturating_sub(15);
    format!("{}…", key.get(..keep).unwrap_or(""))
}

fn key_record(key: String, kind: KeyKind, livemode: bool) -> (String, KeyRecord) {
    let hint = key_hint(&key);
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
    let test = (new_key(KeyKind::Public, false), new_key(KeyKind::Secret, false));
    build_account(name, now, test)
}

/// The test keys `satang serve --dev` gives its demo account unless `SATANG_DEV_PUBLIC_KEY` /
/// `SATANG_DEV_SECRET_KEY` say otherwise: fixed, so a developer's `.env` keeps working across restarts.
pub const DEV_PUBLIC_KEY: &str = "pkey_test_satangdevpublickey1";
pub const DEV_SECRET_KEY: &str = "skey_test_satangdevsecretkey1";

/// A demo account whose test keys are the ones given (`serve --dev`); its live keys are random and never
/// shown. Only test keys are accepted: a developer's server must never take live money.
pub fn dev_account(
    name: &str,
    now: Timestamp,
    public_key: &str,
    secret_key: &str,
) -> anyhow::Result<(NewAccount, CreatedAccount)> {
    for (key, prefix, var) in
        [(public_key, "pkey_test_", "SATANG_DEV_PUBLIC_KEY"), (secret_key, "skey_test_", "SATANG_DEV_SECRET_KEY")]
    {
        let rest = key.strip_prefix(prefix).ok_or_else(|| {
            anyhow::anyhow!("serve --dev runs in test mode only: {var} must be a test key ({prefix}…)")
        })?;
        if rest.len() < 8 || rest.len() > 64 || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            anyhow::bail!("{var} must be {prefix} followed by 8 to 64 letters, digits or underscores");
        }
    }
    let test = (
        key_record(public_key.to_string(), KeyKind::Public, false),
        key_record(secret_key.to_string(), KeyKind::Secret, false),
    );
    Ok(build_account(name, now, test))
}

type KeyPair = ((String, KeyRecord), (String, KeyRecord));

fn build_account(name: &str, now: Timestamp, ((tp, tp_rec), (ts, ts_rec)): KeyPair) -> (NewAccount, CreatedAccount) {
    let id = AccountId::generate(true);
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

    #[test]
    fn dev_accounts_take_only_test_keys() {
        let (rec, shown) = dev_account("Dev", Timestamp::EPOCH, DEV_PUBLIC_KEY, DEV_SECRET_KEY).unwrap();
        assert_eq!(shown.test_secret_key, DEV_SECRET_KEY);
        assert_eq!(rec.keys[1].hash, hash_key(DEV_SECRET_KEY));
        assert!(!shown.live_secret_key.contains("test"));
        let live = dev_account("Dev", Timestamp::EPOCH, DEV_PUBLIC_KEY, "skey_5abcdefghijklmnopqr");
        assert!(live.unwrap_err().to_string().contains("test mode only"));
        let live = dev_account("Dev", Timestamp::EPOCH, "pkey_5abcdefghijklmnopqr", DEV_SECRET_KEY);
        assert!(live.is_err());
        assert!(dev_account("Dev", Timestamp::EPOCH, DEV_PUBLIC_KEY, "skey_test_x").is_err());
    }
}

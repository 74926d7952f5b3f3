//! Which connector serves an account: built from its stored [`ConnectorRecord`] (private key opened with
//! the master key) on first use and kept until the record changes (`connector set` on any node bumps its
//! `updated_at`, which every lookup compares).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use satang_domain::{AccountId, Timestamp};

use super::antom::client::{Credentials, RetryPolicy};
use super::antom::{AntomConnector, sign};
use super::vault::MasterKey;
use super::{Connector, ConnectorError};
use crate::store::DynStore;
use crate::store::connectors::ConnectorRecord;

type Cached = (Timestamp, String, Arc<dyn Connector>);

pub struct Registry {
    master: Mutex<Result<Arc<MasterKey>, String>>,
    /// Seconds between periodic inquiries of an open order (`SATANG_LIVE_INQUIRY_INTERVAL`, default 60).
    inquiry_every: std::sync::atomic::AtomicI64,
    retry: RetryPolicy,
    cache: Mutex<HashMap<AccountId, Cached>>,
}

impl Registry {
    /// With the master key from `SATANG_MASTER_KEY`; without one, accounts with a connector cannot be
    /// served and say so.
    pub fn from_env() -> Registry {
        Registry::new(MasterKey::from_env().map_err(|e| e.to_string()), RetryPolicy::default())
    }

    pub fn new(master: Result<MasterKey, String>, retry: RetryPolicy) -> Registry {
        let every = std::env::var("SATANG_LIVE_INQUIRY_INTERVAL").ok().and_then(|v| v.parse().ok()).unwrap_or(60i64);
        Registry {
            master: Mutex::new(master.map(Arc::new)),
            inquiry_every: std::sync::atomic::AtomicI64::new(every.max(1)),
            retry,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds between periodic inquiries of an open order.
    pub fn inquiry_every(&self) -> i64 {
        self.inquiry_every.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replaces the master key (for a process that gets it other than from the environment, and tests,
    /// which cannot set environment variables safely).
    pub fn set_master_key(&self, key: MasterKey) {
        *self.master.lock().unwrap_or_else(|e| e.into_inner()) = Ok(Arc::new(key));
        self.lock().clear();
    }

    /// The account's connector, or `None` when it has none.
    pub async fn for_account(
        &self,
        store: &DynStore,
        account: &AccountId,
    ) -> Result<Option<Arc<dyn Connector>>, ConnectorError> {
        let record = store
            .get_connector(account)
            .await
            .map_err(|e| ConnectorError::Indeterminate(format!("reading the connector: {e}")))?;
        let Some(record) = record else {
            self.lock().remove(account);
            return Ok(None);
        };
        if let Some((at, client, c)) = self.lock().get(account)
            && *at == record.updated_at
            && *client == record.client_id
        {
            return Ok(Some(c.clone()));
        }
        let built = self.build(&record)?;
        self.lock().insert(account.clone(), (record.updated_at, record.client_id.clone(), built.clone()));
        Ok(Some(built))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn build(&self, r: &ConnectorRecord) -> Result<Arc<dyn Connector>, ConnectorError> {
        let master = self.master.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let master = master.map_err(ConnectorError::Misconfigured)?;
        let pem = master
            .open(r.account.as_str(), &r.merchant_key_sealed)
            .map_err(|e| ConnectorError::Misconfigured(e.to_string()))?;
        let pem = String::from_utf8(pem).map_err(|_| ConnectorError::Misconfigured("the key is not PEM".into()))?;
        let merchant_key =
            sign::private_key_from_pem(&pem).map_err(|e| ConnectorError::Misconfigured(e.to_string()))?;
        let antom_key = sign::public_key_from_pem(&r.provider_public_key)
            .map_err(|e| ConnectorError::Misconfigured(e.to_string()))?;
        match r.provider.as_str() {
            "antom" => Ok(Arc::new(AntomConnector::new(
                Credentials {
                    endpoint: r.endpoint.clone(),
                    client_id: r.client_id.clone(),
                    key_version: r.key_version,
                    merchant_key,
                    antom_key,
                },
                self.retry,
            )?)),
            other => Err(ConnectorError::Misconfigured(format!("unknown provider {other}"))),
        }
    }
}

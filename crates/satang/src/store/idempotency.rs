//! The store's side of `Idempotency-Key` (the HTTP side, and why it is safe, is `api/idempotency.rs`).
//!
//! While a request with a key runs, [`PENDING_KEY`] holds it. Every store method that writes on a client's
//! behalf (`insert_source`, `create_charge`, `update_charge`, the webhook endpoint and secret methods,
//! `redeliver`) takes the pending key, if any, when it is called, renders the response from what it wrote
//! ([`PendingKey::render`]) and inserts it into `idempotency_keys` in the same transaction. If that insert
//! meets the unique index (another request with the key committed first), the write fails with
//! [`super::StoreError::KeyTaken`] and rolls back, effect and all.
//!
//! A task-local rather than a parameter on each method: the key is a property of the HTTP request, not of
//! the domain operation, and the operations (`ops.rs`) are shared with the payer pages and the sweeper,
//! which never carry one. Only a store method called from within the request's task sees it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use satang_domain::{Charge, Source, Timestamp};

use super::{Scope, SigningSecret, WebhookEndpoint};

tokio::task_local! {
    /// The `Idempotency-Key` of the request being served, if it carries one.
    pub static PENDING_KEY: Arc<PendingKey>;
}

/// The pending key of the current request, if any.
pub fn pending_key() -> Option<Arc<PendingKey>> {
    PENDING_KEY.try_with(|p| p.clone()).ok()
}

/// What a store method wrote, for rendering the response.
pub enum Written<'a> {
    Source(&'a Source),
    Charge(&'a Charge),
    Endpoint(&'a WebhookEndpoint),
    SigningSecret(&'a SigningSecret),
    /// How many deliveries `redeliver` queued.
    Count(usize),
}

/// A response as the client gets it: status, body, and the `Omise-Version` of a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub version: Option<String>,
    pub body: Vec<u8>,
}

/// Renders the response from what was written.
pub type Renderer = Box<dyn Fn(Written<'_>) -> Result<Rendered, String> + Send + Sync>;

/// A response recorded under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub fingerprint: String,
    pub status: u16,
    /// The `Omise-Version` the body is in.
    pub version: Option<String>,
    pub body: Vec<u8>,
    pub created_at: Timestamp,
}

/// The row a store inserts with its write.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub scope: Scope,
    pub key: String,
    pub response: StoredResponse,
}

/// A key waiting for the write it guards.
pub struct PendingKey {
    pub scope: Scope,
    pub key: String,
    pub fingerprint: String,
    pub created_at: Timestamp,
    renderer: Mutex<Option<Arc<Renderer>>>,
    recorded: Mutex<Option<StoredResponse>>,
    taken: AtomicBool,
}

impl PendingKey {
    pub fn new(scope: Scope, key: String, fingerprint: String, created_at: Timestamp) -> Self {
        PendingKey {
            scope,
            key,
            fingerprint,
            created_at,
            renderer: Mutex::new(None),
            recorded: Mutex::new(None),
            taken: AtomicBool::new(false),
        }
    }

    /// Set by the handler before it writes: how its response is rendered.
    pub fn set_renderer(&self, renderer: Renderer) {
        *self.renderer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(renderer));
    }

    /// For a store, inside the write's transaction: the row to insert, or `None` when the handler declared no
    /// renderer (then nothing is recorded, and the API layer logs it). The response is also kept here, so the
    /// API returns exactly the recorded bytes.
    pub fn render(&self, written: Written<'_>) -> Option<Result<KeyRow, String>> {
        let renderer = self.renderer.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some(renderer(written).map(|r| {
            let response = StoredResponse {
                fingerprint: self.fingerprint.clone(),
                status: r.status,
                version: r.version,
                body: r.body,
                created_at: self.created_at,
            };
            *self.recorded.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.clone());
            KeyRow { scope: self.scope.clone(), key: self.key.clone(), response }
        }))
    }

    /// Called by a store whose insert met the unique index.
    pub fn mark_taken(&self) {
        self.taken.store(true, Ordering::SeqCst);
        self.recorded.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn was_taken(&self) -> bool {
        self.taken.load(Ordering::SeqCst)
    }

    /// The response rendered for the write (it was recorded only if the write committed: the caller checks
    /// that the request succeeded, or answered with the rendered status).
    pub fn take_recorded(&self) -> Option<StoredResponse> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether the handler declared a renderer (so its store write records the key).
    pub fn has_renderer(&self) -> bool {
        self.renderer.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

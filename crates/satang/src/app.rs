//! The application state every handler, page and background task shares.

use std::sync::Arc;

use satang_domain::{Clock, Timestamp};

use crate::api::auth::KeyCache;
use crate::api::wire::RenderCtx;
use crate::store::DynStore;
use crate::webhooks::ssrf::Policy;

pub struct App {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    /// Where payers and merchants reach this gateway (`authorize_uri` is built from it), no trailing slash.
    pub public_url: String,
    pub keys: KeyCache,
    /// Each account's live acquirer (see [`crate::connector`]).
    pub connectors: crate::connector::registry::Registry,
    /// Which addresses webhooks may reach (`--allow-private-webhooks`).
    pub webhook_policy: Policy,
    /// Turns true when the server starts shutting down, so long-lived responses (event streams) end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The served requests, for `GET /logs/stream`.
    pub request_log: crate::api::request_log::RequestLog,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, public_url: &str) -> AppState {
        Arc::new(App {
            store,
            clock,
            public_url: public_url.trim_end_matches('/').to_string(),
            keys: KeyCache::default(),
            connectors: crate::connector::registry::Registry::from_env(),
            webhook_policy: Policy::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            request_log: Default::default(),
        })
    }

    /// The same state with the operator's webhook policy; only while it is being built (not yet shared).
    pub fn with_webhook_policy(mut app: AppState, policy: Policy) -> AppState {
        Arc::get_mut(&mut app).expect("the webhook policy is set before the state is shared").webhook_policy = policy;
        app
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn render_ctx(&self, now: Timestamp) -> RenderCtx<'_> {
        RenderCtx { public_url: &self.public_url, now }
    }
}

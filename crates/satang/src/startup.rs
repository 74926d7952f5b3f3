//! Building and running the HTTP server. The binary and the tests share this path: `Application::build`
//! binds the listener and wires the state before anything is spawned, so a test can talk to it at once
//! (no sleeping for readiness), and `run_until_stopped` serves until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use satang_domain::Clock;
use tokio::net::TcpListener;
use tower::Layer as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};

use crate::api;
use crate::app::{App, AppState};
use crate::checkout;
use crate::http::ratelimit::{self, Limiter, RateLimits};
use crate::http::{ServerLimits, tls};
use crate::pages;
use crate::store::DynStore;

/// The whole HTTP surface: API and payer pages, with trailing slashes stripped before routing.
pub fn http_service(app: AppState, limiter: Arc<Limiter>) -> NormalizePath<Router> {
    let router = api::router()
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), api::idempotency::layer))
        .merge(pages::router())
        .merge(crate::live::routes::router())
        .route("/omise.js", get(checkout::omise_js::serve))
        .merge(crate::dashboard::router())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(limiter, ratelimit::limit))
        // Inside the request context, so a panic's 500 carries the request's ID; CORS outside the panic
        // catcher, so a browser reads even that answer.
        .layer(CatchPanicLayer::custom(api::panic_response))
        .layer(axum::middleware::from_fn(checkout::cors::layer))
        .layer(axum::middleware::from_fn_with_state(app.clone(), api::request_context))
        .with_state(app);
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    app: AppState,
    limits: ServerLimits,
    tls: Option<tls::Acceptor>,
    rate: RateLimits,
    client_ip_header: Option<HeaderName>,
}

impl Application {
    /// Binds `listen` and prepares the state. `public_url` defaults to `http://<bound address>`.
    pub async fn build(
        store: DynStore,
        clock: Arc<dyn Clock>,
        listen: SocketAddr,
        public_url: Option<String>,
    ) -> anyhow::Result<Self> {
        Self::from_listener(TcpListener::bind(listen).await?, store, clock, public_url)
    }

    /// The same on a listener already bound.
    pub fn from_listener(
        listener: TcpListener,
        store: DynStore,
        clock: Arc<dyn Clock>,
        public_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
        let app = App::new(store, clock, &public_url);
        Ok(Application {
            listener,
            addr,
            app,
            limits: ServerLimits::default(),
            tls: None,
            rate: RateLimits::default(),
            client_ip_header: None,
        })
    }

    /// Connection limits and timeouts other than the defaults.
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Rate limits other than the defaults, and the header that names the client behind a load balancer.
    pub fn with_rate_limits(mut self, rate: RateLimits, client_ip_header: Option<HeaderName>) -> Self {
        self.rate = rate;
        self.client_ip_header = client_ip_header;
        self
    }

    /// Which addresses webhooks may reach (see [`crate::webhooks::ssrf`]).
    pub fn with_webhook_policy(mut self, policy: crate::webhooks::ssrf::Policy) -> Self {
        self.app = App::with_webhook_policy(self.app, policy);
        self
    }

    /// Serves HTTPS with this acceptor instead of plain HTTP.
    pub fn with_tls(mut self, acceptor: tls::Acceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> AppState {
        self.app.clone()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight (at most for
    /// [`api::REQUEST_TIMEOUT`]).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = self.app.clone();
        let shutdown = async move {
            shutdown.await;
            app.stopping.send_replace(true);
        };
        let service = http_service(self.app, Limiter::new(self.rate, self.client_ip_header));
        crate::http::serve(self.listener, service, self.limits, self.tls, shutdown, api::REQUEST_TIMEOUT).await
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the future is
/// first polled, so a signal that arrives right after start-up is not lost (or fatal).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => std::future::pending::<()>().await,
            }
            tracing::info!("shutdown signal received; finishing requests in flight");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

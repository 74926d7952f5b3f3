//! `spawn_app()`: a real satang on a loopback port, over a real SQLite file of its own, with a clock the
//! test moves by hand. Built before it is spawned, so there is no waiting for readiness.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use satang::accounts::{self, CreatedAccount};
use satang::app::AppState;
use satang::http::ServerLimits;
use satang::http::ratelimit::RateLimits;
use satang::startup::Application;
use satang::store::{self, DynStore};
use satang::webhooks::worker::{Worker, WorkerConfig};
use satang_domain::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub store: DynStore,
    pub state: AppState,
    pub acct: CreatedAccount,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    pub pg: Option<std::sync::Arc<crate::common::PgDb>>,
    stop_worker: tokio::sync::watch::Sender<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A response: status, headers, JSON body (or `Value::Null` when the body is not JSON).
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Res {
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "expected 200, got {}: {}", self.status, self.text);
        assert_ne!(self.body["object"], "error", "{}", self.text);
        self.body
    }

    /// Asserts an Omise error object with this status and code, and returns its message.
    #[track_caller]
    pub fn err(self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.body["object"], "error", "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(
            self.body["location"],
            format!("https://www.omise.co/api-errors#{}", code.replace('_', "-")),
            "{}",
            self.text
        );
        assert!(self.headers.get("omise-version").is_none(), "errors carry no Omise-Version");
        self.body["message"].as_str().unwrap_or_default().to_string()
    }
}

/// Which database the suite runs on: `SATANG_TEST_BACKEND=postgres` for PostgreSQL, else SQLite.
pub fn on_postgres() -> bool {
    std::env::var("SATANG_TEST_BACKEND").map(|v| v == "postgres").unwrap_or(false)
}

/// No rate limits: the suite's tests make bursts of requests from one address that are not what they test
/// (tests/api/hostile.rs sets limits where they are the subject).
pub fn unlimited() -> RateLimits {
    RateLimits { per_key: 0, per_ip: 0, redeliveries_per_minute: 0 }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerLimits::default(), unlimited()).await
}

/// A fresh app whose HTTP front door has these connection limits, timeouts and rate limits.
pub async fn spawn_app_with(limits: ServerLimits, rate: RateLimits) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    if on_postgres() {
        let pg = crate::common::PgDb::create().await.expect("SATANG_TEST_BACKEND=postgres needs a PostgreSQL server");
        let url = pg.url.clone();
        let kept = Kept { dir, db_url: url, acct: None, pg: Some(std::sync::Arc::new(pg)) };
        return spawn_app_limited(kept, limits, rate).await;
    }
    let db_url = format!("sqlite:{}", dir.path().join("satang.db").display());
    spawn_app_limited(Kept { dir, db_url, acct: None, pg: None }, limits, rate).await
}

/// What outlives a stopped app, to start another on the same database.
pub struct Kept {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub acct: Option<CreatedAccount>,
    pub pg: Option<std::sync::Arc<crate::common::PgDb>>,
}

/// Starts an app on an existing database (to test restarts), or a fresh one.
pub async fn spawn_app_on(kept: Kept) -> TestApp {
    spawn_app_limited(kept, ServerLimits::default(), unlimited()).await
}

async fn spawn_app_limited(kept: Kept, limits: ServerLimits, rate: RateLimits) -> TestApp {
    let Kept { dir, db_url, acct, pg } = kept;
    let store = store::open(&db_url).await.expect("open store");
    let clock = ManualClock::new(SystemClock.now());
    let acct = match acct {
        Some(a) => a,
        None => {
            let (record, shown) = accounts::new_account("Test Shop", clock.now());
            store.create_account(record).await.expect("create account");
            shown
        }
    };
    let app = Application::build(store.clone(), Arc::new(clock.clone()), "127.0.0.1:0".parse().unwrap(), None)
        .await
        .expect("build app")
        .with_limits(limits)
        .with_rate_limits(rate, None);
    let addr = app.addr();
    let state = app.state();
    // The webhook worker runs as in `serve`; the expiry sweeper does not, so tests move time and sweep
    // explicitly (tests/api/expiry.rs).
    let worker =
        Worker::new(state.clone(), WorkerConfig { poll: std::time::Duration::from_millis(50), ..Default::default() })
            .expect("worker");
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(worker.clone().run(worker_stopped));
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        clock,
        store,
        state,
        acct,
        db_url,
        dir,
        pg,
        stop_worker,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn skey(&self) -> &str {
        &self.acct.test_secret_key
    }

    pub fn pkey(&self) -> &str {
        &self.acct.test_public_key
    }

    /// Stops the server and waits for it, keeping the database directory.
    pub async fn stop(mut self) -> Kept {
        let _ = self.stop_worker.send(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        Kept { dir: self.dir, db_url: self.db_url, acct: Some(self.acct), pg: self.pg }
    }

    /// Runs SQL on the app's database directly (to break it, or look under the API).
    pub async fn sql_exec(&self, sql: &str) {
        match self.db_url.strip_prefix("sqlite:") {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            None => self.pg_client().await.batch_execute(sql).await.unwrap(),
        }
    }

    /// The first column of the first row, as text (`None` for SQL null).
    pub async fn sql_text(&self, sql: &str) -> Option<String> {
        match self.db_url.strip_prefix("sqlite:") {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(sql, [], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(i) => Some(i.to_string()),
                        rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).to_string()),
                        other => Some(format!("{other:?}")),
                    })
                })
                .unwrap()
            }
            None => {
                let row = self.pg_client().await.query_one(&format!("select ({sql})::text"), &[]).await.unwrap();
                row.get(0)
            }
        }
    }

    async fn pg_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.db_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, headers, body, text }
    }

    pub fn req(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{}", self.base, path)).basic_auth(key, Some(""))
    }

    pub async fn get(&self, path: &str, key: &str) -> Res {
        self.send(self.req(reqwest::Method::GET, path, key)).await
    }

    /// POST with a form body, the way ruby, php and curl send it.
    pub async fn post_form(&self, path: &str, key: &str, form: &[(&str, &str)]) -> Res {
        self.send(self.req(reqwest::Method::POST, path, key).form(form)).await
    }

    /// POST with a JSON body, the way python, node, go and java send it.
    pub async fn post_json(&self, path: &str, key: &str, body: Value) -> Res {
        self.send(self.req(reqwest::Method::POST, path, key).json(&body)).await
    }

    pub async fn create_source(&self, kind: &str, amount: i64, currency: &str) -> Value {
        self.post_json("/sources", self.pkey(), json!({"type": kind, "amount": amount, "currency": currency}))
            .await
            .ok()
    }

    /// A pending charge on a new source of this kind.
    pub async fn create_charge(&self, kind: &str, amount: i64, currency: &str) -> Value {
        let src = self.create_source(kind, amount, currency).await;
        self.post_json(
            "/charges",
            self.skey(),
            json!({"amount": amount, "currency": currency, "source": src["id"], "return_uri": "https://shop.example/orders/1/complete"}),
        )
        .await
        .ok()
    }

    pub async fn mark_as_paid(&self, charge_id: &str) -> Value {
        self.send(self.req(reqwest::Method::POST, &format!("/charges/{charge_id}/mark_as_paid"), self.skey()))
            .await
            .ok()
    }

    pub async fn charge(&self, charge_id: &str) -> Value {
        self.get(&format!("/charges/{charge_id}"), self.skey()).await.ok()
    }

    pub async fn events_of(&self, charge_id: &str) -> Vec<String> {
        let list = self.get(&format!("/charges/{charge_id}/events"), self.skey()).await.ok();
        list["data"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap().to_string()).collect()
    }

    /// A second account on the same database.
    pub async fn other_account(&self) -> CreatedAccount {
        let (record, shown) = accounts::new_account("Other Shop", self.clock.now());
        self.store.create_account(record).await.expect("create account");
        shown
    }
}

/// A merchant's webhook receiver on a loopback port: records every request and answers with the status
/// (and after the delay) set for its path.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    hits: std::sync::Arc<std::sync::Mutex<Vec<Hit>>>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
    behaviour: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, (u16, std::time::Duration)>>>,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
    pub at: std::time::Instant,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind receiver");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let r = Receiver { base, hits: Default::default(), arrived: Default::default(), behaviour: Default::default() };
        let state = r.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 22).await.unwrap_or_default();
                let path = parts.uri.path().to_string();
                let (status, delay) =
                    state.behaviour.lock().unwrap().get(&path).copied().unwrap_or((200, std::time::Duration::ZERO));
                state.hits.lock().unwrap().push(Hit {
                    path,
                    headers: parts.headers,
                    body,
                    at: std::time::Instant::now(),
                });
                state.arrived.notify_waiters();
                tokio::time::sleep(delay).await;
                let mut res = axum::http::Response::new(axum::body::Body::from("ok"));
                *res.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                if (300..400).contains(&status) {
                    res.headers_mut().insert("location", axum::http::HeaderValue::from_static("/redirected"));
                }
                res
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Answer requests to `path` with `status` after `delay`.
    pub fn respond(&self, path: &str, status: u16, delay: std::time::Duration) {
        self.behaviour.lock().unwrap().insert(path.to_string(), (status, delay));
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    /// Waits until `path` has had `n` requests, or fails after `secs` seconds.
    pub async fn wait_for(&self, path: &str, n: usize, secs: u64) -> Vec<Hit> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let notified = self.arrived.notified();
            let hits = self.hits(path);
            if hits.len() >= n {
                return hits;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "{path}: expected {n} requests within {secs}s, got {}", hits.len());
            let _ = tokio::time::timeout(left.min(std::time::Duration::from_millis(100)), notified).await;
        }
    }
}

impl TestApp {
    /// Adds a test-mode endpoint through the admin API; returns its JSON (with `secret`).
    pub async fn add_endpoint(&self, url: &str) -> Value {
        self.post_json("/webhook_endpoints", self.skey(), json!({"url": url})).await.ok()
    }

    /// Wakes the webhook worker now (after moving the clock), instead of waiting for its poll.
    pub fn nudge(&self) {
        self.store.outbox_signal().notify_one();
    }
}

impl TestApp {
    /// Gives the account an Antom connector (whose endpoint nothing listens on), so that live charges can
    /// be created: without one they are refused. tests/antom_live.rs runs live charges against the
    /// simulator.
    pub async fn give_live_connector(&self) {
        use base64::Engine as _;
        static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        let (private, antom_public) = KEYS.get_or_init(|| satang::connector::antom::sign::generate_pair().unwrap());
        let master = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
        let key = satang::connector::vault::MasterKey::parse(&master).unwrap();
        let sealed = key.seal(self.acct.id.as_str(), private.as_bytes()).unwrap();
        self.state.connectors.set_master_key(key);
        self.store
            .set_connector(&satang::store::connectors::ConnectorRecord {
                account: self.acct.id.parse().unwrap(),
                provider: "antom".into(),
                client_id: "SANDBOX_TEST".into(),
                endpoint: "http://127.0.0.1:9".into(),
                key_version: 1,
                merchant_key_sealed: sealed,
                provider_public_key: antom_public.clone(),
                updated_at: SystemClock.now(),
            })
            .await
            .unwrap();
    }
}

//! `satang simulator antom`: an Antom (Alipay+ AMS v1) server on loopback (alipay-antom.md §3.4).
//!
//! | module | owns |
//! |---|---|
//! | this file | configuration, faults, request verification and response signing, the router |
//! | [`api`] | `pay`, `inquiryPayment`, `cancel`, `refund`, `inquiryRefund` (and their sandbox twins) |
//! | [`wallet`] | the wallet page at `normalUrl` where a person pays, fails with a code, or leaves |
//! | [`notify`] | signed `notifyPayment` with Antom's retry schedule, and closing orders at expiry |
//!
//! It checks every request's signature with the merchant's public key and answers a bad one with
//! `INVALID_SIGNATURE`; it signs every response and notification with its own (Antom's) private key. A
//! request id seen before with the same body gets the same answer, with another body
//! `REPEAT_REQ_INCONSISTENT`. Faults on demand: slow answers, 5xx, `U` answers (the request is carried
//! out, the answer says `UNKNOWN_EXCEPTION`), dropped notifications, a bad response signature, a refund
//! refused with a given code.

pub mod api;
pub mod notify;
pub mod wallet;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rsa::{PrivateKey, PublicKey};

use crate::connector::antom::sign;
use crate::connector::antom::wire::{Api, PayRequest, ResultInfo};

/// Antom's notification retry schedule (alipay-antom.md §3.2): the wait before each try.
pub const NOTIFY_SCHEDULE: [Duration; 8] = [
    Duration::from_secs(0),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(600),
    Duration::from_secs(3600),
    Duration::from_secs(7200),
    Duration::from_secs(21600),
    Duration::from_secs(54000),
];

/// Antom closes an unpaid order after about 14 minutes unless told otherwise.
pub const DEFAULT_CLOSE_AFTER: i64 = 14 * 60;

pub struct SimConfig {
    pub antom_key: PrivateKey,
    pub merchant_key: PublicKey,
    /// When set, requests from another client id are refused (`INVALID_CLIENT`).
    pub client_id: Option<String>,
    /// Wait between a payer's decision and the first notification (Antom: 3–5 s).
    pub notify_delay: Duration,
    /// Multiplies [`NOTIFY_SCHEDULE`], so tests see retries in milliseconds.
    pub notify_scale: f64,
    pub faults: Faults,
}

/// Faults on demand. Counters apply to the next N API calls and count down.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Every API answer waits this long first.
    pub slow_ms: u64,
    /// Every API call is carried out, then its answer waits this long (Antom acted, the caller has not
    /// heard yet: the window a crash of the caller falls into).
    pub slow_answer_ms: u64,
    /// The next N calls answer HTTP 500 without doing anything.
    pub http_500: u32,
    /// The next N calls are carried out but answer `U` / `UNKNOWN_EXCEPTION`.
    pub unknown: u32,
    /// The next N answers carry a signature that does not verify.
    pub bad_signature: u32,
    /// Notifications are not sent.
    pub drop_notifications: bool,
    /// The next refund is refused with this code (e.g. `REFUND_WINDOW_EXCEED`).
    pub refuse_refund: Option<String>,
}

impl Faults {
    /// `slow:MS`, `slow-answer:MS`, `5xx:N`, `u:N`, `bad-signature:N`, `drop-notify`, `refuse-refund:CODE`.
    pub fn apply(&mut self, spec: &str) -> Result<(), String> {
        let (name, arg) = spec.split_once(':').unwrap_or((spec, ""));
        let n = || arg.parse::<u32>().map_err(|_| format!("--fault {spec}: expected {name}:N"));
        match name {
            "slow" => self.slow_ms = arg.parse().map_err(|_| format!("--fault {spec}: expected slow:MS"))?,
            "slow-answer" => {
                self.slow_answer_ms = arg.parse().map_err(|_| format!("--fault {spec}: expected slow-answer:MS"))?
            }
            "5xx" => self.http_500 = n()?,
            "u" => self.unknown = n()?,
            "bad-signature" => self.bad_signature = n()?,
            "drop-notify" => self.drop_notifications = true,
            "refuse-refund" if !arg.is_empty() => self.refuse_refund = Some(arg.to_string()),
            _ => {
                return Err(format!(
                    "--fault {spec}: expected slow:MS, slow-answer:MS, 5xx:N, u:N, bad-signature:N, drop-notify or refuse-refund:CODE"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Open: the payer has not decided (or left).
    Processing,
    Success,
    /// Failed or closed, with Antom's code.
    Fail(String),
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub request: PayRequest,
    pub client_id: String,
    pub payment_id: String,
    pub status: Status,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    /// Subunits refunded so far.
    pub refunded: i64,
}

#[derive(Debug, Clone)]
pub struct RefundRecord {
    pub refund_request_id: String,
    pub refund_id: String,
    pub payment_request_id: String,
    pub amount: i64,
}

/// What the simulator counts, for tests and the README's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub calls: HashMap<&'static str, u64>,
    pub notifications_sent: u64,
    pub notifications_acked: u64,
    pub notifications_dropped: u64,
}

#[derive(Default)]
pub struct State {
    pub payments: HashMap<String, Payment>,
    /// paymentId → paymentRequestId.
    pub by_payment_id: HashMap<String, String>,
    pub refunds: HashMap<String, RefundRecord>,
    /// (endpoint, request id) → (request body, answer): idempotency.
    pub replies: HashMap<(Api, String), (Vec<u8>, serde_json::Value)>,
    pub stats: Stats,
    pub next: u64,
}

pub struct Sim {
    pub config: SimConfig,
    pub base_url: String,
    pub faults: Mutex<Faults>,
    pub state: Mutex<State>,
    pub http: reqwest::Client,
}

pub type SimState = Arc<Sim>;

impl Sim {
    pub fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signs `body` as Antom does and returns the headers to send with it.
    pub fn signed_headers(&self, path: &str, client_id: &str, time_header: &str, body: &[u8]) -> HeaderMap {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
            .to_string();
        let content = sign::content("POST", path, client_id, &time, body);
        let sig = sign::sign(&self.config.antom_key, &content).unwrap_or_default();
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json; charset=UTF-8"));
        if let Ok(v) = HeaderValue::from_str(client_id) {
            h.insert("client-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&time) {
            h.insert(axum::http::HeaderName::from_bytes(time_header.as_bytes()).expect("static name"), v);
        }
        if let Ok(v) = HeaderValue::from_str(&sign::header(1, &sig)) {
            h.insert("signature", v);
        }
        h
    }

    /// A signed 200 answer (or one with a broken signature when that fault is on).
    fn answer(&self, path: &str, client_id: &str, value: &serde_json::Value) -> Response {
        let body = serde_json::to_vec(value).unwrap_or_default();
        let mut headers = self.signed_headers(path, client_id, "response-time", &body);
        let mut faults = self.faults();
        if faults.bad_signature > 0 {
            faults.bad_signature -= 1;
            headers.insert("signature", HeaderValue::from_static("algorithm=RSA256,keyVersion=1,signature=AAAA"));
        }
        (StatusCode::OK, headers, body).into_response()
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn set_faults(&self, f: Faults) {
        *self.faults() = f;
    }

    pub fn payment(&self, payment_request_id: &str) -> Option<Payment> {
        self.lock().payments.get(payment_request_id).cloned()
    }

    /// Every payment opened for a charge (`referenceOrderId`).
    pub fn payments_for(&self, charge: &str) -> Vec<Payment> {
        let mut v: Vec<Payment> =
            self.lock().payments.values().filter(|p| p.request.order.reference_order_id == charge).cloned().collect();
        v.sort_by_key(|p| p.payment_id.clone());
        v
    }

    pub fn refunds_of(&self, payment_request_id: &str) -> Vec<RefundRecord> {
        self.lock().refunds.values().filter(|r| r.payment_request_id == payment_request_id).cloned().collect()
    }
}

pub fn result(status: &str, code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "result": ResultInfo::new(status, code, message) })
}

/// A running simulator.
pub struct Simulator {
    pub addr: SocketAddr,
    pub sim: SimState,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Binds `listen` and serves until dropped.
    pub async fn start(listen: SocketAddr, config: SimConfig) -> anyhow::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let faults = Mutex::new(config.faults.clone());
        let sim = Arc::new(Sim {
            config,
            base_url: format!("http://{addr}"),
            faults,
            state: Mutex::new(State::default()),
            http,
        });
        let router = router(sim.clone());
        let closer = tokio::spawn(notify::close_expired(sim.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
            closer.abort();
        });
        Ok(Simulator { addr, sim, task })
    }

    pub fn url(&self) -> String {
        self.sim.base_url.clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(sim: SimState) -> Router {
    let mut r = Router::new();
    for a in Api::ALL {
        for sandbox in [false, true] {
            let path = a.path(if sandbox { "SANDBOX_" } else { "" });
            r = r.route(&path, axum::routing::post(api::handle));
        }
    }
    r.route("/wallet/{payment_id}", axum::routing::get(wallet::page).post(wallet::decide)).with_state(sim)
}

#[cfg(test)]
mod tests {
    use super::Faults;

    #[test]
    fn fault_specs_parse() {
        let mut f = Faults::default();
        f.apply("slow-answer:2500").unwrap();
        f.apply("u:2").unwrap();
        assert_eq!(f, Faults { slow_answer_ms: 2500, unknown: 2, ..Faults::default() });
        let e = f.apply("slow-answer:soon").unwrap_err();
        assert!(e.contains("slow-answer:MS"), "{e}");
    }
}

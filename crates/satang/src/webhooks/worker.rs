//! The delivery worker: leases due deliveries from the outbox, sends them, records every attempt.
//!
//! * Woken by the store as soon as a commit queues deliveries (`Store::outbox_signal`), so an event goes
//!   out within milliseconds of its commit; it also polls every [`WorkerConfig::poll`] as a fallback (other
//!   processes, retries coming due).
//! * At most [`WorkerConfig::per_target`] sends in flight per URL and [`WorkerConfig::max_in_flight`]
//!   deliveries in hand in all, so one endpoint that is down or slow never delays the others. The worker
//!   claims up to [`QUEUE_FACTOR`] times `per_target` deliveries per URL ahead, so a fast receiver is never
//!   waiting on the next claim; a send's URL slot is freed as soon as the receiver answers, and the attempt
//!   is recorded after that.
//! * A send is a POST of the event (the account's default `Omise-Version` shape) with `Omise-Signature`
//!   and `Omise-Signature-Timestamp`, a 10 s timeout, and no redirects followed. Of the answer only its
//!   first [`RESPONSE_EXCERPT_BYTES`] are read (the chunk that carries them, never the rest of a hostile
//!   receiver's body) and kept in the delivery log as text ([`response_excerpt`]). 2xx is delivered;
//!   anything else is retried on [`super::schedule`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use satang_domain::{Clock, DeliveryId, SystemClock};
use tokio::sync::{Notify, Semaphore, watch};

use super::schedule;
use super::sign;
use super::ssrf;
use crate::api::version::ApiVersion;
use crate::api::wire::event::EventObject;
use crate::app::AppState;
use crate::store::{AttemptRecord, ClaimRequest, ClaimedDelivery, DeliveryOutcome, StoreError, StoredEvent};

/// How much of a receiver's answer the delivery log keeps (and about all of it that is read).
pub const RESPONSE_EXCERPT_BYTES: usize = 512;
/// Deliveries claimed ahead per URL, as a multiple of its send concurrency. Small enough that a URL whose
/// every send times out (10 s) still gets through its claimed ones well within the lease.
pub const QUEUE_FACTOR: usize = 4;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub per_target: usize,
    pub max_in_flight: usize,
    pub poll: Duration,
    /// How long a claimed delivery stays leased; longer than the send timeout.
    pub lease_seconds: i64,
    pub timeout: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            // 64: one busy shop's single endpoint must keep up with thousands of events a second (at 16,
            // with a few milliseconds per send, deliveries topped out near 3,000/s and fell behind; see
            // BENCHMARKS.md), while a slow endpoint still holds only a quarter of the 256 slots.
            per_target: 64,
            max_in_flight: 256,
            poll: Duration::from_millis(500),
            lease_seconds: 60,
            timeout: schedule::TIMEOUT,
        }
    }
}

pub struct Worker {
    app: AppState,
    test_client: reqwest::Client,
    live_client: reqwest::Client,
    config: WorkerConfig,
    /// Deliveries claimed and not yet finished, per URL.
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    /// Sends in progress per URL (at most `per_target`).
    sending: Mutex<HashMap<String, Arc<Semaphore>>>,
    slots: Arc<Semaphore>,
    done: Arc<Notify>,
}

/// The JSON body a delivery sends: the event as `GET /events/:id` shows it, with `webhook_deliveries: []`
/// (as Omise's payloads have), in the given version.
pub fn payload(event: &StoredEvent, version: &str, public_url: &str) -> Result<Vec<u8>, serde_json::Error> {
    let obj = EventObject::new(event, Vec::new(), public_url)?;
    match ApiVersion::parse(version).unwrap_or(ApiVersion::DEFAULT) {
        ApiVersion::V2019_05_29 => Ok(crate::json::to_vec(&obj)?),
        v => {
            let mut value = serde_json::to_value(&obj)?;
            v.adapt(&mut value);
            serde_json::to_vec(&value)
        }
    }
}

fn client(config: &WorkerConfig, policy: ssrf::Policy, live: bool) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("satang/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(config.per_target)
        .dns_resolver(policy.resolver(live));
    if live {
        b = b.https_only(true);
    }
    Ok(b.build()?)
}

/// A send error in a few words, without the URL's query or anything secret.
fn describe(e: &reqwest::Error) -> String {
    let mut cause = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    if cause.is_empty() { kind.to_string() } else { format!("{kind}: {cause}") }
}

impl Worker {
    pub fn new(app: AppState, config: WorkerConfig) -> anyhow::Result<Arc<Worker>> {
        Ok(Arc::new(Worker {
            test_client: client(&config, app.webhook_policy, false)?,
            live_client: client(&config, app.webhook_policy, true)?,
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            sending: Mutex::new(HashMap::new()),
            done: Arc::new(Notify::new()),
            app,
            config,
        }))
    }

    /// Runs until `stop` turns true, then lets the sends in flight finish (and be recorded).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let signal = self.app.store.outbox_signal();
        loop {
            let started = match self.dispatch().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error.message = %e, "claiming webhook deliveries failed; retrying");
                    0
                }
            };
            if started > 0 && self.slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = signal.notified() => {}
                _ = self.done.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        let _ = tokio::time::timeout(self.config.timeout + Duration::from_secs(1), self.idle()).await;
    }

    /// Waits until no send is in flight.
    async fn idle(&self) {
        let all = self.config.max_in_flight as u32;
        if let Ok(p) = self.slots.acquire_many(all).await {
            drop(p);
        }
    }

    /// Sends everything due now and waits for the results: for tests and tools that drive time themselves.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.dispatch().await?;
            self.idle().await;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Claims what is due (within the concurrency limits) and starts sending it. Returns how many started.
    pub async fn dispatch(self: &Arc<Self>) -> Result<usize, StoreError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let busy = self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let now = self.app.now();
        let wall = SystemClock.now();
        let claimed = self
            .app
            .store
            .claim_deliveries(ClaimRequest {
                now,
                limit: free.min(256),
                per_target: self.config.per_target * QUEUE_FACTOR,
                busy,
                lease_now: wall,
                lease_until: wall.plus_seconds(self.config.lease_seconds),
            })
            .await?;
        let n = claimed.len();
        for d in claimed {
            let permit = match self.slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => self.slots.clone().acquire_owned().await.map_err(|e| StoreError::Other(e.into()))?,
            };
            *self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).entry(d.url.clone()).or_insert(0) += 1;
            let lane = self
                .sending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(d.url.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_target)))
                .clone();
            let me = self.clone();
            tokio::spawn(async move {
                let url = d.url.clone();
                let seq = d.seq;
                let (attempt, outcome) = match lane.acquire_owned().await {
                    Ok(sending) => {
                        let result = me.send(d).await;
                        drop(sending);
                        result
                    }
                    Err(_) => return,
                };
                if let Err(e) = me.app.store.finish_attempt(seq, attempt, outcome).await {
                    // The lease runs out and the delivery is sent again: at least once, never lost.
                    tracing::error!(error.message = %e, "recording a webhook attempt failed");
                }
                {
                    let mut map = me.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(c) = map.get_mut(&url) {
                        *c -= 1;
                        if *c == 0 {
                            map.remove(&url);
                            me.sending.lock().unwrap_or_else(|p| p.into_inner()).remove(&url);
                        }
                    }
                }
                drop(permit);
                me.done.notify_one();
            });
        }
        Ok(n)
    }

    async fn send(&self, d: ClaimedDelivery) -> (AttemptRecord, DeliveryOutcome) {
        let live = d.event.livemode;
        let started = Instant::now();
        let rendered = payload(&d.event, &d.api_version, &self.app.public_url);
        // The attempt's time: its signature timestamp, its log entry, and the base of any retry.
        let now = self.app.now();
        let ts = now.unix();
        let mut response = None;
        let (status, error) = if let Err(e) = &rendered {
            // Never send (or count as delivered) an event that cannot be rendered: an empty or partial body
            // would be signed and acknowledged, and the event lost. The attempt is recorded as failed and
            // retried on the schedule, so a fixed build delivers it.
            tracing::error!(event.id = %d.event.id, error.message = %e, "webhook payload cannot be rendered; not sent");
            (None, Some(format!("not sent: the event could not be rendered ({e})")))
        } else if let Err(e) = self.app.webhook_policy.check_literal(&d.url, live) {
            (None, Some(format!("refused: {e}")))
        } else {
            let body = rendered.unwrap_or_default();
            match sign::header(&d.secret, d.previous_secret.as_deref(), ts, &body) {
                Err(e) => (None, Some(e.to_string())),
                Ok(signature) => {
                    let client = if live { &self.live_client } else { &self.test_client };
                    let sent = client
                        .post(&d.url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .header("Omise-Signature", signature)
                        .header("Omise-Signature-Timestamp", ts.to_string())
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(mut res) => {
                            let status = res.status();
                            // Read the start of the answer (one byte past the excerpt, to know it was cut),
                            // then drop the connection with the rest of the body unread.
                            let mut head = Vec::with_capacity(RESPONSE_EXCERPT_BYTES + 1);
                            while head.len() <= RESPONSE_EXCERPT_BYTES {
                                match res.chunk().await {
                                    Ok(Some(c)) => {
                                        let room = RESPONSE_EXCERPT_BYTES + 1 - head.len();
                                        head.extend_from_slice(&c[..c.len().min(room)]);
                                    }
                                    _ => break,
                                }
                            }
                            drop(res);
                            response = Some(response_excerpt(&head));
                            let err = (!status.is_success()).then(|| {
                                if status.is_redirection() {
                                    format!("HTTP {} (redirects are not followed)", status.as_u16())
                                } else {
                                    format!("HTTP {}", status.as_u16())
                                }
                            });
                            (Some(status.as_u16()), err)
                        }
                        Err(e) => (None, Some(describe(&e))),
                    }
                }
            }
        };
        crate::metrics::delivery(error.is_none(), started.elapsed().as_secs_f64());
        let outcome = if error.is_none() {
            DeliveryOutcome::Delivered
        } else {
            match schedule::next_attempt(d.queued_at, d.attempts + 1, now) {
                Some(at) => DeliveryOutcome::RetryAt(at),
                None => DeliveryOutcome::GaveUp,
            }
        };
        let attempt = AttemptRecord {
            id: DeliveryId::generate(live),
            event: d.event.id.clone(),
            url: d.url.clone(),
            status,
            error,
            duration_ms: started.elapsed().as_millis() as u64,
            // Not stored: the event rendered in the account's version is the payload, and the log renders it
            // again when read (webhook_deliveries[].payload).
            payload: String::new(),
            response,
            created_at: now,
        };
        (attempt, outcome)
    }
}

/// The start of a receiver's answer as the delivery log keeps it: its first [`RESPONSE_EXCERPT_BYTES`]
/// bytes as text. Invalid UTF-8 becomes U+FFFD, but a character cut in two by the limit is left out
/// rather than shown broken. Control characters other than newline and tab become their visible
/// pictures (NUL as `␀`, ESC as `␛`), a carriage return before a newline is dropped, and the
/// bidirectional overrides that could make the text read differently from what was sent become U+FFFD:
/// whatever a receiver answers, the dashboard shows it as inert text, and PostgreSQL (which refuses NUL
/// in text) stores it.
pub fn response_excerpt(body: &[u8]) -> String {
    let cut = body.len() > RESPONSE_EXCERPT_BYTES;
    let mut head = &body[..body.len().min(RESPONSE_EXCERPT_BYTES)];
    if cut {
        head = &head[..whole_chars(head)];
    }
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// How many leading bytes of `b` end on a character boundary: a multi-byte UTF-8 sequence begun in the
/// last three bytes and not finished is left out.
fn whole_chars(b: &[u8]) -> usize {
    for back in 1..=b.len().min(4) {
        let lead = b[b.len() - back];
        if lead & 0xc0 == 0x80 {
            continue; // a continuation byte: look further back for its lead
        }
        let needs = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if needs > back { b.len() - back } else { b.len() };
    }
    b.len()
}

#[cfg(test)]
mod excerpt_tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_as_its_first_512_bytes_of_inert_text() {
        assert_eq!(response_excerpt(b"{\"ok\":true}\r\n"), "{\"ok\":true}\n");
        assert_eq!(response_excerpt(b""), "");
        let long = vec![b'a'; 10_000];
        assert_eq!(response_excerpt(&long), "a".repeat(512));
        // A Thai character (3 bytes) cut by the limit is left out, not shown as U+FFFD.
        let mut thai = vec![b'a'; 511];
        thai.extend_from_slice("ก".as_bytes());
        assert_eq!(response_excerpt(&thai), "a".repeat(511));
        let mut fits = vec![b'a'; 509];
        fits.extend_from_slice("ก".as_bytes());
        fits.push(b'z');
        assert_eq!(response_excerpt(&fits), format!("{}ก", "a".repeat(509)));
        // Controls become visible; newline and tab stay; invalid bytes become U+FFFD.
        assert_eq!(response_excerpt(b"a\0b\x1b[31mc\td\ne\rf\x7f"), "a␀b␛[31mc\td\ne␍f␡");
        assert_eq!(response_excerpt(b"ok \xff\xfe"), "ok \u{fffd}\u{fffd}");
        assert_eq!(response_excerpt("x\u{202e}y\u{85}".as_bytes()), "x\u{fffd}y\u{fffd}");
    }
}

//! The account's API requests as they are served (beyond Omise): `GET /logs/stream`, server-sent events of
//! one JSON record per request, which `satang logs tail` prints.
//!
//! A record has the time, method, path (never the query), status, latency, request ID and error code: never
//! a key, a header or a body. [`super::request_context`] publishes it when the response is ready, attributed
//! to the account whose key [`super::auth`] accepted ([`note_caller`]); a request whose key was refused
//! belongs to no account and is not shown. Nothing is recorded or kept when no one is tailing.

use std::cell::OnceCell;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Serialize;
use tokio::sync::broadcast;

use super::auth::SecretKey;
use crate::app::AppState;
use crate::store::Scope;

/// The path of the stream itself, whose own requests are not recorded.
pub const PATH: &str = "/logs/stream";

tokio::task_local! {
    /// The account and mode whose key the request being served was accepted with.
    pub static CALLER_SCOPE: OnceCell<Scope>;
}

/// Records the request's account, from the key extractor.
pub fn note_caller(scope: &Scope) {
    let _ = CALLER_SCOPE.try_with(|c| c.set(scope.clone()));
}

/// One served request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    #[serde(skip)]
    pub scope: Scope,
    pub time: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub latency_ms: u64,
    pub request_id: String,
    pub error_code: Option<&'static str>,
}

/// Fans records out to the tails that are open.
pub struct RequestLog {
    tx: broadcast::Sender<std::sync::Arc<RequestRecord>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog { tx: broadcast::Sender::new(1024) }
    }
}

impl RequestLog {
    /// Whether anyone is tailing (so a request builds its record only then).
    pub fn wanted(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn publish(&self, record: RequestRecord) {
        let _ = self.tx.send(std::sync::Arc::new(record));
    }
}

pub async fn tail(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let mut records = app.request_log.tx.subscribe();
    let mut stopping = app.stopping.subscribe();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(256);
    let scope = caller.scope;
    tokio::spawn(async move {
        loop {
            let record = tokio::select! {
                r = records.recv() => r,
                _ = tx.closed() => return,
                _ = stopping.wait_for(|s| *s) => return,
            };
            let event = match record {
                Ok(r) if r.scope == scope => {
                    Event::default().event("request").data(serde_json::to_string(&*r).unwrap_or_default())
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    Event::default().event("lagged").data(format!("{{\"skipped\":{n}}}"))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|m| m.map(Ok)));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

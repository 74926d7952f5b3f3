//! `GET /events/stream` (beyond Omise): the account's events, as server-sent events, as they are committed.
//! `satang listen` reads it and forwards each event to a developer's app as a webhook.
//!
//! * Woken by the store's commit signal ([`crate::store::EventsSignal`]), so an event is sent within
//!   milliseconds of its commit; a read every [`FALLBACK`] covers what no signal announces (another
//!   PostgreSQL node's commit that queued no webhook).
//! * Each SSE message is `id: <event ID>`, `event: <key>`, and `data:` the exact bytes a webhook delivery of
//!   that event would carry (the account's default version), so a forwarder can sign and send it unchanged.
//! * Resumable: a client that sends `Last-Event-ID` gets every event committed after that one. Without it the
//!   stream starts with the next event committed. `?events=charge.complete,refund.create` keeps only those
//!   keys.
//! * Events of one second may commit out of ID order on PostgreSQL, so each read looks [`WINDOW`] seconds
//!   back from the newest event sent and skips the ones already sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use satang_domain::{EventId, Timestamp};

use super::auth::SecretKey;
use super::error::ApiError;
use super::params::Params;
use crate::app::AppState;
use crate::store::{ListQuery, Order, Scope, StoreResult, StoredEvent};
use crate::webhooks::worker::payload;

/// How often a stream reads without being woken.
pub const FALLBACK: Duration = Duration::from_secs(10);
/// Seconds a read looks back from the newest event sent.
const WINDOW: i64 = 2;
const PAGE: u64 = 100;

/// Where a stream is: the newest `created_at` sent, and the events sent at or after `WINDOW` before it.
struct Cursor {
    high: Timestamp,
    sent: HashMap<EventId, Timestamp>,
}

impl Cursor {
    fn from(&self) -> Timestamp {
        Timestamp::from_unix(self.high.unix().saturating_sub(WINDOW).max(0))
    }

    fn mark(&mut self, e: &StoredEvent) {
        self.high = self.high.max(e.created_at);
        self.sent.insert(e.id.clone(), e.created_at);
    }

    fn prune(&mut self) {
        let from = self.from();
        self.sent.retain(|_, at| *at >= from);
    }
}

/// Every event of the scope created at or after `from`, oldest first.
async fn events_since(app: &AppState, scope: &Scope, from: Timestamp) -> StoreResult<Vec<StoredEvent>> {
    // Far enough ahead that nothing committed is left out by a clock a second or two ahead of this one.
    let to = app.now().plus_seconds(3600);
    let mut all = Vec::new();
    loop {
        let q =
            ListQuery { from, to, offset: all.len() as u64, limit: PAGE, order: Order::Chronological, whole: false };
        let page = app.store.list_events(scope, None, q).await?;
        let n = page.items.len() as u64;
        all.extend(page.items);
        if n < PAGE {
            return Ok(all);
        }
    }
}

/// The cursor of a new stream: after `last` (the client's `Last-Event-ID`), else after the newest event.
async fn start(app: &AppState, scope: &Scope, last: Option<EventId>) -> Result<Cursor, ApiError> {
    let mut cursor = Cursor { high: Timestamp::EPOCH, sent: HashMap::new() };
    let last = match last {
        Some(id) => app.store.get_event(scope, &id).await?,
        None => {
            let q = ListQuery {
                from: Timestamp::EPOCH,
                to: app.now().plus_seconds(3600),
                offset: 0,
                limit: 1,
                order: Order::ReverseChronological,
                whole: false,
            };
            match app.store.list_events(scope, None, q).await?.items.into_iter().next() {
                Some(e) => e,
                None => return Ok(cursor),
            }
        }
    };
    cursor.high = last.created_at;
    // Everything up to and including `last` in list order counts as sent.
    for e in events_since(app, scope, cursor.from()).await? {
        cursor.mark(&e);
        if e.id == last.id {
            break;
        }
    }
    Ok(cursor)
}

pub async fn stream_events(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    headers: HeaderMap,
    p: Params,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = match headers.get("last-event-id").map(|v| v.to_str().unwrap_or("").trim()) {
        None | Some("") => None,
        Some(id) => Some(
            id.parse::<EventId>()
                .map_err(|_| ApiError::bad_request(format!("Last-Event-ID {id} is not an event ID")))?,
        ),
    };
    let keys: Option<Vec<String>> = p
        .string("events")?
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect());
    if let Some(bad) = keys.iter().flatten().find(|k| satang_domain::EventKey::parse(k).is_none()) {
        return Err(ApiError::bad_request(format!("events: {bad} is not an event key")));
    }
    let scope = caller.scope.clone();
    let version = caller.default_version.as_str().to_string();
    let mut cursor = start(&app, &scope, last).await?;
    let mut woken = app.store.events_signal().subscribe();
    let mut stopping = app.stopping.subscribe();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        // Opened before the first read: a commit after that read and before the wait still wakes it.
        woken.mark_unchanged();
        loop {
            match events_since(&app, &scope, cursor.from()).await {
                Ok(events) => {
                    for e in &events {
                        if cursor.sent.contains_key(&e.id) {
                            continue;
                        }
                        cursor.mark(e);
                        if keys.as_ref().is_some_and(|k| !k.iter().any(|k| k == e.key.as_str())) {
                            continue;
                        }
                        let body = match payload(e, &version, &app.public_url) {
                            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                            Err(err) => {
                                tracing::error!(event.id = %e.id, error.message = %err, "event cannot be rendered; not streamed");
                                continue;
                            }
                        };
                        let msg = Event::default().id(e.id.as_str()).event(e.key.as_str()).data(body);
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                    cursor.prune();
                }
                Err(err) => tracing::warn!(error.message = %err, "event stream read failed; retrying"),
            }
            tokio::select! {
                changed = woken.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(FALLBACK) => {}
                _ = tx.closed() => return,
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|m| m.map(Ok)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

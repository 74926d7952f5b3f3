//! `GET /events`, `GET /events/:id`, `GET /charges/:id/events` (omise-wire.md §4.4, §7), and beyond Omise
//! `POST /events/:id/redeliver`.

use axum::extract::{Path, State};
use satang_domain::EventId;

use super::auth::{Caller, SecretKey};
use super::charges::parse_charge_id;
use super::error::ApiError;
use super::list_query;
use super::params::Params;
use super::version::Reply;
use super::wire::ListObject;
use super::wire::event::EventObject;
use crate::app::AppState;
use crate::store::{AttemptRecord, Page, StoredEvent};

async fn delivery_log(app: &AppState, events: &[StoredEvent]) -> Result<Vec<AttemptRecord>, ApiError> {
    let ids: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
    Ok(app.store.list_attempts(&ids).await?)
}

fn render_page<'a>(
    app: &'a AppState,
    caller: &Caller,
    page: &'a Page<StoredEvent>,
    log: &'a [AttemptRecord],
) -> Result<Vec<EventObject<'a>>, ApiError> {
    page.items
        .iter()
        .map(|e| {
            EventObject::with_log(e, log, &app.public_url, caller.default_version)
                .map_err(|err| ApiError::internal(err.into()))
        })
        .collect()
}

fn parse_event_id(id: &str) -> Result<EventId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("event", id))
}

pub async fn list_events(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let q = list_query(&p, app.now())?;
    let page = app.store.list_events(&caller.scope, None, q).await?;
    let log = delivery_log(&app, &page.items).await?;
    Reply::new(
        caller.version,
        &ListObject::new(render_page(&app, &caller, &page, &log)?, page.total, &q, "/events".into()),
    )
}

pub async fn retrieve_event(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let event = app.store.get_event(&caller.scope, &parse_event_id(&id)?).await?;
    let log = delivery_log(&app, std::slice::from_ref(&event)).await?;
    Reply::new(
        caller.version,
        &EventObject::with_log(&event, &log, &app.public_url, caller.default_version)
            .map_err(|e| ApiError::internal(e.into()))?,
    )
}

/// Queues the event again for delivery (beyond Omise): to the charge's own URLs if it had any, else to the
/// account's endpoints as they are now. Answers with the event.
pub async fn redeliver_event(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let id = parse_event_id(&id)?;
    let queued = app.store.redeliver(&caller.scope, &id, app.now()).await?;
    if queued == 0 {
        return Err(ApiError::bad_request("there is no webhook endpoint to deliver this event to; add one first"));
    }
    let event = app.store.get_event(&caller.scope, &id).await?;
    let log = delivery_log(&app, std::slice::from_ref(&event)).await?;
    Reply::new(
        caller.version,
        &EventObject::with_log(&event, &log, &app.public_url, caller.default_version)
            .map_err(|e| ApiError::internal(e.into()))?,
    )
}

pub async fn list_charge_events(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
    p: Params,
) -> Result<Reply, ApiError> {
    let id = parse_charge_id(&id)?;
    // A charge of another account or mode is not found, not an empty list.
    app.store.get_charge(&caller.scope, &id).await?;
    let q = list_query(&p, app.now())?;
    let page = app.store.list_events(&caller.scope, Some(&id), q).await?;
    let log = delivery_log(&app, &page.items).await?;
    let location = format!("/charges/{id}/events");
    Reply::new(caller.version, &ListObject::new(render_page(&app, &caller, &page, &log)?, page.total, &q, location))
}

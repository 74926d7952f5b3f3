//! `GET /events`, `GET /events/:id`, `GET /charges/:id/events` (omise-wire.md §4.4, §7).

use axum::extract::{Path, State};
use satang_domain::EventId;

use super::auth::SecretKey;
use super::charges::parse_charge_id;
use super::error::ApiError;
use super::list_query;
use super::params::Params;
use super::version::Reply;
use super::wire::ListObject;
use super::wire::event::EventObject;
use crate::app::AppState;
use crate::store::{Page, StoredEvent};

fn render_page(page: &Page<StoredEvent>) -> Result<Vec<EventObject<'_>>, ApiError> {
    page.items.iter().map(|e| EventObject::new(e).map_err(|err| ApiError::internal(err.into()))).collect()
}

pub async fn list_events(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    p: Params,
) -> Result<Reply, ApiError> {
    let q = list_query(&p, app.now())?;
    let page = app.store.list_events(&caller.scope, None, q).await?;
    Reply::new(caller.version, &ListObject::new(render_page(&page)?, page.total, &q, "/events".into()))
}

pub async fn retrieve_event(
    State(app): State<AppState>,
    SecretKey(caller): SecretKey,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let id: EventId = id.parse().map_err(|_| ApiError::not_found("event", &id))?;
    let event = app.store.get_event(&caller.scope, &id).await?;
    Reply::new(caller.version, &EventObject::new(&event).map_err(|e| ApiError::internal(e.into()))?)
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
    let location = format!("/charges/{id}/events");
    Reply::new(caller.version, &ListObject::new(render_page(&page)?, page.total, &q, location))
}

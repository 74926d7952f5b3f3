//! The event object (omise-wire.md §4.4): `data` is the object's JSON as stored when the event happened.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::store::StoredEvent;

#[derive(Debug, Serialize)]
pub struct EventObject<'a> {
    object: &'static str,
    id: &'a str,
    livemode: bool,
    location: String,
    webhook_deliveries: Vec<()>,
    data: &'a RawValue,
    key: &'static str,
    created_at: String,
}

impl<'a> EventObject<'a> {
    pub fn new(e: &'a StoredEvent) -> Result<Self, serde_json::Error> {
        let data: &RawValue = serde_json::from_str(&e.data)?;
        Ok(EventObject {
            object: "event",
            id: e.id.as_str(),
            livemode: e.livemode,
            location: format!("/events/{}", e.id),
            webhook_deliveries: Vec::new(),
            data,
            key: e.key.as_str(),
            created_at: e.created_at.iso(),
        })
    }
}

//! The event object (omise-wire.md §4.4): `data` is the object's JSON as stored when the event happened;
//! `webhook_deliveries` is its delivery log, one entry per attempt.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::store::{AttemptRecord, StoredEvent};

/// One delivery attempt (`webhook_deliveries[]`). `created_at` is ISO 8601, not the docs fixture's
/// `"2023-03-02 10:27:09 UTC"`, which omise-java could not parse (omise-wire.md §2.2).
#[derive(Debug, Serialize)]
pub struct WebhookDeliveryObject<'a> {
    object: &'static str,
    id: &'a str,
    uri: &'a str,
    /// The receiver's HTTP status, or null when it gave none.
    status: Option<u16>,
    key: &'static str,
    error: Option<&'a str>,
    /// The exact JSON body sent.
    payload: &'a str,
    /// Beyond Omise: how long the attempt took.
    duration_ms: u64,
    created_at: String,
}

impl<'a> WebhookDeliveryObject<'a> {
    pub fn new(event: &StoredEvent, a: &'a AttemptRecord) -> Self {
        WebhookDeliveryObject {
            object: "webhook_delivery",
            id: a.id.as_str(),
            uri: &a.url,
            status: a.status,
            key: event.key.as_str(),
            error: a.error.as_deref(),
            payload: &a.payload,
            duration_ms: a.duration_ms,
            created_at: a.created_at.iso(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EventObject<'a> {
    object: &'static str,
    id: &'a str,
    livemode: bool,
    location: String,
    webhook_deliveries: Vec<WebhookDeliveryObject<'a>>,
    data: &'a RawValue,
    key: &'static str,
    created_at: String,
}

impl<'a> EventObject<'a> {
    pub fn new(
        e: &'a StoredEvent,
        webhook_deliveries: Vec<WebhookDeliveryObject<'a>>,
    ) -> Result<Self, serde_json::Error> {
        let data: &RawValue = serde_json::from_str(&e.data)?;
        Ok(EventObject {
            object: "event",
            id: e.id.as_str(),
            livemode: e.livemode,
            location: format!("/events/{}", e.id),
            webhook_deliveries,
            data,
            key: e.key.as_str(),
            created_at: e.created_at.iso(),
        })
    }

    /// The event with its delivery log, from all attempts of a page of events.
    pub fn with_log(e: &'a StoredEvent, attempts: &'a [AttemptRecord]) -> Result<Self, serde_json::Error> {
        let log = attempts.iter().filter(|a| a.event == e.id).map(|a| WebhookDeliveryObject::new(e, a)).collect();
        Self::new(e, log)
    }
}

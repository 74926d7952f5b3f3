//! The event object (omise-wire.md §4.4): `data` is the object as it was when the event happened;
//! `webhook_deliveries` is its delivery log, one entry per attempt.
//!
//! An event stores a snapshot of the domain object (the charge, or the refund with its charge's ID and
//! currency), not its wire JSON: the snapshot is smaller to write, and rendering it at the event's own time
//! gives exactly the object as it was then (`refundable`, `refunds.to`), in whichever `Omise-Version` is
//! asked.

use satang_domain::{Charge, EventKey};
use serde::{Serialize, Serializer};

use super::RenderCtx;
use super::charge::ChargeObject;
use super::refund::RefundObject;
use crate::api::version::ApiVersion;
use crate::store::{AttemptRecord, RefundRecord, StoredEvent};

/// An event's `data`: its snapshot, read back, rendered as of the event's time when the event is written.
///
/// It used to be rendered into a string and wrapped in a `RawValue`, whose constructor parses the string
/// again to validate it: perf put that second parse (`deserialize_raw_value`, `ignore_str`) at 5–8 % of an
/// events page, a charge's 2.3 KB per event. Rendering in place skips it and writes the same bytes.
#[derive(Debug)]
pub enum EventData<'a> {
    Charge { charge: Box<Charge>, ctx: RenderCtx<'a> },
    Refund(Box<RefundRecord>),
}

impl Serialize for EventData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventData::Charge { charge, ctx } => ChargeObject::new(charge, ctx).serialize(s),
            EventData::Refund(rec) => RefundObject::from_record(rec).serialize(s),
        }
    }
}

/// An event's `data`: its snapshot, to be rendered as of the event's time.
pub fn render_data<'a>(e: &StoredEvent, public_url: &'a str) -> Result<EventData<'a>, serde_json::Error> {
    Ok(match e.key {
        EventKey::RefundCreate => EventData::Refund(Box::new(serde_json::from_str(&e.data)?)),
        EventKey::ChargeCreate | EventKey::ChargeUpdate | EventKey::ChargeComplete | EventKey::ChargeExpire => {
            EventData::Charge {
                charge: Box::new(serde_json::from_str(&e.data)?),
                ctx: RenderCtx { public_url, now: e.created_at },
            }
        }
    })
}

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
    payload: String,
    /// Beyond Omise: how long the attempt took.
    duration_ms: u64,
    /// Beyond Omise: the start of what the receiver answered (its first 512 bytes as text), or null when
    /// it gave no answer. Omise's clients ignore fields they do not know (omise-java's mapper is set not to
    /// fail on them), so the object still reads as Omise's.
    response: Option<&'a str>,
    created_at: String,
}

impl<'a> WebhookDeliveryObject<'a> {
    /// `payload` is the body the attempt sent; attempts do not store it, since it is the event rendered in
    /// the account's default version (see `webhooks::worker::payload`).
    pub fn new(event: &StoredEvent, a: &'a AttemptRecord, payload: String) -> Self {
        WebhookDeliveryObject {
            object: "webhook_delivery",
            id: a.id.as_str(),
            uri: &a.url,
            status: a.status,
            key: event.key.as_str(),
            error: a.error.as_deref(),
            payload: if a.payload.is_empty() { payload } else { a.payload.clone() },
            duration_ms: a.duration_ms,
            response: a.response.as_deref(),
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
    data: EventData<'a>,
    key: &'static str,
    created_at: String,
}

impl<'a> EventObject<'a> {
    pub fn new(
        e: &'a StoredEvent,
        webhook_deliveries: Vec<WebhookDeliveryObject<'a>>,
        public_url: &'a str,
    ) -> Result<Self, serde_json::Error> {
        let data = render_data(e, public_url)?;
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

    /// The event with its delivery log, from all attempts of a page of events. `payload_version` is the
    /// account's default version, which its webhooks are written in.
    pub fn with_log(
        e: &'a StoredEvent,
        attempts: &'a [AttemptRecord],
        public_url: &'a str,
        payload_version: ApiVersion,
    ) -> Result<Self, serde_json::Error> {
        let mine: Vec<&AttemptRecord> = attempts.iter().filter(|a| a.event == e.id).collect();
        let payload = if mine.is_empty() {
            String::new()
        } else {
            let body = crate::webhooks::worker::payload(e, payload_version.as_str(), public_url)?;
            String::from_utf8(body).unwrap_or_default()
        };
        let log = mine.into_iter().map(|a| WebhookDeliveryObject::new(e, a, payload.clone())).collect();
        Self::new(e, log, public_url)
    }
}

//! Event keys: what happened to an object (omise-wire.md §5.5).
//!
//! Domain transitions return the keys they cause; the store writes the event (with the object as it is
//! after the change) in the same transaction as the change itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKey {
    #[serde(rename = "charge.create")]
    ChargeCreate,
    #[serde(rename = "charge.update")]
    ChargeUpdate,
    /// A pending charge became successful or failed (the key Omise's plugins subscribe to).
    #[serde(rename = "charge.complete")]
    ChargeComplete,
    /// A pending charge expired, by `POST /charges/:id/expire` or by passing `expires_at`.
    /// [INF] Omise documents no key for this; satang names it as the issue asks.
    #[serde(rename = "charge.expire")]
    ChargeExpire,
    #[serde(rename = "refund.create")]
    RefundCreate,
}

impl EventKey {
    pub const ALL: [EventKey; 5] = [
        EventKey::ChargeCreate,
        EventKey::ChargeUpdate,
        EventKey::ChargeComplete,
        EventKey::ChargeExpire,
        EventKey::RefundCreate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKey::ChargeCreate => "charge.create",
            EventKey::ChargeUpdate => "charge.update",
            EventKey::ChargeComplete => "charge.complete",
            EventKey::ChargeExpire => "charge.expire",
            EventKey::RefundCreate => "refund.create",
        }
    }

    pub fn parse(s: &str) -> Option<EventKey> {
        EventKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_wire_names() {
        for k in EventKey::ALL {
            assert_eq!(EventKey::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}

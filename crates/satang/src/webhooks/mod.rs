//! Webhooks: signed deliveries of every event to the merchant's endpoints, never lost.
//!
//! | module | owns |
//! |---|---|
//! | [`sign`] | the `Omise-Signature` HMAC and secrets |
//! | [`schedule`] | the retry schedule and timeout, as data |
//! | [`ssrf`] | where live-mode webhooks may not go |
//! | [`worker`] | claiming deliveries from the outbox, sending them, recording each attempt |
//! | [`endpoints`] | adding, listing, removing endpoints and rolling secrets (CLI and admin API share it) |
//!
//! Delivery is a transactional outbox: the event and one delivery row per target are written in the
//! transaction of the state change they report (`store::NewEvent`), so a committed change always has its
//! deliveries queued and an uncommitted one never does. The worker leases due rows, sends, and records the
//! attempt; if it dies in between, the lease runs out and the row is sent again, so a receiver sees an event
//! twice only in that window and can de-duplicate by the event `id`.

pub mod endpoints;
pub mod schedule;
pub mod sign;
pub mod ssrf;
pub mod worker;

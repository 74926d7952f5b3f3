//! Black-box API tests: a real server on a loopback port, a real SQLite file per test, plain HTTP.

mod auth;
mod charges;
mod events;
mod expiry;
mod helpers;
mod money;
mod pages;
mod refunds;
mod sources;
mod webhooks;
mod wire;

//! Black-box API tests: a real server on a loopback port, plain HTTP, a database of its own per test: a
//! SQLite file, or with `SATANG_TEST_BACKEND=postgres` a fresh PostgreSQL database (scripts/test runs both).

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod charges;
mod checkout;
mod dashboard;
mod dashboard_settings;
mod deliverylog;
mod events;
mod expiry;
mod helpers;
mod hostile;
mod idempotency;
mod money;
mod pages;
mod refunds;
mod search;
mod sources;
mod stream;
mod webhooks;
mod wire;

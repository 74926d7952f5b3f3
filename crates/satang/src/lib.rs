//! # satang: an Omise-compatible payment gateway for Alipay and Alipay HK
//!
//! Business rules live in `satang-domain`; this crate is everything around them.
//!
//! | module | owns |
//! |---|---|
//! | [`bench`] | `satang bench`: load generator, baselines, scenarios, seeding |
//! | [`cli`], [`config`], [`telemetry`] | the `satang` command, its flags and env vars, logging |
//! | [`devtools`] | the developer CLI against a running satang: `listen`, `trigger`, `logs tail` |
//! | [`startup`] | building and running the HTTP server |
//! | [`http`] | the front door: accept loop, connection cap, read/write timeouts, head guard, TLS |
//! | [`background`] | a node's background work: webhook worker and expiry sweeper |
//! | [`metrics`] | Prometheus `/metrics` on its own port (`--metrics-listen`) and what is counted |
//! | [`app`] | the state shared by handlers, pages and background tasks |
//! | [`api`] | the Omise REST API: routes, params, auth, versions, errors, wire objects |
//! | [`pages`] | the payer's pages at `authorize_uri` |
//! | [`live`] | live charges: handing them to the account's acquirer, notify and return routes |
//! | [`simulator`] | `satang simulator antom`: an Antom server for tests and trying live mode |
//! | [`checkout`] | the merchant's checkout in a browser: CORS on public-key routes, `GET /omise.js` |
//! | [`dashboard`] | the merchant dashboard at `/dashboard`: users, sessions, pages |
//! | [`ops`] | charge operations shared by the API, the pages and the sweeper |
//! | [`accounts`] | merchant accounts and API keys |
//! | [`connector`] | live acquirers: the `Connector` trait, Antom (Alipay+), its simulator |
//! | [`sweeper`] | the background task that expires pending charges past `expires_at` |
//! | [`webhooks`] | signed webhook delivery: outbox worker, retries, endpoints, SSRF guard |
//! | [`store`] | persistence: the `Store` trait, SQLite and PostgreSQL, migrations |
//! | [`json`] | the JSON writer of bodies and documents: serde_json's bytes without scanning struct keys |

pub mod accounts;
pub mod api;
pub mod app;
pub mod background;
pub mod backup;
pub mod bench;
pub mod checkout;
pub mod cli;
pub mod config;
pub mod connector;
pub mod dashboard;
pub mod devtools;
pub mod http;
pub mod json;
pub mod live;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod simulator;
pub mod startup;
pub mod store;
pub mod sweeper;
pub mod telemetry;
pub mod webhooks;

//! The merchant's checkout in a browser: what a shop page on another origin needs from satang.
//!
//! Omise's model is that the payer's browser creates the source with the *public* key (Omise.js) and the
//! shop's server creates the charge with the secret key. For that to work against a self-hosted gateway:
//!
//! | module | owns |
//! |---|---|
//! | [`cors`] | CORS preflights and headers on the public-key routes only, and refusing secret keys from browsers |
//! | [`omise_js`] | `GET /omise.js`, a small drop-in for Omise.js already pointed at this satang |
//!
//! The per-account origin allow-list is checked where the key is known, in [`crate::api::auth`].

pub mod cors;
pub mod omise_js;

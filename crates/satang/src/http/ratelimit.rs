//! Rate limits for what anyone may call: the routes a public key opens (`/sources`, `/capability`, which
//! browsers call from every checkout) and the payer pages at `authorize_uri`. Secret-key routes are not
//! limited here: they are the merchant's own servers, and a leaked secret key is a bigger problem than load.
//!
//! Token buckets, kept in memory per node: a public key may make [`RateLimits::per_key`] requests a second
//! (bursts up to twice that), a client address [`RateLimits::per_ip`] on public-key routes and on the payer
//! pages. Past either, the answer is a 429 Omise error (`too_many_requests`) with `Retry-After`. Behind a load
//! balancer, set `--client-ip-header` (e.g. `X-Forwarded-For`) so the limit applies to payers, not to the
//! balancer; the header's first address is used, so only trust it when the balancer sets it.
//!
//! `POST /events/:id/redeliver` (a secret-key route, but each call sends the event again to every target)
//! is limited per event: [`RateLimits::redeliveries_per_minute`], bursts of [`REDELIVER_BURST`].
//!
//! With several nodes each keeps its own buckets, so the cluster-wide limit is the per-node one times the
//! nodes a balancer spreads a client over. That is the point: the limits protect each node's capacity and
//! slow down guessing, they are not a quota.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;

/// The rates, in requests per second; 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub per_key: u32,
    pub per_ip: u32,
    /// Redeliveries of one event a minute (after a burst of [`REDELIVER_BURST`]); 0 turns it off.
    pub redeliveries_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { per_key: 100, per_ip: 20, redeliveries_per_minute: 6 }
    }
}

/// Redeliveries of one event that may be made at once before the per-minute rate applies.
pub const REDELIVER_BURST: f64 = 3.0;

/// Buckets beyond this many are pruned of the full ones (a flood of new addresses cannot grow memory
/// without bound).
const MAX_BUCKETS: usize = 100_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one node.
pub struct Limiter {
    limits: RateLimits,
    client_ip_header: Option<HeaderName>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(limits: RateLimits, client_ip_header: Option<HeaderName>) -> Arc<Limiter> {
        Arc::new(Limiter { limits, client_ip_header, buckets: Mutex::new(HashMap::new()) })
    }

    /// Takes a token from `key`'s bucket at `rate`/s (burst 2×rate); `Err(seconds)` to wait when empty.
    fn take(&self, key: String, rate: u32, now: Instant) -> Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        self.take_at(key, f64::from(rate), f64::from(rate) * 2.0, now)
    }

    /// The same with any rate (tokens a second) and burst.
    fn take_at(&self, key: String, rate: f64, burst: f64, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        if let Some(h) = &self.client_ip_header
            && let Some(ip) = req
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        super::peer(req.extensions()).map(|a| a.ip())
    }
}

/// What a request is, for the limits.
enum Class {
    /// A payer page (or its assets and status polls).
    Page,
    /// A request authenticated with a public key; the key's SHA-256 prefix identifies its bucket.
    PublicKey(String),
    /// `POST /events/:id/redeliver`, by event.
    Redeliver(String),
    Other,
}

fn classify(req: &Request) -> Class {
    if req.uri().path().starts_with("/pay/") {
        return Class::Page;
    }
    if req.method() == axum::http::Method::POST
        && let Some(event) = req.uri().path().strip_prefix("/events/").and_then(|p| p.strip_suffix("/redeliver"))
    {
        return Class::Redeliver(event.to_string());
    }
    match crate::api::auth::basic_user(req.headers()) {
        Some(key) if key.starts_with("pkey_") => Class::PublicKey(crate::accounts::hash_key(&key)),
        _ => Class::Other,
    }
}

/// The middleware: counts the request against its buckets, or answers 429.
pub async fn limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let now = Instant::now();
    let ip = limiter.client_ip(&req).map(|ip| ip.to_string()).unwrap_or_default();
    let verdict = match classify(&req) {
        Class::Other => Ok(()),
        Class::Redeliver(_) if limiter.limits.redeliveries_per_minute == 0 => Ok(()),
        Class::Redeliver(event) => limiter.take_at(
            format!("redeliver:{event}"),
            f64::from(limiter.limits.redeliveries_per_minute) / 60.0,
            REDELIVER_BURST,
            now,
        ),
        Class::Page => limiter.take(format!("page:{ip}"), limiter.limits.per_ip.saturating_mul(3), now),
        Class::PublicKey(hash) => limiter
            .take(format!("ip:{ip}"), limiter.limits.per_ip, now)
            .and_then(|()| limiter.take(format!("key:{hash}"), limiter.limits.per_key, now)),
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(wait),
    }
}

fn too_many(wait: u64) -> Response {
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("too many requests; retry after {wait} second{}", if wait == 1 { "" } else { "s" }),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = Limiter::new(RateLimits { per_key: 5, per_ip: 5, redeliveries_per_minute: 0 }, None);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.take("k".into(), 5, t0).is_ok());
        }
        assert_eq!(l.take("k".into(), 5, t0), Err(1));
        // Other keys have their own bucket.
        assert!(l.take("other".into(), 5, t0).is_ok());
        // A fifth of a second later, one token is back.
        let t1 = t0 + Duration::from_millis(200);
        assert!(l.take("k".into(), 5, t1).is_ok());
        assert!(l.take("k".into(), 5, t1).is_err());
        // A rate of 0 is no limit.
        for _ in 0..100 {
            assert!(l.take("off".into(), 0, t0).is_ok());
        }
    }
}

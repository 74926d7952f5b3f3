//! CORS for the routes a browser may call with a public key: `POST /sources`, `GET /sources/:id` and
//! `GET /capability` (omise-wire.md §1.1). Omise.js sends `Authorization` and `Content-Type:
//! application/json`, so every call is preceded by a preflight; it is answered here, before routing (the
//! router would say 405), with a `Access-Control-Max-Age` long enough that a checkout does one.
//!
//! The headers go on every answer of those routes, errors included, so a 400 or a 401 reaches the page's
//! callback with its Omise error body instead of an opaque "Failed to fetch". No credentials mode: the key
//! travels in `Authorization`, never in a cookie, so `Access-Control-Allow-Origin: *` is right; the
//! per-account allow-list is enforced when the key is known (`api::auth`), with a readable refusal.
//!
//! Every other route is for secret keys, which must never be in a browser: their preflights are refused
//! with a 403 that carries no CORS headers (so the browser never sends the request), and a request that
//! does arrive from a browser with a secret key is refused by `api::auth`.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;

/// How long a browser may cache a preflight (Chromium caps it at 2 hours, Firefox at 24).
pub const MAX_AGE_SECS: u32 = 7200;

/// Methods the public-key routes answer.
const ALLOW_METHODS: &str = "GET, POST, OPTIONS";

/// Request headers allowed when a preflight names none: what Omise.js and the official clients send.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Omise-Version, Idempotency-Key, X-Requested-With";

/// Response headers a page may read besides the safelisted ones.
const EXPOSE_HEADERS: &str = "X-Request-Id, Omise-Version";

/// Whether a browser may call this path with a public key. Paths arrive with the trailing slash trimmed
/// (`/sources/` as Omise.js sends it is `/sources`).
pub fn is_public_route(path: &str) -> bool {
    match path.strip_prefix("/sources") {
        Some("") => true,
        Some(rest) => rest.strip_prefix('/').is_some_and(|id| !id.is_empty() && !id.contains('/')),
        None => path == "/capability",
    }
}

/// The middleware: answers preflights and decorates answers on public-key routes.
pub async fn layer(req: Request, next: Next) -> Response {
    let public = is_public_route(req.uri().path());
    let from_browser = req.headers().contains_key(header::ORIGIN);
    if req.method() == Method::OPTIONS && from_browser && is_preflight(req.headers()) {
        if !public {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "{} is for secret keys, which must never be used in a browser; a browser may only create and \
                     retrieve sources with the public key (pkey_…)",
                    req.uri().path()
                ),
            )
            .into_response();
        }
        // Whatever headers the page asks for: nothing rides on them without credentials mode, and a script
        // that adds one (a tracing header, say) keeps working. Without a list, the ones Omise.js sends.
        let allow_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|v| !v.is_empty() && v.len() <= 1024)
            .cloned()
            .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
        let mut res = StatusCode::NO_CONTENT.into_response();
        add_headers(res.headers_mut());
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        return res;
    }
    let mut res = next.run(req).await;
    if public {
        add_headers(res.headers_mut());
    }
    res
}

fn is_preflight(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn add_headers(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_routes_are_the_source_routes_and_capability() {
        for p in ["/sources", "/sources/src_test_abc", "/capability"] {
            assert!(is_public_route(p), "{p}");
        }
        for p in ["/charges", "/sourcesx", "/sources/a/b", "/charges/chrg_1/refunds", "/capabilityx", "/"] {
            assert!(!is_public_route(p), "{p}");
        }
    }
}

//! The payer's pages, served at `authorize_uri` (`/pay/<charge id>/<token>`).
//!
//! The token in the URL is the payer's only credential: it is 32 random base36 characters (about 165
//! bits), compared in constant time, and never a key.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use satang_domain::{Charge, ChargeId};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/pay/{charge}/{token}", get(authorize_page))
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn load(app: &AppState, charge: &str, token: &str) -> Option<Charge> {
    let id: ChargeId = charge.parse().ok()?;
    let c = app.store.find_charge(&id).await.ok()?;
    token_matches(&c.authorize_token, token).then_some(c)
}

async fn authorize_page(State(app): State<AppState>, Path((charge, token)): Path<(String, String)>) -> Response {
    let Some(c) = load(&app, &charge, &token).await else {
        return page(
            StatusCode::NOT_FOUND,
            "<h1>Payment not found</h1><p>This payment link is unknown or has been altered.</p>",
        );
    };
    let body = format!(
        "<h1>{}</h1><p>{}</p><p>{}</p><p>Status: {}</p>",
        escape(c.source.method.display_name),
        escape(&c.currency.format(c.amount)),
        escape(c.description.as_deref().unwrap_or("")),
        escape(c.status.name()),
    );
    page(StatusCode::OK, &body)
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>satang</title></head><body>{body}</body></html>"
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
        assert!(!token_matches("abc", ""));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<script>\"x\"&'"), "&lt;script&gt;&quot;x&quot;&amp;&#39;");
    }
}

//! `GET /omise.js`: a hand-written drop-in for Omise.js (`omise.js` beside this file, no build step), so a
//! shop switches from Omise to satang by changing the script's `src`. It points itself at the satang it
//! was loaded from (`document.currentScript`), falling back to the configured public URL.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

const SOURCE: &str = include_str!("omise.js");

/// The script with this satang's public URL filled in.
pub fn script(public_url: &str) -> String {
    let url = serde_json::to_string(public_url).unwrap_or_else(|_| "\"\"".into());
    SOURCE.replacen("SATANG_PUBLIC_URL", &url, 1)
}

pub async fn serve(State(app): State<AppState>) -> Response {
    let mut res = script(&app.public_url).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_public_url_is_filled_in_as_a_js_string() {
        let s = super::script("https://pay.example/\"x");
        assert!(s.contains(r#": "https://pay.example/\"x";"#), "{s}");
        assert!(!s.contains("SATANG_PUBLIC_URL"));
    }
}

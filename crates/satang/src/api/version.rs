//! `Omise-Version` and the success response (omise-wire.md §2.2, §3).
//!
//! satang renders every object once, in the 2019-05-29 shape (the default). A request for an older version
//! rewrites that JSON: `created_at` → `created`, `refunded_amount` → `refunded`, lowercase currency codes,
//! and no `webhook_deliveries` on events, the differences the recorded 2017 traffic shows. Stored event
//! data is kept in the 2019 shape and rewritten the same way when read.
//!
//! [INF] An unknown version (omise-node's own test config sends `2019-09-29`) falls back to the account's
//! default rather than failing, and the `Omise-Version` response header says which version was used.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V2019_05_29,
    V2017_11_02,
    V2015_11_17,
    V2014_07_27,
}

impl ApiVersion {
    pub const DEFAULT: ApiVersion = ApiVersion::V2019_05_29;
    pub const ALL: [ApiVersion; 4] =
        [ApiVersion::V2019_05_29, ApiVersion::V2017_11_02, ApiVersion::V2015_11_17, ApiVersion::V2014_07_27];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2019_05_29 => "2019-05-29",
            ApiVersion::V2017_11_02 => "2017-11-02",
            ApiVersion::V2015_11_17 => "2015-11-17",
            ApiVersion::V2014_07_27 => "2014-07-27",
        }
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Rewrites a 2019-05-29 JSON value into this version's field names.
    pub fn adapt(self, v: &mut Value) {
        if self != ApiVersion::V2019_05_29 {
            legacy_names(v);
        }
    }
}

fn legacy_names(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let is_event = m.get("object").and_then(Value::as_str) == Some("event");
            let old = std::mem::take(m);
            let mut out = Map::with_capacity(old.len());
            for (k, mut val) in old {
                if is_event && k == "webhook_deliveries" {
                    continue;
                }
                let key = match k.as_str() {
                    "created_at" => "created".to_string(),
                    "refunded_amount" => "refunded".to_string(),
                    _ => k,
                };
                if key == "currency" || key == "funding_currency" {
                    if let Value::String(s) = &mut val {
                        *s = s.to_ascii_lowercase();
                    }
                } else {
                    legacy_names(&mut val);
                }
                out.insert(key, val);
            }
            *m = out;
        }
        Value::Array(items) => items.iter_mut().for_each(legacy_names),
        _ => {}
    }
}

/// A successful API response: HTTP 200 exactly (go and java treat anything else as an error), JSON, no
/// caching, and `Omise-Version` echoing the version the body is in.
pub struct Reply {
    version: ApiVersion,
    body: Vec<u8>,
}

impl Reply {
    pub fn new<T: Serialize>(version: ApiVersion, object: &T) -> Result<Reply, ApiError> {
        Self::sized(version, object, 8 * 1024)
    }

    /// [`Reply::new`] for a body of about `bytes` (a list page: ~2 KB per charge), so the buffer is not
    /// regrown and copied on the way (reallocation and memmove were a tenth of a list page's CPU).
    pub fn sized<T: Serialize>(version: ApiVersion, object: &T, bytes: usize) -> Result<Reply, ApiError> {
        let body = Self::render_sized(version, object, bytes).map_err(|e| ApiError::internal(e.into()))?;
        Ok(Reply { version, body })
    }

    /// The body [`Reply::new`] answers with (also what an `Idempotency-Key` records).
    pub fn render<T: Serialize>(version: ApiVersion, object: &T) -> Result<Vec<u8>, serde_json::Error> {
        Self::render_sized(version, object, 8 * 1024)
    }

    fn render_sized<T: Serialize>(version: ApiVersion, object: &T, bytes: usize) -> Result<Vec<u8>, serde_json::Error> {
        if version == ApiVersion::V2019_05_29 {
            // Start big enough that the buffer is rarely regrown and copied.
            let mut body = Vec::with_capacity(bytes);
            crate::json::to_writer(&mut body, object)?;
            Ok(body)
        } else {
            serde_json::to_value(object).and_then(|mut v| {
                version.adapt(&mut v);
                serde_json::to_vec(&v)
            })
        }
    }
}

impl Reply {
    /// The version and the body, as an `Idempotency-Key` records them.
    pub fn into_parts(self) -> (ApiVersion, Vec<u8>) {
        (self.version, self.body)
    }

    /// A body already serialized in the 2019-05-29 shape.
    pub fn raw_default(body: String) -> Reply {
        Reply { version: ApiVersion::DEFAULT, body: body.into_bytes() }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut res = (StatusCode::OK, self.body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
        h.insert("omise-version", HeaderValue::from_static(self.version.as_str()));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_versions_use_2017_names_at_every_depth() {
        let mut v = json!({
            "object": "charge", "created_at": "t", "refunded_amount": 5, "currency": "THB",
            "source": {"object": "source", "created_at": "s", "currency": "THB"},
            "refunds": {"object": "list", "data": [{"object": "refund", "created_at": "r", "currency": "THB"}]}
        });
        ApiVersion::V2017_11_02.adapt(&mut v);
        assert_eq!(
            v,
            json!({
                "object": "charge", "created": "t", "refunded": 5, "currency": "thb",
                "source": {"object": "source", "created": "s", "currency": "thb"},
                "refunds": {"object": "list", "data": [{"object": "refund", "created": "r", "currency": "thb"}]}
            })
        );
    }

    #[test]
    fn events_lose_webhook_deliveries_before_2019() {
        let mut v = json!({"object": "event", "webhook_deliveries": [], "created_at": "t", "data": {"object": "charge", "created_at": "c"}});
        ApiVersion::V2017_11_02.adapt(&mut v);
        assert_eq!(v, json!({"object": "event", "created": "t", "data": {"object": "charge", "created": "c"}}));
    }

    #[test]
    fn default_version_is_untouched() {
        let mut v = json!({"created_at": "t", "currency": "THB"});
        ApiVersion::V2019_05_29.adapt(&mut v);
        assert_eq!(v, json!({"created_at": "t", "currency": "THB"}));
    }
}

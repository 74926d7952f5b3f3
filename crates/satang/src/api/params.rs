//! [`Params`]: the one extractor for request parameters, whatever the client sent (omise-wire.md §2.1).
//!
//! The official clients disagree about encodings: python and go send JSON bodies even on GET, ruby and php
//! send bracketed forms (`source[type]=alipay_hk`, `metadata[order][id]=7`, `items[][sku]=…`), node and
//! java put GET parameters in the query string. So every handler gets the query string and the body merged
//! into one JSON object (body wins on a clash), whatever the method and Content-Type. `null` counts as
//! absent (java sends every field, most of them null), numbers may arrive as strings, booleans as
//! `true`/`"true"`/`"1"`/`1`, and unknown fields are ignored. Typed accessors turn a wrong type into a clear
//! `bad_request` naming the field.
//!
//! The parsing itself is `satang-input` (`crates/input`), fuzzed and without IO: a form key nested deeper
//! than its `MAX_DEPTH` is refused while it is split (the tree is never built), JSON is parsed by serde_json
//! (which stops at 128 levels) and then walked iteratively against every limit in `satang_input::limits`.
//! This extractor adds the connection's part: the body must arrive within [`BODY_READ_TIMEOUT`] and be no
//! larger than [`MAX_BODY_BYTES`]. So no request can overflow a stack, and nothing accepted is too deep to
//! be read back once stored.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use satang_input::limits::{self, BODY_READ_TIMEOUT, MAX_BODY_BYTES};
use serde_json::{Map, Value};

use super::error::ApiError;
use satang_domain::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let ctype =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let bytes = read_body(&parts.headers, body).await?;
        let map = satang_input::parameters(parts.uri.query().map(str::as_bytes), &ctype, &bytes)?;
        Ok(Params(map))
    }
}

/// Reads a request body off the connection: at most [`MAX_BODY_BYTES`] (413 past it) within
/// [`BODY_READ_TIMEOUT`] (408 past it: a slow or broken client, not a fault of ours).
pub async fn read_body(headers: &axum::http::HeaderMap, body: axum::body::Body) -> Result<bytes::Bytes, ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if is_length_limit(&e) => Err(too_large()),
        Ok(Err(_)) => Err(ApiError::bad_request("the request body could not be read: the connection broke off")),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} seconds (Content-Length promised more than was sent?)",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "bad_request",
        format!("request body is larger than {} KiB", MAX_BODY_BYTES / 1024),
    )
}

/// Whether reading the body stopped at [`MAX_BODY_BYTES`] (rather than on a broken connection).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A string parameter; numbers and booleans are accepted as their text.
    pub fn string(&self, key: &str) -> Result<Option<String>, ApiError> {
        value_string(key, self.get(key))
    }

    /// An integer parameter: a JSON integer or a string of digits.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        value_int(key, self.get(key))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" | "" => Ok(Some(false)),
                _ => Err(ApiError::bad_request(format!("{key} must be true or false"))),
            },
            Some(_) => Err(ApiError::bad_request(format!("{key} must be true or false"))),
        }
    }

    /// A JSON object (`metadata`); form clients send it as `metadata[k]=v`. An empty string clears it. Its
    /// size is bounded by [`limits::MAX_METADATA_BYTES`].
    pub fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => {
                limits::check_metadata(key, m)?;
                Ok(Some(m.clone()))
            }
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Map::new())),
            Some(Value::Array(a)) if a.is_empty() => Ok(Some(Map::new())),
            Some(_) => Err(ApiError::bad_request(format!("{key} should be a JSON hash"))),
        }
    }

    /// A list of strings (`webhook_endpoints[]=…`); a single string counts as a list of one.
    pub fn string_list(&self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::bad_request(format!("{key} must be a list of strings"))),
                })
                .collect(),
            Some(_) => Err(ApiError::bad_request(format!("{key} must be a list of strings"))),
        }
    }

    /// An ISO 8601 date-time.
    pub fn timestamp(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.string(key)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => Timestamp::parse(&s).map(Some).map_err(|_| {
                ApiError::bad_request(format!("{key} is not a valid ISO 8601 date-time (e.g. 2024-01-31T08:00:00Z)"))
            }),
        }
    }
}

pub fn value_string(key: &str, v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(ApiError::bad_request(format!("{key} must be a string"))),
    }
}

pub fn value_int(key: &str, v: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let not_a_number = || ApiError::bad_request(format!("{key} is not a number"));
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                Some(_) if n.is_f64() => {
                    Err(ApiError::bad_request(format!("{key} must be an integer number of subunits")))
                }
                _ => Err(not_a_number()),
            },
        },
        Some(Value::String(s)) => {
            let t = s.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_a_number());
            }
            t.parse::<i64>().map(Some).map_err(|_| not_a_number())
        }
        Some(_) => Err(not_a_number()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_accept_numeric_strings_only() {
        assert_eq!(value_int("amount", Some(&json!("100000"))).unwrap(), Some(100_000));
        assert_eq!(value_int("amount", Some(&json!(100000))).unwrap(), Some(100_000));
        assert_eq!(value_int("amount", Some(&json!(100000.0))).unwrap(), Some(100_000));
        assert_eq!(value_int("amount", Some(&json!("-5"))).unwrap(), Some(-5));
        for bad in [json!("12abc"), json!("1.5"), json!(""), json!(true), json!({})] {
            assert_eq!(value_int("amount", Some(&bad)).unwrap_err().message, "amount is not a number", "{bad}");
        }
        assert!(value_int("amount", Some(&json!(1.5))).is_err());
        assert!(value_int("amount", Some(&json!("99999999999999999999"))).is_err());
    }

    #[test]
    fn booleans_accept_what_clients_send() {
        let p = Params(json!({"a": "1", "b": true, "c": "false", "d": 0, "e": "maybe"}).as_object().unwrap().clone());
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(true));
        assert_eq!(p.bool("c").unwrap(), Some(false));
        assert_eq!(p.bool("d").unwrap(), Some(false));
        assert!(p.bool("e").is_err());
        assert_eq!(p.bool("zz").unwrap(), None);
    }
}

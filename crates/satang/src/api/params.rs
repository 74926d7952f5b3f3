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
//! Untrusted input is bounded before it is built: a form key nested deeper than [`limits::MAX_DEPTH`] is
//! refused while it is split (the tree is never built), JSON is parsed by serde_json (which stops at 128
//! levels) and then walked iteratively by [`limits::check_document`], and the body must arrive within
//! [`limits::BODY_READ_TIMEOUT`]. So no request can overflow a stack, and nothing accepted is too deep to be
//! read back once stored.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::limits::{self, BODY_READ_TIMEOUT, MAX_BODY_BYTES, MAX_DEPTH};
use satang_domain::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let mut map = match parts.uri.query() {
            Some(q) => parse_form(q.as_bytes())?,
            None => Map::new(),
        };
        let ctype =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if is_length_limit(&e) => return Err(too_large()),
            Ok(Err(_)) => {
                return Err(ApiError::bad_request("the request body could not be read: the connection broke off"));
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} seconds (Content-Length promised more than was sent?)",
                        BODY_READ_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        let body_map = parse_body(&ctype, &bytes)?;
        for (k, v) in body_map {
            map.insert(k, v);
        }
        limits::check_document(&map)?;
        strip_nulls(&mut map);
        Ok(Params(map))
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

fn parse_body(ctype: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    if ctype.starts_with("multipart/") {
        return Err(ApiError::bad_request(
            "multipart bodies are not supported; send JSON or application/x-www-form-urlencoded",
        ));
    }
    let looks_json = trimmed.first() == Some(&b'{') || trimmed.first() == Some(&b'[');
    if ctype.contains("json") || (!ctype.contains("x-www-form-urlencoded") && looks_json) {
        return match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
            Err(e) if e.to_string().starts_with("recursion limit exceeded") => Err(ApiError::bad_request(format!(
                "request body is nested too deeply: at most {MAX_DEPTH} levels of nesting in a request"
            ))),
            Err(e) => Err(ApiError::bad_request(format!("request body is not valid JSON: {e}"))),
        };
    }
    parse_form(trimmed)
}

/// Removes `null` members from objects at every depth: `null` means "not given".
fn strip_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        match v {
            Value::Object(m) => strip_nulls(m),
            Value::Array(items) => {
                for item in items.iter_mut() {
                    if let Value::Object(m) = item {
                        strip_nulls(m);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Parses `a=1&b[c]=2&d[]=3&d[]=4&e[0][f]=5` into `{"a":"1","b":{"c":"2"},"d":["3","4"],"e":[{"f":"5"}]}`.
/// Keys `[n]` with numbers become array positions; a later plain value for the same key wins. A key nested
/// deeper than [`MAX_DEPTH`] is refused before anything is built for it.
pub fn parse_form(input: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(input) {
        if limits::form_key_depth(&key) > MAX_DEPTH {
            let field: String = key.split('[').next().unwrap_or("").chars().take(40).collect();
            return Err(ApiError::bad_request(format!(
                "{field} is nested too deeply: at most {MAX_DEPTH} levels of nesting in a request"
            )));
        }
        let path = split_key(&key);
        if path.is_empty() || path[0].is_empty() {
            continue;
        }
        insert_path(&mut root, &path, Value::String(value.into_owned()));
    }
    let mut root = numeric_objects_to_arrays(root);
    match root.take() {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else { return vec![key.to_string()] };
    let mut parts = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                parts.push(stripped[..close].to_string());
                rest = &stripped[close + 1..];
            }
            None => {
                // Unbalanced bracket: keep the remainder as a literal segment.
                parts.push(stripped.to_string());
                rest = "";
            }
        }
    }
    parts
}

/// A marker segment meaning "append" (`k[]`).
const APPEND: &str = "";

fn insert_path(node: &mut Value, path: &[String], value: Value) {
    let (head, rest) = (&path[0], &path[1..]);
    if head == APPEND {
        if !node.is_array() {
            *node = Value::Array(Vec::new());
        }
        let Value::Array(items) = node else { return };
        if rest.is_empty() {
            items.push(value);
            return;
        }
        // `items[][sku]=a&items[][name]=b`: a new element starts when the current last one already has
        // this key (Rack's rule), otherwise the field joins the last element.
        let starts_new = match items.last() {
            Some(Value::Object(m)) => rest.len() == 1 && m.contains_key(&rest[0]),
            _ => true,
        };
        if starts_new {
            items.push(Value::Object(Map::new()));
        }
        if let Some(last) = items.last_mut() {
            insert_path(last, rest, value);
        }
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else { return };
    if rest.is_empty() {
        map.insert(head.clone(), value);
    } else {
        let child = map.entry(head.clone()).or_insert(Value::Null);
        insert_path(child, rest, value);
    }
}

/// `{"0":…,"1":…}` built from `k[0]`, `k[1]` becomes `[…, …]`.
fn numeric_objects_to_arrays(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let all_numeric = !m.is_empty() && m.keys().all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
            let mut converted: Vec<(String, Value)> =
                m.into_iter().map(|(k, v)| (k, numeric_objects_to_arrays(v))).collect();
            if all_numeric {
                converted.sort_by_key(|(k, _)| k.parse::<u64>().unwrap_or(u64::MAX));
                Value::Array(converted.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(converted.into_iter().collect())
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(numeric_objects_to_arrays).collect()),
        other => other,
    }
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
    fn bracketed_forms_nest_like_rack_and_php() {
        let m = parse_form(
            b"amount=100000&source%5Btype%5D=alipay_hk&source[platform_type]=WEB&metadata[order][id]=7\
              &webhook_endpoints[]=https://a&webhook_endpoints[]=https://b&items[][sku]=x&items[][qty]=1&items[][sku]=y",
        )
        .unwrap();
        assert_eq!(
            Value::Object(m),
            json!({
                "amount": "100000",
                "source": {"type": "alipay_hk", "platform_type": "WEB"},
                "metadata": {"order": {"id": "7"}},
                "webhook_endpoints": ["https://a", "https://b"],
                "items": [{"sku": "x", "qty": "1"}, {"sku": "y"}],
            })
        );
    }

    #[test]
    fn numeric_indexes_become_arrays() {
        let m = parse_form(b"webhook_endpoints[1]=b&webhook_endpoints[0]=a").unwrap();
        assert_eq!(m["webhook_endpoints"], json!(["a", "b"]));
    }

    #[test]
    fn deep_form_keys_are_refused_before_anything_is_built() {
        // The 3,000-level key that used to overflow the stack (issue 12): refused by counting brackets.
        let key = format!("x{}", "[a]".repeat(3_000));
        let e = parse_form(format!("type=alipay&{key}=1").as_bytes()).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "bad_request"));
        assert!(e.message.starts_with("x is nested too deeply"), "{}", e.message);
        let appends = format!("x{}", "[]".repeat(3_000));
        assert!(parse_form(format!("{appends}=1").as_bytes()).is_err());
        assert!(parse_form(b"metadata[a][b][c][d][e][f][g]=1").is_ok());
        assert!(parse_form(b"metadata[a][b][c][d][e][f][g][h]=1").is_err());
    }

    #[test]
    fn deep_json_is_refused_with_a_clear_message() {
        let body = format!("{{\"metadata\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        let e = parse_body("application/json", body.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
    }

    #[test]
    fn json_bodies_must_be_objects_and_well_formed() {
        assert!(parse_body("application/json", b"[1]").is_err());
        assert!(parse_body("application/json", b"{\"a\":").is_err());
        assert_eq!(parse_body("", b"{\"a\":1}").unwrap()["a"], json!(1));
        assert!(parse_body("application/json", b"  ").unwrap().is_empty());
    }

    #[test]
    fn nulls_are_absent_at_every_depth() {
        let mut m =
            json!({"a": null, "source": {"type": "alipay", "platform_type": null}}).as_object().unwrap().clone();
        strip_nulls(&mut m);
        assert_eq!(Value::Object(m), json!({"source": {"type": "alipay"}}));
    }

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

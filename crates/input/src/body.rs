//! A request body, whatever the client sent it as (omise-wire.md §2.1): python, node, go and java send JSON
//! (python and go on GET too), ruby and php send bracketed forms, and some clients send JSON without saying
//! so. `null` means "not given" (java sends every field, most of them null), so nulls are removed.

use serde_json::{Map, Value};

use crate::InputError;
use crate::form::parse_form;
use crate::limits::MAX_DEPTH;

/// Parses a body by its Content-Type (lowercased), or by its first byte when the type says neither.
pub fn parse_body(ctype: &str, bytes: &[u8]) -> Result<Map<String, Value>, InputError> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    if ctype.starts_with("multipart/") {
        return Err(InputError::bad_request(
            "multipart bodies are not supported; send JSON or application/x-www-form-urlencoded",
        ));
    }
    let looks_json = trimmed.first() == Some(&b'{') || trimmed.first() == Some(&b'[');
    if ctype.contains("json") || (!ctype.contains("x-www-form-urlencoded") && looks_json) {
        return match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(InputError::bad_request("request body must be a JSON object")),
            Err(e) if e.to_string().starts_with("recursion limit exceeded") => Err(InputError::bad_request(format!(
                "request body is nested too deeply: at most {MAX_DEPTH} levels of nesting in a request"
            ))),
            Err(e) => Err(InputError::bad_request(format!("request body is not valid JSON: {e}"))),
        };
    }
    parse_form(trimmed)
}

/// Removes `null` members from objects at every depth: `null` means "not given".
pub fn strip_nulls(map: &mut Map<String, Value>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}

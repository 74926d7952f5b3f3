//! Every limit on what a request may carry, in one place. satang's parameter extractor (`api/params.rs`)
//! enforces them on the query string and the body alike, JSON or form, before any handler runs, so no field (metadata,
//! billing, shipping, items, or one nobody reads) can bring in a document satang could store but not read
//! back, or one deep enough to exhaust a parser's stack.
//!
//! How the numbers were chosen:
//! * Omise documents metadata as "any free-form JSON … the only restriction is that the top-level object be
//!   a JSON hash" (docs.omise.co, "How to store your data with the Metadata API"), with no published size.
//!   What real clients send is flat or one level deep (`metadata[order_id]`, WooCommerce's
//!   `metadata[order_id]`, Magento's order reference), and the deepest standard field is
//!   `items[][sku]`: three levels from the root. [`MAX_DEPTH`] allows eight, room for `metadata[a][b][c][d]`
//!   and more, while every stored document (a request nested in a charge nested in an event) stays far below
//!   serde_json's 128-level recursion limit, so whatever is accepted can always be read back.
//! * [`MAX_METADATA_BYTES`] (16 KiB of JSON) is generous for order references and line items; Stripe allows
//!   50 keys of 500 characters (~27 KiB at most) and rejects nesting altogether.
//! * [`MAX_MEMBERS`], [`MAX_KEY_BYTES`] and [`MAX_STRING_BYTES`] bound the work one request can cause
//!   (parsing, storing, re-rendering in every event and webhook) regardless of how it is encoded.
//! * [`MAX_BODY_BYTES`]: no valid request comes near 256 KiB under the limits above.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::InputError;

/// Request bodies above this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Levels of nesting in one request, counting the top level: `metadata[order][id]=7` is 3.
pub const MAX_DEPTH: usize = 8;
/// Object members plus array elements in one request, at every depth together.
pub const MAX_MEMBERS: usize = 1_000;
/// Longest parameter name (one object key), in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest string value, in bytes.
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Largest `metadata` object, as compact JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest time a client may take to send a request body once its headers have arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a parsed request document against [`MAX_DEPTH`], [`MAX_MEMBERS`], [`MAX_KEY_BYTES`] and
/// [`MAX_STRING_BYTES`]. The walk uses its own stack, so it cannot overflow whatever it is given.
pub fn check_document(root: &Map<String, Value>) -> Result<(), InputError> {
    let mut members = 0usize;
    // (value, depth of the container holding it, name of the top-level field it belongs to)
    let mut stack: Vec<(&Value, usize, &str)> = Vec::new();
    for (k, v) in root {
        check_key(k, k)?;
        members += 1;
        stack.push((v, 1, k.as_str()));
    }
    while let Some((v, depth, field)) = stack.pop() {
        match v {
            Value::Object(m) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_deep(field));
                }
                for (k, child) in m {
                    check_key(field, k)?;
                    stack.push((child, depth + 1, field));
                }
                members += m.len();
            }
            Value::Array(items) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_deep(field));
                }
                members += items.len();
                stack.extend(items.iter().map(|child| (child, depth + 1, field)));
            }
            Value::String(s) if s.len() > MAX_STRING_BYTES => {
                return Err(InputError::bad_request(format!(
                    "{field} is too long: a value may have at most {MAX_STRING_BYTES} bytes"
                )));
            }
            _ => {}
        }
        if members > MAX_MEMBERS {
            return Err(InputError::bad_request(format!(
                "request has too many parameters: at most {MAX_MEMBERS} values in all, including nested ones"
            )));
        }
    }
    Ok(())
}

/// The longest request URI (path and query), in bytes: 414 past it.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The largest request head (request line and headers), in bytes: 431 past it.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// The most headers a request may have: 431 past it.
pub const MAX_HEADERS: usize = 64;

/// Checks the size of a free-form object parameter (`metadata`) once it has been read.
pub fn check_metadata(key: &str, metadata: &Map<String, Value>) -> Result<(), InputError> {
    let bytes = serde_json::to_vec(metadata).map(|v| v.len()).unwrap_or(usize::MAX);
    if bytes > MAX_METADATA_BYTES {
        return Err(InputError::bad_request(format!(
            "{key} is too large: {bytes} bytes of JSON, at most {MAX_METADATA_BYTES}"
        )));
    }
    Ok(())
}

fn check_key(field: &str, key: &str) -> Result<(), InputError> {
    if key.len() > MAX_KEY_BYTES {
        let shown: String = field.chars().take(40).collect();
        return Err(InputError::bad_request(format!(
            "parameter name in {shown} is too long: at most {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn too_deep(field: &str) -> InputError {
    InputError::bad_request(format!("{field} is nested too deeply: at most {MAX_DEPTH} levels of nesting in a request"))
}

/// The levels of bracket nesting a form key asks for (`a[b][c]` is 3), counted without building anything.
pub fn form_key_depth(key: &str) -> usize {
    1 + key.bytes().filter(|b| *b == b'[').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn nested(levels: usize) -> Value {
        let mut v = json!("x");
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn what_real_clients_send_is_within_the_limits() {
        let d = doc(json!({
            "amount": "100000",
            "source": {"type": "alipay_hk", "platform_type": "WEB"},
            "metadata": {"order": {"id": "7", "lines": [{"sku": "x", "qty": 1}]}},
            "items": [{"sku": "x", "name": "y"}],
        }));
        check_document(&d).unwrap();
    }

    #[test]
    fn depth_counts_from_the_top_level() {
        // metadata (1) → 7 more objects → a string: 8 levels of containers.
        check_document(&doc(json!({ "metadata": nested(7) }))).unwrap();
        let e = check_document(&doc(json!({ "metadata": nested(8) }))).unwrap_err();
        assert_eq!(e.code, "bad_request");
        assert!(e.message.contains("metadata is nested too deeply"), "{}", e.message);
    }

    #[test]
    fn arrays_count_as_levels_too() {
        let mut v = json!(1);
        for _ in 0..20 {
            v = json!([v]);
        }
        let e = check_document(&doc(json!({ "x": v }))).unwrap_err();
        assert!(e.message.contains("x is nested too deeply"), "{}", e.message);
    }

    #[test]
    fn members_are_counted_at_every_depth() {
        let wide: Map<String, Value> = (0..MAX_MEMBERS).map(|i| (format!("k{i}"), json!(i))).collect();
        check_document(&wide).unwrap();
        let e = check_document(&doc(json!({ "m": Value::Object(wide) }))).unwrap_err();
        assert!(e.message.contains("too many parameters"), "{}", e.message);
    }

    #[test]
    fn long_keys_and_strings_are_refused() {
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(check_document(&doc(json!({ "metadata": { long.clone(): 1 } }))).is_err());
        assert!(check_document(&doc(json!({ long: 1 }))).is_err());
        let e = check_document(&doc(json!({ "description": "d".repeat(MAX_STRING_BYTES + 1) }))).unwrap_err();
        assert!(e.message.starts_with("description is too long"), "{}", e.message);
    }

    #[test]
    fn metadata_size_is_bounded() {
        let m: Map<String, Value> = (0..20).map(|i| (format!("k{i}"), json!("v".repeat(1000)))).collect();
        let e = check_metadata("metadata", &m).unwrap_err();
        assert!(e.message.starts_with("metadata is too large"), "{}", e.message);
        check_metadata("metadata", &doc(json!({"order_id": "3947"}))).unwrap();
    }

    #[test]
    fn form_key_depth_counts_brackets() {
        assert_eq!(form_key_depth("a"), 1);
        assert_eq!(form_key_depth("metadata[order][id]"), 3);
        assert_eq!(form_key_depth("items[][sku]"), 3);
    }
}

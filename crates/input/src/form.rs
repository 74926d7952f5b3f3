//! Bracketed forms, as Rack (Ruby) and PHP build them: `a=1&b[c]=2&d[]=3&d[]=4&e[0][f]=5` becomes
//! `{"a":"1","b":{"c":"2"},"d":["3","4"],"e":[{"f":"5"}]}` (omise-wire.md §2.1: ruby and php send forms, and
//! the query string of every client is one). Every value is a string; typed reading happens later.

use serde_json::{Map, Value};

use crate::InputError;
use crate::limits::{self, MAX_DEPTH};

/// Parses a form (a body, or a query string) into one object, nesting bracketed keys. Keys `[n]` with numbers
/// become array positions; a later plain value for the same key wins. A key nested
/// deeper than [`MAX_DEPTH`] is refused before anything is built for it.
pub fn parse_form(input: &[u8]) -> Result<Map<String, Value>, InputError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(input) {
        if limits::form_key_depth(&key) > MAX_DEPTH {
            let field: String = key.split('[').next().unwrap_or("").chars().take(40).collect();
            return Err(InputError::bad_request(format!(
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
        assert_eq!((e.status, e.code), (400, "bad_request"));
        assert!(e.message.starts_with("x is nested too deeply"), "{}", e.message);
        let appends = format!("x{}", "[]".repeat(3_000));
        assert!(parse_form(format!("{appends}=1").as_bytes()).is_err());
        assert!(parse_form(b"metadata[a][b][c][d][e][f][g]=1").is_ok());
        assert!(parse_form(b"metadata[a][b][c][d][e][f][g][h]=1").is_err());
    }
}

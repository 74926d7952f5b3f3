//! The properties the fuzzer checks, as plain functions of arbitrary bytes: `fuzz/fuzz_targets/*` call them
//! under libFuzzer, and `tests/corpus.rs` replays the kept corpus and every crash found through them. Each
//! panics when a property fails; none may panic otherwise, whatever the bytes.

use serde_json::{Map, Value};

use crate::head::{self, HeadLimits};
use crate::{form, limits, parameters};

/// The parameter extractor on a query string and a body cut from `data`: the first byte picks the
/// Content-Type, the second where the query ends. Whatever it accepts is within every limit and survives
/// being stored inside three more levels of JSON (a charge in an event in a webhook payload) and read back.
pub fn params(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let Some((&cut, rest)) = rest.split_first() else { return };
    let cut = (cut as usize).min(rest.len());
    let (query, body) = rest.split_at(cut);
    let ctype = match kind % 4 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        2 => "",
        _ => "text/plain",
    };
    let query = (kind & 0x80 != 0).then_some(query);
    if let Ok(map) = parameters(query, ctype, body) {
        assert!(limits::check_document(&map).is_ok(), "accepted a document over the limits");
        readable_when_stored(map);
    }
}

/// The form parser alone: never panics, and what it builds is bounded.
pub fn form(data: &[u8]) {
    if let Ok(map) = form::parse_form(data)
        && limits::check_document(&map).is_ok()
    {
        readable_when_stored(map);
    }
}

/// The head inspector: never panics, and a complete head reads the same when given exactly its bytes.
pub fn head(data: &[u8]) {
    let limits = HeadLimits { max_uri_bytes: 512, max_head_bytes: 2048 };
    if let Ok(Some((len, framing))) = head::inspect(data, &limits) {
        assert!(len <= data.len());
        assert_eq!(
            head::inspect(&data[..len], &limits),
            Ok(Some((len, framing))),
            "a head's verdict depends on what follows it"
        );
    }
    // Fed in two pieces, as a socket may deliver it: the first piece alone never needs more than the whole.
    let mid = data.len() / 2;
    if let Ok(Some(_)) = head::inspect(&data[..mid], &limits) {
        assert!(head::inspect(data, &limits).is_ok(), "a complete prefix was accepted but the whole refused");
    }
}

fn readable_when_stored(map: Map<String, Value>) {
    let stored = serde_json::json!({ "data": { "object": { "metadata": Value::Object(map) } } });
    let text = serde_json::to_string(&stored).expect("serializes");
    let back: Value = serde_json::from_str(&text).expect("what was stored must read back");
    assert_eq!(back, stored);
}

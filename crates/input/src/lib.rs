//! # satang-input: untrusted request input, parsed with no IO
//!
//! Everything a client sends before satang knows who it is passes through here first: the HTTP/1 request
//! head, the query string, the body (JSON or bracketed form). Nothing here allocates without bound, recurses
//! without bound, or panics on any input, which `fuzz/` (cargo-fuzz, libFuzzer) checks continuously; the
//! corpus and every crash found are replayed as ordinary tests (`tests/corpus.rs`). The crate depends on no
//! HTTP framework so the fuzzer builds in seconds; satang turns an [`InputError`] into an Omise error object.
//!
//! | module | owns |
//! |---|---|
//! | [`limits`] | every bound on a request document, with why each number, and the check that enforces them |
//! | [`form`] | `a=1&b[c]=2&d[]=3` → a JSON object, as Rack and PHP nest it |
//! | [`body`] | a request body by Content-Type (JSON or form), nulls as absent |
//! | [`head`] | one HTTP/1.1 request head: complete or not, refused or not, and how its body is framed |
//! | [`fuzzing`] | the properties the fuzzer checks, shared by `fuzz/` and the corpus replay test |

pub mod body;
pub mod form;
pub mod fuzzing;
pub mod head;
pub mod limits;

use serde_json::{Map, Value};

/// A request's parameters: its query string and body merged into one object (the body wins on a clash),
/// checked against every limit in [`limits`], with nulls removed. This is all satang's parameter extractor
/// does besides reading the body off the connection.
pub fn parameters(query: Option<&[u8]>, content_type: &str, body: &[u8]) -> Result<Map<String, Value>, InputError> {
    let mut map = match query {
        Some(q) => form::parse_form(q)?,
        None => Map::new(),
    };
    for (k, v) in body::parse_body(content_type, body)? {
        map.insert(k, v);
    }
    limits::check_document(&map)?;
    body::strip_nulls(&mut map);
    Ok(map)
}

/// Why input was refused: the HTTP status, the Omise error `code`, and a message that names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl InputError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        InputError { status, code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for InputError {}

//! One HTTP/1.1 request head, looked at as its bytes arrive: is it complete, must it be refused, and how is
//! the body that follows framed. satang's connection guard (`http/guard.rs`) calls [`inspect`] on each head
//! before hyper parses it, so what hyper would answer with an empty body (or not refuse at all) becomes an
//! Omise error object:
//!
//! | what | answer |
//! |---|---|
//! | request line longer than [`HeadLimits::max_uri_bytes`] | 414 `uri_too_long` |
//! | head longer than [`HeadLimits::max_head_bytes`], or more than [`MAX_HEADERS`] headers | 431 `request_header_fields_too_large` |
//! | `Content-Length` with `Transfer-Encoding` (request smuggling), several or malformed lengths, a coding other than `chunked` | 400 `bad_request` |
//! | not HTTP/1.x | 400 `bad_request` |

use crate::InputError;
pub use crate::limits::MAX_HEADERS;

#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_uri_bytes: usize,
    pub max_head_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits { max_uri_bytes: crate::limits::MAX_URI_BYTES, max_head_bytes: crate::limits::MAX_HEAD_BYTES }
    }
}

/// What follows a complete head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: the next bytes are the next head.
    None,
    /// A body of exactly this many bytes, then the next head.
    Length(u64),
    /// A chunked body or an upgrade: the connection's later bytes cannot be followed head by head.
    Passthrough,
}

/// Looks at the bytes of a head received so far. `Ok(None)` while it is incomplete (and not yet too long);
/// `Ok(Some((len, framing)))` once its `len` bytes are complete; `Err` with the refusal to send.
pub fn inspect(head: &[u8], limits: &HeadLimits) -> Result<Option<(usize, Framing)>, InputError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(head) {
        Ok(httparse::Status::Partial) => {
            check_partial(head, limits)?;
            return Ok(None);
        }
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(InputError::new(
                431,
                "request_header_fields_too_large",
                format!("the request has more than {MAX_HEADERS} headers"),
            ));
        }
        Err(e) => return Err(InputError::bad_request(format!("the request is not valid HTTP/1.1 ({e})"))),
    };
    if len > limits.max_head_bytes {
        return Err(head_too_large(limits.max_head_bytes));
    }
    if req.path.is_some_and(|p| p.len() > limits.max_uri_bytes) {
        return Err(uri_too_long(limits.max_uri_bytes));
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut upgrade = req.method == Some("CONNECT");
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    InputError::bad_request("Content-Length must be a single non-negative number of bytes")
                })?;
            if length.is_some_and(|l| l != n) {
                return Err(InputError::bad_request("the request has several different Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
            if chunked || !v.eq_ignore_ascii_case("chunked") {
                return Err(InputError::bad_request(
                    "Transfer-Encoding must be exactly `chunked` (or send Content-Length instead)",
                ));
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = true;
        }
    }
    if chunked && length.is_some() {
        return Err(InputError::bad_request(
            "the request has both Content-Length and Transfer-Encoding, which is ambiguous; send only one",
        ));
    }
    let framing = match length {
        _ if chunked || upgrade => Framing::Passthrough,
        Some(n) if n > 0 => Framing::Length(n),
        _ => Framing::None,
    };
    Ok(Some((len, framing)))
}

/// Refuses an incomplete head that is already too long.
fn check_partial(head: &[u8], limits: &HeadLimits) -> Result<(), InputError> {
    let line_end = head.iter().position(|b| *b == b'\n');
    // "GET " + path + " HTTP/1.1": the request line may be a little longer than the path limit.
    if line_end.unwrap_or(head.len()) > limits.max_uri_bytes + 32 {
        return Err(uri_too_long(limits.max_uri_bytes));
    }
    if head.len() > limits.max_head_bytes {
        return Err(head_too_large(limits.max_head_bytes));
    }
    Ok(())
}

fn uri_too_long(max: usize) -> InputError {
    InputError::new(414, "uri_too_long", format!("the request URI is longer than {max} bytes"))
}

fn head_too_large(max: usize) -> InputError {
    InputError::new(
        431,
        "request_header_fields_too_large",
        format!("the request's headers are larger than {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: HeadLimits = HeadLimits { max_uri_bytes: 100, max_head_bytes: 400 };

    #[test]
    fn complete_heads_say_how_their_body_is_framed() {
        let h = b"POST /c HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(inspect(h, &L).unwrap(), Some((h.len() - 5, Framing::Length(5))));
        assert_eq!(inspect(b"GET / HTTP/1.1\r\n\r\n", &L).unwrap(), Some((18, Framing::None)));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(inspect(chunked, &L).unwrap().unwrap().1, Framing::Passthrough);
        assert_eq!(inspect(b"GET / HT", &L).unwrap(), None);
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let both = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(inspect(both, &L).unwrap_err().status, 400);
        let two = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(inspect(two, &L).unwrap_err().status, 400);
        let signed = b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n";
        assert_eq!(inspect(signed, &L).unwrap_err().status, 400);
        let gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(inspect(gzip, &L).unwrap_err().status, 400);
    }

    #[test]
    fn sizes_are_bounded_even_before_the_head_ends() {
        let long = format!("GET /{}", "a".repeat(300));
        assert_eq!(inspect(long.as_bytes(), &L).unwrap_err().code, "uri_too_long");
        let big = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(500));
        assert_eq!(inspect(big.as_bytes(), &L).unwrap_err().code, "request_header_fields_too_large");
    }
}

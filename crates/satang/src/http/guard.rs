//! [`HeadGuard`]: a thin layer between the socket and hyper that reads each HTTP/1.1 request head as it
//! arrives and refuses, with an Omise error object, what hyper would otherwise refuse with an empty body or
//! not refuse at all: the rules are `satang_input::head` (414, 431, 400 for ambiguous framing or a malformed
//! head); the guard adds the clock: a head not complete [`GuardLimits::head_timeout`] after its first byte
//! (slowloris) is a 408 `request_timeout`.
//!
//! It also times out a write the client does not read for [`GuardLimits::write_timeout`]. Idle keep-alive
//! connections (and connections that never send a byte) are closed by hyper's own header-read timer, which
//! [`super::serve`] sets to the idle timeout.
//!
//! How it works without a second copy of the stream: bytes are read straight into hyper's buffer and only
//! looked at there. The guard follows message boundaries (a head, then `Content-Length` bytes of body) so it
//! sees every head of a keep-alive connection; after a chunked body or an upgrade it stops looking (hyper's own
//! checks still apply there). When it refuses, it takes the read bytes back out of hyper's buffer (so hyper
//! never parses that head), writes the error response itself, and reports end of stream, after which hyper
//! closes the connection without answering. The whole read the refused head arrived in is taken back, so a
//! request pipelined in the same read is not run (rather than run with its answer lost).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::api::error::ApiError;
use satang_input::head::{self, Framing, HeadLimits};

/// The limits a [`HeadGuard`] enforces (set from `satang serve`'s flags, see [`super::ServerLimits`]).
#[derive(Debug, Clone, Copy)]
pub struct GuardLimits {
    pub head: HeadLimits,
    pub head_timeout: Duration,
    pub write_timeout: Duration,
}

enum State {
    /// Reading a head; `head` holds its bytes so far.
    Head,
    /// Inside a body with this many bytes still to come.
    Body(u64),
    /// Chunked body or upgrade: no more heads are looked at on this connection.
    Passthrough,
    /// Writing a refusal; then end of stream.
    Refusing {
        out: Vec<u8>,
        written: usize,
    },
    Closed,
}

pub struct HeadGuard<IO> {
    io: IO,
    limits: GuardLimits,
    state: State,
    head: Vec<u8>,
    head_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl<IO> HeadGuard<IO> {
    pub fn new(io: IO, limits: GuardLimits) -> Self {
        HeadGuard { io, limits, state: State::Head, head: Vec::new(), head_deadline: None, write_deadline: None }
    }

    /// Follows the newly read `bytes` through heads and bodies. `Err` is the refusal to send.
    fn scan(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match &mut self.state {
                State::Passthrough | State::Refusing { .. } | State::Closed => return Ok(()),
                State::Body(left) => {
                    let take = (*left).min(rest.len() as u64);
                    *left -= take;
                    rest = &rest[take as usize..];
                    if *left == 0 {
                        self.state = State::Head;
                    }
                }
                State::Head => {
                    let before = self.head.len();
                    self.head.extend_from_slice(rest);
                    match head::inspect(&self.head, &self.limits.head)? {
                        None => {
                            if self.head_deadline.is_none() {
                                self.head_deadline = Some(Box::pin(tokio::time::sleep(self.limits.head_timeout)));
                            }
                            return Ok(());
                        }
                        Some((len, framing)) => {
                            rest = &rest[len - before..];
                            self.head.clear();
                            self.head_deadline = None;
                            self.state = match framing {
                                Framing::None => State::Head,
                                Framing::Length(n) => State::Body(n),
                                Framing::Passthrough => State::Passthrough,
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn refuse_with(&mut self, e: ApiError) {
        let body = e.body();
        let reason = e.status.canonical_reason().unwrap_or("");
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json; charset=utf-8\r\n\
             cache-control: no-cache, no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            e.status.as_u16(),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        tracing::debug!(http.status = e.status.as_u16(), error.code = e.code, "request refused at the HTTP layer");
        self.head.clear();
        self.head_deadline = None;
        self.state = State::Refusing { out, written: 0 };
    }
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> ApiError {
    ApiError::new(status, code, message)
}

impl<IO: AsyncRead + AsyncWrite + Unpin> HeadGuard<IO> {
    /// Writes the pending refusal; `Ready(Ok)` once it is out (or the peer is gone).
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let State::Refusing { out, written } = &mut self.state else { return Poll::Ready(Ok(())) };
            if *written >= out.len() {
                let _ = ready!(Pin::new(&mut self.io).poll_flush(cx));
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.state = State::Closed;
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.io).poll_write(cx, &out[*written..])) {
                Ok(0) | Err(_) => {
                    self.state = State::Closed;
                    return Poll::Ready(Ok(()));
                }
                Ok(n) => *written += n,
            }
        }
    }

    fn poll_write_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limits.write_timeout;
        let deadline = self.write_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading the response"))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadGuard<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match this.state {
                State::Refusing { .. } => {
                    // End of stream once the refusal is written: hyper then closes without answering.
                    return this.poll_refusal(cx);
                }
                State::Closed => return Poll::Ready(Ok(())),
                _ => {}
            }
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Pending => {
                    if let Some(deadline) = this.head_deadline.as_mut()
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        let secs = this.limits.head_timeout.as_secs();
                        this.refuse_with(refuse(
                            StatusCode::REQUEST_TIMEOUT,
                            "request_timeout",
                            format!("the request's headers did not arrive within {secs} seconds"),
                        ));
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let result = this.scan(&buf.filled()[before..]);
                    match result {
                        Ok(()) => return Poll::Ready(Ok(())),
                        Err(refusal) => {
                            // hyper must never see this head: take its bytes back.
                            buf.set_filled(before);
                            this.refuse_with(refusal);
                        }
                    }
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if matches!(this.state, State::Refusing { .. } | State::Closed) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "request refused")));
        }
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_deadline(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if matches!(this.state, State::Refusing { .. } | State::Closed) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "request refused")));
        }
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_deadline(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_deadline(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: GuardLimits = GuardLimits {
        head: HeadLimits { max_uri_bytes: 100, max_head_bytes: 400 },
        head_timeout: Duration::from_millis(200),
        write_timeout: Duration::from_secs(5),
    };

    /// Feeds `input` through a guard; returns what the guard passed on to its reader (hyper) and what it
    /// answered on its own.
    async fn run(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let mut guard = HeadGuard::new(server, LIMITS);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write.write_all(input).await.unwrap();
        client_write.shutdown().await.unwrap();
        // One read takes everything, as hyper's 8 KiB buffer does with a small request.
        let mut passed = Vec::with_capacity(1 << 16);
        let _ = tokio::time::timeout(Duration::from_secs(2), guard.read_to_end(&mut passed)).await;
        drop(guard);
        let mut answered = Vec::new();
        client_read.read_to_end(&mut answered).await.unwrap();
        (passed, answered)
    }

    fn status_and_code(answer: &[u8]) -> (u16, String) {
        let text = String::from_utf8_lossy(answer);
        let status = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(v["object"], "error", "{text}");
        (status, v["code"].as_str().unwrap_or("").to_string())
    }

    #[tokio::test]
    async fn good_requests_pass_through_untouched() {
        let input = b"POST /charges HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /charges HTTP/1.1\r\nHost: x\r\n\r\n";
        let (passed, answered) = run(input).await;
        assert_eq!(passed, input);
        assert!(answered.is_empty());
    }

    #[tokio::test]
    async fn smuggling_heads_are_refused_with_an_omise_error() {
        let input =
            b"POST /charges HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let (passed, answered) = run(input).await;
        assert!(passed.is_empty(), "hyper must not see the refused head");
        assert_eq!(status_and_code(&answered), (400, "bad_request".into()));
    }

    #[tokio::test]
    async fn a_refused_head_after_a_good_request_is_still_caught() {
        let mut input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        input.extend_from_slice(b"GET /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        let (passed, answered) = run(&input).await;
        // Both arrived in one read, and the whole read is taken back: a request pipelined with a refused
        // one is not run, rather than run without its answer reaching the client.
        assert!(passed.is_empty());
        assert_eq!(status_and_code(&answered), (400, "bad_request".into()));
    }

    #[tokio::test]
    async fn long_uris_and_heads_get_414_and_431() {
        let uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200));
        assert_eq!(status_and_code(&run(uri.as_bytes()).await.1), (414, "uri_too_long".into()));
        // Without an end of line yet: refused as soon as the line is too long.
        let partial = format!("GET /{}", "a".repeat(300));
        assert_eq!(status_and_code(&run(partial.as_bytes()).await.1), (414, "uri_too_long".into()));
        let head = format!("GET / HTTP/1.1\r\nX-A: {}\r\n\r\n", "b".repeat(500));
        assert_eq!(status_and_code(&run(head.as_bytes()).await.1), (431, "request_header_fields_too_large".into()));
        let many: String = (0..70).map(|i| format!("X-{i}: 1\r\n")).collect();
        let head = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let limits_big = run(head.as_bytes()).await.1;
        assert_eq!(status_and_code(&limits_big).0, 431);
    }

    #[tokio::test]
    async fn garbage_is_a_400() {
        assert_eq!(status_and_code(&run(b"\x16\x03\x01\x02\x00 hello\r\n\r\n").await.1), (400, "bad_request".into()));
    }

    #[tokio::test]
    async fn a_trickled_head_times_out_with_408() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let mut guard = HeadGuard::new(server, LIMITS);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write.write_all(b"GET / HT").await.unwrap();
        let mut passed = Vec::new();
        // The client keeps the connection open and sends nothing more.
        let read = tokio::time::timeout(Duration::from_secs(2), guard.read_to_end(&mut passed)).await;
        assert!(read.is_ok(), "the guard must end the stream itself");
        drop(guard);
        let mut answered = Vec::new();
        client_read.read_to_end(&mut answered).await.unwrap();
        assert_eq!(status_and_code(&answered), (408, "request_timeout".into()));
        drop(client_write);
    }
}

//! The HTTP front door: accepting connections, TLS, and the limits that keep one client from holding satang.
//!
//! | module | owns |
//! |---|---|
//! | [`guard`] | each request head checked as it arrives (`satang_input::head`): 414 / 431 / 400 / 408 as Omise errors, write stalls |
//! | [`ratelimit`] | per-key and per-address limits on public-key routes and payer pages (429) |
//! | [`tls`] | `--tls-cert` / `--tls-key`: rustls in process, and the optional HTTP→HTTPS redirect |
//!
//! Why satang runs its own accept loop instead of `axum::serve`: the latter has no header-read timeout and no
//! connection cap, so a client that trickles a header byte a second, or opens connections and sends nothing,
//! holds a descriptor for as long as it likes (issue 12 measured `/healthz` timing out behind 300 such
//! connections). Here every connection gets, in order:
//!
//! 1. a place under [`ServerLimits::max_connections`]; past it the connection is answered at once with a
//!    503 Omise error and closed, so a flood never makes accept fail for lack of descriptors;
//! 2. TLS, if configured, within [`ServerLimits::head_timeout`];
//! 3. the [`guard::HeadGuard`]: a head must be complete within `head_timeout` of its first byte, a response
//!    must be read by the client within `write_timeout`;
//! 4. hyper's HTTP/1.1 with its header-read timer set to [`ServerLimits::idle_timeout`]: a connection that
//!    sends nothing (new, or idle between keep-alive requests) is closed after it;
//! 5. then the request body, which the parameter extractor must receive within
//!    `satang_input::limits::BODY_READ_TIMEOUT`, and the whole request's [`crate::api::REQUEST_TIMEOUT`].

pub mod guard;
pub mod ratelimit;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::api::error::ApiError;
use guard::{GuardLimits, HeadGuard};
use satang_input::head::HeadLimits;

/// The connection-level limits of `satang serve` (its flags, see [`crate::config::HttpArgs`]).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once; more are answered with a 503 and closed.
    pub max_connections: usize,
    /// A request head must arrive within this of its first byte (and a TLS handshake within it).
    pub head_timeout: Duration,
    /// A connection that sends nothing for this long is closed (new or between keep-alive requests).
    pub idle_timeout: Duration,
    /// A response the client does not read for this long is abandoned.
    pub write_timeout: Duration,
    pub head: HeadLimits,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: default_max_connections(),
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            head: HeadLimits::default(),
        }
    }
}

impl ServerLimits {
    fn guard(&self) -> GuardLimits {
        GuardLimits { head: self.head, head_timeout: self.head_timeout, write_timeout: self.write_timeout }
    }
}

/// 4096 connections, or fewer when the process may open fewer files: leave room for the database, the
/// webhook worker's connections and the log, so accepting never fails for lack of descriptors.
pub fn default_max_connections() -> usize {
    let soft = open_files_limit().unwrap_or(1024);
    soft.saturating_sub(128).clamp(16, 4096)
}

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (no `unsafe` needed).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Accepts connections on `listener` until `shutdown` resolves, then lets the requests in flight finish
/// (for at most `drain`).
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: ServerLimits,
    tls: Option<tls::Acceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout).max_buf_size(limits.head.max_head_bytes * 2);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a moment instead of spinning.
                    tracing::warn!(error.message = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(place) = places.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream, limits.max_connections));
            continue;
        };
        let service = service.clone();
        let http = http.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _place = place;
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                service.clone().oneshot(req)
            });
            match tls {
                None => {
                    let io = TokioIo::new(HeadGuard::new(stream, limits.guard()));
                    let _ = watcher.watch(http.serve_connection(io, service)).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.head_timeout, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let io = TokioIo::new(HeadGuard::new(stream, limits.guard()));
                    let _ = watcher.watch(http.serve_connection(io, service)).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(drain) => tracing::warn!("requests still in flight at shutdown were cut off"),
    }
    Ok(())
}

/// Answers a connection over the cap with a 503 Omise error and closes it.
async fn refuse_busy<IO: AsyncRead + AsyncWrite + Unpin>(mut stream: IO, max: usize) {
    let e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        format!("the server has {max} connections open, its limit; please retry shortly"),
    );
    let body = e.body();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
         cache-control: no-cache, no-store\r\nretry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// The peer's address, as the accept loop records it on every request.
pub fn peer(req_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    req_extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

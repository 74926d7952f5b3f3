//! The load generator: a minimal HTTP/1.1 keep-alive client (one TCP connection per simulated client, like
//! wrk) and two ways to drive it.
//!
//! * Closed loop: N connections send back to back for the duration (throughput at saturation).
//! * Open loop: requests are scheduled at a fixed total rate; each latency is measured from the request's
//!   *scheduled* send time, so a stalled server shows up as latency instead of quietly lowering the load
//!   (no coordinated omission).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// What a request came back with.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub body_len: usize,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None, buf: Vec::with_capacity(16 * 1024) }
    }

    /// Sends a complete request and reads the whole response (Content-Length framed). Reconnects once if
    /// the kept-alive connection turned out to be closed.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<(Answer, Vec<u8>)> {
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(self.addr).await?;
                s.set_nodelay(true)?;
                self.stream = Some(s);
            }
            match self.roundtrip(request).await {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 0 && self.buf.is_empty() => {
                    self.stream = None;
                    let _ = e;
                }
                Err(e) => {
                    self.stream = None;
                    return Err(e);
                }
            }
        }
        Err(std::io::Error::other("unreachable"))
    }

    async fn roundtrip(&mut self, request: &[u8]) -> std::io::Result<(Answer, Vec<u8>)> {
        let stream = self.stream.as_mut().ok_or_else(|| std::io::Error::other("not connected"))?;
        stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            match res.parse(&self.buf) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = res.code.unwrap_or(0);
                    let len = res
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .ok_or_else(|| std::io::Error::other("response without Content-Length"))?;
                    while self.buf.len() < head + len {
                        let n = stream.read(&mut chunk).await?;
                        if n == 0 {
                            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "body cut short"));
                        }
                        self.buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = self.buf[head..head + len].to_vec();
                    self.buf.clear();
                    return Ok((Answer { status, body_len: len }, body));
                }
                Ok(httparse::Status::Partial) => continue,
                Err(e) => return Err(std::io::Error::other(format!("bad response: {e}"))),
            }
        }
    }
}

/// Builds an HTTP/1.1 request.
pub fn request(method: &str, path: &str, host: &str, auth: Option<&str>, form: Option<&str>) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: satang-bench\r\n");
    if let Some(a) = auth {
        r.push_str("Authorization: Basic ");
        r.push_str(a);
        r.push_str("\r\n");
    }
    match form {
        Some(body) => {
            r.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        None => r.push_str("Content-Length: 0\r\n\r\n"),
    }
    r.into_bytes()
}

/// Builds an HTTP/1.1 GET with a `Cookie` header (a dashboard session).
pub fn get_with_cookie(path: &str, host: &str, cookie: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: satang-bench\r\nCookie: {cookie}\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

/// How a run is paced.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Every connection sends back to back.
    Closed,
    /// This many requests per second in all, spread over the connections.
    Open(f64),
}

/// Latencies and counts of one run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub latencies_us: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
    /// Bodies of successful answers, when the run keeps them (to read IDs back).
    pub bodies: Vec<Vec<u8>>,
}

impl Outcome {
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The p-th percentile latency in microseconds (p in 0..=100).
    pub fn percentile(&self, p: f64) -> u64 {
        percentile(&self.latencies_us, p)
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        self.bodies.extend(other.bodies);
    }
}

/// Nearest-rank percentile of unsorted samples.
pub fn percentile(samples: &[u64], p: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// The request a connection sends next: given the connection index and its request count so far.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// Drives `connections` connections for `duration` (or until `max_requests` in all), pacing as asked.
/// A non-2xx answer or an I/O error counts as an error.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    pace: Pace,
    make: MakeRequest,
    keep_bodies: bool,
    max_requests: Option<u64>,
) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let remaining = Arc::new(std::sync::atomic::AtomicI64::new(max_requests.map(|m| m as i64).unwrap_or(i64::MAX)));
    let mut tasks = Vec::with_capacity(connections);
    for k in 0..connections {
        let (make, stop, remaining) = (make.clone(), stop.clone(), remaining.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut out = Outcome::default();
            let mut i: u64 = 0;
            loop {
                if stop.load(Ordering::Relaxed) || remaining.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    break;
                }
                // Open loop: this connection's i-th request is due at start + (i·N + k) / rate.
                let scheduled = match pace {
                    Pace::Closed => Instant::now(),
                    Pace::Open(rate) => {
                        let at = started + Duration::from_secs_f64((i as f64 * connections as f64 + k as f64) / rate);
                        if at > started + duration {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                };
                let req = make(k, i);
                i += 1;
                match conn.send(&req).await {
                    Ok((a, body)) if (200..300).contains(&a.status) => {
                        out.latencies_us.push(scheduled.elapsed().as_micros() as u64);
                        if keep_bodies {
                            out.bodies.push(body);
                        }
                    }
                    Ok(_) | Err(_) => out.errors += 1,
                }
            }
            out
        }));
    }
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut total = Outcome::default();
    for t in tasks {
        if let Ok(o) = t.await {
            total.merge(o);
        }
    }
    timer.abort();
    total.elapsed = started.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&s, 50.0), 50);
        assert_eq!(percentile(&s, 99.0), 99);
        assert_eq!(percentile(&s, 99.9), 100);
        assert_eq!(percentile(&[], 99.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
    }

    #[test]
    fn requests_are_well_formed() {
        let r = request("POST", "/charges", "h", Some("abc"), Some("a=1"));
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST /charges HTTP/1.1\r\nHost: h\r\n"));
        assert!(text.contains("Authorization: Basic abc\r\n"));
        assert!(text.ends_with("Content-Length: 3\r\n\r\na=1"));
    }
}

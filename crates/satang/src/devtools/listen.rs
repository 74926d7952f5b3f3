//! `satang listen --forward-to URL`: reads `GET /events/stream` and POSTs each event to the developer's app
//! exactly as a webhook delivery is sent: the same body bytes (the stream carries them), `Content-Type`,
//! `User-Agent`, and `Omise-Signature` / `Omise-Signature-Timestamp` made with a signing secret printed at
//! start (or given with `--signing-secret`, so an app's `.env` keeps working). One line per delivery.
//!
//! It is not a webhook endpoint: satang's own deliveries and their retries go on as before, and an app that
//! is down only makes `listen` print failures. A dropped stream is reopened with `Last-Event-ID`, so no
//! event is skipped.

use std::time::{Duration, Instant};

use super::{ApiArgs, api_error, now_iso};
use crate::webhooks::{schedule, sign};

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Example:\n  satang serve --dev &\n  satang listen --forward-to http://localhost:3000/webhooks/omise --events charge.complete,refund.create"
)]
pub struct ListenArgs {
    /// Where to POST each event (your app's webhook route).
    #[arg(long)]
    pub forward_to: String,

    /// Only these event keys, comma-separated (e.g. charge.complete,refund.create). Default: every event.
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,

    /// Sign with this secret (base64) instead of a new one.
    #[arg(long, env = "SATANG_LISTEN_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,

    /// One JSON object a line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One server-sent event.
#[derive(Debug, Default, PartialEq)]
struct Message {
    id: String,
    event: String,
    data: String,
}

/// Splits a server-sent-events byte stream into messages (the subset satang sends: `id`, `event`, one
/// `data` line, comments).
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
}

impl Parser {
    fn push(&mut self, chunk: &[u8]) -> Vec<Message> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            let mut m = Message::default();
            let mut data = Vec::new();
            for line in String::from_utf8_lossy(&block).lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => m.id = value.to_string(),
                    "event" => m.event = value.to_string(),
                    "data" => data.push(value.to_string()),
                    _ => {}
                }
            }
            if !data.is_empty() {
                m.data = data.join("\n");
                out.push(m);
            }
        }
        out
    }
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let secret = match &args.signing_secret {
        Some(s) => {
            sign::signature(s, 0, b"").map_err(|_| anyhow::anyhow!("--signing-secret is not valid base64"))?;
            s.clone()
        }
        None => sign::new_secret(),
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("satang/", env!("CARGO_PKG_VERSION")))
        .build()?;
    // The same limits as the webhook worker's sends.
    let app = reqwest::Client::builder()
        .timeout(schedule::TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("satang/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut last_id: Option<String> = None;
    let mut announced = false;
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut url = args.api.url("/events/stream");
        if !args.events.is_empty() {
            let keys: String = form_urlencoded::byte_serialize(args.events.join(",").as_bytes()).collect();
            url = format!("{url}?events={keys}");
        }
        let mut req = client.get(url).basic_auth(&args.api.secret_key, Some(""));
        if let Some(id) = &last_id {
            req = req.header("Last-Event-ID", id);
        }
        let mut res = match req.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status().is_client_error() => return Err(api_error(r).await),
            Ok(r) => {
                eprintln!("satang listen: {}; retrying", api_error(r).await);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(e) => {
                if !announced {
                    anyhow::bail!("cannot reach satang at {}: {e}", args.api.api_base);
                }
                eprintln!("satang listen: lost {}; reconnecting", args.api.api_base);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        if !announced {
            announced = true;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"object": "listen", "forward_to": args.forward_to, "signing_secret": secret, "events": args.events})
                );
            } else {
                println!("Ready. Forwarding events of {} to {}", args.api.api_base, args.forward_to);
                println!("  signing secret: {secret}");
                println!("  (satang's own webhook deliveries and their retries are unaffected)");
            }
        }
        let mut parser = Parser::default();
        loop {
            let chunk = match res.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) | Err(_) => break,
            };
            for m in parser.push(&chunk) {
                forward(&app, &args, &secret, &m).await;
                last_id = Some(m.id);
            }
        }
    }
}

/// POSTs one event to the app as a webhook delivery and prints the outcome.
async fn forward(app: &reqwest::Client, args: &ListenArgs, secret: &str, m: &Message) {
    let ts = satang_domain::Clock::now(&satang_domain::SystemClock).unix();
    let body = m.data.as_bytes().to_vec();
    let signature = match sign::header(secret, None, ts, &body) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("satang listen: {e}");
            return;
        }
    };
    let started = Instant::now();
    let sent = app
        .post(&args.forward_to)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Omise-Signature", signature)
        .header("Omise-Signature-Timestamp", ts.to_string())
        .body(body)
        .send()
        .await;
    let ms = started.elapsed().as_millis() as u64;
    let (status, error) = match &sent {
        Ok(r) => (Some(r.status().as_u16()), None),
        Err(e) => (None, Some(describe(e))),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"time": now_iso(), "event": m.event, "id": m.id, "status": status, "latency_ms": ms, "error": error})
        );
    } else {
        let outcome = match (&sent, &error) {
            (Ok(r), _) => format!("[{}]", r.status()),
            (_, Some(e)) => format!("[failed: {e}]"),
            _ => String::new(),
        };
        println!("{}  {:<16} {}  --> {outcome} {ms} ms", now_iso(), m.event, m.id);
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_sent_events_are_split_across_chunks() {
        let mut p = Parser::default();
        assert!(p.push(b": keep-alive\n\nid: evnt_test_1\nevent: charge.create\nda").is_empty());
        let got = p.push(b"ta: {\"a\":1}\n\nid: evnt_test_2\nevent: refund.create\ndata: {}\n\n");
        assert_eq!(
            got,
            vec![
                Message { id: "evnt_test_1".into(), event: "charge.create".into(), data: "{\"a\":1}".into() },
                Message { id: "evnt_test_2".into(), event: "refund.create".into(), data: "{}".into() },
            ]
        );
    }
}

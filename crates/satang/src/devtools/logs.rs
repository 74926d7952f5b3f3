//! `satang logs tail`: prints the account's API requests as satang serves them (`GET /logs/stream`): time,
//! method, path, status, latency, request ID and error code. Never keys or bodies (the server never sends
//! them). Filters by status class and path prefix.

use std::time::Duration;

use super::{ApiArgs, api_error};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LogsCommand {
    /// Follow the account's API requests as they are served.
    #[command(after_help = "Examples:\n  satang logs tail\n  satang logs tail --status 4xx --path /charges --json")]
    Tail(TailArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct TailArgs {
    /// Only these statuses: a class (2xx, 4xx, 5xx) or one status (404).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<StatusFilter>,

    /// Only paths starting with this (e.g. /charges).
    #[arg(long)]
    pub path: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,

    /// One JSON object a line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Class(u16),
    Exact(u16),
}

impl StatusFilter {
    fn matches(self, status: u16) -> bool {
        match self {
            StatusFilter::Class(c) => status / 100 == c,
            StatusFilter::Exact(s) => status == s,
        }
    }
}

fn parse_status(s: &str) -> Result<StatusFilter, String> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(c) = s.strip_suffix("xx") {
        if let Ok(c @ 1..=5) = c.parse::<u16>() {
            return Ok(StatusFilter::Class(c));
        }
    } else if let Ok(n @ 100..=599) = s.parse::<u16>() {
        return Ok(StatusFilter::Exact(n));
    }
    Err(format!("{s} is not a status or a class like 4xx"))
}

pub async fn run(cmd: LogsCommand) -> anyhow::Result<()> {
    let LogsCommand::Tail(args) = cmd;
    let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build()?;
    let mut connected = false;
    loop {
        let sent = client
            .get(args.api.url(crate::api::request_log::PATH))
            .basic_auth(&args.api.secret_key, Some(""))
            .send()
            .await;
        let mut res = match sent {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status().is_client_error() => return Err(api_error(r).await),
            Ok(r) => {
                eprintln!("satang logs tail: {}; retrying", api_error(r).await);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) if !connected => anyhow::bail!("cannot reach satang at {}: {e}", args.api.api_base),
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        connected = true;
        eprintln!("satang logs tail: following the API requests of {} (Ctrl-C to stop)", args.api.api_base);
        let mut buf = Vec::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            buf.extend_from_slice(&chunk);
            while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = buf.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block);
                let lagged = block.lines().any(|l| l == "event: lagged");
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
                let Ok(r) = serde_json::from_str::<serde_json::Value>(data) else { continue };
                if lagged {
                    eprintln!("satang logs tail: {} requests were skipped (the terminal fell behind)", r["skipped"]);
                    continue;
                }
                print_record(&args, &r);
            }
        }
        eprintln!("satang logs tail: the stream ended; reconnecting");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn print_record(args: &TailArgs, r: &serde_json::Value) {
    let status = r["status"].as_u64().unwrap_or(0) as u16;
    let path = r["path"].as_str().unwrap_or("");
    if args.status.is_some_and(|f| !f.matches(status)) || args.path.as_deref().is_some_and(|p| !path.starts_with(p)) {
        return;
    }
    if args.json {
        println!("{r}");
    } else {
        println!(
            "{}  {:<6} {:<40} {} {:>5} ms  {}{}",
            r["time"].as_str().unwrap_or(""),
            r["method"].as_str().unwrap_or(""),
            path,
            status,
            r["latency_ms"],
            r["request_id"].as_str().unwrap_or(""),
            r["error_code"].as_str().map(|c| format!("  {c}")).unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_take_a_class_or_one_status() {
        assert_eq!(parse_status("4xx"), Ok(StatusFilter::Class(4)));
        assert_eq!(parse_status("5XX"), Ok(StatusFilter::Class(5)));
        assert_eq!(parse_status("404"), Ok(StatusFilter::Exact(404)));
        assert!(parse_status("9xx").is_err() && parse_status("abc").is_err() && parse_status("42").is_err());
        assert!(StatusFilter::Class(4).matches(422) && !StatusFilter::Class(4).matches(500));
    }
}

//! Antom over HTTP: sign, send, retry, verify.
//!
//! - Every request is signed ([`super::sign`]) with the merchant's key and carries `client-id`,
//!   `request-time` (epoch milliseconds) and `signature`.
//! - Every call has a timeout. Network errors, 5xx answers, answers whose signature does not verify, and
//!   `resultStatus: U` codes that mean "try again" (`UNKNOWN_EXCEPTION`, `REQUEST_TRAFFIC_EXCEED_LIMIT`, see
//!   [`super::codes`]) are retried with the same request id (Antom's idempotency key), so a retry can never
//!   open a second order or refund twice, after a bounded exponential backoff. When the tries run out the
//!   answer is [`ConnectorError::Indeterminate`]: the caller concludes nothing and asks again later.
//! - A response is acted on only when its `signature` header verifies with Antom's public key over
//!   `POST <path>\n<client-id>.<response-time>.<body>`. A missing header, an empty `signature=` value or
//!   a mismatch is never acted on.
//! - Each try is recorded as a [`ProviderCall`] (no keys, signatures or bodies).

use std::time::{Duration, Instant};

use rsa::{PrivateKey, PublicKey};
use satang_domain::{Clock, SystemClock};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codes::{self, Effect};
use super::sign;
use super::wire::{Api, ResultInfo};
use crate::connector::{ConnectorError, ProviderCall};

/// Antom's production host in Asia (alipay-antom.md §3.2).
pub const DEFAULT_ENDPOINT: &str = "https://open-sea-global.alipay.com";

/// How hard to try one call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// Wait before the second try; doubled for each further one, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The whole exchange of one try, connection included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn wait(&self, tries_done: u32) -> Duration {
        let factor = 1u32.checked_shl(tries_done.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// An account's Antom credentials, decrypted.
pub struct Credentials {
    pub endpoint: String,
    pub client_id: String,
    pub key_version: u32,
    pub merchant_key: PrivateKey,
    pub antom_key: PublicKey,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// Refuses an endpoint that is not `https://`, or `http://` on a loopback host (a simulator).
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| format!("{endpoint} is not a URL: {e}"))?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{endpoint}: give the scheme and host only (e.g. {DEFAULT_ENDPOINT})"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
            let loopback =
                host == "localhost" || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false);
            if loopback {
                Ok(())
            } else {
                Err(format!("{endpoint}: http:// is accepted only for a loopback host (a simulator); use https://"))
            }
        }
        other => Err(format!("{endpoint}: unsupported scheme {other}")),
    }
}

pub struct AntomClient {
    creds: Credentials,
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// Every Antom response has a `result`.
pub trait HasResult {
    fn result(&self) -> Option<&ResultInfo>;
}

macro_rules! has_result {
    ($($t:ty),*) => {$(
        impl HasResult for $t {
            fn result(&self) -> Option<&ResultInfo> { self.result.as_ref() }
        }
    )*};
}
has_result!(
    super::wire::PayResponse,
    super::wire::InquiryResponse,
    super::wire::CancelResponse,
    super::wire::RefundResponse,
    super::wire::InquiryRefundResponse
);

impl AntomClient {
    pub fn new(creds: Credentials, retry: RetryPolicy) -> Result<Self, ConnectorError> {
        check_endpoint(&creds.endpoint).map_err(ConnectorError::Misconfigured)?;
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(retry.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("satang/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Misconfigured(e.to_string()))?;
        Ok(AntomClient { creds, http, retry: RetryPolicy { attempts: retry.attempts.max(1), ..retry } })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Sends `req` to `api`, retrying as the module docs say, and returns the first verified answer whose
    /// result is not a "try again".
    pub async fn call<Req: Serialize, Resp: DeserializeOwned + HasResult>(
        &self,
        api: Api,
        request_id: &str,
        req: &Req,
        calls: &mut Vec<ProviderCall>,
    ) -> Result<Resp, ConnectorError> {
        let body = serde_json::to_vec(req).map_err(|e| ConnectorError::Misconfigured(e.to_string()))?;
        let path = api.path(&self.creds.client_id);
        let url = format!("{}{}", self.creds.endpoint.trim_end_matches('/'), path);
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            if attempt > 1 {
                tokio::time::sleep(self.retry.wait(attempt - 1)).await;
            }
            let started = Instant::now();
            let mut record = ProviderCall {
                endpoint: api.name().to_string(),
                request_id: request_id.to_string(),
                attempt,
                http_status: None,
                result_code: None,
                result_status: None,
                latency_ms: 0,
                error: None,
                at: SystemClock.now(),
            };
            let outcome = self.try_once(&path, &url, &body, &mut record).await;
            record.latency_ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
            match outcome {
                Ok(Some(resp)) => {
                    calls.push(record);
                    return Ok(resp);
                }
                Ok(None) => {}
                Err(Fatal(msg)) => {
                    record.error = Some(msg.clone());
                    calls.push(record);
                    return Err(ConnectorError::Indeterminate(msg));
                }
            }
            last = record
                .error
                .clone()
                .or_else(|| record.result_code.as_ref().map(|c| format!("answered {c}")))
                .unwrap_or_else(|| "try again".into());
            tracing::warn!(endpoint = api.name(), request_id, attempt, error = %last, "Antom call not conclusive");
            calls.push(record);
        }
        Err(ConnectorError::Indeterminate(format!("{} after {} tries: {last}", api.name(), self.retry.attempts)))
    }

    /// One try: `Ok(Some)` a verified conclusive answer, `Ok(None)` worth retrying (the reason in
    /// `record.error` or its result code), `Err` not worth retrying and not conclusive.
    async fn try_once<Resp: DeserializeOwned + HasResult>(
        &self,
        path: &str,
        url: &str,
        body: &[u8],
        record: &mut ProviderCall,
    ) -> Result<Option<Resp>, Fatal> {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            .to_string();
        let content = sign::content("POST", path, &self.creds.client_id, &time, body);
        let signature =
            sign::sign(&self.creds.merchant_key, &content).map_err(|e| Fatal(format!("signing failed: {e}")))?;
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json; charset=UTF-8")
            .header("client-id", &self.creds.client_id)
            .header("request-time", &time)
            .header("signature", sign::header(self.creds.key_version, &signature))
            .body(body.to_vec())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                record.error = Some(if e.is_timeout() { "timed out".into() } else { "connection failed".into() });
                return Ok(None);
            }
        };
        let status = resp.status();
        record.http_status = Some(status.as_u16());
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (sig, resp_time, resp_client) = (header("signature"), header("response-time"), header("client-id"));
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                record.error = Some(if e.is_timeout() { "timed out reading".into() } else { "body cut short".into() });
                return Ok(None);
            }
        };
        if status.is_server_error() {
            record.error = Some(format!("HTTP {}", status.as_u16()));
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Fatal(format!("HTTP {}", status.as_u16())));
        }
        let client_id = resp_client.as_deref().unwrap_or(&self.creds.client_id);
        let Some(resp_time) = resp_time else {
            record.error = Some("response-time header missing: not acted on".into());
            return Ok(None);
        };
        let signed = sign::content("POST", path, client_id, &resp_time, &bytes);
        if let Err(e) = sign::verify(&self.creds.antom_key, &signed, sig.as_deref()) {
            record.error = Some(format!("response signature refused ({e}): not acted on"));
            return Ok(None);
        }
        let parsed: Resp = match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            Err(_) => return Err(Fatal("the response is not the JSON expected".into())),
        };
        let Some(result) = parsed.result() else {
            return Err(Fatal("the response has no result".into()));
        };
        record.result_code = Some(result.result_code.clone());
        record.result_status = Some(result.result_status.clone());
        if codes::effect(&result.result_code, &result.result_status) == Effect::Retry {
            return Ok(None);
        }
        Ok(Some(parsed))
    }
}

struct Fatal(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_endpoints_are_accepted() {
        assert!(check_endpoint(DEFAULT_ENDPOINT).is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000").is_ok());
        assert!(check_endpoint("http://[::1]:9000").is_ok());
        assert!(check_endpoint("http://localhost:9000").is_ok());
        assert!(check_endpoint("http://open-sea-global.alipay.com").is_err());
        assert!(check_endpoint("http://10.0.0.1:9000").is_err());
        assert!(check_endpoint("https://open-sea-global.alipay.com/ams/api").is_err());
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("nonsense").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let p = RetryPolicy {
            attempts: 10,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.wait(1), Duration::from_millis(100));
        assert_eq!(p.wait(2), Duration::from_millis(200));
        assert_eq!(p.wait(3), Duration::from_millis(400));
        assert_eq!(p.wait(4), Duration::from_millis(500));
        assert_eq!(p.wait(40), Duration::from_millis(500));
    }
}

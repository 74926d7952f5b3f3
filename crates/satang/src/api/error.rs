//! Every failure as an Omise error object (omise-wire.md §4.7, §12):
//! `{"object":"error","location":"https://www.omise.co/api-errors#<code>","code":…,"message":…}`.
//!
//! This is the one place that decides HTTP statuses. Official clients detect errors by `object == "error"`
//! (python, ruby, php, node) or by a non-200 status (go, java), so both always hold. Internal faults are
//! logged here, once, with the request ID; the client gets a generic message and never a database or
//! provider message. Every error body carries the request's `request_id` (beyond Omise).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::{Refusal, StoreError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The cause of a 5xx, for the log only.
    pub cause: Option<anyhow::Error>,
}

/// The code of an error response, left in its extensions for the request log (`satang logs tail`).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[derive(Serialize)]
struct ErrorObject<'a> {
    object: &'static str,
    location: String,
    code: &'a str,
    message: &'a str,
    /// The request's ID (also its `X-Request-Id` header and in every log line of it), for a merchant to
    /// quote to the operator. Beyond Omise; clients ignore fields they do not know.
    request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), cause: None }
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_failure", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid_charge(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_charge", message)
    }

    /// `<object> <id> was not found`, Omise's wording.
    pub fn not_found(object: &str, id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{object} {id} was not found"))
    }

    pub fn internal(cause: anyhow::Error) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
            message: "an internal error occurred; it has been logged, please retry".into(),
            cause: Some(cause),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "service_unavailable",
            message: "the database is unavailable; please retry shortly".into(),
            cause: Some(anyhow::anyhow!(detail.into())),
        }
    }

    /// The server did not finish within `limit` (the body had arrived: a slow client is a 408 from the
    /// extractor). The change may or may not have been made, so the message says to look before retrying.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "service_unavailable",
            message: format!(
                "the request took longer than {} seconds to process; retrieve the object to see whether it took \
                 effect before retrying",
                limit.as_secs()
            ),
            cause: Some(anyhow::anyhow!("request timed out after {} s", limit.as_secs())),
        }
    }

    /// The same error with another code (e.g. `failed_expire` for a refused expiry).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn body(&self) -> Vec<u8> {
        let obj = ErrorObject {
            object: "error",
            location: format!("https://www.omise.co/api-errors#{}", self.code.replace('_', "-")),
            code: self.code,
            message: &self.message,
            request_id: super::current_request_id(),
        };
        serde_json::to_vec(&obj).unwrap_or_else(|_| b"{\"object\":\"error\"}".to_vec())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            // The request's ID is added to the line by the log format ([`crate::telemetry`]).
            // `{:#}` prints the cause chain on one line; `?` would add a backtrace per failed request
            // whenever RUST_BACKTRACE is set, flooding the log during an outage.
            tracing::error!(
                http.status = self.status.as_u16(),
                error.code = self.code,
                error.cause_chain = %format_args!("{cause:#}"),
                "request failed"
            );
        }
        let mut res = (self.status, self.body()).into_response();
        res.extensions_mut().insert(ErrorCode(self.code));
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
        res
    }
}

impl From<satang_input::InputError> for ApiError {
    fn from(e: satang_input::InputError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { object, id } => ApiError::not_found(object, id),
            StoreError::SourceUsed { .. } => ApiError::invalid_charge(e.to_string()),
            StoreError::Refused(Refusal::Transition(t)) => ApiError::bad_request(t.to_string()),
            StoreError::Refused(Refusal::Refund(r)) => {
                ApiError::new(StatusCode::BAD_REQUEST, "failed_refund", r.to_string())
            }
            StoreError::Refused(Refusal::Other(m)) => ApiError::bad_request(m),
            StoreError::Unavailable(m) => ApiError::unavailable(m),
            StoreError::Conflict => ApiError::internal(anyhow::anyhow!("unresolved concurrent change")),
            StoreError::KeyTaken => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "another request with this Idempotency-Key was completed first; retry to get its answer",
            ),
            StoreError::Other(e) => ApiError::internal(e),
        }
    }
}

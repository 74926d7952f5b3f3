//! Acquirer connectors: how a live charge reaches a real wallet.
//!
//! One trait, [`Connector`], with the six things satang asks of an acquirer: `pay` (open an order the
//! payer can pay), `inquire` (what became of it), `cancel`, `refund`, `inquire_refund`, and
//! `parse_notification` (verify and read what the acquirer pushes). Its types are satang's, not any
//! acquirer's: each acquirer's wire types and their mapping live in its own module ([`antom`] for
//! Alipay+ / Antom, which serves both `alipay` and `alipay_hk`), so a second acquirer is a new module.
//!
//! Every call a connector makes is recorded as a [`ProviderCall`] (endpoint, request id, result code,
//! HTTP status, latency, error in a few words; never keys, signatures or bodies), so the charge's timeline
//! can show what was asked of the acquirer and what it said.

pub mod antom;
pub mod registry;
pub mod vault;

use async_trait::async_trait;
use satang_domain::{FailureCode, Timestamp};
use serde::{Deserialize, Serialize};

/// The payer's device, as the acquirer wants it (Antom's `env.terminalType` and `osType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Terminal {
    /// A desktop browser: the page shows a QR code to scan with the wallet.
    Web,
    /// A phone's browser: hand off to the wallet app.
    Wap(Os),
    /// The merchant's app (`platform_type` IOS/ANDROID): hand off to the wallet app.
    App(Os),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Os {
    Ios,
    Android,
}

/// What satang asks to be paid: one attempt at one charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOrder {
    /// Unique per attempt (≤ 64 characters); the acquirer's idempotency key.
    pub request_id: String,
    /// The charge's ID (Antom's `referenceOrderId`).
    pub charge: String,
    pub description: String,
    /// Subunits.
    pub amount: i64,
    pub currency: String,
    /// satang's method name (`alipay`, `alipay_hk`).
    pub method: String,
    pub redirect_url: String,
    pub notify_url: String,
    pub terminal: Terminal,
    /// When the acquirer should close the order unpaid.
    pub expires_at: Timestamp,
}

/// Where the payer goes to pay an open order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub payment_id: Option<String>,
    /// The acquirer's own page (browser fallback on phones; the QR page on desktops).
    pub normal_url: Option<String>,
    /// Universal link that opens the wallet app when installed.
    pub applink_url: Option<String>,
    /// App scheme (fails when the app is missing).
    pub scheme_url: Option<String>,
    /// What a QR code on satang's own page encodes.
    pub code_value: Option<String>,
    /// The device the order was opened for: a retry of the same request must send the same one.
    #[serde(default)]
    pub terminal: Option<Terminal>,
}

/// What became of a payment, as far as the acquirer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// The order is open: the payer may still pay (or has paid and the result is on its way).
    Open,
    Succeeded {
        payment_id: Option<String>,
    },
    Failed {
        code: FailureCode,
        provider_code: String,
    },
    /// Closed or cancelled unpaid.
    Closed {
        provider_code: String,
    },
    /// The acquirer has no such order.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOutcome {
    pub state: PaymentState,
    /// With an open order: where the payer goes.
    pub handoff: Option<Handoff>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// The acquirer will not cancel (e.g. already paid, or past its window).
    Refused {
        provider_code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder {
    /// satang's refund ID: the acquirer's idempotency key.
    pub request_id: String,
    /// The acquirer's payment ID of the charge.
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub notify_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    Succeeded {
        refund_id: Option<String>,
    },
    /// The acquirer refused; nothing was refunded.
    Refused {
        provider_code: String,
        message: Option<String>,
    },
    /// Accepted, result not known yet.
    Processing,
    NotFound,
}

/// A verified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `request_id` is the [`PayOrder::request_id`] it is about.
    Payment {
        request_id: String,
        state: PaymentState,
    },
    Refund {
        request_id: String,
        state: RefundState,
    },
}

/// An inbound notification as it arrived: what its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// The path the acquirer called, as it called it.
    pub path: &'a str,
    pub headers: &'a axum::http::HeaderMap,
    pub body: &'a [u8],
}

/// One call to the acquirer, as the charge's timeline keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCall {
    /// e.g. `payments/pay`.
    pub endpoint: String,
    pub request_id: String,
    /// 1 for the first try; retries carry the same request id.
    pub attempt: u32,
    pub http_status: Option<u16>,
    pub result_code: Option<String>,
    pub result_status: Option<String>,
    pub latency_ms: u64,
    /// What went wrong, in a few words (timeout, unverified signature, …).
    pub error: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// No trustworthy answer (network, timeout, 5xx, `U` after retries, an unverified signature): the
    /// outcome is unknown, so nothing may be concluded; ask again later with an inquiry.
    #[error("no conclusive answer from the acquirer: {0}")]
    Indeterminate(String),
    /// The connector cannot work as configured (bad key, bad endpoint, the acquirer refusing our
    /// credentials).
    #[error("the connector is misconfigured: {0}")]
    Misconfigured(String),
    /// A notification that is not signed by the acquirer, or not one satang understands.
    #[error("the notification was refused: {0}")]
    BadNotification(String),
}

/// An acquirer. Every method appends the calls it made to `calls`, whatever its result.
#[async_trait]
pub trait Connector: Send + Sync {
    /// `antom`, …
    fn provider(&self) -> &'static str;
    /// Whether it can take charges of this satang method.
    fn offers(&self, method: &str) -> bool;
    /// The longest an order may stay open at the acquirer; a charge that lives longer gets a new order
    /// (attempt) when the payer comes back after it closed.
    fn max_order_seconds(&self) -> i64 {
        i64::MAX
    }
    async fn pay(&self, order: &PayOrder, calls: &mut Vec<ProviderCall>) -> Result<PayOutcome, ConnectorError>;
    async fn inquire(&self, request_id: &str, calls: &mut Vec<ProviderCall>) -> Result<PaymentState, ConnectorError>;
    async fn cancel(&self, request_id: &str, calls: &mut Vec<ProviderCall>) -> Result<CancelOutcome, ConnectorError>;
    async fn refund(&self, order: &RefundOrder, calls: &mut Vec<ProviderCall>) -> Result<RefundState, ConnectorError>;
    async fn inquire_refund(
        &self,
        request_id: &str,
        calls: &mut Vec<ProviderCall>,
    ) -> Result<RefundState, ConnectorError>;
    /// Verifies and reads a notification; a forged or unsigned one is an error and must not be acted on.
    fn parse_notification(&self, inbound: Inbound<'_>) -> Result<Notification, ConnectorError>;
}

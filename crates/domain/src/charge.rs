//! Charges and their state machine (omise-wire.md §5).
//!
//! ```text
//! pending ──pay──────▶ successful ──refund (≤15, ≤ amount, in window)──▶ successful (refunded_amount grows)
//!    │ ───fail──────▶ failed
//!    └──expire/due──▶ expired
//! ```
//! Every transition is a method on [`Charge`] that checks the current state and returns the events it
//! caused; the handler never decides which event fires. The wire flags (`authorized`, `paid`, `expired`,
//! `refundable`, …) are derived from [`ChargeStatus`] in the wire layer and never stored, so impossible
//! combinations cannot exist.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::event::EventKey;
use crate::fees::{FeeBreakdown, FeeSchedule};
use crate::id::{AccountId, ChargeId, RefundId, TransactionId};
use crate::money::{Amount, Currency};
use crate::rules::{Rule, Violations, is_web_url};
use crate::source::Source;

/// Omise refuses a 16th refund on one charge (omise-wire.md §9).
pub const MAX_REFUNDS: usize = 15;
/// A charge may carry up to two webhook URLs of its own (omise-wire.md §6).
pub const MAX_WEBHOOK_ENDPOINTS: usize = 2;
/// The latest `expires_at` a merchant may ask for, in days from now. [INF] Omise's own cap is unknown;
/// a month keeps a forgotten QR code from staying payable for ever.
pub const MAX_EXPIRES_AT_DAYS: i64 = 30;

/// Why a wallet refused the payment (seed 000's failure table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    PaymentRejected,
    FailedProcessing,
    InvalidAccount,
    InsufficientFund,
}

impl FailureCode {
    pub const ALL: [FailureCode; 4] = [
        FailureCode::PaymentRejected,
        FailureCode::FailedProcessing,
        FailureCode::InvalidAccount,
        FailureCode::InsufficientFund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::PaymentRejected => "payment_rejected",
            FailureCode::FailedProcessing => "failed_processing",
            FailureCode::InvalidAccount => "invalid_account",
            FailureCode::InsufficientFund => "insufficient_fund",
        }
    }

    pub fn parse(s: &str) -> Option<FailureCode> {
        FailureCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The `failure_message` Omise sends (omise-wire.md §5.3).
    pub fn message(self) -> &'static str {
        match self {
            FailureCode::PaymentRejected => "payment rejected",
            FailureCode::FailedProcessing => "failed processing",
            FailureCode::InvalidAccount => "valid account for payment method not found",
            FailureCode::InsufficientFund => {
                "insufficient funds in the account or the card has reached the credit limit"
            }
        }
    }

    /// Seed 000's Thai description, for the payer pages.
    pub fn message_th(self) -> &'static str {
        match self {
            FailureCode::PaymentRejected => "รายการถูกปฏิเสธโดยธนาคารผู้ออกบัตร",
            FailureCode::FailedProcessing => "ระบบทำรายการไม่สำเร็จ",
            FailureCode::InvalidAccount => "ไม่พบบัญชีที่สามารถชำระเงินผ่านช่องทางที่เลือก",
            FailureCode::InsufficientFund => "วงเงินคงเหลือไม่เพียงพอหรือวงเงินเต็ม",
        }
    }
}

/// Where a charge is in its life. Only `Pending` can change; the other states are final (a successful
/// charge still takes refunds, which do not change its status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChargeStatus {
    Pending,
    Successful { transaction: TransactionId, paid_at: Timestamp },
    Failed { failure_code: FailureCode, failed_at: Timestamp },
    Expired { expired_at: Timestamp },
}

impl ChargeStatus {
    /// The wire `status`.
    pub fn name(&self) -> &'static str {
        match self {
            ChargeStatus::Pending => "pending",
            ChargeStatus::Successful { .. } => "successful",
            ChargeStatus::Failed { .. } => "failed",
            ChargeStatus::Expired { .. } => "expired",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, ChargeStatus::Pending)
    }
}

/// A refund of part or all of a successful charge (omise-wire.md §4.3). Immutable once made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub amount: Amount,
    pub transaction: TransactionId,
    pub metadata: Map<String, Value>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub id: ChargeId,
    pub account: AccountId,
    pub amount: Amount,
    pub currency: Currency,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub source: Source,
    pub return_uri: Option<String>,
    /// The unguessable part of `authorize_uri`: whoever holds it may act as the payer.
    pub authorize_token: String,
    pub ip: Option<String>,
    #[serde(default)]
    pub webhook_endpoints: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub fees: FeeBreakdown,
    #[serde(flatten)]
    pub status: ChargeStatus,
    #[serde(default)]
    pub refunds: Vec<Refund>,
}

/// A charge as the merchant asked for it. `S` is how the source is given: the API layer first holds an ID
/// or an inline description, and resolves it into a [`Source`] (the default) before [`Charge::create`].
#[derive(Debug, Clone)]
pub struct ChargeRequest<S = Source> {
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub source: S,
    pub return_uri: Option<String>,
    pub description: Option<String>,
    pub metadata: Map<String, Value>,
    pub expires_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub webhook_endpoints: Vec<String>,
}

impl<S> ChargeRequest<S> {
    /// The same request with its source given another way (resolved, typically).
    pub fn with_source<T>(self, source: T) -> ChargeRequest<T> {
        ChargeRequest {
            amount: self.amount,
            currency: self.currency,
            source,
            return_uri: self.return_uri,
            description: self.description,
            metadata: self.metadata,
            expires_at: self.expires_at,
            ip: self.ip,
            webhook_endpoints: self.webhook_endpoints,
        }
    }
}

/// A transition was asked of a charge whose state does not allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("charge {charge} is {status}; only a pending charge can {action}")]
pub struct TransitionError {
    pub charge: ChargeId,
    pub status: &'static str,
    pub action: &'static str,
}

/// What became of a request to pay or fail a pending charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The payer's outcome was applied; `charge.complete` fires.
    Completed,
    /// The charge's `expires_at` had already passed, so it expired instead; `charge.expire` fires and the
    /// payer's outcome is refused.
    ExpiredFirst,
}

impl Settled {
    pub fn events(self) -> Vec<EventKey> {
        match self {
            Settled::Completed => vec![EventKey::ChargeComplete],
            Settled::ExpiredFirst => vec![EventKey::ChargeExpire],
        }
    }
}

/// Why a refund was refused (omise-wire.md §9, seeds 000 and 001).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("charge can't be refunded: it is {status}, and only a successful charge can be refunded")]
    NotSuccessful { status: &'static str },
    #[error("amount must be greater than 0")]
    AmountNotPositive,
    #[error("charge can't be refunded: it already has the maximum of {max} refunds")]
    TooManyRefunds { max: usize },
    #[error("charge can't be refunded: the refund window of this payment method closed at {deadline}")]
    WindowClosed { deadline: Timestamp },
    #[error("amount exceeds the refundable remainder of {remaining} (charge {amount}, already refunded {refunded})")]
    ExceedsRemaining { remaining: Amount, amount: Amount, refunded: Amount },
}

impl Charge {
    /// Validates a charge request and builds the pending charge. `fees` is the account's schedule for this
    /// method and currency in force now; the charge keeps it for life.
    pub fn create(
        account: AccountId,
        req: ChargeRequest,
        fees: FeeSchedule,
        livemode: bool,
        now: Timestamp,
    ) -> Result<Charge, Violations> {
        let mut v = Violations::default();
        let source = req.source;
        match req.amount {
            None => v.push(Rule::Required("amount")),
            Some(a) if a != source.amount.subunits() => v.push(Rule::AmountMismatch { source: source.amount }),
            Some(_) => {}
        }
        match req.currency.as_deref() {
            None | Some("") => v.push(Rule::Required("currency")),
            Some(c) => match c.parse::<Currency>() {
                Ok(c) if c == source.currency => {}
                Ok(_) => v.push(Rule::CurrencyMismatch { source: source.currency }),
                Err(_) => v.push(Rule::UnsupportedCurrency { currency: c.to_string(), method: None }),
            },
        }
        match req.return_uri.as_deref() {
            None | Some("") => v.push(Rule::ReturnUriRequired { method: source.method.name }),
            Some(u) if !is_web_url(u) => v.push(Rule::ReturnUriInvalid),
            Some(u) if livemode && !u.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) => {
                v.push(Rule::ReturnUriNotHttps)
            }
            Some(_) => {}
        }
        let expires_at = match req.expires_at {
            None => now.plus_seconds(source.method.pending_lifetime_seconds),
            Some(t) if t <= now => {
                v.push(Rule::ExpiresAtNotInFuture);
                t
            }
            Some(t) if t > now.plus_seconds(MAX_EXPIRES_AT_DAYS * 86_400) => {
                v.push(Rule::ExpiresAtTooFar { max_days: MAX_EXPIRES_AT_DAYS });
                t
            }
            Some(t) => t,
        };
        if req.webhook_endpoints.len() > MAX_WEBHOOK_ENDPOINTS {
            v.push(Rule::TooManyWebhookEndpoints { max: MAX_WEBHOOK_ENDPOINTS });
        }
        for url in &req.webhook_endpoints {
            if !is_web_url(url) {
                v.push(Rule::WebhookEndpointInvalid { url: url.clone() });
            }
        }
        v.into_result()?;
        Ok(Charge {
            id: ChargeId::generate(livemode),
            account,
            amount: source.amount,
            currency: source.currency,
            description: req.description,
            metadata: req.metadata,
            fees: fees.apply(source.amount),
            source,
            return_uri: req.return_uri,
            authorize_token: crate::id::random_base36(32),
            ip: req.ip,
            webhook_endpoints: req.webhook_endpoints,
            created_at: now,
            expires_at,
            status: ChargeStatus::Pending,
            refunds: Vec::new(),
        })
    }

    pub fn livemode(&self) -> bool {
        self.id.is_live()
    }

    fn pending_or(&self, action: &'static str) -> Result<(), TransitionError> {
        match self.status {
            ChargeStatus::Pending => Ok(()),
            ChargeStatus::Successful { .. } | ChargeStatus::Failed { .. } | ChargeStatus::Expired { .. } => {
                Err(TransitionError { charge: self.id.clone(), status: self.status.name(), action })
            }
        }
    }

    /// True once `expires_at` has passed for a charge still pending.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        matches!(self.status, ChargeStatus::Pending) && now >= self.expires_at
    }

    fn settle(&mut self, now: Timestamp, action: &'static str, done: ChargeStatus) -> Result<Settled, TransitionError> {
        self.pending_or(action)?;
        if self.is_overdue(now) {
            self.status = ChargeStatus::Expired { expired_at: self.expires_at };
            return Ok(Settled::ExpiredFirst);
        }
        self.status = done;
        Ok(Settled::Completed)
    }

    /// The payer approved the payment in the wallet.
    pub fn pay(&mut self, now: Timestamp) -> Result<Settled, TransitionError> {
        let done = ChargeStatus::Successful { transaction: TransactionId::generate(self.livemode()), paid_at: now };
        self.settle(now, "be marked as paid", done)
    }

    /// The wallet refused the payment.
    pub fn fail(&mut self, code: FailureCode, now: Timestamp) -> Result<Settled, TransitionError> {
        self.settle(now, "be marked as failed", ChargeStatus::Failed { failure_code: code, failed_at: now })
    }

    /// `POST /charges/:id/expire`: the merchant gives up on a pending charge. Like Omise (fixture F3),
    /// `expires_at` becomes the moment of expiry.
    pub fn expire(&mut self, now: Timestamp) -> Result<Vec<EventKey>, TransitionError> {
        self.pending_or("be expired")?;
        let at = now.min(self.expires_at);
        self.expires_at = at;
        self.status = ChargeStatus::Expired { expired_at: at };
        Ok(vec![EventKey::ChargeExpire])
    }

    /// The sweeper's transition: a pending charge whose `expires_at` has passed expires at `expires_at`.
    /// Returns no events (and changes nothing) for any other charge, so a second sweep is harmless.
    pub fn expire_if_due(&mut self, now: Timestamp) -> Vec<EventKey> {
        if !self.is_overdue(now) {
            return Vec::new();
        }
        self.status = ChargeStatus::Expired { expired_at: self.expires_at };
        vec![EventKey::ChargeExpire]
    }

    /// `PATCH /charges/:id`: `None` leaves a field alone; metadata is replaced as a whole.
    pub fn update(
        &mut self,
        description: Option<Option<String>>,
        metadata: Option<Map<String, Value>>,
    ) -> Vec<EventKey> {
        if let Some(d) = description {
            self.description = d;
        }
        if let Some(m) = metadata {
            self.metadata = m;
        }
        vec![EventKey::ChargeUpdate]
    }

    pub fn refunded_amount(&self) -> Amount {
        // Each refund was checked against the remainder, so the sum fits in the charge amount.
        self.refunds.iter().fold(Amount::ZERO, |sum, r| sum.checked_add(r.amount).unwrap_or(self.amount))
    }

    /// The last moment this charge can be refunded, from its payment method's window.
    pub fn refund_deadline(&self) -> Option<Timestamp> {
        match &self.status {
            ChargeStatus::Successful { paid_at, .. } => Some(self.source.method.refund_deadline(*paid_at)),
            ChargeStatus::Pending | ChargeStatus::Failed { .. } | ChargeStatus::Expired { .. } => None,
        }
    }

    /// Whether a refund of at least one subunit would be accepted now.
    pub fn refundable(&self, now: Timestamp) -> bool {
        self.check_refund(1, now).is_ok()
    }

    fn check_refund(&self, amount: i64, now: Timestamp) -> Result<Amount, RefundError> {
        let deadline = match self.refund_deadline() {
            Some(d) => d,
            None => {
                return Err(RefundError::NotSuccessful { status: self.status.name() });
            }
        };
        let amount = match Amount::new(amount) {
            Ok(a) if !a.is_zero() => a,
            _ => return Err(RefundError::AmountNotPositive),
        };
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(RefundError::TooManyRefunds { max: MAX_REFUNDS });
        }
        if now > deadline {
            return Err(RefundError::WindowClosed { deadline });
        }
        let refunded = self.refunded_amount();
        let remaining = self.amount.checked_sub(refunded).unwrap_or(Amount::ZERO);
        if amount > remaining {
            return Err(RefundError::ExceedsRemaining { remaining, amount: self.amount, refunded });
        }
        Ok(amount)
    }

    /// Refunds `amount` subunits. The checks and the append happen on one value, and the store applies
    /// this inside the transaction that holds the charge, so concurrent refunds cannot over-refund.
    pub fn refund(&mut self, amount: i64, metadata: Map<String, Value>, now: Timestamp) -> Result<Refund, RefundError> {
        let id = RefundId::generate(self.livemode());
        self.refund_as(id, amount, metadata, now)
    }

    /// The same, with an ID chosen beforehand: a live refund is sent to the acquirer under its ID (the
    /// acquirer's idempotency key) before it is booked.
    pub fn refund_as(
        &mut self,
        id: RefundId,
        amount: i64,
        metadata: Map<String, Value>,
        now: Timestamp,
    ) -> Result<Refund, RefundError> {
        let amount = self.check_refund(amount, now)?;
        let live = self.livemode();
        let refund = Refund { id, amount, transaction: TransactionId::generate(live), metadata, created_at: now };
        self.refunds.push(refund.clone());
        Ok(refund)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::source::SourceRequest;
    use proptest::prelude::*;

    pub fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    pub fn pending_charge(kind: &str, amount: i64, currency: &str, now: Timestamp) -> Charge {
        let source = Source::create(
            SourceRequest {
                kind: Some(kind.into()),
                amount: Some(amount),
                currency: Some(currency.into()),
                ..Default::default()
            },
            false,
            now,
        )
        .unwrap();
        let limit = source.method.limit(source.currency).unwrap();
        Charge::create(
            AccountId::generate(true),
            ChargeRequest {
                amount: Some(amount),
                currency: Some(currency.into()),
                source,
                return_uri: Some("https://shop.example/return".into()),
                description: None,
                metadata: Map::new(),
                expires_at: None,
                ip: None,
                webhook_endpoints: vec![],
            },
            limit.default_fees,
            false,
            now,
        )
        .unwrap()
    }

    #[test]
    fn pending_charge_expires_by_registry_lifetime() {
        let now = t("2023-06-15T02:25:59Z");
        let hk = pending_charge("alipay_hk", 150_000, "SGD", now);
        assert_eq!(hk.expires_at.iso(), "2023-06-22T02:25:59Z");
        assert_eq!(hk.fees.fee.subunits(), 4_350);
        let ali = pending_charge("alipay", 100_000, "THB", now);
        assert_eq!(ali.expires_at.iso(), "2023-06-16T02:25:59Z");
    }

    #[test]
    fn every_transition_from_pending_is_final() {
        let now = t("2024-01-01T00:00:00Z");
        let mut paid = pending_charge("alipay", 100_000, "THB", now);
        assert_eq!(paid.pay(now).unwrap(), Settled::Completed);
        let mut failed = pending_charge("alipay", 100_000, "THB", now);
        assert_eq!(failed.fail(FailureCode::InsufficientFund, now).unwrap(), Settled::Completed);
        let mut expired = pending_charge("alipay", 100_000, "THB", now);
        expired.expire(now).unwrap();
        for c in [&mut paid, &mut failed, &mut expired] {
            let before = c.clone();
            assert!(c.pay(now).is_err());
            assert!(c.fail(FailureCode::PaymentRejected, now).is_err());
            assert!(c.expire(now).is_err());
            assert!(c.expire_if_due(now.plus_seconds(10 * 86_400)).is_empty());
            assert_eq!(*c, before, "a refused transition changes nothing");
        }
    }

    #[test]
    fn paying_after_expires_at_expires_instead() {
        let now = t("2024-01-01T00:00:00Z");
        let mut c = pending_charge("alipay", 100_000, "THB", now);
        let edge = c.expires_at;
        let mut just_before = c.clone();
        assert_eq!(just_before.pay(edge.plus_seconds(-1)).unwrap(), Settled::Completed);
        assert_eq!(c.pay(edge).unwrap(), Settled::ExpiredFirst);
        assert_eq!(c.status, ChargeStatus::Expired { expired_at: edge });
    }

    #[test]
    fn sweeper_expires_exactly_at_expires_at() {
        let now = t("2024-01-01T00:00:00Z");
        let mut c = pending_charge("alipay_hk", 150_000, "SGD", now);
        assert!(c.expire_if_due(c.expires_at.plus_seconds(-1)).is_empty());
        assert_eq!(c.expire_if_due(c.expires_at), vec![EventKey::ChargeExpire]);
        assert!(c.expire_if_due(c.expires_at).is_empty(), "sweeping twice is harmless");
    }

    #[test]
    fn charge_must_match_its_source() {
        let now = t("2024-01-01T00:00:00Z");
        let c = pending_charge("alipay_hk", 150_000, "SGD", now);
        let req = ChargeRequest {
            amount: Some(150_001),
            currency: Some("THB".into()),
            source: c.source.clone(),
            return_uri: None,
            description: None,
            metadata: Map::new(),
            expires_at: Some(now),
            ip: None,
            webhook_endpoints: vec!["https://a".into(), "https://b".into(), "nope".into()],
        };
        let err = Charge::create(c.account.clone(), req, c.fees.schedule, false, now).unwrap_err();
        assert_eq!(
            err.message(),
            "amount must match the source's amount (150000), currency must match the source's currency (SGD), \
             return_uri is required for alipay_hk (the payer is sent back there), expires_at must be in the future, \
             webhook_endpoints can have at most 2 URLs, and webhook endpoint nope is invalid"
        );
    }

    #[test]
    fn live_mode_needs_an_https_return_uri() {
        let now = t("2024-01-01T00:00:00Z");
        let c = pending_charge("alipay", 100_000, "THB", now);
        let mut req = ChargeRequest {
            amount: Some(100_000),
            currency: Some("THB".into()),
            source: c.source.clone(),
            return_uri: Some("http://shop.example/return".into()),
            description: None,
            metadata: Map::new(),
            expires_at: None,
            ip: None,
            webhook_endpoints: vec![],
        };
        let err = Charge::create(c.account.clone(), req.clone(), c.fees.schedule, true, now).unwrap_err();
        assert_eq!(err.0, vec![Rule::ReturnUriNotHttps]);
        assert!(Charge::create(c.account.clone(), req.clone(), c.fees.schedule, false, now).is_ok());
        req.return_uri = Some("https://shop.example/return".into());
        assert!(Charge::create(c.account.clone(), req, c.fees.schedule, true, now).is_ok());
    }

    #[test]
    fn refund_rules_in_order() {
        let now = t("2024-05-01T03:00:00Z");
        let mut c = pending_charge("alipay", 100_000, "THB", now);
        assert_eq!(c.refund(1, Map::new(), now), Err(RefundError::NotSuccessful { status: "pending" }));
        c.pay(now).unwrap();
        assert_eq!(c.refund(0, Map::new(), now), Err(RefundError::AmountNotPositive));
        assert_eq!(c.refund(-5, Map::new(), now), Err(RefundError::AmountNotPositive));
        c.refund(60_000, Map::new(), now).unwrap();
        assert!(matches!(c.refund(40_001, Map::new(), now), Err(RefundError::ExceedsRemaining { .. })));
        c.refund(40_000, Map::new(), now).unwrap();
        assert_eq!(c.refunded_amount().subunits(), 100_000);
        assert!(!c.refundable(now));
    }

    #[test]
    fn at_most_fifteen_refunds() {
        let now = t("2024-05-01T03:00:00Z");
        let mut c = pending_charge("alipay", 100_000, "THB", now);
        c.pay(now).unwrap();
        for _ in 0..MAX_REFUNDS {
            c.refund(100, Map::new(), now).unwrap();
        }
        assert_eq!(c.refund(100, Map::new(), now), Err(RefundError::TooManyRefunds { max: 15 }));
    }

    #[test]
    fn alipay_hk_refund_window_closes_at_0015_gmt8_next_day() {
        let paid = t("2024-05-01T03:00:00Z"); // 11:00 in Hong Kong
        let mut c = pending_charge("alipay_hk", 150_000, "SGD", paid);
        c.pay(paid).unwrap();
        let deadline = t("2024-05-01T16:15:00Z"); // 2 May 00:15 GMT+8
        assert!(c.refundable(deadline));
        assert_eq!(c.refund(1, Map::new(), deadline.plus_seconds(1)), Err(RefundError::WindowClosed { deadline }));
        assert!(c.refund(1, Map::new(), deadline).is_ok());
    }

    #[test]
    fn alipay_refund_window_is_three_months() {
        let paid = t("2024-01-31T10:00:00Z");
        let mut c = pending_charge("alipay", 100_000, "THB", paid);
        c.pay(paid).unwrap();
        let deadline = t("2024-04-30T10:00:00Z");
        assert!(c.refund(1, Map::new(), deadline).is_ok());
        assert!(matches!(c.refund(1, Map::new(), deadline.plus_seconds(1)), Err(RefundError::WindowClosed { .. })));
    }

    proptest! {
        #[test]
        fn refunds_never_exceed_the_charge(amount in 2_000i64..=15_000_000, asks in proptest::collection::vec(-10i64..=15_000_000, 0..40)) {
            let now = t("2024-05-01T03:00:00Z");
            let mut c = pending_charge("alipay", amount, "THB", now);
            c.pay(now).unwrap();
            for a in asks {
                let before = c.refunded_amount();
                match c.refund(a, Map::new(), now) {
                    Ok(r) => prop_assert_eq!(c.refunded_amount().subunits(), before.subunits() + r.amount.subunits()),
                    Err(_) => prop_assert_eq!(c.refunded_amount(), before),
                }
                prop_assert!(c.refunded_amount() <= c.amount);
                prop_assert!(c.refunds.len() <= MAX_REFUNDS);
            }
        }

        #[test]
        fn stored_form_round_trips(kind in prop_oneof![Just("alipay"), Just("alipay_hk")], paid in any::<bool>()) {
            let now = t("2024-05-01T03:00:00Z");
            let mut c = pending_charge(kind, 100_000, "THB", now);
            if paid { c.pay(now).unwrap(); c.refund(500, Map::new(), now).unwrap(); }
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<Charge>(&json).unwrap(), c);
        }
    }
}

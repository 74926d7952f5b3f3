//! The payment-method registry: every wallet satang accepts, as data.
//!
//! A [`PaymentMethod`] says everything the rest of satang needs to know about a `source[type]`: its flow,
//! which currencies it takes and between which amounts, which `platform_type`s it accepts, how long a
//! charge may stay pending, how long it can be refunded, and the default fee schedule. Adding a wallet is
//! adding an entry to [`REGISTRY`]; nothing else switches on the type name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fees::{FeeSchedule, Percent};
use crate::money::{Amount, Currency};

/// How the payer completes a charge (the source's `flow`, omise-wire.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// The payer is sent to the wallet's web page (`alipay`).
    Redirect,
    /// The payer is sent to the wallet's app, or scans a QR code on a desktop (`alipay_hk`).
    AppRedirect,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Redirect => "redirect",
            Flow::AppRedirect => "app_redirect",
        }
    }
}

/// The payer's platform (`platform_type`). `WEB` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PlatformType {
    Web,
    Ios,
    Android,
}

impl PlatformType {
    pub const ALL: [PlatformType; 3] = [PlatformType::Ios, PlatformType::Android, PlatformType::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformType::Web => "WEB",
            PlatformType::Ios => "IOS",
            PlatformType::Android => "ANDROID",
        }
    }

    /// Case-insensitive (`ios` and `IOS` both occur in integrations).
    pub fn parse(s: &str) -> Option<Self> {
        PlatformType::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// True for the phone platforms, which hand off to the wallet app.
    pub fn is_mobile(self) -> bool {
        matches!(self, PlatformType::Ios | PlatformType::Android)
    }
}

/// How long after the charge a successful charge can still be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundWindow {
    /// Until the same moment N calendar months later (Alipay: 3 months, seed 001).
    CalendarMonths(u32),
    /// Until a wall-clock time on the day after the charge, in a fixed UTC offset
    /// (Alipay HK: 00:15 GMT+8 of the next day, seed 000).
    NextDayAt { utc_offset_seconds: i32, after_midnight_seconds: i64 },
}

/// The amount limits of one currency of one method, in subunits, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyLimit {
    pub currency: Currency,
    pub min: i64,
    pub max: i64,
    /// The fee schedule an account gets unless the operator sets its own.
    pub default_fees: FeeSchedule,
}

/// One wallet.
#[derive(Debug, PartialEq, Eq)]
pub struct PaymentMethod {
    /// The wire `type`.
    pub name: &'static str,
    /// Shown to payers and merchants.
    pub display_name: &'static str,
    pub flow: Flow,
    pub currencies: &'static [CurrencyLimit],
    pub platform_types: &'static [PlatformType],
    /// A pending charge expires this long after creation unless it sets its own `expires_at`.
    pub pending_lifetime_seconds: i64,
    pub refund_window: RefundWindow,
    /// Where the numbers above come from.
    pub provenance: &'static str,
}

const fn pct(units: i64) -> Percent {
    Percent::constant(units)
}

const THAI_STANDARD_FEES: FeeSchedule = FeeSchedule { rate: pct(36_500), vat_rate: pct(70_000), flat: Amount::ZERO };
const SINGAPORE_WALLET_FEES: FeeSchedule = FeeSchedule { rate: pct(29_000), vat_rate: pct(0), flat: Amount::ZERO };

/// Every payment method satang accepts.
pub static REGISTRY: &[PaymentMethod] = &[
    PaymentMethod {
        name: "alipay",
        display_name: "Alipay",
        flow: Flow::Redirect,
        currencies: &[CurrencyLimit {
            currency: Currency::Thb,
            min: 2_000,
            max: 15_000_000,
            default_fees: THAI_STANDARD_FEES,
        }],
        platform_types: &PlatformType::ALL,
        pending_lifetime_seconds: 24 * 3600,
        refund_window: RefundWindow::CalendarMonths(3),
        provenance: "seed 001: THB only, expires when unpaid within 24 hours, refundable for 3 months. \
                     The THB 20.00–150,000.00 limits are inferred from Alipay HK's Thai limits (seed 000); \
                     seed 001 states none. Fees: Omise's standard Thai 3.65% + 7% VAT (omise-wire.md §8).",
    },
    PaymentMethod {
        name: "alipay_hk",
        display_name: "Alipay HK",
        flow: Flow::AppRedirect,
        currencies: &[
            CurrencyLimit { currency: Currency::Sgd, min: 100, max: 2_000_000, default_fees: SINGAPORE_WALLET_FEES },
            CurrencyLimit { currency: Currency::Thb, min: 2_000, max: 15_000_000, default_fees: THAI_STANDARD_FEES },
        ],
        platform_types: &PlatformType::ALL,
        pending_lifetime_seconds: 7 * 24 * 3600,
        refund_window: RefundWindow::NextDayAt { utc_offset_seconds: 8 * 3600, after_midnight_seconds: 15 * 60 },
        provenance: "seed 000: SGD 1.00–20,000.00 and THB 20.00–150,000.00; expires_at 7 days after created_at \
                     in its example; refundable until 00:15 GMT+8 of the next day; SGD fees 2.9% without VAT \
                     (its example: 4,350 on 150,000).",
    },
];

impl PaymentMethod {
    /// The registry entry for a wire `type`, if satang supports it.
    pub fn lookup(name: &str) -> Option<&'static PaymentMethod> {
        REGISTRY.iter().find(|m| m.name == name)
    }

    pub fn limit(&self, currency: Currency) -> Option<&'static CurrencyLimit> {
        self.currencies.iter().find(|l| l.currency == currency)
    }

    /// The last moment a charge created at `charged_at` can be refunded (inclusive).
    pub fn refund_deadline(&self, charged_at: crate::Timestamp) -> crate::Timestamp {
        match self.refund_window {
            RefundWindow::CalendarMonths(n) => charged_at.plus_months(n),
            RefundWindow::NextDayAt { utc_offset_seconds, after_midnight_seconds } => {
                charged_at.next_day_at(utc_offset_seconds, after_midnight_seconds)
            }
        }
    }
}

/// A reference into [`REGISTRY`], stored and sent as its name.
pub fn serialize_method<S: Serializer>(m: &&'static PaymentMethod, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name)
}

/// Looks the name up where it lies in the input (no `String` for every source read back).
pub fn deserialize_method<'de, D: Deserializer<'de>>(d: D) -> Result<&'static PaymentMethod, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = &'static PaymentMethod;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a payment method's name")
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
            PaymentMethod::lookup(name).ok_or_else(|| E::custom(format!("unknown payment method {name}")))
        }
    }
    d.deserialize_str(Name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn a_method_is_read_back_by_its_name() {
        #[derive(Deserialize)]
        struct W {
            #[serde(deserialize_with = "deserialize_method")]
            m: &'static PaymentMethod,
        }
        assert_eq!(serde_json::from_str::<W>(r#"{"m":"alipay_hk"}"#).unwrap().m.name, "alipay_hk");
        // An escaped string is not borrowed from the input; it is looked up all the same.
        assert_eq!(serde_json::from_str::<W>(r#"{"m":"alipay\u005fhk"}"#).unwrap().m.name, "alipay_hk");
        let v = serde_json::json!({"m": "alipay"});
        assert_eq!(serde_json::from_value::<W>(v).unwrap().m.name, "alipay");
        let e = serde_json::from_str::<W>(r#"{"m":"visa"}"#).err().unwrap();
        assert!(e.to_string().contains("unknown payment method visa"), "{e}");
    }

    #[test]
    fn registry_names_are_unique_and_limits_sane() {
        for (i, m) in REGISTRY.iter().enumerate() {
            assert!(REGISTRY[i + 1..].iter().all(|o| o.name != m.name), "duplicate {}", m.name);
            for l in m.currencies {
                assert!(0 < l.min && l.min <= l.max, "{} {}", m.name, l.currency);
            }
        }
    }

    #[test]
    fn seed_limits_are_in_the_registry() {
        let hk = PaymentMethod::lookup("alipay_hk").unwrap();
        assert_eq!((hk.limit(Currency::Sgd).unwrap().min, hk.limit(Currency::Sgd).unwrap().max), (100, 2_000_000));
        assert_eq!((hk.limit(Currency::Thb).unwrap().min, hk.limit(Currency::Thb).unwrap().max), (2_000, 15_000_000));
        assert_eq!(hk.flow, Flow::AppRedirect);
        let ali = PaymentMethod::lookup("alipay").unwrap();
        assert!(ali.limit(Currency::Sgd).is_none());
        assert_eq!(ali.flow, Flow::Redirect);
        assert_eq!(ali.pending_lifetime_seconds, 86_400);
        assert!(PaymentMethod::lookup("promptpay").is_none());
    }

    #[test]
    fn refund_deadlines_follow_the_seeds() {
        let t = Timestamp::parse("2024-05-01T03:00:00Z").unwrap();
        let hk = PaymentMethod::lookup("alipay_hk").unwrap();
        assert_eq!(hk.refund_deadline(t).iso(), "2024-05-01T16:15:00Z");
        let ali = PaymentMethod::lookup("alipay").unwrap();
        assert_eq!(ali.refund_deadline(t).iso(), "2024-08-01T03:00:00Z");
    }
}

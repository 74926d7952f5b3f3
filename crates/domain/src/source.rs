//! Sources: what the payer will pay with (`POST /sources`, omise-wire.md §4.1).
//!
//! A source is validated against the payment-method registry once, when it is created; after that its
//! method, amount and currency are trusted. A source serves at most one charge (the store enforces that).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Timestamp;
use crate::id::SourceId;
use crate::methods::{self, PaymentMethod, PlatformType};
use crate::money::{Amount, Currency};
use crate::rules::{Rule, Violations};

/// Optional payer details a client may send with a source. satang stores and echoes them; the wallet
/// flows never need them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PayerDetails {
    pub ip: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone_number: Option<String>,
    pub mobile_number: Option<String>,
    pub billing: Option<Value>,
    pub shipping: Option<Value>,
    #[serde(default)]
    pub items: Vec<Value>,
    pub promotion_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: SourceId,
    #[serde(
        rename = "type",
        serialize_with = "methods::serialize_method",
        deserialize_with = "methods::deserialize_method"
    )]
    pub method: &'static PaymentMethod,
    pub amount: Amount,
    pub currency: Currency,
    pub platform_type: Option<PlatformType>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub details: PayerDetails,
}

/// A source as the merchant asked for it, before validation. Strings are as sent.
#[derive(Debug, Clone, Default)]
pub struct SourceRequest {
    pub kind: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub platform_type: Option<String>,
    pub details: PayerDetails,
}

impl Source {
    /// Validates a request against the registry. All broken rules are reported together, in the order
    /// a merchant would fix them.
    pub fn create(req: SourceRequest, livemode: bool, now: Timestamp) -> Result<Source, Violations> {
        let mut v = Violations::default();
        let method = match req.kind.as_deref() {
            None | Some("") => {
                v.push(Rule::Required("type"));
                None
            }
            Some(name) => match PaymentMethod::lookup(name) {
                Some(m) => Some(m),
                None => {
                    v.push(Rule::UnsupportedType { kind: name.to_string() });
                    None
                }
            },
        };
        let currency = match req.currency.as_deref() {
            None | Some("") => {
                v.push(Rule::Required("currency"));
                None
            }
            Some(code) => match (code.parse::<Currency>(), method) {
                (Ok(c), Some(m)) if m.limit(c).is_some() => Some(c),
                (Ok(c), None) => Some(c),
                (_, m) => {
                    v.push(Rule::UnsupportedCurrency { currency: code.to_string(), method: m.map(|m| m.name) });
                    None
                }
            },
        };
        let amount = match req.amount {
            None => {
                v.push(Rule::Required("amount"));
                None
            }
            Some(a) => match Amount::new(a) {
                Ok(a) => Some(a),
                Err(_) => {
                    v.push(Rule::AmountNegative);
                    None
                }
            },
        };
        if let (Some(m), Some(c), Some(a)) = (method, currency, amount)
            && let Some(limit) = m.limit(c)
        {
            if a.subunits() < limit.min {
                v.push(Rule::AmountBelowMin { method: m.name, currency: c, min: limit.min });
            } else if a.subunits() > limit.max {
                v.push(Rule::AmountAboveMax { method: m.name, currency: c, max: limit.max });
            }
        }
        let platform_type = match req.platform_type.as_deref() {
            None | Some("") => None,
            Some(p) => match PlatformType::parse(p) {
                Some(pt) if method.is_none_or(|m| m.platform_types.contains(&pt)) => Some(pt),
                _ => {
                    v.push(Rule::BadPlatformType { given: p.to_string() });
                    None
                }
            },
        };
        v.into_result()?;
        let (Some(method), Some(currency), Some(amount)) = (method, currency, amount) else {
            unreachable!("every None above pushed a violation")
        };
        Ok(Source {
            id: SourceId::generate(livemode),
            method,
            amount,
            currency,
            platform_type,
            created_at: now,
            details: req.details,
        })
    }

    pub fn livemode(&self) -> bool {
        self.id.is_live()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: &str, amount: i64, currency: &str) -> SourceRequest {
        SourceRequest {
            kind: Some(kind.into()),
            amount: Some(amount),
            currency: Some(currency.into()),
            ..Default::default()
        }
    }

    fn msg(r: SourceRequest) -> String {
        Source::create(r, false, Timestamp::EPOCH).unwrap_err().message()
    }

    #[test]
    fn alipay_hk_limits_are_inclusive() {
        for (cur, min, max) in [("SGD", 100, 2_000_000), ("THB", 2_000, 15_000_000)] {
            assert!(Source::create(req("alipay_hk", min, cur), false, Timestamp::EPOCH).is_ok());
            assert!(Source::create(req("alipay_hk", max, cur), false, Timestamp::EPOCH).is_ok());
            assert!(Source::create(req("alipay_hk", min - 1, cur), false, Timestamp::EPOCH).is_err());
            assert!(Source::create(req("alipay_hk", max + 1, cur), false, Timestamp::EPOCH).is_err());
        }
    }

    #[test]
    fn messages_name_the_rule() {
        assert_eq!(msg(req("alipay_hk", 99, "SGD")), "amount must be at least 100 (SGD 1.00) for alipay_hk");
        assert_eq!(
            msg(req("alipay", 15_000_001, "thb")),
            "amount must be at most 15000000 (THB 150,000.00) for alipay"
        );
        assert_eq!(
            msg(req("alipay", 100_000, "SGD")),
            "currency SGD is currently not supported for alipay (supported: THB)"
        );
        assert_eq!(
            msg(req("paypal", 100_000, "THB")),
            "type paypal is currently not supported (supported: alipay, alipay_hk)"
        );
        let mut r = req("alipay_hk", 100_000, "SGD");
        r.platform_type = Some("WINDOWS".into());
        assert_eq!(msg(r), "platform_type must be one of IOS, ANDROID, WEB");
    }

    #[test]
    fn several_broken_rules_are_joined() {
        let r = SourceRequest { kind: Some("alipay".into()), ..Default::default() };
        assert_eq!(msg(r), "currency is required and amount is required");
    }

    #[test]
    fn platform_type_is_case_insensitive_and_optional() {
        let mut r = req("alipay_hk", 150_000, "sgd");
        r.platform_type = Some("ios".into());
        let s = Source::create(r, true, Timestamp::EPOCH).unwrap();
        assert_eq!(s.platform_type, Some(PlatformType::Ios));
        assert_eq!(s.currency, Currency::Sgd);
        assert!(s.livemode());
    }
}

//! Validation rules for creating sources and charges, and how a list of broken ones reads.
//!
//! Each [`Rule`] carries what its message needs, so the message names the rule and the limit
//! ("amount must be at least 100 (SGD 1.00) for alipay_hk"). Several broken rules are joined the way
//! Omise joins them, "a and b" / "a, b, and c" (omise-wire.md §12), which the SDKs split apart again.

use std::fmt;

use crate::methods::{PlatformType, REGISTRY};
use crate::money::{Amount, Currency};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Required(&'static str),
    UnsupportedType { kind: String },
    UnsupportedCurrency { currency: String, method: Option<&'static str> },
    AmountNegative,
    AmountBelowMin { method: &'static str, currency: Currency, min: i64 },
    AmountAboveMax { method: &'static str, currency: Currency, max: i64 },
    BadPlatformType { given: String },
    AmountMismatch { source: Amount },
    CurrencyMismatch { source: Currency },
    ReturnUriRequired { method: &'static str },
    ReturnUriInvalid,
    ReturnUriNotHttps,
    ExpiresAtNotInFuture,
    ExpiresAtTooFar { max_days: i64 },
    TooManyWebhookEndpoints { max: usize },
    WebhookEndpointInvalid { url: String },
}

impl Rule {
    /// Rules about the charge's own parameters map to Omise's `invalid_charge`; the rest (type, currency,
    /// return URI, sources) are `bad_request`, as seed 001's error table lists them.
    pub fn is_invalid_charge(&self) -> bool {
        matches!(
            self,
            Rule::AmountNegative
                | Rule::AmountBelowMin { .. }
                | Rule::AmountAboveMax { .. }
                | Rule::AmountMismatch { .. }
                | Rule::CurrencyMismatch { .. }
                | Rule::ExpiresAtNotInFuture
                | Rule::ExpiresAtTooFar { .. }
                | Rule::TooManyWebhookEndpoints { .. }
                | Rule::WebhookEndpointInvalid { .. }
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Required(field) => write!(f, "{field} is required"),
            Rule::UnsupportedType { kind } => {
                let names: Vec<_> = REGISTRY.iter().map(|m| m.name).collect();
                write!(f, "type {kind} is currently not supported (supported: {})", names.join(", "))
            }
            Rule::UnsupportedCurrency { currency, method: Some(m) } => {
                let codes: Vec<_> = crate::PaymentMethod::lookup(m)
                    .map(|m| m.currencies.iter().map(|l| l.currency.code()).collect())
                    .unwrap_or_default();
                write!(f, "currency {currency} is currently not supported for {m} (supported: {})", codes.join(", "))
            }
            Rule::UnsupportedCurrency { currency, method: None } => {
                write!(f, "currency {currency} is currently not supported")
            }
            Rule::AmountNegative => write!(f, "amount must be greater than 0"),
            Rule::AmountBelowMin { method, currency, min } => {
                let min_amount = Amount::new(*min).unwrap_or(Amount::ZERO);
                write!(f, "amount must be at least {min} ({}) for {method}", currency.format(min_amount))
            }
            Rule::AmountAboveMax { method, currency, max } => {
                let max_amount = Amount::new(*max).unwrap_or(Amount::ZERO);
                write!(f, "amount must be at most {max} ({}) for {method}", currency.format(max_amount))
            }
            Rule::BadPlatformType { .. } => {
                let all: Vec<_> = PlatformType::ALL.iter().map(|p| p.as_str()).collect();
                write!(f, "platform_type must be one of {}", all.join(", "))
            }
            Rule::AmountMismatch { source } => {
                write!(f, "amount must match the source's amount ({source})")
            }
            Rule::CurrencyMismatch { source } => {
                write!(f, "currency must match the source's currency ({source})")
            }
            Rule::ReturnUriRequired { method } => {
                write!(f, "return_uri is required for {method} (the payer is sent back there)")
            }
            Rule::ReturnUriInvalid => write!(f, "return uri is invalid (it must be an absolute http or https URL)"),
            Rule::ReturnUriNotHttps => write!(f, "return uri must use https in live mode"),
            Rule::ExpiresAtNotInFuture => write!(f, "expires_at must be in the future"),
            Rule::ExpiresAtTooFar { max_days } => {
                write!(f, "expires_at must be at most {max_days} days from now")
            }
            Rule::TooManyWebhookEndpoints { max } => {
                write!(f, "webhook_endpoints can have at most {max} URLs")
            }
            Rule::WebhookEndpointInvalid { url } => write!(f, "webhook endpoint {url} is invalid"),
        }
    }
}

/// Every rule a request broke, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<Rule>);

impl Violations {
    pub fn push(&mut self, r: Rule) {
        self.0.push(r);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// True when any rule is a charge-parameter rule (`invalid_charge`) and none is a `bad_request` one.
    pub fn all_invalid_charge(&self) -> bool {
        self.0.iter().all(Rule::is_invalid_charge)
    }

    /// "a", "a and b", "a, b, and c".
    pub fn message(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        join_messages(&parts)
    }
}

/// Omise's list joining: "a", "a and b", "a, b, and c".
pub fn join_messages(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Checks a merchant-supplied absolute URL (`return_uri`, webhook endpoints) without resolving it:
/// `http` or `https`, a host, no spaces or control characters, at most 2048 bytes.
pub fn is_web_url(s: &str) -> bool {
    let rest = match s.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") => rest,
        _ => return false,
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    s.len() <= 2048
        && !host.is_empty()
        && !host.starts_with(':')
        && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_omise() {
        let s = |v: &[&str]| join_messages(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a"]), "a");
        assert_eq!(s(&["a", "b"]), "a and b");
        assert_eq!(s(&["a", "b", "c"]), "a, b, and c");
    }

    #[test]
    fn web_urls() {
        for ok in ["https://example.com/orders/1/complete", "http://localhost:3000/return?x=1", "https://a.b"] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in ["ftp://x", "https://", "example.com", "https:// spaced.com", "javascript:alert(1)", "https://:80/"]
        {
            assert!(!is_web_url(bad), "{bad}");
        }
    }
}

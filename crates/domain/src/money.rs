//! Money: an [`Amount`] is an `i64` number of a currency's subunits (satang, cents), never a float.
//!
//! Omise's wire format is already in subunits (`amount: 100000` is THB 1,000.00, omise-wire.md §4.2),
//! so nothing in satang ever needs a float. `Amount` has no `Add`/`Sub`/`Default`: every sum goes through
//! a `checked_*` method so an overflow is an error, never a wrap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A non-negative amount in a currency's smallest unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Amount(i64);

/// Why a number is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount must not be negative")]
pub struct NegativeAmount;

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn new(subunits: i64) -> Result<Self, NegativeAmount> {
        if subunits < 0 { Err(NegativeAmount) } else { Ok(Amount(subunits)) }
    }

    pub fn subunits(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_add(rhs.0).map(Amount)
    }

    /// `None` when the result would be negative (or overflow).
    pub fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_sub(rhs.0).filter(|v| *v >= 0).map(Amount)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl TryFrom<i64> for Amount {
    type Error = NegativeAmount;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Amount::new(v)
    }
}

impl From<Amount> for i64 {
    fn from(a: Amount) -> i64 {
        a.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// ISO 4217 currencies satang knows. A closed set: a currency brings its subunit exponent, which
/// formatting and limits depend on. Adding a wallet in a new currency adds one variant here.
///
/// Serialized as its upper-case code; read in either case. (By hand rather than serde's `into`/`try_from =
/// "String"`, which allocated a `String` for every currency written or read.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Thb,
    Sgd,
    Hkd,
    Usd,
    Cny,
    Jpy,
}

/// The currency code is not one satang knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency {0} is not supported")]
pub struct UnknownCurrency(pub String);

impl Currency {
    pub const ALL: [Currency; 6] =
        [Currency::Thb, Currency::Sgd, Currency::Hkd, Currency::Usd, Currency::Cny, Currency::Jpy];

    /// Upper-case ISO code, as the 2019-05-29 wire shape writes it.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Thb => "THB",
            Currency::Sgd => "SGD",
            Currency::Hkd => "HKD",
            Currency::Usd => "USD",
            Currency::Cny => "CNY",
            Currency::Jpy => "JPY",
        }
    }

    /// Number of subunit digits: THB 1,000.00 is `100000`.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Thb | Currency::Sgd | Currency::Hkd | Currency::Usd | Currency::Cny => 2,
        }
    }

    /// Formats an amount for people: `THB 1,000.00`, `SGD 1,500.00`, `JPY 1,000`.
    pub fn format(self, amount: Amount) -> String {
        format!("{} {}", self.code(), self.format_number(amount))
    }

    /// The number part of [`Currency::format`]: `1,000.00`.
    pub fn format_number(self, amount: Amount) -> String {
        let exp = self.exponent();
        let scale = 10i64.pow(exp);
        let (major, minor) = (amount.subunits() / scale, amount.subunits() % scale);
        let digits = major.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if exp == 0 { grouped } else { format!("{grouped}.{minor:0width$}", width = exp as usize) }
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    /// Either case is accepted on input (omise-wire.md §11: `thb` and `THB` both occur).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCurrency(s.to_string()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Code;
        impl serde::de::Visitor<'_> for Code {
            type Value = Currency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a currency code")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Currency, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_formatted_with_grouping_and_subunits() {
        assert_eq!(Currency::Thb.format(Amount::new(100_000).unwrap()), "THB 1,000.00");
        assert_eq!(Currency::Sgd.format(Amount::new(150_000).unwrap()), "SGD 1,500.00");
        assert_eq!(Currency::Thb.format(Amount::new(15_000_000).unwrap()), "THB 150,000.00");
        assert_eq!(Currency::Thb.format(Amount::new(5).unwrap()), "THB 0.05");
        assert_eq!(Currency::Sgd.format(Amount::new(123_456_789).unwrap()), "SGD 1,234,567.89");
        assert_eq!(Currency::Jpy.format(Amount::new(1000).unwrap()), "JPY 1,000");
        assert_eq!(Currency::Thb.format(Amount::ZERO), "THB 0.00");
    }

    #[test]
    fn negative_amounts_are_rejected() {
        assert_eq!(Amount::new(-1), Err(NegativeAmount));
        assert!(serde_json::from_str::<Amount>("-5").is_err());
    }

    #[test]
    fn currencies_are_written_upper_case_and_read_in_either_case() {
        for c in Currency::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.code()));
            assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), c);
            let lower = serde_json::Value::String(c.code().to_ascii_lowercase());
            assert_eq!(serde_json::from_value::<Currency>(lower).unwrap(), c);
        }
        let err = serde_json::from_str::<Currency>("\"XYZ\"").unwrap_err();
        assert!(err.to_string().contains("currency XYZ is not supported"), "{err}");
        assert!(serde_json::from_str::<Currency>("7").is_err());
    }

    #[test]
    fn currency_codes_parse_in_either_case_and_display_upper() {
        assert_eq!("thb".parse::<Currency>().unwrap(), Currency::Thb);
        assert_eq!("SGD".parse::<Currency>().unwrap(), Currency::Sgd);
        assert!("XYZ".parse::<Currency>().is_err());
        assert_eq!(Currency::Thb.to_string(), "THB");
    }

    proptest! {
        #[test]
        fn checked_sub_never_goes_negative(a in 0i64..i64::MAX, b in 0i64..i64::MAX) {
            let (a, b) = (Amount::new(a).unwrap(), Amount::new(b).unwrap());
            match a.checked_sub(b) {
                Some(d) => prop_assert_eq!(d.checked_add(b), Some(a)),
                None => prop_assert!(b > a),
            }
        }

        #[test]
        fn formatting_round_trips_through_the_digits(v in 0i64..10_000_000_000) {
            let s = Currency::Thb.format_number(Amount::new(v).unwrap());
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            prop_assert_eq!(digits.parse::<i64>().unwrap(), v);
        }
    }
}

//! Fees: a [`FeeSchedule`] (rate %, VAT % on the fee, flat fee) and the [`FeeBreakdown`] of one charge.
//!
//! Rule (omise-wire.md §8, checked against five real captures and seed 000's example):
//! `fee = round_half_up(amount × rate%) + flat`, `fee_vat = round_half_up(fee × vat%)`,
//! `net = amount − fee − fee_vat`. All integer arithmetic in `i128`; rates are fixed-point decimals with four
//! fractional digits of a percent, so `3.65` is exactly `36500 / 10_000` %. No float anywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::money::Amount;

/// A percentage with four decimal places, `0 ≤ p ≤ 100`. `"3.65"` ↔ `Percent(36_500)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Percent(i64);

const PERCENT_SCALE: i64 = 10_000;

/// Why a string is not a usable percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} must be a decimal percentage between 0 and 100 with at most 4 decimal places")]
pub struct BadPercent(pub String);

impl Percent {
    pub const ZERO: Percent = Percent(0);

    /// From ten-thousandths of a percent: `Percent::from_units(29_000)` is 2.9 %.
    pub fn from_units(units: i64) -> Result<Self, BadPercent> {
        if (0..=100 * PERCENT_SCALE).contains(&units) { Ok(Percent(units)) } else { Err(BadPercent(units.to_string())) }
    }

    pub fn units(self) -> i64 {
        self.0
    }

    /// For constant tables: an out-of-range value fails to compile.
    pub const fn constant(units: i64) -> Percent {
        assert!(units >= 0 && units <= 100 * PERCENT_SCALE, "percent out of range");
        Percent(units)
    }
}

impl FromStr for Percent {
    type Err = BadPercent;
    fn from_str(s: &str) -> Result<Self, BadPercent> {
        let bad = || BadPercent(s.to_string());
        let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
        if int.is_empty() || int.len() > 3 || frac.len() > 4 {
            return Err(bad());
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let int: i64 = int.parse().map_err(|_| bad())?;
        let frac_units: i64 = format!("{frac:0<4}").parse().map_err(|_| bad())?;
        Percent::from_units(int * PERCENT_SCALE + frac_units).map_err(|_| bad())
    }
}

impl fmt::Display for Percent {
    /// Omise's decimal-string style: `"3.65"`, `"7.0"`, `"0.0"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (int, frac) = (self.0 / PERCENT_SCALE, self.0 % PERCENT_SCALE);
        // Four fraction digits without their trailing zeros, at least one; no allocation (every charge
        // object renders two percentages).
        let mut digits = [b'0'; 4];
        let mut rest = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let len = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
        write!(f, "{int}.{}", std::str::from_utf8(&digits[..len]).map_err(|_| fmt::Error)?)
    }
}

/// `round_half_up(value × percent / 100)` on non-negative integers, exactly.
fn percent_of(value: i64, p: Percent) -> i64 {
    let num = value as i128 * p.0 as i128;
    let den = 100 * PERCENT_SCALE as i128;
    let rounded = (num * 2 + den) / (den * 2);
    rounded as i64
}

/// What a merchant pays on one charge of one payment method and currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub rate: Percent,
    pub vat_rate: Percent,
    /// Added to the percentage fee, in the charge currency's subunits.
    pub flat: Amount,
}

impl FeeSchedule {
    /// Applies the schedule. `fee` is capped at `amount` and `fee_vat` at what remains, so `net` is never
    /// negative even with a flat fee larger than a small charge.
    pub fn apply(&self, amount: Amount) -> FeeBreakdown {
        let a = amount.subunits();
        let fee = percent_of(a, self.rate).saturating_add(self.flat.subunits()).min(a);
        let fee_vat = percent_of(fee, self.vat_rate).min(a - fee);
        let net = a - fee - fee_vat;
        FeeBreakdown {
            fee: Amount::new(fee).unwrap_or(Amount::ZERO),
            fee_vat: Amount::new(fee_vat).unwrap_or(Amount::ZERO),
            net: Amount::new(net).unwrap_or(Amount::ZERO),
            schedule: *self,
        }
    }
}

/// The fee fields of a charge, fixed when it is created with the schedule then in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeBreakdown {
    pub fee: Amount,
    pub fee_vat: Amount,
    pub net: Amount,
    pub schedule: FeeSchedule,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sched(rate: &str, vat: &str, flat: i64) -> FeeSchedule {
        FeeSchedule { rate: rate.parse().unwrap(), vat_rate: vat.parse().unwrap(), flat: Amount::new(flat).unwrap() }
    }

    #[test]
    fn matches_the_real_captures_in_omise_wire_section_8() {
        let thb = sched("3.65", "7", 0);
        for (amount, fee, vat, net) in [
            (1_000_000, 36_500, 2_555, 960_945),
            (12_345, 451, 32, 11_862),
            (31_000, 1_132, 79, 29_789),
            (5_000, 183, 13, 4_804),
        ] {
            let b = thb.apply(Amount::new(amount).unwrap());
            assert_eq!((b.fee.subunits(), b.fee_vat.subunits(), b.net.subunits()), (fee, vat, net), "amount {amount}");
        }
    }

    #[test]
    fn seed_000_alipay_hk_sgd_example() {
        let b = sched("2.9", "0", 0).apply(Amount::new(150_000).unwrap());
        assert_eq!((b.fee.subunits(), b.fee_vat.subunits(), b.net.subunits()), (4_350, 0, 145_650));
    }

    #[test]
    fn percent_strings_round_trip_in_omise_style() {
        assert_eq!("3.65".parse::<Percent>().unwrap().to_string(), "3.65");
        assert_eq!("7".parse::<Percent>().unwrap().to_string(), "7.0");
        assert_eq!("0".parse::<Percent>().unwrap().to_string(), "0.0");
        assert_eq!("2.9000".parse::<Percent>().unwrap().to_string(), "2.9");
        for bad in ["-1", "100.5", "abc", "1.23456", "", ".5", "1e3"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn half_up_rounding_at_exactly_half() {
        // 31000 × 3.65% = 1131.5 → 1132; 182.5 → 183 (go fixture).
        assert_eq!(percent_of(31_000, "3.65".parse().unwrap()), 1_132);
        assert_eq!(percent_of(5_000, "3.65".parse().unwrap()), 183);
        assert_eq!(percent_of(1, "49.9999".parse().unwrap()), 0);
        assert_eq!(percent_of(1, "50".parse().unwrap()), 1);
    }

    proptest! {
        #[test]
        fn fee_vat_and_net_add_up_to_the_amount(
            amount in 0i64..=1_000_000_000_000,
            rate in 0i64..=1_000_000,
            vat in 0i64..=1_000_000,
            flat in 0i64..=10_000_000,
        ) {
            let s = FeeSchedule {
                rate: Percent::from_units(rate).unwrap(),
                vat_rate: Percent::from_units(vat).unwrap(),
                flat: Amount::new(flat).unwrap(),
            };
            let b = s.apply(Amount::new(amount).unwrap());
            prop_assert_eq!(b.fee.subunits() + b.fee_vat.subunits() + b.net.subunits(), amount);
            prop_assert!(b.fee.subunits() >= 0 && b.fee_vat.subunits() >= 0 && b.net.subunits() >= 0);
        }
    }
}

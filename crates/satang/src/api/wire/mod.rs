//! Wire objects: the only structs that serialize API responses, field for field in Omise's 2019-05-29
//! shape and key order (omise-wire.md §4, fixtures F1–F5, the seeds' examples).
//!
//! Fields satang has no use for (cards, disputes, schedules, …) are present with Omise's empty values
//! because typed clients (go, java) and ruby's `location`-driven paths expect the full set. Flags such as
//! `paid` or `refundable` are computed from the domain status here and nowhere else.

pub mod charge;
pub mod event;
pub mod refund;
pub mod search;
pub mod source;
pub mod transaction;

use std::fmt;

use serde::{Serialize, Serializer};

use satang_domain::{Amount, Currency, Timestamp};

use crate::store::ListQuery;

/// What rendering needs besides the object: where satang is reachable and what time it is.
#[derive(Debug, Clone, Copy)]
pub struct RenderCtx<'a> {
    pub public_url: &'a str,
    pub now: Timestamp,
}

/// `{object: "list", data, limit, offset, total, location, order, from, to}` (omise-wire.md §4.5).
/// `L` is how `location` is held: a `String`, or for the list inside every charge a [`Concat`].
#[derive(Debug, Serialize)]
pub struct ListObject<T, L = String> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub limit: u64,
    pub offset: u64,
    pub total: u64,
    pub location: L,
    pub order: &'static str,
    pub from: Iso,
    pub to: Iso,
}

impl<T> ListObject<T> {
    pub fn new(data: Vec<T>, total: u64, q: &ListQuery, location: String) -> Self {
        ListObject {
            object: "list",
            data,
            limit: q.limit,
            offset: q.offset,
            total,
            location,
            order: q.order.as_str(),
            from: Iso(q.from),
            to: Iso(q.to),
        }
    }
}

/// `Option<Timestamp>` as ISO 8601 or null.
pub fn iso(t: Option<Timestamp>) -> Option<Iso> {
    t.map(Iso)
}

/// A timestamp serialized as ISO 8601 (`2026-12-03T07:00:00Z`) straight from the stack into the body.
///
/// This and [`Concat`] exist for speed: a charge object holds half a dozen timestamps and four paths,
/// and a list page twenty charges; formatting a `String` for each was about 5 % of the CPU of a list page
/// (perf: `format_inner`), besides the allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub Timestamp);

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0.iso_bytes();
        s.serialize_str(std::str::from_utf8(&b).map_err(serde::ser::Error::custom)?)
    }
}

/// A string made of pieces (`/charges/<id>`), serialized piece by piece (see [`Iso`]).
#[derive(Debug, Clone, Copy)]
pub struct Concat<'a, const N: usize>(pub [&'a str; N]);

impl<const N: usize> fmt::Display for Concat<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|p| f.write_str(p))
    }
}

impl<const N: usize> Serialize for Concat<'_, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A subunit amount as Omise's decimal string of major units: `0` → `"0.0"`, `1050` THB → `"10.5"`.
/// Written straight into the body (see [`Iso`]); `.to_string()` for a `String`.
#[derive(Debug, Clone, Copy)]
pub struct MajorDecimal(pub Currency, pub Amount);

impl fmt::Display for MajorDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let MajorDecimal(currency, amount) = *self;
        let exp = currency.exponent() as usize;
        let scale = 10i64.pow(currency.exponent());
        let (major, minor) = (amount.subunits() / scale, amount.subunits() % scale);
        // The fraction's digits without their trailing zeros, at least one (no allocation).
        let mut digits = [b'0'; 9];
        let mut rest = minor;
        for d in digits[..exp].iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let len = digits[..exp].iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
        write!(f, "{major}.")?;
        f.write_str(std::str::from_utf8(&digits[..len]).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for MajorDecimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value serialized as the string its `Display` writes (a fee rate), without a `String` in between.
#[derive(Debug, Clone, Copy)]
pub struct Shown<T>(pub T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_fees_read_as_omise_decimal_strings() {
        let major = |c, n| MajorDecimal(c, Amount::new(n).unwrap()).to_string();
        assert_eq!(major(Currency::Thb, 0), "0.0");
        assert_eq!(major(Currency::Thb, 1050), "10.5");
        assert_eq!(major(Currency::Thb, 5), "0.05");
        assert_eq!(major(Currency::Thb, 100), "1.0");
        assert_eq!(major(Currency::Sgd, 1001), "10.01");
        assert_eq!(major(Currency::Jpy, 30), "30.0");
        assert_eq!(major(Currency::Jpy, 0), "0.0");
        assert_eq!(
            serde_json::to_string(&MajorDecimal(Currency::Thb, Amount::new(1234567).unwrap())).unwrap(),
            "\"12345.67\""
        );
    }
}

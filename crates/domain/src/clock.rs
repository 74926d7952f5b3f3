//! Time: [`Timestamp`] (Unix seconds, UTC, the wire's resolution) and the injectable [`Clock`].
//!
//! Every rule that depends on "now" (charge expiry, refund windows, webhook backoff) takes its time from a
//! `Clock`, so tests move time to the exact edge of a rule instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A moment in UTC with one-second resolution, as Omise's ISO 8601 timestamps have (`2019-05-22T07:00:07Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// A timestamp that does not parse as ISO 8601 / RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 8601 date-time")]
pub struct BadTimestamp(pub String);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub fn from_unix(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, s: i64) -> Self {
        Timestamp(self.0.saturating_add(s))
    }

    /// Parses what merchants send for `from`, `to`, `expires_at`: RFC 3339 with `Z` or an offset,
    /// optional fractional seconds (dropped), or a bare date (`2024-01-31`, midnight UTC).
    pub fn parse(s: &str) -> Result<Self, BadTimestamp> {
        let s = s.trim();
        if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
            return Ok(Timestamp(t.unix_timestamp()));
        }
        // `2019-05-22 07:00:07 UTC` (the docs' webhook fixture) and a bare date.
        let fmt_space = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
        if let Ok(t) = time::PrimitiveDateTime::parse(s, &fmt_space) {
            return Ok(Timestamp(t.assume_utc().unix_timestamp()));
        }
        let fmt_date = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(d) = time::Date::parse(s, &fmt_date) {
            return Ok(Timestamp(d.midnight().assume_utc().unix_timestamp()));
        }
        Err(BadTimestamp(s.to_string()))
    }

    /// `YYYY-MM-DDThh:mm:ssZ`, the only timestamp form satang emits (omise-wire.md §2.2).
    ///
    /// Written by hand (days-to-civil, Hinnant's algorithm) rather than through a general formatter: every
    /// charge object carries half a dozen timestamps, and the profile of create-charge showed the formatter.
    pub fn iso(self) -> String {
        String::from_utf8_lossy(&self.iso_bytes()).into_owned()
    }

    /// [`Timestamp::iso`]'s 20 ASCII bytes, on the stack: what a serializer writes without a `String`.
    pub fn iso_bytes(self) -> [u8; 20] {
        let secs = self.0.clamp(0, 253_402_300_799); // 9999-12-31T23:59:59Z
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, v: i64, width: usize| {
            let mut v = v;
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, sod / 3_600, 2);
        put(14, sod % 3_600 / 60, 2);
        put(17, sod % 60, 2);
        b
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The first moment of the calendar day after this one, in the given UTC offset, plus `after_midnight`
    /// seconds. Alipay HK's refund window ("until 00:15 GMT+8 of the next day", seed 000) is
    /// `next_day_at(8 * 3600, 15 * 60)`.
    pub fn next_day_at(self, utc_offset_seconds: i32, after_midnight: i64) -> Timestamp {
        let offset = UtcOffset::from_whole_seconds(utc_offset_seconds).unwrap_or(UtcOffset::UTC);
        let local = self.datetime().to_offset(offset);
        let next = local.date().next_day().unwrap_or(local.date());
        let midnight = next.midnight().assume_offset(offset);
        Timestamp(midnight.unix_timestamp() + after_midnight)
    }

    /// The same wall-clock moment `months` calendar months later (UTC), clamped to the month's last day:
    /// a charge on 31 January has a 3-month refund window ending 30 April.
    pub fn plus_months(self, months: u32) -> Timestamp {
        let t = self.datetime();
        let total = t.year() * 12 + (u8::from(t.month()) as i32 - 1) + months as i32;
        let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
        let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::January);
        let last = month.length(year);
        let day = t.day().min(last);
        match time::Date::from_calendar_date(year, month, day) {
            Ok(date) => Timestamp(date.with_time(t.time()).assume_utc().unix_timestamp()),
            Err(_) => self,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

/// Where "now" comes from. Production uses [`SystemClock`]; tests use [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Timestamp(secs)
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(at.0)))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_round_trips() {
        let t = Timestamp::parse("2019-05-22T07:00:07Z").unwrap();
        assert_eq!(t.iso(), "2019-05-22T07:00:07Z");
        assert_eq!(Timestamp::parse(&t.iso()).unwrap(), t);
    }

    #[test]
    fn offsets_fractions_and_bare_dates_are_accepted() {
        let z = Timestamp::parse("2019-05-22T07:00:07Z").unwrap();
        assert_eq!(Timestamp::parse("2019-05-22T14:00:07+07:00").unwrap(), z);
        assert_eq!(Timestamp::parse("2019-05-22T07:00:07.123Z").unwrap(), z);
        assert_eq!(Timestamp::parse("2019-05-22 07:00:07 UTC").unwrap(), z);
        assert_eq!(Timestamp::parse("1970-01-01").unwrap(), Timestamp::EPOCH);
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn next_day_at_uses_the_local_calendar_day() {
        // 2024-03-10 15:59:59Z is 23:59:59 in GMT+8: the window closes 00:15 the next local day.
        let t = Timestamp::parse("2024-03-10T15:59:59Z").unwrap();
        assert_eq!(t.next_day_at(8 * 3600, 15 * 60).iso(), "2024-03-10T16:15:00Z");
        // One second later it is already 11 March in GMT+8, so the window runs to 12 March 00:15.
        let t = Timestamp::parse("2024-03-10T16:00:00Z").unwrap();
        assert_eq!(t.next_day_at(8 * 3600, 15 * 60).iso(), "2024-03-11T16:15:00Z");
    }

    #[test]
    fn plus_months_clamps_to_the_end_of_short_months() {
        let t = Timestamp::parse("2024-01-31T10:00:00Z").unwrap();
        assert_eq!(t.plus_months(3).iso(), "2024-04-30T10:00:00Z");
        assert_eq!(t.plus_months(1).iso(), "2024-02-29T10:00:00Z");
        let t = Timestamp::parse("2024-11-15T00:00:00Z").unwrap();
        assert_eq!(t.plus_months(3).iso(), "2025-02-15T00:00:00Z");
    }

    proptest::proptest! {
        #[test]
        fn the_hand_written_iso_matches_the_time_crate(secs in 0i64..253_402_300_799) {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()
            );
            proptest::prop_assert_eq!(Timestamp(secs).iso(), expected);
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_unix(100));
        let c2 = c.clone();
        c.advance(5);
        assert_eq!(c2.now(), Timestamp::from_unix(105));
    }
}

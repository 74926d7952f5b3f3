//! Times as the payer reads them: in the zone of the payment's currency (Bangkok for THB, Singapore for
//! SGD, Hong Kong for HKD; UTC otherwise), in English or in Thai date style (Thai month abbreviations and
//! the Buddhist year), never as raw UTC. None of these zones has daylight saving, so a fixed offset is
//! exact. The page script adds a live countdown to the deadline. The merchant dashboard shows its times
//! the same way, in the zone of the account's currency ([`crate::dashboard::When`]).

use satang_domain::{Currency, Timestamp};
use time::{OffsetDateTime, UtcOffset};

use super::i18n::Lang;

const TH_MONTHS: [&str; 12] =
    ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."];
const EN_MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The zone a payer of this currency most likely lives in: its UTC offset in hours and its name.
fn zone(currency: Currency, lang: Lang) -> (i8, &'static str) {
    match (currency, lang) {
        (Currency::Thb, Lang::En) => (7, "Bangkok time"),
        (Currency::Thb, Lang::Th) => (7, "เวลาประเทศไทย"),
        (Currency::Sgd, Lang::En) => (8, "Singapore time"),
        (Currency::Sgd, Lang::Th) => (8, "เวลาสิงคโปร์"),
        (Currency::Hkd, Lang::En) => (8, "Hong Kong time"),
        (Currency::Hkd, Lang::Th) => (8, "เวลาฮ่องกง"),
        (_, _) => (0, "UTC"),
    }
}

/// Seconds east of UTC of the zone a payer (or a merchant) of this currency most likely lives in.
pub fn offset_secs(currency: Currency) -> i64 {
    i64::from(zone(currency, Lang::En).0) * 3600
}

/// `9 Dec 2026, 20:41 (Bangkok time)` or `9 ธ.ค. 2569 เวลา 20:41 น. (เวลาประเทศไทย)`.
pub fn display(at: Timestamp, currency: Currency, lang: Lang) -> String {
    let (when, zone) = parts(at, currency, lang);
    format!("{when} {zone}")
}

/// The time and the zone's name in brackets, apart, so a page can keep the name from breaking. The date
/// and the time of day are each held together by no-break spaces, so a narrow line breaks between them.
pub fn parts(at: Timestamp, currency: Currency, lang: Lang) -> (String, String) {
    (when(at, currency, lang, false), format!("({})", zone_name(currency, lang)))
}

/// The time to the second, without the zone's name: the dashboard's logs (`9 Dec 2026, 20:41:10`), which
/// name the zone once per page ([`zone_name`]).
pub fn with_seconds(at: Timestamp, currency: Currency, lang: Lang) -> String {
    when(at, currency, lang, true)
}

/// The name of the zone times of this currency are shown in (`Bangkok time`).
pub fn zone_name(currency: Currency, lang: Lang) -> &'static str {
    zone(currency, lang).1
}

fn when(at: Timestamp, currency: Currency, lang: Lang, seconds: bool) -> String {
    let offset = UtcOffset::from_hms(zone(currency, lang).0, 0, 0).unwrap_or(UtcOffset::UTC);
    let Ok(t) = OffsetDateTime::from_unix_timestamp(at.unix()) else { return at.iso() };
    let t = t.to_offset(offset);
    let month = t.month() as usize - 1;
    let clock = if seconds {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    };
    match lang {
        Lang::En => format!("{}\u{a0}{}\u{a0}{}, {clock}", t.day(), EN_MONTHS[month], t.year()),
        Lang::Th => format!("{}\u{a0}{}\u{a0}{} เวลา\u{a0}{clock}\u{a0}น.", t.day(), TH_MONTHS[month], t.year() + 543),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_in_the_currency_zone_and_the_payer_language() {
        let at = Timestamp::parse("2026-12-09T13:41:10Z").unwrap();
        let d = |c, l| display(at, c, l).replace('\u{a0}', " ");
        assert_eq!(d(Currency::Thb, Lang::En), "9 Dec 2026, 20:41 (Bangkok time)");
        assert_eq!(d(Currency::Thb, Lang::Th), "9 ธ.ค. 2569 เวลา 20:41 น. (เวลาประเทศไทย)");
        assert_eq!(d(Currency::Sgd, Lang::En), "9 Dec 2026, 21:41 (Singapore time)");
        assert_eq!(d(Currency::Usd, Lang::En), "9 Dec 2026, 13:41 (UTC)");
        assert!(display(at, Currency::Thb, Lang::Th).starts_with("9\u{a0}ธ.ค.\u{a0}2569 เวลา\u{a0}20:41\u{a0}น."));
        let s = |c, l| with_seconds(at, c, l).replace('\u{a0}', " ");
        assert_eq!(s(Currency::Thb, Lang::En), "9 Dec 2026, 20:41:10");
        assert_eq!(s(Currency::Thb, Lang::Th), "9 ธ.ค. 2569 เวลา 20:41:10 น.");
        assert_eq!(zone_name(Currency::Thb, Lang::En), "Bangkok time");
    }
}

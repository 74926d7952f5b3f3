//! The money page's daily chart: the last 30 days of one currency as an inline SVG (no script, no image
//! request), three bars a day: volume (what payments brought in), fees with their VAT, and net (the change
//! of the balance: payments' net less refunds, below the axis when refunds were larger). The same figures
//! are in a table beside it, for screen readers and for anyone who wants the exact amounts.
//!
//! The SVG is stretched to the card's width (`preserveAspectRatio=none`), so it holds only bars and the
//! axis; the dates under it are HTML ([`axis`]).
//!
//! Colours are picked for at least 3:1 contrast against the white card (WCAG 1.4.11, graphics) and are
//! told apart by position and the legend as well as by hue.

use std::fmt::Write as _;

use satang_domain::{Amount, Currency, Timestamp};

use crate::pages::i18n::Lang;
use crate::store::DailyTotal;

/// Days the chart covers, today included.
pub const DAYS: i64 = 30;

pub const VOLUME_COLOUR: &str = "#1d4ed8";
pub const FEES_COLOUR: &str = "#b45309";
pub const NET_COLOUR: &str = "#047857";

const WIDTH: i64 = 600;
const HEIGHT: i64 = 200;
const LEFT: i64 = 4;
const TOP: i64 = 8;
const BOTTOM: i64 = 4;
const GROUP: i64 = (WIDTH - LEFT) / DAYS;
const BAR: i64 = 5;

/// One day of one currency, as the chart and its table show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// Whole days since 1970-01-01 in the merchant's zone.
    pub day: i64,
    pub label: String,
    pub gross: i64,
    pub fees: i64,
    pub refunds: i64,
    pub net: i64,
}

/// One currency's 30 days, oldest first, with the days that had no entries filled in as zeros.
pub struct Series {
    pub currency: Currency,
    pub days: Vec<Day>,
}

/// `today` is the merchant's day number (days since 1970-01-01 in their zone).
pub fn series(totals: &[DailyTotal], today: i64, lang: Lang) -> Vec<Series> {
    let mut currencies: Vec<Currency> = totals.iter().map(|t| t.currency).collect();
    currencies.sort_by_key(|c| c.code());
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| Series {
            currency,
            days: (today - DAYS + 1..=today)
                .map(|day| {
                    let t = totals.iter().find(|t| t.day == day && t.currency == currency);
                    Day {
                        day,
                        label: day_label(day, lang),
                        gross: t.map_or(0, |t| t.gross),
                        fees: t.map_or(0, |t| t.fees),
                        refunds: t.map_or(0, |t| t.refunds),
                        net: t.map_or(0, |t| t.net),
                    }
                })
                .collect(),
        })
        .collect()
}

/// The dates under the chart: its first, middle and last day. They are HTML under the SVG rather than SVG
/// text, which would stretch with the bars (the SVG fills the width whatever its height).
pub fn axis(s: &Series) -> Vec<String> {
    let n = s.days.len();
    if n == 0 {
        return Vec::new();
    }
    vec![s.days[0].label.clone(), s.days[n / 2].label.clone(), s.days[n - 1].label.clone()]
}

/// `3 Dec` or `3 ธ.ค.`.
pub fn day_label(day: i64, lang: Lang) -> String {
    const EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const TH: [&str; 12] =
        ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."];
    let Ok(date) = time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400)) else {
        return day.to_string();
    };
    let month = date.month() as usize - 1;
    match lang {
        Lang::En => format!("{}\u{a0}{}", date.day(), EN[month]),
        Lang::Th => format!("{}\u{a0}{}", date.day(), TH[month]),
    }
}

/// A signed amount in the currency's format: `-THB 25.00`.
pub fn money(currency: Currency, v: i64) -> String {
    let abs = Amount::new(v.checked_abs().unwrap_or(i64::MAX)).unwrap_or(Amount::ZERO);
    if v < 0 { format!("-{}", currency.format(abs)) } else { currency.format(abs) }
}

/// The SVG for one series. `title_id` names the element that labels it (the heading above it).
pub fn svg(s: &Series, title_id: &str, summary: &str) -> String {
    let top = s.days.iter().map(|d| d.gross.max(d.net).max(d.fees)).max().unwrap_or(0).max(0);
    let bottom = s.days.iter().map(|d| d.net.min(0)).min().unwrap_or(0);
    let span = (top as i128 - bottom as i128).max(1);
    let plot = (HEIGHT - TOP - BOTTOM) as i128;
    // y of a value: exact integer arithmetic, no float anywhere near money.
    let y = |v: i64| -> i64 { TOP + ((top as i128 - v as i128) * plot / span) as i64 };
    let zero = y(0);
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{title_id}\" \
         aria-describedby=\"{title_id}-summary\" preserveAspectRatio=\"none\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let _ = write!(out, "<desc id=\"{title_id}-summary\">{}</desc>", escape(summary));
    let _ = write!(
        out,
        "<line x1=\"0\" x2=\"{WIDTH}\" y1=\"{zero}\" y2=\"{zero}\" stroke=\"#595959\" stroke-width=\"1\"/>"
    );
    for (i, d) in s.days.iter().enumerate() {
        let x0 = LEFT + i as i64 * GROUP + (GROUP - 3 * BAR - 2) / 2;
        for (k, (v, colour)) in
            [(d.gross, VOLUME_COLOUR), (d.fees, FEES_COLOUR), (d.net, NET_COLOUR)].iter().enumerate()
        {
            if *v == 0 {
                continue;
            }
            let (a, b) = (y(*v), zero);
            let (y0, h) = if a < b { (a, b - a) } else { (b, a - b) };
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{y0}\" width=\"{BAR}\" height=\"{}\" fill=\"{colour}\"/>",
                x0 + k as i64 * (BAR + 1),
                h.max(1)
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The merchant's day number of an instant, in a zone `offset_secs` east of UTC.
pub fn day_of(at: Timestamp, offset_secs: i64) -> i64 {
    (at.unix() + offset_secs).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(day: i64, gross: i64, fees: i64, refunds: i64, net: i64) -> DailyTotal {
        DailyTotal { day, currency: Currency::Thb, gross, fees, refunds, net }
    }

    #[test]
    fn thirty_days_with_gaps_filled_and_bars_scaled_to_the_largest_day() {
        let today = 20_000;
        let s = series(
            &[total(today - 29, 100_000, 3_650, 0, 96_350), total(today, 50_000, 1_825, 80_000, -31_825)],
            today,
            Lang::En,
        );
        assert_eq!(s.len(), 1);
        let days = &s[0].days;
        assert_eq!(days.len(), 30);
        assert_eq!((days[0].day, days[0].gross), (today - 29, 100_000));
        assert!(days[1..29].iter().all(|d| (d.gross, d.fees, d.refunds, d.net) == (0, 0, 0, 0)));
        assert_eq!(days[29].net, -31_825);
        let svg = svg(&s[0], "chart-thb", "summary");
        // Two days with three bars each.
        assert_eq!(svg.matches("<rect").count(), 6, "{svg}");
        // The largest bar spans from the top of the plot to the axis; the negative net hangs below it.
        let zero = TOP + (100_000i128 * (HEIGHT - TOP - BOTTOM) as i128 / (100_000 + 31_825)) as i64;
        assert!(
            svg.contains(&format!("y=\"{TOP}\" width=\"{BAR}\" height=\"{}\" fill=\"{VOLUME_COLOUR}\"", zero - TOP)),
            "{svg}"
        );
        assert!(svg.contains(&format!("y=\"{zero}\" width=\"{BAR}\"")), "{svg}");
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-labelledby=\"chart-thb\""));
    }

    #[test]
    fn an_empty_month_draws_only_the_axis_and_the_dates() {
        let s = Series {
            currency: Currency::Thb,
            days: (0..30)
                .map(|d| Day { day: d, label: format!("d{d}"), gross: 0, fees: 0, refunds: 0, net: 0 })
                .collect(),
        };
        let svg = svg(&s, "c", "s <b>");
        assert_eq!(svg.matches("<rect").count(), 0);
        assert_eq!(svg.matches("<line").count(), 1);
        assert_eq!(axis(&s), ["d0", "d15", "d29"]);
        assert!(svg.contains("s &lt;b&gt;"));
    }

    #[test]
    fn days_are_counted_in_the_merchants_zone() {
        // 2026-12-02T17:30Z is already 3 Dec in Bangkok.
        let at = Timestamp::parse("2026-12-02T17:30:00Z").unwrap();
        assert_eq!(day_of(at, 0) + 1, day_of(at, 7 * 3600));
        assert_eq!(day_label(day_of(at, 7 * 3600), Lang::En), "3\u{a0}Dec");
        assert_eq!(day_label(day_of(at, 7 * 3600), Lang::Th), "3\u{a0}ธ.ค.");
    }
}

//! Money: balance per currency and the latest transactions; CSV export of charges or transactions created
//! in a date range, streamed page by page (a month of a busy shop never sits in memory); and the owner's
//! audit log.

use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use satang_domain::{Amount, Charge, Currency, LedgerEntry, Timestamp};
use serde::Deserialize;

use super::auth::Signed;
use super::chart;
use super::{Frame, When, forbidden, html, lang_of};
use crate::app::AppState;
use crate::pages::i18n::Lang;
use crate::store::users::Role;
use crate::store::{ListQuery, Order, Scope};

/// Rows fetched per query while exporting.
const EXPORT_BATCH: u64 = 500;

pub struct MoneyWords {
    pub title: &'static str,
    pub balance: &'static str,
    pub no_balance: &'static str,
    pub transactions: &'static str,
    pub none: &'static str,
    pub direction: &'static str,
    pub origin: &'static str,
    pub export: &'static str,
    pub what: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub download: &'static str,
    pub chart: &'static str,
    pub chart_note: &'static str,
    pub volume: &'static str,
    pub fees: &'static str,
    pub refunds: &'static str,
    pub net: &'static str,
    pub day: &'static str,
    pub figures: &'static str,
    pub summary: &'static str,
}

fn money_words(lang: Lang) -> &'static MoneyWords {
    static EN: MoneyWords = MoneyWords {
        title: "Money",
        balance: "Balance",
        no_balance: "No money has moved yet.",
        transactions: "Transactions",
        none: "No transactions yet.",
        direction: "Direction",
        origin: "From",
        export: "Export CSV",
        what: "What",
        from: "From (Bangkok time)",
        to: "To (inclusive)",
        download: "Download",
        chart: "Last 30 days",
        chart_note: "Days in Bangkok time. Volume is what payments brought in; net is what the balance changed by after fees and refunds.",
        volume: "Volume",
        fees: "Fees and VAT",
        refunds: "Refunds",
        net: "Net",
        day: "Day",
        figures: "Daily figures",
        summary: "Over the last 30 days: volume {volume}, fees and VAT {fees}, refunds {refunds}, net {net}. Busiest day: {day}.",
    };
    static TH: MoneyWords = MoneyWords {
        title: "การเงิน",
        balance: "ยอดคงเหลือ",
        no_balance: "ยังไม่มีความเคลื่อนไหวของเงิน",
        transactions: "ธุรกรรม",
        none: "ยังไม่มีธุรกรรม",
        direction: "ทิศทาง",
        origin: "ที่มา",
        export: "ส่งออก CSV",
        what: "ข้อมูล",
        from: "ตั้งแต่ (เวลาประเทศไทย)",
        to: "ถึง (รวมวันนั้น)",
        download: "ดาวน์โหลด",
        chart: "30 วันล่าสุด",
        chart_note: "วันตามเวลาประเทศไทย ยอดขายคือเงินที่ได้รับจากการชำระเงิน ยอดสุทธิคือยอดคงเหลือที่เปลี่ยนไปหลังหักค่าธรรมเนียมและการคืนเงิน",
        volume: "ยอดขาย",
        fees: "ค่าธรรมเนียมและ VAT",
        refunds: "คืนเงิน",
        net: "สุทธิ",
        day: "วันที่",
        figures: "ตัวเลขรายวัน",
        summary: "ใน 30 วันล่าสุด: ยอดขาย {volume} ค่าธรรมเนียมและ VAT {fees} คืนเงิน {refunds} สุทธิ {net} วันที่ขายได้มากที่สุด: {day}",
    };
    match lang {
        Lang::En => &EN,
        Lang::Th => &TH,
    }
}

fn signed_amount(currency: Currency, total: i64) -> String {
    let abs = Amount::new(total.checked_abs().unwrap_or(i64::MAX)).unwrap_or(Amount::ZERO);
    if total < 0 { format!("-{}", currency.format(abs)) } else { currency.format(abs) }
}

#[derive(Template)]
#[template(path = "dashboard/money.html")]
struct MoneyPage {
    f: Frame,
    t: &'static MoneyWords,
    balances: Vec<String>,
    rows: Vec<(String, &'static str, String, String, When)>,
    from: String,
    to: String,
    charts: Vec<ChartView>,
}

/// One currency's chart and its table, ready to show.
struct ChartView {
    id: String,
    currency: &'static str,
    svg: String,
    axis: Vec<String>,
    days: Vec<(String, String, String, String, String)>,
}

/// The last 30 days (in the zone of the account's money) as one chart per currency that moved.
async fn charts(app: &AppState, scope: &Scope, lang: Lang) -> Vec<ChartView> {
    let t = money_words(lang);
    let now = app.now();
    // Every account books THB today (see store/mod.rs Account); its days are Bangkok days.
    let offset = crate::pages::local_time::offset_secs(Currency::Thb);
    let today = chart::day_of(now, offset);
    let from = Timestamp::from_unix((today - chart::DAYS + 1) * 86_400 - offset);
    let to = Timestamp::from_unix(now.unix() + 1);
    let totals = match app.store.daily_totals(scope, from, to, offset).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error.message = %e, "daily totals for the money page failed");
            return Vec::new();
        }
    };
    chart::series(&totals, today, lang)
        .into_iter()
        .map(|s| {
            let c = s.currency;
            let sum = |f: fn(&chart::Day) -> i64| s.days.iter().fold(0i64, |acc, d| acc.saturating_add(f(d)));
            let busiest = s.days.iter().max_by_key(|d| (d.gross, d.day)).map(|d| d.label.clone()).unwrap_or_default();
            let summary = t
                .summary
                .replace("{volume}", &chart::money(c, sum(|d| d.gross)))
                .replace("{fees}", &chart::money(c, sum(|d| d.fees)))
                .replace("{refunds}", &chart::money(c, sum(|d| d.refunds)))
                .replace("{net}", &chart::money(c, sum(|d| d.net)))
                .replace("{day}", &busiest);
            let id = format!("chart-{}", c.code().to_ascii_lowercase());
            ChartView {
                svg: chart::svg(&s, &id, &summary),
                axis: chart::axis(&s),
                id,
                currency: c.code(),
                days: s
                    .days
                    .iter()
                    .rev()
                    .filter(|d| (d.gross, d.fees, d.refunds, d.net) != (0, 0, 0, 0))
                    .map(|d| {
                        (
                            d.label.clone(),
                            chart::money(c, d.gross),
                            chart::money(c, d.fees),
                            chart::money(c, d.refunds),
                            chart::money(c, d.net),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

pub async fn page(State(app): State<AppState>, headers: HeaderMap, s: Signed) -> Response {
    let lang = lang_of(None, &headers);
    let scope = s.scope();
    let balances = app.store.balances(&scope).await.unwrap_or_default();
    let now = app.now();
    let q = ListQuery {
        from: Timestamp::EPOCH,
        to: now,
        offset: 0,
        limit: 50,
        order: Order::ReverseChronological,
        whole: true,
    };
    let entries = app.store.list_transactions(&scope, q).await.map(|p| p.items).unwrap_or_default();
    let today = merchant_date(now);
    let month_ago = merchant_date(Timestamp::from_unix(now.unix() - 29 * 86_400));
    let view = MoneyPage {
        f: Frame::signed(lang, money_words(lang).title, &s),
        t: money_words(lang),
        balances: balances.iter().map(|b| signed_amount(b.currency, b.total)).collect(),
        rows: entries
            .iter()
            .map(|e| {
                (
                    e.id.to_string(),
                    e.direction.as_str(),
                    e.currency.format(e.amount),
                    e.origin.id().to_string(),
                    When::new(e.created_at, lang),
                )
            })
            .collect(),
        from: month_ago,
        to: today,
        charts: charts(&app, &scope, lang).await,
    };
    html(StatusCode::OK, view, None)
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A CSV field: quoted when it must be, and a leading `= + - @` defused so a spreadsheet does not run it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn charge_line(c: &Charge) -> String {
    let fields = [
        c.id.to_string(),
        c.created_at.iso(),
        c.status.name().to_string(),
        c.currency.code().to_string(),
        c.amount.subunits().to_string(),
        c.fees.fee.subunits().to_string(),
        c.fees.fee_vat.subunits().to_string(),
        c.fees.net.subunits().to_string(),
        c.refunded_amount().subunits().to_string(),
        c.source.method.name.to_string(),
        c.description.clone().unwrap_or_default(),
        serde_json::to_string(&c.metadata).unwrap_or_default(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn transaction_line(e: &LedgerEntry) -> String {
    let fields = [
        e.id.to_string(),
        e.created_at.iso(),
        e.direction.as_str().to_string(),
        e.currency.code().to_string(),
        e.amount.subunits().to_string(),
        e.origin.id().to_string(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The first (or, with `end`, the last) second of a `YYYY-MM-DD` day in the merchant's zone: the days of
/// the export are the days of the chart above it.
pub(crate) fn day(s: &str, end: bool) -> Option<Timestamp> {
    let t = Timestamp::parse(&format!("{s}T00:00:00Z")).ok()?;
    let start = t.unix() - merchant_offset();
    Some(Timestamp::from_unix(if end { start + 86_399 } else { start }))
}

/// Seconds east of UTC of the merchant's days (Bangkok: every account books THB today).
fn merchant_offset() -> i64 {
    crate::pages::local_time::offset_secs(Currency::Thb)
}

/// `YYYY-MM-DD` of an instant in the merchant's zone.
fn merchant_date(at: Timestamp) -> String {
    Timestamp::from_unix(at.unix() + merchant_offset()).iso()[..10].to_string()
}

/// `GET /dashboard/export?kind=charges|transactions&from=YYYY-MM-DD&to=YYYY-MM-DD`: the rows created in the
/// range (the merchant's days, Bangkok time, both ends included; the times in the file are ISO UTC), oldest first, amounts in subunits.
pub async fn export(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Query(q): Query<ExportQuery>,
) -> Response {
    let lang = lang_of(None, &headers);
    let (Some(from), Some(to)) = (day(&q.from, false), day(&q.to, true)) else {
        return (StatusCode::BAD_REQUEST, "from and to must be dates (YYYY-MM-DD)").into_response();
    };
    if from > to {
        return (StatusCode::BAD_REQUEST, "from must not be later than to").into_response();
    }
    let charges = match q.kind.as_str() {
        "charges" => true,
        "transactions" => false,
        _ => return forbidden(lang, "kind must be charges or transactions"),
    };
    let header_line = if charges {
        "id,created,status,currency,amount,fee,fee_vat,net,refunded,method,description,metadata\r\n"
    } else {
        "id,created,direction,currency,amount,origin\r\n"
    };
    let scope: Scope = s.scope();
    let store = app.store.clone();
    // One page per step: offset, and whether the last page was full.
    let pages = futures::stream::unfold(Some(0u64), move |state| {
        let (store, scope) = (store.clone(), scope.clone());
        async move {
            let offset = state?;
            let lq = ListQuery { from, to, offset, limit: EXPORT_BATCH, order: Order::Chronological, whole: false };
            let (text, n) = if charges {
                match store.list_charges(&scope, lq).await {
                    Ok(p) => (p.items.iter().map(charge_line).collect::<String>(), p.items.len() as u64),
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            } else {
                match store.list_transactions(&scope, lq).await {
                    Ok(p) => (p.items.iter().map(transaction_line).collect::<String>(), p.items.len() as u64),
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            };
            let next = (n == EXPORT_BATCH).then_some(offset + n);
            if n == 0 { None } else { Some((Ok(bytes::Bytes::from(text)), next)) }
        }
    });
    let head =
        futures::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from_static(header_line.as_bytes())) },
        );
    let body = Body::from_stream(futures::StreamExt::chain(head, pages));
    let name = format!(
        "{}-{}-{}-{}.csv",
        if charges { "charges" } else { "transactions" },
        if s.livemode { "live" } else { "test" },
        q.from,
        q.to
    );
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    f: Frame,
    title: &'static str,
    who: &'static str,
    what: &'static str,
    detail: &'static str,
    entries: Vec<(When, String, String, String)>,
}

/// The account's audit log, for owners.
pub async fn audit(State(app): State<AppState>, headers: HeaderMap, s: Signed) -> Response {
    let lang = lang_of(None, &headers);
    if s.user.role != Role::Owner {
        return forbidden(lang, "owners only");
    }
    let entries = app.store.list_audit(&s.user.account, 200).await.unwrap_or_default();
    let (title, who, what, detail) = match lang {
        Lang::En => ("Audit log", "Who", "What", "Detail"),
        Lang::Th => ("บันทึกการเปลี่ยนแปลง", "ผู้ทำ", "การกระทำ", "รายละเอียด"),
    };
    let view = AuditPage {
        f: Frame::signed(lang, title, &s),
        title,
        who,
        what,
        detail,
        entries: entries.into_iter().map(|e| (When::new(e.created_at, lang), e.actor, e.action, e.detail)).collect(),
    };
    html(StatusCode::OK, view, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}

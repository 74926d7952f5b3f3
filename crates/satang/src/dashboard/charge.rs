//! A charge's page: amounts (fee, VAT, net), refunds and the refund form with the method's rules shown
//! before the merchant tries, events with their webhook deliveries, and test-mode outcome buttons.
//! Changes need an admin or owner and the session's CSRF token, and write their audit row in the charge's
//! own transaction ([`crate::store::users::PENDING_AUDIT`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use satang_domain::{Amount, Charge, ChargeId, ChargeStatus, FailureCode};
use serde::Deserialize;

use super::auth::Signed;
use super::i18n::words;
use super::{Frame, forbidden, html, lang_of, see_other};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::ops::{self, PayerOutcome};
use crate::pages::i18n::Lang;
use crate::store::users::PENDING_AUDIT;
use crate::store::{ChargeRef, ListQuery, Order, StoreError};

/// The charge page's own words.
pub struct ChargeWords {
    pub fee: &'static str,
    pub vat: &'static str,
    pub net: &'static str,
    pub refunded: &'static str,
    pub metadata: &'static str,
    pub refunds: &'static str,
    pub no_refunds: &'static str,
    pub remaining: &'static str,
    pub window_until: &'static str,
    pub refund_amount: &'static str,
    pub refund_button: &'static str,
    pub read_only: &'static str,
    pub test_actions: &'static str,
    pub mark_paid: &'static str,
    pub mark_failed: &'static str,
    pub failure_code: &'static str,
    pub expire: &'static str,
    pub events: &'static str,
    pub event: &'static str,
    pub deliveries: &'static str,
    pub refund_done: &'static str,
    pub not_allowed: &'static str,
    pub not_found: &'static str,
}

fn charge_words(lang: Lang) -> &'static ChargeWords {
    static EN: ChargeWords = ChargeWords {
        fee: "Fee",
        vat: "VAT on the fee",
        net: "Net",
        refunded: "Refunded",
        metadata: "Metadata",
        refunds: "Refunds",
        no_refunds: "No refunds.",
        remaining: "Refundable",
        window_until: "refund window closes",
        refund_amount: "Refund amount",
        refund_button: "Refund",
        read_only: "Your role can view this charge but not refund it.",
        test_actions: "Test mode",
        mark_paid: "Mark as paid",
        mark_failed: "Mark as failed",
        failure_code: "Failure code",
        expire: "Expire",
        events: "Events and webhook deliveries",
        event: "Event",
        deliveries: "Deliveries",
        refund_done: "Refunded.",
        not_allowed: "Your role cannot make changes.",
        not_found: "No such charge.",
    };
    static TH: ChargeWords = ChargeWords {
        fee: "ค่าธรรมเนียม",
        vat: "ภาษีมูลค่าเพิ่มของค่าธรรมเนียม",
        net: "ยอดสุทธิ",
        refunded: "คืนเงินแล้ว",
        metadata: "เมตาดาตา",
        refunds: "การคืนเงิน",
        no_refunds: "ยังไม่มีการคืนเงิน",
        remaining: "คืนเงินได้อีก",
        window_until: "คืนเงินได้ถึง",
        refund_amount: "จำนวนเงินที่คืน",
        refund_button: "คืนเงิน",
        read_only: "บทบาทของคุณดูรายการนี้ได้ แต่คืนเงินไม่ได้",
        test_actions: "โหมดทดสอบ",
        mark_paid: "ทำเครื่องหมายว่าชำระแล้ว",
        mark_failed: "ทำเครื่องหมายว่าล้มเหลว",
        failure_code: "รหัสความล้มเหลว",
        expire: "ให้หมดอายุ",
        events: "เหตุการณ์และการส่งเว็บฮุค",
        event: "เหตุการณ์",
        deliveries: "การส่ง",
        refund_done: "คืนเงินแล้ว",
        not_allowed: "บทบาทของคุณไม่สามารถแก้ไขได้",
        not_found: "ไม่พบรายการนี้",
    };
    match lang {
        Lang::En => &EN,
        Lang::Th => &TH,
    }
}

pub struct ChargeView {
    pub id: String,
    pub status: &'static str,
    pub failure_code: Option<String>,
    pub currency: &'static str,
    pub amount: String,
    pub fee: String,
    pub fee_vat: String,
    pub net: String,
    pub refunded: String,
    pub remaining: String,
    pub remaining_number: String,
    pub deadline: Option<String>,
    pub refundable: bool,
    pub pending: bool,
    pub method: &'static str,
    pub description: String,
    pub metadata: String,
    pub created: String,
    pub refunds: Vec<(String, String, String)>,
}

impl ChargeView {
    fn new(c: &Charge, now: satang_domain::Timestamp) -> ChargeView {
        let remaining = Amount::new(c.amount.subunits() - c.refunded_amount().subunits()).unwrap_or(Amount::ZERO);
        ChargeView {
            id: c.id.to_string(),
            status: c.status.name(),
            failure_code: match &c.status {
                ChargeStatus::Failed { failure_code, .. } => Some(failure_code.as_str().to_string()),
                _ => None,
            },
            currency: c.currency.code(),
            amount: c.currency.format(c.amount),
            fee: c.currency.format(c.fees.fee),
            fee_vat: c.currency.format(c.fees.fee_vat),
            net: c.currency.format(c.fees.net),
            refunded: c.currency.format(c.refunded_amount()),
            remaining: c.currency.format(remaining),
            remaining_number: form_amount(c.currency, remaining),
            deadline: c.refund_deadline().map(|d| d.iso()),
            refundable: c.refundable(now),
            pending: matches!(c.status, ChargeStatus::Pending),
            method: c.source.method.name,
            description: c.description.clone().unwrap_or_default(),
            metadata: serde_json::to_string(&c.metadata).unwrap_or_default(),
            created: c.created_at.iso(),
            refunds: c
                .refunds
                .iter()
                .map(|r| (r.id.to_string(), c.currency.format(r.amount), r.created_at.iso()))
                .collect(),
        }
    }
}

pub struct EventRow {
    pub id: String,
    pub key: String,
    pub created: String,
    pub deliveries: Vec<String>,
}

/// The events of a list query (a charge's, or the account's), each with its delivery attempts in a line.
pub async fn event_rows(
    app: &AppState,
    scope: &crate::store::Scope,
    charge: Option<&satang_domain::ChargeId>,
    q: ListQuery,
) -> Vec<EventRow> {
    let events = app.store.list_events(scope, charge, q).await.map(|p| p.items).unwrap_or_default();
    let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    let attempts = app.store.list_attempts(&ids).await.unwrap_or_default();
    events
        .iter()
        .map(|e| EventRow {
            id: e.id.to_string(),
            key: e.key.as_str().to_string(),
            created: e.created_at.iso(),
            deliveries: attempts
                .iter()
                .filter(|a| a.event == e.id)
                .map(|a| {
                    let status = a.status.map(|s| s.to_string()).or_else(|| a.error.clone()).unwrap_or_default();
                    format!("{} {} → {} ({} ms)", a.created_at.iso(), a.url, status, a.duration_ms)
                })
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "dashboard/charge.html")]
struct ChargePage {
    f: Frame,
    t: &'static ChargeWords,
    c: ChargeView,
    can_change: bool,
    failure_codes: [&'static str; 4],
    events: Vec<EventRow>,
    error: Option<String>,
    notice: Option<&'static str>,
}

fn not_found(lang: Lang) -> Response {
    let mut res = forbidden(lang, charge_words(lang).not_found);
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

async fn render(
    app: &AppState,
    lang: Lang,
    s: &Signed,
    id: &ChargeId,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let scope = s.scope();
    let charge = match app.store.get_charge(&scope, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return not_found(lang),
        Err(e) => return axum::response::IntoResponse::into_response(ApiError::from(e)),
    };
    let q = ListQuery {
        from: satang_domain::Timestamp::EPOCH,
        to: app.now(),
        offset: 0,
        limit: 100,
        order: Order::Chronological,
        whole: false,
    };
    let events = event_rows(app, &scope, Some(id), q).await;
    let page = ChargePage {
        f: Frame::signed(lang, &charge.id.to_string(), s),
        t: charge_words(lang),
        c: ChargeView::new(&charge, app.now()),
        can_change: s.can_change(),
        failure_codes: ["payment_rejected", "failed_processing", "invalid_account", "insufficient_fund"],
        events,
        error,
        notice,
    };
    html(status, page, None)
}

#[derive(Deserialize, Default)]
pub struct ChargeQuery {
    lang: Option<String>,
    done: Option<String>,
}

pub async fn charge_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Query(q): Query<ChargeQuery>,
) -> Response {
    let lang = lang_of(q.lang.as_deref(), &headers);
    let Ok(id) = id.parse::<ChargeId>() else { return not_found(lang) };
    let notice = (q.done.as_deref() == Some("refund")).then_some(charge_words(lang).refund_done);
    let mut res = render(&app, lang, &s, &id, StatusCode::OK, None, notice).await;
    if let Some(l) = q.lang.as_deref().and_then(Lang::parse) {
        let c = format!("satang_lang={}; Path=/; Max-Age=31536000; SameSite=Lax", l.code());
        if let Ok(v) = axum::http::HeaderValue::from_str(&c) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
}

/// The checks every change makes first: the CSRF token, then the role.
fn may_change(lang: Lang, s: &Signed, csrf: &str) -> Option<Response> {
    if !s.csrf_ok(csrf) {
        return Some(forbidden(lang, words(lang).expired_form));
    }
    if !s.can_change() {
        return Some(forbidden(lang, charge_words(lang).not_allowed));
    }
    None
}

pub async fn refund(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<RefundForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(refused) = may_change(lang, &s, &form.csrf) {
        return refused;
    }
    let Ok(id) = id.parse::<ChargeId>() else { return not_found(lang) };
    let scope = s.scope();
    let charge = match app.store.get_charge(&scope, &id).await {
        Ok(c) => c,
        Err(_) => return not_found(lang),
    };
    let Some(amount) = crate::api::search::major_to_subunits(form.amount.trim(), charge.currency.exponent()) else {
        let msg = format!("{} is not an amount in {}", form.amount, charge.currency.code());
        return render(&app, lang, &s, &id, StatusCode::BAD_REQUEST, Some(msg), None).await;
    };
    let audit = s.audit("charge.refund", format!("{id} {amount} subunits of {}", charge.currency.code()), app.now());
    let done = PENDING_AUDIT.scope(audit, ops::refund(&app, &scope, &id, amount, Default::default())).await;
    match done {
        Ok(_) => see_other(&format!("/dashboard/charges/{id}?done=refund")),
        Err(e) => render(&app, lang, &s, &id, StatusCode::BAD_REQUEST, Some(e.message), None).await,
    }
}

#[derive(Deserialize)]
pub struct SettleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    failure_code: String,
}

/// Test mode only: mark as paid, as failed (with a seed failure code), or expire.
pub async fn settle(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<SettleForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(refused) = may_change(lang, &s, &form.csrf) {
        return refused;
    }
    if s.livemode {
        return forbidden(lang, charge_words(lang).not_allowed);
    }
    let Ok(id) = id.parse::<ChargeId>() else { return not_found(lang) };
    let scope = s.scope();
    if app.store.get_charge(&scope, &id).await.is_err() {
        return not_found(lang);
    }
    let audit = s.audit(&format!("charge.{}", form.outcome), id.to_string(), app.now());
    let which = ChargeRef::Scoped(scope.clone(), id.clone());
    let done = match form.outcome.as_str() {
        "paid" => PENDING_AUDIT.scope(audit, ops::settle(&app, which, PayerOutcome::Paid)).await.map(|_| ()),
        "failed" => {
            let code = FailureCode::parse(&form.failure_code).unwrap_or(FailureCode::PaymentRejected);
            PENDING_AUDIT.scope(audit, ops::settle(&app, which, PayerOutcome::Failed(code))).await.map(|_| ())
        }
        "expire" => PENDING_AUDIT.scope(audit, ops::expire(&app, &scope, &id)).await.map(|_| ()),
        _ => Err(ApiError::bad_request("unknown outcome")),
    };
    match done {
        Ok(()) => see_other(&format!("/dashboard/charges/{id}")),
        Err(e) => render(&app, lang, &s, &id, StatusCode::BAD_REQUEST, Some(e.message), None).await,
    }
}

/// An amount as the refund form's field shows and reads it: major units with exactly the currency's
/// digits (`2590.00`, `30` in a currency without subunits), which `major_to_subunits` parses back.
fn form_amount(currency: satang_domain::Currency, amount: satang_domain::Amount) -> String {
    let exp = currency.exponent();
    let scale = 10i64.pow(exp);
    let (major, minor) = (amount.subunits() / scale, amount.subunits() % scale);
    if exp == 0 { major.to_string() } else { format!("{major}.{minor:0width$}", width = exp as usize) }
}

#[cfg(test)]
mod form_tests {
    use super::*;
    use satang_domain::{Amount, Currency};

    #[test]
    fn the_refund_field_reads_back_what_it_shows() {
        for (cur, n, shown) in
            [(Currency::Thb, 259_000, "2590.00"), (Currency::Sgd, 1_001, "10.01"), (Currency::Jpy, 30, "30")]
        {
            let text = form_amount(cur, Amount::new(n).unwrap());
            assert_eq!(text, shown);
            assert_eq!(crate::api::search::major_to_subunits(&text, cur.exponent()), Some(n));
        }
    }
}

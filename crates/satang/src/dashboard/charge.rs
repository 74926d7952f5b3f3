//! A charge's page: amounts (fee, VAT, net), refunds and the refund form with the method's rules shown
//! before the merchant tries, the payer journey ([`journey`]: events with the webhook deliveries they
//! caused, each with the receiver's status, latency and answer, merged in time order with a live
//! charge's calls to the acquirer), and test-mode outcome buttons.
//! Changes need an admin or owner and the session's CSRF token, and write their audit row in the charge's
//! own transaction ([`crate::store::users::PENDING_AUDIT`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use satang_domain::{Amount, Charge, ChargeId, ChargeStatus, EventKey, FailureCode, Timestamp};
use serde::Deserialize;

use super::auth::Signed;
use super::i18n::words;
use super::{Frame, When, forbidden, html, lang_of, see_other};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::connector::ProviderCall;
use crate::ops::{self, PayerOutcome};
use crate::pages::i18n::Lang;
use crate::store::users::PENDING_AUDIT;
use crate::store::{AttemptRecord, ChargeRef, ListQuery, Order, StoreError};

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
    pub timeline: &'static str,
    pub timeline_note: &'static str,
    pub acquirer: &'static str,
    pub provider_calls: &'static str,
    pub endpoint: &'static str,
    pub request_id: &'static str,
    pub try_number: &'static str,
    pub http_status: &'static str,
    pub result: &'static str,
    pub latency: &'static str,
    pub time: &'static str,
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
        timeline: "Payer journey",
        timeline_note: "Events with the webhook deliveries they caused, and calls to the acquirer, oldest first.",
        acquirer: "Antom",
        provider_calls: "Calls to the acquirer",
        endpoint: "Call",
        request_id: "Request ID",
        try_number: "Try",
        http_status: "HTTP",
        result: "Result",
        latency: "Time taken",
        time: "Time",
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
        timeline: "เส้นทางการชำระเงิน",
        timeline_note: "เหตุการณ์พร้อมการส่งเว็บฮุคที่เกิดจากเหตุการณ์นั้น และการเรียกผู้ให้บริการรับชำระเงิน เรียงจากเก่าไปใหม่",
        acquirer: "Antom",
        provider_calls: "การเรียกผู้ให้บริการรับชำระเงิน",
        endpoint: "การเรียก",
        request_id: "รหัสคำขอ",
        try_number: "ครั้งที่",
        http_status: "HTTP",
        result: "ผลลัพธ์",
        latency: "เวลาที่ใช้",
        time: "เวลา",
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
    pub deadline: Option<When>,
    pub refundable: bool,
    pub pending: bool,
    pub method: &'static str,
    pub description: String,
    pub metadata: String,
    pub created: When,
    pub refunds: Vec<(String, String, When)>,
}

impl ChargeView {
    fn new(c: &Charge, now: Timestamp, lang: Lang) -> ChargeView {
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
            deadline: c.refund_deadline().map(|d| When::new(d, lang)),
            refundable: c.refundable(now),
            pending: matches!(c.status, ChargeStatus::Pending),
            method: c.source.method.name,
            description: c.description.clone().unwrap_or_default(),
            metadata: serde_json::to_string(&c.metadata).unwrap_or_default(),
            created: When::new(c.created_at, lang),
            refunds: c
                .refunds
                .iter()
                .map(|r| (r.id.to_string(), c.currency.format(r.amount), When::new(r.created_at, lang)))
                .collect(),
        }
    }
}

pub struct EventRow {
    pub id: String,
    pub key: String,
    pub at: Timestamp,
    pub created: When,
    pub deliveries: Vec<DeliveryRow>,
}

/// One delivery attempt as the logs show it: when, where, the receiver's status (or why there was none),
/// the latency, and the start of what the receiver answered.
pub struct DeliveryRow {
    pub when: When,
    pub url: String,
    /// `HTTP 200`, or what went wrong when the receiver gave no status.
    pub outcome: String,
    pub ok: bool,
    pub ms: u64,
    pub response: Option<String>,
}

impl DeliveryRow {
    fn new(a: &AttemptRecord, lang: Lang) -> DeliveryRow {
        let outcome = match (a.status, &a.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => words(lang).no_answer.to_string(),
        };
        DeliveryRow {
            when: When::new(a.created_at, lang),
            url: a.url.clone(),
            outcome,
            ok: a.status.is_some_and(|s| (200..300).contains(&s)),
            ms: a.duration_ms,
            response: a.response.clone(),
        }
    }
}

/// The events of a list query (a charge's, or the account's), each with its delivery attempts.
pub async fn event_rows(
    app: &AppState,
    scope: &crate::store::Scope,
    charge: Option<&satang_domain::ChargeId>,
    q: ListQuery,
    lang: Lang,
) -> Vec<EventRow> {
    let events = app.store.list_events(scope, charge, q).await.map(|p| p.items).unwrap_or_default();
    let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    let attempts = app.store.list_attempts(&ids).await.unwrap_or_default();
    events
        .iter()
        .map(|e| EventRow {
            id: e.id.to_string(),
            key: e.key.as_str().to_string(),
            at: e.created_at,
            created: When::new(e.created_at, lang),
            deliveries: attempts.iter().filter(|a| a.event == e.id).map(|a| DeliveryRow::new(a, lang)).collect(),
        })
        .collect()
}

/// One call to the acquirer, on the charge page.
pub struct CallRow {
    pub when: When,
    pub endpoint: String,
    pub request_id: String,
    pub attempt: u32,
    pub http_status: String,
    /// The acquirer's result code and status, and what went wrong, if anything.
    pub result: String,
    pub ok: bool,
    pub ms: u64,
}

impl CallRow {
    fn new(c: &ProviderCall, lang: Lang) -> CallRow {
        let answer = match (&c.result_code, &c.result_status) {
            (Some(code), Some(st)) => Some(format!("{code} ({st})")),
            (Some(code), None) => Some(code.clone()),
            (None, _) => None,
        };
        let result = match (answer, &c.error) {
            (Some(a), Some(e)) => format!("{a}: {e}"),
            (Some(a), None) => a,
            (None, Some(e)) => e.clone(),
            (None, None) => words(lang).no_answer.to_string(),
        };
        CallRow {
            when: When::new(c.at, lang),
            endpoint: c.endpoint.clone(),
            request_id: c.request_id.clone(),
            attempt: c.attempt,
            http_status: c.http_status.map(|s| s.to_string()).unwrap_or_default(),
            result,
            ok: c.error.is_none(),
            ms: c.latency_ms,
        }
    }
}

/// One step of the payer journey: an event (with its deliveries under it) or a call to the acquirer.
pub struct Step {
    pub event: Option<EventRow>,
    pub call: Option<CallRow>,
}

/// The charge's events and its calls to the acquirer in one list, oldest first. Times are whole seconds,
/// so within one second the order is what caused what: the charge's creation, then the calls it made,
/// then the events that followed (a call's answer is what completes or refunds a live charge).
pub fn journey(events: Vec<EventRow>, calls: &[ProviderCall], lang: Lang) -> Vec<Step> {
    let mut steps: Vec<(Timestamp, u8, usize, Step)> = Vec::with_capacity(events.len() + calls.len());
    for (i, e) in events.into_iter().enumerate() {
        let rank = if e.key == EventKey::ChargeCreate.as_str() { 0 } else { 2 };
        steps.push((e.at, rank, i, Step { event: Some(e), call: None }));
    }
    for (i, c) in calls.iter().enumerate() {
        steps.push((c.at, 1, i, Step { event: None, call: Some(CallRow::new(c, lang)) }));
    }
    steps.sort_by_key(|(at, rank, i, _)| (*at, *rank, *i));
    steps.into_iter().map(|(_, _, _, step)| step).collect()
}

#[derive(Template)]
#[template(path = "dashboard/charge.html")]
struct ChargePage {
    f: Frame,
    t: &'static ChargeWords,
    c: ChargeView,
    can_change: bool,
    failure_codes: [&'static str; 4],
    journey: Vec<Step>,
    calls: Vec<CallRow>,
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
        from: Timestamp::EPOCH,
        to: app.now(),
        offset: 0,
        limit: 100,
        order: Order::Chronological,
        whole: false,
    };
    let events = event_rows(app, &scope, Some(id), q, lang).await;
    // Test-mode charges make no calls to the acquirer.
    let calls =
        if charge.id.is_live() { app.store.list_provider_calls(id).await.unwrap_or_default() } else { Vec::new() };
    let page = ChargePage {
        f: Frame::signed(lang, &charge.id.to_string(), s),
        t: charge_words(lang),
        c: ChargeView::new(&charge, app.now(), lang),
        can_change: s.can_change(),
        failure_codes: ["payment_rejected", "failed_processing", "invalid_account", "insufficient_fund"],
        journey: journey(events, &calls, lang),
        calls: calls.iter().map(|c| CallRow::new(c, lang)).collect(),
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
    super::remember_lang(render(&app, lang, &s, &id, StatusCode::OK, None, notice).await, q.lang.as_deref())
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

#[cfg(test)]
mod journey_tests {
    use super::*;

    fn event(key: EventKey, at: i64) -> EventRow {
        let at = Timestamp::from_unix(at);
        EventRow {
            id: key.as_str().into(),
            key: key.as_str().into(),
            at,
            created: When::new(at, Lang::En),
            deliveries: Vec::new(),
        }
    }

    fn call(endpoint: &str, at: i64) -> ProviderCall {
        ProviderCall {
            endpoint: endpoint.into(),
            request_id: "chrg_1".into(),
            attempt: 1,
            http_status: Some(200),
            result_code: Some("SUCCESS".into()),
            result_status: Some("S".into()),
            latency_ms: 80,
            error: None,
            at: Timestamp::from_unix(at),
        }
    }

    fn order(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match (&s.event, &s.call) {
                (Some(e), _) => e.key.clone(),
                (_, Some(c)) => c.endpoint.clone(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn steps_are_in_time_order_and_within_a_second_in_causal_order() {
        // Different seconds: time decides, whatever the kind.
        let steps = journey(
            vec![event(EventKey::ChargeCreate, 100), event(EventKey::ChargeComplete, 160)],
            &[call("payments/pay", 130), call("payments/inquiryPayment", 170)],
            Lang::En,
        );
        assert_eq!(order(&steps), ["charge.create", "payments/pay", "charge.complete", "payments/inquiryPayment"]);
        // All in one second: creation, then the calls in the order made, then what followed.
        let steps = journey(
            vec![event(EventKey::ChargeCreate, 100), event(EventKey::ChargeComplete, 100)],
            &[call("payments/pay", 100), call("payments/inquiryPayment", 100)],
            Lang::En,
        );
        assert_eq!(order(&steps), ["charge.create", "payments/pay", "payments/inquiryPayment", "charge.complete"]);
    }
}

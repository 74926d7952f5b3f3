//! The payer's side, served at `authorize_uri` (`/pay/<charge id>/<token>`): what the seeds show the payer.
//!
//! * Alipay (`redirect`): a checkout page like Alipay's.
//! * Alipay HK (`app_redirect`): on a desktop (`platform_type` WEB, or none with a desktop browser) a QR code
//!   whose URL opens the wallet's confirm page on a phone, while the desktop page polls the charge's status
//!   and moves on to `return_uri` by itself; on a phone (IOS / ANDROID, or none with a phone's browser) a
//!   hand-off to the wallet app, with the page itself as the fallback.
//!
//! In test mode the wallet is simulated here: its confirm page lets the payer pay or fail with any of the
//! seed's failure codes, or leave the charge to expire. The choice goes through [`ops::settle`], the same
//! transition, events and transaction as `mark_as_paid` / `mark_as_failed`, then the browser is sent (303)
//! to `return_uri`. Live charges are handed to the account's acquirer ([`crate::live`]): the page shows
//! the acquirer's QR code or app hand-off instead, and offers no simulated outcomes.
//!
//! Safety: the URL's token (32 random base36 characters) is the payer's only credential and is compared in
//! constant time; outcome forms carry a CSRF token that must match a `SameSite=Strict` cookie set with the
//! page (double-submit); a final charge only ever shows its final state, so double submits and the back
//! button change nothing; unknown or altered links get a 404 page; every page sends CSP, no framing and
//! no-referrer headers and is never cached. Templates are askama (escaped by default); the only unescaped
//! value is the QR code's SVG, which satang generates.

pub mod i18n;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use satang_domain::{Charge, ChargeId, ChargeStatus, FailureCode, Flow, PlatformType};
use serde::Deserialize;

use crate::app::AppState;
use crate::ops::{self, PayerOutcome};
use crate::store::ChargeRef;
use i18n::{Lang, Texts, cookie};

const CSS: &str = include_str!("../../assets/pay.css");
const JS: &str = include_str!("../../assets/pay.js");
const CSRF_COOKIE: &str = "satang_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay-assets/pay.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/pay-assets/pay.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/pay/{charge}/{token}", get(authorize_page).post(submit_outcome))
        .route("/pay/{charge}/{token}/wallet", get(wallet_page))
        .route("/pay/{charge}/{token}/app", get(app_page))
        .route("/pay/{charge}/{token}/status", get(status))
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the payer sees for a pending charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Alipay's web checkout (redirect flow).
    Checkout,
    /// A QR code to scan with the wallet app (desktop).
    Qr,
    /// A hand-off to the wallet app (phone).
    Handoff,
}

/// A phone's browser, by its User-Agent.
pub fn is_mobile(user_agent: &str) -> bool {
    ["Mobi", "Android", "iPhone", "iPad", "iPod"].iter().any(|m| user_agent.contains(m))
}

pub fn screen_for(charge: &Charge, user_agent: &str) -> Screen {
    match charge.source.method.flow {
        Flow::Redirect => Screen::Checkout,
        Flow::AppRedirect => match charge.source.platform_type {
            Some(PlatformType::Web) => Screen::Qr,
            Some(PlatformType::Ios | PlatformType::Android) => Screen::Handoff,
            None if is_mobile(user_agent) => Screen::Handoff,
            None => Screen::Qr,
        },
    }
}

// ---------------------------------------------------------------------------------------------------------
// View models.

struct Common {
    lang: &'static str,
    other_lang: &'static str,
    other_lang_name: &'static str,
    t: &'static Texts,
    title: String,
    test: bool,
}

impl Common {
    fn new(lang: Lang, title: &str, test: bool) -> Self {
        Common {
            lang: lang.code(),
            other_lang: lang.other().code(),
            other_lang_name: lang.other().texts().lang_name,
            t: lang.texts(),
            title: title.to_string(),
            test,
        }
    }
}

struct Summary {
    merchant: String,
    amount: String,
    description: Option<String>,
    method: &'static str,
    pending: bool,
    expires_iso: String,
    expires_display: String,
}

struct FailureChoice {
    code: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    c: Common,
    s: Summary,
    action: String,
    csrf: String,
    failures: Vec<FailureChoice>,
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    c: Common,
    s: Summary,
    action: String,
    csrf: String,
    failures: Vec<FailureChoice>,
    app: bool,
}

#[derive(Template)]
#[template(path = "qr.html")]
struct QrPage {
    c: Common,
    s: Summary,
    status_url: String,
    return_uri: String,
    wallet_url: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "handoff.html")]
struct HandoffPage {
    c: Common,
    s: Summary,
    app_url: String,
    wallet_url: String,
}

#[derive(Template)]
#[template(path = "final.html")]
struct FinalPage {
    c: Common,
    s: Summary,
    status: &'static str,
    heading: &'static str,
    reason: Option<&'static str>,
    return_uri: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Common,
    heading: &'static str,
    body: &'static str,
}

// ---------------------------------------------------------------------------------------------------------
// Responses.

fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
}

fn html(status: StatusCode, page: impl Template) -> Response {
    let mut res = match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    };
    security_headers(&mut res);
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

fn message(
    status: StatusCode,
    lang: Lang,
    heading: fn(&Texts) -> &'static str,
    body: fn(&Texts) -> &'static str,
) -> Response {
    let t = lang.texts();
    html(status, MessagePage { c: Common::new(lang, heading(t), false), heading: heading(t), body: body(t) })
}

fn not_found(lang: Lang) -> Response {
    message(StatusCode::NOT_FOUND, lang, |t| t.not_found_title, |t| t.not_found_body)
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
}

/// The language, and the cookie that remembers an explicit choice.
fn language(q: &PageQuery, headers: &HeaderMap) -> (Lang, Option<String>) {
    let lang = Lang::pick(q.lang.as_deref(), headers);
    let remember = q
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .map(|l| format!("satang_lang={}; Path=/pay; Max-Age=31536000; SameSite=Lax; HttpOnly", l.code()));
    (lang, remember)
}

fn with_cookies(mut res: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The charge behind a payer URL, if the token is right.
async fn load(app: &AppState, charge: &str, token: &str) -> Option<Charge> {
    let id: ChargeId = charge.parse().ok()?;
    let c = app.store.find_charge(&id).await.ok()?;
    token_matches(&c.authorize_token, token).then_some(c)
}

fn method_name(charge: &Charge, lang: Lang) -> &'static str {
    match (charge.source.method.name, lang) {
        ("alipay", Lang::Th) => "อาลีเพย์ (Alipay)",
        _ => charge.source.method.display_name,
    }
}

async fn summary(app: &AppState, charge: &Charge, lang: Lang) -> Summary {
    // The account's name is what the payer knows the shop by; a lookup failure only loses the name.
    let merchant = app.store.get_account(&charge.account).await.map(|a| a.name).unwrap_or_default();
    let iso = charge.expires_at.iso();
    Summary {
        merchant,
        amount: charge.currency.format(charge.amount),
        description: charge.description.clone(),
        method: method_name(charge, lang),
        pending: matches!(charge.status, ChargeStatus::Pending),
        expires_display: iso.replacen('T', " ", 1).replace('Z', " UTC"),
        expires_iso: iso,
    }
}

fn failure_choices(lang: Lang) -> Vec<FailureChoice> {
    FailureCode::ALL
        .iter()
        .map(|f| FailureChoice {
            code: f.as_str(),
            label: match lang {
                Lang::En => f.message(),
                Lang::Th => f.message_th(),
            },
        })
        .collect()
}

fn pay_path(charge: &Charge) -> String {
    format!("/pay/{}/{}", charge.id, charge.authorize_token)
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The page a final charge shows, wherever the payer opens it.
async fn final_page(app: &AppState, charge: &Charge, lang: Lang) -> Response {
    let t = lang.texts();
    let (heading, reason) = match &charge.status {
        ChargeStatus::Successful { .. } => (t.paid_title, None),
        ChargeStatus::Failed { failure_code, .. } => (
            t.failed_title,
            Some(match lang {
                Lang::En => failure_code.message(),
                Lang::Th => failure_code.message_th(),
            }),
        ),
        ChargeStatus::Expired { .. } | ChargeStatus::Pending => (t.expired_title, None),
    };
    let page = FinalPage {
        c: Common::new(lang, heading, !charge.livemode()),
        s: summary(app, charge, lang).await,
        status: charge.status.name(),
        heading,
        reason,
        return_uri: charge.return_uri.clone(),
    };
    html(StatusCode::OK, page)
}

/// A CSRF token for the page's form: the one the browser already holds for this charge, else a new one.
fn csrf_for(headers: &HeaderMap, charge: &Charge) -> (String, Option<String>) {
    if let Some(existing) = cookie(headers, CSRF_COOKIE).filter(|v| v.len() == 32) {
        return (existing, None);
    }
    let token = satang_domain::id::random_base36(32);
    let set = format!("{CSRF_COOKIE}={token}; Path=/pay/{}; SameSite=Strict; HttpOnly", charge.id);
    (token, Some(set))
}

async fn authorize_page(
    State(app): State<AppState>,
    Path((charge, token)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, remember) = language(&q, &headers);
    let Some(charge) = load(&app, &charge, &token).await else { return not_found(lang) };
    let res = render_payer_entry(&app, &charge, lang, &headers).await;
    with_cookies(res, remember)
}

async fn render_payer_entry(app: &AppState, charge: &Charge, lang: Lang, headers: &HeaderMap) -> Response {
    if charge.status.is_final() {
        return final_page(app, charge, lang).await;
    }
    if charge.livemode() {
        return live_entry(app, charge, lang, headers).await;
    }
    let t = lang.texts();
    let s = summary(app, charge, lang).await;
    let base = format!("{}{}", app.public_url, pay_path(charge));
    match screen_for(charge, user_agent(headers)) {
        Screen::Checkout => {
            let (csrf, set) = csrf_for(headers, charge);
            let page = CheckoutPage {
                c: Common::new(lang, t.checkout_title, true),
                s,
                action: pay_path(charge),
                csrf,
                failures: failure_choices(lang),
            };
            with_cookies(html(StatusCode::OK, page), set)
        }
        Screen::Qr => {
            let wallet_url = format!("{base}/wallet");
            let qr_svg = match qrcode::QrCode::new(wallet_url.as_bytes()) {
                Ok(code) => {
                    code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build()
                }
                Err(_) => String::new(),
            };
            let page = QrPage {
                c: Common::new(lang, t.scan_title, true),
                s,
                status_url: format!("{}/status", pay_path(charge)),
                return_uri: charge.return_uri.clone().unwrap_or_default(),
                wallet_url,
                qr_svg,
            };
            html(StatusCode::OK, page)
        }
        Screen::Handoff => {
            let page = HandoffPage {
                c: Common::new(lang, t.handoff_title, true),
                s,
                app_url: format!("{base}/app"),
                wallet_url: format!("{base}/wallet"),
            };
            html(StatusCode::OK, page)
        }
    }
}

/// A live charge's entry: the acquirer's order, opened on the first visit (see [`crate::live::handoff`]).
/// Alipay HK: on a desktop, the QR of the order's code value, the page polling the charge's status; on a
/// phone, a hand-off to the wallet app (`applinkUrl`, else `schemeUrl`), with the acquirer's `normalUrl`
/// as the browser fallback. Alipay (redirect flow): forwarded to the wallet's page (`normalUrl`; on a
/// phone the app link first).
async fn live_entry(app: &AppState, charge: &Charge, lang: Lang, headers: &HeaderMap) -> Response {
    use crate::connector::Terminal;
    use crate::live::handoff::{LivePage, open};
    let h = match open(app, charge, user_agent(headers)).await {
        LivePage::Open(h) => h,
        LivePage::Final(c) => return final_page(app, c.as_ref(), lang).await,
        LivePage::Unavailable => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                |t| t.live_unavailable_title,
                |t| t.live_unavailable_body,
            );
        }
    };
    let normal = h.normal_url.clone().unwrap_or_default();
    let phone = !matches!(h.terminal, None | Some(Terminal::Web));
    if charge.source.method.flow == Flow::Redirect && !normal.is_empty() {
        // Alipay (redirect flow): the payer goes to the wallet's own page, as Antom advises for WEB and WAP
        // (on a phone through the app link when there is one).
        let to = if phone { h.applink_url.clone().unwrap_or_else(|| normal.clone()) } else { normal.clone() };
        let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        security_headers(&mut res);
        return res;
    }
    let t = lang.texts();
    let s = summary(app, charge, lang).await;
    match h.terminal.unwrap_or(Terminal::Web) {
        Terminal::Web => {
            let code = h.code_value.clone().unwrap_or_else(|| normal.clone());
            let qr_svg = match qrcode::QrCode::new(code.as_bytes()) {
                Ok(q) => q.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build(),
                Err(_) => String::new(),
            };
            let page = QrPage {
                c: Common::new(lang, t.scan_title, false),
                s,
                status_url: format!("{}/status", pay_path(charge)),
                return_uri: charge.return_uri.clone().unwrap_or_default(),
                wallet_url: normal,
                qr_svg,
            };
            html(StatusCode::OK, page)
        }
        Terminal::Wap(_) | Terminal::App(_) => {
            let app_url = h.applink_url.clone().or_else(|| h.scheme_url.clone()).unwrap_or_else(|| normal.clone());
            let page = HandoffPage { c: Common::new(lang, t.handoff_title, false), s, app_url, wallet_url: normal };
            html(StatusCode::OK, page)
        }
    }
}

/// The simulated wallet's confirm page: what the QR code opens on a phone, and the browser fallback.
async fn wallet_page(
    State(app): State<AppState>,
    Path((charge, token)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    wallet(app, charge, token, q, headers, false).await
}

/// The simulated wallet app the phone hand-off opens.
async fn app_page(
    State(app): State<AppState>,
    Path((charge, token)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    wallet(app, charge, token, q, headers, true).await
}

async fn wallet(
    app: AppState,
    charge: String,
    token: String,
    q: PageQuery,
    headers: HeaderMap,
    is_app: bool,
) -> Response {
    let (lang, remember) = language(&q, &headers);
    let Some(charge) = load(&app, &charge, &token).await else { return not_found(lang) };
    if charge.status.is_final() {
        return with_cookies(final_page(&app, &charge, lang).await, remember);
    }
    if charge.livemode() {
        // The simulated wallet is test mode's; a live payer pays in the acquirer's wallet.
        return Redirect::to(&pay_path(&charge)).into_response();
    }
    let (csrf, set) = csrf_for(&headers, &charge);
    let page = WalletPage {
        c: Common::new(lang, lang.texts().wallet_title, true),
        s: summary(&app, &charge, lang).await,
        action: pay_path(&charge),
        csrf,
        failures: failure_choices(lang),
        app: is_app,
    };
    with_cookies(html(StatusCode::OK, page), remember.into_iter().chain(set))
}

#[derive(Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    failure_code: Option<String>,
}

/// The payer's choice. Refused (403) without a matching CSRF cookie; on a charge that is already final it
/// changes nothing and shows the final state.
async fn submit_outcome(
    State(app): State<AppState>,
    Path((charge, token)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(form): Form<OutcomeForm>,
) -> Response {
    let (lang, _) = language(&q, &headers);
    let Some(charge) = load(&app, &charge, &token).await else { return not_found(lang) };
    let csrf_ok = cookie(&headers, CSRF_COOKIE).is_some_and(|c| !form.csrf.is_empty() && token_matches(&c, &form.csrf));
    if !csrf_ok {
        return message(StatusCode::FORBIDDEN, lang, |t| t.forbidden_title, |t| t.forbidden_body);
    }
    if charge.livemode() {
        return message(StatusCode::FORBIDDEN, lang, |t| t.live_title, |t| t.live_body);
    }
    let back_to_page = || Redirect::to(&pay_path(&charge)).into_response();
    if charge.status.is_final() {
        return back_to_page();
    }
    let outcome = match form.outcome.as_str() {
        "pay" => PayerOutcome::Paid,
        "fail" => {
            let code =
                form.failure_code.as_deref().and_then(FailureCode::parse).unwrap_or(FailureCode::PaymentRejected);
            PayerOutcome::Failed(code)
        }
        // Leaving: the charge stays pending until the sweeper expires it.
        _ => return return_to_shop(&charge),
    };
    match ops::settle(&app, ChargeRef::Unscoped(charge.id.clone()), outcome).await {
        Ok(settled) => return_to_shop(&settled),
        // Settled by someone else meanwhile (a double submit, the other device) or expired: the page shows
        // the final state.
        Err(e) if e.status == StatusCode::BAD_REQUEST => back_to_page(),
        Err(e) => e.into_response(),
    }
}

fn return_to_shop(charge: &Charge) -> Response {
    match &charge.return_uri {
        Some(uri) => Redirect::to(uri).into_response(),
        None => Redirect::to(&pay_path(charge)).into_response(),
    }
}

/// `GET /pay/:charge/:token/status`: what the desktop QR page polls.
async fn status(State(app): State<AppState>, Path((charge, token)): Path<(String, String)>) -> Response {
    let mut res = match load(&app, &charge, &token).await {
        Some(c) => {
            axum::Json(serde_json::json!({"object": "charge_status", "status": c.status.name()})).into_response()
        }
        None => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"object": "error", "code": "not_found"})))
            .into_response(),
    };
    security_headers(&mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
        assert!(!token_matches("abc", ""));
    }

    #[test]
    fn phones_are_told_from_desktops() {
        assert!(is_mobile("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"));
        assert!(is_mobile("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"));
        assert!(!is_mobile("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"));
    }

    #[test]
    fn rendered_pages_escape_merchant_input() {
        let page = MessagePage { c: Common::new(Lang::En, "<b>x</b>", false), heading: "<script>", body: "a & b" };
        let out = page.render().unwrap();
        assert!(out.contains("&#60;script&#62;") && out.contains("a &#38; b") && out.contains("&#60;b&#62;x"));
        assert!(!out.contains("<script>"));
    }
}

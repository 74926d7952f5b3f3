//! The payer's side, served at `authorize_uri` (`/pay/<charge id>/<token>`): what the seeds show the payer.
//!
//! * Alipay (`redirect`): a checkout page like Alipay's.
//! * AlipayHK (`app_redirect`): on a desktop (`platform_type` WEB, or none with a desktop browser) a QR code
//!   whose URL opens the wallet's confirm page on a phone, while the desktop page polls the charge's status
//!   and moves on to `return_uri` by itself (the phone ends on the wallet's receipt); on a phone (IOS /
//!   ANDROID, or none with a phone's browser) a hand-off to the wallet app, with the page itself as the
//!   fallback. An IOS / ANDROID charge opened on a desktop shows the QR code: the app cannot open there.
//!
//! Payer wording, not card or developer wording: final pages say whether the payer was charged and what to
//! do next, a payment shows its reference and time, times are in the payer's zone ([`local_time`]), the
//! merchant's name comes first, and no page is a dead end (live charges without a connector link back to
//! the shop). When the account sets a support URL (dashboard settings), the pages a payer may need help on
//! (checkout, QR code, app hand-off, final and message pages) end with "Need help? Contact <shop>" linking
//! to it. The Chromium test audits every page with axe-core.
//!
//! In test mode the wallet is simulated here: its confirm page lets the payer pay or fail with any of the
//! seed's failure codes, or leave the charge to expire. The choice goes through [`ops::settle`], the same
//! transition, events and transaction as `mark_as_paid` / `mark_as_failed`, then the browser is sent (303)
//! to `return_uri`. Live charges are handed to the account's acquirer ([`crate::live`]): the page shows
//! the acquirer's QR code or app hand-off instead, offers no simulated outcomes, and when the acquirer
//! cannot be reached says so and links back to the shop.
//!
//! Safety: the URL's token (32 random base36 characters) is the payer's only credential and is compared in
//! constant time; outcome forms carry a CSRF token that must match a `SameSite=Strict` cookie set with the
//! page (double-submit), and the token is bound to its charge (a nonce and an HMAC of it keyed by the
//! charge's authorize token), so a cookie and token taken from one charge are refused on another; behind an
//! `https` public URL every cookie is `Secure`; a final charge only ever shows its final state, so double submits and the back
//! button change nothing; unknown or altered links get a 404 page; every page sends CSP, no framing and
//! no-referrer headers and is never cached. Templates are askama (escaped by default); the only unescaped
//! value is the QR code's SVG, which satang generates.

pub mod i18n;
pub mod local_time;

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
use crate::store::{ChargeRef, CheckoutSettings};
use i18n::{Lang, Texts, cookie, failure_reason};

const CSS: &str = include_str!("../../assets/pay.css");
const JS: &str = include_str!("../../assets/pay.js");
const ICON: &str = include_str!("../../assets/icon.svg");
const CSRF_COOKIE: &str = "satang_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay-assets/pay.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/pay-assets/pay.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/pay-assets/icon.svg", get(|| async { asset("image/svg+xml", ICON) }))
        .route("/favicon.ico", get(|| async { asset("image/svg+xml", ICON) }))
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
            // Made for a phone but opened on a computer: the app cannot open here, so the QR code.
            Some(PlatformType::Ios | PlatformType::Android) if !is_mobile(user_agent) => Screen::Qr,
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
    /// The shop the payer is paying, first in the top bar (none on pages without a charge).
    merchant: Option<String>,
    logo_url: Option<String>,
    /// The shop's home page: the merchant's name links to it.
    shop_url: Option<String>,
    /// The shop's support page, linked as "Need help? Contact <shop>" (`_help.html`).
    support_url: Option<String>,
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
            merchant: None,
            logo_url: None,
            shop_url: None,
            support_url: None,
        }
    }

    fn shop(mut self, shop: &Shop) -> Self {
        self.title = format!("{} · {}", self.title, shop.name);
        self.merchant = Some(shop.name.clone());
        self.logo_url = shop.checkout.logo_url.clone();
        self.shop_url = shop.checkout.shop_url.clone();
        self.support_url = shop.checkout.support_url.clone();
        self
    }
}

/// The merchant as payers see it.
struct Shop {
    name: String,
    checkout: CheckoutSettings,
}

impl Shop {
    /// Where "back to the shop" goes: the charge's `return_uri`, else the shop's home page.
    fn back_link(&self, charge: &Charge) -> Option<String> {
        charge.return_uri.clone().or_else(|| self.checkout.shop_url.clone())
    }
}

async fn shop_of(app: &AppState, charge: &Charge) -> Shop {
    // A lookup failure only loses the name and the links, never the page.
    match app.store.get_account(&charge.account).await {
        Ok(a) => Shop { name: a.name, checkout: a.checkout },
        Err(_) => Shop { name: String::new(), checkout: CheckoutSettings::default() },
    }
}

struct Summary {
    merchant: String,
    amount: String,
    description: Option<String>,
    method: &'static str,
    pending: bool,
    expires_iso: String,
    /// The deadline in the payer's time and the zone's name.
    expires_display: (String, String),
    /// Shown once the payer has paid: the charge ID and when.
    reference: Option<String>,
    paid_display: Option<(String, String)>,
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
    via_qr: bool,
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
    /// Opened by scanning a computer's QR code: the outcome ends on a receipt here, not at the shop.
    via_qr: bool,
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
    /// The charge was made for a phone's app and opened on a computer.
    app_fallback: bool,
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
    next: &'static str,
    back: Option<String>,
    /// The wallet's receipt on the phone that scanned a computer's QR code.
    receipt: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Common,
    heading: &'static str,
    body: &'static str,
    back: Option<String>,
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
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; \
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
    html(
        status,
        MessagePage { c: Common::new(lang, heading(t), false), heading: heading(t), body: body(t), back: None },
    )
}

/// A live charge's page while no wallet connector is configured: never a dead end, it links back to the shop.
async fn live_page(app: &AppState, charge: &Charge, lang: Lang, status: StatusCode) -> Response {
    let t = lang.texts();
    let shop = shop_of(app, charge).await;
    let page = MessagePage {
        c: Common::new(lang, t.live_title, false).shop(&shop),
        heading: t.live_title,
        body: t.live_body,
        back: shop.back_link(charge),
    };
    html(status, page)
}

fn not_found(lang: Lang) -> Response {
    message(StatusCode::NOT_FOUND, lang, |t| t.not_found_title, |t| t.not_found_body)
}

#[derive(Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
    /// `qr`: the wallet page was opened by scanning a computer's QR code.
    via: Option<String>,
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

/// Sets the cookies, `Secure` when payers reach satang over https.
fn with_cookies(app: &AppState, mut res: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    let secure = app.public_url.starts_with("https://");
    for c in cookies {
        let c = if secure { format!("{c}; Secure") } else { c };
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

/// The wallet's name as payers know it: one spelling, "AlipayHK", as its app writes it.
fn method_name(charge: &Charge, lang: Lang) -> &'static str {
    match (charge.source.method.name, lang) {
        ("alipay", Lang::Th) => "อาลีเพย์ (Alipay)",
        ("alipay_hk", _) => "AlipayHK",
        _ => charge.source.method.display_name,
    }
}

fn summary(shop: &Shop, charge: &Charge, lang: Lang) -> Summary {
    let paid_at = match &charge.status {
        ChargeStatus::Successful { paid_at, .. } => Some(*paid_at),
        _ => None,
    };
    Summary {
        merchant: shop.name.clone(),
        amount: charge.currency.format(charge.amount),
        description: charge.description.clone(),
        method: method_name(charge, lang),
        pending: matches!(charge.status, ChargeStatus::Pending),
        expires_display: local_time::parts(charge.expires_at, charge.currency, lang),
        expires_iso: charge.expires_at.iso(),
        reference: paid_at.map(|_| charge.id.to_string()),
        paid_display: paid_at.map(|t| local_time::parts(t, charge.currency, lang)),
    }
}

fn failure_choices(lang: Lang) -> Vec<FailureChoice> {
    FailureCode::ALL.iter().map(|f| FailureChoice { code: f.as_str(), label: failure_reason(*f, lang) }).collect()
}

fn pay_path(charge: &Charge) -> String {
    format!("/pay/{}/{}", charge.id, charge.authorize_token)
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The page a final charge shows, wherever the payer opens it: whether they were charged, and what to do
/// next. On the phone that scanned a computer's QR code (`receipt`) it is the wallet's receipt, which sends
/// the payer back to the computer rather than to the shop.
async fn final_page(app: &AppState, charge: &Charge, lang: Lang, receipt: bool) -> Response {
    let t = lang.texts();
    let (heading, reason, next) = match &charge.status {
        ChargeStatus::Successful { .. } => (t.paid_title, None, t.paid_next),
        ChargeStatus::Failed { failure_code, .. } => {
            (t.failed_title, Some(failure_reason(*failure_code, lang)), t.failed_next)
        }
        ChargeStatus::Expired { .. } | ChargeStatus::Pending => (t.expired_title, None, t.expired_next),
    };
    let next = match (receipt, &charge.status) {
        (false, _) => next,
        (true, ChargeStatus::Successful { .. }) => t.receipt_paid_next,
        (true, _) => t.receipt_unpaid_next,
    };
    let shop = shop_of(app, charge).await;
    let page = FinalPage {
        c: Common::new(lang, heading, !charge.livemode()).shop(&shop),
        s: summary(&shop, charge, lang),
        status: charge.status.name(),
        heading,
        reason,
        next,
        back: if receipt { None } else { shop.back_link(charge) },
        receipt,
    };
    html(StatusCode::OK, page)
}

/// The CSRF token for `nonce` on this charge: `<nonce>.<HMAC-SHA256(authorize token, "csrf:<charge>:<nonce>")>`.
fn csrf_token(charge: &Charge, nonce: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(charge.authorize_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("csrf:{}:{nonce}", charge.id).as_bytes());
    format!("{nonce}.{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// Whether `given` is a CSRF token made for this charge.
fn csrf_valid(charge: &Charge, given: &str) -> bool {
    given
        .split_once('.')
        .is_some_and(|(nonce, _)| nonce.len() == 16 && token_matches(&csrf_token(charge, nonce), given))
}

/// A CSRF token for the page's form: the one the browser already holds for this charge, else a new one.
fn csrf_for(headers: &HeaderMap, charge: &Charge) -> (String, Option<String>) {
    if let Some(existing) = cookie(headers, CSRF_COOKIE).filter(|v| csrf_valid(charge, v)) {
        return (existing, None);
    }
    let token = csrf_token(charge, &satang_domain::id::random_base36(16));
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
    with_cookies(&app, res, remember)
}

async fn render_payer_entry(app: &AppState, charge: &Charge, lang: Lang, headers: &HeaderMap) -> Response {
    if charge.status.is_final() {
        return final_page(app, charge, lang, false).await;
    }
    if charge.livemode() {
        return live_entry(app, charge, lang, headers).await;
    }
    let t = lang.texts();
    let shop = shop_of(app, charge).await;
    let s = summary(&shop, charge, lang);
    let base = format!("{}{}", app.public_url, pay_path(charge));
    match screen_for(charge, user_agent(headers)) {
        Screen::Checkout => {
            let (csrf, set) = csrf_for(headers, charge);
            let page = CheckoutPage {
                c: Common::new(lang, t.checkout_title, true).shop(&shop),
                s,
                action: pay_path(charge),
                csrf,
                failures: failure_choices(lang),
                via_qr: false,
            };
            with_cookies(app, html(StatusCode::OK, page), set)
        }
        Screen::Qr => {
            let wallet_url = format!("{base}/wallet?via=qr");
            let qr_svg = match qrcode::QrCode::new(wallet_url.as_bytes()) {
                Ok(code) => {
                    code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build()
                }
                Err(_) => String::new(),
            };
            let page = QrPage {
                c: Common::new(lang, t.scan_title, true).shop(&shop),
                s,
                status_url: format!("{}/status", pay_path(charge)),
                return_uri: charge.return_uri.clone().unwrap_or_default(),
                wallet_url,
                qr_svg,
                app_fallback: charge.source.platform_type.is_some_and(|p| p != PlatformType::Web),
            };
            html(StatusCode::OK, page)
        }
        Screen::Handoff => {
            let page = HandoffPage {
                c: Common::new(lang, t.handoff_title, true).shop(&shop),
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
        LivePage::Final(c) => return final_page(app, c.as_ref(), lang, false).await,
        LivePage::Unavailable => {
            let t = lang.texts();
            let shop = shop_of(app, charge).await;
            let page = MessagePage {
                c: Common::new(lang, t.live_unavailable_title, false).shop(&shop),
                heading: t.live_unavailable_title,
                body: t.live_unavailable_body,
                back: shop.back_link(charge),
            };
            return html(StatusCode::SERVICE_UNAVAILABLE, page);
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
    let shop = shop_of(app, charge).await;
    let s = summary(&shop, charge, lang);
    match h.terminal.unwrap_or(Terminal::Web) {
        Terminal::Web => {
            let code = h.code_value.clone().unwrap_or_else(|| normal.clone());
            let qr_svg = match qrcode::QrCode::new(code.as_bytes()) {
                Ok(q) => q.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build(),
                Err(_) => String::new(),
            };
            let page = QrPage {
                c: Common::new(lang, t.scan_title, false).shop(&shop),
                s,
                status_url: format!("{}/status", pay_path(charge)),
                return_uri: charge.return_uri.clone().unwrap_or_default(),
                wallet_url: normal,
                qr_svg,
                app_fallback: false,
            };
            html(StatusCode::OK, page)
        }
        Terminal::Wap(_) | Terminal::App(_) => {
            let app_url = h.applink_url.clone().or_else(|| h.scheme_url.clone()).unwrap_or_else(|| normal.clone());
            let page = HandoffPage {
                c: Common::new(lang, t.handoff_title, false).shop(&shop),
                s,
                app_url,
                wallet_url: normal,
            };
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
    let via_qr = !is_app && q.via.as_deref() == Some("qr");
    if charge.status.is_final() {
        return with_cookies(&app, final_page(&app, &charge, lang, via_qr).await, remember);
    }
    if charge.livemode() {
        // The simulated wallet is test mode's; a live payer pays in the acquirer's wallet.
        return Redirect::to(&pay_path(&charge)).into_response();
    }
    let (csrf, set) = csrf_for(&headers, &charge);
    let shop = shop_of(&app, &charge).await;
    let page = WalletPage {
        c: Common::new(lang, lang.texts().wallet_title, true).shop(&shop),
        s: summary(&shop, &charge, lang),
        action: pay_path(&charge),
        csrf,
        failures: failure_choices(lang),
        app: is_app,
        via_qr,
    };
    with_cookies(&app, html(StatusCode::OK, page), remember.into_iter().chain(set))
}

#[derive(Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    failure_code: Option<String>,
    /// `qr` from the wallet page a computer's QR code opened: end on the receipt, not at the shop.
    via: Option<String>,
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
    let csrf_ok =
        cookie(&headers, CSRF_COOKIE).is_some_and(|c| csrf_valid(&charge, &form.csrf) && token_matches(&c, &form.csrf));
    if !csrf_ok {
        return message(StatusCode::FORBIDDEN, lang, |t| t.forbidden_title, |t| t.forbidden_body);
    }
    if charge.livemode() {
        return live_page(&app, &charge, lang, StatusCode::FORBIDDEN).await;
    }
    let receipt = form.via.as_deref() == Some("qr");
    let back_to_page = || {
        let to = if receipt { format!("{}/wallet?via=qr", pay_path(&charge)) } else { pay_path(&charge) };
        Redirect::to(&to).into_response()
    };
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
        // The computer that showed the QR code goes to the shop by itself; the phone gets the receipt.
        Ok(_) if receipt => back_to_page(),
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
        let page =
            MessagePage { c: Common::new(Lang::En, "<b>x</b>", false), heading: "<script>", body: "a & b", back: None };
        let out = page.render().unwrap();
        assert!(out.contains("&#60;script&#62;") && out.contains("a &#38; b") && out.contains("&#60;b&#62;x"));
        assert!(!out.contains("<script>"));
    }
}

//! The merchant dashboard at `/dashboard`, served by `satang serve` itself: server-rendered askama pages in
//! Thai and English with no JavaScript, for a shop's staff (users made with `satang user create`).
//!
//! | module | owns |
//! |---|---|
//! | [`auth`] | passwords, login and its rate limit, sessions, CSRF, roles |
//! | [`charge`] | a charge's page: amounts, refunds and the refund form, the payer journey (events with their deliveries, calls to the acquirer), test actions |
//! | [`chart`] | the money page's 30-day chart of volume, fees and net, as inline SVG |
//! | [`i18n`] | the dashboard's words |
//! | [`keys`] | API keys: public keys to copy, the owner's secret-key roll with overlap |
//! | [`password`] | a user's own password, and the first-login change of a one-time password |
//! | [`money`] | balance, transactions, streamed CSV export, the owner's audit log |
//! | [`settings`] | account settings: name, payer-page URLs, allowed origins, default `Omise-Version`, fees |
//! | [`webhooks`] | webhook endpoints (add, remove, roll), the delivery log, redeliver |
//! | this file | routes and pages: login, logout, the test/live switch, the charge list, its filters and search; [`When`], how every page shows a time |
//!
//! Every page but the login page needs a session (else a 303 to `/dashboard/login`); every form carries
//! the session's CSRF token and is refused (403) without it; pages send the payer pages' security headers
//! (CSP without inline script or style, no framing, no caching).
//!
//! The charge list: the search box is the Search API's query ([`crate::store::search`]), with filters for
//! status, method, currency and a range of days (Bangkok time, as the money page's); 25 charges a page, newest first. It must stay fast
//! at 1M charges, so:
//!
//! * It pages by cursor, not by page number: "Older" and "Newer" carry the ID of the page's last (or first)
//!   charge, and the next page is the index range just past that charge's (created, insertion) position
//!   ([`crate::store::Store::browse_charges`]). A page deep in the list costs what the first one does,
//!   where an offset walked every charge before it; and a charge created while someone pages neither
//!   shifts the older pages (no charge seen twice or skipped) nor hides: it is on top of the newest page.
//!   The Omise API keeps its offsets (`GET /charges?offset=`, `GET /search?page=`), as its clients expect.
//! * It counts matches only up to 1,000 ("1,000+"): an exact total would count every matching charge on
//!   every page (1M for the unfiltered list), and past a thousand the number tells staff no more than
//!   "narrow the search".
//! * Each filter has an index with the creation time after it (migrations 0013 and 0016), so a filter
//!   that matches few charges is an index range too rather than a walk of the whole list.

pub mod auth;
pub mod charge;
pub mod chart;
pub mod i18n;
pub mod keys;
pub mod money;
pub mod password;
pub mod settings;
pub mod webhooks;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use satang_domain::{Charge, Timestamp};
use serde::Deserialize;

use crate::api::account::ACCOUNT_CURRENCY;
use crate::app::AppState;
use crate::pages::i18n::{Lang, cookie};
use crate::pages::local_time;
use crate::store::search::{Browse, Cursor, SearchFilters, query_words};
use auth::{LOGIN_CSRF_COOKIE, LoginRefused, MODE_COOKIE, SESSION_COOKIE, SESSION_SECS, Signed};
use i18n::{Words, words};

const CSS: &str = include_str!("../../assets/dashboard.css");
/// Charges a page of the list.
pub const PER_PAGE: u64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/assets/dashboard.css", get(css))
        .route("/dashboard/login", get(login_page).post(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard/mode", post(switch_mode))
        .route("/dashboard", get(charges_page))
        .route("/dashboard/charges/{id}", get(charge::charge_page))
        .route("/dashboard/charges/{id}/refund", post(charge::refund))
        .route("/dashboard/charges/{id}/settle", post(charge::settle))
        .route("/dashboard/webhooks", get(webhooks::page).post(webhooks::add))
        .route("/dashboard/webhooks/{id}/roll", post(webhooks::roll))
        .route("/dashboard/webhooks/{id}/remove", post(webhooks::remove))
        .route("/dashboard/events/{id}/redeliver", post(webhooks::redeliver))
        .route("/dashboard/money", get(money::page))
        .route("/dashboard/keys", get(keys::page))
        .route("/dashboard/keys/roll", post(keys::roll))
        .route("/dashboard/export", get(money::export))
        .route("/dashboard/audit", get(money::audit))
        .route("/dashboard/password", get(password::page).post(password::change))
        .route("/dashboard/settings", get(settings::page).post(settings::save))
        .route("/dashboard/settings/fees", post(settings::save_fee))
}

// ---------------------------------------------------------------------------------------------------------
// Frame: what every page shows around its content.

pub struct Frame {
    pub lang: &'static str,
    /// The zone every time on the page is shown in, named once in the page's footer.
    pub zone: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub w: &'static Words,
    pub title: String,
    pub live: bool,
    pub csrf: String,
    pub email: String,
    pub role: &'static str,
}

impl Frame {
    fn new(lang: Lang, title: &str, signed: Option<&Signed>, csrf: &str) -> Frame {
        Frame {
            lang: lang.code(),
            zone: local_time::zone_name(ACCOUNT_CURRENCY, lang),
            other_lang: lang.other().code(),
            other_lang_name: words(lang.other()).lang_name,
            w: words(lang),
            title: title.to_string(),
            live: signed.is_some_and(|s| s.livemode),
            csrf: csrf.to_string(),
            email: signed.map(|s| s.user.email.clone()).unwrap_or_default(),
            role: signed.map(|s| s.user.role.as_str()).unwrap_or(""),
        }
    }

    fn signed(lang: Lang, title: &str, s: &Signed) -> Frame {
        Frame::new(lang, title, Some(s), &s.session.csrf)
    }
}

/// A time as the dashboard shows it, as the payer pages do ([`local_time`]): in the zone of the account's
/// currency (Bangkok time), in the page's language and date style, to the second; inside
/// `<time datetime="…">`, so the exact instant (ISO 8601, UTC) stays machine-readable. The CSV export
/// keeps plain ISO UTC.
pub struct When {
    iso: String,
    text: String,
}

impl When {
    pub fn new(at: Timestamp, lang: Lang) -> When {
        When { iso: at.iso(), text: local_time::with_seconds(at, ACCOUNT_CURRENCY, lang) }
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Both parts are made here from a number and fixed words: nothing in them needs escaping.
        write!(f, "<time datetime=\"{}\">{}</time>", self.iso, self.text)
    }
}

/// A `When` is written into pages as its markup.
impl askama::filters::HtmlSafe for When {}

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The page's language; a `?lang=` choice is remembered in the `satang_lang` cookie.
fn lang_of(query: Option<&str>, headers: &HeaderMap) -> Lang {
    Lang::pick(query, headers)
}

pub fn html(status: StatusCode, page: impl Template, lang_choice: Option<&str>) -> Response {
    let mut res = match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, "dashboard page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    };
    security_headers(&mut res);
    remember_lang(res, lang_choice)
}

/// Remembers a `?lang=` choice in the `satang_lang` cookie (nothing when there was no valid choice).
pub fn remember_lang(res: Response, lang_choice: Option<&str>) -> Response {
    match lang_choice.and_then(Lang::parse) {
        Some(l) => with_cookie(res, format!("satang_lang={}; Path=/; Max-Age=31536000; SameSite=Lax", l.code())),
        None => res,
    }
}

pub fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
    );
}

fn with_cookie(mut res: Response, value: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn see_other(to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    security_headers(&mut res);
    res
}

async fn css() -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// A refusal page (403 for a missing CSRF token or a role that may not do this).
pub fn forbidden(lang: Lang, message: &str) -> Response {
    #[derive(Template)]
    #[template(
        source = "{% extends \"dashboard/base.html\" %}{% block content %}<h1>403</h1><p class=\"error\" id=\"forbidden\">{{ message }}</p><p><a href=\"/dashboard\">{{ f.w.dashboard }}</a></p>{% endblock %}",
        ext = "html"
    )]
    struct Forbidden {
        f: Frame,
        message: String,
    }
    html(StatusCode::FORBIDDEN, Forbidden { f: Frame::new(lang, "403", None, ""), message: message.into() }, None)
}

// ---------------------------------------------------------------------------------------------------------
// Login and logout.

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    f: Frame,
    error: Option<&'static str>,
    email: String,
}

fn login_form(app: &AppState, lang: Lang, status: StatusCode, error: Option<&'static str>, email: String) -> Response {
    let csrf = satang_domain::id::random_base36(32);
    let page = LoginPage { f: Frame::new(lang, words(lang).login_title, None, &csrf), error, email };
    with_cookie(html(status, page, None), auth::set_cookie(app, LOGIN_CSRF_COOKIE, &csrf, 3600, "Strict"))
}

async fn login_page(State(app): State<AppState>, Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = lang_of(q.lang.as_deref(), &headers);
    remember_lang(login_form(&app, lang, StatusCode::OK, None, String::new()), q.lang.as_deref())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = lang_of(None, &headers);
    let w = words(lang);
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !crate::pages::token_matches(&expected, &form.csrf) {
        return login_form(&app, lang, StatusCode::FORBIDDEN, Some(w.expired_form), form.email);
    }
    match auth::login(&app, &form.email, &form.password).await {
        Ok((token, _)) => {
            let res = see_other("/dashboard");
            let res = with_cookie(res, auth::set_cookie(&app, SESSION_COOKIE, &token, SESSION_SECS, "Lax"));
            with_cookie(res, auth::set_cookie(&app, LOGIN_CSRF_COOKIE, "", 0, "Strict"))
        }
        Err(LoginRefused::BadCredentials) => {
            login_form(&app, lang, StatusCode::UNAUTHORIZED, Some(w.bad_credentials), form.email)
        }
        Err(LoginRefused::TooManyAttempts) => {
            login_form(&app, lang, StatusCode::TOO_MANY_REQUESTS, Some(w.too_many_attempts), form.email)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

async fn logout(State(app): State<AppState>, headers: HeaderMap, s: Signed, Form(form): Form<CsrfForm>) -> Response {
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang_of(None, &headers), words(lang_of(None, &headers)).expired_form);
    }
    let _ = app.store.delete_session(&s.session.token_hash).await;
    with_cookie(see_other("/dashboard/login"), auth::set_cookie(&app, SESSION_COOKIE, "", 0, "Lax"))
}

/// The test/live switch: a preference of this browser, under the session's CSRF token.
async fn switch_mode(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang_of(None, &headers), words(lang_of(None, &headers)).expired_form);
    }
    let to = if form.to == "live" { "live" } else { "test" };
    with_cookie(see_other("/dashboard"), auth::set_cookie(&app, MODE_COOKIE, to, SESSION_SECS, "Lax"))
}

// ---------------------------------------------------------------------------------------------------------
// Charges.

pub struct Row {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub method: &'static str,
    pub description: String,
    pub created: When,
}

impl Row {
    fn new(c: &Charge, lang: Lang) -> Row {
        Row {
            id: c.id.to_string(),
            amount: c.currency.format(c.amount),
            status: c.status.name(),
            method: c.source.method.name,
            description: c.description.clone().unwrap_or_default(),
            created: When::new(c.created_at, lang),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/charges.html")]
struct ChargesPage {
    f: Frame,
    filters: Filters,
    statuses: [&'static str; 4],
    methods: Vec<(&'static str, &'static str)>,
    currencies: Vec<&'static str>,
    rows: Vec<Row>,
    /// The matches, counted up to [`COUNT_CAP`] ("1,000+" past it).
    count: String,
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
}

/// The list's matches are counted up to this many; past it the page says "1,000+".
pub const COUNT_CAP: u64 = 1_000;

#[derive(Deserialize, Default)]
struct ListQuery {
    lang: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The page of charges older than this one.
    #[serde(default)]
    older: String,
    /// The page of charges newer than this one.
    #[serde(default)]
    newer: String,
}

/// The list's filters as the form shows them: each one known to the page, or empty.
#[derive(Default)]
struct Filters {
    q: String,
    status: String,
    method: String,
    currency: String,
    from: String,
    to: String,
}

impl Filters {
    const STATUSES: [&'static str; 4] = ["pending", "successful", "failed", "expired"];

    fn parse(lq: &ListQuery) -> Filters {
        let status = Self::STATUSES.iter().find(|x| **x == lq.status).map(|x| x.to_string()).unwrap_or_default();
        let method = satang_domain::PaymentMethod::lookup(&lq.method).map(|m| m.name.to_string()).unwrap_or_default();
        let currency = lq
            .currency
            .parse::<satang_domain::Currency>()
            .ok()
            .filter(|c| currencies().contains(&c.code()))
            .map(|c| c.code().to_string())
            .unwrap_or_default();
        let date = |s: &str| money::day(s, false).map(|_| s.to_string()).unwrap_or_default();
        Filters { q: lq.q.clone(), status, method, currency, from: date(&lq.from), to: date(&lq.to) }
    }

    fn search(&self) -> SearchFilters {
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        let created = match (money::day(&self.from, false), money::day(&self.to, true)) {
            (None, None) => None,
            (from, to) => Some((
                from.unwrap_or(satang_domain::Timestamp::EPOCH),
                to.unwrap_or(satang_domain::Timestamp::from_unix(i64::MAX / 4)),
            )),
        };
        SearchFilters {
            status: some(&self.status),
            currency: self.currency.parse().ok(),
            source_type: some(&self.method),
            created,
            ..Default::default()
        }
    }

    /// `/dashboard?` with the filters that are set, and `extra` (`older=…` or `newer=…`) if any.
    fn link(&self, extra: Option<(&str, &str)>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("method", &self.method),
            ("currency", &self.currency),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        if let Some((k, v)) = extra {
            parts.push(format!("{k}={}", urlencode(v)));
        }
        if parts.is_empty() { "/dashboard".into() } else { format!("/dashboard?{}", parts.join("&")) }
    }
}

/// The currencies the payment methods take, for the currency filter.
fn currencies() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for m in satang_domain::REGISTRY {
        for l in m.currencies {
            if !out.contains(&l.currency.code()) {
                out.push(l.currency.code());
            }
        }
    }
    out
}

async fn charges_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Query(lq): Query<ListQuery>,
) -> Response {
    let lang = lang_of(lq.lang.as_deref(), &headers);
    let filters = Filters::parse(&lq);
    let cursor =
        if let Ok(id) = lq.older.parse() { Some(Cursor::Older(id)) } else { lq.newer.parse().ok().map(Cursor::Newer) };
    let mut q = Browse {
        words: query_words(&filters.q),
        filters: filters.search(),
        cursor,
        limit: PER_PAGE,
        count_up_to: COUNT_CAP + 1,
    };
    let mut found = match app.store.browse_charges(&s.scope(), &q).await {
        Ok(f) => f,
        Err(e) => return crate::api::error::ApiError::from(e).into_response(),
    };
    // Nothing newer past this page: it is the newest, so show the newest full page.
    if matches!(q.cursor, Some(Cursor::Newer(_))) && found.cursor_found && !found.more {
        q.cursor = None;
        found = match app.store.browse_charges(&s.scope(), &q).await {
            Ok(f) => f,
            Err(e) => return crate::api::error::ApiError::from(e).into_response(),
        };
    }
    let first = found.items.first().map(|c| c.id.to_string());
    let last = found.items.last().map(|c| c.id.to_string());
    let (newer, older) = match (&q.cursor, found.cursor_found) {
        (Some(Cursor::Older(at)), true) => {
            (Some(first.clone().unwrap_or_else(|| at.to_string())), last.clone().filter(|_| found.more))
        }
        (Some(Cursor::Newer(_)), true) => (first.clone(), last.clone()),
        _ => (None, last.clone().filter(|_| found.more)),
    };
    let on_first = newer.is_none();
    let view = ChargesPage {
        f: Frame::signed(lang, words(lang).charges, &s),
        statuses: Filters::STATUSES,
        methods: satang_domain::REGISTRY.iter().map(|m| (m.name, m.display_name)).collect(),
        currencies: currencies(),
        rows: found.items.iter().map(|c| Row::new(c, lang)).collect(),
        count: if found.count > COUNT_CAP { "1,000+".into() } else { found.count.to_string() },
        newest: (!on_first).then(|| filters.link(None)),
        newer: newer.map(|id| filters.link(Some(("newer", &id)))),
        older: older.map(|id| filters.link(Some(("older", &id)))),
        filters,
    };
    html(StatusCode::OK, view, lq.lang.as_deref())
}

/// Percent-encoding for a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

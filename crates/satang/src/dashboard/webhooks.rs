//! Webhook endpoints of the account and mode: add, remove, roll the secret (the old one keeps signing for
//! 24 h, as `satang webhook roll-secret` does), the delivery log of recent events with each attempt's
//! target, status, latency and the start of the receiver's answer, and redeliver. Changes need an admin or
//! owner and the CSRF token; adding, removing, rolling and redelivering write their audit row in the same
//! transaction as the change ([`PENDING_AUDIT`]).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use satang_domain::{EndpointId, EventId};
use serde::Deserialize;

use super::auth::Signed;
use super::charge::{EventRow, event_rows};
use super::i18n::words;
use super::{Frame, When, forbidden, html, lang_of, see_other};
use crate::app::AppState;
use crate::pages::i18n::Lang;
use crate::store::users::PENDING_AUDIT;
use crate::store::{ListQuery, Order, WebhookEndpoint};
use crate::webhooks::endpoints;

pub struct WebhookWords {
    pub title: &'static str,
    pub none: &'static str,
    pub secret: &'static str,
    pub previous_until: &'static str,
    pub actions: &'static str,
    pub roll: &'static str,
    pub remove: &'static str,
    pub add_label: &'static str,
    pub add: &'static str,
    pub log: &'static str,
    pub event: &'static str,
    pub attempts: &'static str,
    pub redeliver: &'static str,
}

fn webhook_words(lang: Lang) -> &'static WebhookWords {
    static EN: WebhookWords = WebhookWords {
        title: "Webhooks",
        none: "No webhook endpoints yet.",
        secret: "Signing secret",
        previous_until: "previous secret valid until",
        actions: "Actions",
        roll: "Roll secret",
        remove: "Remove",
        add_label: "Endpoint URL",
        add: "Add endpoint",
        log: "Delivery log",
        event: "Event",
        attempts: "Attempts",
        redeliver: "Redeliver",
    };
    static TH: WebhookWords = WebhookWords {
        title: "เว็บฮุค",
        none: "ยังไม่มีปลายทางเว็บฮุค",
        secret: "รหัสลับสำหรับลงนาม",
        previous_until: "รหัสลับเดิมใช้ได้ถึง",
        actions: "การดำเนินการ",
        roll: "เปลี่ยนรหัสลับ",
        remove: "ลบ",
        add_label: "URL ปลายทาง",
        add: "เพิ่มปลายทาง",
        log: "บันทึกการส่ง",
        event: "เหตุการณ์",
        attempts: "ความพยายามส่ง",
        redeliver: "ส่งอีกครั้ง",
    };
    match lang {
        Lang::En => &EN,
        Lang::Th => &TH,
    }
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub previous_until: Option<When>,
    pub created: When,
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct WebhooksPage {
    f: Frame,
    t: &'static WebhookWords,
    endpoints: Vec<EndpointRow>,
    events: Vec<EventRow>,
    can_change: bool,
    error: Option<String>,
}

async fn render(app: &AppState, lang: Lang, s: &Signed, status: StatusCode, error: Option<String>) -> Response {
    let scope = s.scope();
    let eps = app.store.list_endpoints(&scope.account, Some(scope.livemode)).await.unwrap_or_default();
    let q = ListQuery {
        from: satang_domain::Timestamp::EPOCH,
        to: app.now(),
        offset: 0,
        limit: 20,
        order: Order::ReverseChronological,
        whole: true,
    };
    let events = event_rows(app, &scope, None, q, lang).await;
    let page = WebhooksPage {
        f: Frame::signed(lang, webhook_words(lang).title, s),
        t: webhook_words(lang),
        endpoints: eps
            .iter()
            .map(|e| EndpointRow {
                id: e.id.to_string(),
                url: e.url.clone(),
                // A viewer sees that there is a secret, not the secret.
                secret: if s.can_change() { e.secret.clone() } else { "••••••••".into() },
                previous_until: e.previous_until.map(|t| When::new(t, lang)),
                created: When::new(e.created_at, lang),
            })
            .collect(),
        events,
        can_change: s.can_change(),
        error,
    };
    html(status, page, None)
}

pub async fn page(State(app): State<AppState>, headers: HeaderMap, s: Signed) -> Response {
    render(&app, lang_of(None, &headers), &s, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct EndpointForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

fn may_change(lang: Lang, s: &Signed, csrf: &str) -> Option<Response> {
    if !s.csrf_ok(csrf) {
        return Some(forbidden(lang, words(lang).expired_form));
    }
    if !s.can_change() {
        return Some(forbidden(lang, "viewer"));
    }
    None
}

pub async fn add(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Form(form): Form<EndpointForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(r) = may_change(lang, &s, &form.csrf) {
        return r;
    }
    let scope = s.scope();
    let url = form.url.trim().to_string();
    let audit = s.audit("webhook_endpoint.create", url.clone(), app.now());
    let added = PENDING_AUDIT
        .scope(audit, endpoints::add(&app.store, &scope.account, scope.livemode, &url, app.webhook_policy, app.now()))
        .await;
    match added {
        Ok(_) => see_other("/dashboard/webhooks"),
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    }
}

/// The endpoint, if it is this session's account and mode.
async fn owned(app: &AppState, s: &Signed, id: &str) -> Option<WebhookEndpoint> {
    let id: EndpointId = id.parse().ok()?;
    let ep = app.store.get_endpoint(&id).await.ok()?;
    (ep.account == s.user.account && ep.livemode == s.livemode).then_some(ep)
}

fn not_found(lang: Lang) -> Response {
    let mut res = forbidden(lang, "404");
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn roll(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(r) = may_change(lang, &s, &form.csrf) {
        return r;
    }
    let Some(ep) = owned(&app, &s, &id).await else { return not_found(lang) };
    let audit = s.audit("webhook_endpoint.roll_secret", ep.id.to_string(), app.now());
    match PENDING_AUDIT.scope(audit, endpoints::roll(&app.store, &ep.id, app.now())).await {
        Ok(_) => see_other("/dashboard/webhooks"),
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    }
}

pub async fn remove(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(r) = may_change(lang, &s, &form.csrf) {
        return r;
    }
    let Some(ep) = owned(&app, &s, &id).await else { return not_found(lang) };
    let audit = s.audit("webhook_endpoint.delete", format!("{} {}", ep.id, ep.url), app.now());
    match PENDING_AUDIT.scope(audit, app.store.delete_endpoint(&ep.id, app.now())).await {
        Ok(()) => see_other("/dashboard/webhooks"),
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    }
}

pub async fn redeliver(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let lang = lang_of(None, &headers);
    if let Some(r) = may_change(lang, &s, &form.csrf) {
        return r;
    }
    let Ok(id) = id.parse::<EventId>() else { return not_found(lang) };
    let audit = s.audit("event.redeliver", id.to_string(), app.now());
    match PENDING_AUDIT.scope(audit, app.store.redeliver(&s.scope(), &id, app.now())).await {
        Ok(_) => {
            app.store.outbox_signal().notify_one();
            see_other("/dashboard/webhooks")
        }
        Err(crate::store::StoreError::NotFound { .. }) => not_found(lang),
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, Some(e.to_string())).await,
    }
}

//! Account settings (`/dashboard/settings`): the name payers see, the logo, shop and support URLs on the
//! payer pages, the web origins allowed to use the public key, the default `Omise-Version`, and the fee
//! schedule of every method and currency.
//!
//! Who may do what, checked here on every POST (the page only hides what a role cannot use): a viewer
//! reads everything; an admin also changes the account settings; only an owner changes fees. Every change
//! needs the session's CSRF token (403 without), is validated before anything is written (400 with the
//! reason on the page, nothing changed), and writes its audit row in the change's own transaction
//! ([`crate::store::users::PENDING_AUDIT`], read by `set_account_settings` and `set_fee_schedule`).
//!
//! The payer pages' URLs (logo, shop, support) must be `https://`, or `http://` on localhost for a shop
//! being built: the payer pages' CSP loads images only over https, and a payment page should not send
//! payers to plain http. The default version applies to requests without `Omise-Version` and to webhook
//! payloads; this node's key cache is cleared on save, other nodes pick the change up within
//! [`crate::api::auth::KEY_CACHE_TTL`]. A fee change applies to charges created after it; existing charges
//! keep the fees they were created with.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use satang_domain::{Amount, Currency, FeeSchedule, PaymentMethod, Percent, REGISTRY};
use serde::Deserialize;

use super::auth::{Signed, store_message};
use super::i18n::words;
use super::{Frame, forbidden, html, lang_of, see_other};
use crate::api::error::ApiError;
use crate::api::version::ApiVersion;
use crate::app::AppState;
use crate::pages::i18n::Lang;
use crate::store::users::{PENDING_AUDIT, Role};
use crate::store::{Account, AccountSettings, CheckoutSettings};

/// The longest account name accepted (payer pages show it in a narrow top bar).
pub const MAX_NAME_CHARS: usize = 100;
/// The longest URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// The settings page's own words.
pub struct SettingsWords {
    pub title: &'static str,
    pub both_modes: &'static str,
    pub account_id: &'static str,
    pub name: &'static str,
    pub name_hint: &'static str,
    pub logo_url: &'static str,
    pub logo_hint: &'static str,
    pub shop_url: &'static str,
    pub shop_hint: &'static str,
    pub support_url: &'static str,
    pub support_hint: &'static str,
    pub origins: &'static str,
    pub origins_hint: &'static str,
    pub api_version: &'static str,
    pub api_version_hint: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub unchanged: &'static str,
    pub none: &'static str,
    pub any_origin: &'static str,
    pub read_only: &'static str,
    pub fees: &'static str,
    pub fees_hint: &'static str,
    pub fees_read_only: &'static str,
    pub currency: &'static str,
    pub fee_rate: &'static str,
    pub fee_vat: &'static str,
    pub fee_flat: &'static str,
    pub fee_source: &'static str,
    pub fee_own: &'static str,
    pub fee_standard: &'static str,
    pub save_fee: &'static str,
    pub fee_saved: &'static str,
    pub bad_name: &'static str,
    pub bad_url: &'static str,
    pub bad_origin: &'static str,
    pub bad_version: &'static str,
    pub bad_method: &'static str,
    pub bad_percent: &'static str,
    pub bad_amount: &'static str,
    pub not_allowed: &'static str,
    pub owners_only: &'static str,
}

pub fn settings_words(lang: Lang) -> &'static SettingsWords {
    static EN: SettingsWords = SettingsWords {
        title: "Account settings",
        both_modes: "These settings apply to test and live mode alike.",
        account_id: "Account ID",
        name: "Account name",
        name_hint: "Payers see this name on the payment pages.",
        logo_url: "Logo URL",
        logo_hint: "An https image shown beside the name on the payment pages.",
        shop_url: "Shop URL",
        shop_hint: "Your shop's home page: the payment pages link back to it.",
        support_url: "Support URL",
        support_hint: "The payment pages show “Need help? Contact your shop” with a link to this page.",
        origins: "Allowed websites",
        origins_hint: "Websites that may use the public key, separated by commas or spaces \
                       (https://shop.example). Leave empty to allow any.",
        api_version: "Default API version (Omise-Version)",
        api_version_hint: "Used by API requests that send no Omise-Version header, and by webhooks.",
        save: "Save settings",
        saved: "Settings saved.",
        unchanged: "Nothing was changed.",
        none: "None",
        any_origin: "Any website",
        read_only: "Your role can view the settings but not change them.",
        fees: "Fees",
        fees_hint: "Applied to new charges; charges already made keep the fees they were made with.",
        fees_read_only: "Only an owner can change fees.",
        currency: "Currency",
        fee_rate: "Fee (%)",
        fee_vat: "VAT on the fee (%)",
        fee_flat: "Flat fee per charge",
        fee_source: "Rate",
        fee_own: "Set for this account",
        fee_standard: "Standard",
        save_fee: "Save",
        fee_saved: "Fees saved.",
        bad_name: "The account name must have 1 to 100 characters.",
        bad_url: "must be an address starting with https:// (http:// only for localhost).",
        bad_origin: "is not a website address like https://shop.example (no path after the host).",
        bad_version: "Choose one of the listed API versions.",
        bad_method: "There is no such payment method and currency.",
        bad_percent: "must be a percentage from 0 to 100 with at most 4 decimals.",
        bad_amount: "must be an amount of 0 or more, with no more decimals than the currency has.",
        not_allowed: "Your role cannot change settings.",
        owners_only: "Only an owner can change fees.",
    };
    static TH: SettingsWords = SettingsWords {
        title: "ตั้งค่าบัญชี",
        both_modes: "การตั้งค่าเหล่านี้ใช้กับทั้งโหมดทดสอบและโหมดใช้งานจริง",
        account_id: "รหัสบัญชี",
        name: "ชื่อบัญชี",
        name_hint: "ผู้ชำระเงินจะเห็นชื่อนี้ในหน้าชำระเงิน",
        logo_url: "URL โลโก้",
        logo_hint: "รูปภาพ https ที่แสดงข้างชื่อร้านในหน้าชำระเงิน",
        shop_url: "URL ร้านค้า",
        shop_hint: "หน้าแรกของร้าน หน้าชำระเงินจะมีลิงก์กลับมาที่หน้านี้",
        support_url: "URL ฝ่ายช่วยเหลือ",
        support_hint: "หน้าชำระเงินจะแสดง “ต้องการความช่วยเหลือ? ติดต่อร้านค้า” พร้อมลิงก์มาที่หน้านี้",
        origins: "เว็บไซต์ที่อนุญาต",
        origins_hint: "เว็บไซต์ที่ใช้คีย์สาธารณะได้ คั่นด้วยจุลภาคหรือเว้นวรรค (https://shop.example) \
                       เว้นว่างไว้เพื่ออนุญาตทุกเว็บไซต์",
        api_version: "เวอร์ชัน API เริ่มต้น (Omise-Version)",
        api_version_hint: "ใช้กับคำขอ API ที่ไม่ได้ส่งส่วนหัว Omise-Version และกับเว็บฮุค",
        save: "บันทึกการตั้งค่า",
        saved: "บันทึกการตั้งค่าแล้ว",
        unchanged: "ไม่มีการเปลี่ยนแปลง",
        none: "ไม่มี",
        any_origin: "ทุกเว็บไซต์",
        read_only: "บทบาทของคุณดูการตั้งค่าได้ แต่แก้ไขไม่ได้",
        fees: "ค่าธรรมเนียม",
        fees_hint: "ใช้กับรายการชำระเงินใหม่ รายการที่สร้างไปแล้วยังคงใช้ค่าธรรมเนียมเดิม",
        fees_read_only: "เฉพาะเจ้าของบัญชีเท่านั้นที่แก้ไขค่าธรรมเนียมได้",
        currency: "สกุลเงิน",
        fee_rate: "ค่าธรรมเนียม (%)",
        fee_vat: "ภาษีมูลค่าเพิ่มของค่าธรรมเนียม (%)",
        fee_flat: "ค่าธรรมเนียมคงที่ต่อรายการ",
        fee_source: "อัตรา",
        fee_own: "กำหนดเฉพาะบัญชีนี้",
        fee_standard: "มาตรฐาน",
        save_fee: "บันทึก",
        fee_saved: "บันทึกค่าธรรมเนียมแล้ว",
        bad_name: "ชื่อบัญชีต้องมี 1 ถึง 100 ตัวอักษร",
        bad_url: "ต้องเป็นที่อยู่ที่ขึ้นต้นด้วย https:// (ใช้ http:// ได้เฉพาะ localhost)",
        bad_origin: "ไม่ใช่ที่อยู่เว็บไซต์แบบ https://shop.example (ห้ามมี path ต่อท้าย)",
        bad_version: "กรุณาเลือกเวอร์ชัน API จากรายการ",
        bad_method: "ไม่มีช่องทางชำระเงินและสกุลเงินนี้",
        bad_percent: "ต้องเป็นเปอร์เซ็นต์ตั้งแต่ 0 ถึง 100 ทศนิยมไม่เกิน 4 ตำแหน่ง",
        bad_amount: "ต้องเป็นจำนวนเงินตั้งแต่ 0 ขึ้นไป ทศนิยมไม่เกินที่สกุลเงินนั้นมี",
        not_allowed: "บทบาทของคุณไม่สามารถแก้ไขการตั้งค่าได้",
        owners_only: "เฉพาะเจ้าของบัญชีเท่านั้นที่แก้ไขค่าธรรมเนียมได้",
    };
    match lang {
        Lang::En => &EN,
        Lang::Th => &TH,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Validation: pure functions, so the rules are unit-tested without a server.

/// Why a URL of the payer pages was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadUrl;

/// A URL the payer pages may show or load: empty means none; otherwise `https://host…`, or `http://` on
/// localhost, with no user or password in it. Returns it as the URL parser writes it.
pub fn payer_url(input: &str) -> Result<Option<String>, BadUrl> {
    let v = input.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_URL_CHARS {
        return Err(BadUrl);
    }
    let u = reqwest::Url::parse(v).map_err(|_| BadUrl)?;
    let local = matches!(u.host(), Some(url_host) if is_local(&url_host.to_string()));
    let ok_scheme = u.scheme() == "https" || (u.scheme() == "http" && local);
    if !ok_scheme || u.host().is_none() || !u.username().is_empty() || u.password().is_some() {
        return Err(BadUrl);
    }
    Ok(Some(u.to_string()))
}

fn is_local(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// The allow-list as typed (commas, spaces or lines between origins): each must be a web origin, `http` or
/// `https` (browsers send `http://localhost:3000` from a shop being built). Empty means any origin.
pub fn origins(input: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for o in input.split(|c: char| c == ',' || c.is_whitespace()).filter(|o| !o.is_empty()) {
        let u = reqwest::Url::parse(o).map_err(|_| o.to_string())?;
        if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
            return Err(o.to_string());
        }
        let origin = u.origin().ascii_serialization();
        if origin.trim_end_matches('/') != o.trim_end_matches('/').to_ascii_lowercase() {
            return Err(o.to_string());
        }
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

/// The account name as kept: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn account_name(input: &str) -> Option<String> {
    let n = input.trim();
    let len = n.chars().count();
    ((1..=MAX_NAME_CHARS).contains(&len) && !n.chars().any(char::is_control)).then(|| n.to_string())
}

/// A fee schedule as the form sends it, checked against the registry.
pub fn fee_schedule(
    method: &str,
    currency: &str,
    rate: &str,
    vat: &str,
    flat: &str,
    w: &SettingsWords,
) -> Result<(&'static PaymentMethod, Currency, FeeSchedule), String> {
    let m = PaymentMethod::lookup(method).ok_or_else(|| w.bad_method.to_string())?;
    let currency: Currency = currency.parse().map_err(|_| w.bad_method.to_string())?;
    if m.limit(currency).is_none() {
        return Err(w.bad_method.to_string());
    }
    let rate: Percent = rate.trim().parse().map_err(|_| format!("{} {}", w.fee_rate, w.bad_percent))?;
    let vat_rate: Percent = vat.trim().parse().map_err(|_| format!("{} {}", w.fee_vat, w.bad_percent))?;
    let flat = crate::api::search::major_to_subunits(flat.trim(), currency.exponent())
        .and_then(|n| Amount::new(n).ok())
        .ok_or_else(|| format!("{} ({}) {}", w.fee_flat, currency.code(), w.bad_amount))?;
    Ok((m, currency, FeeSchedule { rate, vat_rate, flat }))
}

/// An amount as a form field shows and reads it: major units with the currency's digits (`10.50`).
fn form_number(currency: Currency, amount: Amount) -> String {
    let exp = currency.exponent();
    let scale = 10i64.pow(exp);
    let (major, minor) = (amount.subunits() / scale, amount.subunits() % scale);
    if exp == 0 { major.to_string() } else { format!("{major}.{minor:0width$}", width = exp as usize) }
}

/// A schedule in words, as the audit log keeps it.
fn describe(currency: Currency, s: &FeeSchedule) -> String {
    format!("{}% + VAT {}% on the fee + flat {}", s.rate, s.vat_rate, currency.format(s.flat))
}

// ---------------------------------------------------------------------------------------------------------
// The page.

/// The settings form's values: the stored ones, or what was typed when it was refused.
pub struct SettingsForm {
    pub name: String,
    pub logo_url: String,
    pub shop_url: String,
    pub support_url: String,
    pub allowed_origins: String,
    pub api_version: String,
}

impl SettingsForm {
    fn of(a: &Account) -> SettingsForm {
        SettingsForm {
            name: a.name.clone(),
            logo_url: a.checkout.logo_url.clone().unwrap_or_default(),
            shop_url: a.checkout.shop_url.clone().unwrap_or_default(),
            support_url: a.checkout.support_url.clone().unwrap_or_default(),
            allowed_origins: a.checkout.allowed_origins.join(", "),
            api_version: a.api_version.clone(),
        }
    }
}

pub struct FeeRow {
    pub method: &'static str,
    pub method_name: &'static str,
    pub currency: &'static str,
    /// `alipay-THB`: the row's form is `fee-<key>`.
    pub key: String,
    pub rate: String,
    pub vat: String,
    pub flat: String,
    pub flat_shown: String,
    pub own: bool,
}

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    f: Frame,
    t: &'static SettingsWords,
    account_id: String,
    form: SettingsForm,
    versions: Vec<&'static str>,
    can_change: bool,
    owner: bool,
    fees: Vec<FeeRow>,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn fee_rows(app: &AppState, account: &satang_domain::AccountId) -> Result<Vec<FeeRow>, crate::store::StoreError> {
    let mut rows = Vec::new();
    for m in REGISTRY {
        for l in m.currencies {
            let own = app.store.fee_schedule(account, m.name, l.currency).await?;
            let s = own.unwrap_or(l.default_fees);
            rows.push(FeeRow {
                method: m.name,
                method_name: m.display_name,
                currency: l.currency.code(),
                key: format!("{}-{}", m.name, l.currency.code()),
                rate: s.rate.to_string(),
                vat: s.vat_rate.to_string(),
                flat: form_number(l.currency, s.flat),
                flat_shown: l.currency.format(s.flat),
                own: own.is_some(),
            });
        }
    }
    Ok(rows)
}

async fn render(
    app: &AppState,
    lang: Lang,
    s: &Signed,
    status: StatusCode,
    typed: Option<SettingsForm>,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let account = match app.store.get_account(&s.user.account).await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let fees = match fee_rows(app, &account.id).await {
        Ok(f) => f,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let t = settings_words(lang);
    let page = SettingsPage {
        f: Frame::signed(lang, t.title, s),
        t,
        account_id: account.id.to_string(),
        form: typed.unwrap_or_else(|| SettingsForm::of(&account)),
        versions: ApiVersion::ALL.iter().map(|v| v.as_str()).collect(),
        can_change: s.can_change(),
        owner: s.user.role == Role::Owner,
        fees,
        error,
        notice,
    };
    html(status, page, None)
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, headers: HeaderMap, s: Signed, Query(q): Query<PageQuery>) -> Response {
    let lang = lang_of(q.lang.as_deref(), &headers);
    let t = settings_words(lang);
    let notice = match q.done.as_deref() {
        Some("settings") => Some(t.saved),
        Some("fees") => Some(t.fee_saved),
        Some("unchanged") => Some(t.unchanged),
        _ => None,
    };
    super::remember_lang(render(&app, lang, &s, StatusCode::OK, None, None, notice).await, q.lang.as_deref())
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    logo_url: String,
    #[serde(default)]
    shop_url: String,
    #[serde(default)]
    support_url: String,
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    api_version: String,
}

/// The settings a form asks for, or the first reason it cannot be saved.
fn parse_settings(form: &SaveForm, t: &SettingsWords) -> Result<AccountSettings, String> {
    let name = account_name(&form.name).ok_or_else(|| t.bad_name.to_string())?;
    let url = |label: &str, v: &str| payer_url(v).map_err(|_| format!("{label} {}", t.bad_url));
    let logo_url = url(t.logo_url, &form.logo_url)?;
    let shop_url = url(t.shop_url, &form.shop_url)?;
    let support_url = url(t.support_url, &form.support_url)?;
    let allowed_origins = origins(&form.allowed_origins).map_err(|o| format!("{}: {o} {}", t.origins, t.bad_origin))?;
    let api_version = ApiVersion::parse(&form.api_version).ok_or_else(|| t.bad_version.to_string())?;
    Ok(AccountSettings {
        name,
        api_version: api_version.as_str().to_string(),
        checkout: CheckoutSettings { allowed_origins, shop_url, logo_url, support_url },
    })
}

/// What a save changes, as the audit log says it (`field: old → new; …`); empty when nothing.
fn changes(before: &AccountSettings, after: &AccountSettings) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let origins = |v: &CheckoutSettings| v.origins_column().unwrap_or_else(|| "any".into());
    let mut out = Vec::new();
    let mut field = |name: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{name}: {old} → {new}"));
        }
    };
    field("name", before.name.clone(), after.name.clone());
    field("api_version", before.api_version.clone(), after.api_version.clone());
    field("logo_url", opt(&before.checkout.logo_url), opt(&after.checkout.logo_url));
    field("shop_url", opt(&before.checkout.shop_url), opt(&after.checkout.shop_url));
    field("support_url", opt(&before.checkout.support_url), opt(&after.checkout.support_url));
    field("allowed_origins", origins(&before.checkout), origins(&after.checkout));
    out.join("; ")
}

pub async fn save(State(app): State<AppState>, headers: HeaderMap, s: Signed, Form(form): Form<SaveForm>) -> Response {
    let lang = lang_of(None, &headers);
    let t = settings_words(lang);
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang, words(lang).expired_form);
    }
    if !s.can_change() {
        return forbidden(lang, t.not_allowed);
    }
    let wanted = match parse_settings(&form, t) {
        Ok(w) => w,
        Err(msg) => {
            let typed = SettingsForm {
                name: form.name,
                logo_url: form.logo_url,
                shop_url: form.shop_url,
                support_url: form.support_url,
                allowed_origins: form.allowed_origins,
                api_version: form.api_version,
            };
            return render(&app, lang, &s, StatusCode::BAD_REQUEST, Some(typed), Some(msg), None).await;
        }
    };
    let current = match app.store.get_account(&s.user.account).await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let before = AccountSettings { name: current.name, api_version: current.api_version, checkout: current.checkout };
    let detail = changes(&before, &wanted);
    if detail.is_empty() {
        return see_other("/dashboard/settings?done=unchanged");
    }
    let audit = s.audit("account.settings", detail, app.now());
    match PENDING_AUDIT.scope(audit, app.store.set_account_settings(&s.user.account, &wanted)).await {
        Ok(()) => {
            // Cached key grants carry the name and the default version.
            app.keys.forget_all();
            see_other("/dashboard/settings?done=settings")
        }
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, None, Some(store_message(&e)), None).await,
    }
}

#[derive(Deserialize)]
pub struct FeeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    vat: String,
    #[serde(default)]
    flat: String,
}

pub async fn save_fee(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Form(form): Form<FeeForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    let t = settings_words(lang);
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang, words(lang).expired_form);
    }
    if s.user.role != Role::Owner {
        return forbidden(lang, t.owners_only);
    }
    let (m, currency, schedule) = match fee_schedule(&form.method, &form.currency, &form.rate, &form.vat, &form.flat, t)
    {
        Ok(x) => x,
        Err(msg) => return render(&app, lang, &s, StatusCode::BAD_REQUEST, None, Some(msg), None).await,
    };
    let account = &s.user.account;
    let before = match app.store.fee_schedule(account, m.name, currency).await {
        Ok(own) => own.or_else(|| m.limit(currency).map(|l| l.default_fees)),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if before == Some(schedule) {
        return see_other("/dashboard/settings?done=unchanged");
    }
    let was = before.map(|b| describe(currency, &b)).unwrap_or_else(|| "none".into());
    let detail = format!("{} {}: {} (was {was})", m.name, currency.code(), describe(currency, &schedule));
    let audit = s.audit("fee_schedule.set", detail, app.now());
    match PENDING_AUDIT.scope(audit, app.store.set_fee_schedule(account, m.name, currency, schedule)).await {
        Ok(()) => see_other("/dashboard/settings?done=fees"),
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, None, Some(store_message(&e)), None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payer_urls_are_https_or_local_http() {
        assert_eq!(payer_url("  "), Ok(None));
        assert_eq!(payer_url("https://shop.example/help").unwrap().as_deref(), Some("https://shop.example/help"));
        assert_eq!(payer_url("https://shop.example").unwrap().as_deref(), Some("https://shop.example/"));
        for local in ["http://localhost:3000/help", "http://127.0.0.1/x", "http://shop.localhost/", "http://[::1]:8/"] {
            assert!(payer_url(local).unwrap().is_some(), "{local}");
        }
        for bad in [
            "http://shop.example/help",
            "javascript:alert(1)",
            "ftp://shop.example/",
            "shop.example/help",
            "https://user:pw@shop.example/",
            "data:image/png;base64,AAAA",
        ] {
            assert_eq!(payer_url(bad), Err(BadUrl), "{bad}");
        }
    }

    #[test]
    fn origins_are_web_origins_without_paths() {
        assert_eq!(origins(" ").unwrap(), Vec::<String>::new());
        assert_eq!(
            origins("https://shop.example, http://localhost:3000\nhttps://shop.example").unwrap(),
            ["https://shop.example", "http://localhost:3000"]
        );
        assert_eq!(origins("https://shop.example/checkout"), Err("https://shop.example/checkout".into()));
        assert_eq!(origins("shop.example"), Err("shop.example".into()));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(account_name("  Tea House ").as_deref(), Some("Tea House"));
        assert_eq!(account_name("   "), None);
        assert_eq!(account_name(&"ก".repeat(MAX_NAME_CHARS)).map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
        assert_eq!(account_name(&"a".repeat(MAX_NAME_CHARS + 1)), None);
        assert_eq!(account_name("Tea\u{7}House"), None);
    }

    #[test]
    fn fee_forms_are_checked_against_the_registry() {
        let w = settings_words(Lang::En);
        let (m, c, s) = fee_schedule("alipay", "THB", "3.0", "7", "10.50", w).unwrap();
        assert_eq!((m.name, c), ("alipay", Currency::Thb));
        assert_eq!((s.rate.to_string(), s.vat_rate.to_string(), s.flat.subunits()), ("3.0".into(), "7.0".into(), 1050));
        assert!(fee_schedule("alipay", "SGD", "3", "7", "0", w).is_err(), "alipay takes THB only");
        assert!(fee_schedule("card", "THB", "3", "7", "0", w).is_err());
        assert!(fee_schedule("alipay", "THB", "101", "7", "0", w).unwrap_err().starts_with("Fee (%)"));
        assert!(fee_schedule("alipay", "THB", "3", "-1", "0", w).unwrap_err().starts_with("VAT"));
        assert!(fee_schedule("alipay", "THB", "3", "7", "1.005", w).unwrap_err().contains("(THB)"));
        assert_eq!(form_number(Currency::Thb, Amount::new(1050).unwrap()), "10.50");
    }
}

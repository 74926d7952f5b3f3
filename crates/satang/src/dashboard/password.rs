//! A user's own password: `GET/POST /dashboard/password`. A user made with a generated one-time password
//! is sent here from every page until they have chosen their own ([`super::auth::PASSWORD_PATH`]); anyone
//! may come here to change theirs. The current password is asked for (a borrowed, unlocked browser cannot
//! take the account over), and a wrong one counts against the login rate limit of that email. A change
//! ends the user's other sessions and writes its audit row in the same transaction.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use satang_domain::Timestamp;
use serde::Deserialize;

use super::auth::{LOGIN_WINDOW_SECS, MAX_FAILED_LOGINS, MIN_PASSWORD_LEN, Signed, hash_password, verify_password};
use super::i18n::words;
use super::{Frame, LangQuery, forbidden, html, lang_of, see_other};
use crate::app::AppState;
use crate::pages::i18n::Lang;

pub struct PasswordWords {
    pub title: &'static str,
    pub one_time: &'static str,
    pub current: &'static str,
    pub new: &'static str,
    pub repeat: &'static str,
    pub hint: &'static str,
    pub save: &'static str,
    pub wrong_current: &'static str,
    pub too_short: &'static str,
    pub mismatch: &'static str,
    pub same: &'static str,
    pub too_many: &'static str,
    pub failed: &'static str,
}

fn password_words(lang: Lang) -> &'static PasswordWords {
    static EN: PasswordWords = PasswordWords {
        title: "Change your password",
        one_time: "You signed in with a one-time password. Choose your own to continue.",
        current: "Current password",
        new: "New password",
        repeat: "New password again",
        hint: "At least 12 characters. A few unrelated words are easy to remember and hard to guess.",
        save: "Change password",
        wrong_current: "The current password is not right.",
        too_short: "The new password is too short: use at least 12 characters.",
        mismatch: "The two new passwords are not the same.",
        same: "Choose a password different from the current one.",
        too_many: "Too many wrong passwords. Wait 15 minutes and try again.",
        failed: "The password could not be saved. Try again.",
    };
    static TH: PasswordWords = PasswordWords {
        title: "เปลี่ยนรหัสผ่าน",
        one_time: "คุณเข้าสู่ระบบด้วยรหัสผ่านใช้ครั้งเดียว โปรดตั้งรหัสผ่านของคุณเองเพื่อใช้งานต่อ",
        current: "รหัสผ่านปัจจุบัน",
        new: "รหัสผ่านใหม่",
        repeat: "รหัสผ่านใหม่อีกครั้ง",
        hint: "อย่างน้อย 12 ตัวอักษร คำหลายคำที่ไม่เกี่ยวกันจำง่ายและเดายาก",
        save: "เปลี่ยนรหัสผ่าน",
        wrong_current: "รหัสผ่านปัจจุบันไม่ถูกต้อง",
        too_short: "รหัสผ่านใหม่สั้นเกินไป ต้องมีอย่างน้อย 12 ตัวอักษร",
        mismatch: "รหัสผ่านใหม่ทั้งสองช่องไม่ตรงกัน",
        same: "โปรดตั้งรหัสผ่านที่ต่างจากรหัสผ่านปัจจุบัน",
        too_many: "ใส่รหัสผ่านผิดหลายครั้งเกินไป โปรดรอ 15 นาทีแล้วลองใหม่",
        failed: "บันทึกรหัสผ่านไม่สำเร็จ โปรดลองอีกครั้ง",
    };
    match lang {
        Lang::En => &EN,
        Lang::Th => &TH,
    }
}

#[derive(Template)]
#[template(path = "dashboard/password.html")]
struct PasswordPage {
    f: Frame,
    t: &'static PasswordWords,
    one_time: bool,
    error: Option<&'static str>,
    min: usize,
}

fn render(lang: Lang, s: &Signed, status: StatusCode, error: Option<&'static str>) -> Response {
    render_choosing(lang, s, status, error, None)
}

fn render_choosing(
    lang: Lang,
    s: &Signed,
    status: StatusCode,
    error: Option<&'static str>,
    lang_choice: Option<&str>,
) -> Response {
    let t = password_words(lang);
    let page = PasswordPage {
        f: Frame::signed(lang, t.title, s),
        t,
        one_time: s.user.must_change_password,
        error,
        min: MIN_PASSWORD_LEN,
    };
    html(status, page, lang_choice)
}

pub async fn page(headers: HeaderMap, s: Signed, Query(q): Query<LangQuery>) -> Response {
    render_choosing(lang_of(q.lang.as_deref(), &headers), &s, StatusCode::OK, None, q.lang.as_deref())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

pub async fn change(
    State(app): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    let t = password_words(lang);
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang, words(lang).expired_form);
    }
    let now = app.now();
    let since = Timestamp::from_unix(now.unix() - LOGIN_WINDOW_SECS);
    match app.store.failed_logins_since(&s.user.email, since).await {
        Ok(n) if n < MAX_FAILED_LOGINS => {}
        Ok(_) => return render(lang, &s, StatusCode::TOO_MANY_REQUESTS, Some(t.too_many)),
        Err(_) => return render(lang, &s, StatusCode::SERVICE_UNAVAILABLE, Some(t.failed)),
    }
    let (hash, current) = (s.user.password_hash.clone(), form.current.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &current)).await.unwrap_or(false);
    if !ok {
        let _ = app.store.record_login(&s.user.email, false, now).await;
        return render(lang, &s, StatusCode::BAD_REQUEST, Some(t.wrong_current));
    }
    if form.new.chars().count() < MIN_PASSWORD_LEN {
        return render(lang, &s, StatusCode::BAD_REQUEST, Some(t.too_short));
    }
    if form.new != form.repeat {
        return render(lang, &s, StatusCode::BAD_REQUEST, Some(t.mismatch));
    }
    if form.new == form.current {
        return render(lang, &s, StatusCode::BAD_REQUEST, Some(t.same));
    }
    let new = form.new.clone();
    let Ok(Ok(hash)) = tokio::task::spawn_blocking(move || hash_password(&new)).await else {
        return render(lang, &s, StatusCode::INTERNAL_SERVER_ERROR, Some(t.failed));
    };
    let audit = s.audit("user.password", s.user.email.clone(), now);
    match app.store.change_password(&s.user.id, &hash, &s.session.token_hash, &audit).await {
        Ok(()) => see_other("/dashboard"),
        Err(e) => {
            tracing::warn!(error.message = %e, "changing a dashboard password failed");
            render(lang, &s, StatusCode::SERVICE_UNAVAILABLE, Some(t.failed))
        }
    }
}

//! Keys of the mode shown: public keys in full (to copy), secret keys by their hint only, and for owners
//! a roll of the secret key whose new value is shown once, on the answer to the roll; the old key keeps
//! working for the chosen overlap (as `satang key roll`).

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::auth::Signed;
use super::i18n::words;
use super::{Frame, When, forbidden, html, lang_of};
use crate::app::AppState;
use crate::pages::i18n::Lang;
use crate::store::KeyKind;
use crate::store::users::Role;

type Words = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);

fn key_words(lang: Lang) -> Words {
    match lang {
        Lang::En => (
            "API keys",
            "New secret key, shown only now:",
            "Kind",
            "Key",
            "Expires",
            "Old key keeps working (hours)",
            "Roll secret key",
        ),
        Lang::Th => {
            ("คีย์ API", "คีย์ลับใหม่ แสดงครั้งเดียวเท่านั้น:", "ประเภท", "คีย์", "หมดอายุ", "คีย์เดิมใช้ได้อีก (ชั่วโมง)", "เปลี่ยนคีย์ลับ")
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/keys.html")]
struct KeysPage {
    f: Frame,
    t: Words,
    keys: Vec<(&'static str, String, When, Option<When>)>,
    owner: bool,
    new_key: Option<String>,
    error: Option<String>,
}

async fn render(
    app: &AppState,
    lang: Lang,
    s: &Signed,
    status: StatusCode,
    new_key: Option<String>,
    error: Option<String>,
) -> Response {
    let keys = app.store.list_keys(&s.user.account).await.unwrap_or_default();
    let keys = keys
        .into_iter()
        .filter(|k| k.livemode == s.livemode)
        .map(|k| {
            let kind = if k.kind == KeyKind::Public { "public" } else { "secret" };
            (
                kind,
                k.public_key.unwrap_or(k.hint),
                When::new(k.created_at, lang),
                k.expires_at.map(|t| When::new(t, lang)),
            )
        })
        .collect();
    let page = KeysPage {
        f: Frame::signed(lang, key_words(lang).0, s),
        t: key_words(lang),
        keys,
        owner: s.user.role == Role::Owner,
        new_key,
        error,
    };
    html(status, page, None)
}

pub async fn page(State(app): State<AppState>, headers: HeaderMap, s: Signed) -> Response {
    render(&app, lang_of(None, &headers), &s, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct RollForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    overlap_hours: String,
}

pub async fn roll(State(app): State<AppState>, headers: HeaderMap, s: Signed, Form(form): Form<RollForm>) -> Response {
    let lang = lang_of(None, &headers);
    if !s.csrf_ok(&form.csrf) {
        return forbidden(lang, words(lang).expired_form);
    }
    if s.user.role != Role::Owner {
        return forbidden(lang, "owners only");
    }
    let Ok(hours) = form.overlap_hours.trim().parse::<i64>() else {
        return render(&app, lang, &s, StatusCode::BAD_REQUEST, None, Some("overlap must be a number of hours".into()))
            .await;
    };
    let rolled = crate::accounts::roll_secret_key(
        &app.store,
        &s.user.account,
        s.livemode,
        hours.saturating_mul(3600),
        &s.user.email,
        app.now(),
    )
    .await;
    match rolled {
        // The answer to the POST shows the key; it is in no URL and never shown again.
        Ok(key) => {
            app.keys.forget_all();
            render(&app, lang, &s, StatusCode::OK, Some(key), None).await
        }
        Err(e) => render(&app, lang, &s, StatusCode::BAD_REQUEST, None, Some(e.to_string())).await,
    }
}

//! The dashboard's account settings over real HTTP: each setting an owner saves takes effect where it
//! shows (payer pages, the API's default `Omise-Version`, the browser origin check, the next charge's
//! fee); admins change all but fees, viewers nothing; refused changes (no CSRF token, a bad value) change
//! nothing and leave no audit row.

use reqwest::StatusCode;
use satang::store::users::Role;
use satang_domain::{AccountId, Currency};
use serde_json::json;

use crate::dashboard::{Browser, PASSWORD, hidden, location, user};
use crate::helpers::TestApp;
use crate::helpers::spawn_app;

const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

fn account(app: &TestApp) -> AccountId {
    app.acct.id.parse().unwrap()
}

async fn logged_in<'a>(app: &'a TestApp, email: &str, role: Role) -> (Browser<'a>, String) {
    user(app, email, role).await;
    let mut b = Browser::new(app);
    assert_eq!(b.login(email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = b.get("/dashboard/settings").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csrf = hidden(&page.text, "csrf");
    (b, csrf)
}

/// The settings form as the page sends it, with these fields replaced.
fn settings_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("name", "Tea House ชา"),
        ("logo_url", "https://shop.example/logo.png"),
        ("shop_url", "https://shop.example/"),
        ("support_url", "https://shop.example/help"),
        ("allowed_origins", "https://shop.example"),
        ("api_version", "2017-11-02"),
    ];
    for (k, v) in changes {
        form.iter_mut().find(|(name, _)| name == k).expect("a field of the form").1 = v;
    }
    form
}

async fn payer_page(app: &TestApp, lang: &str) -> String {
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let res = app
        .client
        .get(c["authorize_uri"].as_str().unwrap())
        .header("user-agent", DESKTOP)
        .header("accept-language", lang);
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn actions(app: &TestApp) -> Vec<(String, String, String)> {
    let log = app.store.list_audit(&account(app), 50).await.unwrap();
    log.into_iter().filter(|e| e.action != "user.create").map(|e| (e.actor, e.action, e.detail)).collect()
}

#[tokio::test]
async fn an_owner_changes_every_setting_and_each_takes_effect() {
    let app = spawn_app().await;
    // Before: the 2019-05-29 shape, no help link; the key is cached by now.
    let before = app.create_charge("alipay", 100_000, "THB").await;
    let before_id = before["id"].as_str().unwrap().to_string();
    assert_eq!(before["fee"], 3_650, "standard 3.65%");
    assert!(app.charge(&before_id).await.get("created_at").is_some());
    assert!(!payer_page(&app, "en").await.contains("id=\"support\""));

    let (mut b, csrf) = logged_in(&app, "owner@shop.example", Role::Owner).await;
    let page = b.get("/dashboard/settings").await;
    for id in ["id=\"nav-settings\"", "id=\"settings\"", "id=\"save-settings\"", "id=\"fees\"", "id=\"fee-alipay-THB\""]
    {
        assert!(page.text.contains(id), "{id}");
    }
    assert!(page.text.contains("<option value=\"2019-05-29\" selected>"), "the account's version is chosen");
    for v in ["2017-11-02", "2015-11-17", "2014-07-27"] {
        assert!(page.text.contains(&format!("<option value=\"{v}\">")), "{v} is offered");
    }
    assert!(page.text.contains("value=\"3.65\""), "the standard fee is shown");

    let r = b.post("/dashboard/settings", &settings_form(&csrf, &[])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/dashboard/settings?done=settings");
    let page = b.get(location(&r)).await;
    assert!(page.text.contains("id=\"notice\""));
    assert!(page.text.contains("value=\"Tea House ชา\"") && page.text.contains("value=\"https://shop.example/help\""));
    assert!(page.text.contains("<option value=\"2017-11-02\" selected>"));

    // The payer pages show the name, the logo and the help link, in English and Thai.
    let en = payer_page(&app, "en").await;
    assert!(en.contains("<img class=\"logo\" src=\"https://shop.example/logo.png\""), "{en}");
    assert!(en.contains("id=\"shop-name\" href=\"https://shop.example/\">Tea House ชา<"));
    assert!(en.contains("Need help? <a id=\"support-link\" href=\"https://shop.example/help\" rel=\"noopener\">Contact Tea House ชา</a>"), "{en}");
    let th = payer_page(&app, "th").await;
    assert!(th.contains("ต้องการความช่วยเหลือ? <a id=\"support-link\" href=\"https://shop.example/help\" rel=\"noopener\">ติดต่อ Tea House ชา</a>"), "{th}");

    // The API answers a request without Omise-Version in the chosen version at once (the cached key
    // grant was dropped); a request that names a version still gets it.
    let old = app.get(&format!("/charges/{before_id}"), app.skey()).await;
    assert_eq!(old.headers["omise-version"], "2017-11-02");
    assert!(old.body.get("created").is_some() && old.body.get("created_at").is_none(), "{}", old.text);
    assert_eq!(old.body["currency"], "thb");
    let named = app
        .send(
            app.req(reqwest::Method::GET, &format!("/charges/{before_id}"), app.skey())
                .header("Omise-Version", "2019-05-29"),
        )
        .await;
    assert_eq!(named.headers["omise-version"], "2019-05-29");
    assert!(named.body.get("created_at").is_some());
    // Webhooks are written in the account's default version too.
    let rx = crate::helpers::Receiver::start().await;
    app.add_endpoint(&rx.url("/hooks")).await;
    app.create_charge("alipay", 100_000, "THB").await;
    let hook = rx.wait_for("/hooks", 1, 5).await[0].json();
    assert!(hook.get("created").is_some() && hook["data"].get("created").is_some(), "{hook}");
    assert_eq!(hook["data"]["currency"], "thb");
    let acct = app.get("/account", app.skey()).await.ok();
    assert_eq!((acct["api_version"].as_str(), acct["name"].as_str()), (Some("2017-11-02"), Some("Tea House ชา")));

    // The public key now works only from the shop's own origin.
    let from = |origin: &'static str| {
        app.req(reqwest::Method::POST, "/sources", app.pkey())
            .header("origin", origin)
            .json(&json!({"type": "alipay", "amount": 100_000, "currency": "THB"}))
    };
    assert_eq!(app.send(from("https://shop.example")).await.status, StatusCode::OK);
    assert_eq!(app.send(from("https://elsewhere.example")).await.status, StatusCode::FORBIDDEN);

    // Fees: the next charge pays the new schedule; the earlier one keeps its own.
    let r = b
        .post(
            "/dashboard/settings/fees",
            &[
                ("csrf", &csrf),
                ("method", "alipay"),
                ("currency", "THB"),
                ("rate", "2.5"),
                ("vat", "7"),
                ("flat", "10.00"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/dashboard/settings?done=fees", "{}", r.text);
    let next = app.create_charge("alipay", 100_000, "THB").await;
    assert_eq!((next["fee"].as_i64(), next["fee_vat"].as_i64()), (Some(2_500 + 1_000), Some(245)));
    assert_eq!(app.charge(&before_id).await["fee"], 3_650);
    let schedule = app.store.fee_schedule(&account(&app), "alipay", Currency::Thb).await.unwrap().unwrap();
    assert_eq!((schedule.rate.to_string(), schedule.flat.subunits()), ("2.5".to_string(), 1_000));
    let page = b.get("/dashboard/settings").await;
    assert!(page.text.contains("value=\"2.5\"") && page.text.contains("value=\"10.00\""));
    assert!(page.text.contains("<td data-label=\"Rate\">Set for this account</td>"), "{}", page.text);

    // Saving the same again changes nothing and writes no row.
    let r = b.post("/dashboard/settings", &settings_form(&csrf, &[])).await;
    assert_eq!(location(&r), "/dashboard/settings?done=unchanged");

    let log = actions(&app).await;
    assert_eq!(log.len(), 2, "{log:?}");
    let (who, what, detail) = &log[0];
    assert_eq!((who.as_str(), what.as_str()), ("owner@shop.example", "fee_schedule.set"));
    assert_eq!(
        detail,
        "alipay THB: 2.5% + VAT 7.0% on the fee + flat THB 10.00 (was 3.65% + VAT 7.0% on the fee + flat THB 0.00)"
    );
    let (who, what, detail) = &log[1];
    assert_eq!((who.as_str(), what.as_str()), ("owner@shop.example", "account.settings"));
    for part in [
        "name: Test Shop → Tea House ชา",
        "api_version: 2019-05-29 → 2017-11-02",
        "support_url: none → https://shop.example/help",
        "allowed_origins: any → https://shop.example",
    ] {
        assert!(detail.contains(part), "{part} in {detail}");
    }
}

#[tokio::test]
async fn an_admin_changes_settings_but_not_fees_and_a_viewer_changes_nothing() {
    let app = spawn_app().await;
    let (mut admin, csrf) = logged_in(&app, "admin@shop.example", Role::Admin).await;
    let page = admin.get("/dashboard/settings").await;
    assert!(page.text.contains("id=\"save-settings\""));
    assert!(page.text.contains("id=\"fees-read-only\"") && page.text.contains("3.65%"), "fees shown read-only");
    assert!(!page.text.contains("id=\"fee-alipay-THB\"") && !page.text.contains("class=\"save-fee\""), "no fee form");
    let fee = [
        ("csrf", csrf.as_str()),
        ("method", "alipay"),
        ("currency", "THB"),
        ("rate", "1"),
        ("vat", "7"),
        ("flat", "0"),
    ];
    let r = admin.post("/dashboard/settings/fees", &fee).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("id=\"forbidden\""));
    assert!(app.store.fee_schedule(&account(&app), "alipay", Currency::Thb).await.unwrap().is_none());
    let r = admin.post("/dashboard/settings", &settings_form(&csrf, &[("api_version", "2019-05-29")])).await;
    assert_eq!(location(&r), "/dashboard/settings?done=settings");
    assert_eq!(app.store.get_account(&account(&app)).await.unwrap().name, "Tea House ชา");

    let (mut viewer, vcsrf) = logged_in(&app, "viewer@shop.example", Role::Viewer).await;
    let page = viewer.get("/dashboard/settings").await;
    assert!(page.text.contains("id=\"settings-read-only\"") && page.text.contains("id=\"fees-read-only\""));
    assert!(page.text.contains("Tea House ชา") && page.text.contains("https://shop.example/help"), "read-only values");
    assert!(!page.text.contains("id=\"save-settings\"") && !page.text.contains("name=\"support_url\""));
    assert!(!page.text.contains("class=\"save-fee\""));
    let r = viewer.post("/dashboard/settings", &settings_form(&vcsrf, &[("name", "Viewer Was Here")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("id=\"forbidden\""));
    let fee = [
        ("csrf", vcsrf.as_str()),
        ("method", "alipay"),
        ("currency", "THB"),
        ("rate", "1"),
        ("vat", "7"),
        ("flat", "0"),
    ];
    assert_eq!(viewer.post("/dashboard/settings/fees", &fee).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.get_account(&account(&app)).await.unwrap().name, "Tea House ชา");
    assert!(app.store.fee_schedule(&account(&app), "alipay", Currency::Thb).await.unwrap().is_none());

    let log = actions(&app).await;
    assert_eq!(log.len(), 1, "only the admin's save: {log:?}");
    assert_eq!((log[0].0.as_str(), log[0].1.as_str()), ("admin@shop.example", "account.settings"));
}

#[tokio::test]
async fn refused_changes_change_nothing_and_say_why() {
    let app = spawn_app().await;
    let (mut b, csrf) = logged_in(&app, "owner@shop.example", Role::Owner).await;
    let stored = || async { app.store.get_account(&account(&app)).await.unwrap() };
    let untouched = stored().await;

    // No CSRF token: 403.
    let mut no_token = settings_form(&csrf, &[]);
    no_token.remove(0);
    assert_eq!(b.post("/dashboard/settings", &no_token).await.status, StatusCode::FORBIDDEN);
    let wrong = settings_form("not-the-token", &[]);
    assert_eq!(b.post("/dashboard/settings", &wrong).await.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            "/dashboard/settings/fees",
            &[("method", "alipay"), ("currency", "THB"), ("rate", "1"), ("vat", "7"), ("flat", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Bad values: 400, the reason on the page, what was typed kept in the form.
    for (field, value, says) in [
        ("support_url", "http://shop.example/help", "Support URL must be an address starting with https://"),
        ("logo_url", "javascript:alert(1)", "Logo URL must be an address starting with https://"),
        ("shop_url", "shop.example", "Shop URL must be"),
        ("allowed_origins", "https://shop.example/checkout", "Allowed websites: https://shop.example/checkout is not"),
        ("api_version", "2020-01-01", "Choose one of the listed API versions."),
        ("name", "   ", "The account name must have 1 to 100 characters."),
    ] {
        let r = b.post("/dashboard/settings", &settings_form(&csrf, &[(field, value)])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(r.text.contains("id=\"action-error\""), "{field}");
        assert!(r.text.contains(says), "{field}: {says} in {}", r.text);
        if field.ends_with("url") {
            assert!(r.text.contains(&format!("value=\"{value}\"")), "{field} kept");
        }
    }
    for (field, value, says) in [
        ("rate", "101", "Fee (%) must be a percentage"),
        ("vat", "7.12345", "VAT on the fee (%) must be a percentage"),
        ("flat", "1.005", "Flat fee per charge (THB) must be an amount"),
        ("currency", "SGD", "There is no such payment method and currency."),
    ] {
        let mut fee = vec![
            ("csrf", csrf.as_str()),
            ("method", "alipay"),
            ("currency", "THB"),
            ("rate", "2"),
            ("vat", "7"),
            ("flat", "0"),
        ];
        fee.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value;
        let r = b.post("/dashboard/settings/fees", &fee).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(r.text.contains(says), "{field}: {says} in {}", r.text);
    }
    // In Thai, too.
    b.get("/dashboard/settings?lang=th").await;
    let r = b.post("/dashboard/settings", &settings_form(&csrf, &[("support_url", "http://shop.example/help")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("URL ฝ่ายช่วยเหลือ ต้องเป็นที่อยู่ที่ขึ้นต้นด้วย https://"), "{}", r.text);

    let now = stored().await;
    assert_eq!((now.name, now.api_version, now.checkout), (untouched.name, untouched.api_version, untouched.checkout));
    assert!(app.store.fee_schedule(&account(&app), "alipay", Currency::Thb).await.unwrap().is_none());
    assert!(actions(&app).await.is_empty(), "no audit row for a refused change");

    // http is fine for a shop being built on this machine.
    let r =
        b.post("/dashboard/settings", &settings_form(&csrf, &[("support_url", "http://localhost:3000/help")])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(stored().await.checkout.support_url.as_deref(), Some("http://localhost:3000/help"));
}

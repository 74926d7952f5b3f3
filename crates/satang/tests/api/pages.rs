//! The payer pages over plain HTTP (the browser tests in tests/browser.rs drive them in Chromium).

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

struct Page {
    status: StatusCode,
    html: String,
    csrf_cookie: Option<String>,
    headers: reqwest::header::HeaderMap,
}

async fn open(app: &TestApp, url: &str, ua: &str, lang: Option<&str>) -> Page {
    let mut req = app.client.get(url).header("user-agent", ua);
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let csrf_cookie = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("satang_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string());
    Page { status, html: res.text().await.unwrap(), csrf_cookie, headers }
}

/// The value of the hidden `csrf` input.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

async fn submit(app: &TestApp, charge: &Value, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.post(charge["authorize_uri"].as_str().unwrap()).form(form);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

async fn charge_with(app: &TestApp, body: Value) -> Value {
    app.post_json("/charges", app.skey(), body).await.ok()
}

#[tokio::test]
async fn the_checkout_page_shows_the_payment_and_sends_security_headers() {
    let app = spawn_app().await;
    let c = charge_with(
        &app,
        json!({"amount": 100000, "currency": "THB", "return_uri": "http://localhost:3000/done", "source": {"type": "alipay"},
               "description": "Order <b>#7</b> & co"}),
    )
    .await;
    let page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Test Shop"), "merchant name");
    assert!(page.html.contains("THB 1,000.00"));
    assert!(page.html.contains("Order &#60;b&#62;#7&#60;/b&#62; &#38; co"), "description is escaped");
    assert!(!page.html.contains("<b>#7"));
    assert!(page.html.contains(">Alipay<"));
    for code in ["payment_rejected", "failed_processing", "invalid_account", "insufficient_fund"] {
        assert!(page.html.contains(&format!("value=\"{code}\"")), "{code}");
    }
    let h = &page.headers;
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = page.csrf_cookie.expect("csrf cookie");
    assert_eq!(csrf_field(&page.html), cookie.trim_start_matches("satang_csrf="));
    let set = h.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join("\n");
    assert!(set.contains("SameSite=Strict") && set.contains("HttpOnly"), "{set}");
}

#[tokio::test]
async fn paying_goes_through_the_same_transition_and_redirects_to_the_shop() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    let page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    let cookie = page.csrf_cookie.unwrap();
    let res = submit(&app, &c, Some(&cookie), &[("csrf", &csrf_field(&page.html)), ("outcome", "pay")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "https://shop.example/orders/1/complete");
    let after = app.charge(id).await;
    assert_eq!(after["status"], "successful");
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.complete"]);

    // A double submit (or the back button and submit again) changes nothing and shows the final state.
    let again = submit(&app, &c, Some(&cookie), &[("csrf", &csrf_field(&page.html)), ("outcome", "fail")]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        again.headers()[LOCATION].to_str().unwrap(),
        c["authorize_uri"].as_str().unwrap().trim_start_matches(&app.base)
    );
    assert_eq!(app.charge(id).await["transaction"], after["transaction"]);
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.complete"]);
    let back = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    assert!(back.html.contains("Payment successful"));
    assert!(!back.html.contains("name=\"outcome\""), "a final charge offers no buttons");
}

#[tokio::test]
async fn failing_with_each_seed_code() {
    let app = spawn_app().await;
    for code in ["payment_rejected", "failed_processing", "invalid_account", "insufficient_fund"] {
        let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
        let wallet = format!("{}/wallet", c["authorize_uri"].as_str().unwrap());
        let page = open(&app, &wallet, IPHONE, None).await;
        let cookie = page.csrf_cookie.unwrap();
        let res = submit(
            &app,
            &c,
            Some(&cookie),
            &[("csrf", &csrf_field(&page.html)), ("outcome", "fail"), ("failure_code", code)],
        )
        .await;
        assert_eq!(res.status(), 303);
        let after = app.charge(c["id"].as_str().unwrap()).await;
        assert_eq!(after["status"], "failed");
        assert_eq!(after["failure_code"], code);
        let final_page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
        assert!(final_page.html.contains("Payment failed"));
    }
}

#[tokio::test]
async fn leaving_keeps_the_charge_pending() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    let res =
        submit(&app, &c, page.csrf_cookie.as_deref(), &[("csrf", &csrf_field(&page.html)), ("outcome", "leave")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "https://shop.example/orders/1/complete");
    assert_eq!(app.charge(c["id"].as_str().unwrap()).await["status"], "pending");
}

#[tokio::test]
async fn a_post_without_the_csrf_cookie_or_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    let token = csrf_field(&page.html);
    let cookie = page.csrf_cookie.unwrap();
    for (cookie, field) in
        [(None, token.as_str()), (Some(cookie.as_str()), ""), (Some(cookie.as_str()), "x".repeat(32).as_str())]
    {
        let res = submit(&app, &c, cookie, &[("csrf", field), ("outcome", "pay")]).await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    assert_eq!(app.charge(c["id"].as_str().unwrap()).await["status"], "pending");
}

#[tokio::test]
async fn a_csrf_cookie_and_token_from_another_charge_are_refused() {
    let app = spawn_app().await;
    let mine = app.create_charge("alipay", 100_000, "THB").await;
    let target = app.create_charge("alipay", 100_000, "THB").await;
    // A payer (or an attacker) holds a valid pair for their own charge...
    let page = open(&app, mine["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    let (token, cookie) = (csrf_field(&page.html), page.csrf_cookie.unwrap());
    // ...which does not work on another charge, even with the other charge's link.
    let res = submit(&app, &target, Some(&cookie), &[("csrf", &token), ("outcome", "pay")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.charge(target["id"].as_str().unwrap()).await["status"], "pending");
    // A forged token of the right shape is refused too, when cookie and field agree.
    let forged = format!("{}.{}", "a".repeat(16), "0".repeat(32));
    let res =
        submit(&app, &target, Some(&format!("satang_csrf={forged}")), &[("csrf", &forged), ("outcome", "pay")]).await;
    assert_eq!(res.status(), 403);
    // The pair works on its own charge.
    let res = submit(&app, &mine, Some(&cookie), &[("csrf", &token), ("outcome", "pay")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.charge(mine["id"].as_str().unwrap()).await["status"], "successful");
    assert_eq!(app.charge(target["id"].as_str().unwrap()).await["status"], "pending");
}

#[tokio::test]
async fn alipay_hk_shows_a_qr_code_on_desktops_and_hands_off_on_phones() {
    let app = spawn_app().await;
    let src = |pt: Option<&str>| {
        let mut s = json!({"type": "alipay_hk"});
        if let Some(p) = pt {
            s["platform_type"] = json!(p);
        }
        json!({"amount": 150000, "currency": "SGD", "return_uri": "https://shop.example/r", "source": s})
    };
    // WEB, and no platform type from a desktop browser: a QR code of the wallet URL, and a status URL to poll.
    for (pt, ua) in [(Some("WEB"), IPHONE), (None, DESKTOP)] {
        let c = charge_with(&app, src(pt)).await;
        let uri = c["authorize_uri"].as_str().unwrap();
        let page = open(&app, uri, ua, None).await;
        assert!(page.html.contains("<svg"), "QR code for {pt:?}");
        assert!(page.html.contains(&format!("data-wallet-url=\"{uri}/wallet?via=qr\"")));
        let path = uri.trim_start_matches(&app.base);
        assert!(page.html.contains(&format!("data-status-url=\"{path}/status\"")));
        assert!(page.html.contains("SGD 1,500.00"));
        // Without JavaScript the page says how to move on, and does not reload itself.
        assert!(page.html.contains("id=\"noscript-hint\"") && page.html.contains("id=\"check\""));
        assert!(!page.html.contains("http-equiv=\"refresh\""));
        assert!(!page.html.contains("app-fallback"));
    }
    // IOS / ANDROID opened on a computer: the app cannot open there, so the QR code, saying why.
    for pt in ["IOS", "ANDROID"] {
        let c = charge_with(&app, src(Some(pt))).await;
        let page = open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
        assert!(page.html.contains("<svg") && page.html.contains("id=\"app-fallback\""), "QR fallback for {pt}");
        assert!(!page.html.contains("id=\"handoff\""));
    }
    // IOS / ANDROID, and no platform type from a phone: the app hand-off with a browser fallback.
    for (pt, ua) in [(Some("IOS"), IPHONE), (Some("ANDROID"), IPHONE), (None, IPHONE)] {
        let c = charge_with(&app, src(pt)).await;
        let uri = c["authorize_uri"].as_str().unwrap();
        let page = open(&app, uri, ua, None).await;
        assert!(!page.html.contains("<svg"));
        assert!(page.html.contains(&format!("href=\"{uri}/app\"")), "app link for {pt:?}");
        assert!(page.html.contains(&format!("href=\"{uri}/wallet\"")), "fallback for {pt:?}");
        let app_page = open(&app, &format!("{uri}/app"), ua, None).await;
        assert!(app_page.html.contains("name=\"outcome\""));
    }
}

#[tokio::test]
async fn the_status_route_follows_the_charge() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let status_url = format!("{}/status", c["authorize_uri"].as_str().unwrap());
    let s: Value = app.client.get(&status_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(s["status"], "pending");
    app.mark_as_paid(c["id"].as_str().unwrap()).await;
    let s: Value = app.client.get(&status_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(s["status"], "successful");
}

#[tokio::test]
async fn thai_by_accept_language_and_a_switch_that_sticks() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let th = open(&app, uri, DESKTOP, Some("th-TH,th;q=0.9,en;q=0.5")).await;
    assert!(th.html.contains("lang=\"th\""));
    assert!(th.html.contains("หน้าชำระเงินอาลีเพย์"));
    assert!(th.html.contains("ยอดเงินในวอลเล็ตไม่เพียงพอสำหรับการชำระเงินนี้"), "wallet wording, not cards");
    assert!(th.html.contains("(เวลาประเทศไทย)") && th.html.contains("\u{a0}25"), "Thai date style, Buddhist year");
    assert!(th.html.contains("href=\"?lang=en\""));
    let en = open(&app, &format!("{uri}?lang=en"), DESKTOP, Some("th")).await;
    assert!(en.html.contains("Alipay checkout"));
    let remembered = en.headers.get_all(SET_COOKIE).iter().any(|v| v.to_str().unwrap().starts_with("satang_lang=en"));
    assert!(remembered);
}

#[tokio::test]
async fn unknown_or_tampered_links_get_a_clear_404_page() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let last = if uri.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{last}", &uri[..uri.len() - 1]);
    let other_charge = app.create_charge("alipay", 100_000, "THB").await;
    let swapped = uri.replace(c["id"].as_str().unwrap(), other_charge["id"].as_str().unwrap());
    for bad in [tampered.clone(), swapped, format!("{}/pay/chrg_test_nope/abc", app.base), format!("{tampered}/wallet")]
    {
        let page = open(&app, &bad, DESKTOP, None).await;
        assert_eq!(page.status, 404, "{bad}");
        assert!(page.html.contains("Payment link not found"), "{bad}");
    }
    let res = app.client.post(&tampered).form(&[("outcome", "pay")]).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(app.charge(c["id"].as_str().unwrap()).await["status"], "pending");
}

#[tokio::test]
async fn live_charges_offer_no_simulated_outcomes() {
    let app = spawn_app().await;
    let refused = app
        .post_json(
            "/charges",
            &app.acct.live_secret_key,
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://shop.example/r", "source": {"type": "alipay"}}),
        )
        .await
        .err(400, "invalid_charge");
    assert!(refused.contains("no payment connector"), "{refused}");
    app.give_live_connector().await;
    let c = app
        .post_json(
            "/charges",
            &app.acct.live_secret_key,
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://shop.example/r", "source": {"type": "alipay"}}),
        )
        .await
        .ok();
    let uri = c["authorize_uri"].as_str().unwrap();
    // The connector's endpoint answers nothing: the page says so, and offers nothing to click.
    let page = open(&app, uri, DESKTOP, None).await;
    assert_eq!(page.status, 503);
    assert!(page.html.contains("cannot be reached"), "{}", page.html);
    assert!(!page.html.contains("name=\"outcome\""));
    // Never a dead end: back to the shop.
    assert!(page.html.contains("id=\"back\" href=\"https://shop.example/r\""), "{}", page.html);
    for sub in ["wallet", "app"] {
        let res = app.client.get(format!("{uri}/{sub}")).send().await.unwrap();
        assert_eq!(res.status(), 303, "live charges have no simulated wallet");
        assert!(uri.ends_with(res.headers()["location"].to_str().unwrap()));
    }
    let res = app
        .client
        .post(uri)
        .header(COOKIE, "satang_csrf=abc")
        .form(&[("csrf", "abc"), ("outcome", "pay")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let after = app.get(&format!("/charges/{}", c["id"].as_str().unwrap()), &app.acct.live_secret_key).await.ok();
    assert_eq!(after["status"], "pending");
}

#[tokio::test]
async fn the_pay_page_route_exists_for_every_new_charge() {
    let app = spawn_app().await;
    let res = app.send(app.req(Method::GET, "/pay-assets/pay.js", app.skey())).await;
    assert_eq!(res.status, 200);
    for kind in [("alipay", "THB", 100_000), ("alipay_hk", "SGD", 150_000), ("alipay_hk", "THB", 150_000)] {
        let c = app.create_charge(kind.0, kind.2, kind.1).await;
        assert_eq!(open(&app, c["authorize_uri"].as_str().unwrap(), DESKTOP, None).await.status, 200);
    }
}

#[tokio::test]
async fn pages_show_the_merchant_first_local_time_and_what_happens_next() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let page = open(&app, uri, DESKTOP, None).await;
    let top = &page.html[page.html.find("<header").unwrap()..page.html.find("</header>").unwrap()];
    let name = top.find(&app.acct.name).expect("merchant name in the top bar");
    assert!(name < top.find("id=\"test-mode\"").expect("TEST marker kept"));
    assert!(!page.html.contains(" UTC<") && page.html.contains("(Bangkok time)"), "local time, not UTC");
    assert!(page.html.contains("data-expires=\""), "a countdown");
    assert!(page.html.contains("Back to the shop without paying"));
    assert!(!page.html.to_lowercase().contains("card"), "wallet wording");

    // The favicon exists.
    let icon = app.client.get(format!("{}/favicon.ico", app.base)).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert!(icon.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("image/svg+xml"));

    // Paid: a reference and the time; failed and expired: not charged, and what to do.
    app.mark_as_paid(c["id"].as_str().unwrap()).await;
    let paid = open(&app, uri, DESKTOP, None).await;
    assert!(paid.html.contains(&format!("id=\"reference\" class=\"ref\">{}<", c["id"].as_str().unwrap())));
    assert!(paid.html.contains("id=\"paid-at\"") && paid.html.contains("(Bangkok time)"));
    assert!(paid.html.contains("Return to the shop"));
    let f = app.create_charge("alipay", 100_000, "THB").await;
    app.post_form(
        &format!("/charges/{}/mark_as_failed", f["id"].as_str().unwrap()),
        app.skey(),
        &[("failure_code", "insufficient_fund")],
    )
    .await
    .ok();
    let failed = open(&app, f["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    assert!(failed.html.contains("You were not charged") && failed.html.contains("balance is not enough"));
    assert!(!failed.html.contains("credit limit"));
    let e = app.create_charge("alipay_hk", 150_000, "SGD").await;
    app.post_form(&format!("/charges/{}/expire", e["id"].as_str().unwrap()), app.skey(), &[]).await.ok();
    let expired = open(&app, e["authorize_uri"].as_str().unwrap(), DESKTOP, None).await;
    assert!(expired.html.contains("you were not charged") && expired.html.contains("id=\"back\""));
    assert!(expired.html.contains("AlipayHK") && !expired.html.contains("Alipay HK"));
}

#[tokio::test]
async fn the_phone_that_paid_a_computers_qr_code_gets_a_receipt() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let wallet = open(&app, &format!("{uri}/wallet?via=qr"), IPHONE, None).await;
    assert!(wallet.html.contains("name=\"via\" value=\"qr\""));
    assert!(!wallet.html.contains("id=\"leave\""), "nothing to leave to on the phone");
    let csrf = csrf_field(&wallet.html);
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirect
        .post(uri)
        .header(COOKIE, format!("satang_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("outcome", "pay"), ("via", "qr")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.ends_with("/wallet?via=qr"), "{to}");
    let receipt = open(&app, &format!("{}{to}", app.base), IPHONE, None).await;
    assert!(receipt.html.contains("data-status=\"successful\"") && receipt.html.contains("receipt"));
    assert!(receipt.html.contains("The page on your computer moves on by itself"));
    assert!(!receipt.html.contains("id=\"back\""), "the computer goes to the shop, not the phone");
}

#[tokio::test]
async fn the_shops_logo_and_home_page_from_set_checkout_appear_on_payer_pages() {
    let app = spawn_app().await;
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let settings = satang::store::CheckoutSettings {
        allowed_origins: vec![],
        shop_url: Some("https://shop.example/".into()),
        logo_url: Some("https://shop.example/logo.png".into()),
        support_url: None,
    };
    app.store.set_checkout_settings(&account, &settings).await.unwrap();
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let page = open(&app, uri, DESKTOP, None).await;
    assert!(page.html.contains("<img class=\"logo\" src=\"https://shop.example/logo.png\""), "{}", page.html);
    assert!(page.html.contains("<a class=\"brand\" id=\"shop-name\" href=\"https://shop.example/\">"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("img-src 'self' data: https:"), "{csp}");
}

//! The dashboard over real HTTP: no page without a session, login with CSRF and a rate limit, cookie
//! flags, no session fixation, logout, the test/live switch, the charge list (its cursor paging, filters
//! and search), and the audit row of `user create`.

use std::collections::HashMap;

use reqwest::Method;
use reqwest::StatusCode;
use satang::dashboard::auth;
use satang::store::users::Role;
use serde_json::json;

use crate::helpers::{Res, TestApp, spawn_app};

pub const PASSWORD: &str = "correct horse battery staple";

/// A browser: cookies by name, sent back on every request.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser { app, cookies: HashMap::new() }
    }

    pub async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Res {
        let mut req = self.app.client.request(method, format!("{}{}", self.app.base, path));
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let res = self.app.send(req).await;
        for sc in res.headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (kv, _) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        res
    }

    pub async fn get(&mut self, path: &str) -> Res {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Res {
        self.send(Method::POST, path, Some(form)).await
    }

    /// The login page's form token, then a login.
    pub async fn login(&mut self, email: &str, password: &str) -> Res {
        let page = self.get("/dashboard/login").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = hidden(&page.text, "csrf");
        self.post("/dashboard/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await
    }
}

/// The value of the first hidden input with this name.
pub fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The charge IDs of a list page's rows, top to bottom.
fn rows(html: &str) -> Vec<String> {
    let Some(body) = html.split("<tbody>").nth(1) else { return vec![] };
    let body = body.split("</tbody>").next().unwrap();
    body.split("<a href=\"/dashboard/charges/").skip(1).map(|r| r[..r.find('"').unwrap()].to_string()).collect()
}

/// The target of the link with this id (`older`, `newer`, `newest`), unescaped.
fn link(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("<a id=\"{id}\" href=\""))? + id.len() + 15;
    Some(html[at..at + html[at..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&"))
}

pub fn location(res: &Res) -> &str {
    res.headers.get("location").map(|v| v.to_str().unwrap()).unwrap_or("")
}

pub async fn user(app: &TestApp, email: &str, role: Role) {
    let account = app.acct.id.parse().unwrap();
    auth::create_user(&app.store, &account, email, role, PASSWORD, app.state.now()).await.expect("user");
}

#[tokio::test]
async fn no_page_without_a_session() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    for path in ["/dashboard", "/dashboard?q=x"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&r), "/dashboard/login");
    }
    b.cookies.insert("satang_session".into(), "forged".into());
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");
    let r = b.post("/dashboard/logout", &[("csrf", "x")]).await;
    assert_eq!(location(&r), "/dashboard/login");
    // The login page is a page, with the payer pages' headers, not an API error.
    let r = b.get("/dashboard/login").await;
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(r.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn login_sets_a_fresh_strict_session_and_logout_ends_it() {
    let app = spawn_app().await;
    user(&app, "Som@Shop.Example", Role::Admin).await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap();
    let mut b = Browser::new(&app);

    // No form token: refused, and no session.
    let r = b.post("/dashboard/login", &[("email", "som@shop.example"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("satang_session"));
    // Wrong password.
    let r = b.login("som@shop.example", "wrong password!").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("id=\"login-error\""));
    assert!(!b.cookies.contains_key("satang_session"));

    // A cookie planted before login is not the session after it.
    b.cookies.insert("satang_session".into(), "planted".into());
    let r = b.login("SOM@shop.example ", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/dashboard");
    let set = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("satang_session=")).unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/dashboard", "Max-Age=43200"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http public URL: {session}");
    let token = b.cookies["satang_session"].clone();
    assert_ne!(token, "planted");
    assert!(token.len() >= 32);

    let page = b.get("/dashboard").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(id), "the charge is listed");
    assert!(page.text.contains("som@shop.example"));
    assert!(page.text.contains("id=\"mode\""), "the mode is always shown");

    // Logout needs the session's token.
    let r = b.post("/dashboard/logout", &[("csrf", "not-it")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    let csrf = hidden(&page.text, "csrf");
    let r = b.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/dashboard/login");
    // The old cookie, replayed, is dead.
    b.cookies.insert("satang_session".into(), token);
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");
}

#[tokio::test]
async fn failed_logins_are_limited_per_email() {
    let app = spawn_app().await;
    user(&app, "owner@shop.example", Role::Owner).await;
    let mut b = Browser::new(&app);
    for _ in 0..auth::MAX_FAILED_LOGINS {
        assert_eq!(b.login("owner@shop.example", "guess guess guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused, without a session.
    let r = b.login("owner@shop.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!b.cookies.contains_key("satang_session"));
    // Once the window has passed, the right password works again.
    app.clock.advance(auth::LOGIN_WINDOW_SECS + 1);
    assert_eq!(b.login("owner@shop.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_expire() {
    let app = spawn_app().await;
    user(&app, "v@shop.example", Role::Viewer).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login("v@shop.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    app.clock.advance(auth::SESSION_SECS + 1);
    assert_eq!(location(&b.get("/dashboard").await), "/dashboard/login");
}

#[tokio::test]
async fn the_list_searches_switches_mode_and_pages() {
    let app = spawn_app().await;
    user(&app, "v@shop.example", Role::Viewer).await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let tagged = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 100_000, "currency": "THB", "source": src["id"], "metadata": {"order": "INV-4410"},
                   "return_uri": "https://shop.example/done"}),
        )
        .await
        .ok();
    let tagged = tagged["id"].as_str().unwrap().to_string();
    let mut others = Vec::new();
    for _ in 0..26 {
        others.push(app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string());
    }
    let mut b = Browser::new(&app);
    b.login("v@shop.example", PASSWORD).await;

    let r = b.get("/dashboard?q=INV-4410").await;
    assert!(r.text.contains(&tagged));
    assert!(!r.text.contains(&others[0]));
    let r = b.get("/dashboard?status=successful").await;
    assert!(r.text.contains("id=\"no-charges\""));
    // 27 charges: two pages, newest first; the second is the one older than the first page's last row.
    let first = b.get("/dashboard").await;
    assert!(first.text.contains(&others[25]) && !first.text.contains(&tagged));
    assert!(first.text.contains(&format!("href=\"/dashboard?older={}\"", others[1])), "{}", first.text);
    assert!(first.text.contains("Matching charges: 27"));
    let second = b.get(&format!("/dashboard?older={}", others[1])).await;
    assert!(second.text.contains(&tagged) && second.text.contains(&others[0]));
    assert_eq!(rows(&second.text).len(), 2);

    // Live mode: another scope, marked on the page.
    let csrf = hidden(&first.text, "csrf");
    let r = b.post("/dashboard/mode", &[("csrf", &csrf), ("to", "live")]).await;
    assert_eq!(location(&r), "/dashboard");
    let live = b.get("/dashboard").await;
    assert!(live.text.contains("<body class=\"live\">"));
    assert!(live.text.contains("id=\"no-charges\""));
    // Without the token the switch is refused.
    let r = b.post("/dashboard/mode", &[("to", "test")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Thai.
    let th = b.get("/dashboard?lang=th").await;
    assert!(th.text.contains("<html lang=\"th\">") && th.text.contains("โหมดใช้งานจริง"));
}

/// One charge made for the paging test, as the list should show it.
struct Made {
    id: String,
    method: &'static str,
    currency: &'static str,
    paid: bool,
    /// On the second of the two days.
    late: bool,
}

/// Follows `older` links from `start` to the end of the list: every row, top to bottom of each page.
async fn walk(b: &mut Browser<'_>, start: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = Some(start.to_string());
    while let Some(url) = next {
        let page = b.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}");
        let r = rows(&page.text);
        assert!(r.len() <= 25, "{url}: {} rows", r.len());
        next = link(&page.text, "older");
        assert!(next.is_none() || r.len() == 25, "{url}: a short page with an older one after it");
        assert!(r.iter().all(|id| !seen.contains(id)), "{url} repeats a charge");
        seen.extend(r);
    }
    seen
}

#[tokio::test]
async fn the_list_pages_by_cursor_and_every_filter_filters() {
    let app = spawn_app().await;
    user(&app, "v@shop.example", Role::Viewer).await;
    // 60 charges over two days, several in each second (the cursor must break ties), of two methods
    // and two currencies, a quarter of them paid.
    // Days are Bangkok days (UTC+7), as on the money page.
    const BKK: i64 = 7 * 3600;
    let day_end = ((app.state.now().unix() + BKK) / 86_400 + 1) * 86_400 - BKK;
    app.clock.set(satang_domain::Timestamp::from_unix(day_end - 40));
    let mut made = Vec::new();
    for i in 0..60 {
        if i == 30 {
            app.clock.set(satang_domain::Timestamp::from_unix(day_end + 5));
        } else if i % 7 == 6 {
            app.clock.advance(1);
        }
        let (method, currency, amount) = match i % 5 {
            0 => ("alipay_hk", "SGD", 1_500),
            1 => ("alipay_hk", "THB", 50_000),
            _ => ("alipay", "THB", 50_000),
        };
        let id = app.create_charge(method, amount, currency).await["id"].as_str().unwrap().to_string();
        let paid = i % 4 == 0;
        if paid {
            app.mark_as_paid(&id).await;
        }
        made.push(Made { id, method, currency, paid, late: i >= 30 });
    }
    made.reverse(); // newest first, as listed
    let ids = |f: &dyn Fn(&Made) -> bool| made.iter().filter(|m| f(m)).map(|m| m.id.clone()).collect::<Vec<_>>();
    let mut b = Browser::new(&app);
    b.login("v@shop.example", PASSWORD).await;

    let all = walk(&mut b, "/dashboard").await;
    assert_eq!(all, ids(&|_| true), "every charge once, newest first");
    let day = |t: i64| satang_domain::Timestamp::from_unix(t + BKK).iso()[..10].to_string();
    let (d1, d2) = (day(day_end - 1), day(day_end));
    let cases: Vec<(String, Vec<String>)> = vec![
        ("status=successful".into(), ids(&|m| m.paid)),
        ("status=pending".into(), ids(&|m| !m.paid)),
        ("method=alipay_hk".into(), ids(&|m| m.method == "alipay_hk")),
        ("method=alipay".into(), ids(&|m| m.method == "alipay")),
        ("currency=SGD".into(), ids(&|m| m.currency == "SGD")),
        ("currency=THB&method=alipay_hk".into(), ids(&|m| m.currency == "THB" && m.method == "alipay_hk")),
        (format!("from={d2}"), ids(&|m| m.late)),
        (format!("to={d1}"), ids(&|m| !m.late)),
        (format!("from={d1}&to={d1}&status=pending"), ids(&|m| !m.late && !m.paid)),
    ];
    for (filter, expected) in &cases {
        assert!(!expected.is_empty() && expected.len() < 60, "{filter} must be a real filter");
        let got = walk(&mut b, &format!("/dashboard?{filter}")).await;
        assert_eq!(&got, expected, "{filter}");
        let first = b.get(&format!("/dashboard?{filter}")).await;
        assert!(first.text.contains(&format!("Matching charges: {}", expected.len())), "{filter}");
    }
    // Unknown values are no filter, not an error.
    assert_eq!(rows(&b.get("/dashboard?status=lost&method=cash&currency=XYZ&from=soon").await.text).len(), 25);

    // A charge created during a walk: the older pages neither repeat nor skip anything because of it.
    let expected = ids(&|m| !m.paid);
    let first = b.get("/dashboard?status=pending").await;
    let mut seen = rows(&first.text);
    app.clock.advance(1);
    let newcomer = app.create_charge("alipay", 50_000, "THB").await["id"].as_str().unwrap().to_string();
    seen.extend(walk(&mut b, &link(&first.text, "older").unwrap()).await);
    assert_eq!(seen, expected);
    // It is on top of the list from then on.
    assert_eq!(rows(&b.get("/dashboard?status=pending").await.text)[0], newcomer);

    // Newer goes back the way Older came, and the newest page is always full.
    let p1 = b.get("/dashboard").await;
    assert!(link(&p1.text, "newer").is_none() && link(&p1.text, "newest").is_none());
    let p2 = b.get(&link(&p1.text, "older").unwrap()).await;
    let p3 = b.get(&link(&p2.text, "older").unwrap()).await;
    assert!(link(&p3.text, "older").is_none());
    let back2 = b.get(&link(&p3.text, "newer").unwrap()).await;
    assert_eq!(rows(&back2.text), rows(&p2.text));
    let back1 = b.get(&link(&back2.text, "newer").unwrap()).await;
    assert_eq!(rows(&back1.text), rows(&p1.text));
    assert_eq!(rows(&b.get(&link(&p3.text, "newest").unwrap()).await.text), rows(&p1.text));
    // Filters ride along on the links.
    let f1 = b.get("/dashboard?method=alipay&q=alipay").await;
    assert!(link(&f1.text, "older").unwrap().starts_with("/dashboard?q=alipay&method=alipay&older=chrg_test_"));

    // A cursor that is not a charge of this account and mode is the newest page.
    let other = app.other_account().await;
    let src = app
        .post_json("/sources", &other.test_public_key, json!({"type": "alipay", "amount": 50_000, "currency": "THB"}))
        .await
        .ok();
    let theirs = app
        .post_json(
            "/charges",
            &other.test_secret_key,
            json!({"amount": 50_000, "currency": "THB", "source": src["id"], "return_uri": "https://shop.example/r"}),
        )
        .await
        .ok();
    for cursor in [theirs["id"].as_str().unwrap(), "chrg_test_nosuchcharge00000", "x"] {
        let r = b.get(&format!("/dashboard?older={cursor}")).await;
        assert_eq!(rows(&r.text), rows(&p1.text), "{cursor}");
        assert!(!r.text.contains(theirs["id"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn creating_a_user_is_audited_and_emails_are_unique() {
    let app = spawn_app().await;
    user(&app, "a@shop.example", Role::Owner).await;
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let err = auth::create_user(&app.store, &account, "A@shop.example", Role::Viewer, PASSWORD, app.state.now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let short = auth::create_user(&app.store, &account, "b@shop.example", Role::Viewer, "short", app.state.now()).await;
    assert!(short.is_err());
    let log = app.store.list_audit(&account, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].actor.as_str(), log[0].action.as_str()), ("cli", "user.create"));
    assert_eq!(log[0].detail, "a@shop.example as owner");
    let stored = app.store.find_user("a@shop.example").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$") && !stored.password_hash.contains(PASSWORD));
}

/// A successful THB 1,000.00 charge and a browser logged in with this role.
async fn paid_and_logged_in<'a>(app: &'a TestApp, email: &str, role: Role) -> (String, Browser<'a>) {
    user(app, email, role).await;
    let id = app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string();
    app.mark_as_paid(&id).await;
    let mut b = Browser::new(app);
    assert_eq!(b.login(email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    (id, b)
}

#[tokio::test]
async fn an_admin_refunds_from_the_charge_page_and_it_is_audited() {
    let app = spawn_app().await;
    let (id, mut b) = paid_and_logged_in(&app, "admin@shop.example", Role::Admin).await;
    let page = b.get(&format!("/dashboard/charges/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // The rules before trying: what remains, until when; and the fee breakdown.
    assert!(page.text.contains("id=\"remaining\">THB 1,000.00<"), "{}", page.text);
    assert!(page.text.contains("id=\"deadline\""));
    assert!(page.text.contains("charge.complete"));
    let csrf = hidden(&page.text, "csrf");

    // Without the token: refused, nothing refunded.
    let r = b.post(&format!("/dashboard/charges/{id}/refund"), &[("amount", "100")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.charge(&id).await["refunded_amount"], 0);

    let r = b.post(&format!("/dashboard/charges/{id}/refund"), &[("csrf", &csrf), ("amount", "250.50")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(app.charge(&id).await["refunded_amount"], 25_050);
    let after = b.get(location(&r)).await;
    assert!(after.text.contains("id=\"notice\""));
    assert!(after.text.contains("id=\"remaining\">THB 749.50<"));
    // Too much: the domain's message, shown on the page, nothing written.
    let r = b.post(&format!("/dashboard/charges/{id}/refund"), &[("csrf", &csrf), ("amount", "800")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"action-error\""));
    assert_eq!(app.charge(&id).await["refunded_amount"], 25_050);

    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let log = app.store.list_audit(&account, 10).await.unwrap();
    assert_eq!((log[0].actor.as_str(), log[0].action.as_str()), ("admin@shop.example", "charge.refund"));
    assert_eq!(log[0].detail, format!("{id} 25050 subunits of THB"));
    assert_eq!(log.iter().filter(|e| e.action == "charge.refund").count(), 1, "the refused refund left no row");
}

#[tokio::test]
async fn a_viewer_cannot_refund() {
    let app = spawn_app().await;
    let (id, mut b) = paid_and_logged_in(&app, "viewer@shop.example", Role::Viewer).await;
    let page = b.get(&format!("/dashboard/charges/{id}")).await;
    assert!(page.text.contains("id=\"read-only\""));
    assert!(!page.text.contains("id=\"refund\""));
    let csrf = hidden(&page.text, "csrf");
    let r = b.post(&format!("/dashboard/charges/{id}/refund"), &[("csrf", &csrf), ("amount", "100")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.charge(&id).await["refunded_amount"], 0);
}

#[tokio::test]
async fn another_accounts_charge_is_not_found() {
    let app = spawn_app().await;
    let (_, mut b) = paid_and_logged_in(&app, "admin@shop.example", Role::Admin).await;
    let other = app.other_account().await;
    let src = app
        .post_json("/sources", &other.test_public_key, json!({"type": "alipay", "amount": 100_000, "currency": "THB"}))
        .await
        .ok();
    let theirs = app
        .post_json(
            "/charges",
            &other.test_secret_key,
            json!({"amount": 100_000, "currency": "THB", "source": src["id"], "return_uri": "https://shop.example/r"}),
        )
        .await
        .ok();
    let theirs = theirs["id"].as_str().unwrap();
    let page = b.get("/dashboard").await;
    let csrf = hidden(&page.text, "csrf");
    assert_eq!(b.get(&format!("/dashboard/charges/{theirs}")).await.status, StatusCode::NOT_FOUND);
    let r = b.post(&format!("/dashboard/charges/{theirs}/settle"), &[("csrf", &csrf), ("outcome", "paid")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/charges/{theirs}"), &other.test_secret_key).await.ok()["status"], "pending");
    assert_eq!(b.get("/dashboard/charges/chrg_test_nonsense").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn test_mode_buttons_settle_a_pending_charge() {
    let app = spawn_app().await;
    user(&app, "owner@shop.example", Role::Owner).await;
    let mut b = Browser::new(&app);
    b.login("owner@shop.example", PASSWORD).await;
    let a = app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string();
    let f = app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string();
    let page = b.get(&format!("/dashboard/charges/{a}")).await;
    assert!(page.text.contains("id=\"mark-paid\""));
    let csrf = hidden(&page.text, "csrf");
    b.post(&format!("/dashboard/charges/{a}/settle"), &[("csrf", &csrf), ("outcome", "paid")]).await;
    assert_eq!(app.charge(&a).await["status"], "successful");
    b.post(
        &format!("/dashboard/charges/{f}/settle"),
        &[("csrf", &csrf), ("outcome", "failed"), ("failure_code", "insufficient_fund")],
    )
    .await;
    let c = app.charge(&f).await;
    assert_eq!((c["status"].as_str(), c["failure_code"].as_str()), (Some("failed"), Some("insufficient_fund")));
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let actions: Vec<String> =
        app.store.list_audit(&account, 10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions[..2], ["charge.failed".to_string(), "charge.paid".to_string()]);
}

#[tokio::test]
async fn webhook_endpoints_are_added_rolled_and_removed_with_audit() {
    let app = spawn_app().await;
    user(&app, "admin@shop.example", Role::Admin).await;
    user(&app, "viewer@shop.example", Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login("admin@shop.example", PASSWORD).await;
    let page = b.get("/dashboard/webhooks").await;
    assert!(page.text.contains("id=\"no-endpoints\""));
    let csrf = hidden(&page.text, "csrf");
    let r = b.post("/dashboard/webhooks", &[("csrf", &csrf), ("url", "not a url")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let receiver = crate::helpers::Receiver::start().await;
    let hook = receiver.url("/hooks");
    let r = b.post("/dashboard/webhooks", &[("csrf", &csrf), ("url", &hook)]).await;
    assert_eq!(location(&r), "/dashboard/webhooks", "{}", r.text);
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let eps = app.store.list_endpoints(&account, Some(false)).await.unwrap();
    assert_eq!(eps.len(), 1);
    let (ep, before) = (eps[0].id.to_string(), eps[0].secret.clone());

    let r = b.post(&format!("/dashboard/webhooks/{ep}/roll"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/dashboard/webhooks");
    let rolled = app.store.get_endpoint(&ep.parse().unwrap()).await.unwrap();
    assert_ne!(rolled.secret, before);
    assert_eq!(rolled.previous_secret.as_deref(), Some(before.as_str()));
    let page = b.get("/dashboard/webhooks").await;
    assert!(page.text.contains(&rolled.secret) && page.text.contains("previous secret valid until"));

    // A viewer sees neither the secret nor the buttons, and cannot roll.
    let mut v = Browser::new(&app);
    v.login("viewer@shop.example", PASSWORD).await;
    let vp = v.get("/dashboard/webhooks").await;
    assert!(!vp.text.contains(&rolled.secret) && !vp.text.contains("class=\"roll\""));
    let vcsrf = hidden(&vp.text, "csrf");
    assert_eq!(
        v.post(&format!("/dashboard/webhooks/{ep}/roll"), &[("csrf", &vcsrf)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.store.get_endpoint(&ep.parse().unwrap()).await.unwrap().secret, rolled.secret);

    let r = b.post(&format!("/dashboard/webhooks/{ep}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/dashboard/webhooks");
    assert!(app.store.list_endpoints(&account, None).await.unwrap().is_empty());
    let actions: Vec<String> =
        app.store.list_audit(&account, 10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions[..3],
        ["webhook_endpoint.delete", "webhook_endpoint.roll_secret", "webhook_endpoint.create"].map(String::from)
    );
    // An event is listed with a redeliver button, and redelivering works.
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let page = b.get("/dashboard/webhooks").await;
    assert!(page.text.contains("charge.create"));
    let ev = app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), app.skey()).await.ok();
    let ev = ev["data"][0]["id"].as_str().unwrap().to_string();
    let r = b.post(&format!("/dashboard/events/{ev}/redeliver"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/dashboard/webhooks");
}

#[tokio::test]
async fn money_page_csv_export_and_the_owners_audit_log() {
    let app = spawn_app().await;
    let (id, mut b) = paid_and_logged_in(&app, "owner@shop.example", Role::Owner).await;
    let src = app.create_source("alipay", 50_000, "THB").await;
    let tricky = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 50_000, "currency": "THB", "source": src["id"], "description": "=cmd, \"quoted\"",
                   "return_uri": "https://shop.example/done"}),
        )
        .await
        .ok();
    let page = b.get("/dashboard/money").await;
    assert_eq!(page.status, StatusCode::OK);
    let net = app.charge(&id).await["net"].as_i64().unwrap();
    assert!(net < 100_000 && net > 90_000);
    let shown = format!("<li><strong>THB {}.{:02}</strong></li>", net / 100, net % 100);
    assert!(page.text.contains(&shown), "the balance is the charge's net {shown}: {}", page.text);
    assert!(page.text.contains("credit"));

    // The export's days are Bangkok days (the chart's): the charge's day there.
    let created = satang_domain::Timestamp::parse(app.charge(&id).await["created_at"].as_str().unwrap()).unwrap();
    let today = satang_domain::Timestamp::from_unix(created.unix() + 7 * 3600).iso()[..10].to_string();
    let csv = b.get(&format!("/dashboard/export?kind=charges&from={today}&to={today}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers["content-disposition"].to_str().unwrap().contains("charges-test-"));
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,created,status,currency,amount,fee,fee_vat,net,refunded,method,description,metadata");
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(lines[1].starts_with(&format!("{id},")) && lines[1].contains(",successful,THB,100000,"));
    assert!(lines[2].contains(tricky["id"].as_str().unwrap()));
    assert!(lines[2].contains("\"'=cmd, \"\"quoted\"\"\""), "{}", lines[2]);
    let none = b.get("/dashboard/export?kind=charges&from=2000-01-01&to=2000-01-31").await;
    assert_eq!(none.text.split("\r\n").filter(|l| !l.is_empty()).count(), 1);
    let tx = b.get(&format!("/dashboard/export?kind=transactions&from={today}&to={today}")).await;
    assert!(tx.text.contains(&format!(",credit,THB,{net},{id}")), "{}", tx.text);
    assert_eq!(b.get("/dashboard/export?kind=charges&from=x&to=y").await.status, StatusCode::BAD_REQUEST);

    // The owner reads the audit log; an admin may not.
    let log = b.get("/dashboard/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.text.contains("user.create") && log.text.contains("owner@shop.example as owner"));
    user(&app, "admin@shop.example", Role::Admin).await;
    let mut a = Browser::new(&app);
    a.login("admin@shop.example", PASSWORD).await;
    assert_eq!(a.get("/dashboard/audit").await.status, StatusCode::FORBIDDEN);
    // No export without a session.
    let mut anon = Browser::new(&app);
    assert_eq!(
        location(&anon.get("/dashboard/export?kind=charges&from=2000-01-01&to=2000-01-02").await),
        "/dashboard/login"
    );
}

#[tokio::test]
async fn an_owner_rolls_the_secret_key_and_the_old_one_works_for_the_overlap() {
    let app = spawn_app().await;
    user(&app, "owner@shop.example", Role::Owner).await;
    user(&app, "admin@shop.example", Role::Admin).await;
    let old = app.skey().to_string();
    assert_eq!(app.get("/account", &old).await.status, StatusCode::OK, "cached before the roll");
    let mut b = Browser::new(&app);
    b.login("owner@shop.example", PASSWORD).await;
    let page = b.get("/dashboard/keys").await;
    assert!(page.text.contains(app.pkey()), "the public key is shown to copy");
    assert!(!page.text.contains(&old), "never a secret key");
    let csrf = hidden(&page.text, "csrf");
    let r = b.post("/dashboard/keys/roll", &[("csrf", &csrf), ("overlap_hours", "2")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let at = r.text.find("<code class=\"id\">").expect("the new key is shown") + 17;
    let new = r.text[at..at + r.text[at..].find('<').unwrap()].to_string();
    assert!(new.starts_with("skey_test_") && new != old);
    assert!(!b.get("/dashboard/keys").await.text.contains(&new), "shown only once");

    assert_eq!(app.get("/account", &new).await.status, StatusCode::OK);
    let during = app.get("/account", &old).await;
    assert_eq!(during.status, StatusCode::OK, "the overlap");
    assert_eq!(app.get("/charges", &old).await.status, StatusCode::OK);
    // The answer does not say which key was used; the audit log does, once, for the rolled one.
    assert_eq!(during.text, app.get("/account", &new).await.text);
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let used: Vec<_> = app
        .store
        .list_audit(&account, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "key.rolled_key_used")
        .collect();
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0].actor, "api");
    assert!(used[0].detail.starts_with(&satang::accounts::key_hint(&old)), "{}", used[0].detail);
    assert!(used[0].detail.contains("was used for GET /account"), "{}", used[0].detail);
    assert!(!used[0].detail.contains(&old) && !used[0].detail.contains(&new));
    app.clock.advance(2 * 3600 + 1);
    app.get("/account", &old).await.err(401, "authentication_failure");
    assert_eq!(app.get("/account", &new).await.status, StatusCode::OK);

    // Only an owner rolls; the audit log says who.
    let mut a = Browser::new(&app);
    a.login("admin@shop.example", PASSWORD).await;
    let acsrf = hidden(&a.get("/dashboard/keys").await.text, "csrf");
    assert_eq!(
        a.post("/dashboard/keys/roll", &[("csrf", &acsrf), ("overlap_hours", "2")]).await.status,
        StatusCode::FORBIDDEN
    );
    let log = app.store.list_audit(&account, 10).await.unwrap();
    let roll = log.iter().find(|e| e.action == "key.roll").expect("the roll's row");
    assert_eq!(roll.actor, "owner@shop.example");
    assert!(!roll.detail.contains(&new));
    assert_eq!(log.iter().filter(|e| e.action == "key.roll").count(), 1, "the admin's refused roll wrote nothing");
}

#[tokio::test]
async fn the_money_chart_shows_each_days_volume_fees_refunds_and_net() {
    use satang::dashboard::chart::{day_label, day_of};
    use satang::pages::i18n::Lang;
    let app = spawn_app().await;
    user(&app, "owner@shop.example", Role::Owner).await;
    // Day one: a payment of THB 1,000 and a refund of THB 300 of it.
    let first = app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string();
    app.mark_as_paid(&first).await;
    let r = app.post_json(&format!("/charges/{first}/refunds"), app.skey(), json!({"amount": 30_000})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let day_one = day_label(day_of(app.state.now(), 7 * 3600), Lang::En);
    // Two days later: a payment of THB 500, and one left pending (it books nothing).
    app.clock.advance(2 * 86_400);
    let second = app.create_charge("alipay", 50_000, "THB").await["id"].as_str().unwrap().to_string();
    app.mark_as_paid(&second).await;
    app.create_charge("alipay", 70_000, "THB").await;
    let day_three = day_label(day_of(app.state.now(), 7 * 3600), Lang::En);

    let mut b = Browser::new(&app);
    assert_eq!(b.login("owner@shop.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = b.get("/dashboard/money").await;
    assert_eq!(page.status, StatusCode::OK);
    let money = |v: i64| satang::dashboard::chart::money(satang_domain::Currency::Thb, v);
    assert_eq!(money(3_906), "THB 39.06");
    let (c1, c2) = (app.charge(&first).await, app.charge(&second).await);
    let fees = |c: &serde_json::Value| c["fee"].as_i64().unwrap() + c["fee_vat"].as_i64().unwrap();
    let row = |label: &str, gross: i64, fee: i64, refunds: i64, net: i64| {
        format!(
            "<tr><td data-label=\"Day\">{label}</td><td data-label=\"Volume\" class=\"num\">{}</td>\
             <td data-label=\"Fees and VAT\" class=\"num\">{}</td><td data-label=\"Refunds\" class=\"num\">{}</td>\
             <td data-label=\"Net\" class=\"num\">{}</td></tr>",
            money(gross),
            money(fee),
            money(refunds),
            money(net)
        )
    };
    let one = row(&day_one, 100_000, fees(&c1), 30_000, c1["net"].as_i64().unwrap() - 30_000);
    let three = row(&day_three, 50_000, fees(&c2), 0, c2["net"].as_i64().unwrap());
    assert!(page.text.contains(&one), "day one {one} in {}", page.text);
    assert!(page.text.contains(&three), "day three {three} in {}", page.text);
    // Newest first; the empty day between them has no row, and the chart draws two days of three bars.
    assert!(page.text.find(&three) < page.text.find(&one));
    let svg = &page.text[page.text.find("<svg class=\"chart\"").unwrap()..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect").count(), 6, "{svg}");
    assert!(svg.contains("aria-labelledby=\"chart-thb\"") && page.text.contains("id=\"chart-thb\""));
    assert!(svg.contains(&format!("volume {}", money(150_000))), "{svg}");
    // Thai: the same chart with Thai words and dates.
    b.get("/dashboard?lang=th").await;
    let th = b.get("/dashboard/money").await;
    assert!(th.text.contains("30 วันล่าสุด") && th.text.contains(&day_label(day_of(app.state.now(), 7 * 3600), Lang::Th)));
}
#[tokio::test]
async fn a_one_time_password_must_be_changed_first_and_a_change_ends_other_sessions() {
    let app = spawn_app().await;
    let account = app.acct.id.parse().unwrap();
    let one_time = "generated one time 8k2j";
    auth::create_user_with_one_time_password(
        &app.store,
        &account,
        "new@shop.example",
        Role::Admin,
        one_time,
        app.state.now(),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    assert_eq!(b.login("new@shop.example", one_time).await.status, StatusCode::SEE_OTHER);
    let mut other = Browser::new(&app);
    assert_eq!(other.login("new@shop.example", one_time).await.status, StatusCode::SEE_OTHER);
    // Every page, and every change, leads to the password form first.
    for path in ["/dashboard", "/dashboard/money", "/dashboard/webhooks"] {
        let r = b.get(path).await;
        assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/dashboard/password"), "{path}");
    }
    let page = b.get("/dashboard/password").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("id=\"one-time\""));
    let csrf = hidden(&page.text, "csrf");
    let r = b.post("/dashboard/mode", &[("csrf", &csrf), ("to", "live")]).await;
    assert_eq!(location(&r), "/dashboard/password");

    let change = |current: &'static str, new: &'static str, repeat: &'static str| {
        let csrf = csrf.clone();
        (csrf, current, new, repeat)
    };
    let long = "my own much longer passphrase";
    for ((csrf, current, new, repeat), want, why) in [
        (change("wrong one time pw", long, long), StatusCode::BAD_REQUEST, "wrong current"),
        (change(one_time, "short", "short"), StatusCode::BAD_REQUEST, "too short"),
        (change(one_time, long, "my own much longer passphrasE"), StatusCode::BAD_REQUEST, "mismatch"),
        (change(one_time, one_time, one_time), StatusCode::BAD_REQUEST, "unchanged"),
    ] {
        let r = b
            .post("/dashboard/password", &[("csrf", &csrf), ("current", current), ("new", new), ("repeat", repeat)])
            .await;
        assert_eq!(r.status, want, "{why}");
        assert!(r.text.contains("id=\"password-error\""), "{why}");
    }
    // Without the form token: refused.
    let r = b.post("/dashboard/password", &[("current", one_time), ("new", long), ("repeat", long)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        b.post("/dashboard/password", &[("csrf", &csrf), ("current", one_time), ("new", long), ("repeat", long)]).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/dashboard"));
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK, "this session goes on");
    assert_eq!(location(&other.get("/dashboard").await), "/dashboard/login", "the other session ended");
    let mut again = Browser::new(&app);
    assert_eq!(again.login("new@shop.example", one_time).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.login("new@shop.example", long).await.status, StatusCode::SEE_OTHER);
    assert_eq!(again.get("/dashboard").await.status, StatusCode::OK, "no longer sent to change it");
    let log = app.store.list_audit(&account, 10).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "user.password" && e.actor == "new@shop.example").count(), 1);
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_login_limit() {
    let app = spawn_app().await;
    user(&app, "admin@shop.example", Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login("admin@shop.example", PASSWORD).await;
    let csrf = hidden(&b.get("/dashboard/password").await.text, "csrf");
    let new = "a different long passphrase";
    let mut statuses = Vec::new();
    for _ in 0..(auth::MAX_FAILED_LOGINS + 1) {
        let r = b
            .post(
                "/dashboard/password",
                &[("csrf", &csrf), ("current", "guess guess guess"), ("new", new), ("repeat", new)],
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // Even the right password is refused now, and it did not change.
    let r =
        b.post("/dashboard/password", &[("csrf", &csrf), ("current", PASSWORD), ("new", new), ("repeat", new)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let account = app.acct.id.parse().unwrap();
    assert!(app.store.list_audit(&account, 10).await.unwrap().iter().all(|e| e.action != "user.password"));
}

#[tokio::test]
async fn the_export_counts_days_in_bangkok_time() {
    let app = spawn_app().await;
    user(&app, "owner@shop.example", Role::Owner).await;
    // 18:30 UTC on 2 Dec is 01:30 on 3 Dec in Bangkok.
    app.clock.set(satang_domain::Timestamp::parse("2026-12-02T18:30:00Z").unwrap());
    let id = app.create_charge("alipay", 100_000, "THB").await["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    assert_eq!(b.login("owner@shop.example", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let rows = |csv: &str| csv.split("\r\n").skip(1).filter(|l| !l.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let third = b.get("/dashboard/export?kind=charges&from=2026-12-03&to=2026-12-03").await;
    assert_eq!(rows(&third.text).len(), 1, "{}", third.text);
    assert!(rows(&third.text)[0].starts_with(&format!("{id},2026-12-02T18:30:00Z,")), "times stay ISO UTC");
    let second = b.get("/dashboard/export?kind=charges&from=2026-12-02&to=2026-12-02").await;
    assert!(rows(&second.text).is_empty(), "{}", second.text);
    // The form offers the last 30 Bangkok days, ending with that Bangkok day.
    let page = b.get("/dashboard/money").await;
    assert!(page.text.contains("name=\"to\" type=\"date\" required value=\"2026-12-03\""), "{}", page.text);
    assert!(page.text.contains("name=\"from\" type=\"date\" required value=\"2026-11-04\""));
}

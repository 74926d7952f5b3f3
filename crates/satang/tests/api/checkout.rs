//! The merchant's checkout in a browser (issue 14): CORS on the public-key routes, refusals of secret keys
//! sent from a web page, the per-account origin allow-list, and `GET /omise.js`. Requests carry `Origin`
//! and the preflight headers exactly as Chromium sends them for Omise.js's `fetch`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Res, TestApp, spawn_app};

const SHOP: &str = "http://shop.example:8000";

fn header(res: &Res, name: &str) -> Option<String> {
    res.headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(app: &TestApp, path: &str, method: &str) -> Res {
    app.send(
        app.client
            .request(Method::OPTIONS, format!("{}{path}", app.base))
            .header("origin", SHOP)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization,content-type"),
    )
    .await
}

/// A request as Omise.js makes it: JSON, the key as the Basic user name with no colon, from the shop's page.
async fn from_page(app: &TestApp, method: Method, path: &str, key: &str, body: Option<serde_json::Value>) -> Res {
    use base64::Engine as _;
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(key));
    let mut req =
        app.client.request(method, format!("{}{path}", app.base)).header("origin", SHOP).header("authorization", auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    app.send(req).await
}

#[track_caller]
fn assert_cors(res: &Res) {
    assert_eq!(header(res, "access-control-allow-origin").as_deref(), Some("*"), "{}", res.text);
    assert_eq!(header(res, "access-control-allow-credentials"), None);
}

fn hk_source() -> serde_json::Value {
    json!({"amount": 150000, "currency": "SGD", "platform_type": "WEB", "type": "alipay_hk"})
}

#[tokio::test]
async fn preflights_on_public_key_routes_are_answered_once_for_the_checkout() {
    let app = spawn_app().await;
    for (path, method) in
        [("/sources/", "POST"), ("/sources", "POST"), ("/sources/src_test_x", "GET"), ("/capability", "GET")]
    {
        let res = preflight(&app, path, method).await;
        assert_eq!(res.status.as_u16(), 204, "{path}: {}", res.text);
        assert_cors(&res);
        let methods = header(&res, "access-control-allow-methods").unwrap();
        assert!(methods.contains(method), "{path}: {methods}");
        let headers = header(&res, "access-control-allow-headers").unwrap().to_ascii_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
        assert_eq!(header(&res, "access-control-max-age").as_deref(), Some("7200"));
    }
    // Headers a page adds are allowed too; without credentials mode nothing rides on them.
    let res = app
        .send(
            app.client
                .request(Method::OPTIONS, format!("{}/sources/", app.base))
                .header("origin", SHOP)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization,content-type,x-trace-id"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 204);
    assert!(header(&res, "access-control-allow-headers").unwrap().contains("x-trace-id"));
}

#[tokio::test]
async fn create_and_retrieve_source_from_a_page_carry_cors_headers() {
    let app = spawn_app().await;
    let res = from_page(&app, Method::POST, "/sources/", app.pkey(), Some(hk_source())).await;
    assert_cors(&res);
    let expose = header(&res, "access-control-expose-headers").unwrap();
    assert!(expose.contains("X-Request-Id"), "{expose}");
    let source = res.ok();
    assert_eq!(source["type"], "alipay_hk");
    let id = source["id"].as_str().unwrap();
    let res = from_page(&app, Method::GET, &format!("/sources/{id}"), app.pkey(), None).await;
    assert_cors(&res);
    assert_eq!(res.ok()["id"], id);
    let res = from_page(&app, Method::GET, "/capability", app.pkey(), None).await;
    assert_cors(&res);
    res.ok();
}

#[tokio::test]
async fn errors_on_public_key_routes_reach_the_page_with_their_body() {
    let app = spawn_app().await;
    let res =
        from_page(&app, Method::POST, "/sources/", app.pkey(), Some(json!({"type": "alipay_hk", "amount": 1}))).await;
    assert_cors(&res);
    assert_eq!(res.status.as_u16(), 400, "{}", res.text);
    assert_eq!(res.body["object"], "error");

    let res = from_page(&app, Method::POST, "/sources/", "pkey_test_nosuchkey", Some(hk_source())).await;
    assert_cors(&res);
    res.err(401, "authentication_failure");

    let res = from_page(&app, Method::GET, "/sources/src_test_nosuchsource00000", app.pkey(), None).await;
    assert_cors(&res);
    res.err(404, "not_found");
}

#[tokio::test]
async fn secret_key_routes_have_no_cors_and_refuse_their_preflight() {
    let app = spawn_app().await;
    for (path, method) in
        [("/charges", "POST"), ("/charges/chrg_test_x", "GET"), ("/events", "GET"), ("/balance", "GET")]
    {
        let res = preflight(&app, path, method).await;
        assert_eq!(res.status.as_u16(), 403, "{path}: {}", res.text);
        assert_eq!(header(&res, "access-control-allow-origin"), None, "{path}");
        assert!(res.body["message"].as_str().unwrap().contains("secret keys"), "{}", res.text);
    }
    let res = from_page(&app, Method::GET, "/charges", app.skey(), None).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    res.err(401, "authentication_failure");
}

#[tokio::test]
async fn a_secret_key_from_a_page_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let res = from_page(&app, Method::POST, "/sources/", app.skey(), Some(hk_source())).await;
    assert_cors(&res);
    let message = res.err(401, "authentication_failure");
    assert!(message.contains("secret key") && message.contains("public key"), "{message}");
    // The same key from a server (no Origin) works, as the official clients send it.
    app.post_json("/sources", app.skey(), hk_source()).await.ok();
    app.get("/charges", app.skey()).await.ok();
}

#[tokio::test]
async fn an_allow_list_limits_which_pages_may_use_the_public_key() {
    let app = spawn_app().await;
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let mut settings = app.store.get_account(&account).await.unwrap().checkout;
    assert!(settings.allowed_origins.is_empty(), "any origin by default");
    settings.allowed_origins = vec![SHOP.to_string()];
    app.store.set_checkout_settings(&account, &settings).await.unwrap();

    from_page(&app, Method::POST, "/sources/", app.pkey(), Some(hk_source())).await.ok();
    let res = app
        .send(
            app.req(Method::POST, "/sources/", app.pkey()).header("origin", "https://evil.example").json(&hk_source()),
        )
        .await;
    assert_cors(&res);
    let message = res.err(403, "forbidden");
    assert!(message.contains("https://evil.example"), "{message}");
    // Servers send no Origin: the allow-list is about browsers only.
    app.post_json("/sources", app.pkey(), hk_source()).await.ok();
}

#[tokio::test]
async fn omise_js_is_served_pointed_at_this_satang() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(format!("{}/omise.js", app.base))).await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(header(&res, "content-type").unwrap().starts_with("text/javascript"));
    for needle in ["setPublicKey", "createSource", "createToken", "interfaceUrl", "create_source_error", "/sources/"] {
        assert!(res.text.contains(needle), "{needle} missing");
    }
    assert!(res.text.contains(&format!("{:?}", app.base)), "the public URL is the fallback base");
    assert!(res.text.len() < 8 * 1024, "small: {} bytes", res.text.len());
}

//! The request encodings of each official client (omise-wire.md §2.1) and the response rules (§2.2).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn python_sends_json_bodies_on_get_with_nulls() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.create_charge("alipay", 100_000, "THB").await;
    }
    // omise-python's LazyCollection: GET /charges with a JSON body, nulls for unset params.
    let res = app
        .send(
            app.req(Method::GET, "/charges", app.skey())
                .header("content-type", "application/json")
                .body(r#"{"from": null, "limit": 1, "offset": 0, "order": null, "to": null}"#),
        )
        .await
        .ok();
    assert_eq!(res["total"], 3);
    assert_eq!(res["limit"], 1);
    assert_eq!(res["data"].as_array().unwrap().len(), 1);
    // Retrieve sends `{}` as the body.
    let id = res["data"][0]["id"].as_str().unwrap();
    let res = app
        .send(
            app.req(Method::GET, &format!("/charges/{id}"), app.skey())
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await
        .ok();
    assert_eq!(res["id"], id);
}

#[tokio::test]
async fn go_sends_json_on_get_without_a_content_type_and_extra_fields_on_create() {
    let app = spawn_app().await;
    // omise-go's CreateSource and CreateCharge carry fields satang has no use for: they are ignored or echoed.
    let src = app
        .post_json(
            "/sources",
            app.pkey(),
            json!({
                "type": "alipay_hk", "amount": 150000, "currency": "SGD", "platform_type": "ANDROID",
                "billing": {"country": "SG", "city": "Singapore"}, "shipping": {"country": "SG"},
                "installment_term": 0, "zero_interest_installments": false,
            }),
        )
        .await
        .ok();
    assert_eq!(src["billing"], json!({"country": "SG", "city": "Singapore"}));
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({
                "amount": 150000, "currency": "SGD", "source": src["id"], "return_uri": "https://shop.example/r",
                "platform_fee": {"fixed": 0, "percentage": 0}, "capture": false, "zero_interest_installments": false,
            }),
        )
        .await
        .ok();
    assert_eq!(c["capture"], true, "capture=false is ignored for wallet charges (java and go send it)");
    let id = c["id"].as_str().unwrap();
    // RetrieveEvent-style GET with a JSON body and no Content-Type.
    let res = app
        .send(app.req(Method::GET, "/charges", app.skey()).body(r#"{"limit":100,"order":"reverse_chronological"}"#))
        .await
        .ok();
    assert_eq!(res["data"][0]["id"], id);
    assert_eq!(res["order"], "reverse_chronological");
}

#[tokio::test]
async fn java_sends_every_field_most_of_them_null() {
    let app = spawn_app().await;
    let src = app
        .post_json(
            "/sources",
            app.skey(),
            json!({"amount": 100000, "currency": "thb", "type": "alipay", "installment_term": 0,
                   "zero_interest_installments": false, "platform_type": null, "barcode": null, "bank": null}),
        )
        .await
        .ok();
    let c = app
        .send(
            app.req(Method::POST, "/charges", app.skey())
                .header("content-type", "application/json; charset=utf-8")
                .body(
                    json!({"amount": 100000, "capture": false, "card": null, "currency": "thb", "customer": null,
                           "description": null, "expires_at": null, "ip": null, "metadata": null,
                           "return_uri": "https://shop.example/r", "source": src["id"], "webhook_endpoints": null})
                    .to_string(),
                ),
        )
        .await
        .ok();
    assert_eq!(c["description"], Value::Null);
    assert_eq!(c["metadata"], json!({}));
}

#[tokio::test]
async fn ruby_and_php_send_bracketed_forms_and_trailing_slashes() {
    let app = spawn_app().await;
    // php: http_build_query with trailing slashes on collection paths.
    let c = app
        .post_form(
            "/charges/",
            app.skey(),
            &[
                ("amount", "100000"),
                ("currency", "thb"),
                ("return_uri", "http://example.com/orders/345678/complete"),
                ("source[type]", "alipay"),
                ("metadata[order_id]", "345678"),
            ],
        )
        .await
        .ok();
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["metadata"], json!({"order_id": "345678"}));
    app.get(&format!("/charges/{id}/"), app.skey()).await.ok();
    app.get("/charges/?limit=5&offset=0", app.skey()).await.ok();
    app.get(&format!("/charges/{id}/events/"), app.skey()).await.ok();
    // ruby: query-string lists with brackets sorted.
    let list = app.get("/events?limit=20&offset=0&order=chronological", app.skey()).await.ok();
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn node_sends_numeric_strings_and_query_strings() {
    let app = spawn_app().await;
    let src = app
        .post_json("/sources", app.pkey(), json!({"type": "alipay", "amount": "100000", "currency": "THB"}))
        .await
        .ok();
    assert_eq!(src["amount"], 100000);
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": "100000", "currency": "THB", "source": src["id"], "return_uri": "https://shop.example/r"}),
        )
        .await
        .ok();
    assert_eq!(c["amount"], 100000);
}

#[tokio::test]
async fn success_is_http_200_json_with_the_effective_version() {
    let app = spawn_app().await;
    let res =
        app.post_json("/sources", app.pkey(), json!({"type": "alipay", "amount": 100000, "currency": "THB"})).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(res.headers["cache-control"], "no-cache, no-store");
    assert_eq!(res.headers["omise-version"], "2019-05-29");
    assert!(res.headers.contains_key("x-request-id"));
    let res = app.send(app.req(Method::GET, "/charges", app.skey()).header("omise-version", "2017-11-02")).await;
    assert_eq!(res.headers["omise-version"], "2017-11-02");
    // An unknown version falls back to the account's default, and says so.
    let res = app.send(app.req(Method::GET, "/charges", app.skey()).header("omise-version", "2019-09-29")).await;
    assert_eq!(res.headers["omise-version"], "2019-05-29");
}

#[tokio::test]
async fn version_2017_11_02_uses_the_older_field_names() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    let old = app
        .send(app.req(Method::GET, &format!("/charges/{id}"), app.skey()).header("omise-version", "2017-11-02"))
        .await
        .ok();
    assert_eq!(old["created"], c["created_at"]);
    assert!(old.get("created_at").is_none());
    assert_eq!(old["refunded"], 0);
    assert!(old.get("refunded_amount").is_none());
    assert_eq!(old["currency"], "thb");
    assert_eq!(old["source"]["currency"], "thb");
    assert!(old["source"].get("created").is_some());
    let events = app.send(app.req(Method::GET, "/events", app.skey()).header("omise-version", "2017-11-02")).await.ok();
    assert!(events["data"][0].get("webhook_deliveries").is_none());
    assert_eq!(events["data"][0]["data"]["currency"], "thb", "stored event data is rewritten too");
}

#[tokio::test]
async fn every_failure_is_an_omise_error_object() {
    let app = spawn_app().await;
    let msg = app.get("/nowhere", app.skey()).await.err(404, "not_found");
    assert!(msg.contains("/nowhere"), "{msg}");
    app.send(app.req(Method::DELETE, "/charges", app.skey())).await.err(405, "method_not_allowed");
    app.send(app.req(Method::PUT, "/sources", app.skey())).await.err(405, "method_not_allowed");
    let msg = app
        .send(
            app.req(Method::POST, "/charges", app.skey())
                .header("content-type", "application/json")
                .body("{\"amount\":"),
        )
        .await
        .err(400, "bad_request");
    assert!(msg.starts_with("request body is not valid JSON"), "{msg}");
    app.send(app.req(Method::POST, "/charges", app.skey()).header("content-type", "application/json").body("[1,2]"))
        .await
        .err(400, "bad_request");
    let big = "a".repeat(satang_input::limits::MAX_BODY_BYTES + 10);
    let msg = app
        .send(
            app.req(Method::POST, "/charges", app.skey())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("description={big}")),
        )
        .await
        .err(413, "bad_request");
    assert_eq!(msg, "request body is larger than 256 KiB");
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 0);
}

#[tokio::test]
async fn an_internal_fault_is_a_500_error_object_and_leaves_nothing_half_written() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    // Break the database under the running server: the events table disappears.
    app.sql_exec("drop table events").await;
    let res = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 100000, "currency": "THB", "source": src["id"], "return_uri": "https://shop.example/r"}),
        )
        .await;
    let msg = res.err(500, "internal_error");
    assert!(!msg.to_lowercase().contains("events") && !msg.contains("sql"), "no database detail leaks: {msg}");
    // The charge insert ran before the failing event insert, and was rolled back with it.
    assert_eq!(app.sql_text("select count(*) from charges").await.as_deref(), Some("0"));
    let claimed =
        app.sql_text(&format!("select charge_id from sources where id = '{}'", src["id"].as_str().unwrap())).await;
    assert_eq!(claimed, None, "the source was not claimed");
}

#[tokio::test]
async fn capability_lists_the_registry() {
    let app = spawn_app().await;
    let cap = app.get("/capability", app.pkey()).await.ok();
    assert_eq!(cap["object"], "capability");
    let methods = cap["payment_methods"].as_array().unwrap();
    let hk = methods.iter().find(|m| m["name"] == "alipay_hk").unwrap();
    assert_eq!(hk["currencies"], json!(["SGD", "THB"]));
    assert_eq!(hk["limits"][0], json!({"currency": "SGD", "min": 100, "max": 2000000}));
    // omise-php filters every method by `charge_amount` (in the account's THB) and reads
    // `installment_amount.min` on every filter: the range is one that every THB method accepts.
    assert_eq!(cap["country"], "TH");
    assert_eq!(cap["limits"]["charge_amount"], json!({"min": 2000, "max": 15000000}));
    assert!(cap["limits"]["installment_amount"]["min"].is_i64());
    let thb_min = methods
        .iter()
        .flat_map(|m| m["limits"].as_array().unwrap())
        .filter(|l| l["currency"] == "THB")
        .map(|l| l["min"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(cap["limits"]["charge_amount"]["min"], thb_min, "a cart the filter lets through is accepted");
    // Below it (THB 15), an Alipay charge is refused, which is why the filter must not offer it.
    app.post_json(
        "/charges",
        app.skey(),
        json!({"amount": 1500, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}),
    )
    .await
    .err(400, "invalid_charge");
}

#[tokio::test]
async fn the_account_is_retrieved_with_a_secret_key_only() {
    let app = spawn_app().await;
    let acct = app.get("/account", app.skey()).await.ok();
    assert_eq!(acct["object"], "account");
    assert_eq!(acct["location"], "/account");
    assert_eq!(acct["id"], app.acct.id.to_string());
    assert_eq!(acct["livemode"], false);
    assert_eq!(acct["currency"], "thb");
    assert_eq!(acct["country"], "TH");
    assert_eq!(acct["supported_currencies"], json!(["sgd", "thb"]));
    assert!(acct["created_at"].as_str().unwrap().ends_with('Z'));
    let live = app.get("/account", &app.acct.live_secret_key).await.ok();
    assert_eq!(live["livemode"], true);
    app.get("/account", app.pkey()).await.err(401, "authentication_failure");
}

#[tokio::test]
async fn health_routes_need_no_key() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(format!("{}/healthz", app.base))).await;
    assert_eq!(res.status, 200);
    let res = app.send(app.client.get(format!("{}/readyz", app.base))).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["status"], "ready");
}

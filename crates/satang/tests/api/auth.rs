use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn missing_or_wrong_keys_are_authentication_failures() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(format!("{}/charges", app.base))).await;
    let msg = res.err(401, "authentication_failure");
    assert!(msg.starts_with("authentication failed"), "{msg}");
    app.get("/charges", "skey_test_nonexistent0000000000").await.err(401, "authentication_failure");
    app.get("/charges", "").await.err(401, "authentication_failure");
    let res = app.send(app.client.get(format!("{}/charges", app.base)).bearer_auth(app.skey())).await;
    res.err(401, "authentication_failure");
}

#[tokio::test]
async fn public_keys_reach_sources_only() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    app.get(&format!("/sources/{}", src["id"].as_str().unwrap()), app.pkey()).await.ok();
    for (method, path) in [(Method::GET, "/charges"), (Method::POST, "/charges"), (Method::GET, "/events")] {
        let msg = app.send(app.req(method, path, app.pkey())).await.err(401, "authentication_failure");
        assert!(msg.contains("needs your secret key"), "{msg}");
    }
    app.get("/capability", app.pkey()).await.ok();
}

#[tokio::test]
async fn test_and_live_objects_never_see_each_other() {
    let app = spawn_app().await;
    let test_charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = test_charge["id"].as_str().unwrap();
    let live = &app.acct.live_secret_key;
    let msg = app.get(&format!("/charges/{id}"), live).await.err(404, "not_found");
    assert_eq!(msg, format!("charge {id} was not found"));
    let src = test_charge["source"]["id"].as_str().unwrap();
    app.get(&format!("/sources/{src}"), &app.acct.live_public_key).await.err(404, "not_found");
    assert_eq!(app.get("/charges", live).await.ok()["total"], 0);
    assert_eq!(app.get("/events", live).await.ok()["total"], 0);
    // A test source cannot be charged in live mode either.
    app.post_json(
        "/charges",
        live,
        json!({"amount": 100000, "currency": "THB", "return_uri": "https://shop.example/r", "source": src}),
    )
    .await
    .err(404, "not_found");
}

#[tokio::test]
async fn accounts_never_see_each_other() {
    let app = spawn_app().await;
    let other = app.other_account().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let id = c["id"].as_str().unwrap();
    app.get(&format!("/charges/{id}"), &other.test_secret_key).await.err(404, "not_found");
    app.get(&format!("/charges/{id}/events"), &other.test_secret_key).await.err(404, "not_found");
    app.send(app.req(Method::POST, &format!("/charges/{id}/mark_as_paid"), &other.test_secret_key))
        .await
        .err(404, "not_found");
    app.send(app.req(Method::POST, &format!("/charges/{id}/expire"), &other.test_secret_key))
        .await
        .err(404, "not_found");
    let event = app.get(&format!("/charges/{id}/events"), app.skey()).await.ok()["data"][0]["id"].clone();
    app.get(&format!("/events/{}", event.as_str().unwrap()), &other.test_secret_key).await.err(404, "not_found");
    assert_eq!(app.get("/charges", &other.test_secret_key).await.ok()["total"], 0);
    assert_eq!(app.charge(id).await["status"], "pending", "nothing changed");
}

#[tokio::test]
async fn malformed_ids_are_not_found() {
    let app = spawn_app().await;
    for path in ["/charges/nope", "/charges/src_test_123", "/events/chrg_test_1", "/sources/x"] {
        app.get(path, app.skey()).await.err(404, "not_found");
    }
}

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn each_change_writes_an_event_with_the_object_at_that_moment() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let id = c["id"].as_str().unwrap();
    app.clock.advance(5);
    app.mark_as_paid(id).await;
    let list = app.get(&format!("/charges/{id}/events"), app.skey()).await.ok();
    assert_eq!(list["total"], 2);
    assert_eq!(list["location"], format!("/charges/{id}/events"));
    let (created, completed) = (&list["data"][0], &list["data"][1]);
    assert_eq!(created["object"], "event");
    assert_eq!(created["key"], "charge.create");
    assert_eq!(created["livemode"], false);
    assert!(created["id"].as_str().unwrap().starts_with("evnt_test_"));
    assert_eq!(created["location"], format!("/events/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["webhook_deliveries"], Value::Array(vec![]));
    assert_eq!(created["data"]["id"], id);
    assert_eq!(created["data"]["status"], "pending", "charge.create carries the charge as created");
    assert_eq!(completed["key"], "charge.complete");
    assert_eq!(completed["data"]["status"], "successful");
    assert_eq!(completed["data"]["paid"], true);
    assert_eq!(completed["created_at"], completed["data"]["paid_at"]);
    // The same event by ID and in the account-wide list.
    let one = app.get(&format!("/events/{}", completed["id"].as_str().unwrap()), app.skey()).await.ok();
    assert_eq!(&one, completed);
    let all = app.get("/events?order=reverse_chronological", app.skey()).await.ok();
    assert_eq!(all["total"], 2);
    assert_eq!(all["data"][0]["id"], completed["id"]);
    assert_eq!(all["location"], "/events");
}

#[tokio::test]
async fn expiry_and_failure_events() {
    let app = spawn_app().await;
    let a = app.create_charge("alipay", 100_000, "THB").await;
    let b = app.create_charge("alipay", 100_000, "THB").await;
    app.send(app.req(Method::POST, &format!("/charges/{}/expire", a["id"].as_str().unwrap()), app.skey())).await.ok();
    app.send(app.req(Method::POST, &format!("/charges/{}/mark_as_failed", b["id"].as_str().unwrap()), app.skey()))
        .await
        .ok();
    let events = app.get("/events", app.skey()).await.ok();
    let keys: Vec<_> = events["data"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["charge.create", "charge.create", "charge.expire", "charge.complete"]);
    assert_eq!(events["data"][2]["data"]["expired"], true);
    assert_eq!(events["data"][3]["data"]["failure_code"], "payment_rejected");
}

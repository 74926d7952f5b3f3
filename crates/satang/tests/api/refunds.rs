//! Refunds over the wire: every rule with its own error, windows at their exact edges, and racing refunds.

use reqwest::Method;
use satang_domain::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{Res, TestApp, spawn_app};

async fn refund(app: &TestApp, charge: &str, body: Value) -> Res {
    app.send(app.req(Method::POST, &format!("/charges/{charge}/refunds"), app.skey()).json(&body)).await
}

async fn paid_charge(app: &TestApp, kind: &str, amount: i64, currency: &str) -> String {
    let c = app.create_charge(kind, amount, currency).await;
    let id = c["id"].as_str().unwrap().to_string();
    app.mark_as_paid(&id).await;
    id
}

/// Asserts a refund was refused with `failed_refund` and changed nothing.
async fn refused(app: &TestApp, charge: &str, body: Value) -> String {
    let before = app.charge(charge).await;
    let events_before = app.events_of(charge).await;
    let msg = refund(app, charge, body).await.err(400, "failed_refund");
    let after = app.charge(charge).await;
    assert_eq!(after["refunded_amount"], before["refunded_amount"], "nothing refunded");
    assert_eq!(after["refunds"]["total"], before["refunds"]["total"]);
    assert_eq!(app.events_of(charge).await, events_before, "no event written");
    msg
}

#[tokio::test]
async fn partial_refunds_then_exactly_the_remainder() {
    let app = spawn_app().await;
    let id = paid_charge(&app, "alipay", 100_000, "THB").await;
    let r = refund(&app, &id, json!({"amount": 40_000, "metadata": {"reason": "one item returned"}})).await.ok();
    let rid = r["id"].as_str().unwrap();
    assert!(rid.starts_with("rfnd_test_"));
    assert_eq!(r["object"], "refund");
    assert_eq!(r["amount"], 40_000);
    assert_eq!(r["currency"], "THB");
    assert_eq!(r["charge"], id);
    assert!(r["transaction"].as_str().unwrap().starts_with("trxn_test_"));
    assert_eq!(r["status"], "closed");
    assert_eq!(r["voided"], false);
    assert_eq!(r["metadata"], json!({"reason": "one item returned"}));
    assert_eq!(r["location"], format!("/charges/{id}/refunds/{rid}"));
    let c = app.charge(&id).await;
    assert_eq!(c["refunded_amount"], 40_000);
    assert_eq!(c["refunds"]["total"], 1);
    assert_eq!(c["refunds"]["data"][0]["id"], rid);
    assert_eq!(c["refundable"], true);
    assert_eq!(c["status"], "successful");

    let msg = refused(&app, &id, json!({"amount": 60_001})).await;
    assert_eq!(msg, "amount exceeds the refundable remainder of 60000 (charge 100000, already refunded 40000)");
    refund(&app, &id, json!({"amount": "60000"})).await.ok();
    let c = app.charge(&id).await;
    assert_eq!(c["refunded_amount"], 100_000);
    assert_eq!(c["refundable"], false);
    assert_eq!(c["partially_refundable"], false);
    let msg = refused(&app, &id, json!({"amount": 1})).await;
    assert!(msg.starts_with("amount exceeds the refundable remainder of 0"), "{msg}");
    // 2017-11-02 names the total `refunded`.
    let old = app
        .send(app.req(Method::GET, &format!("/charges/{id}"), app.skey()).header("omise-version", "2017-11-02"))
        .await
        .ok();
    assert_eq!(old["refunded"], 100_000);
}

#[tokio::test]
async fn only_a_successful_charge_can_be_refunded() {
    let app = spawn_app().await;
    let pending = app.create_charge("alipay", 100_000, "THB").await;
    let pending = pending["id"].as_str().unwrap();
    let msg = refused(&app, pending, json!({"amount": 1000})).await;
    assert_eq!(msg, "charge can't be refunded: it is pending, and only a successful charge can be refunded");
    let failed = app.create_charge("alipay", 100_000, "THB").await;
    let failed = failed["id"].as_str().unwrap();
    app.send(app.req(Method::POST, &format!("/charges/{failed}/mark_as_failed"), app.skey())).await.ok();
    assert!(refused(&app, failed, json!({"amount": 1000})).await.contains("it is failed"));
    let expired = app.create_charge("alipay", 100_000, "THB").await;
    let expired = expired["id"].as_str().unwrap();
    app.send(app.req(Method::POST, &format!("/charges/{expired}/expire"), app.skey())).await.ok();
    assert!(refused(&app, expired, json!({"amount": 1000})).await.contains("it is expired"));
}

#[tokio::test]
async fn amount_must_be_a_positive_number() {
    let app = spawn_app().await;
    let id = paid_charge(&app, "alipay", 100_000, "THB").await;
    assert_eq!(refused(&app, &id, json!({"amount": 0})).await, "amount must be greater than 0");
    assert_eq!(refused(&app, &id, json!({"amount": -500})).await, "amount must be greater than 0");
    let msg = refund(&app, &id, json!({"amount": "lots"})).await.err(400, "bad_request");
    assert_eq!(msg, "amount is not a number");
    let msg = refund(&app, &id, json!({})).await.err(400, "bad_request");
    assert_eq!(msg, "amount is required");
    assert_eq!(app.charge(&id).await["refunded_amount"], 0);
}

#[tokio::test]
async fn at_most_fifteen_refunds_per_charge() {
    let app = spawn_app().await;
    let id = paid_charge(&app, "alipay", 100_000, "THB").await;
    for _ in 0..15 {
        refund(&app, &id, json!({"amount": 100})).await.ok();
    }
    assert_eq!(
        refused(&app, &id, json!({"amount": 100})).await,
        "charge can't be refunded: it already has the maximum of 15 refunds"
    );
    assert_eq!(app.charge(&id).await["refunded_amount"], 1_500);
}

#[tokio::test]
async fn alipay_hk_refunds_close_at_0015_gmt8_the_next_day() {
    let app = spawn_app().await;
    // Paid at 2024-05-01 11:00 in Hong Kong: refundable until 2 May 00:15 GMT+8 = 1 May 16:15Z.
    app.clock.set(Timestamp::parse("2024-05-01T03:00:00Z").unwrap());
    let id = paid_charge(&app, "alipay_hk", 150_000, "SGD").await;
    app.clock.set(Timestamp::parse("2024-05-01T16:15:00Z").unwrap());
    refund(&app, &id, json!({"amount": 100})).await.ok();
    assert_eq!(app.charge(&id).await["refundable"], true);
    app.clock.advance(1);
    assert_eq!(app.charge(&id).await["refundable"], false);
    let msg = refused(&app, &id, json!({"amount": 100})).await;
    assert_eq!(
        msg,
        "charge can't be refunded: the refund window of this payment method closed at 2024-05-01T16:15:00Z"
    );
}

#[tokio::test]
async fn alipay_refunds_close_three_months_after_the_charge() {
    let app = spawn_app().await;
    app.clock.set(Timestamp::parse("2024-01-31T10:00:00Z").unwrap());
    let id = paid_charge(&app, "alipay", 100_000, "THB").await;
    app.clock.set(Timestamp::parse("2024-04-30T10:00:00Z").unwrap());
    refund(&app, &id, json!({"amount": 100})).await.ok();
    app.clock.advance(1);
    let msg = refused(&app, &id, json!({"amount": 100})).await;
    assert!(msg.ends_with("closed at 2024-04-30T10:00:00Z"), "{msg}");
}

#[tokio::test]
async fn racing_refunds_never_exceed_the_charge() {
    let app = spawn_app().await;
    let id = paid_charge(&app, "alipay", 100_000, "THB").await;
    // 60 refunds at once, 3,000 to 30,000 each: far more than the charge and than 15 refunds.
    let asks: Vec<i64> = (0..60).map(|i| 3_000 + (i * 7_919) % 27_001).collect();
    let results = futures::future::join_all(asks.iter().map(|a| refund(&app, &id, json!({"amount": a})))).await;
    let mut granted = 0i64;
    let mut count = 0;
    for (res, ask) in results.into_iter().zip(&asks) {
        if res.status == 200 {
            assert_eq!(res.body["amount"], *ask);
            granted += ask;
            count += 1;
        } else {
            res.err(400, "failed_refund");
        }
    }
    assert!(granted <= 100_000, "over-refunded: {granted}");
    assert!(count <= 15);
    assert!(count > 0);
    let c = app.charge(&id).await;
    assert_eq!(c["refunded_amount"], granted);
    let list = app.get(&format!("/charges/{id}/refunds?limit=100"), app.skey()).await.ok();
    assert_eq!(list["total"], count);
    let sum: i64 = list["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).sum();
    assert_eq!(sum, granted);
    let debits: i64 = app.get("/transactions?limit=100", app.skey()).await.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "debit")
        .map(|t| t["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(debits, granted);
}

#[tokio::test]
async fn refund_create_event_carries_the_refund() {
    let app = spawn_app().await;
    let id = paid_charge(&app, "alipay_hk", 150_000, "SGD").await;
    let r = refund(&app, &id, json!({"amount": 50_000})).await.ok();
    let events = app.get(&format!("/charges/{id}/events"), app.skey()).await.ok();
    let e = &events["data"][2];
    assert_eq!(e["key"], "refund.create");
    assert_eq!(e["data"], r);
}

#[tokio::test]
async fn refunds_are_listed_per_charge_and_per_account_and_retrieved_by_id() {
    let app = spawn_app().await;
    let a = paid_charge(&app, "alipay", 100_000, "THB").await;
    let b = paid_charge(&app, "alipay_hk", 150_000, "SGD").await;
    let ra = refund(&app, &a, json!({"amount": 1_000})).await.ok();
    app.clock.advance(10);
    let rb = refund(&app, &b, json!({"amount": 2_000})).await.ok();
    let per_charge = app.get(&format!("/charges/{a}/refunds"), app.skey()).await.ok();
    assert_eq!(per_charge["object"], "list");
    assert_eq!(per_charge["total"], 1);
    assert_eq!(per_charge["location"], format!("/charges/{a}/refunds"));
    assert_eq!(per_charge["data"][0], ra);
    let all = app.get("/refunds?order=reverse_chronological", app.skey()).await.ok();
    assert_eq!(all["total"], 2);
    assert_eq!(all["location"], "/refunds");
    assert_eq!(all["data"][0], rb);
    assert_eq!(all["data"][1], ra);
    let from = rb["created_at"].as_str().unwrap();
    assert_eq!(app.get(&format!("/refunds?from={from}"), app.skey()).await.ok()["total"], 1);
    let one = app.get(&format!("/charges/{a}/refunds/{}", ra["id"].as_str().unwrap()), app.skey()).await.ok();
    assert_eq!(one, ra);
    // A refund is found only under its own charge, account and mode.
    app.get(&format!("/charges/{b}/refunds/{}", ra["id"].as_str().unwrap()), app.skey()).await.err(404, "not_found");
    let other = app.other_account().await;
    app.get(&format!("/charges/{a}/refunds"), &other.test_secret_key).await.err(404, "not_found");
    assert_eq!(app.get("/refunds", &other.test_secret_key).await.ok()["total"], 0);
    refund(&app, &a, json!({"amount": 1})).await.ok();
    let res = app
        .send(
            app.req(Method::POST, &format!("/charges/{a}/refunds"), &other.test_secret_key).json(&json!({"amount": 1})),
        )
        .await;
    res.err(404, "not_found");
}

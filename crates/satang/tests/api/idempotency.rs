//! `Idempotency-Key` (api/idempotency.rs): a retried POST gets the first answer byte for byte and changes
//! nothing more; another request under the same key is refused; keys are per account and mode; racing
//! retries make one effect.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Res, TestApp, spawn_app};

async fn post_with_key(app: &TestApp, path: &str, key: &str, idem: &str, body: Value) -> Res {
    app.send(app.req(Method::POST, path, key).header("Idempotency-Key", idem).json(&body)).await
}

fn charge_body(source: &str) -> Value {
    json!({"amount": 100000, "currency": "THB", "source": source, "return_uri": "https://shop.example/r"})
}

#[tokio::test]
async fn a_retried_charge_gets_the_first_answer_byte_for_byte_and_makes_one_charge() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let body = charge_body(src["id"].as_str().unwrap());
    let first = post_with_key(&app, "/charges", app.skey(), "order-7-attempt", body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(first.headers["omise-version"], "2019-05-29");
    let again = post_with_key(&app, "/charges", app.skey(), "order-7-attempt", body.clone()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text, "byte for byte");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["omise-version"], "2019-05-29");
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 1);
    // Without a key the same source is refused: the first charge used it. So the replay really did not
    // run the request again.
    let res = app.post_json("/charges", app.skey(), body).await;
    res.err(400, "invalid_charge");
    // Even after the charge changed, the key answers with the first response.
    app.mark_as_paid(first.body["id"].as_str().unwrap()).await;
    let later =
        post_with_key(&app, "/charges", app.skey(), "order-7-attempt", charge_body(src["id"].as_str().unwrap())).await;
    assert_eq!(later.text, first.text);
}

#[tokio::test]
async fn another_request_under_a_used_key_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let body = json!({"type": "alipay", "amount": 100000, "currency": "THB"});
    post_with_key(&app, "/sources", app.pkey(), "k1", body).await.ok();
    let other = json!({"type": "alipay", "amount": 200000, "currency": "THB"});
    let msg = post_with_key(&app, "/sources", app.pkey(), "k1", other.clone()).await.err(422, "idempotency_key_reused");
    assert!(msg.contains("different request"), "{msg}");
    // The same body on another path is another request too.
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let path = format!("/charges/{}/expire", charge["id"].as_str().unwrap());
    post_with_key(&app, &path, app.skey(), "k1", json!({})).await.err(422, "idempotency_key_reused");
    assert_eq!(app.charge(charge["id"].as_str().unwrap()).await["status"], "pending");
    // Keys are per account and mode: the same key is new to another account.
    let other_acct = app.other_account().await;
    post_with_key(&app, "/sources", &other_acct.test_public_key, "k1", other).await.ok();
}

#[tokio::test]
async fn a_failed_request_records_nothing_so_a_corrected_retry_runs() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let mut bad = charge_body(src["id"].as_str().unwrap());
    bad["amount"] = json!(5);
    post_with_key(&app, "/charges", app.skey(), "fix-me", bad).await.err(400, "invalid_charge");
    let good = post_with_key(&app, "/charges", app.skey(), "fix-me", charge_body(src["id"].as_str().unwrap())).await;
    assert_eq!(good.ok()["status"], "pending");
}

#[tokio::test]
async fn a_retried_refund_refunds_once() {
    let app = spawn_app().await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap();
    app.mark_as_paid(id).await;
    let path = format!("/charges/{id}/refunds");
    let first = post_with_key(&app, &path, app.skey(), "refund-1", json!({"amount": 30000})).await;
    let second = post_with_key(&app, &path, app.skey(), "refund-1", json!({"amount": 30000})).await;
    assert_eq!(second.text, first.text);
    assert_eq!(first.ok()["object"], "refund");
    let after = app.charge(id).await;
    assert_eq!(after["refunded_amount"], 30000);
    assert_eq!(after["refunds"]["total"], 1);
    assert_eq!(app.get("/transactions", app.skey()).await.ok()["total"], 2, "one credit, one refund debit");
}

#[tokio::test]
async fn racing_retries_make_one_charge_and_all_get_its_answer() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let body = charge_body(src["id"].as_str().unwrap());
    let sends = (0..12).map(|_| post_with_key(&app, "/charges", app.skey(), "race", body.clone()));
    let answers = futures::future::join_all(sends).await;
    let ok: Vec<&Res> = answers.iter().filter(|r| r.status == 200).collect();
    // Every request either got the one charge, or lost the race on the source and then replayed the
    // winner's answer; none made a second charge.
    assert_eq!(ok.len(), 12, "{:?}", answers.iter().map(|r| (r.status, r.text.clone())).collect::<Vec<_>>());
    assert!(ok.iter().all(|r| r.text == ok[0].text));
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 1);
}

#[tokio::test]
async fn an_error_answer_written_with_its_effect_is_replayed_as_that_error() {
    let app = spawn_app().await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap();
    app.clock.advance(8 * 86_400);
    let path = format!("/charges/{id}/mark_as_paid");
    let first = post_with_key(&app, &path, app.skey(), "late", json!({})).await;
    let again = post_with_key(&app, &path, app.skey(), "late", json!({})).await;
    assert_eq!(first.text, again.text);
    first.err(400, "expired_charge");
    again.err(400, "expired_charge");
    assert_eq!(app.events_of(id).await.iter().filter(|k| *k == "charge.expire").count(), 1);
}

#[tokio::test]
async fn keys_work_on_every_post_including_the_admin_routes() {
    let app = spawn_app().await;
    let add = json!({"url": "http://127.0.0.1:9/hook"});
    let a = post_with_key(&app, "/webhook_endpoints", app.skey(), "ep", add.clone()).await;
    let b = post_with_key(&app, "/webhook_endpoints", app.skey(), "ep", add).await;
    assert_eq!(a.text, b.text);
    let ep = a.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/webhook_endpoints", app.skey()).await.ok()["total"], 1);
    let path = format!("/webhook_endpoints/{ep}/roll_secret");
    let r1 = post_with_key(&app, &path, app.skey(), "roll", json!({})).await;
    let r2 = post_with_key(&app, &path, app.skey(), "roll", json!({})).await;
    assert_eq!(r1.text, r2.text, "one roll, not two");
    let s1 = post_with_key(&app, "/webhook_signing_secret/roll", app.skey(), "sroll", json!({})).await;
    let s2 = post_with_key(&app, "/webhook_signing_secret/roll", app.skey(), "sroll", json!({})).await;
    assert_eq!(s1.text, s2.text);
    // Redelivery records its answer after the fact (its effect is a webhook copy, which receivers
    // de-duplicate); the retry still gets the first answer.
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let events = app.get(&format!("/charges/{}/events", charge["id"].as_str().unwrap()), app.skey()).await.ok();
    let ev = events["data"][0]["id"].as_str().unwrap();
    let d1 = post_with_key(&app, &format!("/events/{ev}/redeliver"), app.skey(), "again", json!({})).await;
    let d2 = post_with_key(&app, &format!("/events/{ev}/redeliver"), app.skey(), "again", json!({})).await;
    assert_eq!(d1.status, 200, "{}", d1.text);
    assert_eq!(d1.text, d2.text);
    assert_eq!(d2.headers["idempotent-replayed"], "true");
}

#[tokio::test]
async fn a_key_must_be_short_visible_text() {
    let app = spawn_app().await;
    let res = app
        .send(
            app.req(Method::POST, "/sources", app.pkey())
                .header("Idempotency-Key", "k".repeat(300))
                .json(&json!({"type": "alipay", "amount": 100000, "currency": "THB"})),
        )
        .await;
    assert!(res.err(400, "bad_request").contains("Idempotency-Key"));
}

#[tokio::test]
async fn racing_requests_that_conflict_only_on_the_key_roll_back_all_but_one() {
    let app = spawn_app().await;
    let body = json!({"type": "alipay_hk", "amount": 150000, "currency": "SGD"});
    let sends = (0..12).map(|_| post_with_key(&app, "/sources", app.pkey(), "one-source", body.clone()));
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|r| r.status == 200 && r.text == answers[0].text));
    // Each request inserted a source; all but the one whose key committed first were rolled back.
    assert_eq!(app.sql_text("select count(*) from sources").await.as_deref(), Some("1"));
    assert_eq!(app.sql_text("select count(*) from idempotency_keys").await.as_deref(), Some("1"));
}

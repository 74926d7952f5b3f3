use reqwest::Method;
use satang_domain::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn ts(v: &Value) -> Timestamp {
    Timestamp::parse(v.as_str().unwrap()).unwrap()
}

async fn post(app: &TestApp, path: &str) -> crate::helpers::Res {
    app.send(app.req(Method::POST, path, app.skey())).await
}

#[tokio::test]
async fn a_new_charge_is_the_full_pending_object_of_seed_000() {
    let app = spawn_app().await;
    let src = app.create_source("alipay_hk", 150_000, "SGD").await;
    let c = app
        .post_form(
            "/charges",
            app.skey(),
            &[
                ("amount", "150000"),
                ("currency", "SGD"),
                ("return_uri", "https://example.com/orders/345678/complete"),
                ("source", src["id"].as_str().unwrap()),
                ("description", "Order 345678"),
            ],
        )
        .await
        .ok();
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("chrg_test_") && id.len() == "chrg_test_".len() + 19);
    assert_eq!(c["object"], "charge");
    assert_eq!(c["location"], format!("/charges/{id}"));
    assert_eq!(c["status"], "pending");
    for flag in ["authorized", "paid", "expired", "capturable", "refundable", "reversed", "voided", "disputable"] {
        assert_eq!(c[flag], false, "{flag}");
    }
    assert_eq!(c["capture"], true);
    assert_eq!(c["livemode"], false);
    let authorize = c["authorize_uri"].as_str().unwrap();
    assert!(authorize.starts_with(&format!("{}/pay/{id}/", app.base)), "{authorize}");
    assert_eq!(c["return_uri"], "https://example.com/orders/345678/complete");
    assert_eq!(c["description"], "Order 345678");
    assert_eq!(c["source"]["object"], "source");
    assert_eq!(c["source"]["id"], src["id"]);
    assert_eq!(c["source"]["charge_status"], "pending");
    assert_eq!(c["transaction"], Value::Null);
    assert_eq!(c["failure_code"], Value::Null);
    assert_eq!(c["failure_message"], Value::Null);
    assert_eq!(c["refunded_amount"], 0);
    assert_eq!(c["refunds"]["object"], "list");
    assert_eq!(c["refunds"]["data"], json!([]));
    assert_eq!(c["refunds"]["total"], 0);
    assert_eq!(c["refunds"]["location"], format!("/charges/{id}/refunds"));
    assert_eq!(c["metadata"], json!({}));
    // Seed 000's fee example: 2.9% on SGD 1,500.00, no VAT.
    assert_eq!((c["fee"].clone(), c["fee_vat"].clone(), c["net"].clone()), (json!(4350), json!(0), json!(145650)));
    assert_eq!(c["transaction_fees"], json!({"fee_flat": "0.0", "fee_rate": "2.9", "vat_rate": "0.0"}));
    // alipay_hk pending charges live 7 days (seed 000's example).
    assert_eq!(ts(&c["expires_at"]).unix() - ts(&c["created_at"]).unix(), 7 * 86_400);
    assert_eq!(ts(&c["created_at"]), app.clock_now());
    // Retrieving gives the same object.
    let again = app.charge(id).await;
    assert_eq!(again["id"], c["id"]);
    assert_eq!(again["authorize_uri"], c["authorize_uri"]);
}

trait ClockNow {
    fn clock_now(&self) -> Timestamp;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> Timestamp {
        use satang_domain::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn alipay_charges_expire_after_24_hours() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    assert_eq!(ts(&c["expires_at"]).unix() - ts(&c["created_at"]).unix(), 86_400);
    assert_eq!(c["source"]["flow"], "redirect");
    assert_eq!((c["fee"].clone(), c["fee_vat"].clone(), c["net"].clone()), (json!(3650), json!(256), json!(96094)));
}

#[tokio::test]
async fn inline_sources_work_as_form_and_as_json() {
    let app = spawn_app().await;
    let c = app
        .post_form(
            "/charges",
            app.skey(),
            &[
                ("amount", "150000"),
                ("currency", "SGD"),
                ("return_uri", "https://example.com/r"),
                ("source[type]", "alipay_hk"),
                ("source[platform_type]", "IOS"),
            ],
        )
        .await
        .ok();
    assert_eq!(c["source"]["type"], "alipay_hk");
    assert_eq!(c["source"]["platform_type"], "IOS");
    assert_eq!(c["source"]["amount"], 150000);
    assert_eq!(c["source"]["currency"], "SGD");
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://example.com/r", "source": {"type": "alipay"}}),
        )
        .await
        .ok();
    assert_eq!(c["source"]["type"], "alipay");
    assert_eq!(c["source"]["flow"], "redirect");
    // The inline source exists on its own too.
    let src = app.get(&format!("/sources/{}", c["source"]["id"].as_str().unwrap()), app.pkey()).await.ok();
    assert_eq!(src["charge_status"], "pending");
}

#[tokio::test]
async fn an_inline_source_outside_the_limits_is_refused() {
    let app = spawn_app().await;
    let msg = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 50, "currency": "SGD", "return_uri": "https://example.com/r", "source": {"type": "alipay_hk"}}),
        )
        .await
        .err(400, "invalid_charge");
    assert_eq!(msg, "amount must be at least 100 (SGD 1.00) for alipay_hk");
    let msg = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 5000, "currency": "SGD", "return_uri": "https://example.com/r", "source": {"type": "wechat"}}),
        )
        .await
        .err(400, "bad_request");
    assert!(msg.starts_with("type wechat is currently not supported"), "{msg}");
}

#[tokio::test]
async fn charge_rules_each_have_a_clear_error_and_store_nothing() {
    let app = spawn_app().await;
    let src = app.create_source("alipay_hk", 150_000, "SGD").await;
    let sid = src["id"].as_str().unwrap();
    let base = json!({"amount": 150000, "currency": "SGD", "return_uri": "https://example.com/r", "source": sid});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cases = [
        (with("amount", json!(150001)), 400, "invalid_charge", "amount must match the source's amount (150000)"),
        (with("currency", json!("THB")), 400, "invalid_charge", "currency must match the source's currency (SGD)"),
        (with("amount", json!("lots")), 400, "invalid_charge", "amount is not a number"),
        (
            with("return_uri", Value::Null),
            400,
            "bad_request",
            "return_uri is required for alipay_hk (the payer is sent back there)",
        ),
        (
            with("return_uri", json!("not a url")),
            400,
            "bad_request",
            "return uri is invalid (it must be an absolute http or https URL)",
        ),
        (
            with("source", Value::Null),
            400,
            "invalid_charge",
            "source is required (an alipay or alipay_hk source ID or object)",
        ),
        (with("source", json!("tokn_test_123")), 400, "bad_request", "source tokn_test_123 is invalid"),
        (
            with("source", json!("src_test_5zzzzzzzzzzzzzzzzzz")),
            404,
            "not_found",
            "source src_test_5zzzzzzzzzzzzzzzzzz was not found",
        ),
        (with("expires_at", json!("2001-01-01T00:00:00Z")), 400, "invalid_charge", "expires_at must be in the future"),
        (
            with("expires_at", json!("soon")),
            400,
            "invalid_charge",
            "expires_at is not a valid ISO 8601 date-time (e.g. 2024-01-31T08:00:00Z)",
        ),
        (with("metadata", json!("x")), 400, "bad_request", "metadata should be a JSON hash"),
        (
            with("webhook_endpoints", json!(["https://a.example", "https://b.example", "https://c.example"])),
            400,
            "invalid_charge",
            "webhook_endpoints can have at most 2 URLs",
        ),
    ];
    for (body, status, code, message) in cases {
        let msg = app.post_json("/charges", app.skey(), body.clone()).await.err(status, code);
        assert_eq!(msg, message, "{body}");
    }
    let list = app.get("/charges", app.skey()).await.ok();
    assert_eq!(list["total"], 0, "refused charges stored nothing");
    assert_eq!(app.get("/events", app.skey()).await.ok()["total"], 0);
    // The source is still unused and works.
    app.post_json("/charges", app.skey(), base).await.ok();
}

#[tokio::test]
async fn a_source_serves_one_charge_only_even_when_raced() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let body = json!({"amount": 100000, "currency": "THB", "return_uri": "https://example.com/r", "source": src["id"]});
    let attempts = (0..8).map(|_| app.post_json("/charges", app.skey(), body.clone()));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "exactly one charge may use a source");
    for r in results.into_iter().filter(|r| r.status != 200) {
        let msg = r.err(400, "invalid_charge");
        assert!(msg.contains("has already been used"), "{msg}");
    }
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 1);
    assert_eq!(app.get("/events", app.skey()).await.ok()["total"], 1);
}

#[tokio::test]
async fn metadata_keeps_nested_objects_as_sent_in_json_and_form() {
    let app = spawn_app().await;
    let src = app.create_source("alipay", 100_000, "THB").await;
    let meta = json!({"order": {"id": 42, "lines": [{"sku": "A-1", "qty": 2}]}, "note": "rush", "vip": true});
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://example.com/r", "source": src["id"], "metadata": meta}),
        )
        .await
        .ok();
    assert_eq!(c["metadata"], meta);
    let src = app.create_source("alipay", 100_000, "THB").await;
    let c = app
        .post_form(
            "/charges",
            app.skey(),
            &[
                ("amount", "100000"),
                ("currency", "THB"),
                ("return_uri", "https://example.com/r"),
                ("source", src["id"].as_str().unwrap()),
                ("metadata[order][id]", "42"),
                ("metadata[tags][]", "a"),
                ("metadata[tags][]", "b"),
            ],
        )
        .await
        .ok();
    assert_eq!(c["metadata"], json!({"order": {"id": "42"}, "tags": ["a", "b"]}));
}

#[tokio::test]
async fn expires_at_can_be_set_by_the_merchant() {
    let app = spawn_app().await;
    let src = app.create_source("alipay_hk", 150_000, "SGD").await;
    let at = app.clock_now().plus_seconds(3600);
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 150000, "currency": "SGD", "return_uri": "https://example.com/r", "source": src["id"], "expires_at": at.iso()}),
        )
        .await
        .ok();
    assert_eq!(c["expires_at"], at.iso());
}

#[tokio::test]
async fn patch_updates_description_and_metadata_only() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    let updated = app
        .send(
            app.req(Method::PATCH, &format!("/charges/{id}"), app.skey())
                .json(&json!({"description": "Order 7", "metadata": {"a": 1}, "amount": 1})),
        )
        .await
        .ok();
    assert_eq!(updated["description"], "Order 7");
    assert_eq!(updated["metadata"], json!({"a": 1}));
    assert_eq!(updated["amount"], 100000, "amount is not updatable");
    assert_eq!(app.charge(id).await["description"], "Order 7");
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.update"]);
}

#[tokio::test]
async fn mark_as_paid_completes_a_pending_charge() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let id = c["id"].as_str().unwrap();
    let paid = app.mark_as_paid(id).await;
    assert_eq!(paid["status"], "successful");
    assert_eq!(paid["authorized"], true);
    assert_eq!(paid["paid"], true);
    assert_eq!(paid["expired"], false);
    assert!(paid["transaction"].as_str().unwrap().starts_with("trxn_test_"));
    assert_eq!(paid["paid_at"], app.clock_now().iso());
    assert_eq!(paid["failure_code"], Value::Null);
    assert_eq!(app.charge(id).await["status"], "successful");
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.complete"]);
}

#[tokio::test]
async fn mark_as_failed_takes_each_seed_failure_code() {
    let app = spawn_app().await;
    for (code, message) in [
        (None, ("payment_rejected", "payment rejected")),
        (Some("failed_processing"), ("failed_processing", "failed processing")),
        (Some("invalid_account"), ("invalid_account", "valid account for payment method not found")),
        (
            Some("insufficient_fund"),
            ("insufficient_fund", "insufficient funds in the account or the card has reached the credit limit"),
        ),
    ] {
        let c = app.create_charge("alipay", 100_000, "THB").await;
        let id = c["id"].as_str().unwrap();
        let body = code.map(|c| json!({"failure_code": c})).unwrap_or(json!({}));
        let failed = app
            .send(app.req(Method::POST, &format!("/charges/{id}/mark_as_failed"), app.skey()).json(&body))
            .await
            .ok();
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["authorized"], false);
        assert_eq!(failed["paid"], false);
        assert_eq!(failed["failure_code"], message.0);
        assert_eq!(failed["failure_message"], message.1);
        assert_eq!(failed["transaction"], Value::Null);
        assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.complete"]);
    }
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let msg = app
        .send(
            app.req(Method::POST, &format!("/charges/{}/mark_as_failed", c["id"].as_str().unwrap()), app.skey())
                .json(&json!({"failure_code": "stolen"})),
        )
        .await
        .err(400, "bad_request");
    assert!(msg.starts_with("failure_code must be one of payment_rejected"), "{msg}");
    assert_eq!(app.charge(c["id"].as_str().unwrap()).await["status"], "pending");
}

#[tokio::test]
async fn a_final_charge_cannot_change_again() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    let paid = app.mark_as_paid(id).await;
    for action in ["mark_as_paid", "mark_as_failed"] {
        let msg = post(&app, &format!("/charges/{id}/{action}")).await.err(400, "bad_request");
        assert!(msg.contains("is successful; only a pending charge can"), "{msg}");
    }
    let msg = post(&app, &format!("/charges/{id}/expire")).await.err(400, "failed_expire");
    assert!(msg.contains("only a pending charge can be expired"), "{msg}");
    let now = app.charge(id).await;
    assert_eq!(now["transaction"], paid["transaction"]);
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.complete"]);
}

#[tokio::test]
async fn live_keys_cannot_use_the_test_shortcuts() {
    let app = spawn_app().await;
    app.give_live_connector().await;
    let src = app
        .post_json(
            "/sources",
            &app.acct.live_public_key,
            json!({"type": "alipay", "amount": 100000, "currency": "THB"}),
        )
        .await
        .ok();
    assert!(src["id"].as_str().unwrap().starts_with("src_") && !src["id"].as_str().unwrap().contains("test"));
    let c = app
        .post_json(
            "/charges",
            &app.acct.live_secret_key,
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://shop.example/r", "source": src["id"]}),
        )
        .await
        .ok();
    assert_eq!(c["livemode"], true);
    let id = c["id"].as_str().unwrap();
    for action in ["mark_as_paid", "mark_as_failed"] {
        let msg = app
            .send(app.req(Method::POST, &format!("/charges/{id}/{action}"), &app.acct.live_secret_key))
            .await
            .err(400, "bad_request");
        assert!(msg.contains("only available in test mode"), "{msg}");
    }
    let now = app.get(&format!("/charges/{id}"), &app.acct.live_secret_key).await.ok();
    assert_eq!(now["status"], "pending");
}

#[tokio::test]
async fn live_mode_needs_an_https_return_uri() {
    let app = spawn_app().await;
    let msg = app
        .post_json(
            "/charges",
            &app.acct.live_secret_key,
            json!({"amount": 100000, "currency": "THB", "return_uri": "http://shop.example/r", "source": {"type": "alipay"}}),
        )
        .await
        .err(400, "bad_request");
    assert_eq!(msg, "return uri must use https in live mode");
    // Test mode accepts http for local shops.
    app.post_json(
        "/charges",
        app.skey(),
        json!({"amount": 100000, "currency": "THB", "return_uri": "http://localhost:3000/r", "source": {"type": "alipay"}}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn expire_ends_a_pending_charge() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let id = c["id"].as_str().unwrap();
    app.clock.advance(60);
    let e = post(&app, &format!("/charges/{id}/expire")).await.ok();
    assert_eq!(e["status"], "expired");
    assert_eq!(e["expired"], true);
    assert_eq!(e["paid"], false);
    assert_eq!(e["expired_at"], app.clock_now().iso());
    assert_eq!(e["expires_at"], e["expired_at"], "like Omise, expires_at becomes the moment of expiry");
    assert_eq!(e["source"]["charge_status"], "expired");
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.expire"]);
    post(&app, &format!("/charges/{id}/mark_as_paid")).await.err(400, "bad_request");
}

#[tokio::test]
async fn paying_after_expires_at_expires_the_charge_instead() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    app.clock.set(ts(&c["expires_at"]));
    let msg = post(&app, &format!("/charges/{id}/mark_as_paid")).await.err(400, "expired_charge");
    assert_eq!(msg, "charge expired");
    let now = app.charge(id).await;
    assert_eq!(now["status"], "expired");
    assert_eq!(now["expired_at"], c["expires_at"]);
    assert_eq!(app.events_of(id).await, vec!["charge.create", "charge.expire"]);
}

#[tokio::test]
async fn lists_page_filter_and_order() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = app.create_charge("alipay", 100_000 + i, "THB").await;
        ids.push(c["id"].as_str().unwrap().to_string());
        app.clock.advance(10);
    }
    let all = app.get("/charges", app.skey()).await.ok();
    assert_eq!(all["object"], "list");
    assert_eq!(all["total"], 5);
    assert_eq!(all["limit"], 20);
    assert_eq!(all["offset"], 0);
    assert_eq!(all["order"], "chronological");
    assert_eq!(all["location"], "/charges");
    assert_eq!(all["from"], "1970-01-01T00:00:00Z");
    let got: Vec<_> = all["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, ids);
    let page = app.get("/charges?limit=2&offset=1&order=reverse_chronological", app.skey()).await.ok();
    let got: Vec<_> = page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[3].as_str(), ids[2].as_str()]);
    assert_eq!(page["total"], 5);
    assert_eq!(page["order"], "reverse_chronological");
    // from/to select by creation time; total counts only that window.
    let from = ts(&all["data"][1]["created_at"]).iso();
    let to = ts(&all["data"][3]["created_at"]).iso();
    let window = app.get(&format!("/charges?from={from}&to={to}"), app.skey()).await.ok();
    assert_eq!(window["total"], 3);
    assert_eq!(window["from"], from);
    // limit is capped at 100; bad values are clear errors.
    assert_eq!(app.get("/charges?limit=500", app.skey()).await.ok()["limit"], 100);
    app.get("/charges?limit=-1", app.skey()).await.err(400, "bad_request");
    app.get("/charges?order=sideways", app.skey()).await.err(400, "bad_request");
    app.get("/charges?from=yesterday", app.skey()).await.err(400, "bad_request");
}

#[tokio::test]
async fn charges_survive_a_restart() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let kept = app.stop().await;
    let app = crate::helpers::spawn_app_on(kept).await;
    let again = app.charge(c["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "pending");
    assert_eq!(again["amount"], 150000);
}

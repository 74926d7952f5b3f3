use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn alipay_hk_source_with_the_public_key_matches_seed_000() {
    let app = spawn_app().await;
    let s = app
        .post_form(
            "/sources",
            app.pkey(),
            &[("amount", "150000"), ("currency", "SGD"), ("type", "alipay_hk"), ("platform_type", "WEB")],
        )
        .await
        .ok();
    assert_eq!(s["object"], "source");
    assert!(s["id"].as_str().unwrap().starts_with("src_test_"));
    assert_eq!(s["livemode"], false);
    assert_eq!(s["location"], format!("/sources/{}", s["id"].as_str().unwrap()));
    assert_eq!(s["amount"], 150000);
    assert_eq!(s["currency"], "SGD");
    assert_eq!(s["flow"], "app_redirect");
    assert_eq!(s["platform_type"], "WEB");
    assert_eq!(s["type"], "alipay_hk");
    assert_eq!(s["charge_status"], "unknown");
    assert_eq!(s["items"], json!([]));
    assert_eq!(s["discounts"], json!([]));
    // Every key of seed 000's example is present.
    for k in [
        "barcode",
        "bank",
        "created_at",
        "email",
        "installment_term",
        "absorption_type",
        "name",
        "mobile_number",
        "phone_number",
        "scannable_code",
        "billing",
        "shipping",
        "references",
        "store_id",
        "store_name",
        "terminal_id",
        "zero_interest_installments",
        "receipt_amount",
    ] {
        assert!(s.get(k).is_some(), "missing {k}");
    }
    let again = app.get(&format!("/sources/{}", s["id"].as_str().unwrap()), app.pkey()).await.ok();
    assert_eq!(again, s);
    let with_secret = app.get(&format!("/sources/{}", s["id"].as_str().unwrap()), app.skey()).await.ok();
    assert_eq!(with_secret["id"], s["id"]);
}

#[tokio::test]
async fn alipay_source_uses_the_redirect_flow_and_lowercase_currency_is_accepted() {
    let app = spawn_app().await;
    let s = app
        .post_json("/sources", app.skey(), json!({"type": "alipay", "amount": "100000", "currency": "thb"}))
        .await
        .ok();
    assert_eq!(s["flow"], "redirect");
    assert_eq!(s["currency"], "THB");
    assert_eq!(s["amount"], 100000);
    assert_eq!(s["platform_type"], json!(null));
}

#[tokio::test]
async fn limits_are_inclusive_and_violations_name_the_rule() {
    let app = spawn_app().await;
    for (kind, cur, min, max) in [
        ("alipay_hk", "SGD", 100, 2_000_000),
        ("alipay_hk", "THB", 2_000, 15_000_000),
        ("alipay", "THB", 2_000, 15_000_000),
    ] {
        for ok in [min, max] {
            app.post_json("/sources", app.pkey(), json!({"type": kind, "amount": ok, "currency": cur})).await.ok();
        }
        let msg = app
            .post_json("/sources", app.pkey(), json!({"type": kind, "amount": min - 1, "currency": cur}))
            .await
            .err(400, "bad_request");
        assert!(msg.starts_with(&format!("amount must be at least {min} (")), "{msg}");
        assert!(msg.ends_with(&format!("for {kind}")), "{msg}");
        let msg = app
            .post_json("/sources", app.pkey(), json!({"type": kind, "amount": max + 1, "currency": cur}))
            .await
            .err(400, "bad_request");
        assert!(msg.starts_with(&format!("amount must be at most {max} (")), "{msg}");
    }
}

#[tokio::test]
async fn unsupported_type_currency_and_platform_are_bad_requests() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"type": "promptpay", "amount": 100000, "currency": "THB"}),
            "type promptpay is currently not supported",
        ),
        (
            json!({"type": "alipay", "amount": 100000, "currency": "SGD"}),
            "currency SGD is currently not supported for alipay",
        ),
        (json!({"type": "alipay_hk", "amount": 100000, "currency": "XYZ"}), "currency XYZ is currently not supported"),
        (
            json!({"type": "alipay_hk", "amount": 100000, "currency": "SGD", "platform_type": "WINDOWS"}),
            "platform_type must be one of IOS, ANDROID, WEB",
        ),
        (json!({"type": "alipay_hk", "amount": "ten", "currency": "SGD"}), "amount is not a number"),
        (json!({"amount": 100000, "currency": "SGD"}), "type is required"),
        (json!({"type": "alipay", "amount": -5, "currency": "THB"}), "amount must be greater than 0"),
    ];
    for (body, expected) in cases {
        let msg = app.post_json("/sources", app.pkey(), body.clone()).await.err(400, "bad_request");
        assert!(msg.starts_with(expected), "{body}: {msg}");
    }
    // Nothing was stored by the refusals.
    let listed = app.get("/events", app.skey()).await.ok();
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn platform_types_are_accepted_in_any_case() {
    let app = spawn_app().await;
    for (given, stored) in [("IOS", "IOS"), ("android", "ANDROID"), ("Web", "WEB")] {
        let s = app
            .post_json(
                "/sources",
                app.pkey(),
                json!({"type": "alipay_hk", "amount": 150000, "currency": "SGD", "platform_type": given}),
            )
            .await
            .ok();
        assert_eq!(s["platform_type"], stored);
    }
}

#[tokio::test]
async fn a_source_shows_the_status_of_the_charge_that_used_it() {
    let app = spawn_app().await;
    let charge = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let src = charge["source"]["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/sources/{src}"), app.pkey()).await.ok()["charge_status"], "pending");
    app.mark_as_paid(charge["id"].as_str().unwrap()).await;
    assert_eq!(app.get(&format!("/sources/{src}"), app.pkey()).await.ok()["charge_status"], "successful");
}

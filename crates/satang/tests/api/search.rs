//! `GET /search` (Omise's Search API) on the running server: a charge is found by its ID, description,
//! metadata values and source type the moment it is created, filters narrow in Omise's units, pages count,
//! refunds are found by their charge, bad parameters get Omise errors, and no other account's charge shows.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Res, TestApp, spawn_app};

/// A search the way omise-python sends it: everything in the query string, brackets for filters.
async fn search(app: &TestApp, query: &str) -> Res {
    app.get(&format!("/search?{query}"), app.skey()).await
}

fn ids(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

async fn charge_with(app: &TestApp, amount: i64, currency: &str, description: &str, metadata: Value) -> String {
    let kind = if currency == "THB" { "alipay" } else { "alipay_hk" };
    let src = app.create_source(kind, amount, currency).await;
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": amount, "currency": currency, "source": src["id"], "description": description,
                   "metadata": metadata, "return_uri": "https://shop.example/done"}),
        )
        .await
        .ok();
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_charge_is_found_by_metadata_description_and_id_at_once() {
    let app = spawn_app().await;
    let a = charge_with(&app, 120_000, "THB", "Mango sticky rice", json!({"order_id": "ORD-7781", "table": 12})).await;
    let b = charge_with(&app, 50_000, "THB", "ข้าวมันไก่ ร้านป้าแดง", json!({"order_id": "ORD-9001"})).await;

    let r = search(&app, "scope=charge&query=ORD-7781").await.ok();
    assert_eq!(r["object"], "search");
    assert_eq!(r["scope"], "charge");
    assert_eq!(r["query"], "ORD-7781");
    assert_eq!(r["location"], "/search");
    assert_eq!(r["order"], "reverse_chronological");
    assert_eq!((r["page"].clone(), r["per_page"].clone()), (json!(1), json!(30)));
    assert_eq!((r["total"].clone(), r["total_pages"].clone()), (json!(1), json!(1)));
    assert_eq!(r["filters"], json!({}));
    assert_eq!(ids(&r), vec![a.clone()]);
    assert_eq!(r["data"][0]["object"], "charge");
    assert_eq!(r["data"][0]["metadata"]["order_id"], "ORD-7781");

    // A number in metadata, a word of the description (any case), the whole ID, the source type.
    assert_eq!(ids(&search(&app, "scope=charge&query=12").await.ok()), vec![a.clone()]);
    assert_eq!(ids(&search(&app, "scope=charge&query=sticky%20MANGO").await.ok()), vec![a.clone()]);
    assert_eq!(ids(&search(&app, &format!("scope=charge&query={b}")).await.ok()), vec![b.clone()]);
    assert_eq!(ids(&search(&app, "scope=charge&query=alipay").await.ok()), vec![b.clone(), a.clone()]);
    // Thai words as written.
    let thai = search(&app, &format!("scope=charge&query={}", urlencode("ร้านป้าแดง"))).await.ok();
    assert_eq!(ids(&thai), vec![b.clone()]);
    // Every word must match; a part of a word is not a word.
    assert_eq!(search(&app, "scope=charge&query=mango%20ORD-9001").await.ok()["total"], 0);
    assert_eq!(search(&app, "scope=charge&query=ORD-77").await.ok()["total"], 0);
    // No query: every charge, newest first.
    assert_eq!(ids(&search(&app, "scope=charge").await.ok()), vec![b.clone(), a.clone()]);
    assert_eq!(ids(&search(&app, "scope=charge&order=chronological").await.ok()), vec![a, b]);
}

#[tokio::test]
async fn a_changed_charge_is_found_as_it_is_now() {
    let app = spawn_app().await;
    let id = charge_with(&app, 100_000, "THB", "first", json!({"ref": "alpha"})).await;
    let r = app
        .send(app.req(Method::PATCH, &format!("/charges/{id}"), app.skey()).json(&json!({
            "description": "second", "metadata": {"ref": "beta"}
        })))
        .await;
    r.ok();
    assert_eq!(search(&app, "scope=charge&query=alpha").await.ok()["total"], 0);
    assert_eq!(ids(&search(&app, "scope=charge&query=beta%20second").await.ok()), vec![id.clone()]);
    assert_eq!(search(&app, "scope=charge&query=beta&filters[status]=successful").await.ok()["total"], 0);
    app.mark_as_paid(&id).await;
    assert_eq!(ids(&search(&app, "scope=charge&query=beta&filters[status]=successful").await.ok()), vec![id]);
}

#[tokio::test]
async fn filters_use_omise_units_and_words() {
    let app = spawn_app().await;
    let small = charge_with(&app, 99_999, "THB", "small", json!({})).await;
    let mid = charge_with(&app, 120_000, "THB", "mid", json!({})).await;
    let big = charge_with(&app, 200_050, "THB", "big", json!({})).await;
    let sgd = charge_with(&app, 120_000, "SGD", "sgd", json!({})).await;
    app.mark_as_paid(&mid).await;
    let failed = app
        .send(
            app.req(Method::POST, &format!("/charges/{big}/mark_as_failed"), app.skey())
                .json(&json!({"failure_code": "insufficient_fund"})),
        )
        .await;
    failed.ok();

    // The python client's own example: THB 1,000 to 2,000, captured.
    let r = search(&app, "scope=charge&query=thb&filters[amount]=1000..2000&filters[captured]=true").await.ok();
    assert_eq!(r["filters"], json!({"amount": "1000..2000", "captured": "true"}));
    assert_eq!(r["query"], "thb");
    // "thb" is not in any charge's text: words search text, filters search fields.
    assert_eq!(r["total"], 0);
    let r = search(&app, "scope=charge&filters[amount]=1000..2000&filters[captured]=yes").await.ok();
    assert_eq!(ids(&r), vec![mid.clone()]);
    let mut both = ids(&search(&app, "scope=charge&filters[amount]=1200").await.ok());
    both.sort();
    let mut want = vec![mid.clone(), sgd.clone()];
    want.sort();
    assert_eq!(both, want);
    assert_eq!(ids(&search(&app, "scope=charge&filters[amount]=1200&filters[currency]=sgd").await.ok()), vec![sgd]);
    assert_eq!(ids(&search(&app, "scope=charge&filters[amount]=2000.5").await.ok()), vec![big.clone()]);
    assert_eq!(ids(&search(&app, "scope=charge&filters[amount]=..999.99").await.ok()), vec![small.clone()]);
    assert_eq!(ids(&search(&app, "scope=charge&filters[failure_code]=insufficient_fund").await.ok()), vec![big]);
    let unpaid = search(&app, "scope=charge&filters[paid]=no&filters[status]=pending").await.ok();
    assert_eq!(unpaid["total"], 2);
    assert!(ids(&unpaid).contains(&small));

    let created = app.charge(&small).await["created_at"].as_str().unwrap()[..10].to_string();
    let r = search(&app, &format!("scope=charge&filters[created]={created}")).await.ok();
    assert_eq!(r["total"], 4);
    let r = search(&app, "scope=charge&filters[created]=1999-01-01..2000-01-01").await.ok();
    assert_eq!(r["total"], 0);
    assert_eq!(search(&app, "scope=charge&filters[source_type]=alipay_hk").await.ok()["total"], 1);
}

#[tokio::test]
async fn pages_count_and_json_bodies_work_as_node_sends_them() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(charge_with(&app, 10_000 + i, "THB", "bulk", json!({"batch": "b1"})).await);
    }
    let r = search(&app, "scope=charge&query=b1&per_page=3&page=3&order=chronological").await.ok();
    assert_eq!((r["total"].clone(), r["total_pages"].clone(), r["page"].clone()), (json!(7), json!(3), json!(3)));
    assert_eq!(ids(&r), vec![made[6].clone()]);
    let r = search(&app, "scope=charge&query=b1&per_page=3&page=2").await.ok();
    assert_eq!(ids(&r), vec![made[3].clone(), made[2].clone(), made[1].clone()]);
    assert_eq!(search(&app, "scope=charge&per_page=1000").await.ok()["per_page"], 100);
    // omise-node sends the parameters of a GET as a JSON body.
    let body = json!({"scope": "charge", "query": "bulk", "filters": {"amount": "100.02", "captured": false}});
    let r = app.send(app.req(Method::GET, "/search", app.skey()).json(&body)).await.ok();
    assert_eq!(ids(&r), vec![made[2].clone()]);
    assert_eq!(r["filters"], json!({"amount": "100.02", "captured": false}));
}

#[tokio::test]
async fn refunds_are_found_by_their_charge() {
    let app = spawn_app().await;
    let id = charge_with(&app, 100_000, "THB", "refund me", json!({})).await;
    let other = charge_with(&app, 100_000, "THB", "keep me", json!({})).await;
    app.mark_as_paid(&id).await;
    app.mark_as_paid(&other).await;
    let refund = |charge: String, amount: i64| {
        let app = &app;
        async move { app.post_json(&format!("/charges/{charge}/refunds"), app.skey(), json!({"amount": amount})).await.ok() }
    };
    let r1 = refund(id.clone(), 10_000).await;
    let r2 = refund(id.clone(), 25_000).await;
    refund(other.clone(), 5_000).await;
    let r = search(&app, &format!("scope=refund&query={id}&order=chronological")).await.ok();
    assert_eq!(r["scope"], "refund");
    assert_eq!(ids(&r), vec![r1["id"].as_str().unwrap().to_string(), r2["id"].as_str().unwrap().to_string()]);
    assert_eq!(r["data"][0]["object"], "refund");
    let r = search(&app, &format!("scope=refund&query={}", r2["id"].as_str().unwrap())).await.ok();
    assert_eq!(r["total"], 1);
    assert_eq!(search(&app, "scope=refund&filters[amount]=250").await.ok()["total"], 1);
    assert_eq!(search(&app, &format!("scope=refund&filters[charge]={other}")).await.ok()["total"], 1);
    assert_eq!(search(&app, "scope=refund").await.ok()["total"], 3);
    // Charges with refunds.
    assert_eq!(search(&app, "scope=charge&filters[refunded]=true").await.ok()["total"], 2);
}

#[tokio::test]
async fn bad_parameters_are_omise_errors() {
    let app = spawn_app().await;
    for (q, needle) in [
        ("query=x", "scope is required"),
        ("scope=dispute", "scope dispute is not supported"),
        ("scope=charge&filters[colour]=red", "filters[colour] is not supported"),
        ("scope=refund&filters[status]=successful", "filters[status] is not supported"),
        ("scope=charge&filters[amount]=ten", "filters[amount] ten is not"),
        ("scope=charge&filters[amount]=10.001", "filters[amount]"),
        ("scope=charge&filters[status]=paid", "filters[status] paid is not a charge status"),
        ("scope=charge&filters[captured]=maybe", "not a boolean"),
        ("scope=charge&filters[created]=yesterday", "filters[created]"),
        ("scope=charge&filters[currency]=xyz", "filters[currency] xyz"),
        ("scope=charge&filters[failure_code]=stolen", "not a failure code"),
        ("scope=charge&page=0", "page must be 1 or more"),
        ("scope=charge&per_page=-1", "per_page must be 1 or more"),
        ("scope=charge&order=random", "order random is not supported"),
        ("scope=charge&filters=x", "filters must be an object"),
    ] {
        let msg = search(&app, q).await.err(400, "bad_request");
        assert!(msg.contains(needle), "{q}: {msg}");
    }
    // Quotes and FTS syntax in a query are words, not syntax.
    for q in ["%22", "a%22b%20OR%20*", "NEAR(a%20b)", "-", "chrg_%25"] {
        assert_eq!(search(&app, &format!("scope=charge&query={q}")).await.ok()["total"], 0, "{q}");
    }
    // The public key cannot search.
    app.get("/search?scope=charge", app.pkey()).await.err(401, "authentication_failure");
}

#[tokio::test]
async fn no_other_account_or_mode_is_searched() {
    let app = spawn_app().await;
    let mine = charge_with(&app, 100_000, "THB", "shared word", json!({"k": "common"})).await;
    let other = app.other_account().await;
    let src = app
        .post_json("/sources", &other.test_public_key, json!({"type": "alipay", "amount": 100_000, "currency": "THB"}))
        .await
        .ok();
    app.post_json(
        "/charges",
        &other.test_secret_key,
        json!({"amount": 100_000, "currency": "THB", "source": src["id"], "description": "shared word",
               "metadata": {"k": "common"}, "return_uri": "https://shop.example/done"}),
    )
    .await
    .ok();
    assert_eq!(ids(&search(&app, "scope=charge&query=common").await.ok()), vec![mine.clone()]);
    let theirs = app.get("/search?scope=charge&query=common", &other.test_secret_key).await.ok();
    assert_eq!(theirs["total"], 1);
    assert_ne!(ids(&theirs), vec![mine.clone()]);
    let live = app.get(&format!("/search?scope=charge&query={mine}"), &app.acct.live_secret_key).await.ok();
    assert_eq!(live["total"], 0);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

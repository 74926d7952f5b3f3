//! Fees, the ledger and the balance: money that adds up to the satang.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use reqwest::Method;
use satang_domain::{Amount, Currency, FeeSchedule, Percent};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn default_fees_follow_the_registry() {
    let app = spawn_app().await;
    let thb = app.create_charge("alipay_hk", 1_000_000, "THB").await;
    assert_eq!(
        (thb["fee"].clone(), thb["fee_vat"].clone(), thb["net"].clone()),
        (json!(36_500), json!(2_555), json!(960_945))
    );
    assert_eq!(thb["transaction_fees"], json!({"fee_flat": "0.0", "fee_rate": "3.65", "vat_rate": "7.0"}));
    let sgd = app.create_charge("alipay_hk", 150_000, "SGD").await;
    assert_eq!(
        (sgd["fee"].clone(), sgd["fee_vat"].clone(), sgd["net"].clone()),
        (json!(4_350), json!(0), json!(145_650))
    );
}

#[tokio::test]
async fn a_charge_keeps_the_fee_schedule_in_force_when_it_was_created() {
    let app = spawn_app().await;
    let before = app.create_charge("alipay", 100_000, "THB").await;
    let account = app.acct.id.parse().unwrap();
    let schedule = FeeSchedule {
        rate: "2.5".parse::<Percent>().unwrap(),
        vat_rate: "7".parse().unwrap(),
        flat: Amount::new(1_000).unwrap(),
    };
    app.store.set_fee_schedule(&account, "alipay", Currency::Thb, schedule).await.unwrap();
    let after = app.create_charge("alipay", 100_000, "THB").await;
    // 2.5% of 100,000 = 2,500 + flat 1,000 = 3,500; VAT 7% = 245.
    assert_eq!(
        (after["fee"].clone(), after["fee_vat"].clone(), after["net"].clone()),
        (json!(3_500), json!(245), json!(96_255))
    );
    assert_eq!(after["transaction_fees"], json!({"fee_flat": "10.0", "fee_rate": "2.5", "vat_rate": "7.0"}));
    // The older charge is unchanged, also once paid.
    let paid = app.mark_as_paid(before["id"].as_str().unwrap()).await;
    assert_eq!(paid["fee"], 3_650);
    assert_eq!(paid["transaction_fees"]["fee_rate"], "3.65");
    // Other methods and currencies keep their defaults.
    let hk = app.create_charge("alipay_hk", 100_000, "THB").await;
    assert_eq!(hk["fee"], 3_650);
}

#[tokio::test]
async fn payments_credit_net_and_refunds_debit_in_the_ledger() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(app.get("/transactions", app.skey()).await.ok()["total"], 0, "a pending charge books nothing");
    let paid = app.mark_as_paid(id).await;
    let trxn = paid["transaction"].as_str().unwrap();
    let t = app.get(&format!("/transactions/{trxn}"), app.skey()).await.ok();
    assert_eq!(t["object"], "transaction");
    assert_eq!(t["type"], "credit");
    assert_eq!(t["amount"], 96_094);
    assert_eq!(t["currency"], "THB");
    assert_eq!(t["source"], id);
    assert_eq!(t["location"], format!("/transactions/{trxn}"));
    let r = app
        .send(app.req(Method::POST, &format!("/charges/{id}/refunds"), app.skey()).json(&json!({"amount": 100_000})))
        .await
        .ok();
    let debit = app.get(&format!("/transactions/{}", r["transaction"].as_str().unwrap()), app.skey()).await.ok();
    assert_eq!(debit["type"], "debit");
    assert_eq!(debit["amount"], 100_000);
    assert_eq!(debit["source"], r["id"]);
    let list = app.get("/transactions", app.skey()).await.ok();
    assert_eq!(list["total"], 2);
    assert_eq!(list["location"], "/transactions");
    // The merchant paid fees on a sale it fully refunded: the balance is negative.
    let b = app.get("/balance", app.skey()).await.ok();
    assert_eq!(b["object"], "balance");
    assert_eq!(b["currency"], "THB");
    assert_eq!(b["total"], 96_094 - 100_000);
    assert_eq!(b["transferable"], b["total"]);
    assert_eq!(b["reserve"], 0);
    // Live mode has its own, empty, ledger.
    let live = app.get("/balance", &app.acct.live_secret_key).await.ok();
    assert_eq!(live["total"], 0);
    assert_eq!(live["livemode"], true);
}

/// Random charges, completions and refunds; afterwards the balance per currency equals
/// Σ net of successful charges − Σ refunds, and each ledger entry points at exactly one charge or refund.
#[tokio::test]
async fn the_balance_equals_net_payments_minus_refunds_after_a_random_history() {
    let app = spawn_app().await;
    let seed: u64 = std::env::var("SATANG_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("seed {seed} (set SATANG_TEST_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let kinds = [
        ("alipay", "THB", 2_000i64, 15_000_000i64),
        ("alipay_hk", "SGD", 100, 2_000_000),
        ("alipay_hk", "THB", 2_000, 15_000_000),
    ];
    let mut charges: Vec<String> = Vec::new();
    for _ in 0..120 {
        match rng.random_range(0..10) {
            0..=3 => {
                let (kind, cur, min, max) = kinds[rng.random_range(0..kinds.len())];
                let c = app.create_charge(kind, rng.random_range(min..=max), cur).await;
                charges.push(c["id"].as_str().unwrap().to_string());
            }
            4..=5 if !charges.is_empty() => {
                let id = &charges[rng.random_range(0..charges.len())];
                let action = ["mark_as_paid", "mark_as_paid", "mark_as_failed", "expire"][rng.random_range(0..4)];
                // Completing a charge that is no longer pending is refused; that is part of the history too.
                let _ = app.send(app.req(Method::POST, &format!("/charges/{id}/{action}"), app.skey())).await;
            }
            _ if !charges.is_empty() => {
                let id = &charges[rng.random_range(0..charges.len())];
                let amount = rng.random_range(-100..3_000_000i64);
                let _ = app
                    .send(
                        app.req(Method::POST, &format!("/charges/{id}/refunds"), app.skey())
                            .json(&json!({"amount": amount})),
                    )
                    .await;
            }
            _ => {}
        }
    }
    let mut expected: HashMap<String, i64> = HashMap::new();
    let mut charge_ids = HashMap::new();
    let mut refund_ids = HashMap::new();
    for id in &charges {
        let c = app.charge(id).await;
        let cur = c["currency"].as_str().unwrap().to_string();
        if c["status"] == "successful" {
            *expected.entry(cur.clone()).or_default() += c["net"].as_i64().unwrap();
            charge_ids.insert(id.clone(), ());
        } else {
            assert_eq!(c["refunded_amount"], 0, "only successful charges have refunds");
        }
        for r in c["refunds"]["data"].as_array().unwrap() {
            *expected.entry(cur.clone()).or_default() -= r["amount"].as_i64().unwrap();
            refund_ids.insert(r["id"].as_str().unwrap().to_string(), ());
        }
        assert!(c["refunded_amount"].as_i64().unwrap() <= c["amount"].as_i64().unwrap());
    }
    let balance = app.get("/balance", app.skey()).await.ok();
    let mut got: HashMap<String, i64> = HashMap::new();
    for b in balance["balances"].as_array().unwrap() {
        got.insert(b["currency"].as_str().unwrap().to_string(), b["total"].as_i64().unwrap());
    }
    expected.retain(|_, v| *v != 0);
    got.retain(|_, v| *v != 0);
    assert_eq!(got, expected, "balance per currency (seed {seed})");

    // Every ledger entry points at exactly one existing successful charge (credit) or refund (debit).
    let mut entries: Vec<Value> = Vec::new();
    let mut offset = 0;
    loop {
        let page = app.get(&format!("/transactions?limit=100&offset={offset}"), app.skey()).await.ok();
        let data = page["data"].as_array().unwrap().clone();
        offset += data.len();
        entries.extend(data);
        if offset as u64 >= page["total"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!(entries.len(), charge_ids.len() + refund_ids.len(), "one entry per payment and per refund");
    for e in &entries {
        let source = e["source"].as_str().unwrap();
        match e["type"].as_str().unwrap() {
            "credit" => assert!(charge_ids.contains_key(source) && !refund_ids.contains_key(source), "{e}"),
            "debit" => assert!(refund_ids.contains_key(source) && !charge_ids.contains_key(source), "{e}"),
            other => panic!("unknown type {other}"),
        }
    }
}

//! Crash safety: a real `satang serve` under load (charges, payments, refunds) is killed with SIGKILL and
//! restarted on the same database, on SQLite and on PostgreSQL. Every acknowledged charge, payment and
//! refund is there after the restart; every committed event reaches the receiver at least once (twice only
//! if it was in flight at the kill); and the ledger balances: the balance is the sum of the transactions.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, create_account};
use serde_json::{Value, json};

#[derive(Default)]
struct Acked {
    charges: Vec<String>,
    paid: Vec<String>,
    refunds: Vec<(String, String)>,
}

async fn crash_and_recover(db: &str) {
    let acct = create_account(db, "Crash Shop");
    let skey = acct["test_secret_key"].as_str().unwrap().to_string();
    let (hook, seen) = common::counting_receiver().await;
    let out = std::process::Command::new(common::satang_bin())
        .args(["webhook", "add", "--account", acct["id"].as_str().unwrap(), "--mode", "test", "--url", &hook])
        .args(["--database", db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let env = [("SATANG_WEBHOOK_LEASE", "2"), ("SATANG_RATE_LIMIT_KEY", "0"), ("SATANG_RATE_LIMIT_IP", "0")];
    let server = Server::start("127.0.0.1:0", db, &env).unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let acked: Arc<Mutex<Acked>> = Default::default();
    let mut load = Vec::new();
    for _ in 0..16 {
        let (client, url, key, acked) = (client.clone(), server.url.clone(), skey.clone(), acked.clone());
        load.push(tokio::spawn(async move {
            loop {
                let post = |path: String, body: Value| {
                    client.post(format!("{url}{path}")).basic_auth(&key, Some("")).json(&body).send()
                };
                let body = json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}});
                let Ok(res) = post("/charges".into(), body).await else { return };
                let Ok(c) = res.json::<Value>().await else { return };
                let Some(id) = c["id"].as_str().map(String::from) else { return };
                acked.lock().unwrap().charges.push(id.clone());
                let Ok(res) = post(format!("/charges/{id}/mark_as_paid"), json!({})).await else { return };
                if res.status() != 200 {
                    return;
                }
                acked.lock().unwrap().paid.push(id.clone());
                let Ok(res) = post(format!("/charges/{id}/refunds"), json!({"amount": 25000})).await else { return };
                let Ok(r) = res.json::<Value>().await else { return };
                let Some(rid) = r["id"].as_str() else { return };
                acked.lock().unwrap().refunds.push((id, rid.to_string()));
            }
        }));
    }
    // Let load and deliveries run, then kill the process without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.signal("KILL");
    for l in load {
        let _ = l.await;
    }
    drop(server);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let delivered_before_restart = seen.lock().unwrap().len();
    assert!(acked.charges.len() > 20 && !acked.refunds.is_empty(), "the load did run: {} charges", acked.charges.len());

    // Restart on the same database.
    let server = Server::start("127.0.0.1:0", db, &env).unwrap();
    let get = |path: String| {
        let (client, base, key) = (client.clone(), server.url.clone(), skey.clone());
        async move { client.get(format!("{base}{path}")).basic_auth(&key, Some("")).send().await.unwrap() }
    };
    for id in &acked.charges {
        assert_eq!(get(format!("/charges/{id}")).await.status(), 200, "acknowledged charge {id} survived the crash");
    }
    for id in &acked.paid {
        let c: Value = get(format!("/charges/{id}")).await.json().await.unwrap();
        assert_eq!(c["status"], "successful", "acknowledged payment of {id}");
    }
    for (charge, refund) in &acked.refunds {
        let r = get(format!("/charges/{charge}/refunds/{refund}")).await;
        assert_eq!(r.status(), 200, "acknowledged refund {refund} survived the crash");
    }

    // The ledger balances: per currency, the balance is credits minus debits.
    let entries = common::all(&client, &server.url, "/transactions", &skey).await;
    let mut sums: HashMap<String, i64> = HashMap::new();
    for e in &entries {
        let amount = e["amount"].as_i64().unwrap();
        let signed = if e["type"] == "credit" { amount } else { -amount };
        *sums.entry(e["currency"].as_str().unwrap().to_string()).or_default() += signed;
    }
    let balance: Value = get("/balance".into()).await.json().await.unwrap();
    let mut totals: HashMap<String, i64> = HashMap::new();
    for b in balance["balances"].as_array().unwrap() {
        totals.insert(b["currency"].as_str().unwrap().to_string(), b["total"].as_i64().unwrap());
    }
    sums.retain(|_, v| *v != 0);
    totals.retain(|_, v| *v != 0);
    assert_eq!(totals, sums, "balance = sum of transactions");
    assert!(entries.len() >= acked.paid.len() + acked.refunds.len());

    // Every committed event is delivered by the new process.
    let committed: Vec<String> = common::all(&client, &server.url, "/events", &skey)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(committed.len() >= acked.charges.len() + acked.paid.len() + acked.refunds.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing = committed.iter().filter(|id| !seen.lock().unwrap().contains_key(*id)).count();
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} of {} committed events were never delivered", committed.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let twice = seen.values().filter(|n| **n > 1).count();
    println!(
        "{} charges, {} payments, {} refunds acknowledged; {} events committed, {} delivered before the kill, \
         all delivered after restart; {} delivered more than once (in flight at the kill); ledger balanced over {} entries",
        acked.charges.len(),
        acked.paid.len(),
        acked.refunds.len(),
        committed.len(),
        delivered_before_restart,
        twice,
        entries.len()
    );
    // Only deliveries in flight at the kill can repeat: at most the worker's concurrency.
    assert!(twice <= 256, "{twice} events delivered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(&format!("sqlite:{}", dir.path().join("satang.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_on_postgres() {
    let Some(pg) = common::pg_or_skip().await else { return };
    crash_and_recover(&pg.url).await;
}

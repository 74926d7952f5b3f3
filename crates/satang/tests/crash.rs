//! Crash safety of the webhook outbox: a real `satang serve` under load is killed with SIGKILL and
//! restarted; every committed event reaches the receiver at least once, and an event arrives twice only if
//! it was in flight when the process died.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, create_account};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("satang.db");
    let db = format!("sqlite:{}", db_path.display());
    let acct = create_account(&db, "Crash Shop");
    let skey = acct["test_secret_key"].as_str().unwrap().to_string();
    let (hook, seen) = common::counting_receiver().await;
    let out = std::process::Command::new(common::satang_bin())
        .args([
            "webhook",
            "add",
            "--account",
            acct["id"].as_str().unwrap(),
            "--mode",
            "test",
            "--url",
            &hook,
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());

    let lease = [("SATANG_WEBHOOK_LEASE", "2")];
    let server = Server::start("127.0.0.1:0", &db, &lease).unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let acknowledged: Arc<Mutex<Vec<String>>> = Default::default();
    let mut load = Vec::new();
    for _ in 0..16 {
        let (client, url, key, acked) = (client.clone(), server.url.clone(), skey.clone(), acknowledged.clone());
        load.push(tokio::spawn(async move {
            loop {
                let res = client
                    .post(format!("{url}/charges"))
                    .basic_auth(&key, Some(""))
                    .json(&json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
                    .send()
                    .await;
                let Ok(res) = res else { return };
                let Ok(c) = res.json::<Value>().await else { return };
                let Some(id) = c["id"].as_str() else { return };
                acked.lock().unwrap().push(id.to_string());
                let paid = client.post(format!("{url}/charges/{id}/mark_as_paid")).basic_auth(&key, Some("")).send().await;
                if paid.is_err() {
                    return;
                }
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
    let acked = acknowledged.lock().unwrap().clone();
    let delivered_before_restart = seen.lock().unwrap().len();
    assert!(acked.len() > 20, "the load did run: {} charges", acked.len());

    // Restart on the same database: the outbox is drained by the new process.
    let server = Server::start("127.0.0.1:0", &db, &lease).unwrap();
    for id in &acked {
        let res = client.get(format!("{}/charges/{id}", server.url)).basic_auth(&skey, Some("")).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged charge {id} survived the crash");
    }
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let committed: Vec<String> = conn
        .prepare("select id from events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(committed.len() >= acked.len());
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
        "{} charges acknowledged, {} events committed, {} delivered before the kill, all delivered after restart; \
         {} delivered more than once (in flight at the kill)",
        acked.len(),
        committed.len(),
        delivered_before_restart,
        twice
    );
    // Only deliveries in flight at the kill can repeat: at most the worker's concurrency.
    assert!(twice <= 256, "{twice} events delivered twice");
    // Every attempt after the restart is recorded: the log accounts for every committed event.
    let logged: i64 = conn
        .query_row("select count(distinct event_id) from webhook_attempts where status between 200 and 299", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(logged as usize >= committed.len() - delivered_before_restart.min(committed.len()));
}

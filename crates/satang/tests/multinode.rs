//! Several `satang serve` nodes on one PostgreSQL database behave as one gateway: any node answers for any
//! charge, refunds racing across nodes never over-refund, the sweepers of all nodes expire each charge once,
//! and when a node is killed with SIGKILL mid-load every acknowledged charge is kept and every committed
//! event is delivered, none twice outside the crash window.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{PgDb, Server, create_account, pg_or_skip};
use serde_json::{Value, json};

async fn pg_query(db: &PgDb, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.query(sql, &[]).await.unwrap()
}

struct Cluster {
    nodes: Vec<Option<Server>>,
    urls: Vec<String>,
    alive: Vec<Arc<AtomicBool>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_postgres_behave_as_one_gateway() {
    let Some(db) = pg_or_skip().await else { return };
    let acct = create_account(&db.url, "Cluster Shop");
    let key = acct["test_secret_key"].as_str().unwrap().to_string();
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
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let env = [("SATANG_WEBHOOK_LEASE", "2"), ("SATANG_DB_POOL_SIZE", "8")];
    let mut cluster = Cluster { nodes: Vec::new(), urls: Vec::new(), alive: Vec::new() };
    for _ in 0..3 {
        let s = Server::start("127.0.0.1:0", &db.url, &env).unwrap();
        cluster.urls.push(s.url.clone());
        cluster.nodes.push(Some(s));
        cluster.alive.push(Arc::new(AtomicBool::new(true)));
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let post = |url: String, body: Value| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            let res = client.post(url).basic_auth(&key, Some("")).json(&body).send().await.ok()?;
            res.json::<Value>().await.ok()
        }
    };

    // A charge created on one node is read, paid and refunded on the others.
    let c = post(
        format!("{}/charges", cluster.urls[0]),
        json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}),
    )
    .await
    .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    let paid = post(format!("{}/charges/{id}/mark_as_paid", cluster.urls[1]), json!({})).await.unwrap();
    assert_eq!(paid["status"], "successful");
    // 30 refunds of 9,000 at once, spread over the three nodes: at most 11 fit in 100,000.
    let refunds =
        (0..30).map(|i| post(format!("{}/charges/{id}/refunds", cluster.urls[i % 3]), json!({"amount": 9000})));
    let ok = futures::future::join_all(refunds)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_some_and(|v| v["object"] == "refund"))
        .count();
    assert_eq!(ok, 11, "refunds across nodes stop exactly at the charge amount");
    let after = get_json(&client, &format!("{}/charges/{id}", cluster.urls[2]), &key).await;
    assert_eq!(after["refunded_amount"], 99_000);

    // Charges that expire in two seconds: the sweepers of all three nodes race to expire them.
    let soon = chrono_free_iso(2);
    let mut expiring = Vec::new();
    for i in 0..9 {
        let c = post(
            format!("{}/charges", cluster.urls[i % 3]),
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}, "expires_at": soon}),
        )
        .await
        .unwrap();
        expiring.push(c["id"].as_str().unwrap().to_string());
    }

    // Load on all nodes; node 1 is killed mid-load and the clients move to the others.
    let acked: Arc<Mutex<Vec<String>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for t in 0..12 {
        let (client, key, urls, alive, acked, stop) =
            (client.clone(), key.clone(), cluster.urls.clone(), cluster.alive.clone(), acked.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = t;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let node = (0..3).map(|k| (n + k) % 3).find(|k| alive[*k].load(Ordering::SeqCst)).unwrap();
                let res = client
                    .post(format!("{}/charges", urls[node]))
                    .basic_auth(&key, Some(""))
                    .json(&json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
                    .send()
                    .await;
                let Ok(res) = res else { continue };
                let Ok(c) = res.json::<Value>().await else { continue };
                if let Some(id) = c["id"].as_str() {
                    acked.lock().unwrap().push(id.to_string());
                    let _ = client
                        .post(format!("{}/charges/{id}/mark_as_paid", urls[(node + 1) % 3]))
                        .basic_auth(&key, Some(""))
                        .send()
                        .await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.alive[1].store(false, Ordering::SeqCst);
    if let Some(node) = cluster.nodes[1].take() {
        node.signal("KILL");
        drop(node);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        let _ = l.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the load ran: {}", acked.len());

    // Every acknowledged charge is there, on any surviving node.
    for (i, id) in acked.iter().enumerate() {
        let node = if i % 2 == 0 { &cluster.urls[0] } else { &cluster.urls[2] };
        let res = client.get(format!("{node}/charges/{id}")).basic_auth(&key, Some("")).send().await.unwrap();
        assert_eq!(res.status(), 200, "charge {id}");
    }

    // Every committed event reaches the receiver; a repeat only for deliveries in flight at the kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    let committed: Vec<String> = loop {
        let committed: Vec<String> = pg_query(&db, "select id from events").await.iter().map(|r| r.get(0)).collect();
        let missing = committed.iter().filter(|id| !seen.lock().unwrap().contains_key(*id)).count();
        let expired: i64 = pg_query(&db, "select count(*) from events where key = 'charge.expire'").await[0].get(0);
        if missing == 0 && expired as usize >= expiring.len() {
            break committed;
        }
        assert!(Instant::now() < deadline, "{missing} of {} events undelivered, {expired} expired", committed.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seen = seen.lock().unwrap().clone();
    let twice = seen.values().filter(|n| **n > 1).count();
    println!(
        "{} charges acknowledged across 3 nodes (one killed); {} events committed and delivered; {twice} delivered twice",
        acked.len(),
        committed.len()
    );
    assert!(twice <= 256, "{twice} repeats: more than could have been in flight at the kill");

    // Each expiring charge expired exactly once although three sweepers ran.
    for id in &expiring {
        let n: i64 =
            pg_query(&db, &format!("select count(*) from events where charge_id = '{id}' and key = 'charge.expire'"))
                .await[0]
                .get(0);
        assert_eq!(n, 1, "{id} expired {n} times");
    }
    // The charge and event lists' totals, counters whose deltas three sweepers fold at once (one killed
    // mid-way), equal the rows, and the folding did run.
    let rows: i64 = pg_query(&db, "select count(*) from charges").await[0].get(0);
    let unfolded: i64 = pg_query(&db, "select count(*) from list_count_deltas").await[0].get(0);
    let list = get_json(&client, &format!("{}/charges?limit=1", cluster.urls[2]), &key).await;
    assert_eq!(list["total"], rows, "{list}");
    let event_rows: i64 = pg_query(&db, "select count(*) from events").await[0].get(0);
    let events = get_json(&client, &format!("{}/events?limit=1", cluster.urls[2]), &key).await;
    assert_eq!(events["total"], event_rows, "{events}");
    assert!(unfolded < rows, "{unfolded} of {rows} count deltas never folded");
    // A surviving node's readiness check sees the database.
    let ready = client.get(format!("{}/readyz", cluster.urls[2])).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// GET `url` with the secret key and parse the JSON body.
async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> Value {
    client.get(url).basic_auth(key, Some("")).send().await.unwrap().json().await.unwrap()
}

/// Now plus `secs`, ISO 8601, from the system clock.
fn chrono_free_iso(secs: i64) -> String {
    use satang_domain::Clock;
    satang_domain::SystemClock.now().plus_seconds(secs).iso()
}

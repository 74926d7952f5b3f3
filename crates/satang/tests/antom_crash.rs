//! Crash safety of live mode: a real `satang serve` with a connector to the Antom simulator, live charges
//! paid through the simulator's wallet and notification, live refunds in flight, SIGKILL, restart on the
//! same database. Every acknowledged charge and refund is there; every refund Antom made (the simulator's
//! own record) is booked exactly once, with one `refund.create` event, by the refund-intent repair at
//! start; and the ledger balances: the balance is the sum of the transactions. On SQLite and PostgreSQL.
//! Also: the request path and another node's repair racing end in one refund; a refund whose outcome
//! stayed unknown (503) is booked by the repair once Antom answers.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Server;
use common::antom::{MASTER, World, connector_set, world};
use satang::simulator::antom::{Faults, Simulator};
use serde_json::Value;

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36";
const ENV: [(&str, &str); 3] =
    [("SATANG_MASTER_KEY", MASTER), ("SATANG_LOG", "satang=warn"), ("SATANG_LIVE_INQUIRY_INTERVAL", "1")];

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn get(base: &str, skey: &str, path: &str) -> Value {
    http().get(format!("{base}{path}")).basic_auth(skey, Some("")).send().await.unwrap().json().await.unwrap()
}

async fn post(base: &str, skey: &str, path: &str, form: &[(&str, &str)]) -> Result<(u16, Value), reqwest::Error> {
    let res = http().post(format!("{base}{path}")).basic_auth(skey, Some("")).form(form).send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await?))
}

/// Every item of a list endpoint, page by page.
async fn all(base: &str, skey: &str, path: &str) -> Vec<Value> {
    common::all(&http(), base, path, skey).await
}

/// The simulator and an account with a connector to it: (its world, live secret key).
async fn live_account(db: &str) -> (World, String) {
    let w = world().await;
    let acct = common::create_account(db, "Live Crash Shop");
    connector_set(&w, db, acct["id"].as_str().unwrap());
    (w, acct["live_secret_key"].as_str().unwrap().to_string())
}

/// A live charge paid through the simulator's wallet; its notification settles the charge.
async fn paid_charge(url: &str, skey: &str, sim: &Simulator) -> String {
    let form = [
        ("amount", "10000"),
        ("currency", "THB"),
        ("source[type]", "alipay_hk"),
        ("return_uri", "https://s.example/r"),
    ];
    let (status, c) = post(url, skey, "/charges", &form).await.unwrap();
    assert_eq!(status, 200, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let page = http().get(c["authorize_uri"].as_str().unwrap()).header("user-agent", DESKTOP).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let order = sim.sim.payments_for(&id).remove(0);
    let wallet = format!("{}/wallet/{}", sim.url(), order.payment_id);
    http().post(wallet).form(&[("action", "pay")]).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(url, skey, &format!("/charges/{id}")).await["status"] != "successful" {
        assert!(Instant::now() < deadline, "charge {id} was never paid");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    id
}

async fn crash_live(db: &str) {
    let (w, skey) = live_account(db).await;
    let sim = &w.sim;
    let node = Server::start("127.0.0.1:0", db, &ENV).unwrap();
    let url = node.url.clone();
    let mut paid = Vec::new();
    for _ in 0..6 {
        paid.push(paid_charge(&url, &skey, sim).await);
    }
    // Refunds acknowledged before the crash.
    let mut acked = Vec::new();
    for id in &paid[..2] {
        let (status, r) = post(&url, &skey, &format!("/charges/{id}/refunds"), &[("amount", "4000")]).await.unwrap();
        assert_eq!(status, 200, "{r}");
        acked.push((id.clone(), r["id"].as_str().unwrap().to_string()));
    }
    // Refunds in flight: Antom carries each out and answers late; satang is killed before it hears.
    sim.sim.set_faults(Faults { slow_answer_ms: 10_000, ..Faults::default() });
    let in_flight: Vec<_> = paid[1..]
        .iter()
        .map(|id| {
            let (url, skey, path) = (url.clone(), skey.clone(), format!("/charges/{id}/refunds"));
            tokio::spawn(async move { post(&url, &skey, &path, &[("amount", "3000")]).await })
        })
        .collect();
    let at_antom = |sim: &Simulator| paid.iter().map(|id| sim.sim.refunds_of(&format!("{id}_1")).len()).sum::<usize>();
    let deadline = Instant::now() + Duration::from_secs(10);
    while at_antom(sim) < 2 + in_flight.len() {
        assert!(Instant::now() < deadline, "the refunds in flight never reached Antom");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.signal("KILL");
    for t in in_flight {
        let answer = t.await.unwrap();
        assert!(answer.is_err(), "no answer came before the kill: {answer:?}");
    }
    drop(node);
    sim.sim.set_faults(Faults::default());
    // Before the restart: the refunds Antom made in flight are not booked (the window the repair closes).
    let made = at_antom(sim);
    assert_eq!(made, 2 + paid.len() - 1);

    let started = Instant::now();
    let node = Server::start("127.0.0.1:0", db, &ENV).unwrap();
    let url = node.url.clone();
    // Every refund Antom made is booked, under the ID sent to Antom, exactly once.
    for id in &paid {
        let mut want: Vec<(String, i64)> =
            sim.sim.refunds_of(&format!("{id}_1")).iter().map(|r| (r.refund_request_id.clone(), r.amount)).collect();
        want.sort();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut booked: Vec<(String, i64)> = all(&url, &skey, &format!("/charges/{id}/refunds"))
                .await
                .iter()
                .map(|r| (r["id"].as_str().unwrap().to_string(), r["amount"].as_i64().unwrap()))
                .collect();
            booked.sort();
            if booked == want {
                break;
            }
            assert!(Instant::now() < deadline, "charge {id}: booked {booked:?}, Antom refunded {want:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let c = get(&url, &skey, &format!("/charges/{id}")).await;
        assert_eq!(c["status"], "successful", "acknowledged payment of {id}");
        assert_eq!(c["refunded_amount"], want.iter().map(|w| w.1).sum::<i64>(), "{c}");
        let events = get(&url, &skey, &format!("/charges/{id}/events")).await;
        let refund_events = events["data"].as_array().unwrap().iter().filter(|e| e["key"] == "refund.create").count();
        assert_eq!(refund_events, want.len(), "one refund.create per refund: {events}");
    }
    let repaired_ms = started.elapsed().as_millis();
    for (charge, refund) in &acked {
        let r = get(&url, &skey, &format!("/charges/{charge}/refunds/{refund}")).await;
        assert_eq!(r["object"], "refund", "acknowledged refund {refund} survived the crash: {r}");
    }
    // The repair asked Antom and is done: no more inquiries about refunds.
    let inquiries = |sim: &Simulator| sim.sim.stats().calls.get("payments/inquiryRefund").copied().unwrap_or(0);
    let asked = inquiries(sim);
    assert!(asked >= (paid.len() - 1) as u64, "the repair asked about each refund in flight: {asked}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(inquiries(sim), asked, "every intent resolved");

    // The ledger balances: per currency, the balance is credits minus debits.
    let entries = all(&url, &skey, "/transactions").await;
    let mut sums: HashMap<String, i64> = HashMap::new();
    for e in &entries {
        let amount = e["amount"].as_i64().unwrap();
        let signed = if e["type"] == "credit" { amount } else { -amount };
        *sums.entry(e["currency"].as_str().unwrap().to_string()).or_default() += signed;
    }
    let balance = get(&url, &skey, "/balance").await;
    let mut totals: HashMap<String, i64> = HashMap::new();
    for b in balance["balances"].as_array().unwrap() {
        totals.insert(b["currency"].as_str().unwrap().to_string(), b["total"].as_i64().unwrap());
    }
    sums.retain(|_, v| *v != 0);
    totals.retain(|_, v| *v != 0);
    assert_eq!(totals, sums, "balance = sum of transactions");
    assert_eq!(entries.len(), paid.len() + made, "one entry per payment and per refund");
    println!(
        "{} live charges paid, {} refunds acknowledged, {} refunds in flight at the kill; after restart all {} \
         refunds Antom made booked once in {repaired_ms} ms ({asked} inquiryRefund calls); ledger balanced over {} entries",
        paid.len(),
        acked.len(),
        paid.len() - 1,
        made,
        entries.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_live_refunds_in_flight_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_live(&format!("sqlite:{}", dir.path().join("live.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_live_refunds_in_flight_on_postgres() {
    let Some(db) = common::pg_or_skip().await else { return };
    crash_live(&db.url).await;
}

/// The request path and the repair racing for one refund: node A's refund is carried out by Antom and
/// answered late; node B starts meanwhile, and its first repair round books the refund from the intent.
/// A then hears SUCCESS, finds the refund booked, and answers with it: one refund, one event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_path_and_the_repair_book_one_refund_on_postgres_with_two_nodes() {
    let Some(db) = common::pg_or_skip().await else { return };
    let (w, skey) = live_account(&db.url).await;
    let sim = &w.sim;
    let a = Server::start("127.0.0.1:0", &db.url, &ENV).unwrap();
    let id = paid_charge(&a.url, &skey, sim).await;
    sim.sim.set_faults(Faults { slow_answer_ms: 8_000, ..Faults::default() });
    let refund = {
        let (url, skey, path) = (a.url.clone(), skey.clone(), format!("/charges/{id}/refunds"));
        tokio::spawn(async move { post(&url, &skey, &path, &[("amount", "2500")]).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.sim.refunds_of(&format!("{id}_1")).is_empty() {
        assert!(Instant::now() < deadline, "the refund never reached Antom");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A's answer is on its 8 s wait; B's inquiry is answered at once.
    sim.sim.set_faults(Faults::default());
    let b = Server::start("127.0.0.1:0", &db.url, &ENV).unwrap();
    let sent = sim.sim.refunds_of(&format!("{id}_1")).remove(0).refund_request_id;
    // B's repair books it while A still waits for Antom's answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&b.url, &skey, &format!("/charges/{id}/refunds")).await["total"] != 1 {
        assert!(Instant::now() < deadline, "the repair on B never booked the refund");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!refund.is_finished(), "A is still waiting for Antom's answer");
    let (status, r) = refund.await.unwrap().unwrap();
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["id"], sent.as_str(), "A answers with the refund the repair booked");
    let c = get(&b.url, &skey, &format!("/charges/{id}")).await;
    assert_eq!(c["refunded_amount"], 2500, "{c}");
    assert_eq!(get(&a.url, &skey, &format!("/charges/{id}/refunds")).await["total"], 1);
    let events = get(&a.url, &skey, &format!("/charges/{id}/events")).await;
    let refund_events = events["data"].as_array().unwrap().iter().filter(|e| e["key"] == "refund.create").count();
    assert_eq!(refund_events, 1, "{events}");
    assert_eq!(all(&a.url, &skey, "/transactions").await.len(), 2, "one payment entry, one refund entry");
}

/// Antom refunds but every answer is `U`: the merchant gets a 503 naming the refund ID and nothing is
/// booked; once Antom answers again, the next start's repair books that refund, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_refund_is_booked_by_the_repair_on_sqlite() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", db_dir.path().join("live.db").display());
    let (w, skey) = live_account(&db).await;
    let sim = &w.sim;
    let node = Server::start("127.0.0.1:0", &db, &ENV).unwrap();
    let id = paid_charge(&node.url, &skey, sim).await;
    sim.sim.set_faults(Faults { unknown: 100, ..Faults::default() });
    let (status, e) = post(&node.url, &skey, &format!("/charges/{id}/refunds"), &[("amount", "1500")]).await.unwrap();
    assert_eq!((status, e["object"].as_str(), e["code"].as_str()), (503, Some("error"), Some("service_unavailable")));
    let at_antom = sim.sim.refunds_of(&format!("{id}_1"));
    assert_eq!(at_antom.len(), 1, "Antom refunded");
    let sent = at_antom[0].refund_request_id.clone();
    assert!(e["message"].as_str().unwrap().contains(&sent), "the 503 names the refund: {e}");
    assert_eq!(get(&node.url, &skey, &format!("/charges/{id}/refunds")).await["total"], 0, "nothing booked yet");
    sim.sim.set_faults(Faults::default());
    drop(node);
    let node = Server::start("127.0.0.1:0", &db, &ENV).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&node.url, &skey, &format!("/charges/{id}/refunds")).await["total"] != 1 {
        assert!(Instant::now() < deadline, "the repair never booked the refund");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds = get(&node.url, &skey, &format!("/charges/{id}/refunds")).await;
    assert_eq!(refunds["data"][0]["id"], sent.as_str());
    assert_eq!(refunds["data"][0]["amount"], 1500);
    assert_eq!(get(&node.url, &skey, &format!("/charges/{id}")).await["refunded_amount"], 1500);
}

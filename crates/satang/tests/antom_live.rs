//! The live journey end to end over real HTTP: `satang serve` processes, the Antom simulator, the
//! operator's CLI. A live charge is refused without a connector; with one, the payer's first visit opens
//! the Antom order, the wallet decides, the signed notification settles the charge (once), the return
//! inquires; forged notifications change nothing. On SQLite, and on PostgreSQL with two nodes.

mod common;

use std::time::Duration;

use common::Server;
use common::antom::{CLIENT_ID, MASTER, World, connector_set, world};
use satang::connector::antom::sign;
use satang::simulator::antom::Faults;
use serde_json::Value;

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

fn start(db: &str) -> Server {
    Server::start("127.0.0.1:0", db, &[("SATANG_MASTER_KEY", MASTER), ("SATANG_LOG", "satang=warn")]).unwrap()
}

/// A node that also serves `/metrics` on its own port.
fn start_with_metrics(db: &str) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let env =
        [("SATANG_MASTER_KEY", MASTER), ("SATANG_LOG", "satang=warn"), ("SATANG_METRICS_LISTEN", listen.as_str())];
    (Server::start("127.0.0.1:0", db, &env).unwrap(), format!("http://{listen}/metrics"))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn create_charge(node: &Server, skey: &str, method: &str) -> (u16, Value) {
    let res = http()
        .post(format!("{}/charges", node.url))
        .basic_auth(skey, Some(""))
        .form(&[
            ("amount", "12345"),
            ("currency", "THB"),
            ("source[type]", method),
            ("return_uri", "https://shop.example/done"),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn get(node: &Server, skey: &str, path: &str) -> Value {
    http().get(format!("{}{path}", node.url)).basic_auth(skey, Some("")).send().await.unwrap().json().await.unwrap()
}

async fn page(url: &str, ua: &str) -> (u16, String) {
    let res = http().get(url).header("user-agent", ua).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn decide(normal_url: &str, action: &str, code: Option<&str>) -> reqwest::Response {
    let mut form = vec![("action", action)];
    if let Some(c) = code {
        form.push(("code", c));
    }
    http().post(normal_url).form(&form).send().await.unwrap()
}

async fn wait_status(node: &Server, skey: &str, id: &str, want: &str) -> Value {
    for _ in 0..100 {
        let c = get(node, skey, &format!("/charges/{id}")).await;
        if c["status"] == want {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("charge {id} never became {want}: {}", get(node, skey, &format!("/charges/{id}")).await);
}

async fn event_keys(node: &Server, skey: &str, id: &str) -> Vec<String> {
    let ev = get(node, skey, &format!("/charges/{id}/events")).await;
    ev["data"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap().to_string()).collect()
}

/// A notification signed as Antom (or, with another key, as a forger) would send it.
async fn notify(node: &Server, key_pem: &str, body: &str) -> (u16, String) {
    let key = sign::private_key_from_pem(key_pem).unwrap();
    let time = "1700000000000";
    let sig = sign::sign(&key, &sign::content("POST", "/antom/notify", CLIENT_ID, time, body.as_bytes())).unwrap();
    let res = http()
        .post(format!("{}/antom/notify", node.url))
        .header("content-type", "application/json")
        .header("client-id", CLIENT_ID)
        .header("request-time", time)
        .header("signature", sign::header(1, &sig))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn journey(db: &str, two_nodes: bool) {
    let w = world().await;
    let acct = common::create_account(db, "Live Shop");
    let skey = acct["live_secret_key"].as_str().unwrap().to_string();
    let (a, metrics) = start_with_metrics(db);
    let b = if two_nodes { Some(start(db)) } else { None };
    let other = b.as_ref().unwrap_or(&a);

    // No connector: refused at creation, nothing left behind.
    let (status, refused) = create_charge(&a, &skey, "alipay_hk").await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["object"], "error");
    assert_eq!(refused["code"], "invalid_charge");
    assert!(refused["message"].as_str().unwrap().contains("connector"), "{refused}");
    assert_eq!(get(&a, &skey, "/charges").await["total"], 0);

    connector_set(&w, db, acct["id"].as_str().unwrap());

    // Desktop, Alipay HK: the first visit opens the order; the page shows its QR.
    let (status, c) = create_charge(&a, &skey, "alipay_hk").await;
    assert_eq!(status, 200, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["status"], "pending");
    let authorize = c["authorize_uri"].as_str().unwrap().to_string();
    assert!(authorize.starts_with(&a.url), "authorize_uri stays on satang: {authorize}");
    assert!(w.sim.sim.payments_for(&id).is_empty(), "pay waits for the payer");
    let (status, body) = page(&authorize, DESKTOP).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<svg"), "a QR code: {body}");
    assert!(body.contains(&format!("{}/wallet/", w.sim.url())), "the wallet page's link: {body}");
    let orders = w.sim.sim.payments_for(&id);
    assert_eq!(orders.len(), 1);
    let sent = &orders[0].request;
    assert_eq!(sent.env.terminal_type, "WEB");
    assert_eq!(sent.payment_method.payment_method_type, "ALIPAY_HK");
    assert_eq!(sent.payment_amount.value, "12345");
    assert_eq!(sent.payment_amount.currency, "THB");
    assert_eq!(sent.order.reference_order_id, id);
    assert_eq!(sent.payment_notify_url, format!("{}/antom/notify", a.url));
    assert_eq!(sent.payment_redirect_url, format!("{}/antom/return/{id}", a.url));
    // Antom keeps an order open 10 minutes at most; the charge lives longer (a new order on a later visit).
    let order_expiry = satang_domain::Timestamp::parse(sent.payment_expiry_time.as_deref().unwrap()).unwrap().unix();
    let charge_expiry = satang_domain::Timestamp::parse(c["expires_at"].as_str().unwrap()).unwrap().unix();
    let opened = satang_domain::Timestamp::parse(c["created_at"].as_str().unwrap()).unwrap().unix();
    assert!(order_expiry < charge_expiry);
    assert!((opened + 590..=opened + 610).contains(&order_expiry), "{order_expiry} vs created {opened}");
    // A second visit shows the same order.
    page(&authorize, DESKTOP).await;
    assert_eq!(w.sim.sim.payments_for(&id).len(), 1);

    let normal = format!("{}/wallet/{}", w.sim.url(), orders[0].payment_id);
    let back = decide(&normal, "pay", None).await;
    assert_eq!(back.headers()["location"], format!("{}/antom/return/{id}", a.url).as_str());
    let paid = wait_status(&a, &skey, &id, "successful").await;
    assert_eq!(paid["paid"], true);
    // The node that called Antom counts the call, by endpoint and result code, with its latency.
    let scraped = http().get(&metrics).send().await.unwrap().text().await.unwrap();
    assert!(scraped.contains("satang_provider_calls_total{endpoint=\"payments/pay\",result=\""), "{scraped}");
    assert!(scraped.contains("satang_provider_call_duration_seconds_count{endpoint=\"payments/pay\"}"), "{scraped}");
    let keys = event_keys(other, &skey, &id).await;
    assert_eq!(keys.iter().filter(|k| *k == "charge.complete").count(), 1, "{keys:?}");

    // The payer's return goes on to the shop.
    let ret = http().get(format!("{}/antom/return/{id}", other.url)).send().await.unwrap();
    assert_eq!(ret.status(), 303);
    assert_eq!(ret.headers()["location"], "https://shop.example/done");

    // The provider calls, without secrets.
    let calls = get(&a, &skey, &format!("/charges/{id}/provider_calls")).await;
    let data = calls["data"].as_array().unwrap();
    assert_eq!(data[0]["object"], "provider_call");
    assert_eq!(data[0]["endpoint"], "payments/pay");
    assert_eq!(data[0]["request_id"], format!("{id}_1"));
    assert_eq!(data[0]["result_code"], "PAYMENT_IN_PROCESS");
    assert!(!calls.to_string().contains("signature="), "{calls}");
    // The figures the README quotes: what satang adds to Antom's own time is the page's time minus pay's.
    let started = std::time::Instant::now();
    let (_, timing) = create_charge(&a, &skey, "alipay_hk").await;
    page(timing["authorize_uri"].as_str().unwrap(), DESKTOP).await;
    let page_ms = started.elapsed().as_millis();
    let timing_calls = get(&a, &skey, &format!("/charges/{}/provider_calls", timing["id"].as_str().unwrap())).await;
    println!(
        "figures: create + first page {page_ms} ms, of which Antom pay {} ms; calls for a paid charge {}",
        timing_calls["data"][0]["latency_ms"],
        data.len()
    );

    // The same notification again: acknowledged, nothing changes. Forged ones: refused, nothing changes.
    let body = serde_json::json!({
        "notifyType": "PAYMENT_RESULT",
        "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
        "paymentRequestId": format!("{id}_1"), "paymentId": orders[0].payment_id,
        "paymentAmount": {"currency": "THB", "value": "12345"}
    })
    .to_string();
    let (status, ack) = notify(other, &w.antom_private, &body).await;
    assert_eq!((status, ack.as_str()), (200, satang::connector::antom::wire::NOTIFY_ACK));
    assert_eq!(event_keys(&a, &skey, &id).await, keys);

    // Refunds go through Antom, under satang's refund ID; refusals leave nothing behind.
    let refund = |amount: &'static str| {
        let (url, skey) = (format!("{}/charges/{id}/refunds", a.url), skey.clone());
        async move {
            let res = http().post(url).basic_auth(skey, Some("")).form(&[("amount", amount)]).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let at_antom = |w: &World| w.sim.sim.refunds_of(&format!("{id}_1")).iter().map(|r| r.amount).sum::<i64>();
    let (status, r1) = refund("4000").await;
    assert_eq!(status, 200, "{r1}");
    assert_eq!(w.sim.sim.refunds_of(&format!("{id}_1"))[0].refund_request_id, r1["id"].as_str().unwrap());
    let (status, over) = refund("9000").await;
    assert_eq!((status, over["code"].as_str()), (400, Some("failed_refund")), "satang's own check: {over}");
    w.sim.sim.set_faults(Faults { refuse_refund: Some("REFUND_WINDOW_EXCEED".into()), ..Faults::default() });
    let (status, refused) = refund("100").await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("failed_refund")), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("REFUND_WINDOW_EXCEED"), "{refused}");
    // Unknown answers: Antom refunded, every try answered U; the inquiry finds it, and it is booked once.
    w.sim.sim.set_faults(Faults { unknown: 3, ..Faults::default() });
    let (status, r2) = refund("1000").await;
    assert_eq!(status, 200, "{r2}");
    let (status, _) = refund("7345").await;
    assert_eq!(status, 200);
    assert_eq!(at_antom(&w), 12345);
    let after = get(&a, &skey, &format!("/charges/{id}")).await;
    assert_eq!(after["refunded_amount"], 12345, "{after}");
    let booked = get(&a, &skey, &format!("/charges/{id}/refunds")).await;
    assert_eq!(booked["total"], 3);
    let endpoints: Vec<String> = get(&a, &skey, &format!("/charges/{id}/provider_calls")).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["endpoint"].as_str().unwrap().to_string())
        .collect();
    assert!(endpoints.contains(&"payments/inquiryRefund".to_string()), "{endpoints:?}");

    // Expiring a live charge cancels its Antom order first.
    let (_, c4) = create_charge(&a, &skey, "alipay_hk").await;
    let id4 = c4["id"].as_str().unwrap().to_string();
    page(c4["authorize_uri"].as_str().unwrap(), DESKTOP).await;
    let expired = http()
        .post(format!("{}/charges/{id4}/expire", other.url))
        .basic_auth(&skey, Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(expired["status"], "expired", "{expired}");
    let order = w.sim.sim.payments_for(&id4).remove(0);
    assert_eq!(order.status, satang::simulator::antom::Status::Cancelled);
    assert_eq!(decide(&format!("{}/wallet/{}", w.sim.url(), order.payment_id), "pay", None).await.status(), 409);

    // Phone, Alipay: hand-off to the app; the payer fails with a balance too low.
    let (_, c2) = create_charge(&a, &skey, "alipay").await;
    let id2 = c2["id"].as_str().unwrap().to_string();
    let res = http().get(c2["authorize_uri"].as_str().unwrap()).header("user-agent", IPHONE).send().await.unwrap();
    assert_eq!(res.status(), 303, "Alipay goes to the wallet's page");
    let order = w.sim.sim.payments_for(&id2).remove(0);
    assert_eq!(order.request.env.terminal_type, "WAP");
    assert_eq!(order.request.env.os_type.as_deref(), Some("IOS"));
    assert_eq!(order.request.payment_method.payment_method_type, "ALIPAY_CN");
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("via=applink"), "the app link: {location}");
    // A forged failure for it changes nothing.
    let forged = serde_json::json!({
        "notifyType": "PAYMENT_RESULT",
        "result": {"resultCode": "RISK_REJECT", "resultStatus": "F", "resultMessage": "x"},
        "paymentRequestId": format!("{id2}_1")
    })
    .to_string();
    assert_eq!(notify(&a, &w.merchant_private, &forged).await.0, 401);
    assert_eq!(get(&a, &skey, &format!("/charges/{id2}")).await["status"], "pending");
    // PAYMENT_PENDING ("paid, wait for the result"): acknowledged, the charge stays pending.
    let pending = serde_json::json!({
        "notifyType": "PAYMENT_PENDING",
        "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
        "paymentRequestId": format!("{id2}_1")
    })
    .to_string();
    assert_eq!(notify(&a, &w.antom_private, &pending).await.0, 200);
    assert_eq!(get(&a, &skey, &format!("/charges/{id2}")).await["status"], "pending");
    // A notification about a request satang never made is not acknowledged.
    let stranger = pending.replace(&format!("{id2}_1"), "chrg_unknown_1");
    assert_eq!(notify(&a, &w.antom_private, &stranger).await.0, 404);
    decide(&format!("{}/wallet/{}", w.sim.url(), order.payment_id), "fail", Some("USER_BALANCE_NOT_ENOUGH")).await;
    let failed = wait_status(&a, &skey, &id2, "failed").await;
    assert_eq!(failed["failure_code"], "insufficient_fund");

    // No notification: the return asks Antom (on the other node).
    w.sim.sim.set_faults(Faults { drop_notifications: true, ..Faults::default() });
    let (_, c3) = create_charge(&a, &skey, "alipay_hk").await;
    let id3 = c3["id"].as_str().unwrap().to_string();
    page(c3["authorize_uri"].as_str().unwrap(), DESKTOP).await;
    let order = w.sim.sim.payments_for(&id3).remove(0);
    decide(&format!("{}/wallet/{}", w.sim.url(), order.payment_id), "pay", None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(&a, &skey, &format!("/charges/{id3}")).await["status"], "pending", "no notification came");
    let ret = http().get(format!("{}/antom/return/{id3}", other.url)).send().await.unwrap();
    assert_eq!(ret.headers()["location"], "https://shop.example/done");
    assert_eq!(get(&a, &skey, &format!("/charges/{id3}")).await["status"], "successful");
    let calls = get(&a, &skey, &format!("/charges/{id3}/provider_calls")).await;
    let endpoints: Vec<&str> =
        calls["data"].as_array().unwrap().iter().map(|c| c["endpoint"].as_str().unwrap()).collect();
    assert_eq!(endpoints, ["payments/pay", "payments/inquiryPayment"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_journey_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    journey(&format!("sqlite:{}", dir.path().join("live.db").display()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_journey_on_postgres_with_two_nodes() {
    let Some(db) = common::pg_or_skip().await else { return };
    journey(&db.url, true).await;
}

/// Neither a notification nor the payer's return: the periodic inquiry settles the charge, on whichever
/// node claims the order first. And `serve` refuses to start without the master key once connectors exist.
async fn periodic(db: &str, two_nodes: bool) {
    let w = world().await;
    let acct = common::create_account(db, "Live Shop");
    let skey = acct["live_secret_key"].as_str().unwrap().to_string();
    connector_set(&w, db, acct["id"].as_str().unwrap());
    let no_master = Server::start("127.0.0.1:0", db, &[("SATANG_MASTER_KEY", ""), ("SATANG_LOG", "satang=warn")]);
    assert!(no_master.is_err(), "serve needs the master key when connectors exist");

    let env = [("SATANG_MASTER_KEY", MASTER), ("SATANG_LOG", "satang=warn"), ("SATANG_LIVE_INQUIRY_INTERVAL", "1")];
    let a = Server::start("127.0.0.1:0", db, &env).unwrap();
    let _b = if two_nodes { Some(Server::start("127.0.0.1:0", db, &env).unwrap()) } else { None };
    w.sim.sim.set_faults(Faults { drop_notifications: true, ..Faults::default() });
    let (_, c) = create_charge(&a, &skey, "alipay_hk").await;
    let id = c["id"].as_str().unwrap().to_string();
    page(c["authorize_uri"].as_str().unwrap(), DESKTOP).await;
    let order = w.sim.sim.payments_for(&id).remove(0);
    decide(&format!("{}/wallet/{}", w.sim.url(), order.payment_id), "pay", None).await;
    for _ in 0..100 {
        if get(&a, &skey, &format!("/charges/{id}")).await["status"] == "successful" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&a, &skey, &format!("/charges/{id}")).await["status"], "successful");
    let keys = event_keys(&a, &skey, &id).await;
    assert_eq!(keys.iter().filter(|k| *k == "charge.complete").count(), 1, "{keys:?}");
    let calls = get(&a, &skey, &format!("/charges/{id}/provider_calls")).await;
    let inquiries: Vec<&Value> =
        calls["data"].as_array().unwrap().iter().filter(|c| c["endpoint"] == "payments/inquiryPayment").collect();
    assert!(!inquiries.is_empty());
    assert_eq!(inquiries.last().unwrap()["result_code"], "SUCCESS");
    // Settled: nobody asks again.
    let before = w.sim.sim.stats().calls.get("payments/inquiryPayment").copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(w.sim.sim.stats().calls.get("payments/inquiryPayment").copied().unwrap_or(0), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_inquiry_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    periodic(&format!("sqlite:{}", dir.path().join("live.db").display()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_inquiry_on_postgres_with_two_nodes() {
    let Some(db) = common::pg_or_skip().await else { return };
    periodic(&db.url, true).await;
}

/// The live journey in Chromium: desktop QR scanned by a phone context, and a phone hand-off that fails
/// (crates/satang/tests/browser/live.js). Screenshots land in `artifacts/browser/live-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_journey_in_chromium() {
    let chromium = std::env::var("SATANG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return common::skip("Chromium is not installed (apt-get install chromium)");
    }
    let browser_dir = common::repo_root().join("crates/satang/tests/browser");
    if !browser_dir.join("node_modules/playwright-core").is_dir() {
        return common::skip("playwright-core is not installed (npm ci in crates/satang/tests/browser)");
    }
    let w = world().await;
    let db_dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", db_dir.path().join("live.db").display());
    let acct = common::create_account(&db, "Live Browser Shop");
    connector_set(&w, &db, acct["id"].as_str().unwrap());
    let node = start(&db);
    let artifacts = common::repo_root().join("artifacts/browser");
    let out = tokio::process::Command::new("node")
        .arg("live.js")
        .current_dir(&browser_dir)
        .env("SATANG_URL", &node.url)
        .env("SATANG_SKEY", acct["live_secret_key"].as_str().unwrap())
        .env("SATANG_ARTIFACTS", &artifacts)
        .env("SATANG_CHROMIUM", &chromium)
        .output()
        .await
        .expect("run node");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "live browser journeys failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    println!("{stdout}");
    for shot in ["live-01-desktop-qr.png", "live-02-phone-antom-wallet.png", "live-03-desktop-back-at-shop.png"] {
        let meta = std::fs::metadata(artifacts.join(shot)).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(meta.len() > 1000, "{shot} is not a real screenshot");
    }
}

/// Faults while opening the order: the page says the wallet cannot be reached, the attempt keeps its
/// request id, and the next visit gets the one order Antom has: never two, never a lost one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_while_opening_never_make_two_orders() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("live.db").display());
    let acct = common::create_account(&db, "Live Shop");
    let skey = acct["live_secret_key"].as_str().unwrap().to_string();
    connector_set(&w, &db, acct["id"].as_str().unwrap());
    let a = start(&db);
    let faults = [
        Faults { http_500: 3, ..Faults::default() },
        Faults { unknown: 3, ..Faults::default() },
        Faults { bad_signature: 3, ..Faults::default() },
    ];
    for fault in faults {
        w.sim.sim.set_faults(fault.clone());
        let (_, c) = create_charge(&a, &skey, "alipay_hk").await;
        let id = c["id"].as_str().unwrap().to_string();
        let uri = c["authorize_uri"].as_str().unwrap();
        let (status, body) = page(uri, DESKTOP).await;
        assert_eq!(status, 503, "{fault:?}: {body}");
        assert!(body.contains("cannot be reached"));
        let (status, body) = page(uri, DESKTOP).await;
        assert_eq!(status, 200, "{fault:?}: {body}");
        assert!(body.contains("<svg"));
        assert_eq!(w.sim.sim.payments_for(&id).len(), 1, "{fault:?}: one order");
        let calls = get(&a, &skey, &format!("/charges/{id}/provider_calls")).await;
        let data = calls["data"].as_array().unwrap();
        assert!(data.iter().all(|c| c["request_id"] == format!("{id}_1")), "{fault:?}: one request id: {calls}");
        assert_eq!(data.len(), 4, "{fault:?}: three tries, then one: {calls}");
        // And it pays normally.
        let order = w.sim.sim.payments_for(&id).remove(0);
        decide(&format!("{}/wallet/{}", w.sim.url(), order.payment_id), "pay", None).await;
        wait_status(&a, &skey, &id, "successful").await;
    }
}

/// An Antom order that closed unpaid while the charge is still pending is replaced by a new attempt on
/// the payer's next visit; the charge is paid through the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_order_is_replaced_while_the_charge_is_pending() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("live.db").display());
    let acct = common::create_account(&db, "Live Shop");
    let skey = acct["live_secret_key"].as_str().unwrap().to_string();
    connector_set(&w, &db, acct["id"].as_str().unwrap());
    let a = start(&db);
    let (_, c) = create_charge(&a, &skey, "alipay_hk").await;
    let id = c["id"].as_str().unwrap().to_string();
    let uri = c["authorize_uri"].as_str().unwrap();
    page(uri, DESKTOP).await;
    // Antom closes the first order (here: the merchant's key cancels it behind satang's back).
    let key = sign::private_key_from_pem(&w.merchant_private).unwrap();
    let body = format!(r#"{{"paymentRequestId":"{id}_1"}}"#);
    let path = "/ams/sandbox/api/v1/payments/cancel";
    let sig = sign::sign(&key, &sign::content("POST", path, CLIENT_ID, "1", body.as_bytes())).unwrap();
    let cancelled: Value = http()
        .post(format!("{}{path}", w.sim.url()))
        .header("client-id", CLIENT_ID)
        .header("request-time", "1")
        .header("signature", sign::header(1, &sig))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["result"]["resultStatus"], "S", "{cancelled}");
    // The payer comes back: satang learns the order closed; the charge is still pending.
    http().get(format!("{}/antom/return/{id}", a.url)).send().await.unwrap();
    assert_eq!(get(&a, &skey, &format!("/charges/{id}")).await["status"], "pending");
    let (status, _) = page(uri, DESKTOP).await;
    assert_eq!(status, 200);
    let orders = w.sim.sim.payments_for(&id);
    assert_eq!(orders.len(), 2, "a second attempt");
    let second = orders.iter().find(|o| o.request.payment_request_id == format!("{id}_2")).unwrap();
    decide(&format!("{}/wallet/{}", w.sim.url(), second.payment_id), "pay", None).await;
    wait_status(&a, &skey, &id, "successful").await;
}

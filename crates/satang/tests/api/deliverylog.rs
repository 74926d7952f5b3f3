//! The dashboard's delivery log and payer journey over real HTTP: each attempt's status, latency and the
//! start of what a real receiver answered (a hostile 10 MB answer cut to the excerpt without being read),
//! a live charge's calls to the (simulated) acquirer in time order with its events, times in Bangkok time
//! inside `<time datetime>`, and redelivery's audit row.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use satang::store::users::Role;
use satang_domain::Timestamp;
use serde_json::Value;

use crate::common::antom::{CLIENT_ID, World, world};
use crate::dashboard::{Browser, PASSWORD, hidden, location, user};
use crate::helpers::{TestApp, spawn_app};

/// What the well-behaved receiver answers: JSON, a CRLF, then a NUL, a terminal escape and markup.
const KNOWN: &[u8] =
    b"{\"received\":true,\"shop\":\"\xe0\xb8\xa3\xe0\xb9\x89\xe0\xb8\xb2\xe0\xb8\x99\"}\r\n\x00\x1b[2J<b>bold</b>";
/// The same as the log keeps it: the line ending kept as a newline, the controls made visible.
const KNOWN_KEPT: &str = "{\"received\":true,\"shop\":\"ร้าน\"}\n␀␛[2J<b>bold</b>";
/// The hostile answer: 10 MB, in 64 KiB chunks 50 ms apart, so sending all of it takes 8 s.
const HUGE_CHUNKS: usize = 160;
const CHUNK: usize = 64 * 1024;

/// A merchant's receiver: `/known` answers 202 with [`KNOWN`], `/down` 500 with `maintenance`, `/huge` 200
/// with the 10 MB body. Counts the chunks of the huge body it has produced.
struct Shop {
    base: String,
    huge_chunks: Arc<AtomicUsize>,
}

fn pattern(len: usize) -> String {
    "0123456789abcdef".repeat(len.div_ceil(16))[..len].to_string()
}

async fn shop() -> Shop {
    use axum::body::Body;
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let huge_chunks = Arc::new(AtomicUsize::new(0));
    let counter = huge_chunks.clone();
    let app = axum::Router::new()
        .route("/known", post(|| async { (axum::http::StatusCode::ACCEPTED, KNOWN) }))
        .route("/down", post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "maintenance") }))
        .route(
            "/huge",
            post(move || {
                let counter = counter.clone();
                async move {
                    let chunk = bytes::Bytes::from(pattern(CHUNK));
                    let stream = futures::stream::unfold(0usize, move |i| {
                        let (counter, chunk) = (counter.clone(), chunk.clone());
                        async move {
                            if i == HUGE_CHUNKS {
                                return None;
                            }
                            if i > 0 {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            counter.fetch_add(1, Ordering::SeqCst);
                            Some((Ok::<_, std::io::Error>(chunk), i + 1))
                        }
                    });
                    axum::http::Response::builder()
                        .header("content-length", (HUGE_CHUNKS * CHUNK).to_string())
                        .body(Body::from_stream(stream))
                        .unwrap()
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Shop { base, huge_chunks }
}

/// The text of every `<pre class="response">` of a page, unescaped.
fn responses(html: &str) -> Vec<String> {
    html.split("<pre class=\"response\">").skip(1).map(|rest| unescape(&rest[..rest.find("</pre>").unwrap()])).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The part of a page from the element with this id on.
fn from_id<'a>(html: &'a str, id: &str) -> &'a str {
    &html[html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"))..]
}

async fn event_of(app: &TestApp, charge: &str, key: &str) -> String {
    let evs = app.get(&format!("/charges/{charge}/events"), app.skey()).await.ok();
    let e = evs["data"].as_array().unwrap().iter().find(|e| e["key"] == key).unwrap().clone();
    e["id"].as_str().unwrap().to_string()
}

/// The event's delivery log through the API, once it has `n` attempts (or a failure after `secs`).
async fn attempts(app: &TestApp, event: &str, n: usize, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let e = app.get(&format!("/events/{event}"), app.skey()).await.ok();
        let log = e["webhook_deliveries"].as_array().unwrap().clone();
        if log.len() >= n {
            return log;
        }
        assert!(Instant::now() < deadline, "{event}: {} of {n} attempts after {secs}s: {e}", log.len());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn the_delivery_log_shows_status_latency_and_the_start_of_each_answer() {
    let app = spawn_app().await;
    let shop = shop().await;
    for path in ["/known", "/down", "/huge"] {
        app.add_endpoint(&format!("{}{path}", shop.base)).await;
    }
    user(&app, "admin@shop.example", Role::Admin).await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let charge = charge["id"].as_str().unwrap().to_string();
    let event = event_of(&app, &charge, "charge.create").await;

    // All three attempts are logged within 5 s (in milliseconds, unless the machine is very busy), though
    // the huge answer would take 8 s to send: the sender read its start and hung up.
    let started = Instant::now();
    let log = attempts(&app, &event, 3, 5).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let produced = shop.huge_chunks.load(Ordering::SeqCst);
    assert!(produced < HUGE_CHUNKS / 2, "the receiver produced {produced} of {HUGE_CHUNKS} chunks");
    let by_uri = |path: &str| log.iter().find(|d| d["uri"] == format!("{}{path}", shop.base)).unwrap().clone();
    let known = by_uri("/known");
    assert_eq!((known["status"].as_u64(), known["error"].as_str()), (Some(202), None));
    assert_eq!(known["response"], KNOWN_KEPT, "the API keeps the same excerpt");
    let down = by_uri("/down");
    assert_eq!((down["status"].as_u64(), down["response"].as_str()), (Some(500), Some("maintenance")));
    let huge = by_uri("/huge");
    assert_eq!(huge["status"], 200);
    assert_eq!(huge["response"].as_str().unwrap(), pattern(512), "cut to the first 512 bytes");
    assert!(huge["duration_ms"].as_u64().unwrap() < 5000, "{huge}");

    let mut b = Browser::new(&app);
    b.login("admin@shop.example", PASSWORD).await;
    let page = b.get("/dashboard/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    let table = from_id(&page.text, "deliveries");
    for (path, status) in [("/known", "HTTP 202"), ("/down", "HTTP 500"), ("/huge", "HTTP 200")] {
        assert!(table.contains(&format!("{}{path}", shop.base)), "{path}");
        assert!(table.contains(status), "{status}");
    }
    assert!(table.contains("class=\"failed\">HTTP 500<"), "a refusal is marked as failed");
    assert!(table.contains(&format!("{} ms", known["duration_ms"])), "the latency");
    let shown = responses(table);
    assert_eq!(shown.len(), 3, "{table}");
    assert!(shown.contains(&KNOWN_KEPT.to_string()), "{shown:?}");
    assert!(shown.contains(&"maintenance".to_string()));
    assert!(shown.contains(&pattern(512)));
    assert!(!page.text.contains("<b>bold</b>"), "the receiver's markup is text, not markup");
    assert!(!page.text.contains(&pattern(513)));

    // The charge page shows the same attempts under the event, in the payer journey.
    let page = b.get(&format!("/dashboard/charges/{charge}")).await;
    let timeline = from_id(&page.text, "timeline");
    assert!(timeline.contains("charge.create") && timeline.contains(&event));
    assert_eq!(responses(timeline).len(), 3);
    assert!(responses(timeline).contains(&KNOWN_KEPT.to_string()));
    assert!(!page.text.contains("id=\"provider-calls\""), "a test-mode charge makes no calls to the acquirer");
    assert!(!timeline.contains("class=\"step call\""));
}

/// The audit log's redelivery rows.
async fn redeliveries(app: &TestApp) -> Vec<satang::store::users::AuditEntry> {
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();
    let log = app.store.list_audit(&account, 50).await.unwrap();
    log.into_iter().filter(|e| e.action == "event.redeliver").collect()
}

#[tokio::test]
async fn redelivering_from_the_dashboard_is_audited_in_its_transaction() {
    let app = spawn_app().await;
    let shop = shop().await;
    app.add_endpoint(&format!("{}/known", shop.base)).await;
    user(&app, "admin@shop.example", Role::Admin).await;
    user(&app, "viewer@shop.example", Role::Viewer).await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let event = event_of(&app, charge["id"].as_str().unwrap(), "charge.create").await;
    attempts(&app, &event, 1, 5).await;
    let account: satang_domain::AccountId = app.acct.id.parse().unwrap();

    let mut b = Browser::new(&app);
    b.login("admin@shop.example", PASSWORD).await;
    let csrf = hidden(&b.get("/dashboard/webhooks").await.text, "csrf");
    let r = b.post(&format!("/dashboard/events/{event}/redeliver"), &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/dashboard/webhooks", "{}", r.text);
    let log = redeliveries(&app).await;
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].actor.as_str(), log[0].detail.as_str()), ("admin@shop.example", event.as_str()));
    assert_eq!(log[0].account, account);
    attempts(&app, &event, 2, 5).await;

    // Refused redeliveries write no row: no token, an event of another account, a viewer.
    let r = b.post(&format!("/dashboard/events/{event}/redeliver"), &[("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let other = app.other_account().await;
    let src = app
        .post_json(
            "/sources",
            &other.test_public_key,
            serde_json::json!({"type": "alipay", "amount": 100_000, "currency": "THB"}),
        )
        .await
        .ok();
    let theirs = app
        .post_json(
            "/charges",
            &other.test_secret_key,
            serde_json::json!({"amount": 100_000, "currency": "THB", "source": src["id"],
                               "return_uri": "https://shop.example/r"}),
        )
        .await
        .ok();
    let evs = app.get(&format!("/charges/{}/events", theirs["id"].as_str().unwrap()), &other.test_secret_key).await;
    let their_event = evs.ok()["data"][0]["id"].as_str().unwrap().to_string();
    let r = b.post(&format!("/dashboard/events/{their_event}/redeliver"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let mut v = Browser::new(&app);
    v.login("viewer@shop.example", PASSWORD).await;
    let vcsrf = hidden(&v.get("/dashboard/webhooks").await.text, "csrf");
    let r = v.post(&format!("/dashboard/events/{event}/redeliver"), &[("csrf", &vcsrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(redeliveries(&app).await.len(), 1, "only the redelivery that happened is in the log");

    // The owner reads it on the audit page.
    user(&app, "owner@shop.example", Role::Owner).await;
    let mut o = Browser::new(&app);
    o.login("owner@shop.example", PASSWORD).await;
    let page = o.get("/dashboard/audit").await;
    assert!(page.text.contains("event.redeliver") && page.text.contains(&event));
}

#[tokio::test]
async fn every_page_shows_times_in_bangkok_time_with_the_instant_machine_readable() {
    let app = spawn_app().await;
    // 17:41:10 UTC is 00:41:10 the next day in Bangkok.
    let at = Timestamp::parse("2026-12-09T17:41:10Z").unwrap();
    app.clock.set(at);
    user(&app, "owner@shop.example", Role::Owner).await;
    app.add_endpoint("http://127.0.0.1:9/hooks").await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap().to_string();
    app.mark_as_paid(&id).await;
    let mut b = Browser::new(&app);
    b.login("owner@shop.example", PASSWORD).await;

    let en = "<time datetime=\"2026-12-09T17:41:10Z\">10\u{a0}Dec\u{a0}2026, 00:41:10</time>";
    let th = "<time datetime=\"2026-12-09T17:41:10Z\">10\u{a0}ธ.ค.\u{a0}2569 เวลา\u{a0}00:41:10\u{a0}น.</time>";
    let charge_page = format!("/dashboard/charges/{id}");
    // The keys were made before the clock was set: their page shows other times, in the same way.
    for path in [
        "/dashboard",
        charge_page.as_str(),
        "/dashboard/webhooks",
        "/dashboard/money",
        "/dashboard/audit",
        "/dashboard/keys",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        if path != "/dashboard/keys" {
            assert!(page.text.contains(en), "{path}: {}", page.text);
        }
        assert!(page.text.contains("<time datetime=\""), "{path}");
        assert!(!shows_raw_utc(&page.text), "{path}: no raw UTC shown: {}", page.text);
        assert!(from_id(&page.text, "zone").starts_with("id=\"zone\">Times are shown in Bangkok time<"), "{path}");
    }
    let page = b.get(&format!("/dashboard/charges/{id}?lang=th")).await;
    assert!(page.text.contains(th), "{}", page.text);
    assert!(page.text.contains("id=\"zone\">เวลาที่แสดงเป็นเวลาประเทศไทย<"));
    // The refund window's end is a time too.
    assert!(from_id(&page.text, "deadline").contains("<time datetime=\""));

    // The CSV export's days are Bangkok days (10 Dec here), its times stay ISO 8601 UTC, for machines.
    let csv = b.get("/dashboard/export?kind=charges&from=2026-12-10&to=2026-12-10").await;
    assert!(csv.text.contains(&format!("{id},2026-12-09T17:41:10Z,successful")), "{}", csv.text);
}

/// Whether a page shows an ISO 8601 time as text (`…:10Z<`) rather than inside an attribute.
fn shows_raw_utc(html: &str) -> bool {
    html.match_indices("Z<")
        .any(|(i, _)| i >= 3 && html.as_bytes()[i - 3] == b':' && html.as_bytes()[i - 1].is_ascii_digit())
}

/// The account's Antom connector, pointed at the simulator.
async fn connect(app: &TestApp, w: &World) {
    use base64::Engine as _;
    let master = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let key = satang::connector::vault::MasterKey::parse(&master).unwrap();
    let sealed = key.seal(app.acct.id.as_str(), w.merchant_private.as_bytes()).unwrap();
    app.state.connectors.set_master_key(key);
    let antom_public = std::fs::read_to_string(w.dir.path().join("antom_public.pem")).unwrap();
    app.store
        .set_connector(&satang::store::connectors::ConnectorRecord {
            account: app.acct.id.parse().unwrap(),
            provider: "antom".into(),
            client_id: CLIENT_ID.into(),
            endpoint: w.sim.url(),
            key_version: 1,
            merchant_key_sealed: sealed,
            provider_public_key: antom_public,
            updated_at: app.state.now(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_live_charge_page_shows_its_calls_to_the_acquirer_in_time_order_with_its_events() {
    let app = spawn_app().await;
    let w = world().await;
    connect(&app, &w).await;
    user(&app, "admin@shop.example", Role::Admin).await;
    let skey = app.acct.live_secret_key.clone();
    let c = app
        .post_form(
            "/charges",
            &skey,
            &[
                ("amount", "12345"),
                ("currency", "THB"),
                ("source[type]", "alipay_hk"),
                ("return_uri", "https://shop.example/done"),
            ],
        )
        .await
        .ok();
    let id = c["id"].as_str().unwrap().to_string();
    // The payer's first visit opens the Antom order (payments/pay).
    let desktop = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36";
    let res = app.client.get(c["authorize_uri"].as_str().unwrap()).header("user-agent", desktop).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let order = w.sim.sim.payments_for(&id).remove(0);
    // Two minutes later by the gateway's clock, the payer pays in the wallet; Antom's notification
    // completes the charge.
    app.clock.advance(120);
    let paid = app
        .client
        .post(format!("{}/wallet/{}", w.sim.url(), order.payment_id))
        .form(&[("action", "pay")])
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_redirection(), "{}", paid.status());
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get(&format!("/charges/{id}"), &skey).await.ok()["status"] != "successful" {
        assert!(Instant::now() < deadline, "the charge never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = app.get(&format!("/charges/{id}/provider_calls"), &skey).await.ok();
    let pay = calls["data"].as_array().unwrap().iter().find(|c| c["endpoint"] == "payments/pay").unwrap().clone();

    let mut b = Browser::new(&app);
    b.login("admin@shop.example", PASSWORD).await;
    let csrf = hidden(&b.get("/dashboard").await.text, "csrf");
    b.post("/dashboard/mode", &[("csrf", &csrf), ("to", "live")]).await;
    let page = b.get(&format!("/dashboard/charges/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let timeline = from_id(&page.text, "timeline");
    let timeline = &timeline[..timeline.find("</ol>").unwrap()];
    let at = |what: &str| timeline.find(what).unwrap_or_else(|| panic!("{what} not in {timeline}"));
    assert!(at("charge.create") < at("payments/pay"), "{timeline}");
    assert!(at("payments/pay") < at("charge.complete"), "{timeline}");
    // The call shows its endpoint, result code and latency, with its time.
    let step = &timeline[timeline[..at("payments/pay")].rfind("<li").unwrap()..];
    let step = &step[..step.find("</li>").unwrap()];
    assert!(step.contains("PAYMENT_IN_PROCESS"), "{step}");
    assert!(step.contains(&format!("{} ms", pay["latency_ms"])), "{step}");
    assert!(step.contains("<time datetime=\""), "{step}");
    // And the calls' details: request ID and try.
    let table = from_id(&page.text, "provider-calls");
    assert!(table.contains(&format!("{id}_1")), "{table}");
}

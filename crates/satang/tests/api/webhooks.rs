//! Webhooks to a real receiver on a loopback port: signatures checked by an independent HMAC, retries on
//! the schedule with the test's clock, a receiver down then up, a slow endpoint beside a fast one,
//! per-charge endpoints, secret rolls, redirects, SSRF refusals in live mode, redelivery.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use satang_domain::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Hit, Receiver, TestApp, spawn_app};

/// HMAC-SHA256 by its definition (RFC 2104), independent of satang's signing code.
fn hmac_hex(secret_b64: &str, ts: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD.decode(secret_b64).unwrap();
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(&key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let msg = [ts.as_bytes(), b".", body].concat();
    let inner = Sha256::digest([ipad.as_slice(), msg.as_slice()].concat());
    hex::encode(Sha256::digest([opad.as_slice(), inner.as_slice()].concat()))
}

fn signatures(hit: &Hit) -> Vec<String> {
    hit.header("omise-signature").split(',').map(|s| s.to_string()).collect()
}

fn signed_by(hit: &Hit, secret: &str) -> bool {
    let expected = hmac_hex(secret, &hit.header("omise-signature-timestamp"), &hit.body);
    signatures(hit).contains(&expected)
}

async fn event_log(app: &TestApp, event_id: &str) -> Vec<Value> {
    app.get(&format!("/events/{event_id}"), app.skey()).await.ok()["webhook_deliveries"].as_array().unwrap().clone()
}

/// The event's delivery log once it has `n` attempts (the receiver answers before satang records it).
async fn wait_log(app: &TestApp, event_id: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = event_log(app, event_id).await;
        if log.len() >= n {
            return log;
        }
        assert!(Instant::now() < deadline, "{event_id}: {} of {n} attempts logged", log.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_event_is_delivered_signed_to_every_endpoint() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app.add_endpoint(&rx.url("/a")).await;
    let b = app.add_endpoint(&rx.url("/b")).await;
    assert!(a["id"].as_str().unwrap().starts_with("whep_test_"));
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(a["secret"].as_str().unwrap()).unwrap().len(), 32);
    let started = Instant::now();
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let hits = rx.wait_for("/a", 1, 5).await;
    println!("commit → delivery: {:?}", hits[0].at.duration_since(started));
    let hit = &hits[0];
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(hit.header("user-agent"), format!("satang/{}", env!("CARGO_PKG_VERSION")));
    let ts: i64 = hit.header("omise-signature-timestamp").parse().unwrap();
    assert!(
        (ts - {
            use satang_domain::Clock;
            app.clock.now().unix()
        })
        .abs()
            <= 1
    );
    assert_eq!(signatures(hit).len(), 1);
    assert!(signed_by(hit, a["secret"].as_str().unwrap()), "signature verifies with the endpoint's secret");
    assert!(!signed_by(hit, b["secret"].as_str().unwrap()), "and only with it");
    let event = hit.json();
    assert_eq!(event["object"], "event");
    assert_eq!(event["key"], "charge.create");
    assert_eq!(event["data"]["id"], c["id"]);
    assert_eq!(event["webhook_deliveries"], json!([]));
    // The body is the event as GET /events/:id shows it.
    let stored = app.get(&format!("/events/{}", event["id"].as_str().unwrap()), app.skey()).await.ok();
    assert_eq!(stored["data"], event["data"]);
    let hb = rx.wait_for("/b", 1, 5).await;
    assert!(signed_by(&hb[0], b["secret"].as_str().unwrap()));

    // charge.complete follows, to both.
    app.mark_as_paid(c["id"].as_str().unwrap()).await;
    let hits = rx.wait_for("/a", 2, 5).await;
    assert_eq!(hits[1].json()["key"], "charge.complete");
    assert_eq!(hits[1].json()["data"]["status"], "successful");
    rx.wait_for("/b", 2, 5).await;

    // The delivery log on the event.
    let log = wait_log(&app, event["id"].as_str().unwrap(), 2).await;
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d["object"], "webhook_delivery");
        assert!(d["id"].as_str().unwrap().starts_with("whdl_test_"));
        assert_eq!(d["status"], 200);
        assert_eq!(d["key"], "charge.create");
        assert_eq!(d["error"], Value::Null);
        assert_eq!(d["response"], "ok", "the start of what the receiver answered");
        assert!(Timestamp::parse(d["created_at"].as_str().unwrap()).is_ok(), "ISO 8601");
        let payload: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["id"], event["id"]);
    }
    let uris: Vec<_> = log.iter().map(|d| d["uri"].as_str().unwrap().to_string()).collect();
    assert!(uris.contains(&rx.url("/a")) && uris.contains(&rx.url("/b")));
}

#[tokio::test]
async fn failures_are_retried_on_the_schedule_until_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.respond("/hook", 500, Duration::ZERO);
    app.add_endpoint(&rx.url("/hook")).await;
    let t0 = {
        use satang_domain::Clock;
        app.clock.now()
    };
    let c = app.create_charge("alipay", 100_000, "THB").await;
    rx.wait_for("/hook", 1, 5).await;
    let event =
        app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), app.skey()).await.ok()["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    // Recorded as failed, with the receiver's status.
    let log = wait_log(&app, &event, 1).await;
    assert_eq!(log[0]["status"], 500);
    assert_eq!(log[0]["error"], "HTTP 500");

    // 1 minute ± 10% later, not before.
    app.clock.set(t0.plus_seconds(53));
    app.nudge();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.hits("/hook").len(), 1, "no retry before the first backoff");
    app.clock.set(t0.plus_seconds(67));
    app.nudge();
    rx.wait_for("/hook", 2, 5).await;
    wait_log(&app, &event, 2).await;

    // The receiver recovers; the third attempt comes 5 minutes ± 10% after the second.
    rx.respond("/hook", 204, Duration::ZERO);
    app.clock.set(t0.plus_seconds(67 + 269));
    app.nudge();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.hits("/hook").len(), 2);
    app.clock.set(t0.plus_seconds(67 + 331));
    app.nudge();
    let hits = rx.wait_for("/hook", 3, 5).await;
    // Every attempt sends the same event, so the receiver can de-duplicate by its id.
    assert!(hits.iter().all(|h| h.json()["id"] == event));
    let log = wait_log(&app, &event, 3).await;
    let statuses: Vec<_> = log.iter().map(|d| d["status"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(500), json!(204)]);
    // Delivered: nothing more, however much time passes.
    app.clock.set(t0.plus_seconds(5 * 86_400));
    app.nudge();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.hits("/hook").len(), 3);
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_event_once_it_is_up() {
    let app = spawn_app().await;
    // Find a free port, then leave it closed: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hook");
    app.add_endpoint(&url).await;
    let t0 = {
        use satang_domain::Clock;
        app.clock.now()
    };
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let event =
        app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), app.skey()).await.ok()["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let log = wait_log(&app, &event, 1).await;
    assert_eq!(log[0]["status"], Value::Null);
    assert!(log[0]["error"].as_str().unwrap().starts_with("connection failed"), "{}", log[0]["error"]);
    let rx = Receiver::start_on(&format!("127.0.0.1:{port}")).await;
    app.clock.set(t0.plus_seconds(70));
    app.nudge();
    let hits = rx.wait_for("/hook", 1, 5).await;
    assert_eq!(hits[0].json()["id"], event);
}

#[tokio::test]
async fn a_slow_endpoint_never_delays_a_fast_one() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.respond("/slow", 200, Duration::from_secs(3));
    app.add_endpoint(&rx.url("/slow")).await;
    app.add_endpoint(&rx.url("/fast")).await;
    // More events than one endpoint may have in flight, so the cap shows.
    let per_target = satang::webhooks::worker::WorkerConfig::default().per_target;
    let n = per_target + 16;
    let started = Instant::now();
    let mut created = std::collections::HashMap::new();
    for _ in 0..n {
        let c = app.create_charge("alipay", 100_000, "THB").await;
        created.insert(c["id"].as_str().unwrap().to_string(), Instant::now());
    }
    println!("{n} charges created in {:?}", started.elapsed());
    // Each event reaches the fast endpoint soon after its charge was created: none waits for the slow
    // endpoint's 3-second answers. Measured per event from its own charge's creation, so a loaded machine
    // that stretches the creating loop does not count against the worker.
    let fast = rx.wait_for("/fast", n, 10).await;
    let mut waits: Vec<_> = fast
        .iter()
        .map(|h| {
            let charge = h.json()["data"]["id"].as_str().unwrap().to_string();
            h.at.saturating_duration_since(created[&charge]).as_millis()
        })
        .collect();
    waits.sort();
    println!("fast waits after creation (ms): {waits:?}");
    assert_eq!(waits.len(), n);
    let worst = *waits.last().unwrap();
    assert!(
        worst < 2_500,
        "a fast delivery waited {worst} ms after its charge was created: held up by the slow endpoint"
    );
    // Before the first slow answer could have come back, at most the cap of sends had reached it.
    let first_slow = rx.hits("/slow").iter().map(|h| h.at).min().expect("the slow endpoint was called");
    let slow_in_flight = rx.hits("/slow").iter().filter(|h| h.at < first_slow + Duration::from_millis(2_900)).count();
    assert!(slow_in_flight <= per_target, "at most {per_target} sends in flight per endpoint, saw {slow_in_flight}");
    // The slow endpoint gets everything too, in time.
    rx.wait_for("/slow", n, 20).await;
}

#[tokio::test]
async fn a_charge_with_its_own_endpoints_sends_its_events_there() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.add_endpoint(&rx.url("/account")).await;
    let signing = app.get("/webhook_signing_secret", app.skey()).await.ok();
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"},
                   "webhook_endpoints": [rx.url("/order-1"), rx.url("/order-1-backup")]}),
        )
        .await
        .ok();
    let hits = rx.wait_for("/order-1", 1, 5).await;
    rx.wait_for("/order-1-backup", 1, 5).await;
    assert_eq!(hits[0].json()["data"]["id"], c["id"]);
    assert!(signed_by(&hits[0], signing["secret"].as_str().unwrap()));
    app.mark_as_paid(c["id"].as_str().unwrap()).await;
    rx.wait_for("/order-1", 2, 5).await;
    // Other charges still go to the account's endpoint; this one's events do not.
    app.create_charge("alipay", 100_000, "THB").await;
    rx.wait_for("/account", 1, 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.hits("/account").len(), 1);
}

#[tokio::test]
async fn after_a_secret_roll_both_signatures_are_sent_for_24_hours() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let ep = app.add_endpoint(&rx.url("/hook")).await;
    let old = ep["secret"].as_str().unwrap().to_string();
    let id = ep["id"].as_str().unwrap();
    let rolled =
        app.send(app.req(Method::POST, &format!("/webhook_endpoints/{id}/roll_secret"), app.skey())).await.ok();
    let new = rolled["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let now = {
        use satang_domain::Clock;
        app.clock.now()
    };
    assert_eq!(rolled["previous_secret_valid_until"], now.plus_seconds(86_400).iso());
    app.create_charge("alipay", 100_000, "THB").await;
    let hits = rx.wait_for("/hook", 1, 5).await;
    let sigs = signatures(&hits[0]);
    assert_eq!(sigs.len(), 2);
    let ts = hits[0].header("omise-signature-timestamp");
    assert_eq!(sigs[0], hmac_hex(&new, &ts, &hits[0].body), "the new secret's signature comes first");
    assert_eq!(sigs[1], hmac_hex(&old, &ts, &hits[0].body));
    // A day later only the new secret signs.
    app.clock.advance(86_401);
    app.create_charge("alipay", 100_000, "THB").await;
    let hits = rx.wait_for("/hook", 2, 5).await;
    assert_eq!(signatures(&hits[1]), vec![hmac_hex(&new, &hits[1].header("omise-signature-timestamp"), &hits[1].body)]);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.respond("/moved", 302, Duration::ZERO);
    app.add_endpoint(&rx.url("/moved")).await;
    app.create_charge("alipay", 100_000, "THB").await;
    rx.wait_for("/moved", 1, 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.hits("/redirected").is_empty());
    let events = app.get("/events", app.skey()).await.ok();
    let log = wait_log(&app, events["data"][0]["id"].as_str().unwrap(), 1).await;
    assert_eq!(log[0]["status"], 302);
    assert_eq!(log[0]["error"], "HTTP 302 (redirects are not followed)");
}

#[tokio::test]
async fn live_endpoints_must_be_https_to_public_addresses() {
    let app = spawn_app().await;
    let live = app.acct.live_secret_key.clone();
    for (url, needle) in [
        ("http://shop.example/hook", "must use https"),
        ("https://127.0.0.1/hook", "loopback, private"),
        ("https://10.0.0.7/hook", "loopback, private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        // IPv4 inside IPv6, every embedding form.
        ("https://[::127.0.0.1]/hook", "loopback"),
        ("https://[64:ff9b::7f00:1]/hook", "loopback"),
        ("https://[2002:7f00:1::]/hook", "loopback"),
        ("https://[::ffff:0:7f00:1]/hook", "loopback"),
        ("https://[::ffff:a9fe:a9fe]/latest", "metadata"),
        ("not a url", "is invalid"),
    ] {
        let msg = app.post_json("/webhook_endpoints", &live, json!({"url": url})).await.err(400, "bad_request");
        assert!(msg.contains(needle), "{url}: {msg}");
    }
    assert_eq!(app.get("/webhook_endpoints", &live).await.ok()["total"], 0);
    // Test mode allows http and loopback, for shops on the developer's machine.
    app.add_endpoint("http://127.0.0.1:3000/hook").await;

    app.give_live_connector().await;
    // A live charge's own URLs that are plainly not allowed are refused when the charge is created, and no
    // charge is made.
    for (url, needle) in [("http://shop.example/hook", "must use https"), ("https://10.0.0.7/hook", "private")] {
        let msg = app
            .post_json(
                "/charges",
                &live,
                json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r",
                       "source": {"type": "alipay"}, "webhook_endpoints": [url]}),
            )
            .await
            .err(400, "invalid_charge");
        assert!(msg.contains(url) && msg.contains(needle), "{url}: {msg}");
    }
    assert_eq!(app.get("/charges", &live).await.ok()["total"], 0);

    // A name that resolves inside passes that check (no DNS on the request path) and is refused at send
    // time, without a connection, and the log says why.
    let rx = Receiver::start().await;
    let internal = rx.url("/inside").replace("http://127.0.0.1", "https://localhost");
    assert!(internal.starts_with("https://localhost:"), "{internal}");
    let c = app
        .post_json(
            "/charges",
            &live,
            json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"},
                   "webhook_endpoints": [internal]}),
        )
        .await
        .ok();
    let events = app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), &live).await.ok();
    let event = events["data"][0]["id"].as_str().unwrap().to_string();
    let log = loop {
        let e = app.get(&format!("/events/{event}"), &live).await.ok();
        let log = e["webhook_deliveries"].as_array().unwrap().clone();
        if !log.is_empty() {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        log[0]["error"].as_str().unwrap().contains("localhost is or resolves to a loopback"),
        "{}",
        log[0]["error"]
    );
    assert!(rx.hits("/inside").is_empty());
}

#[tokio::test]
async fn test_endpoints_reach_loopback_but_never_metadata_or_private_networks() {
    let app = spawn_app().await;
    for url in [
        "http://169.254.169.254/latest/meta-data/iam",
        "http://[fd00:ec2::254]/latest",
        "http://10.0.0.7/hook",
        "http://192.168.1.20:8080/hook",
        "http://100.64.0.1/hook",
        "http://[fd12::1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://0.0.0.0:9000/hook",
    ] {
        let msg = app.post_json("/webhook_endpoints", app.skey(), json!({"url": url})).await.err(400, "bad_request");
        assert!(
            msg.contains("test webhooks may not reach") && msg.contains("--allow-private-webhooks"),
            "{url}: {msg}"
        );
        // A charge's own endpoint is refused the same way, and no charge is made.
        let msg = app
            .post_json(
                "/charges",
                app.skey(),
                json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r",
                       "source": {"type": "alipay"}, "webhook_endpoints": [url]}),
            )
            .await
            .err(400, "invalid_charge");
        assert!(msg.contains("is refused"), "{url}: {msg}");
    }
    assert_eq!(app.get("/webhook_endpoints", app.skey()).await.ok()["total"], 0);
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 0);
    // Loopback and public names are what developers use.
    app.add_endpoint("http://127.0.0.1:3000/hook").await;
    app.add_endpoint("http://localhost:3000/hook").await;
    app.add_endpoint("https://8.8.8.8/hook").await;
}

#[tokio::test]
async fn redeliver_queues_a_new_attempt() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.add_endpoint(&rx.url("/hook")).await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    rx.wait_for("/hook", 1, 5).await;
    let events = app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), app.skey()).await.ok();
    let event = events["data"][0]["id"].as_str().unwrap().to_string();
    let res = app.send(app.req(Method::POST, &format!("/events/{event}/redeliver"), app.skey())).await.ok();
    assert_eq!(res["id"], event.as_str());
    let hits = rx.wait_for("/hook", 2, 5).await;
    assert_eq!(hits[1].json()["id"], event.as_str());
    // Without any endpoint there is nothing to redeliver to.
    let other = app.other_account().await;
    let src = app
        .post_json("/charges", &other.test_secret_key, json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
        .await
        .ok();
    let ev =
        app.get(&format!("/charges/{}/events", src["id"].as_str().unwrap()), &other.test_secret_key).await.ok()["data"]
            [0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    app.send(app.req(Method::POST, &format!("/events/{ev}/redeliver"), &other.test_secret_key))
        .await
        .err(400, "bad_request");
    app.send(app.req(Method::POST, &format!("/events/{event}/redeliver"), &other.test_secret_key))
        .await
        .err(404, "not_found");
}

#[tokio::test]
async fn redeliver_in_a_loop_is_limited_per_event_and_queues_no_copies() {
    let limits = satang::http::ratelimit::RateLimits { per_key: 0, per_ip: 0, redeliveries_per_minute: 6 };
    let app = crate::helpers::spawn_app_with(satang::http::ServerLimits::default(), limits).await;
    let rx = Receiver::start().await;
    rx.respond("/down", 500, Duration::ZERO);
    app.add_endpoint(&rx.url("/down")).await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    rx.wait_for("/down", 1, 5).await;
    let events = app.get(&format!("/charges/{}/events", c["id"].as_str().unwrap()), app.skey()).await.ok();
    let event = events["data"][0]["id"].as_str().unwrap().to_string();
    // Twenty calls: a burst of three is taken, the rest get a 429 with Retry-After, and nothing is queued.
    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let res = app.send(app.req(Method::POST, &format!("/events/{event}/redeliver"), app.skey())).await;
        if res.status == 429 {
            let wait: u64 = res.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=10).contains(&wait), "{wait}");
            assert_eq!(res.body["code"], "too_many_requests");
        }
        *answers.entry(res.status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(answers, [(200, 3), (429, 17)].into_iter().collect());
    // The three that were taken each sent the event again (a new copy, unless a fresh one was still
    // waiting): at most one send per call, never twenty, and the failed original keeps its own retry.
    rx.wait_for("/down", 2, 10).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sent = rx.hits("/down").len();
    assert!((2..=4).contains(&sent), "{sent} sends");
    // Another event of the same account is limited separately.
    let other = app.create_charge("alipay", 100_000, "THB").await;
    let ev =
        app.get(&format!("/charges/{}/events", other["id"].as_str().unwrap()), app.skey()).await.ok()["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    app.send(app.req(Method::POST, &format!("/events/{ev}/redeliver"), app.skey())).await.ok();
}

#[tokio::test]
async fn the_admin_api_manages_endpoints_per_account_and_mode() {
    let app = spawn_app().await;
    let ep = app.add_endpoint("http://127.0.0.1:9/a").await;
    let id = ep["id"].as_str().unwrap();
    assert_eq!(ep["object"], "webhook_endpoint");
    assert_eq!(ep["location"], format!("/webhook_endpoints/{id}"));
    assert_eq!(app.get("/webhook_endpoints", app.skey()).await.ok()["total"], 1);
    assert_eq!(app.get(&format!("/webhook_endpoints/{id}"), app.skey()).await.ok()["url"], "http://127.0.0.1:9/a");
    let other = app.other_account().await;
    app.get(&format!("/webhook_endpoints/{id}"), &other.test_secret_key).await.err(404, "not_found");
    app.get(&format!("/webhook_endpoints/{id}"), &app.acct.live_secret_key).await.err(404, "not_found");
    app.send(app.req(Method::DELETE, &format!("/webhook_endpoints/{id}"), &other.test_secret_key))
        .await
        .err(404, "not_found");
    app.send(app.req(Method::GET, "/webhook_endpoints", app.pkey())).await.err(401, "authentication_failure");
    let del = app.send(app.req(Method::DELETE, &format!("/webhook_endpoints/{id}"), app.skey())).await.ok();
    assert_eq!(del["deleted"], true);
    assert_eq!(app.get("/webhook_endpoints", app.skey()).await.ok()["total"], 0);
    app.post_json("/webhook_endpoints", app.skey(), json!({})).await.err(400, "bad_request");
}

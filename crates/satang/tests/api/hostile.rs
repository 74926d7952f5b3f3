//! Untrusted input (issue 12): requests a hostile or broken client sends must never crash satang, poison
//! what it stores, or hold its connections. Each test here reproduces one defect that was found, over real
//! TCP against a real server.

use std::time::{Duration, Instant};

use reqwest::Method;
use satang::http::ServerLimits;
use satang::http::ratelimit::RateLimits;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Receiver, spawn_app, spawn_app_with};

fn nested_json(levels: usize) -> Value {
    let mut v = json!("deep");
    for _ in 0..levels {
        v = json!({ "a": v });
    }
    v
}

fn nested_form_key(field: &str, levels: usize) -> String {
    format!("{field}{}", "[a]".repeat(levels))
}

/// Sends raw bytes on a new connection and reads until the server closes it (or `wait` passes).
async fn raw(addr: &str, bytes: &[u8], wait: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    (String::from_utf8_lossy(&out).to_string(), started.elapsed())
}

/// The status and Omise error code of a raw HTTP response.
fn status_and_code(res: &str) -> (u16, String) {
    let status = res.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = res.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(v["object"], "error", "not an Omise error: {res:?}");
    (status, v["code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn deep_form_keys_with_the_public_key_are_refused_and_the_server_lives_on() {
    let app = spawn_app().await;
    // Defect 1: ~3,000 levels of `x[a][a]…` used to overflow the stack and abort the process.
    let body = format!("type=alipay&amount=100000&currency=THB&{}=1", nested_form_key("x", 3_000));
    let res = app
        .send(
            app.req(Method::POST, "/sources", app.pkey())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    let msg = res.err(400, "bad_request");
    assert!(msg.contains("x is nested too deeply"), "{msg}");
    let appends = format!("amount=100000&x{}=1", "[]".repeat(3_000));
    let res = app
        .send(
            app.req(Method::POST, "/charges", app.skey())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(appends),
        )
        .await;
    res.err(400, "bad_request");
    let query = format!("/charges?{}=1", nested_form_key("q", 2_000));
    app.get(&query, app.skey()).await.err(400, "bad_request");
    // Still serving, and nothing was created.
    assert_eq!(app.get("/healthz", "").await.status, 200);
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 0);
}

#[tokio::test]
async fn documents_too_deep_to_read_back_are_refused_wherever_they_enter() {
    let app = spawn_app().await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap();
    app.mark_as_paid(id).await;
    // Defect 2: each of these answered 200 and left a document that could never be read again.
    let res = app
        .post_json(&format!("/charges/{id}/refunds"), app.skey(), json!({"amount": 100, "metadata": nested_json(125)}))
        .await;
    assert!(res.err(400, "bad_request").contains("nested too deeply"));
    let deep_meta = format!("{}=1", nested_form_key("metadata", 200));
    let res = app
        .send(
            app.req(Method::PATCH, &format!("/charges/{id}"), app.skey())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(deep_meta.clone()),
        )
        .await;
    assert!(res.err(400, "bad_request").contains("metadata is nested too deeply"));
    let src = app.create_source("alipay", 100_000, "THB").await;
    let form = format!(
        "amount=100000&currency=THB&return_uri=https://shop.example/r&source={}&{deep_meta}",
        src["id"].as_str().unwrap()
    );
    let res = app
        .send(
            app.req(Method::POST, "/charges", app.skey())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        )
        .await;
    res.err(400, "bad_request");
    let res = app
        .post_json(
            "/sources",
            app.pkey(),
            json!({"type": "alipay", "amount": 100000, "currency": "THB", "billing": nested_json(200)}),
        )
        .await;
    assert!(res.err(400, "bad_request").contains("nested too deeply"));
    // Metadata too large is refused too.
    let big: serde_json::Map<String, Value> = (0..40).map(|i| (format!("k{i}"), json!("v".repeat(500)))).collect();
    let res = app.post_json(&format!("/charges/{id}"), app.skey(), json!({})).await;
    assert_eq!(res.status.as_u16(), 405, "PATCH only");
    let res =
        app.send(app.req(Method::PATCH, &format!("/charges/{id}"), app.skey()).json(&json!({"metadata": big}))).await;
    assert!(res.err(400, "bad_request").starts_with("metadata is too large"));
    // Nothing changed: no refund, no new source or charge, metadata as before.
    let after = app.charge(id).await;
    assert_eq!(after["refunded_amount"], 0);
    assert_eq!(after["metadata"], json!({}));
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 1);

    // As deep as the limit allows is accepted, and everything that holds it reads back: the charge, the
    // refund, the lists and the events.
    let deepest = nested_json(7);
    let refund = app
        .post_json(&format!("/charges/{id}/refunds"), app.skey(), json!({"amount": 100, "metadata": deepest}))
        .await
        .ok();
    assert_eq!(refund["metadata"], deepest);
    let patched = app
        .send(app.req(Method::PATCH, &format!("/charges/{id}"), app.skey()).json(&json!({"metadata": deepest})))
        .await
        .ok();
    assert_eq!(patched["metadata"], deepest);
    assert_eq!(app.charge(id).await["metadata"], deepest);
    app.get("/charges", app.skey()).await.ok();
    app.get("/refunds", app.skey()).await.ok();
    let events = app.get(&format!("/charges/{id}/events"), app.skey()).await.ok();
    assert!(events["data"].as_array().unwrap().len() >= 4);
}

#[tokio::test]
async fn an_event_that_cannot_be_rendered_is_never_sent_or_counted_as_delivered() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.add_endpoint(&receiver.url("/hook")).await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    receiver.wait_for("/hook", 1, 10).await;
    let event_id = {
        let list = app.get(&format!("/charges/{}/events", charge["id"].as_str().unwrap()), app.skey()).await.ok();
        list["data"][0]["id"].as_str().unwrap().to_string()
    };
    // A stored event that no longer parses (as the deep documents of issue 12 did): it must not go out as a
    // signed empty body, and its delivery must not be recorded as a success.
    let poisoned = serde_json::to_string(&nested_json(200)).unwrap();
    app.sql_exec(&format!("update events set data = '{poisoned}' where id = '{event_id}'")).await;
    app.send(app.req(Method::POST, &format!("/events/{event_id}/redeliver"), app.skey())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let attempts = loop {
        let n = app
            .sql_text(&format!("select count(*) from webhook_attempts where event_id = '{event_id}'"))
            .await
            .unwrap_or_default();
        if n == "2" || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempts, "2", "the redelivery was attempted and recorded");
    let failed = app
        .sql_text(&format!(
            "select count(*) from webhook_attempts where event_id = '{event_id}' and status is null and error like 'not sent: the event could not be rendered%'"
        ))
        .await;
    assert_eq!(failed.as_deref(), Some("1"));
    assert_eq!(receiver.hits("/hook").len(), 1, "only the first, good delivery reached the receiver");
}

#[tokio::test]
async fn a_charge_that_cannot_be_expired_does_not_hold_up_the_others() {
    let app = spawn_app().await;
    let bad = app.create_charge("alipay", 100_000, "THB").await;
    let good = app.create_charge("alipay", 100_000, "THB").await;
    let poisoned = serde_json::to_string(&nested_json(200)).unwrap();
    app.sql_exec(&format!("update charges set doc = '{poisoned}' where id = '{}'", bad["id"].as_str().unwrap())).await;
    app.clock.advance(8 * 86_400);
    let swept = satang::sweeper::sweep(&app.state).await.expect("the sweep goes on past a bad charge");
    assert_eq!((swept.expired, swept.failed), (1, 1));
    assert_eq!(app.charge(good["id"].as_str().unwrap()).await["status"], "expired");
}

#[tokio::test]
async fn a_stalled_body_is_the_clients_408_not_a_database_outage() {
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let auth = base64_key(app.skey());
    // Defect 4: Content-Length 200 with 26 bytes sent used to get, after 30 s, a 503 blaming the database.
    let head = format!(
        "POST /charges HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\namount=100000&currency=THB"
    );
    let (res, took) = raw(&addr, head.as_bytes(), Duration::from_secs(20)).await;
    assert_eq!(status_and_code(&res), (408, "request_timeout".into()), "{res}");
    assert!(res.contains("did not arrive within 10 seconds"), "{res}");
    assert!(took < Duration::from_secs(15), "answered after {took:?}");
    assert_eq!(app.get("/charges", app.skey()).await.ok()["total"], 0);
}

fn base64_key(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

fn quick_limits() -> ServerLimits {
    ServerLimits {
        max_connections: 8,
        head_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    }
}

#[tokio::test]
async fn trickled_headers_get_a_408_and_silent_connections_are_closed() {
    let app = spawn_app_with(quick_limits(), RateLimits::default()).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // Defect 3: one header byte a second kept a connection open for as long as the client liked.
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let mut answer = Vec::new();
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert_eq!(status_and_code(&answer), (408, "request_timeout".into()), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4), "closed after {:?}", started.elapsed());

    // A connection that never sends a byte is closed after the idle timeout.
    let started = Instant::now();
    let (res, took) = raw(&addr, b"", Duration::from_secs(5)).await;
    assert!(res.is_empty(), "{res}");
    assert!(took < Duration::from_secs(3), "an idle connection stayed open {took:?} ({:?})", started.elapsed());
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_get_a_503_and_health_returns_after() {
    let app = spawn_app_with(quick_limits(), RateLimits::default()).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (res, _) = raw(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", Duration::from_secs(3)).await;
    assert_eq!(status_and_code(&res), (503, "service_unavailable".into()), "{res}");
    assert!(res.to_ascii_lowercase().contains("retry-after: 1"), "{res}");
    // The silent connections are closed by the idle timeout, and the server answers again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get("/healthz", "").await.status, 200);
    drop(held);
}

#[tokio::test]
async fn http_layer_refusals_are_omise_error_objects() {
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let smuggle =
        b"POST /charges HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let (res, _) = raw(&addr, smuggle, Duration::from_secs(5)).await;
    assert_eq!(status_and_code(&res), (400, "bad_request".into()));
    let long_uri = format!("GET /charges?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(10_000));
    let (res, _) = raw(&addr, long_uri.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_and_code(&res), (414, "uri_too_long".into()));
    let big_head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(40_000));
    let (res, _) = raw(&addr, big_head.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_and_code(&res), (431, "request_header_fields_too_large".into()));
    // A good request on a keep-alive connection, then a bad one: the bad head is still caught.
    let two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(two).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.write_all(smuggle).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert_eq!(status_and_code(&String::from_utf8_lossy(&rest)), (400, "bad_request".into()));
    assert_eq!(app.get("/healthz", "").await.status, 200);
}

#[tokio::test]
async fn public_key_routes_and_payer_pages_are_rate_limited_with_retry_after() {
    let app =
        spawn_app_with(ServerLimits::default(), RateLimits { per_key: 3, per_ip: 1000, redeliveries_per_minute: 0 })
            .await;
    let body = json!({"type": "alipay", "amount": 100000, "currency": "THB"});
    // A burst of twice the rate goes through; then requests are refused until the bucket refills (a slow
    // machine may refill a token during the burst, hence the range).
    let mut passed = 0;
    let res = loop {
        let res = app.post_json("/sources", app.pkey(), body.clone()).await;
        if res.status != 200 || passed == 20 {
            break res;
        }
        passed += 1;
    };
    assert!((6..=8).contains(&passed), "{passed} went through");
    assert_eq!(res.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert!(res.err(429, "too_many_requests").starts_with("too many requests"));
    // The secret key's routes are the merchant's servers: not limited.
    for _ in 0..10 {
        app.get("/charges", app.skey()).await.ok();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.post_json("/sources", app.pkey(), body.clone()).await.ok();

    let app =
        spawn_app_with(ServerLimits::default(), RateLimits { per_key: 1000, per_ip: 2, redeliveries_per_minute: 0 })
            .await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let page = charge["authorize_uri"].as_str().unwrap().to_string();
    let mut statuses = Vec::new();
    for _ in 0..16 {
        statuses.push(app.client.get(&page).send().await.unwrap().status().as_u16());
    }
    // Pages get three times the per-address rate: a burst of 12, then 429s (a token or two may refill while
    // the sixteen requests run).
    assert!(statuses[..12].iter().all(|s| *s == 200), "{statuses:?}");
    assert!((12..=14).contains(&statuses.iter().filter(|s| **s == 200).count()), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// A deterministic stream of numbers, for the sweep below (no dependency, the same requests every run).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Thousands of hostile or broken requests of every kind the issue-12 tester tried, against one server:
/// none may be answered with a 5xx, each must be an Omise error or a success, and the server must still
/// serve afterwards. Prints the tally, which the closing note quotes.
#[tokio::test]
async fn a_sweep_of_hostile_requests_never_gets_a_5xx() {
    let app =
        spawn_app_with(ServerLimits::default(), RateLimits { per_key: 0, per_ip: 0, redeliveries_per_minute: 0 }).await;
    let other = app.other_account().await;
    let charge = app.create_charge("alipay", 100_000, "THB").await;
    let id = charge["id"].as_str().unwrap().to_string();
    let foreign = {
        let src = app
            .post_json(
                "/sources",
                &other.test_public_key,
                json!({"type": "alipay", "amount": 100000, "currency": "THB"}),
            )
            .await
            .ok();
        src["id"].as_str().unwrap().to_string()
    };
    // Each route with the method it answers (a tenth of the requests use another method instead), and
    // mostly valid keys, so most requests reach the handlers and their parameters.
    let routes = [
        (Method::POST, "/sources".to_string()),
        (Method::POST, "/charges".to_string()),
        (Method::GET, "/charges".to_string()),
        (Method::GET, format!("/charges/{id}")),
        (Method::PATCH, format!("/charges/{id}")),
        (Method::POST, format!("/charges/{id}/refunds")),
        (Method::GET, format!("/charges/{id}/refunds")),
        (Method::POST, format!("/charges/{id}/expire")),
        (Method::POST, format!("/charges/{id}/mark_as_failed")),
        (Method::GET, format!("/sources/{foreign}")),
        (Method::GET, "/charges/chrg_test_nope".to_string()),
        (Method::GET, "/charges/%00%ff".to_string()),
        (Method::GET, "/events".to_string()),
        (Method::GET, "/refunds".to_string()),
        (Method::GET, "/transactions".to_string()),
        (Method::POST, "/webhook_endpoints".to_string()),
        (Method::GET, "/capability".to_string()),
        (Method::GET, "/balance".to_string()),
    ];
    let keys = [
        app.skey().to_string(),
        app.skey().to_string(),
        app.skey().to_string(),
        app.skey().to_string(),
        app.pkey().to_string(),
        other.test_secret_key.clone(),
        "skey_test_forged".into(),
        String::new(),
        "x".repeat(5000),
    ];
    let values = [
        json!(null),
        json!(-1),
        json!(i64::MAX),
        json!("1e400"),
        json!(1.5),
        json!("๑๒๓"),
        json!([1, [2, [3]]]),
        json!({"a": {"b": {"c": {}}}}),
        json!("\u{0}"),
        json!("x".repeat(20_000)),
        json!(true),
    ];
    let fields = [
        "amount",
        "currency",
        "type",
        "source",
        "metadata",
        "return_uri",
        "limit",
        "offset",
        "from",
        "order",
        "failure_code",
        "platform_type",
        "webhook_endpoints",
        "expires_at",
        "description",
        "url",
    ];
    let methods = [Method::POST, Method::GET, Method::PATCH, Method::DELETE, Method::PUT];
    let mut rng = XorShift(0x5eed_1234_abcd_9876);
    let mut tally: std::collections::BTreeMap<u16, usize> = Default::default();
    let total = 2_500;
    for i in 0..total {
        let (fitting, path) = rng.pick(&routes);
        let key = rng.pick(&keys);
        let method = if rng.next().is_multiple_of(10) { rng.pick(&methods).clone() } else { fitting.clone() };
        let mut req = app.client.request(method, format!("{}{path}", app.base));
        if !key.is_empty() {
            req = req.basic_auth(key, Some(""));
        }
        req = match i % 5 {
            0 => {
                let body: serde_json::Map<String, Value> =
                    (0..3).map(|_| (rng.pick(&fields).to_string(), rng.pick(&values).clone())).collect();
                req.json(&body)
            }
            1 => {
                let form: Vec<(String, String)> = (0..3)
                    .map(|_| {
                        let depth = (rng.next() % 12) as usize;
                        (format!("{}{}", rng.pick(&fields), "[x]".repeat(depth)), rng.pick(&values).to_string())
                    })
                    .collect();
                req.form(&form)
            }
            2 => {
                let junk: Vec<u8> = (0..(rng.next() % 512)).map(|_| rng.next() as u8).collect();
                req.header(
                    "content-type",
                    *rng.pick(&[
                        "application/json",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data; boundary=x",
                        "",
                    ]),
                )
                .body(junk)
            }
            3 => req.query(&[(rng.pick(&fields).to_string(), rng.pick(&values).to_string())]),
            _ => req.header("omise-version", *rng.pick(&["2014-07-27", "2017-11-02", "bogus", ""])),
        };
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        *tally.entry(status).or_default() += 1;
        assert!(status < 500, "request {i} to {path} got {status}: {text}");
        if status != 200 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert_eq!(v["object"], "error", "request {i} to {path}: a {status} that is not an Omise error: {text}");
        }
    }
    println!("hostile sweep: {total} requests, statuses {tally:?}");
    assert_eq!(app.get("/healthz", "").await.status, 200);
    // The other account's source is still untouched and its owner still sees it as new.
    let src = app.get(&format!("/sources/{foreign}"), &other.test_public_key).await.ok();
    assert_eq!(src["charge_status"], "unknown");
}

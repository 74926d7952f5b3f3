//! The Antom connector against the Antom simulator, over real HTTP on loopback: signatures both ways,
//! the payer's decisions on the wallet page, notifications with retries, refunds, idempotency and faults.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use satang::connector::antom::client::{Credentials, RetryPolicy};
use satang::connector::antom::{AntomConnector, sign};
use satang::connector::{
    CancelOutcome, Connector, ConnectorError, Inbound, Notification, Os, PayOrder, PaymentState, RefundOrder,
    RefundState, Terminal,
};
use satang::simulator::antom::{Faults, SimConfig, Simulator};
use satang_domain::{FailureCode, Timestamp};
use tokio::sync::mpsc;

struct Keys {
    merchant_private: String,
    merchant_public: String,
    antom_private: String,
    antom_public: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (merchant_private, merchant_public) = sign::generate_pair().unwrap();
        let (antom_private, antom_public) = sign::generate_pair().unwrap();
        Keys { merchant_private, merchant_public, antom_private, antom_public }
    })
}

const CLIENT_ID: &str = "SANDBOX_5YEZ8S2YCTNN05215";

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    }
}

fn connector(endpoint: &str, merchant_private: &str) -> AntomConnector {
    AntomConnector::new(
        Credentials {
            endpoint: endpoint.to_string(),
            client_id: CLIENT_ID.to_string(),
            key_version: 1,
            merchant_key: sign::private_key_from_pem(merchant_private).unwrap(),
            antom_key: sign::public_key_from_pem(&keys().antom_public).unwrap(),
        },
        retry(),
    )
    .unwrap()
}

/// A merchant's notify route: verifies with the connector, answers Antom's ack (or refuses the first
/// `refuse` tries), and passes what it read on.
struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<Result<Notification, ConnectorError>>,
    hits: Arc<AtomicU32>,
}

async fn receiver(conn: Arc<AntomConnector>, refuse: u32) -> Receiver {
    let (tx, rx) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/antom/notify",
        axum::routing::post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (conn, tx, h) = (conn.clone(), tx.clone(), h.clone());
            async move {
                let n = h.fetch_add(1, Ordering::SeqCst);
                if n < refuse {
                    return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
                }
                let parsed = conn.parse_notification(Inbound { path: uri.path(), headers: &headers, body: &body });
                let ok = parsed.is_ok();
                let _ = tx.send(parsed);
                if ok {
                    (StatusCode::OK, satang::connector::antom::wire::NOTIFY_ACK.to_string())
                } else {
                    (StatusCode::BAD_REQUEST, String::new())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url: format!("http://{addr}/antom/notify"), rx, hits }
}

async fn simulator(faults: Faults) -> Simulator {
    let k = keys();
    Simulator::start(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        SimConfig {
            antom_key: sign::private_key_from_pem(&k.antom_private).unwrap(),
            merchant_key: sign::public_key_from_pem(&k.merchant_public).unwrap(),
            client_id: Some(CLIENT_ID.to_string()),
            notify_delay: Duration::from_millis(0),
            notify_scale: 0.001,
            faults,
        },
    )
    .await
    .unwrap()
}

fn order(id: &str, method: &str, terminal: Terminal, notify_url: &str, expires_in: i64) -> PayOrder {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    PayOrder {
        request_id: format!("{id}_1"),
        charge: id.to_string(),
        description: "Order 42".into(),
        amount: 12345,
        currency: "THB".into(),
        method: method.into(),
        redirect_url: format!("http://127.0.0.1:1/antom/return/{id}"),
        notify_url: notify_url.to_string(),
        terminal,
        expires_at: Timestamp::from_unix(now + expires_in),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn decide(normal_url: &str, action: &str, code: Option<&str>) -> reqwest::Response {
    let mut form = vec![("action", action)];
    if let Some(c) = code {
        form.push(("code", c));
    }
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    browser()
        .post(normal_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Result<Notification, ConnectorError>>) -> Notification {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a notification").unwrap().unwrap()
}

#[tokio::test]
async fn pay_in_the_wallet_is_notified_signed_and_refunds_add_up() {
    let sim = simulator(Faults::default()).await;
    let conn = Arc::new(connector(&sim.url(), &keys().merchant_private));
    let mut recv = receiver(conn.clone(), 0).await;
    let mut calls = Vec::new();

    let o = order("chrg_test_pay1", "alipay_hk", Terminal::Web, &recv.url, 600);
    let out = conn.pay(&o, &mut calls).await.unwrap();
    assert_eq!(out.state, PaymentState::Open);
    let handoff = out.handoff.unwrap();
    let normal = handoff.normal_url.clone().unwrap();
    assert_eq!(handoff.code_value.as_deref(), Some(normal.as_str()), "the QR encodes the wallet page");
    assert!(handoff.applink_url.is_none(), "WEB gets no app link");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].endpoint, "payments/pay");
    assert_eq!(calls[0].result_code.as_deref(), Some("PAYMENT_IN_PROCESS"));
    assert_eq!(calls[0].request_id, "chrg_test_pay1_1");

    let page = browser().get(&normal).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("12345 THB") && page.contains("ALIPAY_HK"), "{page}");

    let back = decide(&normal, "pay", None).await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], o.redirect_url.as_str());

    let n = next(&mut recv.rx).await;
    let payment_id = handoff.payment_id.clone();
    assert_eq!(
        n,
        Notification::Payment { request_id: o.request_id.clone(), state: PaymentState::Succeeded { payment_id } }
    );
    assert!(matches!(conn.inquire(&o.request_id, &mut calls).await.unwrap(), PaymentState::Succeeded { .. }));

    let pid = handoff.payment_id.unwrap();
    let refund = |id: &str, amount: i64| RefundOrder {
        request_id: id.into(),
        payment_id: pid.clone(),
        amount,
        currency: "THB".into(),
        notify_url: None,
    };
    assert!(matches!(conn.refund(&refund("rfnd_1", 4000), &mut calls).await.unwrap(), RefundState::Succeeded { .. }));
    match conn.refund(&refund("rfnd_2", 9000), &mut calls).await.unwrap() {
        RefundState::Refused { provider_code, .. } => assert_eq!(provider_code, "REFUND_AMOUNT_EXCEED"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(conn.refund(&refund("rfnd_3", 8345), &mut calls).await.unwrap(), RefundState::Succeeded { .. }));
    // The same refund again is the same refund, not a second one.
    assert!(matches!(conn.refund(&refund("rfnd_3", 8345), &mut calls).await.unwrap(), RefundState::Succeeded { .. }));
    assert!(matches!(conn.inquire_refund("rfnd_3", &mut calls).await.unwrap(), RefundState::Succeeded { .. }));
    assert_eq!(conn.inquire_refund("rfnd_2", &mut calls).await.unwrap(), RefundState::NotFound);
    let refunded: i64 = sim.sim.refunds_of(&o.request_id).iter().map(|r| r.amount).sum();
    assert_eq!(refunded, 12345);
    assert_eq!(sim.sim.stats().notifications_acked, 1);
    // A paid order cannot be cancelled.
    assert!(matches!(conn.cancel(&o.request_id, &mut calls).await.unwrap(), CancelOutcome::Refused { .. }));
}

#[tokio::test]
async fn failure_codes_reach_the_seed_codes() {
    let sim = simulator(Faults::default()).await;
    let conn = Arc::new(connector(&sim.url(), &keys().merchant_private));
    let mut recv = receiver(conn.clone(), 0).await;
    let cases = [
        ("USER_BALANCE_NOT_ENOUGH", FailureCode::InsufficientFund),
        ("RISK_REJECT", FailureCode::PaymentRejected),
        ("USER_NOT_EXIST", FailureCode::InvalidAccount),
        ("PROCESS_FAIL", FailureCode::FailedProcessing),
    ];
    for (i, (antom, seed)) in cases.into_iter().enumerate() {
        let mut calls = Vec::new();
        let o = order(&format!("chrg_test_fail{i}"), "alipay", Terminal::Wap(Os::Android), &recv.url, 600);
        let out = conn.pay(&o, &mut calls).await.unwrap();
        let normal = out.handoff.unwrap().normal_url.unwrap();
        assert_eq!(decide(&normal, "fail", Some(antom)).await.status(), 303);
        let expected = PaymentState::Failed { code: seed, provider_code: antom.to_string() };
        assert_eq!(
            next(&mut recv.rx).await,
            Notification::Payment { request_id: o.request_id.clone(), state: expected.clone() }
        );
        assert_eq!(conn.inquire(&o.request_id, &mut calls).await.unwrap(), expected);
        // Decided orders stay decided.
        assert_eq!(decide(&normal, "pay", None).await.status(), 409);
    }
}

#[tokio::test]
async fn phones_get_an_app_link_and_leaving_keeps_the_order_open() {
    let sim = simulator(Faults::default()).await;
    let conn = connector(&sim.url(), &keys().merchant_private);
    let mut calls = Vec::new();
    let o = order("chrg_test_wap", "alipay_hk", Terminal::Wap(Os::Ios), "http://127.0.0.1:1/n", 600);
    let h = conn.pay(&o, &mut calls).await.unwrap().handoff.unwrap();
    assert!(h.applink_url.unwrap().starts_with(&h.normal_url.clone().unwrap()));
    let sent = sim.sim.payment(&o.request_id).unwrap().request;
    assert_eq!(sent.env.terminal_type, "WAP");
    assert_eq!(sent.env.os_type.as_deref(), Some("IOS"));
    assert_eq!(decide(&h.normal_url.unwrap(), "leave", None).await.status(), 303);
    assert_eq!(conn.inquire(&o.request_id, &mut calls).await.unwrap(), PaymentState::Open);
    assert_eq!(conn.cancel(&o.request_id, &mut calls).await.unwrap(), CancelOutcome::Cancelled);
    assert!(matches!(conn.inquire(&o.request_id, &mut calls).await.unwrap(), PaymentState::Closed { .. }));
    assert_eq!(conn.inquire("never_sent", &mut calls).await.unwrap(), PaymentState::NotFound);
}

#[tokio::test]
async fn unpaid_orders_close_at_expiry_and_notify() {
    let sim = simulator(Faults::default()).await;
    let conn = Arc::new(connector(&sim.url(), &keys().merchant_private));
    let mut recv = receiver(conn.clone(), 0).await;
    let mut calls = Vec::new();
    let o = order("chrg_test_exp", "alipay", Terminal::Web, &recv.url, 1);
    conn.pay(&o, &mut calls).await.unwrap();
    let n = next(&mut recv.rx).await;
    assert_eq!(
        n,
        Notification::Payment {
            request_id: o.request_id.clone(),
            state: PaymentState::Closed { provider_code: "ORDER_IS_CLOSED".into() }
        }
    );
}

#[tokio::test]
async fn notifications_are_retried_until_acknowledged() {
    let sim = simulator(Faults::default()).await;
    let conn = Arc::new(connector(&sim.url(), &keys().merchant_private));
    let mut recv = receiver(conn.clone(), 2).await;
    let mut calls = Vec::new();
    let o = order("chrg_test_retry", "alipay", Terminal::Web, &recv.url, 600);
    let normal = conn.pay(&o, &mut calls).await.unwrap().handoff.unwrap().normal_url.unwrap();
    decide(&normal, "pay", None).await;
    assert!(matches!(next(&mut recv.rx).await, Notification::Payment { state: PaymentState::Succeeded { .. }, .. }));
    assert_eq!(recv.hits.load(Ordering::SeqCst), 3);
    // The simulator counts the ack once it has read the answer, just after the receiver sent it.
    let mut stats = sim.sim.stats();
    for _ in 0..100 {
        if stats.notifications_acked > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = sim.sim.stats();
    }
    assert_eq!((stats.notifications_sent, stats.notifications_acked), (3, 1));
}

#[tokio::test]
async fn dropped_notifications_leave_inquiry() {
    let sim = simulator(Faults { drop_notifications: true, ..Faults::default() }).await;
    let conn = Arc::new(connector(&sim.url(), &keys().merchant_private));
    let recv = receiver(conn.clone(), 0).await;
    let mut calls = Vec::new();
    let o = order("chrg_test_drop", "alipay_hk", Terminal::Web, &recv.url, 600);
    let normal = conn.pay(&o, &mut calls).await.unwrap().handoff.unwrap().normal_url.unwrap();
    decide(&normal, "pay", None).await;
    assert!(matches!(conn.inquire(&o.request_id, &mut calls).await.unwrap(), PaymentState::Succeeded { .. }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(recv.hits.load(Ordering::SeqCst), 0);
    assert_eq!(sim.sim.stats().notifications_dropped, 1);
}

#[tokio::test]
async fn server_errors_and_unknown_answers_are_retried_with_the_same_request_id() {
    let sim = simulator(Faults { http_500: 2, ..Faults::default() }).await;
    let conn = connector(&sim.url(), &keys().merchant_private);
    let mut calls = Vec::new();
    let o = order("chrg_test_5xx", "alipay", Terminal::Web, "http://127.0.0.1:1/n", 600);
    assert_eq!(conn.pay(&o, &mut calls).await.unwrap().state, PaymentState::Open);
    let statuses: Vec<Option<u16>> = calls.iter().map(|c| c.http_status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert!(calls.iter().all(|c| c.request_id == o.request_id));
    assert_eq!(sim.sim.payments_for("chrg_test_5xx").len(), 1);

    // `U`: the simulator opened the order but answered UNKNOWN_EXCEPTION; the retry gets the real answer
    // for the same request id, and there is still one order.
    sim.sim.set_faults(Faults { unknown: 1, ..Faults::default() });
    let mut calls = Vec::new();
    let o2 = order("chrg_test_u", "alipay", Terminal::Web, "http://127.0.0.1:1/n", 600);
    assert_eq!(conn.pay(&o2, &mut calls).await.unwrap().state, PaymentState::Open);
    let codes: Vec<_> = calls.iter().map(|c| c.result_code.clone().unwrap()).collect();
    assert_eq!(codes, ["UNKNOWN_EXCEPTION", "PAYMENT_IN_PROCESS"]);
    assert_eq!(sim.sim.payments_for("chrg_test_u").len(), 1);

    // Five 500s outlast three tries: no conclusion.
    sim.sim.set_faults(Faults { http_500: 5, ..Faults::default() });
    let mut calls = Vec::new();
    let err = conn.inquire(&o2.request_id, &mut calls).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Indeterminate(_)), "{err:?}");
    assert_eq!(calls.len(), 3);
}

#[tokio::test]
async fn answers_with_bad_or_missing_signatures_are_never_acted_on() {
    let sim = simulator(Faults { bad_signature: 1, ..Faults::default() }).await;
    let conn = connector(&sim.url(), &keys().merchant_private);
    let mut calls = Vec::new();
    let o = order("chrg_test_badsig", "alipay", Terminal::Web, "http://127.0.0.1:1/n", 600);
    assert_eq!(conn.pay(&o, &mut calls).await.unwrap().state, PaymentState::Open);
    assert!(calls[0].error.as_deref().unwrap().contains("signature"), "{:?}", calls[0]);
    assert_eq!(calls.len(), 2);

    sim.sim.set_faults(Faults { bad_signature: 10, ..Faults::default() });
    let err = conn.inquire(&o.request_id, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Indeterminate(_)), "{err:?}");
}

#[tokio::test]
async fn slow_answers_time_out_and_conclude_nothing() {
    let sim = simulator(Faults { slow_ms: 2500, ..Faults::default() }).await;
    let conn = connector(&sim.url(), &keys().merchant_private);
    let mut calls = Vec::new();
    let err = conn.inquire("x", &mut calls).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Indeterminate(_)));
    assert!(calls.iter().all(|c| c.error.as_deref() == Some("timed out")), "{calls:?}");
}

#[tokio::test]
async fn requests_signed_with_another_key_are_refused() {
    let sim = simulator(Faults::default()).await;
    let (stranger, _) = sign::generate_pair().unwrap();
    let conn = connector(&sim.url(), &stranger);
    let o = order("chrg_test_forged", "alipay", Terminal::Web, "http://127.0.0.1:1/n", 600);
    let mut calls = Vec::new();
    let err = conn.pay(&o, &mut calls).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Misconfigured(_)), "{err:?}");
    assert_eq!(calls[0].result_code.as_deref(), Some("INVALID_SIGNATURE"));
    assert!(sim.sim.payments_for("chrg_test_forged").is_empty());
}

/// Signs a raw request as a merchant would, for what the connector itself never sends.
async fn raw(sim: &Simulator, path: &str, body: &str, key_pem: &str) -> serde_json::Value {
    let key = sign::private_key_from_pem(key_pem).unwrap();
    let time = "1700000000000";
    let sig = sign::sign(&key, &sign::content("POST", path, CLIENT_ID, time, body.as_bytes())).unwrap();
    browser()
        .post(format!("{}{path}", sim.url()))
        .header("client-id", CLIENT_ID)
        .header("request-time", time)
        .header("signature", sign::header(1, &sig))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_request_id_with_another_body_is_inconsistent() {
    let sim = simulator(Faults::default()).await;
    let conn = connector(&sim.url(), &keys().merchant_private);
    let o = order("chrg_test_idem", "alipay", Terminal::Web, "http://127.0.0.1:1/n", 600);
    let first = conn.pay(&o, &mut Vec::new()).await.unwrap();
    let again = conn.pay(&o, &mut Vec::new()).await.unwrap();
    assert_eq!(first, again, "the same request, the same answer");
    let mut changed = o.clone();
    changed.amount = 1;
    let mut calls = Vec::new();
    let out = conn.pay(&changed, &mut calls).await.unwrap();
    assert_eq!(calls[0].result_code.as_deref(), Some("REPEAT_REQ_INCONSISTENT"));
    assert!(matches!(out.state, PaymentState::Failed { code: FailureCode::FailedProcessing, .. }));
    assert_eq!(sim.sim.payments_for("chrg_test_idem").len(), 1);

    // Both paths work; an unsigned request is refused.
    let v = raw(
        &sim,
        "/ams/api/v1/payments/inquiryPayment",
        r#"{"paymentRequestId":"chrg_test_idem_1"}"#,
        &keys().merchant_private,
    )
    .await;
    assert_eq!(v["paymentStatus"], "PROCESSING");
    let v = browser()
        .post(format!("{}/ams/sandbox/api/v1/payments/inquiryPayment", sim.url()))
        .header("client-id", CLIENT_ID)
        .header("request-time", "1")
        .header("signature", "algorithm=RSA256,keyVersion=1,signature=")
        .body(r#"{"paymentRequestId":"chrg_test_idem_1"}"#)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(v["result"]["resultCode"], "INVALID_SIGNATURE");
}

#[tokio::test]
async fn forged_notifications_are_refused() {
    let conn = connector("http://127.0.0.1:1", &keys().merchant_private);
    let body = br#"{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"},"paymentRequestId":"chrg_x_1"}"#;
    let path = "/antom/notify";
    let headers_with = |key_pem: &str, sig_override: Option<&str>| {
        let key = sign::private_key_from_pem(key_pem).unwrap();
        let sig = sign::sign(&key, &sign::content("POST", path, CLIENT_ID, "1700000000000", body)).unwrap();
        let mut h = HeaderMap::new();
        h.insert("client-id", CLIENT_ID.parse().unwrap());
        h.insert("request-time", "1700000000000".parse().unwrap());
        let value = sig_override.map(str::to_string).unwrap_or_else(|| sign::header(1, &sig));
        h.insert("signature", value.parse().unwrap());
        h
    };
    let genuine = headers_with(&keys().antom_private, None);
    assert!(conn.parse_notification(Inbound { path, headers: &genuine, body }).is_ok());
    // Signed by someone else (the merchant's own key, here).
    let forged = headers_with(&keys().merchant_private, None);
    assert!(conn.parse_notification(Inbound { path, headers: &forged, body }).is_err());
    let empty = headers_with(&keys().antom_private, Some("algorithm=RSA256,keyVersion=1,signature="));
    assert!(conn.parse_notification(Inbound { path, headers: &empty, body }).is_err());
    let mut missing = genuine.clone();
    missing.remove("signature");
    assert!(conn.parse_notification(Inbound { path, headers: &missing, body }).is_err());
    // Genuine signature, but for another path or a changed body.
    assert!(conn.parse_notification(Inbound { path: "/other", headers: &genuine, body }).is_err());
    let mut changed = body.to_vec();
    changed[20] = b'X';
    assert!(conn.parse_notification(Inbound { path, headers: &genuine, body: &changed }).is_err());
}

/// `satang connector keygen` and `satang simulator antom`, as an operator runs them.
#[tokio::test]
async fn the_simulator_command_serves_with_keys_from_keygen() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_satang");
    let out = std::process::Command::new(bin).args(["connector", "keygen", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again =
        std::process::Command::new(bin).args(["connector", "keygen", "--out"]).arg(dir.path()).output().unwrap();
    assert!(!again.status.success(), "keygen never overwrites keys");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("merchant_private.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private keys are readable by their owner only");
    }
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["simulator", "antom", "--listen", "127.0.0.1:0", "--notify-delay-ms", "0", "--client-id", CLIENT_ID])
        .arg("--antom-private-key-file")
        .arg(dir.path().join("antom_private.pem"))
        .arg("--merchant-public-key-file")
        .arg(dir.path().join("merchant_public.pem"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let conn = AntomConnector::new(
        Credentials {
            endpoint: url,
            client_id: CLIENT_ID.into(),
            key_version: 1,
            merchant_key: sign::private_key_from_pem(&read("merchant_private.pem")).unwrap(),
            antom_key: sign::public_key_from_pem(&read("antom_public.pem")).unwrap(),
        },
        retry(),
    )
    .unwrap();
    let o = order("chrg_test_cli", "alipay_hk", Terminal::Web, "http://127.0.0.1:1/n", 600);
    let outcome = conn.pay(&o, &mut Vec::new()).await;
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(outcome.unwrap().state, PaymentState::Open);
}

/// `satang connector set / show / remove`, as an operator runs them.
#[test]
fn connector_set_show_remove() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_satang");
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let keys_dir = dir.path().join("keys");
    let run = |args: &[&str], master: Option<&str>| {
        let mut c = Command::new(bin);
        c.args(args).env_remove("SATANG_MASTER_KEY").env_remove("SATANG_DATABASE_URL");
        if let Some(m) = master {
            c.env("SATANG_MASTER_KEY", m);
        }
        c.output().unwrap()
    };
    assert!(run(&["connector", "keygen", "--out", keys_dir.to_str().unwrap()], None).status.success());
    let created = run(&["account", "create", "--name", "Shop", "--database", &db, "--json"], None);
    let account: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let account = account["id"].as_str().unwrap().to_string();
    let private = keys_dir.join("merchant_private.pem");
    let public = keys_dir.join("antom_public.pem");
    let set = |endpoint: &str, master: Option<&str>| {
        run(
            &[
                "connector",
                "set",
                "--account",
                &account,
                "--provider",
                "antom",
                "--client-id",
                "SANDBOX_5YEZ",
                "--private-key-file",
                private.to_str().unwrap(),
                "--antom-public-key-file",
                public.to_str().unwrap(),
                "--endpoint",
                endpoint,
                "--database",
                &db,
                "--json",
            ],
            master,
        )
    };
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let no_master = set("http://127.0.0.1:9090", None);
    assert!(!no_master.status.success());
    let msg = String::from_utf8_lossy(&no_master.stderr);
    assert!(msg.contains("SATANG_MASTER_KEY") && msg.contains("openssl rand -base64 32"), "{msg}");
    let remote_http = set("http://203.0.113.5:9090", Some(master));
    assert!(!remote_http.status.success());
    assert!(String::from_utf8_lossy(&remote_http.stderr).contains("loopback"));

    let ok = set("http://127.0.0.1:9090", Some(master));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let shown = run(&["connector", "show", "--account", &account, "--database", &db, "--json"], None);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["client_id"], "SANDBOX_5YEZ");
    assert_eq!(v["sandbox"], true);
    assert_eq!(v["endpoint"], "http://127.0.0.1:9090");
    let private_pem = std::fs::read_to_string(&private).unwrap();
    let middle = private_pem.lines().nth(5).unwrap();
    assert!(!text.contains("PRIVATE") && !text.contains(middle), "no secret in show: {text}");
    // Nor in the database file in clear.
    let mut raw = std::fs::read(dir.path().join("s.db")).unwrap();
    raw.extend(std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default());
    assert!(!raw.windows(middle.len()).any(|w| w == middle.as_bytes()), "the private key is stored encrypted");

    assert!(run(&["connector", "remove", "--account", &account, "--database", &db], None).status.success());
    assert!(!run(&["connector", "show", "--account", &account, "--database", &db], None).status.success());
}

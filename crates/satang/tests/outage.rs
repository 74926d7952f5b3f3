//! A database outage: satang answers Omise-shaped 503s (never hangs), `/readyz` turns 503, and service comes
//! back by itself when the database does, without a restart. The outage is a TCP proxy between satang and
//! PostgreSQL that the test cuts and restores.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Server, create_account, pg_or_skip};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

async fn proxy(upstream: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let down = Arc::new(AtomicBool::new(false));
    let cut = Arc::new(Notify::new());
    let (d, c) = (down.clone(), cut.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            if d.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let (upstream, cut) = (upstream.clone(), c.clone());
            tokio::spawn(async move {
                let Ok(mut out) = TcpStream::connect(&upstream).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                    _ = cut.notified() => {}
                }
            });
        }
    });
    Proxy { port, down, cut }
}

impl Proxy {
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_503_and_service_recovers_without_a_restart() {
    let Some(db) = pg_or_skip().await else { return };
    let acct = create_account(&db.url, "Outage Shop");
    let key = acct["test_secret_key"].as_str().unwrap().to_string();
    let parsed: tokio_postgres::Config = db.url.parse().unwrap();
    let host = match &parsed.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("TCP host expected, got {other:?}"),
    };
    let upstream = format!("{host}:{}", parsed.get_ports().first().copied().unwrap_or(5432));
    let p = proxy(upstream).await;
    let dbname = parsed.get_dbname().unwrap();
    let user = parsed.get_user().unwrap_or("postgres");
    let via_proxy = format!("postgres://{user}@127.0.0.1:{}/{dbname}", p.port);
    let server = Server::start(
        "127.0.0.1:0",
        &via_proxy,
        &[("SATANG_DB_ACQUIRE_TIMEOUT_MS", "1000"), ("SATANG_DB_STATEMENT_TIMEOUT_MS", "2000")],
    )
    .unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let list = || client.get(format!("{}/charges", server.url)).basic_auth(&key, Some("")).send();
    assert_eq!(list().await.unwrap().status(), 200);

    p.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let res = list().await.unwrap();
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["object"], "error");
        assert_eq!(body["code"], "service_unavailable");
        assert!(started.elapsed() < Duration::from_secs(5), "answered in {:?}, not hung", started.elapsed());
    }
    let create = client
        .post(format!("{}/charges", server.url))
        .basic_auth(&key, Some(""))
        .json(&serde_json::json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 503);
    assert_eq!(client.get(format!("{}/readyz", server.url)).send().await.unwrap().status(), 503);
    assert_eq!(
        client.get(format!("{}/healthz", server.url)).send().await.unwrap().status(),
        200,
        "the process itself is fine"
    );

    p.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if list().await.unwrap().status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "satang did not recover after the database came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(client.get(format!("{}/readyz", server.url)).send().await.unwrap().status(), 200);
}

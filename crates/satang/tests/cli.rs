//! The operator's interface, through the real binary: `serve`, `account create`, signals.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, create_account};

#[tokio::test]
async fn serve_creates_a_demo_account_once_and_account_create_works_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let printed = server.stdout_lines.join("\n");
    assert!(printed.contains("test public key: pkey_test_"), "{printed}");
    let demo_skey = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("test secret key: "))
        .expect("demo secret key printed")
        .to_string();

    // A second process writes to the same SQLite file while serve runs.
    let acct = create_account(&db, "Corner Shop");
    for k in ["id", "test_public_key", "test_secret_key", "live_public_key", "live_secret_key"] {
        assert!(acct[k].is_string(), "missing {k}: {acct}");
    }
    assert!(acct["test_secret_key"].as_str().unwrap().starts_with("skey_test_"));
    assert!(acct["live_secret_key"].as_str().unwrap().starts_with("skey_"));

    // Both accounts' keys work against the running server at once.
    let client = reqwest::Client::new();
    for key in [demo_skey.as_str(), acct["test_secret_key"].as_str().unwrap()] {
        let res = client.get(format!("{}/charges", server.url)).basic_auth(key, Some("")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    drop(server);

    // The secret key is not in the database file in clear.
    let raw = std::fs::read(dir.path().join("satang.db")).unwrap();
    let wal = std::fs::read(dir.path().join("satang.db-wal")).unwrap_or_default();
    for hay in [&raw, &wal] {
        assert!(!hay.windows(demo_skey.len()).any(|w| w == demo_skey.as_bytes()), "secret key stored in clear");
    }

    // A restart on the same database does not create (or print) another demo account.
    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    assert!(!server.stdout_lines.join("\n").contains("demo account"), "{:?}", server.stdout_lines);
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let mut server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    server.signal("TERM");
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_database_urls_fail_with_a_clear_message() {
    let out = std::process::Command::new(common::satang_bin())
        .args(["migrate", "--database", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database URL"), "{err}");
}

#[tokio::test]
async fn account_set_fee_changes_new_charges() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let acct = create_account(&db, "Fee Shop");
    let out = std::process::Command::new(common::satang_bin())
        .args([
            "account",
            "set-fee",
            "--account",
            acct["id"].as_str().unwrap(),
            "--type",
            "alipay_hk",
            "--currency",
            "SGD",
        ])
        .args(["--rate", "3.1", "--vat", "7", "--flat", "0.50", "--database", &db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A method/currency pair the registry does not have is refused before anything is written.
    let bad = std::process::Command::new(common::satang_bin())
        .args([
            "account",
            "set-fee",
            "--account",
            acct["id"].as_str().unwrap(),
            "--type",
            "alipay",
            "--currency",
            "SGD",
        ])
        .args(["--rate", "3", "--database", &db])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not accepted by alipay"));

    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let c: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/charges", server.url))
        .basic_auth(acct["test_secret_key"].as_str().unwrap(), Some(""))
        .json(&serde_json::json!({"amount": 150000, "currency": "SGD", "return_uri": "https://s.example/r", "source": {"type": "alipay_hk"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 3.1% of 150,000 = 4,650 + 50 flat = 4,700; VAT 7% = 329.
    assert_eq!(c["fee"], 4_700, "{c}");
    assert_eq!(c["fee_vat"], 329);
    assert_eq!(c["net"], 150_000 - 4_700 - 329);
    assert_eq!(c["transaction_fees"], serde_json::json!({"fee_flat": "0.5", "fee_rate": "3.1", "vat_rate": "7.0"}));
}

#[test]
fn webhook_endpoints_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let acct = create_account(&db, "Hook Shop");
    let account = acct["id"].as_str().unwrap();
    let satang = |args: &[&str]| run_satang(&[args, &["--database", db.as_str()]].concat());
    let (ok, out, err) = satang(&[
        "webhook",
        "add",
        "--account",
        account,
        "--mode",
        "test",
        "--url",
        "http://127.0.0.1:3000/hook",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim().lines().count(), 1, "one JSON object");
    let ep: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for k in ["id", "url", "mode", "secret"] {
        assert!(ep[k].is_string(), "missing {k}: {ep}");
    }
    assert_eq!(ep["mode"], "test");
    let id = ep["id"].as_str().unwrap();

    // Live endpoints must be https to a public address.
    let (ok, _, err) =
        satang(&["webhook", "add", "--account", account, "--mode", "live", "--url", "https://127.0.0.1/hook"]);
    assert!(!ok);
    assert!(err.contains("loopback"), "{err}");

    let (ok, out, _) = satang(&["webhook", "list", "--account", account, "--json"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1);

    let (ok, out, _) = satang(&["webhook", "roll-secret", "--id", id, "--json"]);
    assert!(ok);
    let rolled: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_ne!(rolled["secret"], ep["secret"]);
    assert!(rolled["previous_secret_valid_until"].as_str().unwrap().ends_with('Z'));

    let (ok, _, _) = satang(&["webhook", "remove", "--id", id]);
    assert!(ok);
    let (ok, out, _) = satang(&["webhook", "list", "--account", account, "--json"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(list["endpoints"].as_array().unwrap().is_empty());
    let (ok, _, err) = satang(&["webhook", "remove", "--id", id]);
    assert!(!ok, "removing twice fails: {err}");
}

/// `serve --tls-cert/--tls-key` answers HTTPS (and refuses plain HTTP on that port); `--redirect-http` sends
/// plain-HTTP requests on to the public URL with a 308.
#[tokio::test]
async fn serve_speaks_tls_in_process_and_can_redirect_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("ca.pem"));
    // A test CA, and a server certificate it signs (rustls refuses a CA certificate as the server's).
    let script = format!(
        "set -e; cd {d}; \
         openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=satang-test-ca -keyout ca.key -out ca.pem 2>/dev/null; \
         openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out req.csr 2>/dev/null; \
         printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext.cnf; \
         openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem 2>/dev/null",
        d = dir.path().display()
    );
    match Command::new("sh").args(["-c", &script]).output() {
        Ok(o) if o.status.success() => {}
        other => return common::skip(&format!("openssl cannot make a test certificate: {other:?}")),
    }
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let public = format!("https://localhost:{port}");
    let mut child = Command::new(common::satang_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database", &db, "--public-url", &public])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--redirect-http", &format!("127.0.0.1:{redirect_port}")])
        .env("SATANG_LOG", "satang=warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut skey = String::new();
    let listening = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(k) = line.trim().strip_prefix("test secret key: ") {
            skey = k.to_string();
        }
        if line.starts_with("satang listening on ") {
            break line;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    assert!(listening.starts_with(&format!("satang listening on https://127.0.0.1:{port}")), "{listening}");

    let pem = std::fs::read(&ca).unwrap();
    let tls = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = tls.get(format!("{public}/healthz")).send().await.expect("https answers");
    assert_eq!(res.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{redirect_port}/charges?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], format!("{public}/charges?limit=1").as_str());

    // Behind an https public URL the payer pages' cookies are Secure.
    assert!(skey.starts_with("skey_test_"), "serve printed the demo test key");
    let charge: serde_json::Value = tls
        .post(format!("{public}/charges"))
        .basic_auth(&skey, Some(""))
        .json(&serde_json::json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = tls.get(charge["authorize_uri"].as_str().expect("a charge")).send().await.unwrap();
    let cookies: Vec<_> =
        page.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("satang_csrf=")), "{cookies:?}");
    assert!(cookies.iter().all(|c| c.ends_with("; Secure")), "{cookies:?}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs the binary with these arguments: whether it succeeded, its stdout and its stderr.
fn run_satang(args: &[&str]) -> (bool, String, String) {
    let out =
        Command::new(common::satang_bin()).args(args).env("SATANG_LOG", "satang=warn").output().expect("run satang");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `satang backup` copies a SQLite database while charges are being written, and what it copies is one
/// consistent moment: restored, every charge is there with its event. `satang restore` refuses to replace
/// a database without `--force`, and PostgreSQL URLs are pointed at pg_dump.
#[tokio::test]
async fn backup_while_serving_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let server =
        Server::start("127.0.0.1:0", &db, &[("SATANG_RATE_LIMIT_KEY", "0"), ("SATANG_RATE_LIMIT_IP", "0")]).unwrap();
    let acct = create_account(&db, "Backup Shop");
    let skey = acct["test_secret_key"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let create = |client: reqwest::Client, base: String, skey: String| async move {
        let res = client
            .post(format!("{base}/charges"))
            .basic_auth(&skey, Some(""))
            .json(&serde_json::json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    };
    for _ in 0..20 {
        create(client.clone(), server.url.clone(), skey.clone()).await;
    }
    // Writers keep going while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (stop, client, base, skey) = (stop.clone(), client.clone(), server.url.clone(), skey.clone());
        async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                create(client.clone(), base.clone(), skey.clone()).await;
                n += 1;
            }
            n
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = dir.path().join("during.db");
    let (to, from_db) = (during.to_str().unwrap().to_string(), db.clone());
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_satang(&["backup", "--to", &to, "--database", &from_db, "--json"]))
            .await
            .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = 20 + writer.await.unwrap();
    assert!(ok, "{err}");
    let copied: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let charges = copied["charges"].as_i64().unwrap();
    assert!(charges >= 20 && charges <= written, "{copied}");
    assert_eq!(copied["events"], copied["charges"], "every charge copied with its event: {copied}");
    // The backup never overwrites, and PostgreSQL is pointed at its own tools.
    let (ok, _, err) = run_satang(&["backup", "--to", during.to_str().unwrap(), "--database", &db]);
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, _, err) =
        run_satang(&["backup", "--to", "/tmp/x.db", "--database", "postgres://postgres@127.0.0.1/satang"]);
    assert!(!ok && err.contains("pg_dump -Fc"), "{err}");
    drop(server);

    // Restored into a new file, it serves exactly what was copied.
    let restored = format!("sqlite:{}", dir.path().join("restored.db").display());
    let (ok, out, err) =
        run_satang(&["restore", "--from", during.to_str().unwrap(), "--database", &restored, "--json"]);
    assert!(ok, "{err}");
    let back: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(back["charges"], charges);
    let (ok, _, err) = run_satang(&["restore", "--from", during.to_str().unwrap(), "--database", &restored]);
    assert!(!ok && err.contains("--force"), "an existing database is not replaced silently: {err}");
    let server = Server::start("127.0.0.1:0", &restored, &[]).unwrap();
    let list: serde_json::Value = client
        .get(format!("{}/charges?limit=100", server.url))
        .basic_auth(&skey, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], charges);
    let events: serde_json::Value = client
        .get(format!("{}/events", server.url))
        .basic_auth(&skey, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["total"], charges);
    // A file that is not a satang database is refused.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, _, err) = run_satang(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--database",
        &format!("sqlite:{}", dir.path().join("other.db").display()),
    ]);
    assert!(!ok && err.contains("cannot be restored"), "{err}");
}

/// `account set-checkout`: the origin allow-list a running server enforces at once, the shop's URL, and
/// refusals of what is not an origin.
#[tokio::test]
async fn account_set_checkout_limits_the_origins_of_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let acct = create_account(&db, "Origin Shop");
    let id = acct["id"].as_str().unwrap().to_string();
    let set = |args: &[&str]| {
        Command::new(common::satang_bin())
            .args(["account", "set-checkout", "--account", &id, "--database", &db])
            .args(args)
            .output()
            .unwrap()
    };
    let bad = set(&["--allowed-origins", "https://shop.example/cart"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean https://shop.example"));

    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let create = |origin: &'static str| {
        let url = format!("{}/sources/", server.url);
        let key = acct["test_public_key"].as_str().unwrap().to_string();
        async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth(key, None::<&str>)
                .header("origin", origin)
                .json(&serde_json::json!({"type": "alipay_hk", "amount": 150000, "currency": "SGD"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(create("https://anyone.example").await, 200, "any origin by default");
    let out = set(&[
        "--allowed-origins",
        "https://shop.example, http://localhost:8000",
        "--shop-url",
        "https://shop.example/",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("https://shop.example, http://localhost:8000"), "{text}");
    assert!(text.contains("shop URL: https://shop.example/"), "{text}");
    assert_eq!(create("https://shop.example").await, 200);
    assert_eq!(create("http://localhost:8000").await, 200);
    assert_eq!(create("https://anyone.example").await, 403);
    // Options not given keep their value; `any` lifts the limit.
    let out = set(&["--allowed-origins", "any"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("allowed origins any") && text.contains("shop URL: https://shop.example/"), "{text}");
    assert_eq!(create("https://anyone.example").await, 200);
    // Payer-page URLs follow the dashboard's rule: https, http only on localhost.
    for (flag, bad) in [("--support-url", "http://shop.example/help"), ("--logo-url", "https://u:p@shop.example/l.png")]
    {
        let out = set(&[flag, bad]);
        assert!(!out.status.success(), "{flag} {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("must be an https URL"), "{flag} {bad}");
    }
    let out = set(&["--support-url", "https://shop.example/help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("support URL: https://shop.example/help"));
    let store = satang::store::open(&db).await.unwrap();
    let account = store.get_account(&id.parse().unwrap()).await.unwrap();
    assert_eq!(account.checkout.support_url.as_deref(), Some("https://shop.example/help"));
    assert_eq!(account.checkout.shop_url.as_deref(), Some("https://shop.example/"), "kept");
}

//! The operator's interface, through the real binary: `serve`, `account create`, signals.

mod common;

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
    let satang = |args: &[&str]| {
        let out =
            std::process::Command::new(common::satang_bin()).args(args).args(["--database", &db]).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
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

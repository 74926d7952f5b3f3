//! The developer's tools, through the real binary: `serve --dev`, `--version`, request IDs in error bodies
//! and log lines.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;

const DEV_SKEY: &str = "skey_test_satangdevsecretkey1";
const DEV_PKEY: &str = "pkey_test_satangdevpublickey1";

fn dev_server(env: &[(&str, &str)]) -> Server {
    Server::start_with(&["serve", "--dev", "--listen", "127.0.0.1:0"], env, Stdio::inherit()).unwrap()
}

fn printed_key(server: &Server, label: &str) -> String {
    server
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("{label} not printed: {:?}", server.stdout_lines))
        .to_string()
}

#[tokio::test]
async fn serve_dev_starts_on_a_temporary_database_with_the_same_printed_keys_every_time() {
    let client = reqwest::Client::new();
    let mut first_account = String::new();
    for round in 0..2 {
        let server = dev_server(&[]);
        assert_eq!(printed_key(&server, "test secret key: "), DEV_SKEY);
        assert_eq!(printed_key(&server, "test public key: "), DEV_PKEY);
        // The printed secret key works: a charge, and the list shows only this run's charges (a fresh database).
        let list: serde_json::Value = client
            .get(format!("{}/charges", server.url))
            .basic_auth(DEV_SKEY, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["total"], 0, "round {round}: {list}");
        let c: serde_json::Value = client
            .post(format!("{}/charges", server.url))
            .basic_auth(DEV_SKEY, Some(""))
            .json(&serde_json::json!({"amount": 10000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(c["object"], "charge", "{c}");
        assert_eq!(c["livemode"], false);
        let account = server.stdout_lines.iter().find(|l| l.starts_with("account ")).unwrap().clone();
        if round == 0 {
            first_account = account;
        } else {
            assert_ne!(account, first_account, "a new temporary database each start");
        }
    }
}

#[tokio::test]
async fn serve_dev_takes_a_teams_keys_from_the_environment_and_refuses_live_ones() {
    let (pkey, skey) = ("pkey_test_teamshared0000000001", "skey_test_teamshared0000000001");
    let server = dev_server(&[("SATANG_DEV_PUBLIC_KEY", pkey), ("SATANG_DEV_SECRET_KEY", skey)]);
    assert_eq!(printed_key(&server, "test secret key: "), skey);
    let res =
        reqwest::Client::new().get(format!("{}/charges", server.url)).basic_auth(skey, Some("")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(server);

    let out = Command::new(common::satang_bin())
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .env("SATANG_DEV_SECRET_KEY", "skey_5livekeylivekeylivek")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("test mode only"), "{err}");
    assert!(!err.contains("skey_5livekey"), "the refused key is not echoed: {err}");
}

#[test]
fn version_names_the_release_and_the_omise_api_versions() {
    let out = Command::new(common::satang_bin()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("satang {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("Omise API versions 2019-05-29, 2017-11-02, 2015-11-17, 2014-07-27"), "{text}");
}

#[tokio::test]
async fn error_bodies_and_log_lines_carry_the_request_id() {
    let mut server = Server::start_with(
        &["serve", "--dev", "--listen", "127.0.0.1:0"],
        &[("SATANG_LOG", "satang=debug")],
        Stdio::piped(),
    )
    .unwrap();
    let stderr = server.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let client = reqwest::Client::new();
    for (method, path, key) in [("GET", "/charges/chrg_test_nope", DEV_SKEY), ("GET", "/charges", "skey_test_wrong")] {
        let res = client
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .basic_auth(key, Some(""))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error());
        let header = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["object"], "error");
        assert_eq!(body["request_id"], header.as_str(), "{body}");
        assert!(header.starts_with("req_"));
        // The request's log line names it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a log line");
            if line.contains(&format!("request_id={header}")) {
                assert!(!line.contains(key), "no key in logs: {line}");
                break;
            }
        }
    }
}

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
    request_ids_reach_the_log(&mut server, |line, id| line.contains(&format!("request_id={id} "))).await;
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id_as_a_field() {
    let mut server = Server::start_with(
        &["serve", "--dev", "--listen", "127.0.0.1:0"],
        &[("SATANG_LOG", "satang=debug"), ("SATANG_LOG_FORMAT", "json")],
        Stdio::piped(),
    )
    .unwrap();
    request_ids_reach_the_log(&mut server, |line, id| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["request_id"] == id)
    })
    .await;
}

/// Two failing requests; each one's error body and header carry one ID, and a log line names it.
async fn request_ids_reach_the_log(server: &mut Server, names: impl Fn(&str, &str) -> bool) {
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
            if names(&line, &header) {
                assert!(!line.contains(key), "no key in logs: {line}");
                break;
            }
        }
    }
}

/// A webhook receiver in Python that checks every delivery with the README's verification snippet, with the
/// secret for its path read from a JSON file at each request, and prints one JSON line per delivery.
struct Receiver {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    secrets: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
        let at = readme.find("<!-- webhook-verify-python -->").expect("README snippet");
        let rest = &readme[at..];
        let code = &rest[rest.find("```python\n").unwrap() + 10..];
        let snippet = &code[..code.find("```").unwrap()];
        let program = format!(
            "{snippet}\n{}",
            r#"
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
OUT = threading.Lock()  # one line per delivery, whole, however many arrive at once
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        secret = json.load(open(sys.argv[1])).get(self.path)
        ok = secret is not None and verify_omise_signature(secret, self.headers['Omise-Signature-Timestamp'], self.headers['Omise-Signature'], body)
        line = json.dumps({"path": self.path, "ok": ok, "body": body.decode(), "ua": self.headers.get('User-Agent'), "ct": self.headers.get('Content-Type')})
        with OUT:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self.send_response(200 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
print(json.dumps({"port": srv.server_address[1]}), flush=True)
srv.serve_forever()
"#
        );
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.json");
        std::fs::write(&secrets, "{}").unwrap();
        let mut child = Command::new("python3")
            .args(["-c", &program, secrets.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str::<serde_json::Value>(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Receiver { child, port: first["port"].as_u64().unwrap() as u16, lines: rx, secrets, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set_secrets(&self, secrets: serde_json::Value) {
        std::fs::write(&self.secrets, secrets.to_string()).unwrap();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `satang <args>` child whose stdout lines arrive on a channel; killed when dropped.
struct Cmd {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Cmd {
    fn start(args: &[&str]) -> Cmd {
        let mut child = Command::new(common::satang_bin())
            .args(args)
            .env("SATANG_LOG", "satang=warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Cmd { child, lines: rx }
    }

    fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(15)).expect("a line from the command")
    }

    fn json(&self) -> serde_json::Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }
}

impl Drop for Cmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn api(
    client: &reqwest::Client,
    server: &Server,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let res = client
        .request(method.parse().unwrap(), format!("{}{path}", server.url))
        .basic_auth(DEV_SKEY, Some(""))
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = res.json().await.unwrap();
    assert_ne!(v["object"], "error", "{method} {path}: {v}");
    v
}

#[tokio::test]
async fn listen_forwards_each_event_exactly_as_the_webhook_delivery_signed_with_its_printed_secret() {
    let server = dev_server(&[]);
    let receiver = Receiver::start();
    let client = reqwest::Client::new();
    // A real webhook endpoint of the account, on the same receiver, to compare bodies byte for byte.
    let ep =
        api(&client, &server, "POST", "/webhook_endpoints", serde_json::json!({"url": receiver.url("/real")})).await;
    let listen = Cmd::start(&["listen", "--forward-to", &receiver.url("/listen"), "--api-base", &server.url, "--json"]);
    let ready = listen.json();
    assert_eq!(ready["object"], "listen", "{ready}");
    let listen_secret = ready["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(listen_secret, ep["secret"].as_str().unwrap());
    receiver.set_secrets(serde_json::json!({"/real": ep["secret"], "/listen": listen_secret}));

    let charge = api(
        &client,
        &server,
        "POST",
        "/charges",
        serde_json::json!({"amount": 150000, "currency": "SGD", "return_uri": "https://s.example/r", "source": {"type": "alipay_hk"}}),
    )
    .await;
    let id = charge["id"].as_str().unwrap();
    api(&client, &server, "POST", &format!("/charges/{id}/mark_as_paid"), serde_json::json!({})).await;
    api(&client, &server, "POST", &format!("/charges/{id}/refunds"), serde_json::json!({"amount": 50000})).await;

    // Three events, each delivered by satang's worker and forwarded by listen.
    let mut real = std::collections::HashMap::new();
    let mut forwarded = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while real.len() < 3 || forwarded.len() < 3 {
        let d = receiver.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("deliveries");
        assert_eq!(d["ok"], true, "signature verified with the README snippet: {d}");
        assert_eq!(d["ct"], "application/json");
        assert!(d["ua"].as_str().unwrap().starts_with("satang/"));
        let body = d["body"].as_str().unwrap().to_string();
        let event: serde_json::Value = serde_json::from_str(&body).unwrap();
        let which = if d["path"] == "/real" { &mut real } else { &mut forwarded };
        which.insert(event["id"].as_str().unwrap().to_string(), (event["key"].as_str().unwrap().to_string(), body));
    }
    assert_eq!(real, forwarded, "listen's bodies are byte-identical to the webhook deliveries");
    let mut keys: Vec<&str> = forwarded.values().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["charge.complete", "charge.create", "refund.create"]);

    // One printed line per delivery: time, key, ID, the app's status and latency.
    for _ in 0..3 {
        let line = listen.json();
        assert_eq!(line["status"], 200, "{line}");
        assert!(forwarded.contains_key(line["id"].as_str().unwrap()), "{line}");
        assert!(line["latency_ms"].is_u64() && line["time"].as_str().unwrap().ends_with('Z'));
    }
}

#[tokio::test]
async fn the_event_stream_resumes_after_last_event_id_and_listen_reports_an_app_that_is_down() {
    let server = dev_server(&[]);
    let client = reqwest::Client::new();
    // A port nothing listens on: the app is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}/hook", down.local_addr().unwrap());
    drop(down);
    let listen =
        Cmd::start(&["listen", "--forward-to", &down_url, "--api-base", &server.url, "--events", "charge.create"]);
    assert!(listen.line().starts_with("Ready."));
    assert!(listen.line().contains("signing secret: "));
    listen.line();

    let mut ids = Vec::new();
    for _ in 0..3 {
        let c = api(
            &client,
            &server,
            "POST",
            "/charges",
            serde_json::json!({"amount": 10000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}),
        )
        .await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    for _ in 0..3 {
        let line = listen.line();
        assert!(line.contains("charge.create") && line.contains("failed"), "{line}");
    }

    let events = api(&client, &server, "GET", "/events?order=chronological", serde_json::json!({})).await;
    let event_ids: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(event_ids.len(), 3);
    // Resuming after the first event: the other two arrive at once, in order, in webhook bodies.
    let mut res = client
        .get(format!("{}/events/stream", server.url))
        .basic_auth(DEV_SKEY, Some(""))
        .header("Last-Event-ID", event_ids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut text = String::new();
    while text.matches("\n\n").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk()).await.unwrap().unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let got: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert_eq!(got, &event_ids[1..], "{text}");
    assert!(text.contains("event: charge.create"));

    // A public key cannot read the stream.
    let res = client.get(format!("{}/events/stream", server.url)).basic_auth(DEV_PKEY, Some("")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

fn satang_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(common::satang_bin()).args(args).env("SATANG_LOG", "satang=warn").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(text.trim()).unwrap()
}

#[tokio::test]
async fn trigger_makes_every_event_happen_through_the_api() {
    let server = dev_server(&[]);
    let base = server.url.clone();
    let cases = [
        ("charge.complete", "successful", "charge.complete"),
        ("charge.failed", "failed", "charge.complete"),
        ("charge.expire", "expired", "charge.expire"),
        ("refund.create", "successful", "refund.create"),
    ];
    for (event, status, key) in cases {
        let out = satang_json(&["trigger", event, "--api-base", &base, "--json"]);
        assert_eq!(out["status"], status, "{event}: {out}");
        assert!(out["charge"].as_str().unwrap().starts_with("chrg_test_"));
        assert!(out["source"].as_str().unwrap().starts_with("src_test_"), "{out}");
        let keys: Vec<&str> = out["events"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
        assert!(keys.contains(&"charge.create") && keys.contains(&key), "{event}: {keys:?}");
        if event == "charge.failed" {
            assert_eq!(out["failure_code"], "payment_rejected");
        }
        if event == "refund.create" {
            assert!(out["refund"].as_str().unwrap().starts_with("rfnd_test_"), "{out}");
        }
    }
    // Alipay HK in SGD, and the charge the API shows is the one trigger printed.
    let out = satang_json(&[
        "trigger",
        "charge.complete",
        "--method",
        "alipay_hk",
        "--amount",
        "150000",
        "--currency",
        "SGD",
        "--api-base",
        &base,
        "--json",
    ]);
    let c: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/charges/{}", out["charge"].as_str().unwrap()))
        .basic_auth(DEV_SKEY, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["amount"].as_i64(), c["currency"].as_str(), c["source"]["type"].as_str()),
        (Some(150000), Some("SGD"), Some("alipay_hk"))
    );
    // Text output names the objects; a bad amount is the API's error, as a failure.
    let out =
        Command::new(common::satang_bin()).args(["trigger", "charge.expire", "--api-base", &base]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("charge chrg_test_") && text.contains("(expired)") && text.contains("charge.expire"),
        "{text}"
    );
    let out = Command::new(common::satang_bin())
        .args(["trigger", "charge.complete", "--amount", "1", "--api-base", &base])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `logs tail` under a short load: one line per request of the account, with its request ID and error code,
/// filters applied, no keys.
#[tokio::test]
async fn logs_tail_shows_every_request_of_the_account_as_it_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let (mine, other) = (common::create_account(&db, "Mine"), common::create_account(&db, "Other"));
    let mine = mine["test_secret_key"].as_str().unwrap().to_string();
    let other = other["test_secret_key"].as_str().unwrap().to_string();
    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let start = |extra: &[&str]| {
        let mut args = vec!["logs", "tail", "--api-base", server.url.as_str(), "--secret-key", mine.as_str(), "--json"];
        args.extend_from_slice(extra);
        let mut child = Command::new(common::satang_bin())
            .args(&args)
            .env("SATANG_LOG", "satang=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Connected once it says so on stderr.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("following"), "{line}");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Cmd { child, lines: rx }
    };
    let all = start(&[]);
    let errors = start(&["--status", "4xx", "--path", "/charges"]);

    // Another account's requests are not this account's.
    let client = reqwest::Client::new();
    let mut expected = Vec::new();
    let mut handles = Vec::new();
    for i in 0..40 {
        let (path, key) = match i % 4 {
            0 => ("/charges".to_string(), mine.as_str()),
            1 => (format!("/charges/chrg_test_nope{i}"), mine.as_str()),
            2 => ("/balance".to_string(), mine.as_str()),
            _ => ("/charges".to_string(), other.as_str()),
        };
        let (client, url) = (client.clone(), format!("{}{path}", server.url));
        let key = key.to_string();
        handles.push(tokio::spawn(async move {
            let res = client.get(url).basic_auth(&key, Some("")).send().await.unwrap();
            (res.status().as_u16(), res.headers()["x-request-id"].to_str().unwrap().to_string())
        }));
        if i % 4 != 3 {
            expected.push(path);
        }
    }
    let mut ids = std::collections::HashMap::new();
    for (i, h) in handles.into_iter().enumerate() {
        let (status, id) = h.await.unwrap();
        if i % 4 != 3 {
            ids.insert(id, status);
        }
    }
    let mut seen = std::collections::HashMap::new();
    for _ in 0..ids.len() {
        let r = all.json();
        assert!(!r.to_string().contains("skey_"), "no keys: {r}");
        for k in ["time", "method", "path", "status", "latency_ms", "request_id", "error_code"] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
        seen.insert(r["request_id"].as_str().unwrap().to_string(), r.clone());
    }
    assert_eq!(seen.len(), ids.len());
    for (id, status) in &ids {
        let r = &seen[id];
        assert_eq!(r["status"], *status, "{r}");
        if *status == 404 {
            assert_eq!(r["error_code"], "not_found");
        } else {
            assert!(r["error_code"].is_null());
        }
    }
    // The filtered tail shows exactly the 404s on /charges.
    for _ in 0..10 {
        let r = errors.json();
        assert_eq!(r["status"], 404, "{r}");
        assert!(r["path"].as_str().unwrap().starts_with("/charges/"));
    }
    assert!(errors.lines.recv_timeout(Duration::from_millis(500)).is_err(), "nothing else");
    assert!(all.lines.recv_timeout(Duration::from_millis(200)).is_err(), "nothing of the other account");
}

/// The samples of a Prometheus text page: (name, labels, value).
fn samples(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (head, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value.parse().unwrap_or(f64::NAN))
        })
        .collect()
}

fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .into_iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_and_the_counters_move() {
    let server = Server::start_with(
        &["serve", "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
        &[],
        Stdio::inherit(),
    )
    .unwrap();
    let metrics_url = server
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("metrics on "))
        .expect("metrics address printed")
        .to_string();
    let client = reqwest::Client::new();
    // Not on the API's port.
    let res = client.get(format!("{}/metrics", server.url)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let scrape = || async {
        let res = client.get(&metrics_url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        res.text().await.unwrap()
    };
    let before = scrape().await;
    let posted = [("route", "/charges"), ("method", "POST"), ("status", "200")];
    let base_posts = sample(&before, "satang_http_requests_total", &posted);

    // A webhook endpoint nobody answers on: deliveries fail and stay in the outbox.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}/hook", down.local_addr().unwrap());
    drop(down);
    api(&client, &server, "POST", "/webhook_endpoints", serde_json::json!({"url": down_url})).await;
    for _ in 0..2 {
        let c = api(
            &client,
            &server,
            "POST",
            "/charges",
            serde_json::json!({"amount": 10000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}),
        )
        .await;
        api(
            &client,
            &server,
            "POST",
            &format!("/charges/{}/mark_as_paid", c["id"].as_str().unwrap()),
            serde_json::json!({}),
        )
        .await;
    }
    let res = client
        .get(format!("{}/charges/chrg_test_nope", server.url))
        .basic_auth(DEV_SKEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // The four events' first attempts fail (connection refused) and wait for their retry.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let text = scrape().await;
        if sample(&text, "satang_webhook_delivery_duration_seconds_count", &[("outcome", "failed")]) >= 4.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "no failed deliveries recorded: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(sample(&after, "satang_http_requests_total", &posted) - base_posts, 2.0, "{after}");
    assert_eq!(
        sample(
            &after,
            "satang_http_requests_total",
            &[("route", "/charges/{id}"), ("method", "GET"), ("status", "404")]
        ),
        1.0
    );
    assert!(
        sample(&after, "satang_http_request_duration_seconds_count", &[("route", "/charges"), ("method", "POST")])
            >= 2.0
    );
    assert_eq!(sample(&after, "satang_charges_total", &[("method", "alipay"), ("status", "pending")]), 2.0);
    assert_eq!(sample(&after, "satang_charges_total", &[("method", "alipay"), ("status", "successful")]), 2.0);
    assert_eq!(sample(&after, "satang_webhook_outbox_depth", &[]), 4.0, "{after}");
    assert!(sample(&after, "satang_webhook_outbox_oldest_age_seconds", &[]) >= 0.0);
    assert!(sample(&after, "satang_store_commit_batch_size_count", &[]) >= 4.0);
    assert!(sample(&after, "satang_store_commit_duration_seconds_count", &[]) >= 4.0);
}

#[tokio::test]
async fn an_open_event_stream_does_not_hold_up_a_graceful_stop() {
    let mut server = dev_server(&[]);
    let client = reqwest::Client::new();
    let mut stream =
        client.get(format!("{}/events/stream", server.url)).basic_auth(DEV_SKEY, Some("")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    server.signal("TERM");
    let started = Instant::now();
    // The stream ends, and the server exits well within its 30 s drain.
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream was not ended at shutdown");
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

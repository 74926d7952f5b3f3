//! Secrets never reach the logs: a real `satang serve` logging at `trace` for every crate (satang, hyper,
//! the database drivers), its stderr captured to a file, is sent every secret it handles — dashboard
//! passwords right and wrong, session cookies and CSRF tokens, secret keys good, unknown and rolled, public
//! keys, webhook secrets new and rolled — and the log is then searched for each of them. The CLI's stderr
//! is searched too (`user create` reading a password from stdin, `account create` printing keys on stdout).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Server, create_account, satang_bin};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "a long dashboard password 9f3k";
const WRONG: &str = "not the password but close 7q2m";

/// The value of the first hidden input with this name.
fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// `name=value` of a `Set-Cookie` header with this name.
fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let kv = v.split(';').next()?;
        let (k, val) = kv.split_once('=')?;
        (k == name && !val.is_empty()).then(|| val.to_string())
    })
}

/// The text without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_trace() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let log_path = dir.path().join("satang.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let acct = create_account(&db, "Log Shop");
    let skey = acct["test_secret_key"].as_str().unwrap().to_string();
    let pkey = acct["test_public_key"].as_str().unwrap().to_string();

    // The CLI reads the password from stdin and says nothing of it on stderr.
    let mut child = Command::new(satang_bin())
        .args(["user", "create", "--account", acct["id"].as_str().unwrap(), "--email", "owner@shop.example"])
        .args(["--role", "owner", "--password-stdin", "--database", &db])
        .env("SATANG_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let made = child.wait_with_output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let cli_said = format!("{}{}", String::from_utf8_lossy(&made.stdout), String::from_utf8_lossy(&made.stderr));
    assert!(!cli_said.contains(PASSWORD), "user create echoed the password: {cli_said}");

    let args = ["serve", "--listen", "127.0.0.1:0", "--database", db.as_str()];
    let server = Server::start_with(&args, &[("SATANG_LOG", "trace")], Stdio::from(log)).unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = |p: &str| format!("{}{}", server.url, p);
    let mut secrets: Vec<(&str, String)> =
        vec![("password", PASSWORD.into()), ("wrong password", WRONG.into()), ("secret key", skey.clone())];

    // The API with the secret key (Basic, as the Omise libraries send it), an unknown key, the public key.
    let charge: Value = http
        .post(url("/charges"))
        .basic_auth(&skey, Some(""))
        .json(&json!({"amount": 100_000, "currency": "THB", "source": {"type": "alipay"},
                      "return_uri": "https://shop.example/done"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(charge["object"], "charge", "{charge}");
    let unknown = format!("skey_test_{}", "5zq9x".repeat(4));
    let refused = http.get(url("/charges")).basic_auth(&unknown, Some("")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    secrets.push(("unknown secret key", unknown));
    let bearer = http.get(url("/account")).bearer_auth(&skey).send().await.unwrap();
    assert!(bearer.status().is_success() || bearer.status() == StatusCode::UNAUTHORIZED);
    let src = http
        .post(url("/sources"))
        .basic_auth(&pkey, Some(""))
        .form(&[("type", "alipay"), ("amount", "100000"), ("currency", "THB")])
        .send()
        .await
        .unwrap();
    assert_eq!(src.status(), StatusCode::OK);

    // Webhook secrets: an endpoint's, its roll, the account's signing secret.
    let ep: Value = http
        .post(url("/webhook_endpoints"))
        .basic_auth(&skey, Some(""))
        .json(&json!({"url": "http://127.0.0.1:9/hooks"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(("endpoint secret", ep["secret"].as_str().expect("the endpoint's secret").to_string()));
    let rolled: Value = http
        .post(url(&format!("/webhook_endpoints/{}/roll_secret", ep["id"].as_str().unwrap())))
        .basic_auth(&skey, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(("rolled endpoint secret", rolled["secret"].as_str().expect("the rolled secret").to_string()));

    // The dashboard: a wrong password, the right one, the session cookie and CSRF token, a key roll.
    let login_page = http.get(url("/dashboard/login")).send().await.unwrap();
    let login_csrf_cookie = cookie(&login_page, "satang_login_csrf").expect("login csrf cookie");
    let csrf = hidden(&login_page.text().await.unwrap(), "csrf");
    let jar = format!("satang_login_csrf={login_csrf_cookie}");
    for (pw, want) in [(WRONG, StatusCode::UNAUTHORIZED), (PASSWORD, StatusCode::SEE_OTHER)] {
        let res = http
            .post(url("/dashboard/login"))
            .header("cookie", &jar)
            .form(&[("csrf", csrf.as_str()), ("email", "owner@shop.example"), ("password", pw)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want);
        if want == StatusCode::SEE_OTHER {
            let session = cookie(&res, "satang_session").expect("session cookie");
            secrets.push(("session token", session));
        }
    }
    let session = secrets.last().unwrap().1.clone();
    let keys = http.get(url("/dashboard/keys")).header("cookie", format!("satang_session={session}")).send().await;
    let keys_page = keys.unwrap().text().await.unwrap();
    let session_csrf = hidden(&keys_page, "csrf");
    secrets.push(("session CSRF token", session_csrf.clone()));
    let roll = http
        .post(url("/dashboard/keys/roll"))
        .header("cookie", format!("satang_session={session}"))
        .form(&[("csrf", session_csrf.as_str()), ("overlap_hours", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(roll.status(), StatusCode::OK);
    let page = roll.text().await.unwrap();
    let at = page.find("skey_test_").expect("the rolled key is shown once");
    let new_key: String = page[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert_ne!(new_key, skey);
    let with_new = http.get(url("/charges")).basic_auth(&new_key, Some("")).send().await.unwrap();
    assert_eq!(with_new.status(), StatusCode::OK);
    secrets.push(("rolled secret key", new_key));

    drop(server);
    // Without the terminal colours, which could split a secret and hide it from the search.
    let logged = strip_ansi(&std::fs::read_to_string(&log_path).unwrap());
    // The log is real: a line for every request above (with its route and status) was written.
    let served = logged.lines().filter(|l| l.contains(" done http.status=")).count();
    assert!(served >= 12, "too little was logged to prove anything ({served} request lines):\n{logged}");
    assert!(logged.contains("/dashboard/login") && logged.contains("/charges"), "requests are logged");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what} is too short to search for: {secret}");
        assert!(!logged.contains(secret.as_str()), "the {what} reached the log");
        // Nor in the form a Basic header carries it.
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{secret}:"));
        assert!(!logged.contains(&basic), "the {what} reached the log base64-encoded");
    }
    // Form bodies are not logged either (the password travels URL-encoded in one).
    assert!(!logged.contains(&PASSWORD.replace(' ', "+")), "the password reached the log form-encoded");
}

//! The merchant dashboard in headless Chromium (Debian's `chromium`, driven by playwright-core from npm)
//! against a real `satang serve`, with a user made by `satang user create --password-stdin`: see
//! `tests/browser/dashboard.js`. The account holds 100k charges (`SATANG_SEED_BULK`) written by `satang
//! bench seed` into the database being served, and a second user made with a one-time password. Screenshots of every page in both languages land in
//! `artifacts/browser/dashboard/`, and in `docs/screenshots/dashboard/` (tracked, for the README) only with
//! `SATANG_UPDATE_SCREENSHOTS=1`, so a test run leaves the checkout clean.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Server, create_account, repo_root, satang_bin, skip};

const PASSWORD: &str = "a long dashboard password";

#[test]
fn dashboard_journey_in_chromium() {
    let chromium = std::env::var("SATANG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return skip("Chromium is not installed (apt-get install chromium)");
    }
    let dir = repo_root().join("crates/satang/tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() || !dir.join("node_modules/axe-core").is_dir() {
        return skip("playwright-core and axe-core are not installed (npm ci in crates/satang/tests/browser)");
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", db_dir.path().join("satang.db").display());
    let server = Server::start("127.0.0.1:0", &db, &[("SATANG_ALLOW_PRIVATE_WEBHOOKS", "true")]).unwrap();
    let acct = create_account(&db, "Browser Shop");

    // The CLI makes the user, reading the password from stdin.
    let mut child = Command::new(satang_bin())
        .args(["user", "create", "--account", acct["id"].as_str().unwrap(), "--email", "owner@shop.example"])
        .args(["--role", "owner", "--password-stdin", "--database", &db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("satang user create");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let made = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(made.status.success(), "{said}{}", String::from_utf8_lossy(&made.stderr));
    assert!(said.contains("owner@shop.example (owner)") && !said.contains(PASSWORD), "{said}");

    // A second user with a generated one-time password, as an owner hands one out.
    let made = Command::new(satang_bin())
        .args(["user", "create", "--account", acct["id"].as_str().unwrap(), "--email", "staff@shop.example"])
        .args(["--role", "viewer", "--database", &db])
        .output()
        .expect("satang user create");
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(made.status.success(), "{said}{}", String::from_utf8_lossy(&made.stderr));
    let one_time = said
        .lines()
        .find_map(|l| l.strip_prefix("one-time password (shown only now; they choose their own at first login): "))
        .unwrap_or_else(|| panic!("no one-time password in {said}"))
        .to_string();

    // The haystack: 100k charges written in bulk by `satang bench seed` into the served database.
    let bulk: u64 = std::env::var("SATANG_SEED_BULK").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let started = std::time::Instant::now();
    let seeded = Command::new(satang_bin())
        .args(["bench", "seed", "--charges", &bulk.to_string(), "--account", acct["id"].as_str().unwrap()])
        .args(["--database", &db])
        .env("SATANG_LOG", "satang=warn")
        .output()
        .expect("satang bench seed");
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    println!("seeded {bulk} charges in {:.1} s", started.elapsed().as_secs_f64());

    let shots = if std::env::var("SATANG_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        repo_root().join("docs/screenshots/dashboard")
    } else {
        repo_root().join("artifacts/browser/dashboard")
    };
    let out = Command::new("node")
        .arg("dashboard.js")
        .current_dir(&dir)
        .env("SATANG_URL", &server.url)
        .env("SATANG_SKEY", acct["test_secret_key"].as_str().unwrap())
        .env("SATANG_EMAIL", "owner@shop.example")
        .env("SATANG_PASSWORD", PASSWORD)
        .env("SATANG_SCREENSHOTS", &shots)
        .env("SATANG_CHROMIUM", &chromium)
        .env("SATANG_ONE_TIME_EMAIL", "staff@shop.example")
        .env("SATANG_ONE_TIME_PASSWORD", &one_time)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dashboard journey failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    println!("{stdout}");
    for shot in
        ["en-01-login.png", "en-03-charge.png", "en-05-webhooks.png", "th-02-charges.png", "en-07-phone-charges.png"]
    {
        let meta = std::fs::metadata(shots.join(shot)).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(meta.len() > 1000, "{shot} is not a real screenshot");
    }
}

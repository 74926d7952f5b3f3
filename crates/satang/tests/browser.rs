//! The payer pages in headless Chromium (Debian's `chromium`, driven by playwright-core from npm) against a
//! real `satang serve`: desktop QR and phone payment, phone hand-off and a failure code, the back button and
//! a double submit, Thai and English, then every page in both languages, each audited by axe-core (any
//! violation fails). Screenshots land in `artifacts/browser/`, the axe report beside them; the pictures of
//! every page that the README shows go to `artifacts/browser/pages/`, and to `docs/screenshots/` (tracked, for
//! the README) only with `SATANG_UPDATE_SCREENSHOTS=1`, so a test run leaves the checkout clean.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, create_account, repo_root, skip};

#[test]
fn payer_journeys_in_chromium() {
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
    let acct = create_account(&db, "Browser Shop");
    // Live charges need a connector; this one's endpoint answers nothing, so the live page shows that the
    // wallet cannot be reached (tests/antom_live.rs runs live journeys against the Antom simulator).
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = satang::connector::antom::sign::generate_pair().unwrap();
    std::fs::write(keys.path().join("merchant_private.pem"), private).unwrap();
    std::fs::write(keys.path().join("antom_public.pem"), public).unwrap();
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let set = Command::new(common::satang_bin())
        .args(["connector", "set", "--account", acct["id"].as_str().unwrap(), "--provider", "antom"])
        .args(["--client-id", "SANDBOX_BROWSER", "--endpoint", "http://127.0.0.1:9", "--database", &db])
        .arg("--private-key-file")
        .arg(keys.path().join("merchant_private.pem"))
        .arg("--antom-public-key-file")
        .arg(keys.path().join("antom_public.pem"))
        .env("SATANG_MASTER_KEY", master)
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let server = Server::start("127.0.0.1:0", &db, &[("SATANG_MASTER_KEY", master)]).unwrap();
    let artifacts = repo_root().join("artifacts/browser");
    let docs = if std::env::var("SATANG_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        repo_root().join("docs/screenshots")
    } else {
        artifacts.join("pages")
    };
    let out = Command::new("node")
        .arg("payer.js")
        .current_dir(&dir)
        .env("SATANG_URL", &server.url)
        .env("SATANG_SKEY", acct["test_secret_key"].as_str().unwrap())
        .env("SATANG_LIVE_SKEY", acct["live_secret_key"].as_str().unwrap())
        .env("SATANG_ARTIFACTS", &artifacts)
        .env("SATANG_SCREENSHOTS", &docs)
        .env("SATANG_CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser journeys failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    println!("{stdout}");
    for shot in [
        "01-desktop-alipayhk-qr.png",
        "02-phone-wallet-confirm.png",
        "03-desktop-back-at-shop.png",
        "08-desktop-final-after-back-button.png",
    ] {
        let meta = std::fs::metadata(artifacts.join(shot)).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(meta.len() > 1000, "{shot} is not a real screenshot");
    }
    for lang in ["en", "th"] {
        for page in [
            "01-alipay-checkout",
            "02-alipayhk-qr-on-a-computer",
            "07-alipayhk-receipt-on-the-phone",
            "12-live-payment-not-available",
        ] {
            let shot = docs.join(format!("{lang}-{page}.png"));
            let meta = std::fs::metadata(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(meta.len() > 1000, "{} is not a real screenshot", shot.display());
        }
    }
    let report = std::fs::read_to_string(artifacts.join("axe-report.json")).expect("axe report");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report.as_array().unwrap().len() >= 30, "every page audited");
}

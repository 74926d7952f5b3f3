//! The example shop (examples/shop: Python, the official omise-python, Omise.js in the page) in headless
//! Chromium against a real `satang serve`: desktop AlipayHK QR paid by a phone, phone hand-off, Alipay's
//! redirect, a failure, an expiry, signed webhooks verified by the shop, and createSource errors reaching
//! the page's callback. The journeys are in tests/browser/shop.js; screenshots in `artifacts/browser/`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, create_account, repo_root, satang_bin, skip};

#[test]
fn example_shop_in_chromium() {
    let chromium = std::env::var("SATANG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return skip("Chromium is not installed (apt-get install chromium)");
    }
    let dir = repo_root().join("crates/satang/tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        return skip("playwright-core is not installed (npm ci in crates/satang/tests/browser)");
    }
    let python =
        std::env::var("SATANG_PYTHON").map(Into::into).unwrap_or_else(|_| repo_root().join(".venv/bin/python"));
    if !python.exists() {
        return skip("omise-python is not installed in .venv");
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", db_dir.path().join("satang.db").display());
    let server = Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let acct = create_account(&db, "Example Shop");
    // shop.js picks the shop's port, adds its webhook endpoint with `satang webhook add`, and starts it.
    let out = Command::new("node")
        .arg("shop.js")
        .current_dir(&dir)
        .env("SATANG_URL", &server.url)
        .env("SATANG_SKEY", acct["test_secret_key"].as_str().unwrap())
        .env("SHOP_PKEY", acct["test_public_key"].as_str().unwrap())
        .env("SHOP_ACCOUNT", acct["id"].as_str().unwrap())
        .env("SHOP_DATABASE", &db)
        .env("SATANG_BIN", satang_bin())
        .env("SHOP_PYTHON", &python)
        .env("SHOP_DIR", repo_root().join("examples/shop"))
        .env("SATANG_ARTIFACTS", repo_root().join("artifacts/browser"))
        .env("SATANG_CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "shop journeys failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    println!("{stdout}");
    assert!(stdout.contains("shop journeys ok"));
}

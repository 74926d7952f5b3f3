//! The official Omise clients (omise-python from PyPI, omise-node from npm), unchanged, against a real
//! `satang serve`. `scripts/test` installs them; without them these tests skip with a printed reason
//! (and fail under `SATANG_REQUIRE_ALL=1`, as in CI).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, create_account, repo_root, skip};

fn python() -> Option<PathBuf> {
    let py =
        std::env::var_os("SATANG_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let ok = Command::new(&py).args(["-c", "import omise"]).output().map(|o| o.status.success()).unwrap_or(false);
    ok.then_some(py)
}

fn node_dir() -> Option<PathBuf> {
    let dir = repo_root().join("crates/satang/tests/clients/node");
    let node_ok = Command::new("node").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    (node_ok && dir.join("node_modules/omise").is_dir()).then_some(dir)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client flow failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    println!("{stdout}");
}

/// Starts satang on a fresh database with a fresh account.
fn serve(listen: &str) -> Result<(tempfile::TempDir, Server, serde_json::Value), String> {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("satang.db").display());
    let server = Server::start(listen, &db, &[])?;
    let acct = create_account(&db, "Client Shop");
    Ok((dir, server, acct))
}

pub fn client_script(name: &str) -> PathBuf {
    repo_root().join("crates/satang/tests/clients").join(name)
}

fn python_script(script: &str) {
    let Some(py) = python() else { return skip("omise-python is not installed in .venv") };
    let (_dir, server, acct) = serve("127.0.0.1:0").unwrap();
    run(Command::new(py)
        .arg(client_script(script))
        .env("SATANG_URL", &server.url)
        .env("SATANG_SKEY", acct["test_secret_key"].as_str().unwrap())
        .env("SATANG_PKEY", acct["test_public_key"].as_str().unwrap()));
}

#[test]
fn omise_python_runs_the_seed_flow_unchanged() {
    python_script("python/flow.py");
}

#[test]
fn omise_python_refunds_partially_then_the_remainder() {
    python_script("python/refunds.py");
}

/// omise-node cannot use a port other than 80 (omise-wire.md §1.2), so satang listens on port 80 of a
/// loopback address of its own (all of 127.0.0.0/8 is loopback on Linux). Binding port 80 needs root.
fn node_listen(seed: u8) -> String {
    let n = 2 + (std::process::id() as u8).wrapping_mul(7).wrapping_add(seed) % 250;
    format!("127.0.0.{n}:80")
}

fn node_script(script: &str, seed: u8) {
    let Some(dir) = node_dir() else { return skip("omise-node is not installed (npm ci in tests/clients/node)") };
    // Another test process may hold this address's port 80: try a few.
    let mut last_err = String::new();
    let mut started = None;
    for attempt in 0..8u8 {
        match serve(&node_listen(seed.wrapping_add(attempt.wrapping_mul(31)))) {
            Ok(s) => {
                started = Some(s);
                break;
            }
            Err(e) => last_err = e,
        }
    }
    let Some((_db, server, acct)) = started else {
        return skip(&format!("cannot listen on port 80 for omise-node: {last_err}"));
    };
    run(Command::new("node")
        .arg(script)
        .current_dir(dir)
        .env("SATANG_HOST", server.addr.trim_end_matches(":80"))
        .env("SATANG_SKEY", acct["test_secret_key"].as_str().unwrap())
        .env("SATANG_PKEY", acct["test_public_key"].as_str().unwrap()));
}

#[test]
fn omise_node_runs_the_seed_flow_unchanged() {
    node_script("flow.js", 1);
}

#[test]
fn omise_node_refunds_partially_then_the_remainder() {
    node_script("refunds.js", 2);
}

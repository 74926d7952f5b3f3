//! Helpers for tests that run the real `satang` binary as a separate process.
#![allow(dead_code)]

pub mod antom;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn satang_bin() -> &'static str {
    env!("CARGO_BIN_EXE_satang")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Whether the suite must not skip anything (set by `scripts/test` and CI).
pub fn required() -> bool {
    std::env::var("SATANG_REQUIRE_ALL").map(|v| v == "1").unwrap_or(false)
}

/// Skips a test with a printed reason, or fails it when the run requires everything.
pub fn skip(reason: &str) {
    if required() {
        panic!("required but unavailable: {reason}");
    }
    eprintln!("SKIPPED: {reason} (run scripts/test, or set SATANG_REQUIRE_ALL=1 to make this a failure)");
}

/// A `satang serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://ADDR` the server printed.
    pub url: String,
    pub addr: String,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// Starts `satang serve --listen <listen> --database <db_url>` and waits for its "listening" line.
    pub fn start(listen: &str, db_url: &str, extra_env: &[(&str, &str)]) -> Result<Server, String> {
        Self::start_with(&["serve", "--listen", listen, "--database", db_url], extra_env, Stdio::inherit())
    }

    /// Starts `satang <args>` (a `serve`) with these variables and stderr, and waits for "listening".
    pub fn start_with(args: &[&str], extra_env: &[(&str, &str)], stderr: Stdio) -> Result<Server, String> {
        let mut cmd = Command::new(satang_bin());
        cmd.args(args).env("SATANG_LOG", "satang=warn").stdout(Stdio::piped()).stderr(stderr);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawn satang: {e}"))?;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let found = line
                        .strip_prefix("satang listening on ")
                        .map(|rest| rest.split(' ').next().unwrap_or("").to_string());
                    lines.push(line);
                    if let Some(url) = found {
                        let addr = url.trim_start_matches("http://").to_string();
                        // Keep draining stdout so the child never blocks on a full pipe.
                        std::thread::spawn(move || while rx.recv().is_ok() {});
                        return Ok(Server { child, url, addr, stdout_lines: lines });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    return Err(format!("satang did not start (exit {status:?}); stdout: {lines:?}"));
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `satang account create --json` and returns its keys.
pub fn create_account(db_url: &str, name: &str) -> serde_json::Value {
    let out = Command::new(satang_bin())
        .args(["account", "create", "--name", name, "--database", db_url, "--json"])
        .env("SATANG_LOG", "satang=warn")
        .output()
        .expect("run satang account create");
    assert!(out.status.success(), "account create failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(stdout.trim().lines().count(), 1, "exactly one JSON line: {stdout}");
    serde_json::from_str(stdout.trim()).expect("account JSON")
}

/// A fresh PostgreSQL database for one test, dropped when this is dropped.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

/// The admin URL of the PostgreSQL server tests may create databases on.
pub fn pg_admin_url() -> String {
    std::env::var("SATANG_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl PgDb {
    /// Creates `satang_test_<random>`; `Err` says why PostgreSQL is not usable.
    pub async fn create() -> Result<PgDb, String> {
        let admin = pg_admin_url();
        let (client, conn) =
            tokio::time::timeout(Duration::from_secs(5), tokio_postgres::connect(&admin, tokio_postgres::NoTls))
                .await
                .map_err(|_| format!("PostgreSQL at {admin} did not answer"))?
                .map_err(|e| format!("PostgreSQL at {admin} is not reachable: {e}"))?;
        tokio::spawn(conn);
        let name = format!("satang_test_{}", satang_domain::id::random_base36(12));
        client.batch_execute(&format!("create database {name}")).await.map_err(|e| format!("create database: {e}"))?;
        let url = match admin.rfind('/') {
            Some(i) if admin[..i].contains("://") && i > admin.find("://").unwrap() + 2 => {
                format!("{}/{name}", &admin[..i])
            }
            _ => format!("{admin}/{name}"),
        };
        Ok(PgDb { url, admin, name })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside any async context we can borrow: use a small runtime of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("drop database if exists {name} with (force)")).await;
                }
            });
        })
        .join();
    }
}

/// A PostgreSQL database for this test, or `None` after printing why it is skipped (a failure when the run
/// requires everything).
pub async fn pg_or_skip() -> Option<PgDb> {
    match PgDb::create().await {
        Ok(db) => Some(db),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

/// Event IDs a webhook receiver got, with how many times each arrived.
pub type Seen = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// A webhook receiver on a loopback port that counts deliveries per event ID; returns its URL.
pub async fn counting_receiver() -> (String, Seen) {
    let seen: Seen = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(id) = v["id"].as_str()
            {
                *s.lock().unwrap().entry(id.to_string()).or_insert(0) += 1;
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

/// Every item of a list endpoint (`data`, `total`), page by page, with the secret key `key`.
pub async fn all(client: &reqwest::Client, base: &str, path: &str, key: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page: serde_json::Value = client
            .get(format!("{base}{path}{sep}limit=100&offset={}", items.len()))
            .basic_auth(key, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap().clone();
        let done = data.is_empty() || items.len() + data.len() >= page["total"].as_u64().unwrap() as usize;
        items.extend(data);
        if done {
            return items;
        }
    }
}

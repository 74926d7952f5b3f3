//! A short run of `satang bench`, as CI's smoke test: it must complete with zero errors. The figures are
//! never asserted (they depend on the machine); see BENCHMARKS.md for real runs.

mod common;

use std::process::Command;

/// Runs `satang <args>` (quiet logs), asserts it succeeded, and returns what it printed on stdout.
fn satang(args: &[&str]) -> Vec<u8> {
    let out = Command::new(common::satang_bin())
        .args(args)
        .env("SATANG_LOG", "satang=warn")
        .output()
        .unwrap_or_else(|e| panic!("run satang {args:?}: {e}"));
    assert!(out.status.success(), "satang {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn run_bench(extra: &[&str]) -> serde_json::Value {
    let args = [&["bench", "--scenario", "quick", "--duration", "1", "--connections", "4", "--json"], extra].concat();
    serde_json::from_slice(&satang(&args)).expect("bench JSON")
}

/// What every row of a bench report must show: no errors, some requests, and the measured server's memory
/// read from /proc (a satang serving pages holds megabytes; with `--target` that is `--server-pid`'s).
fn assert_rows_clean(rows: &[serde_json::Value]) {
    for r in rows {
        assert_eq!(r["errors"], 0, "{}: {r}", r["scenario"]);
        assert!(r["requests"].as_u64().unwrap() > 0, "{} made no requests", r["scenario"]);
        assert!(r["server_rss_mb"].as_f64().unwrap() > 1.0, "no RSS read for the server's pid: {r}");
    }
}

fn assert_clean(report: &serde_json::Value) {
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    for expected in
        ["baseline-insert (a)", "healthz (b)", "create-charge", "retrieve-charge", "deliver (commit→delivery)"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert_rows_clean(rows);
}

#[test]
fn the_bench_completes_without_errors_on_sqlite() {
    assert_clean(&run_bench(&[]));
}

#[tokio::test]
async fn the_bench_completes_without_errors_on_postgres() {
    // The bench makes (and drops) its own databases on the server; only check one is reachable.
    let Some(_probe) = common::pg_or_skip().await else { return };
    let admin = common::pg_admin_url();
    let report = tokio::task::spawn_blocking(move || run_bench(&["--database", &admin])).await.unwrap();
    assert_clean(&report);
}

/// The dashboard scenario at a tiny level: it seeds, logs in through the form and pages with the session,
/// and every page is a 200.
fn run_dashboard(extra: &[&str]) {
    let dashboard = ["bench", "--scenario", "dashboard", "--charges", "300", "--duration", "0.5", "--connections", "2"];
    let args = [&dashboard[..], &["--json"], extra].concat();
    let report: serde_json::Value = serde_json::from_slice(&satang(&args)).expect("bench JSON");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 14, "seven pages, flat out and at 200/s: {report}");
    assert_rows_clean(rows);
}

#[test]
fn the_dashboard_bench_completes_without_errors_on_sqlite() {
    run_dashboard(&[]);
}

#[tokio::test]
async fn the_dashboard_bench_completes_without_errors_on_postgres() {
    let Some(_probe) = common::pg_or_skip().await else { return };
    let admin = common::pg_admin_url();
    tokio::task::spawn_blocking(move || run_dashboard(&["--database", &admin])).await.unwrap();
}

/// The external-generator scenario (wrk, installed by scripts/test): three short rounds per pair, every
/// answer a 200.
#[test]
fn the_external_bench_completes_without_errors() {
    if Command::new("wrk").arg("--version").output().is_err() {
        return common::skip("wrk is not installed (scripts/test installs it)");
    }
    let external = satang(&["bench", "--scenario", "external", "--duration", "1", "--connections", "4", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&external).expect("bench JSON");
    assert_eq!(report["errors"], 0, "{report}");
    let pairs = report["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3, "create, retrieve and list: {report}");
    for p in pairs {
        assert_eq!(p["ratios"].as_array().unwrap().len(), 3, "three rounds: {p}");
        assert!(p["subject"].as_array().unwrap().iter().all(|r| r["requests_per_s"].as_f64().unwrap() > 0.0), "{p}");
    }
}

/// `--target` with `--scenario list-charges`: the lists of a running satang's account as stored (here one
/// seeded by `satang bench seed`), the newest page and the page at half its total, flat out and at 200/s.
#[test]
fn the_target_mode_measures_a_running_satangs_lists() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("seeded.db").display());
    let stdout = String::from_utf8(satang(&["bench", "seed", "--charges", "300", "--database", &db])).unwrap();
    let keys: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).expect("the account's keys");
    let server = common::Server::start("127.0.0.1:0", &db, &[]).unwrap();
    let key = keys["test_secret_key"].as_str().unwrap();
    let pid = server.child.id().to_string();
    let target = satang(&[
        "bench",
        "--target",
        &server.url,
        "--secret-key",
        key,
        "--server-pid",
        &pid,
        "--scenario",
        "list-charges",
        "--duration",
        "0.5",
        "--connections",
        "2",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&target).expect("bench JSON");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 4, "two pages, flat out and at 200/s: {report}");
    for r in rows {
        assert_eq!(r["stored"], 300, "the account's total: {r}");
    }
    assert_rows_clean(rows);
}

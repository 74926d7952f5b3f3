//! A short run of `satang bench`, as CI's smoke test: it must complete with zero errors. The figures are
//! never asserted (they depend on the machine); see BENCHMARKS.md for real runs.

mod common;

use std::process::Command;

fn run_bench(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(common::satang_bin())
        .args(["bench", "--scenario", "quick", "--duration", "1", "--connections", "4", "--json"])
        .args(extra)
        .env("SATANG_LOG", "satang=warn")
        .output()
        .expect("run satang bench");
    assert!(out.status.success(), "bench failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("bench JSON")
}

fn assert_clean(report: &serde_json::Value) {
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    for expected in
        ["baseline-insert (a)", "healthz (b)", "create-charge", "retrieve-charge", "deliver (commit→delivery)"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for r in rows {
        assert_eq!(r["errors"], 0, "{}: {r}", r["scenario"]);
        assert!(r["requests"].as_u64().unwrap() > 0, "{} made no requests", r["scenario"]);
    }
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

//! `satang bench`: throughput, latency, memory and growth of a real `satang serve`, each figure beside a
//! baseline measured in the same run on the same machine.
//!
//! The server under test and the baseline server are separate processes (this binary, started with `serve`
//! and `bench baseline-server`); the load comes from this process over loopback HTTP/1.1 keep-alive
//! connections ([`load`]). Baselines: (a) `baseline-insert`, the fastest honest durable insert of the same
//! charge document over the same HTTP stack ([`baseline`]), for write paths; (b) satang's own
//! `GET /healthz`, for read paths. Timings are noisy on shared machines; compare ratios, not absolutes.
//!
//! Scenarios: `create-charge` (inline Alipay source, form body, Basic auth), `retrieve-charge` (random
//! existing IDs), `list-charges` (newest page and a page deep in the list), `complete-and-deliver`
//! (`mark_as_paid` at a fixed rate while a local receiver takes the webhooks; commit→delivery latency),
//! `growth` (create and retrieve at each stored size, seeded in bulk by `satang bench seed`), and
//! `dashboard` ([`dashboard`]: the dashboard's charge list, its filters and search through a logged-in
//! session at `--charges` stored charges, 1M by default). Server RSS is sampled throughout.

pub mod baseline;
pub mod dashboard;
pub mod external;
pub mod load;
pub mod seed;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Args, Subcommand};
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::store::Scope;
use load::{MakeRequest, Outcome, Pace};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,

    /// Database of the server under test: `sqlite:PATH`, or a PostgreSQL server URL on which the bench
    /// creates (and afterwards drops) fresh databases for satang and for the baseline. Default: fresh
    /// SQLite files in a temporary directory. For `dashboard`, the URL of a PostgreSQL database that
    /// already holds satang's tables is used as it is (and kept), like a `sqlite:PATH`.
    #[arg(long)]
    pub database: Option<String>,

    /// `quick` (create, retrieve, list, complete-and-deliver on what is stored), `all` (the same at each
    /// `--growth` size, plus memory), `external` (the main ratios with wrk as the load generator, in
    /// alternating rounds), or one of create-charge, retrieve-charge, list-charges, complete-and-deliver,
    /// growth, dashboard.
    #[arg(long, default_value = "quick")]
    pub scenario: String,

    /// Concurrent connections for closed-loop runs.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,

    /// Seconds per run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Requests per second for `complete-and-deliver` (default: half the measured create-charge rate).
    #[arg(long)]
    pub rate: Option<f64>,

    /// Alternating rounds per pair for `external` (at least 3).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,

    /// Stored charges at which `growth` and `all` measure, comma-separated.
    #[arg(long, default_value = "10000,100000,1000000")]
    pub growth: String,

    /// Stored charges for `dashboard` (default 1000000): the database's busiest test-mode account is seeded
    /// up to this many (a new account if there is none).
    #[arg(long)]
    pub charges: Option<u64>,

    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Benchmark a satang that is already running here instead of starting one (needs --secret-key):
    /// create and retrieve, or with `--scenario list-charges` the lists of the key's account as stored.
    #[arg(long, requires = "secret_key")]
    pub target: Option<String>,

    /// The test secret key for --target.
    #[arg(long)]
    pub secret_key: Option<String>,

    /// With --target: the running satang's process ID on this machine, so that every row shows its CPU per
    /// request and peak RSS (read from /proc, as for the satang the bench starts itself).
    #[arg(long, requires = "target")]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Fill a database with charges through the store (not the HTTP API), fast.
    Seed {
        /// How many charges to add.
        #[arg(long)]
        charges: u64,
        #[command(flatten)]
        database: crate::config::DatabaseArgs,
        /// The account to add them to (default: a new one, whose keys are printed).
        #[arg(long)]
        account: Option<String>,
    },
    /// The baseline server (started by the bench itself).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 16)]
        pool_size: usize,
    },
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub stored: u64,
    pub load: String,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub requests: u64,
    pub errors: u64,
    pub server_rss_mb: f64,
    /// Server CPU time (user + system) per request, in microseconds.
    pub server_cpu_us: f64,
    pub baseline: Option<String>,
    pub ratio: Option<f64>,
    pub note: String,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A server process started by the bench, stopped when dropped.
struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Proc {
    fn start(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(args).env("SATANG_LOG", "satang=warn").stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line =
                rx.recv_timeout(Duration::from_secs(120)).map_err(|_| anyhow::anyhow!("server did not start"))?;
            if let Some(rest) = line.strip_prefix("satang listening on http://") {
                let addr = rest.split(' ').next().unwrap_or("").parse()?;
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return Ok(Proc { child, addr });
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident set size of a process, from /proc (0 where that is not available).
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU time (user + system) a process has used so far, in seconds, from /proc.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak RSS of `pid` while `fut` runs, sampled every 100 ms.
async fn with_rss<T>(pid: Option<u32>, fut: impl std::future::Future<Output = T>) -> (T, f64) {
    let peak = Arc::new(Mutex::new(0.0f64));
    let sampler = pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let r = rss_mb(pid);
                {
                    let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                    *p = p.max(r);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let cpu_before = pid.map(cpu_seconds).unwrap_or(0.0);
    let out = fut.await;
    if let Some(s) = sampler {
        s.abort();
    }
    let cpu = pid.map(cpu_seconds).unwrap_or(0.0) - cpu_before;
    LAST_CPU.with(|c| c.set(cpu));
    let p = *peak.lock().unwrap_or_else(|e| e.into_inner());
    (out, p)
}

thread_local! {
    /// Server CPU seconds used by the last [`with_rss`] run (read right after it, on the same thread).
    static LAST_CPU: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Where the server under test and the baseline keep their data.
struct Databases {
    satang: String,
    baseline: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<String>,
}

impl Databases {
    async fn prepare(arg: Option<&str>) -> anyhow::Result<Databases> {
        match arg {
            None => {
                let dir = tempfile::tempdir()?;
                Ok(Databases {
                    satang: format!("sqlite:{}", dir.path().join("satang.db").display()),
                    baseline: format!("sqlite:{}", dir.path().join("baseline.db").display()),
                    _dir: Some(dir),
                    pg_admin: None,
                })
            }
            Some(url) if url.starts_with("sqlite:") => Ok(Databases {
                satang: url.to_string(),
                baseline: format!("{url}.baseline"),
                _dir: None,
                pg_admin: None,
            }),
            Some(admin) => {
                let tag = satang_domain::id::random_base36(8);
                let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_else(|| admin.to_string());
                let (s, b) = (format!("satang_bench_{tag}"), format!("satang_bench_base_{tag}"));
                // One statement each: several in one call would run as a transaction, where CREATE DATABASE
                // is not allowed.
                client.batch_execute(&format!("create database {s}")).await?;
                client.batch_execute(&format!("create database {b}")).await?;
                Ok(Databases {
                    satang: format!("{base}/{s}"),
                    baseline: format!("{base}/{b}"),
                    _dir: None,
                    pg_admin: Some(admin.to_string()),
                })
            }
        }
    }

    /// A PostgreSQL database that already holds satang's tables (one seeded before): the dashboard scenario
    /// measures it as it is, and keeps it.
    async fn is_satang_postgres(url: &str) -> bool {
        if url.starts_with("sqlite:") {
            return false;
        }
        let Ok((client, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else { return false };
        tokio::spawn(conn);
        client.query_one("select to_regclass('schema_migrations') is not null", &[]).await.is_ok_and(|r| r.get(0))
    }

    fn existing(url: &str) -> Databases {
        Databases { satang: url.to_string(), baseline: url.to_string(), _dir: None, pg_admin: None }
    }

    async fn cleanup(&self) {
        if let Some(admin) = &self.pg_admin
            && let Ok((client, conn)) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            for url in [&self.satang, &self.baseline] {
                if let Some((_, name)) = url.rsplit_once('/') {
                    let _ = client.batch_execute(&format!("drop database if exists {name} with (force)")).await;
                }
            }
        }
    }
}

/// Up to `n` random charge IDs straight from the database (pending ones only if asked).
async fn sample_ids(url: &str, n: usize, pending_only: bool) -> anyhow::Result<Vec<String>> {
    let filter = if pending_only { "where status = 'pending'" } else { "" };
    let sql = format!("select id from charges {filter} order by random() limit {n}");
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path)?;
        let mut st = conn.prepare(&sql)?;
        let ids = st.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    } else {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client.query(&sql, &[]).await?.iter().map(|r| r.get(0)).collect())
    }
}

async fn stored_count(url: &str) -> anyhow::Result<u64> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path)?;
        Ok(conn.query_row("select count(*) from charges", [], |r| r.get::<_, i64>(0))? as u64)
    } else {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client.query_one("select count(*) from charges", &[]).await?.get::<_, i64>(0) as u64)
    }
}

/// The steady rate at which lists are also measured, below saturation.
const LIGHT_LIST_RATE: f64 = 200.0;

const CREATE_FORM: &str = "amount=100000&currency=THB&return_uri=https%3A%2F%2Fshop.example%2Forders%2F1%2Fcomplete&source%5Btype%5D=alipay&description=bench";

/// What a measurement was: its name, the data it ran on, how it was loaded, and what it compares with.
struct What<'a> {
    scenario: &'a str,
    stored: u64,
    load: String,
    baseline: Option<(&'a str, f64)>,
    note: String,
}

struct Bench {
    args: BenchArgs,
    rows: Vec<Row>,
    auth: String,
    scope: Option<Scope>,
}

impl Bench {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.args.duration.max(0.2))
    }

    fn push(&mut self, what: What<'_>, o: &Outcome, rss: f64) {
        let flat_out = what.load.starts_with("closed");
        let row = Row {
            scenario: what.scenario.to_string(),
            stored: what.stored,
            load: what.load,
            requests_per_s: o.rate(),
            p50_ms: ms(o.percentile(50.0)),
            p99_ms: ms(o.percentile(99.0)),
            p999_ms: ms(o.percentile(99.9)),
            requests: o.requests(),
            errors: o.errors,
            server_rss_mb: rss,
            server_cpu_us: LAST_CPU.with(|c| c.replace(0.0)) * 1e6 / (o.requests().max(1) as f64),
            baseline: what.baseline.map(|(n, _)| n.to_string()),
            // A ratio of throughputs only means something when both ran flat out.
            ratio: what.baseline.filter(|_| flat_out).map(|(_, r)| if r > 0.0 { o.rate() / r } else { 0.0 }),
            note: what.note,
        };
        if !self.args.json {
            eprintln!(
                "  {:<28} {:>9} {:>10.0}/s p99 {:>7.2} ms  errors {}  server CPU {:.0} µs/req",
                row.scenario, row.stored, row.requests_per_s, row.p99_ms, row.errors, row.server_cpu_us
            );
        }
        self.rows.push(row);
    }

    async fn closed(&self, addr: SocketAddr, make: MakeRequest) -> Outcome {
        load::run(addr, self.args.connections, self.duration(), Pace::Closed, make, false, None).await
    }
}

fn basic(key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

/// Runs `satang bench` or one of its subcommands.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BenchCommand::BaselineServer { listen, database, pool_size }) => {
            baseline::serve(listen, &database, pool_size).await
        }
        Some(BenchCommand::Seed { charges, database, account }) => {
            let store = database.open().await?;
            let scope = match account {
                Some(a) => {
                    Scope { account: a.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))?, livemode: false }
                }
                None => {
                    let (rec, shown) = crate::accounts::new_account(
                        "Bench Shop",
                        satang_domain::Clock::now(&satang_domain::SystemClock),
                    );
                    store.create_account(rec).await?;
                    println!("{}", serde_json::to_string(&shown)?);
                    Scope { account: shown.id.parse()?, livemode: false }
                }
            };
            let secs = seed::seed(store, scope, charges, 512, seed::Mix::Shop).await?;
            eprintln!("seeded {charges} charges in {secs:.1} s ({:.0}/s)", charges as f64 / secs.max(1e-9));
            Ok(())
        }
        None => bench(args).await,
    }
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let json = args.json;
    let scenario = args.scenario.clone();
    let known = [
        "quick",
        "all",
        "external",
        "create-charge",
        "retrieve-charge",
        "list-charges",
        "complete-and-deliver",
        "growth",
        "dashboard",
    ];
    if !known.contains(&scenario.as_str()) {
        anyhow::bail!("unknown scenario {scenario} (one of {})", known.join(", "));
    }
    let mut b = Bench { args, rows: Vec::new(), auth: String::new(), scope: None };
    if let Some(target) = b.args.target.clone() {
        if scenario == "dashboard" {
            anyhow::bail!("the dashboard scenario seeds its own database; it cannot run with --target");
        }
        return bench_target(b, &target).await;
    }
    let dbs = match b.args.database.as_deref() {
        Some(url) if scenario == "dashboard" && Databases::is_satang_postgres(url).await => Databases::existing(url),
        other => Databases::prepare(other).await?,
    };
    if scenario == "external" {
        let secs = b.args.duration.max(1.0).round() as u64;
        let result = external::run(&dbs.satang, &dbs.baseline, b.args.connections, secs, b.args.rounds, json).await;
        dbs.cleanup().await;
        return result;
    }
    let result = if scenario == "dashboard" {
        dashboard::run(&mut b, &dbs).await
    } else {
        bench_local(&mut b, &dbs, &scenario).await
    };
    dbs.cleanup().await;
    result?;
    report(&b, json)
}

fn report(b: &Bench, json: bool) -> anyhow::Result<()> {
    let machine = format!(
        "{} cores, {} ({})",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"machine": machine, "rows": b.rows}))?);
        return Ok(());
    }
    println!("\nsatang bench ({machine}; {} connections, {:.0} s per run)\n", b.args.connections, b.args.duration);
    println!(
        "| {:<30} | {:>9} | {:<16} | {:>10} | {:>8} | {:>8} | {:>8} | {:>6} | {:>7} | {:>9} | {:<16} | {:>6} |",
        "scenario",
        "stored",
        "load",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "RSS MB",
        "CPU µs/req",
        "baseline",
        "ratio"
    );
    println!("|{}|", ["-"; 12].iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in &b.rows {
        println!(
            "| {:<30} | {:>9} | {:<16} | {:>10.0} | {:>8.2} | {:>8.2} | {:>8.2} | {:>6} | {:>7.1} | {:>9.0} | {:<16} | {:>6} |",
            r.scenario,
            r.stored,
            r.load,
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.server_rss_mb,
            r.server_cpu_us,
            r.baseline.clone().unwrap_or_default(),
            r.ratio.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_default()
        );
        if !r.note.is_empty() {
            println!("|   {:<28} | {} |", "", r.note);
        }
    }
    Ok(())
}

/// Benchmarks a satang someone else started: create, retrieve, list (no baselines: there is no baseline
/// server to compare with).
async fn bench_target(mut b: Bench, target: &str) -> anyhow::Result<()> {
    let addr: SocketAddr = target.trim_start_matches("http://").trim_end_matches('/').parse()?;
    b.auth = basic(b.args.secret_key.as_deref().unwrap_or(""));
    let pid = b.args.server_pid;
    if let Some(pid) = pid
        && !std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
    {
        anyhow::bail!("--server-pid {pid}: no such process on this machine (its CPU is read from /proc)");
    }
    let host = addr.to_string();
    if b.args.scenario == "list-charges" {
        // The lists of the key's account as they are (say one seeded with `satang bench seed`): its total
        // from one page.
        let (auth, h) = (b.auth.clone(), host.clone());
        let make: MakeRequest = Arc::new(move |_, _| load::request("GET", "/charges?limit=1", &h, Some(&auth), None));
        let o = load::run(addr, 1, b.duration(), Pace::Closed, make, true, Some(1)).await;
        let total = o
            .bodies
            .first()
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok()?["total"].as_u64())
            .ok_or_else(|| anyhow::anyhow!("GET /charges at {target} did not answer with a list"))?;
        list_runs(&mut b, addr, pid, total).await;
        let json = b.args.json;
        return report(&b, json);
    }
    let (auth, h) = (b.auth.clone(), host.clone());
    let make: MakeRequest = Arc::new(move |_, _| load::request("POST", "/charges", &h, Some(&auth), Some(CREATE_FORM)));
    let run = load::run(addr, b.args.connections, b.duration(), Pace::Closed, make, true, None);
    let (o, rss) = with_rss(pid, run).await;
    let ids: Vec<String> = o
        .bodies
        .iter()
        .filter_map(|body| serde_json::from_slice::<serde_json::Value>(body).ok()?["id"].as_str().map(String::from))
        .collect();
    b.push(
        What {
            scenario: "create-charge",
            stored: 0,
            load: format!("closed {}", b.args.connections),
            baseline: None,
            note: String::new(),
        },
        &o,
        rss,
    );
    if !ids.is_empty() {
        let (o, rss) = with_rss(pid, retrieve(&b, addr, &ids)).await;
        b.push(
            What {
                scenario: "retrieve-charge",
                stored: ids.len() as u64,
                load: format!("closed {}", b.args.connections),
                baseline: None,
                note: String::new(),
            },
            &o,
            rss,
        );
    }
    let json = b.args.json;
    report(&b, json)
}

async fn retrieve(b: &Bench, addr: SocketAddr, ids: &[String]) -> Outcome {
    let ids = Arc::new(ids.to_vec());
    let (auth, host) = (b.auth.clone(), addr.to_string());
    let rngs: Arc<Vec<Mutex<rand::rngs::StdRng>>> =
        Arc::new((0..b.args.connections).map(|k| Mutex::new(rand::rngs::StdRng::seed_from_u64(k as u64))).collect());
    let make: MakeRequest = Arc::new(move |k, _| {
        let i = rngs[k].lock().map(|mut r| r.random_range(0..ids.len())).unwrap_or(0);
        load::request("GET", &format!("/charges/{}", ids[i]), &host, Some(&auth), None)
    });
    b.closed(addr, make).await
}

async fn bench_local(b: &mut Bench, dbs: &Databases, scenario: &str) -> anyhow::Result<()> {
    // The merchant: an account on the server's database, made before the server starts.
    let store = crate::store::open(&dbs.satang).await?;
    let (rec, shown) =
        crate::accounts::new_account("Bench Shop", satang_domain::Clock::now(&satang_domain::SystemClock));
    store.create_account(rec).await?;
    b.auth = basic(&shown.test_secret_key);
    b.scope = Some(Scope { account: shown.id.parse()?, livemode: false });
    let scope = b.scope.clone().ok_or_else(|| anyhow::anyhow!("no scope"))?;
    let growth: Vec<u64> = b.args.growth.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let levels: Vec<u64> = match scenario {
        "all" | "growth" => growth,
        _ => vec![0],
    };
    let conns = b.args.connections;
    let closed_desc = format!("closed {conns}");

    // Baseline (a): durable inserts of the same document through the same HTTP stack.
    let wants_create = matches!(scenario, "quick" | "all" | "create-charge" | "growth");
    let mut baseline_rate = 0.0;
    if wants_create {
        let base =
            Proc::start(&["bench", "baseline-server", "--listen", "127.0.0.1:0", "--database", &dbs.baseline], &[])?;
        let (auth, host) = (b.auth.clone(), base.addr.to_string());
        let make: MakeRequest =
            Arc::new(move |_, _| load::request("POST", "/charges", &host, Some(&auth), Some(CREATE_FORM)));
        let (o, rss) = with_rss(Some(base.child.id()), b.closed(base.addr, make)).await;
        baseline_rate = o.rate();
        b.push(
            What {
                scenario: "baseline-insert (a)",
                stored: 0,
                load: closed_desc.clone(),
                baseline: None,
                note: "bare durable insert of the charge document".into(),
            },
            &o,
            rss,
        );
    }
    drop(store);

    let mut healthz_rate = 0.0;
    let mut create_rate = 0.0;
    let mut first_level = true;
    for level in levels {
        let stored_now = stored_count(&dbs.satang).await?;
        if level > stored_now {
            eprintln!("seeding to {level} charges…");
            let store = crate::store::open(&dbs.satang).await?;
            let secs = seed::seed(store, scope.clone(), level - stored_now, 512, seed::Mix::Shop).await?;
            eprintln!("  {} charges in {secs:.1} s", level - stored_now);
        }
        let server = Proc::start(
            &["serve", "--listen", "127.0.0.1:0", "--database", &dbs.satang, "--sweep-interval", "3600"],
            &[],
        )?;
        let pid = Some(server.child.id());
        let addr = server.addr;
        let host = addr.to_string();
        let stored = stored_count(&dbs.satang).await?;

        if first_level {
            let h = host.clone();
            let make: MakeRequest = Arc::new(move |_, _| load::request("GET", "/healthz", &h, None, None));
            let (o, rss) = with_rss(pid, b.closed(addr, make)).await;
            healthz_rate = o.rate();
            b.push(
                What {
                    scenario: "healthz (b)",
                    stored,
                    load: closed_desc.clone(),
                    baseline: None,
                    note: "satang's cheapest route".into(),
                },
                &o,
                rss,
            );
        }
        if wants_create
            || scenario == "retrieve-charge"
            || scenario == "list-charges"
            || scenario == "complete-and-deliver"
        {
            let (auth, h) = (b.auth.clone(), host.clone());
            let make: MakeRequest =
                Arc::new(move |_, _| load::request("POST", "/charges", &h, Some(&auth), Some(CREATE_FORM)));
            // At a growth level, a bounded number of creates, so the run does not itself grow the table
            // past the next level.
            let cap = matches!(scenario, "all" | "growth").then(|| (level / 5).clamp(10_000, 50_000));
            let run = load::run(addr, b.args.connections, b.duration(), Pace::Closed, make, false, cap);
            let (o, rss) = with_rss(pid, run).await;
            if first_level {
                create_rate = o.rate();
            }
            let note = if first_level {
                String::new()
            } else {
                format!("{:.0}% of the first level", 100.0 * o.rate() / create_rate.max(1e-9))
            };
            b.push(
                What {
                    scenario: "create-charge",
                    stored,
                    load: closed_desc.clone(),
                    baseline: Some(("baseline-insert", baseline_rate)),
                    note,
                },
                &o,
                rss,
            );
        }
        if matches!(scenario, "quick" | "all" | "retrieve-charge" | "growth") {
            let ids = sample_ids(&dbs.satang, 100_000, false).await?;
            let (o, rss) = with_rss(pid, retrieve(b, addr, &ids)).await;
            b.push(
                What {
                    scenario: "retrieve-charge",
                    stored,
                    load: closed_desc.clone(),
                    baseline: Some(("healthz", healthz_rate)),
                    note: String::new(),
                },
                &o,
                rss,
            );
        }
        if matches!(scenario, "quick" | "all" | "list-charges") {
            // The create phase above just wrote tens of thousands of charges: give the planner what
            // autovacuum would give it soon after in production (statistics, the visibility map), so the
            // list is measured as it serves, not in the minutes after a burst (the PostgreSQL deep page was
            // 1 % of /healthz without this and 3,300-3,600/s with it). On SQLite it is housekeeping only.
            crate::store::open(&dbs.satang).await?.after_bulk_load().await?;
            let stored = stored_count(&dbs.satang).await?;
            list_runs(b, addr, pid, stored).await;
        }
        if first_level && matches!(scenario, "quick" | "all" | "complete-and-deliver") {
            let store = crate::store::open(&dbs.satang).await?;
            let (hook, receiver) = Receiver::start().await?;
            let scope = b.scope.clone().ok_or_else(|| anyhow::anyhow!("no scope"))?;
            let now = satang_domain::Clock::now(&satang_domain::SystemClock);
            let ep =
                crate::webhooks::endpoints::add(&store, &scope.account, false, &hook, Default::default(), now).await?;
            // Below saturation (a tenth of the create rate), then at half the create rate.
            let light = (create_rate * 0.1).max(10.0);
            let heavy = b.args.rate.unwrap_or((create_rate * 0.5).max(10.0));
            for rate in [light, heavy] {
                complete_and_deliver(b, &dbs.satang, addr, pid, create_rate, rate, &receiver).await?;
            }
            // Later levels must not deliver to a receiver that is gone: removing the endpoint drops what it
            // still had queued.
            store.delete_endpoint(&ep.id, now).await?;
        }
        first_level = false;
        drop(server);
    }
    Ok(())
}

/// The list scenarios against a server: the newest page and a page at half of `stored`, each flat out and
/// then at a steady [`LIGHT_LIST_RATE`] for the latency of one request below saturation.
async fn list_runs(b: &mut Bench, addr: SocketAddr, pid: Option<u32>, stored: u64) {
    let host = addr.to_string();
    let closed_desc = format!("closed {}", b.args.connections);
    let healthz_rate = b.rows.iter().find(|r| r.scenario == "healthz (b)").map(|r| r.requests_per_s);
    for (name, path) in [
        ("list-charges newest 20", "/charges?limit=20&order=reverse_chronological".to_string()),
        ("list-charges deep page", format!("/charges?limit=20&offset={}", stored / 2)),
    ] {
        for pace in [Pace::Closed, Pace::Open(LIGHT_LIST_RATE)] {
            let (auth, h, p) = (b.auth.clone(), host.clone(), path.clone());
            let make: MakeRequest = Arc::new(move |_, _| load::request("GET", &p, &h, Some(&auth), None));
            let run = load::run(addr, b.args.connections, b.duration(), pace, make, false, None);
            let (o, rss) = with_rss(pid, run).await;
            let load = match pace {
                Pace::Closed => closed_desc.clone(),
                Pace::Open(r) => format!("open {r:.0}/s"),
            };
            let baseline = healthz_rate.map(|r| ("healthz", r));
            b.push(What { scenario: name, stored, load, baseline, note: String::new() }, &o, rss);
        }
    }
}

/// The bench's webhook receiver: notes when each `charge.complete` arrives.
struct Receiver {
    arrived: Arc<Mutex<HashMap<String, Instant>>>,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> anyhow::Result<(String, Receiver)> {
        let arrived: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
        let count = Arc::new(AtomicUsize::new(0));
        let (a2, c2) = (arrived.clone(), count.clone());
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let (a, c) = (a2.clone(), c2.clone());
            async move {
                let at = Instant::now();
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                    && v["key"] == "charge.complete"
                    && let Some(id) = v["data"]["id"].as_str()
                {
                    a.lock().unwrap_or_else(|e| e.into_inner()).entry(id.to_string()).or_insert(at);
                    c.fetch_add(1, Ordering::Relaxed);
                }
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let hook = format!("http://{}/hook", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((hook, Receiver { arrived, count, task }))
    }
}

/// Marks pending charges paid at `rate` while the receiver takes the webhooks, and measures how soon each
/// `charge.complete` arrives after its `mark_as_paid` was sent (an upper bound on commit→delivery).
async fn complete_and_deliver(
    b: &mut Bench,
    db: &str,
    addr: SocketAddr,
    pid: Option<u32>,
    create_rate: f64,
    rate: f64,
    receiver: &Receiver,
) -> anyhow::Result<()> {
    let needed = (rate * b.args.duration * 1.2) as usize + 100;
    // Pending charges to complete: the ones created so far, topped up if needed.
    let mut ids = sample_ids(db, needed, true).await?;
    if ids.len() < needed {
        let store = crate::store::open(db).await?;
        let scope = b.scope.clone().ok_or_else(|| anyhow::anyhow!("no scope"))?;
        seed::seed(store, scope, (needed - ids.len()) as u64, 256, seed::Mix::Pending).await?;
        ids = sample_ids(db, needed, true).await?;
    }
    receiver.arrived.lock().unwrap_or_else(|e| e.into_inner()).clear();
    receiver.count.store(0, Ordering::Relaxed);
    let (arrived, count) = (receiver.arrived.clone(), receiver.count.clone());

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let next = Arc::new(AtomicU64::new(0));
    let ids = Arc::new(ids);
    let (auth, host, s2) = (b.auth.clone(), addr.to_string(), sent.clone());
    let make: MakeRequest = Arc::new(move |_, _| {
        let i = next.fetch_add(1, Ordering::Relaxed) as usize % ids.len();
        s2.lock().unwrap_or_else(|e| e.into_inner()).insert(ids[i].clone(), Instant::now());
        load::request("POST", &format!("/charges/{}/mark_as_paid", ids[i]), &host, Some(&auth), None)
    });
    let started = Instant::now();
    let run = load::run(addr, b.args.connections, b.duration(), Pace::Open(rate), make, false, None);
    let (o, rss) = with_rss(pid, run).await;
    let completions = o.requests() as usize;
    // Wait (up to 30 s) for the deliveries still on their way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::Relaxed) < completions && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_in = started.elapsed();
    let sent = sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let arrived = arrived.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lat: Vec<u64> = arrived
        .iter()
        .filter_map(|(id, at)| sent.get(id).map(|s| at.saturating_duration_since(*s).as_micros() as u64))
        .collect();
    let delivered = arrived.len();
    let desc = format!("open {rate:.0}/s");
    let what = What {
        scenario: "complete (mark_as_paid)",
        stored: 0,
        load: desc.clone(),
        baseline: Some(("create-charge", create_rate)),
        note: format!("{completions} completions at {:.0}/s", o.rate()),
    };
    b.push(what, &o, rss);
    let delivery = Outcome {
        latencies_us: lat,
        errors: completions.saturating_sub(delivered) as u64,
        elapsed: delivered_in,
        bodies: vec![],
    };
    let what = What {
        scenario: "deliver (commit→delivery)",
        stored: 0,
        load: desc,
        baseline: Some(("create-charge", create_rate)),
        note: format!(
            "{delivered} of {completions} charge.complete webhooks delivered in {:.1} s; latency from sending mark_as_paid to the webhook's arrival",
            delivered_in.as_secs_f64()
        ),
    };
    b.push(what, &delivery, rss);
    Ok(())
}

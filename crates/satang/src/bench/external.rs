//! `satang bench --scenario external`: the ratios with an external load generator (wrk), which is the
//! figure BENCHMARKS.md quotes first.
//!
//! Why: the in-process generator of the other scenarios shares the machine's cores with the servers, and it
//! takes a bigger share from a cheap server (the baseline) than from an expensive one (satang), which
//! flatters satang's ratio. wrk is a small C program with one thread; each server gets the rest of the
//! machine, and the server not being measured is paused (SIGSTOP), so it costs nothing meanwhile.
//!
//! Each pair (satang's route against its baseline) is measured in alternating rounds, at least three, and
//! printed as the ratio's min–max over the rounds, beside the noise: the baseline measured against itself in
//! the same rounds (how far apart two runs of the same thing land). Server CPU per request comes from /proc.
//! Without wrk installed, the bench says how to install it and prints the wrk commands it would run.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::{CREATE_FORM, Proc, cpu_seconds, rss_mb};

/// One wrk run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrkRun {
    /// Requests that completed in the run (wrk's `N requests in`).
    pub requests: u64,
    pub requests_per_s: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub server_cpu_us: f64,
    pub server_rss_mb: f64,
}

/// One pair measured over the rounds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pair {
    pub name: String,
    pub baseline: String,
    pub subject: Vec<WrkRun>,
    pub base: Vec<WrkRun>,
    /// subject / baseline per round.
    pub ratios: Vec<f64>,
    /// baseline run / the previous baseline run, per round after the first: the noise.
    pub noise: Vec<f64>,
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
}

impl Pair {
    pub fn line(&self) -> String {
        let (lo, hi) = min_max(&self.ratios);
        let (nlo, nhi) = if self.noise.is_empty() { (1.0, 1.0) } else { min_max(&self.noise) };
        let rate = |runs: &[WrkRun]| {
            let (a, b) = min_max(&runs.iter().map(|r| r.requests_per_s).collect::<Vec<_>>());
            format!("{a:.0}–{b:.0}/s")
        };
        let cpu = |runs: &[WrkRun]| {
            let (a, b) = min_max(&runs.iter().map(|r| r.server_cpu_us).collect::<Vec<_>>());
            format!("{a:.0}–{b:.0} µs")
        };
        let rss = self.subject.iter().chain(&self.base).map(|r| r.server_rss_mb).fold(0.0, f64::max);
        format!(
            "| {:<16} | {:>15} | {:>11} | {:<14} | {:>15} | {:>11} | **{:.0}–{:.0} %** | {:.0}–{:.0} % | {:.0} |",
            self.name,
            rate(&self.subject),
            cpu(&self.subject),
            self.baseline,
            rate(&self.base),
            cpu(&self.base),
            lo * 100.0,
            hi * 100.0,
            nlo * 100.0,
            nhi * 100.0,
            rss
        )
    }
}

/// Whether wrk is on the PATH.
pub fn wrk_installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// The Lua script that makes wrk send one request shape.
fn script(method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> String {
    let mut s = format!("wrk.method = \"{method}\"\nwrk.path = \"{path}\"\n");
    if let Some(a) = auth {
        s.push_str(&format!("wrk.headers[\"Authorization\"] = \"Basic {a}\"\n"));
    }
    if let Some(b) = body {
        s.push_str("wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n");
        s.push_str(&format!("wrk.body = \"{b}\"\n"));
    }
    // Any status other than 200 counts as an error in the summary wrk prints.
    s.push_str(
        "local bad = 0\nresponse = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end\n\
         done = function(summary, latency, requests) io.write(string.format(\"non200 %d\\n\", bad)) end\n",
    );
    s
}

/// What to send to one server.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub pid: u32,
    pub script: std::path::PathBuf,
}

/// The wrk command line for a target.
fn command_line(t: &Target, connections: usize, secs: u64) -> Vec<String> {
    vec![
        "-t1".into(),
        format!("-c{connections}"),
        format!("-d{secs}s"),
        "--latency".into(),
        "-s".into(),
        t.script.display().to_string(),
        format!("http://{}", t.addr),
    ]
}

fn parse_ms(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

/// Runs wrk against `t` while `paused` is stopped.
fn run_wrk(t: &Target, paused: Option<u32>, connections: usize, secs: u64) -> anyhow::Result<WrkRun> {
    let signal = |pid: u32, sig: &str| {
        let _ = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status();
    };
    if let Some(p) = paused {
        signal(p, "STOP");
    }
    let cpu0 = cpu_seconds(t.pid);
    let out = Command::new("wrk").args(command_line(t, connections, secs)).output();
    let cpu = cpu_seconds(t.pid) - cpu0;
    let rss = rss_mb(t.pid);
    if let Some(p) = paused {
        signal(p, "CONT");
    }
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.split_whitespace().next().unwrap_or("").to_string()))
    };
    let rps: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("wrk printed no rate: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    let requests: f64 =
        text.lines().find_map(|l| l.trim().split(" requests in ").next()?.trim().parse().ok()).unwrap_or(0.0);
    let non200: u64 = field("non200").and_then(|v| v.parse().ok()).unwrap_or(0);
    let socket_errors: u64 = text
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors:"))
        .map(|l| l.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let p99 = field("99%").map(|v| parse_ms(&v)).unwrap_or(0.0);
    Ok(WrkRun {
        requests: requests as u64,
        requests_per_s: rps,
        p99_ms: p99,
        errors: non200 + socket_errors,
        server_cpu_us: if requests > 0.0 { cpu * 1e6 / requests } else { 0.0 },
        server_rss_mb: rss,
    })
}

/// How many times a run that completed no request is tried again before the bench gives up.
const EMPTY_RUN_RETRIES: u32 = 2;

/// [`run_wrk`], repeated while a run completes no request and reports no error: such a run measured
/// nothing (the machine was busy elsewhere for the whole of a short run, so no response came back before
/// wrk stopped), and taking it as a rate of 0 would print a ratio of 0 or infinity. Each retry runs twice as
/// long. A run with errors is kept: the errors are the finding. After the retries the bench fails with the
/// reason rather than print a figure that is not one.
fn measure(t: &Target, paused: Option<u32>, connections: usize, secs: u64) -> anyhow::Result<WrkRun> {
    let mut secs = secs.max(1);
    for attempt in 0..=EMPTY_RUN_RETRIES {
        let run = run_wrk(t, paused, connections, secs)?;
        if run.requests > 0 || run.errors > 0 {
            return Ok(run);
        }
        if attempt < EMPTY_RUN_RETRIES {
            eprintln!("  no request completed against {} in {secs} s; measuring again for {} s", t.addr, secs * 2);
            secs *= 2;
        }
    }
    anyhow::bail!(
        "wrk completed no request against {} in {} runs (the last {secs} s long) and saw no error: the server is stopped or the machine is saturated, so there is nothing to report",
        t.addr,
        EMPTY_RUN_RETRIES + 1
    )
}

/// Measures `subject` against `base` in `rounds` alternating rounds (base, subject, base, subject, …), with
/// the other paused each time.
pub fn pair(
    name: &str,
    baseline: &str,
    subject: &Target,
    base: &Target,
    rounds: usize,
    connections: usize,
    secs: u64,
) -> anyhow::Result<Pair> {
    let mut p = Pair {
        name: name.into(),
        baseline: baseline.into(),
        subject: Vec::new(),
        base: Vec::new(),
        ratios: Vec::new(),
        noise: Vec::new(),
    };
    let other = |t: &Target, u: &Target| (t.pid != u.pid).then_some(u.pid);
    for round in 0..rounds.max(3) {
        // Alternate which goes first, so neither always runs on a machine just warmed by the other.
        let (b, s) = if round % 2 == 0 {
            let b = measure(base, other(base, subject), connections, secs)?;
            (b, measure(subject, other(subject, base), connections, secs)?)
        } else {
            let s = measure(subject, other(subject, base), connections, secs)?;
            (measure(base, other(base, subject), connections, secs)?, s)
        };
        eprintln!(
            "  round {}: {name} {:.0}/s ({:.0} µs CPU), {baseline} {:.0}/s ({:.0} µs CPU)",
            round + 1,
            s.requests_per_s,
            s.server_cpu_us,
            b.requests_per_s,
            b.server_cpu_us
        );
        if let Some(prev) = p.base.last() {
            p.noise.push(b.requests_per_s / prev.requests_per_s.max(1e-9));
        }
        p.ratios.push(s.requests_per_s / b.requests_per_s.max(1e-9));
        p.subject.push(s);
        p.base.push(b);
    }
    Ok(p)
}

/// Writes the scripts and runs the pairs: create-charge against the bare insert, retrieve-charge against
/// `/healthz`. Returns the table (or the commands, without wrk).
pub async fn run(
    satang_db: &str,
    baseline_db: &str,
    connections: usize,
    secs: u64,
    rounds: usize,
    json: bool,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = crate::store::open(satang_db).await?;
    let (rec, shown) =
        crate::accounts::new_account("Bench Shop", satang_domain::Clock::now(&satang_domain::SystemClock));
    store.create_account(rec).await?;
    drop(store);
    let auth = super::basic(&shown.test_secret_key);
    let no_limits = [("SATANG_RATE_LIMIT_KEY", "0"), ("SATANG_RATE_LIMIT_IP", "0")];
    // The default sweep interval, as operators run it: on PostgreSQL its housekeeping folds the list-count
    // deltas the create rounds leave (a list's total reads the unfolded ones).
    let satang = Proc::start(&["serve", "--listen", "127.0.0.1:0", "--database", satang_db], &no_limits)?;
    let base = Proc::start(&["bench", "baseline-server", "--listen", "127.0.0.1:0", "--database", baseline_db], &[])?;
    let write = |name: &str, body: String| -> anyhow::Result<std::path::PathBuf> {
        let p = dir.path().join(name);
        std::fs::write(&p, body)?;
        Ok(p)
    };
    let create = Target {
        addr: satang.addr,
        pid: satang.child.id(),
        script: write("create.lua", script("POST", "/charges", Some(&auth), Some(CREATE_FORM)))?,
    };
    let insert = Target {
        addr: base.addr,
        pid: base.child.id(),
        script: write("insert.lua", script("POST", "/charges", Some(&auth), Some(CREATE_FORM)))?,
    };
    let healthz = Target {
        addr: satang.addr,
        pid: satang.child.id(),
        script: write("healthz.lua", script("GET", "/healthz", None, None))?,
    };
    if !wrk_installed() {
        eprintln!("wrk is not installed (Debian: apt-get install wrk; or scripts/bench). The commands would be:");
        for t in [&create, &insert, &healthz] {
            println!("wrk {}", command_line(t, connections, secs).join(" "));
        }
        return Ok(());
    }
    eprintln!("external load generator: wrk, 1 thread, {connections} connections, {secs} s per run, {rounds} rounds");
    let mut pairs = vec![pair("create-charge", "bare insert", &create, &insert, rounds, connections, secs)?];
    // Let housekeeping fold what the create rounds wrote, as it would between bursts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Retrieve: a charge made above (the table holds every charge of the create rounds).
    let ids = super::sample_ids(satang_db, 1, false).await?;
    if let Some(id) = ids.first() {
        let retrieve = Target {
            addr: satang.addr,
            pid: satang.child.id(),
            script: write("retrieve.lua", script("GET", &format!("/charges/{id}"), Some(&auth), None))?,
        };
        pairs.push(pair("retrieve-charge", "/healthz", &retrieve, &healthz, rounds, connections, secs)?);
        let list = Target {
            addr: satang.addr,
            pid: satang.child.id(),
            script: write(
                "list.lua",
                script("GET", "/charges?limit=20&order=reverse_chronological", Some(&auth), None),
            )?,
        };
        pairs.push(pair("list-charges", "/healthz", &list, &healthz, rounds, connections, secs)?);
    }
    let errors: u64 = pairs.iter().flat_map(|p| p.subject.iter().chain(&p.base)).map(|r| r.errors).sum();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"pairs": pairs, "errors": errors}))?);
    } else {
        println!(
            "\nsatang bench --scenario external (wrk -t1 -c{connections} -d{secs}s; {} rounds, alternating, the other server paused)\n",
            rounds.max(3)
        );
        println!(
            "| route            |   satang req/s  | CPU/req     | baseline       |  baseline req/s | CPU/req     | ratio (min–max) | noise | RSS MB |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for p in &pairs {
            println!("{}", p.line());
        }
        println!("\nnon-200 answers and socket errors: {errors}");
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts connections and never answers: no run completes a request, so the bench must
    /// not report a rate for it (it either reports wrk's timeouts as errors or gives up with the reason).
    #[test]
    fn a_run_that_completes_no_request_is_not_a_measurement() {
        if !wrk_installed() {
            eprintln!("skipped: wrk is not installed (scripts/test installs it)");
            return;
        }
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let script_path = dir.path().join("get.lua");
        std::fs::write(&script_path, script("GET", "/healthz", None, None)).unwrap();
        let t = Target { addr: silent.local_addr().unwrap(), pid: std::process::id(), script: script_path };
        match measure(&t, None, 2, 1) {
            Ok(run) => {
                assert_eq!(run.requests, 0, "{run:?}");
                assert!(run.errors > 0, "a run with no request and no error was taken as a measurement: {run:?}");
            }
            Err(e) => assert!(e.to_string().contains("completed no request"), "{e}"),
        }
    }
}

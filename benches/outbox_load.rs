//! Does delivering notifications slow requests down? Slot queries against the real `parlor`
//! binary, first with an empty outbox, then while its worker delivers 10,000 queued emails
//! to a real SMTP server (aiosmtpd, as in the tests) on the same machine.
//!
//! The 10,000 rows are written straight into the server's database (in 500-row
//! transactions, as a burst of bookings would write them), then the same slot load runs
//! again while the worker claims and sends them. Reports each phase's latency percentiles,
//! how many emails were delivered during the loaded phase, and the p99 ratio (target ≤ 1.2).
//! Writes `target/bench-results/outbox_load.json`.
//!
//! `cargo bench --bench outbox_load` — knobs: `BENCH_SECS` (per phase, default 20),
//! `BENCH_CONCURRENCY` (default 8), `BENCH_RATE` (slot requests a second in all, default
//! 1000, sent at a steady pace; 0 = as fast as the clients can, which saturates this
//! machine's two cores so that any other work, the SMTP server's included, shows in p99),
//! `BENCH_MESSAGES` (default 10000), `BENCH_PACE` (the server's `notify.max_per_second`;
//! unset: its default of 20; 0: unpaced).
//! The load generator, the SMTP server and parlor share this machine's cores.

#[path = "support/mod.rs"]
mod support;

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Server, metric, percentile, scrape, write_report};

struct Sink {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sink(port: u16) -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let py = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut child = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/smtp_sink.py"
        ))
        .args(["--port", &port.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY", "the SMTP sink did not start");
    Sink { child, _dir: dir }
}

#[derive(serde::Serialize)]
struct Phase {
    name: String,
    requests: usize,
    req_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    failures: usize,
}

/// `concurrency` clients that together send `rate` requests a second at a steady pace (an
/// open loop: a slow answer does not slow the next request's start, as with real users), or
/// as fast as they can when `rate` is 0.
async fn slot_phase(name: &str, url: &str, secs: u64, concurrency: usize, rate: u64) -> Phase {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (http, url) = (http.clone(), url.to_string());
        let gap = (rate > 0).then(|| Duration::from_secs_f64(concurrency as f64 / rate as f64));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0;
            let mut next = Instant::now()
                + gap.map_or(Duration::ZERO, |g| g.mul_f64(w as f64 / concurrency as f64));
            while Instant::now() < deadline {
                if let Some(g) = gap {
                    tokio::time::sleep_until(next.into()).await;
                    next += g;
                }
                let t = Instant::now();
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => failures += 1,
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (lat, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        all.extend(l);
        failures += f;
    }
    let seconds = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Phase {
        name: name.into(),
        requests: all.len(),
        req_per_s: all.len() as f64 / seconds,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        max_ms: all.last().copied().unwrap_or(0.0),
        failures,
    }
}

fn delivered(base: &str) -> f64 {
    metric(
        &scrape(base),
        "parlor_notify_delivered_total{channel=\"email\"}",
    )
}

#[tokio::main]
async fn main() {
    let env_or = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = env_or("BENCH_SECS", 20);
    let concurrency = env_or("BENCH_CONCURRENCY", 8) as usize;
    let rate = env_or("BENCH_RATE", 1000);
    let messages = env_or("BENCH_MESSAGES", 10_000) as usize;

    let smtp_port = support::free_port();
    let sink = start_sink(smtp_port);
    let sink_pid = sink.child.id();
    // The server's own pace (notify.max_per_second, default 20) unless BENCH_PACE says
    // otherwise (0: unpaced).
    let pace = std::env::var("BENCH_PACE").ok();
    let mut env = vec![
        ("PARLOR_NOTIFY__SMTP__HOST", "127.0.0.1".to_string()),
        ("PARLOR_NOTIFY__SMTP__PORT", smtp_port.to_string()),
        ("PARLOR_NOTIFY__SMTP__SECURITY", "plain".into()),
        (
            "PARLOR_NOTIFY__SMTP__FROM",
            "Bench <bench@bench.test>".into(),
        ),
    ];
    if let Some(p) = &pace {
        env.push(("PARLOR_NOTIFY__MAX_PER_SECOND", p.clone()));
    }
    let server = Server::start(&env);
    let mut add = server
        .command()
        .args([
            "coach",
            "add",
            "--email",
            "coach@bench.test",
            "--name",
            "Bench Coach",
            "--title",
            "Coach",
            "--time-zone",
            "Europe/London",
            "--hours",
            "Mon-Fri 09:00-17:00",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        add.stdin
            .take()
            .unwrap()
            .write_all(b"bench coach password\n")
            .unwrap();
    }
    assert!(add.wait().unwrap().success(), "coach add failed");
    let coaches: serde_json::Value = reqwest::get(format!("{}/api/coaches", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coach = coaches[0]["id"].as_str().expect("a coach").to_string();
    let url = format!("{}/api/coaches/{coach}/slots?tz=Europe/London", server.base);

    // Warm up, then the idle phase.
    slot_phase("warm-up", &url, 2, concurrency, rate).await;
    let cpu_before = server.cpu_secs();
    let idle = slot_phase("slots, outbox empty", &url, secs, concurrency, rate).await;
    let idle_cpu = server.cpu_secs() - cpu_before;

    // 10,000 queued emails, written as a burst of bookings would write them.
    let db_url = format!("sqlite://{}/parlor.db", server.dir.path().display());
    let store = parlor::store::Store::connect(&db_url, 2).await.unwrap();
    let now = chrono::Utc::now();
    let t = Instant::now();
    for chunk in (0..messages).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|i| {
                let mail = parlor::notify::email::Email {
                    to_name: format!("Person {i}"),
                    to_email: format!("p{i}@bench.test"),
                    subject: "Your session is booked".into(),
                    text: "Hello\n\nYour coaching session is booked.\n".repeat(4),
                    html: "<p>Hello</p><p>Your coaching session is booked.</p>".repeat(4),
                    invite: None,
                    unsubscribe: None,
                };
                parlor::notify::email_row(
                    "booking_confirmation",
                    &mail,
                    None,
                    None,
                    now,
                    now + chrono::Duration::hours(24),
                )
            })
            .collect();
        store.enqueue(&rows, now).await.unwrap();
    }
    let enqueue_secs = t.elapsed().as_secs_f64();
    store.close().await;

    let before = delivered(&server.base);
    let cpu_before = server.cpu_secs();
    let sink_before = support::cpu_secs(sink_pid);
    let busy = slot_phase("slots, outbox delivering", &url, secs, concurrency, rate).await;
    let during = delivered(&server.base) - before;
    let cpu = server.cpu_secs() - cpu_before;
    let sink_cpu = support::cpu_secs(sink_pid) - sink_before;
    // Let more go, to report the worker's rate on its own (at most a minute more: a paced
    // worker takes many minutes over 10,000).
    let t = Instant::now();
    while delivered(&server.base) < messages as f64 && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_delivered = delivered(&server.base);
    let drain_secs = t.elapsed().as_secs_f64() + secs as f64;
    let rate_per_s = (all_delivered - before) / drain_secs;
    let ratio = busy.p99_ms / idle.p99_ms.max(1e-9);

    println!(
        "\nparlor outbox load — SQLite, {concurrency} slot-query clients at {rate} req/s in all (0: as fast as they can), {secs} s per phase, {messages} emails queued"
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "phase", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "fail"
    );
    for p in [&idle, &busy] {
        println!(
            "{:<28} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>6}",
            p.name, p.requests, p.req_per_s, p.p50_ms, p.p99_ms, p.max_ms, p.failures
        );
    }
    println!(
        "p99 while delivering / idle: {ratio:.2} (target ≤ 1.20); pace: {}; emails delivered \
         during the loaded phase: {during:.0}; {all_delivered:.0} of {messages} within \
         {drain_secs:.0} s ({rate_per_s:.1}/s); \
         server CPU: {:.0} % of a core idle, {:.0} % while delivering; the SMTP server's CPU while \
         receiving: {:.0} %; writing the rows took {enqueue_secs:.2} s",
        pace.as_deref().unwrap_or("server default"),
        idle_cpu / secs as f64 * 100.0,
        cpu / secs as f64 * 100.0,
        sink_cpu / secs as f64 * 100.0
    );
    let path = write_report(
        "outbox_load",
        &json!({
            "benchmark": "outbox_load",
            "backend": "sqlite",
            "concurrency": concurrency,
            "seconds_per_phase": secs,
            "messages": messages,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "phases": [idle, busy],
            "p99_ratio": ratio,
            "delivered_during_loaded_phase": during,
            "delivered_total": all_delivered,
            "seconds_measured_for_rate": drain_secs,
            "delivered_per_second": rate_per_s,
            "pace_setting": pace,
            "request_rate": rate,
            "server_cpu_share_idle_phase": idle_cpu / secs as f64,
            "server_cpu_share_loaded_phase": cpu / secs as f64,
            "smtp_server_cpu_share_loaded_phase": sink_cpu / secs as f64,
            "enqueue_seconds": enqueue_secs,
            "targets": {"p99_ratio_max": 1.2},
        }),
    );
    println!("wrote {}", path.display());
}

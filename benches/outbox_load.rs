//! Does delivering notifications slow requests down? Slot queries against the real `parlor`
//! binary with an empty outbox and while its worker delivers 10,000 queued emails to a real
//! SMTP server (aiosmtpd, as in the tests) on the same machine.
//!
//! The two conditions are measured in alternating rounds (idle, loaded, idle, loaded, …)
//! because on this shared machine one phase's p99 moves by about ±30 % from one minute to
//! the next, which is the size of the effect measured: a single idle phase followed by a
//! single loaded one compares two moments as much as two conditions. Before each loaded
//! phase 10,000 rows are written straight into the server's database (in 500-row
//! transactions, as a burst of bookings would write them); after it the rows still queued
//! are deleted, so the next idle phase has an empty outbox again. Reports each phase, the
//! p99 of all idle samples against all loaded samples (the figure the target ≤ 1.2 is about),
//! the ratio per round, emails delivered and CPU. Writes
//! `target/bench-results/outbox_load.json`.
//!
//! `cargo bench --bench outbox_load` — knobs: `BENCH_ROUNDS` (default 4), `BENCH_SECS` (per
//! phase, default 15), `BENCH_CONCURRENCY` (default 8), `BENCH_RATE` (slot requests a second
//! in all, default 1000, sent at a steady pace; 0 = as fast as the clients can, which
//! saturates this machine's two cores so that any other work, the SMTP server's included,
//! shows in p99), `BENCH_MESSAGES` (default 10000), `BENCH_PACE` (the server's
//! `notify.max_per_second`; unset: its default of 20; 0: unpaced).
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
    seconds: f64,
    requests: usize,
    req_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    failures: usize,
    /// The server's CPU over the phase, as a share of one core.
    server_cpu: f64,
    /// The SMTP server's CPU over the phase, as a share of one core.
    smtp_cpu: f64,
    /// Emails delivered during the phase.
    delivered: f64,
}

/// One phase's round-trip times (ms, sorted), failures and length.
struct Samples {
    lat: Vec<f64>,
    failures: usize,
    seconds: f64,
}

impl Samples {
    fn summary(&self, name: &str) -> Phase {
        Phase {
            name: name.into(),
            seconds: self.seconds,
            requests: self.lat.len(),
            req_per_s: self.lat.len() as f64 / self.seconds,
            p50_ms: percentile(&self.lat, 0.50),
            p99_ms: percentile(&self.lat, 0.99),
            max_ms: self.lat.last().copied().unwrap_or(0.0),
            failures: self.failures,
            server_cpu: 0.0,
            smtp_cpu: 0.0,
            delivered: 0.0,
        }
    }
}

/// `concurrency` clients that together send `rate` requests a second at a steady pace (an
/// open loop: a slow answer does not slow the next request's start, as with real users), or
/// as fast as they can when `rate` is 0.
async fn slot_phase(url: &str, secs: u64, concurrency: usize, rate: u64) -> Samples {
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
    let mut lat = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        lat.extend(l);
        failures += f;
    }
    let seconds = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Samples {
        lat,
        failures,
        seconds,
    }
}

fn delivered(base: &str) -> f64 {
    metric(
        &scrape(base),
        "parlor_notify_delivered_total{channel=\"email\"}",
    )
}

/// Writes `messages` queued confirmation emails into the server's database, 500 to a
/// transaction.
async fn enqueue(store: &parlor::store::Store, messages: usize) {
    let now = chrono::Utc::now();
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
}

/// Pooled samples of one condition over every round.
#[derive(Default)]
struct Pool {
    lat: Vec<f64>,
    failures: usize,
    seconds: f64,
    server_cpu_secs: f64,
    smtp_cpu_secs: f64,
    delivered: f64,
}

impl Pool {
    fn add(&mut self, s: &Samples, phase: &Phase) {
        self.lat.extend_from_slice(&s.lat);
        self.failures += s.failures;
        self.seconds += s.seconds;
        self.server_cpu_secs += phase.server_cpu * s.seconds;
        self.smtp_cpu_secs += phase.smtp_cpu * s.seconds;
        self.delivered += phase.delivered;
    }

    fn summary(mut self, name: &str) -> Phase {
        self.lat.sort_by(|a, b| a.total_cmp(b));
        let mut p = Samples {
            lat: self.lat,
            failures: self.failures,
            seconds: self.seconds,
        }
        .summary(name);
        p.server_cpu = self.server_cpu_secs / self.seconds;
        p.smtp_cpu = self.smtp_cpu_secs / self.seconds;
        p.delivered = self.delivered;
        p
    }
}

#[tokio::main]
async fn main() {
    let env_or = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env_or("BENCH_ROUNDS", 4).max(1) as usize;
    let secs = env_or("BENCH_SECS", 15);
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

    let db_url = format!("sqlite://{}/parlor.db", server.dir.path().display());
    let store = parlor::store::Store::connect(&db_url, 2).await.unwrap();
    let raw = sqlx::SqlitePool::connect(&db_url).await.unwrap();

    slot_phase(&url, 2, concurrency, rate).await;
    let mut phases = Vec::new();
    let (mut idle_pool, mut busy_pool) = (Pool::default(), Pool::default());
    let mut round_ratios = Vec::new();
    let mut enqueue_secs = Vec::new();
    for round in 1..=rounds {
        let mut idle_p99 = 0.0;
        for loaded in [false, true] {
            if loaded {
                let t = Instant::now();
                enqueue(&store, messages).await;
                enqueue_secs.push(t.elapsed().as_secs_f64());
            }
            let (cpu, smtp, sent) = (
                server.cpu_secs(),
                support::cpu_secs(sink_pid),
                delivered(&server.base),
            );
            let samples = slot_phase(&url, secs, concurrency, rate).await;
            let name = format!(
                "round {round}, outbox {}",
                if loaded { "delivering" } else { "empty" }
            );
            let mut phase = samples.summary(&name);
            phase.server_cpu = (server.cpu_secs() - cpu) / samples.seconds;
            phase.smtp_cpu = (support::cpu_secs(sink_pid) - smtp) / samples.seconds;
            phase.delivered = delivered(&server.base) - sent;
            if loaded {
                round_ratios.push(phase.p99_ms / idle_p99);
                busy_pool.add(&samples, &phase);
                // Back to an empty outbox for the next idle phase. (A message the worker has
                // claimed but not yet finished is left to finish.)
                sqlx::query("DELETE FROM outbox WHERE status = 'queued' AND lease_owner IS NULL")
                    .execute(&raw)
                    .await
                    .unwrap();
            } else {
                idle_p99 = phase.p99_ms;
                idle_pool.add(&samples, &phase);
            }
            phases.push(phase);
        }
    }
    raw.close().await;
    store.close().await;
    let idle = idle_pool.summary("all idle phases");
    let busy = busy_pool.summary("all delivering phases");
    let ratio = busy.p99_ms / idle.p99_ms.max(1e-9);
    let idle_p99s: Vec<f64> = phases.iter().step_by(2).map(|p| p.p99_ms).collect();
    let spread = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        )
    };
    let (idle_lo, idle_hi) = spread(&idle_p99s);
    let (ratio_lo, ratio_hi) = spread(&round_ratios);

    println!(
        "\nparlor outbox load — SQLite, {concurrency} slot-query clients at {rate} req/s in all (0: as fast as they can), {rounds} rounds of {secs} s idle + {secs} s delivering, {messages} emails queued before each delivering phase"
    );
    println!(
        "{:<28} {:>9} {:>7} {:>8} {:>8} {:>8} {:>5} {:>8} {:>6} {:>9}",
        "phase",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "fail",
        "cpu %",
        "smtp %",
        "delivered"
    );
    for p in phases.iter().chain([&idle, &busy]) {
        println!(
            "{:<28} {:>9} {:>7.0} {:>8.2} {:>8.2} {:>8.2} {:>5} {:>8.1} {:>6.1} {:>9.0}",
            p.name,
            p.requests,
            p.req_per_s,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.failures,
            p.server_cpu * 100.0,
            p.smtp_cpu * 100.0,
            p.delivered
        );
    }
    println!(
        "p99 of all delivering samples / all idle samples: {ratio:.2} (target ≤ 1.20); per \
         round {ratio_lo:.2}–{ratio_hi:.2}; the idle phases' own p99 {idle_lo:.2}–{idle_hi:.2} ms; \
         pace: {}; delivered {:.1} emails/s while loaded; writing the rows took {:.2} s",
        pace.as_deref().unwrap_or("server default"),
        busy.delivered / busy.seconds,
        enqueue_secs.iter().sum::<f64>() / enqueue_secs.len() as f64,
    );
    let path = write_report(
        "outbox_load",
        &json!({
            "benchmark": "outbox_load",
            "backend": "sqlite",
            "concurrency": concurrency,
            "rounds": rounds,
            "seconds_per_phase": secs,
            "messages": messages,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "phases": phases,
            "idle": idle,
            "delivering": busy,
            "p99_ratio": ratio,
            "p99_ratio_per_round": round_ratios,
            "pace_setting": pace,
            "request_rate": rate,
            "enqueue_seconds": enqueue_secs,
            "targets": {"p99_ratio_max": 1.2},
        }),
    );
    println!("wrote {}", path.display());
    drop(sink);
}

//! Load benchmark of the booking API on SQLite: slot queries and booking creation.
//!
//! Starts the real `parlor` binary (release when run through `cargo bench`) as a child
//! process on a fresh SQLite database, seeds coaches and clients through the API, then drives
//! it with keep-alive HTTP clients from this process. Reports requests/s and latency
//! percentiles per phase, and the server's RSS idle and after load (read from /proc, so it
//! is the server's alone). Prints a table and writes `target/bench-results/booking_load.json`.
//!
//! `cargo bench --bench booking_load` — knobs: `BENCH_SECS` (per phase, default 10),
//! `BENCH_CONCURRENCY` (default 32).
//! Note: on a 2-core machine the load generator shares the CPU with the server, so the
//! figures are a lower bound of what the server alone can do.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        (
            "PARLOR_DATABASE__URL",
            format!("sqlite://{}/parlor.db", dir.path().display()),
        ),
        (
            "PARLOR_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("PARLOR_HTTP__ADDR", format!("127.0.0.1:{port}")),
        ("PARLOR_HTTP__PUBLIC_URL", base.clone()),
        ("PARLOR_LOG__LEVEL", "warn".into()),
        // The benchmark's clients all log in from one address.
        ("PARLOR_AUTH__LOGIN_MAX_FAILURES_PER_IP", "1000000".into()),
    ];
    let bin = env!("CARGO_BIN_EXE_parlor");
    let mut add = Command::new(bin)
        .args([
            "user",
            "add",
            "--email",
            "admin@bench.test",
            "--name",
            "Admin",
            "--role",
            "admin",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bench admin password\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "user add failed");
    let child = Command::new(bin)
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        child,
        base,
        _dir: dir,
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn client(base: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("origin", base.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(h)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

async fn login(base: &str, email: &str, password: &str) -> reqwest::Client {
    let c = client(base);
    let r = c
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login {email}");
    c
}

/// Availability profiles of seeded coaches.
#[derive(Clone, Copy)]
enum Profile {
    /// Mon–Fri 09:00–17:00 Europe/London, 60-minute sessions every 30 minutes: 75 slots a week.
    Typical,
    /// Every day, all day, UTC, 30-minute sessions every 30 minutes: 336 slots a week.
    AllDay,
}

async fn seed_coaches(
    base: &str,
    admin: &reqwest::Client,
    n: usize,
    profile: Profile,
) -> Vec<String> {
    let (days, start, end, zone, session): (&[&str], _, _, _, _) = match profile {
        Profile::Typical => (
            &["Mon", "Tue", "Wed", "Thu", "Fri"],
            "09:00:00",
            "17:00:00",
            "Europe/London",
            60,
        ),
        Profile::AllDay => (
            &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "00:00:00",
            "23:59:59",
            "UTC",
            30,
        ),
    };
    let weekly: Vec<Value> = days
        .iter()
        .map(|d| json!({"weekday": d, "start": start, "end": end}))
        .collect();
    let mut ids = Vec::new();
    for i in 0..n {
        let policy = json!({"session_minutes": session, "buffer_minutes": 0, "slot_step_minutes": 30,
            "min_notice_minutes": 0, "booking_window_days": 365, "cancel_notice_minutes": 0, "reschedule_notice_minutes": 0});
        let c: Value = admin
            .post(format!("{base}/api/coaches"))
            .json(&json!({"name": format!("Coach {i}"), "title": "Coach", "time_zone": zone, "policy": policy}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = c["id"].as_str().unwrap().to_string();
        let r = admin
            .put(format!("{base}/api/coaches/{id}/availability"))
            .json(&json!({"time_zone": zone, "weekly": weekly, "overrides": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(id);
    }
    ids
}

#[derive(serde::Serialize)]
struct Phase {
    name: String,
    requests: usize,
    ok: usize,
    seconds: f64,
    req_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Status codes of requests that did not succeed (0 = transport error).
    failures: std::collections::BTreeMap<u16, usize>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `concurrency` workers for `secs`; `make` sends request k of worker w and returns
/// `Ok(())` or `Err(status)` (0 for a transport error).
async fn run_phase<F, Fut>(name: &str, secs: u64, concurrency: usize, make: F) -> Phase
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), u16>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut fails = std::collections::BTreeMap::new();
            let mut k = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if let Err(code) = make(w, k).await {
                    *fails.entry(code).or_insert(0) += 1;
                }
                lat.push(t.elapsed());
                k += 1;
            }
            (lat, fails)
        }));
    }
    let mut all = Vec::new();
    let mut failures = std::collections::BTreeMap::new();
    for t in tasks {
        let (l, f) = t.await.unwrap();
        all.extend(l);
        for (code, n) in f {
            *failures.entry(code).or_insert(0) += n;
        }
    }
    let ok = all.len() - failures.values().sum::<usize>();
    let seconds = start.elapsed().as_secs_f64();
    all.sort();
    Phase {
        name: name.into(),
        requests: all.len(),
        ok,
        seconds,
        req_per_s: all.len() as f64 / seconds,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        max_ms: all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        failures,
    }
}

async fn slot_phase(
    name: &str,
    http: &reqwest::Client,
    base: &str,
    coaches: &[String],
    secs: u64,
    concurrency: usize,
) -> Phase {
    let urls: Vec<String> = coaches
        .iter()
        .map(|c| format!("{base}/api/coaches/{c}/slots?tz=Europe/London"))
        .collect();
    let (h, urls) = (http.clone(), std::sync::Arc::new(urls));
    run_phase(name, secs, concurrency, move |w, k| {
        let (h, urls) = (h.clone(), urls.clone());
        async move {
            let url = &urls[(w + k) % urls.len()];
            // Read the body: an unread body closes the keep-alive connection.
            match h.get(url).send().await {
                Ok(r) if r.status() == 200 => r.bytes().await.map(|_| ()).map_err(|_| 0),
                Ok(r) => Err(r.status().as_u16()),
                Err(_) => Err(0),
            }
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let server = start_server();
    let base = server.base.clone();
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = server.child.id();
    let idle_rss = rss_kib(pid);

    let admin = login(&base, "admin@bench.test", "bench admin password").await;
    let typical = seed_coaches(&base, &admin, 20, Profile::Typical).await;
    let coaches = seed_coaches(&base, &admin, concurrency, Profile::AllDay).await;
    let mut clients = Vec::new();
    for i in 0..concurrency {
        let email = format!("client{i}@bench.test");
        let r = client(&base)
            .post(format!("{base}/api/auth/signup"))
            .json(&json!({"email": email, "name": format!("Client {i}"), "password": "bench client password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        clients.push(login(&base, &email, "bench client password").await);
    }

    // Phases 1 and 2: a week of slots of a typical coach, and of an all-day coach.
    let typical_week = slot_phase(
        "slots, typical week",
        &http,
        &base,
        &typical,
        secs,
        concurrency,
    )
    .await;
    let all_day_week = slot_phase(
        "slots, 24x7 week",
        &http,
        &base,
        &coaches,
        secs,
        concurrency,
    )
    .await;
    let after_slots_rss = rss_kib(pid);

    // Phase 3: booking creation; each worker books its own distinct future slots.
    let now = chrono::Utc::now();
    let first = (now + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let (clients, coaches) = (std::sync::Arc::new(clients), std::sync::Arc::new(coaches));
    let b = base.clone();
    let bookings = run_phase("booking create", secs, concurrency, move |w, k| {
        let (clients, coaches, b) = (clients.clone(), coaches.clone(), b.clone());
        async move {
            // Worker w owns coach w and books its half-hour slots in order, skipping 23:30
            // (a 30-minute session does not fit before the window's end at 23:59:59).
            let coach = &coaches[w];
            let k = k as i64;
            let at = first + chrono::Duration::minutes(30 * (k + k / 47));
            let sent = clients[w]
                .post(format!("{b}/api/bookings"))
                .json(&json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video"}))
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 201 => r.bytes().await.map(|_| ()).map_err(|_| 0),
                Ok(r) => Err(r.status().as_u16()),
                Err(_) => Err(0),
            }
        }
    })
    .await;
    let loaded_rss = rss_kib(pid);

    println!(
        "\nparlor booking load — SQLite, {concurrency} concurrent keep-alive clients, {secs} s per phase"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "phase", "requests", "ok", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for p in [&typical_week, &all_day_week, &bookings] {
        println!(
            "{:<22} {:>9} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            p.name, p.requests, p.ok, p.req_per_s, p.p50_ms, p.p99_ms, p.max_ms
        );
        if !p.failures.is_empty() {
            println!("  failures by status: {:?}", p.failures);
        }
    }
    let mb = |k: u64| k as f64 / 1024.0;
    println!(
        "server RSS idle: {:.1} MB, after slot phases: {:.1} MB, after bookings: {:.1} MB",
        mb(idle_rss),
        mb(after_slots_rss),
        mb(loaded_rss)
    );
    let report = json!({
        "benchmark": "booking_load",
        "backend": "sqlite",
        "concurrency": concurrency,
        "seconds_per_phase": secs,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "phases": [typical_week, all_day_week, bookings],
        "idle_rss_mb": idle_rss as f64 / 1024.0,
        "after_slots_rss_mb": after_slots_rss as f64 / 1024.0,
        "loaded_rss_mb": loaded_rss as f64 / 1024.0,
        "targets": {"slot_req_per_s": 5000, "slot_p99_ms": 10, "idle_rss_mb": 50},
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("booking_load.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

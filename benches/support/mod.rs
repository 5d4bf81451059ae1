//! Shared by the load benchmarks: the real `parlor` binary as a child process on a fresh
//! SQLite database, readings of its RSS and CPU time from /proc, percentiles, and the JSON
//! report under `target/bench-results/`.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Signing secret of benchmark servers (so the benchmark can mint join tokens).
pub const SIGNING_SECRET: &str = "bench-signing-secret-0123456789abcdef";

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary: this build's, or `BENCH_PARLOR_BIN` (another build, such as an older
/// revision's, measured by the same benchmark for an A/B comparison).
pub fn binary() -> std::path::PathBuf {
    std::env::var_os("BENCH_PARLOR_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_parlor").into())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts `parlor serve` with `extra` environment settings and waits for `/readyz`.
    pub fn start(extra: &[(&str, String)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = vec![
            (
                "PARLOR_DATABASE__URL".into(),
                format!("sqlite://{}/parlor.db", dir.path().display()),
            ),
            (
                "PARLOR_DATA_DIR".into(),
                dir.path().join("data").display().to_string(),
            ),
            ("PARLOR_HTTP__ADDR".into(), format!("127.0.0.1:{port}")),
            ("PARLOR_HTTP__PUBLIC_URL".into(), base.clone()),
            ("PARLOR_LOG__LEVEL".into(), "warn".into()),
            ("PARLOR_AUTH__SIGNING_SECRET".into(), SIGNING_SECRET.into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let child = Command::new(binary())
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server {
            child,
            base,
            dir,
            env,
        };
        s.wait_ready();
        s
    }

    /// Runs another `parlor` subcommand against the same database and settings.
    pub fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path());
        c
    }

    fn wait_ready(&self) {
        let addr = self.base.trim_start_matches("http://").to_string();
        for _ in 0..300 {
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not become ready");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// User + system CPU time consumed so far, seconds.
    pub fn cpu_secs(&self) -> f64 {
        cpu_secs(self.pid())
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process from /proc/PID/stat (clock ticks of 1/100 s on Linux).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The `p` quantile (0..1) of sorted values.
pub fn percentile<T: Copy + Into<f64>>(sorted: &[T], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].into()
}

/// Writes `report` to `target/bench-results/<name>.json` and returns the path.
pub fn write_report(name: &str, report: &serde_json::Value) -> std::path::PathBuf {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(report).unwrap()).unwrap();
    path
}

/// Scrapes `/metrics` (plain HTTP/1.0, no client library needed).
pub fn scrape(base: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf.split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string())
}

/// A sample's value (`name` exactly, or `name{labels}` when `name` includes them).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Histogram buckets `(upper bound, cumulative count)` of `name`.
pub fn buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, v) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, v.trim().parse().ok()?))
        })
        .collect()
}

/// The `p` quantile of the observations between two scrapes of one histogram, as the upper
/// bound of the bucket it falls in (a conservative reading).
pub fn histogram_quantile(before: &[(f64, f64)], after: &[(f64, f64)], p: f64) -> f64 {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, v)| {
            let b = before
                .iter()
                .find(|(l, _)| l == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, v - b)
        })
        .collect();
    let total = delta.last().map_or(0.0, |(_, c)| *c);
    if total <= 0.0 {
        return 0.0;
    }
    let want = total * p;
    delta
        .iter()
        .find(|(_, c)| *c >= want)
        .map_or(f64::INFINITY, |(le, _)| *le)
}

/// Creates a client account with `parlor user add` and returns an HTTP client logged in as it.
pub async fn login_new_user(server: &Server, email: &str) -> reqwest::Client {
    use std::io::Write;
    let password = "bench user password";
    let mut add = server
        .command()
        .args([
            "user",
            "add",
            "--email",
            email,
            "--name",
            "Bench Caller",
            "--role",
            "client",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success(), "user add failed");
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("origin", server.base.parse().unwrap());
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(h)
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/api/auth/login", server.base))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login: {}", r.status());
    http
}

/// Datagrams the kernel dropped because a UDP socket's receive buffer was full
/// (`RcvbufErrors` in /proc/net/snmp; system-wide, so only meaningful while the benchmark is
/// all that runs).
pub fn udp_rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

//! The real `parlor` binary as a child process: a clean environment in a working directory,
//! `serve` on a free port until `/healthz` answers, its logs, and SIGTERM with a time limit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary with a clean environment (no inherited `PARLOR_*` variables) in `dir`. Only
/// libfaketime's variables pass, so that under `suite_at_times.sh` the child runs on the same
/// (set) clock as the test that mints its tokens.
pub fn parlor(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parlor"));
    c.current_dir(dir).env_clear();
    for (k, v) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        if k_str == "LD_PRELOAD" || k_str.starts_with("FAKETIME") || k_str == "DONT_FAKE_MONOTONIC"
        {
            c.env(&k, v);
        }
    }
    c
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `parlor serve`; killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
    dir: PathBuf,
}

impl Server {
    /// Starts `serve` in `dir` with `env` on a free port and waits until `/healthz` answers.
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_on(dir, free_port(), env).await
    }

    /// Starts `serve` on `port` (e.g. again after a restart) and waits until `/healthz`
    /// answers over plain HTTP.
    pub async fn start_on(dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
        let mut s = Self::spawn_on(dir, port, env);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                panic!("serve exited early with {st}: {}", s.logs());
            }
            if let Ok(r) = reqwest::get(s.url("/healthz")).await
                && r.status() == 200
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not come up: {}",
                s.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts `serve` on `port` without waiting for it (`env` may set `http.public_url`).
    pub fn spawn_on(dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
        let base = format!("http://127.0.0.1:{port}");
        // Appended to, so a restarted server's logs follow the first run's.
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
                .unwrap()
        };
        let (out, err) = (log("serve.out"), log("serve.err"));
        let mut cmd = parlor(dir);
        cmd.arg("serve")
            .env("PARLOR_HTTP__ADDR", format!("127.0.0.1:{port}"))
            .env("PARLOR_HTTP__PUBLIC_URL", &base)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server {
            child: cmd.spawn().unwrap(),
            base,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Sends `signal` (e.g. `-HUP`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(st.success(), "kill {signal} {pid}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!(
            "stdout:\n{}\nstderr:\n{}",
            read("serve.out"),
            read("serve.err")
        )
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit.
    pub async fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.send_term();
        self.wait_exit(limit).await
    }

    /// Sends SIGTERM.
    pub fn send_term(&self) {
        self.signal("-TERM");
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! A Web Push service for the tests: `tests/common/push_service.py`, which decrypts every
//! push with `http_ece` and checks its VAPID token with `cryptography` (both from PyPI,
//! pinned, installed into `target/test-pydeps`), and which hands out subscriptions the way a
//! browser's push manager does (the keys are generated there, not by parlor).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn pydeps() -> PathBuf {
    super::pydeps::install(
        "push",
        &["http_ece==1.2.1", "cryptography==46.0.3"],
        "http_ece",
    )
}

/// One push the service got.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Pushed {
    pub subscription: String,
    pub ttl: Option<String>,
    pub urgency: Option<String>,
    pub claims: Option<serde_json::Value>,
    /// The decrypted payload.
    pub message: Option<serde_json::Value>,
    pub verified: bool,
    pub error: Option<String>,
}

/// A running push service; stopped when dropped.
pub struct PushService {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl PushService {
    pub fn start() -> PushService {
        let deps = pydeps();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = super::process::free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/push_service.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .env("PYTHONPATH", &deps)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the push service");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the push service did not start");
        PushService { port, dir, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A new browser subscription, as `PushSubscription.toJSON()` gives it.
    pub async fn subscribe(&self) -> serde_json::Value {
        let r = reqwest::Client::new()
            .post(self.url("/subscribe"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// Makes the subscription behind `endpoint` answer 410 Gone from now on.
    pub async fn make_gone(&self, endpoint: &str) {
        let id = endpoint.rsplit('/').next().unwrap();
        let r = reqwest::Client::new()
            .post(self.url(&format!("/gone/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// Answers the next `count` pushes with `status`.
    pub async fn fail(&self, status: u16, count: u32) {
        let r = reqwest::Client::new()
            .post(self.url("/fail"))
            .json(&serde_json::json!({"status": status, "count": count}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// Every push received so far, in order.
    pub fn received(&self) -> Vec<Pushed> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until at least `n` pushes came (panics after 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Pushed> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{n} pushes expected, got {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

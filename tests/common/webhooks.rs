//! A webhook receiver for the tests: `tests/common/webhook_receiver.py`, which verifies every
//! delivery with the `standardwebhooks` package from PyPI (installed once, pinned, into
//! `target/test-pydeps`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding `standardwebhooks` (installed with pip on first use).
fn pydeps() -> PathBuf {
    super::pydeps::install("webhooks", &["standardwebhooks==1.3.0"], "standardwebhooks")
}

/// One request the receiver got.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub verified: bool,
    pub error: Option<String>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A running receiver; stopped when dropped.
pub struct Receiver {
    pub port: u16,
    dir: tempfile::TempDir,
    secret_file: PathBuf,
    child: Child,
}

impl Receiver {
    /// Starts a receiver answering `status` (0: 204 when verified, 400 when not).
    pub fn start(status: u16) -> Receiver {
        let deps = pydeps();
        let dir = tempfile::tempdir().expect("temp dir");
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "").unwrap();
        let port = super::process::free_port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/webhook_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--status", &status.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .arg("--secret-file")
            .arg(&secret_file)
            .env("PYTHONPATH", &deps)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the webhook receiver did not start");
        Receiver {
            port,
            dir,
            secret_file,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Tells the receiver the endpoint's secret.
    pub fn set_secret(&self, secret: &str) {
        std::fs::write(&self.secret_file, secret).unwrap();
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
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

    /// Waits until `pred` holds for what was received (panics after `limit`).
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: got {got:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Headless Chromium driven over the DevTools protocol (a WebSocket), with the flags that
//! make WebRTC work here (fake camera and microphone, loopback candidates, no background
//! networking). No Node, no extra crates: launch, find the page target, `Runtime.evaluate`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The Chromium binary, if installed (`CHROMIUM` overrides the path).
pub fn chromium_path() -> Option<PathBuf> {
    let p = std::env::var("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/bin/chromium"));
    p.exists().then_some(p)
}

/// A running headless Chromium with one page.
pub struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    page: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Chromium {
    /// Starts Chromium on `url` and connects to its page.
    pub async fn open(url: &str) -> Chromium {
        let bin = chromium_path().expect("chromium installed");
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let port_file = profile.path().join("DevToolsActivePort");
        let mut port = None;
        for _ in 0..100 {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next()?.parse::<u16>().ok())
            {
                port = Some(p);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let port = port.expect("chromium wrote DevToolsActivePort");
        let mut ws_url = None;
        for _ in 0..50 {
            let list: Value = match reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await
            {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            ws_url = list
                .as_array()
                .and_then(|a| a.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_string));
            if ws_url.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (page, _) = tokio_tungstenite::connect_async(ws_url.expect("a page target"))
            .await
            .expect("CDP socket");
        Chromium {
            child,
            _profile: profile,
            page,
            next_id: 1,
        }
    }

    /// Evaluates `expr` in the page (promises awaited) and returns its JSON value.
    pub async fn eval(&mut self, expr: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let cmd = json!({"id": id, "method": "Runtime.evaluate",
            "params": {"expression": expr, "awaitPromise": true, "returnByValue": true}});
        self.page
            .send(Message::Text(cmd.to_string().into()))
            .await
            .expect("CDP send");
        while let Some(Ok(msg)) = self.page.next().await {
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["id"] == id {
                return v["result"]["result"]["value"].clone();
            }
        }
        Value::Null
    }

    /// Waits until `expr` is true (polling); on timeout, describes the page's state.
    pub async fn try_wait(&mut self, expr: &str, secs: u64, what: &str) -> Result<(), String> {
        for _ in 0..secs * 5 {
            if self.eval(expr).await == Value::Bool(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let status = self
            .eval("document.getElementById('status')?.textContent")
            .await;
        let stats = self
            .eval("window.parlorStats ? window.parlorStats() : null")
            .await;
        Err(format!(
            "timed out waiting for {what}; page status: {status}; stats: {stats}"
        ))
    }

    /// Like [`Chromium::try_wait`], but panics on timeout.
    pub async fn wait_until(&mut self, expr: &str, secs: u64, what: &str) {
        if let Err(e) = self.try_wait(expr, secs, what).await {
            panic!("{e}");
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

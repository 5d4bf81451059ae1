//! Headless Chromium driven over the DevTools protocol (a WebSocket), with the flags that
//! make WebRTC work here (fake camera and microphone, loopback candidates, no background
//! networking). No Node, no extra crates: launch, find the page target, `Runtime.evaluate`.
//! Also: a chosen viewport (`Launch`, `set_viewport`), navigation that waits for the load
//! event, PNG screenshots into `target/test-artifacts/screenshots/`, and a scan of every
//! element's computed colours for blue hues (`blue_elements`, the monochrome design rule).

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

/// True (after saying so loudly) when there is no Chromium to drive: the caller skips its
/// test. In CI (`CI` set) a missing Chromium is a failure, not a skip.
pub fn skip_without_chromium(test: &str) -> bool {
    if chromium_path().is_some() {
        return false;
    }
    assert!(std::env::var("CI").is_err(), "Chromium is required in CI");
    eprintln!("\n*** SKIPPED {test}: no Chromium at /usr/bin/chromium (set CHROMIUM=…) ***\n");
    true
}

/// How to start Chromium: the viewport, and whether camera/microphone requests are refused.
#[derive(Clone, Copy, Debug)]
pub struct Launch {
    /// Launch without `--use-fake-ui-for-media-stream` and with `--deny-permission-prompts`,
    /// so `getUserMedia` is refused as if the user said no.
    pub deny_media: bool,
    pub width: u32,
    pub height: u32,
    /// A host name Chromium resolves to 127.0.0.1: a page opened as `http://ALIAS:PORT` is
    /// not a secure context (only https and localhost are), as for a real server on plain
    /// http.
    pub host_alias: Option<&'static str>,
    /// A WAV file the fake microphone plays (looped) instead of Chromium's beep.
    pub fake_audio_wav: Option<&'static str>,
    /// Trust a server certificate with this public key (base64 SHA-256 of its
    /// SubjectPublicKeyInfo), as if its CA were installed: a test server's HTTPS.
    pub trust_spki: Option<&'static str>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            deny_media: false,
            width: 1280,
            height: 800,
            host_alias: None,
            fake_audio_wav: None,
            trust_spki: None,
        }
    }
}

/// A running headless Chromium with one page.
pub struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    page: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    width: u32,
    height: u32,
}

impl Chromium {
    /// Starts Chromium on `url` (1280×800, fake media allowed) and connects to its page.
    pub async fn open(url: &str) -> Chromium {
        Chromium::open_with(url, Launch::default()).await
    }

    /// Starts Chromium on `url` with `launch`'s viewport and media permission.
    pub async fn open_with(url: &str, launch: Launch) -> Chromium {
        let bin = chromium_path().expect("chromium installed");
        let profile = tempfile::tempdir().unwrap();
        let media_flag = if launch.deny_media {
            "--deny-permission-prompts"
        } else {
            "--use-fake-ui-for-media-stream"
        };
        let child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-device-for-media-stream",
                media_flag,
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={},{}", launch.width, launch.height))
            .args(
                launch
                    .host_alias
                    .map(|h| format!("--host-resolver-rules=MAP {h} 127.0.0.1")),
            )
            .args(
                launch
                    .fake_audio_wav
                    .map(|w| format!("--use-file-for-fake-audio-capture={w}")),
            )
            .args(
                launch
                    .trust_spki
                    .map(|k| format!("--ignore-certificate-errors-spki-list={k}")),
            )
            .arg(format!("--user-data-dir={}", profile.path().display()))
            // Start blank: the page is set up (error log, viewport) before the URL loads, and
            // `open` returns only after the URL's load event, never while still on about:blank.
            .arg("about:blank")
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
        let mut browser = Chromium {
            child,
            _profile: profile,
            page,
            next_id: 1,
            width: launch.width,
            height: launch.height,
        };
        browser.call("Page.enable", json!({})).await;
        browser
            .call(
                "Emulation.setFocusEmulationEnabled",
                json!({"enabled": true}),
            )
            .await;
        browser
            .call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": ERROR_LOG}),
            )
            .await;
        browser.set_viewport(launch.width, launch.height).await;
        if url != "about:blank" {
            browser.navigate(url).await;
        }
        browser
    }

    /// Sends one DevTools command and returns its `result` (events in between are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_then(method, params, None).await
    }

    /// Sends a command; when `event` is given, also waits for that event before returning.
    async fn call_then(&mut self, method: &str, params: Value, event: Option<&str>) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let cmd = json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::Text(cmd.to_string().into()))
            .await
            .expect("CDP send");
        let mut result = None;
        let mut seen_event = event.is_none();
        while let Some(Ok(msg)) = self.page.next().await {
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["id"] == id {
                result = Some(v["result"].clone());
            } else if event.is_some_and(|e| v["method"] == e) && result.is_some() {
                seen_event = true;
            }
            if seen_event && let Some(r) = result.take() {
                return r;
            }
        }
        Value::Null
    }

    /// Sends one DevTools command (any domain) and returns its `result`.
    pub async fn cdp(&mut self, method: &str, params: Value) -> Value {
        self.call(method, params).await
    }

    /// Sends a DevTools command and collects the `event` notifications that arrive until
    /// `until` holds for one of them (or `secs` pass): returns those events.
    pub async fn cdp_events(
        &mut self,
        method: &str,
        params: Value,
        event: &str,
        until: impl Fn(&Value) -> bool,
        secs: u64,
    ) -> Vec<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let cmd = json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::Text(cmd.to_string().into()))
            .await
            .expect("CDP send");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, self.page.next()).await {
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["method"] == event {
                let done = until(&v["params"]);
                seen.push(v["params"].clone());
                if done {
                    break;
                }
            }
        }
        seen
    }

    /// Evaluates `expr` in the page (promises awaited) and returns its JSON value.
    pub async fn eval(&mut self, expr: &str) -> Value {
        let params = json!({"expression": expr, "awaitPromise": true, "returnByValue": true});
        self.call("Runtime.evaluate", params).await["result"]["value"].clone()
    }

    /// Emulates a `width`×`height` viewport; below 500 px wide, as a phone (mobile, touch).
    pub async fn set_viewport(&mut self, width: u32, height: u32) {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": width < 500});
        self.call("Emulation.setDeviceMetricsOverride", params)
            .await;
        self.width = width;
        self.height = height;
    }

    /// Content-Security-Policy violations, uncaught errors and unhandled promise rejections
    /// of the current document, in words (empty when clean).
    pub async fn page_errors(&mut self) -> Vec<String> {
        let v = self.eval("window.parlorPageErrors || []").await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Presses and releases `key` ("Tab", "Enter", "Space" or "Escape") as a keyboard does,
    /// with Shift held when `shift`.
    pub async fn press_key(&mut self, key: &str, shift: bool) {
        let (code, vk, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            "Space" => ("Space", 32, " "),
            "Escape" => ("Escape", 27, ""),
            other => panic!("press_key does not know {other}"),
        };
        let key_name = if key == "Space" { " " } else { key };
        let modifiers = if shift { 8 } else { 0 };
        for kind in ["keyDown", "keyUp"] {
            let mut params = json!({"type": kind, "key": key_name, "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk, "modifiers": modifiers});
            if kind == "keyDown" && !text.is_empty() {
                params["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", params).await;
        }
    }

    /// Opens `url` in the page and waits for its load event (a new document; a change of
    /// only the `#fragment` fires none, so use `eval("location.hash = …")` for that).
    pub async fn navigate(&mut self, url: &str) {
        if url.contains('#') && !url.starts_with("about:") {
            // Going to the same URL with a #fragment again is a same-document navigation,
            // which fires no load event: start from a blank page so the page really loads.
            Box::pin(self.navigate("about:blank")).await;
        }
        let load = self.call_then(
            "Page.navigate",
            json!({"url": url}),
            Some("Page.loadEventFired"),
        );
        let r = tokio::time::timeout(Duration::from_secs(30), load)
            .await
            .unwrap_or_else(|_| panic!("navigating to {url}: no load event within 30 s"));
        assert!(r["errorText"].is_null(), "navigating to {url}: {r}");
    }

    /// Saves a PNG of the viewport as `target/test-artifacts/screenshots/{name}-{w}x{h}.png`
    /// and returns its path.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{name}-{}x{}.png", self.width, self.height));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Every element (and `::before`/`::after`/`::placeholder`, the focus ring of each
    /// focusable element, and the page's `::selection`) whose computed colours include a
    /// blue hue, each described as `selector property colour`. Empty means monochrome.
    pub async fn blue_elements(&mut self) -> Vec<String> {
        let v = self.eval(&format!("({BLUE_SCAN})()")).await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("the colour scan failed: {v}")])
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

/// Installed in every document before its own scripts: records CSP violations, uncaught
/// errors and unhandled rejections in `window.parlorPageErrors`.
const ERROR_LOG: &str = r#"window.parlorPageErrors = [];
addEventListener("securitypolicyviolation", (e) => parlorPageErrors.push(`CSP blocked ${e.effectiveDirective}: ${e.blockedURI || "inline"} (${e.sourceFile || ""}:${e.lineNumber})`));
addEventListener("error", (e) => parlorPageErrors.push(`uncaught error: ${e.message} (${e.filename}:${e.lineno})`));
addEventListener("unhandledrejection", (e) => parlorPageErrors.push(`unhandled rejection: ${e.reason && (e.reason.stack || e.reason.message) || e.reason}`));"#;

/// The colour scan, evaluated in the page. Each colour is painted on a 1×1 canvas and read
/// back as sRGB (so any CSS colour syntax works); a colour counts as blue when its HSL hue is
/// within 190°–260°, its saturation is above 12 % and its channels are not all within 12
/// of each other (near-grey). Fully transparent colours are ignored.
const BLUE_SCAN: &str = r##"() => {
  const props = ["color", "background-color", "border-top-color", "border-right-color",
    "border-bottom-color", "border-left-color", "outline-color", "text-decoration-color",
    "fill", "stroke", "caret-color", "accent-color", "column-rule-color",
    "-webkit-text-fill-color", "-webkit-tap-highlight-color"];
  const ctx = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const cache = new Map();
  const rgba = (c) => {
    if (cache.has(c)) return cache.get(c);
    let out = null;
    if (c && c !== "none" && !c.startsWith("url(") && c !== "auto") {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = "#000";
      ctx.fillStyle = c;
      ctx.fillRect(0, 0, 1, 1);
      out = Array.from(ctx.getImageData(0, 0, 1, 1).data);
    }
    cache.set(c, out);
    return out;
  };
  const blue = (c) => {
    const p = rgba(c);
    if (!p || p[3] === 0) return false;
    const [r, g, b] = p.map((x) => x / 255);
    const max = Math.max(r, g, b), min = Math.min(r, g, b), d = max - min;
    if (d * 255 <= 12) return false;
    const l = (max + min) / 2;
    const s = d / (1 - Math.abs(2 * l - 1));
    let h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
    h = (h * 60 + 360) % 360;
    return h >= 190 && h <= 260 && s > 0.12;
  };
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    if (el.classList && el.classList.length) d += "." + Array.from(el.classList).join(".");
    const t = (el.getAttribute && (el.getAttribute("aria-label") || el.textContent || "")).trim().slice(0, 30);
    return t ? `${d} "${t}"` : d;
  };
  const found = [];
  const check = (el, pseudo, label) => {
    const cs = getComputedStyle(el, pseudo);
    if (pseudo && pseudo !== "::selection" && (cs.content === "none" || cs.content === "normal")
        && pseudo !== "::placeholder") return;
    for (const p of props) {
      const v = cs.getPropertyValue(p);
      if (blue(v)) found.push(`${describe(el)}${label || pseudo || ""} ${p} ${v}`);
    }
  };
  const all = [document.documentElement, ...document.querySelectorAll("*")];
  for (const el of all) {
    check(el, null);
    check(el, "::before");
    check(el, "::after");
    if (el.matches("input, textarea")) check(el, "::placeholder");
  }
  const sel = getComputedStyle(document.body, "::selection").backgroundColor;
  const selRgba = rgba(sel);
  if (!selRgba || selRgba[3] === 0) found.push(`::selection background-color is the browser default (${sel})`);
  else if (blue(sel)) found.push(`::selection background-color ${sel}`);
  const active = document.activeElement;
  const focusable = document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]");
  for (const el of focusable) {
    if (el.disabled) continue;
    el.focus({ preventScroll: true });
    if (document.activeElement !== el) continue;
    for (const p of ["outline-color", "border-top-color", "box-shadow", "background-color", "color"]) {
      const v = getComputedStyle(el).getPropertyValue(p);
      const colours = p === "box-shadow" ? (v.match(/rgba?\([^)]*\)/g) || []) : [v];
      for (const c of colours) if (blue(c)) found.push(`${describe(el)}:focus ${p} ${c}`);
    }
  }
  if (active && active.focus) active.focus({ preventScroll: true }); else document.activeElement?.blur();
  return found;
}"##;

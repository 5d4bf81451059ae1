//! Every page of the browser client, in real headless Chromium against a real server:
//! logged out, as a client, as a coach and as an admin, at 360×740 (phone) and 1280×800 (desktop). Each
//! visit saves a screenshot to `target/test-artifacts/screenshots/{name}-{w}x{h}.png` and
//! scans the computed colours of every element: any blue hue fails the test, naming the
//! element and property. A page whose server has gone away must say so in words.
//!
//! To add a page, add one line to [`PAGES`]: a name, a path (with `{coach}`, `{room}` and
//! `{token}` filled in from the seeded data) and who is logged in. A page signals that its
//! first render is done by setting `document.body.dataset.ready = "true"`.
//!
//! Runs in CI (`.ci/run` installs Chromium); elsewhere it is skipped, loudly, when Chromium
//! is absent.

use crate::common;

use common::TestApp;
use common::browser::{Chromium, Launch};
use serde_json::json;

/// Who is logged in when a page is visited.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Visitor {
    Nobody,
    Client,
    Coach,
    Admin,
}

/// One page visit: screenshot name, path, visitor.
struct PageVisit {
    name: &'static str,
    path: &'static str,
    visitor: Visitor,
}

const fn page(name: &'static str, path: &'static str, visitor: Visitor) -> PageVisit {
    PageVisit {
        name,
        path,
        visitor,
    }
}

/// Every page, once per visitor it looks different for.
const PAGES: &[PageVisit] = &[
    page("landing", "/", Visitor::Nobody),
    page("login", "/login", Visitor::Nobody),
    page("signup", "/signup", Visitor::Nobody),
    page("reset-password", "/reset-password", Visitor::Nobody),
    page(
        "reset-password-link",
        "/reset-password#token=abc",
        Visitor::Nobody,
    ),
    page("verify-email", "/verify-email", Visitor::Nobody),
    page(
        "verify-email-link",
        "/verify-email#token=abc",
        Visitor::Nobody,
    ),
    page("dashboard", "/", Visitor::Client),
    page("book", "/book", Visitor::Client),
    page("book-coach", "/book?coach={coach}", Visitor::Client),
    page("upcoming", "/upcoming", Visitor::Client),
    page("account", "/account", Visitor::Client),
    page("coach-not-linked", "/coach", Visitor::Client),
    page("dashboard-coach", "/", Visitor::Coach),
    page("coach", "/coach", Visitor::Coach),
    page("admin", "/admin", Visitor::Admin),
    page("room-prejoin", "/r/{room}#token={token}", Visitor::Client),
    page("voice", "/voice", Visitor::Client),
];

const SIZES: [(u32, u32); 2] = [(360, 740), (1280, 800)];

/// True once the page has rendered (its module sets `data-ready`).
const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

/// Touch targets of at least 44×44 px: every control (links inside running text are
/// exempt); returns the offenders.
const TOUCH_CHECK: &str = r##"(() => {
  const found = [];
  for (const el of document.querySelectorAll("button, select, textarea, input, a.btn, nav a, a.brand")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    const target = el.matches("input[type=checkbox], input[type=radio]") ? (el.closest("label") || el) : el;
    const r = target.getBoundingClientRect();
    const label = (el.getAttribute("aria-label") || el.textContent || el.id || "").trim().slice(0, 30);
    if (r.height < 43.5 || r.width < 43.5) found.push(`small touch target (${Math.round(r.width)}x${Math.round(r.height)}): ${el.tagName.toLowerCase()} "${label}"`);
  }
  return found;
})()"##;

/// Describes the element keyboard focus is on: whether it shows a focus ring (an outline of
/// 2 px or more, or a box shadow) and whether that ring is blue; null on <body>. Each
/// element is marked so a walk can tell when Tab has come round again; `same` means Tab
/// moved inside one control (the hour and minute fields of a time input).
const FOCUS_CHECK: &str = r##"(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  if (el === window.lastTabStop) return { same: true };
  window.lastTabStop = el;
  if (el.dataset.tabSeen) return { again: true };
  el.dataset.tabSeen = "1";
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== "none";
  const m = cs.outlineColor.match(/[\d.]+/g) || [];
  const [r, g, b] = m.slice(0, 3).map(Number);
  const max = Math.max(r, g, b), min = Math.min(r, g, b);
  const blue = max - min > 12 && b === max && b > r + 12;
  const desc = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${(el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 30)}"`;
  return { desc, ring, blue, outline: cs.outlineColor };
})()"##;

/// Walks the page with the Tab key: every stop must show a visible, non-blue focus ring.
async fn keyboard_walk(b: &mut Chromium, name: &str) -> Vec<String> {
    b.eval("document.activeElement?.blur(), window.scrollTo(0, 0), true")
        .await;
    let mut problems = Vec::new();
    let mut stops = 0;
    for _ in 0..300 {
        b.press_key("Tab", false).await;
        let v = b.eval(FOCUS_CHECK).await;
        if v.is_null() || v["again"] == json!(true) {
            break;
        }
        if v["same"] == json!(true) {
            continue; // Tab moved between the fields of one control (hours, minutes)
        }
        stops += 1;
        if v["ring"] != json!(true) {
            problems.push(format!("{name}: no visible focus ring on {}", v["desc"]));
        }
        if v["blue"] == json!(true) {
            problems.push(format!(
                "{name}: blue focus ring {} on {}",
                v["outline"], v["desc"]
            ));
        }
    }
    eprintln!("{name}: {stops} Tab stops");
    if stops == 0 {
        problems.push(format!("{name}: the Tab key reaches nothing"));
    }
    problems
}

/// The ids the page paths refer to.
struct Seeded {
    coach: String,
    room: String,
    token: String,
}

/// Logs the browser in through the page's own `fetch` (so it carries the page's Origin).
async fn log_in(b: &mut Chromium, app: &TestApp, email: &str) {
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the login page").await;
    let expr = format!(
        "fetch('/api/auth/login', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, \
         body: JSON.stringify({{email: '{email}', password: 'correct horse battery'}})}}).then(r => r.status)"
    );
    assert_eq!(b.eval(&expr).await, json!(200), "log in as {email}");
}

/// A coach, a client and one booked video session between them.
async fn seed(app: &TestApp) -> Seeded {
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, chrono::Duration::hours(30)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(
            &json!({"coach_id": coach, "starts_at": at, "session_type": "video",
            "focus_area": "Preparing for a new role"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let b: serde_json::Value = r.json().await.unwrap();
    // Room tokens are minted from 15 minutes before the start: move the server's clock there.
    {
        let start: chrono::DateTime<chrono::Utc> =
            b["starts_at"].as_str().unwrap().parse().unwrap();
        app.clock
            .advance(start - app.clock.now() - chrono::Duration::minutes(10));
    }
    let room = b["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let t: serde_json::Value = client
        .post(app.url(&format!("/api/rooms/{room}/token")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Seeded {
        coach,
        room,
        token: t["token"].as_str().unwrap().to_string(),
    }
}

fn fill(path: &str, s: &Seeded) -> String {
    path.replace("{coach}", &s.coach)
        .replace("{room}", &s.room)
        .replace("{token}", &s.token)
}

/// Visits every page of `visitor` at both sizes; returns the problems found.
async fn visit_all(app: &TestApp, seeded: &Seeded, visitor: Visitor) -> Vec<String> {
    let mut b = Chromium::open_with("about:blank", Launch::default()).await;
    match visitor {
        Visitor::Nobody => {}
        Visitor::Client => log_in(&mut b, app, "client@example.org").await,
        Visitor::Coach => log_in(&mut b, app, "coach@example.org").await,
        Visitor::Admin => log_in(&mut b, app, "admin@example.org").await,
    }
    let mut problems = Vec::new();
    for p in PAGES.iter().filter(|p| p.visitor == visitor) {
        for (w, h) in SIZES {
            b.set_viewport(w, h).await;
            b.navigate(&app.url(&fill(p.path, seeded))).await;
            if let Err(e) = b.try_wait(READY, 15, p.name).await {
                problems.push(format!("{} at {w}x{h}: {e}", p.name));
                continue;
            }
            let path = b.screenshot(p.name).await;
            eprintln!("screenshot {}", path.display());
            problems.extend(keyboard_walk(&mut b, &format!("{} at {w}x{h}", p.name)).await);
            let blue = b.blue_elements().await;
            problems.extend(
                blue.into_iter()
                    .map(|e| format!("{} at {w}x{h}: {e}", p.name)),
            );
            let errors = b.page_errors().await;
            problems.extend(errors.iter().map(|e| format!("{} at {w}x{h}: {e}", p.name)));
            let touch = b.eval(TOUCH_CHECK).await;
            let touch = touch.as_array().cloned().unwrap_or_default();
            problems.extend(touch.iter().map(|e| format!("{} at {w}x{h}: {e}", p.name)));
            let wide = b
                .eval("document.documentElement.scrollWidth > window.innerWidth + 1")
                .await;
            if wide == json!(true) {
                problems.push(format!("{} at {w}x{h}: scrolls sideways", p.name));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_monochrome_at_phone_and_desktop_sizes() {
    if crate::common::browser::skip_without_chromium(
        "every_page_is_monochrome_at_phone_and_desktop_sizes",
    ) {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let seeded = seed(&app).await;
    let mut problems = Vec::new();
    for visitor in [
        Visitor::Nobody,
        Visitor::Client,
        Visitor::Coach,
        Visitor::Admin,
    ] {
        problems.extend(visit_all(&app, &seeded, visitor).await);
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_server_is_explained_in_words() {
    if crate::common::browser::skip_without_chromium("a_vanished_server_is_explained_in_words") {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let _ = app.client_user("client@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    log_in(&mut b, &app, "client@example.org").await;
    b.navigate(&app.url("/upcoming")).await;
    b.wait_until(READY, 15, "the upcoming page").await;
    let mut login = Chromium::open("about:blank").await;
    login.navigate(&app.url("/login")).await;
    login.wait_until(READY, 15, "the login page").await;
    drop(app);

    b.eval("document.getElementById('feed-link').click(), true")
        .await;
    b.wait_until(
        "document.querySelector('#feed .notice-error')?.textContent.includes('Cannot reach the server')",
        15,
        "the calendar feed button to say the server cannot be reached",
    )
    .await;

    login
        .eval(
            "document.getElementById('email').value = 'client@example.org', \
             document.getElementById('password').value = 'correct horse battery', \
             document.querySelector('#login-form button[type=submit]').click(), true",
        )
        .await;
    login
        .wait_until(
            "document.getElementById('form-status').textContent.includes('Cannot reach the server')",
            15,
            "the login form to say the server cannot be reached",
        )
        .await;
    login.screenshot("server-unreachable-login").await;
}

/// The checks themselves must be able to fail: an inline event handler is blocked by the
/// CSP and recorded, and a blue link colour and the default selection colour are reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_colour_scan_reports_blue_and_the_default_selection() {
    if crate::common::browser::skip_without_chromium(
        "the_colour_scan_reports_blue_and_the_default_selection",
    ) {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the login page").await;
    assert_eq!(b.blue_elements().await, Vec::<String>::new());
    assert_eq!(b.page_errors().await, Vec::<String>::new());
    b.eval("document.body.insertAdjacentHTML('beforeend', '<img alt=\"\" src=\"data:,\" onerror=\"1\">'), true")
        .await;
    b.wait_until(
        "window.parlorPageErrors.some(e => e.startsWith('CSP blocked'))",
        5,
        "the CSP to block an inline handler and the test support to record it",
    )
    .await;
    b.eval(
        "(() => { const a = document.createElement('a'); a.id = 'planted'; a.href = '#'; \
         a.textContent = 'planted'; a.style.textDecorationColor = 'oklch(0.55 0.2 260)'; \
         document.body.append(a); return true; })()",
    )
    .await;
    let found = b.blue_elements().await;
    assert!(
        found
            .iter()
            .any(|f| f.contains("a#planted") && f.contains("text-decoration-color")),
        "{found:?}"
    );
    b.navigate("about:blank").await;
    b.eval("document.body.append('plain text'), true").await;
    let found = b.blue_elements().await;
    assert!(found.iter().any(|f| f.contains("::selection")), "{found:?}");
}

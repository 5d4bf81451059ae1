//! A client's whole booking journey in real headless Chromium against a real server: sign
//! up in the UI, book a video session with a coach, see it in Upcoming, download its .ics,
//! book a second one and cancel it; a time taken by someone else between loading and
//! confirming is explained and the nearest free time offered; the coach sees the session,
//! writes a note and edits the weekly hours and a date override. Every step is checked
//! against the API, not only the page.
//!
//! Runs in CI (`.ci/run` installs Chromium); elsewhere it is skipped, loudly, when Chromium
//! is absent.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use serde_json::{Value, json};

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

/// Sets a form control's value the way typing does (fires `input` and `change`).
fn set_value(selector: &str, value: &str) -> String {
    format!(
        "(() => {{ const el = document.querySelector({sel}); el.value = {val}; \
         el.dispatchEvent(new Event('input', {{bubbles: true}})); \
         el.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
        sel = json!(selector),
        val = json!(value)
    )
}

async fn click(b: &mut Chromium, selector: &str) {
    let expr = format!(
        "(() => {{ const el = document.querySelector({}); if (!el) return false; el.click(); return true; }})()",
        json!(selector)
    );
    assert_eq!(b.eval(&expr).await, json!(true), "click {selector}");
}

async fn open_page(b: &mut Chromium, app: &TestApp, path: &str) {
    b.navigate(&app.url(path)).await;
    b.wait_until(READY, 15, path).await;
}

/// On /book?coach=…: chooses the `nth` day that has free times and its first time;
/// returns that slot's start (RFC 3339).
async fn pick_slot(b: &mut Chromium, nth_day: usize) -> String {
    b.wait_until(
        "document.querySelectorAll('.day-btn:not([disabled])').length > 3",
        15,
        "days with free times",
    )
    .await;
    let expr =
        format!("document.querySelectorAll('.day-btn:not([disabled])')[{nth_day}].click(), true");
    b.eval(&expr).await;
    b.wait_until(
        "document.querySelector('.slot-btn') !== null",
        10,
        "times of the chosen day",
    )
    .await;
    click(b, ".slot-btn").await;
    b.eval("document.querySelector('.slot-btn[aria-pressed=\"true\"]').dataset.start")
        .await
        .as_str()
        .expect("a chosen slot")
        .to_string()
}

async fn confirm_booking(b: &mut Chromium) {
    b.wait_until(
        "document.getElementById('confirm').disabled === false",
        5,
        "the confirm button",
    )
    .await;
    click(b, "#confirm").await;
    b.wait_until(
        "document.querySelector('.booked') !== null",
        15,
        "the booking confirmation",
    )
    .await;
}

async fn my_bookings(b: &mut Chromium, scope: &str) -> Vec<Value> {
    let v = b
        .eval(&format!(
            "fetch('/api/bookings?scope={scope}').then(r => r.json())"
        ))
        .await;
    v.as_array().cloned().unwrap_or_default()
}

/// The page in its current state (panels open, messages shown) has no blue anywhere.
async fn assert_monochrome(b: &mut Chromium, state: &str) {
    let blue = b.blue_elements().await;
    assert!(blue.is_empty(), "blue while {state}:\n{}", blue.join("\n"));
}

fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().expect("an RFC 3339 time").parse().unwrap()
}

fn ics_stamp(rfc3339: &str) -> String {
    let t: chrono::DateTime<chrono::Utc> = rfc3339.parse().unwrap();
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

async fn sign_up(b: &mut Chromium, app: &TestApp) {
    open_page(b, app, "/signup").await;
    b.eval(&set_value("#name", "Robin Client")).await;
    b.eval(&set_value("#email", "robin@example.org")).await;
    b.eval(&set_value("#password", "a long enough password"))
        .await;
    click(b, "#signup-form button[type=submit]").await;
    b.wait_until(
        "location.pathname === '/' && document.body.dataset.ready === 'true' && document.querySelector('h1')?.textContent.includes('Robin')",
        15,
        "the dashboard after signing up",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_books_sees_downloads_and_cancels_and_the_coach_follows_up() {
    if crate::common::browser::skip_without_chromium("browser booking journey") {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let admin = app.admin().await;
    let (coach_api, coach_id) = app.coach(&admin, "coach@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    sign_up(&mut b, &app).await;

    // First booking: video, soon.
    open_page(&mut b, &app, &format!("/book?coach={coach_id}")).await;
    b.eval(&set_value("#focus", "Preparing for a promotion"))
        .await;
    let first_start = pick_slot(&mut b, 0).await;
    confirm_booking(&mut b).await;
    let up = my_bookings(&mut b, "upcoming").await;
    assert_eq!(up.len(), 1, "{up:?}");
    let first = up[0].clone();
    assert_eq!(instant(&first["starts_at"]), instant(&json!(first_start)));
    assert_eq!(first["session_type"], "video");
    assert_eq!(first["focus_area"], "Preparing for a promotion");
    let first_id = first["id"].as_str().unwrap().to_string();

    // Upcoming shows it, with a join button and an .ics link that serves this booking.
    open_page(&mut b, &app, "/upcoming").await;
    let card = format!("[data-booking=\"{first_id}\"]");
    let text = b
        .eval(&format!("document.querySelector('{card}').textContent"))
        .await;
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains("Coach Person")
            && text.contains("Video call")
            && text.contains("Preparing for a promotion"),
        "{text}"
    );
    assert_eq!(
        b.eval(&format!("!!document.querySelector('{card} .join-video')"))
            .await,
        json!(true)
    );
    let ics = b
        .eval(&format!(
            "fetch(document.querySelector('{card} .add-to-calendar').href)\
             .then(async r => ({{status: r.status, type: r.headers.get('content-type'), body: await r.text()}}))"
        ))
        .await;
    assert_eq!(ics["status"], 200, "{ics}");
    assert!(
        ics["type"].as_str().unwrap().starts_with("text/calendar"),
        "{ics}"
    );
    let body = ics["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("UID:{}", first["calendar_uid"].as_str().unwrap())),
        "{body}"
    );
    assert!(
        body.contains(&format!("DTSTART:{}", ics_stamp(&first_start))),
        "{body}"
    );

    // Second booking, more than a day ahead (outside the cancel cut-off), then cancel it.
    open_page(&mut b, &app, &format!("/book?coach={coach_id}")).await;
    let second_start = pick_slot(&mut b, 2).await;
    confirm_booking(&mut b).await;
    let up = my_bookings(&mut b, "upcoming").await;
    assert_eq!(up.len(), 2, "{up:?}");
    let second = up.iter().find(|x| x["id"] != first["id"]).unwrap().clone();
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(instant(&second["starts_at"]), instant(&json!(second_start)));
    open_page(&mut b, &app, "/upcoming").await;
    let card2 = format!("[data-booking=\"{second_id}\"]");
    // The first session is within the 24-hour cut-off: no cancel button, and the page says why.
    let first_text = b
        .eval(&format!("document.querySelector('{card}').textContent"))
        .await;
    assert_eq!(
        b.eval(&format!("!document.querySelector('{card} .cancel')"))
            .await,
        json!(true)
    );
    assert!(
        first_text.as_str().unwrap().contains("cancelling closed"),
        "{first_text}"
    );
    click(&mut b, &format!("#upcoming-list {card2} .cancel")).await;
    click(&mut b, &format!("#upcoming-list {card2} .confirm-cancel")).await;
    b.wait_until(
        &format!("!document.querySelector('#upcoming-list {card2}') && !!document.querySelector('#past-list {card2} .badge')"),
        15,
        "the cancelled session to leave Upcoming and show as cancelled",
    )
    .await;
    let badge = b
        .eval(&format!(
            "document.querySelector('#past-list {card2} .badge').textContent"
        ))
        .await;
    assert_eq!(badge, json!("Cancelled"));
    let up = my_bookings(&mut b, "upcoming").await;
    assert_eq!(up.len(), 1);

    // A time taken meanwhile: someone else books the chosen slot before we confirm.
    open_page(&mut b, &app, &format!("/book?coach={coach_id}")).await;
    let wanted = pick_slot(&mut b, 3).await;
    let (rival, _) = app.client_user("rival@example.org").await;
    let r = rival
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": wanted, "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    click(&mut b, "#confirm").await;
    b.wait_until(
        "document.getElementById('book-status').dataset.code === 'slot_taken'",
        15,
        "the explanation that the time was taken",
    )
    .await;
    let said = b
        .eval("document.getElementById('book-status').textContent")
        .await;
    let said = said.as_str().unwrap();
    assert!(
        said.contains("no longer free") && said.contains("nearest free time"),
        "{said}"
    );
    let offered = b
        .eval("document.querySelector('.slot-btn[aria-pressed=\"true\"]')?.dataset.start")
        .await;
    let offered = offered
        .as_str()
        .expect("another time is offered")
        .to_string();
    assert_ne!(offered, wanted);
    b.screenshot("book-slot-taken").await;
    assert_monochrome(&mut b, "explaining a taken slot").await;
    confirm_booking(&mut b).await;
    let up = my_bookings(&mut b, "upcoming").await;
    let third = up
        .iter()
        .find(|x| instant(&x["starts_at"]) == instant(&json!(offered)))
        .expect("the offered time was booked");
    let third_id = third["id"].as_str().unwrap().to_string();

    // Reschedule it (it is days ahead, inside the reschedule window) to another free time.
    open_page(&mut b, &app, "/upcoming").await;
    let card3 = format!("#upcoming-list [data-booking=\"{third_id}\"]");
    click(&mut b, &format!("{card3} .reschedule")).await;
    b.wait_until(
        &format!("document.querySelectorAll('{card3} .reschedule-panel .slot-btn').length > 1"),
        15,
        "free times to move to",
    )
    .await;
    let moved_to = b
        .eval(&format!(
            "(() => {{ const s = [...document.querySelectorAll('{card3} .slot-btn')].find(b => b.dataset.start !== {offered}); \
             s.click(); return s.dataset.start; }})()",
            offered = json!(offered)
        ))
        .await;
    assert_monochrome(&mut b, "choosing a new time").await;
    click(&mut b, &format!("{card3} .confirm-move")).await;
    b.wait_until(
        &format!("!document.querySelector('{card3} .reschedule-panel')"),
        15,
        "the move to finish",
    )
    .await;
    let moved = b
        .eval(&format!(
            "fetch('/api/bookings/{third_id}').then(r => r.json())"
        ))
        .await;
    assert_eq!(instant(&moved["starts_at"]), instant(&moved_to), "{moved}");
    assert_eq!(moved["sequence"], 1, "{moved}");

    // "Join video call" mints a join token and opens the booking's room with it; tokens
    // are minted from 15 minutes before the start, so the server's clock moves there.
    let first_start: chrono::DateTime<chrono::Utc> =
        first["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(first_start - app.clock.now() - chrono::Duration::minutes(10));
    open_page(&mut b, &app, "/upcoming").await;
    click(&mut b, &format!("{card} .join-video")).await;
    let room = first["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    b.wait_until(
        &format!("location.pathname === '/r/{room}' && location.hash.startsWith('#token=')"),
        15,
        "the room page with a join token",
    )
    .await;
    drop(b);

    coach_follows_up(&app, &coach_api, &coach_id, &first_id).await;
}

/// The coach sees the client's session, writes a private note, closes Sundays and adds a
/// closed date.
async fn coach_follows_up(
    app: &TestApp,
    coach_api: &reqwest::Client,
    coach_id: &str,
    booking: &str,
) {
    let mut c = Chromium::open("about:blank").await;
    open_page(&mut c, app, "/login").await;
    c.eval(&set_value("#email", "coach@example.org")).await;
    c.eval(&set_value("#password", "not the password")).await;
    click(&mut c, "#login-form button[type=submit]").await;
    c.wait_until(
        "document.getElementById('form-status').textContent === 'Email or password is wrong.'",
        10,
        "a wrong password to be explained",
    )
    .await;
    c.eval(&set_value("#password", "correct horse battery"))
        .await;
    click(&mut c, "#login-form button[type=submit]").await;
    c.wait_until(
        "location.pathname === '/' && document.body.dataset.ready === 'true'",
        15,
        "the coach's dashboard",
    )
    .await;
    open_page(&mut c, app, "/coach").await;
    let card = format!("[data-booking=\"{booking}\"]");
    let text = c
        .eval(&format!("document.querySelector('{card}')?.textContent"))
        .await;
    assert!(
        text.as_str().unwrap_or_default().contains("Robin Client"),
        "{text}"
    );
    c.eval(&set_value(
        &format!("#notes-{booking}"),
        "Talked about the promotion plan.",
    ))
    .await;
    click(&mut c, &format!("{card} .save-notes")).await;
    c.wait_until(
        &format!("document.querySelector('{card}').textContent.includes('Notes saved')"),
        10,
        "the notes to save",
    )
    .await;
    let b: Value =
        crate::common::get_json(coach_api, app.url(&format!("/api/bookings/{booking}"))).await;
    assert_eq!(b["coach_notes"], "Talked about the promotion plan.");

    let closed_day = (chrono::Utc::now() + chrono::Duration::days(20))
        .format("%Y-%m-%d")
        .to_string();
    click(&mut c, "#open-Sun").await;
    click(&mut c, ".add-override").await;
    c.eval(&set_value(".override .ov-date", &closed_day)).await;
    click(&mut c, "#save-availability").await;
    c.wait_until(
        "document.getElementById('av-status').textContent.includes('Availability saved')",
        10,
        "the availability to save",
    )
    .await;
    let coach: Value =
        crate::common::get_json(coach_api, app.url(&format!("/api/coaches/{coach_id}"))).await;
    let av = &coach["availability"];
    let weekly = av["weekly"].as_array().unwrap();
    assert_eq!(weekly.len(), 6, "{av}");
    assert!(weekly.iter().all(|r| r["weekday"] != "Sun"), "{av}");
    assert_eq!(
        av["overrides"],
        json!([{"date": closed_day, "windows": []}])
    );
    c.screenshot("coach-after-edits").await;
    assert_monochrome(&mut c, "editing availability").await;
}

//! Rating a past session in real headless Chromium: after a booked session has ended (the
//! server's clock is moved past it), the client finds it under past sessions in Upcoming,
//! is asked to choose a rating before sending, rates it, and the rating is stored and shown.
//! The past list is the server's (its clock decides what is past), not the browser's.
//!
//! Runs in CI (`.ci/run` installs Chromium); elsewhere it is skipped, loudly, when Chromium
//! is absent.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use serde_json::{Value, json};

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_rates_a_past_session_from_the_upcoming_page() {
    if crate::common::browser::skip_without_chromium("a_client_rates_a_past_session") {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let admin = app.admin().await;
    let (_, coach_id) = app.coach(&admin, "rated-coach@example.org").await;
    let (api, _) = app.client_user("rater@example.org").await;
    let starts = app.free_slot(&coach_id, chrono::Duration::hours(30)).await;
    let r = api
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": starts, "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booking: Value = r.json().await.unwrap();
    let id = booking["id"].as_str().unwrap().to_string();
    app.clock.advance(chrono::Duration::hours(40));

    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login?next=%2Fupcoming")).await;
    b.wait_until(READY, 15, "the login form").await;
    b.eval(
        "document.getElementById('email').value = 'rater@example.org', \
         document.getElementById('password').value = 'correct horse battery', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    let form = format!("document.querySelector('[data-booking=\"{id}\"] .rate-form')");
    b.wait_until(
        &format!("location.pathname === '/upcoming' && {READY} && {form} !== null"),
        15,
        "the past session with its rating form",
    )
    .await;
    // Sending without a choice is explained, not sent.
    b.eval(&format!(
        "{form}.querySelector('button[type=submit]').click(), true"
    ))
    .await;
    b.wait_until(
        &format!("{form}.textContent.includes('Please choose a rating')"),
        5,
        "the request to choose a rating",
    )
    .await;
    b.eval(&format!(
        "{form}.querySelector('input[value=\"4\"]').click(), \
         {form}.querySelector('textarea').value = 'Clear and kind.', \
         {form}.querySelector('button[type=submit]').click(), true"
    ))
    .await;
    b.wait_until(
        &format!(
            "document.querySelector('[data-booking=\"{id}\"]').textContent.includes('you rated this session 4 of 5')"
        ),
        10,
        "the thanks for the rating",
    )
    .await;
    let stored: Value =
        crate::common::get_json(&api, app.url(&format!("/api/bookings/{id}"))).await;
    assert_eq!(stored["rating"], 4, "{stored}");
    assert!(
        b.blue_elements().await.is_empty(),
        "no blue on the rated page"
    );
}

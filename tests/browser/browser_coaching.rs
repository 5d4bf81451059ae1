//! The coaching side of the browser client in real headless Chromium: a client keeps their
//! commitments on the dashboard (add, tick off, delete); a coach reads and adds commitments for
//! the client of a session, and edits their own profile and booking policy (a value out of range
//! is said in words and saves nothing); an admin finds any coach in the list and edits them.

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::browser::Chromium;
use serde_json::{Value, json};

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

/// Logs in through the form and waits for `next` to render.
async fn login(b: &mut Chromium, app: &TestApp, email: &str, next: &str) {
    b.navigate(&app.url(&format!("/login?next={}", common::enc(next))))
        .await;
    b.wait_until(READY, 15, "the login form").await;
    b.eval(&format!(
        "document.getElementById('email').value = '{email}', \
         document.getElementById('password').value = 'correct horse battery', \
         document.querySelector('#login-form button[type=submit]').click(), true"
    ))
    .await;
    let path = next.split('?').next().unwrap();
    b.wait_until(
        &format!("location.pathname === '{path}' && {READY}"),
        15,
        "the page after logging in",
    )
    .await;
}

async fn log_out(b: &mut Chromium) {
    b.eval("document.querySelector('.nav-logout').click(), true")
        .await;
    b.wait_until("location.pathname === '/login'", 10, "the login page")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coach_and_client_keep_commitments_and_the_coach_edits_their_policy() {
    if crate::common::browser::skip_without_chromium(
        "coach_and_client_keep_commitments_and_the_coach_edits_their_policy",
    ) {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let admin = app.admin().await;
    let (coach_api, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client_api, client_id) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach_id, Duration::hours(3)).await;
    let r = client_api
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The client: add two, tick one off, delete the other.
    let mut b = Chromium::open("about:blank").await;
    login(&mut b, &app, "client@example.org", "/").await;
    for text in ["Update my CV", "Ask for feedback"] {
        b.eval(&format!(
            "document.getElementById('own-text').value = '{text}', \
             document.querySelector('.commitment-form button[type=submit]').click(), true"
        ))
        .await;
        b.wait_until(
            &format!("[...document.querySelectorAll('.commitment-item')].some(li => li.textContent.includes('{text}'))"),
            10,
            "the new commitment in the list",
        )
        .await;
    }
    let mine: Value = common::get_json(&client_api, app.url("/api/commitments")).await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    let cv = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "Update my CV")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ask = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "Ask for feedback")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    b.eval(&format!(
        "document.getElementById('own-done-{cv}').click(), true"
    ))
    .await;
    b.wait_until(
        "document.getElementById('own-status').textContent === 'Marked as done.'",
        10,
        "ticked off",
    )
    .await;
    b.eval(&format!(
        "document.querySelector('[data-commitment=\"{ask}\"] .delete-commitment').click(), true"
    ))
    .await;
    b.wait_until(
        &format!("!document.querySelector('[data-commitment=\"{ask}\"]')"),
        10,
        "the deleted commitment to leave the list",
    )
    .await;
    let mine: Value = common::get_json(&client_api, app.url("/api/commitments")).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["status"], "done");
    log_out(&mut b).await;

    // The coach: the client's commitments in the session card, and one added for them.
    login(&mut b, &app, "coach@example.org", "/coach").await;
    b.eval("document.querySelector('.client-commitments').open = true, true")
        .await;
    b.wait_until(
        "[...document.querySelectorAll('.client-commitments .commitment-item')].some(li => li.textContent.includes('Update my CV'))",
        10,
        "the client's commitment on the coach's card",
    )
    .await;
    assert_eq!(
        b.eval("document.querySelectorAll('.client-commitments .delete-commitment').length")
            .await,
        json!(0),
        "a coach does not delete a client's commitments"
    );
    b.eval(
        "(() => { const p = document.querySelector('.client-commitments'); \
         p.querySelector('input[id$=-text]').value = 'Draft the cover letter'; \
         p.querySelector('input[type=date]').value = '2031-02-03'; \
         p.querySelector('.commitment-form button[type=submit]').click(); return true; })()",
    )
    .await;
    b.wait_until(
        "[...document.querySelectorAll('.client-commitments .commitment-item')].some(li => li.textContent.includes('Draft the cover letter'))",
        10,
        "the coach's commitment for the client",
    )
    .await;
    let mine: Value = common::get_json(&client_api, app.url("/api/commitments")).await;
    let added = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "Draft the cover letter")
        .expect("the client holds the coach's commitment");
    assert_eq!(added["due_date"], "2031-02-03");
    assert_eq!(added["user_id"], client_id.as_str());

    // The coach's profile and policy: out of range is refused in words, changing nothing.
    b.eval(
        "document.getElementById('policy-session_minutes').value = '3', \
         document.getElementById('save-profile').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('profile-status').textContent.includes('from 5 to 480')",
        10,
        "the range said in words",
    )
    .await;
    let before: Value =
        common::get_json(&coach_api, app.url(&format!("/api/coaches/{coach_id}"))).await;
    assert_eq!(before["policy"]["session_minutes"], 60);
    b.eval(
        "document.getElementById('policy-session_minutes').value = '45', \
         document.getElementById('policy-cancel_notice_minutes').value = '720', \
         document.getElementById('coach-title').value = 'Leadership coach', \
         document.getElementById('save-profile').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('profile-status').textContent.startsWith('Profile and policy saved')",
        10,
        "the profile to save",
    )
    .await;
    let after: Value =
        common::get_json(&coach_api, app.url(&format!("/api/coaches/{coach_id}"))).await;
    assert_eq!(after["policy"]["session_minutes"], 45);
    assert_eq!(after["policy"]["cancel_notice_minutes"], 720);
    assert_eq!(after["title"], "Leadership coach");
    assert_eq!(
        after["phone"], before["phone"],
        "untouched fields keep their value"
    );
    assert_eq!(after["bio"], before["bio"]);
    log_out(&mut b).await;

    // An admin: the list of coaches, then any coach's form. The coach has a date override
    // with hours, which the availability editor reads and saves back unchanged.
    let weekly = json!([{"weekday": "Mon", "start": "09:00", "end": "17:00"}]);
    let overrides =
        json!([{"date": "2031-03-04", "windows": [{"start": "10:00", "end": "12:00"}]}]);
    let r = admin
        .put(app.url(&format!("/api/coaches/{coach_id}/availability")))
        .json(&json!({"time_zone": "UTC", "weekly": weekly, "overrides": overrides}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    login(&mut b, &app, "admin@example.org", "/coach").await;
    b.wait_until(
        &format!("!!document.querySelector('a[href=\"/coach?coach={coach_id}\"]')"),
        10,
        "the coach in the admin's list",
    )
    .await;
    b.eval(&format!(
        "document.querySelector('a[href=\"/coach?coach={coach_id}\"]').click(), true"
    ))
    .await;
    b.wait_until(
        &format!("location.search === '?coach={coach_id}' && {READY} && !!document.getElementById('coach-bio')"),
        15,
        "the coach's form for the admin",
    )
    .await;
    b.eval(
        "document.getElementById('coach-bio').value = 'Twenty years with teams.', \
         document.getElementById('save-profile').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('profile-status').textContent.startsWith('Profile and policy saved')",
        10,
        "the admin's edit to save",
    )
    .await;
    b.eval("document.getElementById('save-availability').click(), true")
        .await;
    b.wait_until(
        "document.getElementById('av-status').textContent.startsWith('Availability saved')",
        10,
        "the availability to save",
    )
    .await;
    let after: Value = common::get_json(&admin, app.url(&format!("/api/coaches/{coach_id}"))).await;
    assert_eq!(after["bio"], "Twenty years with teams.");
    assert_eq!(
        after["availability"]["overrides"],
        json!([{"date": "2031-03-04", "windows": [{"start": "10:00:00", "end": "12:00:00"}]}]),
        "the override's hours survive the editor"
    );
    assert_eq!(after["policy"]["session_minutes"], 45);
    assert!(
        b.page_errors().await.is_empty(),
        "{:?}",
        b.page_errors().await
    );
}

/// A client opening "/coach?coach=<id>" of a coach gets no form: the page is not theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_no_coach_form() {
    if crate::common::browser::skip_without_chromium("a_client_gets_no_coach_form") {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let admin = app.admin().await;
    let (_, coach_id) = app.coach(&admin, "coach@example.org").await;
    app.client_user("client@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    login(
        &mut b,
        &app,
        "client@example.org",
        &format!("/coach?coach={coach_id}"),
    )
    .await;
    assert_eq!(
        b.eval("!!document.getElementById('coach-profile')").await,
        json!(false)
    );
    assert!(
        b.eval("document.getElementById('view').textContent")
            .await
            .as_str()
            .unwrap()
            .contains("This page is for coaches")
    );
}

//! The account side of the browser client in real headless Chromium: a logged-out visit to
//! a private page goes through the login form and back; the Account page saves the time
//! zone, serves the data export, and deletes the account only after a typed confirmation.
//!
//! Runs in CI (`.ci/run` installs Chromium); elsewhere it is skipped, loudly, when Chromium
//! is absent.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use serde_json::json;

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

/// A logged-out visit to a private page goes to the login form and back; the Account page
/// saves the time zone, offers the data export, and deletes the account only after the
/// typed confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_to_the_page_and_the_account_can_be_changed_and_deleted() {
    if crate::common::browser::skip_without_chromium(
        "login_returns_to_the_page_and_the_account_can_be_changed_and_deleted",
    ) {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let (api, _) = app.client_user("client@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    // The link's #fragment (where join tokens travel) comes back after the login but never
    // enters the login page's query string, which reaches the server.
    b.navigate(&app.url("/account#token=secret-fragment")).await;
    b.wait_until(
        "location.pathname === '/login' && location.search === '?next=%2Faccount' && document.body.dataset.ready === 'true'",
        15,
        "the login form, remembering the page",
    )
    .await;
    b.eval(
        "document.getElementById('email').value = 'client@example.org', \
         document.getElementById('password').value = 'correct horse battery', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        &format!("location.pathname === '/account' && {READY}"),
        15,
        "the account page after logging in",
    )
    .await;
    assert_eq!(b.eval("location.hash").await, "#token=secret-fragment");

    b.eval(
        "document.getElementById('time-zone').value = 'Asia/Tokyo', \
         document.querySelector('form[aria-labelledby=profile-h] button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('profile-status').textContent === 'Profile saved.'",
        10,
        "the profile to save",
    )
    .await;
    let me: serde_json::Value = crate::common::get_json(&api, app.url("/api/me")).await;
    assert_eq!(me["user"]["time_zone"], "Asia/Tokyo");

    let export = b
        .eval("fetch(document.getElementById('export').href).then(r => r.json()).then(j => j.user.email)")
        .await;
    assert_eq!(export, json!("client@example.org"));

    b.eval("document.getElementById('delete-start').click(), true")
        .await;
    b.eval("document.getElementById('delete-go').click(), true")
        .await;
    b.wait_until(
        "document.getElementById('delete-status').textContent.includes('type DELETE')",
        10,
        "the confirmation to be asked for",
    )
    .await;
    assert_eq!(
        api.get(app.url("/api/me")).send().await.unwrap().status(),
        200,
        "nothing is deleted without the typed confirmation"
    );
    b.eval(
        "document.getElementById('delete-confirm').value = 'DELETE', \
         document.getElementById('delete-go').click(), true",
    )
    .await;
    b.wait_until(
        &format!("location.pathname === '/' && {READY} && document.getElementById('app-status').textContent.includes('has been deleted')"),
        15,
        "the landing page saying the account is gone",
    )
    .await;
    assert_eq!(
        api.get(app.url("/api/me")).send().await.unwrap().status(),
        401
    );
}

/// The account page changes the password: a wrong current password is said in words and
/// changes nothing; the right one changes it, this page stays signed in, other sign-ins end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_changes_the_password() {
    if crate::common::browser::skip_without_chromium("the_account_page_changes_the_password") {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    let (elsewhere, _) = app.client_user("changer@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login?next=%2Faccount")).await;
    b.wait_until(READY, 15, "the login form").await;
    b.eval(
        "document.getElementById('email').value = 'changer@example.org', \
         document.getElementById('password').value = 'correct horse battery', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        &format!("location.pathname === '/account' && {READY}"),
        15,
        "the account page",
    )
    .await;
    let submit = |current: &str, new: &str| {
        format!(
            "document.getElementById('current-password').value = {current:?}, \
             document.getElementById('new-password').value = {new:?}, \
             document.getElementById('password-save').click(), true"
        )
    };
    b.eval(&submit("wrong password!!", "a brand new password 42"))
        .await;
    b.wait_until(
        "document.getElementById('password-status').textContent.includes('was not changed')",
        10,
        "the refusal in words",
    )
    .await;
    assert_eq!(
        elsewhere
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    b.eval(&submit("correct horse battery", "a brand new password 42"))
        .await;
    b.wait_until(
        "document.getElementById('password-status').textContent.includes('Password changed')",
        10,
        "the change",
    )
    .await;
    assert_eq!(
        elsewhere
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "the other sign-in ended"
    );
    assert_eq!(
        b.eval("fetch('/api/me').then(r => r.status)").await,
        json!(200),
        "this page stays signed in"
    );
}

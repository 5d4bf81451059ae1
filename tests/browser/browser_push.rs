//! Web Push in the browser: the Account page registers the service worker (`/sw.js`, scope
//! `/`) and offers to turn notifications on; a push delivered to that worker (through the
//! DevTools protocol's `ServiceWorker.deliverPushMessage`, since headless Chromium cannot reach
//! a real push service here) shows the notification with the title and body it carries.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use serde_json::{Value, json};

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_worker_shows_a_pushed_notification() {
    if crate::common::browser::skip_without_chromium(
        "the_service_worker_shows_a_pushed_notification",
    ) {
        return;
    }
    let app = TestApp::for_browser(|_| {}).await;
    app.client_user("client@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the log-in page").await;
    b.eval(
        "document.getElementById('email').value = 'client@example.org', \
         document.getElementById('password').value = 'correct horse battery', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        &format!("location.pathname === '/' && {READY}"),
        15,
        "signed in",
    )
    .await;
    let origin = app.base.clone();
    let granted = b
        .cdp(
            "Browser.grantPermissions",
            json!({"origin": origin, "permissions": ["notifications"]}),
        )
        .await;
    assert_eq!(granted, json!({}), "permission granted");

    b.navigate(&app.url("/account")).await;
    b.wait_until(
        &format!("{READY} && !!document.getElementById('push-toggle')"),
        15,
        "the notifications card",
    )
    .await;
    assert_eq!(
        b.eval("document.getElementById('push-toggle').textContent")
            .await,
        "Turn on notifications"
    );
    b.wait_until(
        "navigator.serviceWorker.getRegistration('/').then(r => !!(r && r.active))",
        15,
        "the service worker registered and active",
    )
    .await;
    assert_eq!(
        b.eval("navigator.serviceWorker.getRegistration('/').then(r => r.scope)")
            .await,
        format!("{origin}/")
    );

    // The worker's registration, as DevTools names it.
    let events = b
        .cdp_events(
            "ServiceWorker.enable",
            json!({}),
            "ServiceWorker.workerRegistrationUpdated",
            |p| {
                p["registrations"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["isDeleted"] == false))
            },
            10,
        )
        .await;
    let registration = events
        .iter()
        .flat_map(|e| e["registrations"].as_array().cloned().unwrap_or_default())
        .find(|r| r["isDeleted"] == false && r["scopeURL"] == format!("{origin}/"))
        .expect("the worker's registration");
    b.eval(
        "navigator.serviceWorker.addEventListener('message', e => { \
           if (e.data && e.data.type === 'notified') window.notified = e.data.tag; }), true",
    )
    .await;
    let payload = json!({
        "title": "Session in 1 hour",
        "body": "With Coach Person, Wed 8 Jul 10:00 (Europe/London).",
        "url": format!("{origin}/upcoming"),
        "tag": "session-b1",
    });
    let delivered = b
        .cdp(
            "ServiceWorker.deliverPushMessage",
            json!({
                "origin": origin,
                "registrationId": registration["registrationId"],
                "data": payload.to_string(),
            }),
        )
        .await;
    assert_eq!(delivered, json!({}), "the push delivered to the worker");
    b.wait_until(
        "window.notified === 'session-b1'",
        15,
        "the worker showing the notification",
    )
    .await;
    assert_eq!(
        b.eval("navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length)")
            .await,
        1
    );
    let shown: Value = b
        .eval(
            "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => \
             ({title: n[0].title, body: n[0].body, tag: n[0].tag, url: n[0].data.url}))",
        )
        .await;
    assert_eq!(shown["title"], "Session in 1 hour");
    assert_eq!(shown["body"], payload["body"]);
    assert_eq!(shown["tag"], "session-b1");
    assert_eq!(shown["url"], payload["url"]);
    assert!(b.page_errors().await.is_empty());
}

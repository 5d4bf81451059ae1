//! The admin console `/admin` in headless Chromium, checked against the API: a live room
//! (a webrtc-rs participant) is listed with who is in it; an account is found by search,
//! made a coach by role, disabled and enabled, and its password reset (the shown password
//! logs in); an account gets a coach profile, which is then deactivated; the audit log is
//! filtered by event and by actor. A client who opens `/admin` is told it is not for them
//! and sees nothing; the API refuses them too.

use crate::common;

use common::browser::Chromium;
use common::{TestApp, sfu};
use serde_json::{Value, json};

async fn log_in(b: &mut Chromium, email: &str) {
    let status = b
        .eval(&format!(
            "fetch('/api/auth/login', {{method: 'POST', headers: {{'content-type': 'application/json'}}, \
             body: JSON.stringify({{email: '{email}', password: 'correct horse battery'}})}}).then(r => r.status)"
        ))
        .await;
    assert_eq!(status, 200, "{email} logs in");
}

/// Clicks the first element matching `selector` inside the list item of account `email`.
fn click_in_user(email: &str, selector: &str) -> String {
    format!(
        "[...document.querySelectorAll('#users li.user')].find(li => li.textContent.includes('{email}'))\
         .querySelector('{selector}').click(), true"
    )
}

async fn user(admin: &reqwest::Client, app: &TestApp, q: &str) -> Value {
    let list: Vec<Value> = admin
        .get(app.url(&format!("/api/admin/users?q={q}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_console_manages_accounts_coaches_and_shows_live_rooms_and_the_audit_log() {
    if common::browser::skip_without_chromium(
        "the_admin_console_manages_accounts_coaches_and_shows_live_rooms_and_the_audit_log",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = common::udp_ports(8)).await;
    let admin = app.admin().await;
    let (client, _) = app.client_user("alice@example.org").await;
    let _ = app.client_user("bruno@example.org").await;
    let guest = sfu::join(&app, &sfu::transport(4), "admin-live", "g-1", "Gina").await;

    let mut b = Chromium::open(&app.url("/login")).await;
    log_in(&mut b, "admin@example.org").await;
    b.navigate(&app.url("/admin")).await;
    b.wait_until(
        "document.body.dataset.ready === 'true'",
        15,
        "the console renders",
    )
    .await;
    b.wait_until(
        "document.getElementById('live-rooms').textContent.includes('Room admin-live') && \
         document.getElementById('live-rooms').textContent.includes('Gina (client)')",
        10,
        "the live room and its participant",
    )
    .await;
    assert!(
        b.eval("document.getElementById('live-summary').textContent")
            .await
            .as_str()
            .unwrap()
            .starts_with("1 video room, 0 AI voice sessions, 1 participant")
    );

    // Search, then change the role.
    b.eval("document.getElementById('user-q').value = 'alice', document.querySelector('#user-search button').click(), true").await;
    b.wait_until(
        "document.querySelectorAll('#users li.user').length === 1",
        10,
        "one account matches 'alice'",
    )
    .await;
    let alice = user(&admin, &app, "alice").await;
    let id = alice["id"].as_str().unwrap().to_string();
    b.eval(&format!(
        "(() => {{ const s = document.getElementById('role-{id}'); s.value = 'coach'; \
         s.dispatchEvent(new Event('change')); return true; }})()"
    ))
    .await;
    for _ in 0..50 {
        if user(&admin, &app, "alice").await["role"] == "coach" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(user(&admin, &app, "alice").await["role"], "coach");

    // Disable (the client's session ends), then enable.
    b.eval(&click_in_user("alice@example.org", ".toggle-disabled"))
        .await;
    b.wait_until(
        "document.querySelector('#users li.user .badge-dark')?.textContent === 'disabled'",
        10,
        "the account shows as disabled",
    )
    .await;
    assert_eq!(user(&admin, &app, "alice").await["disabled"], true);
    let r = client.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 401, "a disabled account's session has ended");
    b.eval(&click_in_user("alice@example.org", ".toggle-disabled"))
        .await;
    b.wait_until(
        "!document.querySelector('#users li.user .badge-dark')",
        10,
        "the account is enabled again",
    )
    .await;
    assert_eq!(user(&admin, &app, "alice").await["disabled"], false);

    // Reset the password: the one shown logs in.
    b.eval(&click_in_user("alice@example.org", ".reset-password"))
        .await;
    b.wait_until(
        "!!document.querySelector('#users li.user p[data-password]')",
        10,
        "the new password is shown once",
    )
    .await;
    let password = b
        .eval("document.querySelector('#users li.user p[data-password]').dataset.password")
        .await;
    let r = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .header("origin", &app.base)
        .json(&json!({"email": "alice@example.org", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the shown password works");

    // A coach profile from the account, then deactivated.
    b.eval(&click_in_user("alice@example.org", ".make-coach"))
        .await;
    b.wait_until(
        "[...document.querySelectorAll('#coaches li.coach')].some(li => li.textContent.includes('Deactivate'))",
        10,
        "the new coach is listed",
    )
    .await;
    b.eval("document.querySelector('#coaches li.coach .toggle-active').click(), true")
        .await;
    b.wait_until(
        "document.querySelector('#coaches li.coach .badge-dark')?.textContent === 'inactive'",
        10,
        "the coach shows as inactive",
    )
    .await;
    let coaches: Vec<Value> = admin
        .get(app.url("/api/coaches?include_inactive=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(coaches.len(), 1);
    assert_eq!(coaches[0]["active"], false);
    assert_eq!(coaches[0]["user_id"], id.as_str());

    // The audit log, by event and by actor.
    b.eval("document.getElementById('audit-event').value = 'role_changed', document.querySelector('#audit-filter button').click(), true").await;
    b.wait_until(
        "document.querySelectorAll('#audit li.audit-entry').length > 0 && \
         [...document.querySelectorAll('#audit li.audit-entry strong')].every(s => s.textContent === 'role_changed')",
        10,
        "only role changes are listed",
    )
    .await;
    let admin_id = user(&admin, &app, "admin@example.org").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    b.eval(&format!(
        "document.getElementById('audit-event').value = '', \
         document.getElementById('audit-actor').value = '{id}', \
         document.querySelector('#audit-filter button').click(), true"
    ))
    .await;
    b.wait_until(
        &format!(
            "[...document.querySelectorAll('#audit li.audit-entry')].length > 0 && \
             [...document.querySelectorAll('#audit li.audit-entry')].every(li => li.textContent.includes('by {id}')) && \
             !document.getElementById('audit').textContent.includes('by {admin_id}')"
        ),
        10,
        "only alice's own entries are listed",
    )
    .await;
    assert!(b.page_errors().await.is_empty());
    guest.close().await;

    // A client: told in words, shown nothing, and refused by the API.
    let mut c = Chromium::open(&app.url("/login")).await;
    log_in(&mut c, "bruno@example.org").await;
    c.navigate(&app.url("/admin")).await;
    c.wait_until(
        "document.body.dataset.ready === 'true' && \
         document.getElementById('app-status').textContent.includes('for administrators')",
        10,
        "the client is told the page is not for them",
    )
    .await;
    assert_eq!(
        c.eval("[...document.querySelectorAll('main section')].every(s => s.hidden)")
            .await,
        true
    );
    let (bruno, _) = (app.client(), ());
    let r = bruno
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "bruno@example.org", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for path in [
        "/api/admin/live",
        "/api/admin/users",
        "/api/admin/audit?event=login",
        "/api/coaches?include_inactive=true",
    ] {
        let r = bruno.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
}

/// A refused email shows under "Failed deliveries" with the server's words; Retry queues it
/// again, it is delivered, and the panel empties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_shown_and_retried_from_the_console() {
    if common::browser::skip_without_chromium(
        "failed_deliveries_are_shown_and_retried_from_the_console",
    ) {
        return;
    }
    let sink = common::smtp::SmtpSink::start(common::smtp::SinkOptions {
        reject: 1,
        ..Default::default()
    });
    let port = sink.port;
    let app = TestApp::for_browser(move |c| {
        c.notify.smtp.host = "127.0.0.1".into();
        c.notify.smtp.port = port;
        c.notify.smtp.security = parlor::config::SmtpSecurity::Plain;
        c.notify.smtp.from = "Acme <sessions@acme.test>".into();
        c.notify.poll_ms = 50;
    })
    .await;
    let admin = app.admin().await;
    app.client_user("bounced@example.org").await;
    // Someone signs up with a taken address: its owner is warned (and the sink refuses it).
    let r = app
        .client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "bounced@example.org", "name": "Someone",
            "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    for _ in 0..200 {
        let failed: Vec<Value> = admin
            .get(app.url("/api/admin/deliveries?status=failed"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut b = Chromium::open(&app.url("/login")).await;
    log_in(&mut b, "admin@example.org").await;
    b.navigate(&app.url("/admin")).await;
    b.wait_until(
        "document.body.dataset.ready === 'true' && \
         document.getElementById('deliveries').textContent.includes('bounced@example.org') && \
         document.getElementById('deliveries').textContent.includes('550')",
        15,
        "the failed email with the server's answer",
    )
    .await;
    b.eval("document.querySelector('#deliveries li.delivery .retry-delivery').click(), true")
        .await;
    b.wait_until(
        "document.getElementById('deliveries-status').textContent === 'Nothing has failed.'",
        10,
        "the panel to empty",
    )
    .await;
    let mails = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, "bounced@example.org");
}

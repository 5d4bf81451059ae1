//! Account links by email as a person uses them. Password reset, in headless Chromium against a real SMTP server: "Forgot
//! your password?" on the log-in page, the address typed in, the link opened from the email
//! that arrives, a new password chosen, then logging in with it. The token travels in the
//! link's fragment and is gone from the address bar once the page has read it. Address
//! confirmation at sign-up (`auth.email_verification = "required"`): the log-in page says why
//! it refuses and leads to a new link, and the emailed link confirms the address.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use common::smtp::{SinkOptions, SmtpSink};
use parlor::config::SmtpSecurity;
use std::time::Duration;

const READY: &str = "document.readyState === 'complete' && document.body.dataset.ready === 'true'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_the_emailed_link() {
    if crate::common::browser::skip_without_chromium(
        "a_forgotten_password_is_reset_from_the_emailed_link",
    ) {
        return;
    }
    let sink = SmtpSink::start(SinkOptions::default());
    let port = sink.port;
    let app = TestApp::for_browser(move |c| {
        c.notify.smtp.host = "127.0.0.1".into();
        c.notify.smtp.port = port;
        c.notify.smtp.security = SmtpSecurity::Plain;
        c.notify.smtp.from = "Acme <sessions@acme.test>".into();
        c.notify.poll_ms = 50;
    })
    .await;
    app.client_user("forgetful@example.org").await;
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the log-in page").await;
    b.eval("document.getElementById('reset-link').click(), true")
        .await;
    b.wait_until(
        &format!("location.pathname === '/reset-password' && {READY} && !document.getElementById('ask-form').hidden"),
        15,
        "the form asking for the address",
    )
    .await;
    b.eval(
        "document.getElementById('email').value = 'forgetful@example.org', \
         document.querySelector('#ask-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('ask-status').textContent.includes('on its way')",
        10,
        "the neutral answer",
    )
    .await;
    let mail = sink.wait_for(1, Duration::from_secs(20)).await.remove(0);
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/reset-password#token="))
        .expect("the link in the email")
        .to_string();

    b.navigate(&link).await;
    b.wait_until(
        &format!("{READY} && !document.getElementById('set-form').hidden"),
        15,
        "the new-password form",
    )
    .await;
    assert_eq!(
        b.eval("location.hash").await,
        "",
        "the token leaves the address bar"
    );
    b.eval(
        "document.getElementById('new-password').value = 'a fresh new password', \
         document.querySelector('#set-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        "location.pathname === '/login' && document.body.dataset.ready === 'true'",
        15,
        "the log-in page after the change",
    )
    .await;
    b.eval(
        "document.getElementById('email').value = 'forgetful@example.org', \
         document.getElementById('password').value = 'a fresh new password', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        &format!(
            "location.pathname === '/' && {READY} && !!document.querySelector('#app-header nav')"
        ),
        15,
        "signed in with the new password",
    )
    .await;
    assert!(b.page_errors().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_confirms_its_address_from_the_emailed_link() {
    if crate::common::browser::skip_without_chromium(
        "a_new_account_confirms_its_address_from_the_emailed_link",
    ) {
        return;
    }
    let sink = SmtpSink::start(SinkOptions::default());
    let port = sink.port;
    let app = TestApp::for_browser(move |c| {
        c.notify.smtp.host = "127.0.0.1".into();
        c.notify.smtp.port = port;
        c.notify.smtp.security = SmtpSecurity::Plain;
        c.notify.smtp.from = "Acme <sessions@acme.test>".into();
        c.notify.poll_ms = 50;
        c.auth.email_verification = parlor::config::EmailVerification::Required;
    })
    .await;
    let r = app
        .client()
        .post(app.url("/api/auth/signup"))
        .json(
            &serde_json::json!({"email": "fresh@example.org", "name": "Fresh Person",
            "password": "a long enough password"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    sink.wait_for(1, Duration::from_secs(20)).await;

    // Logging in before confirming says why, and offers a new link.
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the log-in page").await;
    b.eval(
        "document.getElementById('email').value = 'fresh@example.org', \
         document.getElementById('password').value = 'a long enough password', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        "document.getElementById('form-status').textContent.toLowerCase().includes('confirm your email address') \
         && !!document.getElementById('verify-link')",
        10,
        "the reason and a way to a new link",
    )
    .await;
    // The first link was sent moments ago: a new one may go a minute later.
    app.clock.advance(chrono::Duration::seconds(61));
    b.eval("document.getElementById('verify-link').click(), true")
        .await;
    b.wait_until(
        &format!(
            "location.pathname === '/verify-email' && {READY} \
             && !document.getElementById('resend-form').hidden \
             && document.getElementById('email').value === 'fresh@example.org'"
        ),
        15,
        "the form asking for a new link, filled in",
    )
    .await;
    b.eval("document.querySelector('#resend-form button[type=submit]').click(), true")
        .await;
    b.wait_until(
        "document.getElementById('resend-status').textContent.includes('on its way')",
        10,
        "the neutral answer",
    )
    .await;
    let mail = sink.wait_for(2, Duration::from_secs(20)).await.remove(1);
    assert_eq!(mail.subject, "Confirm your email address");
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/verify-email#token="))
        .expect("the link in the email")
        .to_string();

    b.navigate(&link).await;
    b.wait_until(
        &format!("{READY} && document.getElementById('verify-status').textContent.includes('is confirmed')"),
        15,
        "the confirmation",
    )
    .await;
    assert_eq!(
        b.eval("location.hash").await,
        "",
        "the token leaves the address bar"
    );
    b.navigate(&app.url("/login")).await;
    b.wait_until(READY, 15, "the log-in page").await;
    b.eval(
        "document.getElementById('email').value = 'fresh@example.org', \
         document.getElementById('password').value = 'a long enough password', \
         document.querySelector('#login-form button[type=submit]').click(), true",
    )
    .await;
    b.wait_until(
        &format!(
            "location.pathname === '/' && {READY} && !!document.querySelector('#app-header nav')"
        ),
        15,
        "signed in once confirmed",
    )
    .await;
    assert!(b.page_errors().await.is_empty());
}

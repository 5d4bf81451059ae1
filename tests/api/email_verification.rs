//! Email verification at sign-up (`auth.email_verification`), end to end against a real SMTP
//! server (aiosmtpd): the confirmation link arrives, `required` keeps the account out until it
//! is followed, a new link can be asked for (at most one a minute, the same answer for every
//! address), a link works once and for 24 hours, `optional` lets the account in and says it is
//! unconfirmed, and `off` sends nothing.

use crate::common::Backend;
use crate::common::TestApp;
use crate::common::smtp::{SinkOptions, SmtpSink};
use crate::notify_email::{WAIT, settle, smtp_to, token_of};
use chrono::Duration;
use parlor::config::EmailVerification;
use serde_json::{Value, json};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .client()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn signup(app: &TestApp, email: &str) -> (u16, Value) {
    post(
        app,
        "/api/auth/signup",
        json!({"email": email, "name": "New Person", "password": "a long enough password"}),
    )
    .await
}

async fn login(app: &TestApp, email: &str) -> (u16, Value) {
    post(
        app,
        "/api/auth/login",
        json!({"email": email, "password": "a long enough password"}),
    )
    .await
}

async fn required_verification(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default());
    let tweak = smtp_to(&sink);
    let app = TestApp::start_with(backend, move |c| {
        tweak(c);
        c.auth.email_verification = EmailVerification::Required;
    })
    .await;
    let admin = app.admin().await;
    app.client_user("taken@example.org").await;

    // A new address and a taken one get the same answer.
    let (status, new) = signup(&app, "new@example.org").await;
    assert_eq!(status, 202);
    let (_, taken) = signup(&app, "taken@example.org").await;
    assert_eq!(new, taken);
    assert!(
        new["message"]
            .as_str()
            .unwrap()
            .contains("Confirm your address"),
        "{new}"
    );
    let mails = sink.wait_for(2, WAIT).await;
    let confirm = mails
        .iter()
        .find(|m| m.to == "new@example.org")
        .expect("a confirmation email");
    assert_eq!(confirm.subject, "Confirm your email address");
    assert!(
        confirm
            .text
            .contains(&format!("{}/verify-email#token=", app.base)),
        "{}",
        confirm.text
    );
    assert!(confirm.text.contains("24 hours"));
    let first = token_of(confirm);

    // No log-in before the link is followed (and only with the right password is that said).
    let (status, err) = login(&app, "new@example.org").await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "email_unverified");
    let (status, _) = post(
        &app,
        "/api/auth/login",
        json!({"email": "new@example.org", "password": "not the password"}),
    )
    .await;
    assert_eq!(status, 401);

    // A new link: not within a minute of the last; the same answer for every address.
    let resend = |email: &'static str| {
        let app = &app;
        async move {
            post(
                app,
                "/api/auth/verify-email/resend",
                json!({"email": email}),
            )
            .await
        }
    };
    let (status, soon) = resend("new@example.org").await;
    assert_eq!(status, 202);
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 2, "no second link within a minute");
    app.clock.advance(Duration::seconds(61));
    let (_, later) = resend("new@example.org").await;
    let (_, unknown) = resend("nobody@example.org").await;
    let (_, confirmed) = resend("taken@example.org").await;
    assert_eq!(soon, later);
    assert_eq!(later, unknown);
    assert_eq!(unknown, confirmed);
    let mails = sink.wait_for(3, WAIT).await;
    settle(&app, &admin).await;
    assert_eq!(
        sink.raw().len(),
        3,
        "only the unconfirmed account gets a link"
    );
    assert_eq!(mails[2].to, "new@example.org");
    let second = token_of(&mails[2]);
    assert_ne!(first, second);
    let (status, _) = post(
        &app,
        "/api/auth/verify-email/resend",
        json!({"email": "not an address"}),
    )
    .await;
    assert_eq!(status, 422);

    // A wrong token changes nothing; the first link confirms and uses the second up.
    let (status, err) = post(&app, "/api/auth/verify-email", json!({"token": "made-up"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "invalid_token");
    assert_eq!(login(&app, "new@example.org").await.0, 403);
    let (status, _) = post(&app, "/api/auth/verify-email", json!({"token": first})).await;
    assert_eq!(status, 204);
    let (status, _) = post(&app, "/api/auth/verify-email", json!({"token": second})).await;
    assert_eq!(status, 400, "used up with the first");
    let (status, me) = login(&app, "new@example.org").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["email_verification"], "required");

    // Links last 24 hours.
    signup(&app, "slow@example.org").await;
    let mails = sink.wait_for(4, WAIT).await;
    let late = token_of(&mails[3]);
    app.clock
        .advance(Duration::hours(24) + Duration::seconds(1));
    let (status, _) = post(&app, "/api/auth/verify-email", json!({"token": late})).await;
    assert_eq!(status, 400);
    assert_eq!(login(&app, "slow@example.org").await.0, 403);

    // The confirmation email is not retried by hand, and its link is not kept once sent.
    let sent = crate::notify_email::deliveries(&app, &admin, "delivered").await;
    assert!(
        sent.iter().any(|d| d["kind"] == "verify_email"),
        "{sent:#?}"
    );
}

both_backends!(required_verification);

#[tokio::test]
async fn optional_verification_lets_the_account_in_and_says_it_is_unconfirmed() {
    let sink = SmtpSink::start(SinkOptions::default());
    let tweak = smtp_to(&sink);
    let app = TestApp::start_with(Backend::Sqlite, move |c| {
        tweak(c);
        c.auth.email_verification = EmailVerification::Optional;
    })
    .await;
    let (status, r) = signup(&app, "new@example.org").await;
    assert_eq!(status, 202);
    assert!(r["message"].as_str().unwrap().contains("Sign in"), "{r}");
    let mails = sink.wait_for(1, WAIT).await;
    let token = token_of(&mails[0]);
    let client = app.client();
    let r = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "new@example.org", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = client
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_verified"], false);
    assert_eq!(me["email_verification"], "optional");
    let (status, _) = post(&app, "/api/auth/verify-email", json!({"token": token})).await;
    assert_eq!(status, 204);
    let me: Value = client
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_verified"], true);
    // Accounts an admin makes count as confirmed.
    let (admin_made, _) = app.client_user("made@example.org").await;
    let me: Value = admin_made
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_verified"], true);
}

#[tokio::test]
async fn with_verification_off_nothing_is_sent_and_no_link_can_be_asked_for() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (status, _) = signup(&app, "new@example.org").await;
    assert_eq!(status, 202);
    assert_eq!(login(&app, "new@example.org").await.0, 200);
    let (status, err) = post(
        &app,
        "/api/auth/verify-email/resend",
        json!({"email": "new@example.org"}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "verification_off");
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 0);
}

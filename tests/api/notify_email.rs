//! Email notifications end to end: parlor's outbox worker sends over SMTP to a real SMTP
//! server (aiosmtpd), and the received mail is parsed with a MIME parser and its invite with
//! the `ical` crate. Booking confirmations, moves and cancellations reach both parties with
//! the right iTIP method, UID and SEQUENCE; reminders come at their lead time on the test's
//! clock and are dropped with their session; password reset works once; failures retry and
//! are recorded; STARTTLS with AUTH works against a self-signed certificate.

use crate::common::Backend;
use crate::common::TestApp;
use crate::common::smtp::{Mail, SinkOptions, SmtpSink};
use chrono::{DateTime, Duration, Utc};
use parlor::config::{Config, EmailVerification, Secret, SmtpSecurity};
use serde_json::{Value, json};
use std::time::Duration as StdDuration;

pub(crate) const WAIT: StdDuration = StdDuration::from_secs(20);

pub(crate) fn smtp_to(sink: &SmtpSink) -> impl FnOnce(&mut Config) + use<> {
    let port = sink.port;
    move |c: &mut Config| {
        c.notify.smtp.host = "127.0.0.1".into();
        c.notify.smtp.port = port;
        c.notify.smtp.security = SmtpSecurity::Plain;
        c.notify.smtp.from = "Acme Coaching <sessions@acme.test>".into();
        c.notify.smtp.reply_to = "help@acme.test".into();
        c.notify.organisation = "Acme Coaching".into();
        c.notify.poll_ms = 50;
        c.auth.signup_max_per_ip = 100;
    }
}

/// The single VEVENT of an iCalendar text, and its METHOD.
fn event(ics: &str) -> (String, std::collections::HashMap<String, String>) {
    let cal = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()))
        .next()
        .expect("a calendar")
        .expect("a valid calendar");
    let method = cal
        .properties
        .iter()
        .find(|p| p.name == "METHOD")
        .and_then(|p| p.value.clone())
        .unwrap_or_default();
    assert_eq!(cal.events.len(), 1);
    let props = cal.events[0]
        .properties
        .iter()
        .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
        .collect();
    (method, props)
}

fn ical_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn by_recipient<'a>(mails: &'a [Mail], to: &str) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.to == to).collect()
}

pub(crate) async fn deliveries(app: &TestApp, admin: &reqwest::Client, status: &str) -> Vec<Value> {
    app.deliveries(admin, status).await
}

/// Waits until no row is queued and due (everything due has been tried).
pub(crate) async fn settle(app: &TestApp, admin: &reqwest::Client) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = app.clock.now();
        let queued = deliveries(app, admin, "queued").await;
        let due = queued.iter().any(|d| {
            d["not_before"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                <= now
        });
        if !due {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queued rows stay due: {queued:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn booking_emails(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(backend, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(3)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(
            &json!({"coach_id": coach_id, "starts_at": start, "session_type": "video",
            "focus_area": "Finding a new role"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let booking: Value = r.json().await.unwrap();
    let id = booking["id"].as_str().unwrap().to_string();
    let uid = booking["calendar_uid"].as_str().unwrap().to_string();

    // Confirmation to the client and to the coach's account, each with a REQUEST invite.
    let mails = sink.wait_for(2, WAIT).await;
    for (to, other) in [
        ("client@example.org", "Coach Person"),
        ("coach@example.org", "Client Person"),
    ] {
        let m = by_recipient(&mails, to);
        assert_eq!(m.len(), 1, "one confirmation to {to}: {mails:#?}");
        let m = m[0];
        assert_eq!(m.from, "sessions@acme.test");
        assert_eq!(m.content_type, "multipart/mixed");
        assert!(m.subject.starts_with("Booked: "), "{}", m.subject);
        assert!(
            m.subject.ends_with(&format!("with {other}")),
            "{}",
            m.subject
        );
        assert!(m.text.contains("Join the session: "), "{}", m.text);
        assert!(m.text.contains(&format!("{}/r/", app.base)));
        assert!(m.text.contains("Focus: Finding a new role"));
        assert!(
            m.text.contains("(Europe/London)"),
            "times in the person's zone: {}",
            m.text
        );
        assert!(m.html.contains("Finding a new role") && m.html.contains("<a href="));
        assert!(m.message_id.ends_with("@acme.test"), "{}", m.message_id);
        assert_eq!(m.calendars.len(), 1, "one invite");
        let (ct, ics) = &m.calendars[0];
        assert!(ct.contains("method=REQUEST"), "{ct}");
        let (method, ev) = event(ics);
        assert_eq!(method, "REQUEST");
        assert_eq!(ev["UID"], uid);
        assert_eq!(ev["SEQUENCE"], "0");
        assert_eq!(ev["DTSTART"], ical_time(start));
        assert!(
            m.list_unsubscribe.is_none(),
            "transactional mail has no unsubscribe"
        );
    }

    // Moving it: same UID, SEQUENCE 1, the old time named.
    let new_start = app.free_slot(&coach_id, Duration::days(4)).await;
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/reschedule")))
        .json(&json!({"starts_at": new_start}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let mails = sink.wait_for(4, WAIT).await;
    for m in &mails[2..] {
        assert!(m.subject.starts_with("Moved: "), "{}", m.subject);
        assert!(m.text.contains("Was: "));
        let (method, ev) = event(&m.calendars[0].1);
        assert_eq!(method, "REQUEST");
        assert_eq!(ev["UID"], uid);
        assert_eq!(ev["SEQUENCE"], "1");
        assert_eq!(ev["DTSTART"], ical_time(new_start));
    }

    // Reminders of the old time were dropped, the new time's are queued: 24 h and 1 h before,
    // for both people.
    let queued = deliveries(&app, &admin, "queued").await;
    let mut due: Vec<DateTime<Utc>> = queued
        .iter()
        .filter(|d| d["kind"] == "reminder")
        .map(|d| d["not_before"].as_str().unwrap().parse().unwrap())
        .collect();
    due.sort();
    let day = new_start - Duration::hours(24);
    let hour = new_start - Duration::hours(1);
    assert_eq!(due, vec![day, day, hour, hour], "{queued:#?}");
    let dropped = deliveries(&app, &admin, "dropped").await;
    assert_eq!(
        dropped.iter().filter(|d| d["kind"] == "reminder").count(),
        4
    );

    // The 24-hour reminders arrive when the clock reaches them, and not before.
    app.clock
        .advance(day - app.clock.now() - Duration::seconds(30));
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 4, "no reminder before its time");
    app.clock.advance(Duration::seconds(31));
    let mails = sink.wait_for(6, WAIT).await;
    for m in &mails[4..] {
        assert_eq!(
            m.subject,
            format!(
                "Reminder: session in 24 hours with {}",
                if m.to == "client@example.org" {
                    "Coach Person"
                } else {
                    "Client Person"
                }
            )
        );
        let link = m.list_unsubscribe.as_deref().expect("List-Unsubscribe");
        assert!(
            link.starts_with(&format!("<{}/api/unsubscribe/", app.base)),
            "{link}"
        );
        assert_eq!(
            m.list_unsubscribe_post.as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert!(m.calendars.is_empty());
    }

    // Cancelling: METHOD:CANCEL, SEQUENCE 2, the reason; the 1-hour reminders never come.
    let r = admin
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&json!({"reason": "Coach is ill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let mails = sink.wait_for(8, WAIT).await;
    for m in &mails[6..] {
        assert!(m.subject.starts_with("Cancelled: "), "{}", m.subject);
        assert!(m.text.contains("Reason: Coach is ill"));
        assert!(m.calendars[0].0.contains("method=CANCEL"));
        let (method, ev) = event(&m.calendars[0].1);
        assert_eq!(method, "CANCEL");
        assert_eq!(ev["UID"], uid);
        assert_eq!(ev["SEQUENCE"], "2");
        assert_eq!(ev["STATUS"], "CANCELLED");
    }
    app.clock
        .advance(hour - app.clock.now() + Duration::seconds(5));
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 8, "no reminder for a cancelled session");
    assert!(deliveries(&app, &admin, "queued").await.is_empty());
    let delivered = deliveries(&app, &admin, "delivered").await;
    assert_eq!(delivered.len(), 8);

    // Every message has a distinct Message-ID.
    let mut ids: Vec<_> = sink
        .raw()
        .iter()
        .map(|r| Mail::parse(r).message_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn booking_emails_with_invites_and_reminders_sqlite() {
    booking_emails(Backend::Sqlite).await;
}

#[tokio::test]
async fn booking_emails_with_invites_and_reminders_postgres() {
    booking_emails(Backend::Postgres).await;
}

pub(crate) fn token_of(m: &Mail) -> String {
    let at = m.text.find("#token=").expect("a reset link") + "#token=".len();
    m.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn password_reset_by_email_works_once_and_tells_nobody_who_has_an_account() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let (old_session, _) = app.client_user("forgetful@example.org").await;
    let anon = app.client();
    let ask = |email: &'static str| {
        let anon = anon.clone();
        let url = app.url("/api/auth/password-reset");
        async move {
            anon.post(url)
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap()
        }
    };
    // Unknown and known addresses get the same answer; only the account's owner gets mail.
    let unknown = ask("nobody@example.org").await;
    assert_eq!(unknown.status(), 202);
    let unknown: Value = unknown.json().await.unwrap();
    let known = ask("Forgetful@Example.org").await;
    assert_eq!(known.status(), 202);
    let known: Value = known.json().await.unwrap();
    assert_eq!(unknown, known);
    let mails = sink.wait_for(1, WAIT).await;
    let admin = app.admin().await;
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 1, "no mail for an unknown address");
    // Asking again within a minute answers alike and sends nothing more.
    assert_eq!(ask("forgetful@example.org").await.status(), 202);
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 1, "one link a minute per account");
    let m = &mails[0];
    assert_eq!(m.to, "forgetful@example.org");
    assert_eq!(m.subject, "Reset your password");
    assert!(
        m.text
            .contains(&format!("{}/reset-password#token=", app.base))
    );
    assert!(m.text.contains("30 minutes"));
    let token = token_of(m);
    assert!(token.len() >= 32, "{token}");

    // A malformed address is a 422, not a 500.
    let r = anon
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": "not an address"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let confirm = |token: String, pw: &'static str| {
        let anon = anon.clone();
        let url = app.url("/api/auth/password-reset/confirm");
        async move {
            anon.post(url)
                .json(&json!({"token": token, "new_password": pw}))
                .send()
                .await
                .unwrap()
        }
    };
    // A short password is refused and does not use the token up.
    assert_eq!(confirm(token.clone(), "short").await.status(), 422);
    let bad = confirm("wrong-token".into(), "a brand new password").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_token"
    );
    assert_eq!(
        confirm(token.clone(), "a brand new password")
            .await
            .status(),
        204
    );
    // Used once: never again.
    let again = confirm(token.clone(), "another new password").await;
    assert_eq!(again.status(), 400);
    // The old session has ended; the new password works, the old one does not.
    let me = old_session.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let login = |pw: &'static str| {
        let c = app.client();
        let url = app.url("/api/auth/login");
        async move {
            c.post(url)
                .json(&json!({"email": "forgetful@example.org", "password": pw}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login("a brand new password").await, 200);
    assert_eq!(login("correct horse battery").await, 401);

    // A link expires after 30 minutes.
    app.clock.advance(Duration::seconds(61));
    ask("forgetful@example.org").await;
    let mails = sink.wait_for(2, WAIT).await;
    let late = token_of(&mails[1]);
    app.clock.advance(Duration::minutes(31));
    assert_eq!(confirm(late, "yet another password").await.status(), 400);
}

#[tokio::test]
async fn signing_up_with_a_taken_email_warns_its_owner() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    app.client_user("taken@example.org").await;
    let r = app
        .client()
        .post(app.url("/api/auth/signup"))
        .json(
            &json!({"email": "taken@example.org", "name": "Someone Else",
            "password": "a long enough password"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, "taken@example.org");
    assert_eq!(mails[0].subject, "Someone tried to sign up with your email");
    assert!(
        mails[0]
            .text
            .contains(&format!("{}/reset-password", app.base))
    );
}

#[tokio::test]
async fn failures_are_retried_with_backoff_refusals_fail_and_admins_retry_them() {
    // The sink answers 451 twice, then 550 once, then accepts.
    let sink = SmtpSink::start(SinkOptions {
        fail: 2,
        reject: 1,
        ..Default::default()
    });
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (client, _) = app.client_user("retry@example.org").await;
    // The warning to the owner of a taken address (a password reset is never sent again).
    let r = app
        .client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "retry@example.org", "name": "Someone",
            "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // First attempt: 451, retried about 15 s later (on the server's clock).
    let row = wait_attempts(&app, &admin, 1).await;
    assert_eq!(row["delivery"]["status"], "queued");
    assert_eq!(row["attempts"][0]["outcome"], "retry");
    assert!(
        row["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("451"),
        "{row}"
    );
    let next: DateTime<Utc> = row["delivery"]["not_before"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let wait = next - app.clock.now();
    assert!(
        wait > Duration::seconds(5) && wait <= Duration::seconds(16),
        "{wait}"
    );
    app.clock.advance(Duration::seconds(20));
    let row = wait_attempts(&app, &admin, 2).await;
    assert_eq!(row["attempts"][1]["outcome"], "retry");
    let next2: DateTime<Utc> = row["delivery"]["not_before"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next2 - app.clock.now() > Duration::seconds(14),
        "the wait grows"
    );
    app.clock.advance(Duration::seconds(31));
    // Third: 550, failed for good.
    let row = wait_attempts(&app, &admin, 3).await;
    assert_eq!(row["delivery"]["status"], "failed");
    assert!(
        row["attempts"][2]["error"]
            .as_str()
            .unwrap()
            .contains("550")
    );
    let id = row["delivery"]["id"].as_str().unwrap().to_string();
    let failed = deliveries(&app, &admin, "failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["recipient"], "retry@example.org");
    assert!(
        failed[0].get("payload").is_none(),
        "no message body in the admin view"
    );

    // Only admins see or retry deliveries.
    for path in [
        "/api/admin/deliveries",
        &format!("/api/admin/deliveries/{id}"),
    ] {
        assert_eq!(
            client.get(app.url(path)).send().await.unwrap().status(),
            403
        );
        assert_eq!(
            app.client()
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let retry = format!("/api/admin/deliveries/{id}/retry");
    assert_eq!(
        client.post(app.url(&retry)).send().await.unwrap().status(),
        403
    );
    let r = admin
        .get(app.url("/api/admin/deliveries?status=lost"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = admin
        .post(app.url("/api/admin/deliveries/nope/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // An admin retries it; the sink now accepts.
    let r = admin.post(app.url(&retry)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, "retry@example.org");
    let row = wait_attempts(&app, &admin, 4).await;
    assert_eq!(row["delivery"]["status"], "delivered");
    let r = admin.post(app.url(&retry)).send().await.unwrap();
    assert_eq!(r.status(), 409, "a delivered message is not retried");

    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "parlor_notify_retried_total{channel=\"email\"} 2",
        "parlor_notify_failed_total{channel=\"email\"} 1",
        "parlor_notify_delivered_total{channel=\"email\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// The only delivery's detail once it has `n` attempts.
pub(crate) async fn wait_attempts(app: &TestApp, admin: &reqwest::Client, n: usize) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let all = deliveries(app, admin, "").await;
        if let Some(d) = all.first() {
            let id = d["id"].as_str().unwrap();
            let detail: Value = admin
                .get(app.url(&format!("/api/admin/deliveries/{id}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if detail["attempts"].as_array().unwrap().len() >= n {
                return detail;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no attempt {n}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn starttls_with_auth_against_a_self_signed_certificate() {
    let ca = crate::common::tls::TestCa::new("smtp test ca");
    let (cert, key) = ca.leaf(&["localhost"], "localhost");
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path, ca_path) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let sink = SmtpSink::start(SinkOptions {
        tls: Some((cert_path, key_path)),
        auth: Some(("parlor".into(), "relay secret".into())),
        ..Default::default()
    });
    let port = sink.port;
    let trusted = ca_path.clone();
    let app = TestApp::start_with(Backend::Sqlite, move |c| {
        smtp_to_port(c, port);
        c.notify.smtp.host = "localhost".into();
        c.notify.smtp.security = SmtpSecurity::Starttls;
        c.notify.smtp.username = "parlor".into();
        c.notify.smtp.password = Secret::new("relay secret");
        c.notify.smtp.ca_path = trusted;
    })
    .await;
    app.client_user("tls@example.org").await;
    app.client()
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": "tls@example.org"}))
        .send()
        .await
        .unwrap();
    let mails = sink.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, "tls@example.org");

    // Without the CA the certificate is not trusted: the attempt fails and is retried, with
    // the reason recorded.
    let port = sink.port;
    let untrusting = TestApp::start_with(Backend::Sqlite, move |c| {
        smtp_to_port(c, port);
        c.notify.smtp.host = "localhost".into();
        c.notify.smtp.security = SmtpSecurity::Starttls;
        c.notify.smtp.username = "parlor".into();
        c.notify.smtp.password = Secret::new("relay secret");
    })
    .await;
    let admin = untrusting.admin().await;
    untrusting.client_user("tls2@example.org").await;
    untrusting
        .client()
        .post(untrusting.url("/api/auth/password-reset"))
        .json(&json!({"email": "tls2@example.org"}))
        .send()
        .await
        .unwrap();
    let row = wait_attempts(&untrusting, &admin, 1).await;
    assert_eq!(row["attempts"][0]["outcome"], "retry", "{row}");
    let err = row["attempts"][0]["error"].as_str().unwrap().to_lowercase();
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    assert_eq!(sink.raw().len(), 1);
}

fn smtp_to_port(c: &mut Config, port: u16) {
    c.notify.smtp.host = "127.0.0.1".into();
    c.notify.smtp.port = port;
    c.notify.smtp.security = SmtpSecurity::Plain;
    c.notify.smtp.from = "Acme Coaching <sessions@acme.test>".into();
    c.notify.poll_ms = 50;
}

#[tokio::test]
async fn unsubscribing_turns_reminders_off_and_forged_links_do_nothing() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(2)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": start, "session_type": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    sink.wait_for(2, WAIT).await;
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() + Duration::seconds(1));
    let mails = sink.wait_for(4, WAIT).await;
    let reminder = mails[2..]
        .iter()
        .find(|m| m.to == "client@example.org")
        .expect("the client's reminder");
    assert!(
        reminder.text.contains("by phone: +442071838750"),
        "{}",
        reminder.text
    );
    let link = reminder
        .list_unsubscribe
        .as_deref()
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();
    // Opening the link changes nothing; the one-click POST turns reminders off.
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    let me: Value = client
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_reminders"], true);
    let last = if link.ends_with('a') { "b" } else { "a" };
    let forged = format!("{}{last}", &link[..link.len() - 1]);
    let r = reqwest::Client::new()
        .post(&forged)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::Client::new()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
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
    assert_eq!(me["user"]["email_reminders"], false);

    // The 1-hour reminder goes to the coach only.
    app.clock.advance(Duration::hours(23));
    let mails = sink.wait_for(5, WAIT).await;
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 5);
    assert_eq!(mails[4].to, "coach@example.org");
    let dropped = deliveries(&app, &admin, "dropped").await;
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["recipient"], "client@example.org");

    // The preference is also on the account (and back on).
    let r = client
        .patch(app.url("/api/me"))
        .json(&json!({"email_reminders": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["user"]["email_reminders"],
        true
    );
}

#[tokio::test]
async fn without_smtp_nothing_is_queued_and_requests_still_work() {
    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(2)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": start, "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .client()
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": "client@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(deliveries(&app, &admin, "").await.is_empty());
}

#[tokio::test]
async fn a_persons_messages_are_in_their_export_and_go_with_their_account() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (me, _) = app.client_user("exported@example.org").await;
    let r = app
        .client()
        .post(app.url("/api/auth/password-reset"))
        .json(&json!({"email": "exported@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    sink.wait_for(1, WAIT).await;
    settle(&app, &admin).await;
    let export: Value = me
        .get(app.url("/api/me/export"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = export["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{export}");
    assert_eq!(messages[0]["to"], "exported@example.org");
    assert_eq!(messages[0]["kind"], "password_reset");
    assert_eq!(messages[0]["status"], "delivered");
    assert!(
        messages[0]["subject"].is_null(),
        "a sent reset email (it held the link) is not kept: {export}"
    );
    assert_eq!(deliveries(&app, &admin, "").await.len(), 1);

    let r = me.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        deliveries(&app, &admin, "").await.is_empty(),
        "the erased person's messages are gone"
    );
}

/// Retention: finished messages (and their attempts) go after `retention.outbox_days`;
/// queued ones stay whatever their age.
async fn finished_messages_are_purged_and_queued_ones_kept(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(backend, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(3)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": start, "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    sink.wait_for(2, WAIT).await;
    settle(&app, &admin).await;
    assert_eq!(deliveries(&app, &admin, "delivered").await.len(), 2);
    let queued = deliveries(&app, &admin, "queued").await.len();
    assert_eq!(queued, 4, "two reminders for each of two people");
    let store = &app.state.store;
    let now = app.clock.now();
    // Nothing is old enough yet.
    let gone = store
        .purge_outbox(now - Duration::days(30), now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(gone, 0);
    // A cut-off past every message: the sent ones go, the queued reminders stay.
    let gone = store
        .purge_outbox(now + Duration::days(365), now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(gone, 2);
    assert!(deliveries(&app, &admin, "delivered").await.is_empty());
    assert_eq!(deliveries(&app, &admin, "queued").await.len(), queued);
}

both_backends!(finished_messages_are_purged_and_queued_ones_kept);

#[tokio::test]
async fn erasing_an_account_tells_the_other_party_of_each_cancelled_session() {
    let sink = SmtpSink::start(SinkOptions::default());
    let app = TestApp::start_with(Backend::Sqlite, smtp_to(&sink)).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("leaving@example.org").await;
    let booking = app.book_video(&client, &coach_id, Duration::days(3)).await;
    sink.wait_for(2, WAIT).await;
    let r = client.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let mails = sink.wait_for(3, WAIT).await;
    settle(&app, &admin).await;
    assert_eq!(sink.raw().len(), 3, "nothing to the erased address");
    let m = &mails[2];
    assert_eq!(m.to, "coach@example.org");
    assert!(m.subject.starts_with("Cancelled: "), "{}", m.subject);
    assert!(
        m.text.contains("the other person's account was deleted"),
        "{}",
        m.text
    );
    let (method, props) = event(&m.calendars[0].1);
    assert_eq!(method, "CANCEL");
    assert_eq!(props["UID"], booking["calendar_uid"].as_str().unwrap());
    assert_eq!(props["SEQUENCE"], "1");
}

/// The answer to a reset or confirmation-link request does not wait for the account lookup,
/// so its timing cannot tell whether the address has an account: with the accounts table
/// locked by another transaction, both requests are answered at once, and the link goes out
/// once the lock is released.
#[tokio::test]
async fn link_requests_are_answered_before_the_account_is_looked_up() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = smtp_to(&sink);
    let app = TestApp::start_with(Backend::Postgres, move |c| {
        smtp(c);
        c.auth.email_verification = EmailVerification::Optional;
    })
    .await;
    app.client_user("locked@example.org").await;
    let before = sink.raw().len();
    let pool = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let anon = app.client();
    for path in ["/api/auth/password-reset", "/api/auth/verify-email/resend"] {
        let ask = anon
            .post(app.url(path))
            .json(&json!({"email": "locked@example.org"}))
            .send();
        let r = tokio::time::timeout(StdDuration::from_secs(5), ask)
            .await
            .unwrap_or_else(|_| panic!("{path} waited for the locked accounts table"))
            .unwrap();
        assert_eq!(r.status(), 202, "{path}");
    }
    assert_eq!(sink.raw().len(), before, "nothing could be read yet");
    lock.rollback().await.unwrap();
    let mails = sink.wait_for(before + 1, WAIT).await;
    assert!(
        mails[before..]
            .iter()
            .any(|m| m.subject == "Reset your password"),
        "{mails:#?}"
    );
    pool.close().await;
}

//! SMS reminders end to end: parlor's outbox worker sends through Twilio's Messages API to the
//! project's double of it (`src/dev/fake_twilio.rs`, Basic auth, form body, Twilio's error
//! shapes). People opt in with a checked number; reminders come at their lead time on the
//! test's clock, for sessions booked before the opt-in too, follow a changed number and stop
//! with the session; rate limits, server errors and stalls are retried, a refused number
//! fails for good, and a STOP reply turns the person's SMS reminders off.

use crate::common::Backend;
use crate::common::TestApp;
use crate::common::fake_twilio::FakeTwilio;
use crate::notify_email::{WAIT, deliveries, settle, wait_attempts};
use chrono::Duration;
use parlor::config::{Config, Secret};
use serde_json::{Value, json};
use std::time::Duration as StdDuration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-tests";

fn sms_to(fake: &FakeTwilio, token: &str) -> impl FnOnce(&mut Config) + use<> {
    let base = fake.base_url();
    let token = token.to_string();
    move |c: &mut Config| {
        c.notify.sms.base_url = base;
        c.notify.sms.account_sid = SID.into();
        c.notify.sms.auth_token = Secret::new(token);
        c.notify.sms.from = "+15005550006".into();
        c.notify.sms.timeout_secs = 1;
        c.notify.organisation = "Acme Coaching".into();
        c.notify.poll_ms = 50;
    }
}

async fn wait_sent(fake: &FakeTwilio, n: usize) -> Vec<crate::common::fake_twilio::Sent> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let sent = fake.sent();
        if sent.len() >= n {
            return sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} SMS expected, got {sent:#?}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn patch_me(client: &reqwest::Client, app: &TestApp, body: Value) -> (u16, Value) {
    let r = client
        .patch(app.url("/api/me"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn sms_reminders(backend: Backend) {
    let fake = FakeTwilio::start("127.0.0.1:0".parse().unwrap(), SID, TOKEN)
        .await
        .unwrap();
    let app = TestApp::start_with(backend, sms_to(&fake, TOKEN)).await;
    let admin = app.admin().await;
    let (coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;

    // Bad numbers and SMS without a number are refused, and change nothing.
    for (body, code) in [
        (json!({"phone": "12345"}), "invalid_phone"),
        (json!({"phone": "+44 20 7946 09"}), "invalid_phone"),
        (
            json!({"phone": "", "sms_reminders": true}),
            "phone_required",
        ),
        (
            json!({"sms_reminders": true, "name": "Changed Name"}),
            "phone_required",
        ),
    ] {
        let (status, err) = patch_me(&client, &app, body.clone()).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(err["error"]["code"], code, "{body}: {err}");
    }
    let (_, me) = patch_me(&client, &app, json!({})).await;
    assert_eq!(me["user"]["phone"], Value::Null);
    assert_eq!(me["user"]["name"], "Client Person");
    assert_eq!(me["sms_available"], true);

    // The client opts in with a number written as people write them; stored in E.164.
    let (status, me) = patch_me(
        &client,
        &app,
        json!({"phone": "+44 7911 123456", "sms_reminders": true}),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["phone"], "+447911123456");
    assert_eq!(me["user"]["sms_reminders"], true);

    let b = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let start: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    let room_link = format!("{}/r/", app.base);

    // Nothing before its time; the 24-hour reminder to the client when the clock gets there.
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() - Duration::seconds(30));
    settle(&app, &admin).await;
    assert_eq!(fake.requests(), 0, "no SMS before its time");
    app.clock.advance(Duration::seconds(31));
    let sent = wait_sent(&fake, 1).await;
    assert_eq!(sent[0].to, "+447911123456");
    assert_eq!(sent[0].from, "+15005550006");
    assert!(
        sent[0]
            .body
            .starts_with("Acme Coaching: your session with Coach Person starts in 24 hours"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains(&room_link), "{}", sent[0].body);

    // The coach opts in after the booking: their reminders are made for it then.
    let (status, me) = patch_me(
        &coach,
        &app,
        json!({"phone": "+1 415 555 2671", "sms_reminders": true}),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    // The client moves to a new number: the queued reminder follows it.
    let (status, _) = patch_me(&client, &app, json!({"phone": "+447911123457"})).await;
    assert_eq!(status, 200);
    app.clock.advance(Duration::hours(23));
    let sent = wait_sent(&fake, 3).await;
    settle(&app, &admin).await;
    assert_eq!(fake.sent().len(), 3, "{sent:#?}");
    let mut to: Vec<&str> = sent[1..].iter().map(|s| s.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["+14155552671", "+447911123457"]);
    let coach_sms = sent.iter().find(|s| s.to == "+14155552671").unwrap();
    assert!(
        coach_sms
            .body
            .contains("your session with Client Person starts in 1 hour"),
        "{}",
        coach_sms.body
    );
    let dropped = deliveries(&app, &admin, "dropped").await;
    assert!(
        dropped
            .iter()
            .any(|d| d["channel"] == "sms" && d["recipient"] == "+447911123456"),
        "the old number's reminder is dropped: {dropped:#?}"
    );

    // A cancelled session's SMS reminders are dropped with it; turning SMS off stops the rest.
    let b2 = app.book_video(&client, &coach_id, Duration::days(2)).await;
    let b3 = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let r = client
        .post(app.url(&format!(
            "/api/bookings/{}/cancel",
            b2["id"].as_str().unwrap()
        )))
        .json(&json!({"reason": "ill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let dropped = deliveries(&app, &admin, "dropped").await;
    let b2_sms = dropped
        .iter()
        .filter(|d| d["channel"] == "sms" && d["booking_id"] == b2["id"])
        .count();
    assert_eq!(b2_sms, 4, "two leads for each of two people: {dropped:#?}");
    let queued = deliveries(&app, &admin, "queued").await;
    assert_eq!(
        queued
            .iter()
            .filter(|d| d["channel"] == "sms" && d["booking_id"] == b3["id"])
            .count(),
        4,
        "{queued:#?}"
    );
    let (status, me) = patch_me(&coach, &app, json!({"sms_reminders": false})).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["phone"], "+14155552671", "the number stays");
    let (status, me) = patch_me(&client, &app, json!({"phone": ""})).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["sms_reminders"], false, "no number, no SMS");
    let b3_start: chrono::DateTime<chrono::Utc> =
        b3["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(b3_start - app.clock.now() - Duration::minutes(30));
    settle(&app, &admin).await;
    assert_eq!(fake.sent().len(), 3, "{:#?}", fake.sent());
    let queued = deliveries(&app, &admin, "queued").await;
    assert!(queued.iter().all(|d| d["channel"] != "sms"), "{queued:#?}");
}

both_backends!(sms_reminders);

#[tokio::test]
async fn provider_errors_are_retried_or_final_and_stop_turns_sms_off() {
    let fake = FakeTwilio::start("127.0.0.1:0".parse().unwrap(), SID, TOKEN)
        .await
        .unwrap();
    // A wrong token first: Twilio's 401 is retried (an operator fixes the configuration).
    let app = TestApp::start_with(Backend::Sqlite, sms_to(&fake, "wrong-token")).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let (status, _) = patch_me(
        &client,
        &app,
        json!({"phone": "+447911123456", "sms_reminders": true}),
    )
    .await;
    assert_eq!(status, 200);
    let b = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let start: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() + Duration::seconds(1));
    let row = wait_attempts(&app, &admin, 1).await;
    assert_eq!(row["delivery"]["channel"], "sms");
    assert_eq!(row["attempts"][0]["outcome"], "retry");
    let error = row["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 401") && error.contains("20003"),
        "{error}"
    );
    assert!(
        !error.contains("wrong-token"),
        "no secret in the log: {error}"
    );
    assert_eq!(fake.sent().len(), 0);
    drop(app);

    // The right token; the provider limits the rate, then fails, then stalls: each retried.
    let app = TestApp::start_with(Backend::Sqlite, sms_to(&fake, TOKEN)).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    patch_me(
        &client,
        &app,
        json!({"phone": "+447911123456", "sms_reminders": true}),
    )
    .await;
    let b = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let start: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    fake.rate_limit(1);
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() + Duration::seconds(1));
    let row = wait_attempts(&app, &admin, 1).await;
    let e = row["attempts"][0]["error"].as_str().unwrap().to_string();
    assert!(e.contains("HTTP 429") && e.contains("20429"), "{e}");
    fake.fail(1);
    app.clock.advance(Duration::seconds(20));
    let row = wait_attempts(&app, &admin, 2).await;
    let e = row["attempts"][1]["error"].as_str().unwrap().to_string();
    assert!(e.contains("HTTP 500"), "{e}");
    fake.stall(true);
    app.clock.advance(Duration::seconds(40));
    let row = wait_attempts(&app, &admin, 3).await;
    let e = row["attempts"][2]["error"].as_str().unwrap().to_string();
    assert!(e.contains("no answer within 1 s"), "{e}");
    assert_eq!(row["delivery"]["status"], "queued");
    fake.stall(false);
    app.clock.advance(Duration::seconds(90));
    let row = wait_attempts(&app, &admin, 4).await;
    assert_eq!(row["delivery"]["status"], "delivered", "{row}");
    assert_eq!(fake.sent().len(), 1);
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("parlor_notify_retried_total{channel=\"sms\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("parlor_notify_delivered_total{channel=\"sms\"} 1"));

    // The person replied STOP to the sender: final, and their SMS reminders are turned off.
    fake.stop("+447911123456");
    app.clock
        .advance(start - Duration::hours(1) - app.clock.now() + Duration::seconds(1));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let failed = deliveries(&app, &admin, "failed").await;
        if let Some(f) = failed.first() {
            assert_eq!(f["channel"], "sms");
            assert!(f["last_error"].as_str().unwrap().contains("21610"), "{f}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no failure recorded");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let (_, me) = patch_me(&client, &app, json!({})).await;
    assert_eq!(me["user"]["sms_reminders"], false);
    assert_eq!(me["user"]["phone"], "+447911123456");
}

#[tokio::test]
async fn without_sms_on_the_server_nobody_can_opt_in() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (client, _) = app.client_user("client@example.org").await;
    let (status, err) = patch_me(
        &client,
        &app,
        json!({"phone": "+447911123456", "sms_reminders": true}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "sms_unavailable");
    // A number alone may be kept.
    let (status, me) = patch_me(&client, &app, json!({"phone": "+447911123456"})).await;
    assert_eq!(status, 200);
    assert_eq!(me["sms_available"], false);
    assert_eq!(me["user"]["sms_reminders"], false);
}

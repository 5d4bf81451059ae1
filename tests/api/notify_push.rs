//! Web Push end to end against a local push service (`tests/common/push_service.py`) that
//! plays the browser's part (it makes the subscription keys) and checks everything parlor
//! sends with independent implementations: the payload decrypted with `http_ece`, the VAPID
//! token verified with `cryptography`. Reminders arrive at their lead time on the test's
//! clock; a subscription made after booking gets them too; an expired subscription (410) is
//! removed with its queued messages; rate limits are retried; bad subscriptions are refused.

use crate::common::Backend;
use crate::common::TestApp;
use crate::common::push::PushService;
use crate::notify_email::{WAIT, deliveries, settle};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use parlor::config::Config;
use serde_json::{Value, json};

fn local_push(c: &mut Config) {
    c.notify.push.allow_private = true;
    c.notify.poll_ms = 50;
    c.notify.organisation = "Acme Coaching".into();
}

async fn subscribe(app: &TestApp, client: &reqwest::Client, sub: &Value) -> (u16, Value) {
    let r = client
        .post(app.url("/api/push/subscriptions"))
        .json(sub)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn starts(b: &Value) -> DateTime<Utc> {
    b["starts_at"].as_str().unwrap().parse().unwrap()
}

async fn push_reminders(backend: Backend) {
    let push = PushService::start();
    let app = TestApp::start_with(backend, local_push).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;

    // The key browsers subscribe with: an uncompressed P-256 point.
    let key: Value = reqwest::get(app.url("/api/push/key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key["enabled"], true);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4));

    // Booked first, subscribed after: the subscription still gets the session's reminders.
    let b = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let start = starts(&b);
    let sub = push.subscribe().await;
    let (status, stored) = subscribe(&app, &client, &sub).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["endpoint"], sub["endpoint"]);
    assert!(stored.get("p256dh").is_none(), "keys are not echoed");
    let list: Value = client
        .get(app.url("/api/push/subscriptions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Nothing before its time; then the 24-hour reminder, decrypted and signed.
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() - Duration::seconds(30));
    settle(&app, &admin).await;
    assert!(push.received().is_empty());
    app.clock.advance(Duration::seconds(31));
    let got = push.wait_for(1).await;
    let p = &got[0];
    assert!(p.verified, "{p:#?}");
    let m = p.message.as_ref().unwrap();
    assert_eq!(m["title"], "Session in 24 hours");
    assert!(
        m["body"]
            .as_str()
            .unwrap()
            .starts_with("With Coach Person, "),
        "{m}"
    );
    assert!(
        m["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/r/", app.base)),
        "{m}"
    );
    assert_eq!(m["tag"], format!("session-{}", b["id"].as_str().unwrap()));
    assert_eq!(p.urgency.as_deref(), Some("normal"));
    // Kept by the push service at most until the session starts.
    let ttl: i64 = p.ttl.as_deref().unwrap().parse().unwrap();
    let left = (start - app.clock.now()).num_seconds();
    assert!(ttl <= left && ttl > left - 120, "ttl {ttl}, {left} s left");
    // VAPID: the audience is the push service's origin, and the token expires within a day.
    let claims = p.claims.as_ref().unwrap();
    assert_eq!(claims["aud"], format!("http://127.0.0.1:{}", push.port));
    let exp = claims["exp"].as_i64().unwrap();
    let now = app.clock.now().timestamp();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));

    // A session booked and cancelled: its reminders are dropped; the first session's
    // 1-hour reminder still comes.
    let b2 = app.book_video(&client, &coach_id, Duration::days(3)).await;
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
    assert_eq!(
        dropped
            .iter()
            .filter(|d| d["channel"] == "push" && d["booking_id"] == b2["id"])
            .count(),
        2,
        "{dropped:#?}"
    );
    app.clock
        .advance(start - Duration::hours(1) - app.clock.now() + Duration::seconds(1));
    let got = push.wait_for(2).await;
    settle(&app, &admin).await;
    assert_eq!(push.received().len(), 2);
    assert_eq!(
        got[1].message.as_ref().unwrap()["title"],
        "Session in 1 hour"
    );
}

both_backends!(push_reminders);

#[tokio::test]
async fn expired_subscriptions_go_and_rate_limits_are_retried() {
    let push = PushService::start();
    let app = TestApp::start_with(Backend::Sqlite, local_push).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let sub = push.subscribe().await;
    assert_eq!(subscribe(&app, &client, &sub).await.0, 201);
    let b = app.book_video(&client, &coach_id, Duration::days(3)).await;
    let start = starts(&b);

    // 429: retried; then delivered.
    push.fail(429, 1).await;
    app.clock
        .advance(start - Duration::hours(24) - app.clock.now() + Duration::seconds(1));
    let row = crate::notify_email::wait_attempts(&app, &admin, 1).await;
    assert_eq!(row["delivery"]["channel"], "push");
    assert_eq!(row["attempts"][0]["outcome"], "retry");
    assert!(
        row["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 429")
    );
    app.clock.advance(Duration::seconds(20));
    let got = push.wait_for(2).await;
    assert!(got[1].verified);

    // The browser unsubscribed (410): the message fails, the subscription and its queued
    // messages go.
    push.make_gone(sub["endpoint"].as_str().unwrap()).await;
    let b2 = app.book_video(&client, &coach_id, Duration::days(3)).await;
    app.clock
        .advance(start - Duration::hours(1) - app.clock.now() + Duration::seconds(1));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let failed = deliveries(&app, &admin, "failed").await;
        if let Some(f) = failed.iter().find(|f| f["channel"] == "push") {
            assert!(f["last_error"].as_str().unwrap().contains("expired"), "{f}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no failure recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let list: Value = client
        .get(app.url("/api/push/subscriptions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]), "the expired subscription is gone");
    let queued = deliveries(&app, &admin, "queued").await;
    assert!(
        queued
            .iter()
            .all(|d| d["channel"] != "push" || d["booking_id"] != b2["id"]),
        "{queued:#?}"
    );
}

#[tokio::test]
async fn subscriptions_are_checked_and_belong_to_their_owner() {
    let push = PushService::start();
    let app = TestApp::start(Backend::Sqlite).await;
    let (client, _) = app.client_user("client@example.org").await;
    let (other, _) = app.client_user("other@example.org").await;
    let good = push.subscribe().await;
    let keys = good["keys"].clone();
    // Internal addresses are refused (SSRF), and so is plain http on a public server.
    for (sub, why) in [
        (good.clone(), "https"),
        (
            json!({"endpoint": "http://push.example.net/x", "keys": keys}),
            "https",
        ),
        (
            json!({"endpoint": "https://169.254.169.254/latest", "keys": keys}),
            "internal",
        ),
        (
            json!({"endpoint": "https://push.example.net/x",
                   "keys": {"p256dh": "BAAA", "auth": keys["auth"]}}),
            "P-256",
        ),
        (
            json!({"endpoint": "https://push.example.net/x",
                   "keys": {"p256dh": keys["p256dh"], "auth": "c2hvcnQ"}}),
            "16 bytes",
        ),
        (json!({"endpoint": "not a url", "keys": keys}), "URL"),
    ] {
        let (status, err) = subscribe(&app, &client, &sub).await;
        assert_eq!(status, 422, "{sub}: {err}");
        assert_eq!(err["error"]["code"], "invalid_subscription");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {err}"
        );
    }
    let (status, _) = subscribe(&app, &client, &json!({"endpoint": "x"})).await;
    assert!(status == 400 || status == 422, "{status}");
    let anon = reqwest::Client::new()
        .post(app.url("/api/push/subscriptions"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // On a server that allows a local push service: the same endpoint twice is one
    // subscription, at most ten are kept, and only their owner removes them.
    let app = TestApp::start_with(Backend::Sqlite, local_push).await;
    let (client, _) = app.client_user("client@example.org").await;
    let (other_client, _) = app.client_user("other@example.org").await;
    let _ = other;
    let first = push.subscribe().await;
    assert_eq!(subscribe(&app, &client, &first).await.0, 201);
    let (status, again) = subscribe(&app, &client, &first).await;
    assert_eq!(status, 201);
    for _ in 0..10 {
        app.clock.advance(Duration::seconds(1));
        let s = push.subscribe().await;
        assert_eq!(subscribe(&app, &client, &s).await.0, 201);
    }
    let list: Value = client
        .get(app.url("/api/push/subscriptions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 10);
    assert!(
        list.iter().all(|s| s["endpoint"] != first["endpoint"]),
        "the oldest went"
    );
    let id = list[0]["id"].as_str().unwrap();
    let r = other_client
        .delete(app.url(&format!("/api/push/subscriptions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not theirs");
    let r = client
        .delete(app.url(&format!("/api/push/subscriptions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = client
        .delete(app.url(&format!(
            "/api/push/subscriptions/{}",
            again["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "replaced by a newer subscription");

    // In the person's export; gone with their account.
    let export: Value = client
        .get(app.url("/api/me/export"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(export["push_subscriptions"].as_array().unwrap().len(), 9);
    let user = parlor::ids::UserId(export["user"]["id"].as_str().unwrap().to_string());
    let r = client.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        app.state
            .store
            .push_subscriptions(&user)
            .await
            .unwrap()
            .is_empty()
    );

    // With Web Push off, nobody can subscribe.
    let off = TestApp::start_with(Backend::Sqlite, |c| c.notify.push.enabled = false).await;
    let (client, _) = off.client_user("client@example.org").await;
    let key: Value = reqwest::get(off.url("/api/push/key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key, json!({"enabled": false, "public_key": null}));
    let (status, err) = subscribe(&off, &client, &good).await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "push_off");
}

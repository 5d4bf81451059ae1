//! Signed webhooks end to end, checked by an independent implementation: a receiver running
//! the `standardwebhooks` package from PyPI verifies every delivery (signature, id and
//! timestamp headers), and refuses a stale one. Booking, room and participant events reach
//! the endpoints that take them; admins alone manage endpoints; internal targets are refused.
//!
//! The server runs on the machine's clock here (the receiver checks timestamps against it);
//! nothing asserted depends on the hour or the date.

use crate::common::webhooks::{Received, Receiver};
use crate::common::{Backend, TestApp};
use chrono::{Duration, Utc};
use parlor::clock::Clock;
use parlor::rooms::JoinRequest;
use parlor::sfu::RoomRole;
use serde_json::{Value, json};
use std::time::Duration as StdDuration;

const WAIT: StdDuration = StdDuration::from_secs(20);

fn allow_private(c: &mut parlor::config::Config) {
    c.notify.webhooks.allow_private = true;
    c.notify.poll_ms = 50;
}

async fn add_endpoint(
    app: &TestApp,
    admin: &reqwest::Client,
    url: &str,
    events: Value,
) -> (String, String) {
    let r = admin
        .post(app.url("/api/admin/webhooks"))
        .json(&json!({"url": url, "events": events, "description": "test receiver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    (
        v["endpoint"]["id"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

fn of_type<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["type"] == kind).collect()
}

async fn booking_and_room_events(backend: Backend) {
    let all = Receiver::start(0);
    let cancels = Receiver::start(0);
    let app = TestApp::start_with_clock(backend, Clock::system(), allow_private).await;
    let admin = app.admin().await;
    let (all_id, secret) = add_endpoint(
        &app,
        &admin,
        &all.url("/hooks?src=parlor"),
        json!([
            "booking.created",
            "booking.rescheduled",
            "booking.cancelled",
            "booking.completed",
            "room.started",
            "room.ended",
            "participant.joined",
            "participant.left"
        ]),
    )
    .await;
    all.set_secret(&secret);
    let (_, secret2) = add_endpoint(
        &app,
        &admin,
        &cancels.url("/"),
        json!(["booking.cancelled"]),
    )
    .await;
    cancels.set_secret(&secret2);
    // A turned-off endpoint gets nothing.
    let off = Receiver::start(0);
    let (off_id, _) = add_endpoint(&app, &admin, &off.url("/"), json!(["*"])).await;
    let r = admin
        .patch(app.url(&format!("/api/admin/webhooks/{off_id}")))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);

    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, client_id) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(3)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": start, "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booking: Value = r.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    let got = all
        .wait_until(WAIT, "booking.created", |g| !g.is_empty())
        .await;
    let first = &got[0];
    assert!(first.verified, "standardwebhooks refused it: {first:?}");
    assert!(first.id.as_deref().unwrap().starts_with("msg_"));
    assert!(first.signature.as_deref().unwrap().starts_with("v1,"));
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    let body = first.json();
    assert_eq!(body["type"], "booking.created");
    assert_eq!(body["data"]["booking_id"], id);
    assert_eq!(body["data"]["client_id"], client_id.as_str());
    assert_eq!(body["data"]["coach_id"], coach_id.as_str());
    assert_eq!(body["data"]["status"], "scheduled");
    assert!(
        body["data"].get("email").is_none(),
        "ids only, no personal data"
    );

    let new_start = app.free_slot(&coach_id, Duration::days(4)).await;
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/reschedule")))
        .json(&json!({"starts_at": new_start}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&json!({"reason": "Travelling"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Room lifecycle, straight from the live rooms (what a /rtc join does).
    let member = app
        .state
        .rooms
        .join(&JoinRequest {
            room: "hook-room".into(),
            identity: client_id.clone(),
            name: "Client Person".into(),
            role: RoomRole::Client,
        })
        .unwrap();
    app.state.rooms.leave(&member.room, member.id);

    let got = all
        .wait_until(WAIT, "all seven events", |g| g.len() >= 7)
        .await;
    assert!(got.iter().all(|r| r.verified), "{got:#?}");
    let moved = of_type(&got, "booking.rescheduled");
    assert_eq!(moved.len(), 1);
    let moved = moved[0].json();
    assert_eq!(
        moved["data"]["previous_starts_at"],
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(moved["data"]["sequence"], 1);
    assert_eq!(
        of_type(&got, "booking.cancelled")[0].json()["data"]["status"],
        "cancelled"
    );
    let joined = of_type(&got, "participant.joined");
    assert_eq!(joined[0].json()["data"]["room"], "hook-room");
    assert_eq!(joined[0].json()["data"]["user_id"], client_id.as_str());
    assert_eq!(of_type(&got, "participant.left").len(), 1);
    assert_eq!(of_type(&got, "room.started").len(), 1);
    let ended = all
        .wait_until(WAIT, "room.ended", |g| !of_type(g, "room.ended").is_empty())
        .await;
    assert_eq!(of_type(&ended, "room.ended").len(), 1);
    assert_eq!(ended.len(), 7, "{ended:#?}");

    // The cancellations-only endpoint got exactly that; the turned-off one nothing.
    let c = cancels
        .wait_until(WAIT, "the cancellation", |g| !g.is_empty())
        .await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let c2 = cancels.received();
    assert_eq!(c2.len(), 1, "{c:#?}");
    assert!(c2[0].verified);
    assert_eq!(c2[0].json()["type"], "booking.cancelled");
    assert!(off.received().is_empty());

    // Each webhook id is unique; the endpoint's delivery log lists them, delivered.
    let mut ids: Vec<_> = ended.iter().map(|r| r.id.clone().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ended.len());
    let log: Vec<Value> = admin
        .get(app.url(&format!("/api/admin/webhooks/{all_id}/deliveries")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 7, "{log:#?}");
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["channel"] == "webhook")
    );
    let detail: Value = admin
        .get(app.url(&format!(
            "/api/admin/deliveries/{}",
            log[0]["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["attempts"][0]["outcome"], "delivered");
}

#[tokio::test]
async fn booking_and_room_events_arrive_signed_and_verified_sqlite() {
    booking_and_room_events(Backend::Sqlite).await;
}

#[tokio::test]
async fn booking_and_room_events_arrive_signed_and_verified_postgres() {
    booking_and_room_events(Backend::Postgres).await;
}

/// A delivery signed ten minutes ago (a replay, or a sender's clock far off) is refused by
/// the receiver's library, and one signed with another secret too; parlor records the
/// refusals and tries again later.
#[tokio::test]
async fn stale_or_wrongly_signed_deliveries_are_refused_by_the_receiver() {
    let rx = Receiver::start(0);
    let app = TestApp::start_with_clock(
        Backend::Sqlite,
        Clock::starting_at(Utc::now() - Duration::minutes(10)),
        allow_private,
    )
    .await;
    let admin = app.admin().await;
    let (endpoint, secret) =
        add_endpoint(&app, &admin, &rx.url("/"), json!(["booking.created"])).await;
    rx.set_secret(&secret);
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let start = app.free_slot(&coach_id, Duration::days(3)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": start, "session_type": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = rx
        .wait_until(WAIT, "the stale delivery", |g| !g.is_empty())
        .await;
    assert!(!got[0].verified);
    assert!(
        got[0].error.as_deref().unwrap().contains("too old"),
        "{:?}",
        got[0]
    );
    let deadline = std::time::Instant::now() + WAIT;
    let log = loop {
        let log: Vec<Value> = admin
            .get(app.url(&format!("/api/admin/webhooks/{endpoint}/deliveries")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if log[0]["attempts"] == 1 {
            break log;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    assert_eq!(log[0]["status"], "queued", "retried later");
    assert!(log[0]["last_error"].as_str().unwrap().contains("HTTP 400"));

    // The right time but the wrong secret: no matching signature.
    let rx2 = Receiver::start(0);
    let app2 = TestApp::start_with_clock(Backend::Sqlite, Clock::system(), allow_private).await;
    let admin2 = app2.admin().await;
    add_endpoint(&app2, &admin2, &rx2.url("/"), json!(["room.started"])).await;
    rx2.set_secret(&parlor::notify::webhook::new_secret());
    app2.state
        .rooms
        .join(&JoinRequest {
            room: "r1".into(),
            identity: "g_1".into(),
            name: "Guest".into(),
            role: RoomRole::Guest,
        })
        .unwrap();
    let got = rx2
        .wait_until(WAIT, "the delivery", |g| !g.is_empty())
        .await;
    assert!(!got[0].verified);
    assert!(
        got[0]
            .error
            .as_deref()
            .unwrap()
            .contains("No matching signature"),
        "{:?}",
        got[0]
    );
}

#[tokio::test]
async fn internal_targets_are_refused_and_only_admins_manage_webhooks() {
    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.admin().await;
    let (client, _) = app.client_user("client@example.org").await;
    let post = |c: &reqwest::Client, body: Value| {
        let c = c.clone();
        let url = app.url("/api/admin/webhooks");
        async move { c.post(url).json(&body).send().await.unwrap() }
    };
    for target in [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:192.168.0.1]/",
    ] {
        let r = post(&admin, json!({"url": target, "events": ["*"]})).await;
        assert_eq!(r.status(), 422, "{target}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_target", "{target}: {v}");
    }
    for (body, what) in [
        (
            json!({"url": "ftp://hooks.example.org/", "events": ["*"]}),
            "scheme",
        ),
        (
            json!({"url": "https://u:p@hooks.example.org/", "events": ["*"]}),
            "credentials",
        ),
        (
            json!({"url": "https://hooks.example.org/", "events": ["booking.exploded"]}),
            "event",
        ),
        (
            json!({"url": "https://hooks.example.org/", "events": []}),
            "no events",
        ),
    ] {
        let r = post(&admin, body).await;
        assert_eq!(r.status(), 422, "{what}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "invalid",
            "{what}"
        );
    }
    assert!(
        admin
            .get(app.url("/api/admin/webhooks"))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .is_empty(),
        "nothing was stored"
    );

    let body = json!({"url": "https://hooks.example.org/", "events": ["*"]});
    assert_eq!(post(&client, body.clone()).await.status(), 403);
    assert_eq!(post(&app.client(), body).await.status(), 401);
    for path in [
        "/api/admin/webhooks",
        "/api/admin/webhooks/wh_x",
        "/api/admin/webhooks/wh_x/deliveries",
    ] {
        assert_eq!(
            client.get(app.url(path)).send().await.unwrap().status(),
            403,
            "{path}"
        );
    }
    assert_eq!(
        admin
            .delete(app.url("/api/admin/webhooks/wh_nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn an_endpoint_that_keeps_answering_gone_is_turned_off() {
    let rx = Receiver::start(410);
    let app = TestApp::start_with_clock(Backend::Sqlite, Clock::system(), allow_private).await;
    let admin = app.admin().await;
    let (id, secret) = add_endpoint(&app, &admin, &rx.url("/"), json!(["booking.created"])).await;
    rx.set_secret(&secret);
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    for day in 2..5 {
        app.book_video(&client, &coach_id, Duration::days(day))
            .await;
    }
    // Three 410 answers in a row (notify.webhooks.disable_after): turned off, and said why.
    let deadline = std::time::Instant::now() + WAIT;
    let endpoint = loop {
        let e: Value = admin
            .get(app.url(&format!("/api/admin/webhooks/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if e["active"] == false {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "still active: {e}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    assert_eq!(
        endpoint["disabled_reason"],
        "answered 410 Gone 3 times in a row"
    );
    assert_eq!(rx.received().len(), 3);
    assert!(rx.received().iter().all(|r| r.verified));
    // Nothing more is queued for it.
    app.book_video(&client, &coach_id, Duration::days(5)).await;
    let webhooks: Vec<Value> = app
        .deliveries(&admin, "")
        .await
        .into_iter()
        .filter(|d| d["channel"] == "webhook")
        .collect();
    assert_eq!(webhooks.len(), 3, "{webhooks:#?}");
    assert!(webhooks.iter().all(|d| d["status"] == "failed"));
    // Turned on again by an admin, it starts over.
    let r = admin
        .patch(app.url(&format!("/api/admin/webhooks/{id}")))
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["active"], true);
    assert_eq!(e["disabled_reason"], Value::Null);
}

//! Bookings end to end over HTTP, on SQLite and PostgreSQL: the double-booking race,
//! idempotency, links, reschedule/cancel rules, ratings, notes and calendar objects.

use crate::common;

use chrono::Duration;
use common::{Backend, TestApp};
use serde_json::{Value, json};

both_backends!(
    fifty_concurrent_requests_for_one_slot_give_one_booking,
    idempotency_key_replays_same_body_and_refuses_a_different_one,
    video_and_phone_bookings_carry_the_right_links,
    reschedule_keeps_uid_bumps_sequence_and_frees_the_old_slot,
    cancel_respects_cutoffs_and_cancelled_cannot_be_rescheduled,
    rating_after_the_session_and_notes_private_to_the_coach,
    invite_and_feed_are_valid_icalendar,
);

async fn setup(backend: Backend) -> (TestApp, reqwest::Client, String, reqwest::Client) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    (app, client, coach_id, admin)
}

async fn book(
    app: &TestApp,
    c: &reqwest::Client,
    coach: &str,
    at: &str,
    kind: &str,
) -> reqwest::Response {
    c.post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": at, "session_type": kind, "focus_area": "career change"}))
        .send()
        .await
        .unwrap()
}

async fn fifty_concurrent_requests_for_one_slot_give_one_booking(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let slot = app.free_slot(&coach, Duration::days(2)).await.to_rfc3339();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, url, coach, slot) = (
            client.clone(),
            app.url("/api/bookings"),
            coach.clone(),
            slot.clone(),
        );
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"coach_id": coach, "starts_at": slot, "session_type": "video"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    let created = codes.iter().filter(|&&c| c == 201).count();
    let conflicts = codes.iter().filter(|&&c| c == 409).count();
    assert_eq!((created, conflicts), (1, 49), "status codes: {codes:?}");
    let list: Vec<Value> = crate::common::get_json(&client, app.url("/api/bookings")).await;
    assert_eq!(list.len(), 1);
}

async fn idempotency_key_replays_same_body_and_refuses_a_different_one(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let slot = app.free_slot(&coach, Duration::days(2)).await.to_rfc3339();
    let body = json!({"coach_id": coach, "starts_at": slot, "session_type": "video"});
    let send = |b: Value| {
        client
            .post(app.url("/api/bookings"))
            .header("Idempotency-Key", "k-123")
            .json(&b)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let other = json!({"coach_id": coach, "starts_at": slot, "session_type": "phone"});
    let r = send(other).await.unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "idempotency_mismatch");
    let list: Vec<Value> = crate::common::get_json(&client, app.url("/api/bookings")).await;
    assert_eq!(list.len(), 1, "a replay never creates a second booking");
}

async fn video_and_phone_bookings_carry_the_right_links(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let s1 = app.free_slot(&coach, Duration::days(2)).await;
    let v: Value = book(&app, &client, &coach, &s1.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let join = v["join_url"].as_str().unwrap();
    let room = join.rsplit('/').next().unwrap();
    assert_eq!(join, format!("{}/r/{room}", app.base));
    assert!(
        room.len() >= 32 && room.chars().all(|c| c.is_ascii_hexdigit()),
        "room {room}"
    );
    let fallback = v["fallback_url"].as_str().unwrap();
    assert!(
        fallback.starts_with(&format!("https://meet.jit.si/{room}#")),
        "{fallback}"
    );
    assert!(fallback.contains("config.prejoinConfig.enabled=false"));
    assert!(
        fallback.contains("userInfo.displayName=%22Client%20Person%22"),
        "{fallback}"
    );
    assert!(v["phone_url"].is_null());
    assert_eq!(
        v["local_starts_at"].as_str().unwrap().len(),
        25,
        "RFC 3339 with offset"
    );
    let s2 = app.free_slot(&coach, Duration::days(3)).await;
    let p: Value = book(&app, &client, &coach, &s2.to_rfc3339(), "phone")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["phone_url"], "tel:+442071838750");
    assert!(p["join_url"].is_null() && p["fallback_url"].is_null());
    let up: Vec<Value> =
        crate::common::get_json(&client, app.url("/api/bookings?scope=upcoming")).await;
    assert_eq!(up.len(), 2);
    assert!(
        up[0]["starts_at"].as_str() < up[1]["starts_at"].as_str(),
        "upcoming is ordered by start"
    );
}

async fn reschedule_keeps_uid_bumps_sequence_and_frees_the_old_slot(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let old = app.free_slot(&coach, Duration::days(3)).await;
    let b: Value = book(&app, &client, &coach, &old.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let new = old + Duration::hours(2);
    let r = client
        .post(app.url(&format!(
            "/api/bookings/{}/reschedule",
            b["id"].as_str().unwrap()
        )))
        .json(&json!({"starts_at": new.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["calendar_uid"], b["calendar_uid"]);
    assert_eq!(moved["sequence"], 1);
    assert_eq!(
        moved["starts_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        new
    );
    // The old slot is bookable again, by someone else.
    let (other, _) = app.client_user("other@example.org").await;
    assert_eq!(
        book(&app, &other, &coach, &old.to_rfc3339(), "video")
            .await
            .status(),
        201
    );
    // The new one is not.
    assert_eq!(
        book(&app, &other, &coach, &new.to_rfc3339(), "video")
            .await
            .status(),
        409
    );
}

async fn cancel_respects_cutoffs_and_cancelled_cannot_be_rescheduled(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let soon = app.free_slot(&coach, Duration::hours(3)).await;
    let b: Value = book(&app, &client, &coach, &soon.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    let cancel = |c: &reqwest::Client, reason: &str| {
        c.post(app.url(&format!("/api/bookings/{id}/cancel")))
            .json(&json!({"reason": reason}))
            .send()
    };
    let r = cancel(&client, "ill").await.unwrap();
    assert_eq!(
        r.status(),
        409,
        "within the 24 h cut-off the client cannot cancel"
    );
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("24 hours"));
    assert_eq!(
        cancel(&client, "  ").await.unwrap().status(),
        422,
        "a reason is required"
    );
    let later = app.free_slot(&coach, Duration::days(5)).await;
    let b2: Value = book(&app, &client, &coach, &later.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let id2 = b2["id"].as_str().unwrap();
    let r = client
        .post(app.url(&format!("/api/bookings/{id2}/cancel")))
        .json(&json!({"reason": "travelling"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["status"], "cancelled");
    assert_eq!(c["sequence"], 1);
    let r = client
        .post(app.url(&format!("/api/bookings/{id2}/reschedule")))
        .json(&json!({"starts_at": (later + Duration::hours(1)).to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("parlor_bookings_cancelled_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("parlor_bookings_created_total 2"));
}

async fn rating_after_the_session_and_notes_private_to_the_coach(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_c, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, Duration::days(1)).await;
    let b: Value = book(&app, &client, &coach, &at.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    let rate = |v: u8| {
        client
            .post(app.url(&format!("/api/bookings/{id}/rating")))
            .json(&json!({"rating": v, "comment": "good"}))
            .send()
    };
    assert_eq!(
        rate(5).await.unwrap().status(),
        409,
        "not before the session"
    );
    app.clock.advance(Duration::days(2));
    assert_eq!(rate(6).await.unwrap().status(), 422);
    let r: Value = rate(5).await.unwrap().json().await.unwrap();
    assert_eq!(r["rating"], 5);
    let put_notes = |c: &reqwest::Client| {
        c.put(app.url(&format!("/api/bookings/{id}/notes")))
            .json(&json!({"notes": "private"}))
            .send()
    };
    assert_eq!(put_notes(&client).await.unwrap().status(), 403);
    let n: Value = put_notes(&coach_c).await.unwrap().json().await.unwrap();
    assert_eq!(n["coach_notes"], "private");
    let seen: Value =
        crate::common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
    assert!(
        seen.get("coach_notes").is_none(),
        "client never sees coach notes: {seen}"
    );
    let st = coach_c
        .put(app.url(&format!("/api/bookings/{id}/status")))
        .json(&json!({"status": "completed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), 200);
    let profile: Value = reqwest::get(app.url(&format!("/api/coaches/{coach}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["sessions_held"], 1);
}

fn parse_ics(text: &str) -> ical::parser::ical::component::IcalCalendar {
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "CRLF lines"
    );
    ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()))
        .next()
        .expect("one calendar")
        .expect("parses")
}

fn prop<'a>(props: &'a [ical::property::Property], name: &str) -> &'a str {
    props
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_deref())
        .unwrap_or_else(|| panic!("{name} missing"))
}

async fn invite_and_feed_are_valid_icalendar(backend: Backend) {
    let (app, client, coach, _) = setup(backend).await;
    let at = app.free_slot(&coach, Duration::days(4)).await;
    let b: Value = book(&app, &client, &coach, &at.to_rfc3339(), "video")
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    let invite = client
        .get(app.url(&format!("/api/bookings/{id}/invite.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        invite.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let cal = parse_ics(&invite.text().await.unwrap());
    assert_eq!(prop(&cal.properties, "METHOD"), "REQUEST");
    let ev = &cal.events[0].properties;
    assert_eq!(prop(ev, "UID"), b["calendar_uid"].as_str().unwrap());
    assert_eq!(prop(ev, "SEQUENCE"), "0");
    assert_eq!(prop(ev, "DTSTART"), at.format("%Y%m%dT%H%M%SZ").to_string());
    assert_eq!(prop(ev, "LOCATION"), b["join_url"].as_str().unwrap());
    client
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    let cal = parse_ics(
        &client
            .get(app.url(&format!("/api/bookings/{id}/invite.ics")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(prop(&cal.properties, "METHOD"), "CANCEL");
    assert_eq!(prop(&cal.events[0].properties, "STATUS"), "CANCELLED");
    assert_eq!(prop(&cal.events[0].properties, "SEQUENCE"), "1");
    // Private feed: works by token, stops working after rotation.
    let feed: Value = client
        .post(app.url("/api/me/calendar-feed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = feed["feed_url"].as_str().unwrap().to_string();
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    let cal = parse_ics(&r.text().await.unwrap());
    assert_eq!(prop(&cal.properties, "METHOD"), "PUBLISH");
    assert_eq!(cal.events.len(), 1);
    client
        .post(app.url("/api/me/calendar-feed"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(&url).await.unwrap().status(),
        404,
        "rotated token is dead"
    );
}

//! Booking rules a new user tripped over, on SQLite and PostgreSQL: a reschedule to the same
//! start changes nothing, a client cannot hold two overlapping sessions with two coaches
//! (not even by booking both at once), "past" means sessions that have ended, and each
//! party's calendar names the other party.

use crate::common;

use chrono::Duration;
use common::{Backend, TestApp};
use serde_json::{Value, json};

both_backends!(
    rescheduling_to_the_current_start_is_refused_and_changes_nothing,
    a_client_cannot_hold_overlapping_sessions_with_two_coaches,
    overlapping_bookings_with_two_coaches_at_once_give_one_session,
    past_lists_ended_sessions_and_cancelled_ones_have_their_own_scope,
    each_partys_calendar_names_the_other_party,
    one_rating_per_session_changeable_field_by_field_and_averaged_on_the_profile,
    a_coachs_phone_and_rules_are_shown_only_to_those_who_need_them,
    a_coach_with_future_sessions_is_deactivated_only_with_their_cancellation,
    a_clients_export_holds_what_coaches_noted_about_them,
);

async fn book(app: &TestApp, c: &reqwest::Client, coach: &str, at: &str) -> reqwest::Response {
    c.post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": at, "session_type": "video"}))
        .send()
        .await
        .unwrap()
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

async fn rescheduling_to_the_current_start_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, Duration::days(3)).await;
    let b: Value = book(&app, &client, &coach, &at.to_rfc3339())
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/reschedule")))
        .json(&json!({"starts_at": at.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (409, "same_start".to_string()));
    let after: Value = common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
    assert_eq!(after["sequence"], 0, "SEQUENCE is not bumped");
    assert_eq!(after["starts_at"], b["starts_at"]);
    assert_eq!(after["status"], "scheduled");
}

/// Two coaches with the same default availability, and one client.
async fn two_coaches(backend: Backend) -> (TestApp, reqwest::Client, String, String) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, a) = app.coach(&admin, "coach-a@example.org").await;
    let (_, b) = app.coach(&admin, "coach-b@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    (app, client, a, b)
}

async fn a_client_cannot_hold_overlapping_sessions_with_two_coaches(backend: Backend) {
    let (app, client, coach_a, coach_b) = two_coaches(backend).await;
    let at = app.free_slot(&coach_a, Duration::days(3)).await;
    assert_eq!(
        book(&app, &client, &coach_a, &at.to_rfc3339())
            .await
            .status(),
        201
    );
    // The same time with the other coach.
    let r = book(&app, &client, &coach_b, &at.to_rfc3339()).await;
    assert_eq!(error_code(r).await, (409, "client_overlap".to_string()));
    let mine: Vec<Value> = common::get_json(&client, app.url("/api/bookings")).await;
    assert_eq!(mine.len(), 1, "nothing was booked");
    // A session with coach B two hours later is fine; moving it onto A's session is not.
    let later = at + Duration::hours(2);
    let b: Value = book(&app, &client, &coach_b, &later.to_rfc3339())
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().expect("booked");
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/reschedule")))
        .json(&json!({"starts_at": at.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (409, "client_overlap".to_string()));
    let kept: Value = common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
    assert_eq!(
        kept["starts_at"], b["starts_at"],
        "the session stayed where it was"
    );
    assert_eq!(kept["sequence"], 0);
    // Another client may book coach B at that time.
    let (other, _) = app.client_user("other@example.org").await;
    assert_eq!(
        book(&app, &other, &coach_b, &at.to_rfc3339())
            .await
            .status(),
        201
    );
}

async fn overlapping_bookings_with_two_coaches_at_once_give_one_session(backend: Backend) {
    let (app, client, coach_a, coach_b) = two_coaches(backend).await;
    let at = app
        .free_slot(&coach_a, Duration::days(3))
        .await
        .to_rfc3339();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let coach = if i % 2 == 0 { &coach_a } else { &coach_b }.clone();
        let (c, url, at) = (client.clone(), app.url("/api/bookings"), at.clone());
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"coach_id": coach, "starts_at": at, "session_type": "video"}))
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
    assert_eq!(created, 1, "one session at that time: {codes:?}");
    assert!(codes.iter().all(|&c| c == 201 || c == 409), "{codes:?}");
    let mine: Vec<Value> = common::get_json(&client, app.url("/api/bookings")).await;
    assert_eq!(mine.len(), 1);
}

async fn past_lists_ended_sessions_and_cancelled_ones_have_their_own_scope(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let soon = app.free_slot(&coach, Duration::days(1)).await;
    let next_week = app.free_slot(&coach, Duration::days(7)).await;
    let held: Value = book(&app, &client, &coach, &soon.to_rfc3339())
        .await
        .json()
        .await
        .unwrap();
    let cancelled: Value = book(&app, &client, &coach, &next_week.to_rfc3339())
        .await
        .json()
        .await
        .unwrap();
    let r = coach_api
        .post(app.url(&format!(
            "/api/bookings/{}/cancel",
            cancelled["id"].as_str().unwrap()
        )))
        .json(&json!({"reason": "travel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ids = |v: &[Value]| {
        v.iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let past: Vec<Value> = common::get_json(&client, app.url("/api/bookings?scope=past")).await;
    assert!(
        past.is_empty(),
        "a cancelled session next week is not past: {past:?}"
    );
    let gone: Vec<Value> =
        common::get_json(&client, app.url("/api/bookings?scope=cancelled")).await;
    assert_eq!(ids(&gone), [cancelled["id"].as_str().unwrap()]);
    // Two days later the first session has ended: it is past, the cancelled one is not.
    app.clock
        .advance((soon - app.clock.now()) + Duration::days(1));
    let past: Vec<Value> = common::get_json(&client, app.url("/api/bookings?scope=past")).await;
    assert_eq!(ids(&past), [held["id"].as_str().unwrap()]);
    let up: Vec<Value> = common::get_json(&client, app.url("/api/bookings?scope=upcoming")).await;
    assert!(up.is_empty(), "{up:?}");
}

async fn each_partys_calendar_names_the_other_party(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, Duration::days(2)).await;
    let b: Value = client
        .post(app.url("/api/bookings"))
        .json(
            &json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video",
            "focus_area": "career change"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invite = format!("/api/bookings/{}/invite.ics", b["id"].as_str().unwrap());
    let text = |c: &reqwest::Client, path: String| {
        let (c, url) = (c.clone(), app.url(&path));
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let unfold = |ics: String| ics.replace("\r\n ", "");
    let for_coach = unfold(text(&coach_api, invite.clone()).await);
    assert!(
        for_coach.contains("SUMMARY:Coaching with Client Person\r\n"),
        "{for_coach}"
    );
    assert!(for_coach.contains("Focus: career change"), "{for_coach}");
    assert!(
        for_coach.contains("ATTENDEE"),
        "the invite names the client: {for_coach}"
    );
    let for_client = unfold(text(&client, invite).await);
    assert!(
        for_client.contains("SUMMARY:Coaching with Coach Person\r\n"),
        "{for_client}"
    );
    // The coach's feed names the client too.
    let feed: Value = coach_api
        .post(app.url("/api/me/calendar-feed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = feed["feed_url"].as_str().expect("a feed link");
    let coach_feed = unfold(reqwest::get(url).await.unwrap().text().await.unwrap());
    assert!(
        coach_feed.contains("SUMMARY:Coaching with Client Person\r\n"),
        "{coach_feed}"
    );
}

async fn one_rating_per_session_changeable_field_by_field_and_averaged_on_the_profile(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let mut ids = Vec::new();
    for days in [1, 2] {
        let at = app.free_slot(&coach, Duration::days(days)).await;
        let b: Value = book(&app, &client, &coach, &at.to_rfc3339())
            .await
            .json()
            .await
            .unwrap();
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    app.clock.advance(Duration::days(4));
    let rate = |id: &str, body: Value| {
        let (c, url) = (
            client.clone(),
            app.url(&format!("/api/bookings/{id}/rating")),
        );
        async move { c.post(url).json(&body).send().await.unwrap() }
    };
    let profile = || {
        let url = app.url(&format!("/api/coaches/{coach}"));
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let p = profile().await;
    assert_eq!(
        (p["rating_count"].clone(), p["rating_average"].clone()),
        (json!(0), Value::Null)
    );
    // A first rating needs the stars.
    let r = rate(&ids[0], json!({"comment": "no stars"})).await;
    assert_eq!(r.status(), 422);
    let r: Value = rate(&ids[0], json!({"rating": 4, "comment": "good"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["rating"].clone(), r["rating_comment"].clone()),
        (json!(4), json!("good"))
    );
    // Changing the stars keeps the comment; changing the comment keeps the stars.
    let r: Value = rate(&ids[0], json!({"rating": 5}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["rating"].clone(), r["rating_comment"].clone()),
        (json!(5), json!("good"))
    );
    let r: Value = rate(&ids[0], json!({"comment": "very good"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["rating"].clone(), r["rating_comment"].clone()),
        (json!(5), json!("very good"))
    );
    // An empty comment removes it.
    let r: Value = rate(&ids[0], json!({"comment": ""}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["rating"].clone(), r["rating_comment"].clone()),
        (json!(5), Value::Null)
    );
    let p = profile().await;
    assert_eq!(
        (p["rating_count"].clone(), p["rating_average"].clone()),
        (json!(1), json!(5.0))
    );
    // A second session's rating is a second rating: the profile shows both.
    assert_eq!(rate(&ids[1], json!({"rating": 4})).await.status(), 200);
    let p = profile().await;
    assert_eq!(
        (p["rating_count"].clone(), p["rating_average"].clone()),
        (json!(2), json!(4.5))
    );
    // Another client cannot rate or change this client's session.
    let (other, _) = app.client_user("other@example.org").await;
    let r = other
        .post(app.url(&format!("/api/bookings/{}/rating", ids[0])))
        .json(&json!({"rating": 1}))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    let p = profile().await;
    assert_eq!(p["rating_average"], json!(4.5), "unchanged");
}

async fn a_coachs_phone_and_rules_are_shown_only_to_those_who_need_them(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let (caller, _) = app.client_user("caller@example.org").await;
    let one = app.url(&format!("/api/coaches/{coach}"));
    let list = app.url("/api/coaches");
    let public_ok = |v: &Value, who: &str| {
        assert_eq!(v["name"], "Coach Person", "{who}: {v}");
        assert_eq!(v["offers_phone"], true, "{who}: {v}");
        assert!(v.get("phone").is_none(), "{who} sees no phone: {v}");
        assert!(v.get("availability").is_none(), "{who} sees no rules: {v}");
        assert!(v.get("user_id").is_none(), "{who} sees no account: {v}");
    };
    let anon = reqwest::Client::new();
    public_ok(&common::get_json::<Value>(&anon, &one).await, "anonymous");
    public_ok(
        &common::get_json::<Vec<Value>>(&anon, &list).await[0],
        "anonymous list",
    );
    public_ok(&common::get_json::<Value>(&client, &one).await, "a client");
    // A client with a phone session with the coach may call them; still no rules.
    let at = app.free_slot(&coach, Duration::days(2)).await;
    let r = caller
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for v in [
        common::get_json::<Value>(&caller, &one).await,
        common::get_json::<Vec<Value>>(&caller, &list).await[0].clone(),
    ] {
        assert_eq!(v["phone"], "+442071838750", "{v}");
        assert!(v.get("availability").is_none(), "{v}");
    }
    public_ok(
        &common::get_json::<Value>(&client, &one).await,
        "another client",
    );
    // The coach and admins see everything.
    for (who, c) in [("the coach", &coach_api), ("an admin", &admin)] {
        let v: Value = common::get_json(c, &one).await;
        assert_eq!(v["phone"], "+442071838750", "{who}: {v}");
        assert!(v["availability"]["weekly"].is_array(), "{who}: {v}");
    }
}

async fn a_coach_with_future_sessions_is_deactivated_only_with_their_cancellation(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let mut ids = Vec::new();
    for days in [2, 3] {
        let at = app.free_slot(&coach, Duration::days(days)).await;
        let b: Value = book(&app, &client, &coach, &at.to_rfc3339())
            .await
            .json()
            .await
            .unwrap();
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    let patch = |query: &'static str| {
        let (c, url) = (
            admin.clone(),
            app.url(&format!("/api/coaches/{coach}{query}")),
        );
        async move {
            c.patch(url)
                .json(&json!({"active": false}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch("").await;
    let (status, code) = error_code(r).await;
    assert_eq!((status, code.as_str()), (409, "coach_has_sessions"));
    let still: Value = common::get_json(&admin, app.url(&format!("/api/coaches/{coach}"))).await;
    assert_eq!(still["active"], true, "nothing changed");
    for id in &ids {
        let b: Value = common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
        assert_eq!(b["status"], "scheduled");
    }
    // The coach cannot deactivate themself (and so cannot cancel this way).
    let r = coach_api
        .patch(app.url(&format!("/api/coaches/{coach}?cancel_sessions=true")))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = patch("?cancel_sessions=true").await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["active"], false);
    for id in &ids {
        let b: Value = common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
        assert_eq!(b["status"], "cancelled", "{b}");
        assert_eq!(b["cancel_reason"], "The coach is no longer available.");
        let ics = client
            .get(app.url(&format!("/api/bookings/{id}/invite.ics")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(ics.contains("METHOD:CANCEL"), "{ics}");
    }
    let audit: Vec<Value> = common::get_json(&admin, app.url("/api/admin/audit")).await;
    let cancelled = audit
        .iter()
        .filter(|e| e["event"] == "booking_cancelled")
        .count();
    assert_eq!(cancelled, 2, "{audit:?}");
}

async fn a_clients_export_holds_what_coaches_noted_about_them(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let (other, _) = app.client_user("other@example.org").await;
    let at = app.free_slot(&coach, Duration::days(2)).await;
    let b: Value = book(&app, &client, &coach, &at.to_rfc3339())
        .await
        .json()
        .await
        .unwrap();
    let id = b["id"].as_str().unwrap();
    let r = coach_api
        .put(app.url(&format!("/api/bookings/{id}/notes")))
        .json(&json!({"notes": "Wants to change careers within a year."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e: Value = common::get_json(&client, app.url("/api/me/export")).await;
    let notes = e["coach_notes_about_you"]
        .as_array()
        .expect("the notes section");
    assert_eq!(notes.len(), 1, "{e}");
    assert_eq!(notes[0]["booking_id"], id);
    assert_eq!(notes[0]["notes"], "Wants to change careers within a year.");
    // Still private on the booking itself, and nobody else's export has them.
    let seen: Value = common::get_json(&client, app.url(&format!("/api/bookings/{id}"))).await;
    assert!(seen.get("coach_notes").is_none(), "{seen}");
    let e: Value = common::get_json(&other, app.url("/api/me/export")).await;
    assert_eq!(e["coach_notes_about_you"], json!([]), "{e}");
}

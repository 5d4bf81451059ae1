//! Free slots over HTTP, on SQLite and PostgreSQL: exact UTC instants and local display times
//! across daylight-saving transitions (Europe/London, America/New_York) and in a half-hour zone
//! (Asia/Kolkata); bookings, buffers, minimum notice and date overrides as the list shows them.
//! The pure slot logic is unit-tested in `src/booking/slots`; this proves the HTTP layer.

use crate::common;

use chrono::{DateTime, Days, Duration, Utc};
use common::{Backend, TestApp, enc};
use serde_json::{Value, json};

both_backends!(
    london_nine_am_is_nine_utc_in_winter_and_eight_utc_in_summer,
    new_york_nine_am_is_fourteen_utc_in_winter_and_thirteen_utc_in_summer,
    kolkata_nine_am_is_three_thirty_utc_all_year,
    london_coach_shown_in_kolkata_time_carries_plus_five_thirty,
    windows_in_the_spring_gap_and_autumn_fold_resolve_over_http,
    booked_slot_disappears_and_reappears_after_cancel,
    buffer_hides_the_neighbouring_slots_of_a_booking,
    slots_sooner_than_the_minimum_notice_are_absent,
    date_overrides_close_a_day_or_replace_its_hours,
    invalid_time_zone_or_range_is_a_400_with_the_error_shape,
);

fn policy(buffer: u32, step: u32, notice: u32) -> Value {
    json!({"session_minutes": 60, "buffer_minutes": buffer, "slot_step_minutes": step,
        "min_notice_minutes": notice, "booking_window_days": 365, "cancel_notice_minutes": 0,
        "reschedule_notice_minutes": 0})
}

fn every_day(start: &str, end: &str) -> Vec<Value> {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": start, "end": end}))
        .collect()
}

/// An admin-created coach in `zone` with the given policy, weekly rules and overrides.
async fn make_coach(
    app: &TestApp,
    admin: &reqwest::Client,
    zone: &str,
    policy: Value,
    weekly: Vec<Value>,
    overrides: Value,
) -> String {
    let r = admin
        .post(app.url("/api/coaches"))
        .json(&json!({"name": format!("Coach in {zone}"), "title": "Coach", "phone": "+44 20 7183 8750",
            "time_zone": zone, "policy": policy}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin
        .put(app.url(&format!("/api/coaches/{id}/availability")))
        .json(&json!({"time_zone": zone, "weekly": weekly, "overrides": overrides}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    id
}

/// A coach open 09:00–12:00 every day in `zone`, hourly 60-minute sessions.
async fn nine_to_twelve(app: &TestApp, admin: &reqwest::Client, zone: &str) -> String {
    make_coach(
        app,
        admin,
        zone,
        policy(0, 60, 0),
        every_day("09:00:00", "12:00:00"),
        json!([]),
    )
    .await
}

async fn slots(app: &TestApp, coach: &str, from: &str, to: &str, tz: Option<&str>) -> Value {
    let mut q = format!(
        "/api/coaches/{coach}/slots?from={}&to={}",
        enc(from),
        enc(to)
    );
    if let Some(tz) = tz {
        q.push_str(&format!("&tz={}", enc(tz)));
    }
    let r = reqwest::get(app.url(&q)).await.unwrap();
    assert_eq!(r.status(), 200, "GET {q}: {}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["time_zone"], tz.unwrap_or("UTC"));
    v
}

fn field(v: &Value, name: &str) -> Vec<String> {
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[name].as_str().unwrap().to_string())
        .collect()
}

fn starts(v: &Value) -> Vec<String> {
    field(v, "starts_at")
}

fn locals(v: &Value) -> Vec<String> {
    field(v, "local_starts_at")
}

fn strs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

async fn london_nine_am_is_nine_utc_in_winter_and_eight_utc_in_summer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = nine_to_twelve(&app, &admin, "Europe/London").await;
    let tz = Some("Europe/London");
    // Spring forward on Sunday 2027-03-28.
    let v = slots(&app, &coach, "2027-03-27", "2027-03-29", tz).await;
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-03-27T09:00:00Z",
            "2027-03-27T10:00:00Z",
            "2027-03-27T11:00:00Z",
            "2027-03-28T08:00:00Z",
            "2027-03-28T09:00:00Z",
            "2027-03-28T10:00:00Z"
        ])
    );
    assert_eq!(locals(&v)[0], "2027-03-27T09:00:00+00:00");
    assert_eq!(locals(&v)[3], "2027-03-28T09:00:00+01:00");
    assert_eq!(v["slots"][3]["local_ends_at"], "2027-03-28T10:00:00+01:00");
    assert_eq!(v["slots"][3]["ends_at"], "2027-03-28T09:00:00Z");
    // Fall back on Sunday 2027-10-31.
    let v = slots(&app, &coach, "2027-10-30", "2027-11-01", tz).await;
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-10-30T08:00:00Z",
            "2027-10-30T09:00:00Z",
            "2027-10-30T10:00:00Z",
            "2027-10-31T09:00:00Z",
            "2027-10-31T10:00:00Z",
            "2027-10-31T11:00:00Z"
        ])
    );
    assert_eq!(locals(&v)[0], "2027-10-30T09:00:00+01:00");
    assert_eq!(locals(&v)[3], "2027-10-31T09:00:00+00:00");
    // Booking the first summer slot shows 09:00 BST to the (Europe/London) client.
    let (client, _) = app.client_user("client@example.org").await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": "2027-03-28T08:00:00Z", "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["local_starts_at"], "2027-03-28T09:00:00+01:00");
    let v = slots(&app, &coach, "2027-03-28", "2027-03-29", tz).await;
    assert_eq!(
        starts(&v),
        strs(&["2027-03-28T09:00:00Z", "2027-03-28T10:00:00Z"])
    );
}

async fn new_york_nine_am_is_fourteen_utc_in_winter_and_thirteen_utc_in_summer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = nine_to_twelve(&app, &admin, "America/New_York").await;
    let tz = Some("America/New_York");
    let v = slots(&app, &coach, "2027-03-13", "2027-03-15", tz).await;
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-03-13T14:00:00Z",
            "2027-03-13T15:00:00Z",
            "2027-03-13T16:00:00Z",
            "2027-03-14T13:00:00Z",
            "2027-03-14T14:00:00Z",
            "2027-03-14T15:00:00Z"
        ])
    );
    assert_eq!(locals(&v)[0], "2027-03-13T09:00:00-05:00");
    assert_eq!(locals(&v)[3], "2027-03-14T09:00:00-04:00");
    let v = slots(&app, &coach, "2027-11-06", "2027-11-08", tz).await;
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-11-06T13:00:00Z",
            "2027-11-06T14:00:00Z",
            "2027-11-06T15:00:00Z",
            "2027-11-07T14:00:00Z",
            "2027-11-07T15:00:00Z",
            "2027-11-07T16:00:00Z"
        ])
    );
    assert_eq!(locals(&v)[0], "2027-11-06T09:00:00-04:00");
    assert_eq!(locals(&v)[3], "2027-11-07T09:00:00-05:00");
}

async fn kolkata_nine_am_is_three_thirty_utc_all_year(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = nine_to_twelve(&app, &admin, "Asia/Kolkata").await;
    let tz = Some("Asia/Kolkata");
    for (day, next) in [("2027-03-28", "2027-03-29"), ("2027-10-31", "2027-11-01")] {
        let v = slots(&app, &coach, day, next, tz).await;
        assert_eq!(
            starts(&v),
            strs(&[
                &format!("{day}T03:30:00Z"),
                &format!("{day}T04:30:00Z"),
                &format!("{day}T05:30:00Z")
            ])
        );
        assert_eq!(
            locals(&v),
            strs(&[
                &format!("{day}T09:00:00+05:30"),
                &format!("{day}T10:00:00+05:30"),
                &format!("{day}T11:00:00+05:30")
            ])
        );
    }
}

async fn london_coach_shown_in_kolkata_time_carries_plus_five_thirty(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = nine_to_twelve(&app, &admin, "Europe/London").await;
    // Plain dates are midnights in the requested zone: [2027-03-27T18:30Z, 2027-03-28T18:30Z).
    let v = slots(
        &app,
        &coach,
        "2027-03-28",
        "2027-03-29",
        Some("Asia/Kolkata"),
    )
    .await;
    assert_eq!(v["from"], "2027-03-27T18:30:00Z");
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-03-28T08:00:00Z",
            "2027-03-28T09:00:00Z",
            "2027-03-28T10:00:00Z"
        ])
    );
    assert_eq!(
        locals(&v),
        strs(&[
            "2027-03-28T13:30:00+05:30",
            "2027-03-28T14:30:00+05:30",
            "2027-03-28T15:30:00+05:30"
        ])
    );
    let v = slots(
        &app,
        &coach,
        "2027-01-10",
        "2027-01-11",
        Some("Asia/Kolkata"),
    )
    .await;
    assert_eq!(
        locals(&v)[0],
        "2027-01-10T14:30:00+05:30",
        "09:00 GMT in Kolkata"
    );
}

async fn windows_in_the_spring_gap_and_autumn_fold_resolve_over_http(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    // 01:30 does not exist on 2027-03-28 (01:00 GMT → 02:00 BST); 01:30 happens twice on 2027-10-31.
    let overrides = json!([
        {"date": "2027-03-28", "windows": [["01:30:00", "04:00:00"]]},
        {"date": "2027-10-31", "windows": [["00:30:00", "02:30:00"]]},
    ]);
    let coach = make_coach(
        &app,
        &admin,
        "Europe/London",
        policy(0, 60, 0),
        every_day("09:00:00", "12:00:00"),
        overrides,
    )
    .await;
    let tz = Some("Europe/London");
    let v = slots(&app, &coach, "2027-03-28", "2027-03-29", tz).await;
    assert_eq!(
        starts(&v),
        strs(&["2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z"]),
        "gap start → first instant after it"
    );
    assert_eq!(
        locals(&v),
        strs(&["2027-03-28T02:00:00+01:00", "2027-03-28T03:00:00+01:00"])
    );
    let v = slots(&app, &coach, "2027-10-31", "2027-11-01", tz).await;
    assert_eq!(
        starts(&v),
        strs(&[
            "2027-10-30T23:30:00Z",
            "2027-10-31T00:30:00Z",
            "2027-10-31T01:30:00Z"
        ])
    );
    assert_eq!(
        locals(&v),
        strs(&[
            "2027-10-31T00:30:00+01:00",
            "2027-10-31T01:30:00+01:00",
            "2027-10-31T01:30:00+00:00"
        ]),
        "real-time steps through the repeated hour"
    );
}

async fn book(
    app: &TestApp,
    c: &reqwest::Client,
    coach: &str,
    at: DateTime<Utc>,
) -> reqwest::Response {
    c.post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn booked_slot_disappears_and_reappears_after_cancel(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, Duration::days(3)).await;
    let (from, to) = (
        (at - Duration::hours(2)).to_rfc3339(),
        (at + Duration::hours(3)).to_rfc3339(),
    );
    let listed = |v: &Value| starts(v).iter().any(|s| utc(s) == at);
    let before = slots(&app, &coach, &from, &to, None).await;
    assert!(listed(&before), "free before booking: {before}");
    let r = book(&app, &client, &coach, at).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let during = slots(&app, &coach, &from, &to, None).await;
    assert!(!listed(&during), "booked slot is not listed: {during}");
    assert_eq!(
        starts(&during).len(),
        starts(&before).len() - 1,
        "only that slot went"
    );
    let r = client
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&json!({"reason": "moving"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = slots(&app, &coach, &from, &to, None).await;
    assert_eq!(
        starts(&after),
        starts(&before),
        "cancel frees the slot again"
    );
}

async fn buffer_hides_the_neighbouring_slots_of_a_booking(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = make_coach(
        &app,
        &admin,
        "UTC",
        policy(30, 30, 0),
        every_day("09:00:00", "17:00:00"),
        json!([]),
    )
    .await;
    let (client, _) = app.client_user("client@example.org").await;
    let day = (app.clock.now() + Duration::days(3)).date_naive();
    let (from, to) = (day.to_string(), (day + Days::new(1)).to_string());
    let at = |hm: &str| format!("{day}T{hm}:00Z");
    let all = [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
        "14:00", "14:30", "15:00", "15:30", "16:00",
    ];
    let v = slots(&app, &coach, &from, &to, None).await;
    assert_eq!(starts(&v), all.iter().map(|t| at(t)).collect::<Vec<_>>());
    assert_eq!(
        book(&app, &client, &coach, utc(&at("12:00")))
            .await
            .status(),
        201
    );
    // [12:00, 13:00) plus 30 minutes either side blocks starts from 11:00 to 13:00; 10:30 and 13:30 touch.
    let v = slots(&app, &coach, &from, &to, None).await;
    let expected: Vec<String> = all
        .iter()
        .filter(|t| !["11:00", "11:30", "12:00", "12:30", "13:00"].contains(t))
        .map(|t| at(t))
        .collect();
    assert_eq!(starts(&v), expected);
    let (other, _) = app.client_user("other@example.org").await;
    let r = book(&app, &other, &coach, utc(&at("11:00"))).await;
    assert_eq!(r.status(), 409, "a start inside the buffer is taken");
    assert_eq!(
        book(&app, &other, &coach, utc(&at("13:30"))).await.status(),
        201,
        "touching the buffer is fine"
    );
}

async fn slots_sooner_than_the_minimum_notice_are_absent(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = make_coach(
        &app,
        &admin,
        "UTC",
        policy(0, 60, 360),
        every_day("00:00:00", "23:59:59"),
        json!([]),
    )
    .await;
    let now = app.clock.now();
    let v = slots(
        &app,
        &coach,
        &now.to_rfc3339(),
        &(now + Duration::days(1)).to_rfc3339(),
        None,
    )
    .await;
    let got: Vec<DateTime<Utc>> = starts(&v).iter().map(|s| utc(s)).collect();
    assert!(!got.is_empty());
    let earliest = now + Duration::minutes(360);
    assert!(
        got.iter().all(|s| *s >= earliest),
        "nothing sooner than 6 h from {now}: {got:?}"
    );
    // Hourly slots all day except 23:00 (which would end after 23:59:59): the first is close to the limit.
    assert!(
        got[0] <= earliest + Duration::hours(2),
        "first slot {} too late",
        got[0]
    );
    let r = book(
        &app,
        &app.client_user("client@example.org").await.0,
        &coach,
        got[0] - Duration::hours(1),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "slot_too_soon"
    );
    // Moving the clock moves the limit.
    app.clock.advance(Duration::hours(5));
    let later = app.clock.now();
    let v = slots(
        &app,
        &coach,
        &later.to_rfc3339(),
        &(later + Duration::days(1)).to_rfc3339(),
        None,
    )
    .await;
    let first = utc(&starts(&v)[0]);
    assert!(
        first >= later + Duration::minutes(360) && first > got[0],
        "{first} after advancing"
    );
}

async fn date_overrides_close_a_day_or_replace_its_hours(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let d1 = (app.clock.now() + Duration::days(5)).date_naive();
    let (d2, d3, d4) = (d1 + Days::new(1), d1 + Days::new(2), d1 + Days::new(3));
    let overrides = json!([
        {"date": d1.to_string(), "windows": []},
        {"date": d2.to_string(), "windows": [["14:00:00", "16:00:00"]]},
    ]);
    let coach = make_coach(
        &app,
        &admin,
        "UTC",
        policy(0, 60, 0),
        every_day("09:00:00", "12:00:00"),
        overrides.clone(),
    )
    .await;
    let v = slots(&app, &coach, &d1.to_string(), &d4.to_string(), None).await;
    assert_eq!(
        starts(&v),
        vec![
            format!("{d2}T14:00:00Z"),
            format!("{d2}T15:00:00Z"),
            format!("{d3}T09:00:00Z"),
            format!("{d3}T10:00:00Z"),
            format!("{d3}T11:00:00Z")
        ]
    );
    // The rules are the coach's and admins' to see.
    let profile: Value =
        crate::common::get_json(&admin, app.url(&format!("/api/coaches/{coach}"))).await;
    // Sent in the older array form, answered in the object form.
    let as_objects = json!([
        {"date": d1.to_string(), "windows": []},
        {"date": d2.to_string(), "windows": [{"start": "14:00:00", "end": "16:00:00"}]},
    ]);
    assert_eq!(
        profile["availability"]["overrides"], as_objects,
        "overrides round-trip"
    );
    let (client, _) = app.client_user("client@example.org").await;
    let r = book(&app, &client, &coach, utc(&format!("{d1}T10:00:00Z"))).await;
    assert_eq!(r.status(), 422, "a closed day cannot be booked");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "not_a_slot"
    );
    assert_eq!(
        book(&app, &client, &coach, utc(&format!("{d2}T14:00:00Z")))
            .await
            .status(),
        201
    );
}

async fn invalid_time_zone_or_range_is_a_400_with_the_error_shape(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let coach = nine_to_twelve(&app, &admin, "Europe/London").await;
    for q in [
        "tz=Mars/Base",
        "tz=",
        "tz=Europe%2FLondon%00",
        "from=2027-03-28&tz=Mars/Base",
        "from=2027-02-30",
        "from=2027-03-28&to=2027-03-28",
        "from=2027-01-01&to=2027-03-05",
    ] {
        let r = reqwest::get(app.url(&format!("/api/coaches/{coach}/slots?{q}")))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/json", "{q}");
        let e: Value = r.json().await.unwrap();
        assert!(e["error"]["code"].is_string(), "{q}: {e}");
        assert!(
            !e["error"]["message"].as_str().unwrap().is_empty(),
            "{q}: {e}"
        );
    }
    let r = reqwest::get(app.url(&format!("/api/coaches/{coach}/slots?tz=Mars/Base")))
        .await
        .unwrap();
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mars/Base"),
        "{e}"
    );
}

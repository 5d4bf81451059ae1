//! Data export and erasure over HTTP, on SQLite and PostgreSQL: the export holds everything
//! about the caller and no secrets; after erasure no table holds any of their personal data,
//! every credential is dead, and other people's data is intact.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{Backend, TestApp};
use parlor::model::account::AccountRole;
use reqwest::Client;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

both_backends!(
    export_holds_every_personal_datum_but_no_secrets_and_is_audited,
    erasure_leaves_no_personal_data_in_any_table_and_kills_every_credential,
    a_coach_who_erases_themself_is_blanked_deactivated_and_unlisted,
);

const PW: &str = "correct horse battery";

async fn login_cookie(app: &TestApp, email: &str) -> String {
    let r = app
        .client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("parlor_session="));
    set.expect("session cookie")["parlor_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn cookie_client(app: &TestApp, cookie: &str) -> Client {
    let mut h = HeaderMap::new();
    h.insert("origin", HeaderValue::from_str(&app.base).unwrap());
    h.insert(
        "cookie",
        HeaderValue::from_str(&format!("parlor_session={cookie}")).unwrap(),
    );
    Client::builder().default_headers(h).build().unwrap()
}

async fn book(app: &TestApp, c: &Client, coach: &str, at: DateTime<Utc>, focus: &str) -> Value {
    let r = c
        .post(app.url("/api/bookings"))
        .header("Idempotency-Key", format!("key-{}", at.timestamp()))
        .json(&json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video", "focus_area": focus}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn send_json(rb: reqwest::RequestBuilder, want: u16) -> Value {
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(st, want, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Every row of every table of the test database, as (table, row text).
async fn every_row(app: &TestApp) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.db.url)
        .await
        .unwrap();
    let list = match app.backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
    };
    let tables: Vec<String> = sqlx::query_scalar(list).fetch_all(&pool).await.unwrap();
    for t in [
        "users",
        "bookings",
        "commitments",
        "audit_log",
        "api_keys",
        "login_sessions",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "table {t} not found in {tables:?}"
        );
    }
    let mut out = Vec::new();
    for table in tables {
        let sql = match app.backend {
            Backend::Postgres => format!("SELECT row_to_json(t)::text FROM \"{table}\" t"),
            Backend::Sqlite => {
                let cols: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                let expr: Vec<String> = cols.iter().map(|c| format!("quote(\"{c}\")")).collect();
                format!("SELECT {} FROM \"{table}\"", expr.join(" || '|' || "))
            }
        };
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        out.extend(rows.into_iter().map(|r| (table.clone(), r)));
    }
    pool.close().await;
    out
}

/// (needle, table, row) for every row of any table containing a needle (case-insensitively).
async fn find_in_database(app: &TestApp, needles: &[&str]) -> Vec<(String, String, String)> {
    let rows = every_row(app).await;
    assert!(
        rows.iter().any(|(t, _)| t == "users"),
        "the scan reads rows"
    );
    let mut found = Vec::new();
    for (table, row) in &rows {
        let lower = row.to_lowercase();
        for n in needles {
            if lower.contains(&n.to_lowercase()) {
                found.push((n.to_string(), table.clone(), row.clone()));
            }
        }
    }
    found
}

/// Checks that the scan sees every needle (so that a clean scan later means something).
async fn assert_everywhere_found(app: &TestApp, needles: &[&str]) {
    let found = find_in_database(app, needles).await;
    for n in needles {
        assert!(
            found.iter().any(|(f, _, _)| f == n),
            "control: {n:?} should be stored before erasure"
        );
    }
}

async fn assert_nowhere_in_database(app: &TestApp, needles: &[&str]) {
    let found: Vec<String> = find_in_database(app, needles)
        .await
        .into_iter()
        .map(|(n, t, r)| format!("{n:?} in {t}: {r}"))
        .collect();
    assert!(
        found.is_empty(),
        "personal data left after erasure:\n{}",
        found.join("\n")
    );
}

async fn export_holds_every_personal_datum_but_no_secrets_and_is_audited(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (x, x_id) = app
        .user(AccountRole::Client, "exporter@example.org", "Ex Porter")
        .await;
    let (y, _) = app.client_user("other@example.org").await;
    let b = book(
        &app,
        &x,
        &coach,
        app.free_slot(&coach, Duration::days(2)).await,
        "export focus",
    )
    .await;
    let yb = book(
        &app,
        &y,
        &coach,
        app.free_slot(&coach, Duration::days(3)).await,
        "other focus",
    )
    .await;
    send_json(
        x.post(app.url("/api/commitments"))
            .json(&json!({"text": "export commitment", "due_date": "2031-01-02"})),
        201,
    )
    .await;
    send_json(
        y.post(app.url("/api/commitments"))
            .json(&json!({"text": "other commitment"})),
        201,
    )
    .await;
    let key = send_json(
        x.post(app.url("/api/keys"))
            .json(&json!({"name": "export key"})),
        201,
    )
    .await;
    let key_text = key["key"].as_str().unwrap();

    let r = x.get(app.url("/api/me/export")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = r.text().await.unwrap();
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["user"]["id"], x_id.as_str());
    assert_eq!(e["user"]["email"], "exporter@example.org");
    assert_eq!(e["user"]["name"], "Ex Porter");
    let bookings = e["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 1, "{text}");
    assert_eq!(bookings[0]["id"], b["id"]);
    assert_eq!(bookings[0]["focus_area"], "export focus");
    assert_eq!(e["commitments"].as_array().unwrap().len(), 1);
    assert_eq!(e["commitments"][0]["text"], "export commitment");
    assert_eq!(e["commitments"][0]["due_date"], "2031-01-02");
    let keys = e["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], key["info"]["id"]);
    assert_eq!(keys[0]["name"], "export key");
    assert!(
        keys[0].get("key").is_none() && keys[0].get("key_hash").is_none(),
        "{}",
        keys[0]
    );
    let sessions = e["login_sessions"].as_array().unwrap();
    assert!(!sessions.is_empty(), "login sessions are exported");
    assert!(sessions[0]["created_at"].is_string() && sessions[0]["expires_at"].is_string());
    assert!(e["coach_profile"].is_null());
    let events: Vec<&str> = e["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    for ev in [
        "account_created",
        "login",
        "booking_created",
        "api_key_created",
    ] {
        assert!(events.contains(&ev), "{ev} missing from {events:?}");
    }
    // No secrets, and nothing about anyone else.
    let key_hash = parlor::ids::token_hash(key_text);
    for secret in [
        key_text,
        &key_text[4..],
        key_hash.as_str(),
        "$argon2",
        "other commitment",
        "other focus",
        "other@example.org",
    ] {
        assert!(!text.contains(secret), "export contains {secret:?}");
    }
    assert!(
        !text.contains(yb["id"].as_str().unwrap()),
        "export contains another client's booking"
    );
    // The export itself is audited.
    let audit = send_json(admin.get(app.url("/api/admin/audit?limit=500")), 200).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["event"] == "export"
                && a["actor_id"] == x_id.as_str()
                && a["target"] == x_id.as_str()),
        "no export event: {audit}"
    );
    let again = send_json(x.get(app.url("/api/me/export")), 200).await;
    assert!(
        again["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["event"] == "export"),
        "the export event is exported"
    );
}

const EMAIL: &str = "xavier.unique@example.org";
const NAME: &str = "Xavier Unique-Name";
const FOCUS: &str = "secret focus text";
const COMMITMENT: &str = "secret commitment";
const COMMENT: &str = "secret rating comment";
const NOTES: &str = "secret coach notes";
const REASON: &str = "secret cancel reason";

async fn erasure_leaves_no_personal_data_in_any_table_and_kills_every_credential(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_c, coach) = app.coach(&admin, "coach@example.org").await;
    let (x, x_id) = app.user(AccountRole::Client, EMAIL, NAME).await;
    let old_cookie = login_cookie(&app, EMAIL).await;
    // Another client's session with the same coach, which must survive untouched.
    let (z, _) = app.client_user("zed@example.org").await;
    let zb = book(
        &app,
        &z,
        &coach,
        app.free_slot(&coach, Duration::days(5)).await,
        "zed focus",
    )
    .await;
    let zb_id = zb["id"].as_str().unwrap().to_string();
    send_json(
        coach_c
            .put(app.url(&format!("/api/bookings/{zb_id}/notes")))
            .json(&json!({"notes": "zed notes"})),
        200,
    )
    .await;
    // X: a session that will be past, a future one, notes on both, a commitment, a key, a feed.
    let past = book(
        &app,
        &x,
        &coach,
        app.free_slot(&coach, Duration::hours(2)).await,
        FOCUS,
    )
    .await;
    let future_at = app.free_slot(&coach, Duration::days(10)).await;
    let future = book(&app, &x, &coach, future_at, FOCUS).await;
    let (past_id, future_id) = (
        past["id"].as_str().unwrap().to_string(),
        future["id"].as_str().unwrap().to_string(),
    );
    for id in [&past_id, &future_id] {
        send_json(
            coach_c
                .put(app.url(&format!("/api/bookings/{id}/notes")))
                .json(&json!({"notes": NOTES})),
            200,
        )
        .await;
    }
    let dropped = book(
        &app,
        &x,
        &coach,
        app.free_slot(&coach, Duration::days(7)).await,
        FOCUS,
    )
    .await;
    let dropped_id = dropped["id"].as_str().unwrap().to_string();
    let cancel = x
        .post(app.url(&format!("/api/bookings/{dropped_id}/cancel")))
        .json(&json!({"reason": REASON}));
    send_json(cancel, 200).await;
    send_json(
        x.post(app.url("/api/commitments"))
            .json(&json!({"text": COMMITMENT, "due_date": "2031-05-06"})),
        201,
    )
    .await;
    let key = send_json(
        x.post(app.url("/api/keys"))
            .json(&json!({"name": "laptop"})),
        201,
    )
    .await;
    let key = key["key"].as_str().unwrap().to_string();
    let feed = send_json(x.post(app.url("/api/me/calendar-feed")), 200).await;
    let feed_url = feed["feed_url"].as_str().unwrap().to_string();
    app.clock.advance(Duration::days(1));
    let rated = send_json(
        x.post(app.url(&format!("/api/bookings/{past_id}/rating")))
            .json(&json!({"rating": 4, "comment": COMMENT})),
        200,
    )
    .await;
    assert_eq!(rated["rating_comment"], COMMENT);

    let needles = [EMAIL, NAME, FOCUS, COMMITMENT, COMMENT, NOTES, REASON];
    assert_everywhere_found(&app, &needles).await;

    let r = x.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    assert_nowhere_in_database(&app, &needles).await;
    assert_nowhere_in_database(&app, &[&key, &parlor::ids::token_hash(&key)]).await;
    let d = send_json(
        coach_c.get(app.url(&format!("/api/bookings/{dropped_id}"))),
        200,
    )
    .await;
    assert_eq!(d["status"], "cancelled");
    assert_ne!(d["cancel_reason"], REASON);

    // The future session is cancelled for the coach, and its slot is free again.
    let f = send_json(
        coach_c.get(app.url(&format!("/api/bookings/{future_id}"))),
        200,
    )
    .await;
    assert_eq!(f["status"], "cancelled");
    assert_ne!(f["client"]["name"], NAME);
    assert!(
        f["focus_area"].is_null() && f["coach_notes"].is_null(),
        "{f}"
    );
    let slots = send_json(
        Client::new().get(app.url(&format!(
            "/api/coaches/{coach}/slots?from={}",
            common::enc(&future_at.to_rfc3339())
        ))),
        200,
    )
    .await;
    assert_eq!(
        slots["slots"][0]["starts_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        future_at,
        "slot freed"
    );
    let p = send_json(
        coach_c.get(app.url(&format!("/api/bookings/{past_id}"))),
        200,
    )
    .await;
    assert_ne!(
        p["status"], "cancelled",
        "past sessions stay in the coach's history"
    );
    // Every credential of X is dead.
    for c in [&cookie_client(&app, &old_cookie), &x] {
        assert_eq!(
            c.get(app.url("/api/me")).send().await.unwrap().status(),
            401
        );
    }
    let r = app
        .client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": EMAIL, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "login with the old password");
    assert_eq!(
        Client::new()
            .get(app.url("/api/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "API key"
    );
    assert_eq!(
        reqwest::get(&feed_url).await.unwrap().status(),
        404,
        "calendar feed"
    );
    // The coach and the other client are untouched.
    let me = send_json(coach_c.get(app.url("/api/me")), 200).await;
    assert_eq!(me["coach_id"], coach.as_str());
    let profile = send_json(
        Client::new().get(app.url(&format!("/api/coaches/{coach}"))),
        200,
    )
    .await;
    assert_eq!(
        (profile["name"].as_str(), profile["active"].as_bool()),
        (Some("Coach Person"), Some(true))
    );
    assert_eq!(profile["bio"], "Helps.");
    for c in [&coach_c, &z] {
        let zv = send_json(c.get(app.url(&format!("/api/bookings/{zb_id}"))), 200).await;
        assert_eq!(
            (zv["status"].as_str(), zv["focus_area"].as_str()),
            (Some("scheduled"), Some("zed focus"))
        );
    }
    let zv = send_json(coach_c.get(app.url(&format!("/api/bookings/{zb_id}"))), 200).await;
    assert_eq!(zv["coach_notes"], "zed notes");
    // The erasure is audited by opaque id, and the address can be used again.
    let audit = send_json(admin.get(app.url("/api/admin/audit?limit=500")), 200).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["event"] == "erasure" && a["actor_id"] == x_id.as_str())
    );
    let c = app.client();
    send_json(
        c.post(app.url("/api/auth/signup"))
            .json(&json!({"email": EMAIL, "name": "Again", "password": PW})),
        202,
    )
    .await;
    let again = send_json(
        c.post(app.url("/api/auth/login"))
            .json(&json!({"email": EMAIL, "password": PW})),
        200,
    )
    .await;
    assert_ne!(again["user"]["id"], x_id.as_str());
}

async fn a_coach_who_erases_themself_is_blanked_deactivated_and_unlisted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_c, coach) = app.coach(&admin, "cora@example.org").await;
    let (_, other) = app.coach(&admin, "other.coach@example.org").await;
    let patch = json!({"name": "Cora Unique-Coach", "bio": "coach secret bio", "photo_url": "https://img.example.org/cora.png"});
    send_json(
        coach_c
            .patch(app.url(&format!("/api/coaches/{coach}")))
            .json(&patch),
        200,
    )
    .await;
    let (client, _) = app.client_user("client@example.org").await;
    let b = book(
        &app,
        &client,
        &coach,
        app.free_slot(&coach, Duration::days(3)).await,
        "client focus",
    )
    .await;
    let b_id = b["id"].as_str().unwrap();
    let coach_cookie = login_cookie(&app, "cora@example.org").await;
    let needles = [
        "cora@example.org",
        "Cora Unique-Coach",
        "coach secret bio",
        "img.example.org/cora",
    ];
    assert_everywhere_found(&app, &needles).await;

    let r = coach_c.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    let listed = send_json(Client::new().get(app.url("/api/coaches")), 200).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![other.as_str()],
        "the erased coach is still listed"
    );
    assert_eq!(
        Client::new()
            .get(app.url(&format!("/api/coaches/{coach}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        Client::new()
            .get(app.url(&format!("/api/coaches/{coach}/slots")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let p = send_json(admin.get(app.url(&format!("/api/coaches/{coach}"))), 200).await;
    assert_eq!(p["active"], false);
    assert_ne!(p["name"], "Cora Unique-Coach");
    assert_eq!(p["bio"], "");
    assert!(p["phone"].is_null() && p["photo_url"].is_null(), "{p}");
    assert_eq!(p["specialties"], json!([]));
    // Their client's upcoming session is cancelled, and the coach cannot be booked.
    let seen = send_json(client.get(app.url(&format!("/api/bookings/{b_id}"))), 200).await;
    assert_eq!(seen["status"], "cancelled");
    assert_eq!(
        seen["focus_area"], "client focus",
        "the client's own data stays"
    );
    let at = b["starts_at"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap()
        + Duration::hours(1);
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        cookie_client(&app, &coach_cookie)
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_nowhere_in_database(&app, &needles).await;
}

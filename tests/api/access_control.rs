//! Authorization over HTTP, on SQLite and PostgreSQL: for every endpoint that touches someone
//! else's data, the wrong user is refused (403, or 404 indistinguishable from a missing id, so
//! they learn nothing), the right one gets through, and unauthenticated or forged-cookie
//! requests are 401.

use crate::common;

use chrono::Duration;
use common::{Backend, TestApp};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Method};
use serde_json::{Value, json};

both_backends!(
    strangers_and_other_coaches_get_the_same_404_as_for_a_missing_booking_and_admins_get_through,
    booking_lists_show_each_role_only_the_bookings_it_may_see,
    clients_cannot_write_coach_notes_and_never_see_them,
    only_admins_or_the_coach_manage_a_coach_and_only_admins_create_coaches_users_and_read_audit,
    another_users_commitments_and_api_keys_are_invisible_and_untouchable,
    every_protected_endpoint_refuses_unauthenticated_and_forged_cookie_requests,
);

const PW: &str = "correct horse battery";

/// Admin, coach A with a booking of client X, coach B, client X (owner), client Y (stranger).
struct World {
    app: TestApp,
    admin: Client,
    coach_a: Client,
    coach_a_id: String,
    coach_b: Client,
    x: Client,
    y: Client,
    booking: Value,
}

impl World {
    fn booking_id(&self) -> String {
        self.booking["id"].as_str().unwrap().to_string()
    }
}

async fn world(backend: Backend) -> World {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach_a, coach_a_id) = app.coach(&admin, "coach.a@example.org").await;
    let (coach_b, _) = app.coach(&admin, "coach.b@example.org").await;
    let (x, _) = app.client_user("x@example.org").await;
    let (y, _) = app.client_user("y@example.org").await;
    let at = app.free_slot(&coach_a_id, Duration::days(3)).await;
    let r = x
        .post(app.url("/api/bookings"))
        .json(
            &json!({"coach_id": coach_a_id, "starts_at": at.to_rfc3339(), "session_type": "video",
            "focus_area": "x focus"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booking = r.json().await.unwrap();
    World {
        app,
        admin,
        coach_a,
        coach_a_id,
        coach_b,
        x,
        y,
        booking,
    }
}

/// Sends a request; returns the status and the body text.
async fn call(
    app: &TestApp,
    c: &Client,
    m: &Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, String) {
    let mut rb = c.request(m.clone(), app.url(path));
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get_json(app: &TestApp, c: &Client, path: &str) -> Value {
    let r = c.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// Every endpoint that acts on one booking: (name, method, path, body).
fn booking_endpoints(
    id: &str,
    new_start: &str,
) -> Vec<(&'static str, Method, String, Option<Value>)> {
    let p = |s: &str| format!("/api/bookings/{id}{s}");
    vec![
        ("read", Method::GET, p(""), None),
        ("invite", Method::GET, p("/invite.ics"), None),
        (
            "notes",
            Method::PUT,
            p("/notes"),
            Some(json!({"notes": "snooped"})),
        ),
        (
            "status",
            Method::PUT,
            p("/status"),
            Some(json!({"status": "completed"})),
        ),
        (
            "rating",
            Method::POST,
            p("/rating"),
            Some(json!({"rating": 1, "comment": "bad"})),
        ),
        (
            "reschedule",
            Method::POST,
            p("/reschedule"),
            Some(json!({"starts_at": new_start})),
        ),
        (
            "cancel",
            Method::POST,
            p("/cancel"),
            Some(json!({"reason": "not mine"})),
        ),
    ]
}

fn as_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn strangers_and_other_coaches_get_the_same_404_as_for_a_missing_booking_and_admins_get_through(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.booking_id();
    let old_start: chrono::DateTime<chrono::Utc> =
        w.booking["starts_at"].as_str().unwrap().parse().unwrap();
    let new_start = app
        .free_slot(&w.coach_a_id, Duration::days(5))
        .await
        .to_rfc3339();
    let missing = parlor::ids::BookingId::generate().0;
    let real = booking_endpoints(&id, &new_start);
    let absent = booking_endpoints(&missing, &new_start);
    for ((name, m, path, body), (_, _, missing_path, _)) in real.iter().zip(&absent) {
        for (who, c) in [("client Y", &w.y), ("coach B", &w.coach_b)] {
            let (st, text) = call(app, c, m, path, body.as_ref()).await;
            let (st_missing, text_missing) = call(app, c, m, missing_path, body.as_ref()).await;
            assert_eq!(st, 404, "{who} on {name}: {text}");
            assert_eq!(
                st_missing, 404,
                "{who} on {name} (missing id): {text_missing}"
            );
            assert_eq!(
                as_json(&text),
                as_json(&text_missing),
                "{who} on {name} learns the booking exists"
            );
            assert!(
                !text.contains(&id),
                "{who} on {name}: the error names the booking"
            );
        }
    }
    // Nothing the outsiders tried had an effect.
    let b = get_json(app, &w.coach_a, &format!("/api/bookings/{id}")).await;
    assert_eq!(b["status"], "scheduled");
    assert_eq!(b["sequence"], 0);
    assert_eq!(
        b["starts_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        old_start
    );
    assert!(b["rating"].is_null() && b["cancel_reason"].is_null());
    assert!(b.get("coach_notes").is_none(), "no notes were written: {b}");
    // The admin gets through on every endpoint (refusals are for business rules, never 404).
    let expected = [
        ("read", 200),
        ("invite", 200),
        ("notes", 200),
        ("status", 409),     // the session has not started yet
        ("rating", 403),     // only the client of a session rates it
        ("reschedule", 200), // admins are not bound by the cut-off
        ("cancel", 200),
    ];
    for ((name, m, path, body), (exp_name, exp)) in real.iter().zip(expected) {
        assert_eq!(*name, exp_name);
        let (st, text) = call(app, &w.admin, m, path, body.as_ref()).await;
        assert_eq!(st, exp, "admin on {name}: {text}");
    }
    let b = get_json(app, &w.x, &format!("/api/bookings/{id}")).await;
    assert_eq!(
        b["status"], "cancelled",
        "the admin's cancel took effect for the owner"
    );
}

async fn booking_lists_show_each_role_only_the_bookings_it_may_see(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.booking_id();
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    for scope in ["", "?scope=past"] {
        let path = format!("/api/bookings{scope}");
        assert_eq!(
            ids(&get_json(app, &w.y, &path).await),
            Vec::<String>::new(),
            "stranger Y {path}"
        );
        assert_eq!(
            ids(&get_json(app, &w.coach_b, &path).await),
            Vec::<String>::new(),
            "coach B {path}"
        );
    }
    assert_eq!(
        ids(&get_json(app, &w.coach_a, "/api/bookings").await),
        vec![id.clone()]
    );
    assert_eq!(
        ids(&get_json(app, &w.x, "/api/bookings").await),
        vec![id.clone()]
    );
    // A second booking, Y with coach B: each side sees only its own.
    let me_b = get_json(app, &w.coach_b, "/api/me").await;
    let coach_b_id = me_b["coach_id"].as_str().unwrap().to_string();
    let at = app.free_slot(&coach_b_id, Duration::days(4)).await;
    let r = w
        .y
        .post(app.url("/api/bookings"))
        .json(
            &json!({"coach_id": coach_b_id, "starts_at": at.to_rfc3339(), "session_type": "video"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let other: Value = r.json().await.unwrap();
    let other_id = other["id"].as_str().unwrap().to_string();
    let mut all = ids(&get_json(app, &w.admin, "/api/bookings").await);
    all.sort();
    let mut want = vec![id.clone(), other_id.clone()];
    want.sort();
    assert_eq!(all, want, "the admin sees every booking");
    assert_eq!(
        ids(&get_json(app, &w.coach_a, "/api/bookings").await),
        vec![id.clone()]
    );
    assert_eq!(
        ids(&get_json(app, &w.coach_b, "/api/bookings").await),
        vec![other_id.clone()]
    );
    assert_eq!(ids(&get_json(app, &w.x, "/api/bookings").await), vec![id]);
    assert_eq!(
        ids(&get_json(app, &w.y, "/api/bookings").await),
        vec![other_id]
    );
}

/// Clients cannot write a coach's notes, and never see them on a booking, an invite or the
/// list; their own data export holds them, read-only and apart (GDPR access right).
async fn clients_cannot_write_coach_notes_and_never_see_them(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let id = w.booking_id();
    let notes = |c: &Client, text: &str| {
        c.put(app.url(&format!("/api/bookings/{id}/notes")))
            .json(&json!({"notes": text}))
            .send()
    };
    let r = notes(&w.x, "client wrote this").await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );
    let r = notes(&w.coach_a, "private coach remark").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["coach_notes"],
        "private coach remark"
    );
    let one = get_json(app, &w.x, &format!("/api/bookings/{id}")).await;
    assert!(one.get("coach_notes").is_none(), "client sees notes: {one}");
    let list = get_json(app, &w.x, "/api/bookings").await;
    assert!(
        list[0].get("coach_notes").is_none(),
        "client sees notes in the list: {list}"
    );
    let export = get_json(app, &w.x, "/api/me/export").await;
    assert!(
        export["bookings"][0].get("coach_notes").is_none(),
        "the export's bookings carry no notes: {export}"
    );
    assert_eq!(
        export["coach_notes_about_you"][0]["notes"], "private coach remark",
        "the export holds them apart, read-only"
    );
    let other = get_json(app, &w.y, "/api/me/export").await;
    assert!(
        !other.to_string().contains("private coach remark"),
        "another client's export does not: {other}"
    );
    for path in [format!("/api/bookings/{id}/invite.ics")] {
        let text =
            w.x.get(app.url(&path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        assert!(
            !text.contains("private coach remark"),
            "{path} leaks the notes"
        );
    }
    let admin_view = get_json(app, &w.admin, &format!("/api/bookings/{id}")).await;
    assert_eq!(admin_view["coach_notes"], "private coach remark");
}

async fn only_admins_or_the_coach_manage_a_coach_and_only_admins_create_coaches_users_and_read_audit(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    let a = &w.coach_a_id;
    let coach_b_user = get_json(app, &w.coach_b, "/api/me").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let availability = json!({"time_zone": "UTC", "weekly": [{"weekday": "Mon", "start": "09:00:00", "end": "10:00:00"}], "overrides": []});
    for (who, c) in [("client X", &w.x), ("coach B", &w.coach_b)] {
        let (st, text) = call(
            app,
            c,
            &Method::PATCH,
            &format!("/api/coaches/{a}"),
            Some(&json!({"bio": "hijacked"})),
        )
        .await;
        assert_eq!(st, 403, "{who} patches coach A: {text}");
        let (st, text) = call(
            app,
            c,
            &Method::PUT,
            &format!("/api/coaches/{a}/availability"),
            Some(&availability),
        )
        .await;
        assert_eq!(st, 403, "{who} sets coach A's availability: {text}");
    }
    let profile = get_json(app, &w.admin, &format!("/api/coaches/{a}")).await;
    assert_eq!(profile["bio"], "Helps.");
    assert_eq!(
        profile["availability"]["weekly"].as_array().unwrap().len(),
        7,
        "availability unchanged"
    );
    // Coach A edits their own profile, but cannot (de)activate it or relink it.
    let (st, text) = call(
        app,
        &w.coach_a,
        &Method::PATCH,
        &format!("/api/coaches/{a}"),
        Some(&json!({"bio": "Now helps more."})),
    )
    .await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(as_json(&text)["bio"], "Now helps more.");
    for patch in [
        json!({"active": false}),
        json!({"user_id": coach_b_user}),
        json!({"bio": "x", "active": true}),
    ] {
        let (st, text) = call(
            app,
            &w.coach_a,
            &Method::PATCH,
            &format!("/api/coaches/{a}"),
            Some(&patch),
        )
        .await;
        assert_eq!(st, 403, "coach A sends {patch}: {text}");
    }
    let profile = get_json(app, &w.admin, &format!("/api/coaches/{a}")).await;
    assert_eq!(profile["active"], true);
    assert_eq!(profile["bio"], "Now helps more.");
    assert_ne!(profile["user_id"], json!(coach_b_user));
    // Creating coaches and accounts, and reading the audit log, is for admins only.
    let new_coach = json!({"name": "New Coach"});
    let new_user = json!({"email": "made@example.org", "name": "Made", "role": "admin", "password": "long enough password"});
    for (who, c) in [
        ("client X", &w.x),
        ("coach A", &w.coach_a),
        ("client Y", &w.y),
    ] {
        let (st, text) = call(app, c, &Method::POST, "/api/coaches", Some(&new_coach)).await;
        assert_eq!(st, 403, "{who} creates a coach: {text}");
        let (st, text) = call(app, c, &Method::POST, "/api/admin/users", Some(&new_user)).await;
        assert_eq!(st, 403, "{who} creates an account: {text}");
        let (st, text) = call(app, c, &Method::GET, "/api/admin/audit", None).await;
        assert_eq!(st, 403, "{who} reads the audit log: {text}");
    }
    let listed = get_json(app, &w.admin, "/api/coaches").await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "no coach was created by non-admins"
    );
    let r = w
        .app
        .client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "made@example.org", "password": "long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no account was created by non-admins");
    assert_eq!(
        call(
            app,
            &w.admin,
            &Method::POST,
            "/api/coaches",
            Some(&new_coach)
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(
            app,
            &w.admin,
            &Method::POST,
            "/api/admin/users",
            Some(&new_user)
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(app, &w.admin, &Method::GET, "/api/admin/audit", None)
            .await
            .0,
        200
    );
}

async fn another_users_commitments_and_api_keys_are_invisible_and_untouchable(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let r =
        w.x.post(app.url("/api/commitments"))
            .json(&json!({"text": "x will journal"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let cm: Value = r.json().await.unwrap();
    let cm_id = cm["id"].as_str().unwrap();
    let patch = json!({"text": "overwritten", "status": "done"});
    let (st, text) = call(
        app,
        &w.y,
        &Method::PATCH,
        &format!("/api/commitments/{cm_id}"),
        Some(&patch),
    )
    .await;
    let missing = parlor::ids::CommitmentId::generate().0;
    let (st_missing, text_missing) = call(
        app,
        &w.y,
        &Method::PATCH,
        &format!("/api/commitments/{missing}"),
        Some(&patch),
    )
    .await;
    assert_eq!((st, st_missing), (404, 404), "{text} / {text_missing}");
    assert_eq!(as_json(&text), as_json(&text_missing));
    assert_eq!(
        get_json(app, &w.y, "/api/commitments").await,
        json!([]),
        "Y sees X's commitment"
    );
    let mine = get_json(app, &w.x, "/api/commitments").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["text"], "x will journal");
    assert_eq!(mine[0]["status"], "open");
    // API keys.
    let r =
        w.x.post(app.url("/api/keys"))
            .json(&json!({"name": "x sync"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let k: Value = r.json().await.unwrap();
    let (key, key_id) = (
        k["key"].as_str().unwrap(),
        k["info"]["id"].as_str().unwrap(),
    );
    let (st, text) = call(
        app,
        &w.y,
        &Method::DELETE,
        &format!("/api/keys/{key_id}"),
        None,
    )
    .await;
    let missing = parlor::ids::ApiKeyId::generate().0;
    let (st_missing, text_missing) = call(
        app,
        &w.y,
        &Method::DELETE,
        &format!("/api/keys/{missing}"),
        None,
    )
    .await;
    assert_eq!((st, st_missing), (404, 404), "{text} / {text_missing}");
    assert_eq!(as_json(&text), as_json(&text_missing));
    assert_eq!(
        get_json(app, &w.y, "/api/keys").await,
        json!([]),
        "Y sees X's key"
    );
    let bearer = Client::new()
        .get(app.url("/api/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200, "X's key still works");
    assert_eq!(
        get_json(app, &w.x, "/api/keys")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
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

async fn every_protected_endpoint_refuses_unauthenticated_and_forged_cookie_requests(
    backend: Backend,
) {
    let w = world(backend).await;
    let app = &w.app;
    let (id, a) = (w.booking_id(), w.coach_a_id.clone());
    let start = app.free_slot(&a, Duration::days(6)).await.to_rfc3339();
    let mut endpoints: Vec<(&str, Method, String, Option<Value>)> = vec![
        ("me", Method::GET, "/api/me".into(), None),
        (
            "update me",
            Method::PATCH,
            "/api/me".into(),
            Some(json!({"name": "N"})),
        ),
        ("erase me", Method::DELETE, "/api/me".into(), None),
        ("export", Method::GET, "/api/me/export".into(), None),
        ("feed", Method::POST, "/api/me/calendar-feed".into(), None),
        (
            "create key",
            Method::POST,
            "/api/keys".into(),
            Some(json!({"name": "k"})),
        ),
        ("list keys", Method::GET, "/api/keys".into(), None),
        (
            "revoke key",
            Method::DELETE,
            format!("/api/keys/{}", parlor::ids::ApiKeyId::generate()),
            None,
        ),
        (
            "create user",
            Method::POST,
            "/api/admin/users".into(),
            Some(json!({"email": "e@example.org", "name": "E", "role": "admin"})),
        ),
        ("audit", Method::GET, "/api/admin/audit".into(), None),
        ("live", Method::GET, "/api/admin/live".into(), None),
        (
            "create coach",
            Method::POST,
            "/api/coaches".into(),
            Some(json!({"name": "C"})),
        ),
        (
            "patch coach",
            Method::PATCH,
            format!("/api/coaches/{a}"),
            Some(json!({"bio": "b"})),
        ),
        (
            "availability",
            Method::PUT,
            format!("/api/coaches/{a}/availability"),
            Some(json!({"time_zone": "UTC", "weekly": []})),
        ),
        (
            "book",
            Method::POST,
            "/api/bookings".into(),
            Some(json!({"coach_id": a, "starts_at": start, "session_type": "video"})),
        ),
        ("list bookings", Method::GET, "/api/bookings".into(), None),
        ("commitments", Method::GET, "/api/commitments".into(), None),
        (
            "add commitment",
            Method::POST,
            "/api/commitments".into(),
            Some(json!({"text": "t"})),
        ),
        (
            "edit commitment",
            Method::PATCH,
            format!("/api/commitments/{}", parlor::ids::CommitmentId::generate()),
            Some(json!({"text": "t"})),
        ),
    ];
    endpoints.extend(booking_endpoints(&id, &start));
    let x_cookie = login_cookie(app, "x@example.org").await;
    let mut tampered: Vec<char> = x_cookie.chars().collect();
    tampered[0] = if tampered[0] == 'a' { 'b' } else { 'a' };
    let tampered: String = tampered.into_iter().collect();
    let callers = [
        ("no credentials", app.client()),
        (
            "forged cookie",
            cookie_client(app, &parlor::ids::new_token()),
        ),
        ("tampered cookie of X", cookie_client(app, &tampered)),
        ("empty cookie", cookie_client(app, "")),
    ];
    for (name, m, path, body) in &endpoints {
        for (who, c) in &callers {
            let (st, text) = call(app, c, m, path, body.as_ref()).await;
            assert_eq!(st, 401, "{who} on {name} ({m} {path}): {text}");
            assert_eq!(
                as_json(&text)["error"]["code"],
                "unauthenticated",
                "{who} on {name}"
            );
        }
    }
    // The real cookie reads the booking; nothing above changed anything.
    let b = get_json(
        app,
        &cookie_client(app, &x_cookie),
        &format!("/api/bookings/{id}"),
    )
    .await;
    assert_eq!(
        (b["status"].as_str(), b["sequence"].as_u64()),
        (Some("scheduled"), Some(0))
    );
    assert_eq!(
        get_json(app, &w.admin, "/api/coaches")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

//! Accounts and sessions over HTTP, on SQLite and PostgreSQL: cookie attributes, login
//! failures and rate limits, logout and expiry, the Origin check, API keys, sign-up validation
//! and the audit log.

use crate::common;

use chrono::Duration;
use common::{Backend, TestApp};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Response};
use serde_json::{Value, json};

both_backends!(
    signup_sets_an_httponly_lax_root_cookie_that_is_secure_only_on_https,
    wrong_password_and_unknown_email_get_the_same_401,
    five_failed_logins_lock_the_account_even_for_the_right_password,
    failed_logins_from_one_ip_across_accounts_are_rate_limited,
    logout_revokes_the_session_on_the_server,
    sessions_expire_after_seven_days,
    cookie_requests_that_change_state_from_another_origin_are_refused,
    api_keys_authenticate_without_cookie_or_origin_are_stored_hashed_and_can_be_revoked,
    signup_validates_its_input_and_can_be_disabled,
    audit_log_records_logins_without_personal_data,
    changing_the_password_needs_the_current_one_and_ends_every_other_session,
    admins_list_disable_enable_reset_and_change_the_role_of_accounts,
);

const PW: &str = "correct horse battery";

/// A client without cookie store, with an optional Origin and an optional session cookie.
fn raw_client(origin: Option<&str>, cookie: Option<&str>) -> Client {
    let mut h = HeaderMap::new();
    if let Some(o) = origin {
        h.insert("origin", HeaderValue::from_str(o).unwrap());
    }
    if let Some(c) = cookie {
        h.insert(
            "cookie",
            HeaderValue::from_str(&format!("parlor_session={c}")).unwrap(),
        );
    }
    Client::builder().default_headers(h).build().unwrap()
}

/// The `parlor_session` Set-Cookie header of a response.
fn session_set_cookie(r: &Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("parlor_session="))
        .expect("a parlor_session cookie is set")
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie["parlor_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    raw_client(Some(&app.base), None)
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn login_cookie(app: &TestApp, email: &str) -> String {
    let r = login(app, email, PW).await;
    assert_eq!(r.status(), 200);
    cookie_value(&session_set_cookie(&r))
}

async fn body(r: Response) -> Value {
    r.json().await.unwrap()
}

async fn status_of(c: &Client, app: &TestApp, path: &str) -> u16 {
    c.get(app.url(path)).send().await.unwrap().status().as_u16()
}

async fn signup_sets_an_httponly_lax_root_cookie_that_is_secure_only_on_https(backend: Backend) {
    let app = TestApp::start(backend).await;
    let r = raw_client(Some(&app.base), None)
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "new@example.org", "name": "New", "password": PW, "time_zone": "Europe/Paris"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "sign-up answers alike for every address");
    assert!(
        r.headers().get("set-cookie").is_none(),
        "and signs nobody in"
    );
    let r = raw_client(Some(&app.base), None)
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "new@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = session_set_cookie(&r);
    let attrs = attributes(&set);
    for want in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "{want} missing: {set}");
    }
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "Secure on plain http: {set}"
    );
    let cookie = cookie_value(&set);
    assert!(
        cookie.len() >= 40,
        "session token is long and random: {cookie}"
    );
    let me = body(
        raw_client(None, Some(&cookie))
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["user"]["email"], "new@example.org");
    assert_eq!(me["user"]["role"], "client");
    drop(app);

    let https = "https://parlor.example";
    let app = TestApp::start_with(backend, |c| c.http.public_url = https.into()).await;
    let c = raw_client(Some(https), None);
    let r = c
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "tls@example.org", "name": "Tls", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "tls@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = session_set_cookie(&r);
    let attrs = attributes(&set);
    assert!(
        attrs.iter().any(|a| a == "secure"),
        "no Secure behind https: {set}"
    );
    assert!(
        attrs.iter().any(|a| a == "httponly") && attrs.iter().any(|a| a == "samesite=lax"),
        "{set}"
    );
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "tls@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        attributes(&session_set_cookie(&r))
            .iter()
            .any(|a| a == "secure"),
        "login cookie is Secure"
    );
}

async fn wrong_password_and_unknown_email_get_the_same_401(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.client_user("known@example.org").await;
    let wrong = login(&app, "known@example.org", "wrong password here").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers().get("set-cookie").is_none(),
        "no cookie on failure"
    );
    let wrong = body(wrong).await;
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    let unknown = login(&app, "nobody@example.org", "wrong password here").await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        body(unknown).await,
        wrong,
        "unknown email is indistinguishable"
    );
    let case = login(&app, "  KNOWN@Example.org ", PW).await;
    assert_eq!(case.status(), 200, "emails match case-insensitively");
}

async fn five_failed_logins_lock_the_account_even_for_the_right_password(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.client_user("victim@example.org").await;
    app.client_user("bystander@example.org").await;
    for i in 0..5 {
        assert_eq!(
            login(&app, "victim@example.org", "guess guess guess")
                .await
                .status(),
            401,
            "attempt {i}"
        );
    }
    let r = login(&app, "victim@example.org", PW).await;
    assert_eq!(
        r.status(),
        429,
        "the 6th attempt is refused even with the right password"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(body(r).await["error"]["code"], "rate_limited");
    assert_eq!(
        login(&app, "VICTIM@example.org", PW).await.status(),
        429,
        "case does not dodge the limit"
    );
    assert_eq!(
        login(&app, "bystander@example.org", PW).await.status(),
        200,
        "other accounts unaffected"
    );
}

async fn failed_logins_from_one_ip_across_accounts_are_rate_limited(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.auth.login_max_failures_per_ip = 3;
        c.auth.login_max_failures_per_account = 100;
    })
    .await;
    for e in [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ] {
        app.client_user(e).await;
    }
    for e in ["a@example.org", "b@example.org", "c@example.org"] {
        assert_eq!(login(&app, e, "guess guess guess").await.status(), 401);
    }
    let r = raw_client(Some(&app.base), None)
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": "d@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "X-Forwarded-For (untrusted) does not dodge the per-IP limit"
    );
    let r = login(&app, "d@example.org", PW).await;
    assert_eq!(r.status(), 429, "a 4th account from the same IP is refused");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(body(r).await["error"]["code"], "rate_limited");
}

async fn logout_revokes_the_session_on_the_server(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.client_user("leaver@example.org").await;
    let old = login_cookie(&app, "leaver@example.org").await;
    let other = login_cookie(&app, "leaver@example.org").await;
    let c = raw_client(Some(&app.base), Some(&old));
    assert_eq!(status_of(&c, &app, "/api/me").await, 200);
    let r = c.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let cleared = session_set_cookie(&r);
    assert_eq!(cookie_value(&cleared), "");
    assert!(
        attributes(&cleared).iter().any(|a| a == "max-age=0"),
        "{cleared}"
    );
    // The browser would drop the cookie; a thief who kept it gets nothing.
    let replay = raw_client(Some(&app.base), Some(&old));
    assert_eq!(status_of(&replay, &app, "/api/me").await, 401);
    assert_eq!(status_of(&replay, &app, "/api/bookings").await, 401);
    let post = replay
        .post(app.url("/api/commitments"))
        .json(&json!({"text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    assert_eq!(
        status_of(&raw_client(None, Some(&other)), &app, "/api/me").await,
        200,
        "other sessions live on"
    );
}

async fn sessions_expire_after_seven_days(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.client_user("sleeper@example.org").await;
    let c = raw_client(
        Some(&app.base),
        Some(&login_cookie(&app, "sleeper@example.org").await),
    );
    app.clock.advance(Duration::days(6));
    assert_eq!(
        status_of(&c, &app, "/api/me").await,
        200,
        "still valid after 6 days"
    );
    app.clock.advance(Duration::days(2));
    assert_eq!(
        status_of(&c, &app, "/api/me").await,
        401,
        "expired after 8 days"
    );
    let r = c
        .post(app.url("/api/commitments"))
        .json(&json!({"text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn cookie_requests_that_change_state_from_another_origin_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.client_user("target@example.org").await;
    let cookie = login_cookie(&app, "target@example.org").await;
    let evil = raw_client(Some("https://evil.example"), Some(&cookie));
    let bare = raw_client(None, Some(&cookie));
    let commit = json!({"text": "planted"});
    for (who, c) in [
        ("foreign Origin", &evil),
        ("no Origin, no Sec-Fetch-Site", &bare),
    ] {
        let r = c
            .post(app.url("/api/commitments"))
            .json(&commit)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{who}");
        assert_eq!(body(r).await["error"]["code"], "forbidden");
        assert_eq!(
            c.delete(app.url("/api/me")).send().await.unwrap().status(),
            403,
            "{who} erases the account"
        );
        let r = c
            .post(app.url("/api/keys"))
            .json(&json!({"name": "stolen"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{who} creates an API key");
    }
    let cross_site = bare
        .post(app.url("/api/commitments"))
        .header("sec-fetch-site", "cross-site")
        .json(&commit)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // Reads need no Origin, and show that nothing was changed.
    let list = bare.get(app.url("/api/commitments")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(body(list).await, json!([]));
    assert_eq!(
        body(bare.get(app.url("/api/keys")).send().await.unwrap()).await,
        json!([])
    );
    assert_eq!(
        status_of(&evil, &app, "/api/me").await,
        200,
        "the account still exists"
    );
    // A same-site request does work.
    let same = bare
        .post(app.url("/api/commitments"))
        .header("sec-fetch-site", "same-origin")
        .json(&commit)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201);
    let ok = raw_client(Some(&app.base), Some(&cookie))
        .post(app.url("/api/commitments"))
        .json(&commit)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    // Login and sign-up from a foreign page are refused, with no cookie set.
    let r = raw_client(Some("https://evil.example"), None)
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "target@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let r = raw_client(Some("https://evil.example"), None)
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "csrf@example.org", "name": "C", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        login(&app, "csrf@example.org", PW).await.status(),
        401,
        "no account was created"
    );
}

/// Every row of `table` as text (PostgreSQL: row_to_json; SQLite: quote() of every column).
async fn rows_as_text(app: &TestApp, table: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.db.url)
        .await
        .unwrap();
    let sql = match app.backend {
        Backend::Postgres => format!("SELECT row_to_json(t)::text FROM {table} t"),
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
    pool.close().await;
    rows
}

async fn api_keys_authenticate_without_cookie_or_origin_are_stored_hashed_and_can_be_revoked(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;
    let (c, user_id) = app.client_user("integrator@example.org").await;
    let r = c
        .post(app.url("/api/keys"))
        .json(&json!({"name": "calendar sync"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created = body(r).await;
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["info"]["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("plk_") && key.len() >= 40, "{key}");
    assert_eq!(created["info"]["prefix"], key[..10]);
    let listed = c
        .get(app.url("/api/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let list: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], key_id.as_str());
    assert!(
        list[0].get("key").is_none() && !listed.contains(&key),
        "listing shows the key: {listed}"
    );
    // Bearer works with no cookie and no Origin, also for writes.
    let bearer = Client::new();
    let r = bearer
        .post(app.url("/api/commitments"))
        .bearer_auth(&key)
        .json(&json!({"text": "via key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let me = body(
        bearer
            .get(app.url("/api/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["user"]["id"], user_id.as_str());
    let cm = body(c.get(app.url("/api/commitments")).send().await.unwrap()).await;
    assert_eq!(cm[0]["text"], "via key");
    // Only the hash is stored.
    let rows = rows_as_text(&app, "api_keys").await;
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].contains(&key) && !rows[0].contains(&key[4..]),
        "key stored in clear: {}",
        rows[0]
    );
    assert!(
        rows[0].contains(&parlor::ids::token_hash(&key)),
        "row holds the key's hash: {}",
        rows[0]
    );
    // Malformed or tampered credentials.
    let mut bad = key.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'a' { 'b' } else { 'a' });
    for (what, auth) in [
        ("Basic", "Basic x".to_string()),
        ("tampered", format!("Bearer {bad}")),
        ("truncated", format!("Bearer {}", &key[..key.len() - 1])),
        ("empty", "Bearer ".to_string()),
        ("other scheme", format!("Token {key}")),
    ] {
        let r = bearer
            .get(app.url("/api/me"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(body(r).await["error"]["code"], "unauthenticated", "{what}");
    }
    // Revoked keys stop working.
    assert_eq!(
        c.delete(app.url(&format!("/api/keys/{key_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        bearer
            .get(app.url("/api/me"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = bearer
        .post(app.url("/api/commitments"))
        .bearer_auth(&key)
        .json(&json!({"text": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        body(c.get(app.url("/api/keys")).send().await.unwrap()).await,
        json!([])
    );
    assert_eq!(
        c.delete(app.url(&format!("/api/keys/{key_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "revoking twice"
    );
}

async fn signup(app: &TestApp, email: &str, password: &str, tz: Option<&str>) -> Response {
    let mut b = json!({"email": email, "name": "Sign Up", "password": password});
    if let Some(tz) = tz {
        b["time_zone"] = json!(tz);
    }
    raw_client(Some(&app.base), None)
        .post(app.url("/api/auth/signup"))
        .json(&b)
        .send()
        .await
        .unwrap()
}

async fn signup_validates_its_input_and_can_be_disabled(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (what, email, pw, tz) in [
        ("weak password", "weak@example.org", "short", None),
        ("bad email", "not-an-email", PW, None),
        ("bad email domain", "a@b", PW, None),
        (
            "invalid time zone",
            "tz@example.org",
            PW,
            Some("Mars/Olympus"),
        ),
    ] {
        let r = signup(&app, email, pw, tz).await;
        assert_eq!(r.status(), 422, "{what}");
        assert!(r.headers().get("set-cookie").is_none(), "{what}");
        assert_eq!(body(r).await["error"]["code"], "invalid", "{what}");
    }
    assert_eq!(
        login(&app, "weak@example.org", "short").await.status(),
        401,
        "nothing was created"
    );
    assert_eq!(
        signup(&app, "dup@example.org", PW, Some("Asia/Kolkata"))
            .await
            .status(),
        202
    );
    for email in ["dup@example.org", "DUP@Example.org"] {
        let r = signup(&app, email, "another long password", None).await;
        assert_eq!(r.status(), 202, "{email}: answered like a new address");
        assert!(r.headers().get("set-cookie").is_none(), "{email}");
    }
    assert_eq!(
        login(&app, "dup@example.org", PW).await.status(),
        200,
        "the original password still works"
    );
    drop(app);

    let app = TestApp::start_with(backend, |c| c.auth.signup_enabled = false).await;
    let r = signup(&app, "closed@example.org", PW, None).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(
        login(&app, "closed@example.org", PW).await.status(),
        401,
        "no account was created"
    );
}

async fn audit_log_records_logins_without_personal_data(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, user_id) = app
        .user(
            parlor::model::account::AccountRole::Client,
            "audited.person@example.org",
            "Audited Person",
        )
        .await;
    assert_eq!(
        login(&app, "audited.person@example.org", "wrong password!")
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&app, "unknown.person@example.org", "wrong password!")
            .await
            .status(),
        401
    );
    assert_eq!(
        login(&app, "audited.person@example.org", PW).await.status(),
        200
    );
    let r = admin
        .get(app.url("/api/admin/audit?limit=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().filter(|e| **e == "login_failed").count() >= 2,
        "{events:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "login" && e["actor_id"] == user_id.as_str()),
        "successful login by the user is recorded: {text}"
    );
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let lower = text.to_lowercase();
    for secret in [
        "audited.person@example.org",
        "unknown.person@example.org",
        "admin@example.org",
        "audited person",
        "wrong password!",
    ] {
        assert!(
            !lower.contains(secret),
            "audit log contains {secret:?}: {text}"
        );
    }
    for row in rows_as_text(&app, "audit_log").await {
        let row = row.to_lowercase();
        assert!(
            !row.contains("@example.org") && !row.contains("audited person"),
            "audit row: {row}"
        );
    }
}

async fn changing_the_password_needs_the_current_one_and_ends_every_other_session(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;
    let (_, _) = app.client_user("changer@example.org").await;
    let here = login_cookie(&app, "changer@example.org").await;
    let elsewhere = login_cookie(&app, "changer@example.org").await;
    let me = |cookie: &str| {
        let (c, url) = (
            raw_client(Some(&app.base), Some(cookie)),
            app.url("/api/me"),
        );
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    let change = |current: &str, new: &str| {
        let c = raw_client(Some(&app.base), Some(&here));
        let body = json!({"current_password": current, "new_password": new});
        let url = app.url("/api/me/password");
        async move { c.put(url).json(&body).send().await.unwrap() }
    };
    // A wrong current password: refused, nothing changes.
    let r = change("not the password", "a brand new password 42").await;
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "wrong_password");
    assert_eq!(me(&elsewhere).await, 200, "no session ended");
    assert_eq!(login(&app, "changer@example.org", PW).await.status(), 200);
    // A new password against the policy: refused.
    let r = change(PW, "short").await;
    assert_eq!(r.status(), 422);
    // The change: this session stays, every other ends, the old password stops working.
    let r = change(PW, "a brand new password 42").await;
    assert_eq!(r.status(), 204);
    assert_eq!(me(&here).await, 200, "the session that changed it stays");
    assert_eq!(me(&elsewhere).await, 401, "other sessions end");
    assert_eq!(login(&app, "changer@example.org", PW).await.status(), 401);
    assert_eq!(
        login(&app, "changer@example.org", "a brand new password 42")
            .await
            .status(),
        200
    );
    // From another site, with the cookie: refused like any state change.
    let r = raw_client(Some("https://evil.example"), Some(&here))
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": "a brand new password 42", "new_password": "yet another password 43"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let audit: Vec<Value> = common::get_json(&app.admin().await, app.url("/api/admin/audit")).await;
    assert!(
        audit.iter().any(|a| a["event"] == "password_changed"),
        "{audit:?}"
    );
    assert!(
        !serde_json::to_string(&audit).unwrap().contains("brand new"),
        "no password in the log"
    );
}

async fn admins_list_disable_enable_reset_and_change_the_role_of_accounts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (client, client_id) = app.client_user("someone@example.org").await;
    let key: Value = common::post_json(&client, app.url("/api/keys"), &json!({"name": "k"})).await;
    let key = key["key"].as_str().expect("an API key").to_string();
    let me_status = |c: &Client| {
        let (c, url) = (c.clone(), app.url("/api/me"));
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    let bearer = || {
        let (url, key) = (app.url("/api/me"), key.clone());
        async move {
            Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let post = |path: String| {
        let (c, url) = (admin.clone(), app.url(&path));
        async move { c.post(url).send().await.unwrap() }
    };
    // The list, searched; clients may not list.
    let found: Vec<Value> = common::get_json(&admin, app.url("/api/admin/users?q=SOMEONE")).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], client_id.as_str());
    assert_eq!(found[0]["disabled"], false);
    let r = client
        .get(app.url("/api/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(app.url(&format!("/api/admin/users/{client_id}/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a client cannot disable anyone");
    // Disabled: the session and the key stop working; the right password is told why.
    let r = post(format!("/api/admin/users/{client_id}/disable")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["disabled"], true);
    assert_eq!(me_status(&client).await, 401);
    assert_eq!(bearer().await, 401);
    let r = login(&app, "someone@example.org", PW).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "account_disabled"
    );
    assert_eq!(
        login(&app, "someone@example.org", "a wrong password!")
            .await
            .status(),
        401,
        "a wrong password learns nothing more"
    );
    // Enabled again: sign-in and the key work again.
    assert_eq!(
        post(format!("/api/admin/users/{client_id}/enable"))
            .await
            .status(),
        200
    );
    assert_eq!(login(&app, "someone@example.org", PW).await.status(), 200);
    assert_eq!(bearer().await, 200);
    // A new role.
    let r = admin
        .put(app.url(&format!("/api/admin/users/{client_id}/role")))
        .json(&json!({"role": "coach"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "coach");
    // A reset: a generated password, shown once; the old one stops working.
    let r = post(format!("/api/admin/users/{client_id}/password")).await;
    assert_eq!(r.status(), 200);
    let new = r.json::<Value>().await.unwrap()["password"]
        .as_str()
        .expect("the new password")
        .to_string();
    assert_eq!(login(&app, "someone@example.org", PW).await.status(), 401);
    assert_eq!(login(&app, "someone@example.org", &new).await.status(), 200);
    // The admin's own account is out of reach of these; unknown accounts are 404.
    let mine: Value = common::get_json(&admin, app.url("/api/me")).await;
    let admin_id = mine["user"]["id"].as_str().unwrap().to_string();
    let r = post(format!("/api/admin/users/{admin_id}/disable")).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "own_account"
    );
    let r = admin
        .put(app.url(&format!("/api/admin/users/{admin_id}/role")))
        .json(&json!({"role": "client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        post("/api/admin/users/u_nobody/disable".into())
            .await
            .status(),
        404
    );
    let audit: Vec<Value> = common::get_json(&admin, app.url("/api/admin/audit")).await;
    for event in [
        "account_disabled",
        "account_enabled",
        "role_changed",
        "password_reset_by_admin",
    ] {
        assert!(
            audit.iter().any(|a| a["event"] == event),
            "{event}: {audit:?}"
        );
    }
}

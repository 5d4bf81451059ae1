//! Malformed requests over HTTP, on SQLite and PostgreSQL: every one gets a 4xx with the JSON
//! error shape (never a 500 or a panic) and changes nothing.

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{Backend, TestApp, enc};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

both_backends!(
    every_malformed_request_gets_a_json_4xx_and_changes_nothing,
    two_hundred_parallel_malformed_requests_never_give_a_5xx,
);

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Client,
    Coach,
    Admin,
}

/// One row of the table: a request and the status it must get.
struct Case {
    name: &'static str,
    who: Who,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Option<Vec<u8>>,
    status: u16,
}

fn case(
    name: &'static str,
    who: Who,
    method: &'static str,
    path: impl Into<String>,
    status: u16,
) -> Case {
    Case {
        name,
        who,
        method,
        path: path.into(),
        headers: Vec::new(),
        body: None,
        status,
    }
}

impl Case {
    /// A raw body sent as `application/json` (it need not be valid JSON).
    fn json(self, body: impl Into<String>) -> Case {
        self.bytes("application/json", body.into().into_bytes())
    }
    fn bytes(mut self, content_type: &'static str, body: Vec<u8>) -> Case {
        self.headers
            .push(("content-type", content_type.as_bytes().to_vec()));
        self.body = Some(body);
        self
    }
    fn header(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Case {
        self.headers.push((name, value.as_ref().to_vec()));
        self
    }
}

struct World {
    app: TestApp,
    anon: reqwest::Client,
    client: reqwest::Client,
    coach: reqwest::Client,
    admin: reqwest::Client,
    coach_id: String,
    booking_id: String,
    commitment_id: String,
    /// A free, bookable slot (two days ahead, 10:00 UTC).
    free: DateTime<Utc>,
    day: NaiveDate,
}

impl World {
    async fn new(backend: Backend) -> World {
        let app = TestApp::start(backend).await;
        let admin = app.admin().await;
        let (coach, coach_id) = app.coach(&admin, "coach@example.org").await;
        let (client, _) = app.client_user("client@example.org").await;
        let day = (app.clock.now() + Duration::days(2)).date_naive();
        let free = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
        let at = (free + Duration::days(1)).to_rfc3339();
        let r = client
            .post(app.url("/api/bookings"))
            .json(&json!({"coach_id": coach_id, "starts_at": at, "session_type": "video"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let booking_id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = client
            .post(app.url("/api/commitments"))
            .json(&json!({"text": "write CV"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let commitment_id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let anon = app.client();
        World {
            app,
            anon,
            client,
            coach,
            admin,
            coach_id,
            booking_id,
            commitment_id,
            free,
            day,
        }
    }

    fn who(&self, w: Who) -> &reqwest::Client {
        match w {
            Who::Anonymous => &self.anon,
            Who::Client => &self.client,
            Who::Coach => &self.coach,
            Who::Admin => &self.admin,
        }
    }

    /// Everything a malformed request could have changed, as the API shows it.
    async fn snapshot(&self) -> Vec<Value> {
        let from = (self.day - chrono::Days::new(1)).to_string();
        let to = (self.day + chrono::Days::new(6)).to_string();
        let gets = [
            (&self.client, "/api/bookings?scope=upcoming".to_string()),
            (&self.client, "/api/bookings?scope=past".to_string()),
            (&self.admin, "/api/bookings".to_string()),
            (&self.client, "/api/commitments".to_string()),
            (&self.client, "/api/me".to_string()),
            (&self.client, "/api/keys".to_string()),
            (&self.anon, "/api/coaches".to_string()),
            (&self.admin, format!("/api/coaches/{}", self.coach_id)),
            (
                &self.anon,
                format!("/api/coaches/{}/slots?from={from}&to={to}", self.coach_id),
            ),
        ];
        let mut out = Vec::new();
        for (c, path) in gets {
            let r = c.get(self.app.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "snapshot GET {path}");
            out.push(json!({"path": path, "body": r.json::<Value>().await.unwrap()}));
        }
        out
    }
}

fn table(w: &World) -> Vec<Case> {
    use Who::*;
    let (coach, b, cm) = (
        w.coach_id.as_str(),
        w.booking_id.as_str(),
        w.commitment_id.as_str(),
    );
    let at = |t: DateTime<Utc>| t.to_rfc3339();
    let booking = |starts: &str| {
        json!({"coach_id": coach, "starts_at": starts, "session_type": "video"}).to_string()
    };
    let valid = booking(&at(w.free));
    let now = w.app.clock.now();
    let on_hour = |t: DateTime<Utc>| t.date_naive().and_hms_opt(10, 0, 0).unwrap().and_utc();
    let slots = |q: &str| format!("/api/coaches/{coach}/slots?{q}");
    let week = |day: &str| json!({"weekday": day, "start": "09:00:00", "end": "12:00:00"});
    let avail = |v: Value| v.to_string();
    vec![
        // Malformed bodies.
        case("malformed JSON", Client, "POST", "/api/bookings", 400).json(r#"{"coach_id": "#),
        // serde fills a struct from an array by position; the API accepts objects only.
        case("array body for PATCH /api/me", Client, "PATCH", "/api/me", 400).json("[null, null]"),
        case("array body for login", Anonymous, "POST", "/api/auth/login", 400)
            .json(r#"["client@example.org", "correct horse battery"]"#),
        case("array body for API key", Client, "POST", "/api/keys", 400).json(r#"["x"]"#),
        case("empty body with JSON content type", Client, "POST", "/api/bookings", 400).json(""),
        case("JSON array instead of object", Client, "POST", "/api/bookings", 400).json("[1,2,3]"),
        case("wrong content type text/plain", Client, "POST", "/api/bookings", 415)
            .bytes("text/plain", valid.clone().into_bytes()),
        case("no content type", Client, "POST", "/api/bookings", 415).header("x-nothing", "1"),
        case("non-UTF-8 body bytes", Client, "POST", "/api/bookings", 400)
            .bytes("application/json", vec![0xff, 0xfe, b'{', 0xc3, 0x28, b'}']),
        case("nesting beyond the parser's depth", Client, "POST", "/api/commitments", 400)
            .json(format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
        case("65 KiB body", Client, "POST", "/api/commitments", 413)
            .json(json!({"text": "x".repeat(65 * 1024)}).to_string()),
        case("1 MiB body", Client, "POST", "/api/bookings", 413).json(format!(
            r#"{{"coach_id":"{coach}","starts_at":"{}","session_type":"video","focus_area":"{}"}}"#,
            at(w.free),
            "y".repeat(1024 * 1024)
        )),
        // Wrong types, unknown and missing fields.
        case("starts_at is a number", Client, "POST", "/api/bookings", 400)
            .json(json!({"coach_id": coach, "starts_at": 5, "session_type": "video"}).to_string()),
        case("session_type fax", Client, "POST", "/api/bookings", 400)
            .json(json!({"coach_id": coach, "starts_at": at(w.free), "session_type": "fax"}).to_string()),
        case("unknown JSON field", Client, "POST", "/api/bookings", 400)
            .json(json!({"coach_id": coach, "starts_at": at(w.free), "session_type": "video", "price": 0}).to_string()),
        case("missing starts_at", Client, "POST", "/api/bookings", 400)
            .json(json!({"coach_id": coach, "session_type": "video"}).to_string()),
        case("rating is a string", Client, "POST", format!("/api/bookings/{b}/rating"), 400).json(r#"{"rating":"five"}"#),
        case("rating 0", Client, "POST", format!("/api/bookings/{b}/rating"), 422).json(r#"{"rating":0}"#),
        case("rating 6", Client, "POST", format!("/api/bookings/{b}/rating"), 422).json(r#"{"rating":6}"#),
        case("rating 300 overflows", Client, "POST", format!("/api/bookings/{b}/rating"), 400).json(r#"{"rating":300}"#),
        case("outcome status banana", Coach, "PUT", format!("/api/bookings/{b}/status"), 400).json(r#"{"status":"banana"}"#),
        case("experience_years negative", Admin, "PATCH", format!("/api/coaches/{coach}"), 400)
            .json(r#"{"experience_years":-1}"#),
        case("due_date not a date", Client, "PATCH", format!("/api/commitments/{cm}"), 400).json(r#"{"due_date":"tomorrow"}"#),
        // Slot queries.
        case("tz Mars/Base on slots", Anonymous, "GET", slots("tz=Mars/Base"), 400),
        case("from not a time", Anonymous, "GET", slots("from=yesterday-ish"), 400),
        case("to not a date", Anonymous, "GET", slots("to=2027-13-45"), 400),
        case("from equals to", Anonymous, "GET", slots(&format!("from={0}&to={0}", w.day)), 400),
        case("from after to", Anonymous, "GET", slots(&format!("from={}&to={}", w.day, w.day - chrono::Days::new(3))), 400),
        case("range over 62 days", Anonymous, "GET", slots(&format!("from={}&to={}", w.day, w.day + chrono::Days::new(63))), 400),
        // Times that cannot be booked.
        case("start off the slot grid", Client, "POST", "/api/bookings", 422)
            .json(booking(&at(w.free + Duration::minutes(17)))),
        case("start in the past", Client, "POST", "/api/bookings", 422).json(booking(&at(on_hour(now - Duration::days(2))))),
        case("start beyond the booking window", Client, "POST", "/api/bookings", 422)
            .json(booking(&at(on_hour(now + Duration::days(90))))),
        case("reschedule off the grid", Client, "POST", format!("/api/bookings/{b}/reschedule"), 422)
            .json(json!({"starts_at": at(w.free + Duration::minutes(17))}).to_string()),
        case("focus_area over 500 characters", Client, "POST", "/api/bookings", 422).json(
            json!({"coach_id": coach, "starts_at": at(w.free), "session_type": "video", "focus_area": "z".repeat(501)})
                .to_string(),
        ),
        case("admin books without client_id", Admin, "POST", "/api/bookings", 422).json(valid.clone()),
        case("coach account books", Coach, "POST", "/api/bookings", 403).json(valid.clone()),
        // Unknown ids and routes.
        case("unknown coach id on booking", Client, "POST", "/api/bookings", 404)
            .json(json!({"coach_id": "c_doesnotexist", "starts_at": at(w.free), "session_type": "video"}).to_string()),
        case("unknown coach profile", Anonymous, "GET", "/api/coaches/c_doesnotexist", 404),
        case("slots of unknown coach", Anonymous, "GET", "/api/coaches/c_doesnotexist/slots", 404),
        case("unknown booking id", Client, "GET", "/api/bookings/b_doesnotexist", 404),
        case("cancel unknown booking", Client, "POST", "/api/bookings/b_doesnotexist/cancel", 404).json(r#"{"reason":"x"}"#),
        case("unknown commitment id", Client, "PATCH", "/api/commitments/m_doesnotexist", 404).json(r#"{"status":"done"}"#),
        case("revoke unknown API key", Client, "DELETE", "/api/keys/k_doesnotexist", 404),
        case("very long booking id", Client, "GET", format!("/api/bookings/{}", "b".repeat(8000)), 404),
        case("path not UTF-8 when decoded", Client, "GET", "/api/bookings/%FF%FE", 400),
        case("unknown calendar feed", Anonymous, "GET", "/cal/nope.ics", 404),
        case("unknown route", Anonymous, "GET", "/api/no-such-thing", 404),
        case("wrong method", Client, "DELETE", "/api/coaches", 405),
        case("wrong method on bookings", Client, "PUT", "/api/bookings", 405).json("{}"),
        // Profile fields.
        case("phone 12345", Admin, "PATCH", format!("/api/coaches/{coach}"), 422).json(r#"{"phone":"12345"}"#),
        case("phone +44 12", Admin, "PATCH", format!("/api/coaches/{coach}"), 422).json(r#"{"phone":"+44 12"}"#),
        case("phone tel: URI", Admin, "PATCH", format!("/api/coaches/{coach}"), 422).json(r#"{"phone":"tel:+442071838750"}"#),
        case("photo_url javascript:", Admin, "PATCH", format!("/api/coaches/{coach}"), 422)
            .json(r#"{"photo_url":"javascript:alert(1)"}"#),
        case("policy session_minutes 0", Admin, "PATCH", format!("/api/coaches/{coach}"), 422).json(
            json!({"policy": {"session_minutes": 0, "buffer_minutes": 0, "slot_step_minutes": 60, "min_notice_minutes": 0,
                "booking_window_days": 60, "cancel_notice_minutes": 0, "reschedule_notice_minutes": 0}})
            .to_string(),
        ),
        case("client edits a coach", Client, "PATCH", format!("/api/coaches/{coach}"), 403).json(r#"{"bio":"mine"}"#),
        case("invalid zone on PATCH /api/me", Client, "PATCH", "/api/me", 422).json(r#"{"time_zone":"Mars/Base"}"#),
        case("blank name on PATCH /api/me", Client, "PATCH", "/api/me", 422).json(r#"{"name":"   "}"#),
        case("invalid zone on availability", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 422)
            .json(avail(json!({"time_zone": "Mars/Base", "weekly": [week("Mon")], "overrides": []}))),
        case("overlapping availability windows", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 422).json(avail(
            json!({"time_zone": "UTC", "weekly": [week("Mon"), {"weekday": "Mon", "start": "11:00:00", "end": "13:00:00"}],
                "overrides": []}),
        )),
        case("availability window ends before it starts", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 422)
            .json(avail(json!({"time_zone": "UTC", "weekly": [{"weekday": "Tue", "start": "12:00:00", "end": "09:00:00"}]}))),
        case("availability weekday Funday", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 400)
            .json(avail(json!({"time_zone": "UTC", "weekly": [week("Funday")]}))),
        // The document lists Mon…Sun; other spellings chrono would read are refused, so a
        // schema-invalid request never succeeds.
        case("availability weekday monday", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 400)
            .json(avail(json!({"time_zone": "UTC", "weekly": [week("monday")]}))),
        case("override window with an unknown field", Admin, "PUT", format!("/api/coaches/{coach}/availability"), 400)
            .json(avail(json!({"time_zone": "UTC", "weekly": [], "overrides": [{"date": "2031-01-06",
                "windows": [{"start": "09:00", "end": "10:00", "until": "11:00"}]}]}))),
        case("commitment text empty", Client, "POST", "/api/commitments", 422).json(r#"{"text":"  "}"#),
        case("API key name too long", Client, "POST", "/api/keys", 422).json(json!({"name": "k".repeat(101)}).to_string()),
        // Credentials.
        case("forged session cookie", Anonymous, "GET", "/api/bookings", 401).header("cookie", "parlor_session=forged"),
        case("forged session cookie on a write", Anonymous, "POST", "/api/bookings", 401)
            .header("cookie", "parlor_session=forged")
            .json(valid.clone()),
        case("forged bearer key", Anonymous, "GET", "/api/me", 401).header("authorization", "Bearer plk_forged"),
        case("forged bearer key beats a good cookie", Client, "POST", "/api/commitments", 401)
            .header("authorization", "Bearer plk_forged")
            .json(r#"{"text":"sneaky"}"#),
        case("Authorization Basic", Client, "GET", "/api/me", 401).header("authorization", "Basic YTpi"),
        case("no credentials", Anonymous, "GET", "/api/commitments", 401),
        case("cross-site write with a good cookie", Client, "POST", "/api/commitments", 403)
            .header("origin", "https://evil.example")
            .json(r#"{"text":"csrf"}"#),
        case("client reads the audit log", Client, "GET", "/api/admin/audit", 403),
        case("audit limit 0", Admin, "GET", "/api/admin/audit?limit=0", 400),
        case("client creates an admin", Client, "POST", "/api/admin/users", 403)
            .json(r#"{"email":"evil@example.org","name":"Evil","role":"admin","password":"a long password 1"}"#),
        // Headers and parameters.
        case("Idempotency-Key not ASCII", Client, "POST", "/api/bookings", 400)
            .header("idempotency-key", "ключ".as_bytes())
            .json(valid.clone()),
        case("Idempotency-Key of 300 characters", Client, "POST", "/api/bookings", 400)
            .header("idempotency-key", "k".repeat(300))
            .json(valid.clone()),
        case("scope sideways", Client, "GET", "/api/bookings?scope=sideways", 400),
        case("cancel with empty reason", Client, "POST", format!("/api/bookings/{b}/cancel"), 422).json(r#"{"reason":""}"#),
        case("cancel without reason field", Client, "POST", format!("/api/bookings/{b}/cancel"), 400).json("{}"),
        case("notes by the client", Client, "PUT", format!("/api/bookings/{b}/notes"), 403).json(r#"{"notes":"x"}"#),
        // Sign-up and login.
        case("signup with weak password", Anonymous, "POST", "/api/auth/signup", 422)
            .json(r#"{"email":"new@example.org","name":"New","password":"short"}"#),
        case("signup with invalid zone", Anonymous, "POST", "/api/auth/signup", 422)
            .json(r#"{"email":"new2@example.org","name":"New","password":"a long password 1","time_zone":"Mars/Base"}"#),
        case("login missing password", Anonymous, "POST", "/api/auth/login", 400).json(r#"{"email":"client@example.org"}"#),
    ]
}

async fn send(w: &World, c: &Case) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
    // Each case on its own connection: after refusing an oversized body the server answers
    // early and closes the connection, which a pooled client might otherwise reuse.
    let mut req = w
        .who(c.who)
        .request(method, w.app.url(&c.path))
        .header("connection", "close");
    for (k, v) in &c.headers {
        req = req.header(
            HeaderName::from_static(k),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    if let Some(body) = &c.body {
        req = req.body(body.clone());
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("{}: request failed: {e}", c.name))
}

/// Checks status, content type and the `{"error":{"code","message"}}` shape; returns problems.
async fn check(c: &Case, r: reqwest::Response) -> Option<String> {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.unwrap_or_default();
    let shown: String = text.chars().take(300).collect();
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let code = body
        .as_ref()
        .and_then(|b| b["error"]["code"].as_str())
        .unwrap_or("");
    let message = body
        .as_ref()
        .and_then(|b| b["error"]["message"].as_str())
        .unwrap_or("");
    let problem = if status != c.status || !(400..500).contains(&status) {
        format!("status {status}, expected {}", c.status)
    } else if ct != "application/json" {
        format!("content-type {ct:?}")
    } else if code.is_empty() || message.trim().is_empty() {
        "body is not {\"error\":{\"code\",\"message\"}}".to_string()
    } else {
        return None;
    };
    Some(format!(
        "{} ({} {}): {problem}; body: {shown}",
        c.name,
        c.method,
        c.path.chars().take(80).collect::<String>()
    ))
}

async fn every_malformed_request_gets_a_json_4xx_and_changes_nothing(backend: Backend) {
    let w = World::new(backend).await;
    let cases = table(&w);
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let before = w.snapshot().await;
    let mut failures = Vec::new();
    for c in &cases {
        let r = send(&w, c).await;
        failures.extend(check(c, r).await);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let after = w.snapshot().await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "a malformed request changed {}", b["path"]);
    }
    let metrics = reqwest::get(w.app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("parlor_bookings_created_total 1"),
        "only the setup booking exists: {metrics}"
    );
    assert!(
        !metrics.contains("status=\"5"),
        "no 5xx was answered: {metrics}"
    );
}

async fn two_hundred_parallel_malformed_requests_never_give_a_5xx(backend: Backend) {
    let w = World::new(backend).await;
    let coach = w.coach_id.clone();
    let bad_json = r#"{"coach_id": [}"#.to_string();
    let huge = format!(r#"{{"text":"{}"}}"#, "h".repeat(70 * 1024));
    let bad_tz = w.app.url(&format!(
        "/api/coaches/{coach}/slots?tz={}",
        enc("Mars/Base")
    ));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (client, anon) = (w.client.clone(), w.anon.clone());
        let (url, bad_json, huge, bad_tz) = (
            w.app.base.clone(),
            bad_json.clone(),
            huge.clone(),
            bad_tz.clone(),
        );
        let coach = coach.clone();
        tasks.push(tokio::spawn(async move {
            let ct = "content-type";
            let r = match i % 8 {
                0 => client.post(format!("{url}/api/bookings")).header(ct, "application/json").body(bad_json).send(),
                1 => client.post(format!("{url}/api/commitments")).header(ct, "application/json").body(huge).send(),
                2 => anon.get(bad_tz).send(),
                3 => anon.get(format!("{url}/api/bookings")).header("cookie", "parlor_session=forged").send(),
                4 => client.post(format!("{url}/api/bookings")).header(ct, "text/plain").body("{}").send(),
                5 => client
                    .post(format!("{url}/api/bookings"))
                    .json(&json!({"coach_id": coach, "starts_at": "2020-01-01T10:00:00Z", "session_type": "video"}))
                    .send(),
                6 => anon.get(format!("{url}/api/bookings/{}", "x".repeat(4000))).header("authorization", "Bearer x").send(),
                _ => client.patch(format!("{url}/api/me")).json(&json!({"time_zone": "Nowhere/Land"})).send(),
            };
            r.await.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.expect("no task panicked"));
    }
    let bad: Vec<_> = codes
        .iter()
        .filter(|c| !matches!(c, Ok(400..=499)))
        .collect();
    assert!(bad.is_empty(), "{} of 200 were not 4xx: {bad:?}", bad.len());
    let r = reqwest::get(w.app.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = reqwest::get(w.app.url("/readyz")).await.unwrap();
    assert_eq!(r.status(), 200, "the database still answers");
}

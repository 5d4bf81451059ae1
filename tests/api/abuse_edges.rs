//! What a stranger can try against accounts and the CSRF check, on SQLite and PostgreSQL:
//! sign-up does not tell whether an email has an account and is throttled per address before
//! anything is created; a stranger's wrong passwords do not lock the owner out; the client
//! address behind a proxy is the rightmost untrusted `X-Forwarded-For` hop; password hashing
//! beyond its queue answers 503 with `Retry-After`; the Origin check compares scheme, host and
//! port with the public URL and ignores `Host`; erasing an account under an https public URL
//! clears the cookie with `Secure`.

use crate::common;

use common::{Backend, TestApp};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

both_backends!(
    signup_answers_alike_for_new_and_taken_emails,
    signup_is_throttled_per_address_before_creating_anything,
    a_stranger_cannot_lock_the_owner_out,
    proxies_are_read_from_the_right,
);

const PW: &str = "correct horse battery";

fn client_with(origin: Option<&str>, forwarded: Option<&str>) -> reqwest::Client {
    let mut h = HeaderMap::new();
    if let Some(o) = origin {
        h.insert("origin", HeaderValue::from_str(o).unwrap());
    }
    if let Some(f) = forwarded {
        h.insert("x-forwarded-for", HeaderValue::from_str(f).unwrap());
    }
    reqwest::Client::builder()
        .default_headers(h)
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn signup(app: &TestApp, c: &reqwest::Client, email: &str, pw: &str) -> reqwest::Response {
    c.post(app.url("/api/auth/signup"))
        .json(&json!({"email": email, "name": "Someone", "password": pw}))
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, c: &reqwest::Client, email: &str, pw: &str) -> u16 {
    c.post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": pw}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn signup_answers_alike_for_new_and_taken_emails(backend: Backend) {
    let app = TestApp::start(backend).await;
    let c = client_with(Some(&app.base), None);
    let new = signup(&app, &c, "new@example.org", PW).await;
    let (new_status, new_cookie) = (new.status(), new.headers().contains_key("set-cookie"));
    let new_body: Value = new.json().await.unwrap();
    let taken = signup(&app, &c, "NEW@example.org", "another long password").await;
    let (taken_status, taken_cookie) = (taken.status(), taken.headers().contains_key("set-cookie"));
    let taken_body: Value = taken.json().await.unwrap();
    assert_eq!(new_status, 202);
    assert_eq!((new_status, new_cookie), (taken_status, taken_cookie));
    assert_eq!(new_body, taken_body, "the same body");
    assert!(!new_cookie, "sign-up does not sign in");
    assert_eq!(login(&app, &c, "new@example.org", PW).await, 200, "created");
    assert_eq!(
        login(&app, &c, "new@example.org", "another long password").await,
        401,
        "the taken address kept its password"
    );
}

async fn signup_is_throttled_per_address_before_creating_anything(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.auth.signup_max_per_ip = 3;
        c.auth.login_max_failures_per_ip = 2;
        c.http.trust_proxy = true;
    })
    .await;
    let a = client_with(Some(&app.base), Some("203.0.113.1"));
    for i in 0..3 {
        assert_eq!(
            signup(&app, &a, &format!("s{i}@example.org"), PW)
                .await
                .status(),
            202
        );
    }
    let r = signup(&app, &a, "s3@example.org", PW).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let b = client_with(Some(&app.base), Some("203.0.113.2"));
    assert_eq!(
        login(&app, &b, "s3@example.org", PW).await,
        401,
        "nothing created"
    );
    // An address throttled for failed logins cannot sign up either, and nothing is created.
    let c = client_with(Some(&app.base), Some("203.0.113.3"));
    for _ in 0..2 {
        assert_eq!(
            login(&app, &c, "nobody@example.org", "wrong password!").await,
            401
        );
    }
    assert_eq!(signup(&app, &c, "late@example.org", PW).await.status(), 429);
    assert_eq!(
        login(&app, &b, "late@example.org", PW).await,
        401,
        "nothing created"
    );
}

async fn a_stranger_cannot_lock_the_owner_out(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.http.trust_proxy = true).await;
    app.client_user("owner@example.org").await;
    let stranger = client_with(Some(&app.base), Some("198.51.100.66"));
    for _ in 0..5 {
        assert_eq!(
            login(&app, &stranger, "owner@example.org", "guess guess guess").await,
            401
        );
    }
    assert_eq!(
        login(&app, &stranger, "owner@example.org", PW).await,
        429,
        "the guessing address is stopped"
    );
    let owner = client_with(Some(&app.base), Some("192.0.2.10"));
    assert_eq!(
        login(&app, &owner, "owner@example.org", PW).await,
        200,
        "the owner elsewhere signs in"
    );
}

async fn proxies_are_read_from_the_right(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.http.trust_proxy = true;
        c.http.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await;
    app.client_user("owner@example.org").await;
    // The client writes "1.1.1.1" itself; our proxy 10.0.0.5 appends the real address.
    let guesser = client_with(Some(&app.base), Some("1.1.1.1, 198.51.100.7, 10.0.0.5"));
    for _ in 0..5 {
        login(&app, &guesser, "owner@example.org", "guess guess guess").await;
    }
    assert_eq!(login(&app, &guesser, "owner@example.org", PW).await, 429);
    // Another real client who forges the same leftmost entry is not the guesser.
    let other = client_with(Some(&app.base), Some("1.1.1.1, 198.51.100.8, 10.0.0.5"));
    assert_eq!(login(&app, &other, "owner@example.org", PW).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_beyond_its_queue_answers_503_with_retry_after() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.auth.hash_concurrency = 1;
        c.auth.hash_queue = 1;
        c.auth.login_max_failures_per_ip = 1000;
        c.auth.login_max_failures_per_account_ip = 1000;
        c.auth.login_max_failures_per_account = 1000;
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (c, url) = (app.client(), app.url("/api/auth/login"));
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"email": format!("n{i}@example.org"), "password": "whatever it is"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.headers().get("retry-after").cloned())
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, retry) = t.await.unwrap();
        assert!(matches!(status, 401 | 503), "{status}");
        if status == 503 {
            busy += 1;
            assert!(retry.is_some(), "503 carries Retry-After");
        }
    }
    assert!(
        busy > 0,
        "24 parallel hashes with room for 2 must shed some"
    );
    assert_eq!(
        login(&app, &app.client(), "n0@example.org", "whatever it is").await,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_check_compares_the_whole_origin_and_ignores_host() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (c, _) = app.client_user("u@example.org").await;
    let hostport = app.base.trim_start_matches("http://").to_string();
    let cases = [
        (format!("https://{hostport}"), None, 403),
        ("http://evil.example".to_string(), Some("evil.example"), 403),
        (app.base.clone(), None, 200),
    ];
    for (origin, host, want) in cases {
        let mut rb = c
            .patch(app.url("/api/me"))
            .header("origin", &origin)
            .json(&json!({"name": "Renamed"}));
        if let Some(h) = host {
            rb = rb.header("host", h);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "Origin {origin} Host {host:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_clears_the_cookie_with_secure_under_https() {
    let https = "https://parlor.example";
    let app = TestApp::start_with(Backend::Sqlite, |c| c.http.public_url = https.into()).await;
    // Created directly: the harness's own login sends the http Origin, refused here.
    let signup = parlor::auth::Signup {
        email: "gone@example.org",
        name: "Gone",
        password: PW,
        time_zone: "UTC",
        role: parlor::model::account::AccountRole::Client,
    };
    app.state
        .accounts
        .create_user(&signup, app.clock.now())
        .await
        .unwrap();
    let c = client_with(Some(https), None);
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "gone@example.org", "password": PW}))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let r = reqwest::Client::new()
        .delete(app.url("/api/me"))
        .header("origin", https)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let cleared = r.headers()["set-cookie"].to_str().unwrap().to_lowercase();
    assert!(cleared.contains("max-age=0"), "{cleared}");
    assert!(
        cleared.split(';').any(|a| a.trim() == "secure"),
        "{cleared}"
    );
}

//! Test harness: a real parlor server on `127.0.0.1:0` over a real, private database.
//!
//! Every test gets its own database: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database (created on `TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, and dropped when the test ends). Use
//! [`both_backends!`] to run one test body against both. PostgreSQL being unreachable is a
//! failure, not a skip, unless `TEST_SKIP_POSTGRES=1` is set.

#![allow(dead_code)]

pub mod browser;
/// The ElevenLabs test double, which lives with the binary (`src/dev/`), out of the library.
#[path = "../../src/dev/fake_elevenlabs/mod.rs"]
pub mod fake_elevenlabs;
/// The Twilio Messages API double, which lives with the binary (`src/dev/`).
#[path = "../../src/dev/fake_twilio.rs"]
pub mod fake_twilio;
pub mod process;
pub mod push;
pub mod pydeps;
pub mod sfu;
pub mod smtp;
pub mod tls;
pub mod voice;
pub mod webhooks;

use chrono::{DateTime, Duration, Utc};
use parlor::clock::Clock;
use parlor::config::{Config, Secret};
use parlor::http::AppState;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;

/// The next free block of the test binary's UDP ports (see [`udp_block`]).
static NEXT_UDP_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(UDP_FIRST);
const UDP_FIRST: u16 = 20_000;
/// Below Linux's ephemeral range (32768 up), so no outgoing socket of the OS (Chromium's,
/// coturn's, the test clients') takes a port a server of this binary was given.
const UDP_LAST: u16 = 32_000;

/// `n` consecutive UDP ports that no other test of this binary is given, for a server's
/// `rtc.udp_ports` or a client's transport. Tests run in parallel inside one binary, so
/// hand-picked ranges would collide; this hands out blocks in order and wraps round.
pub fn udp_block(n: u16) -> (u16, u16) {
    use std::sync::atomic::Ordering;
    let mut lo = NEXT_UDP_PORT.fetch_add(n, Ordering::Relaxed);
    if lo.checked_add(n).is_none_or(|end| end > UDP_LAST) {
        NEXT_UDP_PORT.store(UDP_FIRST + n, Ordering::Relaxed);
        lo = UDP_FIRST;
    }
    (lo, lo + n - 1)
}

/// [`udp_block`] in the `lo-hi` form of `rtc.udp_ports`.
pub fn udp_ports(n: u16) -> String {
    let (lo, hi) = udp_block(n);
    format!("{lo}-{hi}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `async fn $name(backend: Backend)` once per backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if std::env::var("TEST_SKIP_POSTGRES").as_deref() == Ok("1") {
                    eprintln!("SKIPPED: PostgreSQL variant (TEST_SKIP_POSTGRES=1)");
                    return;
                }
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

/// A private database that disappears with the test.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: TempDir,
}

fn pg_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}/parlor.db", dir.path().display()),
                pg_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = pg_admin_url();
                let name = format!("parlor_t_{}", parlor::ids::random_base32::<10>());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin} is required for this test: {e}")
                    });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_string();
                TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = pg_admin_url();
        // Drop cannot await: use a short-lived runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The instant a test server's clock reads when it starts: a Monday, 10:00 UTC, in no DST
/// transition week, far from any month or year end.
pub fn test_start() -> DateTime<Utc> {
    "2026-12-07T10:00:00Z".parse().expect("a valid instant")
}

/// Prepares the server's state and serves on `listener` until the returned sender fires.
async fn serve(
    config: Arc<Config>,
    clock: Clock,
    listener: tokio::net::TcpListener,
) -> (
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let state = parlor::server::prepare(config, clock)
        .await
        .expect("server prepares");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let task = tokio::spawn(async move {
        parlor::server::serve(st, listener, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (state, tx, task)
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: Clock,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    config: Arc<Config>,
    pub db: TestDb,
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with a configuration adjusted by `tweak`, on a clock that reads [`TEST_START`]
    /// when the server starts, whatever the machine's date, hour and zone.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::start_with_clock(backend, Clock::starting_at(test_start()), tweak).await
    }

    /// For browser tests: the server runs on the machine's real clock, because the page in
    /// Chromium computes dates from its own (real) clock and the two must agree. Such tests
    /// assert nothing that depends on the hour or the date.
    pub async fn for_browser(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::start_with_clock(Backend::Sqlite, Clock::system(), tweak).await
    }

    /// Starts on `clock` with a configuration adjusted by `tweak`.
    pub async fn start_with_clock(
        backend: Backend,
        clock: Clock,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let db = TestDb::create(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut config = Config {
            data_dir: db.data_dir().to_path_buf(),
            ..Config::default()
        };
        config.database.url = Secret::new(db.url.clone());
        config.http.public_url = base.clone();
        config.http.addr = addr;
        config.auth.signing_secret = Secret::new("test-signing-secret-0123456789abcdef");
        tweak(&mut config);
        config.validate().expect("test config is valid");
        let config = Arc::new(config);
        let (state, shutdown, task) = serve(config.clone(), clock.clone(), listener).await;
        TestApp {
            base,
            state,
            clock,
            backend,
            shutdown: Some(shutdown),
            task: Some(task),
            config,
            db,
        }
    }

    /// Stops the server as SIGTERM does (the rooms drain for `shutdown.drain_secs`) and waits
    /// up to `limit` for it to finish; whether it did.
    pub async fn stop(&mut self, limit: std::time::Duration) -> bool {
        self.begin_stop();
        self.wait_stopped(limit).await
    }

    /// Starts stopping the server, as SIGTERM does.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits up to `limit` for a stopping server to finish; whether it did.
    pub async fn wait_stopped(&mut self, limit: std::time::Duration) -> bool {
        match self.task.take() {
            Some(t) => tokio::time::timeout(limit, t).await.is_ok(),
            None => true,
        }
    }

    /// Starts the stopped server again on the same address, database and data directory.
    pub async fn start_again(&mut self) {
        assert!(self.task.is_none(), "stop the server first");
        let listener = tokio::net::TcpListener::bind(self.config.http.addr)
            .await
            .expect("bind the same address again");
        let (state, shutdown, task) =
            serve(self.config.clone(), self.clock.clone(), listener).await;
        self.state = state;
        self.shutdown = Some(shutdown);
        self.task = Some(task);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies and sends this site's Origin.
    pub fn client(&self) -> reqwest::Client {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_str(&self.base).unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(h)
            .build()
            .unwrap()
    }

    /// Creates an account of `role` directly and returns a signed-in client and the user id.
    pub async fn user(
        &self,
        role: parlor::model::account::AccountRole,
        email: &str,
        name: &str,
    ) -> (reqwest::Client, String) {
        let signup = parlor::auth::Signup {
            email,
            name,
            password: "correct horse battery",
            time_zone: "Europe/London",
            role,
        };
        let u = self
            .state
            .accounts
            .create_user(&signup, self.clock.now())
            .await
            .expect("create user");
        let c = self.client();
        let r = c
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login of {email}");
        (c, u.id.0)
    }

    pub async fn admin(&self) -> reqwest::Client {
        self.user(
            parlor::model::account::AccountRole::Admin,
            "admin@example.org",
            "Admin",
        )
        .await
        .0
    }

    pub async fn client_user(&self, email: &str) -> (reqwest::Client, String) {
        self.user(
            parlor::model::account::AccountRole::Client,
            email,
            "Client Person",
        )
        .await
    }

    /// An admin-created coach with a login, open every day 00:00–24:00 UTC, no notice,
    /// 60-minute sessions on a 60-minute grid with no buffer; returns (coach client, coach id).
    pub async fn coach(&self, admin: &reqwest::Client, email: &str) -> (reqwest::Client, String) {
        let (coach_client, user_id) = self
            .user(
                parlor::model::account::AccountRole::Coach,
                email,
                "Coach Person",
            )
            .await;
        let policy = json!({"session_minutes": 60, "buffer_minutes": 0, "slot_step_minutes": 60,
            "min_notice_minutes": 0, "booking_window_days": 60, "cancel_notice_minutes": 1440,
            "reschedule_notice_minutes": 1440});
        let r = admin
            .post(self.url("/api/coaches"))
            .json(
                &json!({"user_id": user_id, "name": "Coach Person", "title": "Career coach",
                "specialties": ["careers"], "experience_years": 7, "bio": "Helps.",
                "phone": "+44 20 7183 8750", "time_zone": "UTC", "policy": policy}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let coach: Value = r.json().await.unwrap();
        let id = coach["id"].as_str().unwrap().to_string();
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let weekly: Vec<Value> = days
            .iter()
            .map(|d| json!({"weekday": d, "start": "00:00:00", "end": "23:59:59"}))
            .collect();
        let r = admin
            .put(self.url(&format!("/api/coaches/{id}/availability")))
            .json(&json!({"time_zone": "UTC", "weekly": weekly, "overrides": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        (coach_client, id)
    }

    /// The first free slot of `coach` at least `after` from now.
    /// The outbox's messages with `status` (all when empty), as an admin lists them.
    pub async fn deliveries(&self, admin: &reqwest::Client, status: &str) -> Vec<Value> {
        let query = if status.is_empty() {
            "limit=500".to_string()
        } else {
            format!("status={status}&limit=500")
        };
        let r = admin
            .get(self.url(&format!("/api/admin/deliveries?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Books `client` a video session with `coach` at its first free slot `after` from now;
    /// the created booking.
    pub async fn book_video(
        &self,
        client: &reqwest::Client,
        coach: &str,
        after: Duration,
    ) -> Value {
        let start = self.free_slot(coach, after).await;
        let r = client
            .post(self.url("/api/bookings"))
            .json(&json!({"coach_id": coach, "starts_at": start, "session_type": "video"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn free_slot(&self, coach: &str, after: Duration) -> DateTime<Utc> {
        let from = (self.clock.now() + after).to_rfc3339();
        let r: Value =
            reqwest::get(self.url(&format!("/api/coaches/{coach}/slots?from={}", enc(&from))))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        r["slots"][0]["starts_at"]
            .as_str()
            .expect("a free slot")
            .parse()
            .unwrap()
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// `GET url` and the JSON body, whatever the status (the caller asserts on the body).
pub async fn get_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    url: impl AsRef<str>,
) -> T {
    let url = url.as_ref();
    let r = c
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: body is not the JSON expected: {e}"))
}

/// `DELETE url` and the JSON body, whatever the status.
pub async fn delete_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    url: impl AsRef<str>,
) -> T {
    let url = url.as_ref();
    let r = c
        .delete(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DELETE {url}: {e}"));
    r.json()
        .await
        .unwrap_or_else(|e| panic!("DELETE {url}: body is not the JSON expected: {e}"))
}

async fn send_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: &impl serde::Serialize,
) -> T {
    let r = c
        .request(method.clone(), url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    r.json()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: body is not the JSON expected: {e}"))
}

/// `POST url` with a JSON body, and the JSON answer, whatever the status.
pub async fn post_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    url: impl AsRef<str>,
    body: &impl serde::Serialize,
) -> T {
    send_json(c, reqwest::Method::POST, url.as_ref(), body).await
}

/// `PUT url` with a JSON body, and the JSON answer, whatever the status.
pub async fn put_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    url: impl AsRef<str>,
    body: &impl serde::Serialize,
) -> T {
    send_json(c, reqwest::Method::PUT, url.as_ref(), body).await
}

/// `PATCH url` with a JSON body, and the JSON answer, whatever the status.
pub async fn patch_json<T: serde::de::DeserializeOwned>(
    c: &reqwest::Client,
    url: impl AsRef<str>,
    body: &impl serde::Serialize,
) -> T {
    send_json(c, reqwest::Method::PATCH, url.as_ref(), body).await
}

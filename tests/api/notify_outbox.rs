//! The outbox's guarantees, on both databases: two delivery workers on one database deliver
//! every message exactly once (PostgreSQL's `FOR UPDATE SKIP LOCKED` plus the lease), and a
//! server killed with SIGKILL in the middle of a delivery delivers everything after it is
//! started again, a duplicate being possible only with the same `Message-ID`.

use crate::common::Backend;
use crate::common::process::{Server, free_port};
use crate::common::smtp::{Mail, SinkOptions, SmtpSink};
use crate::common::{TestDb, test_start};
use chrono::Duration;
use parlor::clock::Clock;
use parlor::config::{Config, SmtpSecurity};
use parlor::notify::email::Email;
use parlor::notify::worker::{NotifyMetrics, Worker};
use parlor::store::Store;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

fn config(sink: &SmtpSink) -> Arc<Config> {
    let mut c = Config::default();
    c.notify.smtp.host = "127.0.0.1".into();
    c.notify.smtp.port = sink.port;
    c.notify.smtp.security = SmtpSecurity::Plain;
    c.notify.smtp.from = "Acme <sessions@acme.test>".into();
    Arc::new(c)
}

fn mail(i: usize) -> Email {
    Email {
        to_name: format!("Person {i}"),
        to_email: format!("p{i}@example.org"),
        subject: format!("Message {i}"),
        text: "hello".into(),
        html: "<p>hello</p>".into(),
        invite: None,
        unsubscribe: None,
    }
}

async fn two_workers(backend: Backend) {
    const N: usize = 120;
    let sink = SmtpSink::start(SinkOptions::default());
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let now = test_start();
    let rows: Vec<_> = (0..N)
        .map(|i| {
            parlor::notify::email_row(
                "password_reset",
                &mail(i),
                None,
                None,
                now,
                now + Duration::hours(1),
            )
        })
        .collect();
    store.enqueue(&rows, now).await.unwrap();
    let cfg = config(&sink);
    let clock = Clock::starting_at(now);
    // Two stores (two connection pools), as two server processes would have.
    let other = Store::connect(&db.url, 4).await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let vapid = std::sync::Arc::new(
        parlor::notify::push::Vapid::load_or_create(keys.path(), "mailto:ops@example.org").unwrap(),
    );
    let worker = |s: Store| {
        let m = parlor::telemetry::Metrics::new();
        Worker::new(
            s,
            clock.clone(),
            cfg.clone(),
            NotifyMetrics::new(&m),
            vapid.clone(),
        )
        .unwrap()
    };
    let (a, b) = (worker(store.clone()), worker(other));
    let (mut claimed_a, mut claimed_b) = (0, 0);
    let deadline = Instant::now() + StdDuration::from_secs(60);
    loop {
        let (x, y) = tokio::join!(a.round(), b.round());
        let (x, y) = (x.unwrap(), y.unwrap());
        claimed_a += x;
        claimed_b += y;
        if x == 0 && y == 0 {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    assert_eq!(claimed_a + claimed_b, N, "every row claimed once");
    assert!(
        claimed_a > 0 && claimed_b > 0,
        "both worked: {claimed_a} / {claimed_b}"
    );
    let got = sink.wait_for(N, StdDuration::from_secs(10)).await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(sink.raw().len(), N, "no message twice");
    let ids: HashSet<_> = got.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), N);
    let delivered = store
        .deliveries(Some("delivered"), None, 500)
        .await
        .unwrap();
    assert_eq!(delivered.len(), N);
    assert!(delivered.iter().all(|d| d.attempts == 1));
}

#[tokio::test]
async fn two_workers_on_one_postgres_deliver_each_message_once() {
    two_workers(Backend::Postgres).await;
}

#[tokio::test]
async fn two_workers_on_one_sqlite_file_deliver_each_message_once() {
    two_workers(Backend::Sqlite).await;
}

async fn killed_mid_delivery(backend: Backend) {
    const N: usize = 4;
    // Every message takes the sink 1.5 s to accept: time to kill the server during one.
    let sink = SmtpSink::start(SinkOptions {
        stall_secs: 1.5,
        ..Default::default()
    });
    let db = TestDb::create(backend).await;
    {
        let store = Store::connect(&db.url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let accounts = parlor::auth::Accounts::new(store.clone(), &Default::default());
        for i in 0..N {
            let email = format!("p{i}@example.org");
            let s = parlor::auth::Signup {
                email: &email,
                name: "Person",
                password: "correct horse battery",
                time_zone: "UTC",
                role: parlor::model::account::AccountRole::Client,
            };
            accounts.create_user(&s, chrono::Utc::now()).await.unwrap();
        }
        store.close().await;
    }
    let dir = db.data_dir().to_path_buf();
    let port = free_port();
    let smtp_port = sink.port.to_string();
    let env = [
        ("PARLOR_DATA_DIR", dir.display().to_string()),
        ("PARLOR_DATABASE__URL", db.url.clone()),
        ("PARLOR_NOTIFY__SMTP__HOST", "127.0.0.1".into()),
        ("PARLOR_NOTIFY__SMTP__PORT", smtp_port),
        ("PARLOR_NOTIFY__SMTP__SECURITY", "plain".into()),
        (
            "PARLOR_NOTIFY__SMTP__FROM",
            "Acme <sessions@acme.test>".into(),
        ),
        ("PARLOR_NOTIFY__POLL_MS", "50".into()),
        ("PARLOR_NOTIFY__LEASE_SECS", "5".into()),
        ("PARLOR_AUTH__SIGNUP_MAX_PER_IP", "100".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start_on(&dir, port, &env).await;
    let http = reqwest::Client::new();
    for i in 0..N {
        let r = http
            .post(server.url("/api/auth/password-reset"))
            .header("origin", &server.base)
            .json(&serde_json::json!({"email": format!("p{i}@example.org")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    // A reset's token and email are written after the answer: wait until all are.
    let store = Store::connect(&db.url, 1).await.unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let mut written = 0;
        for status in ["queued", "delivered"] {
            written += store
                .outbox_counts(status)
                .await
                .unwrap()
                .iter()
                .map(|c| c.count)
                .sum::<u64>();
        }
        if written as usize == N {
            break;
        }
        assert!(Instant::now() < deadline, "{written} of {N} resets written");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    store.close().await;
    while !sink.stalling() {
        assert!(
            Instant::now() < deadline,
            "no delivery started: {}",
            server.logs()
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL, mid-DATA
    server.child.wait().unwrap();
    let _server = Server::start_on(&dir, port, &env).await;

    let deadline = Instant::now() + StdDuration::from_secs(60);
    let ids = loop {
        let got: Vec<Mail> = sink.raw().iter().map(|r| Mail::parse(r)).collect();
        let ids: HashSet<String> = got.iter().map(|m| m.message_id.clone()).collect();
        let to: HashSet<String> = got.iter().map(|m| m.to.clone()).collect();
        if to.len() == N {
            // Duplicates, if any, carry the same Message-ID: one id per recipient.
            assert_eq!(ids.len(), N, "{got:#?}");
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {N} arrived",
            to.len()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    let store = Store::connect(&db.url, 2).await.unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let rows = store.deliveries(None, None, 500).await.unwrap();
        assert_eq!(rows.len(), N);
        if rows.iter().all(|d| d.status == "delivered") {
            for d in &rows {
                assert!(ids.contains(&format!("{}@acme.test", d.id)), "{ids:?}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "{rows:#?}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_server_killed_mid_delivery_delivers_everything_after_restart_sqlite() {
    killed_mid_delivery(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_server_killed_mid_delivery_delivers_everything_after_restart_postgres() {
    killed_mid_delivery(Backend::Postgres).await;
}

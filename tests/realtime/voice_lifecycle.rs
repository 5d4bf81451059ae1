//! The life of a voice session around the call itself: one live session per user (a new one
//! hangs up the previous), erasing an account hangs up its live session before its data goes,
//! and the retention purge removes old transcripts and keeps recent ones, on both backends.

use crate::common;

use common::sfu::{metric, metrics};
use common::{Backend, TestApp};
use parlor::ids::UserId;
use parlor::model::voice::Speaker;
use serde_json::Value;
use std::time::Duration;

async fn voice_app(ports: &str) -> TestApp {
    let ports = ports.to_string();
    TestApp::start_with(Backend::Sqlite, move |c| c.rtc.udp_ports = ports).await
}

async fn start(app: &TestApp, http: &reqwest::Client) -> Value {
    let r = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn session(app: &TestApp, http: &reqwest::Client, id: &str) -> Value {
    let r = http
        .get(app.url(&format!("/api/voice/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls `/metrics` until `name` reads `want`.
async fn metric_reaches(app: &TestApp, name: &str, want: i64) {
    for _ in 0..100 {
        if metric(&metrics(app).await, name) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_session_of_the_same_user_hangs_up_the_first() {
    let app = voice_app(&crate::common::udp_ports(40)).await;
    let (http, _) = app.client_user("twice@example.org").await;
    let (other, _) = app.client_user("other@example.org").await;
    let first = start(&app, &http).await;
    let theirs = start(&app, &other).await;
    metric_reaches(&app, "parlor_voice_sessions", 2).await;
    let second = start(&app, &http).await;
    let first_id = first["session"]["id"].as_str().unwrap();
    let mut ended = Value::Null;
    for _ in 0..100 {
        ended = session(&app, &http, first_id).await;
        if ended["live"] == false && !ended["ended_at"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ended["live"], false,
        "the first session was hung up: {ended}"
    );
    assert_eq!(ended["end_reason"], "hung up", "{ended}");
    let second_id = second["session"]["id"].as_str().unwrap();
    assert_eq!(session(&app, &http, second_id).await["live"], true);
    let theirs_id = theirs["session"]["id"].as_str().unwrap();
    assert_eq!(
        session(&app, &other, theirs_id).await["live"],
        true,
        "another user's session is untouched"
    );
    metric_reaches(&app, "parlor_voice_sessions", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_an_account_hangs_up_its_live_voice_session_first() {
    let app = voice_app(&crate::common::udp_ports(40)).await;
    let (http, _) = app.client_user("erase-live@example.org").await;
    start(&app, &http).await;
    metric_reaches(&app, "parlor_voice_sessions", 1).await;
    let r = http.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    // The agent has left before the answer: no room, participant or session remains.
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "parlor_voice_sessions"), 0, "{text}");
    assert_eq!(metric(&text, "parlor_rooms"), 0, "{text}");
    assert_eq!(metric(&text, "parlor_participants"), 0, "{text}");
    let r = http
        .get(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the account is gone");
}

async fn purge_keeps_recent_transcripts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, user) = app.client_user("purge@example.org").await;
    let user = UserId(user);
    let store = &app.state.store;
    let now = app.clock.now();
    let old = store
        .insert_voice_session(
            &user,
            "echo",
            "voice-old",
            now - chrono::Duration::days(100),
        )
        .await
        .unwrap();
    let recent = store
        .insert_voice_session(&user, "echo", "voice-new", now - chrono::Duration::days(2))
        .await
        .unwrap();
    for s in [&old, &recent] {
        store
            .upsert_voice_line(&s.id, Speaker::User, "hello", 10, None)
            .await
            .unwrap();
        store
            .upsert_voice_line(&s.id, Speaker::Agent, "hi there", 900, Some(1))
            .await
            .unwrap();
    }
    let removed = store
        .purge_voice_transcripts(now - chrono::Duration::days(90))
        .await
        .unwrap();
    assert_eq!(removed, 2, "{backend:?}: the old session's two lines");
    assert!(store.voice_transcript(&old.id).await.unwrap().is_empty());
    assert_eq!(store.voice_transcript(&recent.id).await.unwrap().len(), 2);
    let sessions = store.voice_sessions(&user, 10).await.unwrap();
    assert_eq!(
        sessions.len(),
        2,
        "{backend:?}: the sessions stay, without words"
    );
}

#[tokio::test]
async fn the_retention_purge_removes_old_transcripts_only_sqlite() {
    purge_keeps_recent_transcripts(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_retention_purge_removes_old_transcripts_only_postgres() {
    purge_keeps_recent_transcripts(Backend::Postgres).await;
}

/// An ended voice session is announced to webhook endpoints (`voice_session.ended`), signed
/// and verified by the `standardwebhooks` package; the server runs on the machine's clock
/// because the receiver checks the timestamp against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_voice_session_is_announced_by_webhook() {
    let ports = crate::common::udp_ports(40);
    let app =
        TestApp::start_with_clock(Backend::Sqlite, parlor::clock::Clock::system(), move |c| {
            c.rtc.udp_ports = ports;
            c.notify.webhooks.allow_private = true;
            c.notify.poll_ms = 50;
        })
        .await;
    let rx = common::webhooks::Receiver::start(0);
    let admin = app.admin().await;
    let r = admin
        .post(app.url("/api/admin/webhooks"))
        .json(&serde_json::json!({"url": rx.url("/"), "events": ["voice_session.ended"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    rx.set_secret(r.json::<Value>().await.unwrap()["secret"].as_str().unwrap());
    let (http, user) = app.client_user("voice-hook@example.org").await;
    let started = start(&app, &http).await;
    let id = started["session"]["id"].as_str().unwrap().to_string();
    metric_reaches(&app, "parlor_voice_sessions", 1).await;
    let r = http
        .post(app.url(&format!("/api/voice/sessions/{id}/end")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let got = rx
        .wait_until(Duration::from_secs(20), "voice_session.ended", |g| {
            !g.is_empty()
        })
        .await;
    assert!(got[0].verified, "{:?}", got[0]);
    let body = got[0].json();
    assert_eq!(body["type"], "voice_session.ended");
    assert_eq!(body["data"]["voice_session_id"], id.as_str());
    assert_eq!(body["data"]["user_id"], user.as_str());
    assert!(
        body["data"]["end_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1, "announced once");
}

//! "Your coach has joined the room" by Web Push: when a booking's coach joins its room on
//! the real `/rtc` socket, the client's subscribed browser gets a high-urgency notification
//! that opens the room, checked by the local push service (payload decrypted with `http_ece`,
//! VAPID verified with `cryptography`). It comes once per session, not for a rejoin, and not
//! when someone else joins.

use crate::common;

use common::push::PushService;
use common::sfu::{KEY, ws};
use common::{Backend, TestApp};
use futures_util::{SinkExt, StreamExt};
use parlor::auth::join_token::{self, RoomRole};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(app: &TestApp, room: &str, identity: &str, role: RoomRole) -> Ws {
    let token = join_token::mint(
        KEY,
        room,
        identity,
        "Someone",
        role,
        app.clock.now().timestamp(),
        600,
    );
    let mut s = tokio_tungstenite::connect_async(ws(app)).await.unwrap().0;
    s.send(Message::Text(
        json!({"type": "join", "token": token}).to_string().into(),
    ))
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_eq!(v["type"], "joined", "{v}");
                return s;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no answer to join: {other:?}"),
        }
    }
}

async fn me(client: &reqwest::Client, app: &TestApp) -> Value {
    client
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_is_told_when_the_coach_joins() {
    let push = PushService::start();
    let ports = crate::common::udp_ports(10);
    let app = TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        c.notify.push.allow_private = true;
        c.notify.webhooks.allow_private = true;
        c.notify.poll_ms = 50;
        c.notify.reminder_minutes = vec![];
    })
    .await;
    let admin = app.admin().await;
    let (coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    // A webhook endpoint for joins: its events are written after the join's push, so they
    // show when the server has handled each join.
    let r = admin
        .post(app.url("/api/admin/webhooks"))
        .json(&json!({"url": "http://127.0.0.1:9/hook", "events": ["participant.joined"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let coach_user = me(&coach, &app).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let client_user = me(&client, &app).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sub = push.subscribe().await;
    let r = client
        .post(app.url("/api/push/subscriptions"))
        .json(&sub)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let b = app
        .book_video(&client, &coach_id, chrono::Duration::days(2))
        .await;
    let start: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    let room = b["join_url"]
        .as_str()
        .expect("a video booking's link")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    app.clock
        .advance(start - app.clock.now() - chrono::Duration::minutes(5));

    // The client joining first tells nobody; the coach joining tells the client.
    let _client_ws = join(&app, &room, &client_user, RoomRole::Client).await;
    let coach_ws = join(&app, &room, &coach_user, RoomRole::Coach).await;
    let got = push.wait_for(1).await;
    let p = &got[0];
    assert!(p.verified, "{p:#?}");
    let m = p.message.as_ref().unwrap();
    assert_eq!(m["title"], "Coach Person has joined");
    assert_eq!(m["url"], format!("{}/r/{room}", app.base));
    assert_eq!(p.urgency.as_deref(), Some("high"));

    // A reconnect of the coach is not news.
    drop(coach_ws);
    let _again = join(&app, &room, &coach_user, RoomRole::Coach).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let all = app.deliveries(&admin, "").await;
        let joins = all
            .iter()
            .filter(|d| d["kind"] == "participant.joined")
            .count();
        if joins >= 3 {
            let pushes = all.iter().filter(|d| d["channel"] == "push").count();
            assert_eq!(pushes, 1, "one coach-joined notification: {all:#?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "joins seen: {all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(push.received().len(), 1);
}

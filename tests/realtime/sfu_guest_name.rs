//! A guest's chosen display name on the real `/rtc` socket: `join` with a `name` and a guest
//! token makes everyone else see that name in `participant_joined` (and in the joiner's own
//! `joined` list); the same field on a coach token changes nothing; a blank name keeps the
//! token's name; a name over 60 characters or with control characters is refused with
//! `invalid_name` and the socket closes without joining anyone.

use crate::common;

use common::TestApp;
use common::sfu::*;
use futures_util::{SinkExt, StreamExt};
use parlor::auth::join_token::{self, RoomRole};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text message, or `None` when the socket closes or 5 s pass.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                return None;
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

fn token_as(app: &TestApp, room: &str, identity: &str, name: &str, role: RoomRole) -> String {
    let now = app.clock.now().timestamp();
    join_token::mint(KEY, room, identity, name, role, now, 600)
}

/// Connects and sends `join` with `token` and, when given, `name`; returns the socket and
/// the server's first answer.
async fn send_join(app: &TestApp, token: &str, name: Option<&str>) -> (Ws, Value) {
    let mut ws = tokio_tungstenite::connect_async(ws(app)).await.unwrap().0;
    let mut join = json!({"type": "join", "token": token});
    if let Some(n) = name {
        join["name"] = json!(n);
    }
    ws.send(Message::Text(join.to_string().into()))
        .await
        .unwrap();
    let first = next_json(&mut ws).await.expect("an answer to join");
    (ws, first)
}

/// The name in the next `participant_joined` the watcher receives.
async fn next_joined_name(watcher: &mut Ws) -> String {
    loop {
        let m = next_json(watcher).await.expect("participant_joined");
        if m["type"] == "participant_joined" {
            return m["participant"]["name"].as_str().unwrap().to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_see_the_name_a_guest_chose_but_not_one_a_coach_sends() {
    let app = app(&crate::common::udp_ports(20), 8).await;
    let room = "room-guest-name";
    let (mut watcher, first) = send_join(
        &app,
        &token_as(&app, room, "u_w", "Wen", RoomRole::Client),
        None,
    )
    .await;
    assert_eq!(first["type"], "joined", "{first}");

    let guest = token_as(&app, room, "g_1", "Guest 1", RoomRole::Guest);
    let (mut guest_ws, first) = send_join(&app, &guest, Some("  Gil Guest  ")).await;
    assert_eq!(first["type"], "joined", "{first}");
    let me = first["participant_id"].clone();
    let mine = first["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == me)
        .expect("the guest is in its own joined list");
    assert_eq!(
        mine["name"], "Gil Guest",
        "trimmed, in the guest's own view"
    );
    assert_eq!(next_joined_name(&mut watcher).await, "Gil Guest");

    // The name also labels the guest's chat messages.
    guest_ws
        .send(Message::Text(r#"{"type":"chat","text":"hi"}"#.into()))
        .await
        .unwrap();
    let chat = loop {
        let m = next_json(&mut watcher).await.expect("the guest's chat");
        if m["type"] == "chat" {
            break m;
        }
    };
    assert_eq!(chat["name"], "Gil Guest", "{chat}");

    let coach = token_as(&app, room, "u_c", "Cora Coach", RoomRole::Coach);
    let (_coach_ws, first) = send_join(&app, &coach, Some("Somebody Else")).await;
    assert_eq!(first["type"], "joined", "{first}");
    assert_eq!(
        next_joined_name(&mut watcher).await,
        "Cora Coach",
        "a coach's name comes from the token, never from join"
    );

    let blank = token_as(&app, room, "g_2", "Guest 2", RoomRole::Guest);
    let (_blank_ws, first) = send_join(&app, &blank, Some("   ")).await;
    assert_eq!(first["type"], "joined", "{first}");
    assert_eq!(
        next_joined_name(&mut watcher).await,
        "Guest 2",
        "a blank name keeps the token's name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_guest_name_is_refused_before_joining() {
    let app = app(&crate::common::udp_ports(20), 8).await;
    let room = "room-guest-bad-name";
    let guest = token_as(&app, room, "g_1", "Guest 1", RoomRole::Guest);
    for bad in ["x".repeat(61), "Gil\u{7}".to_string()] {
        let (mut ws, first) = send_join(&app, &guest, Some(&bad)).await;
        assert_eq!(first["type"], "error", "{bad:?}: {first}");
        assert_eq!(first["code"], "invalid_name", "{bad:?}: {first}");
        assert!(
            first["message"]
                .as_str()
                .is_some_and(|m| m.contains("name")),
            "{first}"
        );
        assert!(next_json(&mut ws).await.is_none(), "the socket closes");
    }
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "parlor_rooms"), 0, "nothing joined: {text}");
    // Exactly 60 characters is accepted.
    let (_ws, first) = send_join(&app, &guest, Some(&"y".repeat(60))).await;
    assert_eq!(first["type"], "joined", "{first}");
}

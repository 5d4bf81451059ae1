//! `chat.at_ms` on the real `/rtc` socket is wall-clock time: Unix epoch milliseconds of when
//! the server took the message, bracketed by the test's own clock readings just before it
//! sent the chat and just after both participants received it (not milliseconds since the
//! room opened, which a browser cannot turn into a time of day).

use crate::common;

use common::TestApp;
use common::sfu::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Slack for rounding between the server's monotonic room clock and the wall clock.
const SLACK_MS: i64 = 5;

async fn next_chat(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let m: Value = serde_json::from_str(t.as_str()).unwrap();
                if m["type"] == "chat" {
                    return m;
                }
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no chat message: {other:?}"),
        }
    }
}

async fn joined(app: &TestApp, room: &str, who: &str) -> Ws {
    let mut ws = tokio_tungstenite::connect_async(ws(app)).await.unwrap().0;
    let join = json!({"type": "join", "token": token(app, room, who, who)});
    ws.send(Message::Text(join.to_string().into()))
        .await
        .unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_times_are_unix_epoch_milliseconds() {
    let app = app(&crate::common::udp_ports(20), 8).await;
    let mut ana = joined(&app, "room-chat-clock", "ana").await;
    let mut ben = joined(&app, "room-chat-clock", "ben").await;
    // A deliberate gap after the room opened, so a time counted from the room's opening (or
    // the opening time itself) cannot fall inside the bracket below.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, sender) in ["ana", "ben"].into_iter().enumerate() {
        let before = chrono::Utc::now().timestamp_millis();
        let ws = if sender == "ana" { &mut ana } else { &mut ben };
        let text = format!("message {i}");
        ws.send(Message::Text(
            json!({"type": "chat", "text": text}).to_string().into(),
        ))
        .await
        .unwrap();
        let (a, b) = (next_chat(&mut ana).await, next_chat(&mut ben).await);
        let after = chrono::Utc::now().timestamp_millis();
        assert_eq!(a, b, "everyone gets the same message");
        assert_eq!(a["text"], text.as_str());
        let at = a["at_ms"].as_i64().expect("at_ms is an integer");
        assert!(
            before - SLACK_MS <= at && at <= after + SLACK_MS,
            "at_ms {at} is not between {before} and {after}"
        );
    }
}

//! Bad input on the real `/rtc` socket, byte for byte as a broken or hostile client would send
//! it: malformed JSON, unknown types, binary frames and JSON that is not an object get an
//! `error` and the session lives on; garbage instead of a join gets an error and a close; a
//! frame over 64 KiB closes only that socket. Another participant in the same room notices
//! nothing, and the server keeps serving.

use crate::common;

use common::TestApp;
use common::sfu::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Ws {
    tokio_tungstenite::connect_async(ws(app)).await.unwrap().0
}

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

async fn joined(app: &TestApp, room: &str, who: &str) -> Ws {
    let mut ws = connect(app).await;
    let join = json!({"type": "join", "token": token(app, room, who, who)});
    ws.send(Message::Text(join.to_string().into()))
        .await
        .unwrap();
    let m = next_json(&mut ws).await.expect("joined");
    assert_eq!(m["type"], "joined", "{m}");
    ws
}

async fn ping_pong(ws: &mut Ws) -> bool {
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .is_ok()
        && loop {
            match next_json(ws).await {
                Some(m) if m["type"] == "pong" => break true,
                Some(_) => continue,
                None => break false,
            }
        }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_errors_and_the_session_lives_on() {
    let app = app(&crate::common::udp_ports(10), 8).await;
    let mut bystander = joined(&app, "room-wire", "bystander").await;
    let mut ws = joined(&app, "room-wire", "sender").await;
    let bad: Vec<Message> = vec![
        Message::Text("{not json".into()),
        Message::Text(r#"{"type":"launch_missiles"}"#.into()),
        Message::Text(r#"["chat","hello"]"#.into()),
        Message::Text(r#"{"type":"chat"}"#.into()),
        Message::Text(r#"{"type":"mute","track":"eleven","muted":true}"#.into()),
        Message::Text(r#"{"type":"publish_offer","sdp":"v=0\r\nm=garbage","tracks":[]}"#.into()),
        Message::Binary(vec![0u8, 159, 146, 150].into()),
    ];
    let n = bad.len();
    for m in bad {
        ws.send(m).await.unwrap();
    }
    let mut errors = Vec::new();
    while errors.len() < n {
        let m = next_json(&mut ws)
            .await
            .expect("an error for every bad frame");
        if m["type"] == "error" {
            assert!(
                m["message"].as_str().is_some_and(|s| !s.is_empty()),
                "errors say what is wrong: {m}"
            );
            errors.push(m["code"].clone());
        }
    }
    assert!(ping_pong(&mut ws).await, "the session lives on: {errors:?}");
    assert!(ping_pong(&mut bystander).await);
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "parlor_participants"), 2, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_join_is_refused_and_closed() {
    let app = app(&crate::common::udp_ports(10), 8).await;
    for first in [
        "{not json".to_string(),
        r#"{"type":"chat","text":"hi"}"#.to_string(),
        json!({"type": "join", "token": "not.a.jwt"}).to_string(),
        json!({"type": "join", "token": "x".repeat(5000)}).to_string(),
    ] {
        let mut ws = connect(&app).await;
        ws.send(Message::Text(first.clone().into())).await.unwrap();
        let m = next_json(&mut ws).await.expect("an error before the close");
        assert_eq!(m["type"], "error", "{first:.40}: {m}");
        assert!(
            next_json(&mut ws).await.is_none(),
            "{first:.40}: the socket closes"
        );
    }
    let text = metrics(&app).await;
    assert_eq!(
        metric(&text, "parlor_rooms"),
        0,
        "nothing allocated: {text}"
    );
    assert_eq!(metric(&text, "parlor_participants"), 0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_64_kib_closes_only_that_socket() {
    let app = app(&crate::common::udp_ports(10), 8).await;
    let mut bystander = joined(&app, "room-big", "bystander").await;
    let mut ws = joined(&app, "room-big", "flooder").await;
    let big = json!({"type": "chat", "text": "x".repeat(70 * 1024)}).to_string();
    let _ = ws.send(Message::Text(big.into())).await;
    // The socket closes with 1009 (message too big), as docs/signalling.md promises.
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, Some(1009), "close code");
    let left = loop {
        match next_json(&mut bystander).await {
            Some(m) if m["type"] == "participant_left" => break true,
            Some(_) => continue,
            None => break false,
        }
    };
    assert!(left, "the others learn that the flooder left");
    assert!(
        ping_pong(&mut bystander).await,
        "the bystander is undisturbed"
    );
    let mut again = joined(&app, "room-big", "flooder").await;
    assert!(ping_pong(&mut again).await, "the server keeps serving");
}

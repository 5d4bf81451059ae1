//! Video rooms through the real SFU: webrtc-rs clients join over `/rtc`, publish audio and
//! video, and receive each other's RTP unchanged; leaving cleans up everything; bad tokens,
//! full rooms and garbage messages are refused without disturbing anyone.

use crate::common;

use bytes::Bytes;
use common::{Backend, TestApp};
use parlor::auth::join_token::{self, RoomRole};
use parlor::client::signal::{Client, ClientError, ClientEvent};
use parlor::media::track::{LocalTrack, RemoteTrack, TrackKind};
use parlor::sfu::{TrackId, TrackSource};
use parlor::signal::protocol::{ClientMessage, ServerMessage};
use std::time::Duration;

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

async fn app(ports: &str, max: u32) -> TestApp {
    let ports = ports.to_string();
    TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        c.rooms.max_participants = max;
    })
    .await
}

fn token(app: &TestApp, room: &str, who: &str, ttl: i64) -> String {
    let now = app.clock.now().timestamp();
    join_token::mint(KEY, room, who, who, RoomRole::Client, now, ttl)
}

fn ws(app: &TestApp) -> String {
    app.base.replace("http://", "ws://") + "/rtc"
}

/// Sends recognisable packets: audio every 20 ms, video every 33 ms with a VP8 keyframe start
/// every 5th packet (a subscriber's forwarding starts at a keyframe).
fn spawn_sender(audio: LocalTrack, video: LocalTrack, secs: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut seq: u16 = 0;
        while tokio::time::Instant::now() < end {
            let a = Bytes::from(vec![(seq % 251) as u8; 40]);
            let _ = audio.write(seq, u32::from(seq) * 960, false, a).await;
            let head: [u8; 2] = if seq.is_multiple_of(5) {
                [0x10, 0x00]
            } else {
                [0x10, 0x01]
            };
            let mut v = head.to_vec();
            v.extend(std::iter::repeat_n((seq % 251) as u8, 300));
            let _ = video
                .write(seq, u32::from(seq) * 3000, true, Bytes::from(v))
                .await;
            seq = seq.wrapping_add(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// Counts packets whose payload is intact (the pattern follows the sequence number, which the
/// SFU may rewrite, so only the pattern's consistency is checked).
async fn intact_packets(track: &RemoteTrack, want: usize, kind: TrackKind) -> usize {
    let mut ok = 0;
    let _ = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(p) = track.next_packet().await {
            let body = if kind == TrackKind::Video {
                p.payload.get(2..).unwrap_or_default()
            } else {
                &p.payload[..]
            };
            if !body.is_empty() && body.iter().all(|b| *b == body[0]) {
                ok += 1;
            }
            if ok >= want {
                break;
            }
        }
    })
    .await;
    ok
}

async fn tracks_from(c: &mut Client, n: usize) -> Vec<(TrackId, RemoteTrack)> {
    let mut out = Vec::new();
    while out.len() < n {
        match c
            .wait_for(Duration::from_secs(10), |e| {
                matches!(e, ClientEvent::Track { .. })
            })
            .await
        {
            Some(ClientEvent::Track { track_id, remote }) => out.push((track_id, remote)),
            _ => panic!("expected {n} incoming tracks, got {}", out.len()),
        }
    }
    out
}

fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map_or(-1, |v| v as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_exchange_audio_and_video_and_leaving_cleans_up() {
    let app = app(&crate::common::udp_ports(40), 8).await;
    let t = crate::common::sfu::transport(40);
    let mut a = Client::join(&ws(&app), &token(&app, "room-1", "ana", 600), &t)
        .await
        .unwrap();
    let mut b = Client::join(&ws(&app), &token(&app, "room-1", "bo", 600), &t)
        .await
        .unwrap();
    let pa = a
        .publish(&[
            (TrackKind::Audio, TrackSource::Microphone, 0xA1),
            (TrackKind::Video, TrackSource::Camera, 0xA2),
        ])
        .await
        .unwrap();
    let pb = b
        .publish(&[
            (TrackKind::Audio, TrackSource::Microphone, 0xB1),
            (TrackKind::Video, TrackSource::Camera, 0xB2),
        ])
        .await
        .unwrap();
    // A call asks for full-band Opus (no `maxplaybackrate`, unlike a voice session).
    assert_eq!(
        a.publish_answer()
            .map(parlor::media::sdp::opus_max_playback_rate),
        Some(None)
    );
    let a_ids: Vec<TrackId> = pa.iter().map(|(_, id)| *id).collect();
    let mut it = pa.into_iter();
    let sa = spawn_sender(it.next().unwrap().0, it.next().unwrap().0, 6);
    let mut it = pb.into_iter();
    let sb = spawn_sender(it.next().unwrap().0, it.next().unwrap().0, 6);

    let at_b = tracks_from(&mut b, 2).await;
    let at_a = tracks_from(&mut a, 2).await;
    assert!(
        at_b.iter().all(|(id, _)| a_ids.contains(id)),
        "B receives A's tracks"
    );
    for (_, remote) in at_b.iter().chain(at_a.iter()) {
        let kind = remote.kind().await;
        assert!(
            intact_packets(remote, 20, kind).await >= 20,
            "{kind:?} arrived intact"
        );
    }
    let m = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        (
            metric(&m, "parlor_rooms"),
            metric(&m, "parlor_participants"),
            metric(&m, "parlor_tracks")
        ),
        (1, 2, 4),
        "{m}"
    );

    a.close().await;
    let left = b
        .wait_for(Duration::from_secs(5), |e| {
            matches!(
                e,
                ClientEvent::Message(ServerMessage::ParticipantLeft { .. })
            )
        })
        .await;
    assert!(left.is_some(), "B is told that A left");
    b.close().await;
    sa.abort();
    sb.abort();
    let mut last = String::new();
    for _ in 0..50 {
        last = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counts = [
            "parlor_rooms",
            "parlor_participants",
            "parlor_tracks",
            "parlor_media_tasks",
        ]
        .map(|n| metric(&last, n));
        if counts == [0, 0, 0, 0] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rooms, participants, tracks and tasks did not return to zero:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_before_any_media_resource() {
    let app = app(&crate::common::udp_ports(10), 8).await;
    let t = crate::common::sfu::transport(10);
    let expired = token(&app, "room-2", "ana", -10);
    let mut tampered = token(&app, "room-2", "ana", 600);
    tampered.pop();
    let foreign = join_token::mint(
        b"another server",
        "room-2",
        "ana",
        "Ana",
        RoomRole::Coach,
        app.clock.now().timestamp(),
        600,
    );
    for (name, tok) in [
        ("expired", expired),
        ("tampered", tampered),
        ("foreign", foreign),
        ("garbage", "x.y.z".into()),
        ("empty", String::new()),
    ] {
        match Client::join(&ws(&app), &tok, &t).await {
            Err(ClientError::Refused { code, message }) => {
                assert_eq!(code, "invalid_token", "{name}");
                assert!(!message.is_empty());
            }
            Err(e) => panic!("{name}: unexpected error {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
    let m = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        (metric(&m, "parlor_rooms"), metric(&m, "parlor_media_tasks")),
        (0, 0),
        "nothing allocated: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_with_a_clear_message_and_garbage_changes_nothing() {
    let app = app(&crate::common::udp_ports(20), 2).await;
    let t = crate::common::sfu::transport(20);
    let mut a = Client::join(&ws(&app), &token(&app, "room-3", "a", 600), &t)
        .await
        .unwrap();
    let b = Client::join(&ws(&app), &token(&app, "room-3", "b", 600), &t)
        .await
        .unwrap();
    match Client::join(&ws(&app), &token(&app, "room-3", "c", 600), &t).await {
        Err(ClientError::Refused { code, message }) => {
            assert_eq!(code, "room_full");
            assert!(message.contains("full"), "{message}");
        }
        _ => panic!("third participant admitted to a room of 2"),
    }
    // Garbage after joining: each gets an error, the session lives on.
    a.send(ClientMessage::PublishOffer {
        sdp: "v=0 garbage".into(),
        tracks: vec![],
    });
    a.send(ClientMessage::SubscribeAnswer {
        sdp: "nonsense".into(),
    });
    a.send(ClientMessage::Chat {
        text: "x".repeat(2000),
    });
    a.send(ClientMessage::Ping);
    let mut errors = 0;
    loop {
        match a.next_event(Duration::from_secs(5)).await {
            Some(ClientEvent::Message(ServerMessage::Error { .. })) => errors += 1,
            Some(ClientEvent::Message(ServerMessage::Pong)) => break,
            Some(_) => {}
            None => panic!("no pong after garbage"),
        }
    }
    assert_eq!(errors, 3, "one error per bad message");
    // A rejoin with the same identity replaces the old session: no ghost.
    let a2 = Client::join(&ws(&app), &token(&app, "room-3", "a", 600), &t)
        .await
        .expect("rejoin with the same identity");
    let bye = a
        .wait_for(Duration::from_secs(5), |e| {
            matches!(e, ClientEvent::Message(ServerMessage::Bye { .. }))
        })
        .await;
    assert!(bye.is_some(), "the replaced session is told");
    let m = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric(&m, "parlor_participants"), 2, "{m}");
    for c in [a, b, a2] {
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_tokens_go_to_the_bookings_coach_and_client_only_and_let_them_in() {
    let app = app(&crate::common::udp_ports(20), 8).await;
    let admin = app.admin().await;
    let (coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let (stranger, _) = app.client_user("stranger@example.org").await;
    let at = app.free_slot(&coach_id, chrono::Duration::days(1)).await;
    let b: serde_json::Value = crate::common::post_json(&client, app.url("/api/bookings"), &serde_json::json!({"coach_id": coach_id, "starts_at": at.to_rfc3339(), "session_type": "video"})).await;
    let room = b["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // Room tokens are minted from 15 minutes before the start: move the server's clock there.
    let start: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(start - app.clock.now() - chrono::Duration::minutes(10));
    let mint = |c: &reqwest::Client, room: String| {
        c.post(app.url(&format!("/api/rooms/{room}/token"))).send()
    };
    let as_client: serde_json::Value = mint(&client, room.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_client["role"], "client");
    assert!(
        as_client["join_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/r/{room}#token=", app.base))
    );
    let as_coach: serde_json::Value = mint(&coach, room.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_coach["role"], "coach");
    assert_eq!(mint(&admin, room.clone()).await.unwrap().status(), 200);
    let r = mint(&stranger, room.clone()).await.unwrap();
    assert_eq!(r.status(), 404, "a stranger learns nothing about the room");
    assert_eq!(
        mint(&stranger, "no-such-room".into())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        reqwest::Client::new()
            .post(app.url(&format!("/api/rooms/{room}/token")))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The minted token opens the room.
    let t = crate::common::sfu::transport(10);
    let c = Client::join(&ws(&app), as_client["token"].as_str().unwrap(), &t)
        .await
        .expect("client joins with the API token");
    c.close().await;
    let id = b["id"].as_str().unwrap();
    // Ten minutes before the start only the coach may still cancel.
    coach
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&serde_json::json!({"reason": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mint(&coach, room).await.unwrap().status(),
        409,
        "no tokens for a cancelled session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_completes_ice_is_removed_after_the_timeout() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rtc.udp_ports = crate::common::udp_ports(10);
        c.rtc.ice_timeout_secs = 2;
    })
    .await;
    let t = crate::common::sfu::transport(10);
    let mut stuck = Client::join(&ws(&app), &token(&app, "room-4", "stuck", 600), &t)
        .await
        .unwrap();
    // Offer media, then never answer the ICE checks: send the offer of a peer that is closed.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ghost = parlor::media::peer::Peer::new(&t, parlor::media::engine::Profile::Call, tx)
        .await
        .unwrap();
    let _track = ghost
        .add_local_track(TrackKind::Audio, 7, "s", "ghost-audio")
        .await
        .unwrap();
    let offer = ghost.offer(false).await.unwrap();
    ghost.close().await;
    let mid = parlor::media::sdp::msids_by_mid(&offer)[0].0.clone();
    stuck.send(ClientMessage::PublishOffer {
        sdp: offer,
        tracks: vec![parlor::signal::protocol::TrackOffer {
            mid,
            source: TrackSource::Microphone,
        }],
    });
    let bye = stuck
        .wait_for(Duration::from_secs(8), |e| {
            matches!(e, ClientEvent::Message(ServerMessage::Bye { .. }))
        })
        .await;
    assert!(
        bye.is_some(),
        "the server ends a session whose media never connects"
    );
    crate::common::sfu::wait_metrics(
        &app,
        &[("parlor_participants", 0), ("parlor_rooms", 0)],
        "nobody left in the room after the bye",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_flood_is_throttled_without_disturbing_the_room() {
    let app = app(&crate::common::udp_ports(10), 8).await;
    let t = crate::common::sfu::transport(20);
    let mut a = Client::join(&ws(&app), &token(&app, "room-5", "a", 600), &t)
        .await
        .unwrap();
    let mut b = Client::join(&ws(&app), &token(&app, "room-5", "b", 600), &t)
        .await
        .unwrap();
    for _ in 0..40 {
        a.send(ClientMessage::IceRestart);
    }
    a.send(ClientMessage::Ping);
    let mut limited = 0;
    loop {
        match a.next_event(Duration::from_secs(5)).await {
            Some(ClientEvent::Message(ServerMessage::Error { code, .. }))
                if code == "rate_limited" =>
            {
                limited += 1
            }
            Some(ClientEvent::Message(ServerMessage::Pong)) => break,
            Some(_) => {}
            None => panic!("the flooding session stopped answering"),
        }
    }
    assert!(limited >= 25, "most of the flood is refused ({limited})");
    b.send(ClientMessage::Ping);
    let pong = b
        .wait_for(Duration::from_secs(5), |e| {
            matches!(e, ClientEvent::Message(ServerMessage::Pong))
        })
        .await;
    assert!(pong.is_some(), "the other participant is unaffected");
    a.close().await;
    b.close().await;
}

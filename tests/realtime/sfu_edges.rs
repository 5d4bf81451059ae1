//! Edges of room state with real peers: the server-wide room limit refuses a new room in
//! words while existing rooms go on (and frees up when a room closes), and a pause sent before
//! a subscription is even active holds from its first packet.

use crate::common;

use common::sfu::*;
use common::{Backend, TestApp};
use parlor::client::signal::{Client, ClientError, ClientEvent};
use parlor::media::track::TrackKind;
use parlor::signal::protocol::{ClientMessage, ServerMessage};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_limit_refuses_a_new_room_in_words_and_frees_up() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rtc.udp_ports = crate::common::udp_ports(10);
        c.rooms.max_rooms = 2;
    })
    .await;
    let t = transport(20);
    let one = join(&app, &t, "room-one", "ana", "Ana").await;
    let two = join(&app, &t, "room-two", "bo", "Bo").await;
    match Client::join(&ws(&app), &token(&app, "room-three", "cy", "Cy"), &t).await {
        Err(ClientError::Refused { message, .. }) => {
            assert!(message.contains("room limit"), "{message}")
        }
        Ok(_) => panic!("a third room opened on a server limited to two"),
        Err(e) => panic!("refused without words: {e}"),
    }
    // Existing rooms still take people.
    let one_more = join(&app, &t, "room-one", "di", "Di").await;
    one_more.close().await;
    two.close().await;
    wait_metrics(&app, &[("parlor_rooms", 1)], "room-two closes").await;
    let three = join(&app, &t, "room-three", "cy", "Cy").await;
    three.close().await;
    one.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_sent_before_the_subscription_is_active_holds() {
    let app = app(&crate::common::udp_ports(20), 4).await;
    let t = transport(20);
    let mut ana = join(&app, &t, "room-early-pause", "ana", "Ana").await;
    let (locals, ids) = publish_av(&mut ana, 0x6001, 0x6002).await;
    let (audio_id, video_id) = (ids[0], ids[1]);
    let sender = spawn_sender(locals, 30);
    wait_metrics(&app, &[("parlor_tracks", 2)], "ana's tracks are live").await;
    // Bo pauses Ana's video as soon as he learns of it from his join reply.
    let mut bo = join(&app, &t, "room-early-pause", "bo", "Bo").await;
    bo.send(ClientMessage::Pause {
        track: video_id,
        paused: true,
    });
    bo.send(ClientMessage::Ping);
    match bo
        .wait_for(Duration::from_secs(5), |e| {
            matches!(
                e,
                ClientEvent::Message(ServerMessage::Pong | ServerMessage::Error { .. })
            )
        })
        .await
    {
        Some(ClientEvent::Message(ServerMessage::Pong)) => {}
        Some(ClientEvent::Message(m)) => panic!("the early pause was refused: {m:?}"),
        _ => panic!("no pong"),
    }
    // Only the audio arrives: a paused video sends nothing, so it never even shows up.
    let (first, remote) = tracks_from(&mut bo, 1).await.pop().unwrap();
    assert_eq!(first, audio_id, "the paused video delivered packets");
    let mut audio = pump(remote);
    assert!(
        pumped_intact(&mut audio, 40, TrackKind::Audio).await >= 40,
        "audio flows"
    );
    let early = bo
        .wait_for(Duration::from_millis(200), |e| {
            matches!(e, ClientEvent::Track { .. })
        })
        .await;
    assert!(early.is_none(), "paused video started flowing");
    bo.send(ClientMessage::Pause {
        track: video_id,
        paused: false,
    });
    let (id, remote) = tracks_from(&mut bo, 1).await.pop().unwrap();
    assert_eq!(id, video_id);
    let mut video = pump(remote);
    assert!(
        pumped_intact(&mut video, 10, TrackKind::Video).await >= 10,
        "video flows once resumed"
    );
    sender.abort();
    ana.close().await;
    bo.close().await;
}

/// The documented flow: `mute` right after `publish_answer`, before the track's media (and so
/// `track_published`) exists. The mute is held, not refused, and applies when the track
/// appears: the other participant sees it muted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_right_after_the_publish_answer_holds() {
    let app = app(&crate::common::udp_ports(20), 4).await;
    let t = transport(20);
    let mut ana = join(&app, &t, "room-early-mute", "ana", "Ana").await;
    let mut ben = join(&app, &t, "room-early-mute", "ben", "Ben").await;
    let (tracks, ids) = publish_av(&mut ana, 0x7100_0001, 0x7100_0002).await;
    let mic = ids[0];
    ana.send(ClientMessage::Mute {
        track: mic,
        muted: true,
    });
    ana.send(ClientMessage::Ping);
    loop {
        match ana.next_event(Duration::from_secs(5)).await {
            Some(ClientEvent::Message(ServerMessage::Error { code, message })) => {
                panic!("the mute was refused: {code}: {message}")
            }
            Some(ClientEvent::Message(ServerMessage::Pong)) => break,
            Some(_) => {}
            None => panic!("no pong after the mute"),
        }
    }
    let _sending = spawn_sender(tracks, 5);
    wait_msg(&mut ben, "the microphone shown muted", |m| match m {
        ServerMessage::TrackMuted { track_id, muted } => *track_id == mic && *muted,
        ServerMessage::TrackPublished { track } => track.id == mic && track.muted,
        _ => false,
    })
    .await;
    ana.close().await;
    ben.close().await;
}

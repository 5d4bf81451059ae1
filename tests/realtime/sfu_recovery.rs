//! A participant whose network changes or drops keeps its place: an ICE restart renews both
//! connections while media keeps flowing and nobody sees them leave; a rejoin from a new
//! connection with the same join token replaces the lost session (which is told `replaced`)
//! without a ghost, and media flows both ways again. Real webrtc-rs peers through the SFU.

use crate::common;

use common::sfu::*;
use parlor::client::signal::{Client, ClientEvent};
use parlor::signal::protocol::ServerMessage;
use std::time::Duration;

fn ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
}

/// Waits for `n` intact packets on each of `tracks`.
async fn media_flows(tracks: Vec<(parlor::sfu::TrackId, parlor::media::track::RemoteTrack)>) {
    for (id, remote) in tracks {
        let kind = remote.kind().await;
        let mut rx = pump(remote);
        let got = pumped_intact(&mut rx, 20, kind).await;
        assert!(got >= 20, "track {id:?} ({kind:?}): {got} intact packets");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ice_restart_keeps_identity_tracks_and_media() {
    let app = app(&crate::common::udp_ports(40), 8).await;
    let t = transport(40);
    let mut ana = join(&app, &t, "room-restart", "ana", "Ana").await;
    let mut bo = join(&app, &t, "room-restart", "bo", "Bo").await;
    let (locals, _) = publish_av(&mut ana, 0x5101, 0x5102).await;
    let ana_sender = spawn_sender(locals, 40);
    let (locals, bo_ids) = publish_av(&mut bo, 0x5201, 0x5202).await;
    let bo_sender = spawn_sender(locals, 40);
    let from_ana = tracks_from(&mut bo, 2).await;
    let from_bo = tracks_from(&mut ana, 2).await;
    let ServerMessage::SubscribeOffer { sdp, .. } =
        wait_msg(&mut bo, "bo's first subscribe offer", |m| {
            matches!(m, ServerMessage::SubscribeOffer { .. })
        })
        .await
    else {
        unreachable!()
    };
    let before = ufrag(&sdp).expect("offer has an ICE ufrag").to_string();

    bo.restart_ice().await.expect("ICE restart negotiates");
    let ServerMessage::SubscribeOffer { sdp, tracks } = wait_msg(
        &mut bo,
        "a subscribe offer with fresh ICE credentials",
        |m| matches!(m, ServerMessage::SubscribeOffer { sdp, .. } if ufrag(sdp) != Some(&before)),
    )
    .await
    else {
        unreachable!()
    };
    assert!(ufrag(&sdp).is_some());
    let mut described: Vec<_> = tracks.iter().map(|t| t.track_id).collect();
    described.sort();
    let mut expected: Vec<_> = from_ana.iter().map(|(id, _)| *id).collect();
    expected.sort();
    assert_eq!(
        described, expected,
        "the restart offer still describes every track"
    );
    // Same tracks, still flowing both ways after the restart.
    media_flows(from_ana).await;
    media_flows(from_bo).await;
    // Nobody saw Bo leave or come back (his one arrival is the original join), and his
    // tracks kept their ids.
    let bo_id = bo.participant_id;
    while let Some(e) = ana.next_event(Duration::from_millis(200)).await {
        if let ClientEvent::Message(m) = e {
            let fine = match &m {
                ServerMessage::ParticipantJoined { participant } => participant.id == bo_id,
                ServerMessage::ParticipantLeft { .. } | ServerMessage::TrackUnpublished { .. } => {
                    false
                }
                _ => true,
            };
            assert!(fine, "ana saw {m:?}");
        }
    }
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "parlor_participants"), 2, "{text}");
    assert_eq!(
        metric(&text, "parlor_tracks"),
        4,
        "{text}: {bo_ids:?} unchanged"
    );
    ana_sender.abort();
    bo_sender.abort();
    ana.close().await;
    bo.close().await;
    assert_all_released(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_with_the_same_token_replaces_the_lost_session_without_a_ghost() {
    let app = app(&crate::common::udp_ports(40), 8).await;
    let t = transport(40);
    let mut ana = join(&app, &t, "room-rejoin", "ana", "Ana").await;
    let bo_token = token(&app, "room-rejoin", "bo", "Bo");
    let mut bo = Client::join(&ws(&app), &bo_token, &t).await.unwrap();
    let (locals, ana_ids) = publish_av(&mut ana, 0x5301, 0x5302).await;
    let ana_sender = spawn_sender(locals, 40);
    let (locals, _) = publish_av(&mut bo, 0x5401, 0x5402).await;
    let old_sender = spawn_sender(locals, 40);
    tracks_from(&mut ana, 2).await;
    tracks_from(&mut bo, 2).await;
    let old_id = bo.participant_id;

    // Bo's network vanished without closing anything; he comes back on a new connection
    // with the link he already has.
    let mut bo2 = Client::join(&ws(&app), &bo_token, &t)
        .await
        .expect("the same token lets him back in");
    let ServerMessage::Bye { reason } = wait_msg(&mut bo, "the lost session is told", |m| {
        matches!(m, ServerMessage::Bye { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(reason, "replaced");
    old_sender.abort();
    let ServerMessage::Joined {
        participants,
        tracks,
        ..
    } = &bo2.joined
    else {
        unreachable!()
    };
    assert_eq!(
        participants.len(),
        2,
        "ana and the new bo: {participants:?}"
    );
    assert!(
        participants.iter().all(|p| p.id != old_id),
        "{participants:?}"
    );
    let ids: Vec<_> = tracks.iter().map(|t| t.id).collect();
    assert_eq!(ids, ana_ids, "he finds ana's tracks, none of his old ones");
    wait_msg(&mut ana, "the old bo leaves", |m| {
        matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == old_id)
    })
    .await;
    wait_msg(&mut ana, "the new bo arrives", |m| {
        matches!(m, ServerMessage::ParticipantJoined { participant } if participant.id == bo2.participant_id)
    })
    .await;

    media_flows(tracks_from(&mut bo2, 2).await).await;
    let (locals, _) = publish_av(&mut bo2, 0x5501, 0x5502).await;
    let new_sender = spawn_sender(locals, 30);
    let from_bo2 = tracks_from(&mut ana, 2).await;
    media_flows(from_bo2).await;
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "parlor_participants"), 2, "no ghost: {text}");
    assert_eq!(metric(&text, "parlor_tracks"), 4, "{text}");

    ana_sender.abort();
    new_sender.abort();
    ana.close().await;
    bo2.close().await;
    drop(bo);
    assert_all_released(&app).await;
}

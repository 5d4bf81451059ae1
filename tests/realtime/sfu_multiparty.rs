//! Rooms with more than two people through the real SFU: four peers each receive the other
//! three's audio and video, a late joiner gets what is already published, a screen share
//! comes and goes mid-call, a paused track stops and resumes at a keyframe, chat/hand/reactions
//! reach everyone, and a leaver's tracks are unpublished for those who stay.
//!
//! Every test has its own server and client UDP port ranges (tests run in parallel).

use crate::common;

use common::sfu::*;
use parlor::client::signal::ClientEvent;
use parlor::sfu::{ParticipantId, TrackId, TrackKind, TrackSource};
use parlor::signal::protocol::{ClientMessage, ServerMessage};
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_party_room_every_peer_receives_three_audio_and_three_video() {
    let app = app(&crate::common::udp_ports(40), 4).await;
    let t = transport(40);
    let names = ["ana", "bo", "cy", "di"];
    let mut clients = Vec::new();
    for n in names {
        clients.push(join(&app, &t, "room-four", n, n).await);
    }
    let mut owned: Vec<Vec<TrackId>> = Vec::new();
    let mut kinds = std::collections::HashMap::new();
    let mut senders = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let base = 0x1000 * (i as u32 + 1);
        let (locals, ids) = publish_av(c, base + 1, base + 2).await;
        kinds.insert(ids[0], TrackKind::Audio);
        kinds.insert(ids[1], TrackKind::Video);
        owned.push(ids);
        senders.push(spawn_sender(locals, 60));
    }
    let all: BTreeSet<TrackId> = owned.iter().flatten().copied().collect();
    assert_eq!(all.len(), 8, "eight distinct track ids: {owned:?}");

    let mut incoming = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let got = tracks_from(c, 6).await;
        let got_ids: Vec<TrackId> = got.iter().map(|(id, _)| *id).collect();
        let expected: BTreeSet<TrackId> = owned
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        assert_eq!(
            got_ids.iter().copied().collect::<BTreeSet<_>>(),
            expected,
            "{} receives exactly the other three's tracks (got {got_ids:?})",
            names[i]
        );
        assert_eq!(got_ids.len(), 6, "{}: no duplicate tracks", names[i]);
        for (id, remote) in got {
            incoming.push((names[i], id, remote));
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let extra = c
            .wait_for(Duration::from_millis(300), |e| {
                matches!(e, ClientEvent::Track { .. })
            })
            .await;
        assert!(extra.is_none(), "{} got a seventh track", names[i]);
    }

    let kinds = &kinds;
    let counts = futures::future::join_all(incoming.iter().map(|(who, id, remote)| async move {
        let kind = remote.kind().await;
        assert_eq!(
            Some(&kind),
            kinds.get(id),
            "{who}: track {id:?} has its kind"
        );
        (*who, *id, kind, intact_packets(remote, 10, kind).await)
    }))
    .await;
    for (who, id, kind, n) in &counts {
        assert!(
            *n >= 10,
            "{who}: {kind:?} track {id:?} delivered {n} intact packets"
        );
    }

    let m = metrics(&app).await;
    assert_eq!(
        (
            metric(&m, "parlor_rooms"),
            metric(&m, "parlor_participants"),
            metric(&m, "parlor_tracks")
        ),
        (1, 4, 8),
        "{m}"
    );

    for c in clients {
        c.close().await;
    }
    for s in senders {
        s.abort();
    }
    drop(incoming);
    assert_all_released(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_receives_existing_tracks() {
    let app = app(&crate::common::udp_ports(20), 4).await;
    let t = transport(20);
    let mut a = join(&app, &t, "room-late", "ana-id", "Ana").await;
    let (locals, a_ids) = publish_av(&mut a, 0x2001, 0x2002).await;
    let sender = spawn_sender(locals, 60);
    // A's tracks are live in the room once the server announces them (to everyone, A too).
    for id in &a_ids {
        wait_msg(
            &mut a,
            "A's own track_published",
            |m| matches!(m, ServerMessage::TrackPublished { track } if track.id == *id),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut b = join(&app, &t, "room-late", "bo-id", "Bo").await;
    let ServerMessage::Joined {
        participant_id,
        participants,
        tracks,
        ..
    } = &b.joined
    else {
        panic!("B's first message is joined");
    };
    assert_eq!(*participant_id, b.participant_id);
    let ana = participants
        .iter()
        .find(|p| p.id == a.participant_id)
        .unwrap_or_else(|| panic!("A is listed in joined.participants: {participants:?}"));
    assert_eq!(
        (ana.identity.as_str(), ana.name.as_str()),
        ("ana-id", "Ana")
    );
    let listed: BTreeSet<TrackId> = tracks.iter().map(|t| t.id).collect();
    assert_eq!(
        listed,
        a_ids.iter().copied().collect(),
        "joined.tracks lists A's tracks: {tracks:?}"
    );
    for tr in tracks {
        assert_eq!(tr.owner, a.participant_id);
        let (kind, source) = if tr.id == a_ids[0] {
            (TrackKind::Audio, TrackSource::Microphone)
        } else {
            (TrackKind::Video, TrackSource::Camera)
        };
        assert_eq!(
            (tr.kind, tr.source, tr.muted),
            (kind, source, false),
            "{tr:?}"
        );
    }

    let at_b = tracks_from(&mut b, 2).await;
    let got: BTreeSet<TrackId> = at_b.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        got,
        a_ids.iter().copied().collect(),
        "B receives A's tracks"
    );
    for (id, remote) in &at_b {
        let kind = remote.kind().await;
        let want = if *id == a_ids[0] {
            TrackKind::Audio
        } else {
            TrackKind::Video
        };
        assert_eq!(kind, want, "track {id:?}");
        let n = intact_packets(remote, 10, kind).await;
        assert!(n >= 10, "late joiner got {n} intact {kind:?} packets");
    }
    a.close().await;
    b.close().await;
    sender.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_added_mid_call_reaches_the_others() {
    let app = app(&crate::common::udp_ports(30), 4).await;
    let t = transport(30);
    let mut a = join(&app, &t, "room-screen", "ana", "Ana").await;
    let mut b = join(&app, &t, "room-screen", "bo", "Bo").await;
    let (locals, a_ids) = publish_av(&mut a, 0x3001, 0x3002).await;
    let camera = spawn_sender(locals, 60);
    let at_b = tracks_from(&mut b, 2).await;
    for (id, remote) in &at_b {
        assert!(a_ids.contains(id));
        let kind = remote.kind().await;
        assert!(
            intact_packets(remote, 5, kind).await >= 5,
            "{kind:?} flows before the screen share"
        );
    }

    let shared = a
        .publish(&[(TrackKind::Video, TrackSource::Screen, 0x3003)])
        .await
        .expect("publish a screen share mid-call");
    assert_eq!(shared.len(), 1);
    let (screen_local, screen_id) = shared.into_iter().next().unwrap();
    assert!(
        screen_id != TrackId(0) && !a_ids.contains(&screen_id),
        "the screen share gets a new id ({screen_id:?}, camera/mic {a_ids:?})"
    );
    let screen = spawn_sender(vec![screen_local], 60);

    let ServerMessage::TrackPublished { track } = wait_msg(
        &mut b,
        "track_published(screen)",
        |m| matches!(m, ServerMessage::TrackPublished { track } if track.id == screen_id),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (track.owner, track.kind, track.source),
        (a.participant_id, TrackKind::Video, TrackSource::Screen)
    );
    let (id, remote) = tracks_from(&mut b, 1).await.pop().unwrap();
    assert_eq!(id, screen_id, "the new incoming track is the screen share");
    assert_eq!(remote.kind().await, TrackKind::Video);
    let n = intact_packets(&remote, 10, TrackKind::Video).await;
    assert!(n >= 10, "screen share delivered {n} intact packets");

    a.send(ClientMessage::Unpublish { track: screen_id });
    let ServerMessage::TrackUnpublished { owner, .. } = wait_msg(
        &mut b,
        "track_unpublished(screen)",
        |m| matches!(m, ServerMessage::TrackUnpublished { track_id, .. } if *track_id == screen_id),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(owner, a.participant_id);

    a.close().await;
    b.close().await;
    camera.abort();
    screen.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_track_stops_flowing_and_resumes() {
    let app = app(&crate::common::udp_ports(20), 4).await;
    let t = transport(20);
    let mut a = join(&app, &t, "room-pause", "ana", "Ana").await;
    let mut b = join(&app, &t, "room-pause", "bo", "Bo").await;
    let (locals, a_ids) = publish_av(&mut a, 0x4001, 0x4002).await;
    let (audio_id, video_id) = (a_ids[0], a_ids[1]);
    let sender = spawn_sender(locals, 60);
    let mut at_b = tracks_from(&mut b, 2).await;
    at_b.sort_by_key(|(id, _)| *id != audio_id);
    assert_eq!(
        at_b.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![audio_id, video_id]
    );
    let mut it = at_b.into_iter();
    let mut audio = pump(it.next().unwrap().1);
    let mut video = pump(it.next().unwrap().1);
    assert!(
        pumped_intact(&mut video, 10, TrackKind::Video).await >= 10,
        "video flows"
    );
    assert!(
        pumped_intact(&mut audio, 10, TrackKind::Audio).await >= 10,
        "audio flows"
    );

    b.send(ClientMessage::Pause {
        track: video_id,
        paused: true,
    });
    b.send(ClientMessage::Ping);
    loop {
        match b.next_event(Duration::from_secs(5)).await {
            Some(ClientEvent::Message(ServerMessage::Error { code, message })) => {
                panic!("pause refused: {code}: {message}")
            }
            Some(ClientEvent::Message(ServerMessage::Pong)) => break,
            Some(_) => {}
            None => panic!("no pong after pause"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain(&mut video);
    drain(&mut audio);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (v, au) = (drain(&mut video).len(), drain(&mut audio).len());
    assert!(v <= 3, "paused video still flowing: {v} packets in 1 s");
    assert!(
        au >= 20,
        "audio keeps flowing while video is paused: {au} packets in 1 s"
    );

    b.send(ClientMessage::Pause {
        track: video_id,
        paused: false,
    });
    let first = tokio::time::timeout(Duration::from_secs(5), video.recv())
        .await
        .expect("video resumes")
        .expect("video track still open");
    assert!(
        is_keyframe_start(&first),
        "resumed video starts at a keyframe: {:02x?}",
        &first.payload[..2.min(first.payload.len())]
    );
    let n = pumped_intact(&mut video, 10, TrackKind::Video).await;
    assert!(n >= 10, "video flows again after resume: {n}");

    a.close().await;
    b.close().await;
    sender.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_hand_and_reactions_reach_everyone() {
    let app = app(&crate::common::udp_ports(20), 4).await;
    let t = transport(20);
    let mut a = join(&app, &t, "room-chat", "ana-id", "Ana").await;
    let mut b = join(&app, &t, "room-chat", "bo-id", "Bo").await;
    let a_id: ParticipantId = a.participant_id;

    a.send(ClientMessage::Chat {
        text: "hello".into(),
    });
    a.send(ClientMessage::Hand { raised: true });
    a.send(ClientMessage::Reaction {
        emoji: "👍".into()
    });
    let ServerMessage::Chat {
        from, name, text, ..
    } = wait_msg(&mut b, "chat", |m| matches!(m, ServerMessage::Chat { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((from, name.as_str(), text.as_str()), (a_id, "Ana", "hello"));
    let hand = wait_msg(&mut b, "hand", |m| matches!(m, ServerMessage::Hand { .. })).await;
    assert_eq!(
        hand,
        ServerMessage::Hand {
            participant_id: a_id,
            raised: true
        }
    );
    let reaction = wait_msg(&mut b, "reaction", |m| {
        matches!(m, ServerMessage::Reaction { .. })
    })
    .await;
    assert_eq!(
        reaction,
        ServerMessage::Reaction {
            participant_id: a_id,
            emoji: "👍".into()
        }
    );
    // The sender gets its own chat back as confirmation.
    let own = wait_msg(&mut a, "own chat", |m| {
        matches!(m, ServerMessage::Chat { .. })
    })
    .await;
    assert!(
        matches!(own, ServerMessage::Chat { from, ref text, .. } if from == a_id && text == "hello")
    );

    // Too long: an error to A only, nothing to B.
    a.send(ClientMessage::Chat {
        text: "x".repeat(2000),
    });
    let err = wait_msg(&mut a, "error for a 2000-char chat", |m| {
        matches!(m, ServerMessage::Error { .. })
    })
    .await;
    let ServerMessage::Error { message, .. } = &err else {
        unreachable!()
    };
    assert!(!message.is_empty(), "{err:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.send(ClientMessage::Ping);
    loop {
        match b.next_event(Duration::from_secs(5)).await {
            Some(ClientEvent::Message(ServerMessage::Pong)) => break,
            Some(ClientEvent::Message(
                m @ (ServerMessage::Error { .. } | ServerMessage::Chat { .. }),
            )) => {
                panic!("B was told about A's refused chat: {m:?}")
            }
            Some(_) => {}
            None => panic!("B got no pong"),
        }
    }
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_is_announced_and_the_leavers_tracks_are_unpublished() {
    let app = app(&crate::common::udp_ports(30), 4).await;
    let t = transport(30);
    let mut a = join(&app, &t, "room-leave", "ana", "Ana").await;
    let mut b = join(&app, &t, "room-leave", "bo", "Bo").await;
    let mut c = join(&app, &t, "room-leave", "cy", "Cy").await;
    let (locals, a_ids) = publish_av(&mut a, 0x6001, 0x6002).await;
    let sender = spawn_sender(locals, 60);
    let at_b = tracks_from(&mut b, 2).await;
    let at_c = tracks_from(&mut c, 2).await;
    for got in [&at_b, &at_c] {
        let ids: BTreeSet<TrackId> = got.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, a_ids.iter().copied().collect());
    }
    let a_id = a.participant_id;
    a.close().await;
    sender.abort();

    for (who, x) in [("B", &mut b), ("C", &mut c)] {
        let left = wait_msg(x, "participant_left", |m| {
            matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == a_id)
        })
        .await;
        assert_eq!(
            left,
            ServerMessage::ParticipantLeft {
                participant_id: a_id
            },
            "{who}"
        );
        for id in &a_ids {
            let m = wait_msg(
                x,
                "track_unpublished",
                |m| matches!(m, ServerMessage::TrackUnpublished { track_id, .. } if track_id == id),
            )
            .await;
            assert_eq!(
                m,
                ServerMessage::TrackUnpublished {
                    track_id: *id,
                    owner: a_id
                },
                "{who}"
            );
        }
    }
    wait_metrics(
        &app,
        &[("parlor_participants", 2), ("parlor_tracks", 0)],
        "the leaver and its tracks are gone",
    )
    .await;
    drop((at_b, at_c));
    b.close().await;
    c.close().await;
    assert_all_released(&app).await;
}

//! Room rules without any networking.

use super::*;

const A: ParticipantId = ParticipantId(1);
const B: ParticipantId = ParticipantId(2);
const C: ParticipantId = ParticipantId(3);

fn room_with(ids: &[(ParticipantId, &str)]) -> Room {
    let mut r = Room::new("r", 8);
    for (id, ident) in ids {
        r.join(*id, ident, ident, RoomRole::Client, 0).unwrap();
    }
    r
}

#[test]
fn publishing_subscribes_everyone_else_and_late_joiners_get_existing_tracks() {
    let mut r = room_with(&[(A, "a"), (B, "b")]);
    let out = r
        .publish(A, TrackId(10), TrackKind::Video, TrackSource::Camera)
        .unwrap();
    assert_eq!(
        out.actions,
        vec![Action::Subscribe {
            subscriber: B,
            track: TrackId(10)
        }]
    );
    assert!(matches!(
        out.events[0],
        (Audience::Everyone, Event::TrackPublished(_))
    ));
    let late = r.join(C, "c", "c", RoomRole::Guest, 0).unwrap();
    assert_eq!(
        late.actions,
        vec![Action::Subscribe {
            subscriber: C,
            track: TrackId(10)
        }]
    );
    assert!(matches!(
        late.events[0],
        (Audience::EveryoneExcept(C), Event::ParticipantJoined(_))
    ));
}

#[test]
fn leaving_unpublishes_and_unsubscribes_everywhere() {
    let mut r = room_with(&[(A, "a"), (B, "b"), (C, "c")]);
    r.publish(A, TrackId(1), TrackKind::Audio, TrackSource::Microphone)
        .unwrap();
    r.publish(A, TrackId(2), TrackKind::Video, TrackSource::Camera)
        .unwrap();
    let out = r.leave(A).unwrap();
    let unsubs = out
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Unsubscribe { .. }))
        .count();
    assert_eq!(unsubs, 4, "2 tracks x 2 subscribers");
    assert!(
        out.events
            .iter()
            .any(|(_, e)| *e == Event::ParticipantLeft(A))
    );
    assert!(r.tracks().is_empty());
    assert_eq!(r.participant_count(), 2);
    assert_eq!(r.leave(A), Err(RoomError::UnknownParticipant));
}

#[test]
fn a_full_room_refuses_but_a_rejoin_of_the_same_identity_replaces_the_old_session() {
    let mut r = Room::new("r", 2);
    r.join(A, "ana", "Ana", RoomRole::Client, 0).unwrap();
    r.join(B, "bo", "Bo", RoomRole::Coach, 0).unwrap();
    assert_eq!(
        r.join(C, "cy", "Cy", RoomRole::Guest, 0),
        Err(RoomError::Full(2))
    );
    r.publish(A, TrackId(5), TrackKind::Audio, TrackSource::Microphone)
        .unwrap();
    let out = r.join(C, "ana", "Ana", RoomRole::Client, 0).unwrap();
    assert_eq!(out.actions[0], Action::Disconnect { participant: A });
    assert!(out.actions.contains(&Action::Unsubscribe {
        subscriber: B,
        track: TrackId(5)
    }));
    assert_eq!(r.participant_count(), 2, "no ghost");
    assert_eq!(r.by_identity("ana"), Some(C));
}

#[test]
fn only_owners_mute_or_unpublish_and_sources_match_kinds() {
    let mut r = room_with(&[(A, "a"), (B, "b")]);
    r.publish(A, TrackId(1), TrackKind::Audio, TrackSource::Microphone)
        .unwrap();
    assert_eq!(r.set_muted(B, TrackId(1), true), Err(RoomError::NotOwner));
    assert_eq!(r.unpublish(B, TrackId(1)), Err(RoomError::NotOwner));
    let out = r.set_muted(A, TrackId(1), true).unwrap();
    assert_eq!(
        out.events,
        vec![(
            Audience::Everyone,
            Event::TrackMuted {
                track: TrackId(1),
                muted: true
            }
        )]
    );
    assert!(
        r.set_muted(A, TrackId(1), true).unwrap().events.is_empty(),
        "no event without change"
    );
    assert!(
        r.publish(A, TrackId(2), TrackKind::Audio, TrackSource::Camera)
            .is_err()
    );
    for i in 3..6 {
        r.publish(A, TrackId(i), TrackKind::Video, TrackSource::Screen)
            .unwrap();
    }
    assert_eq!(
        r.publish(A, TrackId(9), TrackKind::Video, TrackSource::Screen),
        Err(RoomError::TooManyTracks)
    );
}

#[test]
fn keyframe_requests_are_limited_per_track_and_deferred_not_lost() {
    let mut r = room_with(&[(A, "a"), (B, "b"), (C, "c")]);
    r.publish(A, TrackId(1), TrackKind::Video, TrackSource::Camera)
        .unwrap();
    assert_eq!(
        r.request_keyframe(TrackId(1), 1000).actions,
        vec![Action::RequestKeyframe { track: TrackId(1) }]
    );
    assert!(r.request_keyframe(TrackId(1), 1100).actions.is_empty());
    assert!(r.request_keyframe(TrackId(1), 1200).actions.is_empty());
    assert!(r.poll(1400).actions.is_empty());
    assert_eq!(
        r.poll(1500).actions,
        vec![Action::RequestKeyframe { track: TrackId(1) }]
    );
    assert!(r.poll(2500).actions.is_empty());
    r.publish(A, TrackId(2), TrackKind::Audio, TrackSource::Microphone)
        .unwrap();
    assert!(
        r.request_keyframe(TrackId(2), 3000).actions.is_empty(),
        "audio has no keyframes"
    );
}

#[test]
fn pausing_is_per_subscriber_and_resuming_video_asks_for_a_keyframe() {
    let mut r = room_with(&[(A, "a"), (B, "b"), (C, "c")]);
    r.publish(A, TrackId(1), TrackKind::Video, TrackSource::Camera)
        .unwrap();
    let out = r.set_paused(B, TrackId(1), true, 0).unwrap();
    assert_eq!(
        out.actions,
        vec![Action::SetPaused {
            subscriber: B,
            track: TrackId(1),
            paused: true
        }],
        "the shell is told to pause B's down track"
    );
    assert!(r.is_paused(B, TrackId(1)) && !r.is_paused(C, TrackId(1)));
    let again = r.set_paused(B, TrackId(1), true, 10).unwrap();
    assert!(again.actions.is_empty(), "no change, nothing to apply");
    let out = r.set_paused(B, TrackId(1), false, 1000).unwrap();
    assert_eq!(
        out.actions,
        vec![
            Action::SetPaused {
                subscriber: B,
                track: TrackId(1),
                paused: false
            },
            Action::RequestKeyframe { track: TrackId(1) }
        ]
    );
    assert!(
        r.set_paused(A, TrackId(1), true, 0).is_err(),
        "owners cannot pause their own"
    );
}

#[test]
fn chat_and_reactions_are_validated_and_rate_limited() {
    let mut r = room_with(&[(A, "a"), (B, "b")]);
    assert!(r.chat(A, "   ", 0).is_err());
    assert!(r.chat(A, &"x".repeat(1001), 0).is_err());
    for _ in 0..5 {
        r.chat(A, "hello", 0).unwrap();
    }
    assert_eq!(r.chat(A, "hello", 0), Err(RoomError::RateLimited));
    assert!(r.chat(B, "hi", 0).is_ok(), "limits are per participant");
    assert!(r.chat(A, "later", 1500).is_ok());
    assert!(r.react(A, "👍", 0).is_ok());
    assert!(r.react(A, "lol", 0).is_err());
    assert!(r.react(A, &"👍".repeat(20), 0).is_err());
    let out = r.raise_hand(B, true).unwrap();
    assert_eq!(
        out.events,
        vec![(
            Audience::Everyone,
            Event::Hand {
                participant: B,
                raised: true
            }
        )]
    );
    assert!(r.participants().iter().any(|p| p.id == B && p.hand_raised));
}

#[test]
fn the_loudest_participant_is_announced_as_active_speaker() {
    let mut r = room_with(&[(A, "a"), (B, "b")]);
    let mut seen = Vec::new();
    for i in 0..50 {
        let t = i * 20;
        r.audio_level(A, 127, t);
        r.audio_level(B, 30, t);
        seen.extend(r.poll(t).events);
    }
    assert_eq!(
        seen,
        vec![(Audience::Everyone, Event::ActiveSpeaker(Some(B)))]
    );
}

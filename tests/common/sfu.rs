//! Helpers for tests that drive the SFU with parlor's own webrtc-rs client: servers with
//! their own UDP port ranges, join tokens, publishing, recognisable media senders, packet
//! checks, and `/metrics` polling.

use super::{Backend, TestApp};
use bytes::Bytes;
use parlor::auth::join_token::{self, RoomRole};
use parlor::client::signal::{Client, ClientEvent};
use parlor::media::engine::PeerFactory;
use parlor::media::track::{LocalTrack, RemoteTrack, RtpPacket, TrackKind};
use parlor::sfu::{TrackId, TrackSource};
use parlor::signal::protocol::ServerMessage;
use std::time::Duration;
use tokio::sync::mpsc;

pub const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

pub async fn app(ports: &str, max: u32) -> TestApp {
    let ports = ports.to_string();
    TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        c.rooms.max_participants = max;
    })
    .await
}

/// A client transport on `n` UDP ports of its own.
pub fn transport(n: u16) -> PeerFactory {
    PeerFactory::new("127.0.0.1".parse().unwrap(), super::udp_block(n))
}

/// A join token valid for ten minutes on `app`'s clock.
pub fn token(app: &TestApp, room: &str, identity: &str, name: &str) -> String {
    let now = app.clock.now().timestamp();
    join_token::mint(KEY, room, identity, name, RoomRole::Client, now, 600)
}

pub fn ws(app: &TestApp) -> String {
    app.base.replace("http://", "ws://") + "/rtc"
}

pub async fn join(
    app: &TestApp,
    t: &PeerFactory,
    room: &str,
    identity: &str,
    name: &str,
) -> Client {
    Client::join(&ws(app), &token(app, room, identity, name), t)
        .await
        .unwrap_or_else(|e| panic!("{identity} joins {room}: {e}"))
}

/// Publishes a microphone and a camera with the given SSRCs (unique per server: the SFU keeps
/// the publisher's SSRC on every subscriber leg). Returns the local tracks and their ids.
pub async fn publish_av(
    c: &mut Client,
    ssrc_a: u32,
    ssrc_v: u32,
) -> (Vec<LocalTrack>, Vec<TrackId>) {
    let p = c
        .publish(&[
            (TrackKind::Audio, TrackSource::Microphone, ssrc_a),
            (TrackKind::Video, TrackSource::Camera, ssrc_v),
        ])
        .await
        .expect("publish microphone and camera");
    let ids: Vec<TrackId> = p.iter().map(|(_, id)| *id).collect();
    assert!(
        ids.iter().all(|id| *id != TrackId(0)),
        "ids assigned: {ids:?}"
    );
    (p.into_iter().map(|(l, _)| l).collect(), ids)
}

/// Sends recognisable packets on every track every 20 ms: audio payloads of one repeated byte,
/// video payloads with a VP8 keyframe start every 5th packet (a subscriber's forwarding starts
/// at a keyframe) followed by one repeated byte.
pub fn spawn_sender(tracks: Vec<LocalTrack>, secs: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut seq: u16 = 0;
        while tokio::time::Instant::now() < end {
            let fill = (seq % 251) as u8;
            for t in &tracks {
                match t.kind() {
                    TrackKind::Audio => {
                        let a = Bytes::from(vec![fill; 40]);
                        let _ = t.write(seq, u32::from(seq) * 960, false, a).await;
                    }
                    TrackKind::Video => {
                        let mut v = if seq.is_multiple_of(5) {
                            vec![0x10, 0x00]
                        } else {
                            vec![0x10, 0x01]
                        };
                        v.extend(std::iter::repeat_n(fill, 300));
                        let _ = t
                            .write(seq, u32::from(seq) * 3000, true, Bytes::from(v))
                            .await;
                    }
                }
            }
            seq = seq.wrapping_add(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// Whether a packet's payload is intact (its filler is one repeated byte; the SFU may rewrite
/// the sequence number, so only the pattern's consistency is checked).
pub fn intact(p: &RtpPacket, kind: TrackKind) -> bool {
    let body = if kind == TrackKind::Video {
        p.payload.get(2..).unwrap_or_default()
    } else {
        &p.payload[..]
    };
    !body.is_empty() && body.iter().all(|b| *b == body[0])
}

pub fn is_keyframe_start(p: &RtpPacket) -> bool {
    p.payload.starts_with(&[0x10, 0x00])
}

/// Counts intact packets on `track` until `want` arrived (or 8 s passed).
pub async fn intact_packets(track: &RemoteTrack, want: usize, kind: TrackKind) -> usize {
    let mut ok = 0;
    let _ = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(p) = track.next_packet().await {
            if intact(&p, kind) {
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

/// The next `n` incoming tracks.
pub async fn tracks_from(c: &mut Client, n: usize) -> Vec<(TrackId, RemoteTrack)> {
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

/// The first message matching `pick` within 10 s (others stay queued).
pub async fn wait_msg(
    c: &mut Client,
    what: &str,
    pick: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    match c
        .wait_for(
            Duration::from_secs(10),
            |e| matches!(e, ClientEvent::Message(m) if pick(m)),
        )
        .await
    {
        Some(ClientEvent::Message(m)) => m,
        _ => panic!("{what}: not received within 10 s"),
    }
}

/// Reads a remote track in the background, so that counts over a time window are exact.
pub fn pump(remote: RemoteTrack) -> mpsc::UnboundedReceiver<RtpPacket> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(p) = remote.next_packet().await {
            if tx.send(p).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn drain(rx: &mut mpsc::UnboundedReceiver<RtpPacket>) -> Vec<RtpPacket> {
    let mut out = Vec::new();
    while let Ok(p) = rx.try_recv() {
        out.push(p);
    }
    out
}

/// Waits for `n` intact packets from a pumped track; returns how many arrived.
pub async fn pumped_intact(
    rx: &mut mpsc::UnboundedReceiver<RtpPacket>,
    n: usize,
    kind: TrackKind,
) -> usize {
    let mut ok = 0;
    let _ = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(p) = rx.recv().await {
            if intact(&p, kind) {
                ok += 1;
            }
            if ok >= n {
                break;
            }
        }
    })
    .await;
    ok
}

pub async fn metrics(app: &TestApp) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map_or(-1, |v| v as i64)
}

/// Polls `/metrics` (for up to 5 s) until every named gauge has its value.
pub async fn wait_metrics(app: &TestApp, want: &[(&str, i64)], what: &str) {
    let mut last = String::new();
    for _ in 0..50 {
        last = metrics(app).await;
        if want.iter().all(|(n, v)| metric(&last, n) == *v) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: wanted {want:?}:\n{last}");
}

/// Rooms, participants, tracks and media tasks all return to zero (within 5 s).
pub async fn assert_all_released(app: &TestApp) {
    wait_metrics(
        app,
        &[
            ("parlor_rooms", 0),
            ("parlor_participants", 0),
            ("parlor_tracks", 0),
            ("parlor_media_tasks", 0),
        ],
        "rooms, participants, tracks and tasks return to zero",
    )
    .await;
}

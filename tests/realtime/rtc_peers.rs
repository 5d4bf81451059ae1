//! Real webrtc-rs peer connections built by parlor's media engine, on loopback: they bind
//! inside the configured port range, connect (ICE + DTLS), carry RTP both ways with payloads
//! intact, renegotiate to add a track, and release their sockets when closed.

use bytes::Bytes;
use parlor::media::engine::{PeerFactory, Profile};
use parlor::media::peer::{Link, Peer, PeerEvent};
use parlor::media::track::{RemoteTrack, TrackKind};
use std::time::Duration;
use tokio::sync::mpsc;

fn transport_on(ports: (u16, u16)) -> PeerFactory {
    PeerFactory::new("127.0.0.1".parse().unwrap(), ports)
}

async fn wait_for<T>(
    rx: &mut mpsc::UnboundedReceiver<PeerEvent>,
    mut pick: impl FnMut(PeerEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ev = rx.recv().await.expect("peer events end");
            if let Some(t) = pick(ev) {
                return t;
            }
        }
    })
    .await
    .expect("event within 10 s")
}

/// Whether every UDP port of `ports` can be bound again (nothing of ours holds one).
/// The ports are this test's own block, so nothing else in the binary binds them.
fn ports_free(ports: (u16, u16)) -> bool {
    (ports.0..=ports.1).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok())
}

/// Sends `n` audio packets with recognisable payloads on `track`.
async fn send_audio(track: &parlor::media::track::LocalTrack, from_seq: u16, n: u16) {
    for i in 0..n {
        let seq = from_seq.wrapping_add(i);
        let payload = Bytes::from(vec![(seq % 251) as u8; 60]);
        track
            .write(seq, u32::from(seq) * 960, false, payload)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn count_intact(track: &RemoteTrack, want: usize) -> usize {
    let mut ok = 0;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(p) = track.next_packet().await {
            if p.payload.len() == 60 && p.payload.iter().all(|b| *b == (p.sequence % 251) as u8) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engine_peers_connect_carry_rtp_and_renegotiate() {
    let (pa, pb) = (crate::common::udp_block(10), crate::common::udp_block(10));
    let (ta, tb) = (transport_on(pa), transport_on(pb));
    let (a_tx, mut a_rx) = mpsc::unbounded_channel();
    let (b_tx, mut b_rx) = mpsc::unbounded_channel();
    let a = Peer::new(&ta, Profile::Call, a_tx).await.unwrap();
    let b = Peer::new(&tb, Profile::Call, b_tx).await.unwrap();

    let audio = a
        .add_local_track(TrackKind::Audio, 0x1111, "stream-a", "t1")
        .await
        .unwrap();
    let offer = a.offer(false).await.unwrap();
    assert!(
        (pa.0..=pa.1).any(|p| offer.contains(&format!(" 127.0.0.1 {p} typ host"))),
        "host candidate from the configured range: {offer}"
    );
    let answer = b.answer(&offer).await.unwrap();
    a.apply_answer(&answer).await.unwrap();
    wait_for(&mut a_rx, |e| {
        matches!(e, PeerEvent::Link(Link::Connected)).then_some(())
    })
    .await;

    let send = tokio::spawn(async move {
        send_audio(&audio, 1000, 40).await;
        audio
    });
    let remote = wait_for(&mut b_rx, |e| {
        if let PeerEvent::Track(t) = e {
            Some(t)
        } else {
            None
        }
    })
    .await;
    assert_eq!(remote.kind().await, TrackKind::Audio);
    assert_eq!(remote.track_id().await, "t1");
    assert!(
        count_intact(&remote, 20).await >= 20,
        "audio arrived intact"
    );
    let _audio = send.await.unwrap();

    // Renegotiation: A adds a video track and offers again; B receives it.
    let video = a
        .add_local_track(TrackKind::Video, 0x2222, "stream-a", "t2")
        .await
        .unwrap();
    let offer = a.offer(false).await.unwrap();
    let answer = b.answer(&offer).await.unwrap();
    a.apply_answer(&answer).await.unwrap();
    let vsend = tokio::spawn(async move {
        for i in 0..40u16 {
            let payload = Bytes::from(vec![(i % 251) as u8; 60]);
            video
                .write(i, u32::from(i) * 3000, true, payload)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let vremote = wait_for(&mut b_rx, |e| {
        if let PeerEvent::Track(t) = e {
            Some(t)
        } else {
            None
        }
    })
    .await;
    assert_eq!(vremote.kind().await, TrackKind::Video);
    assert!(
        count_intact(&vremote, 10).await >= 10,
        "video arrived after renegotiation"
    );
    vsend.await.unwrap();

    a.close().await;
    b.close().await;
    drop((a, b, remote, vremote));
    // Released: every port of both blocks can be bound again (polled, with a deadline).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !(ports_free(pa) && ports_free(pb)) {
        assert!(
            std::time::Instant::now() < deadline,
            "sockets released within 5 s of close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_skip_ports_in_use_and_fail_clearly_when_the_range_is_full() {
    let (lo, hi) = crate::common::udp_block(2);
    let _held = std::net::UdpSocket::bind(("127.0.0.1", lo)).unwrap();
    let t = transport_on((lo, hi));
    let (tx, _rx) = mpsc::unbounded_channel();
    let p = Peer::new(&t, Profile::Call, tx.clone())
        .await
        .expect("skips the busy port");
    let offer = p.offer(false).await;
    // An offer without media has no candidates; the port shows once media is added.
    drop(offer);
    let full = Peer::new(&t, Profile::Call, tx).await;
    assert!(
        matches!(full, Err(parlor::media::RtcError::NoFreePort(a, b)) if (a, b) == (lo, hi)),
        "range exhausted"
    );
    p.close().await;
}

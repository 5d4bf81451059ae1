//! Connection-quality events through the real SFU: once media flows, every participant learns
//! each participant's level (`excellent` on loopback), from the statistics of their
//! connections; the per-packet forwarding counters and latency histogram move on `/metrics`.

use crate::common;

use common::sfu::*;
use parlor::signal::protocol::ServerMessage;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_learn_each_others_connection_quality() {
    let app = app(&crate::common::udp_ports(20), 8).await;
    let t = transport(40);
    let mut a = join(&app, &t, "quality-room", "qa", "Ana").await;
    let mut b = join(&app, &t, "quality-room", "qb", "Ben").await;
    let (a_tracks, _) = publish_av(&mut a, 0x6100_0001, 0x6100_0002).await;
    let (b_tracks, _) = publish_av(&mut b, 0x6200_0001, 0x6200_0002).await;
    let senders = [spawn_sender(a_tracks, 10), spawn_sender(b_tracks, 10)];
    let _incoming = (tracks_from(&mut a, 2).await, tracks_from(&mut b, 2).await);

    // Each side hears a level for both participants (itself and the other).
    let both: BTreeSet<_> = [a.participant_id, b.participant_id].into();
    for (who, c) in [("a", &mut a), ("b", &mut b)] {
        let mut seen = BTreeSet::new();
        while seen.len() < both.len() {
            let m = wait_msg(c, &format!("{who}: quality"), |m| {
                matches!(m, ServerMessage::Quality { .. })
            })
            .await;
            let ServerMessage::Quality {
                participant_id,
                quality,
            } = m
            else {
                unreachable!()
            };
            assert!(
                ["excellent", "good"].contains(&quality.as_str()),
                "{who}: loopback quality of {participant_id:?} is {quality}"
            );
            seen.insert(participant_id);
        }
        assert_eq!(seen, both, "{who}");
    }
    let text = metrics(&app).await;
    assert!(
        metric(&text, "parlor_forwarded_packets_total") > 100,
        "{text}"
    );
    assert!(
        text.contains("parlor_forward_latency_seconds_bucket"),
        "latency histogram exported"
    );
    for s in senders {
        s.abort();
    }
    a.close().await;
    b.close().await;
}

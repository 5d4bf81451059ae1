//! Connection-quality sampling for a session: every few seconds the session reads the
//! statistics of its two connections into a [`LinkSample`] for its
//! [`QualityMeter`](crate::sfu::quality::QualityMeter), which says when the level the room
//! sees should change.

use crate::media::peer::Peer;
use crate::sfu::quality::LinkSample;

/// Seconds between samples.
pub(super) const SAMPLE_EVERY_SECS: u64 = 2;

/// Reads both connections' statistics; `connected` is whether every negotiated connection
/// is up now.
pub(super) async fn sample(publisher: &Peer, subscriber: &Peer, connected: bool) -> LinkSample {
    let up = publisher.link_stats().await;
    let down = subscriber.link_stats().await;
    LinkSample {
        connected,
        received: up.packets_received,
        lost: up.packets_lost,
        remote_fraction_lost: down.remote_fraction_lost,
        rtt_ms: up.rtt_ms.into_iter().chain(down.rtt_ms).reduce(f64::max),
    }
}

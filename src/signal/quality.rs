//! Connection-quality sampling for a session: every few seconds the session reads the
//! statistics of its two connections, feeds them to its [`QualityMeter`], and announces a
//! changed level to the whole room as a `quality` event.

use super::session::Session;
use crate::sfu::quality::LinkSample;
use crate::sfu::{Event, Output};

/// Seconds between samples.
pub(super) const SAMPLE_EVERY_SECS: u64 = 2;

impl Session {
    /// Samples both connections and announces the participant's level if it changed.
    pub(super) async fn sample_quality(&mut self) {
        // Nothing negotiated yet: there is no media path to judge.
        if !self.publisher_link.0 && !self.subscriber_link.0 {
            return;
        }
        let connected = (!self.publisher_link.0 || self.publisher_link.1)
            && (!self.subscriber_link.0 || self.subscriber_link.1);
        let up = self.publisher.link_stats().await;
        let down = self.subscriber.link_stats().await;
        let sample = LinkSample {
            connected,
            received: up.packets_received,
            lost: up.packets_lost,
            remote_fraction_lost: down.remote_fraction_lost,
            rtt_ms: up.rtt_ms.into_iter().chain(down.rtt_ms).reduce(f64::max),
        };
        if let Some(quality) = self.quality.update(sample) {
            self.room.apply(Output::broadcast(Event::Quality {
                participant: self.id,
                quality,
            }));
        }
    }
}

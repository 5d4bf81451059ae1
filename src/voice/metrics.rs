//! The voice metrics on `/metrics`: live sessions, frames, missed playout ticks, the users'
//! packets by coded band, and the ingress, playout-wait and egress histograms of the agent
//! loop.

use crate::voice::core::audio::opus_codec::Band;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

/// Voice metrics on `/metrics`.
#[derive(Clone)]
pub struct VoiceMetrics {
    pub sessions: IntGauge,
    pub frames: IntCounter,
    pub missed_ticks: IntCounter,
    /// Browser packet arrival at the server → its 20 ms chunk handed to the agent connection.
    pub ingress: Histogram,
    /// Agent audio arrival → its first frame sent (includes the wait for the playout tick).
    pub playout_wait: Histogram,
    /// Playout tick due → its frame handed to the agent's track (the server's own egress
    /// work and lateness, without the wait for the tick).
    pub egress: Histogram,
    pub agent_backlog_drops: IntCounter,
    /// The users' audio packets by the band their browser coded, in [`Band::ALL`] order
    /// (`parlor_voice_user_packets_total{band="narrow|medium|wide|superwide|full"}`).
    pub user_packets: [IntCounter; 5],
}

impl VoiceMetrics {
    pub fn new(metrics: &crate::telemetry::Metrics) -> Self {
        let counter = |n: &str, h: &str| {
            let c = IntCounter::new(n, h).expect("valid counter");
            metrics.register(Box::new(c.clone()));
            c
        };
        let histogram = |n: &str, h: &str| {
            let buckets = (0..32).map(|i| 2e-6 * 1.5f64.powi(i)).collect::<Vec<f64>>();
            let h = Histogram::with_opts(HistogramOpts::new(n, h).buckets(buckets))
                .expect("valid histogram");
            metrics.register(Box::new(h.clone()));
            h
        };
        let sessions =
            IntGauge::new("parlor_voice_sessions", "Live voice sessions").expect("valid gauge");
        metrics.register(Box::new(sessions.clone()));
        let user_packets = IntCounterVec::new(
            Opts::new(
                "parlor_voice_user_packets_total",
                "Users' audio packets by the band their browser's encoder coded",
            ),
            &["band"],
        )
        .expect("valid counter");
        metrics.register(Box::new(user_packets.clone()));
        Self {
            user_packets: Band::ALL.map(|b| user_packets.with_label_values(&[b.name()])),
            sessions,
            frames: counter("parlor_voice_frames_total", "Opus frames the agents sent"),
            missed_ticks: counter(
                "parlor_voice_missed_ticks_total",
                "20 ms playout ticks missed because a voice loop ran late",
            ),
            ingress: histogram(
                "parlor_voice_ingress_seconds",
                "Browser audio packet arrival to its chunk handed to the agent connection",
            ),
            playout_wait: histogram(
                "parlor_voice_playout_wait_seconds",
                "Agent audio arrival to its frame sent (includes the wait for the 20 ms tick)",
            ),
            egress: histogram(
                "parlor_voice_egress_seconds",
                "Playout tick due to its frame handed to the agent's track",
            ),
            agent_backlog_drops: counter(
                "parlor_voice_agent_backlog_drops_total",
                "User audio chunks dropped because the agent connection was behind",
            ),
        }
    }
}

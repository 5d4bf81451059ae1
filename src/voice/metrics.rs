//! The voice metrics on `/metrics`: live sessions, frames, missed playout ticks and the
//! ingress, playout-wait and egress histograms of the agent loop.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};

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
        Self {
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

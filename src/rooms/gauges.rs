//! The live counts of the rooms layer (rooms, participants, tracks, media tasks) and the
//! per-packet forwarding metrics, registered once and exported on `/metrics`.

use prometheus::IntGauge;

/// Live counts, exported on `/metrics`.
#[derive(Clone)]
pub struct RoomGauges {
    pub rooms: IntGauge,
    pub participants: IntGauge,
    pub tracks: IntGauge,
    pub media_tasks: IntGauge,
    /// Per-packet forwarding counters and latency.
    pub forward: crate::media::forward::ForwardMetrics,
}

impl RoomGauges {
    pub fn new(metrics: &crate::telemetry::Metrics) -> Self {
        let g = |n: &str, h: &str| {
            let g = IntGauge::new(n, h).expect("valid gauge");
            metrics.register(Box::new(g.clone()));
            g
        };
        let counter = |n: &str, h: &str| {
            let c = prometheus::IntCounter::new(n, h).expect("valid counter");
            metrics.register(Box::new(c.clone()));
            c
        };
        let media_tasks = g(
            "parlor_media_tasks",
            "Running media tasks (forwarding, sessions)",
        );
        let latency = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "parlor_forward_latency_seconds",
                "RTP packet arrival from a publisher to hand-over to a subscriber's connection",
            )
            .buckets((0..24).map(|i| 2e-6 * 1.5f64.powi(i)).collect::<Vec<f64>>()),
        )
        .expect("valid histogram");
        metrics.register(Box::new(latency.clone()));
        Self {
            rooms: g("parlor_rooms", "Open video rooms"),
            participants: g("parlor_participants", "Participants in video rooms"),
            tracks: g("parlor_tracks", "Published tracks"),
            forward: crate::media::forward::ForwardMetrics {
                forwarded: counter(
                    "parlor_forwarded_packets_total",
                    "RTP packets handed to subscribers",
                ),
                dropped: counter(
                    "parlor_forward_dropped_packets_total",
                    "RTP packets dropped because a subscriber's connection was behind",
                ),
                latency,
            },
            media_tasks,
        }
    }
}

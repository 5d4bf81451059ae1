//! Prometheus metrics: HTTP requests and latency by route, booking counters, the process's
//! own CPU, memory and file descriptors (`process_*`), and `parlor_build_info`.
//! Each server instance owns its registry, so tests running several servers stay separate.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The metrics of one server.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by matched route, method and status code.
    pub http_requests: IntCounterVec,
    /// Request latency by matched route and method.
    pub http_latency: HistogramVec,
    /// Bookings created.
    pub bookings_created: IntCounter,
    /// Bookings cancelled.
    pub bookings_cancelled: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "parlor_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "parlor_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let bookings_created = IntCounter::new("parlor_bookings_created_total", "Bookings created")
            .expect("valid metric");
        let bookings_cancelled =
            IntCounter::new("parlor_bookings_cancelled_total", "Bookings cancelled")
                .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "parlor_build_info",
                "Always 1; the labels say which build is running",
            ),
            &["version", "revision", "libopus"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                env!("BUILT_GIT_REVISION"),
                env!("BUILT_LIBOPUS_VERSION"),
            ])
            .set(1);
        for m in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_latency.clone()),
            Box::new(bookings_created.clone()),
            Box::new(bookings_cancelled.clone()),
            Box::new(build_info),
            // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, …
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry.register(m).expect("metric names are unique");
        }
        Self {
            registry,
            http_requests,
            http_latency,
            bookings_created,
            bookings_cancelled,
        }
    }

    /// Registers another collector (later subsystems add theirs).
    pub fn register(&self, c: Box<dyn prometheus::core::Collector>) {
        self.registry.register(c).expect("metric names are unique");
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding metrics to memory does not fail");
        String::from_utf8(buf).expect("Prometheus text is UTF-8")
    }
}

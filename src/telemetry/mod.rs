//! Logging (tracing; human text or JSON lines) and Prometheus metrics.

pub mod metrics;

pub use metrics::Metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests start many servers).
pub fn init(json: bool, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

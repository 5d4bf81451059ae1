//! Logging (tracing; human text or JSON lines) and Prometheus metrics.

pub mod metrics;

pub use metrics::Metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests start many servers).
/// Logs go to stderr: stdout carries only what a command prints as its result (a join link,
/// a user id), so it can be piped.
pub fn init(json: bool, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

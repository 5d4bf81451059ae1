//! Logging (tracing; human text or JSON lines) and Prometheus metrics.

pub mod metrics;

pub use metrics::Metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests start many servers).
/// Logs go to stderr: stdout carries only what a command prints as its result (a join link,
/// a user id), so it can be piped. Text logs are coloured only when stderr is a terminal
/// (and `NO_COLOR` is not set): files and journald get plain text.
pub fn init(json: bool, level: &str) {
    let filter = EnvFilter::try_new(with_quiet_media_stack(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The WebRTC stack's crates log warnings per packet in ordinary conditions (a retransmitted
/// SRTP packet, a STUN probe before credentials): they are capped at `error` unless the
/// operator's filter names them.
fn with_quiet_media_stack(level: &str) -> String {
    const NOISY: [&str; 7] = [
        "webrtc",
        "rtc",
        "rtc_ice",
        "rtc_dtls",
        "rtc_srtp",
        "rtc_sctp",
        "rtc_interceptor",
    ];
    let mut filter = level.to_string();
    for target in NOISY {
        let named = level
            .split(',')
            .any(|d| d.trim().split(['=', ':', '[']).next() == Some(target));
        if !named {
            filter.push_str(&format!(",{target}=error"));
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::with_quiet_media_stack;

    #[test]
    fn the_media_stack_is_quiet_unless_named() {
        let f = with_quiet_media_stack("info");
        assert!(
            f.starts_with("info,") && f.contains(",rtc_ice=error"),
            "{f}"
        );
        let f = with_quiet_media_stack("debug,rtc_ice=trace");
        assert!(
            f.contains("rtc_ice=trace") && !f.contains("rtc_ice=error"),
            "{f}"
        );
        assert!(f.contains(",rtc_dtls=error"), "{f}");
    }
}

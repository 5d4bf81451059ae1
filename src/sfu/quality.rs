//! Connection quality of a participant, from what its two connections report: packet loss on
//! what it sends us (publisher leg), loss reported by its receiver reports (subscriber leg),
//! and the round-trip time. Sans-IO: the shell samples the statistics every couple of seconds
//! and feeds cumulative counters in; [`QualityMeter`] turns them into a level and says when
//! the level others see should change.

use serde::{Deserialize, Serialize};

/// What a participant's peers are told.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Excellent,
    Good,
    Poor,
    /// Connected by signalling, but no media path.
    Lost,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Excellent => "excellent",
            Quality::Good => "good",
            Quality::Poor => "poor",
            Quality::Lost => "lost",
        }
    }
}

wire_words!(Quality);

/// One statistics sample of a participant's connections (counters are cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkSample {
    /// Media connections up (the ones that were negotiated).
    pub connected: bool,
    /// Packets received from the participant, and lost on the way (RFC 3550 cumulative).
    pub received: u64,
    pub lost: i64,
    /// Worst fraction lost (0..1) that the participant's receiver reports state.
    pub remote_fraction_lost: Option<f64>,
    /// Round-trip time, milliseconds.
    pub rtt_ms: Option<f64>,
}

/// The level for a loss ratio (0..1) and round-trip time.
pub fn classify(loss: f64, rtt_ms: Option<f64>) -> Quality {
    let rtt = rtt_ms.unwrap_or(0.0);
    if loss < 0.02 && rtt < 150.0 {
        Quality::Excellent
    } else if loss < 0.08 && rtt < 400.0 {
        Quality::Good
    } else {
        Quality::Poor
    }
}

/// Samples in a row a new (better) level must hold before it is announced; worse levels are
/// announced at once, so a flapping link settles at its worse state.
const SETTLE: u8 = 2;
/// Re-announce an unchanged level every this many samples, so late joiners learn it.
const REPEAT: u32 = 5;

/// Turns samples into announced levels.
#[derive(Debug, Default)]
pub struct QualityMeter {
    last: Option<(u64, i64)>,
    announced: Option<Quality>,
    candidate: Option<(Quality, u8)>,
    since_announce: u32,
}

impl QualityMeter {
    /// Feeds a sample; returns the level to announce now, if any.
    pub fn update(&mut self, s: LinkSample) -> Option<Quality> {
        let level = self.level(s);
        self.since_announce += 1;
        let announce = match self.announced {
            None => true,
            Some(a) if level > a => true,
            Some(a) if level < a => {
                let n = match self.candidate {
                    Some((q, n)) if q == level => n + 1,
                    _ => 1,
                };
                self.candidate = Some((level, n));
                n >= SETTLE
            }
            Some(_) => {
                self.candidate = None;
                self.since_announce >= REPEAT
            }
        };
        if announce {
            self.announced = Some(level);
            self.candidate = None;
            self.since_announce = 0;
            Some(level)
        } else {
            None
        }
    }

    /// The level announced last.
    pub fn current(&self) -> Option<Quality> {
        self.announced
    }

    fn level(&mut self, s: LinkSample) -> Quality {
        if !s.connected {
            return Quality::Lost;
        }
        let inbound = match self.last.replace((s.received, s.lost)) {
            Some((r0, l0)) => {
                let got = s.received.saturating_sub(r0) as f64;
                let lost = (s.lost - l0).max(0) as f64;
                if got + lost > 0.0 {
                    lost / (got + lost)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        let loss = inbound.max(s.remote_fraction_lost.unwrap_or(0.0));
        classify(loss, s.rtt_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(received: u64, lost: i64) -> LinkSample {
        LinkSample {
            connected: true,
            received,
            lost,
            remote_fraction_lost: None,
            rtt_ms: Some(20.0),
        }
    }

    #[test]
    fn thresholds() {
        assert_eq!(classify(0.0, Some(10.0)), Quality::Excellent);
        assert_eq!(classify(0.0, None), Quality::Excellent);
        assert_eq!(classify(0.03, Some(10.0)), Quality::Good);
        assert_eq!(classify(0.0, Some(200.0)), Quality::Good);
        assert_eq!(classify(0.10, Some(10.0)), Quality::Poor);
        assert_eq!(classify(0.0, Some(500.0)), Quality::Poor);
    }

    #[test]
    fn first_sample_is_announced_then_only_changes_and_repeats() {
        let mut m = QualityMeter::default();
        assert_eq!(m.update(sample(100, 0)), Some(Quality::Excellent));
        for i in 1..REPEAT {
            assert_eq!(m.update(sample(100 + 100 * u64::from(i), 0)), None);
        }
        assert_eq!(m.update(sample(600, 0)), Some(Quality::Excellent));
    }

    #[test]
    fn loss_is_measured_between_samples_not_since_the_start() {
        let mut m = QualityMeter::default();
        m.update(sample(1000, 0));
        // 20 lost of the next 100: 20 % → poor at once (worse is immediate).
        assert_eq!(m.update(sample(1080, 20)), Some(Quality::Poor));
        // Clean again: better needs SETTLE samples in a row.
        assert_eq!(m.update(sample(1180, 20)), None);
        assert_eq!(m.update(sample(1280, 20)), Some(Quality::Excellent));
    }

    #[test]
    fn flapping_link_stays_at_its_worse_level() {
        let mut m = QualityMeter::default();
        m.update(sample(0, 0));
        let (mut r, mut l) = (0u64, 0i64);
        let mut seen = Vec::new();
        for i in 0..10 {
            r += 100;
            if i % 2 == 0 {
                l += 20;
            }
            seen.extend(m.update(sample(r, l)));
        }
        assert_eq!(m.current(), Some(Quality::Poor));
        assert!(!seen.contains(&Quality::Excellent), "{seen:?}");
    }

    #[test]
    fn disconnected_is_lost_and_remote_loss_counts() {
        let mut m = QualityMeter::default();
        m.update(sample(0, 0));
        let mut s = sample(100, 0);
        s.connected = false;
        assert_eq!(m.update(s), Some(Quality::Lost));
        let mut m = QualityMeter::default();
        let mut s = sample(0, 0);
        s.remote_fraction_lost = Some(0.05);
        assert_eq!(m.update(s), Some(Quality::Good));
    }

    #[test]
    fn counter_reset_does_not_underflow() {
        let mut m = QualityMeter::default();
        m.update(sample(1000, 50));
        assert_eq!(m.update(sample(10, 0)), None);
    }
}

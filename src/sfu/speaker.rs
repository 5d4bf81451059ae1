//! Active-speaker detection from RFC 6464 audio levels (sans-IO).
//!
//! Each audio packet carries the sender's level in -dBov (0 = loudest, 127 = silence). Levels
//! are smoothed per participant; the loudest participant above a speech threshold becomes the
//! active speaker, with hysteresis so the highlight does not flicker: someone still talking is
//! only replaced by a clearly louder voice, a change needs 400 ms since the last one, and
//! silence must last 1.5 s before "nobody" is announced.

use super::ParticipantId;
use std::collections::HashMap;

/// Smoothed loudness (127 − level) above which a participant counts as speaking (≈ −60 dBov).
const SPEECH_LOUDNESS: f32 = 67.0;
/// Smoothing factor per packet (packets arrive every 20 ms).
const ALPHA: f32 = 0.15;
const MIN_SWITCH_MS: i64 = 400;
/// A challenger must be this much louder than a current speaker who is still talking.
const SWITCH_MARGIN: f32 = 6.0;
const SILENCE_MS: i64 = 1500;
/// A participant whose levels stopped arriving this long ago is not speaking.
const STALE_MS: i64 = 600;

#[derive(Debug, Clone, Copy)]
struct Level {
    loudness: f32,
    last_ms: i64,
}

/// The detector of one room.
#[derive(Debug, Default)]
pub struct SpeakerDetector {
    levels: HashMap<ParticipantId, Level>,
    current: Option<ParticipantId>,
    last_change_ms: i64,
    last_speech_ms: i64,
}

impl SpeakerDetector {
    /// Records one audio level (`dbov` 0–127 as in RFC 6464).
    pub fn on_level(&mut self, who: ParticipantId, dbov: u8, now_ms: i64) {
        let loud = 127.0 - f32::from(dbov.min(127));
        let l = self.levels.entry(who).or_insert(Level {
            loudness: 0.0,
            last_ms: now_ms,
        });
        l.loudness += ALPHA * (loud - l.loudness);
        l.last_ms = now_ms;
    }

    /// Forgets a participant who left.
    pub fn remove(&mut self, who: ParticipantId) {
        self.levels.remove(&who);
        if self.current == Some(who) {
            self.current = None;
        }
    }

    /// The active speaker if it changed since the last call (`Some(None)` = nobody).
    pub fn poll(&mut self, now_ms: i64) -> Option<Option<ParticipantId>> {
        let loudest = self
            .levels
            .iter()
            .filter(|(_, l)| l.loudness >= SPEECH_LOUDNESS && now_ms - l.last_ms <= STALE_MS)
            .max_by(|a, b| a.1.loudness.total_cmp(&b.1.loudness).then(b.0.cmp(a.0)))
            .map(|(p, _)| *p);
        if loudest.is_some() {
            self.last_speech_ms = now_ms;
        }
        let current_loudness = self
            .current
            .and_then(|c| self.levels.get(&c))
            .filter(|l| l.loudness >= SPEECH_LOUDNESS && now_ms - l.last_ms <= STALE_MS)
            .map(|l| l.loudness);
        let next = match loudest {
            Some(p)
                if Some(p) != self.current
                    && current_loudness
                        .is_some_and(|cur| self.levels[&p].loudness < cur + SWITCH_MARGIN) =>
            {
                self.current
            }
            Some(p) => Some(p),
            None if now_ms - self.last_speech_ms >= SILENCE_MS => None,
            None => self.current,
        };
        if next == self.current
            || (next.is_some()
                && self.current.is_some()
                && now_ms - self.last_change_ms < MIN_SWITCH_MS)
        {
            return None;
        }
        self.current = next;
        self.last_change_ms = now_ms;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ParticipantId = ParticipantId(1);
    const B: ParticipantId = ParticipantId(2);

    /// Feeds 20 ms packets for `ms` milliseconds and returns the changes seen.
    fn run(
        d: &mut SpeakerDetector,
        from: i64,
        ms: i64,
        a: u8,
        b: u8,
    ) -> Vec<Option<ParticipantId>> {
        let mut changes = Vec::new();
        let mut t = from;
        while t < from + ms {
            d.on_level(A, a, t);
            d.on_level(B, b, t);
            if let Some(c) = d.poll(t) {
                changes.push(c);
            }
            t += 20;
        }
        changes
    }

    #[test]
    fn the_loud_participant_becomes_speaker_then_silence_clears_it() {
        let mut d = SpeakerDetector::default();
        assert_eq!(run(&mut d, 0, 1000, 25, 127), vec![Some(A)]);
        assert_eq!(
            run(&mut d, 1000, 1000, 127, 127),
            vec![],
            "short silence keeps the highlight"
        );
        assert_eq!(run(&mut d, 2000, 2000, 127, 127), vec![None]);
    }

    #[test]
    fn turn_taking_switches_without_flicker() {
        let mut d = SpeakerDetector::default();
        run(&mut d, 0, 1000, 25, 127);
        assert_eq!(run(&mut d, 1000, 1000, 127, 20), vec![Some(B)]);
        // Alternating loudness every packet never produces rapid switches.
        let mut d = SpeakerDetector::default();
        let mut changes = 0;
        for i in 0..200 {
            let t = i * 20;
            let (a, b) = if i % 2 == 0 { (20, 30) } else { (30, 20) };
            d.on_level(A, a, t);
            d.on_level(B, b, t);
            changes += usize::from(d.poll(t).is_some());
        }
        assert!(changes <= 2, "{changes} changes in 4 s");
    }

    #[test]
    fn a_participant_who_left_is_cleared() {
        let mut d = SpeakerDetector::default();
        run(&mut d, 0, 1000, 25, 127);
        d.remove(A);
        assert_eq!(d.poll(1000), None, "current already cleared by remove");
    }
}

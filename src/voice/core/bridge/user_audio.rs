//! The agent's input: the browser's 20 ms chunks while the talk button is held, silence on
//! the agent's chunk clock otherwise or when the browser's audio lags (see
//! [`VoiceBridge::set_talking`]).

use std::time::Instant;

use super::{AgentCommand, TICK, VoiceBridge};
use crate::voice::core::vad::rms;

/// Below this RMS (about -42 dBFS, under the turn detector's speech threshold) a late browser
/// chunk counts as quiet and may be skipped (see [`VoiceBridge::set_talking`]).
const LATE_QUIET_RMS: f64 = 250.0;

impl VoiceBridge {
    /// Sends (held) or discards (released) every complete chunk of browser audio.
    pub(super) fn forward_chunks(&mut self, now: Instant) {
        let due = self.chunks_due(now);
        let Some(inbound) = &mut self.inbound else {
            return;
        };
        if self.talking {
            loop {
                let mut chunk = vec![0; inbound.chunk_samples()];
                if !inbound.pop_chunk(&mut chunk) {
                    break;
                }
                // One chunk ahead of the clock is the browser's phase against it; more means
                // silence was sent for this audio's time already.
                if self.chunks_sent > due + 1 && rms(&chunk) < LATE_QUIET_RMS {
                    self.stats.late_quiet_skipped += 1;
                    continue;
                }
                self.chunks_sent += 1;
                self.stats.chunks_to_agent += 1;
                self.outputs.command(AgentCommand::UserAudio(chunk));
            }
        } else {
            while inbound.pop_chunk(&mut self.scratch) {
                self.stats.discarded_chunks += 1;
            }
        }
    }

    /// Sends silence so that the agent gets one chunk per 20 ms of its chunk clock (minus the
    /// slack allowed while talking). With the talk button released, input that stands ahead
    /// of the clock (late speech sent after silence had filled its time) is forgiven: the clock
    /// moves to where the input is, so the silence after a turn flows at once at real-time
    /// pace. Left ahead, the agent would get nothing at all until the clock caught up, and
    /// would hear the end of the turn that much later.
    pub(super) fn keep_chunk_clock(&mut self, now: Instant) {
        let mut due = self.chunks_due(now);
        if !self.talking
            && self.chunks_sent > due
            && let Some(start) = self.chunk_clock
        {
            let ahead = self.chunks_sent - due;
            if let Some(earlier) = start.checked_sub(TICK * ahead as u32) {
                self.chunk_clock = Some(earlier);
                self.stats.ahead_forgiven += ahead;
                due = self.chunks_due(now);
            }
        }
        let Some(inbound) = &self.inbound else {
            return;
        };
        let slack = if self.talking {
            self.config.held_slack_chunks
        } else {
            0
        };
        while self.chunks_sent + slack < due {
            self.chunks_sent += 1;
            self.stats.chunks_to_agent += 1;
            self.stats.silence_chunks += 1;
            let silence = vec![0; inbound.chunk_samples()];
            self.outputs.command(AgentCommand::UserAudio(silence));
        }
    }

    /// Whole 20 ms periods of the agent's chunk clock elapsed at `now` (0 before `Started`).
    fn chunks_due(&self, now: Instant) -> u64 {
        self.chunk_clock.map_or(0, |start| {
            (now.saturating_duration_since(start).as_nanos() / TICK.as_nanos()) as u64
        })
    }
}

//! The agent's side of playout: serving due ticks of the 20 ms grid with frames of agent
//! audio, holding a tick of flowing audio for a frame that is a little late, starting a
//! talkspurt's grid just after its first audio, and applying the phase aligner's moves.

use std::time::Instant;

use super::{Phase, VoiceBridge};
use crate::voice::core::audio::VoiceMediaError;
use crate::voice::core::pacer::Pacer;

impl VoiceBridge {
    /// Serves every due tick (each sends at most one frame), except a tick held for its late
    /// frame (see [`VoiceBridge::LATE_HOLD`]).
    pub(super) fn play_due_ticks(&mut self, now: Instant) -> Result<(), VoiceMediaError> {
        let mut advance = None;
        loop {
            if self.holds_tick() && now < self.pacer.next_deadline() + Self::LATE_HOLD {
                break;
            }
            let Some(tick) = self.pacer.poll(now) else {
                break;
            };
            self.stats.ticks += 1;
            let frame = match &mut self.outbound {
                Some(outbound) => outbound.next_frame(now)?,
                None => None,
            };
            let Some(frame) = frame else {
                self.phase_aligner.on_gap();
                self.idle_ticks = self.idle_ticks.saturating_add(1);
                if self.idle_ticks >= Self::SPEAKING_HANGOVER_TICKS {
                    self.set_speaking(false);
                }
                continue;
            };
            if frame.tail {
                // The fade-out of a cut reply: sent on the grid, but the agent is not speaking
                // and no talkspurt goes on.
                self.idle_ticks = self.idle_ticks.saturating_add(1);
                let marker = self.pacer.mark_sent(&tick);
                self.stats.fade_frames += 1;
                self.outputs.frame(
                    tick.rtp_timestamp,
                    marker,
                    frame.payload,
                    None,
                    tick.deadline,
                );
                continue;
            }
            self.idle_ticks = 0;
            // A frame whose audio came after its tick's deadline was held for (a shell that
            // merely woke late does not count): it is due from when its audio came, and for
            // the aligner it is a sign that the phase is tight.
            let mut due = tick.deadline;
            if let Some(arrived) = frame.queued_at.filter(|q| *q > tick.deadline) {
                self.stats.held_ticks += 1;
                self.phase_aligner.on_late();
                due = arrived;
            }
            if let Some(queued_at) = frame.queued_at {
                // Measured to when the tick is served (up to Pacer::EARLY before its
                // deadline): the margin is kept against that.
                let wait = now.saturating_duration_since(queued_at);
                advance = self.phase_aligner.on_frame(wait).or(advance);
            }
            let marker = self.pacer.mark_sent(&tick);
            self.stats.frames_sent += 1;
            self.outputs.frame(
                tick.rtp_timestamp,
                marker,
                frame.payload,
                frame.queued_at,
                due,
            );
            self.set_speaking(true);
        }
        if let Some(by) = advance {
            self.pacer.advance(by, now);
            self.stats.grid_moves = self.phase_aligner.moves();
        }
        Ok(())
    }

    /// The first audio after a silence starts a talkspurt: rather than wait for wherever the
    /// old grid's next tick happens to fall (up to a whole tick), the grid is placed just
    /// after this arrival, once a whole frame is queued. The phase aligner starts a fresh
    /// window for it.
    pub(super) fn start_talkspurt(&mut self, now: Instant) {
        let ready = self
            .outbound
            .as_ref()
            .is_some_and(|o| o.queued_frames() > 0);
        if self.idle_ticks >= Self::TALKSPURT_IDLE_TICKS
            && ready
            && self
                .pacer
                .rephase(now + Self::TALKSPURT_LEAD + Pacer::EARLY)
        {
            self.idle_ticks = 0;
            self.phase_aligner.restart();
            self.stats.talkspurts += 1;
        }
    }

    /// Whether the next tick, when due, waits up to [`Self::LATE_HOLD`] for its frame: audio
    /// is flowing (the last tick sent a frame, and the agent has not ended) but no whole frame
    /// is queued yet.
    pub(super) fn holds_tick(&self) -> bool {
        self.idle_ticks == 0
            && matches!(self.phase, Phase::Running)
            && self
                .outbound
                .as_ref()
                .is_some_and(|o| o.queued_frames() == 0)
    }
}

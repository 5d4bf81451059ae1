//! Where the playout grid sits against the agent's audio.
//!
//! The pacer's 20 ms grid starts when the bridge does, at an arbitrary phase against the agent's
//! chunks. When the agent streams at the playout rate (one chunk per 20 ms), each frame waits
//! from its chunk's arrival to the next tick: anything from nothing to a whole tick, fixed for
//! the whole session by that phase; and when arrivals straddle the ticks, jitter makes some
//! chunks miss their tick (an audible gap, then a frame of standing delay).
//!
//! [`PhaseAligner`] watches the waits of a window of frames. Taken modulo a tick, they show
//! where the chunks arrive in the 20 ms cycle: a cluster as wide as the jitter, possibly
//! wrapping around the tick. The latest arrival of the cluster is the one that waits least; if
//! it waited longer than a safety margin, the grid moves earlier by the difference, so the tick
//! lands just after the cluster. Moving earlier never drops or repeats audio: one packet goes
//! out sooner than its timestamp says (by less than a tick, once), which a receiver's jitter
//! buffer absorbs, and every later frame is that much fresher. If the latest arrival is already inside
//! the margin, nothing moves unless ticks went without a frame in the window: then the grid moves
//! later instead (one last gap, then a safe phase). The margin grows with the jitter (the
//! cluster's width), so a jittery agent connection keeps more slack.
//!
//! Whole frames of standing delay are the outbound chain's standing-delay trim's business; a
//! window where some frame waited several ticks (a reply sent ahead of real time) is not a
//! stream at the playout rate and moves nothing. Sans-IO: the caller reports every tick.

use std::time::Duration;

use super::TICK;

/// Sans-IO detector of avoidable playout wait (see the module docs).
#[derive(Debug, Clone)]
pub struct PhaseAligner {
    /// Waits of the current window's frames, in microseconds.
    waits: [u32; Self::WINDOW],
    frames: usize,
    /// Ticks without a frame since the window began.
    gaps: u32,
    /// Ticks without a frame in a row.
    gap_run: u32,
    /// Grid moves made so far.
    moves: u64,
}

impl Default for PhaseAligner {
    fn default() -> Self {
        Self {
            waits: [0; Self::WINDOW],
            frames: 0,
            gaps: 0,
            gap_run: 0,
            moves: 0,
        }
    }
}

impl PhaseAligner {
    /// Frames watched before the grid may move (1 s of audio).
    pub const WINDOW: usize = 50;
    /// Least slack kept before each tick.
    pub const MIN_MARGIN: Duration = Duration::from_millis(3);
    /// Moves smaller than this are not worth it.
    pub const MIN_MOVE: Duration = Duration::from_millis(1);
    /// A window with a frame that waited this long holds a reply sent ahead, not a stream.
    pub const MAX_WAIT: Duration = Duration::from_millis(60);

    pub fn new() -> Self {
        Self::default()
    }

    /// A tick sent a frame whose audio waited `wait` since its chunk arrived; returns how much
    /// earlier the grid should move now (at most once per window).
    pub fn on_frame(&mut self, wait: Duration) -> Option<Duration> {
        self.gap_run = 0;
        self.waits[self.frames] = wait.as_micros().min(u128::from(u32::MAX)) as u32;
        self.frames += 1;
        if self.frames < Self::WINDOW {
            return None;
        }
        let gaps = self.gaps;
        self.frames = 0;
        self.gaps = 0;
        let decision = decide(&mut self.waits, gaps > 0)?;
        self.moves += 1;
        Some(decision)
    }

    /// A tick sent nothing (the queue ran dry, or the agent is silent). A long silence ends the
    /// window: what follows may be a different stream.
    pub fn on_gap(&mut self) {
        self.gaps += 1;
        self.gap_run += 1;
        if self.gap_run as usize > Self::WINDOW {
            self.frames = 0;
            self.gaps = 0;
        }
    }

    /// A tick went out late, held for its frame's late audio: as telling as a gap that the
    /// phase is too tight.
    pub fn on_late(&mut self) {
        self.gaps += 1;
    }

    /// The grid was placed anew (a talkspurt): the waits seen so far no longer apply.
    pub fn restart(&mut self) {
        self.frames = 0;
        self.gaps = 0;
        self.gap_run = 0;
    }

    /// Grid moves made so far.
    pub fn moves(&self) -> u64 {
        self.moves
    }
}

/// The move for one window of waits (µs), given whether ticks went without a frame in it.
fn decide(waits: &mut [u32], gaps: bool) -> Option<Duration> {
    let tick = TICK.as_micros() as u32;
    if waits
        .iter()
        .any(|&w| w >= PhaseAligner::MAX_WAIT.as_micros() as u32)
    {
        return None;
    }
    // Where in the 20 ms cycle each chunk arrived, as its wait modulo a tick.
    for w in waits.iter_mut() {
        *w %= tick;
    }
    waits.sort_unstable();
    // The cluster is everything but the widest empty stretch of the cycle; its first element
    // after that stretch is the latest arrival (the least wait).
    let n = waits.len();
    let (mut widest, mut latest) = (waits[0] + tick - waits[n - 1], waits[0]);
    for pair in waits.windows(2) {
        if pair[1] - pair[0] > widest {
            (widest, latest) = (pair[1] - pair[0], pair[1]);
        }
    }
    let spread = tick - widest;
    let margin = PhaseAligner::MIN_MARGIN.as_micros() as u32 + spread / 4;
    let min_move = PhaseAligner::MIN_MOVE.as_micros() as u32;
    let earlier = if latest >= margin + min_move {
        latest - margin
    } else if latest < margin && gaps {
        // Too tight: some chunk missed its tick. Moving earlier by nearly a tick is moving
        // later by the shortfall.
        latest + tick - margin
    } else {
        return None;
    };
    Some(Duration::from_micros(u64::from(earlier)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    /// Feeds one window of frames (`gaps` ticks without a frame first); returns the move.
    fn window(
        a: &mut PhaseAligner,
        gaps: u32,
        waits: impl Fn(usize) -> Duration,
    ) -> Option<Duration> {
        for _ in 0..gaps {
            a.on_gap();
        }
        let mut result = None;
        for i in 0..PhaseAligner::WINDOW {
            let r = a.on_frame(waits(i));
            assert!(
                r.is_none() || i == PhaseAligner::WINDOW - 1,
                "moves only at the end of a window"
            );
            result = r;
        }
        result
    }

    #[test]
    fn a_steady_wait_moves_the_grid_earlier_by_all_but_the_margin() {
        let mut a = PhaseAligner::new();
        assert_eq!(window(&mut a, 0, |_| ms(15.0)), Some(ms(12.0)));
        assert_eq!(a.moves(), 1);
        // Afterwards the wait is the margin, and nothing more moves.
        assert_eq!(window(&mut a, 0, |_| ms(3.0)), None);
        assert_eq!(a.moves(), 1);
    }

    #[test]
    fn the_margin_grows_with_the_jitter() {
        let mut a = PhaseAligner::new();
        // Waits of 10 to 18 ms: spread 8 ms → margin 3 + 2 ms; the least wait is 10.
        assert_eq!(
            window(&mut a, 0, |i| ms(10.0 + (i % 9) as f64)),
            Some(ms(5.0))
        );
    }

    #[test]
    fn arrivals_straddling_the_tick_are_moved_clear_of_it() {
        let mut a = PhaseAligner::new();
        // Chunks arrive from 3 ms before the tick (wait 3) to 3 ms after it (wait 17, for the
        // next tick), and some missed their tick. The cluster wraps around the tick: its latest
        // arrival waits 17 ms, the spread is 6 ms, so the margin is 4.5 ms.
        let waits = |i: usize| ms([0.0, 1.0, 2.0, 3.0, 17.0, 18.0, 19.0, 19.9][i % 8]);
        assert_eq!(window(&mut a, 4, waits), Some(ms(12.5)));
    }

    #[test]
    fn a_tight_phase_moves_later_only_after_a_missed_tick() {
        let mut a = PhaseAligner::new();
        // The latest arrival waits 1 ms, inside the 3.5 ms margin (waits 1 to 3 ms).
        let waits = |i: usize| ms(1.0 + (i % 3) as f64);
        assert_eq!(window(&mut a, 0, waits), None, "no tick missed: leave it");
        // With a tick missed, 2.5 ms later, that is 17.5 ms earlier.
        assert_eq!(window(&mut a, 1, waits), Some(ms(17.5)));
    }

    #[test]
    fn small_slack_or_a_reply_sent_ahead_is_left_alone() {
        let mut a = PhaseAligner::new();
        assert_eq!(window(&mut a, 0, |_| ms(3.0)), None);
        assert_eq!(window(&mut a, 0, |_| ms(3.9)), None);
        assert_eq!(window(&mut a, 0, |_| Duration::ZERO), None);
        // A reply sent ahead of real time: frames wait far longer than a tick.
        assert_eq!(window(&mut a, 0, |i| ms(200.0 + i as f64)), None);
        assert_eq!(
            window(&mut a, 0, |i| ms(if i == 7 { 61.0 } else { 15.0 })),
            None
        );
        assert_eq!(a.moves(), 0);
    }

    #[test]
    fn a_standing_frame_still_shows_the_phase() {
        let mut a = PhaseAligner::new();
        assert_eq!(window(&mut a, 0, |_| ms(35.0)), Some(ms(12.0)));
    }

    #[test]
    fn a_long_silence_restarts_the_window() {
        let mut a = PhaseAligner::new();
        for _ in 0..PhaseAligner::WINDOW - 1 {
            assert_eq!(a.on_frame(ms(15.0)), None);
        }
        for _ in 0..=PhaseAligner::WINDOW {
            a.on_gap();
        }
        // Without the silence the next frame would end the window; now a whole new one is needed.
        assert_eq!(window(&mut a, 0, |_| ms(15.0)), Some(ms(12.0)));
    }
}

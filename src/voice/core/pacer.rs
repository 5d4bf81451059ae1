//! The 20 ms playout clock of the agent's outgoing track.
//!
//! Deadlines are absolute (`start + n × 20 ms`), never `now + 20 ms`, so a late wake-up does not
//! shift every later tick and the clock cannot drift. A caller that wakes up a little late gets
//! the missed ticks back to back (up to [`Pacer::MAX_CATCH_UP`]), which keeps the send rate equal
//! to the playout rate; after a longer stall the pacer resynchronises to the grid instead of
//! bursting, and counts the skipped ticks. Each tick carries its RTP timestamp, which advances by
//! 960 per tick whether or not a packet was sent, so silence shows up as a timestamp gap and the
//! first packet after it carries the RTP marker bit. After a silence the grid may be placed
//! anew for the next talkspurt ([`Pacer::rephase`]); the timestamps move with it, so they keep
//! following the wall clock. Time is always a parameter.

use std::time::{Duration, Instant};

/// One playout period: 20 ms.
pub const TICK: Duration = Duration::from_millis(20);
/// RTP clock units per tick at 48 kHz.
pub const RTP_UNITS_PER_TICK: u32 = 960;

/// One due tick of the playout clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Tick number since the pacer started (0, 1, 2, ...).
    pub index: u64,
    /// When this tick was due.
    pub deadline: Instant,
    /// RTP timestamp of a packet sent on this tick.
    pub rtp_timestamp: u32,
    /// Ticks skipped just before this one because the caller stalled (0 normally).
    pub skipped: u64,
}

/// Absolute-deadline 20 ms clock (sans-IO: the caller sleeps until [`Pacer::wake_at`]).
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    rtp_base: u32,
    next_index: u64,
    last_sent: Option<u64>,
    missed: u64,
    late: u64,
}

impl Pacer {
    /// Ticks a late caller may still catch up by sending back to back; beyond that it resyncs.
    pub const MAX_CATCH_UP: u64 = 2;
    /// A tick is served from this long before its deadline. tokio's timer works in whole
    /// milliseconds and an idle runtime parks with a rounded-up timeout, so a task sleeping
    /// until the deadline itself sent 1–2 ms late (`parlor_voice_egress_seconds` p50 0.9 ms,
    /// p99 2 ms with one session); waking this much earlier puts the send within about a
    /// millisecond of the deadline, which no receiver's jitter buffer notices.
    pub const EARLY: Duration = Duration::from_millis(2);

    /// A clock whose tick 0 is due at `start`; `rtp_base` is the (random) first RTP timestamp.
    pub fn new(start: Instant, rtp_base: u32) -> Self {
        Self {
            start,
            rtp_base,
            next_index: 0,
            last_sent: None,
            missed: 0,
            late: 0,
        }
    }

    /// When the next tick is due.
    pub fn next_deadline(&self) -> Instant {
        self.deadline(self.next_index)
    }

    /// When the next tick may be served ([`Pacer::EARLY`] before its deadline); sleep until
    /// then and call [`Pacer::poll`].
    pub fn wake_at(&self) -> Instant {
        let deadline = self.next_deadline();
        deadline.checked_sub(Self::EARLY).unwrap_or(deadline)
    }

    /// The next due tick, or `None` when none is due at `now`. Call it in a loop until `None`:
    /// after a short delay it returns the missed ticks one by one; after a stall longer than
    /// [`Pacer::MAX_CATCH_UP`] ticks it skips to the latest due tick and reports `skipped`.
    pub fn poll(&mut self, now: Instant) -> Option<Tick> {
        let now = now + Self::EARLY;
        if now < self.next_deadline() {
            return None;
        }
        let elapsed = now.duration_since(self.start);
        let latest_due = (elapsed.as_nanos() / TICK.as_nanos()) as u64;
        let behind = latest_due - self.next_index;
        let mut skipped = 0;
        if behind > Self::MAX_CATCH_UP {
            skipped = behind;
            self.missed += behind;
            self.next_index = latest_due;
        } else if behind > 0 {
            self.late += 1;
        }
        let index = self.next_index;
        self.next_index += 1;
        Some(Tick {
            index,
            deadline: self.deadline(index),
            rtp_timestamp: self.rtp_timestamp(index),
            skipped,
        })
    }

    /// Records that a packet was sent on `tick`; returns its RTP marker bit (set on the first
    /// packet after silence, including the very first packet).
    pub fn mark_sent(&mut self, tick: &Tick) -> bool {
        let marker = tick.index == 0 || self.last_sent != Some(tick.index - 1);
        self.last_sent = Some(tick.index);
        marker
    }

    /// Moves every later deadline `by` earlier (see `bridge::phase`), as far as `now`: the
    /// next tick is then due at `now` at the soonest. Tick numbers and RTP timestamps go on
    /// unchanged, so the stream stays continuous.
    pub fn advance(&mut self, by: Duration, now: Instant) {
        let room = self.next_deadline().saturating_duration_since(now);
        if let Some(start) = self.start.checked_sub(by.min(room)) {
            self.start = start;
        }
    }

    /// Starts a talkspurt: the next tick becomes due at `due` (earlier or later than on the old
    /// grid) and the grid goes on from there. The RTP timestamps move by the same amount, so
    /// they keep following the wall clock across the silence. Refused (`false`) unless no
    /// packet went out on the previous two ticks, which keeps the timestamps increasing by at
    /// least a frame; `due` must lie within a tick of the old deadline.
    pub fn rephase(&mut self, due: Instant) -> bool {
        let old = self.next_deadline();
        let gap = self
            .last_sent
            .is_none_or(|last| self.next_index >= last + 3);
        let near = due.max(old).duration_since(due.min(old)) < TICK;
        let start = u32::try_from(self.next_index)
            .ok()
            .and_then(|n| due.checked_sub(TICK * n));
        let Some(start) = start.filter(|_| gap && near) else {
            return false;
        };
        // 48 RTP units per millisecond; `near` bounds the shift to under 960 units.
        let units = |d: Duration| (d.as_micros() * 48 / 1000) as u32;
        self.rtp_base = if due >= old {
            self.rtp_base.wrapping_add(units(due - old))
        } else {
            self.rtp_base.wrapping_sub(units(old - due))
        };
        self.start = start;
        true
    }

    /// Ticks skipped after stalls (nothing could be sent for them).
    pub fn missed_ticks(&self) -> u64 {
        self.missed
    }

    /// Ticks served after the following tick was already due (caught up back to back).
    pub fn late_ticks(&self) -> u64 {
        self.late
    }

    /// Number of ticks handed out or skipped so far.
    pub fn ticks_elapsed(&self) -> u64 {
        self.next_index
    }

    fn deadline(&self, index: u64) -> Instant {
        self.start + Duration::from_millis(20 * index)
    }

    /// The RTP timestamp of the first tick due at or after `now`: a clock that replaces this
    /// one at `now` (a reconnected agent) starts there, so the track's timeline stays
    /// continuous.
    pub fn rtp_timestamp_from(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        let index = elapsed.div_ceil(TICK.as_nanos()) as u64;
        self.rtp_timestamp(index.max(self.next_index))
    }

    fn rtp_timestamp(&self, index: u64) -> u32 {
        // Wraps modulo 2^32 as RTP timestamps do.
        self.rtp_base
            .wrapping_add((index as u32).wrapping_mul(RTP_UNITS_PER_TICK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift for jittered polling.
    fn next_rand(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn drain(pacer: &mut Pacer, now: Instant) -> Vec<Tick> {
        std::iter::from_fn(|| pacer.poll(now)).collect()
    }

    #[test]
    fn exactly_fifty_ticks_per_simulated_second() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 0);
        let mut ticks = 0;
        // Poll every millisecond through one second (tick 50, due at exactly 1 s, may be served
        // from 998 ms).
        for ms in 0..998 {
            ticks += drain(&mut pacer, t0 + Duration::from_millis(ms)).len();
        }
        assert_eq!(ticks, 50);
        assert_eq!(pacer.missed_ticks(), 0);
        assert_eq!(pacer.late_ticks(), 0);
    }

    #[test]
    fn advancing_moves_later_deadlines_earlier_without_skipping_a_tick() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 7);
        assert_eq!(pacer.poll(t0).map(|t| t.index), Some(0));
        pacer.advance(Duration::from_millis(12), t0 + Duration::from_millis(1));
        assert_eq!(pacer.next_deadline(), t0 + Duration::from_millis(8));
        let tick = pacer.poll(t0 + Duration::from_millis(8)).unwrap();
        assert_eq!(
            (tick.index, tick.rtp_timestamp, tick.skipped),
            (1, 7 + 960, 0)
        );
        assert_eq!(pacer.next_deadline(), t0 + Duration::from_millis(28));
        // Never past `now`: the next tick becomes due at once, and nothing is skipped.
        let now = t0 + Duration::from_millis(25);
        pacer.advance(Duration::from_millis(19), now);
        assert_eq!(pacer.next_deadline(), now);
        let tick = pacer.poll(now).unwrap();
        assert_eq!((tick.index, tick.skipped), (2, 0));
        assert!(pacer.poll(now).is_none());
        assert_eq!((pacer.missed_ticks(), pacer.late_ticks()), (0, 0));
    }

    #[test]
    fn nothing_is_due_before_the_deadline_less_the_early_allowance() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 0);
        assert!(pacer.poll(t0).is_some());
        assert_eq!(pacer.next_deadline(), t0 + TICK);
        assert_eq!(pacer.wake_at(), t0 + TICK - Pacer::EARLY);
        assert!(
            pacer
                .poll(pacer.wake_at() - Duration::from_micros(1))
                .is_none()
        );
        let tick = pacer.poll(pacer.wake_at()).unwrap();
        assert_eq!((tick.index, tick.deadline), (1, t0 + TICK));
    }

    #[test]
    fn jittered_polling_for_ten_minutes_does_not_drift() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 12345);
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut count = 0u64;
        let end = Duration::from_secs(600);
        // The caller sleeps until the deadline and wakes up 0–15 ms late.
        loop {
            let wake = pacer.next_deadline() + Duration::from_micros(next_rand(&mut rng) % 15_000);
            if wake.duration_since(t0) >= end {
                break;
            }
            for tick in drain(&mut pacer, wake) {
                assert_eq!(tick.index, count, "ticks are consecutive");
                assert_eq!(tick.deadline, t0 + Duration::from_millis(20 * count));
                assert_eq!(
                    tick.rtp_timestamp,
                    12345u32.wrapping_add(960 * count as u32)
                );
                count += 1;
            }
        }
        // 600 s at 50 ticks/s; the last deadline before 600 s is tick 29_999.
        assert!((29_999..=30_000).contains(&count), "{count}");
        assert_eq!(pacer.missed_ticks(), 0);
    }

    #[test]
    fn short_lateness_is_caught_up_back_to_back() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 0);
        assert_eq!(drain(&mut pacer, t0).len(), 1);
        // 45 ms late for tick 1: ticks 1 and 2 are due and both are served.
        let ticks = drain(&mut pacer, t0 + Duration::from_millis(45));
        assert_eq!(ticks.iter().map(|t| t.index).collect::<Vec<_>>(), [1, 2]);
        assert!(ticks.iter().all(|t| t.skipped == 0));
        assert_eq!(pacer.late_ticks(), 1);
        assert_eq!(pacer.missed_ticks(), 0);
        assert_eq!(pacer.next_deadline(), t0 + Duration::from_millis(60));
    }

    #[test]
    fn a_long_stall_resynchronises_and_counts_missed_ticks() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 1000);
        assert_eq!(drain(&mut pacer, t0).len(), 1);
        // Stalled for 205 ms: ticks 1..=10 were due; 1..=9 are skipped, tick 10 is served.
        let ticks = drain(&mut pacer, t0 + Duration::from_millis(205));
        assert_eq!(ticks.len(), 1);
        assert_eq!(ticks[0].index, 10);
        assert_eq!(ticks[0].skipped, 9);
        assert_eq!(ticks[0].rtp_timestamp, 1000 + 9600);
        assert_eq!(pacer.missed_ticks(), 9);
        // Still on the original grid.
        assert_eq!(pacer.next_deadline(), t0 + Duration::from_millis(220));
    }

    #[test]
    fn marker_is_set_on_the_first_packet_after_silence() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 0);
        let mut markers = Vec::new();
        // Send on ticks 0,1,2, silence on 3,4, send on 5,6.
        for i in 0..7u64 {
            let tick = pacer.poll(t0 + Duration::from_millis(20 * i)).unwrap();
            if !(3..=4).contains(&i) {
                markers.push(pacer.mark_sent(&tick));
            }
        }
        assert_eq!(markers, [true, false, false, true, false]);
    }

    #[test]
    fn a_successor_clock_continues_the_timeline() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 1000);
        while pacer.poll(t0 + TICK * 3).is_some() {}
        // Replaced 10 ms into tick 4: the successor's tick 0 is tick 5 of this timeline.
        let at = t0 + TICK * 4 + Duration::from_millis(10);
        assert_eq!(pacer.rtp_timestamp_from(at), 1000 + 5 * 960);
        let mut next = Pacer::new(at, pacer.rtp_timestamp_from(at));
        assert_eq!(next.poll(at).unwrap().rtp_timestamp, 1000 + 5 * 960);
    }

    #[test]
    fn a_talkspurt_rephases_the_grid_and_the_timestamps_after_silence() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, 1000);
        let first = pacer.poll(t0).unwrap();
        pacer.mark_sent(&first);
        // Sent on tick 0 only: a rephase before tick 2 would leave too little timestamp room.
        pacer.poll(t0 + TICK).unwrap();
        assert!(!pacer.rephase(t0 + Duration::from_millis(33)));
        pacer.poll(t0 + TICK * 2).unwrap();
        // Tick 3 was due at 60 ms; audio arrived at 47 ms and plays from 53 ms.
        assert!(pacer.rephase(t0 + Duration::from_millis(53)));
        assert_eq!(pacer.next_deadline(), t0 + Duration::from_millis(53));
        let tick = pacer.poll(t0 + Duration::from_millis(51)).unwrap();
        assert_eq!((tick.index, tick.skipped), (3, 0));
        // 53 ms after tick 0 on the RTP clock too: 53 × 48 units.
        assert_eq!(tick.rtp_timestamp, 1000 + 53 * 48);
        assert!(
            pacer.mark_sent(&tick),
            "a talkspurt starts with the marker bit"
        );
        assert!(pacer.poll(t0 + Duration::from_millis(70)).is_none());
        let next = pacer.poll(t0 + Duration::from_millis(71)).unwrap();
        assert_eq!(next.rtp_timestamp, 1000 + 73 * 48);
        // Later works too, and a due time more than a tick away is refused.
        for i in 0..3 {
            pacer.poll(t0 + Duration::from_millis(91 + 20 * i)).unwrap();
        }
        assert!(!pacer.rephase(pacer.next_deadline() + TICK));
        let due = pacer.next_deadline() + Duration::from_millis(5);
        assert!(pacer.rephase(due));
        assert_eq!(
            pacer.poll(due).unwrap().rtp_timestamp,
            1000 + (due - t0).as_millis() as u32 * 48
        );
        assert_eq!((pacer.missed_ticks(), pacer.late_ticks()), (0, 0));
    }

    #[test]
    fn rtp_timestamp_wraps() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(t0, u32::MAX - 100);
        let a = pacer.poll(t0).unwrap();
        let b = pacer.poll(t0 + TICK).unwrap();
        assert_eq!(b.rtp_timestamp, a.rtp_timestamp.wrapping_add(960));
        assert!(b.rtp_timestamp < a.rtp_timestamp);
    }
}

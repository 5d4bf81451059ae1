//! Playout latency of the bridge under real-time-rate agent audio (streaming echo), driven with a
//! fake clock the way the tokio shell drives it: agent chunks of 20 ms at 16 kHz arrive every
//! 20 ms with jitter and a random phase against the pacer's ticks; the bridge is ticked at every
//! `poll_timeout`. Per chunk, the test measures the time from its push to the send of the frame
//! carrying its first sample, and checks that the grid moves to just after the arrivals
//! whatever their phase, that no standing backlog builds up, and that a reply sent faster than
//! real time is still played completely.

use std::collections::HashMap;

use super::*;
use crate::voice::core::audio::test_signal::{Rng, sine};
use crate::voice::core::events::{AudioCodec, AudioFormat};

/// Samples of one 20 ms chunk at 16 kHz.
const CHUNK: usize = 320;

fn start(bridge: &mut VoiceBridge, now: Instant) {
    let fmt = AudioFormat {
        codec: AudioCodec::Pcm16,
        sample_rate: 16_000,
    };
    let started = AgentEvent::Started {
        conversation_id: "c".into(),
        input: fmt,
        output: fmt,
    };
    bridge.on_agent_event(started, now).unwrap();
}

/// Sends of the frames output so far: (when, the push instant the frame carries).
fn drain_frames(
    bridge: &mut VoiceBridge,
    now: Instant,
    sent: &mut Vec<(Instant, Option<Instant>)>,
) {
    while let Some(out) = bridge.poll_output() {
        if let BridgeOutput::Frame { queued_at, .. } = out {
            sent.push((now, queued_at));
        }
    }
}

/// What one simulated streaming-echo session measured.
struct Run {
    /// Per chunk: push → send of the frame carrying its first sample (`None` for the few
    /// chunks whose start went into the second half of a crossfaded trim).
    by_chunk: Vec<Option<Duration>>,
    /// The measured ones.
    delays: Vec<Duration>,
    /// Ticks without a frame between the first frame and the last (audible gaps).
    underruns: u32,
    /// Of which after the first two seconds (once the grid has settled).
    settled_underruns: u32,
    stats: BridgeStats,
}

/// `seconds` of real-time agent audio: chunk `k` arrives at `phase + 20 ms × k ± jitter`
/// (uniform); every `stall_every` chunks (0: never) the agent stalls for `stall` and then sends
/// the held-back chunks at once, as a congested socket does.
fn stream(
    seed: u64,
    phase: Duration,
    jitter_us: u64,
    seconds: u64,
    stall_every: u64,
    stall: Duration,
) -> Run {
    let t0 = Instant::now();
    let mut rng = Rng::new(seed);
    let first = t0 + Duration::from_millis(200) + phase;
    let chunks = seconds * 50;
    let mut arrivals: Vec<Instant> = (0..chunks)
        .map(|k| {
            let jitter = rng.range(0, 2 * jitter_us as usize) as i64 - jitter_us as i64;
            let nominal = first + TICK * k as u32;
            if jitter >= 0 {
                nominal + Duration::from_micros(jitter as u64)
            } else {
                nominal - Duration::from_micros((-jitter) as u64)
            }
        })
        .collect();
    if stall_every > 0 {
        let stalled = (stall.as_millis() / TICK.as_millis()) as u64;
        for k in (stall_every..chunks).step_by(stall_every as usize) {
            let release = arrivals[k as usize] + stall;
            for j in k..(k + stalled).min(chunks) {
                arrivals[j as usize] = arrivals[j as usize].max(release);
            }
        }
    }
    let pushed: HashMap<Instant, usize> =
        arrivals.iter().enumerate().map(|(k, &t)| (t, k)).collect();
    let (sent, stats) = play(t0, &arrivals, CHUNK);
    let gaps = |w: &[(Instant, Option<Instant>)]| {
        ((w[1].0 - w[0].0).as_micros() / TICK.as_micros()).saturating_sub(1) as u32
    };
    let underruns = sent.windows(2).map(gaps).sum();
    let settled_underruns = sent
        .windows(2)
        .filter(|w| w[0].0 >= first + Duration::from_secs(2))
        .map(gaps)
        .sum();
    let mut delays = vec![None; arrivals.len()];
    for (at, queued) in sent {
        if let Some(k) = queued.and_then(|q| pushed.get(&q)) {
            delays[*k].get_or_insert(at - arrivals[*k]);
        }
    }
    Run {
        delays: delays.iter().flatten().copied().collect(),
        by_chunk: delays,
        underruns,
        settled_underruns,
        stats,
    }
}

/// Pushes `samples` of a continuous tone at each of `arrivals` (sorted) into a started bridge
/// whose clock began at `t0`, ticking it at every `poll_timeout` as the shell does, until a
/// second after the last push and the queue is empty; returns the frames sent (when, push instant carried) and the
/// counters.
fn play(
    t0: Instant,
    arrivals: &[Instant],
    samples: usize,
) -> (Vec<(Instant, Option<Instant>)>, BridgeStats) {
    let mut bridge = VoiceBridge::new(t0, BridgeConfig::default());
    start(&mut bridge, t0);
    let mut sent = Vec::new();
    let mut next = 0;
    let end = arrivals[arrivals.len() - 1] + Duration::from_secs(1);
    let mut now = t0;
    loop {
        // A timeout already past (a tick whose frame just arrived) is served at once.
        let tick = bridge.poll_timeout().max(now);
        if next < arrivals.len() && arrivals[next] < tick {
            now = arrivals[next];
            let pcm = sine(300.0, 16_000, 8000.0, next * samples, samples);
            bridge
                .on_agent_event(AgentEvent::Audio { event_id: 1, pcm }, now)
                .unwrap();
            drain_frames(&mut bridge, now, &mut sent);
            next += 1;
        } else if tick <= end || !bridge.queued_playout().is_zero() {
            now = tick;
            bridge.on_tick(tick).unwrap();
            drain_frames(&mut bridge, tick, &mut sent);
        } else {
            break;
        }
    }
    (sent, bridge.stats())
}

fn percentile(delays: &[Duration], p: f64) -> Duration {
    let mut sorted = delays.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Resampler delay of 16 → 48 kHz (60 samples at 48 kHz).
const RESAMPLER_DELAY: Duration = Duration::from_micros(1250);

#[test]
fn real_time_agent_audio_waits_only_the_jitter_margin_whatever_the_phase() {
    // Phases: arrivals straddling the tick, just after it, mid-way, just before it; ±3 ms of
    // jitter.
    for (seed, phase_us) in [(5, 0u64), (2, 3_500), (3, 10_000), (4, 16_500)] {
        let run = stream(
            seed,
            Duration::from_micros(phase_us),
            3_000,
            600,
            0,
            Duration::ZERO,
        );
        // Once the grid has settled (the first window is a second long).
        let settled: Vec<Duration> = run.by_chunk[100..].iter().flatten().copied().collect();
        let (p50, p99) = (percentile(&settled, 0.5), percentile(&settled, 0.99));
        let max = settled.iter().max().copied().unwrap();
        eprintln!(
            "phase {phase_us} us: p50 {p50:?} p99 {p99:?} max {max:?} trims {} grid moves {}",
            run.stats.outbound.standing_trims, run.stats.grid_moves
        );
        assert_eq!(run.delays.len(), 30_000);
        // The margin (3 ms + a quarter of the 6 ms jitter) plus the jitter itself.
        assert!(
            max <= Duration::from_micros(10_500) + RESAMPLER_DELAY,
            "phase {phase_us} us: max {max:?}"
        );
        assert!(
            p50 <= Duration::from_millis(8),
            "phase {phase_us} us: p50 {p50:?}"
        );
        assert!(
            run.stats.grid_moves <= 2,
            "{} grid moves",
            run.stats.grid_moves
        );
        assert_eq!(run.stats.missed_ticks, 0);
        // Arrivals close to the tick miss a few ticks until the grid has moved; none after.
        assert!(
            run.underruns <= 10,
            "phase {phase_us} us: {} underruns",
            run.underruns
        );
        assert_eq!(run.settled_underruns, 0, "phase {phase_us} us");
    }
}

#[test]
fn the_backlog_left_by_agent_stalls_drains_instead_of_standing() {
    // The agent stalls 50 ms every 10 s and then sends the held chunks at once; the two frames
    // this leaves queued used to stay for good (+40 ms per stall). Chunks arrive straddling
    // the tick (phase 0), the worst case for the jitter.
    let run = stream(
        1,
        Duration::ZERO,
        3_000,
        600,
        500,
        Duration::from_millis(50),
    );
    let settled: Vec<Duration> = run
        .by_chunk
        .chunks(500)
        .flat_map(|between_stalls| between_stalls[250..].iter().flatten().copied())
        .collect();
    let (p50, p99) = (percentile(&run.delays, 0.5), percentile(&settled, 0.99));
    let (stalls, trims) = (59, run.stats.outbound.standing_trims);
    eprintln!(
        "stalls: p50 {p50:?}, p99 5 s after a stall {p99:?}, trims {trims}, underruns {}",
        run.underruns
    );
    // A 50 ms stall makes at most three ticks go without a frame (the grid sits just after
    // the arrivals), so at most three frames stand afterwards, and the gaps the stall makes are
    // all that is heard: a trim never takes a frame that a later tick then misses.
    assert!(trims <= 3 * stalls, "{trims} trims");
    assert!(
        run.underruns <= 3 * stalls as u32,
        "{} underruns",
        run.underruns
    );
    // The grid settles just after the arrivals (margin 3 ms + a quarter of the 6 ms jitter).
    assert!(p50 <= Duration::from_millis(10), "p50 {p50:?}");
    assert!(
        p99 <= Duration::from_micros(10_500) + RESAMPLER_DELAY,
        "p99 {p99:?}"
    );
}

/// Frames a reply of `seconds` needs, sent as `chunk_ms` chunks every `every_ms`; checks that
/// every one of them was played and none trimmed.
fn assert_played_completely(seconds: u64, chunk_ms: u64, arrivals: &[Instant], t0: Instant) {
    let (sent, stats) = play(t0, arrivals, 16 * chunk_ms as usize);
    let expected = (seconds * 50) as usize;
    // The resampler delay and the completed last frame add one frame at most.
    assert!(
        (expected..=expected + 1).contains(&sent.len()),
        "{} frames for {expected}",
        sent.len()
    );
    assert_eq!(stats.outbound.standing_trims, 0);
    assert_eq!(stats.outbound.overflow_drops, 0);
}

#[test]
fn a_reply_sent_faster_than_real_time_is_played_completely() {
    // 8 s of reply in 100 ms chunks, one every 25 ms (4× real time), with pauses in between.
    let t0 = Instant::now();
    let first = t0 + Duration::from_millis(200);
    let arrivals: Vec<Instant> = (0..80u32)
        .map(|k| first + Duration::from_millis(25) * k + Duration::from_millis(300) * (k / 20))
        .collect();
    assert_played_completely(8, 100, &arrivals, t0);
}

#[test]
fn a_reply_with_a_long_lead_then_bursts_at_real_time_is_played_completely() {
    // The first second at once, then the remaining 9 s as 200 ms chunks every 200 ms (real
    // time on average): the queue holds about a second, swinging by ten frames with each
    // chunk, which is an agent's lead, not standing delay to remove.
    let t0 = Instant::now();
    let first = t0 + Duration::from_millis(200);
    let arrivals: Vec<Instant> = (0..50u32)
        .map(|k| first + Duration::from_millis(200) * k.saturating_sub(5))
        .collect();
    assert_played_completely(10, 200, &arrivals, t0);
}

#[test]
fn a_third_of_a_second_left_by_an_upstream_stall_drains_within_three_seconds() {
    // Real-time chunks; once, at 5 s, the stream stops for 320 ms and the held 16 chunks
    // then come at once (the agent, or the browser's audio it echoes, stalled). The 16
    // frames left queued are removed within about three seconds, two frames crossfaded
    // into one at a time, at most one in five ticks.
    let run = stream(
        3,
        Duration::from_millis(10),
        1_000,
        10,
        250,
        Duration::from_millis(320),
    );
    let trims = run.stats.outbound.standing_trims;
    let before: Vec<Duration> = run.by_chunk[200..250].iter().flatten().copied().collect();
    let after: Vec<Duration> = run.by_chunk[400..500].iter().flatten().copied().collect();
    let (p99_before, p99_after) = (percentile(&before, 0.99), percentile(&after, 0.99));
    eprintln!("trims {trims}: p99 before {p99_before:?}, 3 s after the stall {p99_after:?}");
    assert!((13..=20).contains(&trims), "{trims} trims");
    assert!(
        p99_after <= p99_before + TICK,
        "{p99_before:?} then {p99_after:?}"
    );
    // Nothing went missing except what the stall itself held back.
    assert!(run.underruns <= 16, "{} underruns", run.underruns);
}

/// Frames sent: (when, the push instant the frame carries).
type Sends = Vec<(Instant, Option<Instant>)>;

/// Real-time chunks every 20 ms from 200 ms, chunk `late` arriving `by` after its time; the
/// arrivals and what [`play`] saw.
fn with_one_late_chunk(late: usize, by: Duration) -> (Vec<Instant>, Sends, BridgeStats) {
    let t0 = Instant::now();
    let first = t0 + Duration::from_millis(200);
    let arrivals: Vec<Instant> = (0..150)
        .map(|k| first + TICK * k as u32 + if k == late { by } else { Duration::ZERO })
        .collect();
    let (sent, stats) = play(t0, &arrivals, CHUNK);
    (arrivals, sent, stats)
}

/// When the frame carrying chunk `k` left, counted from the chunk's arrival.
fn wait_of(k: usize, arrivals: &[Instant], sent: &[(Instant, Option<Instant>)]) -> Duration {
    let (at, _) = sent
        .iter()
        .find(|(_, q)| *q == Some(arrivals[k]))
        .expect("chunk played");
    *at - arrivals[k]
}

#[test]
fn a_chunk_late_for_its_tick_leaves_on_arrival_without_standing_delay() {
    // The talkspurt's grid serves each frame 4 ms after its chunk. Chunk 75 comes 9 ms late,
    // after its tick was due: the tick waits for it instead of going out empty.
    let (arrivals, sent, stats) = with_one_late_chunk(75, Duration::from_millis(9));
    assert_eq!(stats.held_ticks, 1);
    assert_eq!(wait_of(75, &arrivals, &sent), Duration::ZERO);
    // No tick went without a frame, and the chunks after it wait no longer than before.
    assert!(sent.windows(2).all(|w| w[1].0 - w[0].0 < TICK * 2));
    assert_eq!(wait_of(76, &arrivals, &sent), wait_of(74, &arrivals, &sent));
    assert_eq!(stats.outbound.standing_trims, 0);
}

#[test]
fn a_tick_waits_for_late_audio_only_so_long() {
    // 16 ms late is past the hold (8 ms after a deadline 6 ms after the chunk's time): the
    // tick goes out empty, and the chunks after it stand a frame behind until the trim.
    let (arrivals, sent, stats) = with_one_late_chunk(75, Duration::from_millis(16));
    assert_eq!(stats.held_ticks, 0);
    let gaps = sent
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 >= TICK * 2)
        .count();
    assert_eq!(gaps, 1);
    assert!(wait_of(76, &arrivals, &sent) >= wait_of(74, &arrivals, &sent) + TICK / 2);
    assert_eq!(stats.outbound.standing_trims, 1);
}

#[test]
fn a_shell_that_wakes_late_is_not_a_held_tick() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut bridge = VoiceBridge::new(t0, BridgeConfig::default());
    start(&mut bridge, t0);
    // 100 ms of audio at 10 ms starts a talkspurt whose first tick is due at 16 ms.
    let pcm = sine(300.0, 16_000, 8000.0, 0, 1600);
    bridge
        .on_agent_event(AgentEvent::Audio { event_id: 1, pcm }, t0 + ms(10))
        .unwrap();
    // The shell wakes 5 ms after that deadline: the frame was ready, so it is due at 16 ms.
    bridge.on_tick(t0 + ms(21)).unwrap();
    let mut dues = Vec::new();
    while let Some(out) = bridge.poll_output() {
        if let BridgeOutput::Frame { due, .. } = out {
            dues.push(due);
        }
    }
    assert_eq!(dues, [t0 + ms(16)]);
    assert_eq!(bridge.stats().held_ticks, 0);
}

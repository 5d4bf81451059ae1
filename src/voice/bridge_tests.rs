//! The bridge driven with a fake clock: pacing, barge-in, the event-id rule, the agent's chunk
//! clock with the talk button, transcripts and the end of a session.

use super::*;
use crate::voice::events::{AudioCodec, AudioFormat};
use crate::voice::media::opus_codec::{MAX_PACKET_BYTES, OpusEncoder};
use crate::voice::media::test_signal::sine;

/// An owned copy of one output, so tests can collect them.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Agent(AgentCommand),
    Frame { ts: u32, marker: bool },
    Text(Transcript),
    End(EndReason),
}

struct Harness {
    bridge: VoiceBridge,
    t0: Instant,
    now: Instant,
    browser: Vec<Vec<u8>>,
    /// One Opus packet of silence.
    quiet: Vec<u8>,
    seq: u16,
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        let pcm = sine(1000.0, 48_000, 8000.0, 0, 48_000);
        let mut enc = OpusEncoder::new().unwrap();
        let mut buf = vec![0u8; MAX_PACKET_BYTES];
        let browser = pcm
            .chunks(960)
            .map(|f| {
                let n = enc.encode(f, &mut buf).unwrap();
                buf[..n].to_vec()
            })
            .collect();
        // Silence from an encoder that has only ever seen silence.
        let mut quiet_enc = OpusEncoder::new().unwrap();
        let mut n = 0;
        for _ in 0..5 {
            n = quiet_enc.encode(&[0; 960], &mut buf).unwrap();
        }
        let quiet = buf[..n].to_vec();
        let config = BridgeConfig {
            rtp_base: 1000,
            ..BridgeConfig::default()
        };
        Self {
            bridge: VoiceBridge::new(t0, config),
            t0,
            now: t0,
            browser,
            quiet,
            seq: 0,
        }
    }

    fn event(&mut self, event: AgentEvent) -> Vec<Out> {
        self.bridge.on_agent_event(event, self.now).unwrap();
        self.drain()
    }

    fn start(&mut self, input: u32, output: u32) -> Vec<Out> {
        let fmt = |rate| AudioFormat {
            codec: AudioCodec::Pcm16,
            sample_rate: rate,
        };
        self.event(AgentEvent::Started {
            conversation_id: "c1".into(),
            input: fmt(input),
            output: fmt(output),
        })
    }

    /// Agent speech: `ms` of a tone at 16 kHz with `event_id`.
    fn speech(&mut self, event_id: u64, ms: usize) -> Vec<Out> {
        let pcm = sine(300.0, 16_000, 8000.0, 0, 16 * ms);
        self.event(AgentEvent::Audio { event_id, pcm })
    }

    fn rtp(&mut self) -> Vec<Out> {
        let packet = self.browser[usize::from(self.seq) % 50].clone();
        self.send(packet)
    }

    /// A browser packet of silence.
    fn rtp_quiet(&mut self) -> Vec<Out> {
        self.send(self.quiet.clone())
    }

    fn send(&mut self, packet: Vec<u8>) -> Vec<Out> {
        self.bridge
            .on_client_rtp(self.seq, u32::from(self.seq) * 960, &packet, self.now);
        self.seq = self.seq.wrapping_add(1);
        self.drain()
    }

    /// Runs the clock to `t0 + ms`, calling `on_tick` at every requested timeout.
    fn run_to(&mut self, ms: u64) -> Vec<Out> {
        let end = self.t0 + Duration::from_millis(ms);
        let mut out = Vec::new();
        while self.bridge.poll_timeout() <= end {
            self.now = self.now.max(self.bridge.poll_timeout());
            self.bridge.on_tick(self.now).unwrap();
            out.extend(self.drain());
        }
        self.now = end;
        out
    }

    /// One tick exactly at `t0 + ms`.
    fn tick_at(&mut self, ms: u64) -> Vec<Out> {
        self.now = self.t0 + Duration::from_millis(ms);
        self.bridge.on_tick(self.now).unwrap();
        self.drain()
    }

    fn drain(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        while let Some(o) = self.bridge.poll_output() {
            out.push(match o {
                BridgeOutput::ToAgent(c) => Out::Agent(c),
                BridgeOutput::Frame {
                    rtp_timestamp,
                    marker,
                    payload,
                    ..
                } => {
                    assert!(!payload.is_empty());
                    Out::Frame {
                        ts: rtp_timestamp,
                        marker,
                    }
                }
                BridgeOutput::Transcript(t) => Out::Text(t),
                BridgeOutput::Ended(r) => Out::End(r),
            });
        }
        out
    }
}

fn frames(out: &[Out]) -> Vec<(u32, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Frame { ts, marker } => Some((*ts, *marker)),
            _ => None,
        })
        .collect()
}

fn chunks(out: &[Out]) -> Vec<&Vec<i16>> {
    out.iter()
        .filter_map(|o| match o {
            Out::Agent(AgentCommand::UserAudio(c)) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_reaches_the_agent_before_started() {
    let mut h = Harness::new();
    h.bridge.set_talking(true);
    let mut out = Vec::new();
    for i in 0..10 {
        out.extend(h.run_to(20 * i));
        out.extend(h.rtp());
        out.extend(h.speech(1, 20));
    }
    out.extend(h.run_to(300));
    assert_eq!(out, []);
    assert_eq!(h.bridge.stats().packets_ignored, 10);
    // Started: the held button is announced, and audio flows from now on.
    assert_eq!(
        h.start(16_000, 16_000),
        [Out::Agent(AgentCommand::UserActivity)]
    );
    assert_eq!(chunks(&h.rtp()).len(), 1);
}

#[test]
fn released_talk_button_sends_exactly_one_zero_chunk_per_20ms() {
    for (rate, size) in [(16_000, 320), (22_050, 441), (8_000, 160), (44_100, 882)] {
        let mut h = Harness::new();
        h.start(rate, 16_000);
        for i in 1..=50u64 {
            // The browser keeps sending; it is discarded.
            h.now = h.t0 + Duration::from_millis(20 * i - 10);
            let out = h.rtp();
            assert_eq!(out, [], "{rate}: browser audio leaked while released");
            let out = h.tick_at(20 * i);
            let c = chunks(&out);
            assert_eq!(c.len(), 1, "{rate}: tick {i}");
            assert_eq!(c[0].len(), size);
            assert!(c[0].iter().all(|&s| s == 0));
        }
        let stats = h.bridge.stats();
        assert_eq!((stats.chunks_to_agent, stats.silence_chunks), (50, 50));
        assert_eq!(stats.discarded_chunks, 50);
    }
}

#[test]
fn held_talk_button_sends_real_chunks_at_once_and_no_silence() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    assert_eq!(h.drain(), []);
    h.bridge.set_talking(true);
    assert_eq!(h.drain(), [Out::Agent(AgentCommand::UserActivity)]);
    let mut sent = 0;
    for i in 0..50u64 {
        h.now = h.t0 + Duration::from_millis(20 * i + 5);
        let c = h.rtp();
        let c = chunks(&c);
        assert_eq!(c.len(), 1, "packet {i} gave no chunk at once");
        assert!(c[0].iter().any(|&s| s != 0));
        sent += 1;
        assert_eq!(chunks(&h.tick_at(20 * (i + 1))).len(), 0);
    }
    assert_eq!(sent, 50);
    assert_eq!(h.bridge.stats().silence_chunks, 0);
}

/// The talk button held, 10 browser packets, then the browser goes quiet at 200 ms while the
/// clock runs to 1 s; returns the harness and the outputs from 200 ms on.
fn browser_stops_while_held() -> (Harness, Vec<Out>) {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.bridge.set_talking(true);
    for i in 0..10u64 {
        h.now = h.t0 + Duration::from_millis(20 * i + 1);
        h.rtp();
    }
    let mut out = h.run_to(1000);
    out.extend(h.tick_at(1000));
    (h, out)
}

#[test]
fn held_talk_button_fills_silence_when_the_browser_stops() {
    // The chunk clock allows 3 chunks of lag, then fills.
    let (mut h, out) = browser_stops_while_held();
    let c = chunks(&out);
    assert!(c.iter().all(|c| c.iter().all(|&s| s == 0)));
    // 50 chunks due at 1 s, 10 real, 3 of slack.
    assert_eq!(c.len(), 50 - 10 - 3);
    let stats = h.bridge.stats();
    assert_eq!(stats.chunks_to_agent, 47);
    // Releasing the button: the slack is gone, the cadence is exact again.
    h.bridge.set_talking(false);
    assert_eq!(chunks(&h.tick_at(1000)).len(), 3);
    assert_eq!(chunks(&h.tick_at(1020)).len(), 1);
}

/// The browser sends 10 packets, goes quiet while the chunk clock fills silence until 1 s,
/// then its 40 late packets arrive at once (`loud`: speech, else silence). Returns the chunks
/// sent for the late packets.
fn late_audio_after_silence_was_filled(loud: bool) -> (Harness, usize) {
    let (mut h, _) = browser_stops_while_held();
    assert_eq!(h.bridge.stats().chunks_to_agent, 47, "10 real, 37 silence");
    let mut late = 0;
    for _ in 0..40 {
        let out = if loud { h.rtp() } else { h.rtp_quiet() };
        late += chunks(&out).len();
    }
    (h, late)
}

#[test]
fn late_quiet_audio_whose_time_was_filled_with_silence_is_skipped() {
    let (h, late) = late_audio_after_silence_was_filled(false);
    // 50 chunks are due at 1 s; one more is the browser's phase. The rest would have put the
    // agent's input (and everything after it) behind for good. The first late chunk may still
    // ring with the tone before it (the decoder's and resampler's state): it is not quiet.
    assert!((4..=5).contains(&late), "{late} late chunks sent");
    let stats = h.bridge.stats();
    assert_eq!(stats.chunks_to_agent, 47 + late as u64);
    assert_eq!(stats.late_quiet_skipped, 40 - late as u64);
}

#[test]
fn late_speech_is_always_sent() {
    let (h, late) = late_audio_after_silence_was_filled(true);
    assert_eq!(late, 40);
    assert_eq!(h.bridge.stats().late_quiet_skipped, 0);
}

#[test]
fn agent_audio_is_paced_at_exactly_50_frames_per_second() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(100);
    // A 3-second reply arrives in one burst; its talkspurt's ticks fall at 106 + 20 k ms. The
    // 51st, due at 1106 ms, may be served from 1104 ms (Pacer::EARLY).
    h.speech(7, 3000);
    let out = h.run_to(1103);
    let f = frames(&out);
    assert_eq!(f.len(), 50);
    for (i, (ts, marker)) in f.iter().enumerate() {
        // 48 RTP units per millisecond from the base, at 106 ms for the first frame.
        assert_eq!(*ts, 1000 + 48 * (106 + 20 * i as u32));
        assert_eq!(*marker, i == 0);
    }
    assert_eq!(h.bridge.stats().frames_sent, 50);
    assert_eq!(h.bridge.queued_playout(), Duration::from_millis(2000));
}

#[test]
fn interruption_flushes_within_the_same_call() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(3, 2000);
    // The talkspurt's grid: ticks at 6, 26, …, 86 ms (see `talkspurt_starts_just_after_its_audio`).
    assert_eq!(frames(&h.run_to(100)).len(), 5);
    // A frame was produced but the caller has not drained it yet when the interruption lands.
    h.bridge.on_tick(h.t0 + Duration::from_millis(120)).unwrap();
    h.bridge
        .on_agent_event(AgentEvent::Interruption { event_id: 3 }, h.now)
        .unwrap();
    assert_eq!(frames(&h.drain()), []);
    assert_eq!(h.bridge.queued_playout(), Duration::ZERO);
    // More of the interrupted reply is dropped; the next tick sends nothing stale.
    h.speech(3, 500);
    assert_eq!(frames(&h.tick_at(140)), []);
    assert_eq!(frames(&h.run_to(400)), []);
    let stats = h.bridge.stats();
    assert_eq!((stats.flushes, stats.gate_dropped), (1, 1));
    // The next reply plays, starting with a marker after the silence.
    h.speech(4, 100);
    let f = frames(&h.run_to(500));
    assert_eq!(f.len(), 5);
    assert!(f[0].1 && !f[1].1);
}

#[test]
fn a_reply_with_the_interruptions_own_id_is_played() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(4, 1000);
    h.run_to(100);
    // The user interrupts reply 4 with event 5; the agent answers with id 5.
    h.event(AgentEvent::Interruption { event_id: 5 });
    h.speech(5, 200);
    assert_eq!(frames(&h.run_to(400)).len(), 10);
    // Audio left over from reply 4 is stale.
    h.speech(4, 200);
    assert_eq!(frames(&h.run_to(700)), []);
    assert_eq!(h.bridge.stats().gate_dropped, 1);
}

#[test]
fn ids_below_the_interruption_are_dropped_and_later_ones_play() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(8, 100);
    h.event(AgentEvent::Interruption { event_id: 8 });
    for stale in [2, 7, 8] {
        h.speech(stale, 100);
    }
    assert_eq!(frames(&h.run_to(300)), []);
    h.speech(9, 100);
    assert_eq!(frames(&h.run_to(500)).len(), 5);
    assert_eq!(h.bridge.stats().gate_dropped, 3);
}

#[test]
fn transcripts_surface_in_order() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    let mut out = Vec::new();
    out.extend(h.event(AgentEvent::UserTranscript {
        event_id: 1,
        text: "hel".into(),
        tentative: true,
    }));
    out.extend(h.event(AgentEvent::UserTranscript {
        event_id: 1,
        text: "hello".into(),
        tentative: false,
    }));
    out.extend(h.event(AgentEvent::AgentResponse {
        event_id: 2,
        text: "Hi there, how".into(),
    }));
    out.extend(h.event(AgentEvent::AgentResponseCorrection {
        event_id: 2,
        original: "Hi there, how".into(),
        corrected: "Hi there".into(),
    }));
    let line = |role, event_id, text: &str, kind| {
        Out::Text(Transcript {
            role,
            event_id,
            text: text.into(),
            kind,
        })
    };
    assert_eq!(
        out,
        [
            line(Role::User, 1, "hel", TranscriptKind::Tentative),
            line(Role::User, 1, "hello", TranscriptKind::Final),
            line(Role::Agent, 2, "Hi there, how", TranscriptKind::Final),
            line(
                Role::Agent,
                2,
                "Hi there",
                TranscriptKind::Correction {
                    original: "Hi there, how".into()
                }
            ),
        ]
    );
}

#[test]
fn the_last_sentence_is_played_before_ended() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 210);
    assert_eq!(h.event(AgentEvent::Ended(EndReason::Completed)), []);
    assert!(!h.bridge.is_ended());
    // No more chunks to the agent; the 210 ms reply plays out as 11 frames (the last padded).
    let out = h.run_to(1000);
    assert_eq!(chunks(&out).len(), 0);
    assert_eq!(frames(&out).len(), 11);
    assert_eq!(out.last(), Some(&Out::End(EndReason::Completed)));
    assert!(h.bridge.is_ended());
    assert_eq!(h.rtp(), []);
}

#[test]
fn hang_up_closes_the_agent_and_ends_at_once() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 1000);
    h.run_to(100);
    h.bridge.hang_up();
    assert_eq!(
        h.drain(),
        [Out::Agent(AgentCommand::Close), Out::End(EndReason::Hangup)]
    );
    assert_eq!(h.run_to(300), []);
}

#[test]
fn ended_with_nothing_queued_is_reported_at_once_and_a_second_start_is_refused() {
    let mut h = Harness::new();
    h.start(16_000, 24_000);
    let err = h.bridge.on_agent_event(
        AgentEvent::Started {
            conversation_id: "c2".into(),
            input: AudioFormat::PCM_16000,
            output: AudioFormat::PCM_16000,
        },
        h.now,
    );
    assert!(matches!(err, Err(VoiceMediaError::AlreadyStarted)));
    let reason = EndReason::AgentError {
        code: 1002,
        reason: "llm_timeout".into(),
    };
    assert_eq!(
        h.event(AgentEvent::Ended(reason.clone())),
        [Out::End(reason)]
    );
}

#[test]
fn talkspurt_starts_just_after_its_audio() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(37);
    // The old grid's next tick is due at 40 ms; audio at 37 ms plays from 43 ms (served from
    // 41 ms): TALKSPURT_LEAD + Pacer::EARLY after its arrival, whatever the old phase.
    h.speech(1, 40);
    assert_eq!(frames(&h.run_to(40)), []);
    assert_eq!(frames(&h.run_to(41)), [(1000 + 48 * 43, true)]);
    // Continuous audio keeps the grid: no new talkspurt while frames flow.
    h.speech(1, 40);
    assert_eq!(
        frames(&h.run_to(81)),
        [(1000 + 48 * 63, false), (1000 + 48 * 83, false)]
    );
    assert_eq!(h.bridge.stats().talkspurts, 1);
}

#[test]
fn rtp_timestamps_follow_the_wall_clock_through_silence() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 40);
    let first = frames(&h.run_to(40));
    h.run_to(210);
    h.speech(2, 40);
    let second = frames(&h.run_to(240));
    // Sent at 6 and 26 ms, then (after nine silent ticks) at 216 and 236 ms: each timestamp is
    // the base plus 48 units per millisecond of its deadline.
    assert_eq!(first, [(1000 + 48 * 6, true), (1000 + 48 * 26, false)]);
    assert_eq!(second, [(1000 + 48 * 216, true), (1000 + 48 * 236, false)]);
    assert_eq!(h.bridge.stats().talkspurts, 2);
}

#[test]
fn frames_carry_when_their_audio_arrived_for_latency_measurement() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(95);
    h.speech(1, 40);
    h.now = h.t0 + Duration::from_millis(100);
    h.bridge.on_tick(h.now).unwrap();
    let mut sent = 0;
    while let Some(output) = h.bridge.poll_output() {
        if let BridgeOutput::Frame { queued_at, .. } = output {
            // Pushed at 95 ms, sent on the 100 ms tick: 5 ms added by the server's pacing.
            assert_eq!(queued_at, Some(h.t0 + Duration::from_millis(95)));
            sent += 1;
        }
    }
    assert_eq!(sent, 1);
}

#[test]
fn an_interruption_while_draining_ends_at_once() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 1000);
    h.event(AgentEvent::Ended(EndReason::Completed));
    assert_eq!(frames(&h.run_to(40)).len(), 2);
    assert_eq!(
        h.event(AgentEvent::Interruption { event_id: 1 }),
        [Out::End(EndReason::Completed)]
    );
    assert!(h.bridge.is_ended());
}

#[test]
fn hang_up_keeps_the_counters() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 100);
    h.run_to(100);
    let before = h.bridge.stats();
    assert_eq!(before.outbound.frames, 5);
    h.bridge.hang_up();
    let after = h.bridge.stats();
    assert_eq!(after.outbound.frames, 5);
    assert_eq!(after.frames_sent, 5);
    assert_eq!(after.chunks_to_agent, before.chunks_to_agent);
}

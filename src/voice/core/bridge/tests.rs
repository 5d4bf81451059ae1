//! The bridge driven with a fake clock: the agent's chunk clock with the talk button here;
//! pacing, barge-in, the event-id rule, transcripts and the end of a session in
//! [`playout`], on the same harness.

use super::*;
use crate::voice::core::audio::opus_codec::{MAX_PACKET_BYTES, OpusEncoder};
use crate::voice::core::audio::test_signal::sine;
use crate::voice::core::events::{AudioCodec, AudioFormat};

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
    /// Every `Speaking` output, with its time since `t0` in ms (kept out of `drain`).
    speaking: Vec<(u64, bool)>,
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
            speaking: Vec::new(),
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
        let at_ms = self.now.duration_since(self.t0).as_millis() as u64;
        while let Some(o) = self.bridge.poll_output() {
            out.push(match o {
                BridgeOutput::Speaking(on) => {
                    self.speaking.push((at_ms, on));
                    continue;
                }
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
fn after_late_speech_the_silence_that_follows_a_release_keeps_real_time_pace() {
    // The browser's audio lagged at the press, so the clock filled silence for 740 ms; the
    // late speech then came and was sent, and the agent's input stands 40 chunks ahead.
    let (mut h, late) = late_audio_after_silence_was_filled(true);
    assert_eq!(late, 40);
    h.bridge.set_talking(false);
    // From the release on, one chunk of silence per 20 ms at once — not nothing until the
    // clock has caught up with the late speech (which would make the agent hear the end of
    // the turn 800 ms late).
    let mut at = Vec::new();
    for ms in (1000..=1400).step_by(5) {
        let n = chunks(&h.tick_at(ms)).len();
        at.extend(std::iter::repeat_n(ms, n));
    }
    assert_eq!(at.len(), 20, "{at:?}");
    assert!(at[0] <= 1020, "{at:?}");
    assert!(at.windows(2).all(|w| w[1] - w[0] == 20), "{at:?}");
    assert_eq!(h.bridge.stats().ahead_forgiven, 47 + 40 - 50);
}

#[path = "playout_tests.rs"]
mod playout;

//! Framing, chunk-size independence, tail and flush of the agent → browser chain.

use super::*;
use crate::voice::core::audio::opus_codec::{MAX_PACKET_SAMPLES, OpusDecoder};
use crate::voice::core::audio::samples_per_20ms;
use crate::voice::core::audio::test_signal::*;

const RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

fn drain(chain: &mut OutboundChain, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(f) = chain.next_frame(now).unwrap() {
        out.push(f.payload.to_vec());
    }
    out
}

#[test]
fn n_times_20ms_in_gives_n_frames_out_at_every_rate() {
    let t0 = Instant::now();
    for rate in RATES {
        let mut chain = OutboundChain::new(rate).unwrap();
        let pcm = sine(440.0, rate, 8000.0, 0, samples_per_20ms(rate) * 25);
        chain.push_pcm(&pcm, t0);
        assert_eq!(chain.queued_frames(), 25, "{rate}");
        assert_eq!(
            chain.queued_duration(),
            Duration::from_millis(500),
            "{rate}"
        );
        let frames = drain(&mut chain, t0);
        assert_eq!(frames.len(), 25, "{rate}");
        assert!(chain.is_empty());
        assert!(frames.iter().all(|f| !f.is_empty() && f.len() < 400));
    }
}

#[test]
fn random_chunk_sizes_give_the_same_packets_as_one_push() {
    let t0 = Instant::now();
    for rate in [16_000, 22_050, 44_100] {
        let pcm = sine(700.0, rate, 9000.0, 0, rate as usize * 3);
        let mut whole = OutboundChain::new(rate).unwrap();
        whole.push_pcm(&pcm, t0);
        let expected = drain(&mut whole, t0);

        let mut pieces = OutboundChain::new(rate).unwrap();
        let mut rng = Rng::new(u64::from(rate));
        let mut rest = &pcm[..];
        let mut got = Vec::new();
        while !rest.is_empty() {
            // 1 ms to 500 ms per chunk, drained between bursts as a pacer would.
            let n = rng
                .range(rate as usize / 1000, rate as usize / 2)
                .min(rest.len());
            pieces.push_pcm(&rest[..n], t0);
            rest = &rest[n..];
            if rng.range(0, 1) == 0 {
                got.extend(drain(&mut pieces, t0));
            }
        }
        got.extend(drain(&mut pieces, t0));
        assert_eq!(got.len(), expected.len(), "{rate}");
        assert!(got == expected, "{rate}: packets differ");
    }
}

#[test]
fn a_partial_last_frame_is_completed_with_silence_after_the_tail_wait() {
    let t0 = Instant::now();
    let mut chain = OutboundChain::new(16_000).unwrap();
    chain.push_pcm(&sine(440.0, 16_000, 8000.0, 0, 16 * 30), t0);
    assert_eq!(drain(&mut chain, t0).len(), 1);
    // 10 ms still waits: more audio of the reply may be on its way.
    assert!(
        chain
            .next_frame(t0 + Duration::from_millis(19))
            .unwrap()
            .is_none()
    );
    assert!(!chain.is_empty());
    assert!(
        chain
            .next_frame(t0 + OutboundChain::TAIL_WAIT)
            .unwrap()
            .is_some()
    );
    assert!(chain.is_empty());
    assert!(
        chain
            .next_frame(t0 + Duration::from_secs(1))
            .unwrap()
            .is_none()
    );
    assert_eq!(chain.stats().tail_pads, 1);
}

#[test]
fn flush_drops_the_queue_and_restarts_from_a_clean_state() {
    let t0 = Instant::now();
    let mut chain = OutboundChain::new(24_000).unwrap();
    chain.push_pcm(&sine(440.0, 24_000, 8000.0, 0, 24_000), t0);
    chain.next_frame(t0).unwrap();
    chain.push_pcm(&[1234; 100], t0);
    chain.flush().unwrap();
    assert!(chain.is_empty());
    assert_eq!(chain.queued_duration(), Duration::ZERO);
    assert!(
        chain
            .next_frame(t0 + Duration::from_secs(1))
            .unwrap()
            .is_none()
    );

    // What follows is encoded exactly as by a fresh chain: no resampler or encoder memory.
    let next = sine(300.0, 24_000, 8000.0, 0, 480 * 5);
    chain.push_pcm(&next, t0);
    let mut fresh = OutboundChain::new(24_000).unwrap();
    fresh.push_pcm(&next, t0);
    assert_eq!(drain(&mut chain, t0), drain(&mut fresh, t0));
    assert_eq!(chain.stats().flushes, 1);
}

#[test]
fn frames_remember_when_their_audio_was_pushed() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_millis(7);
    let mut chain = OutboundChain::new(16_000).unwrap();
    chain.push_pcm(&[100; 320 * 2], t0);
    chain.push_pcm(&[100; 320 * 2], t1);
    let mut at = Vec::new();
    while let Some(f) = chain.next_frame(t1).unwrap() {
        at.push(f.queued_at.unwrap());
    }
    // The resampler delay (60 samples) shifts the audio later: frame 2 starts with the last
    // 60 samples of the first push but carries the start of the second, so it is labelled
    // with the second push (otherwise every frame of a stream would look a frame older).
    assert_eq!(at, [t0, t0, t1, t1]);
}

#[test]
fn a_flood_of_agent_audio_is_capped_at_max_queued() {
    let mut chain = OutboundChain::new(16_000).unwrap();
    let now = Instant::now();
    let second = vec![1000i16; 16_000];
    for _ in 0..OutboundChain::MAX_QUEUED.as_secs() + 10 {
        chain.push_pcm(&second, now);
    }
    let queued = chain.queued_duration();
    assert!(
        queued >= OutboundChain::MAX_QUEUED - Duration::from_millis(10)
            && queued < OutboundChain::MAX_QUEUED + Duration::from_millis(1010),
        "{queued:?}"
    );
    let drops = chain.stats().overflow_drops;
    assert!((9..=10).contains(&drops), "{drops} chunks dropped");
    chain.flush().unwrap();
    chain.push_pcm(&second, now);
    assert!(
        chain.queued_duration() <= Duration::from_millis(1001),
        "a flush makes room again"
    );
}

/// Plays `frames` frames of a loud tone through a decoder, returning chain and decoder.
fn playing_tone(frames: usize) -> (OutboundChain, OpusDecoder, Instant) {
    let t0 = Instant::now();
    let mut chain = OutboundChain::new(16_000).unwrap();
    chain.push_pcm(&sine(440.0, 16_000, 12_000.0, 0, 16_000), t0);
    let mut dec = OpusDecoder::new().unwrap();
    let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
    for _ in 0..frames {
        let f = chain.next_frame(t0).unwrap().unwrap();
        assert!(!f.tail);
        dec.decode(f.payload, &mut pcm).unwrap();
    }
    (chain, dec, t0)
}

#[test]
fn a_cut_without_a_fade_leaves_the_decoder_extrapolating_the_voice() {
    // What the listener's decoder does when a reply just stops: it conceals the missing
    // packets by continuing the voice. This is what the fade-out is for.
    let (_, mut dec, _) = playing_tone(10);
    let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
    let n = dec
        .conceal(crate::voice::core::audio::FRAME_48K, &mut pcm)
        .unwrap();
    assert!(rms(&pcm[..n]) > 1000.0, "{}", rms(&pcm[..n]));
}

#[test]
fn a_fade_out_ends_a_cut_reply_on_silence_through_the_same_encoder() {
    let (mut chain, mut dec, t0) = playing_tone(10);
    chain.fade_out();
    assert_eq!(chain.queued_frames(), 1 + OutboundChain::SILENT_TAIL_FRAMES);
    assert!(!chain.is_empty(), "the fade is still to be played");
    let mut decoded = Vec::new();
    while let Some(f) = chain.next_frame(t0).unwrap() {
        assert!(f.tail);
        assert!(f.queued_at.is_none());
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        let n = dec.decode(f.payload, &mut pcm).unwrap();
        pcm.truncate(n);
        decoded.push(pcm);
    }
    assert_eq!(decoded.len(), 1 + OutboundChain::SILENT_TAIL_FRAMES);
    assert!(chain.is_empty(), "the rest of the reply is gone");
    // The faded frame starts at the reply's level (no click) and falls; the codec's own
    // delay carries the end of the fade into the next frame; after that, silence.
    let first = &decoded[0];
    assert!(rms(&first[..120]) > 3000.0, "{}", rms(&first[..120]));
    assert!(rms(&first[480..]) < rms(&first[..480]) / 2.0);
    assert!(rms(&decoded[1]) < 300.0, "{}", rms(&decoded[1]));
    for f in &decoded[2..] {
        assert!(rms(f) < 100.0, "{}", rms(f));
    }
    assert!(max_step(first) < 4000, "no click: {}", max_step(first));
    assert_eq!(chain.stats().fades, 1);
    assert_eq!(chain.stats().flushes, 1);
}

#[test]
fn audio_after_a_fade_out_plays_after_its_silent_frames() {
    let (mut chain, _, t0) = playing_tone(3);
    chain.fade_out();
    chain.push_pcm(&sine(300.0, 16_000, 8000.0, 0, 320 * 5), t0);
    let tails: Vec<bool> =
        std::iter::from_fn(|| chain.next_frame(t0).unwrap().map(|f| f.tail)).collect();
    let n = 1 + OutboundChain::SILENT_TAIL_FRAMES;
    assert_eq!(tails.len(), n + 5, "{tails:?}");
    assert!(tails[..n].iter().all(|&t| t) && tails[n..].iter().all(|&t| !t));
}

#[test]
fn a_hard_flush_cancels_a_fade_out() {
    let (mut chain, _, t0) = playing_tone(3);
    chain.fade_out();
    chain.flush().unwrap();
    assert!(chain.is_empty());
    assert!(chain.next_frame(t0).unwrap().is_none());
}

//! End-to-end tone tests of both chains: browser Opus → inbound (16 kHz) → outbound → Opus
//! decoded back at 48 kHz, checking frequency, level, smoothness, exact counts and drift.

use std::time::{Duration, Instant};

use super::inbound::InboundChain;
use super::opus_codec::{MAX_PACKET_BYTES, OpusDecoder, OpusEncoder};
use super::outbound::OutboundChain;
use super::test_signal::*;

const AMP: f64 = 8000.0;

/// One second of a 1 kHz tone as 50 Opus packets; the tone has a whole number of cycles per
/// second, so the packets can be repeated seamlessly.
fn one_second_of_tone() -> Vec<Vec<u8>> {
    let pcm = sine(1000.0, 48_000, AMP, 0, 48_000);
    let mut enc = OpusEncoder::new().unwrap();
    let mut buf = vec![0u8; MAX_PACKET_BYTES];
    pcm.chunks(960)
        .map(|f| {
            let n = enc.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

/// Runs `seconds` of tone through both chains, one packet per 20 ms of fake time.
/// Returns (agent-rate PCM, browser-side decoded PCM, packets in, chunks, frames out).
fn run(rate: u32, seconds: usize, keep_pcm: bool) -> (Vec<i16>, Vec<i16>, usize, usize, usize) {
    let packets = one_second_of_tone();
    let mut inbound = InboundChain::new(rate).unwrap();
    let mut outbound = OutboundChain::new(rate).unwrap();
    let mut decoder = OpusDecoder::new().unwrap();
    let mut chunk = vec![0i16; inbound.chunk_samples()];
    let mut pcm48 = vec![0i16; 5760];
    let (mut agent_pcm, mut back) = (Vec::new(), Vec::new());
    let (mut chunks, mut frames) = (0, 0);
    let t0 = Instant::now();
    let total = seconds * 50;
    for i in 0..total {
        let now = t0 + Duration::from_millis(20 * i as u64);
        inbound.push_rtp(i as u16, (i * 960) as u32, &packets[i % 50], now);
        while inbound.pop_chunk(&mut chunk) {
            chunks += 1;
            if keep_pcm {
                agent_pcm.extend_from_slice(&chunk);
            }
            // The echo agent: what the user said comes straight back.
            outbound.push_pcm(&chunk, now);
        }
        while let Some(frame) = outbound.next_frame(now).unwrap() {
            frames += 1;
            if keep_pcm {
                let n = decoder.decode(frame.payload, &mut pcm48).unwrap();
                back.extend_from_slice(&pcm48[..n]);
            }
        }
    }
    (agent_pcm, back, total, chunks, frames)
}

fn assert_tone(x: &[i16], rate: u32, what: &str) {
    let freq = tone_frequency(x, rate);
    assert!((freq - 1000.0).abs() < 3.0, "{what}: {freq:.1} Hz");
    let level = db(rms(x), AMP / 2f64.sqrt());
    assert!(level.abs() < 1.5, "{what}: level {level:.2} dB");
    // Nothing else but the tone: its Goertzel power holds nearly all of the energy.
    let tone_power = 2.0 * goertzel(x, 1000.0, rate);
    let total_power = rms(x).powi(2);
    assert!(
        tone_power / total_power > 0.9,
        "{what}: tone is {:.3} of the power",
        tone_power / total_power
    );
    // Smooth across every 20 ms boundary: no step beyond what the sine itself makes (plus a
    // margin for the codec's noise).
    let limit = sine_max_step(1000.0, rate, AMP) * 1.15;
    let step = f64::from(max_step(x));
    assert!(step <= limit, "{what}: step {step} > {limit:.0}");
}

#[test]
fn a_tone_survives_both_chains_in_pitch_level_and_smoothness() {
    let (agent_pcm, back, packets, chunks, frames) = run(16_000, 5, true);
    // Exact counts: every 20 ms in makes 20 ms at the agent and 20 ms back out.
    assert_eq!((chunks, frames), (packets, packets));
    // At 16 kHz both chains code at the agent's rate: no resampler on either side.
    let inbound = InboundChain::new(16_000).unwrap();
    let outbound = OutboundChain::new(16_000).unwrap();
    assert_eq!(
        (inbound.resampler_delay(), outbound.resampler_delay()),
        (0, 0)
    );
    assert_eq!(outbound.codec_rate(), 16_000);
    assert_eq!(agent_pcm.len(), packets * 320);
    assert_eq!(back.len(), packets * 960);
    // Skip the first 100 ms (codec and filter settling).
    assert_tone(&agent_pcm[1600..], 16_000, "at the agent (16 kHz)");
    assert_tone(&back[4800..], 48_000, "back in the browser (48 kHz)");
}

#[test]
fn a_rate_libopus_cannot_take_is_resampled_to_the_next_one_up() {
    // 22.05 kHz: decoded at 24 kHz and resampled down; resampled up to 24 kHz and coded there.
    let inbound = InboundChain::new(22_050).unwrap();
    let outbound = OutboundChain::new(22_050).unwrap();
    assert_eq!(outbound.codec_rate(), 24_000);
    assert!(inbound.resampler_delay() > 0 && outbound.resampler_delay() > 0);
    // 44.1 kHz is coded at 48 kHz.
    assert_eq!(OutboundChain::new(44_100).unwrap().codec_rate(), 48_000);
    // The tone comes through the resampled paths intact too.
    let (agent_pcm, back, packets, chunks, frames) = run(22_050, 5, true);
    assert_eq!((chunks, frames), (packets, packets));
    assert_eq!(agent_pcm.len(), packets * 441);
    assert_tone(&agent_pcm[2205..], 22_050, "at the agent (22.05 kHz)");
    assert_tone(&back[4800..], 48_000, "back in the browser (48 kHz)");
}

#[test]
fn ten_minutes_of_audio_do_not_drift() {
    // 30 000 packets in; exactly 30 000 chunks to the agent and 30 000 frames back.
    let (_, _, packets, chunks, frames) = run(16_000, 600, false);
    assert_eq!(packets, 30_000);
    assert_eq!(chunks, packets);
    assert_eq!(frames, packets);
}

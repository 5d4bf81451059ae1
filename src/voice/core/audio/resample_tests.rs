//! Pure resampler tests (no Opus): 48 kHz → agent rate → 48 kHz for every agent rate.

use super::*;
use crate::voice::core::audio::samples_per_20ms;
use crate::voice::core::audio::test_signal::*;

const AGENT_RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];
const AMP: f64 = 10_000.0;

/// Pushes `input` in 20 ms chunks and reads everything available in 20 ms chunks.
fn run_20ms(rs: &mut StreamResampler, input: &[i16]) -> Vec<i16> {
    let chunk_in = samples_per_20ms(rs.rate_in());
    let chunk_out = samples_per_20ms(rs.rate_out());
    let mut out = Vec::new();
    let mut buf = vec![0i16; chunk_out];
    for chunk in input.chunks(chunk_in) {
        rs.push(chunk);
        while rs.read_exact(&mut buf) {
            out.extend_from_slice(&buf);
        }
    }
    out
}

/// Error of `x` against a sine delayed by `delay` (fractional) samples, relative to the sine, dB.
fn error_vs_delayed_sine(x: &[i16], rate: u32, delay: f64, skip: usize) -> f64 {
    let w = 2.0 * std::f64::consts::PI * 1000.0 / f64::from(rate);
    let (mut err, mut sig) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate().skip(skip) {
        let r = AMP * (w * (i as f64 - delay)).sin();
        err += (f64::from(v) - r).powi(2);
        sig += r * r;
    }
    10.0 * (err / sig).log10()
}

#[test]
fn round_trip_through_every_agent_rate_keeps_tone_level_and_timing() {
    let seconds = 2;
    let input = sine(1000.0, 48_000, AMP, 0, 48_000 * seconds);
    for rate in AGENT_RATES {
        let mut down = StreamResampler::new(48_000, rate).unwrap();
        let mut up = StreamResampler::new(rate, 48_000).unwrap();
        let mid = run_20ms(&mut down, &input);
        // Exact sample counts: 20 ms in gives 20 ms out, every time.
        assert_eq!(mid.len(), rate as usize * seconds, "{rate}: down count");
        let back = run_20ms(&mut up, &mid);
        assert_eq!(back.len(), input.len(), "{rate}: up count");

        let settle = 4_800;
        let mid_settle = settle * rate as usize / 48_000;
        let freq = tone_frequency(&mid[mid_settle..], rate);
        assert!(
            (freq - 1000.0).abs() < 2.0,
            "{rate}: {freq} Hz at agent rate"
        );
        let freq = tone_frequency(&back[settle..], 48_000);
        assert!((freq - 1000.0).abs() < 2.0, "{rate}: {freq} Hz back at 48k");
        for (x, r) in [(&mid[mid_settle..], rate), (&back[settle..], 48_000)] {
            let level = db(rms(x), AMP / 2f64.sqrt());
            assert!(level.abs() < 0.1, "{rate}->{r}: level {level:.3} dB");
            let limit = sine_max_step(1000.0, r, AMP) * 1.02 + 2.0;
            let step = f64::from(max_step(x));
            assert!(step <= limit, "{rate}->{r}: step {step} > {limit:.1}");
        }

        // Delay is what the filters report, and the waveform matches the delayed original.
        let delay =
            down.output_delay() as f64 * 48_000.0 / f64::from(rate) + up.output_delay() as f64;
        assert!(delay <= 7.0 * 48.0, "{rate}: delay {delay} samples > 7 ms");
        let err = error_vs_delayed_sine(&back, 48_000, delay, settle);
        assert!(err < -60.0, "{rate}: error {err:.1} dB at delay {delay}");
    }
}

#[test]
fn bypass_when_rates_are_equal() {
    let mut rs = StreamResampler::new(48_000, 48_000).unwrap();
    let input = sine(1000.0, 48_000, AMP, 0, 1234);
    rs.push(&input);
    assert_eq!(rs.output_delay(), 0);
    let mut out = vec![0; 1234];
    assert!(rs.read_exact(&mut out));
    assert_eq!(out, input);
}

#[test]
fn blocks_are_short_so_little_input_waits() {
    for rate in AGENT_RATES {
        for (a, b) in [(48_000, rate), (rate, 48_000)] {
            let rs = StreamResampler::new(a, b).unwrap();
            // At most ~6.7 ms (22.05 kHz has 147:320 units) and a whole number per 20 ms.
            assert!(
                rs.block_in() as u32 * 1000 / a <= 7,
                "{a}->{b}: {}",
                rs.block_in()
            );
            assert_eq!(samples_per_20ms(a) % rs.block_in(), 0, "{a}->{b}");
        }
    }
}

#[test]
fn any_chunking_gives_identical_output() {
    let input = sine(440.0, 22_050, AMP, 0, 22_050);
    let mut whole = StreamResampler::new(22_050, 48_000).unwrap();
    whole.push(&input);
    let mut pieces = StreamResampler::new(22_050, 48_000).unwrap();
    let mut rng = Rng::new(7);
    let mut rest = &input[..];
    while !rest.is_empty() {
        let n = rng.range(1, 900).min(rest.len());
        pieces.push(&rest[..n]);
        rest = &rest[n..];
    }
    assert_eq!(whole.available(), pieces.available());
    let mut a = vec![0; whole.available()];
    let mut b = vec![0; pieces.available()];
    assert!(whole.read_exact(&mut a) && pieces.read_exact(&mut b));
    assert_eq!(a, b);
}

#[test]
fn pad_pending_releases_a_partial_block_and_reset_forgets_everything() {
    let mut rs = StreamResampler::new(16_000, 48_000).unwrap();
    rs.push(&[1000; 50]);
    assert_eq!(rs.pending_input(), 50 - rs.block_in());
    assert_eq!(rs.pad_pending(), 2 * rs.block_in() - 50);
    assert_eq!(rs.pending_input(), 0);
    assert_eq!(rs.available(), 2 * 120);
    assert_eq!(rs.pad_pending(), 0);
    rs.push(&[1000; 10]);
    rs.reset();
    assert_eq!((rs.available(), rs.pending_input()), (0, 0));
    // After a reset the output starts from silence again, exactly as a fresh resampler's.
    let mut fresh = StreamResampler::new(16_000, 48_000).unwrap();
    let tone = sine(1000.0, 16_000, AMP, 0, 320);
    rs.push(&tone);
    fresh.push(&tone);
    let (mut a, mut b) = (vec![0; 960], vec![0; 960]);
    assert!(rs.read_exact(&mut a) && fresh.read_exact(&mut b));
    assert_eq!(a, b);
}

#[test]
fn rejects_rates_out_of_range() {
    assert!(StreamResampler::new(4_000, 48_000).is_err());
    assert!(StreamResampler::new(48_000, 96_000).is_err());
}

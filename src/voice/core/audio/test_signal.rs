//! Test signals and measurements shared by the media and bridge tests: sine tones, RMS,
//! Goertzel power, zero crossings, largest sample-to-sample step and a seeded PRNG.

use std::f64::consts::PI;

/// `n` samples of a sine of `freq` Hz at `rate` Hz with peak `amp`, starting at sample `start`.
pub fn sine(freq: f64, rate: u32, amp: f64, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// Root mean square of `x` (in sample units).
pub fn rms(x: &[i16]) -> f64 {
    let sum: f64 = x.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / x.len().max(1) as f64).sqrt()
}

/// Level of `a` relative to `b` in dB.
pub fn db(a: f64, b: f64) -> f64 {
    20.0 * (a / b).log10()
}

/// Sign changes from negative to non-negative.
pub fn rising_zero_crossings(x: &[i16]) -> usize {
    x.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count()
}

/// Estimated frequency of a tone from its rising zero crossings.
pub fn tone_frequency(x: &[i16], rate: u32) -> f64 {
    rising_zero_crossings(x) as f64 * f64::from(rate) / x.len() as f64
}

/// Power of `x` at `freq` (Goertzel), normalised so that a full-scale-relative sine of peak
/// `amp` gives about `amp² / 4`.
pub fn goertzel(x: &[i16], freq: f64, rate: u32) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (x.len() as f64 * x.len() as f64)
}

/// The largest absolute difference between neighbouring samples.
pub fn max_step(x: &[i16]) -> i32 {
    x.windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0)
}

/// The largest step a sine of `freq` and peak `amp` can make between samples at `rate`.
pub fn sine_max_step(freq: f64, rate: u32, amp: f64) -> f64 {
    2.0 * amp * (PI * freq / f64::from(rate)).sin()
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

//! One stateful, streaming sample-rate converter per direction of a voice session.
//!
//! Wraps rubato's FFT resampler (`Fft`, `FixedSync::Input`, one sub-chunk per block) with a
//! block of about 2.5 ms (the smallest whole number of rate-pair units reaching it), so it adds
//! ~1.25 ms of delay and never holds back more than one block of input. Samples in any chunk sizes go in as i16; resampled i16 samples come
//! out of an internal queue in whatever sizes the caller reads (20 ms chunks or frames). The
//! filter state carries across chunks, so chunk boundaries cannot click. Equal rates bypass the
//! filter. All buffers are allocated up front; pushing and reading do not allocate once the
//! output queue has grown to its working size.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::VoiceMediaError;

/// Target length of one FFT block: 2.5 ms (400 blocks per second).
const BLOCKS_PER_SECOND: u32 = 400;
/// Fewest samples per block on the lower-rate side (the filter's length and sharpness).
const MIN_LOW_SIDE: usize = 40;

/// A streaming resampler from `rate_in` to `rate_out`, i16 mono.
pub struct StreamResampler {
    rate_in: u32,
    rate_out: u32,
    /// `None` when the rates are equal (bypass).
    fft: Option<Fft<f32>>,
    block_in: usize,
    block_out: usize,
    /// Input not yet making a full block (always shorter than `block_in`).
    pending: Vec<f32>,
    scratch_out: Vec<f32>,
    out: VecDeque<i16>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate_in", &self.rate_in)
            .field("rate_out", &self.rate_out)
            .field("block_in", &self.block_in)
            .field("block_out", &self.block_out)
            .field("pending", &self.pending.len())
            .field("queued", &self.out.len())
            .finish()
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl StreamResampler {
    /// A resampler from `rate_in` to `rate_out` (both in 8–48 kHz).
    pub fn new(rate_in: u32, rate_out: u32) -> Result<Self, VoiceMediaError> {
        for rate in [rate_in, rate_out] {
            if !(8_000..=48_000).contains(&rate) {
                return Err(VoiceMediaError::UnsupportedRate(rate));
            }
        }
        let g = gcd(rate_in, rate_out);
        let (unit_in, unit_out) = ((rate_in / g) as usize, (rate_out / g) as usize);
        // The smallest whole number of rate-pair units that reaches the target block length and
        // gives the lower rate at least MIN_LOW_SIDE samples per block (a shorter FFT filter
        // audibly attenuates speech frequencies at 8 kHz).
        let target = (rate_in / BLOCKS_PER_SECOND).max(1) as usize;
        let units = target
            .div_ceil(unit_in)
            .max(MIN_LOW_SIDE.div_ceil(unit_in.min(unit_out)));
        let (block_in, block_out) = (units * unit_in, units * unit_out);
        let fft = if rate_in == rate_out {
            None
        } else {
            let fft = Fft::<f32>::new(
                rate_in as usize,
                rate_out as usize,
                block_in,
                1,
                FixedSync::Input,
            )
            .map_err(|e| VoiceMediaError::Resampler {
                from: rate_in,
                to: rate_out,
                reason: e.to_string(),
            })?;
            debug_assert_eq!(fft.output_frames_max(), block_out);
            Some(fft)
        };
        Ok(Self {
            rate_in,
            rate_out,
            fft,
            block_in,
            block_out,
            pending: Vec::with_capacity(block_in),
            scratch_out: vec![0.0; block_out],
            // One second of output before the queue has to grow.
            out: VecDeque::with_capacity(rate_out as usize),
        })
    }

    pub fn rate_in(&self) -> u32 {
        self.rate_in
    }

    pub fn rate_out(&self) -> u32 {
        self.rate_out
    }

    /// Delay of the filter in output samples (0 when bypassed).
    pub fn output_delay(&self) -> usize {
        self.fft.as_ref().map_or(0, |f| f.output_delay())
    }

    /// Input samples per FFT block: at most this many less one are ever held back.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Appends input samples; every full block is resampled at once into the output queue.
    pub fn push(&mut self, mut samples: &[i16]) {
        if self.fft.is_none() {
            self.out.extend(samples);
            return;
        }
        while !samples.is_empty() {
            let take = (self.block_in - self.pending.len()).min(samples.len());
            self.pending
                .extend(samples[..take].iter().map(|&s| f32::from(s) / 32768.0));
            samples = &samples[take..];
            if self.pending.len() == self.block_in {
                self.process_block();
            }
        }
    }

    /// Input samples waiting for a full block.
    pub fn pending_input(&self) -> usize {
        self.pending.len()
    }

    /// Completes a waiting partial block with zeros so that its audio comes out now; returns
    /// the number of zeros added (0 when nothing was pending).
    pub fn pad_pending(&mut self) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        let zeros = self.block_in - self.pending.len();
        self.pending.resize(self.block_in, 0.0);
        self.process_block();
        zeros
    }

    /// Appends zeros to the output queue until it holds at least `len` samples (used to
    /// complete the last frame of a reply); returns the number added.
    pub fn pad_output_to(&mut self, len: usize) -> usize {
        let added = len.saturating_sub(self.out.len());
        self.out.resize(self.out.len() + added, 0);
        added
    }

    /// Resampled samples ready to read.
    pub fn available(&self) -> usize {
        self.out.len()
    }

    /// Fills `dst` completely from the output queue; `false` (and nothing read) when fewer
    /// samples than `dst.len()` are ready.
    pub fn read_exact(&mut self, dst: &mut [i16]) -> bool {
        if self.out.len() < dst.len() {
            return false;
        }
        let n = dst.len();
        let (front, back) = self.out.as_slices();
        let k = front.len().min(n);
        dst[..k].copy_from_slice(&front[..k]);
        dst[k..].copy_from_slice(&back[..n - k]);
        self.out.drain(..n);
        true
    }

    /// Forgets everything: queued output, pending input and the filter's memory.
    pub fn reset(&mut self) {
        self.out.clear();
        self.pending.clear();
        if let Some(fft) = &mut self.fft {
            fft.reset();
        }
    }

    fn process_block(&mut self) {
        let fft = self
            .fft
            .as_mut()
            .expect("blocks are only processed when resampling");
        let input = SequentialSlice::new(&self.pending[..], 1, self.block_in)
            .expect("pending holds exactly one mono block");
        let mut output = SequentialSlice::new_mut(&mut self.scratch_out[..], 1, self.block_out)
            .expect("scratch holds exactly one mono block");
        let (used, produced) = fft
            .process_into_buffer(&input, &mut output, None)
            .expect("block sizes match the resampler's fixed input and output sizes");
        debug_assert_eq!((used, produced), (self.block_in, self.block_out));
        self.out
            .extend(self.scratch_out[..produced].iter().map(|&x| to_i16(x)));
        self.pending.clear();
    }
}

/// Converts a float sample in [-1, 1) to i16 with rounding and saturation.
fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;

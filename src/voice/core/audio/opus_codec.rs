//! Opus at 48 kHz mono for voice sessions: a decoder that also conceals losses (PLC and in-band
//! FEC), and the encoder of the agent's track (VOIP, ~32 kbps, 20 ms frames).
//!
//! A mono decoder also decodes stereo packets (libopus downmixes them), so the browser may send
//! either. Both types decode/encode into caller-owned buffers and never allocate per frame.

use super::opus_ffi::{APPLICATION_VOIP, RawDecoder, RawEncoder, packet_samples};
use super::{OPUS_RATE, VoiceMediaError, samples_per_20ms};

/// The longest Opus packet: 120 ms at 48 kHz.
pub const MAX_PACKET_SAMPLES: usize = 5_760;
/// Upper bound of one encoded 20 ms packet (libopus recommends 4000 bytes).
pub const MAX_PACKET_BYTES: usize = 4_000;
/// Bitrate of the agent's voice.
pub const AGENT_BITRATE: i32 = 32_000;

/// An Opus audio band (4, 6, 8, 12 or 20 kHz wide), each with the sample rate that holds it
/// (8, 12, 16, 24, 48 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Narrow,
    Medium,
    Wide,
    SuperWide,
    Full,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::Narrow,
        Band::Medium,
        Band::Wide,
        Band::SuperWide,
        Band::Full,
    ];

    /// The narrowest band that holds everything audio sampled at `rate` can carry.
    pub const fn for_rate(rate: u32) -> Band {
        match rate {
            0..=8_000 => Band::Narrow,
            8_001..=12_000 => Band::Medium,
            12_001..=16_000 => Band::Wide,
            16_001..=24_000 => Band::SuperWide,
            _ => Band::Full,
        }
    }

    /// The sample rate libopus takes or gives for this band.
    pub const fn sample_rate(self) -> u32 {
        match self {
            Band::Narrow => 8_000,
            Band::Medium => 12_000,
            Band::Wide => 16_000,
            Band::SuperWide => 24_000,
            Band::Full => 48_000,
        }
    }

    /// libopus's `OPUS_BANDWIDTH_*` value.
    const fn opus_bandwidth(self) -> i32 {
        1101 + self as i32
    }

    /// The band's name in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Band::Narrow => "narrow",
            Band::Medium => "medium",
            Band::Wide => "wide",
            Band::SuperWide => "superwide",
            Band::Full => "full",
        }
    }
}

/// Mono Opus decoder with concealment, at 48 kHz or any lower Opus rate.
pub struct OpusDecoder {
    inner: RawDecoder,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusDecoder")
    }
}

impl OpusDecoder {
    pub fn new() -> Result<Self, VoiceMediaError> {
        Self::at(OPUS_RATE)
    }

    /// A decoder whose output is at `rate` (8, 12, 16, 24 or 48 kHz). libopus decodes at the
    /// rate asked for: SILK at its own internal rate, CELT limited to the bands that rate can
    /// hold, so decoding at 16 kHz is cheaper than decoding at 48 kHz and resampling.
    pub fn at(rate: u32) -> Result<Self, VoiceMediaError> {
        if !is_opus_rate(rate) {
            return Err(VoiceMediaError::UnsupportedRate(rate));
        }
        Ok(Self {
            inner: RawDecoder::new(rate, 1)?,
        })
    }

    /// Decodes one packet into `out` (at least [`MAX_PACKET_SAMPLES`] long); returns the number
    /// of samples written.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, VoiceMediaError> {
        Ok(self.inner.decode(packet, out, false)?)
    }

    /// Conceals `samples` lost samples (a multiple of 2.5 ms) by packet loss concealment.
    pub fn conceal(&mut self, samples: usize, out: &mut [i16]) -> Result<usize, VoiceMediaError> {
        Ok(self.inner.decode(&[], &mut out[..samples], false)?)
    }

    /// Recovers the `samples` lost just before `next_packet` from the in-band FEC data that
    /// packet carries (libopus falls back to PLC when it carries none). `next_packet` must then
    /// still be decoded normally.
    pub fn recover_fec(
        &mut self,
        next_packet: &[u8],
        samples: usize,
        out: &mut [i16],
    ) -> Result<usize, VoiceMediaError> {
        Ok(self.inner.decode(next_packet, &mut out[..samples], true)?)
    }

    /// Samples in `packet` at 48 kHz (`None` for a malformed packet).
    pub fn packet_samples(packet: &[u8]) -> Option<usize> {
        packet_samples(packet, OPUS_RATE).ok()
    }

    /// Whether `packet` may carry in-band FEC for the packet before it: SILK-only (TOC configs
    /// 0–11) and hybrid (12–15) packets can; CELT-only packets (16–31) never do.
    pub fn may_carry_fec(packet: &[u8]) -> bool {
        packet.first().is_some_and(|toc| toc >> 3 < 16)
    }

    /// The audio band `packet` codes, from its TOC byte (RFC 6716 §3.1); `None` when empty.
    pub fn packet_band(packet: &[u8]) -> Option<Band> {
        let config = packet.first()? >> 3;
        Some(match config {
            0..=3 | 16..=19 => Band::Narrow,
            4..=7 => Band::Medium,
            8..=11 | 20..=23 => Band::Wide,
            12 | 13 | 24..=27 => Band::SuperWide,
            _ => Band::Full,
        })
    }

    /// Forgets the decoder's history (as if freshly created).
    pub fn reset(&mut self) -> Result<(), VoiceMediaError> {
        Ok(self.inner.reset()?)
    }
}

/// Encoder complexity (0–10) for the agent's voice. Measured with `cargo bench --bench
/// voice_codec` (espeak-ng speech, 16 kHz coded directly, this project's 2-core AMD EPYC with
/// AVX2): 87 µs per 20 ms frame at 5, 92–94 at 6 and 106–108 at 7, with PESQ-WB 3.93–4.03,
/// 4.12–4.13 and 4.12–4.13. From 6 on SILK keeps three delayed-decision states and its
/// quantiser runs libopus's AVX2 version (at 5 it keeps two, for which libopus's dispatch
/// picks its scalar version, because the AVX2 one regressed on some AMD Zen parts with two);
/// here the third state costs more than the vector code saves, so 6 is ~6% dearer for
/// +0.1 PESQ. Below 4 the noise shaping goes and so does the quality (3.42 measured earlier).
/// parlor's build of libopus runs the SSE4.1 quantiser for two states on AVX2 CPUs instead of
/// the scalar one (same bits, 10 % fewer instructions in the quantiser, 4 % in the encoder;
/// see build.rs), so a CPU with SSE4.1 but without AVX2 runs the same quantiser as this one
/// and pays about what it does, less its AVX2 inner products.
pub const AGENT_COMPLEXITY: i32 = 5;

/// Whether libopus takes PCM at `rate` directly (8, 12, 16, 24 or 48 kHz).
pub const fn is_opus_rate(rate: u32) -> bool {
    Band::for_rate(rate).sample_rate() == rate
}

/// The lowest rate libopus takes directly that holds audio sampled at `rate` (48 kHz above
/// 24 kHz): audio at an Opus rate is coded as it is, other rates are resampled up to it.
pub const fn codec_rate_for(rate: u32) -> u32 {
    Band::for_rate(rate).sample_rate()
}

/// The agent track's encoder: mono, VOIP, [`AGENT_BITRATE`], [`AGENT_COMPLEXITY`], 20 ms
/// frames, taking PCM at 48 kHz or any lower Opus rate (the packets are the same Opus
/// packets on a 48 kHz RTP clock whatever the input rate).
pub struct OpusEncoder {
    inner: RawEncoder,
    frame: usize,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusEncoder")
    }
}

impl OpusEncoder {
    pub fn new() -> Result<Self, VoiceMediaError> {
        Self::at(OPUS_RATE)
    }

    /// An encoder taking 20 ms frames at `rate` (8, 12, 16, 24 or 48 kHz). Below 48 kHz the
    /// coded band is limited to what `rate` holds, as [`Self::band_limited_to`] does.
    pub fn at(rate: u32) -> Result<Self, VoiceMediaError> {
        if !is_opus_rate(rate) {
            return Err(VoiceMediaError::UnsupportedRate(rate));
        }
        let mut inner = RawEncoder::new(rate, 1, APPLICATION_VOIP)?;
        inner.set_bitrate(AGENT_BITRATE)?;
        inner.set_complexity(AGENT_COMPLEXITY)?;
        Ok(Self {
            inner,
            frame: samples_per_20ms(rate),
        })
    }

    /// Sets the encoder complexity (0–10; see [`AGENT_COMPLEXITY`]).
    pub fn with_complexity(mut self, complexity: i32) -> Result<Self, VoiceMediaError> {
        self.inner.set_complexity(complexity)?;
        Ok(self)
    }

    /// Samples in one frame at the encoder's input rate.
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    /// Codes no wider a band than audio sampled at `source_rate` can hold. Agents speak at
    /// 16 kHz (or 8, 22.05, 24 kHz): their audio has nothing above half that rate, so the
    /// encoder need not code it. At 16 kHz this makes every packet SILK-only wideband, which
    /// skips the CELT layer of hybrid mode and is the cheapest way to code speech.
    pub fn band_limited_to(mut self, source_rate: u32) -> Result<Self, VoiceMediaError> {
        self.inner
            .set_max_bandwidth(Band::for_rate(source_rate).opus_bandwidth())?;
        Ok(self)
    }

    /// Enables in-band FEC for an expected loss rate (used by tests to play the browser).
    pub fn with_fec(mut self, loss_percent: i32) -> Result<Self, VoiceMediaError> {
        self.inner.set_inband_fec(true)?;
        self.inner.set_packet_loss_perc(loss_percent)?;
        Ok(self)
    }

    /// Encodes one 20 ms frame ([`Self::frame_samples`] long) into `out`; returns the packet
    /// length.
    pub fn encode(&mut self, frame: &[i16], out: &mut [u8]) -> Result<usize, VoiceMediaError> {
        debug_assert_eq!(frame.len(), self.frame);
        Ok(self.inner.encode(frame, out)?)
    }

    /// Forgets the encoder's history so no stale audio leaks into the next frame.
    pub fn reset(&mut self) -> Result<(), VoiceMediaError> {
        Ok(self.inner.reset()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::core::audio::FRAME_48K;
    use crate::voice::core::audio::test_signal::sine;

    /// The TOC configurations (RFC 6716 §3.1) of a second of a 7 kHz tone (as loud as speech
    /// formants) mixed with a 300 Hz one.
    fn configs(mut encoder: OpusEncoder) -> Vec<u8> {
        let low = sine(300.0, 48_000, 6000.0, 0, 48_000);
        let high = sine(7000.0, 48_000, 3000.0, 0, 48_000);
        let pcm: Vec<i16> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let mut out = vec![0u8; MAX_PACKET_BYTES];
        pcm.chunks(FRAME_48K)
            .map(|frame| {
                encoder.encode(frame, &mut out).unwrap();
                out[0] >> 3
            })
            .collect()
    }

    #[test]
    fn rates_map_to_bands_and_back() {
        for rate in [8_000, 12_000, 16_000, 24_000, 48_000] {
            assert!(is_opus_rate(rate));
            assert_eq!(codec_rate_for(rate), rate);
        }
        assert!(!is_opus_rate(22_050) && !is_opus_rate(44_100) && !is_opus_rate(0));
        assert_eq!(codec_rate_for(22_050), 24_000);
        assert_eq!(codec_rate_for(44_100), 48_000);
        assert_eq!(Band::Narrow.opus_bandwidth(), 1101);
        assert_eq!(Band::Full.opus_bandwidth(), 1105);
    }

    #[test]
    fn the_band_of_a_packet_comes_from_its_toc() {
        let band = |config: u8| OpusDecoder::packet_band(&[config << 3, 0]).unwrap();
        assert_eq!(band(9), Band::Wide, "SILK wideband");
        assert_eq!(band(13), Band::SuperWide, "hybrid super-wideband");
        assert_eq!(band(15), Band::Full, "hybrid fullband");
        assert_eq!(band(17), Band::Narrow, "CELT narrowband");
        assert_eq!(band(31), Band::Full, "CELT fullband");
        assert_eq!(OpusDecoder::packet_band(&[]), None);
        let mut enc = OpusEncoder::at(16_000).unwrap();
        let mut out = vec![0u8; MAX_PACKET_BYTES];
        let n = enc
            .encode(&sine(300.0, 16_000, 6000.0, 0, 320), &mut out)
            .unwrap();
        assert_eq!(OpusDecoder::packet_band(&out[..n]), Some(Band::Wide));
    }

    #[test]
    fn a_16_khz_source_is_coded_silk_only_wideband() {
        let limited = configs(OpusEncoder::new().unwrap().band_limited_to(16_000).unwrap());
        // Configurations 8–11: SILK-only, wideband.
        assert!(limited.iter().all(|c| (8..=11).contains(c)), "{limited:?}");
        // Unlimited, the same audio takes a wider mode (hybrid or CELT) for most frames.
        let full = configs(OpusEncoder::new().unwrap());
        assert!(full.iter().filter(|c| **c >= 12).count() > 25, "{full:?}");
    }
}

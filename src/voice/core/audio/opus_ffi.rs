//! The few libopus calls parlor makes, on the copy of libopus built by `build.rs` from the
//! sources vendored under `libopus/` (1.6.1, BSD; see `libopus/COPYING`).
//!
//! Hand-written rather than a crate: the Rust bindings on crates.io bring libopus in through
//! CMake, which this build does without, and parlor needs eleven functions and a handful of
//! constants, all of them stable since libopus 1.0. [`RawEncoder`] and [`RawDecoder`] own a
//! libopus state (freed on drop) and turn libopus's negative return codes into [`OpusError`];
//! they check every length they pass, so no call can read or write outside a slice.

use std::ffi::{CStr, c_char, c_int};

/// libopus's `OpusEncoder` (opaque).
#[repr(C)]
struct OpusEncoderState {
    _private: [u8; 0],
}

/// libopus's `OpusDecoder` (opaque).
#[repr(C)]
struct OpusDecoderState {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn opus_encoder_create(
        fs: i32,
        channels: c_int,
        application: c_int,
        error: *mut c_int,
    ) -> *mut OpusEncoderState;
    fn opus_encode(
        st: *mut OpusEncoderState,
        pcm: *const i16,
        frame_size: c_int,
        data: *mut u8,
        max_data_bytes: i32,
    ) -> i32;
    fn opus_encoder_ctl(st: *mut OpusEncoderState, request: c_int, ...) -> c_int;
    fn opus_encoder_destroy(st: *mut OpusEncoderState);
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoderState;
    fn opus_decode(
        st: *mut OpusDecoderState,
        data: *const u8,
        len: i32,
        pcm: *mut i16,
        frame_size: c_int,
        decode_fec: c_int,
    ) -> c_int;
    fn opus_decoder_ctl(st: *mut OpusDecoderState, request: c_int, ...) -> c_int;
    fn opus_decoder_destroy(st: *mut OpusDecoderState);
    fn opus_packet_get_nb_samples(packet: *const u8, len: i32, fs: i32) -> c_int;
    fn opus_strerror(error: c_int) -> *const c_char;
    fn opus_get_version_string() -> *const c_char;
}

/// `OPUS_APPLICATION_VOIP`.
pub const APPLICATION_VOIP: c_int = 2048;
const SET_BITRATE: c_int = 4002;
const SET_MAX_BANDWIDTH: c_int = 4004;
const SET_COMPLEXITY: c_int = 4010;
const SET_INBAND_FEC: c_int = 4012;
const SET_PACKET_LOSS_PERC: c_int = 4014;
const RESET_STATE: c_int = 4028;

/// A libopus error code (negative) with libopus's own words for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} ({code})", describe(*.code))]
pub struct OpusError {
    pub code: i32,
}

fn describe(code: i32) -> &'static str {
    // SAFETY: opus_strerror returns a pointer to a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr(opus_strerror(code)) }
        .to_str()
        .unwrap_or("unknown error")
}

fn check(code: c_int) -> Result<usize, OpusError> {
    usize::try_from(code).map_err(|_| OpusError { code })
}

/// The version of the linked libopus (e.g. "libopus 1.6.1").
pub fn version() -> &'static str {
    // SAFETY: a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(opus_get_version_string()) }
        .to_str()
        .unwrap_or("libopus")
}

/// Samples per channel in `packet` at `rate`.
pub fn packet_samples(packet: &[u8], rate: u32) -> Result<usize, OpusError> {
    let len = i32::try_from(packet.len()).map_err(|_| OpusError { code: -1 })?;
    // SAFETY: `packet` is valid for `len` bytes; libopus only reads them.
    check(unsafe { opus_packet_get_nb_samples(packet.as_ptr(), len, rate as i32) })
}

/// An owned libopus encoder state.
pub struct RawEncoder {
    st: *mut OpusEncoderState,
    channels: usize,
}

// SAFETY: the state is plain heap memory owned by this value alone; libopus keeps no
// thread-local or global reference to it, so it may move between threads.
unsafe impl Send for RawEncoder {}

impl RawEncoder {
    pub fn new(rate: u32, channels: usize, application: c_int) -> Result<Self, OpusError> {
        let mut error = 0;
        // SAFETY: plain values and a pointer to a live local for the error code.
        let st =
            unsafe { opus_encoder_create(rate as i32, channels as c_int, application, &mut error) };
        if st.is_null() {
            return Err(OpusError {
                code: error.min(-1),
            });
        }
        Ok(Self { st, channels })
    }

    fn set(&mut self, request: c_int, value: i32) -> Result<(), OpusError> {
        // SAFETY: a live state, and a SET request whose one variadic argument is an opus_int32.
        check(unsafe { opus_encoder_ctl(self.st, request, value) }).map(drop)
    }

    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), OpusError> {
        self.set(SET_BITRATE, bits_per_second)
    }

    pub fn set_complexity(&mut self, complexity: i32) -> Result<(), OpusError> {
        self.set(SET_COMPLEXITY, complexity)
    }

    /// `band`: an `OPUS_BANDWIDTH_*` value (1101 narrowband … 1105 fullband).
    pub fn set_max_bandwidth(&mut self, band: i32) -> Result<(), OpusError> {
        self.set(SET_MAX_BANDWIDTH, band)
    }

    pub fn set_inband_fec(&mut self, on: bool) -> Result<(), OpusError> {
        self.set(SET_INBAND_FEC, i32::from(on))
    }

    pub fn set_packet_loss_perc(&mut self, percent: i32) -> Result<(), OpusError> {
        self.set(SET_PACKET_LOSS_PERC, percent)
    }

    /// Encodes one frame of interleaved `pcm` into `out`; returns the packet length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        let frame = pcm.len() / self.channels;
        let max = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: libopus reads `frame * channels` samples (at most `pcm.len()`) and writes at
        // most `max` bytes into `out`.
        check(unsafe { opus_encode(self.st, pcm.as_ptr(), frame as c_int, out.as_mut_ptr(), max) })
    }

    pub fn reset(&mut self) -> Result<(), OpusError> {
        // SAFETY: a live state; OPUS_RESET_STATE takes no argument.
        check(unsafe { opus_encoder_ctl(self.st, RESET_STATE) }).map(drop)
    }
}

impl Drop for RawEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create and destroyed exactly once.
        unsafe { opus_encoder_destroy(self.st) }
    }
}

/// An owned libopus decoder state.
pub struct RawDecoder {
    st: *mut OpusDecoderState,
    channels: usize,
}

// SAFETY: as for RawEncoder.
unsafe impl Send for RawDecoder {}

impl RawDecoder {
    pub fn new(rate: u32, channels: usize) -> Result<Self, OpusError> {
        let mut error = 0;
        // SAFETY: plain values and a pointer to a live local for the error code.
        let st = unsafe { opus_decoder_create(rate as i32, channels as c_int, &mut error) };
        if st.is_null() {
            return Err(OpusError {
                code: error.min(-1),
            });
        }
        Ok(Self { st, channels })
    }

    /// Decodes `packet` (empty: conceal a lost one; `fec`: recover the one before it from its
    /// in-band FEC) into `out`, which holds as many samples as are to be produced or more;
    /// returns the samples per channel written.
    pub fn decode(
        &mut self,
        packet: &[u8],
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, OpusError> {
        let frame = out.len() / self.channels;
        let (data, len) = if packet.is_empty() {
            (std::ptr::null(), 0)
        } else {
            let len = i32::try_from(packet.len()).map_err(|_| OpusError { code: -1 })?;
            (packet.as_ptr(), len)
        };
        // SAFETY: libopus reads `len` bytes of `packet` (none when null) and writes at most
        // `frame * channels` samples, which `out` holds.
        check(unsafe {
            opus_decode(
                self.st,
                data,
                len,
                out.as_mut_ptr(),
                frame as c_int,
                c_int::from(fec),
            )
        })
    }

    pub fn reset(&mut self) -> Result<(), OpusError> {
        // SAFETY: a live state; OPUS_RESET_STATE takes no argument.
        check(unsafe { opus_decoder_ctl(self.st, RESET_STATE) }).map(drop)
    }
}

impl Drop for RawDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and destroyed exactly once.
        unsafe { opus_decoder_destroy(self.st) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_libopus_words_and_bad_arguments_are_refused() {
        assert!(version().starts_with("libopus 1.6"), "{}", version());
        let e = RawEncoder::new(44_100, 1, APPLICATION_VOIP).err().unwrap();
        assert_eq!(e.code, -1);
        assert!(e.to_string().contains("invalid argument"), "{e}");
        assert!(RawDecoder::new(48_000, 3).is_err());
        let mut enc = RawEncoder::new(48_000, 1, APPLICATION_VOIP).unwrap();
        assert!(enc.set_complexity(11).is_err());
        // A frame size libopus does not take (7 samples) is an error, not a crash.
        let mut out = [0u8; 100];
        assert!(enc.encode(&[0; 7], &mut out).is_err());
        let mut dec = RawDecoder::new(48_000, 1).unwrap();
        let mut pcm = [0i16; 960];
        assert!(dec.decode(&[0xff, 0xff, 0xff], &mut pcm, false).is_err());
        assert!(packet_samples(&[], 48_000).is_err());
    }

    #[test]
    fn a_frame_round_trips_and_concealment_fills_a_gap() {
        let mut enc = RawEncoder::new(16_000, 1, APPLICATION_VOIP).unwrap();
        enc.set_bitrate(32_000).unwrap();
        let pcm: Vec<i16> = (0..320)
            .map(|i| ((i as f64 * 0.2).sin() * 8000.0) as i16)
            .collect();
        let mut packet = [0u8; 4000];
        let n = enc.encode(&pcm, &mut packet).unwrap();
        assert!(n > 1);
        assert_eq!(packet_samples(&packet[..n], 48_000).unwrap(), 960);
        let mut dec = RawDecoder::new(16_000, 1).unwrap();
        let mut out = [0i16; 5760];
        assert_eq!(dec.decode(&packet[..n], &mut out, false).unwrap(), 320);
        assert_eq!(dec.decode(&[], &mut out[..320], false).unwrap(), 320);
        dec.reset().unwrap();
        enc.reset().unwrap();
    }

    /// The packets of a fixed voiced signal at the agent's settings (16 kHz, 32 kbit/s,
    /// complexity 5: two delayed-decision states) equal stock libopus 1.6.1's on this kind of
    /// CPU. Stock libopus runs the scalar quantiser there; parlor's build runs the SSE4.1 one
    /// (build.rs, `silk_nsq_dispatch.c`), which must give the same bits. The reference was
    /// taken from libopus built from the same sources with its own dispatch. Only checked on
    /// CPUs with AVX2 and FMA: libopus's float analysis picks its inner products by CPU, so
    /// other CPUs code the same signal slightly differently.
    #[test]
    fn the_agents_encoding_has_stock_libopus_bits() {
        #[cfg(target_arch = "x86_64")]
        if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
            eprintln!("skipped: the reference was taken on a CPU with AVX2 and FMA");
            return;
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            eprintln!("skipped: the reference was taken on x86_64");
            return;
        }
        #[allow(unreachable_code)]
        {
            const OPUS_BANDWIDTH_WIDEBAND: i32 = 1103;
            let mut enc = RawEncoder::new(16_000, 1, APPLICATION_VOIP).unwrap();
            enc.set_bitrate(32_000).unwrap();
            enc.set_complexity(5).unwrap();
            enc.set_max_bandwidth(OPUS_BANDWIDTH_WIDEBAND).unwrap();
            // A pulse train with a gliding pitch through a resonance, plus noise from an LCG;
            // integer arithmetic only, so that the C program that made the reference
            // computes the same samples.
            let (mut seed, mut y1, mut y2, mut phase) = (12345u32, 0i32, 0i32, 0i32);
            let mut hash = 0xcbf2_9ce4_8422_2325u64;
            let (mut pcm, mut out) = ([0i16; 320], [0u8; 1500]);
            for f in 0..150 {
                for (i, sample) in pcm.iter_mut().enumerate() {
                    let n = f * 320 + i as i32;
                    let period = 80 + (n / 400) % 60;
                    phase += 1;
                    let mut x = 0;
                    if phase >= period {
                        phase = 0;
                        x = 12_000;
                    }
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let noise = ((seed >> 16) & 0x3ff) as i32 - 512;
                    let y = x + ((6554 * y1 - 3277 * y2) >> 12);
                    (y2, y1) = (y1, y);
                    *sample = ((y >> 1) + noise).clamp(-32_768, 32_767) as i16;
                }
                let k = enc.encode(&pcm, &mut out).unwrap();
                for b in &out[..k] {
                    hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
                }
                hash = (hash ^ k as u64).wrapping_mul(0x0100_0000_01b3);
            }
            assert_eq!(format!("{hash:016x}"), "52ff669af8b6c50a");
        }
    }
}

//! The sans-IO audio chain of a voice session: Opus decode and encode at the agent's rate, a
//! stateful resampler per direction where libopus cannot take that rate, reordering of the
//! browser's packets and exact 20 ms framing.
//!
//! [`inbound::InboundChain`] turns the browser's RTP Opus packets into 20 ms PCM chunks at the
//! agent's input rate; [`outbound::OutboundChain`] turns the agent's PCM (any chunk sizes) into
//! 20 ms Opus frames (on the 48 kHz RTP clock whatever rate they were coded from). Agents
//! speak and listen at 16 kHz, which libopus codes and decodes directly, so neither direction
//! resamples: less CPU and 1.25 ms less delay each way than going through 48 kHz. Neither reads a clock, opens a socket or spawns a task: time is
//! passed in, so tests drive them with a fake clock faster than real time. Buffers are allocated
//! once and reused; nothing here logs per frame.

pub mod inbound;
pub mod opus_codec;
pub(crate) mod opus_ffi;
pub mod outbound;
pub mod resample;

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
pub(crate) mod test_signal;

/// Sample rate of Opus on WebRTC, and of both tracks of a voice session.
pub const OPUS_RATE: u32 = 48_000;
/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_48K: usize = 960;

/// Samples in 20 ms at `rate` (every supported rate is a multiple of 50 Hz).
pub const fn samples_per_20ms(rate: u32) -> usize {
    (rate / 50) as usize
}

/// Errors of the voice media layer (codec, resampler and bridge set-up).
#[derive(Debug, thiserror::Error)]
pub enum VoiceMediaError {
    /// libopus refused an operation (bad packet, bad configuration).
    #[error("opus: {0}")]
    Opus(#[from] opus_ffi::OpusError),
    /// The resampler could not be built for this rate pair.
    #[error("resampler for {from} Hz -> {to} Hz: {reason}")]
    Resampler { from: u32, to: u32, reason: String },
    /// A sample rate the chain does not support (not a multiple of 50 Hz, or out of range).
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// The agent said `Started` twice.
    #[error("agent conversation already started")]
    AlreadyStarted,
}

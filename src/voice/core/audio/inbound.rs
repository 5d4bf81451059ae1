//! Browser → agent: RTP Opus packets in, exact 20 ms PCM chunks at the agent's input rate out.
//!
//! Packets that arrive in order are decoded at once (no added delay). A packet that arrives
//! ahead of a hole waits in a small reorder buffer until the hole is filled, or until the hole
//! is given up: after [`ReorderConfig::max_wait`], when more than
//! [`ReorderConfig::max_buffered`] packets wait, or when the newest is more than that many
//! packets ahead. A given-up packet is concealed with the in-band FEC of the packet after it when
//! that one is already here, otherwise with Opus PLC, so every lost 20 ms still yields 20 ms and
//! the agent's timing holds. Duplicates and packets behind the playout point are dropped; audio
//! is never emitted out of order. A jump of more than [`ReorderConfig::resync_after`] packets
//! (a restarted sender) resynchronises without concealing. Packets are decoded at the *decode
//! rate*: the agent's rate when libopus decodes to it directly (8, 12, 16, 24 or 48 kHz;
//! agents listen at 16 kHz), else the next such rate up, followed by one stateful resampler.
//! libopus decoding to 16 kHz does less work than decoding to 48 kHz (SILK is not resampled
//! up, CELT stops at the bands 16 kHz holds) and leaves nothing to resample down. The audio is
//! read in exact 20 ms chunks.
//! Sans-IO: time is a parameter; buffers are allocated once.

use std::time::{Duration, Instant};

#[cfg(doc)]
use super::opus_codec::Band;
use super::opus_codec::{MAX_PACKET_SAMPLES, OpusDecoder, codec_rate_for};
use super::resample::StreamResampler;
use super::{VoiceMediaError, samples_per_20ms};

/// Reorder-buffer limits.
#[derive(Debug, Clone, Copy)]
pub struct ReorderConfig {
    /// Packets that may wait behind a hole before it is concealed.
    pub max_buffered: usize,
    /// How long the oldest waiting packet may wait for the hole to be filled.
    pub max_wait: Duration,
    /// A sequence jump larger than this is a new stream, not a loss.
    pub resync_after: u16,
}

impl Default for ReorderConfig {
    fn default() -> Self {
        Self {
            max_buffered: 3,
            max_wait: Duration::from_millis(40),
            resync_after: 50,
        }
    }
}

/// What happened to the browser's packets (monotonic counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundStats {
    /// Packets handed to `push_rtp`.
    pub packets: u64,
    /// Packets decoded.
    pub decoded: u64,
    /// Packets that arrived ahead of a hole and waited in the reorder buffer.
    pub reordered: u64,
    /// Lost frames concealed with PLC.
    pub concealed: u64,
    /// Lost frames recovered from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets dropped because their place had already been played or concealed.
    pub too_late: u64,
    /// Packets libopus could not decode (concealed instead).
    pub bad_packets: u64,
    /// Sequence jumps treated as a new stream.
    pub resyncs: u64,
    /// Packets by the band they code, in [`Band::ALL`] order (what the browser's encoder
    /// chose; a voice session asks for no more than wideband).
    pub by_band: [u64; 5],
}

/// One waiting packet; the payload buffer is reused.
#[derive(Debug)]
struct Slot {
    seq: u16,
    arrived: Instant,
    payload: Vec<u8>,
}

/// Sans-IO browser → agent audio chain.
#[derive(Debug)]
pub struct InboundChain {
    config: ReorderConfig,
    decoder: OpusDecoder,
    resampler: StreamResampler,
    chunk: usize,
    /// Sequence number of the next packet to play; `None` before the first packet.
    next_seq: Option<u16>,
    waiting: Vec<Slot>,
    spare: Vec<Vec<u8>>,
    pcm: Vec<i16>,
    /// Duration of the last decoded packet, used as the size of a concealed one.
    last_frame: usize,
    stats: InboundStats,
}

impl InboundChain {
    /// A chain producing 20 ms chunks at `target_rate` (the agent's input rate).
    pub fn new(target_rate: u32) -> Result<Self, VoiceMediaError> {
        Self::with_config(target_rate, ReorderConfig::default())
    }

    pub fn with_config(target_rate: u32, config: ReorderConfig) -> Result<Self, VoiceMediaError> {
        let slots = config.max_buffered + 1;
        let decode_rate = codec_rate_for(target_rate);
        Ok(Self {
            config,
            decoder: OpusDecoder::at(decode_rate)?,
            resampler: StreamResampler::new(decode_rate, target_rate)?,
            chunk: samples_per_20ms(target_rate),
            next_seq: None,
            waiting: Vec::with_capacity(slots),
            spare: (0..slots).map(|_| Vec::with_capacity(1500)).collect(),
            pcm: vec![0; MAX_PACKET_SAMPLES],
            last_frame: samples_per_20ms(decode_rate),
            stats: InboundStats::default(),
        })
    }

    /// Samples in one output chunk (20 ms at the target rate).
    pub fn chunk_samples(&self) -> usize {
        self.chunk
    }

    pub fn stats(&self) -> InboundStats {
        self.stats
    }

    /// Delay of the resampler, in target-rate samples.
    pub fn resampler_delay(&self) -> usize {
        self.resampler.output_delay()
    }

    /// Feeds one received RTP packet (`ts` is informational: order comes from `seq`).
    pub fn push_rtp(&mut self, seq: u16, _ts: u32, payload: &[u8], now: Instant) {
        self.stats.packets += 1;
        if let Some(band) = OpusDecoder::packet_band(payload) {
            self.stats.by_band[band as usize] += 1;
        }
        let Some(next) = self.next_seq else {
            self.next_seq = Some(seq);
            self.play(payload);
            return;
        };
        let ahead = seq.wrapping_sub(next) as i16;
        if ahead.unsigned_abs() > self.config.resync_after {
            self.resync(seq, payload);
            return;
        }
        if ahead < 0 {
            self.stats.too_late += 1;
            return;
        }
        if ahead == 0 {
            self.play(payload);
        } else if self.waiting.iter().any(|s| s.seq == seq) {
            self.stats.duplicates += 1;
            return;
        } else {
            self.stats.reordered += 1;
            self.store(seq, payload, now);
        }
        self.release(now);
    }

    /// Gives up holes whose wait has run out; call at [`InboundChain::next_timeout`].
    pub fn poll(&mut self, now: Instant) {
        self.release(now);
    }

    /// When a waiting hole will be given up, if one is waiting.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.waiting
            .iter()
            .map(|s| s.arrived)
            .min()
            .map(|t| t + self.config.max_wait)
    }

    /// Copies the next 20 ms chunk into `out` (exactly [`InboundChain::chunk_samples`] long);
    /// `false` when less than a chunk is ready.
    pub fn pop_chunk(&mut self, out: &mut [i16]) -> bool {
        debug_assert_eq!(out.len(), self.chunk);
        self.resampler.read_exact(out)
    }

    /// Target-rate samples ready to be read.
    pub fn ready_samples(&self) -> usize {
        self.resampler.available()
    }

    fn store(&mut self, seq: u16, payload: &[u8], now: Instant) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        self.waiting.push(Slot {
            seq,
            arrived: now,
            payload: buf,
        });
    }

    /// Plays every waiting packet that is next in line, and gives up holes that waited too long.
    fn release(&mut self, now: Instant) {
        let Some(mut next) = self.next_seq else {
            return;
        };
        loop {
            if let Some(i) = self.waiting.iter().position(|s| s.seq == next) {
                let slot = self.waiting.swap_remove(i);
                self.play(&slot.payload);
                self.spare.push(slot.payload);
                next = next.wrapping_add(1);
                continue;
            }
            let Some(oldest) = self.waiting.iter().map(|s| s.arrived).min() else {
                return;
            };
            let furthest = self
                .waiting
                .iter()
                .map(|s| s.seq.wrapping_sub(next))
                .max()
                .unwrap_or(0);
            let give_up = self.waiting.len() > self.config.max_buffered
                || usize::from(furthest) > self.config.max_buffered
                || now >= oldest + self.config.max_wait;
            if !give_up {
                return;
            }
            self.conceal_next();
            next = next.wrapping_add(1);
        }
    }

    /// Conceals the frame at `next_seq` (FEC from the following packet when it is here).
    fn conceal_next(&mut self) {
        let next = self
            .next_seq
            .expect("concealment only happens inside a stream");
        let following = next.wrapping_add(1);
        let samples = self.last_frame;
        let fec = self
            .waiting
            .iter()
            .find(|s| s.seq == following && OpusDecoder::may_carry_fec(&s.payload));
        let result = match fec {
            Some(slot) => {
                self.stats.fec_recovered += 1;
                self.decoder
                    .recover_fec(&slot.payload, samples, &mut self.pcm)
            }
            None => {
                self.stats.concealed += 1;
                self.decoder.conceal(samples, &mut self.pcm)
            }
        };
        let n = result.unwrap_or_else(|_| {
            self.pcm[..samples].fill(0);
            samples
        });
        self.resampler.push(&self.pcm[..n]);
        self.next_seq = Some(following);
    }

    /// Decodes the packet at `next_seq` and advances.
    fn play(&mut self, payload: &[u8]) {
        match self.decoder.decode(payload, &mut self.pcm) {
            Ok(n) => {
                self.stats.decoded += 1;
                self.last_frame = n;
                self.resampler.push(&self.pcm[..n]);
            }
            Err(_) => {
                self.stats.bad_packets += 1;
                let samples = self.last_frame;
                let n = self
                    .decoder
                    .conceal(samples, &mut self.pcm)
                    .unwrap_or_else(|_| {
                        self.pcm[..samples].fill(0);
                        samples
                    });
                self.resampler.push(&self.pcm[..n]);
            }
        }
        self.next_seq = self.next_seq.map(|s| s.wrapping_add(1));
    }

    /// A new stream: play what waits in order, then continue from `seq`.
    fn resync(&mut self, seq: u16, payload: &[u8]) {
        self.stats.resyncs += 1;
        let next = self.next_seq.unwrap_or(seq);
        // Latest first, so popping from the end plays them in order (at most a few).
        self.waiting
            .sort_by_key(|s| std::cmp::Reverse(s.seq.wrapping_sub(next)));
        while let Some(slot) = self.waiting.pop() {
            self.next_seq = Some(slot.seq);
            self.play(&slot.payload);
            self.spare.push(slot.payload);
        }
        self.next_seq = Some(seq);
        self.play(payload);
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;

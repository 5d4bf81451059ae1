//! Agent → browser: PCM at the agent's output rate in chunks of any size, 20 ms Opus frames out.
//!
//! Agent audio arrives in bursts faster than real time. It is coded at the *codec rate*: the
//! agent's own rate when libopus takes it directly (8, 12, 16, 24 or 48 kHz; agents speak
//! 16 kHz), else the next such rate up, reached through one stateful resampler. Coding 16 kHz
//! speech at 16 kHz gives the same wideband Opus packets as resampling it to 48 kHz first, for
//! less work: no resampler here, none inside libopus back down to SILK's 16 kHz. The queue in
//! front of the encoder is the playout queue: [`OutboundChain::next_frame`] takes exactly one
//! 20 ms frame from it and Opus-encodes it (VOIP, mono, 32 kbps) into a reused buffer.
//! How the audio was chunked never changes the output. When the queue holds less than a frame
//! and no audio has been pushed for [`OutboundChain::TAIL_WAIT`], the last partial frame is
//! completed with silence so a reply's last syllable is not held back. [`OutboundChain::flush`]
//! drops the queue and resets the resampler and the encoder, so nothing stale is heard;
//! [`OutboundChain::fade_out`] (barge-in while the agent is audible) drops it too but first
//! plays a short fade of what was about to be heard and a few frames of silence through the
//! same encoder, so the listener's decoder ends the reply on real frames instead of
//! extrapolating the cut-off voice (packet-loss concealment) until its jitter buffer runs dry. When audio streams in at the playout rate, frames left queued by a stall upstream
//! would delay everything after them for good; such standing delay is trimmed, half of it per
//! half second (see [`OutboundChain::STANDING_WINDOW`]), while a reply sent ahead in bursts is
//! played in full. Sans-IO: the caller passes the time; no allocation per frame.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::opus_codec::codec_rate_for;
use super::opus_codec::{MAX_PACKET_BYTES, OpusEncoder};
use super::resample::StreamResampler;
use super::{VoiceMediaError, samples_per_20ms};

/// Push instants remembered for latency measurement (older ones are forgotten).
const MAX_MARKS: usize = 512;

/// One encoded frame, borrowed from the chain until the next call.
#[derive(Debug)]
pub struct EncodedFrame<'a> {
    /// The Opus packet (20 ms).
    pub payload: &'a [u8],
    /// When the agent audio at the start of this frame was pushed (for latency measurement).
    pub queued_at: Option<Instant>,
    /// Part of the fade-out of a cut reply ([`OutboundChain::fade_out`]), not of a reply.
    pub tail: bool,
}

/// Counters of the outbound chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundStats {
    /// Frames encoded.
    pub frames: u64,
    /// Flushes (barge-ins).
    pub flushes: u64,
    /// Partial last frames completed with silence.
    pub tail_pads: u64,
    /// Agent chunks dropped because [`OutboundChain::MAX_QUEUED`] was already waiting.
    pub overflow_drops: u64,
    /// Frames of standing delay removed (two frames crossfaded into one; see
    /// [`OutboundChain::STANDING_WINDOW`]).
    pub standing_trims: u64,
    /// Cut replies ended with a fade-out (counted in `flushes` too).
    pub fades: u64,
}

/// Queue depth seen by the ticks of the current observation window, and the trims planned
/// by the last one.
#[derive(Debug, Clone, Copy, Default)]
struct DepthWindow {
    ticks: u32,
    /// Fewest whole frames any tick found.
    min: usize,
    /// Depth range, counting the frames trimmed in this window as still queued (the planned
    /// trims do not make a steady queue look unsteady).
    low: usize,
    high: usize,
    /// Frames trimmed in this window.
    trimmed: usize,
    /// Trims still planned, one every `spacing` ticks.
    planned: u32,
    spacing: u32,
}

/// Sans-IO agent → browser audio chain.
pub struct OutboundChain {
    /// Agent rate → codec rate (a bypass when they are equal); its output is the queue.
    resampler: StreamResampler,
    encoder: OpusEncoder,
    /// Samples in one 20 ms frame at the codec rate.
    frame_len: usize,
    frame: Vec<i16>,
    packet: Vec<u8>,
    last_push: Option<Instant>,
    /// (Codec-rate output index of a push's first sample, when it was pushed).
    marks: VecDeque<(u64, Instant)>,
    /// Codec-rate output index of the next input sample (pads included), since the last flush.
    next_in_index: f64,
    /// Codec-rate samples taken as frames (or trimmed) since the last flush.
    taken: u64,
    /// Second frame of a standing-delay trim.
    spare: Vec<i16>,
    depth: DepthWindow,
    /// Fade-out frames still to send (the faded frame, then silence); see [`Self::fade_out`].
    tail: usize,
    /// The faded frame of a fade-out.
    faded: Vec<i16>,
    stats: OutboundStats,
}

impl std::fmt::Debug for OutboundChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundChain")
            .field("resampler", &self.resampler)
            .field("stats", &self.stats)
            .finish()
    }
}

impl OutboundChain {
    /// How long a partial last frame waits for more audio before it is completed with silence.
    pub const TAIL_WAIT: Duration = Duration::from_millis(20);
    /// Audio queued beyond this is dropped. Agents send a reply faster than real time, so the
    /// queue holds up to one reply (played, or flushed at once by a barge-in); no reply is
    /// this long, and a misbehaving agent cannot grow a session's memory without bound.
    pub const MAX_QUEUED: Duration = Duration::from_secs(120);
    /// Ticks over which the queue depth is watched for standing delay (0.5 s). When audio comes
    /// in at the playout rate (streaming), every stall upstream — of the agent, or of the
    /// browser's audio it answers — leaves frames queued that never drain. If during a whole
    /// window every tick found at least [`Self::STANDING_MIN_FRAMES`] whole frames (a spare one
    /// was never needed) and the depth varied by at most [`Self::STANDING_MAX_SPREAD`] frames
    /// (neither a burst arriving faster than real time nor a reply draining), half of the
    /// frames that were never needed (at least one, at most [`Self::MAX_TRIMS_PER_WINDOW`]) are
    /// removed over the next window: each time, two frames are crossfaded into one, so the
    /// waveform stays continuous and the speech is at most 20% faster for a moment. A frame
    /// or two of jitter-left delay thus goes within a second, and a third of a second left by
    /// a stall within about three seconds. A reply sent faster than real time (or in chunks of 60 ms
    /// and more) makes the depth swing by far more than the spread and is played completely.
    pub const STANDING_WINDOW: u32 = 25;
    /// See [`Self::STANDING_WINDOW`].
    pub const STANDING_MIN_FRAMES: usize = 2;
    /// See [`Self::STANDING_WINDOW`].
    pub const STANDING_MAX_SPREAD: usize = 2;
    /// See [`Self::STANDING_WINDOW`]: one trim per five ticks at most.
    pub const MAX_TRIMS_PER_WINDOW: u32 = 5;
    /// Length of the fade of a cut reply; the rest of its frame is silence.
    pub const FADE: Duration = Duration::from_millis(10);
    /// Frames of silence sent after the faded frame of a cut reply: enough for the decoder
    /// to settle on silence (and for the jitter buffer to hold real frames, not concealment).
    pub const SILENT_TAIL_FRAMES: usize = 3;

    /// A chain for agent audio at `source_rate`.
    pub fn new(source_rate: u32) -> Result<Self, VoiceMediaError> {
        let codec_rate = codec_rate_for(source_rate);
        let resampler = StreamResampler::new(source_rate, codec_rate)?;
        let next_in_index = resampler.output_delay() as f64;
        let frame_len = samples_per_20ms(codec_rate);
        Ok(Self {
            resampler,
            encoder: OpusEncoder::at(codec_rate)?.band_limited_to(source_rate)?,
            frame_len,
            frame: vec![0; frame_len],
            packet: vec![0; MAX_PACKET_BYTES],
            last_push: None,
            marks: VecDeque::with_capacity(MAX_MARKS),
            next_in_index,
            taken: 0,
            spare: vec![0; frame_len],
            depth: DepthWindow::default(),
            tail: 0,
            faded: vec![0; frame_len],
            stats: OutboundStats::default(),
        })
    }

    pub fn stats(&self) -> OutboundStats {
        self.stats
    }

    /// Delay of the resampler, in codec-rate samples (0 when the agent's rate is coded as it
    /// is).
    pub fn resampler_delay(&self) -> usize {
        self.resampler.output_delay()
    }

    /// The rate the encoder takes (see the module documentation).
    pub fn codec_rate(&self) -> u32 {
        self.resampler.rate_out()
    }

    /// Queues agent audio (any length) received at `now`.
    pub fn push_pcm(&mut self, pcm: &[i16], now: Instant) {
        if pcm.is_empty() {
            return;
        }
        if self.queued_duration() >= Self::MAX_QUEUED {
            self.stats.overflow_drops += 1;
            return;
        }
        if self.marks.len() < MAX_MARKS {
            self.marks.push_back((self.next_in_index as u64, now));
        }
        self.advance_in_index(pcm.len());
        self.resampler.push(pcm);
        self.last_push = Some(now);
    }

    /// Whole 20 ms frames ready to encode (fade-out frames included).
    pub fn queued_frames(&self) -> usize {
        self.resampler.available() / self.frame_len + self.tail
    }

    /// Audio waiting to be played (ready output plus input not yet resampled).
    pub fn queued_duration(&self) -> Duration {
        let rate_out = f64::from(self.resampler.rate_out());
        let pending =
            self.resampler.pending_input() as f64 * rate_out / f64::from(self.resampler.rate_in());
        let samples =
            self.resampler.available() as f64 + pending + (self.tail * self.frame_len) as f64;
        Duration::from_secs_f64(samples / rate_out)
    }

    /// Whether nothing at all is waiting to be played.
    pub fn is_empty(&self) -> bool {
        self.tail == 0 && self.resampler.available() == 0 && self.resampler.pending_input() == 0
    }

    /// Encodes the next 20 ms frame, or `None` when less than a frame is queued (after
    /// completing a partial last frame with silence once [`Self::TAIL_WAIT`] has passed).
    pub fn next_frame(
        &mut self,
        now: Instant,
    ) -> Result<Option<EncodedFrame<'_>>, VoiceMediaError> {
        if self.tail > 0 {
            return self.next_tail_frame().map(Some);
        }
        if self.resampler.available() < self.frame_len && !self.is_empty() && self.tail_is_due(now)
        {
            let zeros = self.resampler.pad_pending();
            self.advance_in_index(zeros);
            let added = self.resampler.pad_output_to(self.frame_len);
            self.next_in_index += added as f64;
            self.stats.tail_pads += 1;
        }
        let trim = self.observe_depth();
        if !self.resampler.read_exact(&mut self.frame) {
            return Ok(None);
        }
        let start = self.taken;
        self.taken += self.frame_len as u64;
        if trim {
            if self.resampler.read_exact(&mut self.spare) {
                self.taken += self.frame_len as u64;
                crossfade(&mut self.frame, &self.spare);
                self.stats.standing_trims += 1;
            } else {
                self.depth.trimmed -= 1;
            }
        }
        let len = self.encoder.encode(&self.frame, &mut self.packet)?;
        self.stats.frames += 1;
        let queued_at = self.queued_at(start);
        Ok(Some(EncodedFrame {
            payload: &self.packet[..len],
            queued_at,
            tail: false,
        }))
    }

    /// The next frame of a fade-out: the faded frame first, then silence.
    fn next_tail_frame(&mut self) -> Result<EncodedFrame<'_>, VoiceMediaError> {
        let first = self.tail == Self::SILENT_TAIL_FRAMES + 1;
        self.tail -= 1;
        if !first {
            self.faded.fill(0);
        }
        let len = self.encoder.encode(&self.faded, &mut self.packet)?;
        self.stats.frames += 1;
        Ok(EncodedFrame {
            payload: &self.packet[..len],
            queued_at: None,
            tail: true,
        })
    }

    /// Barge-in while nothing is audible: drops everything queued and resets the resampler
    /// and the encoder.
    pub fn flush(&mut self) -> Result<(), VoiceMediaError> {
        self.drop_queue();
        self.tail = 0;
        self.encoder.reset()?;
        self.stats.flushes += 1;
        Ok(())
    }

    /// Barge-in while the agent is audible: the next [`Self::FADE`] of what was about
    /// to be played, faded linearly to zero, then [`Self::SILENT_TAIL_FRAMES`] frames of
    /// silence, all through the encoder that carried the reply (so the decoder's state flows
    /// into silence); everything else queued is dropped. Audio pushed afterwards plays after
    /// these frames. No allocation.
    pub fn fade_out(&mut self) {
        self.faded.fill(0);
        let fade = self.fade_samples();
        let n = self.resampler.available().min(fade);
        if n > 0 {
            self.resampler.read_exact(&mut self.faded[..n]);
        }
        let len = fade as i32;
        for (i, x) in self.faded[..fade].iter_mut().enumerate() {
            *x = (i32::from(*x) * (len - i as i32) / len) as i16;
        }
        self.drop_queue();
        self.tail = Self::SILENT_TAIL_FRAMES + 1;
        self.stats.flushes += 1;
        self.stats.fades += 1;
    }

    /// Drops the queued audio (a fade-out under way is kept) and leaves the encoder as it
    /// is: for a cut while nothing is audible, where no reset is needed. Infallible.
    pub fn discard(&mut self) {
        self.drop_queue();
        self.stats.flushes += 1;
    }

    /// [`Self::FADE`] in codec-rate samples.
    pub fn fade_samples(&self) -> usize {
        self.frame_len / 2
    }

    fn drop_queue(&mut self) {
        self.resampler.reset();
        self.marks.clear();
        self.next_in_index = self.resampler.output_delay() as f64;
        self.taken = 0;
        self.depth = DepthWindow::default();
        self.last_push = None;
    }

    fn tail_is_due(&self, now: Instant) -> bool {
        self.last_push
            .is_none_or(|t| now.saturating_duration_since(t) >= Self::TAIL_WAIT)
    }

    fn advance_in_index(&mut self, source_samples: usize) {
        self.next_in_index += source_samples as f64 * f64::from(self.resampler.rate_out())
            / f64::from(self.resampler.rate_in());
    }

    /// Called once per tick: records the queue depth and tells whether a frame of standing
    /// delay is to be removed now (see [`Self::STANDING_WINDOW`]).
    fn observe_depth(&mut self) -> bool {
        let depth = self.queued_frames();
        let w = &mut self.depth;
        if depth == 0 {
            *w = DepthWindow::default();
            return false;
        }
        let seen = depth + w.trimmed;
        if w.ticks == 0 {
            (w.min, w.low, w.high) = (depth, seen, seen);
        }
        w.ticks += 1;
        w.min = w.min.min(depth);
        w.low = w.low.min(seen);
        w.high = w.high.max(seen);
        let mut trim = w.planned > 0 && w.ticks.is_multiple_of(w.spacing);
        if w.ticks >= Self::STANDING_WINDOW {
            let steady =
                w.min >= Self::STANDING_MIN_FRAMES && w.high - w.low <= Self::STANDING_MAX_SPREAD;
            let planned = if steady {
                // Half the frames no tick needed, rounded up.
                (w.min / 2).min(Self::MAX_TRIMS_PER_WINDOW as usize) as u32
            } else {
                0
            };
            *w = DepthWindow {
                planned,
                spacing: Self::STANDING_WINDOW / planned.max(1),
                ..DepthWindow::default()
            };
            // The first planned trim is made at once.
            trim = planned > 0;
        }
        if trim {
            w.planned = w.planned.saturating_sub(1);
            w.trimmed += 1;
        }
        trim
    }

    /// The push instant of the first chunk whose audio starts in the frame at codec-rate output
    /// index `start` (the frame that carries that chunk out), or, when no chunk starts in it,
    /// of the chunk it continues. The resampler delay puts the last few samples of the previous
    /// chunk at the head of each frame; those belong to that chunk's own playout, so labelling
    /// the frame with the previous chunk would overstate the wait by a whole frame.
    fn queued_at(&mut self, start: u64) -> Option<Instant> {
        while self.marks.len() > 1 && self.marks[1].0 <= start {
            self.marks.pop_front();
        }
        let end = start + self.frame_len as u64;
        let starting_here = self
            .marks
            .iter()
            .take(2)
            .find(|&&(index, _)| index >= start && index < end);
        starting_here.or(self.marks.front()).map(|&(_, t)| t)
    }
}

/// Crossfades `frame` into `next` over the whole frame (linear), in place: the result starts
/// where `frame` starts and ends where `next` ends.
fn crossfade(frame: &mut [i16], next: &[i16]) {
    let n = frame.len() as i32;
    for (i, (a, &b)) in frame.iter_mut().zip(next).enumerate() {
        let w = i as i32;
        *a = ((i32::from(*a) * (n - w) + i32::from(b) * w) / n) as i16;
    }
}

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;

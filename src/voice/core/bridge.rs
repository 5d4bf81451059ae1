//! The voice bridge core: a sans-IO state machine between the browser's audio track and an
//! agent connection.
//!
//! It owns the two media chains ([`InboundChain`], [`OutboundChain`]), the playout [`Pacer`] and
//! the barge-in [`EventGate`]. The caller (the tokio task in [`crate::voice::room_agent`]) only moves bytes:
//!
//! 1. Create it with [`VoiceBridge::new`] when the session starts.
//! 2. Feed inputs as they happen: [`VoiceBridge::on_client_rtp`] for every received RTP packet
//!    of the browser's audio track, [`VoiceBridge::on_agent_event`] for every agent event,
//!    [`VoiceBridge::set_talking`] when the talk button changes.
//! 3. Sleep until [`VoiceBridge::poll_timeout`] and call [`VoiceBridge::on_tick`].
//! 4. After every call, drain [`VoiceBridge::poll_output`] until `None`: send `ToAgent`
//!    commands to the agent connection, write `Frame`s to the agent's RTP track with the given
//!    timestamp and marker, forward `Transcript`s to the browser, and stop after `Ended`.
//!
//! Rules it enforces: no user audio reaches the agent before `Started`; an `Interruption` flushes
//! the playout queue within the same call (frames not yet drained included), so the next tick
//! sends nothing stale, and pressing the talk button while the agent is audible does the same
//! at once (push-to-talk is an explicit barge-in: the service may already have sent the whole
//! reply); a reply cut while audible ends with a short fade and a few silent frames rather than
//! mid-word, so the listener's decoder does not conceal the cut by extrapolating the voice;
//! agent audio passes the event-id rule of [`EventGate`]; the agent gets
//! one 20 ms chunk per 20 ms whatever the browser does (see [`VoiceBridge::set_talking`]);
//! playout follows the agent's audio (a talkspurt places the grid just after its first audio,
//! a tick of flowing audio waits [`VoiceBridge::LATE_HOLD`] for a late frame); when
//! the agent ends, the queued reply is still played out and `Ended` is reported after its last
//! frame. The core never reads a clock, never blocks, never logs per frame.

use std::time::{Duration, Instant};

use super::audio::VoiceMediaError;
use super::audio::inbound::InboundChain;
use super::audio::outbound::OutboundChain;
use super::events::{AgentCommand, AgentEvent, EndReason};
use super::gate::{EventGate, GateDecision};
use super::pacer::{Pacer, TICK};

mod phase;
mod playout;
mod queue;
mod types;
mod user_audio;

use phase::PhaseAligner;
use queue::OutputQueue;
pub use types::{BridgeConfig, BridgeOutput, BridgeStats, Speaker, Transcript, TranscriptKind};

#[derive(Debug)]
enum Phase {
    /// Waiting for the agent's `Started`.
    Connecting,
    Running,
    /// The agent ended; the queued reply is still being played.
    Draining(EndReason),
    Ended,
}

/// A running media session (sans-IO).
#[derive(Debug)]
pub struct VoiceBridge {
    config: BridgeConfig,
    phase: Phase,
    pacer: Pacer,
    phase_aligner: PhaseAligner,
    gate: EventGate,
    inbound: Option<InboundChain>,
    outbound: Option<OutboundChain>,
    talking: bool,
    /// Start of the agent chunk clock (`Started`), and chunks sent on it so far.
    chunk_clock: Option<Instant>,
    chunks_sent: u64,
    /// Ticks in a row that sent nothing (saturating).
    idle_ticks: u32,
    /// The agent is speaking (the last [`BridgeOutput::Speaking`] said so).
    speaking: bool,
    scratch: Vec<i16>,
    outputs: OutputQueue,
    stats: BridgeStats,
}

impl VoiceBridge {
    /// Ticks without a frame after which agent audio starts a new talkspurt.
    pub const TALKSPURT_IDLE_TICKS: u32 = 3;
    /// Ticks without a frame after which the agent counts as silent again (300 ms): a reply
    /// streamed in chunks leaves gaps of a few ticks that are not the end of it.
    pub const SPEAKING_HANGOVER_TICKS: u32 = 15;
    /// How long the first frame of a talkspurt waits before its tick is served: the grid is
    /// placed this far after the audio's arrival, so chunks that follow at the playout rate
    /// make their ticks despite a few milliseconds of jitter.
    pub const TALKSPURT_LEAD: Duration = Duration::from_millis(4);
    /// How long past its deadline a tick of flowing audio waits for its frame when the agent's
    /// audio is late (jitter on the agent's connection). Sent late by a few milliseconds, the
    /// frame keeps its place; sent a tick later, it and everything after it would stand a
    /// frame behind until the standing-delay trim removed a frame.
    pub const LATE_HOLD: Duration = Duration::from_millis(8);

    /// A bridge whose playout clock starts at `now`; the talk button starts released.
    pub fn new(now: Instant, config: BridgeConfig) -> Self {
        Self {
            config,
            phase: Phase::Connecting,
            pacer: Pacer::new(now, config.rtp_base),
            phase_aligner: PhaseAligner::new(),
            gate: EventGate::new(),
            inbound: None,
            outbound: None,
            talking: false,
            chunk_clock: None,
            chunks_sent: 0,
            idle_ticks: Self::TALKSPURT_IDLE_TICKS,
            speaking: false,
            scratch: Vec::new(),
            outputs: OutputQueue::new(),
            stats: BridgeStats::default(),
        }
    }

    /// Handles one agent event.
    pub fn on_agent_event(
        &mut self,
        event: AgentEvent,
        now: Instant,
    ) -> Result<(), VoiceMediaError> {
        match event {
            AgentEvent::Started { input, output, .. } => {
                self.start(input.sample_rate, output.sample_rate, now)?
            }
            AgentEvent::Audio { event_id, pcm } => self.agent_audio(event_id, &pcm, now),
            AgentEvent::Interruption { event_id } => self.interrupt(event_id)?,
            AgentEvent::UserTranscript {
                event_id,
                text,
                tentative,
            } => {
                let kind = if tentative {
                    TranscriptKind::Tentative
                } else {
                    TranscriptKind::Final
                };
                self.transcript(Speaker::User, event_id, text, kind);
            }
            AgentEvent::AgentResponse { event_id, text } => {
                self.transcript(Speaker::Agent, event_id, text, TranscriptKind::Final);
            }
            AgentEvent::AgentResponseCorrection {
                event_id,
                original,
                corrected,
            } => {
                self.transcript(
                    Speaker::Agent,
                    event_id,
                    corrected,
                    TranscriptKind::Correction { original },
                );
            }
            AgentEvent::Ended(reason) => self.agent_ended(reason),
        }
        Ok(())
    }

    /// Handles one RTP packet of the browser's audio track (Opus, 48 kHz).
    pub fn on_client_rtp(&mut self, seq: u16, rtp_timestamp: u32, payload: &[u8], now: Instant) {
        match (&self.phase, &mut self.inbound) {
            (Phase::Running, Some(inbound)) => inbound.push_rtp(seq, rtp_timestamp, payload, now),
            _ => {
                self.stats.packets_ignored += 1;
                return;
            }
        }
        self.forward_chunks(now);
    }

    /// Hold-to-speak. While released, the browser's audio is decoded (keeping the decoder and
    /// resampler warm, so pressing does not click) but discarded, and the agent gets a
    /// zero-filled chunk on every 20 ms of its chunk clock, as the official SDKs do when muted.
    /// While held, real chunks go to the agent as soon as they are complete; if the browser's
    /// audio falls more than [`BridgeConfig::held_slack_chunks`] chunks behind the chunk clock
    /// (packets stopped or lost), silence fills the gap, so the agent never waits more than
    /// that long for audio. When the late audio then arrives, its quiet chunks are skipped
    /// until the agent's input is back on its clock (their time was already sent as silence,
    /// and sending them too would put everything after them behind for good); speech is
    /// always sent. Pressing also tells the agent the user is active, and while the agent is
    /// audible it is a barge-in: the reply being played stops at once (with its fade-out) and
    /// the rest of it is ignored, whatever the service does.
    pub fn set_talking(&mut self, held: bool) {
        if held && !self.talking && matches!(self.phase, Phase::Running) {
            self.outputs.command(AgentCommand::UserActivity);
            if self.speaking || self.outbound.as_ref().is_some_and(|o| !o.is_empty()) {
                self.gate.barge_in();
                self.cut_playout();
                self.stats.press_barge_ins += 1;
            }
        }
        self.talking = held;
    }

    /// Whether the talk button is held.
    pub fn is_talking(&self) -> bool {
        self.talking
    }

    /// The user (or the server) ends the session now: the agent is told to close and the
    /// session ends without playing what is queued.
    pub fn hang_up(&mut self) {
        self.end_now(EndReason::Hangup);
    }

    /// Like [`VoiceBridge::hang_up`], ending for `reason` (e.g. the server restarting).
    pub fn end_now(&mut self, reason: EndReason) {
        if matches!(self.phase, Phase::Ended) {
            return;
        }
        if !matches!(self.phase, Phase::Draining(_)) {
            self.outputs.command(AgentCommand::Close);
        }
        self.outputs.drop_frames();
        self.stats = self.stats();
        self.outbound = None;
        self.inbound = None;
        self.outputs.ended(reason);
        self.phase = Phase::Ended;
    }

    /// When [`VoiceBridge::on_tick`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let tick = if self.holds_tick() {
            self.pacer.next_deadline() + Self::LATE_HOLD
        } else {
            self.pacer.wake_at()
        };
        match self.inbound.as_ref().and_then(InboundChain::next_timeout) {
            Some(t) => t.min(tick),
            None => tick,
        }
    }

    /// Advances time: releases reordered packets whose wait ran out, keeps the agent's chunk
    /// clock (checked on every call, normally once per playout tick) and handles every due
    /// playout tick, each sending at most one frame.
    pub fn on_tick(&mut self, now: Instant) -> Result<(), VoiceMediaError> {
        if let Some(inbound) = &mut self.inbound {
            inbound.poll(now);
            self.forward_chunks(now);
        }
        self.keep_chunk_clock(now);
        self.play_due_ticks(now)?;
        self.finish_draining();
        Ok(())
    }

    /// The next thing to do, or `None` when there is nothing left. A frame's payload is
    /// borrowed until the next call.
    pub fn poll_output(&mut self) -> Option<BridgeOutput<'_>> {
        self.outputs.poll()
    }

    /// Counters so far.
    pub fn stats(&self) -> BridgeStats {
        let mut stats = self.stats;
        stats.missed_ticks = self.pacer.missed_ticks();
        stats.late_ticks = self.pacer.late_ticks();
        stats.inbound = self
            .inbound
            .as_ref()
            .map(InboundChain::stats)
            .unwrap_or(self.stats.inbound);
        stats.outbound = self
            .outbound
            .as_ref()
            .map(OutboundChain::stats)
            .unwrap_or(self.stats.outbound);
        stats
    }

    /// Where a bridge replacing this one at `now` should start its RTP timestamps (see
    /// [`Pacer::rtp_timestamp_from`]).
    pub fn rtp_timestamp_from(&self, now: Instant) -> u32 {
        self.pacer.rtp_timestamp_from(now)
    }

    /// Agent audio waiting to be played.
    pub fn queued_playout(&self) -> Duration {
        self.outbound
            .as_ref()
            .map_or(Duration::ZERO, OutboundChain::queued_duration)
    }

    /// Whether `Ended` has been reported (or queued for `poll_output`).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    fn start(
        &mut self,
        input_rate: u32,
        output_rate: u32,
        now: Instant,
    ) -> Result<(), VoiceMediaError> {
        if !matches!(self.phase, Phase::Connecting) {
            return Err(VoiceMediaError::AlreadyStarted);
        }
        let inbound = InboundChain::with_config(input_rate, self.config.reorder)?;
        self.scratch = vec![0; inbound.chunk_samples()];
        self.inbound = Some(inbound);
        self.outbound = Some(OutboundChain::new(output_rate)?);
        self.chunk_clock = Some(now);
        self.phase = Phase::Running;
        if self.talking {
            self.outputs.command(AgentCommand::UserActivity);
        }
        Ok(())
    }

    fn agent_audio(&mut self, event_id: u64, pcm: &[i16], now: Instant) {
        let Some(outbound) = &mut self.outbound else {
            return;
        };
        if !matches!(self.phase, Phase::Running | Phase::Draining(_)) {
            return;
        }
        match self.gate.on_audio(event_id) {
            GateDecision::Accept => outbound.push_pcm(pcm, now),
            GateDecision::Stale | GateDecision::Interrupted => {
                self.stats.gate_dropped += 1;
                return;
            }
        }
        self.start_talkspurt(now);
    }

    fn interrupt(&mut self, event_id: u64) -> Result<(), VoiceMediaError> {
        self.gate.on_interruption(event_id);
        if !self.speaking
            && let Some(outbound) = &mut self.outbound
        {
            // Nothing audible to end: drop the queue and start the encoder afresh.
            outbound.flush()?;
        }
        self.cut_playout();
        self.finish_draining();
        Ok(())
    }

    /// Stops the agent's audio now: frames not yet drained are dropped and the queue with
    /// them; if the agent is audible, a fade-out takes its place ([`OutboundChain::fade_out`]).
    fn cut_playout(&mut self) {
        if let Some(outbound) = &mut self.outbound {
            if self.speaking {
                outbound.fade_out();
            } else {
                outbound.discard();
            }
        }
        self.outputs.drop_frames();
        self.set_speaking(false);
        self.stats.flushes += 1;
    }

    /// Reports a change of the agent's speaking state.
    fn set_speaking(&mut self, on: bool) {
        if self.speaking != on {
            self.speaking = on;
            self.outputs.speaking(on);
        }
    }

    fn transcript(&mut self, speaker: Speaker, event_id: u64, text: String, kind: TranscriptKind) {
        if matches!(self.phase, Phase::Ended) {
            return;
        }
        self.outputs.transcript(Transcript {
            speaker,
            event_id,
            text,
            kind,
        });
    }

    fn agent_ended(&mut self, reason: EndReason) {
        match self.phase {
            Phase::Ended | Phase::Draining(_) => return,
            Phase::Connecting | Phase::Running => {}
        }
        if let Some(inbound) = self.inbound.take() {
            self.stats.inbound = inbound.stats();
        }
        self.phase = Phase::Draining(reason);
        self.finish_draining();
    }

    /// Reports `Ended` once a draining session has played its last frame.
    fn finish_draining(&mut self) {
        if !matches!(self.phase, Phase::Draining(_)) {
            return;
        }
        if self.outbound.as_ref().is_some_and(|o| !o.is_empty()) {
            return;
        }
        if let Some(outbound) = self.outbound.take() {
            self.stats.outbound = outbound.stats();
        }
        if let Phase::Draining(reason) = std::mem::replace(&mut self.phase, Phase::Ended) {
            self.outputs.ended(reason);
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod latency_tests;

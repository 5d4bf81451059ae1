//! The bridge's vocabulary towards its caller: settings, the outputs to act on (commands for
//! the agent, frames for the browser, transcript lines, the end) and the counters it keeps.
//! Plain data; the state machine is in the parent module.

use std::time::Instant;

use crate::voice::core::audio::inbound::{InboundStats, ReorderConfig};
use crate::voice::core::audio::outbound::OutboundStats;
use crate::voice::core::events::{AgentCommand, EndReason};

/// Bridge settings.
#[derive(Debug, Clone, Copy)]
pub struct BridgeConfig {
    /// First RTP timestamp of the agent's track (random in production).
    pub rtp_base: u32,
    /// While the talk button is held, how many 20 ms chunks the browser's audio may lag behind
    /// the agent chunk clock before the bridge fills the gap with silence. Keep it longer than
    /// [`ReorderConfig::max_wait`], so a hole being waited for is not also filled with silence.
    pub held_slack_chunks: u64,
    /// Reorder buffer of the browser's packets.
    pub reorder: ReorderConfig,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            rtp_base: 0,
            held_slack_chunks: 3,
            reorder: ReorderConfig::default(),
        }
    }
}

/// Who said a transcript line (the room's word for it).
pub use crate::rooms::Speaker;

/// What kind of transcript line this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptKind {
    /// Final text.
    Final,
    /// A partial hypothesis of the user's speech; a later line with the same id replaces it.
    Tentative,
    /// The agent's earlier line with this id was cut short; `text` is what was actually said.
    Correction { original: String },
}

/// One transcript line for the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub speaker: Speaker,
    pub event_id: u64,
    pub text: String,
    pub kind: TranscriptKind,
}

/// Something the caller must do.
#[derive(Debug, PartialEq)]
pub enum BridgeOutput<'a> {
    /// Send this to the agent connection.
    ToAgent(AgentCommand),
    /// Write this Opus packet to the agent's RTP track now.
    Frame {
        rtp_timestamp: u32,
        marker: bool,
        payload: &'a [u8],
        /// When the agent audio at the start of this frame reached the bridge.
        queued_at: Option<Instant>,
        /// The playout tick this frame is for (its send should follow at once).
        due: Instant,
    },
    /// Show this to the browser.
    Transcript(Transcript),
    /// The agent's voice started (`true`) or stopped (`false`): one change per talkspurt,
    /// with a hang-over of [`VoiceBridge::SPEAKING_HANGOVER_TICKS`](super::VoiceBridge)
    /// so the short gaps of a reply streamed in chunks do not end it; a barge-in ends it at
    /// once.
    Speaking(bool),
    /// The conversation is over (after the last queued frame was sent).
    Ended(EndReason),
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Playout ticks handled (ticks skipped after a stall not included).
    pub ticks: u64,
    /// Opus frames sent to the browser.
    pub frames_sent: u64,
    /// Playout ticks skipped because the caller stalled.
    pub missed_ticks: u64,
    /// Playout ticks served late, back to back.
    pub late_ticks: u64,
    /// Times the playout grid moved earlier to cut avoidable wait (see `bridge::phase`).
    pub grid_moves: u64,
    /// Talkspurts whose first frame set the grid (agent audio after a silence).
    pub talkspurts: u64,
    /// Ticks held past their deadline for late agent audio and sent with it
    /// ([`super::VoiceBridge::LATE_HOLD`]).
    pub held_ticks: u64,
    /// 20 ms chunks sent to the agent (real and silence).
    pub chunks_to_agent: u64,
    /// Of which silence (talk button up, or the browser's audio stopped).
    pub silence_chunks: u64,
    /// Browser chunks dropped because the talk button was up.
    pub discarded_chunks: u64,
    /// Quiet browser chunks skipped because silence had already been sent for their time (see
    /// [`BridgeConfig::held_slack_chunks`]).
    pub late_quiet_skipped: u64,
    /// Agent audio chunks dropped by the event-id rule.
    pub gate_dropped: u64,
    /// Presses of the talk button that cut an audible reply (explicit barge-ins).
    pub press_barge_ins: u64,
    /// Fade-out frames sent after cut replies.
    pub fade_frames: u64,
    /// Chunks the agent's input stood ahead of its clock when the talk button was released
    /// (late speech sent after its time was filled with silence), forgiven so that the
    /// silence after the release keeps real-time pace.
    pub ahead_forgiven: u64,
    /// Playout flushes (interruptions).
    pub flushes: u64,
    /// Browser packets ignored before `Started` or after the end.
    pub packets_ignored: u64,
    pub inbound: InboundStats,
    pub outbound: OutboundStats,
}

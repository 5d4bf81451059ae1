//! What a voice agent connection tells the bridge, and what the bridge tells it.
//!
//! Agent connections (the ElevenLabs WebSocket client, the echo agent) translate their wire
//! protocol into [`AgentEvent`]s and accept [`AgentCommand`]s. Keep-alives (`ping`/`pong`) and
//! tool calls are answered inside the connection and never reach the bridge.

use std::fmt;

/// Sample encoding of an agent audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// 16-bit signed little-endian mono PCM.
    Pcm16,
    /// G.711 µ-law, 8 bits per sample.
    Ulaw,
}

/// An agent audio format such as `pcm_16000` or `ulaw_8000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub codec: AudioCodec,
    pub sample_rate: u32,
}

impl AudioFormat {
    pub const PCM_16000: AudioFormat = AudioFormat {
        codec: AudioCodec::Pcm16,
        sample_rate: 16_000,
    };

    /// Parses `<codec>_<rate>`; `None` for anything else (unknown codec, rate out of range).
    pub fn parse(name: &str) -> Option<AudioFormat> {
        let (codec, rate) = name.split_once('_')?;
        let codec = match codec {
            "pcm" => AudioCodec::Pcm16,
            "ulaw" => AudioCodec::Ulaw,
            _ => return None,
        };
        let sample_rate: u32 = rate.parse().ok()?;
        if !(8_000..=48_000).contains(&sample_rate) {
            return None;
        }
        Some(AudioFormat { codec, sample_rate })
    }

    /// Samples in one 20 ms chunk at this rate.
    pub fn samples_per_20ms(&self) -> usize {
        (self.sample_rate / 50) as usize
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = match self.codec {
            AudioCodec::Pcm16 => "pcm",
            AudioCodec::Ulaw => "ulaw",
        };
        write!(f, "{codec}_{}", self.sample_rate)
    }
}

/// Why an agent conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The agent closed normally (1000): it ended the call or reached its maximum duration.
    Completed,
    /// The agent could not be reached or refused the connection.
    Unreachable(String),
    /// The agent closed with an error code (1002 operational, 1008 contract, 1011 internal).
    AgentError { code: u16, reason: String },
    /// Nothing arrived from the agent for too long.
    Stalled,
    /// The bridge (user or server) ended the conversation.
    Hangup,
    /// The server is restarting (its drain time ran out).
    ServerRestart,
}

/// One event from the agent, already decoded from its wire format.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The conversation is set up; audio may flow in `input` and will arrive in `output`.
    Started {
        conversation_id: String,
        input: AudioFormat,
        output: AudioFormat,
    },
    /// Agent speech, decoded to PCM samples at the output rate. All chunks of one reply share
    /// `event_id`.
    Audio { event_id: u64, pcm: Vec<i16> },
    /// The user spoke over the agent: stop playing and apply the event-id rule.
    Interruption { event_id: u64 },
    /// What the agent heard the user say (`tentative` for partial hypotheses).
    UserTranscript {
        event_id: u64,
        text: String,
        tentative: bool,
    },
    /// What the agent says (text of a reply).
    AgentResponse { event_id: u64, text: String },
    /// The agent's text was corrected after an interruption cut it short.
    AgentResponseCorrection {
        event_id: u64,
        original: String,
        corrected: String,
    },
    /// The conversation is over; no further events follow.
    Ended(EndReason),
}

/// One command from the bridge to the agent connection.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentCommand {
    /// 20 ms of user audio at the agent's input rate (zeros while the talk button is up).
    UserAudio(Vec<i16>),
    /// The user is active (resets the agent's turn timeout).
    UserActivity,
    /// Non-interrupting context for the agent.
    ContextualUpdate(String),
    /// End the conversation (normal close).
    Close,
}

impl EndReason {
    /// The end of a conversation, in words for the user.
    pub fn in_words(&self) -> String {
        match self {
            EndReason::Completed => "The AI coach ended the conversation.".into(),
            EndReason::Hangup => "The session ended.".into(),
            EndReason::ServerRestart => {
                "The server is restarting, so the session was ended. You can start a new one \
                 in a minute."
                    .into()
            }
            EndReason::Stalled => {
                "The AI coach stopped responding, so the session was ended.".into()
            }
            EndReason::Unreachable(_) => {
                "The AI coach could not be reached. Please try again in a moment.".into()
            }
            EndReason::AgentError { code: 1008, .. } => {
                "The AI coach refused the conversation (a configuration problem on our side)."
                    .into()
            }
            EndReason::AgentError { .. } => {
                "The AI coach had a problem and ended the conversation.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agent_formats() {
        assert_eq!(
            AudioFormat::parse("pcm_16000"),
            Some(AudioFormat::PCM_16000)
        );
        let ulaw = AudioFormat::parse("ulaw_8000").unwrap();
        assert_eq!(ulaw.codec, AudioCodec::Ulaw);
        assert_eq!(ulaw.samples_per_20ms(), 160);
        assert_eq!(
            AudioFormat::parse("pcm_44100").unwrap().to_string(),
            "pcm_44100"
        );
        for bad in [
            "",
            "pcm",
            "mp3_44100",
            "pcm_abc",
            "pcm_0",
            "pcm_96000",
            "pcm16000",
        ] {
            assert_eq!(AudioFormat::parse(bad), None, "{bad}");
        }
    }
}

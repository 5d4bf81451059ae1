//! The built-in echo agent: a mic check that needs no account and no network.
//!
//! Input and output are 16 kHz PCM. [`EchoCore`] is sans-IO: each 20 ms user chunk goes in,
//! agent events come out. Turn detection is the shared energy VAD; when the user stops, the
//! core answers with a transcript marked `[echo]`, a response saying it is an echo, and the
//! user's own audio as `Audio` events with a fresh event id per turn. The incoming chunks are
//! the clock (the bridge sends one every 20 ms, zeros while muted): playback stays
//! [`LEAD_MS`] ahead of the audio heard, so speaking over it raises `Interruption` and stops
//! it. [`EchoAgent`] wraps the core in a task.

use super::{
    AgentConnection, AgentError, COMMAND_CHANNEL, ConversationContext, EVENT_CHANNEL, VoiceAgent,
};
use crate::voice::core::events::{AgentCommand, AgentEvent, AudioFormat, EndReason};
use crate::voice::core::vad::{EnergyVad, VadConfig, VadEvent};
use async_trait::async_trait;
use tokio::sync::mpsc;

/// The echo agent's sample rate (both directions).
pub const RATE: u32 = 16_000;
/// Samples per played-back chunk (40 ms).
pub const CHUNK: usize = 640;
/// How far playback runs ahead of the user's clock.
pub const LEAD_MS: u64 = 120;
/// Longest take that is played back (longer speech is cut).
pub const MAX_TAKE_SECS: usize = 30;

/// The echo conversation, driven by user chunks.
#[derive(Debug)]
pub struct EchoCore {
    vad: EnergyVad,
    /// Audio of the current take (from the first loud chunk).
    take: Vec<i16>,
    /// The reply being played: id, samples, samples sent, samples of user time elapsed.
    playing: Option<Playback>,
    next_id: u64,
}

#[derive(Debug)]
struct Playback {
    event_id: u64,
    pcm: Vec<i16>,
    sent: usize,
    elapsed: usize,
}

impl Default for EchoCore {
    fn default() -> Self {
        Self::new(VadConfig::default())
    }
}

impl EchoCore {
    pub fn new(vad: VadConfig) -> Self {
        Self {
            vad: EnergyVad::new(vad),
            take: Vec::new(),
            playing: None,
            next_id: 1,
        }
    }

    /// Whether a reply is still being played.
    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// Feeds one chunk of user audio (16 kHz); returns what the agent says.
    pub fn push(&mut self, pcm: &[i16]) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        let event = self.vad.push(pcm, RATE);
        if self.vad.is_capturing() || matches!(event, Some(VadEvent::Ended { .. })) {
            if self.take.len() < MAX_TAKE_SECS * RATE as usize {
                self.take.extend_from_slice(pcm);
            }
        } else {
            self.take.clear();
        }
        match event {
            Some(VadEvent::Started) => {
                if let Some(p) = self.playing.take() {
                    out.push(AgentEvent::Interruption {
                        event_id: p.event_id,
                    });
                }
            }
            Some(VadEvent::Ended { speech_ms }) => self.reply(speech_ms, &mut out),
            None => {}
        }
        self.advance(pcm.len(), &mut out);
        out
    }

    fn reply(&mut self, speech_ms: u32, out: &mut Vec<AgentEvent>) {
        let keep = (speech_ms as usize * RATE as usize / 1000).min(self.take.len());
        let mut pcm = std::mem::take(&mut self.take);
        pcm.truncate(keep);
        let event_id = self.next_id;
        self.next_id += 1;
        let secs = pcm.len() as f64 / f64::from(RATE);
        out.push(AgentEvent::UserTranscript {
            event_id,
            text: format!("[echo] {secs:.1} s of audio"),
            tentative: false,
        });
        out.push(AgentEvent::AgentResponse {
            event_id,
            text: "This is the echo agent: here is what you said.".into(),
        });
        self.playing = Some(Playback {
            event_id,
            pcm,
            sent: 0,
            // The chunk that ended the turn is counted by `advance` right after.
            elapsed: 0,
        });
    }

    /// Moves the playback clock by `samples` and sends what is due.
    fn advance(&mut self, samples: usize, out: &mut Vec<AgentEvent>) {
        let Some(p) = &mut self.playing else { return };
        let lead = (LEAD_MS * u64::from(RATE) / 1000) as usize;
        while p.sent < p.pcm.len() && p.sent < p.elapsed + lead {
            let end = (p.sent + CHUNK).min(p.pcm.len());
            out.push(AgentEvent::Audio {
                event_id: p.event_id,
                pcm: p.pcm[p.sent..end].to_vec(),
            });
            p.sent = end;
        }
        p.elapsed += samples;
        if p.elapsed >= p.pcm.len() {
            self.playing = None;
        }
    }
}

/// The echo agent (no configuration).
#[derive(Debug, Default, Clone)]
pub struct EchoAgent {
    pub vad: VadConfig,
}

#[async_trait]
impl VoiceAgent for EchoAgent {
    async fn start(&self, ctx: ConversationContext) -> Result<AgentConnection, AgentError> {
        let (ev_tx, events) = mpsc::channel(EVENT_CHANNEL);
        let (commands, mut cmd_rx) = mpsc::channel(COMMAND_CHANNEL);
        let mut core = EchoCore::new(self.vad);
        let conversation_id = format!("echo_{}", crate::ids::random_base32::<12>());
        tracing::debug!(user = %ctx.user_id, %conversation_id, "echo agent: conversation started");
        tokio::spawn(async move {
            let started = AgentEvent::Started {
                conversation_id,
                input: AudioFormat::PCM_16000,
                output: AudioFormat::PCM_16000,
            };
            if ev_tx.send(started).await.is_err() {
                return;
            }
            while let Some(cmd) = cmd_rx.recv().await {
                match cmd {
                    AgentCommand::UserAudio(pcm) => {
                        for ev in core.push(&pcm) {
                            if ev_tx.send(ev).await.is_err() {
                                return;
                            }
                        }
                    }
                    AgentCommand::UserActivity | AgentCommand::ContextualUpdate(_) => {}
                    AgentCommand::Close => break,
                }
            }
            let _ = ev_tx.send(AgentEvent::Ended(EndReason::Hangup)).await;
        });
        Ok(AgentConnection { events, commands })
    }

    fn name(&self) -> &'static str {
        "echo"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::core::vad::sine;

    const SILENCE: [i16; 320] = [0; 320];

    fn run(core: &mut EchoCore, chunks: impl IntoIterator<Item = Vec<i16>>) -> Vec<AgentEvent> {
        chunks.into_iter().flat_map(|c| core.push(&c)).collect()
    }

    fn tone(ms: u32) -> Vec<Vec<i16>> {
        let mut phase = 0;
        (0..ms / 20)
            .map(|_| sine(RATE, 20, 300.0, 8000.0, &mut phase))
            .collect()
    }

    fn audio_of(events: &[AgentEvent], id: u64) -> usize {
        events
            .iter()
            .map(|e| match e {
                AgentEvent::Audio { event_id, pcm } if *event_id == id => pcm.len(),
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn a_spoken_turn_is_played_back_after_600_ms_of_silence() {
        let mut core = EchoCore::default();
        let speech = run(&mut core, tone(1800));
        assert!(speech.is_empty(), "nothing during speech: {speech:?}");
        let quiet = run(&mut core, (0..29).map(|_| SILENCE.to_vec()));
        assert!(quiet.is_empty(), "the turn is still open after 580 ms");
        let reply = run(&mut core, [SILENCE.to_vec()]);
        assert_eq!(
            reply[0],
            AgentEvent::UserTranscript {
                event_id: 1,
                text: "[echo] 1.8 s of audio".into(),
                tentative: false
            }
        );
        assert!(
            matches!(&reply[1], AgentEvent::AgentResponse { event_id: 1, text } if text.contains("echo"))
        );
        assert!(core.is_playing());
        // Playback keeps pace with the user's clock, then finishes with every sample.
        let rest = run(&mut core, (0..120).map(|_| SILENCE.to_vec()));
        assert_eq!(audio_of(&reply, 1) + audio_of(&rest, 1), 1800 * 16);
        assert!(audio_of(&reply, 1) <= (LEAD_MS as usize + 40) * 16);
        assert!(!core.is_playing());
    }

    #[test]
    fn speaking_over_playback_interrupts_it_and_the_next_turn_gets_a_new_id() {
        let mut core = EchoCore::default();
        run(&mut core, tone(1000));
        run(&mut core, (0..30).map(|_| SILENCE.to_vec()));
        assert!(core.is_playing());
        let barge = run(&mut core, tone(200));
        assert!(barge.contains(&AgentEvent::Interruption { event_id: 1 }));
        assert!(!core.is_playing());
        let after = run(&mut core, (0..60).map(|_| SILENCE.to_vec()));
        assert_eq!(
            audio_of(&after, 1),
            0,
            "no stale audio of the interrupted reply"
        );
        assert!(audio_of(&after, 2) > 0);
        assert!(
            after
                .iter()
                .any(|e| matches!(e, AgentEvent::UserTranscript { event_id: 2, .. }))
        );
    }

    #[tokio::test]
    async fn the_agent_task_starts_echoes_and_hangs_up() {
        let agent = EchoAgent::default();
        assert_eq!(agent.name(), "echo");
        let mut conn = agent.start(ConversationContext::default()).await.unwrap();
        let Some(AgentEvent::Started { input, output, .. }) = conn.events.recv().await else {
            panic!("first event is Started")
        };
        assert_eq!(
            (input, output),
            (AudioFormat::PCM_16000, AudioFormat::PCM_16000)
        );
        for c in tone(500)
            .into_iter()
            .chain((0..40).map(|_| SILENCE.to_vec()))
        {
            conn.commands
                .send(AgentCommand::UserAudio(c))
                .await
                .unwrap();
        }
        conn.commands.send(AgentCommand::Close).await.unwrap();
        let mut seen = Vec::new();
        while let Some(ev) = conn.events.recv().await {
            seen.push(ev);
        }
        assert!(audio_of(&seen, 1) > 0);
        assert_eq!(seen.last(), Some(&AgentEvent::Ended(EndReason::Hangup)));
    }
}

//! One conversation of the test double, from the initiation message to the close.
//!
//! The first client frame must be `conversation_initiation_client_data` (anything else, invalid
//! JSON, or overrides the agent does not allow: close 1008). Then the double sends the metadata,
//! pings on a timer and detects turns with the energy VAD. After the think time a reply
//! follows: `user_transcript`, `agent_response`, and tone audio in bursts of varying chunk
//! sizes, faster than real time, all with the reply's id. Speaking while a reply would still be
//! playing yields `interruption(X)` with a new id X, a few stale chunks of the interrupted
//! reply, and the next reply reuses X (the case that trips the SDKs' `<=` rule).

use super::{Failure, Received, Shared};
use crate::voice::elevenlabs::protocol::{
    AudioEvent, ClientFrame, ClientMessage, Metadata, ServerMessage, ToolCall, decode_audio,
    encode_audio_b64, parse_client,
};
use crate::voice::events::AudioFormat;
use crate::voice::vad::{EnergyVad, VadEvent, sine};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Chunk lengths of replies in ms, cycled: replies arrive in varying sizes.
const CHUNK_MS: [u32; 6] = [20, 60, 40, 100, 30, 80];
/// Far future, for timers that are off.
const NEVER: Duration = Duration::from_secs(86_400);

struct Reply {
    id: u64,
    chunks: VecDeque<Vec<i16>>,
    /// When the client will have played it all (sent at once, played in real time).
    plays_until: Instant,
    last_chunk: Vec<i16>,
}

struct Conv {
    shared: Arc<Shared>,
    index: usize,
    tx: SplitSink<WebSocket, Message>,
    input: AudioFormat,
    output: AudioFormat,
    vad: EnergyVad,
    next_id: u64,
    reuse_id: Option<u64>,
    reply: Option<Reply>,
    /// Due time and speech length of a reply being thought about.
    pending: Option<(Instant, u32)>,
    next_burst: Instant,
    burst_no: usize,
    phase: u64,
    pings: HashMap<u64, Instant>,
    next_ping_id: u64,
    last_rtt_ms: Option<u64>,
    stalled: bool,
}

pub(super) async fn run(socket: WebSocket, shared: Arc<Shared>, index: usize) {
    let (tx, mut rx) = socket.split();
    let cfg = shared.config.clone();
    // A format the double cannot produce is still announced (to test clients' refusal of
    // it); audio then uses 16 kHz PCM.
    let input = AudioFormat::parse(&cfg.input_format).unwrap_or(AudioFormat::PCM_16000);
    let output = AudioFormat::parse(&cfg.output_format).unwrap_or(AudioFormat::PCM_16000);
    let mut c = Conv {
        shared,
        index,
        tx,
        input,
        output,
        vad: EnergyVad::new(cfg.vad),
        next_id: 1,
        reuse_id: None,
        reply: None,
        pending: None,
        next_burst: Instant::now() + NEVER,
        burst_no: 0,
        phase: 0,
        pings: HashMap::new(),
        next_ping_id: 1,
        last_rtt_ms: None,
        stalled: false,
    };
    if c.handshake(&mut rx).await {
        c.converse(&mut rx).await;
    }
    c.log(|l| l.finished = true);
}

impl Conv {
    fn log<R>(&self, f: impl FnOnce(&mut super::ConversationLog) -> R) -> R {
        self.shared.observe(|o| f(&mut o.conversations[self.index]))
    }

    async fn send(&mut self, m: ServerMessage) -> bool {
        if self.stalled {
            return true;
        }
        let (kind, id) = match &m {
            ServerMessage::Audio(a) => ("audio".to_string(), Some(a.event_id)),
            ServerMessage::Ping { event_id, .. } => ("ping".into(), Some(*event_id)),
            ServerMessage::Interruption { event_id } => ("interruption".into(), Some(*event_id)),
            ServerMessage::UserTranscript { event_id, .. } => {
                ("user_transcript".into(), Some(*event_id))
            }
            ServerMessage::AgentResponse { event_id, .. } => {
                ("agent_response".into(), Some(*event_id))
            }
            ServerMessage::ClientToolCall(t) => ("client_tool_call".into(), t.event_id),
            ServerMessage::Metadata(_) => ("conversation_initiation_metadata".into(), None),
            other => (
                format!("{other:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap_or("?")
                    .to_lowercase(),
                None,
            ),
        };
        self.log(|l| l.sent.push((kind, id)));
        self.tx
            .send(Message::Text(m.to_json().into()))
            .await
            .is_ok()
    }

    async fn close(&mut self, code: u16, reason: &str) {
        if code != 1000 {
            self.send(ServerMessage::Error {
                message: reason.into(),
            })
            .await;
        }
        self.log(|l| l.closed_by_double = Some((code, reason.into())));
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.tx.send(Message::Close(Some(frame))).await;
    }

    /// Reads and checks the initiation message, answers with the metadata.
    async fn handshake(&mut self, rx: &mut futures_util::stream::SplitStream<WebSocket>) -> bool {
        let first = tokio::time::timeout(Duration::from_secs(10), rx.next()).await;
        let text = match first {
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return false,
            Ok(Some(Ok(_))) | Err(_) => {
                self.close(
                    1008,
                    "invalid_message: expected conversation_initiation_client_data",
                )
                .await;
                return false;
            }
        };
        let init = match parse_client(text.as_str()) {
            Ok(ClientFrame::Message(ClientMessage::ConversationInitiationClientData(d))) => d,
            Ok(_) => {
                self.close(
                    1008,
                    "invalid_message: first message must be conversation_initiation_client_data",
                )
                .await;
                return false;
            }
            Err(e) => {
                self.close(1008, &format!("invalid_message: {e}")).await;
                return false;
            }
        };
        if init.has_overrides() && !self.shared.config.allow_overrides {
            self.close(
                1008,
                "override_error: overrides are not enabled for this agent",
            )
            .await;
            return false;
        }
        self.log(|l| l.init = Some(init));
        let conversation_id = self.log(|l| l.conversation_id.clone());
        self.send(ServerMessage::Metadata(Metadata {
            conversation_id,
            agent_output_audio_format: self.shared.config.output_format.clone(),
            user_input_audio_format: self.shared.config.input_format.clone(),
        }))
        .await
    }

    async fn converse(&mut self, rx: &mut futures_util::stream::SplitStream<WebSocket>) {
        let cfg = self.shared.config.clone();
        let start = Instant::now();
        let mut next_ping = start + cfg.ping_interval;
        let mut tool_at = cfg
            .tool_call
            .as_ref()
            .map_or(start + NEVER, |(_, d)| start + *d);
        let (failure_at, failure) = match cfg.failure {
            Failure::CloseAfter { after, .. }
            | Failure::StallAfter(after)
            | Failure::DropAfter(after) => (start + after, cfg.failure),
            _ => (start + NEVER, Failure::None),
        };
        let mut failure_done = false;
        loop {
            let think = self.pending.map_or(start + NEVER, |(at, _)| at);
            let failure_wake = if failure_done {
                start + NEVER
            } else {
                failure_at
            };
            let wake = next_ping
                .min(tool_at)
                .min(think)
                .min(self.next_burst)
                .min(failure_wake);
            tokio::select! {
                msg = rx.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if !self.on_text(t.as_str()).await {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        self.log(|l| l.closed_by_client = Some(frame.map_or(1005, |f| f.code)));
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                },
                () = sleep_until(wake) => {
                    let now = Instant::now();
                    if now >= failure_wake {
                        failure_done = true;
                        match failure {
                            Failure::CloseAfter { code, .. } => {
                                self.close(code, close_text(code)).await;
                                return;
                            }
                            Failure::StallAfter(_) => self.stalled = true,
                            Failure::DropAfter(_) => return,
                            _ => {}
                        }
                    }
                    if now >= next_ping {
                        next_ping = now + cfg.ping_interval;
                        let event_id = self.next_ping_id;
                        self.next_ping_id += 1;
                        if !self.stalled {
                            self.pings.insert(event_id, Instant::now());
                        }
                        if !self.send(ServerMessage::Ping { event_id, ping_ms: self.last_rtt_ms }).await {
                            return;
                        }
                    }
                    if now >= tool_at {
                        tool_at = start + NEVER;
                        let name = cfg.tool_call.as_ref().map(|(n, _)| n.clone()).unwrap_or_default();
                        let call = ToolCall { tool_name: name, tool_call_id: "tool_call_1".into(),
                            parameters: serde_json::json!({"reason": "test"}), event_id: Some(self.next_id) };
                        if !self.send(ServerMessage::ClientToolCall(call)).await {
                            return;
                        }
                    }
                    if now >= think && !self.start_reply().await {
                        return;
                    }
                    if now >= self.next_burst && !self.burst().await {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one client text frame; false ends the conversation.
    async fn on_text(&mut self, text: &str) -> bool {
        let frame = match parse_client(text) {
            Ok(f) => f,
            Err(e) => {
                self.log(|l| {
                    l.received
                        .push(Received::Invalid(text.chars().take(200).collect()))
                });
                self.close(1008, &format!("invalid_message: {e}")).await;
                return false;
            }
        };
        let record = match &frame {
            ClientFrame::Audio(b) => Received::Audio { bytes: b.len() },
            ClientFrame::Message(m) => Received::Message(m.clone()),
            ClientFrame::Unknown(t) => Received::Unknown(t.clone()),
        };
        self.log(|l| l.received.push(record));
        match frame {
            ClientFrame::Audio(bytes) => self.on_audio(bytes).await,
            ClientFrame::Message(ClientMessage::Pong { event_id }) => {
                if let Some(sent) = self.pings.remove(&event_id) {
                    let rtt = sent.elapsed();
                    self.last_rtt_ms = Some(rtt.as_millis() as u64);
                    self.log(|l| l.pongs.push((event_id, rtt)));
                }
                true
            }
            _ => true,
        }
    }

    async fn on_audio(&mut self, bytes: Vec<u8>) -> bool {
        let pcm = decode_audio(self.input, &bytes);
        if self.shared.config.streaming_echo {
            let audio = encode_audio_b64(self.output, &pcm);
            return self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id: 1,
                    alignment: None,
                }))
                .await;
        }
        match self.vad.push(&pcm, self.input.sample_rate) {
            Some(VadEvent::Started) => {
                self.pending = None;
                let playing = self
                    .reply
                    .as_ref()
                    .is_some_and(|r| Instant::now() < r.plays_until);
                if let Some(old) = self.reply.take().filter(|_| playing) {
                    return self.interrupt(old).await;
                }
            }
            Some(VadEvent::Ended { speech_ms }) => {
                self.pending = Some((Instant::now() + self.shared.config.think_time, speech_ms));
            }
            None => {}
        }
        true
    }

    async fn interrupt(&mut self, mut old: Reply) -> bool {
        let x = self.next_id;
        self.next_id += 1;
        self.reuse_id = Some(x);
        self.next_burst = Instant::now() + NEVER;
        if !self.send(ServerMessage::Interruption { event_id: x }).await {
            return false;
        }
        for _ in 0..self.shared.config.stale_chunks {
            let pcm = old
                .chunks
                .pop_front()
                .unwrap_or_else(|| old.last_chunk.clone());
            let audio = encode_audio_b64(self.output, &pcm);
            if !self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id: old.id,
                    alignment: None,
                }))
                .await
            {
                return false;
            }
        }
        true
    }

    async fn start_reply(&mut self) -> bool {
        let Some((_, speech_ms)) = self.pending.take() else {
            return true;
        };
        let id = self.reuse_id.take().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let cfg = self.shared.config.clone();
        let secs = f64::from(speech_ms) / 1000.0;
        let heard = format!("[fake] {secs:.2} s of speech");
        let said = format!("I heard you speak for {secs:.2} seconds.");
        if !self
            .send(ServerMessage::UserTranscript {
                event_id: id,
                text: heard,
            })
            .await
            || !self
                .send(ServerMessage::AgentResponse {
                    event_id: id,
                    text: said,
                })
                .await
        {
            return false;
        }
        let rate = self.output.sample_rate;
        let mut chunks = VecDeque::new();
        let mut left = cfg.reply_ms;
        for i in 0.. {
            if left == 0 {
                break;
            }
            let ms = CHUNK_MS[i % CHUNK_MS.len()].min(left);
            left -= ms;
            chunks.push_back(sine(rate, ms, 660.0, 6000.0, &mut self.phase));
        }
        let last_chunk = chunks.back().cloned().unwrap_or_default();
        let plays_until = Instant::now() + Duration::from_millis(u64::from(cfg.reply_ms));
        self.reply = Some(Reply {
            id,
            chunks,
            plays_until,
            last_chunk,
        });
        self.next_burst = Instant::now();
        true
    }

    /// Sends the next burst of 1–3 chunks and schedules the one after.
    async fn burst(&mut self) -> bool {
        self.burst_no += 1;
        let n = 1 + self.burst_no % 3;
        let mut sent_ms = 0u64;
        for _ in 0..n {
            let Some(r) = self.reply.as_mut() else { break };
            let Some(pcm) = r.chunks.pop_front() else {
                break;
            };
            let id = r.id;
            sent_ms += pcm.len() as u64 * 1000 / u64::from(self.output.sample_rate);
            let audio = encode_audio_b64(self.output, &pcm);
            if !self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id: id,
                    alignment: None,
                }))
                .await
            {
                return false;
            }
        }
        let more = self.reply.as_ref().is_some_and(|r| !r.chunks.is_empty());
        let pause = Duration::from_secs_f64(
            sent_ms as f64 / 1000.0 / self.shared.config.send_speedup.max(1.0),
        );
        self.next_burst = Instant::now() + if more { pause } else { NEVER };
        true
    }
}

fn close_text(code: u16) -> &'static str {
    match code {
        1000 => "conversation ended",
        1002 => "llm_timeout",
        1008 => "invalid_message",
        _ => "internal_error",
    }
}

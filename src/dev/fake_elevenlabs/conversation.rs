//! One conversation of the test double, from the initiation message to the close.
//!
//! The first client frame must be `conversation_initiation_client_data` (anything else, invalid
//! JSON, or overrides the agent does not allow: close 1008). Then the double sends the metadata,
//! pings on a timer and detects turns with the energy VAD. After the think time a reply
//! follows: `user_transcript`, `agent_response`, and tone audio in bursts of varying chunk
//! sizes, faster than real time, all with the reply's id. Speaking while a reply would still be
//! playing yields `interruption(X)` with a new id X, a few stale chunks of the interrupted
//! reply, and the next reply reuses X (the case that trips the SDKs' `<=` rule; optional,
//! see `FakeConfig::reuse_interruption_id`). The turn
//! logic itself is in [`super::turns`]; this file owns the socket, the timers and the log.

use super::turns::Reply;
use super::{Failure, Received, Shared};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use parlor::voice::agents::elevenlabs::protocol::{
    ClientFrame, ClientMessage, Metadata, ServerMessage, ToolCall, parse_client,
};
use parlor::voice::core::events::AudioFormat;
use parlor::voice::core::vad::EnergyVad;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Most entries kept per log list, so a long benchmark run does not grow without bound.
const LOG_CAP: usize = 200_000;
/// Far future, for timers that are off.
pub(super) const NEVER: Duration = Duration::from_secs(86_400);

pub(super) struct Conv {
    pub(super) shared: Arc<Shared>,
    pub(super) index: usize,
    pub(super) tx: SplitSink<WebSocket, Message>,
    pub(super) input: AudioFormat,
    pub(super) output: AudioFormat,
    pub(super) vad: EnergyVad,
    pub(super) next_id: u64,
    pub(super) reuse_id: Option<u64>,
    pub(super) reply: Option<Reply>,
    /// Due time and speech length of a reply being thought about.
    pub(super) pending: Option<(Instant, u32)>,
    pub(super) next_burst: Instant,
    pub(super) burst_no: usize,
    pub(super) phase: u64,
    pub(super) pings: HashMap<u64, Instant>,
    pub(super) next_ping_id: u64,
    pub(super) last_rtt_ms: Option<u64>,
    pub(super) stalled: bool,
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
    // Like a real WebSocket server (RFC 6455 §7.1.1), after sending a close frame wait for the
    // client's answering close before dropping TCP: dropping at once with unread client audio
    // turns the close into a reset that can swallow the status code. (A `DropAfter` failure
    // drops on purpose and sends no close frame.)
    if c.log(|l| l.closed_by_double.is_some()) {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(m)) = rx.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    c.log(|l| l.finished = true);
}

impl Conv {
    fn log<R>(&self, f: impl FnOnce(&mut super::ConversationLog) -> R) -> R {
        self.shared.observe(|o| f(&mut o.conversations[self.index]))
    }

    pub(super) async fn send(&mut self, m: ServerMessage) -> bool {
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
        self.log(|l| push_capped(&mut l.sent, (kind, id)));
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
        self.log(|l| push_capped(&mut l.received, record));
        match frame {
            ClientFrame::Audio(bytes) => self.on_audio(bytes).await,
            ClientFrame::Message(ClientMessage::Pong { event_id }) => {
                if let Some(sent) = self.pings.remove(&event_id) {
                    let rtt = sent.elapsed();
                    // Whole milliseconds rounded up: the service never reports 0, and the
                    // official SDKs treat a 0 `ping_ms` as "no measurement".
                    let ms = u64::try_from(rtt.as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
                    self.last_rtt_ms = Some(ms.max(1));
                    self.log(|l| push_capped(&mut l.pongs, (event_id, rtt)));
                }
                true
            }
            _ => true,
        }
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

fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() < LOG_CAP {
        list.push(item);
    }
}

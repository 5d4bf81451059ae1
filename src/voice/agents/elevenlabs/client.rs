//! One ElevenLabs conversation as a tokio task behind an [`AgentConnection`].
//!
//! The task connects, sends `conversation_initiation_client_data` first, waits for
//! `conversation_initiation_metadata` (no user audio is sent before the input format is known;
//! chunks sent earlier are dropped), then relays. Server messages are handled before commands
//! (`biased` select), and a `ping` is answered by writing the `pong` straight to the socket,
//! so it never waits behind queued user audio. Client tool calls are refused with
//! `is_error: true`. Close codes, `error` messages, silence longer than the stall timeout and
//! network failures all end in exactly one [`AgentEvent::Ended`].

use super::connect::{self, Socket};
use super::protocol::{ClientMessage, InitiationData, ServerMessage, audio_chunk_json};
use super::{CONNECT_TIMEOUT, ElevenLabsConfig, Endpoints};
use crate::voice::agents::{
    AgentConnection, AgentError, COMMAND_CHANNEL, ConversationContext, EVENT_CHANNEL, VoiceAgent,
};
use crate::voice::core::events::{AgentCommand, AgentEvent, AudioFormat, EndReason};
use async_trait::async_trait;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long an `error` message may wait for the close frame that usually follows it.
const ERROR_GRACE: Duration = Duration::from_secs(1);
/// How long a hang-up waits for the service to acknowledge the close.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Close code sent when the metadata names an audio format parlor cannot handle (1003:
/// "received a type of data it cannot accept").
pub const UNSUPPORTED_FORMAT_CODE: u16 = 1003;

/// The ElevenLabs agent: a factory of conversations. `Debug` redacts the API key.
pub struct ElevenLabsAgent {
    config: ElevenLabsConfig,
    endpoints: Endpoints,
    /// End the conversation as [`Stalled`](EndReason::Stalled) when nothing at all arrives
    /// for this long (the service pings every few seconds); `voice.elevenlabs.stall_secs`.
    stall_timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ElevenLabsAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsAgent")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ElevenLabsAgent {
    /// Checks the configuration (agent id, base URL) and prepares TLS.
    pub fn new(config: ElevenLabsConfig) -> Result<Self, AgentError> {
        let endpoints = config.endpoints().map_err(AgentError::Config)?;
        if config.stall_secs == 0 {
            return Err(AgentError::Config(
                "voice.elevenlabs.stall_secs must be positive".into(),
            ));
        }
        Ok(Self {
            stall_timeout: Duration::from_secs(u64::from(config.stall_secs)),
            config,
            endpoints,
            tls: connect::tls_config(),
        })
    }

    /// The same agent with a stall limit finer than whole seconds (tests).
    pub fn with_stall_timeout(mut self, limit: Duration) -> Self {
        self.stall_timeout = limit.max(Duration::from_millis(1));
        self
    }

    /// The first message: dynamic variables and user id, overrides only when allowed.
    pub fn initiation(&self, ctx: &ConversationContext) -> ClientMessage {
        let mut vars: std::collections::BTreeMap<String, Value> = ctx
            .dynamic_variables
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if !ctx.user_name.is_empty() {
            vars.entry("user_name".into())
                .or_insert_with(|| Value::String(ctx.user_name.clone()));
        }
        let mut agent = serde_json::Map::new();
        if self.config.allow_overrides {
            if let Some(p) = &ctx.prompt_override {
                agent.insert("prompt".into(), json!({ "prompt": p }));
            }
            if let Some(m) = &ctx.first_message_override {
                agent.insert("first_message".into(), json!(m));
            }
        }
        ClientMessage::ConversationInitiationClientData(InitiationData {
            conversation_config_override: (!agent.is_empty()).then(|| json!({ "agent": agent })),
            custom_llm_extra_body: None,
            dynamic_variables: vars,
            user_id: (!ctx.user_id.is_empty()).then(|| ctx.user_id.clone()),
        })
    }
}

#[async_trait]
impl VoiceAgent for ElevenLabsAgent {
    async fn start(&self, ctx: ConversationContext) -> Result<AgentConnection, AgentError> {
        let (ev_tx, events) = mpsc::channel(EVENT_CHANNEL);
        let (commands, cmd_rx) = mpsc::channel(COMMAND_CHANNEL);
        let init = self.initiation(&ctx).to_json();
        let (endpoints, key, tls) = (
            self.endpoints.clone(),
            self.config.api_key.clone(),
            self.tls.clone(),
        );
        let (stall, connect_timeout) = (self.stall_timeout, CONNECT_TIMEOUT);
        tokio::spawn(async move {
            let reached = timeout(connect_timeout, async {
                let url = connect::conversation_url(&endpoints, &key, &tls).await?;
                connect::open_socket(&url, &tls).await
            })
            .await
            .unwrap_or_else(|_| Err(AgentError::Unreachable("connect timed out".into())));
            let reason = match reached {
                Ok(ws) => run(ws, init, ev_tx.clone(), cmd_rx, stall).await,
                Err(e) => {
                    tracing::warn!(error = %e, "elevenlabs: cannot reach the agent");
                    EndReason::Unreachable(e.to_string())
                }
            };
            tracing::info!(?reason, "elevenlabs: conversation ended");
            let _ = ev_tx.send(AgentEvent::Ended(reason)).await;
        });
        Ok(AgentConnection { events, commands })
    }

    fn name(&self) -> &'static str {
        "elevenlabs"
    }
}

/// What to do after one step of the loop.
enum Step {
    Continue,
    End(EndReason),
}

struct Conversation {
    sink: SplitSink<Socket, Message>,
    events: mpsc::Sender<AgentEvent>,
    /// (input, output) once the metadata arrived.
    formats: Option<(AudioFormat, AudioFormat)>,
    /// Text of an `error` message and when to stop waiting for its close frame.
    pending_error: Option<(String, Instant)>,
    dropped_early_audio: u64,
}

async fn run(
    ws: Socket,
    init: String,
    events: mpsc::Sender<AgentEvent>,
    mut commands: mpsc::Receiver<AgentCommand>,
    stall: Duration,
) -> EndReason {
    let (sink, mut stream) = ws.split();
    let mut s = Conversation {
        sink,
        events,
        formats: None,
        pending_error: None,
        dropped_early_audio: 0,
    };
    if let Err(e) = s.sink.send(Message::text(init)).await {
        return EndReason::Unreachable(format!("sending the initiation message: {e}"));
    }
    let mut last_heard = Instant::now();
    loop {
        let deadline = match &s.pending_error {
            Some((_, until)) => (*until).min(last_heard + stall),
            None => last_heard + stall,
        };
        let step = tokio::select! {
            biased;
            msg = stream.next() => {
                last_heard = Instant::now();
                s.on_frame(msg).await
            }
            cmd = commands.recv() => s.on_command(cmd, &mut stream).await,
            () = sleep_until(deadline) => match s.pending_error.take() {
                Some((message, _)) if Instant::now() < last_heard + stall => {
                    Step::End(EndReason::AgentError { code: 1011, reason: message })
                }
                _ => Step::End(EndReason::Stalled),
            },
        };
        if let Step::End(mut reason) = step {
            // A write that failed because the agent had just closed: its close frame (and
            // status code) may still be waiting to be read.
            if matches!(reason, EndReason::AgentError { code: 1006, .. })
                && let Some(frame) = close_frame_in_flight(&mut stream).await
            {
                reason = close_reason(frame, s.pending_error.take().map(|(m, _)| m));
            }
            if s.dropped_early_audio > 0 {
                tracing::debug!(
                    chunks = s.dropped_early_audio,
                    "elevenlabs: audio sent before metadata was dropped"
                );
            }
            let _ = timeout(CLOSE_GRACE, s.sink.close()).await;
            return reason;
        }
    }
}

/// A close frame already sent by the agent, read within 100 ms (other frames are skipped).
async fn close_frame_in_flight(stream: &mut SplitStream<Socket>) -> Option<Option<CloseFrame>> {
    timeout(Duration::from_millis(100), async {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Close(frame) = m {
                return Some(frame);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

fn close_reason(frame: Option<CloseFrame>, pending: Option<String>) -> EndReason {
    let Some(frame) = frame else {
        return EndReason::AgentError {
            code: 1005,
            reason: pending.unwrap_or_else(|| "closed without a status code".into()),
        };
    };
    let code = u16::from(frame.code);
    if code == 1000 {
        return EndReason::Completed;
    }
    let text = frame.reason.to_string();
    let reason = match pending {
        Some(p) if text.is_empty() || p.contains(&text) => p,
        Some(p) => format!("{text}: {p}"),
        None => text,
    };
    EndReason::AgentError { code, reason }
}

impl Conversation {
    async fn on_frame(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Step {
        let pending = self.pending_error.as_ref().map(|(m, _)| m.clone());
        let lost = |detail: String| {
            Step::End(EndReason::AgentError {
                code: 1006,
                reason: pending.clone().unwrap_or(detail),
            })
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => return Step::End(close_reason(frame, pending)),
            Some(Ok(_)) => return Step::Continue,
            Some(Err(e)) => return lost(format!("connection lost: {e}")),
            None => return lost("connection lost".into()),
        };
        let msg = match ServerMessage::parse(text.as_str()) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "elevenlabs: skipping a malformed message");
                return Step::Continue;
            }
        };
        self.on_message(msg).await
    }

    async fn on_message(&mut self, msg: ServerMessage) -> Step {
        match &msg {
            ServerMessage::Ping { event_id, .. } => {
                let pong = ClientMessage::Pong {
                    event_id: *event_id,
                };
                return self.send(pong.to_json()).await;
            }
            ServerMessage::ClientToolCall(call) => {
                tracing::info!(tool = %call.tool_name, "elevenlabs: refusing an unsupported client tool");
                let answer = ClientMessage::ClientToolResult {
                    tool_call_id: call.tool_call_id.clone(),
                    result: Value::String(format!(
                        "unsupported tool: parlor does not implement client tool {:?}",
                        call.tool_name
                    )),
                    is_error: true,
                };
                return self.send(answer.to_json()).await;
            }
            ServerMessage::Metadata(m) => return self.on_metadata(m).await,
            ServerMessage::Error { message } => {
                tracing::warn!(%message, "elevenlabs: error message from the agent");
                self.pending_error = Some((message.clone(), Instant::now() + ERROR_GRACE));
                return Step::Continue;
            }
            _ => {}
        }
        let Some((_, output)) = self.formats else {
            tracing::debug!(?msg, "elevenlabs: message before metadata ignored");
            return Step::Continue;
        };
        match msg.to_agent_event(output) {
            Some(Ok(ev)) => self.emit(ev).await,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "elevenlabs: skipping undecodable audio");
                Step::Continue
            }
            None => Step::Continue,
        }
    }

    async fn on_metadata(&mut self, m: &super::protocol::Metadata) -> Step {
        if self.formats.is_some() {
            tracing::debug!("elevenlabs: repeated metadata ignored");
            return Step::Continue;
        }
        let input = AudioFormat::parse(&m.user_input_audio_format);
        let output = AudioFormat::parse(&m.agent_output_audio_format);
        let (Some(input), Some(output)) = (input, output) else {
            let reason = format!(
                "unsupported agent audio format (input {:?}, output {:?})",
                m.user_input_audio_format, m.agent_output_audio_format
            );
            let frame = CloseFrame {
                code: CloseCode::from(UNSUPPORTED_FORMAT_CODE),
                reason: "unsupported audio format".into(),
            };
            let _ = self.sink.send(Message::Close(Some(frame))).await;
            return Step::End(EndReason::AgentError {
                code: UNSUPPORTED_FORMAT_CODE,
                reason,
            });
        };
        self.formats = Some((input, output));
        tracing::info!(conversation_id = %m.conversation_id, %input, %output, "elevenlabs: conversation started");
        self.emit(AgentEvent::Started {
            conversation_id: m.conversation_id.clone(),
            input,
            output,
        })
        .await
    }

    async fn on_command(
        &mut self,
        cmd: Option<AgentCommand>,
        stream: &mut SplitStream<Socket>,
    ) -> Step {
        match cmd {
            Some(AgentCommand::UserAudio(pcm)) => match self.formats {
                Some((input, _)) => self.send(audio_chunk_json(input, &pcm)).await,
                None => {
                    self.dropped_early_audio += 1;
                    Step::Continue
                }
            },
            Some(AgentCommand::UserActivity) => {
                self.send(ClientMessage::UserActivity.to_json()).await
            }
            Some(AgentCommand::ContextualUpdate(text)) => {
                self.send(ClientMessage::ContextualUpdate { text }.to_json())
                    .await
            }
            Some(AgentCommand::Close) | None => {
                let bye = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                };
                if self.sink.send(Message::Close(Some(bye))).await.is_ok() {
                    // Wait briefly for the close handshake so the service logs a clean end.
                    let _ = timeout(CLOSE_GRACE, async {
                        while let Some(Ok(m)) = stream.next().await {
                            if m.is_close() {
                                break;
                            }
                        }
                    })
                    .await;
                }
                Step::End(EndReason::Hangup)
            }
        }
    }

    async fn send(&mut self, text: String) -> Step {
        match self.sink.send(Message::text(text)).await {
            Ok(()) => Step::Continue,
            Err(e) => Step::End(EndReason::AgentError {
                code: 1006,
                reason: format!("connection lost while sending: {e}"),
            }),
        }
    }

    async fn emit(&mut self, ev: AgentEvent) -> Step {
        match self.events.send(ev).await {
            Ok(()) => Step::Continue,
            // Nobody listens any more: hang up.
            Err(_) => Step::End(EndReason::Hangup),
        }
    }
}

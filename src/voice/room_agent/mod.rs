//! The AI agent as a participant of a voice room: a thin tokio shell around the sans-IO
//! [`VoiceBridge`].
//!
//! The agent joins the room through the rooms layer like anyone else (a plain join request,
//! no token), publishes an in-process Opus
//! track (no peer connection: [`Publication::in_process`]) and, when the room subscribes it to
//! the user's microphone, reads that track from a channel ([`Publication::attach_channel`]).
//! The user's mute state is the talk button: muted means released. The loop waits on four
//! things — room commands, the user's packets, agent events and the bridge's next deadline —
//! and after each one drains the bridge's outputs: commands to the agent, Opus frames to the
//! track, transcript lines to the user (and, through a queue, to the store). Nothing here
//! awaits while holding a lock, and nothing is logged per frame.

use super::agents::{AgentConnection, AudioRefused, ConversationContext, VoiceAgent};
use super::core::bridge::{BridgeConfig, BridgeOutput, TranscriptKind, VoiceBridge};
use super::core::events::{AgentCommand, AgentEvent, EndReason};
use super::metrics::VoiceMetrics;
use super::record::Persist;
use crate::ids::VoiceSessionId;
use crate::media::forward::{LocalSource, Publication};
use crate::media::track::RtpPacket;
use crate::rooms::{
    AgentState, CloseReason, JoinRequest, LiveRoom, Member, Notice, RoomEvent, Rooms,
};
use crate::sfu::{ParticipantId, RoomRole, TrackId, TrackSource};
use bytes::Bytes;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

mod user;

/// How long the user may be absent (not yet joined, or gone) before the session ends.
const ABSENCE_LIMIT: Duration = Duration::from_secs(30);
/// A drop within this time after the start gets one automatic reconnect.
const EARLY_DROP: Duration = Duration::from_secs(5);

/// What a voice room's agent needs to know.
pub struct AgentSpec {
    pub session: VoiceSessionId,
    pub room: String,
    /// The join identity of the only user allowed to talk to the agent.
    pub user_identity: String,
    pub conversation: ConversationContext,
    /// How the service ends the session (the user from the API, the server stopping).
    pub hangup: Arc<Hangup>,
}

/// How a running agent is told to stop, and why: a plain hang-up (the user ended the
/// session) or the server restarting. Asked before the agent waits, it is not lost.
#[derive(Default)]
pub struct Hangup {
    notify: tokio::sync::Notify,
    restart: AtomicBool,
}

impl Hangup {
    /// The user (or an account erasure) ends the session.
    pub fn now(&self) {
        self.notify.notify_one();
    }

    /// The server is stopping: the session ends as [`EndReason::ServerRestart`].
    pub fn for_restart(&self) {
        self.restart.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Waits for a request to stop; returns why.
    async fn requested(&self) -> EndReason {
        self.notify.notified().await;
        if self.restart.load(Ordering::SeqCst) {
            EndReason::ServerRestart
        } else {
            EndReason::Hangup
        }
    }
}

/// Runs the agent participant until the conversation ends; returns why it ended.
pub async fn run(
    rooms: Arc<Rooms>,
    agent: Arc<dyn VoiceAgent>,
    spec: AgentSpec,
    persist: mpsc::UnboundedSender<Persist>,
    metrics: VoiceMetrics,
) -> EndReason {
    let request = JoinRequest {
        room: spec.room.clone(),
        identity: format!("agent:{}", spec.session),
        name: "AI coach".into(),
        role: RoomRole::Coach,
    };
    let Member {
        room,
        id,
        mut events,
    } = match rooms.join(&request) {
        Ok(m) => m,
        Err(e) => return EndReason::Unreachable(format!("the voice room could not open: {e}")),
    };
    metrics.sessions.inc();
    let (publication, source) =
        Publication::in_process(TrackId(rooms.next_id()), id, rooms.gauges.forward.clone());
    let track = publication.id;
    let reason = match room.publish(publication, TrackSource::Microphone) {
        Ok(()) => {
            let mut agent_loop = AgentLoop {
                room: room.clone(),
                id,
                spec,
                source,
                persist,
                metrics: metrics.clone(),
                user: None,
                mic: None,
                packets: None,
                seq: 0,
                started: Instant::now(),
                missed: 0,
                bands: [0; 5],
                state: AgentState::Connecting,
                told: None,
            };
            // A bug in one session must not leave its room, track or gauge behind: a panic
            // ends this session like an agent error and the cleanup below still runs.
            AssertUnwindSafe(agent_loop.run(agent, &mut events))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| EndReason::AgentError {
                    code: 1011,
                    reason: "internal error in the voice bridge".into(),
                })
        }
        Err(e) => EndReason::Unreachable(format!("the agent could not publish: {e}")),
    };
    let _ = room.unpublish(id, track);
    rooms.leave(&room, id);
    metrics.sessions.dec();
    reason
}

struct AgentLoop {
    room: Arc<LiveRoom>,
    id: ParticipantId,
    spec: AgentSpec,
    source: LocalSource,
    persist: mpsc::UnboundedSender<Persist>,
    metrics: VoiceMetrics,
    /// The user's participant id while present.
    user: Option<ParticipantId>,
    /// The user's microphone and the publication it came from.
    mic: Option<(TrackId, Arc<Publication>)>,
    packets: Option<mpsc::Receiver<(RtpPacket, Instant)>>,
    seq: u16,
    started: Instant,
    /// Missed playout ticks already counted in the metrics.
    missed: u64,
    /// Users' packets by band already counted in the metrics (see `missed`).
    bands: [u64; 5],
    /// The agent state last announced.
    state: AgentState,
    /// Who was last told the agent's state (the user while present).
    told: Option<ParticipantId>,
}

impl AgentLoop {
    async fn run(
        &mut self,
        agent: Arc<dyn VoiceAgent>,
        events: &mut mpsc::UnboundedReceiver<RoomEvent>,
    ) -> EndReason {
        // The conversation (and any agent billing) starts only once the user is in the room.
        self.find_user();
        let hangup = self.spec.hangup.clone();
        let deadline = tokio::time::Instant::now() + ABSENCE_LIMIT;
        let mut held = false;
        while self.user.is_none() {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(RoomEvent::Close(CloseReason::Restart)) => return EndReason::ServerRestart,
                    Some(RoomEvent::Close(_)) | None => return EndReason::Hangup,
                    Some(e) => held = self.on_room_event(e).unwrap_or(held),
                },
                why = hangup.requested() => return self.finish(why),
                _ = tokio::time::sleep_until(deadline) => return EndReason::Hangup,
            }
        }
        // A user who joined while the agent waited was told already (see `on_room_event`).
        if self.told != self.user {
            self.status(AgentState::Connecting, None);
        }
        let mut conn = match agent.start(self.spec.conversation.clone()).await {
            Ok(c) => c,
            Err(e) => return self.finish(EndReason::Unreachable(e.to_string())),
        };
        let mut reconnected = false;
        let mut bridge = VoiceBridge::new(Instant::now(), bridge_config());
        bridge.set_talking(held || self.mic_talking());
        self.started = Instant::now();
        let mut absent_since = None;
        loop {
            let deadline = tokio::time::Instant::from_std(bridge.poll_timeout());
            let mut ingress: Option<Instant> = None;
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(RoomEvent::Close(CloseReason::Restart)) => bridge.end_now(EndReason::ServerRestart),
                    Some(RoomEvent::Close(_)) | None => bridge.hang_up(),
                    Some(e) => {
                        if let Some(held) = self.on_room_event(e) {
                            bridge.set_talking(held);
                        }
                    }
                },
                Some((p, arrived)) = recv(&mut self.packets) => {
                    bridge.on_client_rtp(p.sequence, p.timestamp, &p.payload, Instant::now());
                    ingress = Some(arrived);
                }
                ev = conn.events.recv() => {
                    let ev = ev.unwrap_or(AgentEvent::Ended(EndReason::Unreachable("the agent connection closed".into())));
                    // One automatic reconnect for a drop in the first seconds.
                    if let AgentEvent::Ended(r) = &ev
                        && !reconnected
                        && self.started.elapsed() < EARLY_DROP
                        && !matches!(
                            r,
                            EndReason::Completed | EndReason::Hangup | EndReason::AgentError { code: 1008, .. }
                        )
                    {
                        reconnected = true;
                        if let Ok(c) = agent.start(self.spec.conversation.clone()).await {
                            conn = c;
                            // Same track, same timeline: continue the RTP timestamps.
                            let now = Instant::now();
                            let rtp_base = bridge.rtp_timestamp_from(now);
                            bridge = VoiceBridge::new(
                                now,
                                BridgeConfig {
                                    rtp_base,
                                    ..bridge_config()
                                },
                            );
                            self.missed = 0;
                            self.bands = [0; 5];
                            bridge.set_talking(self.mic_talking());
                            continue;
                        }
                    }
                    if let AgentEvent::Started { conversation_id, .. } = &ev {
                        let _ = self.persist.send(Persist::Conversation(self.spec.session.clone(), conversation_id.clone()));
                        self.status(AgentState::Listening, None);
                    }
                    if let Err(e) = bridge.on_agent_event(ev, Instant::now()) {
                        bridge.on_agent_event(AgentEvent::Ended(EndReason::AgentError { code: 1008, reason: e.to_string() }), Instant::now()).ok();
                    }
                }
                why = hangup.requested() => bridge.end_now(why),
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = bridge.on_tick(Instant::now());
                }
            }
            if let Some(reason) = self.drain(&mut bridge, &conn, ingress) {
                return self.finish(reason);
            }
            match (self.user, absent_since) {
                (Some(_), _) => absent_since = None,
                (None, None) => absent_since = Some(Instant::now()),
                (None, Some(t)) if t.elapsed() > ABSENCE_LIMIT => bridge.hang_up(),
                _ => {}
            }
        }
    }

    /// Carries out the bridge's outputs; `Some` when the conversation is over.
    fn drain(
        &mut self,
        bridge: &mut VoiceBridge,
        conn: &AgentConnection,
        ingress: Option<Instant>,
    ) -> Option<EndReason> {
        while let Some(out) = bridge.poll_output() {
            match out {
                BridgeOutput::ToAgent(AgentCommand::UserAudio(pcm)) => match conn.send_audio(pcm) {
                    Ok(()) => {
                        if let Some(t) = ingress {
                            self.metrics.ingress.observe(t.elapsed().as_secs_f64());
                        }
                    }
                    Err(AudioRefused::Full) => self.metrics.agent_backlog_drops.inc(),
                    Err(AudioRefused::Closed) => {}
                },
                BridgeOutput::ToAgent(c) => {
                    let _ = conn.commands.try_send(c);
                }
                BridgeOutput::Frame {
                    rtp_timestamp,
                    marker,
                    payload,
                    queued_at,
                    due,
                } => {
                    self.seq = self.seq.wrapping_add(1);
                    let sent = self.source.send(
                        self.seq,
                        rtp_timestamp,
                        marker,
                        Bytes::copy_from_slice(payload),
                    );
                    if sent {
                        self.metrics.frames.inc();
                        if let Some(q) = queued_at {
                            self.metrics.playout_wait.observe(q.elapsed().as_secs_f64());
                        }
                        self.metrics.egress.observe(due.elapsed().as_secs_f64());
                    }
                }
                BridgeOutput::Transcript(t) => self.transcript(t),
                BridgeOutput::Speaking(on) => self.status(
                    if on {
                        AgentState::Speaking
                    } else {
                        AgentState::Listening
                    },
                    None,
                ),
                BridgeOutput::Ended(reason) => return Some(reason),
            }
        }
        let stats = bridge.stats();
        if stats.missed_ticks > self.missed {
            self.metrics
                .missed_ticks
                .inc_by(stats.missed_ticks - self.missed);
            self.missed = stats.missed_ticks;
        }
        for (i, &seen) in stats.inbound.by_band.iter().enumerate() {
            if seen > self.bands[i] {
                self.metrics.user_packets[i].inc_by(seen - self.bands[i]);
                self.bands[i] = seen;
            }
        }
        None
    }

    fn transcript(&self, t: crate::voice::core::bridge::Transcript) {
        let (tentative, corrected) = match t.kind {
            TranscriptKind::Final => (false, false),
            TranscriptKind::Tentative => (true, false),
            TranscriptKind::Correction { .. } => (false, true),
        };
        let speaker = t.speaker;
        if let Some(user) = self.user {
            self.room.notify(
                user,
                Notice::Transcript {
                    speaker,
                    text: t.text.clone(),
                    event_id: Some(t.event_id),
                    tentative,
                    corrected,
                },
            );
        }
        if !tentative {
            let _ = self.persist.send(Persist::Line {
                session: self.spec.session.clone(),
                speaker,
                text: t.text,
                at_ms: self.started.elapsed().as_millis() as i64,
                event_id: Some(t.event_id as i64),
            });
        }
    }

    fn status(&mut self, state: AgentState, message: Option<String>) {
        self.state = state;
        self.told = self.user;
        if let Some(user) = self.user {
            self.room.notify(user, Notice::Agent { state, message });
        }
    }

    /// Tells the user why the conversation ended, in words.
    fn finish(&mut self, reason: EndReason) -> EndReason {
        self.status(AgentState::Ended, Some(reason.in_words()));
        reason
    }
}

fn bridge_config() -> BridgeConfig {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS randomness");
    BridgeConfig {
        rtp_base: u32::from_ne_bytes(b),
        ..Default::default()
    }
}

async fn recv(
    rx: &mut Option<mpsc::Receiver<(RtpPacket, Instant)>>,
) -> Option<(RtpPacket, Instant)> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

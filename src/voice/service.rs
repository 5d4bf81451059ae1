//! Voice sessions as a service: starting one (a record, a room, a join token for the user,
//! the agent participant), ending one on request, persisting transcripts off the media path,
//! purging old transcripts, and the voice metrics.

use super::agent::{ConversationContext, VoiceAgent};
use super::events::EndReason;
use super::model::{Speaker, VoiceSession};
use super::room_agent::{self, AgentSpec};
use crate::auth::join_token::{self, RoomRole};
use crate::auth::model::User;
use crate::booking::model::CommitmentStatus;
use crate::config::{Config, Secret};
use crate::ids::{UserId, VoiceSessionId};
use crate::signal::SignalContext;
use crate::store::bookings::BookingFilter;
use crate::store::{Store, StoreResult};
use chrono::{DateTime, Utc};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Work for the persistence task (the media loop never awaits the database).
pub enum Persist {
    Conversation(VoiceSessionId, String),
    Line {
        session: VoiceSessionId,
        speaker: Speaker,
        text: String,
        at_ms: i64,
        event_id: Option<i64>,
    },
    End(VoiceSessionId, String),
}

/// Voice metrics on `/metrics`.
#[derive(Clone)]
pub struct VoiceMetrics {
    pub sessions: IntGauge,
    pub frames: IntCounter,
    pub missed_ticks: IntCounter,
    /// Browser packet arrival at the server → its 20 ms chunk handed to the agent connection.
    pub ingress: Histogram,
    /// Agent audio arrival → its first frame sent (includes the wait for the playout tick).
    pub playout_wait: Histogram,
    /// Playout tick due → its frame handed to the agent's track (the server's own egress
    /// work and lateness, without the wait for the tick).
    pub egress: Histogram,
    pub agent_backlog_drops: IntCounter,
}

impl VoiceMetrics {
    pub fn new(metrics: &crate::telemetry::Metrics) -> Self {
        let counter = |n: &str, h: &str| {
            let c = IntCounter::new(n, h).expect("valid counter");
            metrics.register(Box::new(c.clone()));
            c
        };
        let histogram = |n: &str, h: &str| {
            let buckets = (0..32).map(|i| 2e-6 * 1.5f64.powi(i)).collect::<Vec<f64>>();
            let h = Histogram::with_opts(HistogramOpts::new(n, h).buckets(buckets))
                .expect("valid histogram");
            metrics.register(Box::new(h.clone()));
            h
        };
        let sessions =
            IntGauge::new("parlor_voice_sessions", "Live voice sessions").expect("valid gauge");
        metrics.register(Box::new(sessions.clone()));
        Self {
            sessions,
            frames: counter("parlor_voice_frames_total", "Opus frames the agents sent"),
            missed_ticks: counter(
                "parlor_voice_missed_ticks_total",
                "20 ms playout ticks missed because a voice loop ran late",
            ),
            ingress: histogram(
                "parlor_voice_ingress_seconds",
                "Browser audio packet arrival to its chunk handed to the agent connection",
            ),
            playout_wait: histogram(
                "parlor_voice_playout_wait_seconds",
                "Agent audio arrival to its frame sent (includes the wait for the 20 ms tick)",
            ),
            egress: histogram(
                "parlor_voice_egress_seconds",
                "Playout tick due to its frame handed to the agent's track",
            ),
            agent_backlog_drops: counter(
                "parlor_voice_agent_backlog_drops_total",
                "User audio chunks dropped because the agent connection was behind",
            ),
        }
    }
}

/// The end of a conversation, in words for the user.
pub fn describe_end(reason: &EndReason) -> String {
    match reason {
        EndReason::Completed => "The AI coach ended the conversation.".into(),
        EndReason::Hangup => "The session ended.".into(),
        EndReason::Stalled => "The AI coach stopped responding, so the session was ended.".into(),
        EndReason::Unreachable(_) => {
            "The AI coach could not be reached. Please try again in a moment.".into()
        }
        EndReason::AgentError { code: 1008, .. } => {
            "The AI coach refused the conversation (a configuration problem on our side).".into()
        }
        EndReason::AgentError { .. } => {
            "The AI coach had a problem and ended the conversation.".into()
        }
    }
}

/// What the browser needs to join a new voice session.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StartedVoice {
    pub session: VoiceSession,
    /// Join token for the session's room (`/rtc`).
    pub token: String,
    /// `{public_url}/voice/{id}#token=…`.
    pub join_url: String,
}

/// Starts, ends and records voice sessions.
pub struct VoiceService {
    store: Store,
    signal: Arc<SignalContext>,
    agent: Arc<dyn VoiceAgent>,
    config: Arc<Config>,
    signing_key: Secret,
    metrics: VoiceMetrics,
    persist: mpsc::UnboundedSender<Persist>,
    live: Arc<Mutex<HashMap<VoiceSessionId, LiveSession>>>,
}

/// A running agent: whose it is and how to hang it up.
struct LiveSession {
    user: UserId,
    hangup: Arc<tokio::sync::Notify>,
}

impl VoiceService {
    pub fn new(
        store: Store,
        signal: Arc<SignalContext>,
        agent: Arc<dyn VoiceAgent>,
        config: Arc<Config>,
        signing_key: Secret,
        metrics: VoiceMetrics,
    ) -> Arc<Self> {
        let (persist, rx) = mpsc::unbounded_channel();
        tokio::spawn(persist_task(store.clone(), signal.clock.clone(), rx));
        Arc::new(Self {
            store,
            signal,
            agent,
            config,
            signing_key,
            metrics,
            persist,
            live: Arc::default(),
        })
    }

    /// Name of the configured agent (`echo`, `elevenlabs`).
    pub fn agent_name(&self) -> &'static str {
        self.agent.name()
    }

    /// Starts a voice session for `user`: the agent joins its room and waits for the user.
    pub async fn start(&self, user: &User, now: DateTime<Utc>) -> StoreResult<StartedVoice> {
        let room = format!("voice-{}", crate::ids::new_room_name());
        let session = self
            .store
            .insert_voice_session(&user.id, self.agent.name(), &room, now)
            .await?;
        let conversation = self.context(user, now).await?;
        let ttl = i64::from(self.config.rooms.join_token_ttl_minutes) * 60;
        let token = join_token::mint(
            self.signing_key.expose().as_bytes(),
            &room,
            user.id.as_str(),
            &user.name,
            RoomRole::Client,
            now.timestamp(),
            ttl,
        );
        let spec = AgentSpec {
            session: session.id.clone(),
            room,
            user_identity: user.id.as_str().to_string(),
            conversation,
            hangup: Arc::default(),
        };
        let (signal, agent, persist, metrics) = (
            self.signal.clone(),
            self.agent.clone(),
            self.persist.clone(),
            self.metrics.clone(),
        );
        let hangup = spec.hangup.clone();
        // One live session per user: a new one hangs up the previous (a reloaded page, a
        // second tab), so a user holds at most one voice room. Registered before the agent
        // task exists, so an agent that ends at once is never left marked live.
        let previous = self.live.lock().expect("live lock").insert(
            session.id.clone(),
            LiveSession {
                user: user.id.clone(),
                hangup,
            },
        );
        debug_assert!(previous.is_none(), "session ids are fresh");
        self.end_others_of(&user.id, &session.id);
        let (id, live) = (session.id.clone(), self.live.clone());
        tokio::spawn(async move {
            let reason = room_agent::run(signal, agent, spec, persist.clone(), metrics).await;
            live.lock().expect("live lock").remove(&id);
            let _ = persist.send(Persist::End(id, end_label(&reason)));
        });
        let join_url = format!(
            "{}/voice/{}#token={token}",
            self.config.http.public_url.trim_end_matches('/'),
            session.id
        );
        Ok(StartedVoice {
            session,
            token,
            join_url,
        })
    }

    /// Ends a live session now: the agent hangs up and leaves its room; the record says
    /// `hung up` once it has. Ending a finished session changes nothing.
    pub fn end(&self, session: &VoiceSession) {
        let hangup = self
            .live
            .lock()
            .expect("live lock")
            .get(&session.id)
            .map(|l| l.hangup.clone());
        if let Some(h) = hangup {
            h.notify_one();
        }
    }

    /// Hangs up every live session of `user` and waits (up to 5 s) until their agents have
    /// left, so that erasing the account afterwards leaves no agent writing transcript lines.
    pub async fn hang_up_all_of(&self, user: &UserId) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let mut any = false;
            for l in self.live.lock().expect("live lock").values() {
                if &l.user == user {
                    l.hangup.notify_one();
                    any = true;
                }
            }
            if !any || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn end_others_of(&self, user: &UserId, keep: &VoiceSessionId) {
        for (id, l) in self.live.lock().expect("live lock").iter() {
            if &l.user == user && id != keep {
                l.hangup.notify_one();
            }
        }
    }

    /// Whether the session's agent is still running.
    pub fn is_live(&self, id: &VoiceSessionId) -> bool {
        self.live.lock().expect("live lock").contains_key(id)
    }

    /// What the agent should know: the user's name, open commitments, recent sessions.
    async fn context(&self, user: &User, now: DateTime<Utc>) -> StoreResult<ConversationContext> {
        let commitments: Vec<String> = self
            .store
            .commitments(&user.id)
            .await?
            .into_iter()
            .filter(|c| c.status == CommitmentStatus::Open)
            .map(|c| c.text)
            .collect();
        let recent: Vec<String> = self
            .store
            .bookings(&BookingFilter::Client(user.id.clone()), false, now, 3)
            .await?
            .into_iter()
            .map(|b| {
                format!(
                    "{} ({})",
                    b.starts_at.format("%Y-%m-%d"),
                    b.session_type.as_str()
                )
            })
            .collect();
        let mut vars = BTreeMap::new();
        vars.insert("user_name".to_string(), user.name.clone());
        vars.insert("open_commitments".to_string(), join_or_none(&commitments));
        vars.insert("recent_sessions".to_string(), join_or_none(&recent));
        Ok(ConversationContext {
            user_id: user.id.as_str().to_string(),
            user_name: user.name.clone(),
            dynamic_variables: vars,
            prompt_override: None,
            first_message_override: None,
        })
    }
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join("; ")
    }
}

/// A short label for the record.
fn end_label(reason: &EndReason) -> String {
    match reason {
        EndReason::Completed => "agent ended".into(),
        EndReason::Hangup => "hung up".into(),
        EndReason::Stalled => "agent stalled".into(),
        EndReason::Unreachable(_) => "agent unreachable".into(),
        EndReason::AgentError { code, .. } => format!("agent error {code}"),
    }
}

async fn persist_task(
    store: Store,
    clock: crate::clock::Clock,
    mut rx: mpsc::UnboundedReceiver<Persist>,
) {
    while let Some(p) = rx.recv().await {
        let now = clock.now();
        let result = match p {
            Persist::Conversation(id, conv) => store.set_voice_conversation(&id, &conv).await,
            Persist::Line {
                session,
                speaker,
                text,
                at_ms,
                event_id,
            } => store
                .upsert_voice_line(&session, speaker, &text, at_ms, event_id)
                .await
                .map(|_| ()),
            Persist::End(id, reason) => store.end_voice_session(&id, &reason, now).await,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record voice session data");
        }
    }
}

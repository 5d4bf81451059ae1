//! Voice sessions as a service: starting one (a record, a room, the agent participant; the
//! HTTP layer gives the user a join token for the room), ending one on request, the
//! conversation context the agent gets, and purging old transcripts. Recording happens off
//! the media path ([`super::record`]).

use super::agents::{ConversationContext, VoiceAgent};
use super::metrics::VoiceMetrics;
use super::record::{Persist, end_label, persist_task};
use super::room_agent::{self, AgentSpec, Hangup};
use crate::clock::Clock;
use crate::ids::{UserId, VoiceSessionId};
use crate::model::account::User;
use crate::model::booking::CommitmentStatus;
use crate::model::voice::VoiceSession;
use crate::rooms::Rooms;
use crate::store::bookings::{BookingFilter, BookingScope};
use crate::store::{Store, StoreResult};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Starts, ends and records voice sessions.
pub struct VoiceService {
    store: Store,
    rooms: Arc<Rooms>,
    agent: Arc<dyn VoiceAgent>,
    metrics: VoiceMetrics,
    persist: mpsc::UnboundedSender<Persist>,
    live: Arc<Mutex<HashMap<VoiceSessionId, LiveSession>>>,
}

/// A running agent: whose it is and how to hang it up.
struct LiveSession {
    user: UserId,
    hangup: Arc<Hangup>,
}

/// Names of voice-session rooms start with this (other rooms' names never do).
pub const VOICE_ROOM_PREFIX: &str = "voice-";

/// Whether `room` is a voice session's room (whose media connections use
/// [`Profile::Voice`](crate::media::engine::Profile::Voice)).
pub fn is_voice_room(room: &str) -> bool {
    room.starts_with(VOICE_ROOM_PREFIX)
}

impl VoiceService {
    pub fn new(
        store: Store,
        rooms: Arc<Rooms>,
        clock: Clock,
        agent: Arc<dyn VoiceAgent>,
        metrics: VoiceMetrics,
        webhook_give_up_hours: u32,
    ) -> Arc<Self> {
        let (persist, rx) = mpsc::unbounded_channel();
        tokio::spawn(persist_task(
            store.clone(),
            clock,
            rx,
            webhook_give_up_hours,
        ));
        Arc::new(Self {
            store,
            rooms,
            agent,
            metrics,
            persist,
            live: Arc::default(),
        })
    }

    /// Name of the configured agent (`echo`, `elevenlabs`).
    pub fn agent_name(&self) -> &'static str {
        self.agent.name()
    }

    /// Starts a voice session for `user`: the agent joins its room (`session.room`) and waits
    /// for the user, whose join identity is their user id.
    pub async fn start(&self, user: &User, now: DateTime<Utc>) -> StoreResult<VoiceSession> {
        let room = format!("{VOICE_ROOM_PREFIX}{}", crate::ids::new_room_name());
        let session = self
            .store
            .insert_voice_session(&user.id, self.agent.name(), &room, now)
            .await?;
        let conversation = self.context(user, now).await?;
        let spec = AgentSpec {
            session: session.id.clone(),
            room,
            user_identity: user.id.as_str().to_string(),
            conversation,
            hangup: Arc::default(),
        };
        let (rooms, agent, persist, metrics) = (
            self.rooms.clone(),
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
            let reason = room_agent::run(rooms, agent, spec, persist.clone(), metrics).await;
            // Recorded before the session stops counting as live, so that whoever waits for
            // no live sessions and then flushes the store finds the end written.
            let _ = persist.send(Persist::End(id.clone(), end_label(&reason)));
            live.lock().expect("live lock").remove(&id);
        });
        Ok(session)
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
            h.now();
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
                    l.hangup.now();
                    any = true;
                }
            }
            if !any || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The server is stopping: every live session ends as a server restart (the user is told
    /// in words and the record says so). Waits up to `limit` until their agents have left.
    pub async fn end_all_for_restart(&self, limit: std::time::Duration) {
        for l in self.live.lock().expect("live lock").values() {
            l.hangup.for_restart();
        }
        let deadline = tokio::time::Instant::now() + limit;
        while !self.live.lock().expect("live lock").is_empty()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until what ended sessions left to record (transcript lines, end reasons) is in
    /// the store.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.persist.send(Persist::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    fn end_others_of(&self, user: &UserId, keep: &VoiceSessionId) {
        for (id, l) in self.live.lock().expect("live lock").iter() {
            if &l.user == user && id != keep {
                l.hangup.now();
            }
        }
    }

    /// How many sessions' agents are running.
    pub fn live_count(&self) -> usize {
        self.live.lock().expect("live lock").len()
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
            .bookings(
                &BookingFilter::Client(user.id.clone()),
                BookingScope::TookPlace,
                now,
                3,
            )
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

//! The registry of live rooms and the glue between the sans-IO [`Room`] core, the sessions
//! (one task per participant) and the media shell.
//!
//! Every change goes through [`RoomHandle::with_core`]: lock the core (a plain mutex, never
//! held across an await), call it, then [`RoomHandle::apply`] its output — events become
//! messages to the sessions in the audience, actions become commands to the subscriber's
//! session (subscribe/unsubscribe, which renegotiates) or keyframe requests to a publication.
//! A ticker per room drives the time-based parts (deferred PLIs, active speaker).

use super::protocol::ServerMessage;
use crate::auth::join_token::JoinClaims;
use crate::rtc::forward::{Publication, PublicationEvents};
use crate::sfu::room::Room;
use crate::sfu::{Action, Audience, Event, Output, ParticipantId, RoomError, TrackId};
use prometheus::IntGauge;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the hub tells a session.
pub enum Command {
    Send(ServerMessage),
    Subscribe(Arc<Publication>),
    Unsubscribe(TrackId),
    /// End the session with this reason (e.g. `replaced`).
    Close(String),
}

/// Live counts, exported on `/metrics`.
#[derive(Clone)]
pub struct HubGauges {
    pub rooms: IntGauge,
    pub participants: IntGauge,
    pub tracks: IntGauge,
    pub media_tasks: IntGauge,
    /// Per-packet forwarding counters and latency.
    pub forward: crate::rtc::forward::ForwardMetrics,
}

impl HubGauges {
    pub fn new(metrics: &crate::telemetry::Metrics) -> Self {
        let g = |n: &str, h: &str| {
            let g = IntGauge::new(n, h).expect("valid gauge");
            metrics.register(Box::new(g.clone()));
            g
        };
        let counter = |n: &str, h: &str| {
            let c = prometheus::IntCounter::new(n, h).expect("valid counter");
            metrics.register(Box::new(c.clone()));
            c
        };
        let media_tasks = g(
            "parlor_media_tasks",
            "Running media tasks (forwarding, sessions)",
        );
        let latency = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "parlor_forward_latency_seconds",
                "RTP packet arrival from a publisher to hand-over to a subscriber's connection",
            )
            .buckets((0..24).map(|i| 2e-6 * 1.5f64.powi(i)).collect::<Vec<f64>>()),
        )
        .expect("valid histogram");
        metrics.register(Box::new(latency.clone()));
        Self {
            rooms: g("parlor_rooms", "Open video rooms"),
            participants: g("parlor_participants", "Participants in video rooms"),
            tracks: g("parlor_tracks", "Published tracks"),
            forward: crate::rtc::forward::ForwardMetrics {
                forwarded: counter(
                    "parlor_forwarded_packets_total",
                    "RTP packets handed to subscribers",
                ),
                dropped: counter(
                    "parlor_forward_dropped_packets_total",
                    "RTP packets dropped because a subscriber's connection was behind",
                ),
                latency,
            },
            media_tasks,
        }
    }
}

/// One live room.
pub struct RoomHandle {
    pub name: String,
    core: Mutex<Room>,
    sessions: Mutex<HashMap<ParticipantId, mpsc::UnboundedSender<Command>>>,
    publications: Mutex<HashMap<TrackId, Arc<Publication>>>,
    names: Mutex<HashMap<ParticipantId, String>>,
    epoch: Instant,
    /// Wall-clock Unix milliseconds at `epoch`: turns the core's room clock into the epoch
    /// milliseconds clients are sent (e.g. `chat.at_ms`).
    epoch_unix_ms: i64,
    gauges: HubGauges,
}

impl RoomHandle {
    /// Milliseconds since the room opened (the core's clock).
    pub fn now_ms(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    /// Unix epoch milliseconds of a time on the room clock (`now_ms`).
    pub fn unix_ms(&self, room_ms: i64) -> i64 {
        self.epoch_unix_ms + room_ms
    }

    /// Runs `f` on the core and applies its output.
    pub fn with_core<T>(
        &self,
        f: impl FnOnce(&mut Room, i64) -> Result<(T, Output), RoomError>,
    ) -> Result<T, RoomError> {
        let now = self.now_ms();
        let (t, out) = {
            let mut core = self.core.lock().expect("room core lock");
            f(&mut core, now)?
        };
        self.apply(out);
        Ok(t)
    }

    /// Delivers events and carries out actions.
    pub fn apply(&self, out: Output) {
        for (audience, event) in out.events {
            let msg = self.message(event);
            let sessions = self.sessions.lock().expect("sessions lock");
            for (pid, tx) in sessions.iter() {
                if audience != Audience::EveryoneExcept(*pid) {
                    let _ = tx.send(Command::Send(msg.clone()));
                }
            }
        }
        for action in out.actions {
            match action {
                Action::Subscribe { subscriber, track } => {
                    let publication = self
                        .publications
                        .lock()
                        .expect("publications lock")
                        .get(&track)
                        .cloned();
                    if let Some(p) = publication {
                        self.send(subscriber, Command::Subscribe(p));
                    }
                }
                Action::Unsubscribe { subscriber, track } => {
                    self.send(subscriber, Command::Unsubscribe(track))
                }
                Action::RequestKeyframe { track } => {
                    let publication = self
                        .publications
                        .lock()
                        .expect("publications lock")
                        .get(&track)
                        .cloned();
                    if let Some(p) = publication {
                        tokio::spawn(async move { p.request_keyframe().await });
                    }
                }
                Action::Disconnect { participant } => {
                    if let Some(tx) = self
                        .sessions
                        .lock()
                        .expect("sessions lock")
                        .remove(&participant)
                    {
                        let _ = tx.send(Command::Close("replaced".into()));
                        self.gauges.participants.dec();
                    }
                }
            }
        }
    }

    /// Sends one message to one participant (nothing if it has left).
    pub fn send_message(&self, to: ParticipantId, m: ServerMessage) {
        self.send(to, Command::Send(m));
    }

    fn send(&self, to: ParticipantId, c: Command) {
        if let Some(tx) = self.sessions.lock().expect("sessions lock").get(&to) {
            let _ = tx.send(c);
        }
    }

    fn message(&self, e: Event) -> ServerMessage {
        match e {
            Event::ParticipantJoined(p) => ServerMessage::ParticipantJoined { participant: p },
            Event::ParticipantLeft(id) => ServerMessage::ParticipantLeft { participant_id: id },
            Event::TrackPublished(t) => ServerMessage::TrackPublished { track: t },
            Event::TrackUnpublished { track, owner } => ServerMessage::TrackUnpublished {
                track_id: track,
                owner,
            },
            Event::TrackMuted { track, muted } => ServerMessage::TrackMuted {
                track_id: track,
                muted,
            },
            Event::ActiveSpeaker(p) => ServerMessage::ActiveSpeaker { participant_id: p },
            Event::Chat { from, text, at_ms } => {
                let name = self
                    .names
                    .lock()
                    .expect("names lock")
                    .get(&from)
                    .cloned()
                    .unwrap_or_default();
                ServerMessage::Chat {
                    from,
                    name,
                    text,
                    at_ms: self.unix_ms(at_ms),
                }
            }
            Event::Hand {
                participant,
                raised,
            } => ServerMessage::Hand {
                participant_id: participant,
                raised,
            },
            Event::Reaction { participant, emoji } => ServerMessage::Reaction {
                participant_id: participant,
                emoji,
            },
            Event::Quality {
                participant,
                quality,
            } => ServerMessage::Quality {
                participant_id: participant,
                quality: quality.as_str().into(),
            },
        }
    }

    /// Registers a publication and announces it (subscribing everyone else).
    pub fn publish(
        self: &Arc<Self>,
        p: Arc<Publication>,
        source: crate::sfu::TrackSource,
    ) -> Result<(), RoomError> {
        self.publications
            .lock()
            .expect("publications lock")
            .insert(p.id, p.clone());
        let kind = if p.kind == crate::rtc::media::MediaKind::Video {
            crate::sfu::TrackKind::Video
        } else {
            crate::sfu::TrackKind::Audio
        };
        match self.with_core(|c, _| Ok(((), c.publish(p.owner, p.id, kind, source)?))) {
            Ok(()) => {
                self.gauges.tracks.inc();
                self.gauges.media_tasks.inc();
                let events: Arc<dyn PublicationEvents> = Arc::new(RoomEvents {
                    room: Arc::downgrade(self),
                    owner: p.owner,
                });
                let gauges = self.gauges.clone();
                let task = p.spawn(events);
                tokio::spawn(async move {
                    let _ = task.await;
                    gauges.media_tasks.dec();
                });
                Ok(())
            }
            Err(e) => {
                self.publications
                    .lock()
                    .expect("publications lock")
                    .remove(&p.id);
                Err(e)
            }
        }
    }

    /// Removes a publication after the core unpublished it.
    fn forget(&self, track: TrackId) {
        if self
            .publications
            .lock()
            .expect("publications lock")
            .remove(&track)
            .is_some()
        {
            self.gauges.tracks.dec();
        }
    }

    /// Unpublishes a track of `owner`.
    pub fn unpublish(&self, owner: ParticipantId, track: TrackId) -> Result<(), RoomError> {
        self.with_core(|c, _| Ok(((), c.unpublish(owner, track)?)))?;
        self.forget(track);
        Ok(())
    }

    /// Everything the room knows, for the `joined` message.
    pub fn snapshot(&self) -> (Vec<crate::sfu::ParticipantInfo>, Vec<crate::sfu::TrackInfo>) {
        let c = self.core.lock().expect("room core lock");
        (c.participants(), c.tracks())
    }
}

/// Publication callbacks routed into the room (weakly: a finished room is not kept alive).
struct RoomEvents {
    room: Weak<RoomHandle>,
    owner: ParticipantId,
}

impl PublicationEvents for RoomEvents {
    fn audio_level(&self, _track: TrackId, dbov: u8) {
        if let Some(r) = self.room.upgrade() {
            let now = r.now_ms();
            r.core
                .lock()
                .expect("room core lock")
                .audio_level(self.owner, dbov, now);
        }
    }
    fn keyframe_request(&self, track: TrackId) {
        if let Some(r) = self.room.upgrade() {
            let _ = r.with_core(|c, now| Ok(((), c.request_keyframe(track, now))));
        }
    }
    fn ended(&self, track: TrackId) {
        if let Some(r) = self.room.upgrade() {
            let _ = r.unpublish(self.owner, track);
        }
    }
}

/// All rooms of the server.
pub struct Hub {
    rooms: Mutex<HashMap<String, Arc<RoomHandle>>>,
    next_id: AtomicU64,
    max_rooms: usize,
    max_participants: usize,
    pub gauges: HubGauges,
}

/// A participant's place in a room.
pub struct Membership {
    pub room: Arc<RoomHandle>,
    pub id: ParticipantId,
    pub commands: mpsc::UnboundedReceiver<Command>,
}

impl Hub {
    pub fn new(max_rooms: usize, max_participants: usize, gauges: HubGauges) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_rooms,
            max_participants,
            gauges,
        }
    }

    /// A fresh id for a participant or a track.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Joins the room named in the token (opening it if needed).
    pub fn join(&self, claims: &JoinClaims) -> Result<Membership, RoomError> {
        let room = {
            let mut rooms = self.rooms.lock().expect("rooms lock");
            if let Some(r) = rooms.get(&claims.room) {
                r.clone()
            } else {
                if rooms.len() >= self.max_rooms {
                    return Err(RoomError::Invalid("the server has reached its room limit"));
                }
                let r = Arc::new(RoomHandle {
                    name: claims.room.clone(),
                    core: Mutex::new(Room::new(claims.room.clone(), self.max_participants)),
                    sessions: Mutex::new(HashMap::new()),
                    publications: Mutex::new(HashMap::new()),
                    names: Mutex::new(HashMap::new()),
                    epoch: Instant::now(),
                    epoch_unix_ms: chrono::Utc::now().timestamp_millis(),
                    gauges: self.gauges.clone(),
                });
                rooms.insert(claims.room.clone(), r.clone());
                self.gauges.rooms.inc();
                spawn_ticker(Arc::downgrade(&r));
                r
            }
        };
        let id = ParticipantId(self.next_id());
        let (tx, commands) = mpsc::unbounded_channel();
        // Register the session first so the events of its own join reach everyone else only.
        room.sessions.lock().expect("sessions lock").insert(id, tx);
        room.names
            .lock()
            .expect("names lock")
            .insert(id, claims.name.clone());
        let joined = room
            .with_core(|c, now| Ok(((), c.join(id, &claims.sub, &claims.name, claims.role, now)?)));
        if let Err(e) = joined {
            room.sessions.lock().expect("sessions lock").remove(&id);
            room.names.lock().expect("names lock").remove(&id);
            self.close_if_empty(&room);
            return Err(e);
        }
        self.gauges.participants.inc();
        Ok(Membership { room, id, commands })
    }

    /// Removes a participant (no-op if already gone) and closes an empty room.
    pub fn leave(&self, room: &Arc<RoomHandle>, id: ParticipantId) {
        let owned: Vec<TrackId> = room
            .publications
            .lock()
            .expect("publications lock")
            .values()
            .filter(|p| p.owner == id)
            .map(|p| p.id)
            .collect();
        if room.with_core(|c, _| Ok(((), c.leave(id)?))).is_ok()
            && room
                .sessions
                .lock()
                .expect("sessions lock")
                .remove(&id)
                .is_some()
        {
            self.gauges.participants.dec();
        }
        for t in owned {
            room.forget(t);
        }
        room.names.lock().expect("names lock").remove(&id);
        self.close_if_empty(room);
    }

    fn close_if_empty(&self, room: &Arc<RoomHandle>) {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if room.core.lock().expect("room core lock").is_empty()
            && rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room))
        {
            rooms.remove(&room.name);
            self.gauges.rooms.dec();
        }
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.lock().expect("rooms lock").len()
    }
}

/// Drives a room's time-based work every 50 ms until the room is gone.
fn spawn_ticker(room: Weak<RoomHandle>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            let Some(r) = room.upgrade() else { break };
            let _ = r.with_core(|c, now| Ok(((), c.poll(now))));
        }
    });
}

//! The rooms layer: the registry of live rooms ([`Rooms`]) and each live room ([`LiveRoom`]),
//! between whoever takes part in a room and the sans-IO SFU core.
//!
//! A participant enters with a plain [`JoinRequest`] (room, identity, name, role): the
//! signalling session builds one from a verified join token, a server-side participant (the
//! voice agent, later a recorder) builds one directly. Each participant then receives
//! [`RoomEvent`]s on its own channel — the core's typed events, subscriptions to carry out,
//! pauses the core decided, notices from server-side participants — and turns them into
//! whatever it speaks (the WebSocket session into wire messages, at its edge). Nothing here
//! knows the signalling protocol or join tokens.
//!
//! The state of a live room and the order of its locks are [`LiveRoom`]'s alone; the
//! registry only adds and removes whole rooms.

mod gauges;
mod live;
mod notice;

pub use gauges::RoomGauges;
pub use live::LiveRoom;
pub use notice::{AgentState, Notice, Speaker};

use crate::media::forward::Publication;
use crate::sfu::{Event, ParticipantId, RoomError, RoomRole, TrackId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Who wants to enter which room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub room: String,
    /// Stable identity: joining again with it replaces the earlier participant.
    pub identity: String,
    /// Display name.
    pub name: String,
    pub role: RoomRole,
}

/// What a participant is told by its room.
pub enum RoomEvent {
    /// Something every participant (or all but one) learns: joins, tracks, chat…
    Room(Event),
    /// A notice from a server-side participant to this one (the agent's state, transcripts).
    Notice(Notice),
    /// Receive this publication (add a down track).
    Subscribe(Arc<Publication>),
    /// Stop receiving this track.
    Unsubscribe(TrackId),
    /// Stop (or resume) forwarding this track to this participant, as the room decided.
    Pause { track: TrackId, paused: bool },
    /// The server is restarting: the room closes within this time (then [`CloseReason::Restart`]).
    Restarting { within: std::time::Duration },
    /// Leave the room now.
    Close(CloseReason),
}

/// Why a room sends a participant away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The same identity joined again (a reconnect): the newer participant stays.
    Replaced,
    /// The server is restarting (its drain time is over); come back when it is up again.
    Restart,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Replaced => "replaced",
            CloseReason::Restart => "server restarting",
        }
    }
}

/// An open room as an admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoomOverview {
    pub name: String,
    /// Seconds since the room opened.
    pub open_secs: u64,
    pub participants: Vec<crate::sfu::ParticipantInfo>,
    pub tracks: Vec<crate::sfu::TrackInfo>,
}

/// A room opened or closed, or someone came or went: for observers outside the media path
/// (webhooks). Sent without waiting; nothing is sent until someone observes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    RoomStarted {
        room: String,
    },
    RoomEnded {
        room: String,
    },
    Joined {
        room: String,
        participant: u64,
        identity: String,
        role: RoomRole,
    },
    Left {
        room: String,
        participant: u64,
    },
}

/// A participant's place in a room: its id and its events.
pub struct Member {
    pub room: Arc<LiveRoom>,
    pub id: ParticipantId,
    pub events: mpsc::UnboundedReceiver<RoomEvent>,
}

/// All live rooms of the server.
pub struct Rooms {
    rooms: Mutex<HashMap<String, Arc<LiveRoom>>>,
    next_id: AtomicU64,
    max_rooms: usize,
    max_participants: usize,
    /// Set once the server is stopping: nobody new is admitted.
    draining: AtomicBool,
    pub gauges: RoomGauges,
    /// Where lifecycle events go, once someone observes them.
    observer: Mutex<Option<mpsc::UnboundedSender<Lifecycle>>>,
}

impl Rooms {
    pub fn new(max_rooms: usize, max_participants: usize, gauges: RoomGauges) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_rooms,
            max_participants,
            draining: AtomicBool::new(false),
            gauges,
            observer: Mutex::new(None),
        }
    }

    /// The lifecycle events from now on (a second observer replaces the first).
    pub fn observe(&self) -> mpsc::UnboundedReceiver<Lifecycle> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.observer.lock().expect("observer lock") = Some(tx);
        rx
    }

    fn tell(&self, e: Lifecycle) {
        if let Some(tx) = self.observer.lock().expect("observer lock").as_ref() {
            let _ = tx.send(e);
        }
    }

    /// A fresh id for a participant or a track.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Enters the requested room (opening it if needed).
    pub fn join(&self, req: &JoinRequest) -> Result<Member, RoomError> {
        if self.is_draining() {
            return Err(RoomError::Invalid("the server is restarting"));
        }
        let room = {
            let mut rooms = self.rooms.lock().expect("rooms lock");
            if let Some(r) = rooms.get(&req.room) {
                r.clone()
            } else {
                if rooms.len() >= self.max_rooms {
                    return Err(RoomError::Invalid("the server has reached its room limit"));
                }
                let r = LiveRoom::open(&req.room, self.max_participants, self.gauges.clone());
                rooms.insert(req.room.clone(), r.clone());
                self.gauges.rooms.inc();
                self.tell(Lifecycle::RoomStarted {
                    room: req.room.clone(),
                });
                r
            }
        };
        let id = ParticipantId(self.next_id());
        match room.admit(id, req) {
            Ok(events) => {
                self.tell(Lifecycle::Joined {
                    room: req.room.clone(),
                    participant: id.0,
                    identity: req.identity.clone(),
                    role: req.role,
                });
                Ok(Member { room, id, events })
            }
            Err(e) => {
                self.close_if_empty(&room);
                Err(e)
            }
        }
    }

    /// Removes a participant (no-op if already gone) and closes an empty room.
    pub fn leave(&self, room: &Arc<LiveRoom>, id: ParticipantId) {
        if room.remove(id) {
            self.tell(Lifecycle::Left {
                room: room.name().to_string(),
                participant: id.0,
            });
        }
        self.close_if_empty(room);
    }

    fn close_if_empty(&self, room: &Arc<LiveRoom>) {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if room.is_empty() && rooms.get(room.name()).is_some_and(|r| Arc::ptr_eq(r, room)) {
            rooms.remove(room.name());
            self.gauges.rooms.dec();
            self.tell(Lifecycle::RoomEnded {
                room: room.name().to_string(),
            });
        }
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.lock().expect("rooms lock").len()
    }

    /// The server is stopping: from now on nobody is admitted, and everyone present is told
    /// that their room closes within `within`. Rooms go on meanwhile.
    pub fn begin_drain(&self, within: std::time::Duration) {
        self.draining.store(true, Ordering::SeqCst);
        for room in self.all() {
            room.tell_everyone(|| RoomEvent::Restarting { within });
        }
    }

    /// Whether the server is stopping (see [`Rooms::begin_drain`]).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Sends everyone in every room away with `reason`; each leaves on its own.
    pub fn close_everyone(&self, reason: CloseReason) {
        for room in self.all() {
            room.tell_everyone(|| RoomEvent::Close(reason));
        }
    }

    /// Every open room with who is in it and what is published, by name (for admins).
    pub fn overview(&self) -> Vec<RoomOverview> {
        let mut out: Vec<RoomOverview> = self
            .all()
            .into_iter()
            .map(|r| {
                let (participants, tracks) = r.snapshot();
                RoomOverview {
                    name: r.name().to_string(),
                    open_secs: u64::try_from(r.now_ms() / 1000).unwrap_or(0),
                    participants,
                    tracks,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn all(&self) -> Vec<Arc<LiveRoom>> {
        self.rooms
            .lock()
            .expect("rooms lock")
            .values()
            .cloned()
            .collect()
    }
}

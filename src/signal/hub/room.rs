//! One live room: the sans-IO [`Room`] core behind a plain mutex, the sessions' command
//! channels, the room's publications, and [`RoomHandle::apply`], which turns the core's output
//! into messages and commands. A ticker per room drives the core's time-based work.

use super::{Command, HubGauges};
use crate::rtc::forward::{Publication, PublicationEvents};
use crate::sfu::room::Room;
use crate::sfu::{Action, Audience, Event, Output, ParticipantId, RoomError, TrackId};
use crate::signal::protocol::ServerMessage;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One live room.
pub struct RoomHandle {
    pub name: String,
    pub(super) core: Mutex<Room>,
    pub(super) sessions: Mutex<HashMap<ParticipantId, mpsc::UnboundedSender<Command>>>,
    pub(super) publications: Mutex<HashMap<TrackId, Arc<Publication>>>,
    pub(super) names: Mutex<HashMap<ParticipantId, String>>,
    epoch: Instant,
    /// Wall-clock Unix milliseconds at `epoch`: turns the core's room clock into the epoch
    /// milliseconds clients are sent (e.g. `chat.at_ms`).
    epoch_unix_ms: i64,
    gauges: HubGauges,
}

impl RoomHandle {
    /// Opens an empty room and starts its ticker.
    pub(super) fn open(name: &str, max_participants: usize, gauges: HubGauges) -> Arc<Self> {
        let r = Arc::new(Self {
            name: name.to_string(),
            core: Mutex::new(Room::new(name.to_string(), max_participants)),
            sessions: Mutex::new(HashMap::new()),
            publications: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            epoch_unix_ms: chrono::Utc::now().timestamp_millis(),
            gauges,
        });
        spawn_ticker(Arc::downgrade(&r));
        r
    }

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
                    if let Some(p) = self.publication(track) {
                        self.send(subscriber, Command::Subscribe(p));
                    }
                }
                Action::Unsubscribe { subscriber, track } => {
                    self.send(subscriber, Command::Unsubscribe(track))
                }
                Action::RequestKeyframe { track } => {
                    if let Some(p) = self.publication(track) {
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

    /// The publication of `track`, if it is still published (the lock is released at once).
    fn publication(&self, track: TrackId) -> Option<Arc<Publication>> {
        self.publications
            .lock()
            .expect("publications lock")
            .get(&track)
            .cloned()
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
    pub(super) fn forget(&self, track: TrackId) {
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

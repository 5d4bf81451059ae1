//! One live room: the sans-IO [`Room`] core, the participants' event channels and the room's
//! publications, and [`LiveRoom::apply`], which carries out what the core decided. A ticker
//! per room drives the core's time-based work.
//!
//! **Locks.** Two plain mutexes, never held across an await and never held together: `core`
//! (the SFU core) and `shell` (channels and publications). Every method takes one, lets it
//! go, then takes the other; the core's output is applied after the core lock is released.
//! The registry's own lock ([`super::Rooms`]) may be held while taking `core` (to see whether
//! a room is empty), never the other way round.
//!
//! Calls into the core come in three shapes: [`LiveRoom::update`] (a change that may be
//! refused), [`LiveRoom::drive`] (a change that cannot be: time, keyframe requests) and
//! [`LiveRoom::read`] (a look, no output).

use super::{CloseReason, JoinRequest, Notice, RoomEvent, RoomGauges};
use crate::media::forward::{Publication, PublicationEvents};
use crate::sfu::room::Room;
use crate::sfu::{
    Action, Audience, Output, ParticipantId, ParticipantInfo, RoomError, TrackId, TrackInfo,
    TrackSource,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Channels and publications: what the shell needs to carry out the core's output.
#[derive(Default)]
struct Shell {
    members: HashMap<ParticipantId, mpsc::UnboundedSender<RoomEvent>>,
    publications: HashMap<TrackId, Arc<Publication>>,
}

/// One live room.
pub struct LiveRoom {
    name: String,
    core: Mutex<Room>,
    shell: Mutex<Shell>,
    epoch: Instant,
    /// Wall-clock Unix milliseconds at `epoch`: turns the core's room clock into the epoch
    /// milliseconds clients are sent (e.g. `chat.at_ms`).
    epoch_unix_ms: i64,
    gauges: RoomGauges,
}

impl LiveRoom {
    /// Opens an empty room and starts its ticker.
    pub(super) fn open(name: &str, max_participants: usize, gauges: RoomGauges) -> Arc<Self> {
        let r = Arc::new(Self {
            name: name.to_string(),
            core: Mutex::new(Room::new(name.to_string(), max_participants)),
            shell: Mutex::new(Shell::default()),
            epoch: Instant::now(),
            epoch_unix_ms: chrono::Utc::now().timestamp_millis(),
            gauges,
        });
        spawn_ticker(Arc::downgrade(&r));
        r
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Milliseconds since the room opened (the core's clock).
    pub fn now_ms(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    /// Unix epoch milliseconds of a time on the room clock (`now_ms`).
    pub fn unix_ms(&self, room_ms: i64) -> i64 {
        self.epoch_unix_ms + room_ms
    }

    /// A change the core may refuse; its output is carried out.
    pub fn update(
        &self,
        f: impl FnOnce(&mut Room, i64) -> Result<Output, RoomError>,
    ) -> Result<(), RoomError> {
        let now = self.now_ms();
        let out = f(&mut self.core.lock().expect("room core lock"), now)?;
        self.apply(out);
        Ok(())
    }

    /// A change the core always accepts; its output is carried out.
    pub fn drive(&self, f: impl FnOnce(&mut Room, i64) -> Output) {
        let now = self.now_ms();
        let out = f(&mut self.core.lock().expect("room core lock"), now);
        self.apply(out);
    }

    /// A look at the core.
    pub fn read<T>(&self, f: impl FnOnce(&Room) -> T) -> T {
        f(&self.core.lock().expect("room core lock"))
    }

    /// Everything the room knows, for a participant who just joined.
    pub fn snapshot(&self) -> (Vec<ParticipantInfo>, Vec<TrackInfo>) {
        self.read(|c| (c.participants(), c.tracks()))
    }

    /// Whether nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.read(Room::is_empty)
    }

    /// Whether `subscriber` has paused `track` (for a down track made after the pause).
    pub fn is_paused(&self, subscriber: ParticipantId, track: TrackId) -> bool {
        self.read(|c| c.is_paused(subscriber, track))
    }

    /// Adds a participant: its channel first, so the events of its own join reach everyone
    /// else only.
    pub(super) fn admit(
        &self,
        id: ParticipantId,
        req: &JoinRequest,
    ) -> Result<mpsc::UnboundedReceiver<RoomEvent>, RoomError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shell
            .lock()
            .expect("room shell lock")
            .members
            .insert(id, tx);
        match self.update(|c, now| c.join(id, &req.identity, &req.name, req.role, now)) {
            Ok(()) => {
                self.gauges.participants.inc();
                Ok(rx)
            }
            Err(e) => {
                self.shell
                    .lock()
                    .expect("room shell lock")
                    .members
                    .remove(&id);
                Err(e)
            }
        }
    }

    /// Removes a participant and its publications (no-op if already gone); whether it was
    /// here.
    pub(super) fn remove(&self, id: ParticipantId) -> bool {
        let left = self.update(|c, _| c.leave(id)).is_ok();
        let (was_member, owned) = {
            let mut shell = self.shell.lock().expect("room shell lock");
            let owned: Vec<TrackId> = shell
                .publications
                .values()
                .filter(|p| p.owner == id)
                .map(|p| p.id)
                .collect();
            (shell.members.remove(&id).is_some(), owned)
        };
        if left && was_member {
            self.gauges.participants.dec();
        }
        for t in owned {
            self.forget(t);
        }
        left && was_member
    }

    /// Carries out the core's output: events to the participants in their audience, actions
    /// to the participant (or publication) they concern.
    fn apply(&self, out: Output) {
        if out.events.is_empty() && out.actions.is_empty() {
            return;
        }
        let mut keyframes = Vec::new();
        {
            let mut shell = self.shell.lock().expect("room shell lock");
            for (audience, event) in out.events {
                for (pid, tx) in shell.members.iter() {
                    if audience != Audience::EveryoneExcept(*pid) {
                        let _ = tx.send(RoomEvent::Room(event.clone()));
                    }
                }
            }
            for action in out.actions {
                match action {
                    Action::Subscribe { subscriber, track } => {
                        if let Some(p) = shell.publications.get(&track).cloned() {
                            shell.send(subscriber, RoomEvent::Subscribe(p));
                        }
                    }
                    Action::Unsubscribe { subscriber, track } => {
                        shell.send(subscriber, RoomEvent::Unsubscribe(track))
                    }
                    Action::SetPaused {
                        subscriber,
                        track,
                        paused,
                    } => shell.send(subscriber, RoomEvent::Pause { track, paused }),
                    Action::RequestKeyframe { track } => {
                        keyframes.extend(shell.publications.get(&track).cloned())
                    }
                    Action::Disconnect { participant } => {
                        if let Some(tx) = shell.members.remove(&participant) {
                            let _ = tx.send(RoomEvent::Close(CloseReason::Replaced));
                            self.gauges.participants.dec();
                        }
                    }
                }
            }
        }
        for p in keyframes {
            tokio::spawn(async move { p.request_keyframe().await });
        }
    }

    /// Tells everyone an event the shell measured (a participant's connection quality).
    pub fn announce(&self, e: crate::sfu::Event) {
        self.apply(Output::broadcast(e));
    }

    /// Sends each participant an event of its own (made by `event`).
    pub(super) fn tell_everyone(&self, event: impl Fn() -> RoomEvent) {
        let shell = self.shell.lock().expect("room shell lock");
        for tx in shell.members.values() {
            let _ = tx.send(event());
        }
    }

    /// A notice from a server-side participant to one participant (nothing if it has left).
    pub fn notify(&self, to: ParticipantId, notice: Notice) {
        self.shell
            .lock()
            .expect("room shell lock")
            .send(to, RoomEvent::Notice(notice));
    }

    /// Registers a publication and announces it (subscribing everyone else).
    pub fn publish(
        self: &Arc<Self>,
        p: Arc<Publication>,
        source: TrackSource,
    ) -> Result<(), RoomError> {
        self.shell
            .lock()
            .expect("room shell lock")
            .publications
            .insert(p.id, p.clone());
        match self.update(|c, _| c.publish(p.owner, p.id, p.kind, source)) {
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
                self.shell
                    .lock()
                    .expect("room shell lock")
                    .publications
                    .remove(&p.id);
                Err(e)
            }
        }
    }

    /// Removes a publication after the core unpublished it.
    fn forget(&self, track: TrackId) {
        let removed = self
            .shell
            .lock()
            .expect("room shell lock")
            .publications
            .remove(&track)
            .is_some();
        if removed {
            self.gauges.tracks.dec();
        }
    }

    /// Unpublishes a track of `owner`.
    pub fn unpublish(&self, owner: ParticipantId, track: TrackId) -> Result<(), RoomError> {
        self.update(|c, _| c.unpublish(owner, track))?;
        self.forget(track);
        Ok(())
    }

    /// A subscriber (or a new down track) wants a keyframe of `track` (rate-limited by the
    /// core).
    pub fn request_keyframe(&self, track: TrackId) {
        self.drive(|c, now| c.request_keyframe(track, now));
    }
}

impl Shell {
    fn send(&self, to: ParticipantId, e: RoomEvent) {
        if let Some(tx) = self.members.get(&to) {
            let _ = tx.send(e);
        }
    }
}

/// Publication callbacks routed into the room (weakly: a finished room is not kept alive).
struct RoomEvents {
    room: Weak<LiveRoom>,
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
            r.request_keyframe(track);
        }
    }
    fn ended(&self, track: TrackId) {
        if let Some(r) = self.room.upgrade() {
            let _ = r.unpublish(self.owner, track);
        }
    }
}

/// Drives a room's time-based work every 50 ms until the room is gone.
fn spawn_ticker(room: Weak<LiveRoom>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            let Some(r) = room.upgrade() else { break };
            r.drive(|c, now| c.poll(now));
        }
    });
}

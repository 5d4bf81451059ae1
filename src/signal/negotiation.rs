//! The negotiation half of a session: publish offers from the client, and the server's
//! subscription offers — one at a time, with changes made meanwhile folded into the next.

use super::hub::{Command, RoomHandle};
use super::protocol::{self, ServerMessage, SubscribedTrack, Target};
use super::session::{Session, Sub, error};
use crate::rtc::media::MediaKind;
use crate::sfu::{TrackId, TrackKind, TrackSource};
use std::collections::HashMap;
use std::sync::Arc;

impl Session {
    pub(super) async fn publish_offer(
        &mut self,
        sdp: &str,
        tracks: Vec<protocol::TrackOffer>,
    ) -> Vec<ServerMessage> {
        if tracks.len() > crate::sfu::room::MAX_TRACKS_PER_PARTICIPANT {
            return vec![error("too_many_tracks", "at most 4 tracks per participant")];
        }
        let sources: HashMap<&str, TrackSource> =
            tracks.iter().map(|t| (t.mid.as_str(), t.source)).collect();
        let mut published = Vec::new();
        for (mid, client_id) in crate::rtc::sdp::msids_by_mid(sdp) {
            let (Some(source), Some(client_id)) = (sources.get(mid.as_str()), client_id) else {
                continue;
            };
            let entry = self
                .offered
                .entry(client_id)
                .or_insert((*source, TrackId(self.ctx.hub.next_id())));
            entry.0 = *source;
            published.push(protocol::PublishedTrack {
                mid,
                track_id: entry.1,
            });
        }
        match self.publisher.answer(sdp).await {
            Ok(answer) => {
                self.expect_connection(Target::Publisher);
                vec![ServerMessage::PublishAnswer {
                    sdp: self.ctx.announce(answer),
                    tracks: published,
                }]
            }
            Err(e) => vec![error("bad_sdp", &format!("the offer was refused: {e}"))],
        }
    }

    pub(super) async fn subscribe_answer(&mut self, sdp: &str) -> Vec<ServerMessage> {
        if !self.negotiating {
            return vec![error(
                "unexpected_answer",
                "no subscribe_offer is waiting for an answer",
            )];
        }
        if let Err(e) = self.subscriber.apply_answer(sdp).await {
            return vec![error("bad_sdp", &format!("the answer was refused: {e}"))];
        }
        self.negotiating = false;
        // Only what the answered offer carried: subscriptions added while it was out are
        // negotiated next (activating them now would forward into an unbound sender and
        // waste the keyframe the subscriber waits for).
        for t in std::mem::take(&mut self.in_flight) {
            if !self.answered.contains(&t) {
                self.answered.push(t);
            }
        }
        self.activate_answered().await;
        if self.dirty {
            self.renegotiate().await
        } else {
            vec![]
        }
    }

    /// Starts forwarding to answered subscriptions once the subscriber connection is up:
    /// before that, the keyframe a new video sink waits for would be sent into a transport
    /// that cannot carry it yet, and lost.
    pub(super) async fn activate_answered(&mut self) {
        if !self.subscriber_link.1 {
            return;
        }
        for t in std::mem::take(&mut self.answered) {
            // Only pending subscriptions are activated; anything else stays as it is (an
            // active one dropped here would keep forwarding while the session forgot it).
            let (p, publication) = match self.subs.remove(&t) {
                Some(Sub::Pending(p, publication)) => (p, publication),
                Some(other) => {
                    self.subs.insert(t, other);
                    continue;
                }
                None => continue,
            };
            if let Ok(sink) = publication
                .activate(&self.subscriber, p, self.room_events())
                .await
            {
                // A pause sent while the subscription was being negotiated holds from the
                // first packet (the core remembers it; the new sink must too).
                let me = self.id;
                let paused = self
                    .room
                    .with_core(|c, _| Ok((c.is_paused(me, t), crate::sfu::Output::default())))
                    .unwrap_or(false);
                sink.set_paused(paused);
                if publication.kind == MediaKind::Video && !paused {
                    let _ = self
                        .room
                        .with_core(|c, now| Ok(((), c.request_keyframe(t, now))));
                }
                self.subs.insert(t, Sub::Active(sink, publication));
            }
        }
    }

    fn room_events(&self) -> Arc<dyn crate::rtc::forward::PublicationEvents> {
        Arc::new(KeyframeOnly {
            room: Arc::downgrade(&self.room),
        })
    }

    pub(super) async fn on_command(&mut self, c: Command) -> Vec<ServerMessage> {
        match c {
            Command::Send(m) => vec![m],
            Command::Subscribe(p) => {
                if self.subs.contains_key(&p.id) {
                    return vec![];
                }
                match p.attach(&self.subscriber, self.id).await {
                    Ok(pending) => {
                        self.subs.insert(p.id, Sub::Pending(pending, p));
                        self.renegotiate().await
                    }
                    Err(e) => vec![error("subscribe_failed", &e.to_string())],
                }
            }
            Command::Unsubscribe(t) => {
                let sender = match self.subs.remove(&t) {
                    Some(Sub::Active(_, p)) => p.detach(self.id),
                    Some(Sub::Pending(pending, _)) => Some(pending.sender().clone()),
                    None => None,
                };
                match sender {
                    Some(s) => {
                        let _ = self.subscriber.pc().remove_track(&s).await;
                        self.renegotiate().await
                    }
                    None => vec![],
                }
            }
            Command::Close(_) => vec![],
        }
    }

    /// Sends a new `subscribe_offer` now, or marks one due after the pending answer.
    pub(super) async fn renegotiate(&mut self) -> Vec<ServerMessage> {
        if self.negotiating {
            self.dirty = true;
            return vec![];
        }
        if self.subs.is_empty() && !self.subscriber_link.0 {
            // Nothing was ever sent on this connection: no media sections, nothing to offer
            // (an offer would wait for ICE gathering that never starts).
            self.restart_ice = false;
            return vec![];
        }
        self.dirty = false;
        let restart = std::mem::take(&mut self.restart_ice);
        let offer = match self.subscriber.offer(restart).await {
            Ok(o) => o,
            Err(e) => return vec![error("negotiation_failed", &e.to_string())],
        };
        let tracks = self.describe(&offer);
        self.in_flight = self
            .subs
            .iter()
            .filter(|(_, s)| matches!(s, Sub::Pending(..)))
            .map(|(t, _)| *t)
            .collect();
        self.negotiating = true;
        self.expect_connection(Target::Subscriber);
        vec![ServerMessage::SubscribeOffer {
            sdp: self.ctx.announce(offer),
            tracks,
        }]
    }

    fn describe(&self, offer: &str) -> Vec<SubscribedTrack> {
        let infos = self.room.snapshot().1;
        crate::rtc::sdp::msids_by_mid(offer)
            .into_iter()
            .filter_map(|(mid, label)| {
                let id = TrackId(label?.strip_prefix('t')?.parse().ok()?);
                self.subs.get(&id)?;
                let info = infos.iter().find(|i| i.id == id)?;
                let kind = if info.kind == TrackKind::Video {
                    TrackKind::Video
                } else {
                    TrackKind::Audio
                };
                Some(SubscribedTrack {
                    mid,
                    track_id: id,
                    owner: info.owner,
                    kind,
                    source: info.source,
                })
            })
            .collect()
    }
}

/// Keyframe requests from a subscriber's down track go to the room (rate-limited there).
struct KeyframeOnly {
    room: std::sync::Weak<RoomHandle>,
}

impl crate::rtc::forward::PublicationEvents for KeyframeOnly {
    fn audio_level(&self, _: TrackId, _: u8) {}
    fn keyframe_request(&self, track: TrackId) {
        if let Some(r) = self.room.upgrade() {
            let _ = r.with_core(|c, now| Ok(((), c.request_keyframe(track, now))));
        }
    }
    fn ended(&self, _: TrackId) {}
}

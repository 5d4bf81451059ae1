//! A participant's subscriber connection: the down tracks the room gave it and the server's
//! offers that carry them. Subscriptions start pending (a down track added to the
//! connection), become active after an answer that carried them once the connection is up,
//! and apply the pauses the room decided. Offers follow [`Negotiation`].

use super::offers::{Negotiation, Next};
use super::protocol::{ErrorCode, ServerMessage, SubscribedTrack};
use crate::media::down_track::{DownTrack, PendingDownTrack};
use crate::media::forward::{Publication, PublicationEvents};
use crate::media::peer::Peer;
use crate::rooms::LiveRoom;
use crate::sfu::{ParticipantId, TrackId, TrackKind};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

enum Sub {
    Pending(PendingDownTrack, Arc<Publication>),
    Active(Arc<DownTrack>, Arc<Publication>),
}

/// The subscriber side of one participant.
pub(super) struct SubscriberLeg {
    peer: Peer,
    me: ParticipantId,
    room: Arc<LiveRoom>,
    subs: HashMap<TrackId, Sub>,
    negotiation: Negotiation,
    /// An offer was made at least once (the connection has media sections).
    offered_once: bool,
}

impl SubscriberLeg {
    pub(super) fn new(peer: Peer, me: ParticipantId, room: Arc<LiveRoom>) -> Self {
        Self {
            peer,
            me,
            room,
            subs: HashMap::new(),
            negotiation: Negotiation::default(),
            offered_once: false,
        }
    }

    pub(super) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The room subscribed this participant to `p`: add a down track and offer it.
    pub(super) async fn subscribe(
        &mut self,
        p: Arc<Publication>,
        announce: impl Fn(String) -> String,
    ) -> Vec<ServerMessage> {
        if self.subs.contains_key(&p.id) {
            return vec![];
        }
        match p.attach(&self.peer, self.me).await {
            Ok(pending) => {
                self.subs.insert(p.id, Sub::Pending(pending, p));
                self.renegotiate(announce).await
            }
            Err(e) => vec![ServerMessage::error(
                ErrorCode::SubscribeFailed,
                e.to_string(),
            )],
        }
    }

    /// The room ended this subscription: remove the down track and offer without it.
    pub(super) async fn unsubscribe(
        &mut self,
        t: TrackId,
        announce: impl Fn(String) -> String,
    ) -> Vec<ServerMessage> {
        let sender = match self.subs.remove(&t) {
            Some(Sub::Active(_, p)) => p.detach(self.me),
            Some(Sub::Pending(pending, _)) => Some(pending.sender().clone()),
            None => None,
        };
        match sender {
            Some(s) => {
                let _ = self.peer.pc().remove_track(&s).await;
                self.renegotiate(announce).await
            }
            None => vec![],
        }
    }

    /// Applies a pause the room decided to an active down track (a pending one asks the
    /// room when it is activated).
    pub(super) fn set_paused(&self, t: TrackId, paused: bool) {
        if let Some(Sub::Active(down_track, _)) = self.subs.get(&t) {
            down_track.set_paused(paused);
        }
    }

    /// The client's answer to the offer that is out.
    pub(super) async fn answer(
        &mut self,
        sdp: &str,
        connected: bool,
        announce: impl Fn(String) -> String,
    ) -> Vec<ServerMessage> {
        if !self.negotiation.awaiting_answer() {
            return vec![ServerMessage::error(
                ErrorCode::UnexpectedAnswer,
                "no subscribe_offer is waiting for an answer",
            )];
        }
        if let Err(e) = self.peer.apply_answer(sdp).await {
            return vec![ServerMessage::error(
                ErrorCode::BadSdp,
                format!("the answer was refused: {e}"),
            )];
        }
        let again = self.negotiation.answered();
        self.activate_answered(connected).await;
        if again {
            self.renegotiate(announce).await
        } else {
            vec![]
        }
    }

    /// The client asked for an ICE restart.
    pub(super) async fn restart_ice(
        &mut self,
        announce: impl Fn(String) -> String,
    ) -> Vec<ServerMessage> {
        self.negotiation.restart_ice();
        self.renegotiate(announce).await
    }

    /// Starts forwarding to answered subscriptions once the connection is up: before that,
    /// the keyframe a new video down track waits for would be sent into a transport that
    /// cannot carry it yet, and lost.
    pub(super) async fn activate_answered(&mut self, connected: bool) {
        for t in self.negotiation.take_answered(connected) {
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
            if let Ok(down_track) = publication
                .activate(&self.peer, p, self.keyframe_requests())
                .await
            {
                // A pause sent while the subscription was being negotiated holds from the
                // first packet: the room owns that state, the new down track applies it.
                let paused = self.room.is_paused(self.me, t);
                down_track.set_paused(paused);
                if publication.kind == TrackKind::Video && !paused {
                    self.room.request_keyframe(t);
                }
                self.subs.insert(t, Sub::Active(down_track, publication));
            }
        }
    }

    fn keyframe_requests(&self) -> Arc<dyn PublicationEvents> {
        Arc::new(KeyframeOnly {
            room: Arc::downgrade(&self.room),
        })
    }

    /// Sends a new `subscribe_offer` now, or marks one due after the pending answer.
    async fn renegotiate(&mut self, announce: impl Fn(String) -> String) -> Vec<ServerMessage> {
        let has_media = !self.subs.is_empty() || self.offered_once;
        let Some(Next::Offer { restart_ice }) = self.negotiation.changed(has_media) else {
            return vec![];
        };
        let offer = match self.peer.offer(restart_ice).await {
            Ok(o) => o,
            Err(e) => {
                return vec![ServerMessage::error(
                    ErrorCode::NegotiationFailed,
                    e.to_string(),
                )];
            }
        };
        let tracks = self.describe(&offer);
        self.negotiation.offered(
            self.subs
                .iter()
                .filter(|(_, s)| matches!(s, Sub::Pending(..)))
                .map(|(t, _)| *t)
                .collect(),
        );
        self.offered_once = true;
        vec![ServerMessage::SubscribeOffer {
            sdp: announce(offer),
            tracks,
        }]
    }

    fn describe(&self, offer: &str) -> Vec<SubscribedTrack> {
        let infos = self.room.snapshot().1;
        crate::media::sdp::msids_by_mid(offer)
            .into_iter()
            .filter_map(|(mid, label)| {
                let id = TrackId(label?.strip_prefix('t')?.parse().ok()?);
                self.subs.get(&id)?;
                let info = infos.iter().find(|i| i.id == id)?;
                Some(SubscribedTrack {
                    mid,
                    track_id: id,
                    owner: info.owner,
                    kind: info.kind,
                    source: info.source,
                })
            })
            .collect()
    }
}

/// Keyframe requests from a subscriber's down track go to the room (rate-limited there).
struct KeyframeOnly {
    room: Weak<LiveRoom>,
}

impl PublicationEvents for KeyframeOnly {
    fn audio_level(&self, _: TrackId, _: u8) {}
    fn keyframe_request(&self, track: TrackId) {
        if let Some(r) = self.room.upgrade() {
            r.request_keyframe(track);
        }
    }
    fn ended(&self, _: TrackId) {}
}

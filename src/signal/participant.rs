//! A participant connected over `/rtc`: the task behind one signalling WebSocket.
//!
//! It checks the join token before anything is allocated ([`super::join`]), enters the room
//! through the rooms layer with a plain join request, then owns the participant's two peer
//! connections: the publisher (the client offers; here) and the subscriber (the server
//! offers; [`super::subscriber`]). Room events become wire messages only here, at the edge.
//! Bad messages get an `error` reply and change nothing; a socket that closes, a `leave`, or
//! ICE lost for longer than `rtc.ice_timeout_secs` ends the task and removes the participant
//! everywhere.

use super::SignalContext;
use super::protocol::{self, ClientMessage, ErrorCode, ServerMessage, Target};
use super::subscriber::SubscriberLeg;
use crate::media::engine::Profile;
use crate::media::forward::Publication;
use crate::media::peer::{IceCandidate, Link, Peer, PeerEvent};
use crate::rooms::{CloseReason, JoinRequest, LiveRoom, Member, RoomEvent};
use crate::sfu::limits::TokenBucket;
use crate::sfu::{Event, ParticipantId, RoomError, TrackId, TrackKind, TrackSource};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Participant {
    ctx: Arc<SignalContext>,
    room: Arc<LiveRoom>,
    id: ParticipantId,
    publisher: Peer,
    /// Client track id (msid) → (source, server track id), from the latest `publish_offer`.
    offered: HashMap<String, (TrackSource, TrackId)>,
    /// Mutes sent for tracks the answer named but whose media has not arrived yet (the room
    /// learns of a track with its first packet): applied when it is published.
    held_mutes: HashMap<TrackId, bool>,
    subscriber: SubscriberLeg,
    ice: IceWatch,
    started: Instant,
    /// All messages: a burst of 100, then 50 a second.
    messages: TokenBucket,
    /// Offers and ICE restarts (each costs a negotiation): a burst of 10, then 1 a second.
    negotiations: TokenBucket,
    quality: crate::sfu::quality::QualityMeter,
}

/// Whether the session's negotiated connections are up, and since when one is not.
#[derive(Default)]
struct IceWatch {
    /// Per connection: negotiated at least once, and connected now.
    publisher: (bool, bool),
    subscriber: (bool, bool),
    /// Since when a negotiated connection has not been connected (lost, or never made).
    lost_since: Option<Instant>,
}

impl IceWatch {
    fn link(&mut self, target: Target) -> &mut (bool, bool) {
        match target {
            Target::Publisher => &mut self.publisher,
            Target::Subscriber => &mut self.subscriber,
        }
    }

    /// A connection was negotiated: until it reports `Connected`, the timer runs.
    fn expect(&mut self, target: Target) {
        self.link(target).0 = true;
        self.update();
    }

    fn set_connected(&mut self, target: Target, connected: bool) {
        self.link(target).1 = connected;
        self.update();
    }

    /// Every negotiated connection is connected.
    fn all_up(&self) -> bool {
        let ok = |(negotiated, connected): (bool, bool)| !negotiated || connected;
        ok(self.publisher) && ok(self.subscriber)
    }

    fn any_negotiated(&self) -> bool {
        self.publisher.0 || self.subscriber.0
    }

    fn subscriber_connected(&self) -> bool {
        self.subscriber.1
    }

    fn update(&mut self) {
        if self.all_up() {
            self.lost_since = None;
        } else {
            self.lost_since.get_or_insert_with(Instant::now);
        }
    }

    fn lost_longer_than(&self, limit: Duration) -> bool {
        self.lost_since.is_some_and(|t| t.elapsed() > limit)
    }
}

/// Runs a session to its end.
pub async fn run(mut ws: WebSocket, ctx: Arc<SignalContext>) {
    let claims = match super::join::first_join(&mut ws, &ctx).await {
        Ok(c) => c,
        Err((code, message)) => {
            let _ = send(&mut ws, &ServerMessage::error(code, message)).await;
            let _ = ws.send(Message::Close(None)).await;
            return;
        }
    };
    if ctx.rooms.is_draining() {
        let msg = ServerMessage::error(
            ErrorCode::Restarting,
            "the server is restarting; try again in a moment",
        );
        let _ = send(&mut ws, &msg).await;
        let _ = ws.send(Message::Close(None)).await;
        return;
    }
    let request = JoinRequest {
        room: claims.room.clone(),
        identity: claims.sub.clone(),
        name: claims.name.clone(),
        role: claims.role,
    };
    let Member {
        room,
        id,
        mut events,
    } = match ctx.rooms.join(&request) {
        Ok(m) => m,
        Err(e) => {
            let code = if matches!(e, RoomError::Full(_)) {
                ErrorCode::RoomFull
            } else {
                ErrorCode::JoinRefused
            };
            let _ = send(&mut ws, &ServerMessage::error(code, e.to_string())).await;
            let _ = ws.send(Message::Close(None)).await;
            return;
        }
    };
    ctx.rooms.gauges.media_tasks.inc();
    let (pub_tx, mut pub_rx) = mpsc::unbounded_channel();
    let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
    let profile = if crate::voice::service::is_voice_room(room.name()) {
        Profile::Voice
    } else {
        Profile::Call
    };
    let peers = match (
        Peer::new(&ctx.peers, profile, pub_tx).await,
        Peer::new(&ctx.peers, profile, sub_tx).await,
    ) {
        (Ok(p), Ok(s)) => Some((p, s)),
        _ => None,
    };
    let mut close = None;
    if let Some((publisher, subscriber)) = peers {
        let (participants, tracks) = room.snapshot();
        let joined = ServerMessage::Joined {
            participant_id: id,
            room: room.name().to_string(),
            participants,
            tracks,
            ice_servers: ctx.ice_servers(&claims.sub),
        };
        let mut s = Participant {
            ctx: ctx.clone(),
            room: room.clone(),
            id,
            publisher,
            offered: HashMap::new(),
            held_mutes: HashMap::new(),
            subscriber: SubscriberLeg::new(subscriber, id, room.clone()),
            ice: IceWatch::default(),
            started: Instant::now(),
            messages: TokenBucket::new(100, 50.0, 0),
            negotiations: TokenBucket::new(10, 1.0, 0),
            quality: Default::default(),
        };
        if send(&mut ws, &joined).await.is_ok() {
            close = s
                .event_loop(&mut ws, &mut events, &mut pub_rx, &mut sub_rx)
                .await;
        }
        s.publisher.close().await;
        s.subscriber.peer().close().await;
    } else {
        let msg = ServerMessage::error(
            ErrorCode::NoMediaPort,
            "the server has no free media port; try again later",
        );
        let _ = send(&mut ws, &msg).await;
    }
    ctx.rooms.leave(&room, id);
    ctx.rooms.gauges.media_tasks.dec();
    let _ = ws.send(Message::Close(close)).await;
}

/// After a failed read: a message over the size limit closes with 1009 (message too big);
/// anything else (a broken connection) needs no close frame.
pub(super) async fn close_after_read_error(ws: &mut WebSocket, e: &axum::Error) {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(axum_tungstenite::Error::Capacity(_)) = err.downcast_ref() {
            let frame = axum::extract::ws::CloseFrame {
                code: axum::extract::ws::close_code::SIZE,
                reason: "message too big".into(),
            };
            let _ = ws.send(Message::Close(Some(frame))).await;
            return;
        }
        cur = err.source();
    }
}

async fn send(ws: &mut WebSocket, m: &ServerMessage) -> Result<(), axum::Error> {
    ws.send(Message::Text(protocol::to_text(m).into())).await
}

impl Participant {
    async fn event_loop(
        &mut self,
        ws: &mut WebSocket,
        events: &mut mpsc::UnboundedReceiver<RoomEvent>,
        pub_rx: &mut mpsc::UnboundedReceiver<PeerEvent>,
        sub_rx: &mut mpsc::UnboundedReceiver<PeerEvent>,
    ) -> Option<CloseFrame> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut ticks = 0u64;
        loop {
            let reply = tokio::select! {
                msg = ws.recv() => match msg {
                    Some(Ok(Message::Text(t))) => match protocol::parse_client(t.as_str()) {
                        Ok(ClientMessage::Leave) => return None,
                        Ok(m) if !self.allowed(&m) => vec![ServerMessage::error(ErrorCode::RateLimited, "slow down: too many messages")],
                        Ok(m) => self.on_client(m).await,
                        Err(e) => vec![ServerMessage::error(e.code(), e.to_string())],
                    },
                    Some(Ok(Message::Binary(_))) => vec![ServerMessage::error(ErrorCode::BinaryNotSupported, "send JSON text messages")],
                    Some(Err(e)) => {
                        close_after_read_error(ws, &e).await;
                        return None;
                    }
                    Some(Ok(Message::Close(_))) | None => return None,
                    Some(Ok(_)) => vec![],
                },
                ev = events.recv() => match ev {
                    Some(RoomEvent::Close(CloseReason::Restart)) => {
                        // Going away (1001): the client comes back when the server is up.
                        return Some(CloseFrame {
                            code: axum::extract::ws::close_code::AWAY,
                            reason: CloseReason::Restart.as_str().into(),
                        });
                    }
                    Some(RoomEvent::Close(reason)) => {
                        let _ = send(ws, &ServerMessage::Bye { reason: reason.as_str().into() }).await;
                        return None;
                    }
                    Some(e) => self.on_room_event(e).await,
                    None => return None,
                },
                Some(ev) = pub_rx.recv() => self.on_publisher_event(ev).await,
                Some(ev) = sub_rx.recv() => {
                    self.on_link(Target::Subscriber, ev);
                    self.subscriber.activate_answered(self.ice.subscriber_connected()).await;
                    vec![]
                },
                _ = tick.tick() => {
                    if self.ice.lost_longer_than(self.ctx.ice_timeout) {
                        let _ = send(ws, &ServerMessage::Bye { reason: "connection lost".into() }).await;
                        return None;
                    }
                    ticks += 1;
                    if ticks.is_multiple_of(super::quality::SAMPLE_EVERY_SECS) {
                        self.sample_quality().await;
                    }
                    vec![]
                }
            };
            for m in reply {
                if matches!(m, ServerMessage::SubscribeOffer { .. }) {
                    self.ice.expect(Target::Subscriber);
                }
                if send(ws, &m).await.is_err() {
                    return None;
                }
            }
        }
    }

    /// A refusal of the room core, in words for the client (nothing when it went through).
    fn core_result(r: Result<(), RoomError>) -> Vec<ServerMessage> {
        match r {
            Ok(()) => vec![],
            Err(e) => vec![ServerMessage::error(
                if e == RoomError::RateLimited {
                    ErrorCode::RateLimited
                } else {
                    ErrorCode::Refused
                },
                e.to_string(),
            )],
        }
    }

    /// Flood protection: every message costs a token, offers and ICE restarts one more.
    fn allowed(&mut self, m: &ClientMessage) -> bool {
        let now = self.started.elapsed().as_millis() as i64;
        let costly = matches!(
            m,
            ClientMessage::PublishOffer { .. } | ClientMessage::IceRestart
        );
        self.messages.try_take(now) && (!costly || self.negotiations.try_take(now))
    }

    fn on_link(&mut self, target: Target, ev: PeerEvent) {
        if let PeerEvent::Link(link) = ev {
            self.ice.set_connected(target, link == Link::Connected);
        }
    }

    /// What the room said, carried out or put into words for the client.
    async fn on_room_event(&mut self, e: RoomEvent) -> Vec<ServerMessage> {
        let ctx = self.ctx.clone();
        let announce = |sdp| ctx.announce(sdp);
        match e {
            RoomEvent::Room(e) => {
                let room = &self.room;
                vec![ServerMessage::from_event(e, |ms| room.unix_ms(ms))]
            }
            RoomEvent::Notice(n) => vec![ServerMessage::from_notice(n)],
            RoomEvent::Subscribe(p) => self.subscriber.subscribe(p, announce).await,
            RoomEvent::Unsubscribe(t) => self.subscriber.unsubscribe(t, announce).await,
            RoomEvent::Pause { track, paused } => {
                self.subscriber.set_paused(track, paused);
                vec![]
            }
            RoomEvent::Restarting { within } => vec![ServerMessage::restarting(
                within,
                crate::voice::service::is_voice_room(self.room.name()),
            )],
            RoomEvent::Close(_) => vec![],
        }
    }

    /// Samples both connections and announces the participant's level if it changed.
    async fn sample_quality(&mut self) {
        // Nothing negotiated yet: there is no media path to judge.
        if !self.ice.any_negotiated() {
            return;
        }
        let sample =
            super::quality::sample(&self.publisher, self.subscriber.peer(), self.ice.all_up())
                .await;
        if let Some(quality) = self.quality.update(sample) {
            self.room.announce(Event::Quality {
                participant: self.id,
                quality,
            });
        }
    }

    async fn on_publisher_event(&mut self, ev: PeerEvent) -> Vec<ServerMessage> {
        let PeerEvent::Track(remote) = ev else {
            self.on_link(Target::Publisher, ev);
            return vec![];
        };
        let client_id = remote.track_id().await;
        let kind = remote.kind().await;
        let default_source = if kind == TrackKind::Video {
            TrackSource::Camera
        } else {
            TrackSource::Microphone
        };
        let (source, track) = self
            .offered
            .get(&client_id)
            .copied()
            .unwrap_or_else(|| (default_source, TrackId(self.ctx.rooms.next_id())));
        match Publication::new(
            &self.publisher,
            remote,
            track,
            self.id,
            self.ctx.rooms.gauges.forward.clone(),
        )
        .await
        {
            Ok(p) => match self.room.publish(p, source) {
                Ok(()) => match self.held_mutes.remove(&track) {
                    Some(muted) => {
                        let me = self.id;
                        Self::core_result(self.room.update(|c, _| c.set_muted(me, track, muted)))
                    }
                    None => vec![],
                },
                Err(e) => vec![ServerMessage::error(
                    ErrorCode::PublishRefused,
                    e.to_string(),
                )],
            },
            Err(e) => vec![ServerMessage::error(
                ErrorCode::PublishFailed,
                e.to_string(),
            )],
        }
    }

    async fn publish_offer(
        &mut self,
        sdp: &str,
        tracks: Vec<protocol::TrackOffer>,
    ) -> Vec<ServerMessage> {
        if tracks.len() > crate::sfu::room::MAX_TRACKS_PER_PARTICIPANT {
            return vec![ServerMessage::error(
                ErrorCode::TooManyTracks,
                "at most 4 tracks per participant",
            )];
        }
        let sources: HashMap<&str, TrackSource> =
            tracks.iter().map(|t| (t.mid.as_str(), t.source)).collect();
        let mut published = Vec::new();
        for (mid, client_id) in crate::media::sdp::msids_by_mid(sdp) {
            let (Some(source), Some(client_id)) = (sources.get(mid.as_str()), client_id) else {
                continue;
            };
            let entry = self
                .offered
                .entry(client_id)
                .or_insert((*source, TrackId(self.ctx.rooms.next_id())));
            entry.0 = *source;
            published.push(protocol::PublishedTrack {
                mid,
                track_id: entry.1,
            });
        }
        match self.publisher.answer(sdp).await {
            Ok(answer) => {
                self.ice.expect(Target::Publisher);
                vec![ServerMessage::PublishAnswer {
                    sdp: self.ctx.announce(answer),
                    tracks: published,
                }]
            }
            Err(e) => vec![ServerMessage::error(
                ErrorCode::BadSdp,
                format!("the offer was refused: {e}"),
            )],
        }
    }

    async fn on_client(&mut self, m: ClientMessage) -> Vec<ServerMessage> {
        let room = self.room.clone();
        let me = self.id;
        let ctx = self.ctx.clone();
        let announce = |sdp| ctx.announce(sdp);
        let core = Self::core_result;
        match m {
            ClientMessage::Join { .. } => vec![ServerMessage::error(
                ErrorCode::AlreadyJoined,
                "this session has joined already",
            )],
            ClientMessage::PublishOffer { sdp, tracks } => self.publish_offer(&sdp, tracks).await,
            ClientMessage::SubscribeAnswer { sdp } => {
                let connected = self.ice.subscriber_connected();
                self.subscriber.answer(&sdp, connected, announce).await
            }
            ClientMessage::Candidate { target, candidate } => {
                let peer = if target == Target::Publisher {
                    &self.publisher
                } else {
                    self.subscriber.peer()
                };
                let c = IceCandidate {
                    candidate: candidate.candidate,
                    sdp_mid: candidate.sdp_mid,
                    sdp_m_line_index: candidate.sdp_m_line_index,
                };
                match peer.add_candidate(c).await {
                    Ok(()) => vec![],
                    Err(e) => vec![ServerMessage::error(ErrorCode::BadCandidate, e.to_string())],
                }
            }
            ClientMessage::Unpublish { track } => core(room.unpublish(me, track)),
            ClientMessage::Mute { track, muted } => {
                match room.update(|c, _| c.set_muted(me, track, muted)) {
                    // Announced in `publish_answer`, media not here yet: held until it is.
                    Err(RoomError::UnknownTrack)
                        if self.offered.values().any(|(_, t)| *t == track) =>
                    {
                        self.held_mutes.insert(track, muted);
                        vec![]
                    }
                    r => core(r),
                }
            }
            // The room decides; a change comes back as a `Pause` room event.
            ClientMessage::Pause { track, paused } => {
                core(room.update(|c, now| c.set_paused(me, track, paused, now)))
            }
            ClientMessage::Keyframe { track } => {
                room.request_keyframe(track);
                vec![]
            }
            ClientMessage::Chat { text } => core(room.update(|c, now| c.chat(me, &text, now))),
            ClientMessage::Reaction { emoji } => {
                core(room.update(|c, now| c.react(me, &emoji, now)))
            }
            ClientMessage::Hand { raised } => core(room.update(|c, _| c.raise_hand(me, raised))),
            ClientMessage::IceRestart => self.subscriber.restart_ice(announce).await,
            ClientMessage::Ping => vec![ServerMessage::Pong],
            ClientMessage::Leave => vec![],
        }
    }
}

//! One signalling session: the task behind a `/rtc` WebSocket.
//!
//! It checks the join token before anything is allocated ([`super::join`]), joins the room,
//! then owns the participant's two peer connections: the publisher (the client offers) and the
//! subscriber (this task offers, one negotiation at a time; changes made while an offer is out
//! are folded into the next one). Bad messages get an `error` reply and change nothing; a socket
//! that closes, a `leave`, or ICE lost for longer than `rtc.ice_timeout_secs` ends the session
//! and removes the participant everywhere.

use super::SignalContext;
use super::hub::{Command, Membership, RoomHandle};
use super::protocol::{self, ClientMessage, ServerMessage, Target};
use crate::rtc::forward::Publication;
use crate::rtc::media::MediaKind;
use crate::rtc::peer::{IceCandidate, Link, Peer, PeerEvent};
use crate::rtc::sink::{PendingSink, Sink};
use crate::sfu::limits::TokenBucket;
use crate::sfu::{ParticipantId, RoomError, TrackId, TrackSource};
use axum::extract::ws::{Message, WebSocket};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(super) enum Sub {
    Pending(PendingSink, Arc<Publication>),
    Active(Arc<Sink>, Arc<Publication>),
}

pub(super) struct Session {
    pub(super) ctx: Arc<SignalContext>,
    pub(super) room: Arc<RoomHandle>,
    pub(super) id: ParticipantId,
    pub(super) publisher: Peer,
    pub(super) subscriber: Peer,
    /// Client track id (msid) → (source, server track id), from the latest `publish_offer`.
    pub(super) offered: HashMap<String, (TrackSource, TrackId)>,
    pub(super) subs: HashMap<TrackId, Sub>,
    pub(super) negotiating: bool,
    /// Pending subscriptions carried by the offer that awaits its answer.
    pub(super) in_flight: Vec<TrackId>,
    /// Answered subscriptions waiting for the subscriber connection to be up.
    pub(super) answered: Vec<TrackId>,
    pub(super) dirty: bool,
    pub(super) restart_ice: bool,
    /// Since when a negotiated connection has not been connected (lost, or never made).
    pub(super) ice_lost_since: Option<Instant>,
    /// Per connection: negotiated at least once, and connected now.
    pub(super) publisher_link: (bool, bool),
    pub(super) subscriber_link: (bool, bool),
    pub(super) started: Instant,
    /// All messages: a burst of 100, then 50 a second.
    pub(super) messages: TokenBucket,
    /// Offers and ICE restarts (each costs a negotiation): a burst of 10, then 1 a second.
    pub(super) negotiations: TokenBucket,
    pub(super) quality: crate::sfu::quality::QualityMeter,
}

/// Runs a session to its end.
pub async fn run(mut ws: WebSocket, ctx: Arc<SignalContext>) {
    let claims = match super::join::first_join(&mut ws, &ctx).await {
        Ok(c) => c,
        Err((code, message)) => {
            let _ = send(
                &mut ws,
                &ServerMessage::Error {
                    code: code.into(),
                    message,
                },
            )
            .await;
            let _ = ws.send(Message::Close(None)).await;
            return;
        }
    };
    let Membership {
        room,
        id,
        mut commands,
    } = match ctx.hub.join(&claims) {
        Ok(m) => m,
        Err(e) => {
            let code = if matches!(e, RoomError::Full(_)) {
                "room_full"
            } else {
                "join_refused"
            };
            let _ = send(
                &mut ws,
                &ServerMessage::Error {
                    code: code.into(),
                    message: e.to_string(),
                },
            )
            .await;
            let _ = ws.send(Message::Close(None)).await;
            return;
        }
    };
    ctx.hub.gauges.media_tasks.inc();
    let (pub_tx, mut pub_rx) = mpsc::unbounded_channel();
    let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
    let peers = match (
        Peer::new(&ctx.transport, pub_tx).await,
        Peer::new(&ctx.transport, sub_tx).await,
    ) {
        (Ok(p), Ok(s)) => Some((p, s)),
        _ => None,
    };
    if let Some((publisher, subscriber)) = peers {
        let (participants, tracks) = room.snapshot();
        let joined = ServerMessage::Joined {
            participant_id: id,
            room: room.name.clone(),
            participants,
            tracks,
            ice_servers: ctx.ice_servers(&claims.sub),
        };
        let mut s = Session {
            ctx: ctx.clone(),
            room: room.clone(),
            id,
            publisher,
            subscriber,
            offered: HashMap::new(),
            subs: HashMap::new(),
            negotiating: false,
            in_flight: Vec::new(),
            answered: Vec::new(),
            dirty: false,
            restart_ice: false,
            ice_lost_since: None,
            publisher_link: (false, false),
            subscriber_link: (false, false),
            started: Instant::now(),
            messages: TokenBucket::new(100, 50.0, 0),
            negotiations: TokenBucket::new(10, 1.0, 0),
            quality: Default::default(),
        };
        if send(&mut ws, &joined).await.is_ok() {
            s.event_loop(&mut ws, &mut commands, &mut pub_rx, &mut sub_rx)
                .await;
        }
        s.publisher.close().await;
        s.subscriber.close().await;
    } else {
        let msg = ServerMessage::Error {
            code: "no_media_port".into(),
            message: "the server has no free media port; try again later".into(),
        };
        let _ = send(&mut ws, &msg).await;
    }
    ctx.hub.leave(&room, id);
    ctx.hub.gauges.media_tasks.dec();
    let _ = ws.send(Message::Close(None)).await;
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

impl Session {
    async fn event_loop(
        &mut self,
        ws: &mut WebSocket,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        pub_rx: &mut mpsc::UnboundedReceiver<PeerEvent>,
        sub_rx: &mut mpsc::UnboundedReceiver<PeerEvent>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut ticks = 0u64;
        loop {
            let reply = tokio::select! {
                msg = ws.recv() => match msg {
                    Some(Ok(Message::Text(t))) => match protocol::parse_client(t.as_str()) {
                        Ok(ClientMessage::Leave) => return,
                        Ok(m) if !self.allowed(&m) => vec![error("rate_limited", "slow down: too many messages")],
                        Ok(m) => self.on_client(m).await,
                        Err(e) => vec![ServerMessage::Error { code: e.code().into(), message: e.to_string() }],
                    },
                    Some(Ok(Message::Binary(_))) => vec![error("binary_not_supported", "send JSON text messages")],
                    Some(Err(e)) => {
                        close_after_read_error(ws, &e).await;
                        return;
                    }
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Ok(_)) => vec![],
                },
                cmd = commands.recv() => match cmd {
                    Some(Command::Close(reason)) => {
                        let _ = send(ws, &ServerMessage::Bye { reason }).await;
                        return;
                    }
                    Some(c) => self.on_command(c).await,
                    None => return,
                },
                Some(ev) = pub_rx.recv() => self.on_publisher_event(ev).await,
                Some(ev) = sub_rx.recv() => {
                    self.on_link(Target::Subscriber, ev);
                    self.activate_answered().await;
                    vec![]
                },
                _ = tick.tick() => {
                    let lost = self.ice_lost_since.is_some_and(|t| t.elapsed() > self.ctx.ice_timeout);
                    if lost {
                        let _ = send(ws, &ServerMessage::Bye { reason: "connection lost".into() }).await;
                        return;
                    }
                    ticks += 1;
                    if ticks.is_multiple_of(super::quality::SAMPLE_EVERY_SECS) {
                        self.sample_quality().await;
                    }
                    vec![]
                }
            };
            for m in reply {
                if send(ws, &m).await.is_err() {
                    return;
                }
            }
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

    /// A connection was negotiated: until it reports `Connected`, the ICE timer runs.
    pub(super) fn expect_connection(&mut self, target: Target) {
        match target {
            Target::Publisher => self.publisher_link.0 = true,
            Target::Subscriber => self.subscriber_link.0 = true,
        }
        self.update_ice_timer();
    }

    fn on_link(&mut self, target: Target, ev: PeerEvent) {
        let PeerEvent::Link(link) = ev else { return };
        let connected = link == Link::Connected;
        match target {
            Target::Publisher => self.publisher_link.1 = connected,
            Target::Subscriber => self.subscriber_link.1 = connected,
        }
        self.update_ice_timer();
    }

    fn update_ice_timer(&mut self) {
        let ok = |(negotiated, connected): (bool, bool)| !negotiated || connected;
        if ok(self.publisher_link) && ok(self.subscriber_link) {
            self.ice_lost_since = None;
        } else {
            self.ice_lost_since.get_or_insert_with(Instant::now);
        }
    }

    async fn on_publisher_event(&mut self, ev: PeerEvent) -> Vec<ServerMessage> {
        let PeerEvent::Track(remote) = ev else {
            self.on_link(Target::Publisher, ev);
            return vec![];
        };
        let client_id = remote.track_id().await;
        let kind = remote.kind().await;
        let default_source = if kind == MediaKind::Video {
            TrackSource::Camera
        } else {
            TrackSource::Microphone
        };
        let (source, track) = self
            .offered
            .get(&client_id)
            .copied()
            .unwrap_or_else(|| (default_source, TrackId(self.ctx.hub.next_id())));
        match Publication::new(
            &self.publisher,
            remote,
            track,
            self.id,
            self.ctx.hub.gauges.forward.clone(),
        )
        .await
        {
            Ok(p) => match self.room.publish(p, source) {
                Ok(()) => vec![],
                Err(e) => vec![error("publish_refused", &e.to_string())],
            },
            Err(e) => vec![error("publish_failed", &e.to_string())],
        }
    }

    async fn on_client(&mut self, m: ClientMessage) -> Vec<ServerMessage> {
        let room = self.room.clone();
        let me = self.id;
        let core = |r: Result<(), RoomError>| match r {
            Ok(()) => vec![],
            Err(e) => vec![error(
                if e == RoomError::RateLimited {
                    "rate_limited"
                } else {
                    "refused"
                },
                &e.to_string(),
            )],
        };
        match m {
            ClientMessage::Join { .. } => {
                vec![error("already_joined", "this session has joined already")]
            }
            ClientMessage::PublishOffer { sdp, tracks } => self.publish_offer(&sdp, tracks).await,
            ClientMessage::SubscribeAnswer { sdp } => self.subscribe_answer(&sdp).await,
            ClientMessage::Candidate { target, candidate } => {
                let peer = if target == Target::Publisher {
                    &self.publisher
                } else {
                    &self.subscriber
                };
                let c = IceCandidate {
                    candidate: candidate.candidate,
                    sdp_mid: candidate.sdp_mid,
                    sdp_m_line_index: candidate.sdp_m_line_index,
                };
                match peer.add_candidate(c).await {
                    Ok(()) => vec![],
                    Err(e) => vec![error("bad_candidate", &e.to_string())],
                }
            }
            ClientMessage::Unpublish { track } => core(room.unpublish(me, track)),
            ClientMessage::Mute { track, muted } => {
                core(room.with_core(|c, _| Ok(((), c.set_muted(me, track, muted)?))))
            }
            ClientMessage::Pause { track, paused } => {
                let r = room.with_core(|c, now| {
                    let (_, out) = c.set_paused(me, track, paused, now)?;
                    Ok(((), out))
                });
                if r.is_ok()
                    && let Some(Sub::Active(sink, _)) = self.subs.get(&track)
                {
                    sink.set_paused(paused);
                }
                core(r)
            }
            ClientMessage::Keyframe { track } => {
                core(room.with_core(|c, now| Ok(((), c.request_keyframe(track, now)))))
            }
            ClientMessage::Chat { text } => {
                core(room.with_core(|c, now| Ok(((), c.chat(me, &text, now)?))))
            }
            ClientMessage::Reaction { emoji } => {
                core(room.with_core(|c, now| Ok(((), c.react(me, &emoji, now)?))))
            }
            ClientMessage::Hand { raised } => {
                core(room.with_core(|c, _| Ok(((), c.raise_hand(me, raised)?))))
            }
            ClientMessage::IceRestart => {
                self.restart_ice = true;
                self.renegotiate().await
            }
            ClientMessage::Ping => vec![ServerMessage::Pong],
            ClientMessage::Leave => vec![],
        }
    }
}

pub(super) fn error(code: &str, message: &str) -> ServerMessage {
    ServerMessage::Error {
        code: code.into(),
        message: message.into(),
    }
}

//! parlor's own client of the `/rtc` protocol, on webrtc-rs: joins with a token, publishes
//! tracks, answers the server's subscription offers by itself, and reports messages and
//! incoming tracks as [`ClientEvent`]s. Used by the integration tests, the load tester and
//! the voice benchmark, so it is real code, not a mock.

use crate::media::RtcError;
use crate::media::engine::{PeerFactory, Profile};
use crate::media::peer::{Peer, PeerEvent};
use crate::media::track::{LocalTrack, RemoteTrack, TrackKind};
use crate::sfu::{ParticipantId, TrackId, TrackSource};
use crate::signal::protocol::{ClientMessage, ServerMessage, TrackOffer};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    Socket(String),
    #[error("server refused: {code}: {message}")]
    Refused {
        code: crate::signal::protocol::ErrorCode,
        message: String,
    },
    #[error("media: {0}")]
    Rtc(#[from] RtcError),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// Something the client saw.
pub enum ClientEvent {
    Message(ServerMessage),
    /// A track of another participant started arriving.
    Track {
        track_id: TrackId,
        remote: RemoteTrack,
    },
    /// The server closed the socket with this close frame (`None`: without one).
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

/// A joined participant.
pub struct Client {
    pub participant_id: ParticipantId,
    /// The `joined` message.
    pub joined: ServerMessage,
    out: mpsc::UnboundedSender<ClientMessage>,
    events: mpsc::UnboundedReceiver<ClientEvent>,
    backlog: VecDeque<ClientEvent>,
    publisher: Arc<Peer>,
    subscriber: Arc<Peer>,
    /// The server's last answer to a publisher offer.
    publish_answer: Option<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Connects to `ws_url` (e.g. `ws://127.0.0.1:8080/rtc`) and joins with `token`.
    pub async fn join(
        ws_url: &str,
        token: &str,
        transport: &PeerFactory,
    ) -> Result<Client, ClientError> {
        // Signalling messages are small: 8 KiB read at a time, as the server does.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 * 1024);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true)
            .await
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let join = protocol_text(&ClientMessage::Join {
            token: token.into(),
            name: None,
        });
        sink.send(Message::Text(join.into()))
            .await
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let joined = match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<ServerMessage>(t.as_str())
                .map_err(|e| ClientError::Socket(e.to_string()))?,
            Ok(_) => return Err(ClientError::Socket("closed before joined".into())),
            Err(_) => return Err(ClientError::Timeout("joined")),
        };
        let participant_id = match &joined {
            ServerMessage::Joined { participant_id, .. } => *participant_id,
            ServerMessage::Error { code, message } => {
                return Err(ClientError::Refused {
                    code: *code,
                    message: message.clone(),
                });
            }
            _ => return Err(ClientError::Socket("unexpected first message".into())),
        };
        // Like a browser, use the STUN/TURN servers the server hands out.
        let handed_out = match &joined {
            ServerMessage::Joined { ice_servers, .. } => ice_servers
                .iter()
                .map(|s| crate::media::engine::IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone().unwrap_or_default(),
                    credential: s.credential.clone().unwrap_or_default(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let transport = &transport.with_more_ice_servers(handed_out);
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
        let publisher = Arc::new(Peer::new(transport, Profile::Call, pub_tx).await?);
        let subscriber = Arc::new(Peer::new(transport, Profile::Call, sub_tx).await?);
        drop(pub_rx);
        let (out, mut out_rx) = mpsc::unbounded_channel::<ClientMessage>();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink
                    .send(Message::Text(protocol_text(&m).into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let _ = sink.close().await;
        }));
        let (sub, out2, ev2) = (subscriber.clone(), out.clone(), ev_tx.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Close(frame) = &msg {
                    let (code, reason) = frame.as_ref().map_or((None, String::new()), |f| {
                        (Some(u16::from(f.code)), f.reason.to_string())
                    });
                    let _ = ev2.send(ClientEvent::Closed { code, reason });
                    break;
                }
                let Message::Text(t) = msg else { continue };
                let Ok(m) = serde_json::from_str::<ServerMessage>(t.as_str()) else {
                    continue;
                };
                if let ServerMessage::SubscribeOffer { sdp, .. } = &m {
                    match sub.answer(sdp).await {
                        Ok(answer) => {
                            let _ = out2.send(ClientMessage::SubscribeAnswer { sdp: answer });
                        }
                        Err(_) => break,
                    }
                }
                if ev2.send(ClientEvent::Message(m)).is_err() {
                    break;
                }
            }
        }));
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = sub_rx.recv().await {
                if let PeerEvent::Track(remote) = ev {
                    let label = remote.track_id().await;
                    let Some(id) = label.strip_prefix('t').and_then(|n| n.parse().ok()) else {
                        continue;
                    };
                    if ev_tx
                        .send(ClientEvent::Track {
                            track_id: TrackId(id),
                            remote,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }));
        Ok(Client {
            participant_id,
            joined,
            out,
            events,
            backlog: VecDeque::new(),
            publisher,
            subscriber,
            publish_answer: None,
            tasks,
        })
    }

    /// A handle that sends messages on this client's socket (e.g. from another task).
    pub fn sender(&self) -> mpsc::UnboundedSender<ClientMessage> {
        self.out.clone()
    }

    /// Sends a message.
    pub fn send(&self, m: ClientMessage) {
        let _ = self.out.send(m);
    }

    /// Publishes new tracks (with fixed SSRCs) and renegotiates the publisher connection.
    pub async fn publish(
        &mut self,
        tracks: &[(TrackKind, TrackSource, u32)],
    ) -> Result<Vec<(LocalTrack, TrackId)>, ClientError> {
        let mut locals = Vec::new();
        for (i, (kind, source, ssrc)) in tracks.iter().enumerate() {
            let label = format!("c{}-{}-{i}", self.participant_id.0, ssrc);
            locals.push((
                self.publisher
                    .add_local_track(*kind, *ssrc, "local", &label)
                    .await?,
                *source,
                label,
            ));
        }
        let offer = self.publisher.offer(false).await?;
        let by_mid = crate::media::sdp::msids_by_mid(&offer);
        let offers: Vec<TrackOffer> = locals
            .iter()
            .filter_map(|(_, source, label)| {
                by_mid
                    .iter()
                    .find(|(_, l)| l.as_deref() == Some(label))
                    .map(|(mid, _)| TrackOffer {
                        mid: mid.clone(),
                        source: *source,
                    })
            })
            .collect();
        let mids: Vec<String> = offers.iter().map(|o| o.mid.clone()).collect();
        let ids = self.negotiate_publisher(offer, offers).await?;
        Ok(locals
            .into_iter()
            .zip(mids)
            .map(|((local, _, _), mid)| {
                let id = ids
                    .iter()
                    .find(|p| p.mid == mid)
                    .map_or(TrackId(0), |p| p.track_id);
                (local, id)
            })
            .collect())
    }

    /// After a network change: asks the server for a subscriber offer with fresh ICE
    /// credentials (answered automatically) and renegotiates the publisher connection with an
    /// ICE-restart offer. Published tracks keep their ids.
    pub async fn restart_ice(&mut self) -> Result<(), ClientError> {
        self.send(ClientMessage::IceRestart);
        let offer = self.publisher.offer(true).await?;
        self.negotiate_publisher(offer, Vec::new()).await?;
        Ok(())
    }

    /// Sends a publisher offer, waits for the answer and applies it; returns the track ids.
    async fn negotiate_publisher(
        &mut self,
        sdp: String,
        tracks: Vec<TrackOffer>,
    ) -> Result<Vec<crate::signal::protocol::PublishedTrack>, ClientError> {
        self.send(ClientMessage::PublishOffer { sdp, tracks });
        let answer = self
            .wait_for(Duration::from_secs(10), |e| {
                matches!(
                    e,
                    ClientEvent::Message(
                        ServerMessage::PublishAnswer { .. } | ServerMessage::Error { .. }
                    )
                )
            })
            .await
            .ok_or(ClientError::Timeout("publish_answer"))?;
        match answer {
            ClientEvent::Message(ServerMessage::PublishAnswer { sdp, tracks }) => {
                self.publisher.apply_answer(&sdp).await?;
                self.publish_answer = Some(sdp);
                Ok(tracks)
            }
            ClientEvent::Message(ServerMessage::Error { code, message }) => {
                Err(ClientError::Refused { code, message })
            }
            _ => unreachable!("wait_for returned a matching event"),
        }
    }

    /// The server's last answer to this client's publisher offer (what it asked of the
    /// client's encoders, e.g. Opus `maxplaybackrate`).
    pub fn publish_answer(&self) -> Option<&str> {
        self.publish_answer.as_deref()
    }

    /// The next event, within `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<ClientEvent> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits for the first event matching `pick`, keeping the others for `next_event`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pick: impl Fn(&ClientEvent) -> bool,
    ) -> Option<ClientEvent> {
        if let Some(i) = self.backlog.iter().position(&pick) {
            return self.backlog.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .ok()
                .flatten()?;
            if pick(&e) {
                return Some(e);
            }
            self.backlog.push_back(e);
        }
    }

    /// Statistics of the publisher and the subscriber connection.
    pub async fn link_stats(
        &self,
    ) -> (
        crate::media::stats::LinkStats,
        crate::media::stats::LinkStats,
    ) {
        (
            self.publisher.link_stats().await,
            self.subscriber.link_stats().await,
        )
    }

    /// Leaves and releases everything.
    pub async fn close(self) {
        self.send(ClientMessage::Leave);
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.publisher.close().await;
        self.subscriber.close().await;
        for t in self.tasks {
            t.abort();
        }
    }
}

fn protocol_text(m: &ClientMessage) -> String {
    serde_json::to_string(m).expect("client messages serialise")
}

//! One peer connection with its events turned into a channel.
//!
//! webrtc-rs calls the event handler on the connection's own driver task, so the handler only
//! forwards into an unbounded channel (never blocks, never polls a track). The server side
//! sends complete descriptions (candidates included, gathered from its single bound socket in
//! about a millisecond), which lets [`super::sdp::announce`] rewrite them for a public address;
//! candidates from the remote side trickle in and are queued until a remote description exists.

use super::RtcError;
use super::engine::{self, PeerFactory};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription,
};

/// A trickled ICE candidate (as in `RTCIceCandidateInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_m_line_index: Option<u16>,
}

/// Connection state, simplified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    /// ICE lost the path; it may come back.
    Disconnected,
    Failed,
    Closed,
}

/// What a peer connection reports.
pub enum PeerEvent {
    /// A local candidate to send to the other side (client peers trickle).
    Candidate(IceCandidate),
    Link(Link),
    /// A remote track started (its first RTP packet arrived).
    Track(super::track::RemoteTrack),
}

struct Handler {
    events: mpsc::UnboundedSender<PeerEvent>,
    gathered: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let c = IceCandidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_m_line_index: init.sdp_mline_index,
            };
            let _ = self.events.send(PeerEvent::Candidate(c));
        }
    }
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathered
            .send_replace(state == RTCIceGatheringState::Complete);
    }
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if state == RTCIceConnectionState::Disconnected {
            let _ = self.events.send(PeerEvent::Link(Link::Disconnected));
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let link = match state {
            RTCPeerConnectionState::Connected => Link::Connected,
            RTCPeerConnectionState::Disconnected => Link::Disconnected,
            RTCPeerConnectionState::Failed => Link::Failed,
            RTCPeerConnectionState::Closed => Link::Closed,
            _ => Link::Connecting,
        };
        let _ = self.events.send(PeerEvent::Link(link));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self
            .events
            .send(PeerEvent::Track(super::track::RemoteTrack::new(track)));
    }
}

/// A peer connection and its pending remote candidates.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    /// What the descriptions this side sends ask of the far end (see [`engine::Profile::opus_params`]).
    profile: engine::Profile,
    gathered: watch::Receiver<bool>,
    /// Remote candidates that arrived before the remote description (None once it is set).
    pending: Mutex<Option<Vec<RTCIceCandidateInit>>>,
}

impl Peer {
    /// A new connection on a free port of the transport's range, negotiating as `profile`
    /// asks; events go to `events`.
    pub async fn new(
        transport: &PeerFactory,
        profile: engine::Profile,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> Result<Peer, RtcError> {
        let (gathered_tx, gathered) = watch::channel(false);
        let handler = Arc::new(Handler {
            events,
            gathered: gathered_tx,
        });
        let pc = engine::build_in_range(transport, profile, handler).await?;
        Ok(Peer {
            pc,
            profile,
            gathered,
            pending: Mutex::new(Some(Vec::new())),
        })
    }

    pub(crate) fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// The local description to send, once candidates are gathered, with what this
    /// connection's profile asks of the far end.
    async fn local_sdp_after_gathering(&self) -> Result<String, RtcError> {
        let mut g = self.gathered.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), g.wait_for(|done| *done)).await;
        let sdp = self
            .pc
            .local_description()
            .await
            .ok_or(RtcError::Sdp("no local description".into()))?
            .sdp;
        Ok(super::sdp::add_opus_params(
            &sdp,
            self.profile.opus_params(),
        ))
    }

    async fn remote_set(&self) -> Result<(), RtcError> {
        if let Some(queued) = self.pending.lock().await.take() {
            for c in queued {
                self.pc.add_ice_candidate(c).await?;
            }
        }
        Ok(())
    }

    /// Applies a remote offer and returns the complete local answer.
    pub async fn answer(&self, offer: &str) -> Result<String, RtcError> {
        let desc = RTCSessionDescription::offer(offer.to_string())
            .map_err(|e| RtcError::Sdp(e.to_string()))?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| RtcError::Sdp(e.to_string()))?;
        self.remote_set().await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        self.local_sdp_after_gathering().await
    }

    /// Creates a local offer (optionally restarting ICE) and returns it complete.
    pub async fn offer(&self, ice_restart: bool) -> Result<String, RtcError> {
        let opts = ice_restart
            .then_some(rtc::peer_connection::configuration::RTCOfferOptions { ice_restart: true });
        let offer = self.pc.create_offer(opts).await?;
        self.pc.set_local_description(offer).await?;
        self.local_sdp_after_gathering().await
    }

    /// Applies the remote answer to our offer.
    pub async fn apply_answer(&self, answer: &str) -> Result<(), RtcError> {
        let desc = RTCSessionDescription::answer(answer.to_string())
            .map_err(|e| RtcError::Sdp(e.to_string()))?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| RtcError::Sdp(e.to_string()))?;
        self.remote_set().await
    }

    /// Adds a remote candidate (queued until the remote description is set).
    pub async fn add_candidate(&self, c: IceCandidate) -> Result<(), RtcError> {
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_m_line_index,
            ..Default::default()
        };
        let mut pending = self.pending.lock().await;
        match pending.as_mut() {
            Some(q) if q.len() < 64 => q.push(init),
            Some(_) => return Err(RtcError::Sdp("too many early candidates".into())),
            None => {
                drop(pending);
                self.pc.add_ice_candidate(init).await?;
            }
        }
        Ok(())
    }

    /// Closes the connection; its sockets and tasks are released.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    /// Every `log` record at WARN or above, from anywhere in this test process.
    static SEEN: StdMutex<Vec<String>> = StdMutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.level() <= log::Level::Warn
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                SEEN.lock()
                    .unwrap()
                    .push(format!("{} {}", r.level(), r.args()));
            }
        }
        fn flush(&self) {}
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ports_in_use_are_skipped_without_an_error_line() {
        static LOGGER: Capture = Capture;
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Warn);
        // Occupy the first ports of the range, as other peers would.
        let busy: Vec<_> = (44700..44705)
            .map(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).expect("free test port"))
            .collect();
        let transport = engine::PeerFactory::new("127.0.0.1".parse().unwrap(), (44700, 44709));
        let (tx, _rx) = mpsc::unbounded_channel();
        let peer = Peer::new(&transport, engine::Profile::Call, tx)
            .await
            .expect("a free port is found");
        peer.close().await;
        drop(busy);
        let seen = SEEN.lock().unwrap().clone();
        let bind_errors: Vec<_> = seen.iter().filter(|l| l.contains("bind UDP")).collect();
        assert!(bind_errors.is_empty(), "{bind_errors:?}");
    }
}

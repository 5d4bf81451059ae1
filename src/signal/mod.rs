//! Signalling: the WebSocket protocol on `/rtc` (JSON messages tagged by `type`, in
//! [`protocol`]) and one task per connection ([`participant`]) that enters a room of the
//! [rooms layer](crate::rooms) with a verified join token and speaks for its participant:
//! room events become wire messages here and nowhere else. The subscriber connection and its
//! offers are [`subscriber`]'s. The protocol is documented for client authors in
//! `docs/signalling.md`; [`client`] is the project's own webrtc-rs client of it (tests, load
//! tests, voice benchmark).

mod join;
mod offers;
pub mod participant;
pub mod protocol;
mod quality;
mod subscriber;

use crate::config::{Config, Secret};
use crate::media::engine::PeerFactory;
use crate::rooms::Rooms;
use protocol::{ErrorCode, IceServer};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a participant with a valid token may not enter: a code and words for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Decides, at join, whether verified claims may still enter their room (whatever the room
/// stands for may have ended since the token was minted).
#[async_trait::async_trait]
pub trait Admission: Send + Sync {
    async fn admit(&self, claims: &crate::auth::join_token::JoinClaims) -> Result<(), Refusal>;
}

/// What every session needs: the rooms, the peer-connection factory, keys and ICE settings.
pub struct SignalContext {
    pub rooms: Arc<Rooms>,
    pub peers: Arc<PeerFactory>,
    pub signing_key: Secret,
    pub ice_timeout: Duration,
    /// The server's clock, against which join tokens are checked.
    pub clock: crate::clock::Clock,
    /// Whether a verified token may still enter its room.
    pub admission: std::sync::Arc<dyn Admission>,
    stun: Vec<String>,
    turn_urls: Vec<String>,
    turn_secret: Secret,
    turn_ttl_secs: i64,
    announced: Option<IpAddr>,
}

impl SignalContext {
    pub fn new(
        cfg: &Config,
        rooms: Arc<Rooms>,
        signing_key: Secret,
        clock: crate::clock::Clock,
        admission: Arc<dyn Admission>,
    ) -> Self {
        let ports = cfg.rtc.port_range().expect("validated port range");
        Self {
            rooms,
            peers: Arc::new({
                let mut t = PeerFactory::new(cfg.http.addr.ip(), ports).with_socket_buffers(
                    crate::media::sockets::BufferSizes {
                        recv: cfg.rtc.recv_buffer_bytes as usize,
                        send: cfg.rtc.send_buffer_bytes as usize,
                    },
                );
                t.nack_history = cfg.rtc.nack_history;
                t
            }),
            signing_key,
            clock,
            admission,
            ice_timeout: Duration::from_secs(u64::from(cfg.rtc.ice_timeout_secs)),
            stun: cfg.rtc.ice_servers.clone(),
            turn_urls: cfg.rtc.turn_urls.clone(),
            turn_secret: cfg.rtc.turn_secret.clone(),
            turn_ttl_secs: i64::from(cfg.rtc.turn_ttl_secs),
            announced: cfg.rtc.announced_ip(),
        }
    }

    /// STUN servers and, when configured, TURN with fresh credentials for `identity`.
    pub fn ice_servers(&self, identity: &str) -> Vec<IceServer> {
        let mut out = Vec::new();
        if !self.stun.is_empty() {
            out.push(IceServer {
                urls: self.stun.clone(),
                username: None,
                credential: None,
            });
        }
        if !self.turn_urls.is_empty() {
            // TURN servers check the credential against their own (real) clock, not ours.
            let now = chrono::Utc::now().timestamp();
            let c = crate::auth::turn::credential(
                self.turn_secret.expose().as_bytes(),
                identity,
                now,
                self.turn_ttl_secs,
            );
            out.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(c.username),
                credential: Some(c.password),
            });
        }
        out
    }

    /// Rewrites host candidates for the announced public address, if any.
    pub fn announce(&self, sdp: String) -> String {
        match self.announced {
            Some(ip) => crate::media::sdp::announce(&sdp, ip),
            None => sdp,
        }
    }
}

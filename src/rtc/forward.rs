//! Forwarding one published track to its subscribers.
//!
//! A [`Publication`] owns the publisher's remote track and a list of [`Sink`]s (one per
//! subscriber). Its forwarding task reads each RTP packet once, asks every sink's
//! [`Forwarder`] (the sans-IO decision) what to do, remaps the payload type and header
//! extension ids to the subscriber leg (webrtc-rs silently drops packets whose PT or
//! extension ids were not negotiated on that leg), and writes it out. The sink list is an
//! immutable snapshot swapped on change, so the per-packet path takes a read lock only long
//! enough to clone an `Arc`, and no lock is held across an await. Nothing is logged per packet.

use super::RtcError;
use super::engine::AUDIO_LEVEL_URI;
use super::media::{MediaKind, RemoteTrack};
use super::peer::Peer;
use crate::sfu::forwarder::{Decision, Forwarder, vp8_keyframe_start};
use crate::sfu::{ParticipantId, TrackId};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpParameters, RtpCodecKind,
};
use rtc::shared::marshal::Unmarshal;
use std::sync::{Arc, Mutex, RwLock};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::rtp_transceiver::RtpSender;

/// Callbacks from a publication's tasks into the room (no await inside them).
pub trait PublicationEvents: Send + Sync + 'static {
    /// An RFC 6464 level (-dBov) read from an audio packet of `track`.
    fn audio_level(&self, track: TrackId, dbov: u8);
    /// A subscriber asked for a keyframe of `track` (PLI/FIR on its down track).
    fn keyframe_request(&self, track: TrackId);
    /// The publisher's track ended.
    fn ended(&self, track: TrackId);
}

/// One subscriber's down track.
pub struct Sink {
    pub subscriber: ParticipantId,
    local: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    forwarder: Mutex<Forwarder>,
    /// (publisher PT, subscriber PT)
    pt_map: Vec<(u8, u8)>,
    /// Publisher extension id → subscriber id (0 = drop).
    ext_map: [u8; 256],
    ext_identity: bool,
}

impl Sink {
    /// Pauses or resumes forwarding to this subscriber; true if a keyframe is needed.
    pub fn set_paused(&self, paused: bool) -> bool {
        let mut f = self.forwarder.lock().expect("forwarder lock");
        if paused {
            f.pause();
            false
        } else {
            f.resume()
        }
    }
}

/// A published track and its subscribers.
pub struct Publication {
    pub id: TrackId,
    pub owner: ParticipantId,
    pub kind: MediaKind,
    remote: RemoteTrack,
    ssrc: u32,
    params: RTCRtpParameters,
    audio_level_id: Option<u8>,
    sinks: RwLock<Arc<Vec<Arc<Sink>>>>,
}

impl Publication {
    /// Wraps a remote track that started on `publisher`'s connection.
    pub async fn new(
        publisher: &Peer,
        remote: RemoteTrack,
        id: TrackId,
        owner: ParticipantId,
    ) -> Result<Arc<Self>, RtcError> {
        let kind = remote.kind().await;
        let ssrc = remote
            .inner()
            .ssrcs()
            .await
            .first()
            .copied()
            .ok_or(RtcError::Sdp("track without SSRC".into()))?;
        let params = receiver_params(publisher, &remote).await?;
        let audio_level_id = params
            .header_extensions
            .iter()
            .find(|h| h.uri == AUDIO_LEVEL_URI)
            .map(|h| h.id as u8);
        Ok(Arc::new(Self {
            id,
            owner,
            kind,
            remote,
            ssrc,
            params,
            audio_level_id,
            sinks: RwLock::new(Arc::new(Vec::new())),
        }))
    }

    /// Starts the forwarding task; it ends when the publisher's track or connection ends.
    pub fn spawn(
        self: &Arc<Self>,
        events: Arc<dyn PublicationEvents>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = me.remote.inner().poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(pkt) => me.forward(pkt, events.as_ref()).await,
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
            events.ended(me.id);
        })
    }

    async fn forward(&self, pkt: rtc::rtp::Packet, events: &dyn PublicationEvents) {
        if let Some(id) = self.audio_level_id
            && let Some(mut b) = pkt.header.get_extension(id)
            && let Ok(level) = AudioLevelExtension::unmarshal(&mut b)
        {
            events.audio_level(self.id, level.level);
        }
        let keyframe = self.kind == MediaKind::Video && vp8_keyframe_start(&pkt.payload);
        let sinks = self.sinks.read().expect("sinks lock").clone();
        let mut starving = false;
        for sink in sinks.iter() {
            let decision = {
                let mut f = sink.forwarder.lock().expect("forwarder lock");
                let d = f.decide(pkt.header.sequence_number, keyframe);
                starving |= f.needs_keyframe() && !f.is_paused();
                d
            };
            let Decision::Forward { seq } = decision else {
                continue;
            };
            let mut out = pkt.clone();
            out.header.sequence_number = seq;
            if let Some(&(_, pt)) = sink
                .pt_map
                .iter()
                .find(|(i, _)| *i == out.header.payload_type)
            {
                out.header.payload_type = pt;
            }
            if !sink.ext_identity {
                remap_extensions(&mut out, &sink.ext_map);
            }
            // A full queue or a closed subscriber is that subscriber's problem: skip it.
            let _ = sink.local.write_rtp(out).await;
        }
        // A subscriber still waiting for a keyframe (the first PLI may have been lost, or sent
        // before the publisher was ready): ask again every ~30 packets; the room's limiter
        // keeps it to one PLI per 500 ms.
        if starving && pkt.header.sequence_number.is_multiple_of(30) {
            events.keyframe_request(self.id);
        }
    }

    /// Sends a PLI to the publisher.
    pub async fn request_keyframe(&self) {
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.ssrc,
        };
        let _ = self.remote.inner().write_rtcp(vec![Box::new(pli)]).await;
    }

    /// Adds a down track for `subscriber` on its subscriber connection. The sink forwards only
    /// after [`Publication::activate`], once the renegotiation has completed.
    pub async fn attach(
        &self,
        subscriber_peer: &Peer,
        subscriber: ParticipantId,
    ) -> Result<PendingSink, RtcError> {
        let codec = self
            .remote
            .inner()
            .codec(self.ssrc)
            .await
            .ok_or(RtcError::Sdp("track without codec".into()))?;
        let rtp_kind = if self.kind == MediaKind::Video {
            RtpCodecKind::Video
        } else {
            RtpCodecKind::Audio
        };
        let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("p{}", self.owner.0),
            format!("t{}", self.id.0),
            format!("t{}", self.id.0),
            rtp_kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(self.ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        )));
        let sender = subscriber_peer
            .pc()
            .add_track(local.clone() as Arc<dyn TrackLocal>)
            .await?;
        Ok(PendingSink {
            subscriber,
            local,
            sender,
        })
    }

    /// Starts forwarding to a sink whose negotiation completed; watches its keyframe requests.
    /// (A new video sink needs a keyframe: the caller asks the room, which rate-limits PLIs.)
    pub async fn activate(
        self: &Arc<Self>,
        p: PendingSink,
        events: Arc<dyn PublicationEvents>,
    ) -> Result<Arc<Sink>, RtcError> {
        let out = p.sender.get_parameters().await?.rtp_parameters;
        let (ext_map, ext_identity) = ext_map(&self.params, &out);
        let sink = Arc::new(Sink {
            subscriber: p.subscriber,
            forwarder: Mutex::new(Forwarder::new(self.kind == MediaKind::Video)),
            pt_map: pt_map(&self.params, &out),
            ext_map,
            ext_identity,
            local: p.local,
            sender: p.sender,
        });
        {
            let mut w = self.sinks.write().expect("sinks lock");
            let mut next: Vec<Arc<Sink>> = w
                .iter()
                .filter(|s| s.subscriber != sink.subscriber)
                .cloned()
                .collect();
            next.push(sink.clone());
            *w = Arc::new(next);
        }
        let (local, id) = (sink.local.clone(), self.id);
        tokio::spawn(async move {
            while let Some(ev) = local.poll().await {
                if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                    events.keyframe_request(id);
                }
            }
        });
        Ok(sink)
    }

    /// Stops forwarding to `subscriber`; returns its sender for removal from its connection.
    pub fn detach(&self, subscriber: ParticipantId) -> Option<Arc<dyn RtpSender>> {
        let mut w = self.sinks.write().expect("sinks lock");
        let found = w
            .iter()
            .find(|s| s.subscriber == subscriber)
            .map(|s| s.sender.clone());
        *w = Arc::new(
            w.iter()
                .filter(|s| s.subscriber != subscriber)
                .cloned()
                .collect(),
        );
        found
    }

    /// The sink of `subscriber`, if active.
    pub fn sink(&self, subscriber: ParticipantId) -> Option<Arc<Sink>> {
        self.sinks
            .read()
            .expect("sinks lock")
            .iter()
            .find(|s| s.subscriber == subscriber)
            .cloned()
    }

    /// Number of active sinks.
    pub fn sink_count(&self) -> usize {
        self.sinks.read().expect("sinks lock").len()
    }
}

/// A down track added to a connection, waiting for its renegotiation.
pub struct PendingSink {
    subscriber: ParticipantId,
    local: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
}

impl PendingSink {
    /// The sender, to remove it again if the subscription is cancelled before activation.
    pub fn sender(&self) -> &Arc<dyn RtpSender> {
        &self.sender
    }
}

async fn receiver_params(peer: &Peer, remote: &RemoteTrack) -> Result<RTCRtpParameters, RtcError> {
    let id = remote.track_id().await;
    for r in peer.pc().get_receivers().await {
        if r.track().track_id().await == id {
            return Ok(r.get_parameters().await?.rtp_parameters);
        }
    }
    Err(RtcError::Sdp(format!("no receiver for track {id}")))
}

fn pt_map(inp: &RTCRtpParameters, out: &RTCRtpParameters) -> Vec<(u8, u8)> {
    inp.codecs
        .iter()
        .filter_map(|c| {
            out.codecs
                .iter()
                .find(|o| {
                    o.rtp_codec
                        .mime_type
                        .eq_ignore_ascii_case(&c.rtp_codec.mime_type)
                })
                .map(|o| (c.payload_type, o.payload_type))
        })
        .collect()
}

/// Publisher extension id → subscriber id by URI (0 = drop); true if nothing changes.
fn ext_map(inp: &RTCRtpParameters, out: &RTCRtpParameters) -> ([u8; 256], bool) {
    let mut m = [0u8; 256];
    let mut identity = true;
    for h in &inp.header_extensions {
        let o = out
            .header_extensions
            .iter()
            .find(|x| x.uri == h.uri)
            .map_or(0, |x| x.id as u8);
        m[usize::from(h.id as u8)] = o;
        identity &= o == h.id as u8;
    }
    (m, identity)
}

fn remap_extensions(pkt: &mut rtc::rtp::Packet, map: &[u8; 256]) {
    pkt.header
        .extensions
        .retain(|e| map[usize::from(e.id)] != 0);
    for e in pkt.header.extensions.iter_mut() {
        e.id = map[usize::from(e.id)];
    }
    pkt.header.extension = !pkt.header.extensions.is_empty();
}

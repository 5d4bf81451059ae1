//! Forwarding one published track to its subscribers.
//!
//! A [`Publication`] owns the publisher's remote track and a list of [`Sink`]s (one per
//! subscriber). Its forwarding task reads each RTP packet once, asks every sink's
//! [`Forwarder`] (the sans-IO decision) what to do, remaps the payload type and header
//! extension ids to the subscriber leg (webrtc-rs silently drops packets whose PT or
//! extension ids were not negotiated on that leg), gives the packet the down track's own SSRC
//! and MID (browsers route packets by the MID extension; the publisher leg's MID names a
//! different transceiver on the subscriber leg), and queues it for that subscriber.
//!
//! Each sink has a short queue drained by its own writer task, so a subscriber whose
//! connection is slow loses its own packets (counted) instead of stalling everyone else on the
//! track. The sink list is an immutable snapshot swapped on change, so the per-packet path
//! takes a read lock only long enough to clone an `Arc`; no lock is held across an await and
//! nothing is logged per packet. [`ForwardMetrics`] times every packet from its arrival to
//! its hand-over to the subscriber's connection.

use super::RtcError;
use super::engine::AUDIO_LEVEL_URI;
use super::media::{MediaKind, RemoteTrack};
use super::peer::Peer;
use crate::sfu::forwarder::{Decision, Forwarder, vp8_keyframe_start};
use crate::sfu::{ParticipantId, TrackId};
use bytes::Bytes;
use prometheus::{Histogram, IntCounter, IntGauge};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpParameters, RtpCodecKind,
};
use rtc::shared::marshal::Unmarshal;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::mpsc;
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

/// Packets queued per subscriber and track before that subscriber starts losing them
/// (~0.25 s of a 1.5 Mbit/s video track).
pub const SINK_QUEUE: usize = 128;

/// Forwarding counters shared by every publication of a server.
#[derive(Clone)]
pub struct ForwardMetrics {
    /// Packets handed to a subscriber's connection.
    pub forwarded: IntCounter,
    /// Packets dropped because a subscriber's queue was full.
    pub dropped: IntCounter,
    /// Seconds from a packet's arrival from the publisher's connection to its hand-over to
    /// the subscriber's connection (SRTP and sockets on either side excluded).
    pub latency: Histogram,
    /// Running per-sink writer tasks (also counted in the media task gauge).
    pub tasks: IntGauge,
}

/// One subscriber's down track.
pub struct Sink {
    pub subscriber: ParticipantId,
    local: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    forwarder: Mutex<Forwarder>,
    queue: mpsc::Sender<(rtc::rtp::Packet, Instant)>,
    /// This down track's SSRC (never the publisher's: two publishers may share one).
    ssrc: u32,
    /// The MID of the subscriber-leg transceiver, written into the MID extension.
    mid: Option<Bytes>,
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
    /// The publisher leg's id of the `sdes:mid` extension.
    mid_ext_id: Option<u8>,
    sinks: RwLock<Arc<Vec<Arc<Sink>>>>,
    metrics: ForwardMetrics,
}

impl Publication {
    /// Wraps a remote track that started on `publisher`'s connection.
    pub async fn new(
        publisher: &Peer,
        remote: RemoteTrack,
        id: TrackId,
        owner: ParticipantId,
        metrics: ForwardMetrics,
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
        let mid_ext_id = params
            .header_extensions
            .iter()
            .find(|h| h.uri == MID_URI)
            .map(|h| h.id as u8);
        Ok(Arc::new(Self {
            id,
            owner,
            kind,
            remote,
            ssrc,
            params,
            audio_level_id,
            mid_ext_id,
            sinks: RwLock::new(Arc::new(Vec::new())),
            metrics,
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
                    TrackRemoteEvent::OnRtpPacket(pkt) => me.forward(pkt, events.as_ref()),
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
            events.ended(me.id);
        })
    }

    fn forward(&self, pkt: rtc::rtp::Packet, events: &dyn PublicationEvents) {
        let arrived = Instant::now();
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
            out.header.ssrc = sink.ssrc;
            if let Some(&(_, pt)) = sink
                .pt_map
                .iter()
                .find(|(i, _)| *i == out.header.payload_type)
            {
                out.header.payload_type = pt;
            }
            if let Some(id) = self.mid_ext_id
                && let Some(e) = out.header.extensions.iter_mut().find(|e| e.id == id)
            {
                match &sink.mid {
                    Some(mid) => e.payload = mid.clone(),
                    None => e.id = 0,
                }
            }
            if !sink.ext_identity || out.header.extensions.iter().any(|e| e.id == 0) {
                remap_extensions(&mut out, &sink.ext_map);
            }
            // A full queue is that subscriber's problem: its packet is dropped, nobody waits.
            if sink.queue.try_send((out, arrived)).is_err() {
                self.metrics.dropped.inc();
            }
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
        let ssrc = random_ssrc();
        let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("p{}", self.owner.0),
            format!("t{}", self.id.0),
            format!("t{}", self.id.0),
            rtp_kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
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
            ssrc,
        })
    }

    /// Starts forwarding to a sink whose negotiation completed; watches its keyframe requests.
    /// (A new video sink needs a keyframe: the caller asks the room, which rate-limits PLIs.)
    pub async fn activate(
        self: &Arc<Self>,
        subscriber_peer: &Peer,
        p: PendingSink,
        events: Arc<dyn PublicationEvents>,
    ) -> Result<Arc<Sink>, RtcError> {
        let out = p.sender.get_parameters().await?.rtp_parameters;
        let (ext_map, ext_identity) = ext_map(&self.params, &out);
        let mut mid = None;
        for t in subscriber_peer.pc().get_transceivers().await {
            if let Ok(Some(s)) = t.sender().await
                && s.id() == p.sender.id()
            {
                mid = t.mid().await.ok().flatten().map(Bytes::from);
            }
        }
        let (queue, rx) = mpsc::channel(SINK_QUEUE);
        spawn_writer(p.local.clone(), rx, self.metrics.clone());
        let sink = Arc::new(Sink {
            subscriber: p.subscriber,
            forwarder: Mutex::new(Forwarder::new(self.kind == MediaKind::Video)),
            pt_map: pt_map(&self.params, &out),
            ext_map,
            ext_identity,
            local: p.local,
            sender: p.sender,
            queue,
            ssrc: p.ssrc,
            mid,
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
    ssrc: u32,
}

impl PendingSink {
    /// The sender, to remove it again if the subscription is cancelled before activation.
    pub fn sender(&self) -> &Arc<dyn RtpSender> {
        &self.sender
    }
}

/// Drains one sink's queue into its down track until the sink is dropped.
fn spawn_writer(
    local: Arc<TrackLocalStaticRTP>,
    mut rx: mpsc::Receiver<(rtc::rtp::Packet, Instant)>,
    metrics: ForwardMetrics,
) {
    metrics.tasks.inc();
    tokio::spawn(async move {
        while let Some((pkt, arrived)) = rx.recv().await {
            if local.write_rtp(pkt).await.is_ok() {
                metrics.latency.observe(arrived.elapsed().as_secs_f64());
                metrics.forwarded.inc();
            }
        }
        metrics.tasks.dec();
    });
}

fn random_ssrc() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS randomness");
    u32::from_ne_bytes(b).max(1)
}

/// RFC 8843 media identification.
const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";

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

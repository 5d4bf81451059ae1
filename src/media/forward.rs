//! Forwarding one published track to its subscribers.
//!
//! A [`Publication`] owns the publisher's track — a remote track on the publisher's
//! connection, or packets written in-process by a server-side participant (the voice agent)
//! through a [`LocalSource`] — and a list of [`DownTrack`]s, one per subscriber. Its forwarding
//! task reads each RTP packet once, asks every down track's [`Forwarder`](crate::sfu::forwarder)
//! (the sans-IO decision) what to do, and lets the down track rewrite and queue it (see
//! [`super::down_track`]). The down track list is an immutable snapshot swapped on change, so the
//! per-packet path takes a read lock only long enough to clone an `Arc`; no lock is held
//! across an await and nothing is logged per packet.

use super::RtcError;
use super::down_track::{DownTrack, MID_URI, PendingDownTrack, Target, Timed, random_ssrc};
use super::engine::{AUDIO_LEVEL_URI, PT_OPUS};
use super::peer::Peer;
use super::track::{RemoteTrack, RtpPacket, TrackKind};
use crate::sfu::forwarder::{Decision, Forwarder, vp8_keyframe_start};
use crate::sfu::{ParticipantId, TrackId};
use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpParameters,
    RtpCodecKind,
};
use rtc::shared::marshal::Unmarshal;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::rtp_transceiver::RtpSender;

pub use super::down_track::ForwardMetrics;

/// Callbacks from a publication's tasks into the room (no await inside them).
pub trait PublicationEvents: Send + Sync + 'static {
    /// An RFC 6464 level (-dBov) read from an audio packet of `track`.
    fn audio_level(&self, track: TrackId, dbov: u8);
    /// A subscriber asked for a keyframe of `track` (PLI/FIR on its down track).
    fn keyframe_request(&self, track: TrackId);
    /// The publisher's track ended.
    fn ended(&self, track: TrackId);
}

enum Source {
    Remote(RemoteTrack),
    /// Taken by the forwarding task when it starts.
    InProcess(Mutex<Option<mpsc::Receiver<rtc::rtp::Packet>>>),
}

/// Writes the packets of an in-process publication (Opus audio, 48 kHz clock).
pub struct LocalSource {
    tx: mpsc::Sender<rtc::rtp::Packet>,
    ssrc: u32,
}

impl LocalSource {
    /// Queues one Opus packet; false if the publication is gone or its queue is full.
    pub fn send(&self, sequence: u16, timestamp: u32, marker: bool, payload: Bytes) -> bool {
        let pkt = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker,
                payload_type: PT_OPUS,
                sequence_number: sequence,
                timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        self.tx.try_send(pkt).is_ok()
    }
}

/// A published track and its subscribers.
pub struct Publication {
    pub id: TrackId,
    pub owner: ParticipantId,
    pub kind: TrackKind,
    source: Source,
    ssrc: u32,
    params: RTCRtpParameters,
    audio_level_id: Option<u8>,
    /// The publisher leg's id of the `sdes:mid` extension.
    mid_ext_id: Option<u8>,
    down_tracks: RwLock<Arc<Vec<Arc<DownTrack>>>>,
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
        let ext_id = |uri: &str| {
            params
                .header_extensions
                .iter()
                .find(|h| h.uri == uri)
                .map(|h| h.id as u8)
        };
        let (audio_level_id, mid_ext_id) = (ext_id(AUDIO_LEVEL_URI), ext_id(MID_URI));
        Ok(Arc::new(Self {
            id,
            owner,
            kind,
            source: Source::Remote(remote),
            ssrc,
            params,
            audio_level_id,
            mid_ext_id,
            down_tracks: RwLock::new(Arc::new(Vec::new())),
            metrics,
        }))
    }

    /// An Opus audio track published by an in-process participant; write to it through the
    /// returned [`LocalSource`]. It ends when the source is dropped.
    pub fn in_process(
        id: TrackId,
        owner: ParticipantId,
        metrics: ForwardMetrics,
    ) -> (Arc<Self>, LocalSource) {
        let (tx, rx) = mpsc::channel(64);
        let ssrc = random_ssrc();
        let params = RTCRtpParameters {
            codecs: vec![RTCRtpCodecParameters {
                rtp_codec: super::engine::opus(),
                payload_type: PT_OPUS,
            }],
            ..Default::default()
        };
        let p = Arc::new(Self {
            id,
            owner,
            kind: TrackKind::Audio,
            source: Source::InProcess(Mutex::new(Some(rx))),
            ssrc,
            params,
            audio_level_id: None,
            mid_ext_id: None,
            down_tracks: RwLock::new(Arc::new(Vec::new())),
            metrics,
        });
        (p, LocalSource { tx, ssrc })
    }

    /// Starts the forwarding task; it ends when the publisher's track or connection ends.
    pub fn spawn(
        self: &Arc<Self>,
        events: Arc<dyn PublicationEvents>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            match &me.source {
                Source::Remote(remote) => {
                    while let Some(ev) = remote.inner().poll().await {
                        match ev {
                            TrackRemoteEvent::OnRtpPacket(pkt) => me.forward(pkt, events.as_ref()),
                            TrackRemoteEvent::OnEnded => break,
                            _ => {}
                        }
                    }
                }
                Source::InProcess(rx) => {
                    let taken = rx.lock().expect("source lock").take();
                    if let Some(mut rx) = taken {
                        while let Some(pkt) = rx.recv().await {
                            me.forward(pkt, events.as_ref());
                        }
                    }
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
        let keyframe = self.kind == TrackKind::Video && vp8_keyframe_start(&pkt.payload);
        let down_tracks = self.down_tracks.read().expect("down_tracks lock").clone();
        let mut starving = false;
        for down_track in down_tracks.iter() {
            let decision = {
                let mut f = down_track.forwarder.lock().expect("forwarder lock");
                let d = f.decide(pkt.header.sequence_number, keyframe);
                starving |= f.needs_keyframe() && !f.is_paused();
                d
            };
            if let Decision::Forward { seq } = decision {
                down_track.deliver(&pkt, seq, self.mid_ext_id, arrived, &self.metrics);
            }
        }
        // A subscriber still waiting for a keyframe (the first PLI may have been lost, or sent
        // before the publisher was ready): ask again every ~30 packets; the room's limiter
        // keeps it to one PLI per 500 ms.
        if starving && pkt.header.sequence_number.is_multiple_of(30) {
            events.keyframe_request(self.id);
        }
    }

    /// Sends a PLI to the publisher (nothing for in-process audio).
    pub async fn request_keyframe(&self) {
        let Source::Remote(remote) = &self.source else {
            return;
        };
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.ssrc,
        };
        let _ = remote.inner().write_rtcp(vec![Box::new(pli)]).await;
    }

    /// Adds a down track for `subscriber` on its subscriber connection. The down track forwards only
    /// after [`Publication::activate`], once the renegotiation has completed.
    pub async fn attach(
        &self,
        subscriber_peer: &Peer,
        subscriber: ParticipantId,
    ) -> Result<PendingDownTrack, RtcError> {
        let codec = match &self.source {
            Source::Remote(remote) => remote
                .inner()
                .codec(self.ssrc)
                .await
                .ok_or(RtcError::Sdp("track without codec".into()))?,
            Source::InProcess(_) => super::engine::opus(),
        };
        let rtp_kind = if self.kind == TrackKind::Video {
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
        Ok(PendingDownTrack {
            subscriber,
            local,
            sender,
            ssrc,
        })
    }

    /// Starts forwarding to a down track whose negotiation completed; watches its keyframe requests.
    /// (A new video down track needs a keyframe: the caller asks the room, which rate-limits PLIs.)
    pub async fn activate(
        self: &Arc<Self>,
        subscriber_peer: &Peer,
        p: PendingDownTrack,
        events: Arc<dyn PublicationEvents>,
    ) -> Result<Arc<DownTrack>, RtcError> {
        let out = p.sender.get_parameters().await?.rtp_parameters;
        let mut mid = None;
        for t in subscriber_peer.pc().get_transceivers().await {
            if let Ok(Some(s)) = t.sender().await
                && s.id() == p.sender.id()
            {
                mid = t.mid().await.ok().flatten().map(Bytes::from);
            }
        }
        let local = p.local.clone();
        let video = self.kind == TrackKind::Video;
        let down_track = Arc::new(p.into_down_track(&self.params, &out, mid, video));
        self.insert(down_track.clone());
        let id = self.id;
        tokio::spawn(async move {
            while let Some(ev) = local.poll().await {
                if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                    events.keyframe_request(id);
                }
            }
        });
        Ok(down_track)
    }

    /// Forwards to an in-process participant: packets arrive on the returned channel (with
    /// the time they arrived from the publisher) until [`Publication::detach`].
    pub fn attach_channel(
        &self,
        subscriber: ParticipantId,
        capacity: usize,
    ) -> mpsc::Receiver<Timed<RtpPacket>> {
        let (tx, rx) = mpsc::channel(capacity);
        self.insert(Arc::new(DownTrack {
            subscriber,
            forwarder: Mutex::new(Forwarder::new(self.kind == TrackKind::Video)),
            target: Target::Channel(tx),
        }));
        rx
    }

    fn insert(&self, down_track: Arc<DownTrack>) {
        let mut w = self.down_tracks.write().expect("down_tracks lock");
        let mut next: Vec<Arc<DownTrack>> = w
            .iter()
            .filter(|s| s.subscriber != down_track.subscriber)
            .cloned()
            .collect();
        next.push(down_track);
        *w = Arc::new(next);
    }

    /// Stops forwarding to `subscriber`; returns its sender for removal from its connection.
    pub fn detach(&self, subscriber: ParticipantId) -> Option<Arc<dyn RtpSender>> {
        let mut w = self.down_tracks.write().expect("down_tracks lock");
        let found = w
            .iter()
            .find(|s| s.subscriber == subscriber)
            .and_then(|s| s.sender());
        *w = Arc::new(
            w.iter()
                .filter(|s| s.subscriber != subscriber)
                .cloned()
                .collect(),
        );
        found
    }

    /// The down track of `subscriber`, if active.
    pub fn down_track(&self, subscriber: ParticipantId) -> Option<Arc<DownTrack>> {
        self.down_tracks
            .read()
            .expect("down_tracks lock")
            .iter()
            .find(|s| s.subscriber == subscriber)
            .cloned()
    }

    /// Number of active down tracks.
    pub fn down_track_count(&self) -> usize {
        self.down_tracks.read().expect("down_tracks lock").len()
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

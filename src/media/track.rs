//! Sending and receiving RTP on a [`Peer`] without exposing webrtc-rs types: a
//! [`LocalTrack`] writes packets, a [`RemoteTrack`] yields them. Used by the SFU shell and by
//! the project's own webrtc-rs client (tests, load tester, voice benchmark).

use super::RtcError;
use super::engine::{opus, vp8};
use super::peer::Peer;
use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::sync::Arc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::RtpSender;

/// Audio (Opus) or video (VP8): the SFU core's word for it.
pub use crate::sfu::TrackKind;

/// One RTP packet as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub ssrc: u32,
    pub payload: Bytes,
}

/// A track this side sends.
pub struct LocalTrack {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    kind: TrackKind,
    ssrc: u32,
    payload_type: u8,
}

impl Peer {
    /// Adds a send track with a fixed SSRC; `stream_id`/`track_id` appear as `a=msid`.
    pub async fn add_local_track(
        &self,
        kind: TrackKind,
        ssrc: u32,
        stream_id: &str,
        track_id: &str,
    ) -> Result<LocalTrack, RtcError> {
        let (codec, rtp_kind, payload_type) = match kind {
            TrackKind::Audio => (opus(), RtpCodecKind::Audio, super::engine::PT_OPUS),
            TrackKind::Video => (vp8(), RtpCodecKind::Video, super::engine::PT_VP8),
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            stream_id.to_owned(),
            track_id.to_owned(),
            track_id.to_owned(),
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
        let sender = self
            .pc()
            .add_track(track.clone() as Arc<dyn TrackLocal>)
            .await?;
        Ok(LocalTrack {
            track,
            sender,
            kind,
            ssrc,
            payload_type,
        })
    }

    /// Stops sending a track (renegotiate afterwards).
    pub async fn remove_local_track(&self, t: &LocalTrack) -> Result<(), RtcError> {
        Ok(self.pc().remove_track(&t.sender).await?)
    }
}

impl LocalTrack {
    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    /// Queues one packet (an `Ok` means queued, not delivered).
    pub async fn write(
        &self,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
    ) -> Result<(), RtcError> {
        let pkt = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: self.payload_type,
                sequence_number: sequence,
                timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        Ok(self.track.write_rtp(pkt).await?)
    }
}

/// A track this side receives.
pub struct RemoteTrack {
    track: Arc<dyn TrackRemote>,
}

impl RemoteTrack {
    pub(crate) fn new(track: Arc<dyn TrackRemote>) -> Self {
        Self { track }
    }

    pub(crate) fn inner(&self) -> &Arc<dyn TrackRemote> {
        &self.track
    }

    /// Audio or video.
    pub async fn kind(&self) -> TrackKind {
        match self.track.kind().await {
            RtpCodecKind::Video => TrackKind::Video,
            _ => TrackKind::Audio,
        }
    }

    /// The `a=msid` track id the sender gave this track.
    pub async fn track_id(&self) -> String {
        self.track.track_id().await
    }

    /// The next RTP packet; `None` when the track or its connection ended.
    pub async fn next_packet(&self) -> Option<RtpPacket> {
        while let Some(ev) = self.track.poll().await {
            match ev {
                TrackRemoteEvent::OnRtpPacket(p) => {
                    return Some(RtpPacket {
                        sequence: p.header.sequence_number,
                        timestamp: p.header.timestamp,
                        marker: p.header.marker,
                        ssrc: p.header.ssrc,
                        payload: p.payload,
                    });
                }
                TrackRemoteEvent::OnEnded => return None,
                _ => {}
            }
        }
        None
    }
}

//! One subscriber's end of a publication: a [`DownTrack`] turns a publisher's packet into the
//! subscriber's (sequence number from its [`Forwarder`], its own SSRC, its payload type and
//! header-extension ids, its transceiver's MID) and queues it.
//!
//! Delivery never waits: a packet is handed to the subscriber connection's queue only if that
//! completes at once (webrtc-rs queues up to 256 packets per connection), so a subscriber
//! whose connection is behind loses its own packets (counted) instead of stalling everyone
//! else on the track — and no task hop is added per packet. A down track of an in-process
//! participant (the voice agent) is a channel of [`RtpPacket`]s: no connection, no rewriting
//! beyond the sequence number.

use super::track::RtpPacket;
use crate::sfu::ParticipantId;
use crate::sfu::forwarder::Forwarder;
use bytes::Bytes;
use futures_util::FutureExt;
use prometheus::{Histogram, IntCounter};
use rtc::rtp_transceiver::rtp_sender::RTCRtpParameters;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::rtp_transceiver::RtpSender;

/// RFC 8843 media identification.
pub(super) const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";

/// Forwarding counters shared by every publication of a server.
#[derive(Clone)]
pub struct ForwardMetrics {
    /// Packets handed to a subscriber's connection (or in-process participant).
    pub forwarded: IntCounter,
    /// Packets dropped because a subscriber's connection (or in-process reader) was behind.
    pub dropped: IntCounter,
    /// Seconds from a packet's arrival from the publisher's connection to its hand-over to
    /// the subscriber's connection (SRTP and sockets on either side excluded).
    pub latency: Histogram,
}

/// A packet with the time it arrived from its publisher.
pub type Timed<T> = (T, Instant);

pub(super) enum Target {
    /// A down track on the subscriber's connection.
    Track {
        local: Arc<TrackLocalStaticRTP>,
        sender: Arc<dyn RtpSender>,
        /// This down track's SSRC (never the publisher's: two publishers may share one).
        ssrc: u32,
        /// The MID of the subscriber-leg transceiver, written into the MID extension.
        mid: Option<Bytes>,
        /// (publisher PT, subscriber PT)
        pt_map: Vec<(u8, u8)>,
        /// Publisher extension id → subscriber id (0 = drop).
        ext_map: Box<[u8; 256]>,
        ext_identity: bool,
    },
    /// An in-process participant reading packets from a channel.
    Channel(mpsc::Sender<Timed<RtpPacket>>),
}

/// One subscriber's down track.
pub struct DownTrack {
    pub subscriber: ParticipantId,
    pub(super) forwarder: Mutex<Forwarder>,
    pub(super) target: Target,
}

impl DownTrack {
    /// Pauses or resumes forwarding to this subscriber, as the room decided.
    pub fn set_paused(&self, paused: bool) {
        self.forwarder
            .lock()
            .expect("forwarder lock")
            .set_paused(paused);
    }

    /// The sender on the subscriber's connection (none for in-process participants).
    pub(super) fn sender(&self) -> Option<Arc<dyn RtpSender>> {
        match &self.target {
            Target::Track { sender, .. } => Some(sender.clone()),
            Target::Channel(_) => None,
        }
    }

    /// Rewrites `pkt` for this subscriber as packet `seq` of its stream and queues it.
    /// `mid_ext_id` is the publisher leg's id of the MID extension.
    pub(super) fn deliver(
        &self,
        pkt: &rtc::rtp::Packet,
        seq: u16,
        mid_ext_id: Option<u8>,
        arrived: Instant,
        metrics: &ForwardMetrics,
    ) {
        let delivered = match &self.target {
            Target::Channel(tx) => {
                let out = RtpPacket {
                    sequence: seq,
                    timestamp: pkt.header.timestamp,
                    marker: pkt.header.marker,
                    ssrc: pkt.header.ssrc,
                    payload: pkt.payload.clone(),
                };
                tx.try_send((out, arrived)).is_ok()
            }
            Target::Track {
                local,
                ssrc,
                mid,
                pt_map,
                ext_map,
                ext_identity,
                ..
            } => {
                let mut out = pkt.clone();
                out.header.sequence_number = seq;
                out.header.ssrc = *ssrc;
                if let Some(&(_, pt)) = pt_map.iter().find(|(i, _)| *i == out.header.payload_type) {
                    out.header.payload_type = pt;
                }
                if let Some(id) = mid_ext_id
                    && let Some(e) = out.header.extensions.iter_mut().find(|e| e.id == id)
                {
                    match mid {
                        Some(mid) => e.payload = mid.clone(),
                        None => e.id = 0,
                    }
                }
                if !*ext_identity || out.header.extensions.iter().any(|e| e.id == 0) {
                    remap_extensions(&mut out, ext_map);
                }
                // Ready at once unless the connection's queue is full (or its track is
                // being rebound): then the packet is that subscriber's loss, nobody waits.
                matches!(local.write_rtp(out).now_or_never(), Some(Ok(())))
            }
        };
        if delivered {
            metrics.forwarded.inc();
            metrics.latency.observe(arrived.elapsed().as_secs_f64());
        } else {
            metrics.dropped.inc();
        }
    }
}

/// A down track added to a connection, waiting for its renegotiation.
pub struct PendingDownTrack {
    pub(super) subscriber: ParticipantId,
    pub(super) local: Arc<TrackLocalStaticRTP>,
    pub(super) sender: Arc<dyn RtpSender>,
    pub(super) ssrc: u32,
}

impl PendingDownTrack {
    /// The sender, to remove it again if the subscription is cancelled before activation.
    pub fn sender(&self) -> &Arc<dyn RtpSender> {
        &self.sender
    }

    /// The active down track for a negotiated down track: maps payload types and extensions from
    /// the publisher leg's `inp` to this leg's `out` parameters, and starts its writer.
    pub(super) fn into_down_track(
        self,
        inp: &RTCRtpParameters,
        out: &RTCRtpParameters,
        mid: Option<Bytes>,
        video: bool,
    ) -> DownTrack {
        let (ext_map, ext_identity) = ext_map(inp, out);
        DownTrack {
            subscriber: self.subscriber,
            forwarder: Mutex::new(Forwarder::new(video)),
            target: Target::Track {
                local: self.local,
                sender: self.sender,
                ssrc: self.ssrc,
                mid,
                pt_map: pt_map(inp, out),
                ext_map: Box::new(ext_map),
                ext_identity,
            },
        }
    }
}

pub(super) fn random_ssrc() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS randomness");
    u32::from_ne_bytes(b).max(1)
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

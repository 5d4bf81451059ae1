//! Building peer connections: Opus + VP8 only (payload types match on every leg), the RFC 6464
//! audio-level extension, the default interceptors (NACK, RTCP reports, TWCC), and
//! [`KeyframeRequestForwarder`], without which inbound PLI/FIR never reach the application.
//!
//! A [`Profile`] sets what the server asks of the browser's Opus encoder ([`Profile::opus_params`],
//! written into the descriptions it sends by [`super::sdp::add_opus_params`]): in a call, nothing; in a voice session, `maxplaybackrate=16000` (RFC 7587 §6.1), because what the browser sends
//! is heard only by an agent that listens at 16 kHz. The browser then codes wideband speech
//! (SILK only) instead of hybrid or fullband packets: fewer bits up, and no CELT layer for the
//! server to decode and throw away above 8 kHz. A voice session's connections also carry Opus
//! alone, with only the audio level and RTCP reports: no VP8, simulcast, NACK, TWCC or
//! keyframe forwarding, whose interceptors would otherwise run on every packet.
//!
//! webrtc-rs 0.21 has no port-range setting: [`build_in_range`] walks the configured range and
//! binds one concrete `ip:port` per connection. mDNS is off (it would open a multicast socket
//! per connection) and the ICE check interval is short, which brings connection set-up on a
//! LAN from ~200 ms to ~25 ms.

use super::RtcError;
use super::sockets::{BufferSizes, SizedSockets};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{
    Attribute, Interceptor, NackGeneratorBuilder, NackResponderBuilder, Packet, Slot, StreamInfo,
    TaggedPacket,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::peer_connection::configuration::{RTCIceServer, RTCIceTransportPolicy};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, Registry, SettingEngineBuilder,
};

/// RFC 6464 client-to-mixer audio level.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// Packets of send history kept per stream to answer NACKs: ~0.6 s of 2 Mbit/s video (about
/// 200 packets/s), several round trips at typical rates. Must be a power of two.
pub const NACK_HISTORY: u16 = 128;
/// Payload types this server negotiates.
pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;

/// Makes peer connections: where and how they bind, ICE servers, NACK history.
#[derive(Debug)]
pub struct PeerFactory {
    /// Address to bind media sockets on (a concrete address; wildcards skip loopback).
    pub bind_ip: IpAddr,
    /// Inclusive UDP port range.
    pub ports: (u16, u16),
    /// ICE connectivity-check interval.
    pub ice_check_interval: Duration,
    /// STUN/TURN servers this side gathers candidates from (clients; the server has none).
    pub ice_servers: Vec<IceServer>,
    /// Use relay (TURN) candidates only, as a client behind a restrictive network would.
    pub relay_only: bool,
    /// Packets of send history per stream for NACK answers (a power of two).
    pub nack_history: u16,
    /// Where the next port search starts (round-robin over the range).
    next: AtomicU16,
    /// The runtime the connections run on (it sizes their sockets' buffers).
    runtime: Arc<dyn webrtc::runtime::Runtime>,
}

/// A STUN or TURN server (`stun:host:port`, `turn:host:port?transport=udp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl PeerFactory {
    pub fn new(bind_ip: IpAddr, ports: (u16, u16)) -> Self {
        Self {
            bind_ip,
            ports,
            ice_check_interval: Duration::from_millis(25),
            ice_servers: Vec::new(),
            relay_only: false,
            nack_history: NACK_HISTORY,
            next: AtomicU16::new(0),
            runtime: Arc::new(SizedSockets::tokio(BufferSizes {
                recv: 4 << 20,
                send: 1 << 20,
            })),
        }
    }

    /// The same transport with media sockets' buffers of `sizes`.
    pub fn with_socket_buffers(mut self, sizes: BufferSizes) -> PeerFactory {
        self.runtime = Arc::new(SizedSockets::tokio(sizes));
        self
    }

    /// The same transport with `extra` ICE servers added (e.g. those a server handed out).
    pub fn with_more_ice_servers(&self, extra: impl IntoIterator<Item = IceServer>) -> PeerFactory {
        PeerFactory {
            bind_ip: self.bind_ip,
            ports: self.ports,
            ice_check_interval: self.ice_check_interval,
            ice_servers: self.ice_servers.iter().cloned().chain(extra).collect(),
            relay_only: self.relay_only,
            nack_history: self.nack_history,
            next: AtomicU16::new(self.next.load(Ordering::Relaxed)),
            runtime: self.runtime.clone(),
        }
    }
}

/// What a peer connection asks of the far end's Opus encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Calls between people: full-band Opus.
    #[default]
    Call,
    /// A voice session: the browser's voice is heard by an agent listening at
    /// [`VOICE_PLAYBACK_RATE`], and the agent speaks at that rate.
    Voice,
}

/// The rate voice agents listen and speak at (ElevenLabs' default `pcm_16000`); a voice
/// session's connections announce it as `maxplaybackrate` and `sprop-maxcapturerate`.
pub const VOICE_PLAYBACK_RATE: u32 = 16_000;

impl Profile {
    /// The Opus format parameters the descriptions this side sends carry for the far end's
    /// encoder (see [`sdp::add_opus_params`](super::sdp::add_opus_params)).
    pub fn opus_params(self) -> &'static [(&'static str, u32)] {
        match self {
            Profile::Call => &[],
            Profile::Voice => &[
                ("maxplaybackrate", VOICE_PLAYBACK_RATE),
                ("sprop-maxcapturerate", VOICE_PLAYBACK_RATE),
            ],
        }
    }
}

/// The Opus codec as negotiated here.
pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// The VP8 codec as negotiated here (PLI/FIR and NACK feedback).
pub fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![
            RTCPFeedback {
                typ: "goog-remb".into(),
                parameter: String::new(),
            },
            RTCPFeedback {
                typ: "ccm".into(),
                parameter: "fir".into(),
            },
            RTCPFeedback {
                typ: "nack".into(),
                parameter: String::new(),
            },
            RTCPFeedback {
                typ: "nack".into(),
                parameter: "pli".into(),
            },
        ],
    }
}

fn media_engine_and_registry(
    nack_history: u16,
    profile: Profile,
) -> Result<(MediaEngine, Registry), RtcError> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: PT_OPUS,
        },
        RtpCodecKind::Audio,
    )?;
    if profile == Profile::Voice {
        // A voice session carries one Opus stream each way and nothing else: no video codec,
        // no simulcast, no keyframe requests, no NACK (Opus is not retransmitted) and no
        // transport-wide congestion feedback (the browser's audio bitrate does not follow
        // it). Only the audio level and the RTCP reports the quality sampler reads remain:
        // every interceptor left out is per-packet work saved on each of the session's two
        // connections.
        me.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_owned(),
            },
            RtpCodecKind::Audio,
            Some(RTCRtpTransceiverDirection::Sendrecv),
        )?;
        return Ok((me, configure_rtcp_reports(Registry::new())));
    }
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8(),
            payload_type: PT_VP8,
        },
        RtpCodecKind::Video,
    )?;
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: AUDIO_LEVEL_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        Some(RTCRtpTransceiverDirection::Sendrecv),
    )?;
    // The default interceptors, except that the NACK responder keeps `nack_history` packets
    // per stream (default NACK_HISTORY) instead of 1,024: an SFU keeps one history per video
    // down track, and at 1,024 a room of eight holding 1,000-byte video packets used ~5 MB per
    // participant.
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(nack_history).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(&mut me)?;
    let registry = configure_twcc_receiver_only(registry, &mut me)?;
    let registry = configure_rtcp_reports(registry);
    Ok((
        me,
        registry.with(Slot::from(14_000usize), KeyframeRequestForwarder::default()),
    ))
}

/// Builds a peer connection bound to exactly `ip:port`.
pub async fn build(
    transport: &PeerFactory,
    port: u16,
    profile: Profile,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, RtcError> {
    let (me, registry) = media_engine_and_registry(transport.nack_history, profile)?;
    let se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_ice_connection_attempts(Some(transport.ice_check_interval), None)
        .build();
    let servers = transport
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    let policy = if transport.relay_only {
        RTCIceTransportPolicy::Relay
    } else {
        RTCIceTransportPolicy::All
    };
    let config = RTCConfigurationBuilder::new()
        .with_ice_servers(servers)
        .with_ice_transport_policy(policy)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_runtime(transport.runtime.clone())
        .with_configuration(config)
        .with_media_engine(me)
        .with_setting_engine(se)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![format!("{}:{port}", transport.bind_ip)])
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// Builds a peer connection on the first free port of the range (searching round-robin).
pub async fn build_in_range(
    transport: &PeerFactory,
    profile: Profile,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, RtcError> {
    let (lo, hi) = transport.ports;
    let span = u32::from(hi - lo) + 1;
    let start = u32::from(transport.next.fetch_add(1, Ordering::Relaxed)) % span;
    for i in 0..span {
        let port = lo + ((start + i) % span) as u16;
        // A port in use is the normal case while searching: skip it here, quietly, rather
        // than let the WebRTC stack try it and log the failed bind at ERROR.
        if std::net::UdpSocket::bind((transport.bind_ip, port)).is_err() {
            continue;
        }
        match build(transport, port, profile, handler.clone()).await {
            Ok(pc) => {
                transport.next.store(
                    ((port - lo) as u32 + 1).try_into().unwrap_or(0),
                    Ordering::Relaxed,
                );
                return Ok(pc);
            }
            Err(_) => continue,
        }
    }
    Err(RtcError::NoFreePort(lo, hi))
}

/// Interceptor that marks inbound PLI/FIR for delivery to the application; everything else
/// inbound has been consumed by the earlier interceptors.
#[derive(Default)]
pub struct KeyframeRequestForwarder {
    read_q: VecDeque<TaggedPacket>,
    write_q: VecDeque<TaggedPacket>,
}

fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let a = p.as_any();
    a.is::<PictureLossIndication>() || a.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(pkts) = &msg.message.packet {
            let keep: Vec<_> = pkts
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if keep.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(keep);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read_q.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_q.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_q.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_q.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

//! A voice-session caller on parlor's own webrtc-rs client: joins a voice room with a token,
//! publishes a microphone (muted until the talk button is held, like the browser), sends
//! 20 ms PCM frames Opus-encoded (no wider a band than the server's `maxplaybackrate`, as a
//! browser's encoder does), and decodes the agent's audio back to PCM with the time each
//! frame arrived. Used by the integration tests and the `voice_rtt` benchmark.

use crate::client::signal::{Client, ClientError, ClientEvent};
use crate::media::engine::PeerFactory;
use crate::media::sdp::opus_max_playback_rate;
use crate::media::track::{LocalTrack, RemoteTrack, TrackKind};
use crate::sfu::{TrackId, TrackSource};
use crate::signal::protocol::{ClientMessage, ServerMessage};
use crate::voice::core::audio::FRAME_48K;
use crate::voice::core::audio::opus_codec::{OpusDecoder, OpusEncoder};
use bytes::Bytes;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One decoded frame of the agent's voice (48 kHz mono) and when its packet arrived.
pub struct HeardFrame {
    pub arrived: Instant,
    pub pcm: Vec<i16>,
}

/// A joined caller: its client (messages, the agent's track) and its microphone.
pub struct VoiceCaller {
    pub client: Client,
    pub mic: Mic,
}

/// The caller's microphone: the talk button and 20 ms frames (movable to a sending task).
pub struct Mic {
    track: LocalTrack,
    id: TrackId,
    out: mpsc::UnboundedSender<ClientMessage>,
    encoder: OpusEncoder,
    packet: Vec<u8>,
    seq: u16,
    timestamp: u32,
}

impl VoiceCaller {
    /// Joins the voice room and publishes a muted microphone.
    pub async fn join(
        ws_url: &str,
        token: &str,
        transport: &PeerFactory,
    ) -> Result<Self, ClientError> {
        let mut client = Client::join(ws_url, token, transport).await?;
        let mut ssrc = [0u8; 4];
        getrandom::fill(&mut ssrc).expect("OS randomness");
        let mut published = client
            .publish(&[(
                TrackKind::Audio,
                TrackSource::Microphone,
                u32::from_ne_bytes(ssrc).max(1),
            )])
            .await?;
        let (track, id) = published.remove(0);
        // As a browser does: code no wider a band than the server said it plays.
        let band = client
            .publish_answer()
            .and_then(opus_max_playback_rate)
            .unwrap_or(48_000);
        let encoder = OpusEncoder::new()
            .and_then(|e| e.band_limited_to(band))
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let mic = Mic {
            track,
            id,
            out: client.sender(),
            encoder,
            packet: vec![0; 1500],
            seq: 0,
            timestamp: 0,
        };
        mic.talk(false);
        Ok(Self { client, mic })
    }

    /// Waits for the agent's audio track and decodes it in the background. (A webrtc-rs
    /// client sees the track with its first packet, so the agent must have spoken.)
    pub async fn hear_agent(
        &mut self,
        timeout: Duration,
    ) -> Option<mpsc::UnboundedReceiver<HeardFrame>> {
        let ev = self
            .client
            .wait_for(timeout, |e| matches!(e, ClientEvent::Track { .. }))
            .await?;
        let ClientEvent::Track { remote, .. } = ev else {
            return None;
        };
        Some(decode_in_background(remote))
    }

    /// The next message matching `pick` within `timeout` (others stay queued).
    pub async fn message(
        &mut self,
        timeout: Duration,
        pick: impl Fn(&ServerMessage) -> bool,
    ) -> Option<ServerMessage> {
        match self
            .client
            .wait_for(timeout, |e| matches!(e, ClientEvent::Message(m) if pick(m)))
            .await
        {
            Some(ClientEvent::Message(m)) => Some(m),
            _ => None,
        }
    }
}

impl Mic {
    /// Holds (true) or releases (false) the talk button: unmutes or mutes the microphone.
    pub fn talk(&self, held: bool) {
        let _ = self.out.send(ClientMessage::Mute {
            track: self.id,
            muted: !held,
        });
    }

    /// Sends one already encoded 20 ms Opus packet (load generators encode once, send often).
    pub async fn send_packet(&mut self, packet: Bytes) -> Result<(), ClientError> {
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_48K as u32);
        self.track
            .write(self.seq, self.timestamp, false, packet)
            .await?;
        Ok(())
    }

    /// Encodes one 20 ms frame of 48 kHz audio (for [`Mic::send_packet`]).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Bytes, ClientError> {
        let n = self
            .encoder
            .encode(pcm, &mut self.packet)
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        Ok(Bytes::copy_from_slice(&self.packet[..n]))
    }

    /// Encodes and sends 20 ms of 48 kHz audio.
    pub async fn send_frame(&mut self, pcm: &[i16]) -> Result<(), ClientError> {
        debug_assert_eq!(pcm.len(), FRAME_48K);
        let n = self
            .encoder
            .encode(pcm, &mut self.packet)
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_48K as u32);
        self.track
            .write(
                self.seq,
                self.timestamp,
                false,
                Bytes::copy_from_slice(&self.packet[..n]),
            )
            .await?;
        Ok(())
    }
}

/// Decodes a received agent track in a background task.
pub fn decode_in_background(remote: RemoteTrack) -> mpsc::UnboundedReceiver<HeardFrame> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let Ok(mut decoder) = OpusDecoder::new() else {
            return;
        };
        let mut buf = vec![0i16; FRAME_48K * 6];
        while let Some(p) = remote.next_packet().await {
            let arrived = Instant::now();
            let Ok(n) = decoder.decode(&p.payload, &mut buf) else {
                continue;
            };
            if tx
                .send(HeardFrame {
                    arrived,
                    pcm: buf[..n].to_vec(),
                })
                .is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Energy of `pcm` at `freq` Hz (Goertzel, 48 kHz), normalised to 0..1 for a full-scale sine.
pub fn tone_power(pcm: &[i16], freq: f64) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = pcm.len() as f64;
    4.0 * power / (n * n)
}

/// 20 ms of a sine at `freq` Hz and `amplitude` (0..1), continuing from sample `start`.
pub fn sine_frame(freq: f64, amplitude: f64, start: u64) -> Vec<i16> {
    (0..FRAME_48K as u64)
        .map(|i| {
            let t = (start + i) as f64 / 48_000.0;
            (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

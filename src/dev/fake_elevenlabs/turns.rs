//! Turns of the test double: energy VAD on the user's audio, the think time, bursty replies,
//! and barge-in (interruption, stale chunks, id reuse). Also the streaming-echo shortcut.

use super::conversation::{Conv, NEVER};
use parlor::voice::agents::elevenlabs::protocol::{
    AudioEvent, ServerMessage, decode_audio, encode_audio_b64,
};
use parlor::voice::core::vad::{VadEvent, sine};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Chunk lengths of replies in ms, cycled: replies arrive in varying sizes.
const CHUNK_MS: [u32; 6] = [20, 60, 40, 100, 30, 80];

pub(super) struct Reply {
    id: u64,
    chunks: VecDeque<Vec<i16>>,
    /// When the client will have played it all (sent at once, played in real time).
    plays_until: Instant,
    last_chunk: Vec<i16>,
}

impl Conv {
    pub(super) async fn on_audio(&mut self, bytes: Vec<u8>) -> bool {
        let pcm = decode_audio(self.input, &bytes);
        if self.shared.config.streaming_echo {
            // Each echoed chunk is a reply of its own, so a press (which cuts the reply being
            // played and ignores the rest of it) cuts one chunk, not the echo for good.
            let event_id = self.next_id;
            self.next_id += 1;
            let audio = encode_audio_b64(self.output, &pcm);
            return self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id,
                    alignment: None,
                }))
                .await;
        }
        match self.vad.push(&pcm, self.input.sample_rate) {
            Some(VadEvent::Started) => {
                self.pending = None;
                let playing = self.shared.config.interrupts
                    && self
                        .reply
                        .as_ref()
                        .is_some_and(|r| Instant::now() < r.plays_until);
                if let Some(old) = self.reply.take().filter(|_| playing) {
                    return self.interrupt(old).await;
                }
            }
            Some(VadEvent::Ended { speech_ms }) => {
                self.pending = Some((Instant::now() + self.shared.config.think_time, speech_ms));
            }
            None => {}
        }
        true
    }

    async fn interrupt(&mut self, mut old: Reply) -> bool {
        let x = self.next_id;
        self.next_id += 1;
        if self.shared.config.reuse_interruption_id {
            self.reuse_id = Some(x);
        }
        self.next_burst = Instant::now() + NEVER;
        if !self.send(ServerMessage::Interruption { event_id: x }).await {
            return false;
        }
        for _ in 0..self.shared.config.stale_chunks {
            let pcm = old
                .chunks
                .pop_front()
                .unwrap_or_else(|| old.last_chunk.clone());
            let audio = encode_audio_b64(self.output, &pcm);
            if !self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id: old.id,
                    alignment: None,
                }))
                .await
            {
                return false;
            }
        }
        true
    }

    pub(super) async fn start_reply(&mut self) -> bool {
        let Some((_, speech_ms)) = self.pending.take() else {
            return true;
        };
        let id = self.reuse_id.take().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let cfg = self.shared.config.clone();
        let secs = f64::from(speech_ms) / 1000.0;
        let heard = format!("[fake] {secs:.2} s of speech");
        let said = format!("I heard you speak for {secs:.2} seconds.");
        if !self
            .send(ServerMessage::UserTranscript {
                event_id: id,
                text: heard,
            })
            .await
            || !self
                .send(ServerMessage::AgentResponse {
                    event_id: id,
                    text: said,
                })
                .await
        {
            return false;
        }
        let rate = self.output.sample_rate;
        let mut chunks = VecDeque::new();
        let mut left = cfg.reply_ms;
        for i in 0.. {
            if left == 0 {
                break;
            }
            let ms = CHUNK_MS[i % CHUNK_MS.len()].min(left);
            left -= ms;
            chunks.push_back(sine(rate, ms, 660.0, 6000.0, &mut self.phase));
        }
        let last_chunk = chunks.back().cloned().unwrap_or_default();
        let plays_until = Instant::now() + Duration::from_millis(u64::from(cfg.reply_ms));
        self.reply = Some(Reply {
            id,
            chunks,
            plays_until,
            last_chunk,
        });
        self.next_burst = Instant::now();
        true
    }

    /// Sends the next burst of 1–3 chunks and schedules the one after.
    pub(super) async fn burst(&mut self) -> bool {
        self.burst_no += 1;
        let n = 1 + self.burst_no % 3;
        let mut sent_ms = 0u64;
        for _ in 0..n {
            let Some(r) = self.reply.as_mut() else { break };
            let Some(pcm) = r.chunks.pop_front() else {
                break;
            };
            let id = r.id;
            sent_ms += pcm.len() as u64 * 1000 / u64::from(self.output.sample_rate);
            let audio = encode_audio_b64(self.output, &pcm);
            if !self
                .send(ServerMessage::Audio(AudioEvent {
                    audio_base_64: audio,
                    event_id: id,
                    alignment: None,
                }))
                .await
            {
                return false;
            }
        }
        let more = self.reply.as_ref().is_some_and(|r| !r.chunks.is_empty());
        let pause = Duration::from_secs_f64(
            sent_ms as f64 / 1000.0 / self.shared.config.send_speedup.max(1.0),
        );
        self.next_burst = Instant::now() + if more { pause } else { NEVER };
        true
    }
}
